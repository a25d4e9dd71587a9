"""The console engine: one reader that records every byte, and a wait that catches silence.

A background thread drains the transport as fast as bytes arrive, so nothing the target prints
is lost even while the test is busy elsewhere. :class:`Console` composes the two parts that do
the work on what it reads, each usable alone:

- the recorder (:mod:`harness.engine.recorder`) appends the raw bytes to ``console.raw``,
  timestamped lines to ``console.log`` and each event to ``console.timing``, flushed per read, so
  a killed run keeps everything;
- the line matcher (:mod:`harness.engine.matcher`) keeps a bounded ring of recent lines for
  verdicts and searches the text that arrived since the last call.

:meth:`Console.wait_for` runs in the caller's thread: it asks the matcher, and otherwise decides
when the console has been silent, when the deadline has passed and when an unfinished line has
settled, on the host's clock or on the target's guest clock.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from harness.engine.clock import REAL_CLOCK, Clock
from harness.engine.guest_clock import (
    STALL_LIMIT,
    GuestArrivals,
    GuestClockSource,
    GuestTimeline,
    StarvationSource,
)
from harness.engine.matcher import HISTORY_LINES, LineEndings, Matched, Matcher, Watch
from harness.engine.recorder import CONSOLE_FILES, ConsoleFiles, Mark, Recorder
from harness.engine.starved import StarvedTime
from harness.errors import TargetError, TransportClosed

# The matcher's and the recorder's names the console's callers know it by.
__all__ = [
    "CONSOLE_FILES",
    "LAG_SAME",
    "Closed",
    "Console",
    "ConsoleFiles",
    "Judged",
    "Matched",
    "Outcome",
    "Quiet",
    "TimedOut",
    "Transport",
    "Watch",
]

READ_SIZE = 65536
# A match that runs to the end of an unfinished line is taken only once the console has paused
# this long: a prompt is followed by silence, while a line cut by a read boundary is completed
# within microseconds. Without it, `Name : (?P<x>.+)$` would capture a line half-way.
PARTIAL_SETTLE = 0.05
# The reader polls the transport this often. Silence is only declared once the reader has
# polled after the silence ran out, or polled recently: on a starved host (a loaded CI runner,
# twenty bisects on two cores) bytes can wait unread in the pipe while the matcher's thread
# wakes, and a wedge read off an unread pipe is the harness's failure, not the board's.
READ_TIMEOUT = 0.05
READER_FRESH = 4 * READ_TIMEOUT
# How long a silence or deadline waits for a lagging reader before it is declared anyway.
READER_GRACE = 2.0
# On the host clock, a limit is put off by at most this many seconds the target's program waited
# for a CPU; one that runs out with that much left out is not judged: the host is too loaded to say
# whether the target wedged (an error that says so, as a stopped guest clock's).
STARVED_MOST = 30.0
# A wait looks at the console at least once a second (IDLE). Looks further apart than this mean the
# harness itself was held off (stopped with Ctrl-Z, a paused VM): the reader was too, and the
# grace for it counts from when the harness runs again, not from a limit that ran out meanwhile.
HELD_OFF = 2.0
# Two limits' moments (host seconds) this close are the same limit: a wait for a lagging reader
# is recorded once, and a replay finds it by its moment.
LAG_SAME = 1e-4
# How many such limits are remembered (a step has a silence, a deadline and the guest clock's stall).
LAGS_KEPT = 8
# On a guest clock, typing waits (host seconds, at most) for the target to report that it took
# the bytes, so the step's silence and deadline count from the guest moment it got them.
TAKE_WAIT = 2.0
# On a guest clock an unfinished line is complete once the guest's clock ran this long past it
# with nothing more: every byte printed until then has been read (see harness.engine.guest_clock), and
# no guest pauses half a line for half a million instructions, while a prompt waits for input.
GUEST_SETTLE = 0.005
# The reader asks this often (host seconds) how long the target's process has waited for a CPU,
# and records it when it grew by STARVED_STEP: a starved emulator's stopped clock is not a hung
# emulator's (see _decide_on_guest_clock), and on the host clock a starved target's silence is
# not a wedge (see _silence_on_host_clock).
STARVED_SAMPLE = 0.1
STARVED_STEP = 0.05
# How often wait_for wakes with nothing to wait for: for the caller's ticks, or to look again.
TICK = 0.25
IDLE = 1.0


@runtime_checkable
class Transport(Protocol):
    """A byte stream to and from the target's console."""

    def read(self, size: int, timeout: float) -> bytes:
        """Up to ``size`` bytes; ``b""`` after ``timeout`` seconds without data.

        Raises :class:`harness.errors.TransportClosed` when the stream has ended for good.
        """

    def write(self, data: bytes) -> None:
        """Send bytes to the target."""

    def close(self) -> None:
        """Release the stream; reading afterwards raises ``TransportClosed``."""


