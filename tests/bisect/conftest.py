"""Fixtures for bisect tests: scripted series, and running bisect in-process or as a command."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from scripted_series import write_plan_and_board

from harness.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def scripted(tmp_path: Path) -> tuple[Path, Path]:
    """(plan, board) files for scripted series, silence 1 s."""
    return write_plan_and_board(tmp_path)


def bisect_args(plan: Path, board: Path, builds: Path, out: Path, *extra: str) -> list[str]:
    """A ``hartbeat bisect`` command line over a build folder."""
    return ["bisect", str(plan), "--board", str(board), "--builds", str(builds), "--out", str(out), *extra]


@pytest.fixture
def bisect() -> Callable[..., tuple[int, dict[str, Any]]]:
    """Run ``hartbeat bisect`` in this process; returns (exit status, bisect.json)."""

    def run(plan: Path, board: Path, builds: Path, out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
        code = main(bisect_args(plan, board, builds, out, *extra))
        result = out / "bisect.json"
        return code, json.loads(result.read_text()) if result.exists() else {}

    return run


def hartbeat(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``hartbeat`` as a separate process, from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], cwd=REPO, capture_output=True, text=True, check=False, **kwargs
    )
