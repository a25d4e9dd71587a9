"""The ``ssh`` power backend (harness/power/ssh.py): commands read with their values quoted for the
controller's shell, the report without the secret, and a controller that cannot be reached.
Switching through a real sshd is tests/lab/test_ssh_lab.py's."""

from __future__ import annotations

import socket

import pytest

from harness.errors import ConfigError, PowerError
from harness.power import power_from_board

SSH = 'backend = "ssh"\nhost = "127.0.0.1"\nuser = "relay"\n'


def test_commands_are_read_with_substituted_values_quoted(board_with_power) -> None:
    power = power_from_board(
        board_with_power(
            SSH + 'password_env = "RELAY_PW"\non = "relay {plug} on"\noff = "relay {plug} off"\n'
            '[variables]\nplug = "3; reboot"\n'
        )
    )
    shown = power.switch.describe()
    assert shown["backend"] == "ssh" and shown["where"] == "relay@127.0.0.1:22"
    assert shown["auth"] == "password from $RELAY_PW" and "cycle" not in shown
    assert shown["on"] == "relay '3; reboot' on"  # one word on the controller, not two commands


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ('off = "x"\n', "power.on", "missing; expected a string"),
        ('on = "x"\noff = "y"\ncommand_timeout = "never"\n', "power.command_timeout", "expected a duration"),
        ('on = "x"\noff = "y"\nport = 0\n', "power.port", "expected a TCP port"),
    ],
)
def test_a_bad_ssh_power_section_names_the_key(board_with_power, extra: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as error:
        board_with_power(SSH + extra)
    assert f": {key}: " in str(error.value) and words in str(error.value)


def test_a_controller_nobody_answers_is_a_power_error_naming_the_action(board_with_power) -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    power = power_from_board(
        board_with_power(SSH + f'port = {port}\ntimeout = "2s"\ninsecure_ignore_host_key = true\non = "a"\noff = "b"\n')
    )
    with pytest.raises(PowerError, match=r"^power backend ssh: on: "):
        power.switch.on()
