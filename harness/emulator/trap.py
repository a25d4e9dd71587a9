"""Trap causes, privilege levels and the exception used to unwind out of translated code."""

from __future__ import annotations

PRV_U = 0
PRV_S = 1
PRV_M = 3
# The context key (TLBs, fetch maps) of untranslated (bare) addressing: every privilege shares it.
BARE = PRV_M

# Synchronous exception causes (mcause with the interrupt bit clear).
INSN_MISALIGNED = 0
INSN_ACCESS = 1
ILLEGAL_INSN = 2
BREAKPOINT = 3
LOAD_MISALIGNED = 4
LOAD_ACCESS = 5
STORE_MISALIGNED = 6
STORE_ACCESS = 7
ECALL_U = 8
ECALL_S = 9
ECALL_M = 11
INSN_PAGE_FAULT = 12
LOAD_PAGE_FAULT = 13
STORE_PAGE_FAULT = 15

# Interrupt numbers (bit positions in mip/mie).
IRQ_SSI = 1
IRQ_MSI = 3
IRQ_STI = 5
IRQ_MTI = 7
IRQ_SEI = 9
IRQ_MEI = 11

MIP_SSIP = 1 << IRQ_SSI
MIP_MSIP = 1 << IRQ_MSI
MIP_STIP = 1 << IRQ_STI
MIP_MTIP = 1 << IRQ_MTI
MIP_SEIP = 1 << IRQ_SEI
MIP_MEIP = 1 << IRQ_MEI

# Order in which simultaneously pending interrupts are taken (privileged spec 3.1.9).
IRQ_PRIORITY = (IRQ_MEI, IRQ_MSI, IRQ_MTI, IRQ_SEI, IRQ_SSI, IRQ_STI)


class Trap(Exception):
    """A synchronous exception raised while executing the instruction at ``pc``."""

    def __init__(self, cause: int, tval: int, pc: int) -> None:
        super().__init__(cause, tval, pc)
        self.cause = cause
        self.tval = tval
        self.pc = pc
