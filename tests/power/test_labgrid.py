"""The ``labgrid`` power backend (harness/power/labgrid.py): a model checked against labgrid's own,
the driver it builds, and a switch that does not answer named by driver and model.
A run switched through it, against a plug on loopback, is tests/lab/test_labgrid_power.py's."""

from __future__ import annotations

import socket

import pytest

from harness.errors import ConfigError, PowerError
from harness.power import power_from_board

pytest.importorskip("labgrid", reason="the labgrid extra is not installed")


def test_an_unknown_model_names_labgrids_models(board_with_power) -> None:
    with pytest.raises(ConfigError) as error:
        board_with_power('backend = "labgrid"\nmodel = "no-such-pdu"\nhost = "pdu"\n')
    message = str(error.value)
    assert ": power.model: labgrid has no power model 'no-such-pdu'; expected one of " in message
    assert "shelly_gen1" in message and "gude" in message


def test_a_known_model_is_labgrids_network_power_driver(board_with_power) -> None:
    power = power_from_board(board_with_power('backend = "labgrid"\nmodel = "gude"\nhost = "pdu-3.lab"\nindex = 5\n'))
    assert power.switch.describe() == {
        "backend": "labgrid",
        "driver": "NetworkPowerDriver",
        "model": "gude",
        "host": "pdu-3.lab",
        "index": 5,
    }


def test_a_switch_that_does_not_answer_is_a_power_error_naming_driver_and_model(board_with_power) -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    power = power_from_board(
        board_with_power(f'backend = "labgrid"\nmodel = "shelly_gen1"\nhost = "http://127.0.0.1:{port}"\n')
    )
    with pytest.raises(PowerError) as error:
        power.switch.on()
    assert str(error.value).startswith(
        f"labgrid power NetworkPowerDriver (model=shelly_gen1, host=http://127.0.0.1:{port}, index=0) "
        "failed to switch on: "
    )
