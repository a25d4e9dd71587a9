"""The console engine: one reader that logs every byte and a matcher that catches silence.

A background thread drains the transport as fast as bytes arrive, so nothing the target prints
is lost even while the test is busy elsewhere. It appends the raw bytes to ``console.raw`` and
timestamped lines to ``console.log`` (flushed per read, so a killed run keeps everything), and
keeps a bounded ring of recent lines for verdicts.

The matcher runs in the caller's thread. It searches the text that arrived since the last
call with each pattern once per block (C speed, linear in the input), confirms a hit on its own
line, and also tries patterns on the pending partial line, because prompts end without a newline.
"""

from __future__ import annotations

import codecs
import contextlib
import math
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

from harness.engine.clock import REAL_CLOCK, Clock
from harness.engine.guest_clock import STALL_LIMIT, GuestClockSource, GuestTimeline
from harness.engine.kernel_cut_in import LOOK_BACK, interrupted_prefix
from harness.engine.patterns import AnyMatch, AnyPattern, search
from harness.errors import TargetError, TransportClosed

HISTORY_LINES = 200
READ_SIZE = 65536
# A line longer than this is matched in windows: a firehose without newlines must not make
# every partial-line search rescan megabytes.
PARTIAL_WINDOW = 4096
# Text the matcher has not consumed yet is capped, so a console nobody waits on cannot grow
# memory without bound; everything still reaches the log files.
PENDING_LIMIT = 16 * 1024 * 1024
# A match that runs to the end of an unfinished line is taken only once the console has paused
# this long: a prompt is followed by silence, while a line cut by a read boundary is completed
# within microseconds. Without it, `Name : (?P<x>.+)$` would capture a line half-way.
PARTIAL_SETTLE = 0.05
# The unfinished line kept for the matcher and the verdict's last lines: a target that prints
# megabytes without a newline must cost linear time and bounded memory. A line longer than
# LONG_LINE is matched on its last LONG_LINE_KEEP characters; the log files keep all of it.
LONG_LINE = 1024 * 1024
LONG_LINE_KEEP = LONG_LINE // 2
# The reader polls the transport this often. Silence is only declared once the reader has
# polled after the silence ran out, or polled recently: on a starved host (a loaded CI runner,
# twenty bisects on two cores) bytes can wait unread in the pipe while the matcher's thread
# wakes, and a wedge read off an unread pipe is the harness's failure, not the board's.
READ_TIMEOUT = 0.05
READER_FRESH = 4 * READ_TIMEOUT
# How long a silence or deadline waits for a lagging reader before it is declared anyway.
READER_GRACE = 2.0
# On a guest clock, typing waits (host seconds, at most) for the target to report that it took
# the bytes, so the step's silence and deadline count from the guest moment it got them.
TAKE_WAIT = 2.0
# On a guest clock an unfinished line is complete once the guest's clock ran this long past it
# with nothing more: every byte printed until then has been read (see harness.engine.guest_clock), and
# no guest pauses half a line for half a million instructions, while a prompt waits for input.
GUEST_SETTLE = 0.005


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
class Watch:
    """A pattern the matcher looks for.

    ``kind`` is the caller's label (``expect``, ``fail``, ``reset``, ``prompt``); ``partial``
    allows a match on the unfinished last line; ``key`` is where the pattern was written
    (``plan.toml: milestone[2].expect``), for the error when it is too slow to search;
    ``settle`` makes a match that runs to the end of an unfinished line wait for a pause (a
    capture could be cut by a read boundary), which a watch without captures that the harness
    answers by typing does not need.
    """

    name: str
    kind: str
    regex: AnyPattern
    partial: bool = True
    key: str = ""
    settle: bool = True


@dataclass(frozen=True)
class Matched:
    """A watch matched ``line`` at ``t`` seconds after power-on."""

    watch: Watch
    match: AnyMatch
    line: str
    t: float
    # Index of the matched line among all lines since power-on (see Console.lines_around).
    line_no: int = 0

    @property
    def groups(self) -> dict[str, str]:
        """Named groups of the match, without the ones that did not take part."""
        return {k: v for k, v in self.match.groupdict().items() if v is not None}


@dataclass(frozen=True)
class Quiet:
    """No byte arrived for ``quiet_for`` seconds."""

    quiet_for: float
    t: float


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


