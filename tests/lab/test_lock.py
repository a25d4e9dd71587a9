"""One lock per physical board however its port is spelled (case 8), one bisect per folder (9)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from harness.errors import BoardLocked
from harness.lab.lock import BoardLock

from tests.reliability.helpers import hartbeat, write


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("socket://localhost:17001", "socket://127.0.0.1:17001"),
        ("rfc2217://localhost:17002", "socket://127.0.0.1:17002"),
    ],
)
def test_two_spellings_of_one_network_console_share_a_lock(tmp_path: Path, first: str, second: str) -> None:
    holder = BoardLock(first, board="a", folder=tmp_path)
    holder.acquire("p")
    try:
        with pytest.raises(BoardLocked, match="in use by"):
            BoardLock(second, board="b", folder=tmp_path).acquire("p")
    finally:
        holder.release()
    other = BoardLock("socket://127.0.0.1:17003", board="c", folder=tmp_path)
    other.acquire("p")  # another port is another board
    other.release()


def test_a_symlink_and_its_pty_share_a_lock(tmp_path: Path) -> None:
    controller, terminal = os.openpty()
    try:
        link = tmp_path / "ttyBOARD"
        link.symlink_to(os.ttyname(terminal))
        holder = BoardLock(str(link), board="a", folder=tmp_path)
        holder.acquire("p")
        try:
            with pytest.raises(BoardLocked):
                BoardLock(os.ttyname(terminal), board="b", folder=tmp_path).acquire("p")
        finally:
            holder.release()
    finally:
        os.close(controller)
        os.close(terminal)


def test_a_second_bisect_on_a_busy_folder_is_refused_naming_the_holder(tmp_path: Path) -> None:
    builds = tmp_path / "builds"
    for name in ("a", "b", "c"):
        (builds / name).mkdir(parents=True)
    plan = write(tmp_path / "plan.toml", '[[milestone]]\nname = "a"\nexpect = "ok"\n')
    board = write(tmp_path / "board.toml", f'target = "process"\ncommand = ["{sys.executable}", "-c", "pass"]\n')
    out = tmp_path / "bisect"
    out.mkdir()
    # The running bisect: what the entry point of `hartbeat bisect` takes.
    running = BoardLock(str(out), board="bisect folder", path=out / "bisect.lock")
    running.acquire("bisect")
    args = ["bisect", str(plan), "--board", str(board), "--builds", str(builds), "--resume", "--out", str(out)]
    try:
        proc = hartbeat(*args, cwd=tmp_path)
    finally:
        running.release()
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"(pid {os.getpid()})" in proc.stderr and "bisect folder" in proc.stderr, proc.stderr
    # Once it is free, the resume goes ahead (and finds no log to resume here).
    after = hartbeat(*args, cwd=tmp_path)
    assert "in use by" not in after.stderr and "no bisect log here" in after.stderr, after.stderr
