"""hartbeat's tiny Linux boots on QEMU and on the in-repo emulator, through the real plans."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from harness.board import resolve
from harness.emulator.console import MemoryConsole
from harness.emulator.machine import Machine, MachineConfig
from harness.plan import load_plan
from harness.profiles import load_board
from harness.runner import Runner, RunResult

pytestmark = pytest.mark.slow

FW_JUMP = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"


def run(plan: str, board: str, out: Path) -> RunResult:
    """One plan on one board, as ``hartbeat run PLAN --board BOARD`` does."""
    if board.startswith("qemu") and shutil.which("qemu-system-riscv64") is None:
        pytest.skip("qemu-system-riscv64 not installed (make deps)")
    return Runner(load_plan(resolve(plan, "testplans")), load_board(board), out_dir=out).run()


def assert_passed(result: RunResult) -> None:
    assert result.verdict.passed, (result.verdict.summary(), result.out_dir)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("board", ["qemu-virt", "qemu-sifive-u"])
def test_linux_boot_and_stress_on_qemu(linux_image: Path, tmp_path: Path, board: str) -> None:
    boot = run("linux-boot", board, tmp_path / "boot")
    assert_passed(boot)
    captures = {name: value for m in boot.milestones for name, value in m.captures.items()}
    assert captures["linux"].startswith("6.1.")
    assert captures["harts"] == ("2" if board == "qemu-virt" else "4")
    assert_passed(run("linux-stress", board, tmp_path / "stress"))


@pytest.mark.timeout(900)
@pytest.mark.parametrize("board", ["emulator-virt", "emulator-unmatched"])
def test_linux_boot_on_the_emulator(linux_image: Path, tmp_path: Path, board: str) -> None:
    boot = run("linux-boot", board, tmp_path / "boot")
    assert_passed(boot)
    captures = {name: value for m in boot.milestones for name, value in m.captures.items()}
    # unmatched: five harts, the S7 monitor core has no S-mode, so Linux runs on four.
    assert captures["harts"] == ("1" if board == "emulator-virt" else "4")


def _boot_to_prompt(linux_image: Path, seconds: float) -> tuple[str, int]:
    """Boot the emulator's virt machine in-process until the init's prompt; (text, instructions)."""
    console = MemoryConsole()
    config = MachineConfig(
        board="virt",
        ram_size=256 << 20,
        bios=FW_JUMP,
        kernel=str(linux_image / "Image"),
        initrd=str(linux_image / "initramfs.cpio"),
        append="console=ttyS0 earlycon",
    )
    machine = Machine(config, console)
    give_up = time.monotonic() + seconds
    # Stepped here, round by round, so the point where it stops is the guest's, not the host's.
    while b"hartbeat# " not in console.output:
        assert time.monotonic() < give_up, bytes(console.output)[-2000:]
        if not machine.step_round():
            machine.idle()
    return bytes(console.output).decode(errors="replace"), sum(h.icount for h in machine.harts)


_TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\] ", re.MULTILINE)


@pytest.mark.timeout(900)
def test_two_emulator_boots_of_one_image_print_the_same_text(linux_image: Path) -> None:
    """The guest clock counts instructions, so host load cannot change what the guest does."""
    first, first_count = _boot_to_prompt(linux_image, 400)
    second, second_count = _boot_to_prompt(linux_image, 400)
    assert "Run /init as init process" in first
    assert _TIMESTAMP.sub("", first) == _TIMESTAMP.sub("", second)
    assert first_count == second_count
