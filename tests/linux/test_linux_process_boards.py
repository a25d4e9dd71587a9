"""Third-party emulators as ``process`` boards: optional arguments, the plan's image slots, the
pre-boot checks of the machine they declare, and a missing program (harness/targets/process.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.run.board_loader import load_board
from harness.targets.process import from_board

ROOT = Path(__file__).resolve().parent.parent.parent
LINUX_PLAN = ROOT / "testplans" / "linux-boot.toml"
BIOS = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"

# QEMU spelled out by hand as any emulator would be: hartbeat knows nothing of it but this file.
BOARD = """name = "my-emulator"
target = "process"
machine = "virt"
append = "{append}"
command = ["{program}", "-M", "virt", "-smp", "2", "-m", "256M", "-nographic", "-bios", "{{bios}}",
           "-kernel", "{{kernel}}", ["-initrd", "{{initrd}}"], "-append", "{{append}}"]

[images]
bios = "{bios}"
kernel = "none"
{initrd_line}
"""


def write_board(
    tmp_path: Path, *, append: str = "console=ttyS0", program: str = "qemu-system-riscv64", initrd: bool = True
) -> Path:
    path = tmp_path / "my-emulator.toml"
    line = 'initrd = "none"' if initrd else ""
    text = BOARD.format(append=append, program=program, bios=BIOS, initrd_line=line)
    path.write_text(text if initrd else text.replace(' ["-initrd", "{initrd}"],', ""))
    return path


def check(plan: Path, board: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "check", str(plan), "--board", str(board)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_an_empty_slot_drops_its_optional_group_whole(tmp_path: Path) -> None:
    board = load_board(str(write_board(tmp_path)))
    argv = from_board(board, {}).argv
    assert "-initrd" not in argv
    assert argv[-2:] == ["-append", "console=ttyS0"]
    filled = load_board(str(write_board(tmp_path)), images=(("initrd", "/tmp/x.cpio"),))
    argv = from_board(filled, {}).argv
    assert argv[argv.index("-initrd") + 1] == "/tmp/x.cpio"


def test_a_plan_slot_the_board_lacks_is_an_error_naming_plan_slot_and_board(tmp_path: Path, linux_image: Path) -> None:
    proc = check(LINUX_PLAN, write_board(tmp_path, initrd=False))
    assert proc.returncode == 2, proc.stdout
    line = next(x for x in proc.stdout.splitlines() if "images.initrd" in x)
    assert str(LINUX_PLAN) in line and "plan linux-boot" in line and "board my-emulator" in line


def test_a_wrong_console_is_found_before_boot(tmp_path: Path, linux_image: Path) -> None:
    proc = check(LINUX_PLAN, write_board(tmp_path, append="console=ttySIF0"))
    assert proc.returncode == 2, proc.stdout
    line = next(x for x in proc.stdout.splitlines() if "console=" in x)
    assert "my-emulator.toml: append:" in line and "ttyS0" in line


def test_a_program_that_is_not_installed_fails_check(tmp_path: Path, linux_image: Path) -> None:
    proc = check(LINUX_PLAN, write_board(tmp_path, program="no-such-emulator-9"))
    assert proc.returncode == 2, proc.stdout
    assert "command[0]: program 'no-such-emulator-9' is not installed" in proc.stdout


@pytest.mark.skipif(shutil.which("qemu-system-riscv64") is None, reason="needs qemu-system-riscv64 (make deps)")
def test_the_linux_plan_runs_on_a_process_board_spelled_out_by_hand(tmp_path: Path, linux_image: Path) -> None:
    board = write_board(tmp_path, append="console=ttyS0 earlycon")
    assert check(LINUX_PLAN, board).returncode == 0
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            str(LINUX_PLAN),
            "--board",
            str(board),
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["verdict"]["kind"] == "pass", proc.stdout
    assert report["target"]["kind"] == "process"
