"""FU740 PRCI (``sifive,fu740-c000-prci``): PLL configuration, clock muxes, dividers and the
device reset register, as U-Boot's and Linux's sifive-prci drivers read them.

Every PLL locks as soon as it is configured (``LOCK``, bit 31 of its cfg0, reads 1), as the
drivers expect after waiting the lock time. ``DEVICESRESETREG`` holds a 1 for each block out of
reset (DDR controller, AXI, AHB, PHY, GEMGXL, ChipLink); the DDR controller reports its reset
state through :meth:`Prci.out_of_reset`.
"""

from __future__ import annotations

HFXOSCCFG = 0x00
COREPLLCFG0 = 0x04
DDRPLLCFG0 = 0x0C
GEMGXLPLLCFG0 = 0x1C
CORECLKSEL = 0x24
DEVICESRESETREG = 0x28
CLKMUXSTATUSREG = 0x2C
CLTXPLLCFG0 = 0x30
DVFSCOREPLLCFG0 = 0x38
COREPLLSEL = 0x40
HFPCLKPLLCFG0 = 0x50
HFPCLKPLLSEL = 0x58
HFPCLKPLLDIV = 0x5C
PRCIPLL = 0xE0
PLL_CFG0 = (COREPLLCFG0, DDRPLLCFG0, GEMGXLPLLCFG0, CLTXPLLCFG0, DVFSCOREPLLCFG0, HFPCLKPLLCFG0)
LOCK = 1 << 31
HFXOSC_READY = 1 << 31
FSE = 1 << 25
# Reset block numbers in DEVICESRESETREG (the FU740 device tree's reset cells).
RESET_DDR_CTRL, RESET_DDR_AXI, RESET_DDR_AHB, RESET_DDR_PHY = 0, 1, 2, 3
DDR_RESETS = (1 << RESET_DDR_CTRL) | (1 << RESET_DDR_AXI) | (1 << RESET_DDR_AHB) | (1 << RESET_DDR_PHY)
ALL_PLLS = 0x3F


def wrpll(divr: int, divf: int, divq: int, range_: int) -> int:
    """A WRPLL cfg0 value (internal feedback) for the given dividers."""
    return FSE | range_ << 18 | divq << 15 | divf << 6 | divr


# What the mask ROM leaves: core PLL at 1001 MHz and the peripheral PLL at 260 MHz from the
# 26 MHz crystal (rate = 26 MHz * 2 * (divf + 1) / (divr + 1) >> divq); the DDR, GEMGXL,
# ChipLink and DVFS PLLs unconfigured (bypassed).
_RESET = {
    HFXOSCCFG: HFXOSC_READY | 1 << 30,
    COREPLLCFG0: wrpll(0, 76, 2, 4),
    HFPCLKPLLCFG0: wrpll(0, 79, 4, 4),
    HFPCLKPLLDIV: 0,
    PRCIPLL: ALL_PLLS,
    CLKMUXSTATUSREG: 1 << 1,
}


class Prci:
    """The PRCI register block: every register stores what is written, PLLs report lock."""

    def __init__(self) -> None:
        self.regs = dict(_RESET)

    def out_of_reset(self, mask: int) -> bool:
        """True if every block in ``mask`` has been released from reset."""
        return self.regs.get(DEVICESRESETREG, 0) & mask == mask

    def read(self, offset: int, size: int) -> int:
        """Read a register; PLL configuration registers carry the lock bit."""
        value = self.regs.get(offset & ~3, 0)
        if offset & ~3 in PLL_CFG0:
            value |= LOCK
        return value >> (8 * (offset & 3)) & ((1 << (8 * size)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        """Write a register (lock, ready and the PLL presence mask are read-only)."""
        reg = offset & ~3
        if reg in (PRCIPLL, CLKMUXSTATUSREG):
            return
        if reg == HFXOSCCFG:
            value |= HFXOSC_READY
        self.regs[reg] = value & 0x7FFFFFFF if reg in PLL_CFG0 else value & 0xFFFFFFFF
