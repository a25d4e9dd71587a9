"""Replay: a recorded run judged again through the runner's own steps gives the live verdict."""

from __future__ import annotations

import time

import pytest

from harness.analysis.replay import replay
from harness.engine.verdict import Kind
from tests.scripted_boots import COMMANDS_PLAN, COMMANDS_SCRIPT, QSOE_BOOT, QSOE_WEDGE, qsoe_plan

# The command plan, then `poweroff` typed and the target's exit as the last step.
COMMANDS = (
    COMMANDS_PLAN
    + """[[milestone]]
name = "off"
send = "poweroff"
exits = true
within = "5s"
"""
)

# The test is over: hartbeat switches the target off (nothing typed).
OFF_SWITCHED = """
[variables]
off_command = ""

[[milestone]]
name = "power-off"
off = true
within = "10s"
"""

# One script per verdict kind, played by a real process through the process target.
CASES = {
    Kind.PASS: (qsoe_plan(), "sleep 0.3\n" + QSOE_BOOT + "sleep 0.4\nput unmatched login: \nhang\n"),
    Kind.WEDGE: (qsoe_plan(), QSOE_BOOT + QSOE_WEDGE),
    Kind.STALL: (qsoe_plan(within="1.5s"), QSOE_BOOT + "trickle 0.05 tm_msg 0x200 seq\n"),
    Kind.PANIC: (
        qsoe_plan(),
        QSOE_BOOT + "say Kernel panic - not syncing: bad magic 0xdead\nsay  backtrace: 0x8020\nhang\n",
    ),
    Kind.RESET: (qsoe_plan(), QSOE_BOOT.replace("say fs-qrv", "say OpenSBI v1.2\nsay fs-qrv") + "hang\n"),
    Kind.FAIL: (COMMANDS, COMMANDS_SCRIPT),
    Kind.ERROR: (qsoe_plan(), "say OpenSBI v1.2\nsleep 0.2\nexit 3\n"),
}


@pytest.mark.parametrize("kind", list(CASES), ids=[kind.value for kind in CASES])
def test_replay_equals_the_live_verdict(kind, scripted_board, plan_file, run_plan):
    plan, script = CASES[kind]
    live = run_plan(plan_file(plan), scripted_board(script))
    assert live.verdict.kind is kind, live.verdict.reason
    started = time.monotonic()
    replayed = replay(live.out_dir)
    assert replayed.exact
    assert replayed.differences() == []
    assert replayed.verdict.signature == live.verdict.signature
    assert [m.name for m in replayed.result.milestones] == [m.name for m in live.milestones]
    assert [line for _t, line in replayed.verdict.last_lines] == [line for _t, line in live.verdict.last_lines]
    for (t_replay, _line), (t_live, _same) in zip(replayed.verdict.last_lines, live.verdict.last_lines, strict=True):
        assert abs(t_replay - t_live) < 0.001
    # The recorded clock stands in for the real one: no waiting for silences and deadlines.
    assert time.monotonic() - started < 1.0 + live.duration / 2


def test_exit_milestone_time_is_when_the_console_closed(scripted_board, plan_file, run_plan):
    plan = COMMANDS.replace("^marker43$", "^something-else$")
    live = run_plan(plan_file(plan), scripted_board("put => \necho\nput => \necho\nput => \nexpect poweroff\nexit 0\n"))
    assert live.verdict.kind is Kind.PASS, live.verdict.reason
    replayed = replay(live.out_dir)
    assert replayed.differences() == []
    assert abs(replayed.result.milestones[-1].t - live.milestones[-1].t) < 0.001


def test_switched_off_step_time_is_when_the_power_backend_returned(scripted_board, plan_file, run_plan):
    # The plan's off step switches the target off (empty off_command); the process takes 0.3 s to
    # quit, as QEMU does: the step's time is when power_off returned, and the replay (no target)
    # must take that recorded moment, not the moment it reached the step.
    plan = qsoe_plan(silence="2s", within="10s") + OFF_SWITCHED
    live = run_plan(plan_file(plan), scripted_board("slow-term 0.3\n" + QSOE_BOOT + "put unmatched login: \nhang\n"))
    assert live.verdict.kind is Kind.PASS, live.verdict.reason
    off, login = live.milestones[-1], live.milestones[-2]
    assert off.name == "power-off" and off.t - login.t >= 0.25
    replayed = replay(live.out_dir)
    assert replayed.differences() == []
    assert abs(replayed.result.milestones[-1].t - off.t) < 0.001


