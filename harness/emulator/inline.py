"""The helper instructions run inline where their operands allow, each with its helper's exact
effect: LR/SC and the AMOs (``Hart.amo``), reads of ``time`` and csrrs/csrrc of sstatus that only
set or clear SIE (``Hart.sysop``). The interpreter's dispatch loop (``interp``) and the compiled
guest loops (``loops``) both run them through these functions, so a change runs in both.
"""

from __future__ import annotations

import mmap
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING

from .csr import MSTATUS_SIE, TIME_COUNTER, counter_allowed, read_sstatus
from .ops import (
    AMOADD_D,
    AMOADD_W,
    AMOAND_D,
    AMOAND_W,
    AMOOR_D,
    AMOOR_W,
    AMOSWAP_D,
    AMOSWAP_W,
    AMOXOR_D,
    AMOXOR_W,
    LR_D,
    LR_W,
    SC_D,
    SC_W,
    ST_I,
    STATUS_SET,
    VPN,
    LD_i,
    LD_q,
    M,
    Op,
    ST_q,
    _signed,
    int_add,
)
from .sysops import TIME_POLLS_PER_QUANTUM
from .trap import PRV_S

if TYPE_CHECKING:
    from .cpu import Hart


def _swap(old: int, operand: int) -> int:
    return operand


# The read-modify-write of each AMO run inline, on the old value and rs2 (both signed words,
# and so is each result; a 32-bit store keeps its low bits).
AMO_OPS: dict[int, Callable[[int, int], int]] = {
    AMOADD_W: int_add,
    AMOADD_D: int_add,
    AMOSWAP_W: _swap,
    AMOSWAP_D: _swap,
    AMOOR_W: operator.or_,
    AMOOR_D: operator.or_,
    AMOAND_W: operator.and_,
    AMOAND_D: operator.and_,
    AMOXOR_W: operator.xor,
    AMOXOR_D: operator.xor,
}


def atomic(h: Hart, x: list[int], op: Op, ram: mmap.mmap) -> bool:
    """Run an LR/SC or AMO kind inline if its address is aligned RAM that the data TLBs map
    (True); else change nothing (False: Hart.amo runs it, with its traps and slow paths).
    What it does is Hart.amo's TLB-hit path on the signed registers."""
    k = op.kind
    a = x[op.rs1]
    wide = k >= LR_D
    if a & (7 if wide else 3):
        return False
    vpn = a >> 12 & VPN
    o = a & 0xFFF
    if k in (LR_W, LR_D):
        p = h.rtlb.get(vpn)
        if p is None:
            return False
        x[op.rd] = LD_q(ram, p | o)[0] if wide else LD_i(ram, p | o)[0]
        h.reservation = a & M
        return True
    p = h.wtlb.get(vpn)
    if p is None:
        return False
    b = x[op.rs2]
    if k in (SC_W, SC_D):
        ok = h.reservation == a & M
        h.reservation = None
        if ok:
            if wide:
                ST_q(ram, p | o, b)
            else:
                ST_I(ram, p | o, b & 0xFFFFFFFF)
        x[op.rd] = 0 if ok else 1
        return True
    if wide:
        old = LD_q(ram, p | o)[0]
        ST_q(ram, p | o, AMO_OPS[k](old, b))
    else:
        old = LD_i(ram, p | o)[0]
        ST_I(ram, p | o, AMO_OPS[k](old, b) & 0xFFFFFFFF)
    x[op.rd] = old
    return True


def read_time(h: Hart, x: list[int], op: Op) -> bool:
    """Read ``time`` inline if this privilege may (True), with ``_csr``'s effect: the value,
    and a yield at the quantum's TIME_POLLS_PER_QUANTUM-th poll; else change nothing (False:
    Hart.sysop raises the illegal-instruction trap)."""
    if not counter_allowed(h, TIME_COUNTER):
        return False
    x[op.rd] = _signed(h.clock.mtime())
    h.time_polls += 1
    if h.time_polls >= TIME_POLLS_PER_QUANTUM:
        h.yielding = True
    return True


def status_ie(h: Hart, x: list[int], op: Op) -> bool:
    """Run an sstatus kind inline if it is S-mode's and only sets or clears SIE (True); else
    change nothing (False: Hart.sysop runs it)."""
    operand = x[op.rs1] | op.imm
    if h.priv != PRV_S or operand & ~MSTATUS_SIE:
        return False
    old = read_sstatus(h)
    # What the CSR table's sstatus writer does when only SIE changes: mstatus keeps its legal
    # MPP and its FS (stored as off or Dirty), SUM and MXR stay (no TLB flush), and the
    # data context (privilege, MPRV, satp) is the same.
    if op.kind == STATUS_SET:
        h.mstatus |= operand
    else:
        h.mstatus &= ~operand
    x[op.rd] = _signed(old)
    return True
