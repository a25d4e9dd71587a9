"""What the interpreter runs inline where the operands allow, each with the helper's exact
effect: LR/SC and the AMOs (``Hart.amo``), reads of ``time`` and csrrs/csrrc of sstatus that only
set or clear SIE (``Hart.sysop``), and the loads and stores the data TLBs' fast path did not take
that need no page walk (``Hart.ld``/``Hart.st``). The interpreter's dispatch loop (``interp``) and
the compiled guest loops (``loops``) both run them through these functions, so a change runs in
both.
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
    LD_B,
    LD_H,
    LD_I,
    LR_D,
    LR_W,
    SC_D,
    SC_W,
    ST_B,
    ST_H,
    ST_I,
    ST_Q,
    STATUS_SET,
    VPN,
    LD_b,
    LD_h,
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


def read_ram(ram: mmap.mmap, at: int, size: int, signed: bool) -> int:
    """``size`` bytes of RAM at offset ``at`` as a signed register value (sign- or zero-extended)."""
    if size == 8:
        return LD_q(ram, at)[0]  # type: ignore[no-any-return]
    if size == 4:
        return (LD_i if signed else LD_I)(ram, at)[0]  # type: ignore[no-any-return]
    if size == 2:
        return (LD_h if signed else LD_H)(ram, at)[0]  # type: ignore[no-any-return]
    return (LD_b if signed else LD_B)(ram, at)[0]  # type: ignore[no-any-return]


def write_ram(ram: mmap.mmap, at: int, size: int, v: int) -> None:
    """Write the ``size`` bytes of ``v`` (unsigned, masked to them) to RAM at offset ``at``."""
    if size == 8:
        ST_Q(ram, at, v)
    elif size == 4:
        ST_I(ram, at, v)
    elif size == 2:
        ST_H(ram, at, v)
    else:
        ST_B(ram, at, v)


def read_mapped(h: Hart, a: int, size: int, signed: bool) -> int | None:
    """A load at ``a`` (signed) read without a page walk, as ``Hart.ld`` would read it: inside a
    RAM page the read TLB maps (misaligned too), or a device page the hart knows (``mmio_r``); a
    signed register value, or None (a TLB miss, or an access across pages)."""
    o = a & 0xFFF
    if o + size > 0x1000:
        return None
    vpn = a >> 12 & VPN
    p = h.rtlb.get(vpn)
    if p is not None:
        return read_ram(h.bus.ram, p | o, size, signed)
    hit = h.mmio_r.get(vpn)
    if hit is None:
        return None
    v = hit[0].read(hit[1] + o, size)
    if signed and v >> (size * 8 - 1):
        v -= 1 << (size * 8)
    return _signed(v)


def write_mapped(h: Hart, a: int, size: int, v: int) -> int:
    """A store of ``v`` (unsigned, of ``size`` bytes) at ``a`` made without a page walk, as
    ``Hart.st`` would make it: 0 written to a RAM page the write TLB maps (misaligned too), 1 to
    a device page the hart knows (``mmio_w``), -1 not written (a TLB miss, or across pages)."""
    o = a & 0xFFF
    if o + size > 0x1000:
        return -1
    vpn = a >> 12 & VPN
    p = h.wtlb.get(vpn)
    if p is not None:
        write_ram(h.bus.ram, p | o, size, v)
        return 0
    hit = h.mmio_w.get(vpn)
    if hit is None:
        return -1
    hit[0].write(hit[1] + o, size, v)
    return 1
