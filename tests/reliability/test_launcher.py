"""A launcher that starts the real console program in the background and exits (case 10)."""

from __future__ import annotations

import sys
import time
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
    # A plain launcher: the program does not ignore SIGHUP, so it lives only because the launcher
    # is not the session leader (the keeper is, and waits for it).
    launcher = f"{sys.executable} {program} & exit 0"
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


def test_the_launchers_own_exit_status_is_the_verdicts(tmp_path: Path) -> None:
    program = write(tmp_path / "console.py", CONSOLE)
    launcher = f"{sys.executable} {program} & exit 3"
    board = write(tmp_path / "board.toml", f'target = "process"\ncommand = ["sh", "-c", "{launcher}"]\n')
    plan = write(tmp_path / "plan.toml", '[[milestone]]\nname = "never"\nexpect = "shell#"\nwithin = "60s"\n')
    proc = hartbeat("run", str(plan), "--board", str(board), "--out", "run", cwd=tmp_path)
    assert proc.returncode == 1 and "process exited with status 3" in proc.stdout, proc.stdout
    assert "login:" in (tmp_path / "run" / "console.log").read_text()


def test_a_program_that_exits_still_ends_the_console(tmp_path: Path) -> None:
    board = write(tmp_path / "board.toml", f'target = "process"\ncommand = ["{sys.executable}", "-c", "print(1)"]\n')
    plan = write(tmp_path / "plan.toml", '[[milestone]]\nname = "never"\nexpect = "login:"\nwithin = "60s"\n')
    proc = hartbeat("run", str(plan), "--board", str(board), "--out", "run", cwd=tmp_path)
    assert proc.returncode == 1 and "process exited with status 0" in proc.stdout, proc.stdout


def test_a_command_killed_by_a_signal_is_reported_so(tmp_path: Path) -> None:
    # The keeper dies of the command's signal, so the verdict names it, not the keeper's exit.
    board = write(tmp_path / "board.toml", 'target = "process"\ncommand = ["sh", "-c", "echo up; kill -KILL $$"]\n')
    plan = write(tmp_path / "plan.toml", '[[milestone]]\nname = "never"\nexpect = "login:"\nwithin = "60s"\n')
    proc = hartbeat("run", str(plan), "--board", str(board), "--out", "run", cwd=tmp_path)
    assert proc.returncode == 1 and "process killed by signal 9" in proc.stdout, proc.stdout


def test_a_daemon_that_let_go_of_the_console_does_not_hold_the_run(tmp_path: Path) -> None:
    # The daemon cannot write the console, so the run ends with its launcher, and the daemon with it.
    pidfile = tmp_path / "daemon.pid"
    launcher = f"sleep 60 </dev/null >/dev/null 2>&1 & echo $! > {pidfile}; exit 0"
    board = write(tmp_path / "board.toml", f'target = "process"\ncommand = ["sh", "-c", "{launcher}"]\n')
    plan = write(tmp_path / "plan.toml", '[[milestone]]\nname = "never"\nexpect = "login:"\nwithin = "60s"\n')
    started = time.monotonic()
    proc = hartbeat("run", str(plan), "--board", str(board), "--out", "run", cwd=tmp_path)
    assert proc.returncode == 1 and "process exited with status 0" in proc.stdout, proc.stdout
    assert time.monotonic() - started < 40
    daemon = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while Path(f"/proc/{daemon}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{daemon}").exists(), f"daemon {daemon} outlived the run"
