"""OpenOCD started at power-on and standing by: examined, quiet, handed to the autopsy, stopped."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.emulator.boards import FU740_IDCODE
from harness.model.board import Board
from harness.targets.openocd import JtagSettings, OpenOcdError
from harness.targets.openocd_standby import StandbyOpenOcd
from harness.targets.serial import from_board
from tests.emulator.conftest import build_elf, needs_gcc
from tests.emulator.test_debug_module import SPIN

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "boards" / "openocd" / "emulator.cfg"
pytestmark = [
    needs_gcc,
    pytest.mark.skipif(shutil.which("openocd") is None, reason="openocd not installed (make deps)"),
]


@pytest.fixture(scope="module")
def rbb_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The emulator as an Unmatched (five harts spinning), its JTAG on a loopback port."""
    elf = build_elf(tmp_path_factory.mktemp("spin"), SPIN, "spin")
    argv = [sys.executable, "-m", "harness.emulator", "-M", "unmatched", "-bios", "none"]
    argv += ["-kernel", str(elf), "-nographic", "-jtag", "tcp:0"]
    proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        match = re.search(r"tcp:127\.0\.0\.1:(\d+)", proc.stderr.readline().decode())
        assert match
        yield int(match.group(1))
    finally:
        proc.terminate()
        proc.wait(10)


def settings(port: int) -> JtagSettings:
    return JtagSettings(config=CONFIG, variables={"RBB_PORT": str(port), "HARTS": "5", "IDCODE": f"{FU740_IDCODE:#x}"})


def openocd_alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_it_examines_every_hart_at_power_on_and_hands_a_quiet_session_over(rbb_port: int) -> None:
    standby = StandbyOpenOcd(settings(rbb_port))
    standby.start()
    time.sleep(0.5)  # the board boots; the verdict comes later
    session = standby.take(time.monotonic() + 30)
    standby.close()  # what the target does after handing it over: the session stays up
    assert session is not None, standby.error
    try:
        deadline = time.monotonic() + 10
        assert session.tcl("target names", deadline).split() == [f"riscv.cpu{i}" for i in range(5)]
        assert session.tcl("set n 0; foreach t [target names] { incr n [$t was_examined] }; set n", deadline) == "5"
        assert "Examined RISC-V core; found 5 harts" in "\n".join(session.output)
        # Polling is off: it leaves the harts alone until the autopsy asks.
        assert "off" in session.tcl("poll", deadline).lower()
        pc = session.tcl("halt 3000; targets riscv.cpu1; set pc [capture {reg pc}]; resume; set pc", deadline)
        assert re.search(r"pc \(/64\): 0x0*8000", pc), pc
    finally:
        assert session.process is not None
        pid = session.process.pid
        session.close()
    deadline = time.monotonic() + 10
    while openocd_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not openocd_alive(pid), "OpenOCD outlived its session"


def test_closed_at_power_off_it_leaves_no_openocd(rbb_port: int) -> None:
    standby = StandbyOpenOcd(settings(rbb_port))
    standby.start()
    time.sleep(0.3)
    standby.close()
    assert standby.take(time.monotonic() + 1) is None
    time.sleep(2.5)  # a stopped OpenOCD gets a second to leave, then is killed
    mine = [p for p in Path("/proc").glob("[0-9]*") if _child_openocd(p)]
    assert not mine, "an OpenOCD outlived power-off"


def _child_openocd(proc: Path) -> bool:
    """An OpenOCD of this test process (its keeper's child)."""
    try:
        argv = (proc / "cmdline").read_bytes().split(b"\0")
        keeper = int((proc / "stat").read_text().rsplit(") ", 1)[1].split()[1])
        keeper_argv = Path(f"/proc/{keeper}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return False
    return os.path.basename(argv[0]) == b"openocd" and f"--parent\0{os.getpid()}\0".encode() in keeper_argv


def test_a_jtag_that_never_answers_ends_in_openocds_own_line_or_none() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    standby = StandbyOpenOcd(settings(port))
    standby.start()
    time.sleep(0.5)
    started = time.monotonic()
    try:
        session = standby.take(time.monotonic() + 4)
    except OpenOcdError as exc:
        # An attempt was under way at the verdict: its own failure.
        assert "connect" in str(exc).lower() or "remote_bitbang" in str(exc).lower(), exc
    else:
        # Between attempts: nothing to hand over, the autopsy starts its own.
        assert session is None
    finally:
        standby.close()
    assert time.monotonic() - started < 4.5
    assert standby.error is not None and "\n" not in standby.error


def test_a_serial_board_starts_it_at_power_on_unless_the_run_takes_no_autopsy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARTBEAT_LOCK_DIR", str(tmp_path / "locks"))
    started: list[StandbyOpenOcd] = []
    start = StandbyOpenOcd.start

    def note(standby: StandbyOpenOcd) -> None:
        started.append(standby)
        start(standby)

    monkeypatch.setattr(StandbyOpenOcd, "start", note)
    master, slave = os.openpty()
    try:
        board = Board(
            name="bench",
            path=tmp_path / "bench.toml",
            target="serial",
            settings={
                "serial": {"port": os.ttyname(slave)},
                "power": {"backend": "command", "on": ["true"], "off": ["true"], "off_time": "0s"},
                "jtag": {"config": str(CONFIG), "set": {"RBB_PORT": 1}},
            },
        )
        for autopsy in (True, False):
            target = from_board(board, {"plan": "p"})
            if not autopsy:
                target.no_autopsy()
            target.console()
            target.power_on()
            target.power_off()
            # Started at the first power-on; the run without an autopsy starts nothing.
            assert len(started) == 1, (autopsy, started)
        assert started[0]._stopped.is_set(), "power-off stops the attempts"
    finally:
        os.close(master)
        os.close(slave)
