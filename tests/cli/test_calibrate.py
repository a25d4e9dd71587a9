"""``hartbeat calibrate`` (harness/cli/calibrate.py): limits suggested from passing runs, the plan
found from the runs or given, and each thing it cannot calibrate from said on one line. The
calibration itself, on real QEMU runs, is tested in tests/analysis/test_calibrate.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.model.plan import load_plan
from tests.cli.made_up_runs import made_up_run

PLAN = """
name = "smoke"
silence = "10s"
[[milestone]]
name = "opensbi"
expect = 'OpenSBI v'
within = "30s"
[[milestone]]
name = "prompt"
expect = '=> $'
within = "30s"
"""


def test_help_lists_the_options(hartbeat) -> None:
    hartbeat("calibrate", "--help").help_lists(
        "RUN [RUN ...]", "--plan PLAN", "--margin MARGIN", "--slack SLACK", "--write PLAN.toml"
    )


def runs(folder: Path) -> tuple[Path, Path]:
    """A plan file and a folder of three passing runs of it, the slowest reaching its prompt at 3 s."""
    plan = folder / "smoke.toml"
    plan.write_text(PLAN)
    for index, end in enumerate((2.0, 3.0, 2.5)):
        steps = (("opensbi", 0.5, "OpenSBI v1.3"), ("prompt", end, "=> "))
        made_up_run(folder / "runs" / f"run-{index}", plan="smoke", plan_path=plan, milestones=steps)
    return plan, folder / "runs"


def test_the_runs_plan_is_calibrated_and_written(hartbeat, runs_folder: Path) -> None:
    _plan, folder = runs(runs_folder)
    tuned = runs_folder / "tuned.toml"
    ran = hartbeat("calibrate", str(folder), "--margin", "2", "--slack", "1s", "--write", str(tuned))
    assert ran.code == 0, ran
    assert "smoke on qemu-virt: 3 passing run(s)" in ran.out
    assert '[[milestone]]\nname = "prompt"\nwithin = "' in ran.out
    assert ran.out.endswith(f"wrote {tuned}\n")
    # 2 x the longest step (2.5 s from opensbi to prompt) + 1 s, well under the plan's 30 s.
    limits = {m.name: m.within for m in load_plan(tuned).milestones}
    assert 5.0 <= limits["prompt"] <= 7.0, limits


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--slack", "soon"], 'hartbeat: error: --slack: expected a duration like "15s" or "5m", got \'soon\''),
        (["--margin", "lots"], "argument --margin: invalid float value: 'lots'"),
        (["--plan", "no-such-plan"], "no-such-plan: no testplan of that name; available: "),
    ],
    ids=["slack", "margin", "plan"],
)
def test_a_bad_option_is_one_line_naming_it(hartbeat, runs_folder: Path, extra: list[str], words: str) -> None:
    _plan, folder = runs(runs_folder)
    hartbeat("calibrate", str(folder), *extra).refused(words)


def test_without_runs_or_a_plan_file_it_says_what_to_give(hartbeat, runs_folder: Path) -> None:
    (runs_folder / "empty").mkdir()
    hartbeat("calibrate", str(runs_folder / "empty")).refused(f"no run folders (with report.json) in {runs_folder}")
    made_up_run(runs_folder / "runs" / "a")
    hartbeat("calibrate", str(runs_folder / "runs")).refused("the runs do not name one plan file", "give --plan")
