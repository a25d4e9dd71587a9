"""``hartbeat report`` (harness/cli/report.py): a run's page, an index for a folder of runs, and a
path that holds no run named on one line with exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from tests.cli.made_up_runs import made_up_run


def test_a_run_gets_its_page_and_a_folder_of_runs_an_index(
    runs_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    single = made_up_run(runs_folder / "runs" / "a")
    made_up_run(runs_folder / "runs" / "b")
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
    # An index of nothing (e.g. `hartbeat report boards/`) is a mistake to name, not a page to leave behind.
    assert not path.exists() or list(path.iterdir()) == []


def test_help_and_a_missing_path(hartbeat) -> None:
    hartbeat("report", "--help").help_lists("PATH [PATH ...]", "a run folder or a folder of runs")
    hartbeat("report").refused("the following arguments are required: PATH")
