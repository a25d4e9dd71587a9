"""``hartbeat check`` (harness/cli/check.py): a plan and a board checked without booting; every
finding printed, a summary line, exit 0 when none is an error and 2 when one is. The findings
themselves are tested in tests/run/test_preboot_check.py, the configuration errors in
tests/model/test_config_errors.py and tests/reliability/test_fuzz_check.py."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.scripted_boots import qsoe_plan


def board(folder: Path, program: str = sys.executable) -> Path:
    path = folder / "board.toml"
    path.write_text(f'name = "scripted"\ntarget = "process"\ncommand = ["{program}", "-c", "pass"]\n')
    return path


def test_help_lists_the_options(hartbeat) -> None:
    hartbeat("check", "--help").help_lists(
        "plan ", "--board BOARD, -b BOARD", "--image SLOT=PATH", "--set SECTION.KEY=VALUE", "--var NAME=VALUE",
        "--no-fallback",
    )  # fmt: skip


def test_a_good_plan_and_board_pass_with_a_summary(hartbeat, tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(qsoe_plan(within="10s"))
    ran = hartbeat("check", str(plan), "--board", str(board(tmp_path)))
    assert ran.code == 0, ran
    assert ran.out == f"{plan}: 4 milestones; {tmp_path / 'board.toml'}: target process; 0 error(s), 0 warning(s)\n"


def test_a_bad_plan_is_one_line_naming_file_key_and_what_is_wrong(hartbeat, tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(qsoe_plan().replace("'login: $'", "'(login'"))
    ran = hartbeat("check", str(plan), "--board", str(board(tmp_path)))
    ran.refused(f"hartbeat: error: {plan}: milestone[3].expect: bad regular expression '(login'")


def test_a_board_error_is_listed_and_exits_2(hartbeat, tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(qsoe_plan(within="10s"))
    ran = hartbeat("check", str(plan), "--board", str(board(tmp_path, "/nonexistent/semu")))
    assert ran.code == 2, ran
    path = tmp_path / "board.toml"
    assert ran.out.splitlines() == [
        f"error: {path}: command[0]: program '/nonexistent/semu' is not installed (not on PATH)",
        f"{plan}: 4 milestones; {path}: target process; 1 error(s), 0 warning(s)",
    ]


def test_without_a_board_nothing_is_checked(hartbeat) -> None:
    hartbeat("check", "uboot-smoke").refused("the following arguments are required: --board/-b")
