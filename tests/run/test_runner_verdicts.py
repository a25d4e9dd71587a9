"""Each verdict, produced by a real process playing a boot through the ``process`` target."""

from __future__ import annotations

import json
import time

from harness.engine.verdict import Kind
from tests.scripted_boots import COMMANDS_PLAN, COMMANDS_SCRIPT, QSOE_WEDGE, qsoe_plan

# The qsoe boot (tests/scripted_boots.py) with the lines a real one prints between its milestones.
BOOT = """
say OpenSBI v1.2
say Platform Name : scripted
say U-Boot 2023.01
say [init] mounting /dev/nvme0n1p8 at /usr...
say fs-qrv: mounted qrvfs at /usr (dev=/dev/nvme0n1p8)
"""


def test_silent_wedge_names_the_milestone_within_silence(scripted_board, plan_file, run_plan):
    board = scripted_board(BOOT + QSOE_WEDGE)
    start = time.monotonic()
    result = run_plan(plan_file(qsoe_plan(silence="1s")), board)
    elapsed = time.monotonic() - start
    verdict = result.verdict
    assert verdict.kind is Kind.WEDGE
    assert verdict.milestone == "usr-mounted"
    assert verdict.waiting_for == "login"
    assert "wedged after milestone `usr-mounted`; console quiet for 1." in verdict.reason
    assert "TM_REQ_SPAWN" in verdict.reason
    assert verdict.last_lines[-1][1].startswith("tm_msg 0x11b")
    assert verdict.signature == "wedge|usr-mounted|tm_msg 0x# <- TM_REQ_SPAWN exec level#.sh"
    # Declared within silence + 0.5 s of the last byte, not at the 20 s deadline.
    last_byte_t = verdict.last_lines[-1][0]
    assert verdict.at - last_byte_t < 1.0 + 0.5
    assert elapsed < 8


def test_stall_when_output_continues_past_the_deadline(scripted_board, plan_file, run_plan):
    board = scripted_board(BOOT + "trickle 0.05 tm_msg 0x200 <- TM_REQ_MMAP seq\n")
    result = run_plan(plan_file(qsoe_plan(silence="1s", within="2s")), board)
    assert result.verdict.kind is Kind.STALL
    assert result.verdict.milestone == "usr-mounted"
    assert "did not come within its 2 s deadline" in result.verdict.reason
    assert result.verdict.signature == "stall|usr-mounted|tm_msg 0x# <- TM_REQ_MMAP seq #"


def test_stall_on_a_firehose_keeps_memory_and_log(scripted_board, plan_file, run_plan):
    board = scripted_board(BOOT + "firehose tm_msg 0x200 <- TM_REQ_MMAP (spawn args page)\n")
    result = run_plan(plan_file(qsoe_plan(silence="1s", within="2s")), board)
    assert result.verdict.kind is Kind.STALL
    log_lines = (result.out_dir / "console.log").read_text().count("\n")
    assert log_lines > 1000
    assert len(result.verdict.last_lines) == 20


def test_panic_fails_fast_and_captures_the_reason(scripted_board, plan_file, run_plan):
    board = scripted_board(
        BOOT
        + "say Kernel panic - not syncing: fs-qrv: bad superblock magic 0xdeadbeef\n"
        + "say  backtrace: 0x80201234 taskman_spawn+0x40\nhang\n"
    )
    start = time.monotonic()
    result = run_plan(plan_file(qsoe_plan(silence="30s")), board)
    assert time.monotonic() - start < 10
    verdict = result.verdict
    assert verdict.kind is Kind.PANIC
    assert verdict.captures["reason"] == "fs-qrv: bad superblock magic 0xdeadbeef"
    assert verdict.milestone == "usr-mounted"
    # The trailing backtrace is part of the evidence.
    assert any("backtrace" in line for _t, line in verdict.last_lines)
    assert verdict.signature == "panic|usr-mounted|Kernel panic - not syncing: fs-qrv: bad superblock magic 0x#"


def test_an_oops_the_kernel_did_not_survive_is_the_panic_after_it(scripted_board, plan_file, run_plan):
    # An oops says the kernel went on; one that killed the idle task panics after its dump: a
    # RISC-V oops prints its registers, status and call trace first (about 30 lines).
    dump = "".join(f"say  t{i} : {i:016x}\n" for i in range(20)) + "say ---[ end trace 0000000000000000 ]---\n"
    oops = "say Oops - store (or AMO) access fault [#1]\nsay epc : 0xffffffff80001234\n" + dump
    panic = "say Kernel panic - not syncing: Attempted to kill the idle task!\n"
    result = run_plan(plan_file(qsoe_plan(silence="30s")), scripted_board(BOOT + oops + panic + "hang\n"))
    verdict = result.verdict
    assert verdict.kind is Kind.PANIC, verdict.reason
    assert verdict.key_line == "Kernel panic - not syncing: Attempted to kill the idle task!"
    assert verdict.captures["reason"] == "Attempted to kill the idle task!"
    assert verdict.key_line in [line for _t, line in verdict.last_lines]
    # The oops before it, further back than the last lines, is named in the reason.
    assert verdict.reason.endswith("Oops - store (or AMO) access fault [#1]"), verdict.reason
    assert "; after the oops at " in verdict.reason
    # Dated by the panic's own line.
    (panic_t,) = [t for t, line in verdict.last_lines if line == verdict.key_line]
    assert abs(verdict.at - panic_t) < 0.1
    # An oops the kernel went on from stays an oops.
    survived = run_plan(plan_file(qsoe_plan(silence="30s")), scripted_board(BOOT + oops + "hang\n"))
    assert survived.verdict.kind is Kind.OOPS, survived.verdict.reason


