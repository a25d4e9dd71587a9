"""An interrupt before the run began says nothing was written (case 16)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from .helpers import write

# A pre-boot check that takes a while: a QEMU binary that answers `-machine help` slowly.
SLOW_QEMU = """#!/bin/sh
exec sleep 30
"""


def test_sigint_during_the_preboot_checks_says_nothing_was_written(tmp_path: Path) -> None:
    qemu = write(tmp_path / "slow-qemu", SLOW_QEMU)
    qemu.chmod(0o755)
    board = write(tmp_path / "board.toml", f'target = "qemu"\n[qemu]\nmachine = "virt"\nbinary = "{qemu}"\n')
    plan = write(tmp_path / "plan.toml", '[[milestone]]\nname = "a"\nexpect = "ok"\n')
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", str(plan), "--board", str(board), "--out", "run"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # SIGINT as a terminal would deliver it, even under a runner that ignores it (a
        # background job of a non-interactive shell does, and its children inherit that).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(3)  # inside `-machine help`, before any run folder
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "nothing was written" in err and "report were written" not in err, err
    assert not (tmp_path / "run").exists()
