"""The serial target on the virtual lab: a QEMU board on a pty, powered through an HTTP plug."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys

import pytest

from harness.cli import main
from harness.engine.verdict import Kind
from harness.errors import BoardLocked
from harness.model.board import PROJECT_ROOT
from harness.run.runner import SWITCHED_OFF
from harness.run.status import StatusEvent, StatusKind

from .virtual import free_port

# Another run holding the board: takes the lock like a real run would, then waits.
HOLD_LOCK = """
import sys, time
from harness.lab.lock import BoardLock
lock = BoardLock(sys.argv[1], board="lab-board")
lock.acquire("nightly-boot")
print("locked", flush=True)
time.sleep(120)
"""


def test_uboot_smoke_over_a_local_pty(lab):
    result = lab.run(lab.board_file())
    assert result.verdict.kind is Kind.PASS, result.verdict.summary()
    names = [m.name for m in result.milestones]
    assert names == ["opensbi", "uboot", "autoboot", "prompt", "version", "echo"]
    # The power cycle switched the board off (its port vanished) and on again: reopened once.
    report = json.loads((lab.folder / "run" / "report.json").read_text())
    assert report["target"]["kind"] == "serial"
    assert len(report["target"]["console_reopened"]) == 1
    assert [r.split("cmnd=")[1] for r in lab.switch.requests] == ["Power%20Off", "Power%20On", "Power%20Off"]
    assert not lab.board.running


@pytest.mark.parametrize(
    ("plan", "extra"),
    [
        ("uboot-smoke", ""),
        # The Unmatched's old profile typed `reset` and then blamed the board for the second boot.
        ("uboot-smoke", '[variables]\noff_command = "reset"\n'),
        ("uboot-shell", ""),
    ],
    ids=["uboot-smoke", "uboot-smoke-off-command-reset", "uboot-shell"],
)
def test_shipped_uboot_plans_on_a_serial_board(lab, plan, extra):
    result = lab.run(lab.board_file(extra=extra), (PROJECT_ROOT / "testplans" / f"{plan}.toml").read_text())
    assert result.verdict.kind is Kind.PASS, result.verdict.summary()
    last = result.milestones[-1]
    assert last.name == "power-off" and last.line == f"{SWITCHED_OFF} through its power backend"
    # The plug switched it off: nothing typed for it, one boot only, the console's last line a prompt.
    assert [r.split("cmnd=")[1] for r in lab.switch.requests] == ["Power%20Off", "Power%20On", "Power%20Off"]
    log = (lab.folder / "run" / "console.log").read_text()
    assert log.count("OpenSBI v") == 1 and "reset" not in log and "poweroff" not in log
    assert not lab.board.running


def test_uboot_smoke_over_rfc2217_through_ser2net(lab, ser2net):
    result = lab.run(lab.board_file(port=ser2net.url))
    assert result.verdict.kind is Kind.PASS, result.verdict.summary()
    assert [m.name for m in result.milestones][-1] == "echo"
    assert result.target["port"].startswith("rfc2217://127.0.0.1:")


def test_console_pulled_mid_boot_is_an_error_with_the_log_kept(lab):
    def pull_after_uboot(event: StatusEvent) -> None:
        if event.kind is StatusKind.MILESTONE and event.text.endswith("reached uboot"):
            lab.board.pull_console()

    result = lab.run(lab.board_file(), status=pull_after_uboot)
    verdict = result.verdict
    assert verdict.kind is Kind.ERROR, verdict.summary()
    assert verdict.milestone == "uboot"
    assert "vanished" in verdict.reason and "did not come back within 3 s" in verdict.reason
    log = (lab.folder / "run" / "console.log").read_text()
    assert "OpenSBI v" in log and "U-Boot 20" in log


def test_a_locked_board_is_refused_naming_the_holder(lab, tmp_path):
    board_path = lab.board_file()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(lab.board.port)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(BoardLocked) as refused:
            lab.run(board_path)
        message = str(refused.value)
        assert f"pid {holder.pid}" in message and "nightly-boot" in message and "lab-board" in message
        # The board in use was never switched.
        assert lab.switch.requests == []

        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            code = main(
                ["run", str(lab.folder / "plan.toml"), "--board", str(board_path), "--out", str(tmp_path / "cli")]
            )
        assert code == 2
        lines = [line for line in stderr.getvalue().splitlines() if line.strip()]
        assert len(lines) == 1 and "is in use by" in lines[0] and f"pid {holder.pid}" in lines[0]
        # A refused run is no run: no folder, no report, no JUnit error for a dashboard to count.
        assert not (tmp_path / "cli").exists()
    finally:
        holder.kill()
        holder.wait()
    # Once the holder is gone (even killed), the board is free again.
    assert lab.run(board_path).verdict.kind is Kind.PASS


def test_an_unreachable_power_switch_is_an_error_naming_the_backend(lab):
    dead = f"http://127.0.0.1:{free_port()}/cm?cmnd=Power%20"
    power = f"""
        [power]
        backend = "http"
        on = "{dead}On"
        off = "{dead}Off"
        off_time = "0s"
        timeout = "2s"
        """
    result = lab.run(lab.board_file(power=power))
    assert result.verdict.kind is Kind.ERROR
    assert "power backend http: off: GET http://127.0.0.1:" in result.verdict.reason
    assert "no reply" in result.verdict.reason


def test_a_missing_port_is_a_skip(lab):
    result = lab.run(lab.board_file(port=str(lab.folder / "ttyUSB9")))
    assert result.verdict.kind is Kind.SKIP
    assert "ttyUSB9 does not exist" in result.verdict.reason