@dataclass(frozen=True)
class Quiet:
    """No byte arrived for ``quiet_for`` seconds."""

    quiet_for: float
    t: float


@dataclass(frozen=True)
class Judged:
    """The console as it stood when the engine decided on a silence or a deadline.

    A verdict's evidence is taken from here, not from the console a moment later: on a
    firehose the reader reads on while the runner gathers it, and a replay, which stops at the
    recorded decision, would show fewer lines and a different count of them.
    """

    lines: tuple[tuple[float, str], ...]
    line_total: int
    open_line_length: int
    now: float
    quiet: float


@dataclass(frozen=True)
class TimedOut:
    """The deadline passed while output kept coming."""

    t: float


@dataclass(frozen=True)
class Closed:
    """The console ended (process exited, port vanished).

    ``harness_side`` is true when the harness ended it, not the target: the console log could
    not be written (a full disk).
    """

    reason: str
    t: float
    harness_side: bool = False


Outcome = Matched | Quiet | TimedOut | Closed


@dataclass(frozen=True)
class _Limits:
    """What ends one :meth:`Console.wait_for` besides a match: its arguments."""

    deadline: float | None
    silence: float | None
    quiet_from: float | None
    # When the wait began (host seconds since power-on): a step's start, where quiet_from does not say.
    started: float = 0.0


