"""Host seconds the target's process waited for a CPU: a running total and when it grew.

On a loaded host (a CI runner, twenty bisects on two cores) a target's process can be runnable
and get no CPU for longer than a plan's silence: what it could not print then is the host's
doing, not the board's. The console takes the transport's samples
(:class:`harness.engine.guest_clock.StarvationSource`) into a :class:`StarvedTime`; the guest
clock's stall check and the silence on the host clock leave those seconds out.
"""

from __future__ import annotations

from bisect import bisect_right


class StarvedTime:
    """The seconds a target waited for a CPU, summed over its processes, with the history of the sum."""

    def __init__(self) -> None:
        self._total = 0.0
        self._sample: float | None = None
        # When (host seconds on the console's clock) the total grew, and to what: ascending.
        self._at: list[float] = []
        self._totals: list[float] = []

    def add(self, sample: float, t: float) -> None:
        """The target's processes had waited ``sample`` seconds for a CPU in all, by host time
        ``t``; a smaller sample than the last is a count started again (a new process where the
        transport counts per process), all of whose wait is new."""
        last = self._sample
        self._total += sample if last is None or sample < last else sample - last
        self._sample = sample
        # Samples come from one reader, in order; kept ascending whatever a recording says.
        self._at.append(max(t, self._at[-1]) if self._at else t)
        self._totals.append(self._total)

    @property
    def total(self) -> float:
        """Seconds waited in all."""
        return self._total

    def since(self, t: float) -> float:
        """Seconds waited as recorded after host time ``t``.

        A sample covers the interval since the one before, so a wait that straddles ``t`` is all
        counted after it: a limit that leaves these seconds out errs towards waiting a little
        longer, never towards a wedge the host caused.
        """
        index = bisect_right(self._at, t)
        return self._total - (self._totals[index - 1] if index else 0.0)
