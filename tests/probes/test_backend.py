"""What a backend is given (harness/probes/backend.py): the time left until the autopsy's deadline."""

from __future__ import annotations

import time
from pathlib import Path

from harness.model.board import Board
from harness.probes.backend import Request
from harness.targets.fake import FakeTarget

BOARD = Board(name="b", path=Path("b.toml"), target="fake")


def test_the_time_left_counts_down_to_the_deadline_and_never_below_the_floor() -> None:
    soon = Request(FakeTarget(), BOARD, deadline=time.monotonic() + 30.0)
    assert 20.0 < soon.remaining() <= 30.0 and not soon.expired()
    past = Request(FakeTarget(), BOARD, deadline=time.monotonic() - 1.0)
    assert past.expired()
    assert past.remaining() == 0.01 and past.remaining(floor=0.5) == 0.5  # a socket timeout is never 0
