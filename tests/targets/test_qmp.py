"""The QMP client (harness/targets/qmp.py) against a real QEMU with no machine: capabilities,
commands, errors, and QEMU going away."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import TargetError
from harness.targets.qmp import QMP

QEMU = shutil.which("qemu-system-riscv64")
pytestmark = pytest.mark.skipif(QEMU is None, reason="needs qemu-system-riscv64 (make deps)")


@pytest.fixture
def qemu(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """QEMU with no machine and no display, stopped, its QMP socket made after it starts."""
    path = tmp_path / "qmp.sock"
    assert QEMU is not None
    process = subprocess.Popen(
        [QEMU, "-M", "none", "-display", "none", "-S", "-qmp", f"unix:{path},server=on,wait=off"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process, path
    finally:
        process.kill()
        process.wait(timeout=30)


def test_commands_return_their_values_and_errors_name_the_command(qemu) -> None:
    process, path = qemu
    qmp = QMP(path, timeout=20.0)
    qmp.connect()
    try:
        assert qmp.command("query-status")["status"] == "prelaunch"
        assert qmp.command("query-version")["qemu"]["major"] >= 5
        with pytest.raises(TargetError, match=r"^QMP no-such-command: "):
            qmp.command("no-such-command")
        assert qmp.command("query-status")["status"] == "prelaunch"  # still usable after an error
        qmp.command("quit")
        process.wait(timeout=20)
        with pytest.raises(TargetError, match="QMP query-status"):
            qmp.command("query-status")
    finally:
        qmp.close()
    with pytest.raises(TargetError, match="QMP is not connected"):
        qmp.command("query-status")
    qmp.close()  # twice is safe


def test_no_qemu_behind_the_socket_is_a_target_error(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match=r"QMP socket .*never.sock did not answer"):
        QMP(tmp_path / "never.sock", timeout=0.2).connect()