# The files ConsoleFiles writes into a run folder.
CONSOLE_FILES = ("console.raw", "console.log", "console.timing")


@dataclass
class ConsoleFiles:
    """The run folder's console files, written as bytes arrive.

    ``console.timing`` says when each piece of ``console.raw`` came, one line per event, in
    seconds since power-on (since the console opened, before the ``p`` line):
    ``d T N`` N bytes arrived; ``s T N`` N bytes typed (written when the typing ended);
    ``p T`` power-on (times restart at 0); ``o T`` the power-on finished; ``c T REASON`` the target ended the console;
    ``j T`` the matcher decided on a silence or a deadline; ``f T`` hartbeat switched the target
    off (an ``off`` step, once its power backend returned); ``e T`` the harness stopped
    recording; ``k T SCALE`` the target reports its guest time (judged on it, host seconds /
    SCALE if it fails); ``g T LINE`` one guest-time report as the target sent it. Times are
    host seconds; ``hartbeat replay`` reads it.
    """

    raw: IO[bytes]
    log: IO[str]
    timing: IO[str] | None = None

    @classmethod
    def open(cls, folder: Path) -> ConsoleFiles:
        """Create ``console.raw``, ``console.log`` and ``console.timing`` in ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        raw, log, timing = CONSOLE_FILES
        return cls(
            raw=(folder / raw).open("wb", buffering=0),
            log=(folder / log).open("w", encoding="utf-8", newline="\n"),
            timing=(folder / timing).open("w", encoding="utf-8", newline="\n"),
        )

    def event(self, kind: str, t: float, detail: object = "") -> None:
        """Append one timing line (flushed: a killed run keeps its timing like its log)."""
        if self.timing is None or self.timing.closed:
            return
        self.timing.write(f"{kind} {t:.9f} {detail}".rstrip() + "\n")
        self.timing.flush()

    def close(self) -> None:
        """Close the files; a disk that filled up must not turn closing into a traceback."""
        for handle in (self.raw, self.log, self.timing):
            if handle is not None:
                with contextlib.suppress(OSError):
                    handle.close()


@dataclass
class _Pending:
    """Decoded text not yet seen by the matcher, with the arrival time of each piece.

    ``line_no`` is the index (since power-on) of the line the text starts in.
    """

    text: str = ""
    # (offset into text, seconds since power-on) for each piece, ascending.
    times: list[tuple[int, float]] = field(default_factory=list)
    line_no: int = 0

    def append(self, text: str, t: float) -> None:
        """Add a piece that arrived at ``t``."""
        self.times.append((len(self.text), t))
        self.text += text

    def time_at(self, offset: int) -> float:
        """Arrival time of the piece holding ``offset``."""
        t = self.times[0][1] if self.times else 0.0
        for start, when in self.times:
            if start > offset:
                break
            t = when
        return t

    def cut(self, start: int, end: int) -> None:
        """Forget ``text[start:end]``, a stretch without newlines in the middle of a long line."""
        if end <= start:
            return
        removed = end - start
        self.text = self.text[:start] + self.text[end:]
        moved: list[tuple[int, float]] = []
        for offset, when in self.times:
            if offset < start:
                moved.append((offset, when))
            elif offset < end:
                # A piece that began inside the cut now begins where the cut was.
                if moved and moved[-1][0] == start:
                    moved[-1] = (start, when)
                else:
                    moved.append((start, when))
            else:
                moved.append((offset - removed, when))
        self.times = moved

    def drop(self, count: int) -> None:
        """Forget the first ``count`` characters."""
        if count <= 0:
            return
        self.line_no += self.text.count("\n", 0, count)
        self.text = self.text[count:]
        kept = [(max(0, start - count), when) for start, when in self.times if start >= count]
        last_before = [when for start, when in self.times if start < count]
        if last_before and (not kept or kept[0][0] > 0):
            kept.insert(0, (0, last_before[-1]))
        self.times = kept


class Console:
    """A live console: logs everything, answers ``wait_for`` and ``send``.

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
        self._files = files
        self._send_delay = send_delay
        self._cond = threading.Condition()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._history: deque[tuple[float, str]] = deque(maxlen=history)
        self._line_total = 0
        self._power_on_line = 0
        self._partial = ""
        self._partial_t = 0.0
        # The unfinished line was longer than LONG_LINE and only its tail is kept.
        self._partial_cut = False
        # Length of the unfinished line so far, however much of it is kept.
        self._open_len = 0
        # console.log is written as text arrives; True while its last line is unfinished.
        self._log_mid_line = False
        self._write_error: str | None = None
        self._carry_cr = ""
        self._pending = _Pending()
        self._interrupted_seen = (-1, -1)
        self._t0 = clock.monotonic()
        self._last_byte = self._t0
        # When the reader's latest read returned, everything it got already ingested.
        self._polled = self._t0
        self._bytes = 0
        self._closed: str | None = None
        self._closed_t = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._reader, name="console-reader", daemon=True)
        self._captures: list[list[tuple[float, str]]] = []
        # The target's guest clock, when it reports one: limits are then guest seconds.
        if guest is None and isinstance(transport, GuestClockSource):
            guest = GuestTimeline(transport.fallback_scale)
        self._guest = guest
        # Guest mode: guest times at which data came (since the current wait's quiet start).
        self._arrivals: list[float] = []
        # (quiet start, silence, the later of the start and the last byte scanned) of the last wait.
        self._quiet_scan = (-1.0, -1.0, 0.0)
        self._last_arrival = 0.0
        self._typed_total = 0
        if guest is not None:
            self._write(lambda files: files.event("k", 0.0, f"{guest.fallback_scale:g}"))

    # -- reader thread ------------------------------------------------------------------------

    def start(self) -> None:
        """Start draining the transport."""
        self._thread.start()

    def mark_power_on(self) -> None:
        """Make timestamps relative to now (the moment the target is powered on)."""
        with self._cond:
            self._t0 = self._clock.monotonic()
            self._last_byte = self._t0
            self._write(lambda files: files.event("p", 0.0))
            if self._guest is not None:
                self._guest.start(0.0)
            # What a board left running printed before the power cycle is in the log, but it
            # must not satisfy (or fail) the first milestone of this boot.
            self._pending = _Pending(line_no=self._line_total)
            self._power_on_line = self._line_total

    def mark_powered(self) -> None:
        """Record that the power-on finished (a power cycle can take seconds): steps start here."""
        with self._cond:
            self._write(lambda files: files.event("o", self._clock.monotonic() - self._t0))

    def mark_switched_off(self) -> float:
        """Record that hartbeat has switched the target off (a plan's ``off`` step); its time.

        The moment is when the power backend returned, which can be long after the last byte
        (QEMU told to quit, a relay's off time): a replay has no backend to wait for, so it plays
        on to this recorded moment and the step's time is the live one.
        """
        # Live, one reading of the clock is both the recorded moment and the step's time (a
        # second reading after the write would be later than the moment a replay takes); a
        # replay's clock moves to the recorded moment, and the time is read there.
        host = self._clock.monotonic() - self._t0
        with self._cond:
            self._write(lambda files: files.event("f", host))
        if self._clock.switched_off():
            host = self._clock.monotonic() - self._t0
        return host if self._guest is None else self._guest.now(host)

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
                self._write(lambda files, line=line: files.event("g", t, line.strip()))  # type: ignore[misc]
                guest.add(line, t)
            self._cond.notify_all()

    def ingest(self, data: bytes, now: float) -> None:
        """Take bytes that arrived at ``now`` (on the console's clock).

        The reader thread calls this for every read; a replay calls it for every recorded one.
        """
        self._write(lambda files: files.raw.write(data))
        with self._cond:
            t = now - self._t0
            self._last_byte = now
            self._bytes += len(data)
            self._write(lambda files: files.event("d", t, len(data)))
            if self._guest is None:
                self._take(self._decode(data), t)
            else:
                # Each piece at the guest time it was printed at.
                for piece, guest_t in self._guest.pieces(data, t):
                    self._take(self._decode(piece), guest_t)
                    self._arrivals.append(guest_t)
                    self._last_arrival = guest_t
            self._cond.notify_all()

    def _decode(self, data: bytes) -> str:
        """Bytes to text with every line ending made a ``\n``."""
        # Consoles end lines with \r\n, and a tty in cooked mode on the way adds another \r;
        # a run of \r split across two reads is held back until the next one. A bare \r (some
        # consoles end lines with it alone) ends a line too.
        text = self._carry_cr + self._decoder.decode(data)
        stripped = text.rstrip("\r")
        self._carry_cr = text[len(stripped) :]
        # str.replace runs at memory speed; a regex for \r+\n was the engine's slowest step.
        if "\r" in stripped:
            return stripped.replace("\r\r\n", "\n").replace("\r\n", "\n").replace("\r", "\n")
        return stripped

    def _take(self, text: str, t: float) -> None:
        """Text that came at ``t`` (console time) to the lines, the log and the matcher."""
        self._add_lines(text, t)
        if self._files:
            self._write(lambda files: self._log_text(files, text, t))
        self._pending.append(text, t)
        self._bound_pending(text)

    def _add_lines(self, text: str, t: float) -> None:
        """Split ``text`` onto the unfinished line; complete lines go to the ring of recent ones."""
        had_partial = bool(self._partial) or self._partial_cut
        lines = (self._partial + text).split("\n")
        complete, self._partial = lines[:-1], lines[-1]
        if complete:
            if self._partial_cut:
                complete[0] = "\u2026" + complete[0]
                self._partial_cut = False
            self._history.extend(zip(repeat(t), complete))
            for capture in self._captures:
                capture.extend(zip(repeat(t), complete))
            self._line_total += len(complete)
        if complete or not had_partial:
            self._partial_t = t
        if len(self._partial) > LONG_LINE:
            self._partial = self._partial[-LONG_LINE_KEEP:]
            self._partial_cut = True

    def _bound_pending(self, text: str) -> None:
        """Keep the matcher's text bounded: per long line, and in total while nobody waits."""
        pending = self._pending
        newline = text.rfind("\n")
        self._open_len = len(text) - newline - 1 if newline >= 0 else self._open_len + len(text)
        open_part = min(self._open_len, len(pending.text))
        if open_part > LONG_LINE:
            end = len(pending.text) - LONG_LINE_KEEP
            pending.cut(len(pending.text) - open_part, end)
        # Bounded even while nobody waits (an SSH step, a busy test): the oldest unmatched
        # text goes, the log files keep it.
        overflow = len(pending.text) - PENDING_LIMIT
        if overflow > 0:
            pending.drop(pending.text.find("\n", overflow) + 1 or overflow)

    def _log_text(self, files: ConsoleFiles, text: str, t: float) -> None:
        """Append ``text`` to console.log, each line prefixed with the time it started at."""
        out = []
        parts = text.split("\n")
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if not self._log_mid_line:
                if last and not part:
                    break
                out.append(f"[{t:12.6f}] ")
                self._log_mid_line = True
            out.append(part)
            if not last:
                out.append("\n")
                self._log_mid_line = False
        files.log.write("".join(out))
        files.log.flush()

    def _write(self, action: Callable[[ConsoleFiles], object]) -> None:
        """Run a write to the console files; a full or broken disk ends the console, once."""
        files = self._files
        if files is None or self._write_error is not None:
            return
        try:
            action(files)
        except (OSError, ValueError) as exc:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            where = getattr(files.raw, "name", "the run folder")
            self._write_error = f"cannot write the console log ({where}): {detail}"
            # The verdict must name the disk, not blame the target: the console ends here and
            # the runner powers the target off.
            self._stop.set()
            self._finish(self._write_error)

    def end(self, reason: str) -> None:
        """The target ended the console (process exited, port vanished): record when, and why."""
        with self._cond:
            if self._closed is None:
                self._write(lambda files: files.event("c", self._clock.monotonic() - self._t0, reason))
            self._finish(reason)

    def _finish(self, reason: str) -> None:
        with self._cond:
            if self._closed is None:
                self._closed = reason
                self._closed_t = self.now()
            self._cond.notify_all()

    def stop(self) -> None:
        """Stop the reader and end the unfinished last line; idempotent."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        self._finish("console stopped by the harness")
        with self._cond:
            self._write(lambda handle: handle.event("e", self._clock.monotonic() - self._t0))
            files = self._files
            if self._log_mid_line and files and not files.log.closed:
                self._write(lambda handle: _end_line(handle.log))
                self._log_mid_line = False
            if self._partial or self._partial_cut:
                prefix = "\u2026" if self._partial_cut else ""
                self._history.append((self._partial_t, prefix + self._partial))
                self._partial = ""
                self._partial_cut = False

    # -- state --------------------------------------------------------------------------------

    def now(self) -> float:
        """Seconds since power-on (guest seconds on a target with a guest clock)."""
        host = self._clock.monotonic() - self._t0
        return host if self._guest is None else self._guest.now(host)

    def quiet_for(self) -> float:
        """Seconds since the last byte (or since power-on)."""
        if self._guest is not None:
            return max(0.0, self.now() - self._last_arrival)
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
        return self._line_total

    @property
    def power_on_line(self) -> int:
        """The number of the first line printed after power-on."""
        return self._power_on_line

    @property
    def open_line_length(self) -> int:
        """Characters of the unfinished last line, however much of it is kept."""
        return self._open_len if (self._partial or self._partial_cut) else 0

    @property
    def write_error(self) -> str | None:
        """Why the console files could not be written (a full disk), or ``None``."""
        return self._write_error

    @property
    def closed(self) -> str | None:
        """Why the console ended, or ``None`` while it is open."""
        return self._closed

    def lines_around(self, line_no: int, before: int, after: int) -> list[tuple[float, str]]:
        """Line ``line_no`` (a :attr:`Matched.line_no`) with ``before - 1`` lines before it and
        up to ``after`` after it, as far as the ring of recent lines still holds them."""
        with self._cond:
            first = self._line_total - len(self._history)
            lines = list(self._history)
            start = max(0, line_no - before + 1 - first)
            return lines[start : max(0, line_no + 1 + after - first)]

    def last_lines(self, count: int = 20) -> list[tuple[float, str]]:
        """The most recent lines with their timestamps, the unfinished one last."""
        with self._cond:
            lines = list(self._history)
            if self._partial or self._partial_cut:
                lines.append((self._partial_t, ("\u2026" if self._partial_cut else "") + self._partial))
            return lines[-count:]

    @contextmanager
    def capture(self) -> Iterator[list[tuple[float, str]]]:
        """Every line that arrives while the block runs, however many: the ring keeps only the last.

        The list fills as lines complete; when the block ends, the unfinished last line (a
        prompt) is added too, as :meth:`last_lines` shows it.
        """
        lines: list[tuple[float, str]] = []
        with self._cond:
            self._captures.append(lines)
        try:
            yield lines
        finally:
            with self._cond:
                self._captures.remove(lines)
                if self._partial:
                    lines.append((self._partial_t, self._partial))

    # -- matcher ------------------------------------------------------------------------------

    def _search(self, watches: Sequence[Watch], settled: bool) -> Matched | None:
        pending = self._pending
        text = pending.text
        end_complete = text.rfind("\n") + 1
        best: tuple[int, int, AnyMatch, Watch] | None = None
        for order, watch in enumerate(watches):
            found = _first_line_match(watch, text, 0, end_complete)
            # The earliest line wins; on one line, the earlier watch (a fail pattern) wins.
            line_start = text.rfind("\n", 0, found.start()) + 1 if found else 0
            if found and (best is None or (line_start, order) < (best[0], best[1])):
                best = (line_start, order, found, watch)
        if best is None:
            window = max(end_complete, len(text) - PARTIAL_WINDOW)
            for order, watch in enumerate(watches):
                found = _partial_match(watch, text, window, settled)
                if found and (best is None or order < best[1]):
                    best = (found.start(), order, found, watch)
        if best is None:
            hit = self._search_interrupted(watches, text[end_complete:], settled)
            pending.drop(len(text) if hit else end_complete)
            return hit
        _line, _order, found, watch = best
        start = found.start()
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", start)
        line = text[line_start : line_end if line_end >= 0 else len(text)]
        line_no = pending.line_no + text.count("\n", 0, start)
        hit = Matched(watch, found, line, pending.time_at(start), line_no)
        # Consume up to the end of the match only: the next pattern may be later on this line.
        pending.drop(max(found.end(), start + 1))
        return hit

    def _search_interrupted(self, watches: Sequence[Watch], open_text: str, settled: bool) -> Matched | None:
        """Prompt watches on the open line joined to a line a kernel message cut into."""
        # Only while the open line is untouched by earlier matches, and once per interruption.
        mark = (self._line_total, len(self._partial))
        if self._partial_cut or open_text != self._partial or mark == self._interrupted_seen:
            return None
        prefix = interrupted_prefix([line for _t, line in list(self._history)[-LOOK_BACK:]])
        if prefix is None:
            return None
        candidate = prefix + open_text
        for watch in watches:
            found = _partial_match(watch, candidate, 0, settled)
            if found:
                self._interrupted_seen = mark
                return Matched(watch, found, candidate, self._partial_t, self._line_total)
        return None

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
        if self._guest is not None:
            return self._wait_guest(watches, deadline, silence, quiet_from, on_tick)
        clock = self._clock
        next_tick = clock.monotonic()
        while True:
            with self._cond:
                now = clock.monotonic()
                settled = now - self._last_byte >= PARTIAL_SETTLE or self._closed is not None
                hit = self._search(watches, settled=settled)
                if hit:
                    return hit
                t = now - self._t0
                if self._closed is not None:
                    # When it closed, not when this loop noticed: an exit milestone's time.
                    return Closed(self._closed, self._closed_t, harness_side=self._write_error is not None)
                waits = [0.25 if on_tick else 1.0]
                if not settled and self._pending.text and not self._pending.text.endswith("\n"):
                    waits.append(PARTIAL_SETTLE - (now - self._last_byte))
                if silence is not None:
                    quiet_since = self._last_byte
                    if quiet_from is not None:
                        quiet_since = max(quiet_since, self._t0 + quiet_from)
                    quiet = now - quiet_since
                    if quiet < silence:
                        waits.append(silence - quiet)
                    elif self._reader_lags(now, quiet_since + silence):
                        waits.append(READ_TIMEOUT / 5)
                    else:
                        self._judged(t)
                        return Quiet(quiet, t)
                if deadline is not None:
                    if t < deadline:
                        waits.append(deadline - t)
                    elif self._reader_lags(now, self._t0 + deadline):
                        waits.append(READ_TIMEOUT / 5)
                    else:
                        self._judged(t)
                        return TimedOut(t)
                # The reader needs the lock to add text, so nothing arrived since the search. The
                # clock sets the floor: a replay's must not step over the live run's next typing.
                clock.wait(self._cond, min(waits))
            if on_tick and clock.monotonic() >= next_tick:
                on_tick()
                next_tick = clock.monotonic() + 0.25

    def _wait_guest(
        self,
        watches: Sequence[Watch],
        deadline: float | None,
        silence: float | None,
        quiet_from: float | None,
        on_tick: Callable[[], None] | None,
    ) -> Outcome:
        """:meth:`wait_for` on the guest clock.

        Whatever the host's pace, the outcome is the one the guest's timeline gives: a match
        printed before the silence or deadline ran out in guest time wins, a later one does not,
        so a live run and its replay decide alike. The host clock only caps a guest clock that
        stopped moving.
        """
        guest = self._guest
        assert guest is not None
        clock = self._clock
        next_tick = clock.monotonic()
        while True:
            with self._cond:
                host = clock.monotonic()
                host_t = host - self._t0
                now = guest.now(host_t)
                settled = now - self._last_arrival >= GUEST_SETTLE or self._closed is not None
                hit = self._search(watches, settled=settled)
                ends: list[tuple[float, int]] = []
                if silence is not None:
                    quiet_end = self._quiet_end(quiet_from or 0.0, silence, now)
                    if quiet_end is not None:
                        ends.append((quiet_end, 0))
                if deadline is not None and now >= deadline:
                    ends.append((deadline, 1))
                end = min(ends) if ends else None
                if hit is not None and (end is None or hit.t < end[0]):
                    return hit
                # An unfinished line may still be a prompt printed before the limit: settle first,
                # unless the guest has printed on past the limit (a firehose never settles).
                text = self._pending.text
                complete = not text or text.endswith("\n") or self._last_arrival >= (end[0] if end else 0.0)
                if end is not None and (settled or complete):
                    self._judged(host_t)
                    return Quiet(silence or 0.0, end[0]) if end[1] == 0 else TimedOut(end[0])
                if self._closed is not None:
                    return Closed(self._closed, self._closed_t, harness_side=self._write_error is not None)
                stalled = guest.stalled(host_t)
                if stalled >= STALL_LIMIT:
                    self._judged(host_t)
                    return Closed(
                        f"the target's guest clock stopped at {now:.3f} s for {stalled:.0f} s of host time "
                        "(the emulator hung or was starved), not a wedge of the guest",
                        now,
                        harness_side=True,
                    )
                # New reports wake this wait; on the host's fallback clock, the limit itself does.
                waits = [0.25 if on_tick else 1.0, STALL_LIMIT - stalled]
                if guest.fault is not None:
                    limits = [deadline or math.inf, (quiet_from or 0.0) + (silence or math.inf)]
                    waits.append(max(0.0, (min(limits) - now)) * guest.fallback_scale)
                clock.wait(self._cond, min(waits))
            if on_tick and clock.monotonic() >= next_tick:
                on_tick()
                next_tick = clock.monotonic() + 0.25

    def _quiet_end(self, quiet_from: float, silence: float, now: float) -> float | None:
        """The guest time at which ``silence`` ran out with no byte, counting from ``quiet_from``.

        Arrivals are scanned once: those before a gap too short are dropped, and where the scan
        stands is kept for the next call of the same wait (a step's quiet start is never before
        data already read, which is never ahead of the guest clock).
        """
        arrivals = self._arrivals
        scan_from, scan_silence, since = self._quiet_scan
        if (scan_from, scan_silence) != (quiet_from, silence):
            since = quiet_from
        scanned = 0
        end: float | None = None
        for t in arrivals:
            if t - since >= silence:
                end = since + silence
                break
            since = max(since, t)
            scanned += 1
        del arrivals[:scanned]
        self._quiet_scan = (quiet_from, silence, since)
        if end is None and now - since >= silence:
            end = since + silence
        return end

    def _reader_lags(self, now: float, since: float) -> bool:
        """Whether bytes that arrived before ``since`` may still be unread: the reader is starved.

        A read that returned after ``since`` saw everything sent before it; a reader that
        returned moments ago is keeping up. A replay has no reader thread, and a reader stuck
        for longer than READER_GRACE is not waited for.
        """
        polled = self._polled
        if polled >= since or now - polled <= READER_FRESH or not self._thread.is_alive():
            return False
        return now - since < READER_GRACE

    def _judged(self, t: float) -> None:
        """Record when the engine decided on silence or a deadline, and let a playback catch up.

        Live, the verdict's evidence is what had arrived by the moment the matcher noticed, a
        little after the deadline; on a firehose that is more lines, so a replay gathers its
        evidence at the recorded moment too.
        """
        self._write(lambda files: files.event("j", t))
        self._clock.judged()

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
        self._write(lambda files: files.event("s", self._clock.monotonic() - self._t0, count))


def _end_line(log: IO[str]) -> None:
    log.write("\n")
    log.flush()


def _label(watch: Watch) -> str:
    return watch.key or f"{watch.kind} pattern of `{watch.name}`"


def _partial_match(watch: Watch, text: str, start: int, settled: bool) -> AnyMatch | None:
    """A partial-line watch on ``text[start:]``; a match reaching the end waits for a pause."""
    if not watch.partial:
        return None
    found = search(watch.regex, text, start, label=_label(watch))
    # A match that reaches the end of the text could still grow with the next read.
    if found and found.end() == len(text) and not settled and watch.settle:
        return None
    return found


def _first_line_match(watch: Watch, text: str, start: int, end: int) -> AnyMatch | None:
    """The first match of the watch's regex that lies within one line of ``text[start:end]``.

    The block is searched once in C; a hit is re-run on its own line so a pattern such as
    ``a\\s+b`` cannot match across a line break.
    """
    pos = start
    while pos < end:
        found = search(watch.regex, text, pos, end, label=_label(watch))
        if found is None:
            return None
        line_start = text.rfind("\n", 0, found.start()) + 1
        line_end = text.find("\n", found.start(), end)
        if line_end < 0:
            line_end = end
        confirmed = search(watch.regex, text, line_start, line_end, label=_label(watch))
        if confirmed:
            return confirmed
        pos = line_end + 1
    return None
