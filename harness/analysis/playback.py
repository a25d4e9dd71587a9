"""A recorded console played back on the recording's own time.

:class:`Playback` is a :class:`~harness.engine.clock.Clock` and a transport at once: the console engine
asks it for the time and waits on it, and instead of sleeping it advances to the next recorded
read and hands those bytes to :meth:`Console.ingest`, exactly as the reader thread did live.
Typing moves time to the moment the live run finished typing. The same engine then matches,
times out and goes quiet as it did live, in milliseconds instead of the run's seconds.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.engine.console import LAG_SAME, Console
from harness.engine.guest_clock import GuestTimeline
from harness.engine.recorder import Mark
from harness.errors import HartbeatError
from harness.records.run_folder import read_log

TIMING = "console.timing"
RAW = "console.raw"
LOG = "console.log"
# A live decision recorded this long after the replay's own is taken as the same decision, made
# late by a loaded host; a later one belongs to another step (a replay with another plan).
JUDGED_WINDOW = 1.0
# What a replay says when it runs past the end of what was recorded.
RECORDING_ENDS = "the recording ends here (the live run was stopped)"
# The letters a console.timing line may start with.
MARKS = frozenset(mark.value for mark in Mark)
# What one read of the live reader records (guest-time reports and starvation before its bytes).
READ_MARKS = frozenset({Mark.GUEST_REPORT, Mark.STARVED, Mark.DATA, Mark.CLOSED})
# What a live harness held off whole between a limit and its record of waiting for the reader
# cannot have recorded in between (see Playback.reader_lagged).
NOT_HELD_OFF = frozenset({Mark.DATA, Mark.CLOSED, Mark.JUDGED, Mark.TYPED, Mark.SWITCHED_OFF, Mark.END})
# What only a look (or the runner between waits) records: a held-off stretch ends before these.
LOOK_BARRIERS = frozenset({Mark.JUDGED, Mark.TYPED, Mark.SWITCHED_OFF, Mark.END})


class RecordingError(HartbeatError):
    """A run folder's console recording is missing or does not fit together."""


@dataclass(frozen=True)
class Event:
    """One recorded console event; ``t`` is seconds since power-on (since opening, before it).

    ``kind`` is what happened (:class:`~harness.engine.recorder.Mark`, the line's letter in
    ``console.timing``): a ``DATA`` event carries the bytes that arrived, a ``GUEST_CLOCK``
    event's ``detail`` is the fallback scale, a ``GUEST_REPORT``'s the report as the target
    sent it and a ``STARVED``'s the seconds its process had waited for a CPU.
    """

    kind: Mark
    t: float
    data: bytes = b""
    detail: str = ""


@dataclass(frozen=True)
class Recording:
    """The events of one run, in order, and whether they carry exact read timing."""

    events: tuple[Event, ...]
    exact: bool


def load_recording(folder: Path) -> Recording:
    """``console.raw`` + ``console.timing`` (exact), else ``console.log`` (one read per line)."""
    timing = folder / TIMING
    if timing.is_file() and (folder / RAW).is_file():
        return Recording(_from_timing(timing, (folder / RAW).read_bytes()), exact=True)
    log = folder / LOG
    if log.is_file():
        return Recording(_from_log(log), exact=False)
    raise RecordingError(f"{folder}: no console recording ({TIMING} with {RAW}, or {LOG})")


def _from_timing(path: Path, raw: bytes) -> tuple[Event, ...]:
    events: list[Event] = []
    offset = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        letter, _sep, rest = line.partition(" ")
        when, _sep, detail = rest.partition(" ")
        try:
            t = float(when)
            if letter not in MARKS:
                raise ValueError(f"unknown event {letter!r}")
            kind = Mark(letter)
            if kind is Mark.DATA:
                size = int(detail)
                events.append(Event(kind, t, raw[offset : offset + size]))
                offset += size
            else:
                events.append(Event(kind, t, detail=detail))
        except ValueError as exc:
            raise RecordingError(f"{path}:{number}: expected `KIND SECONDS [DETAIL]`, got {line!r} ({exc})") from None
    if offset != len(raw):
        # A run killed mid-read can leave bytes without their timing line: they arrived last.
        events.append(Event(Mark.DATA, events[-1].t if events else 0.0, raw[offset:]))
    return tuple(events)


