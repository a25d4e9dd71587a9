"""System instructions (the decode table's ``Group.SYSTEM`` and ``Group.CSR``): one handler per
mnemonic in one table, ``SYSOPS``, that ``Hart.sysop`` dispatches on.

Each handler executes its instruction on the hart and sets ``h.pc`` (or enters a trap
handler); both engines leave their loop after one, since any of them may change privilege,
translation or interrupt state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .csr import (
    CSR_TIME,
    MSTATUS_MIE,
    MSTATUS_MPIE,
    MSTATUS_MPP,
    MSTATUS_MPRV,
    MSTATUS_SIE,
    MSTATUS_SPIE,
    MSTATUS_SPP,
    MSTATUS_TSR,
    MSTATUS_TVM,
    MSTATUS_TW,
    csr_op,
    mode_allowed,
)
from .debug.hart import CAUSE_EBREAK, enter_debug
from .decode import Group, Insn, names_in
from .trap import BREAKPOINT, ECALL_M, ECALL_S, ECALL_U, ILLEGAL_INSN, PRV_M, PRV_S, PRV_U, Trap

if TYPE_CHECKING:
    from .cpu import Hart

M64 = (1 << 64) - 1
# Reads of the time CSR in one quantum after which the hart yields (see _csr).
TIME_POLLS_PER_QUANTUM = 8
# The CSR instructions whose operand is the 5-bit immediate in rs1 rather than a register.
CSR_IMMEDIATE_FORMS = frozenset({"csrrwi", "csrrsi", "csrrci"})
ECALL_CAUSES = {PRV_U: ECALL_U, PRV_S: ECALL_S, PRV_M: ECALL_M}

Sysop = Callable[["Hart", Insn, int], None]


def _illegal(d: Insn, pc: int) -> Trap:
    return Trap(ILLEGAL_INSN, d.raw, pc)


def _next(d: Insn, pc: int) -> int:
    return (pc + d.length) & M64


def _csr(h: Hart, d: Insn, pc: int) -> None:
    h.cur_insn, h.cur_pc = d.raw, pc
    operand = d.rs1 if d.op in CSR_IMMEDIATE_FORMS else h.x[d.rs1]
    csr = d.imm & 0xFFF
    csr_op(h, d.op, csr, operand, d.rd, d.rs1)
    h.update_context()
    h.pc = _next(d, pc)
    if csr == CSR_TIME:
        # Guest time only moves between scheduling rounds, so a hart polling it again and
        # again this quantum waits for nothing: yield (a spin-wait).
        h.time_polls += 1
        if h.time_polls >= TIME_POLLS_PER_QUANTUM:
            h.yielding = True


def _ecall(h: Hart, d: Insn, pc: int) -> None:
    h.take_trap(ECALL_CAUSES[h.priv], 0, pc)


def _ebreak(h: Hart, d: Insn, pc: int) -> None:
    if h.debug_mode:
        # The end of a program buffer run (debug/dm.py).
        h.dbg.progbuf_done = True
        h.yielding = True
    elif h.dbg.ebreak_halts(h.priv):
        enter_debug(h, CAUSE_EBREAK, pc)
    else:
        h.take_trap(BREAKPOINT, pc, pc)


def _mret(h: Hart, d: Insn, pc: int) -> None:
    if h.priv != PRV_M:
        raise _illegal(d, pc)
    ms = h.mstatus
    new = (ms >> 11) & 3
    ms = (ms & ~(MSTATUS_MIE | MSTATUS_MPP)) | MSTATUS_MPIE
    if h.mstatus & MSTATUS_MPIE:
        ms |= MSTATUS_MIE
    ms |= mode_allowed(h, PRV_U) << 11
    if new != PRV_M:
        ms &= ~MSTATUS_MPRV
    h.mstatus = ms
    h.set_priv(new)
    h.pc = h.mepc


def _sret(h: Hart, d: Insn, pc: int) -> None:
    priv = h.priv
    if priv == PRV_U or not h.has_s or (priv == PRV_S and h.mstatus & MSTATUS_TSR):
        raise _illegal(d, pc)
    ms = h.mstatus
    new = PRV_S if ms & MSTATUS_SPP else PRV_U
    ms = (ms & ~(MSTATUS_SIE | MSTATUS_SPP | MSTATUS_MPRV)) | MSTATUS_SPIE
    if h.mstatus & MSTATUS_SPIE:
        ms |= MSTATUS_SIE
    h.mstatus = ms
    h.set_priv(new)
    h.pc = h.sepc


def _wfi(h: Hart, d: Insn, pc: int) -> None:
    if h.priv == PRV_U or (h.priv == PRV_S and h.mstatus & MSTATUS_TW):
        raise _illegal(d, pc)
    h.wfi = True
    h.pc = _next(d, pc)


def _sfence_vma(h: Hart, d: Insn, pc: int) -> None:
    priv = h.priv
    if priv == PRV_U or not h.has_s or (priv == PRV_S and h.mstatus & MSTATUS_TVM):
        raise _illegal(d, pc)
    if d.rs1:
        h.flush_page(h.x[d.rs1])
    else:
        h.fence_translations()
    h.pc = _next(d, pc)


def _fence_i(h: Hart, d: Insn, pc: int) -> None:
    h.code.fence_i(h)
    h.pc = _next(d, pc)


SYSOPS: dict[str, Sysop] = {
    **dict.fromkeys(names_in(Group.CSR), _csr),
    "ecall": _ecall,
    "ebreak": _ebreak,
    "mret": _mret,
    "sret": _sret,
    "wfi": _wfi,
    "sfence.vma": _sfence_vma,
    "fence.i": _fence_i,
}
# Every system instruction of the decode table has its handler, and nothing else has one.
assert set(SYSOPS) == names_in(Group.SYSTEM, Group.CSR), set(SYSOPS) ^ names_in(Group.SYSTEM, Group.CSR)
