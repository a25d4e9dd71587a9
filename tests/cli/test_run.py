"""``hartbeat run`` (harness/cli/run.py): its options; ``--follow`` printing the console's lines and
each milestone, not the waiting line; ``--expect-signature`` for ``git bisect run``; a folder that
already holds a run refused. The verdicts themselves are tested in tests/run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.cli.run import Follow
from harness.run.runner import Runner
from harness.run.setup import prepare
from harness.run.status import StatusEvent, StatusKind
from harness.targets.fake import FakeTarget
from tests.run.test_runner import BOARD, plan, step
from tests.scripted_boots import QSOE_BOOT, QSOE_WEDGE, qsoe_plan


def test_follow_prints_log_lines_and_milestones_and_leaves_the_waiting_line_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    the_plan = plan(step("opensbi", "OpenSBI"), step("linux", "Linux version"), silence=0.6)
    runner = Runner(
        prepare(the_plan, BOARD), out_dir=tmp_path / "run", target=FakeTarget(boot="OpenSBI v1.2\r\nboot\r\n")
    )
    follow = Follow(runner.out_dir / "console.log")
    seen: list[StatusEvent] = []

    def status(event: StatusEvent) -> None:
        seen.append(event)
        follow(event)

    runner.status = status
    runner.run()
    follow.finish()
    out = capsys.readouterr().out
    assert any(event.kind is StatusKind.WAITING for event in seen)
    assert re.search(r"^== \[\s*[\d.]+s\] reached opensbi$", out, re.MULTILINE), out
    # The console's lines come as console.log holds them (stamped), marked as the board's.
    assert re.search(r"^  \| \[\s*[\d.]+\] OpenSBI v1.2\n  \| \[\s*[\d.]+\] boot$", out, re.MULTILINE), out
    assert "waiting for" not in out


def test_help_lists_the_options(hartbeat) -> None:
    hartbeat("run", "--help").help_lists(
        "plan ", "--board BOARD, -b BOARD", "--image SLOT=PATH", "--set SECTION.KEY=VALUE", "--var NAME=VALUE",
        "--no-fallback", "--out OUT", "--expect-signature TEXT", "--until MILESTONE", "--follow",
        "--symbols LABEL=PATH", "--hold",
    )  # fmt: skip


def test_run_follow_prints_milestones_and_console_lines(hartbeat, tmp_path: Path, scripted_board, plan_file) -> None:
    plan = plan_file(qsoe_plan())
    board = scripted_board("sleep 0.3\n" + QSOE_BOOT + "sleep 0.6\nsay almost there\nput unmatched login: \nhang\n")
    ran = hartbeat("run", str(plan), "--board", str(board), "--out", str(tmp_path / "run"), "--follow")
    assert ran.code == 0, ran
    out = ran.out
    assert "] fs-qrv: mounted qrvfs at /usr" in out and "] almost there" in out
    # In order: the line that reached a milestone comes before the milestone's own line.
    assert out.index("] U-Boot 2023.01") < out.index("reached uboot") < out.index("] almost there")
    assert out.index("reached login") < out.index("qsoe on scripted: PASS")


def test_expect_signature_turns_another_failure_into_a_skip(
    hartbeat, tmp_path: Path, scripted_board, plan_file
) -> None:
    plan, board = plan_file(qsoe_plan()), scripted_board(QSOE_BOOT + QSOE_WEDGE)
    same = hartbeat(
        "run", str(plan), "--board", str(board), "--out", str(tmp_path / "a"), "--expect-signature", "SPAWN"
    )
    assert same.code == 1, same
    other = hartbeat(
        "run", str(plan), "--board", str(board), "--out", str(tmp_path / "b"), "--expect-signature", "MMAP"
    )
    assert other.code == 125, other
    assert other.out.splitlines()[-1] == (
        "hartbeat: signature 'wedge|usr-mounted|tm_msg 0x# <- TM_REQ_SPAWN exec level#.sh' "
        "does not contain 'MMAP': exit 125 (skip)"
    )


def test_a_folder_holding_a_run_is_not_overwritten(hartbeat, runs_folder: Path, scripted_board, plan_file) -> None:
    # In runs_folder: an empty report is no run for tests/test_zz_replay_all.py to replay.
    out = runs_folder / "run"
    out.mkdir()
    (out / "report.json").write_text("{}")
    ran = hartbeat("run", str(plan_file(qsoe_plan())), "--board", str(scripted_board("hang\n")), "--out", str(out))
    ran.refused(f"hartbeat: error: --out {out} already holds a run; pick another folder")
    assert (out / "report.json").read_text() == "{}" and sorted(p.name for p in out.iterdir()) == ["report.json"]
