"""report.json's ``autopsy`` object, and reading it back (replay, compare, bisect)."""

from __future__ import annotations

import json

from harness.autopsy.model import (
    Autopsy,
    Diagnosis,
    DiagnosisKind,
    Frame,
    HartAutopsy,
    HartClass,
    HartSample,
    HartState,
    Location,
    LoopWait,
    Privilege,
    TrapCsrs,
)
from harness.autopsy.record import autopsy_from_json, autopsy_to_json
from harness.autopsy.render import autopsy_lines

# A Linux address does not survive a JSON number (above 2^53): addresses are hex strings.
KERNEL_PC = 0xFFFFFFFF80A01234

AUTOPSY = Autopsy(
    Diagnosis(DiagnosisKind.SPINNING, "hart 0 spinning in S-mode in hb_spin (hbspin.c:9)"),
    harts=(
        HartAutopsy(
            0,
            HartClass.SPINNING,
            "spinning in S-mode in hb_spin (hbspin.c:9)",
            state=HartState(
                hart=0,
                mode=Privilege.S,
                pc=KERNEL_PC,
                ra=KERNEL_PC - 8,
                sp=0xFFFFFFC8_00013E80,
                fp=0xFFFFFFC8_00013EA0,
                wfi=False,
                mstatus=0xA_0000_0022,
                mip=0x20,
                mie=0x222,
                satp=(8 << 60) | (5 << 44) | 0x80123,
                m_trap=TrapCsrs(0x8000000000000007, 0x80001000, 0),
                s_trap=TrapCsrs(9, 0x10A4C, 0),
                instret=9,
                traps=3,
            ),
            samples=(HartSample(0.0, KERNEL_PC, 5, 3, False, Privilege.S),),
            where=Location("vmlinux", "hb_spin", 0x34, "hbspin.c", 9),
            backtrace=(
                Frame(KERNEL_PC - 8, Location("vmlinux", "hb_write", 0x10)),
                Frame(0, unreadable="frame at 0x0 cannot be read"),
            ),
            loop=LoopWait.NOTHING,
        ),
        HartAutopsy(1, HartClass.UNAVAILABLE, "hart 1 is not halted", reason="hart 1 is not halted"),
    ),
    backend="emulator",
    duration=0.61,
    samples=5,
    span=0.5,
    symbols=("kernel=/cache/vmlinux",),
    notes=("symbols bios: fw.elf: not a usable ELF file",),
)


def test_the_object_round_trips_through_json() -> None:
    data = json.loads(json.dumps(autopsy_to_json(AUTOPSY)))
    assert data["harts"][0]["state"]["pc"] == "0xffffffff80a01234"
    assert data["harts"][0]["state"]["trap_mode"] == "S" and data["harts"][0]["state"]["cause"] == "0x9"
    assert (data["harts"][0]["state"]["satp_mode"], data["harts"][0]["state"]["asid"]) == ("sv39", 5)
    assert data["harts"][0]["state"]["mstatus_sie"] is True and data["harts"][0]["state"]["mstatus_mie"] is False
    assert data["harts"][0]["loop"] == "nothing" and data["harts"][1]["loop"] is None
    assert autopsy_from_json(data) == AUTOPSY


def test_a_missing_or_foreign_object_reads_as_none() -> None:
    assert autopsy_from_json(None) is None
    assert autopsy_from_json({"diagnosis": "x", "kind": "no such kind"}) is None


def test_unavailable_is_one_line_and_keeps_its_reason() -> None:
    autopsy = Autopsy.unavailable("no [jtag]\nsection")
    assert autopsy_from_json(autopsy_to_json(autopsy)) == autopsy
    assert autopsy_lines(autopsy) == ["  autopsy unavailable: no [jtag] section (0.00 s)"]


def test_the_text_shows_each_hart_its_registers_and_its_callers() -> None:
    text = "\n".join(autopsy_lines(AUTOPSY))
    assert "hart 0  S  pc 0xffffffff80a01234 hb_spin+0x34 (hbspin.c:9)  spinning in S-mode" in text
    assert "scause 0x9 (ecall from S-mode) sepc 0x10a4c" in text and "satp sv39 asid 5" in text
    assert "pending STI, enabled SEI STI SSI" in text
    assert "called from hb_write+0x10 <- frame at 0x0 cannot be read" in text
    assert "hart 1  unavailable: hart 1 is not halted" in text
    assert "note: symbols bios: fw.elf: not a usable ELF file" in text
