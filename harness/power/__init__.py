"""Power backends: how a real board is switched on and off (``[power]`` in its profile).

Each backend lives in its own module with ``from_section(section, board) -> PowerSwitch``,
which reads and checks its keys without touching the hardware.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from harness.board import Board
from harness.power.base import DEFAULT_OFF_TIME, PowerSwitch

BACKENDS = {
    "manual": "harness.power.manual",
    "command": "harness.power.command",
    "http": "harness.power.http",
    "ssh": "harness.power.ssh",
    "labgrid": "harness.power.labgrid",
}

__all__ = ["BACKENDS", "Power", "PowerSwitch", "power_from_board"]


@dataclass(frozen=True)
class Power:
    """A board's switch and how long it stays off in a power cycle."""

    switch: PowerSwitch
    off_time: float


def power_from_board(board: Board) -> Power:
    """The ``[power]`` section of a board as a switch; a bad key is a :class:`ConfigError`."""
    section = board.section("power")
    backend = section.string("backend", required=True) or ""
    if backend not in BACKENDS:
        raise section.error("backend", f"unknown power backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    off_time = section.duration("off_time", DEFAULT_OFF_TIME, allow_zero=True)
    switch = importlib.import_module(BACKENDS[backend]).from_section(section, board)
    section.reject_unknown()
    return Power(switch=switch, off_time=DEFAULT_OFF_TIME if off_time is None else off_time)
