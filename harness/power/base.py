"""The :class:`PowerSwitch` protocol every power backend implements, and what a backend is."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from harness.model.board import Board
from harness.model.config import Section

DEFAULT_OFF_TIME = 2.0
DEFAULT_TIMEOUT = 10.0


@runtime_checkable
class PowerSwitch(Protocol):
    """Switches one board's power. Every failure raises :class:`harness.errors.PowerError`.

    ``on`` and ``off`` must be safe to repeat: a run switches off a board that is already off.
    """

    name: str

    def on(self) -> None:
        """Switch the board on."""

    def off(self) -> None:
        """Switch the board off."""

    def cycle(self, off_time: float) -> None:
        """Off, wait ``off_time`` seconds, on."""

    def describe(self) -> dict[str, Any]:
        """The backend and what it talks to, for the report; never a secret."""


def off_wait_on(switch: PowerSwitch, off_time: float) -> None:
    """A power cycle for backends without a native one: off, ``off_time`` for the rails to drain, on."""
    switch.off()
    time.sleep(off_time)
    switch.on()


@dataclass(frozen=True)
class PowerBackend:
    """One power backend, as the registry in :mod:`harness.power` knows it.

    ``build`` reads and checks the ``[power]`` keys of a board (the section's ``backend`` and
    ``off_time`` are read already) without touching the hardware, and returns the switch.
    """

    name: str
    build: Callable[[Section, Board], PowerSwitch]