def _from_log(path: Path) -> tuple[Event, ...]:
    # Without the timing file only whole lines have times, stamped when they completed; an
    # unfinished last line (a prompt) comes at the time the log gave it. Power-on is the start.
    events = [Event(Mark.POWER_ON, 0.0)]
    events += [Event(Mark.DATA, t, (text + "\n").encode("utf-8")) for t, text in read_log(path)]
    return tuple(events)


class Playback:
    """Plays a recording into a console: its clock, and the transport it types into.

    Events before power-on are fed first with their own times, then the console is marked as
    powered on and later events come at ``base + t``, so the clock never runs backwards.
    """

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        events = list(recording.events)
        power_on = next((i for i, e in enumerate(events) if e.kind is Mark.POWER_ON), None)
        self._before = events[:power_on] if power_on is not None else []
        self._events = deque(events[power_on + 1 :] if power_on is not None else events)
        self._now = 0.0
        self._base = 0.0
        self._console: Console | None = None
        # A log-only recording has no typing events to play on to.
        self._typed = any(event.kind is Mark.TYPED for event in self._events)
        # The live reader lagged here: the next wait lasts until its next read (see wait()).
        self._lagging = False
        # Events played so far, and where (counted as those) the held-off looks and what ends a
        # held-off stretch stand: looked() runs on every look, and must not scan the recording.
        self._played = 0
        self._held = deque(i for i, event in enumerate(self._events) if event.kind is Mark.HELD)
        self._barriers = deque(i for i, event in enumerate(self._events) if event.kind in LOOK_BARRIERS)

    # -- the clock ----------------------------------------------------------------------------

    def monotonic(self) -> float:
        """The recording's time now."""
        return self._now

    def wait(self, cond: threading.Condition, timeout: float) -> None:
        """Advance to the next recorded event if it comes within ``timeout``, else by ``timeout``.

        While the live reader lagged (see :meth:`reader_lagged`), the wait lasted until the
        reader's next read, however long: the next event comes whenever it was recorded.
        """
        # At least a microsecond: real time always moves on, and a wait computed as "the rest of
        # the silence" can round to nothing, which would spin forever on a clock that does not.
        until = self._now + max(1e-6, timeout)
        if self._lagging and self._events:
            self._lagging = False
            self._play_next_read()
        elif self._events and self._base + self._events[0].t <= until:
            self._apply(self._events.popleft())
        else:
            self._now = until

    def sleep(self, seconds: float) -> None:
        """Typing delays pass like any wait."""
        self._now += max(0.0, seconds)

    def _play_next_read(self) -> None:
        """Play what the live reader read next after it lagged: every event of that one read
        (guest-time reports, starvation, bytes: recorded at the same moment), past the other
        limits' records of the same wait; or, if the live run decided first (it gave up on the
        reader), move to that moment and leave the decision for judged()."""
        events = self._events
        while events and events[0].kind is Mark.LAGGED:
            self._apply(events.popleft())
        if not events:
            return
        if events[0].kind is Mark.JUDGED:
            self._now = max(self._now, self._base + events[0].t)
            return
        read_at = events[0].t
        while events and events[0].t == read_at and events[0].kind in READ_MARKS:
            self._apply(events.popleft())

    def judged(self) -> None:
        """Play on to the moment the live matcher made this decision, if it made it about now."""
        # A wait for the reader recorded in the same look is over: the decision is taken.
        self._lagging = False
        self._play_through(lambda event: event.kind is Mark.JUDGED, JUDGED_WINDOW)

    def switched_off(self) -> bool:
        """Play on to the moment the live run had switched the target off (its next ``f`` event).

        Live, the off step's time is when the power backend returned (QEMU quit and reaped, a
        relay's off time), later than anything on the console; a recording from before ``f``
        was written has no such moment and the step keeps the replay's own time.
        """
        self._lagging = False
        return self._play_through(lambda event: event.kind is Mark.SWITCHED_OFF, math.inf)

    def reader_lagged(self, since: float) -> bool:
        """Whether the live run recorded waiting for its reader when a limit ran out at ``since``
        (an ``l`` event about now): then play on to it, and the next wait to what the reader
        read next (or to the decision, if it read nothing), so the replay decides on the same
        console as the live run did.

        A record further off is this limit's too when nothing was read, decided, typed or
        switched off before it: the live harness was held off (stopped, a paused VM) from the
        limit until it looked again.
        """
        events = self._events
        index = next(
            (
                i
                for i, event in enumerate(events)
                if event.kind is Mark.LAGGED and abs(_number(event.detail) - since) <= LAG_SAME
            ),
            None,
        )
        if index is None:
            return False
        far = self._base + events[index].t > self._now + JUDGED_WINDOW
        if far and any(events[i].kind in NOT_HELD_OFF for i in range(index)):
            return False
        for _ in range(index + 1):
            self._apply(events.popleft())
        self._lagging = True
        return True

    def looked(self, t: float) -> bool:
        """Where the live harness made no look from before ``t`` until later (an ``h`` event: it
        was held off), play on to its next look, with all its reader read meanwhile; whether it did."""
        held, barriers, played = self._held, self._barriers, self._played
        while held and held[0] < played:
            held.popleft()
        while barriers and barriers[0] < played:
            barriers.popleft()
        if not held or (barriers and barriers[0] < held[0]):
            return False
        events = self._events
        index = held[0] - played
        if not _number(events[index].detail) <= t < events[index].t:
            return False
        for _ in range(index + 1):
            self._apply(events.popleft())
        return True

    def _play_through(self, wanted: Callable[[Event], bool], within: float) -> bool:
        """Play every event up to and including the first ``wanted`` one, if there is one
        recorded at most ``within`` seconds after now; whether there was."""
        index = next((i for i, event in enumerate(self._events) if wanted(event)), None)
        if index is None or self._base + self._events[index].t > self._now + within:
            return False
        for _ in range(index + 1):
            self._apply(self._events.popleft())
        return True

    def advance_to(self, t: float) -> None:
        """Play every event up to ``t`` seconds after power-on (a step that was not on the console)."""
        while self._events and self._events[0].t <= t:
            self._apply(self._events.popleft())
        self._now = max(self._now, self._base + t)

    # -- the transport ------------------------------------------------------------------------

    def read(self, size: int, timeout: float) -> bytes:
        """Never called: the playback feeds the console itself (there is no reader thread)."""
        raise RecordingError("a playback is not read from; it feeds the console")

    def write(self, data: bytes) -> None:
        """Typing: play on to the moment the live run finished typing (its next ``s`` event)."""
        self._lagging = False
        while self._typed and self._events:
            event = self._events.popleft()
            self._apply(event)
            if event.kind is Mark.TYPED:
                return

    def close(self) -> None:
        """Nothing to release."""

    # -- feeding the console ------------------------------------------------------------------

    def console(self) -> Console:
        """A console engine on this playback, powered on, with the pre-power-on bytes fed."""
        clock = next((event for event in self.recording.events if event.kind is Mark.GUEST_CLOCK), None)
        guest = None if clock is None else GuestTimeline(_scale(clock.detail))
        console = Console(self, None, clock=self, guest=guest)
        self._console = console
        for event in self._before:
            self._now = max(self._now, event.t)
            if event.kind is Mark.DATA:
                console.ingest(event.data, self._now)
        self._base = self._now
        console.mark_power_on()
        # The live run's first step started once powering on returned, which can take a while.
        powered = next((event.t for event in self._events if event.kind is Mark.POWERED), None)
        if powered is not None:
            self.advance_to(powered)
        return console

    def _apply(self, event: Event) -> None:
        console = self._console
        if console is None:
            raise RecordingError("playback.console() must be called before the playback runs")
        self._played += 1
        at = self._base + event.t
        self._now = max(self._now, at)
        if event.kind is Mark.DATA:
            # At its own recorded time, as live: the reader stamps a read before it takes the
            # console's lock, so a mark written meanwhile (the power-on's end) can come first in
            # the file with a later time.
            console.ingest(event.data, at)
        elif event.kind is Mark.GUEST_REPORT:
            console.guest_report([event.detail], self._now)
        elif event.kind is Mark.STARVED:
            # At its recorded time, as live: a silence leaves out what was recorded after its start.
            console.target_starved(_number(event.detail), at)
        elif event.kind is Mark.CLOSED:
            console.end(event.detail or "console closed")
        elif event.kind is Mark.END:
            console.end(RECORDING_ENDS)
        if self.recording.exact and not self._events and event.kind not in (Mark.CLOSED, Mark.END):
            # A recording cut off without an end line (the run was killed) ends where it stops.
            console.end(RECORDING_ENDS)


def _scale(detail: str) -> float:
    try:
        return float(detail)
    except ValueError:
        return 1.0


def _number(detail: str) -> float:
    try:
        return float(detail)
    except ValueError:
        return 0.0
