"""The autopsy as text (harness/autopsy/render.py): the headline, each hart's line, registers and backtrace."""

from __future__ import annotations

from dataclasses import replace

from harness.autopsy.model import (
    MSTATUS_MIE,
    Autopsy,
    Diagnosis,
    DiagnosisKind,
    Frame,
    HartAutopsy,
    HartClass,
    HartState,
    Location,
    Privilege,
    TrapCsrs,
)
from harness.autopsy.render import autopsy_lines, backtrace_line, headline, registers_line

SPIN = HartState(
    hart=0, mode=Privilege.S, pc=0xFFFF_FFFF_8000_0334, ra=0xFFFF_FFFF_8000_1000, sp=0xFFFF_FFC8_0000_3F00, fp=0,
    wfi=False, mstatus=MSTATUS_MIE, mip=0x20, mie=0x222, satp=(8 << 60) | (3 << 44),
    m_trap=TrapCsrs(0, 0, 0), s_trap=TrapCsrs(cause=(1 << 63) | 5, epc=0xFFFF_FFFF_8000_0330, tval=0), traps=12,
)  # fmt: skip
SPINNING = HartAutopsy(
    hart=0,
    klass=HartClass.SPINNING,
    note="spinning in 2 pcs",
    state=SPIN,
    where=Location("vmlinux", "spin_lock", 0x10, "lock.c", 13),
    ra_where=Location("vmlinux", "do_work", 0x20),
    backtrace=(
        Frame(0x1, Location("vmlinux", "do_work", 0x20)),
        Frame(0xDEAD, None),
        Frame(0x2, None, "sp not mapped"),
    ),
)
MISSING = HartAutopsy(hart=1, klass=HartClass.UNAVAILABLE, note="", reason="hart 1 did not halt")
AUTOPSY = Autopsy(
    Diagnosis(DiagnosisKind.SPINNING, "hart 0 spins in spin_lock; the others idle"),
    harts=(SPINNING, MISSING),
    backend="emulator",
    duration=0.614,
    samples=5,
    span=0.5,
    notes=("symbols: vmlinux",),
)


def test_the_headline_names_backend_time_samples_and_diagnosis() -> None:
    assert headline(AUTOPSY) == (
        "autopsy (emulator, 0.61 s after the verdict, 5 samples over 0.50 s): "
        "hart 0 spins in spin_lock; the others idle"
    )
    assert headline(Autopsy.unavailable("no socket", duration=0.1)) == "autopsy unavailable: no socket (0.10 s)"


def test_registers_show_the_trap_of_the_harts_mode_and_the_interrupts() -> None:
    line = registers_line(SPINNING)
    assert line.startswith("ra 0xffffffff80001000 do_work+0x20  sp 0xffffffc800003f00  scause 0x8000000000000005 (")
    assert "sepc 0xffffffff80000330 stval 0x0  satp sv39 asid 3  MIE 1 SIE 0  pending " in line
    quiet = HartAutopsy(hart=2, klass=HartClass.IDLE, note="idle", state=replace(SPIN, traps=0))
    assert "no S-mode trap taken" in registers_line(quiet)
    assert registers_line(MISSING) == ""


def test_a_backtrace_reads_from_the_caller_outwards() -> None:
    assert backtrace_line(SPINNING) == "called from do_work+0x20 <- 0xdead <- sp not mapped"
    assert backtrace_line(MISSING) == ""


def test_the_lines_in_order_with_their_indent() -> None:
    lines = autopsy_lines(AUTOPSY, indent="> ")
    assert lines[0] == "> " + headline(AUTOPSY)
    assert lines[1] == ">   hart 0  S  pc 0xffffffff80000334 spin_lock+0x10 (lock.c:13)  spinning in 2 pcs"
    assert (
        lines[2].startswith(">       ra ") and lines[3] == ">       called from do_work+0x20 <- 0xdead <- sp not mapped"
    )
    assert lines[4:] == [">   hart 1  unavailable: hart 1 did not halt", ">   note: symbols: vmlinux"]
