"""Targets: the serial board, QEMU, the in-repo emulator, any console process, a labgrid place.

The registry: each kind is one module that ends with ``KIND = TargetKind(...)`` (name, validate,
build, preflight, copies; see :class:`~harness.targets.base.TargetKind`) and one line in
:data:`KINDS`. A kind's module is imported only when a board of that kind is used, so loading a
QEMU profile never imports pyserial or labgrid.

The emulator's machine table (``harness.emulator.boards``) is read to know a board's machines;
the emulator itself runs as its own process.

Layer: targets. May import: base, emulator, engine, autopsy, model, lab, ssh, power.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from harness.engine.console import Transport
from harness.errors import ConfigError
from harness.model.board import Board
from harness.targets.base import Target, TargetKind

# name -> the module that defines its KIND: adding a target kind is one module and one line here.
KINDS = {
    "process": "harness.targets.process",
    "qemu": "harness.targets.qemu",
    "emulator": "harness.targets.emulator",
    "serial": "harness.targets.serial",
    "labgrid": "harness.targets.labgrid",
}

__all__ = [
    "KINDS",
    "Target",
    "TargetKind",
    "Transport",
    "effective_time_scale",
    "host_time_scale",
    "make_target",
    "target_kind",
    "validate_target",
]


def target_kind(name: str, source: object = "target") -> TargetKind:
    """The registered kind ``name``; an unknown one is a :class:`ConfigError` listing the kinds.

    ``source`` names where the name came from (a board profile's path) for the message.
    """
    if name not in KINDS:
        raise ConfigError(str(source), "target", f"unknown target {name!r}; expected one of {', '.join(KINDS)}")
    kind = importlib.import_module(KINDS[name]).KIND
    if not isinstance(kind, TargetKind) or kind.name != name:
        raise TypeError(f"{KINDS[name]}.KIND must be the TargetKind named {name!r}")
    return kind


def validate_target(board: Board) -> set[str]:
    """Validate the target kind's own part of a board; returns the top-level keys it uses."""
    return target_kind(board.target, board.path).validate(board)


def effective_time_scale(board: Board) -> float:
    """The board's ``time_scale`` as its kind will run it."""
    scale = target_kind(board.target, board.path).time_scale
    return board.time_scale if scale is None else scale(board)


def host_time_scale(board: Board) -> float:
    """How many host seconds one second of a plan may take on this board at most."""
    scale = target_kind(board.target, board.path).host_scale
    return board.time_scale * (1.0 if scale is None else scale(board))


def make_target(board: Board, extra: Mapping[str, str] | None = None) -> Target:
    """Build the target a board profile describes; ``extra`` adds per-run variables."""
    return target_kind(board.target, board.path).build(board, dict(extra or {}))
