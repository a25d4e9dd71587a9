"""Power backends: how a real board is switched on and off (``[power]`` in its profile).

The registry: each backend is one module that ends with ``BACKEND = PowerBackend(name, build)``
(``build(section, board) -> PowerSwitch`` reads and checks its keys without touching the
hardware) and one line in :data:`BACKENDS`; a backend's module is imported only when used.

Layer: power. May import: base, engine, autopsy, model, lab, ssh.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from harness.model.board import Board
from harness.model.config import Section
from harness.power.base import DEFAULT_OFF_TIME, PowerBackend, PowerSwitch

# name -> the module that defines its BACKEND: adding a backend is one module and one line here.
BACKENDS = {
    "manual": "harness.power.manual",
    "command": "harness.power.command",
    "http": "harness.power.http",
    "ssh": "harness.power.ssh",
    "labgrid": "harness.power.labgrid",
}

__all__ = ["BACKENDS", "Power", "PowerBackend", "PowerSwitch", "power_backend", "power_from_board"]


@dataclass(frozen=True)
class Power:
    """A board's switch and how long it stays off in a power cycle."""

    switch: PowerSwitch
    off_time: float


def power_backend(name: str, section: Section) -> PowerBackend:
    """The registered backend ``name``; an unknown one is an error on ``section``'s ``backend`` key."""
    if name not in BACKENDS:
        raise section.error("backend", f"unknown power backend {name!r}; expected one of {', '.join(BACKENDS)}")
    backend = importlib.import_module(BACKENDS[name]).BACKEND
    if not isinstance(backend, PowerBackend) or backend.name != name:
        raise TypeError(f"{BACKENDS[name]}.BACKEND must be the PowerBackend named {name!r}")
    return backend


def power_from_board(board: Board) -> Power:
    """The ``[power]`` section of a board as a switch; a bad key is a :class:`ConfigError`."""
    section = board.section("power")
    backend = section.string("backend", required=True) or ""
    off_time = section.duration("off_time", DEFAULT_OFF_TIME, allow_zero=True)
    switch = power_backend(backend, section).build(section, board)
    section.reject_unknown()
    return Power(switch=switch, off_time=off_time)
