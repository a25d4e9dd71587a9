"""A target that ignores SIGHUP does not outlive a SIGKILL of hartbeat (case 17)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .helpers import write

STUBBORN = """
import os, signal, sys, time
signal.signal(signal.SIGHUP, signal.SIG_IGN)
open(sys.argv[1], "w").write(str(os.getpid()))
print("started", flush=True)
time.sleep(120)
"""


# The target's own child ignores SIGHUP and SIGTERM: only a kill by pid reaches it.
PARENT_OF_STUBBORN = """
import subprocess, sys, time
subprocess.Popen([sys.executable, sys.argv[1], sys.argv[2]])
time.sleep(120)
"""

STUBBORNER = STUBBORN.replace(
    "signal.signal(signal.SIGHUP", "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nsignal.signal(signal.SIGHUP"
)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1][0] == "Z"


def test_a_sighup_ignoring_target_dies_with_a_killed_hartbeat(tmp_path: Path) -> None:
    script = write(tmp_path / "stubborn.py", STUBBORN)
    pidfile = tmp_path / "target.pid"
    kill_hartbeat_and_check(tmp_path, [sys.executable, str(script), str(pidfile)], pidfile)


def test_a_sighup_ignoring_grandchild_dies_with_a_killed_hartbeat(tmp_path: Path) -> None:
    stubborn = write(tmp_path / "stubborn.py", STUBBORNER)
    parent = write(tmp_path / "parent.py", PARENT_OF_STUBBORN)
    pidfile = tmp_path / "grandchild.pid"
    kill_hartbeat_and_check(tmp_path, [sys.executable, str(parent), str(stubborn), str(pidfile)], pidfile)


def kill_hartbeat_and_check(tmp_path: Path, command: list[str], pidfile: Path) -> None:
    """Start a run of ``command``, SIGKILL hartbeat, and check the process in ``pidfile`` dies."""
    quoted = ", ".join(f'"{part}"' for part in command)
    board = write(tmp_path / "board.toml", f'target = "process"\ncommand = [{quoted}]\n')
    plan = write(tmp_path / "plan.toml", '[[milestone]]\nname = "never"\nexpect = "login:"\nwithin = "100s"\n')
    harness = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", str(plan), "--board", str(board), "--out", "run"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    target = int(pidfile.read_text())
    harness.send_signal(signal.SIGKILL)
    harness.wait(timeout=30)
    deadline = time.monotonic() + 10
    while not gone(target) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not gone(target):
        os.kill(target, signal.SIGKILL)
        raise AssertionError(f"target {target} survived the SIGKILL of hartbeat")
