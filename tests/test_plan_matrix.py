"""Every shipped plan on every shipped board it applies to (tests/plan_matrix.py): the cells no
other test runs already, each unchanged, to a pass that ends with the plan's ``off`` step."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.engine.verdict import Kind
from harness.model.board import resolve
from harness.model.plan import load_plan
from harness.run.board_loader import load_board
from harness.run.runner import SWITCHED_OFF, Runner
from harness.run.setup import prepare
from tests.plan_matrix import runs_here

# The card fixture (tests/card_fixtures.py) each SD board boots.
CARDS = {"qemu-sifive-u-sd": "unleashed_card", "emulator-unmatched-sd": "unmatched_card"}


@pytest.fixture
def payload(request: pytest.FixtureRequest, plan: str, board: str) -> tuple[tuple[str, str], ...]:
    """The ``--image`` pairs a cell needs (built or fetched once per session)."""
    if plan.startswith("linux-"):
        request.getfixturevalue("linux_image")
    card = CARDS.get(board)
    if card is not None:
        return (("sdcard", str(request.getfixturevalue(card))),)
    return ()


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("plan", "board"), runs_here())
def test_shipped_plan_on_board(
    plan: str, board: str, payload: tuple[tuple[str, str], ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if board.startswith("qemu") and shutil.which("qemu-system-riscv64") is None:
        pytest.skip("qemu-system-riscv64 not installed (make deps)")
    monkeypatch.setenv("HARTBEAT_LOCK_DIR", str(tmp_path / "locks"))
    loaded = load_plan(resolve(plan, "testplans"))
    result = Runner(prepare(loaded, load_board(board, images=payload), images=payload), out_dir=tmp_path / "run").run()
    assert result.verdict.kind is Kind.PASS, (result.verdict.summary(), result.out_dir)
    assert result.fallback is None
    assert [m.name for m in result.milestones] == [m.name for m in loaded.milestones]
    last = result.milestones[-1]
    assert loaded.milestones[-1].off and last.name == "power-off"
    # A process target ends by itself: nothing was switched off for it.
    assert not last.line.startswith(SWITCHED_OFF), last.line
