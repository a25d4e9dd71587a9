"""What every target offers the runner (harness/targets/base.py): the Target protocol, and a kind's defaults."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.model.board import Board
from harness.run.board_loader import load_board
from harness.targets import make_target, target_kind
from harness.targets.base import Target, TargetKind, no_preflight
from harness.targets.fake import FakeTarget


def test_targets_built_from_profiles_are_targets(tmp_path: Path) -> None:
    process = tmp_path / "p.toml"
    process.write_text(f'target = "process"\ncommand = ["{sys.executable}", "-c", "pass"]\n')
    qemu = tmp_path / "q.toml"
    qemu.write_text('target = "qemu"\n[qemu]\nmachine = "virt"\n')
    for path in (process, qemu):
        board = load_board(str(path))
        target = make_target(board)  # built, not started
        assert isinstance(target, Target), target
        assert isinstance(target.describe(), dict)
    assert not isinstance(object(), Target)


def test_a_kind_without_checks_of_its_own_finds_nothing() -> None:
    board = Board(name="b", path=Path("b.toml"), target="fake")
    kind = TargetKind(name="fake", validate=lambda _b: set(), build=lambda _b, _v: FakeTarget())
    assert kind.preflight is no_preflight and kind.preflight(board, {}) == []
    assert (kind.copies, kind.expand, kind.time_scale, kind.host_scale, kind.switched_off) == (
        1,
        None,
        None,
        None,
        False,
    )
    assert target_kind("process").copies is None  # processes: as many as the machine holds
