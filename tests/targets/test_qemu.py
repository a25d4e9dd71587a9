"""Real OpenSBI and U-Boot under QEMU: the smoke plan, a real wedge, a real panic, a real skip, the fallback.
The pytest plugin on QEMU is tests/pytest_plugin's."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.engine.verdict import Kind
from harness.model.board import resolve
from harness.model.plan import Milestone, load_plan
from harness.run.board_loader import load_board
from harness.run.runner import Runner
from harness.run.setup import prepare
from harness.targets.qemu import QemuTarget

ROOT = Path(__file__).resolve().parent.parent.parent
FIRMWARE = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin")
UBOOT = Path("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin")

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-system-riscv64") is None or not FIRMWARE.is_file() or not UBOOT.is_file(),
    reason="needs qemu-system-misc, opensbi and u-boot-qemu (installed by `make deps`)",
)


def hartbeat(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=180
    )


# OpenSBI boots on whichever hart wins its lottery: any of virt's two, any U54 of sifive_u
# (hart 0 there is the monitor core without S-mode).
@pytest.mark.parametrize(
    ("board", "platform", "harts"),
    [
        ("qemu-virt", "riscv-virtio,qemu", {"0", "1"}),
        ("qemu-sifive-u", "SiFive HiFive Unleashed A00", {"1", "2", "3", "4"}),
    ],
)
def test_uboot_smoke_passes(tmp_path: Path, board: str, platform: str, harts: set[str]) -> None:
    proc = hartbeat("run", "uboot-smoke", "--board", board, "--out", str(tmp_path / "run"), cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["verdict"]["kind"] == "pass"
    names = [m["name"] for m in report["milestones"]]
    assert names == [m.name for m in load_plan(resolve("uboot-smoke", "testplans")).milestones]
    times = [m["t"] for m in report["milestones"]]
    assert times == sorted(times) and times[0] > 0
    captures = {k: v for m in report["milestones"] for k, v in m["captures"].items()}
    assert re.fullmatch(r"\d+\.\d+", captures["opensbi"])
    assert captures["platform"] == platform
    assert captures["uboot"].startswith("2023.01")
    assert captures["boot_hart"] in harts
    assert report["target"]["command"].startswith("qemu-system-riscv64 -machine")
    assert "U-Boot" in (tmp_path / "run" / "console.log").read_text()


def test_paused_guest_is_a_wedge_within_silence_and_qemu_is_reaped(tmp_path: Path) -> None:
    plan = load_plan(resolve("uboot-smoke", "testplans"))
    board = load_board("qemu-virt")
    runner = Runner(prepare(plan, board), out_dir=tmp_path / "run")
    with runner.lifecycle():
        for milestone in runner.plan.milestones[:4]:
            assert runner.step(milestone) is None
        target = runner.target
        assert isinstance(target, QemuTarget)
        pid = target.pid
        # Let U-Boot finish its banner, then freeze the guest CPUs: QEMU lives, the console is silent.
        time.sleep(0.05)
        target.pause()
        paused_at = time.monotonic()
        silence = 2.0
        verdict = runner.step(Milestone(name="never", expect=re.compile("no such line"), within=60, silence=silence))
        declared_after = time.monotonic() - paused_at
        assert verdict is not None
        runner.conclude(verdict)
    result = runner.result
    assert result is not None
    assert verdict is not None and verdict.kind is Kind.WEDGE
    assert verdict.milestone == "uboot"
    assert f"wedged after milestone `uboot`; console quiet for {silence:.0f}." in verdict.reason
    assert declared_after < silence + 0.5
    assert result.verdict.kind is Kind.WEDGE
    assert pid is not None and not Path(f"/proc/{pid}").exists()


def test_faulting_uboot_command_is_a_panic(tmp_path: Path) -> None:
    plan_path = tmp_path / "fault.toml"
    plan_path.write_text(
        (ROOT / "testplans" / "uboot-smoke.toml").read_text().split('[[milestone]]\nname = "version"')[0]
        + '[[milestone]]\nname = "fault"\nsend = "md.q 0x0 1"\nexpect = "never printed"\nprompt = "=> $"\n'
    )
    proc = hartbeat("run", str(plan_path), "--board", "qemu-virt", "--out", str(tmp_path / "run"), cwd=ROOT)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    verdict = json.loads((tmp_path / "run" / "report.json").read_text())["verdict"]
    assert verdict["kind"] == "panic"
    assert verdict["captures"]["reason"] == "Load access fault"
    assert verdict["milestone"] == "prompt"
    # The trailing capture keeps the register dump that follows the panic line.
    assert any(line["line"].startswith("EPC:") for line in verdict["last_lines"])


@pytest.mark.parametrize(
    ("option", "reason"),
    [("qemu.binary=/nonexistent/qemu-system-riscv64", "not found"), (None, "does not exist")],
    ids=["qemu-missing", "firmware-missing"],
)
def test_missing_qemu_or_firmware_is_a_skip(tmp_path: Path, option: str | None, reason: str) -> None:
    # Without its fallback: qemu-virt would otherwise move to the emulator (tested below).
    args = ["run", "uboot-smoke", "--board", "qemu-virt", "--out", str(tmp_path / "run"), "--set", "fallback="]
    args += ["--set", option] if option else ["--image", "bios=/nonexistent/fw_jump.bin"]
    proc = hartbeat(*args, cwd=ROOT)
    assert proc.returncode == 125, proc.stdout + proc.stderr
    verdict = json.loads((tmp_path / "run" / "report.json").read_text())["verdict"]
    assert verdict["kind"] == "skip"
    assert reason in verdict["reason"]


def test_missing_qemu_falls_back_to_the_emulator_and_says_so(tmp_path: Path) -> None:
    proc = hartbeat(
        "run",
        "uboot-smoke",
        "--board",
        "qemu-virt",
        "--out",
        str(tmp_path / "run"),
        "--set",
        "qemu.binary=/nonexistent/qemu-system-riscv64",
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ran on fallback board emulator-virt" in proc.stdout
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["board"]["name"] == "emulator-virt"
    assert "/nonexistent/qemu-system-riscv64 not found" in report["fallback"]
    assert report["target"]["kind"] == "emulator"
