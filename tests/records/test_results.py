"""What a run produced (harness/records/results.py): how it reads and what it exits with, fallback included."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.engine.verdict import Kind, Verdict
from harness.model.board import Board, FallbackExit
from harness.model.plan import Plan
from harness.records.results import RunResult

PLAN = Plan(
    name="p", path=Path("p.toml"), description="", silence=5.0, timeout=60.0, milestones=(), fails=(), resets=()
)
FALLBACK_BOARD = Board(name="qemu-sifive-u", path=Path("q.toml"), target="qemu")


def result(kind: Kind, *, fallback_for: tuple[str, str] | None = None, exit: FallbackExit = FallbackExit.VERDICT):
    return RunResult(
        plan=PLAN,
        board=FALLBACK_BOARD,
        verdict=Verdict(kind, "why"),
        milestones=(),
        out_dir=Path("run"),
        target={},
        started="2026-12-06T05:00:00+00:00",
        duration=1.0,
        fallback_for=fallback_for,
        fallback_exit=exit,
    )


@pytest.mark.parametrize(("kind", "code"), [(Kind.PASS, 0), (Kind.SKIP, 125), (Kind.WEDGE, 1), (Kind.ERROR, 1)])
def test_on_the_board_asked_for_the_verdict_is_the_exit(kind: Kind, code: int) -> None:
    run = result(kind)
    assert run.exit_code == code
    assert run.ran_on == kind.value.upper()
    assert not run.skipped_for_fallback


def test_a_fallback_run_names_both_boards_and_why() -> None:
    run = result(Kind.WEDGE, fallback_for=("unmatched", "/dev/ttyUSB1 missing"))
    assert run.ran_on == "WEDGE on qemu-sifive-u, fallback for unmatched: /dev/ttyUSB1 missing"
    assert run.exit_code == 1


def test_a_pass_on_the_fallback_is_a_skip_only_when_the_board_says_so() -> None:
    why = ("unmatched", "/dev/ttyUSB1 missing")
    assert result(Kind.PASS, fallback_for=why).exit_code == 0
    skipped = result(Kind.PASS, fallback_for=why, exit=FallbackExit.SKIP)
    assert skipped.skipped_for_fallback and skipped.exit_code == 125
    # A failure on the fallback is still a failure: the bug is real whichever board showed it.
    failed = result(Kind.PANIC, fallback_for=why, exit=FallbackExit.SKIP)
    assert not failed.skipped_for_fallback and failed.exit_code == 1
