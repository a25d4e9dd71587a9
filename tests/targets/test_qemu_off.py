"""QEMU ends at the guest's power-off line: QMP quit, the drives flushed, the console's end recorded."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.analysis.replay import replay
from harness.engine.verdict import Kind
from harness.model.board import Board
from harness.model.plan import load_plan
from harness.run.board_loader import load_board
from harness.run.runner import Runner
from harness.run.setup import prepare
from harness.targets.base import EndsOnGuestOff
from harness.targets.qemu import QemuTarget

FIRMWARE = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin")
UBOOT = Path("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin")
HAVE_QEMU = shutil.which("qemu-system-riscv64") is not None and FIRMWARE.is_file() and UBOOT.is_file()
needs_qemu = pytest.mark.skipif(not HAVE_QEMU, reason="needs qemu-system-misc, opensbi and u-boot-qemu (make deps)")
needs_qemu_img = pytest.mark.skipif(
    shutil.which("qemu-img") is None or shutil.which("qemu-io") is None, reason="needs qemu-utils (make deps)"
)

# The block U-Boot writes: "THBT" repeated, at sector 0 and at sector 0x400 (512 KiB, a second
# cluster of the same qcow2 L2 table, whose entry only a clean close writes back).
MARK = "0x54424854"
BOARD = f"""
name = "qemu-virt-disk"
target = "qemu"

[images]
bios = "{FIRMWARE}"
kernel = "{UBOOT}"
initrd = "none"

[qemu]
machine = "virt"
smp = 2
memory = "256M"
drives = ["file=@DISK@,format=qcow2,if=virtio"]
"""
PLAN = f"""
name = "uboot-disk"
silence = "10s"
timeout = "2m"

[variables]
off_command = "@OFF@"

[[milestone]]
name = "autoboot"
expect = 'Hit any key to stop autoboot'
within = "30s"

[[milestone]]
name = "prompt"
keys = "\\r"
expect = '=> $'
within = "10s"

[[milestone]]
name = "scan"
send = "virtio scan"
expect = '^=> $'
within = "10s"

[[milestone]]
name = "fill"
send = "mw.l 0x84000000 {MARK} 0x80"
expect = '^=> $'
within = "10s"

[[milestone]]
name = "write-0"
send = "virtio write 0x84000000 0 1"
expect = 'blocks written: OK'
prompt = '=> $'
within = "10s"

[[milestone]]
name = "write-400"
send = "virtio write 0x84000000 0x400 1"
expect = 'blocks written: OK'
prompt = '=> $'
within = "10s"

[[milestone]]
name = "power-off"
off = true
within = "15s"
"""


def _write_files(tmp_path: Path, off: str) -> tuple[Path, Path, Path]:
    disk = tmp_path / "disk.qcow2"
    # lazy_refcounts: refcounts are written only when QEMU closes the image cleanly, and the image
    # is marked dirty until then, so `qemu-img check` tells a flushed close from a killed QEMU.
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on", str(disk), "16M"], check=True)
    board, plan = tmp_path / "board.toml", tmp_path / "plan.toml"
    board.write_text(BOARD.replace("@DISK@", str(disk)))
    plan.write_text(PLAN.replace("@OFF@", off))
    return disk, board, plan


def _runner(tmp_path: Path, off: str) -> tuple[Runner, Path]:
    disk, board_file, plan_file = _write_files(tmp_path, off)
    runner = Runner(prepare(load_plan(plan_file), load_board(str(board_file))), out_dir=tmp_path / "run")
    return runner, disk


def _block(disk: Path, offset: int) -> str:
    done = subprocess.run(
        ["qemu-io", "-f", "qcow2", "-r", "-c", f"read -v {offset} 16", str(disk)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


@needs_qemu
@needs_qemu_img
def test_poweroff_ends_qemu_at_the_guests_line_with_its_drive_flushed_and_replays_alike(tmp_path: Path) -> None:
    runner, disk = _runner(tmp_path, "poweroff")
    result = runner.run()
    assert result.verdict.kind is Kind.PASS, result.verdict.summary()
    # Closed cleanly: the refcounts written, the image no longer dirty, both blocks there.
    check = subprocess.run(["qemu-img", "check", str(disk)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and "No errors were found" in check.stdout, check.stdout + check.stderr
    info = subprocess.run(["qemu-img", "info", "--output=json", str(disk)], capture_output=True, text=True, check=True)
    assert json.loads(info.stdout)["dirty-flag"] is False
    assert "THBTTHBTTHBTTHBT" in _block(disk, 0) and "THBTTHBTTHBTTHBT" in _block(disk, 0x80000)
    off = result.milestones[-1]
    assert off.name == "power-off" and off.line == "process exited with status 0"
    assert "poweroff ..." in (tmp_path / "run" / "console.log").read_text()
    # The replay has no QEMU to quit: it waits for the recorded end of the console, as live did.
    replayed = replay(tmp_path / "run")
    assert replayed.differences() == []


@needs_qemu
def test_the_guests_power_off_line_ends_qemu_even_if_the_guest_would_not(tmp_path: Path) -> None:
    # U-Boot's `echo` prints the line and stays at its prompt: before this, the step waited for an
    # exit that never came. Now the line is what ends QEMU (the echo of the typed command is not it).
    runner, _disk = _runner(tmp_path, "echo poweroff ...")
    result = runner.run()
    assert result.verdict.kind is Kind.PASS, result.verdict.summary()
    assert result.milestones[-1].line == "process exited with status 0"
    assert result.milestones[-1].t - result.milestones[-2].t < 10.0


def _qemu(tmp_path: Path, *extra: str) -> QemuTarget:
    board = Board(
        name="q",
        path=tmp_path / "q.toml",
        target="qemu",
        settings={"qemu": {"machine": "virt", "extra": list(extra)}},
        images={"bios": "none", "kernel": "none", "initrd": "none"},
    )
    return QemuTarget(board, {})


@pytest.mark.parametrize(
    ("line", "ends"),
    [
        ("poweroff ...", True),
        ("reboot: Power down", True),
        ("[    3.141593] reboot: Power down", True),
        ("=> poweroff", False),
        ("poweroff", False),
        ("echo poweroff ... now", False),
        ("resetting ...", False),
        ("reboot: Restarting system", False),
    ],
)
def test_which_lines_say_the_guest_powers_off(tmp_path: Path, line: str, ends: bool) -> None:
    target = _qemu(tmp_path)
    try:
        assert isinstance(target, EndsOnGuestOff)
        assert bool(target.guest_off.search(f"U-Boot\n{line}\n=> ")) is ends
    finally:
        target.power_off()


def test_a_reset_line_ends_qemu_only_under_no_reboot(tmp_path: Path) -> None:
    target = _qemu(tmp_path, "-no-reboot")
    try:
        assert target.guest_off.search("resetting ...\n") and target.guest_off.search("reboot: Restarting system\n")
    finally:
        target.power_off()