def test_banner_twice_is_a_reset(scripted_board, plan_file, run_plan):
    board = scripted_board(BOOT.replace("say fs-qrv", "say OpenSBI v1.2\nsay fs-qrv") + "hang\n")
    result = run_plan(plan_file(qsoe_plan(silence="5s")), board)
    assert result.verdict.kind is Kind.RESET
    assert result.verdict.milestone == "uboot"


def test_a_matched_verdict_s_last_lines_end_at_the_matched_line(scripted_board, plan_file, run_plan):
    # The second banner and the next line come in one write: the reader has both before the
    # matcher looks, but what came after the reset is not evidence of it (nor in a replay).
    board = scripted_board(BOOT.replace("say fs-qrv", "say OpenSBI v1.2\\x0d\\x0afs-qrv") + "hang\n")
    result = run_plan(plan_file(qsoe_plan(silence="5s")), board)
    assert result.verdict.kind is Kind.RESET
    assert result.verdict.last_lines[-1][1] == "OpenSBI v1.2"
    assert "fs-qrv" in (result.out_dir / "console.log").read_text()


def test_slow_boot_with_pauses_shorter_than_silence_passes(scripted_board, plan_file, run_plan):
    script = "\n".join(f"{line}\nsleep 0.6" for line in BOOT.strip().splitlines()) + "\nput login: \nhang\n"
    result = run_plan(plan_file(qsoe_plan(silence="1s")), scripted_board(script))
    assert result.verdict.kind is Kind.PASS, result.verdict.reason
    names = [m.name for m in result.milestones]
    assert names == ["opensbi", "uboot", "usr-mounted", "login"]
    times = [m.t for m in result.milestones]
    assert times == sorted(times) and times[-1] > 2.0
    assert result.milestones[0].captures == {"version": "1.2"}
    report = json.loads((result.out_dir / "report.json").read_text())
    assert report["verdict"]["kind"] == "pass"
    assert [m["name"] for m in report["milestones"]] == names
    assert report["milestones"][1]["captures"] == {"uboot": "2023.01"}


def test_non_utf8_bytes_do_not_break_anything(scripted_board, plan_file, run_plan):
    script = "say \\xff\\xfe\\x80garbage\\xc3\nsay OpenSBI v1.2 \\xe2\\x82\n" + BOOT + "put login: \nhang\n"
    result = run_plan(plan_file(qsoe_plan()), scripted_board(script))
    assert result.verdict.kind is Kind.PASS, result.verdict.reason
    raw = (result.out_dir / "console.raw").read_bytes()
    assert b"\xff\xfe\x80garbage" in raw
    assert "\ufffd" in (result.out_dir / "console.log").read_text(encoding="utf-8")


def test_command_check_passes_and_fails_on_output(scripted_board, plan_file, run_plan):
    result = run_plan(plan_file(COMMANDS_PLAN), scripted_board(COMMANDS_SCRIPT))
    assert [m.name for m in result.milestones] == ["prompt", "echo-ok"]
    assert result.verdict.kind is Kind.FAIL
    assert "echo-wrong" in result.verdict.reason


def test_target_exit_is_a_milestone_or_an_error(scripted_board, plan_file, run_plan):
    plan = """
    name = "exit"
    [[milestone]]
    name = "banner"
    expect = 'OpenSBI'
    within = "5s"
    [[milestone]]
    name = "off"
    exits = true
    within = "5s"
    """
    result = run_plan(plan_file(plan), scripted_board("say OpenSBI v1.2\nexit 0\n"))
    assert result.verdict.kind is Kind.PASS, result.verdict.reason
    assert result.milestones[-1].name == "off"
    crashed = run_plan(plan_file(qsoe_plan()), scripted_board("say OpenSBI v1.2\nexit 3\n"))
    assert crashed.verdict.kind is Kind.ERROR
    assert "process exited with status 3" in crashed.verdict.reason


def test_missing_program_is_a_skip(tmp_path, plan_file, run_plan):
    board = tmp_path / "missing.toml"
    board.write_text('name = "missing"\ntarget = "process"\ncommand = ["/nonexistent/semu", "-k", "x"]\n')
    result = run_plan(plan_file(qsoe_plan()), board)
    assert result.verdict.kind is Kind.SKIP
    assert result.verdict.exit_code == 125
    assert "/nonexistent/semu" in result.verdict.reason
