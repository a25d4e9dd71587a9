"""The serial target's BREAK, which the autopsy's SysRq probe sends before each key."""

from __future__ import annotations

from typing import cast

import pytest
import serial

from harness.errors import TargetError
from harness.targets.serial import Port, SerialTransport


def loop_port() -> Port:
    return cast(Port, serial.serial_for_url("loop://", timeout=0.1))


def test_a_break_goes_out_on_an_open_port_and_the_line_still_carries_bytes() -> None:
    transport = SerialTransport("loop://", loop_port, reopen_timeout=1.0)
    transport.open()
    try:
        transport.send_break()
        transport.write(b"l")
        assert transport.read(16, 1.0) == b"l"
    finally:
        transport.close()


def test_a_break_on_a_console_that_is_not_open_says_so() -> None:
    transport = SerialTransport("loop://", loop_port, reopen_timeout=1.0)
    with pytest.raises(TargetError, match=r"cannot send a BREAK: console loop:// is not open"):
        transport.send_break()
