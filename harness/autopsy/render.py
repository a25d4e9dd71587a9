"""The autopsy as text: the terminal summary, replay, compare and bisect's answer print these lines."""

from __future__ import annotations

from harness.autopsy.classify import cause_name, interrupt_names
from harness.autopsy.model import MSTATUS_MIE, MSTATUS_SIE, Autopsy, HartAutopsy


def headline(autopsy: Autopsy) -> str:
    """``autopsy (emulator, 0.61 s, 5 samples over 0.50 s): <diagnosis>``, or the unavailable line."""
    if not autopsy.available:
        return f"{autopsy.diagnosis.summary} ({autopsy.duration:.2f} s)"
    return (
        f"autopsy ({autopsy.backend}, {autopsy.duration:.2f} s after the verdict, "
        f"{autopsy.samples} samples over {autopsy.span:.2f} s): {autopsy.diagnosis.summary}"
    )


def hart_line(hart: HartAutopsy) -> str:
    """``hart 0  M  pc 0x80000334 spin_lock+0x10 (lock.c:13)  spinning ...``"""
    state = hart.state
    if state is None:
        return f"hart {hart.hart}  unavailable: {hart.reason or hart.note}"
    where = f" {hart.where}" if hart.where is not None else ""
    return f"hart {hart.hart}  {state.mode.value}  pc {state.pc:#x}{where}  {hart.note}"


def registers_line(hart: HartAutopsy) -> str:
    """The rest of the hart's state on one line: ra, sp, trap CSRs, satp, interrupts."""
    state = hart.state
    if state is None:
        return ""
    ra = f" {hart.ra_where}" if hart.ra_where is not None else ""
    trap = state.trap
    mode = state.trap_mode.value.lower()
    if state.traps == 0 or trap.cause == trap.epc == 0:
        trapped = f"no {state.trap_mode.value}-mode trap taken"
    else:
        trapped = (
            f"{mode}cause {trap.cause:#x} ({cause_name(trap.cause)}) {mode}epc {trap.epc:#x} {mode}tval {trap.tval:#x}"
        )
    return (
        f"ra {state.ra:#x}{ra}  sp {state.sp:#x}  {trapped}  satp {state.satp_mode} asid {state.asid}  "
        f"MIE {int(bool(state.mstatus & MSTATUS_MIE))} SIE {int(bool(state.mstatus & MSTATUS_SIE))}  "
        f"pending {interrupt_names(state.mip)}, enabled {interrupt_names(state.mie)}"
    )


def backtrace_line(hart: HartAutopsy) -> str:
    """``called from foo+0x10 (a.c:3) <- bar+0x8``; empty without a backtrace."""
    if not hart.backtrace:
        return ""
    parts = [f.unreadable if f.unreadable else (str(f.where) if f.where else f"{f.pc:#x}") for f in hart.backtrace]
    return "called from " + " <- ".join(parts)


def autopsy_lines(autopsy: Autopsy, indent: str = "  ") -> list[str]:
    """The headline, then per hart its line, its registers and its backtrace."""
    out = [indent + headline(autopsy)]
    for hart in autopsy.harts:
        out.append(f"{indent}  {hart_line(hart)}")
        out.extend(f"{indent}      {line}" for line in (registers_line(hart), backtrace_line(hart)) if line)
    out.extend(f"{indent}  note: {note}" for note in autopsy.notes)
    if autopsy.sysrq is not None:
        out.append(f"{indent}  {autopsy.sysrq.summary()}")
    return out
