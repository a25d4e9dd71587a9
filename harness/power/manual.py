"""The ``manual`` power backend: the person at the terminal flips the switch (first bring-up)."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from harness.errors import PowerError
from harness.model.board import Board
from harness.model.config import Section
from harness.power.base import PowerBackend


class ManualSwitch:
    """Asks on the terminal and waits for Enter; refuses when nobody can answer."""

    name = "manual"

    def __init__(self, board: str, *, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self.board = board
        self._stdin = stdin
        self._stdout = stdout

    def _ask(self, action: str) -> None:
        stdin = self._stdin or sys.stdin
        stdout = self._stdout or sys.stderr
        if not stdin.isatty():
            raise PowerError(
                f"power backend manual: cannot ask anyone to {action}: stdin is not a terminal "
                "(use a `command`, `http` or `ssh` backend in [power] for unattended runs)"
            )
        stdout.write(f"\nhartbeat: {action} the board {self.board}, then press Enter ")
        stdout.flush()
        if not stdin.readline():
            raise PowerError(f"power backend manual: no answer (end of input) when asked to {action}")

    def on(self) -> None:
        """Ask for the board to be switched on."""
        self._ask("switch ON")

    def off(self) -> None:
        """Ask for the board to be switched off."""
        self._ask("switch OFF")

    def cycle(self, off_time: float) -> None:
        """One question: a person power-cycles in one go, and waits long enough by nature."""
        self._ask(f"power-cycle (off, wait {off_time:g} s, on)")

    def describe(self) -> dict[str, Any]:
        """Backend name only."""
        return {"backend": self.name}


def from_section(section: Section, board: Board) -> ManualSwitch:
    """The manual switch has no settings."""
    return ManualSwitch(board.name)


BACKEND = PowerBackend(name="manual", build=from_section)
