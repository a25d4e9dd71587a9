"""SiFive GPIO (``sifive,gpio0``), 16 pins on the FU740: values, enables, pulls and the edge and
level interrupt pending bits U-Boot's and Linux's drivers touch.

An output-enabled pin reads back what it drives; an input reads the board's level
(``inputs``): on the Unmatched, pin 15 is the SD card-detect switch, low when a card is in, and
pin 2 drives the PMIC's shutdown input (the board's ``gpio-poweroff``, active low).
"""

from __future__ import annotations

from collections.abc import Callable

INPUT_VAL = 0x00
INPUT_EN = 0x04
OUTPUT_EN = 0x08
OUTPUT_VAL = 0x0C
OUT_XOR = 0x40
PENDING = (0x1C, 0x24, 0x2C, 0x34)  # rise, fall, high, low: write 1 to clear


class SifiveGpio:
    """``npins`` GPIO lines; ``inputs`` is the level the board drives on non-output pins."""

    def __init__(self, npins: int = 16, inputs: int = 0, on_change: Callable[[int, int], None] | None = None) -> None:
        self.mask = (1 << npins) - 1
        self.inputs = inputs & self.mask
        self.regs: dict[int, int] = {}
        # Told (levels, output enables) after every write: the board's wiring reacts to pins.
        self.on_change = on_change

    def level(self) -> int:
        """The pins' levels: driven outputs (after out_xor) or the board's inputs."""
        oe = self.regs.get(OUTPUT_EN, 0)
        out = self.regs.get(OUTPUT_VAL, 0) ^ self.regs.get(OUT_XOR, 0)
        return ((out & oe) | (self.inputs & ~oe)) & self.mask

    def read(self, offset: int, size: int) -> int:
        """Read a register (input_val is the pins' levels where input is enabled)."""
        if offset == INPUT_VAL:
            return self.level() & self.regs.get(INPUT_EN, 0)
        return self.regs.get(offset & ~3, 0)

    def write(self, offset: int, size: int, value: int) -> None:
        """Write a register; the interrupt pending registers clear the bits written as 1."""
        reg = offset & ~3
        if reg == INPUT_VAL:
            return
        if reg in PENDING:
            self.regs[reg] = self.regs.get(reg, 0) & ~value & self.mask
            return
        self.regs[reg] = value & self.mask
        if self.on_change is not None:
            self.on_change(self.level(), self.regs.get(OUTPUT_EN, 0))
