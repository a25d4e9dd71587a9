"""The emulator ends at the guest's power-off line too: through its control socket, status 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.engine.verdict import Kind
from harness.model.board import resolve
from harness.model.plan import load_plan
from harness.run.board_loader import load_board
from harness.run.runner import Runner
from harness.run.setup import prepare
from harness.targets.emulator import EmulatorTarget

FIRMWARE = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin")
UBOOT = Path("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin")


@pytest.mark.skipif(not FIRMWARE.is_file() or not UBOOT.is_file(), reason="needs opensbi and u-boot-qemu")
def test_the_guests_power_off_line_ends_the_emulator(tmp_path: Path) -> None:
    # U-Boot's `echo` prints the line and stays at its prompt: only the line can end the run.
    plan = load_plan(resolve("uboot-smoke", "testplans"))
    setup = prepare(plan, load_board("emulator-virt"), variables={"off_command": "echo poweroff ..."})
    runner = Runner(setup, out_dir=tmp_path / "run")
    result = runner.run()
    assert isinstance(runner.target, EmulatorTarget)
    assert result.verdict.kind is Kind.PASS, result.verdict.summary()
    assert result.milestones[-1].line == "process exited with status 0"
    assert "poweroff ..." in (tmp_path / "run" / "console.log").read_text()
