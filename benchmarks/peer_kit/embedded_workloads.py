"""The peers.py workloads as pytest-embedded tests, run by ``benchmarks/peers.py`` (not by ``make test``).

The settings come as JSON in ``HARTBEAT_PEER``; each test writes what it measured to the file
named there. Written as a pytest-embedded user writes tests: the ``dut`` fixture (serial service
on the scripted board's pty, or the qemu service for U-Boot) and ``dut.expect``.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pexpect
import pytest

CONFIG: dict[str, Any] = json.loads(os.environ.get("HARTBEAT_PEER", "{}"))


def publish(data: dict[str, Any]) -> None:
    """Hand the figures back to peers.py."""
    Path(CONFIG["result"]).write_text(json.dumps(data))


def expect_kwargs() -> dict[str, float]:
    """The expect timeout: the tool's own default unless peers.py sets one."""
    return {} if CONFIG.get("timeout") is None else {"timeout": CONFIG["timeout"]}


@pytest.fixture
def started() -> float:
    """The moment before the dut fixture (and with it QEMU) starts."""
    return time.monotonic()


def test_firehose(dut: Any) -> None:
    """Expect the end marker or any fail pattern, within the budget."""
    patterns: list[Any] = [re.compile(p.encode()) for p in [CONFIG["marker"], *CONFIG["fails"]]]
    dut.expect([*patterns, pexpect.TIMEOUT], timeout=CONFIG["budget"])
    ended = time.monotonic()
    proc = dut.pexpect_proc
    index = proc.match_index
    consumed = len(proc.before or b"") + (len(proc.after) if isinstance(proc.after, bytes) else 0)
    found = "timeout" if index == len(patterns) else ("end" if index == 0 else CONFIG["fail_names"][index - 1])
    publish({"ended": ended, "bytes": consumed, "found": found})


def test_login(dut: Any) -> None:
    """Wait for the login prompt; a panic line is listed as ``not_matching``, as its docs suggest."""
    try:
        dut.expect(
            re.compile(rb"login: "), not_matching=[re.compile(rb"Kernel panic - not syncing")], **expect_kwargs()
        )
        message = "login prompt matched"
    except (pexpect.TIMEOUT, pexpect.EOF, ValueError) as exc:
        message = f"{type(exc).__name__}: {exc}"
    publish({"ended": time.monotonic(), "message": message})


@pytest.mark.parametrize("run", range(int(CONFIG.get("runs", 1))))
def test_uboot(started: float, dut: Any, run: int) -> None:
    """The uboot-smoke plan by hand: banners, stop autoboot, `version`, `echo`, `poweroff`."""
    for pattern in (rb"OpenSBI v[0-9.]+", rb"Platform Name\s*: .+", rb"Boot HART ID\s*: \d+", rb"U-Boot 20\d\d\.\d\d"):
        dut.expect(re.compile(pattern), timeout=30)
    dut.expect("Hit any key to stop autoboot", timeout=30)
    dut.write("")
    dut.expect("=> ", timeout=10)
    dut.write("version")
    dut.expect(re.compile(rb"^U-Boot 20\d\d\.\d\d", re.M), timeout=10)
    dut.expect("=> ", timeout=10)
    dut.write("echo hartbeat-smoke-marker")
    dut.expect(re.compile(rb"^hartbeat-smoke-marker\r?$", re.M), timeout=10)
    dut.write("poweroff")
    dut.qemu.wait(timeout=15)  # the Qemu service is a Popen: waiting for the exit is the user's job
    wall = time.monotonic() - started
    path = Path(CONFIG["result"])
    walls = json.loads(path.read_text())["walls"] if path.exists() else []
    publish({"walls": [*walls, wall]})
