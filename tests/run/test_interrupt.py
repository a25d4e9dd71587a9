"""Killing hartbeat mid-run keeps the whole console log, a verdict, and no child behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PLAN = """
name = "interrupt"
silence = "30s"
[[milestone]]
name = "banner"
expect = 'OpenSBI'
within = "10s"
[[milestone]]
name = "never"
expect = 'login: '
within = "60s"
"""


def wait_for(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes: it holds no console and no CPU.
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split()[2] != "Z"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_signal_mid_run(tmp_path: Path, scripted_board, sig: signal.Signals) -> None:
    pidfile = tmp_path / "target.pid"
    board = scripted_board(f"pid {pidfile}\nsay OpenSBI v1.2\ntrickle 0.01 trace line\n")
    (tmp_path / "plan.toml").write_text(PLAN)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", "plan.toml", "--board", str(board), "--out", str(out)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A test suite started in the background by a shell inherits SIGINT ignored, and Python
        # then keeps ignoring it; a user's Ctrl-C reaches a default disposition.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    wait_for(lambda: (out / "console.log").exists() and (out / "console.log").read_text().count("trace line") > 20)
    target_pid = int(pidfile.read_text())
    proc.send_signal(sig)
    _stdout, stderr = proc.communicate(timeout=60)
    assert "Traceback" not in stderr

    report = json.loads((out / "report.json").read_text())
    assert report["verdict"]["kind"] == "error"
    if sig is signal.SIGKILL:
        assert "killed" in report["verdict"]["reason"]
    else:
        assert proc.returncode == 128 + sig
        assert sig.name in report["verdict"]["reason"] or "SIGINT" in report["verdict"]["reason"]
        assert report["milestones"][0]["name"] == "banner"
        assert report["verdict"]["waiting_for"] == "never"
    # Every byte the target printed is in the raw log, and every complete line in the text log.
    raw_lines = (out / "console.raw").read_bytes().decode().replace("\r\n", "\n").split("\n")[:-1]
    log_lines = [line.split("] ", 1)[1] for line in (out / "console.log").read_text().splitlines()]
    assert log_lines[: len(raw_lines)] == raw_lines
    wait_for(lambda: not alive(target_pid), timeout=10)
