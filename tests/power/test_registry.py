"""The power registry (``harness.power``): one module per backend, configuration errors name file and key."""

from __future__ import annotations

import importlib

import pytest

from harness.errors import ConfigError
from harness.power import BACKENDS, power_from_board
from harness.power.base import DEFAULT_OFF_TIME, PowerBackend


@pytest.mark.slow  # imports every backend (labgrid, paramiko, the probes): about 1 s
def test_every_registered_module_defines_the_backend_of_its_name() -> None:
    for name, module in BACKENDS.items():
        backend = importlib.import_module(module).BACKEND
        assert isinstance(backend, PowerBackend) and backend.name == name, module


def test_off_time_defaults_and_can_be_zero(board_with_power) -> None:
    assert power_from_board(board_with_power('backend = "manual"\n')).off_time == DEFAULT_OFF_TIME
    assert power_from_board(board_with_power('backend = "manual"\noff_time = "0s"\n')).off_time == 0.0
    assert power_from_board(board_with_power('backend = "manual"\noff_time = "500ms"\n')).off_time == 0.5


@pytest.mark.parametrize(
    ("power", "message"),
    [
        ('backend = "pdu9000"', "power.backend: unknown power backend 'pdu9000'; expected one of manual, command"),
        ('backend = "command"\non = "usbrelay X=1"\noff = ["true"]', "power.on: expected an argv list"),
        ('backend = "http"\non = "ftp://plug/on"\noff = "http://plug/off"', "power.on.url: expected an http://"),
        ('backend = "http"\non = "http://p/on"\noff = "http://p/off"\nofftime = "2s"', "did you mean 'off_time'"),
        ('backend = "manual"\noff_time = "soon"', 'power.off_time: expected a duration like "15s"'),
    ],
)
def test_power_configuration_errors_name_file_and_key(tmp_path, board_with_power, power, message):
    with pytest.raises(ConfigError) as error:
        board_with_power(power)
    assert message in str(error.value)
    assert str(tmp_path / "b.toml") in str(error.value)
