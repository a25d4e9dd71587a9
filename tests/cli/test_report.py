"""``hartbeat report`` (harness/cli/report.py): a run's page, an index for a folder of runs, and a
path that holds no run named on one line with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main

REPORT = {
    "schema": "hartbeat.report/1",
    "plan": {"name": "smoke"},
    "board": {"name": "qemu-virt"},
    "verdict": {"kind": "pass", "reason": "ok"},
}


def run_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(json.dumps(REPORT))
    (folder / "console.log").write_text("[    0.100000] OpenSBI v1.3\n")
    return folder


def test_a_run_gets_its_page_and_a_folder_of_runs_an_index(
    runs_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    single = run_folder(runs_folder / "runs" / "a")
    run_folder(runs_folder / "runs" / "b")
    assert main(["report", str(single), str(runs_folder / "runs")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [str(single / "report.html"), f"{runs_folder / 'runs' / 'index.html'}: 2 run(s)"]
    assert "OpenSBI v1.3" in (single / "report.html").read_text()
    assert (runs_folder / "runs" / "index.html").is_file()


@pytest.mark.parametrize(("make", "words"), [(False, "no such folder"), (True, "no run folders (with report.json) in")])
def test_a_path_without_runs_is_one_line_and_exit_2(
    runs_folder: Path, capsys: pytest.CaptureFixture[str], make: bool, words: str
) -> None:
    path = runs_folder / "empty"
    if make:
        path.mkdir()
    assert main(["report", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hartbeat: error: ") and words in err and len(err.splitlines()) == 1
