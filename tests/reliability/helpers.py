"""Helpers for the reliability cases: a console program written inline, run through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any


def write(path: Path, text: str) -> Path:
    """Write dedented text and return the path."""
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def hartbeat(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real command line, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def report(folder: Path) -> dict[str, Any]:
    """A run folder's report.json (it must be valid JSON, NaN included)."""
    return json.loads((folder / "report.json").read_text(encoding="utf-8"), parse_constant=_reject)  # type: ignore[no-any-return]


def _reject(name: str) -> None:
    raise ValueError(f"report.json contains {name}, which is not JSON")
