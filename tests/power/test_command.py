"""The ``command`` power backend: argv without a shell, failures naming the backend and the reply."""

from __future__ import annotations

import sys

import pytest

from harness.errors import PowerError
from harness.power import power_from_board


def test_command_backend_runs_argv_without_a_shell(tmp_path, board_with_power):
    marker = tmp_path / "state"
    script = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text(sys.argv[2])"
    power = power_from_board(
        board_with_power(
            f'backend = "command"\non = ["{sys.executable}", "-c", "{script}", "{marker}", "on; rm -rf x"]\n'
            f'off = ["{sys.executable}", "-c", "{script}", "{marker}", "off"]\noff_time = "0s"\n',
        )
    )
    power.switch.cycle(power.off_time)
    assert marker.read_text() == "on; rm -rf x"


def test_command_backend_failure_names_backend_and_reply(board_with_power):
    power = power_from_board(
        board_with_power('backend = "command"\nshell = true\non = "echo relay 3 jammed >&2; exit 4"\noff = "true"\n')
    )
    with pytest.raises(PowerError, match=r"power backend command: on: `echo relay 3 .*` exited 4: relay 3 jammed"):
        power.switch.on()


def test_command_backend_missing_program(board_with_power):
    power = power_from_board(board_with_power('backend = "command"\non = ["no-such-relay-tool"]\noff = ["true"]\n'))
    with pytest.raises(PowerError, match="program not found: no-such-relay-tool"):
        power.switch.on()
