"""The machine timer (mtime), driven by the host's monotonic clock."""

from __future__ import annotations

import time


class Clock:
    """mtime at ``frequency`` Hz following ``time.monotonic_ns`` so guest delays take real time."""

    def __init__(self, frequency: int) -> None:
        self.frequency = frequency
        self._origin_ns = time.monotonic_ns()
        self._offset = 0

    def mtime(self) -> int:
        """Current mtime value."""
        return ((time.monotonic_ns() - self._origin_ns) * self.frequency // 1_000_000_000 + self._offset) & (
            (1 << 64) - 1
        )

    def set_mtime(self, value: int) -> None:
        """Make mtime read ``value`` now (a guest write to the mtime register)."""
        self._offset += value - self.mtime()

    def seconds_until(self, deadline: int) -> float:
        """Host seconds until mtime reaches ``deadline`` (0 if already passed)."""
        return max(0.0, (deadline - self.mtime()) / self.frequency)
