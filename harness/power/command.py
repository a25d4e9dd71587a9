"""The ``command`` power backend: a program switches the power (usbrelay, uhubctl, sispmctl ...).

``on``, ``off`` and the optional ``cycle`` are argv lists run without a shell, so a relay name
with spaces or a ``;`` is passed as it is; ``shell = true`` takes one string per action instead.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from typing import Any

from harness.errors import PowerError
from harness.model.board import Board
from harness.model.config import Section
from harness.power.base import DEFAULT_TIMEOUT, PowerBackend, off_wait_on

REPLY_LIMIT = 300


@dataclass(frozen=True)
class Action:
    """One command: an argv list, or a single string when it goes through the shell."""

    argv: tuple[str, ...]
    shell: bool

    def __str__(self) -> str:
        return self.argv[0] if self.shell else shlex.join(self.argv)


class CommandSwitch:
    """Runs a command per action; a non-zero exit or a timeout is a :class:`PowerError`."""

    name = "command"

    def __init__(self, on: Action, off: Action, cycle: Action | None, timeout: float) -> None:
        self.actions = {"on": on, "off": off}
        self.cycle_action = cycle
        self.timeout = timeout

    def _run(self, label: str, action: Action) -> None:
        command: str | list[str] = action.argv[0] if action.shell else list(action.argv)
        try:
            done = subprocess.run(
                command,
                shell=action.shell,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError:
            raise PowerError(f"power backend command: {label}: program not found: {action}") from None
        except subprocess.TimeoutExpired:
            raise PowerError(
                f"power backend command: {label}: `{action}` still running after {self.timeout:g} s"
            ) from None
        except OSError as exc:
            raise PowerError(f"power backend command: {label}: cannot run `{action}`: {exc}") from None
        if done.returncode != 0:
            reply = (done.stderr.strip() or done.stdout.strip() or "no output")[:REPLY_LIMIT]
            raise PowerError(f"power backend command: {label}: `{action}` exited {done.returncode}: {reply}")

    def on(self) -> None:
        """Run the ``on`` command."""
        self._run("on", self.actions["on"])

    def off(self) -> None:
        """Run the ``off`` command."""
        self._run("off", self.actions["off"])

    def cycle(self, off_time: float) -> None:
        """The ``cycle`` command when given (it owns the timing), else off, wait, on."""
        if self.cycle_action is not None:
            self._run("cycle", self.cycle_action)
            return
        off_wait_on(self, off_time)

    def describe(self) -> dict[str, Any]:
        """The commands, as they will be run."""
        described = {"backend": self.name, **{label: str(action) for label, action in self.actions.items()}}
        if self.cycle_action is not None:
            described["cycle"] = str(self.cycle_action)
        return described


def _action(section: Section, board: Board, key: str, shell: bool, *, required: bool) -> Action | None:
    value = section.raw(key)
    if value is None:
        if required:
            raise section.error(key, 'missing; expected a command, e.g. ["usbrelay", "HURTM_1=1"]')
        return None
    if shell:
        if not isinstance(value, str) or not value.strip():
            raise section.error(key, f"with shell = true, expected one command string, got {value!r}")
        # Substituted values are quoted: an image path from `--image` must not inject commands.
        return Action((board.expand(value, section.key(key), quote=shlex.quote),), shell=True)
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise section.error(
            key,
            f'expected an argv list such as ["uhubctl", "-l", "1-1", "-a", "off"] (or set shell = true), got {value!r}',
        )
    return Action(tuple(board.expand(item, f"{section.key(key)}[{i}]") for i, item in enumerate(value)), shell=False)


def from_section(section: Section, board: Board) -> CommandSwitch:
    """Read ``on``, ``off``, ``cycle``, ``shell`` and ``timeout``."""
    shell = section.boolean("shell")
    on = _action(section, board, "on", shell, required=True)
    off = _action(section, board, "off", shell, required=True)
    assert on is not None and off is not None
    cycle = _action(section, board, "cycle", shell, required=False)
    timeout = section.duration("timeout", DEFAULT_TIMEOUT)
    return CommandSwitch(on, off, cycle, timeout)


BACKEND = PowerBackend(name="command", build=from_section)
