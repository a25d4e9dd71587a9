"""The Debug Module's hart array mask (hasel), halt-on-reset (resethaltreq), hartreset and
dcsr.stopcount, driven through the DMI in process (test_debug_module's guest and driver)."""

from __future__ import annotations

from pathlib import Path

from harness.emulator.boards import ROM_BASE
from harness.emulator.debug import dm as D

from .conftest import needs_gcc
from .test_debug_module import COUNTERS, CSR_DCSR, CSR_DPC, S1, S2, boot

pytestmark = needs_gcc
CSR_MINSTRET = 0xB02
ALLHALTED, ANYHALTED, ALLRUNNING, ANYRUNNING = 1 << 9, 1 << 8, 1 << 11, 1 << 10
ALLHAVERESET, ALLRESUMEACK = 1 << 19, 1 << 17


def test_the_hart_array_mask_halts_and_resumes_several_harts_at_once(tmp_path: Path) -> None:
    machine, dbg = boot(tmp_path, "virt", 4)
    dm = dbg.dm
    dm.dmi_write(D.DMCONTROL, 1 | D.HASEL)
    assert dm.dmi_read(D.DMCONTROL) & D.HASEL, "hasel is supported (reads back 1)"
    dm.dmi_write(D.HAWINDOWSEL, 0)
    dm.dmi_write(D.HAWINDOW, 0b1111_0110)  # harts 1 and 2 (4-7 do not exist and do not stick)
    assert dm.dmi_read(D.HAWINDOW) == 0b0110
    dm.dmi_write(D.DMCONTROL, 1 | D.HASEL | D.HALTREQ)  # hartsel 0 and the mask: harts 0-2
    assert [h.halted for h in machine.harts] == [True, True, True, False]
    status = dm.dmi_read(D.DMSTATUS)
    assert status & ALLHALTED and not status & ANYRUNNING  # over the selected harts
    assert dm.dmi_read(D.HALTSUM0) == 0b0111
    before = machine.harts[3].icount
    for _ in range(3):
        machine.step_round()
    assert machine.harts[3].icount > before, "the hart outside the selection runs on"
    # Without hasel the same write reaches hartsel alone.
    dm.dmi_write(D.DMCONTROL, 1 | 3 << 16)
    assert dm.dmi_read(D.DMSTATUS) & ALLRUNNING
    dm.dmi_write(D.DMCONTROL, 1 | D.HASEL | D.RESUMEREQ)
    assert not any(h.halted for h in machine.harts)
    assert dm.dmi_read(D.DMSTATUS) & ALLRESUMEACK


def test_halt_on_reset_stops_the_harts_before_their_first_instruction(tmp_path: Path) -> None:
    machine, dbg = boot(tmp_path, "unmatched", 5, rounds=3)
    dm = dbg.dm
    assert dm.dmi_read(D.DMSTATUS) & D.HASRESETHALTREQ
    dm.dmi_write(D.DMCONTROL, 1 | D.HASEL)
    dm.dmi_write(D.HAWINDOW, 0b11111)
    dm.dmi_write(D.DMCONTROL, 1 | D.HASEL | D.SETRESETHALTREQ | D.ACKHAVERESET)
    assert not dm.dmi_read(D.DMSTATUS) & 1 << 18  # anyhavereset acknowledged
    # A system reset through ndmreset: assert, then deassert.
    dm.dmi_write(D.DMCONTROL, 1 | D.HASEL | D.NDMRESET)
    dm.dmi_write(D.DMCONTROL, 1 | D.HASEL)
    for _ in range(5):
        machine.step_round()
    assert all(h.halted for h in machine.harts)
    assert dm.dmi_read(D.DMSTATUS) & (ALLHALTED | ALLHAVERESET) == ALLHALTED | ALLHAVERESET
    for hart in range(5):
        dbg.select(hart)
        assert dbg.read(CSR_DCSR) >> 6 & 7 == 5  # cause: resethaltreq
        assert dbg.read(CSR_DPC) == ROM_BASE
        assert dbg.read(S1) == 0  # nothing ran: the guest's s1 = hartid * 100 + 7 is not set yet
    # Cleared, the next reset lets them run.
    dm.dmi_write(D.DMCONTROL, 1 | D.HASEL | D.CLRRESETHALTREQ)
    dm.dmi_write(D.DMCONTROL, 1 | D.HASEL | D.NDMRESET)
    dm.dmi_write(D.DMCONTROL, 1 | D.HASEL)
    for _ in range(3):
        machine.step_round()
    assert not any(h.halted for h in machine.harts) and all(h.icount > 0 for h in machine.harts)


