"""Targets: the serial board, QEMU, the in-repo emulator and any console process.

Each kind lives in its own module with ``validate(board) -> set[str]`` (checks its settings,
returns the top-level keys it owns) and ``from_board(board, extra) -> Target``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType

from harness.board import Board
from harness.console import Transport
from harness.errors import ConfigError
from harness.targets.base import Target

KINDS = {
    "process": "harness.targets.process",
    "qemu": "harness.targets.qemu",
    "emulator": "harness.targets.emulator",
    "serial": "harness.targets.serial",
    "labgrid": "harness.targets.labgrid",
}

__all__ = ["KINDS", "Target", "Transport", "make_target", "validate_target"]


def _module(board: Board) -> ModuleType:
    if board.target not in KINDS:
        raise ConfigError(board.path, "target", f"unknown target {board.target!r}; expected one of {', '.join(KINDS)}")
    return importlib.import_module(KINDS[board.target])


def validate_target(board: Board) -> set[str]:
    """Validate the target kind's own part of a board; returns the top-level keys it uses."""
    keys: set[str] = _module(board).validate(board)
    return keys


def make_target(board: Board, extra: Mapping[str, str] | None = None) -> Target:
    """Build the target a board profile describes; ``extra`` adds per-run variables."""
    target: Target = _module(board).from_board(board, dict(extra or {}))
    return target
