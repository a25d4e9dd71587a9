"""SiFive CLINT: per-hart software interrupt (msip) and timer compare (mtimecmp), plus mtime."""

from __future__ import annotations

from collections.abc import Callable

from ..clock import Clock
from ..trap import MIP_MSIP, MIP_MTIP

MSIP_BASE = 0x0
MTIMECMP_BASE = 0x4000
MTIME = 0xBFF8
NEVER = (1 << 64) - 1


class Clint:
    """Core-local interruptor for ``num_harts`` harts; ``set_irq(hart, bit, level)`` drives mip."""

    def __init__(self, num_harts: int, clock: Clock, set_irq: Callable[[int, int, bool], None]) -> None:
        self.num_harts = num_harts
        self.clock = clock
        self.set_irq = set_irq
        self.msip = [0] * num_harts
        self.mtimecmp = [NEVER] * num_harts

    def update_timers(self, now: int) -> None:
        """Raise or lower each hart's MTIP for mtime ``now``."""
        for hart, cmp in enumerate(self.mtimecmp):
            self.set_irq(hart, MIP_MTIP, now >= cmp)

    def read(self, offset: int, size: int) -> int:
        """Read msip, mtimecmp or mtime (32-bit halves allowed)."""
        if offset >= MTIME:
            value = self.clock.mtime()
            shift = (offset - MTIME) * 8
        elif offset >= MTIMECMP_BASE:
            hart, rest = divmod(offset - MTIMECMP_BASE, 8)
            if hart >= self.num_harts:
                return 0
            value, shift = self.mtimecmp[hart], rest * 8
        else:
            hart = offset >> 2
            return self.msip[hart] if hart < self.num_harts and offset & 3 == 0 else 0
        return (value >> shift) & ((1 << (size * 8)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        """Write msip, mtimecmp or mtime; 32-bit writes update one half of a 64-bit register."""
        if offset >= MTIME:
            self.clock.set_mtime(_merge(self.clock.mtime(), offset - MTIME, size, value))
            self.update_timers(self.clock.mtime())
        elif offset >= MTIMECMP_BASE:
            hart, rest = divmod(offset - MTIMECMP_BASE, 8)
            if hart < self.num_harts:
                self.mtimecmp[hart] = _merge(self.mtimecmp[hart], rest, size, value)
                self.set_irq(hart, MIP_MTIP, self.clock.mtime() >= self.mtimecmp[hart])
        else:
            hart = offset >> 2
            if hart < self.num_harts and offset & 3 == 0:
                self.msip[hart] = value & 1
                self.set_irq(hart, MIP_MSIP, bool(value & 1))


def _merge(old: int, byte_offset: int, size: int, value: int) -> int:
    shift = byte_offset * 8
    mask = ((1 << (size * 8)) - 1) << shift
    return (old & ~mask) | ((value << shift) & mask)
