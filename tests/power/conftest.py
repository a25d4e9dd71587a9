"""A board file with a given ``[power]`` section, read through the real board loader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness.model.board import Board
from harness.run.board_loader import load_board


@pytest.fixture
def board_with_power(tmp_path: Path) -> Callable[[str], Board]:
    """A serial board whose ``[power]`` section is the given TOML text."""

    def make(power: str) -> Board:
        path = tmp_path / "b.toml"
        path.write_text(
            f'name = "b"\ntarget = "serial"\n[serial]\nport = "/dev/ttyUSB1"\n[power]\n{power}', encoding="utf-8"
        )
        return load_board(str(path))

    return make
