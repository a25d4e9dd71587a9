"""Present-and-inert device blocks: registers that store what is written and read back, for
hardware the firmware probes but the emulator does not implement (PWM, the GEM Ethernet MAC,
the PCIe controller). The firmware finds the block where the board has it; nothing behind it
ever answers (no link, no PHY, no PCIe devices)."""

from __future__ import annotations


class InertRegisters:
    """A register block of plain storage, with fixed values for identification registers."""

    def __init__(self, fixed: dict[int, int] | None = None) -> None:
        self.fixed = dict(fixed or {})
        self.regs: dict[int, int] = {}

    def read(self, offset: int, size: int) -> int:
        """Read what was written (or the fixed value)."""
        reg = offset & ~3
        value = self.fixed.get(reg, self.regs.get(reg, 0))
        return value >> (8 * (offset & 3)) & ((1 << (8 * size)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        """Store a write (fixed registers ignore it)."""
        reg = offset & ~3
        if reg in self.fixed:
            return
        if size == 8:
            self.regs[reg] = value & 0xFFFFFFFF
            self.regs[reg + 4] = (value >> 32) & 0xFFFFFFFF
            return
        shift = 8 * (offset & 3)
        mask = ((1 << (8 * size)) - 1) << shift
        self.regs[reg] = (self.regs.get(reg, 0) & ~mask) | ((value << shift) & mask)