def test_hartreset_restarts_the_selected_hart_alone(tmp_path: Path) -> None:
    machine, dbg = boot(tmp_path, "virt", 2)
    dm = dbg.dm
    dbg.halt(0)
    hart0 = dbg.read(S2)
    dbg.resume(0)
    dm.dmi_write(D.DMCONTROL, 1 | 1 << 16 | D.SETRESETHALTREQ)
    dm.dmi_write(D.DMCONTROL, 1 | 1 << 16 | D.HARTRESET)
    assert dm.dmi_read(D.DMCONTROL) & D.HARTRESET  # supported: reads back while asserted
    dm.dmi_write(D.DMCONTROL, 1 | 1 << 16)
    assert machine.harts[1].halted and not machine.harts[0].halted
    assert dm.dmi_read(D.DMSTATUS) & ALLHAVERESET
    assert dbg.read(CSR_DPC) == ROM_BASE and dbg.read(S1) == 0
    dm.dmi_write(D.DMCONTROL, 1 | 1 << 16 | D.CLRRESETHALTREQ | D.ACKHAVERESET)
    counter1 = dbg.sb_read64(COUNTERS + 8)
    dbg.resume(1)
    # Fewer rounds than it had run before (the emulator is deterministic: as many would count
    # exactly as far again).
    for _ in range(10):
        machine.step_round()
    dbg.halt(1)
    assert dbg.read(S1) == 107  # it ran its program again from the start
    assert 0 < dbg.read(S2) < counter1  # and counts again from 0
    dbg.halt(0)
    assert dbg.read(S2) > hart0, "hart 0 was not reset"


def test_stopcount_decides_whether_program_buffer_instructions_count(tmp_path: Path) -> None:
    _machine, dbg = boot(tmp_path, smp=1)
    dbg.halt(0)
    assert dbg.read(CSR_DCSR) & 3 << 9 == 3 << 9  # stopcount and stoptime at reset
    dbg.dm.dmi_write(D.PROGBUF0, 0x00000013)  # nop
    dbg.dm.dmi_write(D.PROGBUF0 + 1, D.EBREAK)
    counted = dbg.read(CSR_MINSTRET)
    assert dbg.command(2 << 20 | 1 << 18) == 0
    assert dbg.read(CSR_MINSTRET) == counted, "with stopcount, debug mode counts nothing"
    assert dbg.write(CSR_DCSR, dbg.read(CSR_DCSR) & ~(1 << 10)) == 0
    assert dbg.read(CSR_DCSR) & 3 << 9 == 1 << 9  # stopcount cleared; stoptime stays
    assert dbg.command(2 << 20 | 1 << 18) == 0
    assert dbg.read(CSR_MINSTRET) > counted, "without stopcount, the program buffer's instructions count"


def test_harts_are_held_in_reset_and_a_standing_halt_request_halts_them_as_they_leave_it(tmp_path: Path) -> None:
    """OpenOCD's ``reset halt``: ndmreset with haltreq per hart, then ndmreset deasserted."""
    machine, dbg = boot(tmp_path, "virt", 2)
    dm = dbg.dm
    for hart in (0, 1):
        dm.dmi_write(D.DMCONTROL, 1 | hart << 16 | D.HALTREQ | D.NDMRESET)
    for _ in range(5):
        machine.step_round()
    # Held in reset: nothing runs, and dmstatus says unavailable (neither halted nor running).
    assert all(h.icount == 0 for h in machine.harts)
    status = dm.dmi_read(D.DMSTATUS)
    assert status & 1 << 13 and not status & (ANYHALTED | ANYRUNNING)
    assert dbg.command(3 << 20 | 1 << 17 | S1) == D.CMDERR_HALT_RESUME
    dm.dmi_write(D.DMCONTROL, 1 | D.HALTREQ)  # deassert ndmreset, hart 0's request still standing
    assert all(h.halted for h in machine.harts)
    for hart in (0, 1):
        dbg.select(hart)  # haltreq written 0: the request is withdrawn, the hart stays halted
        assert dbg.read(CSR_DCSR) >> 6 & 7 == 3 and dbg.read(CSR_DPC) == ROM_BASE
        dbg.resume(hart)
    for _ in range(10):
        machine.step_round()
    assert not any(h.halted for h in machine.harts) and all(h.icount > 0 for h in machine.harts)
