"""FU740 DDR subsystem (``sifive,fu740-c000-ddr``): the Cadence (Denali) controller, its PHY and
the physical filter (bus blocker) in front of DRAM, as U-Boot's sifive_ddr driver drives them.

The controller starts when ``DENALI_CTL_0.START`` is set with its resets released in the PRCI;
it then reports ``MC_INIT_COMPLETE`` (bit 8 of ``DENALI_CTL_132``). DRAM answers at
0x80000000 once the controller has initialised and the physical filter is opened (its
permission bits written), and not before: an access earlier is a bus error, as on the board.
PHY training registers read back what the SPL programmed (a trained PHY with no errata).
"""

from __future__ import annotations

from collections.abc import Callable

from .prci import DDR_RESETS, Prci

CTL_START = 0
CTL_INT_STATUS = 132 * 4
START = 1
MC_INIT_COMPLETE = 1 << 8
FILTER_PERMISSIONS = 0xF << 56


class _Registers:
    """32-bit registers that store what is written."""

    def __init__(self) -> None:
        self.regs: dict[int, int] = {}

    def read(self, offset: int, size: int) -> int:
        """Read (any width within a 32-bit register)."""
        value = self.regs.get(offset & ~3, 0)
        return value >> (8 * (offset & 3)) & ((1 << (8 * size)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        """Write a whole register (narrow writes merge)."""
        reg = offset & ~3
        shift = 8 * (offset & 3)
        mask = ((1 << (8 * size)) - 1) << shift
        old = self.regs.get(reg, 0)
        self.regs[reg] = ((old & ~mask) | ((value << shift) & mask)) & 0xFFFFFFFF


class DdrController(_Registers):
    """The Denali controller's register file with its initialisation state machine."""

    def __init__(self, prci: Prci) -> None:
        super().__init__()
        self.prci = prci
        self.initialised = False

    def write(self, offset: int, size: int, value: int) -> None:
        """Store; setting START with the DDR resets released completes initialisation."""
        super().write(offset, size, value)
        if offset & ~3 == CTL_START and self.regs[CTL_START] & START and self.prci.out_of_reset(DDR_RESETS):
            self.initialised = True
            self.regs[CTL_INT_STATUS] = self.regs.get(CTL_INT_STATUS, 0) | MC_INIT_COMPLETE


class DdrPhy(_Registers):
    """The PHY's register file (training results read back as programmed)."""


class PhysicalFilter:
    """The bus blocker in front of DRAM: opening it (with the controller up) brings DRAM online."""

    def __init__(self, controller: DdrController, online: Callable[[int], None]) -> None:
        self.controller = controller
        self.online = online
        self.value = 0

    def read(self, offset: int, size: int) -> int:
        """Read the filter register."""
        return self.value >> (8 * (offset & 7)) & ((1 << (8 * size)) - 1) if offset < 8 else 0

    def write(self, offset: int, size: int, value: int) -> None:
        """Write the filter register (64-bit: permissions in bits 59:56, end address >> 2 below)."""
        if offset >= 8:
            return
        shift = 8 * (offset & 7)
        mask = ((1 << (8 * size)) - 1) << shift
        self.value = (self.value & ~mask) | ((value << shift) & mask)
        if self.value & FILTER_PERMISSIONS and self.controller.initialised:
            self.online((self.value & ((1 << 56) - 1)) << 2)
