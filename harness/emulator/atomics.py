"""LR/SC and the AMOs run inline, where their operands allow, with ``Hart.amo``'s exact effect:
the interpreter's dispatch loop (``interp``) and the compiled guest loops (``loops``) both run
them through :func:`atomic`, so a change to either runs in both.
"""

from __future__ import annotations

import mmap
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING

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
    VPN,
    LD_i,
    LD_q,
    M,
    Op,
    ST_q,
    int_add,
)

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
