"""``hartbeat compare`` (harness/cli/compare.py): what each option is for, which combinations it
refuses, and recorded runs compared into a table and compare.html. Runs compared live (QEMU
against the emulator) and runs that differ are in tests/analysis/test_compare.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.made_up_runs import made_up_run


def test_help_says_what_each_target_option_does(hartbeat) -> None:
    """Every option has its own help; which target an --image/--set/--var belongs to is said there."""
    ran = hartbeat("compare", "--help")
    ran.help_lists("--board BOARD", "--out OUT")
    text = " ".join(ran.out.split())
    assert "see above" not in text
    for flag in ("--image SLOT=PATH fill an image slot", "--set SECTION.KEY=VALUE override", "--var NAME=VALUE set"):
        assert flag in text
    assert text.count("applies to that target only") == 3
    assert "for run folders, the first one's parent" in text


def test_recorded_runs_that_agree_exit_0_with_a_table_and_a_page(hartbeat, runs_folder: Path) -> None:
    qemu, emulator = made_up_run(runs_folder / "qemu"), made_up_run(runs_folder / "emu", "emulator-virt")
    ran = hartbeat("compare", str(qemu), str(emulator))
    assert ran.code == 0, ran
    lines = ran.out.splitlines()
    assert lines[0].split() == ["milestone", str(qemu), str(emulator)]
    assert [line.split()[0] for line in lines[1:3]] == ["opensbi", "prompt"]
    assert lines[-2:] == ["agree: every target reached the same milestones", f"page: {runs_folder / 'compare.html'}"]
    assert "AGREE" in (runs_folder / "compare.html").read_text()


@pytest.mark.parametrize(
    ("given", "words"),
    [
        (["RUN"], "compare: RUN: give two or more run folders, and no --board with them"),
        (["RUN", "RUN", "--board", "qemu-virt"], "compare: RUN: give two or more run folders, and no --board"),
        (["uboot-smoke", "--board", "qemu-virt"], "compare: --board: give one plan and two or more --board targets"),
        (["uboot-smoke", "linux-boot", "--board", "a", "--board", "b"], "compare: --board: give one plan and two"),
        ([], "the following arguments are required: PLAN|RUN"),
    ],
    ids=["one-run", "runs-and-a-board", "one-board", "two-plans", "nothing"],
)
def test_a_combination_it_cannot_compare_is_one_line(hartbeat, runs_folder: Path, given, words: str) -> None:
    run = str(made_up_run(runs_folder / "run"))
    hartbeat("compare", *[run if arg == "RUN" else arg for arg in given]).refused(words)
    assert not (runs_folder / "compare.html").exists()
