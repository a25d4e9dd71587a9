"""The keeper: what it runs dies with hartbeat, not with the thread that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

# A stand-in for hartbeat: starts `sleep` under the keeper from a thread that ends soon after,
# prints the keeper's pid, then lives on until killed.
PARENT = textwrap.dedent("""
    import subprocess, sys, threading, time
    from harness.targets.process import keeper_argv
    started = []
    def start():
        started.append(subprocess.Popen(keeper_argv(["sleep", "60"]), start_new_session=True))
        # The thread lives on until the keeper has asked for the parent-death signal.
        time.sleep(1.0)
    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
    print(started[0].pid, flush=True)
    time.sleep(60)
""")
ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is not alive.
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(") ", 1)[1].split()[0] != "Z"


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_the_end_of_the_starting_thread_leaves_the_command_running_and_hartbeats_death_ends_it() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    keeper = None
    try:
        assert parent.stdout is not None
        keeper = int(parent.stdout.readline())
        # The thread that started it has ended (the kernel sent the parent-death signal then).
        time.sleep(1.0)
        assert _alive(keeper), "the keeper died with the thread that started it"
        parent.kill()
        parent.wait(10)
        assert _gone_within(keeper, 10.0), "the keeper outlived hartbeat"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
        if keeper is not None and _alive(keeper):
            os.killpg(keeper, signal.SIGKILL)
