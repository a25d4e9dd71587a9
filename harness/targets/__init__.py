"""Targets: the serial board, QEMU, the in-repo emulator and any console process.

Each kind lives in its own module with ``validate(board) -> set[str]`` (checks its settings,
returns the top-level keys it owns) and ``from_board(board, extra) -> Target``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType

from harness import ssh
from harness.board import Board
from harness.errors import ConfigError
from harness.targets.base import Target, Transport

KINDS = {
    "process": "harness.targets.process",
    "qemu": "harness.targets.qemu",
    "emulator": "harness.targets.emulator",
    "serial": "harness.targets.serial",
    "labgrid": "harness.targets.labgrid",
}

__all__ = ["KINDS", "Target", "Transport", "make_target", "validate_board"]


def _module(board: Board) -> ModuleType:
    if board.target not in KINDS:
        raise ConfigError(board.path, "target", f"unknown target {board.target!r}; expected one of {', '.join(KINDS)}")
    return importlib.import_module(KINDS[board.target])


def validate_board(board: Board) -> set[str]:
    """Validate the target-specific part of a board and its ``[ssh]``/``[deploy]`` sections.

    Returns the top-level keys they use. SSH checks and deploys work on any target: a QEMU
    guest with a forwarded port is as good a place to run them as a board.
    """
    return _module(board).validate(board) | ssh.validate(board)


def make_target(board: Board, extra: Mapping[str, str] | None = None) -> Target:
    """Build the target a board profile describes; ``extra`` adds per-run variables."""
    return _module(board).from_board(board, dict(extra or {}))
