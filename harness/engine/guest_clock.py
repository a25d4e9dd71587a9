"""The target's own clock: guest time reported beside the console bytes, and what it says.

An emulator knows how much time has passed for the guest however slowly the host runs it. The
emulator target reports it on a side channel (``GUEST_NS OUT IN`` lines: guest nanoseconds since
power-on, console bytes written and read by then), and the console engine measures silence,
``within`` and ``timeout`` on it (see :class:`GuestTimeline`), so a plan's limits mean guest
seconds there, as on the board the plan was written for.

Two rules keep a verdict honest. A report of guest time counts only once every console byte the
target had written by then has been read (``OUT``): the harness never runs ahead of what it has
seen, so no limit is shorter than the host time the target needs to print what it already printed.
And a report that goes backwards or cannot be read ends the guest clock for the run: time then
runs on from the last good report at the host's pace divided by the target's ``fallback_scale``
(its measured slowdown), and the reason is kept as a note for the report.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from harness.engine.starved import StarvedTime

# A guest clock that has not advanced for this many host seconds is a hung emulator, not a wedged
# guest: the wait ends as an error naming the clock. Seconds the emulator spent waiting for a CPU
# (a starved emulator, see StarvationSource) do not count.
STALL_LIMIT = 30.0


@dataclass(frozen=True)
class GuestMark:
    """Guest time ``guest`` (seconds since power-on) when the target had written ``out`` console
    bytes and read ``taken`` of the ones typed."""

    guest: float
    out: int
    taken: int

    def as_text(self) -> str:
        """The mark as a ``GUEST_NS OUT IN`` line, the inverse of :func:`parse_mark`.

        It is the side channel's format (the emulator's timefeed writes those lines itself, and
        ``console.timing`` keeps them as received); tests script a target's reports with it.
        """
        return f"{round(self.guest * 1e9)} {self.out} {self.taken}"


def parse_mark(text: str) -> GuestMark | None:
    """A ``GUEST_NS OUT IN`` line, or ``None`` when it is garbled."""
    parts = text.split()
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        return None
    ns, out, taken = (int(part) for part in parts)
    return GuestMark(ns / 1e9, out, taken)


@runtime_checkable
class GuestClockSource(Protocol):
    """A console transport whose target reports its guest time (the emulator's)."""

    fallback_scale: float

    def guest_marks(self) -> list[str]:
        """The side channel's complete lines that arrived since the last call."""


@runtime_checkable
class StarvationSource(Protocol):
    """A console transport that can tell how long its target's process waited for a CPU."""

    def starved(self) -> float | None:
        """Host seconds the target's processes have spent runnable but not running (they wanted
        a CPU and got none), one total that only a count started again makes smaller, or
        ``None`` when that cannot be known."""


class GuestTimeline:
    """Guest time as far as the console has caught up with it.

    ``add`` takes the side channel's lines, ``pieces`` gives each piece of console data the guest
    time it was printed at (and catches the clock up as the bytes come in), ``now`` is the guest
    time of the newest report whose bytes have all been read.
    """

    def __init__(self, fallback_scale: float = 1.0, starved: StarvedTime | None = None) -> None:
        self.fallback_scale = max(fallback_scale, 1e-9)
        self._waiting: deque[GuestMark] = deque()
        self._now = 0.0
        # Host time (the console's clock) when _now last moved: the stall check and the fallback.
        self._moved_host = 0.0
        self._seen = GuestMark(0.0, 0, 0)
        # Host seconds the target waited for a CPU (the console adds to it), and by when _now last moved.
        self.starved = starved if starved is not None else StarvedTime()
        self._starved_moved = 0.0
        self._received = 0
        self.taken = 0
        self.fault: str | None = None
        # (guest seconds, host seconds) of each piece of console data, for milestones' host times.
        self._guest_at: list[float] = []
        self._host_at: list[float] = []

    def start(self, host: float) -> None:
        """Power-on: guest time 0 is now on the host."""
        self._moved_host = host
        self._starved_moved = self.starved.total

    def add(self, line: str, host: float) -> GuestMark | None:
        """Take one side-channel line; a garbled or backwards one ends the guest clock."""
        if self.fault is not None:
            return None
        mark = parse_mark(line)
        if mark is None:
            self._fail(f"the guest clock sent a garbled report ({line.strip()[:60]!r})", host)
            return None
        seen = self._seen
        if mark.guest < seen.guest or mark.out < seen.out or mark.taken < seen.taken:
            self._fail(f"the guest clock went backwards ({seen.guest:.6f} s, then {mark.guest:.6f} s)", host)
            return None
        self._seen = mark
        self._waiting.append(mark)
        self._catch_up(host)
        return mark

    def _fail(self, why: str, host: float) -> None:
        self.fault = (
            f"{why} at {self.now(host):.3f} s: judged on the host clock from there "
            f"(host seconds / {self.fallback_scale:g})"
        )
        self._moved_host = host
        self._waiting.clear()

    def _catch_up(self, host: float) -> None:
        waiting = self._waiting
        while waiting and waiting[0].out <= self._received:
            mark = waiting.popleft()
            if mark.guest > self._now:
                self._now = mark.guest
                self._moved_host = host
                self._starved_moved = self.starved.total
            self.taken = max(self.taken, mark.taken)

    def pieces(self, data: bytes, host: float) -> list[tuple[bytes, float]]:
        """``data`` (the next console bytes) cut where they were printed at different guest times."""
        out: list[tuple[bytes, float]] = []
        start = self._received
        pos = 0
        while pos < len(data):
            self._received = start + pos
            self._catch_up(host)
            waiting = self._waiting
            if self.fault is None and waiting:
                end = min(len(data), waiting[0].out - start)
                t = waiting[0].guest
            else:
                # Bytes no report covers (the emulator's own messages): they came now.
                end, t = len(data), self.now(host)
            out.append((data[pos:end], t))
            self._guest_at.append(t)
            self._host_at.append(host)
            pos = end
        self._received = start + len(data)
        self._catch_up(host)
        return out

    def now(self, host: float) -> float:
        """Guest seconds since power-on, as far as the console has caught up."""
        if self.fault is None:
            return self._now
        return self._now + max(0.0, host - self._moved_host) / self.fallback_scale

    def stalled(self, host: float) -> float:
        """Host seconds since the guest clock last moved, less those the target spent waiting for
        a CPU (0 once the clock has failed over to the host's)."""
        if self.fault is not None:
            return 0.0
        return max(0.0, host - self._moved_host - self.starved_since_moved())

    def starved_since_moved(self) -> float:
        """Host seconds the target has waited for a CPU since the guest clock last moved."""
        return self.starved.total - self._starved_moved

    def host_time(self, guest: float) -> float | None:
        """When (host seconds on the console's clock) the data printed at guest time ``guest`` was read."""
        index = bisect_left(self._guest_at, guest)
        return self._host_at[index] if index < len(self._host_at) else None


class GuestArrivals:
    """The guest times at which console output came, for silences measured in guest time.

    A wait asks :meth:`quiet_end` again and again while output keeps coming; arrivals it has
    scanned past are dropped, so each is looked at once however long the wait.
    """

    def __init__(self) -> None:
        # Since the current wait's quiet start, ascending.
        self._times: list[float] = []
        # (quiet start, silence, the later of the start and the last arrival scanned) of the last wait.
        self._scan = (-1.0, -1.0, 0.0)
        self.last = 0.0

    def add(self, t: float) -> None:
        """Output came at guest time ``t``."""
        self._times.append(t)
        self.last = t

    def quiet_end(self, quiet_from: float, silence: float, now: float) -> float | None:
        """The guest time at which ``silence`` ran out with no output, counting from ``quiet_from``.

        Arrivals are scanned once: those before a gap too short are dropped, and where the scan
        stands is kept for the next call of the same wait (a step's quiet start is never before
        data already read, which is never ahead of the guest clock).
        """
        arrivals = self._times
        scan_from, scan_silence, since = self._scan
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
        self._scan = (quiet_from, silence, since)
        if end is None and now - since >= silence:
            end = since + silence
        return end
