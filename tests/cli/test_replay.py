"""``hartbeat replay`` (harness/cli/replay.py): one recorded run judged again with its summary and
whether it agrees with the live run, a folder of runs a line each, and what it refuses. The
replay itself (every verdict kind, a new plan, a log without timing) is tested in
tests/analysis/test_replay.py."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.scripted_boots import QSOE_BOOT, QSOE_WEDGE, qsoe_plan


def test_help_lists_the_options(hartbeat) -> None:
    hartbeat("replay", "--help").help_lists("RUN [RUN ...]", "--plan PLAN", "--out OUT")


def test_replay_and_report_commands(hartbeat, tmp_path: Path, scripted_board, plan_file, run_plan) -> None:
    live = run_plan(plan_file(qsoe_plan()), scripted_board(QSOE_BOOT + QSOE_WEDGE))
    one = hartbeat("replay", str(live.out_dir), "--out", str(tmp_path / "again"))
    assert one.code == 1, one
    assert "qsoe on scripted: WEDGE" in one.out
    assert "replay agrees with the live run" in one.out
    assert (tmp_path / "again" / "report.html").is_file()
    runs = tmp_path / "runs"
    shutil.copytree(live.out_dir, runs / "a")
    shutil.copytree(live.out_dir, runs / "b")
    many = hartbeat("replay", str(runs))
    assert many.code == 1 and "2 run(s) replayed: 2 as live, 0 differ, 2 failing" in many.out
    index = hartbeat("report", str(runs))
    assert index.code == 0 and f"{runs / 'index.html'}: 2 run(s)" in index.out


def test_replay_of_a_folder_without_runs_is_a_usage_error(hartbeat, tmp_path: Path) -> None:
    """One line on stderr in the harness's error form, exit 2, as calibrate says it."""
    ran = hartbeat("replay", str(tmp_path))
    ran.refused()
    assert ran.err == f"hartbeat: error: no run folders (with report.json) in {tmp_path}\n"


def test_a_plan_that_is_not_there_is_named(hartbeat, runs_folder: Path) -> None:
    hartbeat("replay", str(runs_folder), "--plan", "no-such-plan").refused(
        "hartbeat: error: no-such-plan: no testplan of that name; available: "
    )
    hartbeat("replay").refused("the following arguments are required: RUN")
