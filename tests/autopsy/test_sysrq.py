"""The SysRq probe's parser and summary, on what the tiny Linux really printed (tests/autopsy/data).

The three recordings come from hartbeat's tiny kernel (images/linux) on QEMU virt with two harts,
after `hbtest wedge-kernel` (LKDTM SOFTLOCKUP), `wedge-hung-task` (LKDTM HUNG_TASK) and
`wedge-spin` (a user-mode loop), answering a BREAK then `l`, a BREAK then `w`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.autopsy.model import Autopsy, Diagnosis, DiagnosisKind, Location, SysrqReport
from harness.autopsy.record import autopsy_from_json, autopsy_to_json
from harness.autopsy.sysrq import parse, symbolize
from harness.errors import ConfigError
from harness.model.plan import load_plan

DATA = Path(__file__).resolve().parent / "data"

# The kernel's functions at the addresses the recordings hold (from that build's System.map).
FUNCTIONS = {
    0xFFFFFFFF80001B2A: "ret_from_syscall",
    0xFFFFFFFF80001B38: "ret_from_exception",
    0xFFFFFFFF80121AEC: "lkdtm_HUNG_TASK",
    0xFFFFFFFF80121B0A: "cpu_relax",
    0xFFFFFFFF80121B3E: "lkdtm_SOFTLOCKUP",
    0xFFFFFFFF8015C7C0: "__schedule",
    0xFFFFFFFF8015C92A: "schedule",
}


def locate(address: int) -> Location | None:
    """A System.map lookup over :data:`FUNCTIONS`: the nearest symbol below, within 0x40."""
    below = [a for a in FUNCTIONS if a <= address and address - a < 0x40]
    if not below:
        return None
    start = max(below)
    return Location("System.map", FUNCTIONS[start], address - start)


def recording(name: str) -> list[str]:
    return (DATA / f"sysrq-{name}.txt").read_text().splitlines()


def test_a_kernel_spin_names_the_cpu_its_registers_and_the_function() -> None:
    report = symbolize(parse("lw", recording("wedge-kernel")), locate)
    assert report.headers[0] == "Show backtrace of all active CPUs"
    assert report.headers[-1] == "Show Blocked State"
    [cpu] = report.cpus
    assert (cpu.cpu, cpu.pid, cpu.comm) == (0, 26, "hbtest")
    assert cpu.epc == 0xFFFFFFFF80121B2A and cpu.ra == 0xFFFFFFFF80121B4A and not cpu.user
    assert cpu.where is not None and cpu.where.function == "cpu_relax"
    assert cpu.ra_where is not None and cpu.ra_where.function == "lkdtm_SOFTLOCKUP"
    assert len(cpu.frames) == 9
    assert not report.tasks
    assert report.summary() == (
        "SysRq lw: CPU0 in kernel at cpu_relax+0x20 from lkdtm_SOFTLOCKUP+0xc (hbtest); no blocked task"
    )


def test_a_hung_task_is_named_where_it_sleeps_past_the_scheduler() -> None:
    report = symbolize(parse("lw", recording("wedge-hung-task")), locate)
    [task] = report.tasks
    assert (task.name, task.state, task.pid) == ("hbtest", "D", 26)
    assert len(task.frames) == 10
    assert task.blocked_in is not None and task.blocked_in.where is not None
    assert task.blocked_in.where.function == "lkdtm_HUNG_TASK"
    # The other CPU was idle: Linux says so instead of a backtrace.
    assert [c.note for c in report.cpus if c.note] == ["backtrace skipped as idling"]
    assert "hbtest (pid 26) blocked, state D in lkdtm_HUNG_TASK+0x16" in report.summary()


def test_a_cpu_shown_by_an_ipi_in_user_mode_says_so() -> None:
    report = symbolize(parse("lw", recording("wedge-spin")), locate)
    ipi = [c for c in report.cpus if c.epc is None]
    assert ipi and ipi[0].frames
    # Its trace ends at the exception entry: the spin it interrupted was in user mode.
    assert "CPU1 interrupted in user mode" in report.summary()


def test_no_header_is_no_answer_and_a_reason_is_unavailable() -> None:
    assert parse("l", ["just a line", "[<ffffffff80001b2a>] 0xffffffff80001b2a"]).summary() == (
        "SysRq l: no answer (the kernel did not take the BREAK, or has no SysRq)"
    )
    no_break = SysrqReport("lw", (), reason="EmulatorTarget cannot send a serial BREAK")
    assert no_break.summary() == "SysRq lw: unavailable: EmulatorTarget cannot send a serial BREAK"


def test_report_json_keeps_the_answer_and_reads_it_back() -> None:
    report = symbolize(parse("lw", recording("wedge-hung-task")), locate)
    autopsy = Autopsy(Diagnosis(DiagnosisKind.UNAVAILABLE, "autopsy unavailable: no [jtag] section"), sysrq=report)
    data = autopsy_to_json(autopsy)
    assert data["sysrq"]["summary"] == report.summary()
    assert data["sysrq"]["lines"] == recording("wedge-hung-task")
    back = autopsy_from_json(data)
    assert back is not None and back.sysrq == report


def test_a_plan_asks_for_known_keys_only(tmp_path: Path) -> None:
    plan = tmp_path / "p.toml"
    body = '[[milestone]]\nname = "a"\nexpect = "a"\n'
    plan.write_text(f'name = "p"\n[autopsy]\nsysrq = "lw"\n{body}')
    assert load_plan(plan).autopsy.sysrq == "lw"
    plan.write_text(f'name = "p"\n[autopsy]\nsysrq = "lz"\n{body}')
    with pytest.raises(ConfigError, match=r"autopsy\.sysrq: unknown SysRq key 'z'; expected some of l \("):
        load_plan(plan)
