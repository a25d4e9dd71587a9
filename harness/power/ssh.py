"""The ``ssh`` power backend: a command on a lab controller (a Raspberry Pi driving relays ...).

``host``, ``port``, ``user``, ``key_file``, ``password_env``, ``known_hosts`` and
``insecure_ignore_host_key`` are read as for ``[ssh]``; ``on``, ``off`` and the optional
``cycle`` are shell command lines run on the controller.
"""

from __future__ import annotations

import shlex
from typing import Any

from harness.errors import PowerError, TargetError
from harness.model.board import Board
from harness.model.config import Section
from harness.power.base import DEFAULT_TIMEOUT, PowerBackend, off_wait_on
from harness.ssh.client import connect, run_command
from harness.ssh.settings import SshSettings, describe, read_settings

REPLY_LIMIT = 300


class SshSwitch:
    """Runs the action's command on the controller; a non-zero exit is a :class:`PowerError`."""

    name = "ssh"

    def __init__(self, settings: SshSettings, commands: dict[str, str], timeout: float) -> None:
        self.settings = settings
        self.commands = commands
        self.timeout = timeout

    def _run(self, label: str) -> None:
        command = self.commands[label]
        try:
            client = connect(self.settings)
        except TargetError as exc:
            raise PowerError(f"power backend ssh: {label}: {exc}") from None
        try:
            result = run_command(client, command, self.timeout)
        except TimeoutError as exc:
            raise PowerError(f"power backend ssh: {label} on {self.settings.where}: {exc}") from None
        except (OSError, EOFError) as exc:
            raise PowerError(f"power backend ssh: {label} on {self.settings.where}: `{command}`: {exc}") from None
        finally:
            client.close()
        if result.status != 0:
            reply = " ".join(result.output.split())[:REPLY_LIMIT] or "no output"
            raise PowerError(
                f"power backend ssh: {label} on {self.settings.where}: `{command}` exited {result.status}: {reply}"
            )

    def on(self) -> None:
        """Run the ``on`` command on the controller."""
        self._run("on")

    def off(self) -> None:
        """Run the ``off`` command on the controller."""
        self._run("off")

    def cycle(self, off_time: float) -> None:
        """The ``cycle`` command when given, else off, wait, on."""
        if "cycle" in self.commands:
            self._run("cycle")
            return
        off_wait_on(self, off_time)

    def describe(self) -> dict[str, Any]:
        """Where the controller is and the commands."""
        return {"backend": self.name, **describe(self.settings), **self.commands}


def from_section(section: Section, board: Board) -> SshSwitch:
    """Read the controller's login and the ``on``/``off``/``cycle`` commands."""
    settings = read_settings(section, board)
    commands = {}
    for key in ("on", "off", "cycle"):
        command = section.string(key, required=key != "cycle")
        if command is not None:
            # The controller runs it through its shell: substituted values are quoted.
            commands[key] = board.expand(command, section.key(key), quote=shlex.quote)
    timeout = section.duration("command_timeout", DEFAULT_TIMEOUT)
    return SshSwitch(settings, commands, timeout)


BACKEND = PowerBackend(name="ssh", build=from_section)
