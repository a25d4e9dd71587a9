"""The console engine's source of time.

A live console reads the monotonic clock and waits on its condition variable; a replay of a
recorded run gives the same engine a clock whose time is the recording's, so a recorded console
is judged by exactly the code that judged it live.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Monotonic seconds, and waiting for a condition or a time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""

    def wait(self, cond: threading.Condition, timeout: float) -> None:
        """Wait on ``cond`` (held by the caller) until notified or ``timeout`` seconds pass."""

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass."""

    def judged(self) -> None:
        """The engine just decided on a silence or a deadline; the evidence is gathered next."""

    def switched_off(self) -> bool:
        """Hartbeat just switched the target off (an ``off`` step); whether the clock moved to
        the recorded moment of it (a replay), so the step's time is read after this call."""

    def reader_lagged(self, since: float) -> bool:
        """For a clock without a reader thread (a replay): whether the live reader was behind
        when a limit ran out at ``since`` (seconds since power-on), so the decision waits for
        what the reader read next, as it did live."""

    def looked(self, t: float) -> bool:
        """A wait looks at the console at ``t`` (seconds since power-on); for a replay, whether it
        played on to where the live harness looked next, having made no look in between."""


WAIT_FLOOR = 0.001


class RealClock:
    """The host's monotonic clock."""

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def wait(self, cond: threading.Condition, timeout: float) -> None:
        """``cond.wait(timeout)``, at least a millisecond: a wait computed as "the rest of the
        settle" can round to nothing, and the matcher would spin on the lock."""
        cond.wait(max(WAIT_FLOOR, timeout))

    def sleep(self, seconds: float) -> None:
        """``time.sleep(seconds)``."""
        time.sleep(seconds)

    def judged(self) -> None:
        """Nothing to do: live, the evidence is whatever has arrived by now."""

    def switched_off(self) -> bool:
        """Nothing to do: live, the power backend has already taken its time."""
        return False

    def reader_lagged(self, since: float) -> bool:
        """Never asked live (the reader thread says it); no reader, nothing to wait for."""
        return False

    def looked(self, t: float) -> bool:
        """Nothing to do: live, a look is where it is."""
        return False


REAL_CLOCK = RealClock()
