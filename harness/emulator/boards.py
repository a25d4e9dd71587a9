"""Static descriptions of the emulated boards: memory map, harts and interrupt wiring."""

from __future__ import annotations

from dataclasses import dataclass

from .trap import MIP_MEIP, MIP_SEIP

RAM_BASE = 0x80000000
ROM_BASE = 0x1000
ROM_SIZE = 0xF000
TEST_BASE = 0x100000
CLINT_BASE = 0x2000000
CLINT_SIZE = 0x10000
PLIC_BASE = 0xC000000
PLIC_SIZE = 0x4000000
# The FU740's second UART's PLIC line (UART0's is the board's uart_irq).
UART1_IRQ = 40
# Like QEMU rather than the real FU740 (whose mtime runs at 1 MHz): 10 MHz.
TIMEBASE_HZ = 10_000_000
# JTAG IDCODEs of the debug port (-jtag): the FU740-C000's (SiFive, JEP106 0x489, version 2),
# and for virt, which has no silicon, version 1 of part 0 with no manufacturer.
FU740_IDCODE = 0x20000913
VIRT_IDCODE = 0x10000001


@dataclass(frozen=True)
class HartSpec:
    """One core: S-mode + Sv39 MMU, and F/D, or neither (the FU740's S7 monitor core).

    ``has_sstc``: the Sstc extension (``stimecmp``), as QEMU's virt CPUs have; the FU740's
    U74 cores do not.
    """

    has_s: bool
    has_fd: bool
    has_sstc: bool = False

    @property
    def isa(self) -> str:
        """The ``riscv,isa`` string for the device tree."""
        base = "rv64imafdc" if self.has_fd else "rv64imac"
        return base + "_sstc" if self.has_sstc else base


@dataclass(frozen=True)
class Board:
    """A machine model: which UART, where, on which PLIC line, and which harts."""

    name: str
    model: str
    compatible: tuple[str, ...]
    uart_kind: str  # "ns16550a" or "sifive"
    uart_base: int
    uart_irq: int
    plic_ndev: int
    first_hart_is_monitor: bool
    default_smp: int
    min_smp: int
    sstc: bool = False
    jtag_idcode: int = VIRT_IDCODE

    def harts(self, smp: int) -> list[HartSpec]:
        """Hart list for ``-smp smp``.

        As on QEMU's sifive_u, ``smp`` counts every hart, the S7 monitor core (hart 0) included.
        """
        u74 = HartSpec(has_s=True, has_fd=True, has_sstc=self.sstc)
        if self.first_hart_is_monitor:
            return [HartSpec(has_s=False, has_fd=False)] + [u74] * (smp - 1)
        return [u74] * smp

    def plic_contexts(self, harts: list[HartSpec]) -> list[tuple[int, int]]:
        """(hart index, mip bit) per PLIC context: M for every hart, S where S-mode exists."""
        contexts: list[tuple[int, int]] = []
        for i, spec in enumerate(harts):
            contexts.append((i, MIP_MEIP))
            if spec.has_s:
                contexts.append((i, MIP_SEIP))
        return contexts


VIRT = Board(
    name="virt",
    model="riscv-virtio,qemu",
    compatible=("riscv-virtio",),
    uart_kind="ns16550a",
    uart_base=0x10000000,
    uart_irq=10,
    plic_ndev=0x60,
    first_hart_is_monitor=False,
    default_smp=1,
    min_smp=1,
    sstc=True,
)

# The FU740 memory map. The compatible string deliberately avoids "sifive,fu740": OpenSBI's
# FU740 platform override would look for the DA9063 PMIC on I2C to reset the board, which is
# not modelled; reset and power-off go through a sifive,test1 device at 0x100000 instead
# (the real Unmatched has no such device).
UNMATCHED = Board(
    name="unmatched",
    model="SiFive HiFive Unmatched A00 (hartbeat emulator)",
    compatible=("hartbeat,hifive-unmatched-emu",),
    uart_kind="sifive",
    uart_base=0x10010000,
    uart_irq=39,
    plic_ndev=69,
    first_hart_is_monitor=True,
    default_smp=5,
    min_smp=2,
    jtag_idcode=FU740_IDCODE,
)

BOARDS = {b.name: b for b in (VIRT, UNMATCHED)}
