"""Full and read-only disks under --out (cases 3 and 4), on a small tmpfs of our own."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import hartbeat, write

PLAN = """
[[milestone]]
name = "login"
expect = 'login:'
within = "60s"
"""
# 800 KB of boot chatter, then the milestone, then quiet.
CHATTY = """
import sys, time
out = sys.stdout.buffer
for i in range(8000):
    out.write(b"[%8d] some driver says hello with a long line of text ........................\\r\\n" % i)
out.write(b"login: \\r\\n")
out.flush()
time.sleep(60)
"""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 200 KB tmpfs (root only: the tests mount it)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_filling_during_the_run_is_an_error_naming_the_disk(tmp_path: Path, small_disk: Path, program_board):
    board = program_board(CHATTY)
    plan = write(tmp_path / "plan.toml", PLAN)
    out = small_disk / "run"
    proc = hartbeat("run", str(plan), "--board", str(board), "--out", str(out), cwd=tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, proc.stdout + proc.stderr
    summary = proc.stdout
    # Not a wedge: the target kept printing; the disk is named.
    assert ": ERROR" in summary and "No space left on device" in summary, summary
    assert "WEDGE" not in summary
    # As much of the log as fitted is kept.
    kept = (out / "console.raw").stat().st_size + (out / "console.log").stat().st_size
    assert kept > 120_000, kept
    # The target was powered off: nothing of ours is left running.
    assert "hostile.py" not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout


def test_full_disk_before_the_start_is_one_line_exit_2(tmp_path: Path, small_disk: Path, program_board):
    fd = os.open(small_disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"x" * 4096):
            pass
    except OSError:
        pass  # full
    finally:
        os.close(fd)
    board = program_board(CHATTY)
    plan = write(tmp_path / "plan.toml", PLAN)
    proc = hartbeat("run", str(plan), "--board", str(board), "--out", str(small_disk / "run"), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0] and "--out" in lines[0], proc.stderr


def test_read_only_out_is_one_line_exit_2(tmp_path: Path, small_disk: Path, program_board):
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    board = program_board(CHATTY)
    plan = write(tmp_path / "plan.toml", PLAN)
    proc = hartbeat("run", str(plan), "--board", str(board), "--out", str(small_disk / "run"), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Read-only file system" in lines[0], proc.stderr


@pytest.mark.parametrize("where", ["equal", "inside"])
def test_out_that_is_a_file_is_one_line_exit_2(tmp_path: Path, program_board, where: str) -> None:
    board = program_board("print('login:')\n")
    plan = write(tmp_path / "plan.toml", PLAN)
    existing = tmp_path / "a-file"
    existing.write_text("keep me")
    out = existing if where == "equal" else existing / "run"
    proc = hartbeat("run", str(plan), "--board", str(board), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "--out" in proc.stderr, proc.stderr
    assert existing.read_text() == "keep me"
