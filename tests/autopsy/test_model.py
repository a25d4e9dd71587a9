"""The autopsy's data (harness/autopsy/model.py): what a hart's CSRs say, places as the report
names them, the sampling interval, and an autopsy that could not be taken."""

from __future__ import annotations

import pytest

from harness.autopsy.model import (
    INTERRUPT_BIT,
    Autopsy,
    AutopsySettings,
    DiagnosisKind,
    HartState,
    Location,
    Privilege,
    TrapCsrs,
)

M_TRAP = TrapCsrs(cause=INTERRUPT_BIT | 7, epc=0x8000_0000, tval=0)
S_TRAP = TrapCsrs(cause=13, epc=0xFFFF_FFFF_8000_1000, tval=0x10)


def hart(mode: Privilege, *, s_trap: TrapCsrs | None = S_TRAP, satp: int = 0, mip: int = 0, mie: int = 0) -> HartState:
    return HartState(
        hart=1, mode=mode, pc=0x8020_0000, ra=0, sp=0, fp=0, wfi=False, mstatus=0,
        mip=mip, mie=mie, satp=satp, m_trap=M_TRAP, s_trap=s_trap,
    )  # fmt: skip


@pytest.mark.parametrize(("number", "mode"), [(0, Privilege.U), (1, Privilege.S), (3, Privilege.M), (7, Privilege.M)])
def test_privilege_from_its_encoding(number: int, mode: Privilege) -> None:
    assert Privilege.from_number(number) is mode


def test_the_trap_csrs_of_the_harts_own_mode() -> None:
    assert M_TRAP.interrupt and not S_TRAP.interrupt
    assert hart(Privilege.M).trap is M_TRAP and hart(Privilege.M).trap_mode is Privilege.M
    assert hart(Privilege.S).trap is S_TRAP and hart(Privilege.U).trap_mode is Privilege.S
    # A hart without S-mode takes every trap in M.
    assert hart(Privilege.U, s_trap=None).trap is M_TRAP and hart(Privilege.U, s_trap=None).trap_mode is Privilege.M


def test_satp_and_the_interrupts_that_would_wake_wfi() -> None:
    sv39 = hart(Privilege.S, satp=(8 << 60) | (0x2A << 44) | 0x80123)
    assert (sv39.satp_mode, sv39.asid) == ("sv39", 0x2A)
    assert hart(Privilege.S).satp_mode == "bare" and hart(Privilege.S, satp=5 << 60).satp_mode == "mode 5"
    assert hart(Privilege.S, mip=0b1010_0000, mie=0b1000_0010).pending_enabled == 0b1000_0000


def test_a_place_reads_with_and_without_symbols() -> None:
    full = Location("vmlinux", "spin_lock", 0x1C, "lock.c", 13)
    assert (str(full), full.short) == ("spin_lock+0x1c (lock.c:13)", "spin_lock (lock.c:13)")
    assert (str(Location("vmlinux", "idle", 4)), Location("vmlinux", "idle", 4).short) == ("idle+0x4", "idle")
    stripped = Location("fw_jump.elf", offset=0x1A2C)
    assert str(stripped) == stripped.short == "fw_jump.elf+0x1a2c"


@pytest.mark.parametrize(("samples", "span", "interval"), [(5, 0.5, 0.125), (2, 1.0, 1.0), (1, 0.5, 0.0)])
def test_samples_are_spread_over_the_span_first_at_zero(samples: int, span: float, interval: float) -> None:
    assert AutopsySettings(samples=samples, span=span).interval == interval


def test_an_autopsy_that_could_not_be_taken_says_why_on_one_line() -> None:
    autopsy = Autopsy.unavailable("no QMP socket\n  (QEMU exited)", backend="qemu", duration=0.25)
    assert not autopsy.available and autopsy.diagnosis.kind is DiagnosisKind.UNAVAILABLE
    assert str(autopsy.diagnosis) == "autopsy unavailable: no QMP socket (QEMU exited)"
    assert (autopsy.backend, autopsy.duration, autopsy.harts) == ("qemu", 0.25, ())
    assert str(Autopsy.unavailable("  ").diagnosis) == "autopsy unavailable: no reason given"
