"""A run folder read back (harness/records/run_folder.py): the report, the console log, long lines
kept by head and tail, run folders nested in a bisect, and the longest quiet stretch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.records.run_folder import RunFolderError, find_runs, load_run, longest_quiet, read_log

REPORT = {
    "schema": "hartbeat.report/1",
    "plan": {"name": "smoke"},
    "board": {"name": "qemu-virt"},
    "verdict": {"kind": "wedge", "reason": "no console output for 10 s"},
    "milestones": [{"name": "banner", "t": 0.5, "delta": 0.5, "line": "OpenSBI v1", "captures": {"v": "1"}}],
}


def run_folder(folder: Path, report: dict | str = REPORT, log: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(report if isinstance(report, str) else json.dumps(report))
    if log:
        (folder / "console.log").write_text(log)
    return folder


def test_a_report_is_read_with_its_milestones_and_log(runs_folder: Path) -> None:
    run = load_run(run_folder(runs_folder / "run", log="[    0.500000] OpenSBI v1\ncontinued\n[    2.000000] U-Boot\n"))
    assert (run.plan_name, run.board_name, run.kind, run.autopsy) == ("smoke", "qemu-virt", "wedge", None)
    (milestone,) = run.milestones
    assert (milestone.name, milestone.t, milestone.line, milestone.captures) == (
        "banner",
        0.5,
        "OpenSBI v1",
        {"v": "1"},
    )
    # A line without a stamp continues at the time of the one before it.
    assert run.log_lines() == [(0.5, "OpenSBI v1"), (0.5, "continued"), (2.0, "U-Boot")]


def test_what_a_report_leaves_out_reads_as_unknown(runs_folder: Path) -> None:
    run = load_run(run_folder(runs_folder, {"schema": "hartbeat.report/1"}))
    assert (run.plan_name, run.board_name, run.kind, run.milestones, run.log_lines()) == ("?", "?", "error", (), [])


@pytest.mark.parametrize(
    ("report", "words"),
    [
        (None, "not a run folder (no report.json)"),
        ("{not json", "cannot read the report"),
        ('{"schema": "other/1"}', "not a hartbeat report (key `schema` should be hartbeat.report/1)"),
        ("[1, 2]", "not a hartbeat report"),
    ],
)
def test_a_folder_that_is_no_run_says_what_is_wrong(runs_folder: Path, report: str | None, words: str) -> None:
    if report is not None:
        run_folder(runs_folder, report)
    with pytest.raises(RunFolderError) as error:
        load_run(runs_folder)
    assert words in str(error.value) and str(runs_folder) in str(error.value)


def test_a_long_line_keeps_its_head_and_tail(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_text("[    1.000000] " + "a" * 50 + "X" * 300_000 + "b" * 50 + "\n[    2.000000] short\n")
    (t, line), (t2, short) = read_log(log, line_limit=200)
    assert t == 1.0 and (t2, short) == (2.0, "short")
    assert line.startswith("a" * 50 + "X") and line.endswith("X" * 50 + "b" * 50)
    assert "characters left out (console.log has them)" in line and len(line) < 300
    assert read_log(log)[0][1] == "a" * 50 + "X" * 300_000 + "b" * 50  # without a limit, the whole line


def test_run_folders_are_found_at_or_below_a_root(runs_folder: Path) -> None:
    single = run_folder(runs_folder / "single")
    assert find_runs(single) == [single]
    nested = [run_folder(runs_folder / "bisect" / name / "run-0") for name in ("b", "a")]
    assert find_runs(runs_folder / "bisect") == sorted(nested)


def test_the_longest_quiet_stretch_between_two_moments() -> None:
    assert longest_quiet([1.0, 1.5, 6.0, 20.0], start=0.0, end=8.0) == 4.5
    assert longest_quiet([], start=2.0, end=5.0) == 3.0


@pytest.mark.parametrize(
    ("report", "words"),
    [
        ({"milestones": [{"name": "banner"}]}, "key `milestones`: expected objects with `name`, `t` and `delta`"),
        ({"milestones": [{"name": "banner", "t": "soon", "delta": 0}]}, "key `milestones`"),
        ({"board": "qemu-virt"}, "key `board`: expected an object"),
        ({"board": {"time_scale": "fast"}}, "key `board.time_scale`: expected a positive number, got 'fast'"),
        ({"board": {"time_scale": 0}}, "key `board.time_scale`: expected a positive number, got 0"),
    ],
)
def test_a_damaged_report_is_refused_by_key_before_replay_scales_the_plan(
    runs_folder: Path, report: dict[str, object], words: str
) -> None:
    # Replay, calibrate, compare and report read a run folder here: a traceback otherwise.
    run_folder(runs_folder, {"schema": "hartbeat.report/1", **report})
    with pytest.raises(RunFolderError) as error:
        load_run(runs_folder)
    assert words in str(error.value) and str(runs_folder / "report.json") in str(error.value)