def test_a_new_plan_judges_the_recording_anew(tmp_path, scripted_board, plan_file, run_plan):
    live = run_plan(
        plan_file(qsoe_plan(silence="3s", within="20s")),
        scripted_board(QSOE_BOOT + "sleep 1.5\n" + QSOE_WEDGE),
    )
    assert live.verdict.kind is Kind.WEDGE
    assert live.verdict.at - live.verdict.last_lines[-1][0] >= 3.0
    tighter = tmp_path / "tighter.toml"
    tighter.write_text(qsoe_plan())
    replayed = replay(live.out_dir, tighter)
    # A 1 s silence names the wedge 2 s sooner after the same last byte, and the 1.5 s pause
    # before that last line, also longer than 1 s, is now the wedge: the plan is too tight.
    assert replayed.verdict.kind is Kind.WEDGE
    assert replayed.verdict.key_line.startswith("fs-qrv: mounted")
    assert replayed.verdict.at < live.verdict.at - 2.0


def test_log_only_recording_replays_approximately(scripted_board, plan_file, run_plan):
    live = run_plan(plan_file(qsoe_plan()), scripted_board(CASES[Kind.WEDGE][1]))
    (live.out_dir / "console.timing").unlink()
    replayed = replay(live.out_dir)
    assert not replayed.exact
    assert replayed.verdict.kind is Kind.WEDGE
    assert replayed.verdict.signature == live.verdict.signature


def test_a_firehose_stall_s_evidence_is_the_console_at_the_decision(scripted_board, plan_file, run_plan):
    # Output never stops: the reader reads on while the runner gathers the evidence. The evidence
    # is the console as it stood at the recorded decision, so the replay shows the same lines.
    live = run_plan(plan_file(qsoe_plan(within="1s")), scripted_board(QSOE_BOOT + "firehose tm_msg 0x200 seq\n"))
    assert live.verdict.kind is Kind.STALL, live.verdict.reason
    replayed = replay(live.out_dir)
    assert replayed.differences() == []
    assert [line for _t, line in replayed.verdict.last_lines] == [line for _t, line in live.verdict.last_lines]
    for (t_replay, _line), (t_live, _same) in zip(replayed.verdict.last_lines, live.verdict.last_lines, strict=True):
        assert abs(t_replay - t_live) < 1e-6
    assert replayed.verdict.reason == live.verdict.reason


def test_a_run_on_the_fallback_board_replays_as_one(tmp_path, scripted_board, plan_file, run_plan):
    # The board asked for is unplugged (its serial port is not there): the run falls back.
    plan, script = CASES[Kind.PASS]
    asked = tmp_path / "asked.toml"
    asked.write_text(
        f'name = "asked"\ntarget = "serial"\nfallback = "{scripted_board(script)}"\n'
        f'[serial]\nport = "{tmp_path / "no-such-tty"}"\n[power]\nbackend = "command"\non = ["true"]\noff = ["true"]\n'
    )
    live = run_plan(plan_file(plan), asked)
    assert live.board.name == "scripted" and live.fallback_for is not None, live.fallback_for
    replayed = replay(live.out_dir)
    assert replayed.differences() == []
    # The replay's report says where the run was, as the live one did (it said nothing of it).
    assert replayed.result.fallback_for == live.fallback_for
    assert replayed.result.fallback == live.fallback and replayed.result.fallback_exit == live.fallback_exit


def test_differences_name_the_milestone_waited_for_and_the_key_line(scripted_board, plan_file, run_plan):
    plan, script = CASES[Kind.WEDGE]
    replayed = replay(run_plan(plan_file(plan), scripted_board(script)).out_dir)
    assert replayed.differences() == []
    replayed.live.verdict["waiting_for"] = "elsewhere"
    replayed.live.verdict["key_line"] = "another line"
    found = replayed.differences()
    assert any(d.startswith("waiting_for: live 'elsewhere'") for d in found), found
    assert any(d.startswith("key_line: live 'another line'") for d in found), found
