"""Board locks (harness/lab/lock.py): one per physical board however its port is spelled (reliability case 8),
one bisect per folder (case 9), the holder named in a refusal, one lock file name per port."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.errors import BoardLocked, TargetError
from harness.lab.lock import BoardLock, lock_dir, lock_path, physical_port
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


def test_the_holder_record_is_written_and_named_in_the_refusal(tmp_path: Path) -> None:
    holder = BoardLock("/dev/ttyUSB9", board="unmatched", folder=tmp_path)
    holder.acquire("linux-boot")
    try:
        assert holder.held
        record = json.loads(holder.path.read_text())
        assert record["pid"] == os.getpid() and record["plan"] == "linux-boot"
        holder.acquire("again")  # idempotent: still the first record
        assert json.loads(holder.path.read_text())["plan"] == "linux-boot"
        with pytest.raises(BoardLocked) as refused:
            BoardLock("/dev/ttyUSB9", board="other", folder=tmp_path).acquire("p")
        message = str(refused.value)
        assert f"(pid {os.getpid()}) running plan 'linux-boot'" in message
        assert str(holder.path) in message and "board other (/dev/ttyUSB9)" in message
    finally:
        holder.release()
    assert not holder.held and holder.path.read_text() == ""
    holder.release()  # safe when not held
    second = BoardLock("/dev/ttyUSB9", board="other", folder=tmp_path)
    second.acquire()
    second.release()


def test_a_lock_file_without_a_record_is_another_process(tmp_path: Path) -> None:
    path = tmp_path / "foreign.lock"
    path.write_text("not json\n")
    with path.open("r+") as foreign:
        fcntl.flock(foreign, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(BoardLocked, match=r"in use by another process \(no holder record yet\)"):
            BoardLock("p", board="b", path=path).acquire()


def test_lock_names_and_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARTBEAT_LOCK_DIR", str(tmp_path / "locks"))
    assert lock_dir() == tmp_path / "locks"
    assert lock_path("/dev/ttyUSB1") == tmp_path / "locks" / "hartbeat-dev_ttyUSB1.lock"
    assert physical_port("lab-place-3") == "lab-place-3"
    assert physical_port("socket://localhost:4001") == "net://loopback:4001"
    assert physical_port("rfc2217://127.0.0.1:4001/") == "net://loopback:4001"
    assert physical_port("socket://host:port") == "socket://host:port"  # no port number: as given
    assert lock_path("socket://[::1]:4001", tmp_path).name == "hartbeat-net_loopback_4001.lock"


def test_an_unwritable_lock_folder_says_to_set_the_lock_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(TargetError, match="set HARTBEAT_LOCK_DIR to a folder every lab user can write"):
        BoardLock("/dev/ttyUSB1", board="b", folder=blocker / "locks").acquire()


# A run that takes the lock, forks a child that keeps the lock file open (as a child between fork
# and exec does) until `release` exists, and dies: the child's pid goes to `pid_file`.
_ORPHANING_HOLDER = """
import os, sys, time
from pathlib import Path
from harness.lab.lock import BoardLock
path, release, pid_file = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
lock = BoardLock("orphan", board="b", path=path)
lock.acquire("p")
child = os.fork()
if child == 0:
    while not release.exists():
        time.sleep(0.01)
    os._exit(0)
pid_file.write_text(str(child))
os._exit(0)
"""


def _orphan_the_lock(path: Path, release: Path, tmp_path: Path) -> int:
    pid_file = tmp_path / "child.pid"
    root = str(Path(__file__).resolve().parents[2])
    argv = [sys.executable, "-c", _ORPHANING_HOLDER, str(path), str(release), str(pid_file)]
    subprocess.run(argv, cwd=root, check=True)
    return int(pid_file.read_text())


def test_a_lock_left_with_the_dead_holder_s_child_is_taken_once_the_child_lets_go(tmp_path: Path) -> None:
    # Seen once as `bisect --resume` refused right after a SIGKILL: "in use by (pid N)", N dead.
    path, release = tmp_path / "bisect.lock", tmp_path / "release"
    child = _orphan_the_lock(path, release, tmp_path)
    os.kill(child, 0)  # the orphan is there, holding the lock
    threading.Timer(0.3, release.touch).start()
    started = time.monotonic()
    lock = BoardLock("orphan", board="b", path=path)
    lock.acquire("resume")
    waited = time.monotonic() - started
    lock.release()
    assert waited >= 0.25, waited


def test_a_lock_an_orphan_keeps_is_refused_naming_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.lab.lock.HANDOVER_WAIT_S", 0.3)
    path = tmp_path / "bisect.lock"
    child = _orphan_the_lock(path, tmp_path / "never", tmp_path)
    try:
        with pytest.raises(
            BoardLocked, match=r"left behind \(it is no longer running\); `fuser -v .*bisect.lock` names it"
        ):
            BoardLock("orphan", board="b", path=path).acquire("resume")
    finally:
        os.kill(child, signal.SIGKILL)


def test_a_dead_pid_of_another_pid_space_is_not_taken_for_an_orphaned_lock(tmp_path: Path) -> None:
    # A holder in a container with the host's name has pids of its own: that its pid is not
    # running here says nothing, so the run is refused at once, naming it, without the wait.
    path = tmp_path / "bisect.lock"
    holder = BoardLock("x", board="b", path=path)
    holder.acquire("p")
    try:
        with path.open("r+") as record:
            data = json.loads(record.read())
            assert data["pid_space"] and data["pid_space"].count("/") == 1
            data.update(pid=2**22 + 12345, pid_space="another-boot/4026531836")
            record.seek(0)
            record.truncate()
            record.write(json.dumps(data) + "\n")
        started = time.monotonic()
        with pytest.raises(BoardLocked, match=r"in use by .*\(pid 4206649\)"):
            BoardLock("x", board="b", path=path).acquire("resume")
        assert time.monotonic() - started < 1.0
    finally:
        holder.release()
