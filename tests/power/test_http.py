"""The ``http`` power backend: a plug on loopback that refuses a wrong password, and URLs shown redacted."""

from __future__ import annotations

import pytest

from harness.errors import PowerError
from harness.power import power_from_board
from harness.power.http import redact_url
from tests.lab.conftest import PLUG_PASSWORD
from tests.lab.virtual import PowerSwitchServer, VirtualBoard


def test_http_backend_wrong_password_is_a_power_error(tmp_path, monkeypatch, board_with_power):
    board = VirtualBoard(tmp_path)
    server = PowerSwitchServer(board, password=PLUG_PASSWORD)
    monkeypatch.setenv("PLUG_PW", "wrong-password")
    try:
        power = power_from_board(
            board_with_power(
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


def test_urls_are_redacted_in_messages_and_reports():
    assert redact_url("http://admin:pw@plug/cm?user=admin&password=joker&cmnd=Power%20On") == (
        "http://plug/cm?user=admin&password=***&cmnd=Power+On"
    )
    assert redact_url("http://plug/cm?cmnd=Power%20On") == "http://plug/cm?cmnd=Power%20On"


def test_secret_looking_query_values_are_masked() -> None:
    shown = redact_url("http://pdu/api?user=lab&pwd=hunter2&pw=x1&session=abc&outlet=3")
    assert "hunter2" not in shown and "x1" not in shown and "abc" not in shown
    assert "outlet=3" in shown and "user=lab" in shown
