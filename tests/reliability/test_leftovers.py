"""Nothing outlives power-off (case 17): setsid grandchildren, stale QMP folders of killed runs."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from harness.targets.qemu import TMP_PREFIX, sweep_stale_folders

from .helpers import hartbeat, write

ESCAPER = """
import os, subprocess, sys, time
pidfile = sys.argv[1]
# A grandchild in a session of its own: the process group kill at power-off cannot reach it.
# It prints nothing, so no write error ends it once the console is gone.
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
open(pidfile, "w").write(str(child.pid))
print("started", flush=True)
time.sleep(60)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie waiting for its parent counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def test_a_setsid_grandchild_holding_the_console_dies_at_power_off(tmp_path: Path) -> None:
    script = write(tmp_path / "escaper.py", ESCAPER)
    pidfile = tmp_path / "grandchild.pid"
    board = write(
        tmp_path / "board.toml", f'target = "process"\ncommand = ["{sys.executable}", "{script}", "{pidfile}"]\n'
    )
    plan = write(tmp_path / "plan.toml", '[[milestone]]\nname = "up"\nexpect = "started"\nwithin = "20s"\n')
    proc = hartbeat("run", str(plan), "--board", str(board), "--out", "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(grandchild):
        os.kill(grandchild, 9)
        raise AssertionError(f"grandchild {grandchild} survived power-off")


def test_qmp_folders_of_killed_runs_are_swept() -> None:
    base = Path(tempfile.gettempdir())
    dead = base / f"{TMP_PREFIX}999999999-test"
    mine = base / f"{TMP_PREFIX}{os.getpid()}-test"
    for folder in (dead, mine):
        folder.mkdir(exist_ok=True)
        (folder / "qmp.sock").write_text("")
    try:
        sweep_stale_folders()
        assert not dead.exists()
        assert mine.exists()  # its owner is alive
    finally:
        for folder in (dead, mine):
            if folder.exists():
                (folder / "qmp.sock").unlink()
                folder.rmdir()
