"""``hartbeat run --follow`` (harness/cli/run.py): the console's lines and each milestone, not the waiting line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.cli.run import Follow
from harness.run.runner import Runner
from harness.run.setup import prepare
from harness.run.status import StatusEvent, StatusKind
from harness.targets.fake import FakeTarget
from tests.run.test_runner import BOARD, plan, step


def test_follow_prints_log_lines_and_milestones_and_leaves_the_waiting_line_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    the_plan = plan(step("opensbi", "OpenSBI"), step("linux", "Linux version"), silence=0.6)
    runner = Runner(
        prepare(the_plan, BOARD), out_dir=tmp_path / "run", target=FakeTarget(boot="OpenSBI v1.2\r\nboot\r\n")
    )
    follow = Follow(runner.out_dir / "console.log")
    seen: list[StatusEvent] = []

    def status(event: StatusEvent) -> None:
        seen.append(event)
        follow(event)

    runner.status = status
    runner.run()
    follow.finish()
    out = capsys.readouterr().out
    assert any(event.kind is StatusKind.WAITING for event in seen)
    assert re.search(r"^== \[\s*[\d.]+s\] reached opensbi$", out, re.MULTILINE), out
    # The console's lines come as console.log holds them (stamped), marked as the board's.
    assert re.search(r"^  \| \[\s*[\d.]+\] OpenSBI v1.2\n  \| \[\s*[\d.]+\] boot$", out, re.MULTILINE), out
    assert "waiting for" not in out
