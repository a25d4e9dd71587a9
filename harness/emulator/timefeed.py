"""``-guest-clock FILE``: the guest's time, written next to the console bytes, for the harness.

Each line is ``GUEST_NS OUT IN``: guest nanoseconds since power-on, how many console bytes the
emulator had written by then, and how many it had read. A line is written before every flush
of console output (so the harness, having read those bytes, always finds the time they were
printed at) and every PERIOD_S of host time while the guest runs, so a guest that prints
nothing still shows its clock moving: the harness measures silence and deadlines on it.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable

# How often the guest's time is reported while the console is quiet (host seconds).
PERIOD_S = 0.02


class TimeFeed:
    """Writes guest-time lines to ``fd``; a write that fails stops the feed (the harness then
    falls back to its own clock), never the guest."""

    def __init__(self, fd: int, guest_ns: Callable[[], int]) -> None:
        self.fd: int | None = fd
        self._guest_ns = guest_ns
        self._next = 0.0

    @classmethod
    def open(cls, path: str, guest_ns: Callable[[], int]) -> TimeFeed:
        """Append to ``path`` (created if missing)."""
        return cls(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), guest_ns)

    def mark(self, out_total: int, in_total: int) -> None:
        """Report the guest time now with the console's byte counts."""
        fd = self.fd
        if fd is None:
            return
        try:
            os.write(fd, f"{self._guest_ns()} {out_total} {in_total}\n".encode())
        except OSError:
            self.fd = None
        self._next = time.monotonic() + PERIOD_S

    def tick(self, out_total: int, in_total: int) -> None:
        """Report the guest time if PERIOD_S passed since the last report."""
        if time.monotonic() >= self._next:
            self.mark(out_total, in_total)

    def close(self) -> None:
        """Close the file."""
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None
