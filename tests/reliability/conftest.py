"""Fixtures for the reliability cases."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from .helpers import write


@pytest.fixture
def program_board(tmp_path: Path) -> Callable[..., Path]:
    """A ``process`` board whose console is the given Python program."""

    def make(program: str, extra: str = "", name: str = "hostile") -> Path:
        script = write(tmp_path / f"{name}.py", program)
        return write(
            tmp_path / f"{name}.toml",
            f'name = "{name}"\ntarget = "process"\ncommand = ["{sys.executable}", "{script}"]\n'
            + textwrap.dedent(extra),
        )

    return make
