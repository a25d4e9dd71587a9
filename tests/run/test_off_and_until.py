"""A plan's `off` step and `--until`, on a FakeTarget: what is typed, what is switched, the verdict."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from harness.cli import main
from harness.engine.verdict import Kind
from harness.errors import ConfigError
from harness.model.board import Board
from harness.model.plan import Milestone, Plan, load_plan, standard_fails
from harness.run.runner import SWITCHED_OFF, Runner
from harness.run.setup import prepare
from harness.targets.fake import FakeTarget

BOOT = "U-Boot 2025.01\r\n=> "


def _plan(*milestones: Milestone) -> Plan:
    return Plan(
        name="off-plan",
        path=Path("off-plan.toml"),
        description="",
        silence=0.5,
        timeout=10.0,
        milestones=milestones,
        fails=standard_fails(),
        resets=(re.compile("U-Boot 20"),),
    )


PROMPT = Milestone(name="prompt", expect=re.compile(r"=> $", re.MULTILINE), within=5.0)
OFF = Milestone(name="power-off", expect=None, within=2.0, exits=True, off=True)


def _board(**variables: str) -> Board:
    return Board(name="fake-board", path=Path("fake-board.toml"), target="fake", variables=variables)


def test_a_target_that_powers_itself_off_is_told_to_and_must_exit(tmp_path: Path) -> None:
    typed: list[str] = []
    ends: list[FakeTarget] = []

    def reply(line: str) -> str | None:
        typed.append(line)
        ends[0].transport.end("the fake board powered off")
        return None

    target = FakeTarget(boot=BOOT, reply=reply)
    ends.append(target)
    result = Runner(prepare(_plan(PROMPT, OFF), _board()), out_dir=tmp_path / "run", target=target).run()
    assert result.verdict.kind is Kind.PASS, result.verdict.summary()
    assert typed == ["poweroff"]  # no off_command anywhere: poweroff
    assert result.milestones[-1].name == "power-off" and not result.milestones[-1].line.startswith(SWITCHED_OFF)


def test_a_target_that_does_not_exit_after_off_command_is_not_a_pass(tmp_path: Path) -> None:
    target = FakeTarget(boot=BOOT, reply=lambda line: "=> ")
    short = replace(OFF, within=0.3)
    result = Runner(
        prepare(_plan(PROMPT, short), _board(off_command="halt")), out_dir=tmp_path / "run", target=target
    ).run()
    assert result.verdict.kind is not Kind.PASS
    assert result.verdict.milestone == "prompt"


def test_an_empty_off_command_means_hartbeat_switches_it_off(tmp_path: Path) -> None:
    target = FakeTarget(boot=BOOT, reply=lambda line: pytest.fail(f"typed {line!r}"))
    result = Runner(prepare(_plan(PROMPT, OFF), _board(off_command="")), out_dir=tmp_path / "run", target=target).run()
    assert result.verdict.kind is Kind.PASS, result.verdict.summary()
    assert result.milestones[-1].line == f"{SWITCHED_OFF} through its power backend"
    assert not target.powered


def test_until_cuts_the_plan_and_says_so(tmp_path: Path) -> None:
    cut = _plan(PROMPT, OFF).cut_after("prompt")
    assert [m.name for m in cut.milestones] == ["prompt"] and cut.left_out == 1
    result = Runner(prepare(cut, _board()), out_dir=tmp_path / "run", target=FakeTarget(boot=BOOT)).run()
    assert result.verdict.kind is Kind.PASS
    assert result.verdict.reason == "all 1 milestones reached (--until prompt: the plan's 1 later milestone(s) not run)"
    with pytest.raises(ConfigError, match=r"no milestone 'nope'; its milestones: prompt, power-off"):
        _plan(PROMPT, OFF).cut_after("nope")


def test_an_off_step_that_also_types_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text('[[milestone]]\nname = "end"\noff = true\nsend = "reset"\n')
    with pytest.raises(ConfigError, match=r"milestone\[0\]\.off: an `off` step types and expects nothing"):
        load_plan(path)


def test_until_an_unknown_milestone_is_a_one_line_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "uboot-smoke", "--board", "qemu-virt", "--until", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and "--until: nope: plan uboot-smoke has no milestone 'nope'; its milestones: opensbi," in err[0]
    )
