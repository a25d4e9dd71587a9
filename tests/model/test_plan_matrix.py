"""The plan x board table (tests/plan_matrix.py) covers every shipped plan and board, names tests
that exist, agrees with the plans' own `boards`, ends every plan with `off`, and is the README's."""

from __future__ import annotations

import re
from pathlib import Path

from harness.model.plan import load_plan
from tests.plan_matrix import BOARDS, MATRIX, PLANS, NotApplicable, Runs, markdown

ROOT = Path(__file__).resolve().parents[2]


def test_every_shipped_plan_and_board_has_a_cell() -> None:
    assert sorted(PLANS) == sorted(p.stem for p in (ROOT / "testplans").glob("*.toml"))
    # Each is named as its file (the name is what reports, JUnit and `boards` skips show).
    assert [load_plan(ROOT / "testplans" / f"{name}.toml").name for name in PLANS] == list(PLANS)
    shipped = {p.stem for p in (ROOT / "boards").glob("*.toml")}
    # The real Unmatched is stood in for by the virtual lab's serial board, in two set-ups.
    assert shipped == {b.split(" ")[0] for b in BOARDS}
    assert len(MATRIX) == len(PLANS) * len(BOARDS)


def test_every_cell_that_runs_names_an_existing_test() -> None:
    for (plan, board), cell in MATRIX.items():
        if isinstance(cell, Runs):
            path, function = cell.test.split("::")
            assert re.search(rf"^def {function}\(", (ROOT / path).read_text(), re.MULTILINE), (plan, board, cell)


def test_plans_boards_patterns_agree_with_the_table() -> None:
    for plan_name in PLANS:
        plan = load_plan(ROOT / "testplans" / f"{plan_name}.toml")
        for board in BOARDS:
            name = "lab-board" if board.startswith("unmatched (lab") else board
            if isinstance(MATRIX[plan_name, board], Runs):
                assert plan.runs_on(name) or plan.runs_on(board.split(" ")[0]), (plan_name, board)
            elif plan.boards and not plan.runs_on(name):
                assert isinstance(MATRIX[plan_name, board], NotApplicable), (plan_name, board)
            if isinstance(MATRIX[plan_name, board], NotApplicable) and not board.startswith("unmatched (lab"):
                # A shipped profile the plan cannot pass on is left out by the plan's `boards`:
                # pytest skips it there, and --hartbeat-boards deals it to another board.
                assert not plan.runs_on(board), (plan_name, board)


def test_every_shipped_plan_ends_with_the_off_step() -> None:
    for plan_name in PLANS:
        last = load_plan(ROOT / "testplans" / f"{plan_name}.toml").milestones[-1]
        assert last.off and last.name == "power-off", plan_name


def test_the_readme_shows_the_table() -> None:
    assert markdown() in (ROOT / "README.md").read_text()