class Console:
    """A live console: records everything, answers ``wait_for`` and ``send``.

    Call :meth:`start` before powering the target on and :meth:`mark_power_on` at power-on, so
    timestamps count from there.
    """

    def __init__(
        self,
        transport: Transport,
        files: ConsoleFiles | None = None,
        *,
        history: int = HISTORY_LINES,
        send_delay: float = 0.0,
        clock: Clock = REAL_CLOCK,
        guest: GuestTimeline | None = None,
    ) -> None:
        self._clock = clock
        self._transport = transport
        self._send_delay = send_delay
        # Guards everything below: the reader thread adds, the caller's thread waits and reads.
        self._cond = threading.Condition()
        self._endings = LineEndings()
        self._matcher = Matcher(history)
        self._lines = self._matcher.lines
        self._recorder = Recorder(files, self._recording_failed)
        self._power_on_line = 0
        self._t0 = clock.monotonic()
        self._last_byte = self._t0
        # When the reader's latest read returned, everything it got already ingested.
        self._polled = self._t0
        # A wait's last look at the console, and when the harness last ran again after being held off.
        self._looked = self._t0
        self._resumed = self._t0
        # The limits (their host times) whose waits for a lagging reader were recorded last.
        self._lags_noted: list[float] = []
        # The console at the last wait's silence or deadline decision (None: the wait ended otherwise).
        self.judged: Judged | None = None
        self._bytes = 0
        self._closed: str | None = None
        self._closed_t = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._reader, name="console-reader", daemon=True)
        # The target's guest clock, when it reports one: limits are then guest seconds.
        if guest is None and isinstance(transport, GuestClockSource):
            guest = GuestTimeline(transport.fallback_scale)
        self._guest = guest
        # Host seconds the target waited for a CPU: not part of a stall, nor of a silence.
        self._starved = guest.starved if guest is not None else StarvedTime()
        # Where the reader asks how long the target waited for a CPU (decided once: the reader
        # looks after every read), and its last look: (when, the sample recorded last).
        self._starvation = transport if isinstance(transport, StarvationSource) else None
        self._starved_looked = float("-inf")
        self._starved_recorded: float | None = None
        # Guest mode: when output came, in guest time.
        self._arrivals = GuestArrivals()
        self._typed_total = 0
        # When the last typing was recorded (on the console's clock): see ingest().
        self._typed_at = float("-inf")
        if guest is not None:
            self._recorder.mark(Mark.GUEST_CLOCK, 0.0, f"{guest.fallback_scale:g}")

    # -- reader thread ------------------------------------------------------------------------

    def start(self) -> None:
        """Start draining the transport."""
        self._thread.start()

    def mark_power_on(self) -> None:
        """Make timestamps relative to now (the moment the target is powered on)."""
        with self._cond:
            self._t0 = self._clock.monotonic()
            self._last_byte = self._t0
            self._recorder.mark(Mark.POWER_ON, 0.0)
            if self._guest is not None:
                self._guest.start(0.0)
            # What a board left running printed before the power cycle is in the log, but it
            # must not satisfy (or fail) the first milestone of this boot.
            self._matcher.restart()
            self._power_on_line = self._lines.total

    def mark_powered(self) -> None:
        """Record that the power-on finished (a power cycle can take seconds): steps start here."""
        with self._cond:
            self._recorder.mark(Mark.POWERED, self._clock.monotonic() - self._t0)

    def mark_switched_off(self) -> float:
        """Record that hartbeat has switched the target off (a plan's ``off`` step); its time.

        The moment is when the power backend returned, which can be long after the last byte
        (QEMU told to quit, a relay's off time): a replay has no backend to wait for, so it plays
        on to this recorded moment and the step's time is the live one.
        """
        # Live, one reading of the clock is both the recorded moment and the step's time (a
        # second reading after the write would be later than the moment a replay takes); a
        # replay's clock moves to the recorded moment, and the time is read there.
        host = self._clock.monotonic()
        with self._cond:
            self._recorder.mark(Mark.SWITCHED_OFF, host - self._t0)
        if self._clock.switched_off():
            host = self._clock.monotonic()
        return self._at(host)

    def _reader(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._transport.read(READ_SIZE, READ_TIMEOUT)
            except TransportClosed as exc:
                self.end(str(exc) or "console closed")
                return
            except (OSError, TargetError) as exc:
                self.end(f"console failed: {exc}")
                return
            returned = self._clock.monotonic()
            if self._guest is not None:
                # After the read: the target reports the time before it writes the bytes, so
                # every byte just read has its report by now.
                reports = self._transport.guest_marks()  # type: ignore[attr-defined]
                if reports:
                    self.guest_report(reports, returned)
            self._look_at_starvation(returned)
            if data:
                self.ingest(data, returned)
            self._polled = returned
        self._finish("console stopped by the harness")

    def guest_report(self, lines: Sequence[str], now: float) -> None:
        """Take the target's guest-time reports that arrived at ``now`` (host, console's clock)."""
        guest = self._guest
        if guest is None:
            return
        with self._cond:
            t = now - self._t0
            for line in lines:
                self._recorder.mark(Mark.GUEST_REPORT, t, line.strip())
                guest.add(line, t)
            self._cond.notify_all()

    def _look_at_starvation(self, now: float) -> None:
        """Every STARVED_SAMPLE, ask the transport how long the target waited for a CPU."""
        source = self._starvation
        if source is None or now - self._starved_looked < STARVED_SAMPLE:
            return
        self._starved_looked = now
        sample = source.starved()
        last = self._starved_recorded
        if sample is not None and (last is None or sample < last or sample - last >= STARVED_STEP):
            self._starved_recorded = sample
            self.target_starved(sample, now)

    def target_starved(self, sample: float, now: float) -> None:
        """The target's process had waited ``sample`` host seconds for a CPU by ``now`` (host,
        console's clock); recorded, so a replay judges a stopped guest clock or a silence alike."""
        # Judged on the millisecond it is recorded with, so a replay's sums are the live ones.
        sample = round(sample, 3)
        with self._cond:
            self._recorder.mark(Mark.STARVED, now - self._t0, f"{sample:.3f}")
            self._starved.add(sample, now - self._t0)
            self._cond.notify_all()

    def ingest(self, data: bytes, now: float) -> None:
        """Take bytes that arrived at ``now`` (on the console's clock).

        The reader thread calls this for every read; a replay calls it for every recorded one.
        """
        with self._cond:
            # The reader reads the clock before it takes the lock, so an answer to typing can be
            # stamped before the typing's own `s` event, which is recorded after the write under
            # the lock (the typist was descheduled in between). It came after the typing; it is
            # stamped no earlier than the `s` event, which is also what a replay sees.
            now = max(now, self._typed_at)
            t = now - self._t0
            self._last_byte = now
            self._bytes += len(data)
            if self._guest is None:
                self._take(self._endings.decode(data), t)
            else:
                # Each piece at the guest time it was printed at.
                for piece, guest_t in self._guest.pieces(data, t):
                    self._take(self._endings.decode(piece), guest_t)
                    self._arrivals.add(guest_t)
            # console.log first, then console.raw and its timing line: a hartbeat killed
            # (SIGKILL) between two of the writes leaves every line of console.raw in
            # console.log, and no timing line claiming bytes console.raw does not have.
            self._recorder.raw(data)
            self._recorder.mark(Mark.DATA, t, len(data))
            self._cond.notify_all()

    def _take(self, text: str, t: float) -> None:
        """Text that came at ``t`` (console time) to the matcher and the log."""
        self._matcher.take(text, t)
        self._recorder.text(text, t)

    def _recording_failed(self, reason: str) -> None:
        """The console files could not be written: the console ends here, once."""
        # The verdict must name the disk, not blame the target: the console ends here and the
        # runner powers the target off.
        self._stop.set()
        self._finish(reason)

    def end(self, reason: str) -> None:
        """The target ended the console (process exited, port vanished): record when, and why."""
        with self._cond:
            # One clock reading for the recorded close and the close's time: a replay takes the
            # recorded one, and a second reading could be later by however long this thread waited.
            host = self._clock.monotonic()
            if self._closed is None:
                self._recorder.mark(Mark.CLOSED, host - self._t0, reason)
            self._finish(reason, host)

    def _finish(self, reason: str, host: float | None = None) -> None:
        with self._cond:
            if self._closed is None:
                self._closed = reason
                self._closed_t = self.now() if host is None else self._at(host)
            self._cond.notify_all()

    def stop(self) -> None:
        """Stop the reader and end the unfinished last line; idempotent."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        self._finish("console stopped by the harness")
        with self._cond:
            self._recorder.mark(Mark.END, self._clock.monotonic() - self._t0)
            self._recorder.end_line()
            self._lines.finish()

    # -- state --------------------------------------------------------------------------------

    def now(self) -> float:
        """Seconds since power-on (guest seconds on a target with a guest clock)."""
        return self._at(self._clock.monotonic())

    def _at(self, host: float) -> float:
        """The console's time at the host clock's reading ``host``."""
        since = host - self._t0
        return since if self._guest is None else self._guest.now(since)

    def quiet_for(self) -> float:
        """Seconds since the last byte (or since power-on)."""
        if self._guest is not None:
            return max(0.0, self.now() - self._arrivals.last)
        return self._clock.monotonic() - self._last_byte

    @property
    def guest_clock(self) -> bool:
        """True when times are the target's guest time (it reports one)."""
        return self._guest is not None

    @property
    def clock_note(self) -> str | None:
        """Why the guest clock was given up for the host's during the run, or ``None``."""
        return self._guest.fault if self._guest is not None else None

    def host_time(self, t: float) -> float:
        """Host seconds since power-on when the console reached ``t`` (the same on the host clock)."""
        if self._guest is None:
            return t
        with self._cond:
            host = self._guest.host_time(t)
        return host if host is not None else self._clock.monotonic() - self._t0

    @property
    def bytes_received(self) -> int:
        """Total bytes read from the target."""
        return self._bytes

    @property
    def line_total(self) -> int:
        """Complete lines received since the console opened (a :attr:`Matched.line_no` counts alike)."""
        return self._lines.total

    @property
    def power_on_line(self) -> int:
        """The number of the first line printed after power-on."""
        return self._power_on_line

    @property
    def open_line_length(self) -> int:
        """Characters of the unfinished last line, however much of it is kept."""
        return self._lines.open_length

    @property
    def closed(self) -> str | None:
        """Why the console ended, or ``None`` while it is open."""
        return self._closed

    def lines_around(self, line_no: int, before: int, after: int) -> list[tuple[float, str]]:
        """Line ``line_no`` (a :attr:`Matched.line_no`) with ``before - 1`` lines before it and
        up to ``after`` after it, as far as the ring of recent lines still holds them."""
        with self._cond:
            return self._lines.around(line_no, before, after)

    def lines_through(self, matched: Matched, count: int) -> list[tuple[float, str]]:
        """The ``count`` lines that end with the one ``matched`` was on, as it was matched.

        The reader may be lines ahead of the matcher by now; what came after the match is not
        evidence of it (and a replay, which stops at the match, would not have it). A reader
        that ran more than the ring of recent lines ahead leaves the matched line alone.
        """
        with self._cond:
            if matched.open_line:
                # A prompt: the line as it stood at the match, whatever completed it since.
                return [*self._lines.around(matched.line_no - 1, count - 1, 0), (matched.t, matched.line)]
            return self._lines.around(matched.line_no, count, 0) or [(matched.t, matched.line)]

    def last_lines(self, count: int = 20) -> list[tuple[float, str]]:
        """The most recent lines with their timestamps, the unfinished one last."""
        with self._cond:
            return self._lines.last(count)

    @contextmanager
    def capture(self) -> Iterator[list[tuple[float, str]]]:
        """Every line that arrives while the block runs, however many: the ring keeps only the last.

        The list fills as lines complete; when the block ends, the unfinished last line (a
        prompt) is added too, as :meth:`last_lines` shows it.
        """
        with self._cond:
            lines = self._lines.start_capture()
        try:
            yield lines
        finally:
            with self._cond:
                self._lines.end_capture(lines)

    # -- waiting ------------------------------------------------------------------------------

    def wait_for(
        self,
        watches: Sequence[Watch],
        *,
        deadline: float | None = None,
        silence: float | None = None,
        quiet_from: float | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> Outcome:
        """Wait until a watch matches, the console is quiet, the deadline passes or it closes.

        ``deadline`` and ``quiet_from`` are in seconds since power-on; silence counts from the
        later of the last byte and ``quiet_from`` (a command just typed restarts the clock).
        Watches earlier in ``watches`` win when two match on the same line.
        """
        limits = _Limits(deadline, silence, quiet_from, self._clock.monotonic() - self._t0)
        self.judged = None
        decide = self._decide_on_host_clock if self._guest is None else self._decide_on_guest_clock
        idle = TICK if on_tick else IDLE
        clock = self._clock
        next_tick = clock.monotonic()
        while True:
            with self._cond:
                decided = decide(watches, limits, idle)
                if not isinstance(decided, float):
                    return decided
                # The reader needs the lock to add text, so nothing arrived since the search. The
                # clock sets the floor: a replay's must not step over the live run's next typing.
                clock.wait(self._cond, decided)
            if on_tick and clock.monotonic() >= next_tick:
                on_tick()
                next_tick = clock.monotonic() + TICK

    def _decide_on_host_clock(self, watches: Sequence[Watch], limits: _Limits, idle: float) -> Outcome | float:
        """One look on the host's clock (the caller holds the lock): the outcome, or how long
        to wait before the next look."""
        now = self._look()
        settled = now - self._last_byte >= PARTIAL_SETTLE or self._closed is not None
        hit = self._matcher.search(watches, settled=settled)
        if hit:
            return hit
        if self._closed is not None:
            return self._closed_outcome()
        waits = [idle]
        if not settled and self._matcher.mid_line:
            # An unfinished line that may still be a prompt: look again once it has settled.
            waits.append(PARTIAL_SETTLE - (now - self._last_byte))
        for limit in (self._silence_on_host_clock, self._deadline_on_host_clock):
            reached = limit(now, limits)
            if isinstance(reached, float):
                waits.append(reached)
            elif reached is not None:
                self._judged(now - self._t0)
                return reached
        return float(min(waits))

    def _left_out(self, since: float) -> float:
        """Seconds the target's program waited for a CPU after ``since`` (host, on the console's
        clock) that a limit leaves out: at most STARVED_MOST."""
        return min(self._starved.since(since - self._t0), STARVED_MOST)

    def _overloaded(self, left_out: float, t: float) -> Closed | None:
        """The error for a limit that ran out with STARVED_MOST seconds left out, else ``None``."""
        if left_out < STARVED_MOST:
            return None
        return Closed(
            f"the target's program waited {left_out:.0f} s or more for a CPU (an overloaded host): "
            "not judged, neither a wedge nor a timeout",
            t,
            harness_side=True,
        )

    def _silence_on_host_clock(self, now: float, limits: _Limits) -> Quiet | Closed | float | None:
        """Quiet once ``silence`` passed without a byte (counting from the later of the last
        byte and ``quiet_from``, and leaving out the seconds the target's process waited for a
        CPU) and the reader has caught up; else the seconds until then."""
        if limits.silence is None:
            return None
        quiet_since = self._last_byte
        if limits.quiet_from is not None:
            quiet_since = max(quiet_since, self._t0 + limits.quiet_from)
        quiet = now - quiet_since
        # A process held off the CPU could not print: its silence is the host's, not the board's.
        starved = min(quiet, self._left_out(quiet_since))
        if quiet - starved < limits.silence:
            return float(limits.silence - (quiet - starved))
        if self._reader_lags(now, quiet_since + limits.silence + starved):
            return READ_TIMEOUT / 5
        return self._overloaded(starved, now - self._t0) or Quiet(quiet, now - self._t0)

    def _deadline_on_host_clock(self, now: float, limits: _Limits) -> TimedOut | Closed | float | None:
        """Timed out once the deadline passed (leaving out the seconds the target's process
        waited for a CPU in this step) and the reader has caught up; else the seconds until then."""
        if limits.deadline is None:
            return None
        t = now - self._t0
        waited = self._left_out(self._t0 + (limits.started if limits.quiet_from is None else limits.quiet_from))
        due = limits.deadline + waited
        if t < due:
            return float(due - t)
        if self._reader_lags(now, self._t0 + due):
            return READ_TIMEOUT / 5
        return self._overloaded(waited, t) or TimedOut(t)

    def _decide_on_guest_clock(self, watches: Sequence[Watch], limits: _Limits, idle: float) -> Outcome | float:
        """One look on the guest's clock (the caller holds the lock).

        Whatever the host's pace, the outcome is the one the guest's timeline gives: a match
        printed before the silence or deadline ran out in guest time wins, a later one does not,
        so a live run and its replay decide alike. The host clock only caps a guest clock that
        stopped moving.
        """
        guest = self._guest
        assert guest is not None
        host_t = self._look() - self._t0
        now = guest.now(host_t)
        settled = now - self._arrivals.last >= GUEST_SETTLE or self._closed is not None
        hit = self._matcher.search(watches, settled=settled)
        reached = self._limit_on_guest_clock(now, limits)
        if hit is not None and (reached is None or hit.t < reached.t):
            return hit
        # An unfinished line may still be a prompt printed before the limit: settle first,
        # unless the guest has printed on past the limit (a firehose never settles).
        if reached is not None and (settled or not self._matcher.mid_line or self._arrivals.last >= reached.t):
            self._judged(host_t)
            return reached
        if self._closed is not None:
            return self._closed_outcome()
        stalled = guest.stalled(host_t)
        if stalled >= STALL_LIMIT:
            # A reader held off (a starved harness) has not looked at the target's starvation
            # since: wait for it to catch up, a little.
            if self._reader_lags(host_t + self._t0, host_t + self._t0 - (stalled - STALL_LIMIT)):
                return READ_TIMEOUT / 5
            self._judged(host_t)
            starved = guest.starved_since_moved()
            waited = f", not counting {starved:.0f} s it waited for a CPU" if starved >= 0.5 else ""
            return Closed(
                f"the target's guest clock stopped at {now:.3f} s for {stalled:.0f} s of host time{waited} "
                "(the emulator hung), not a wedge of the guest",
                now,
                harness_side=True,
            )
        # New reports wake this wait; on the host's fallback clock, the limit itself does.
        waits = [idle, STALL_LIMIT - stalled]
        if guest.fault is not None:
            first_limit = min(limits.deadline or math.inf, (limits.quiet_from or 0.0) + (limits.silence or math.inf))
            waits.append(max(0.0, (first_limit - now)) * guest.fallback_scale)
        return float(min(waits))

    def _limit_on_guest_clock(self, now: float, limits: _Limits) -> Quiet | TimedOut | None:
        """The first limit the guest's clock has reached by ``now``, at the guest time it ran
        out: the silence (it wins a tie), or the deadline."""
        quiet_end = None
        if limits.silence is not None:
            quiet_end = self._arrivals.quiet_end(limits.quiet_from or 0.0, limits.silence, now)
        deadline = limits.deadline
        if deadline is not None and now >= deadline and (quiet_end is None or deadline < quiet_end):
            return TimedOut(deadline)
        if quiet_end is not None:
            return Quiet(limits.silence or 0.0, quiet_end)
        return None

    def _closed_outcome(self) -> Closed:
        """The console has closed: when it closed, not when a wait noticed (an exit milestone's time)."""
        assert self._closed is not None
        return Closed(self._closed, self._closed_t, harness_side=self._recorder.error is not None)

    def _look(self) -> float:
        """A wait looks at the console: now (host, on the console's clock). A look long after the
        one before is a harness that was held off: recorded (``h``), so a replay decides nothing
        between the two either, and the reader's grace counts from here."""
        now = self._clock.monotonic()
        if self._clock.looked(now - self._t0):
            now = self._clock.monotonic()
        if now - self._looked > HELD_OFF:
            self._resumed = now
            self._recorder.mark(Mark.HELD, now - self._t0, f"{self._looked - self._t0:.9f}")
        self._looked = now
        return now

    def _reader_lags(self, now: float, since: float) -> bool:
        """Whether bytes that arrived before ``since`` may still be unread: the reader is starved.

        A read that returned after ``since`` saw everything sent before it; a reader that
        returned moments ago is keeping up; a reader stuck for longer than READER_GRACE (from
        the limit, or from when the harness ran again after it was held off) is not waited for.
        Each wait for the reader is recorded (``l``): a replay has no reader thread, and its
        clock plays on to what the live reader read next instead, so it decides alike.
        """
        if not self._thread.is_alive():
            return self._closed is None and self._clock.reader_lagged(since - self._t0)
        polled = self._polled
        if polled >= since or now - polled <= READER_FRESH or now - max(since, self._resumed) >= READER_GRACE:
            return False
        # Once per limit (a silence and a deadline can both wait for the same read), however its
        # moment was computed this time (the stall's moves by rounding with each look).
        noted = self._lags_noted
        if not any(abs(moment - since) <= LAG_SAME for moment in noted):
            noted.append(since)
            del noted[:-LAGS_KEPT]
            self._recorder.mark(Mark.LAGGED, now - self._t0, f"{since - self._t0:.9f}")
        return True

    def _judged(self, t: float) -> None:
        """Record when the engine decided on silence or a deadline, let a playback catch up, and
        keep the console as it stands (``judged``, the verdict's evidence; the caller holds the
        lock, so the reader adds nothing meanwhile): live, what had arrived when the matcher
        noticed, a little after the limit; in a replay, the same, played to the recorded moment.
        """
        self._recorder.mark(Mark.JUDGED, t)
        self._clock.judged()
        lines = self._lines
        self.judged = Judged(
            tuple(lines.last(HISTORY_LINES)), lines.total, lines.open_length, self.now(), self.quiet_for()
        )

    def drain(self, *, quiet: float, limit: float) -> None:
        """Keep reading until the console is quiet for ``quiet`` s or ``limit`` s pass.

        Used after a panic so the backtrace that follows the panic line reaches the log.
        """
        end = self._clock.monotonic() + limit
        with self._cond:
            while self._closed is None:
                now = self._clock.monotonic()
                if now >= end or now - self._last_byte >= quiet:
                    break
                self._clock.wait(self._cond, min(end - now, quiet - (now - self._last_byte)))

    # -- typing -------------------------------------------------------------------------------

    def send(self, text: str) -> None:
        """Type ``text``; with a per-character delay on boards whose UART drops fast input."""
        data = text.encode("utf-8")
        if self._send_delay <= 0:
            # Typed and recorded under the lock: an echo the reader takes at once must follow
            # the ``s`` event in console.timing, or a replay plays the answer before the typing.
            with self._cond:
                self._transport.write(data)
                self._typed(len(data))
            return
        for index in range(len(data)):
            self._transport.write(data[index : index + 1])
            self._clock.sleep(self._send_delay)
        with self._cond:
            self._typed(len(data))

    def _await_taken(self) -> None:
        """On a guest clock, wait until the target reports it read what was typed (the caller
        holds the lock): its clock may run on meanwhile, and the step counts from that moment."""
        guest = self._guest
        if guest is None or not self._thread.is_alive():
            # A replay plays the recording up to the typing's end, which came after this wait.
            return
        end = self._clock.monotonic() + TAKE_WAIT
        while guest.taken < self._typed_total and self._closed is None and guest.fault is None:
            left = end - self._clock.monotonic()
            if left <= 0:
                return
            self._clock.wait(self._cond, min(left, READ_TIMEOUT))

    def _typed(self, count: int) -> None:
        """Record that ``count`` bytes were typed, as the typing ends (the caller holds the lock).

        A replay restarts the silence clock from here, as live.
        """
        self._typed_total += count
        self._await_taken()
        self._typed_at = self._clock.monotonic()
        self._recorder.mark(Mark.TYPED, self._typed_at - self._t0, count)
