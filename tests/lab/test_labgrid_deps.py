"""labgrid's fork of pyserial is the ``serial`` module of the one environment (README, "labgrid lab")."""

from __future__ import annotations

from importlib.metadata import version

import pytest


def test_serial_module_is_the_labgrid_fork_when_labgrid_is_installed() -> None:
    pytest.importorskip("labgrid", reason="the labgrid extra is not installed")
    import serial
    import serial.rfc2217

    # Both distributions install `serial`; the venv step writes the fork last, so the module the
    # serial engine and its tests use is the one labgrid was written for.
    assert serial.__version__ == version("pyserial-labgrid")
    # The fork's RFC2217 client keeps a timeout change local instead of renegotiating the port,
    # which matters here: the serial transport adjusts its read timeout between reads.
    assert "timeout" in vars(serial.rfc2217.Serial)
