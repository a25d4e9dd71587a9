"""The careful stepper: how a hart runs while a trigger is armed or it single-steps.

Triggers (mcontrol, type 2) and single-stepping need a look at every instruction before it
runs, which neither engine does: such a hart runs on the interpreter one instruction at a
time with the trigger check in front, on CPython and PyPy alike (about 0.3 MIPS on CPython).
Harts without triggers run their engine untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import interp
from ..decode import Group, decode
from ..trap import BREAKPOINT, Trap
from .hart import (
    ACTION_DEBUG,
    CAUSE_STEP,
    CAUSE_TRIGGER,
    DCSR_STEP,
    DCSR_STEPIE,
    MCONTROL_ACTION_SHIFT,
    MCONTROL_EXECUTE,
    MCONTROL_HIT,
    MCONTROL_LOAD,
    MCONTROL_STORE,
    enter_debug,
)

if TYPE_CHECKING:
    from ..cpu import Hart

M64 = (1 << 64) - 1
LOADS = frozenset({"lb", "lh", "lw", "ld", "lbu", "lhu", "lwu", "flw", "fld"})
STORES = frozenset({"sb", "sh", "sw", "sd", "fsw", "fsd"})


def stepper_for(h: Hart) -> Callable[[Hart, int], int] | None:
    """The careful stepper while ``h`` has an armed trigger or single-steps, else None."""
    d = h.dbg
    return careful_run if d.armed() or d.dcsr & DCSR_STEP else None


def _data_access(h: Hart, xs: list[int], pc: int) -> tuple[int, int] | None:
    """(MCONTROL_LOAD/STORE kinds, address) of the instruction at ``pc`` if it accesses data
    (``xs``: the registers as the stepper holds them)."""
    try:
        word = h.fetch_half_virtual(pc, pc)
        if word & 3 == 3:
            word |= h.fetch_half_virtual((pc + 2) & M64, pc) << 16
    except Trap:
        return None  # the fetch faults when the instruction runs
    d = decode(word, h.has_fd)
    if d.op in LOADS:
        kinds = MCONTROL_LOAD
    elif d.op in STORES:
        kinds = MCONTROL_STORE
    elif d.op.startswith("lr"):
        kinds = MCONTROL_LOAD
    elif d.op.startswith("sc"):
        kinds = MCONTROL_STORE
    elif d.group == Group.AMO:
        kinds = MCONTROL_LOAD | MCONTROL_STORE
    else:
        return None
    return kinds, (xs[d.rs1] + d.imm) & M64


def _check_triggers(h: Hart, xs: list[int]) -> bool:
    """Fire the trigger that matches the next instruction, if any; True if one fired."""
    d = h.dbg
    pc = h.pc
    hit = d.matching(h.priv, MCONTROL_EXECUTE, pc)
    # mtval of the breakpoint: the address that matched, the pc's or the access's (the
    # privileged spec's "faulting virtual address"; QEMU writes 0, which the spec also allows).
    matched = pc
    if hit is None and any(t & (MCONTROL_LOAD | MCONTROL_STORE) for t in d.tdata1):
        access = _data_access(h, xs, pc)
        if access is not None:
            kinds, matched = access
            for kind in (MCONTROL_LOAD, MCONTROL_STORE):
                if kinds & kind and hit is None:
                    hit = d.matching(h.priv, kind, matched)
    if hit is None:
        return False
    t = d.tdata1[hit]
    d.tdata1[hit] = t | MCONTROL_HIT
    if t >> MCONTROL_ACTION_SHIFT & 0xF == ACTION_DEBUG:
        enter_debug(h, CAUSE_TRIGGER, pc)
    else:
        h.take_trap(BREAKPOINT, matched, pc)
    return True


def careful_run(h: Hart, budget: int) -> int:
    """Hart.run for a hart with armed triggers or dcsr.step: one instruction at a time."""
    stepping = bool(h.dbg.dcsr & DCSR_STEP)
    limit = 1 if stepping else budget
    xs = interp.signed_registers(h)
    h.yielding = False
    saved_mie = h.mie
    if stepping and not h.dbg.dcsr & DCSR_STEPIE:
        h.mie = 0
    try:
        n = 0
        while n < limit and not h.wfi and not h.yielding and not h.halted:
            if h.mip & h.mie:
                h.check_interrupts()
            if _check_triggers(h, xs):
                n += 1
                continue
            interp.run_one(h, xs)
            n += 1
    finally:
        interp.store_registers(h, xs)
        if stepping and h.mie == 0:
            h.mie = saved_mie
    if stepping and not h.halted:
        enter_debug(h, CAUSE_STEP, h.pc)
    return budget
