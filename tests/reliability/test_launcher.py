"""A launcher that starts the real console program in the background and exits (case 10)."""

from __future__ import annotations

import sys
from pathlib import Path

from .helpers import hartbeat, write

CONSOLE = """
import sys, time
time.sleep(0.5)
print("booting", flush=True)
time.sleep(1.0)
print("login:", flush=True)
"""


def test_the_run_reads_until_the_last_writer_closes_the_console(tmp_path: Path) -> None:
    program = write(tmp_path / "console.py", CONSOLE)
    # The launcher backgrounds the program immune to the hang-up its own exit sends (as launchers
    # do: otherwise the kernel kills it with the session and there is nothing left to read).
    launcher = f"trap '' HUP; {sys.executable} {program} & exit 0"
    board = write(
        tmp_path / "board.toml",
        f'name = "launched"\ntarget = "process"\ncommand = ["sh", "-c", "{launcher}"]\n',
    )
    plan = write(
        tmp_path / "plan.toml",
        '[[milestone]]\nname = "boot"\nexpect = "booting"\n[[milestone]]\nname = "login"\nexpect = "login:"\n',
    )
    proc = hartbeat("run", str(plan), "--board", str(board), "--out", "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "login:" in (tmp_path / "run" / "console.log").read_text()


def test_a_program_that_exits_still_ends_the_console(tmp_path: Path) -> None:
    board = write(tmp_path / "board.toml", f'target = "process"\ncommand = ["{sys.executable}", "-c", "print(1)"]\n')
    plan = write(tmp_path / "plan.toml", '[[milestone]]\nname = "never"\nexpect = "login:"\nwithin = "60s"\n')
    proc = hartbeat("run", str(plan), "--board", str(board), "--out", "run", cwd=tmp_path)
    assert proc.returncode == 1 and "process exited with status 0" in proc.stdout, proc.stdout
