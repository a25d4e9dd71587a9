"""Power backends on their own: replies, failures and configuration errors name what to fix."""

from __future__ import annotations

import io
import sys

import pytest

from harness.errors import ConfigError, PowerError
from harness.power import power_from_board
from harness.power.http import redact_url
from harness.power.manual import ManualSwitch
from harness.run.board_loader import load_board

from .conftest import PLUG_PASSWORD, write
from .virtual import PowerSwitchServer, VirtualBoard


def board_with_power(tmp_path, power: str):
    path = write(
        tmp_path / "b.toml",
        f'name = "b"\ntarget = "serial"\n[serial]\nport = "/dev/ttyUSB1"\n[power]\n{power}',
    )
    return load_board(str(path))


def test_command_backend_runs_argv_without_a_shell(tmp_path):
    marker = tmp_path / "state"
    script = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text(sys.argv[2])"
    power = power_from_board(
        board_with_power(
            tmp_path,
            f'backend = "command"\non = ["{sys.executable}", "-c", "{script}", "{marker}", "on; rm -rf x"]\n'
            f'off = ["{sys.executable}", "-c", "{script}", "{marker}", "off"]\noff_time = "0s"\n',
        )
    )
    power.switch.cycle(power.off_time)
    assert marker.read_text() == "on; rm -rf x"


def test_command_backend_failure_names_backend_and_reply(tmp_path):
    power = power_from_board(
        board_with_power(
            tmp_path, 'backend = "command"\nshell = true\non = "echo relay 3 jammed >&2; exit 4"\noff = "true"\n'
        )
    )
    with pytest.raises(PowerError, match=r"power backend command: on: `echo relay 3 .*` exited 4: relay 3 jammed"):
        power.switch.on()


def test_command_backend_missing_program(tmp_path):
    power = power_from_board(
        board_with_power(tmp_path, 'backend = "command"\non = ["no-such-relay-tool"]\noff = ["true"]\n')
    )
    with pytest.raises(PowerError, match="program not found: no-such-relay-tool"):
        power.switch.on()


def test_http_backend_wrong_password_is_a_power_error(tmp_path, monkeypatch):
    board = VirtualBoard(tmp_path)
    server = PowerSwitchServer(board, password=PLUG_PASSWORD)
    monkeypatch.setenv("PLUG_PW", "wrong-password")
    try:
        power = power_from_board(
            board_with_power(
                tmp_path,
                f'backend = "http"\non = "{server.url("Power")}"\noff = "{server.url("Power")}"\n'
                'user = "admin"\npassword_env = "PLUG_PW"\n',
            )
        )
        with pytest.raises(PowerError, match=r"power backend http: on: GET .*: status 401, expected 200: .*Need user"):
            power.switch.on()
        monkeypatch.delenv("PLUG_PW")
        with pytest.raises(PowerError, match=r"environment variable PLUG_PW \(power.password_env\) is not set"):
            power.switch.off()
    finally:
        server.close()
        board.close()


def test_manual_backend_refuses_without_a_terminal():
    switch = ManualSwitch("unmatched", stdin=io.StringIO("\n"), stdout=io.StringIO())
    with pytest.raises(PowerError, match="stdin is not a terminal"):
        switch.on()


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
def test_power_configuration_errors_name_file_and_key(tmp_path, power, message):
    with pytest.raises(ConfigError) as error:
        board_with_power(tmp_path, power)
    assert message in str(error.value)
    assert str(tmp_path / "b.toml") in str(error.value)


def test_urls_are_redacted_in_messages_and_reports():
    assert redact_url("http://admin:pw@plug/cm?user=admin&password=joker&cmnd=Power%20On") == (
        "http://plug/cm?user=admin&password=***&cmnd=Power+On"
    )
    assert redact_url("http://plug/cm?cmnd=Power%20On") == "http://plug/cm?cmnd=Power%20On"
