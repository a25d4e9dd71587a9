"""calibrate on real runs: 10 passing uboot-smoke boots on QEMU, and a real wedge to judge anew."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.analysis.calibrate import Calibration, MilestoneCalibration, Spread, apply, calibrate, write_plan
from harness.analysis.replay import replay
from harness.engine.verdict import Kind
from harness.model.board import resolve
from harness.model.plan import load_plan
from harness.records.run_folder import load_run
from harness.run.board_loader import load_board
from harness.run.runner import Runner
from harness.run.setup import prepare

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-system-riscv64") is None, reason="needs qemu-system-misc (installed by `make deps`)"
)
RUNS = 10


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path]:
    """Ten passing runs of uboot-smoke on qemu-virt, and one whose 'U-Boot' is a jump-to-self loop."""
    root = tmp_path_factory.mktemp("calibrate")
    plan = load_plan(resolve("uboot-smoke", "testplans"))
    passing = []
    for index in range(RUNS):
        result = Runner(prepare(plan, load_board("qemu-virt")), out_dir=root / f"pass-{index}").run()
        assert result.verdict.kind is Kind.PASS, result.verdict.reason
        passing.append(result.out_dir)
    loop = root / "loop.bin"
    loop.write_bytes(bytes.fromhex("6f000000"))  # jal x0, 0: OpenSBI jumps here and nothing more is printed
    images = (("kernel", str(loop)),)
    wedge = Runner(prepare(plan, load_board("qemu-virt", images=images), images=images), out_dir=root / "wedge").run()
    assert wedge.verdict.kind is Kind.WEDGE and wedge.verdict.milestone == "boot-hart"
    return passing, wedge.out_dir


def test_calibrated_limits_pass_the_runs_and_name_the_wedge_sooner(recorded, tmp_path):
    passing, wedge = recorded
    plan = load_plan(resolve("uboot-smoke", "testplans"))
    result = calibrate(plan, [load_run(folder) for folder in passing])
    assert result.runs == RUNS and [m.name for m in result.milestones] == [m.name for m in plan.milestones]
    for m in result.milestones:
        assert m.delta.low <= m.delta.median <= m.delta.high
        assert m.within > m.delta.high
        assert m.silence is None or m.silence > m.quiet.high
    tuned = write_plan(plan, result, tmp_path / "tuned.toml")
    # Every recorded passing run still passes under the suggested limits.
    for folder in passing:
        assert replay(folder, tuned).verdict.kind is Kind.PASS
    shipped, calibrated = replay(wedge), replay(wedge, tuned)
    assert shipped.differences() == []
    assert calibrated.verdict.kind is Kind.WEDGE and calibrated.verdict.signature == shipped.verdict.signature
    # uboot-smoke waits 10 s of silence; the calibrated plan a couple of seconds.
    assert calibrated.verdict.at < shipped.verdict.at - 5.0


def test_calibrate_command_prints_a_fragment_and_writes_a_plan(recorded, tmp_path):
    passing, _wedge = recorded
    out = tmp_path / "tuned.toml"
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "calibrate", *map(str, passing), "--write", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"uboot-smoke on qemu-virt: {RUNS} passing run(s)" in proc.stdout
    assert '[[milestone]]\nname = "opensbi"\nwithin = "' in proc.stdout
    tuned = load_plan(out)
    assert tuned.silence < 10.0 and all(m.within < 20.0 for m in tuned.milestones)
    assert "# Debian's OpenSBI and U-Boot boot" in out.read_text()


def test_apply_edits_keys_in_place_and_adds_missing_ones():
    plan = load_plan(resolve("uboot-smoke", "testplans"))
    # apply() needs only the numbers, so a hand-made calibration is enough.
    spread = Spread(0.1, 0.2, 0.3)
    result = Calibration(
        plan.name,
        "b",
        3,
        0,
        1.5,
        1.0,
        1.0,
        tuple(
            MilestoneCalibration(m.name, spread, spread, 1.5, None if m.exits else 1.2, False) for m in plan.milestones
        ),
    )
    text = apply(plan.path.read_text(), result)
    assert text.count('within = "1.5s"  # calibrated') == len(plan.milestones)
    assert text.count('silence = "1.2s"  # calibrated') == len(plan.milestones)  # the plan's, and one per waiting step
    assert 'off_command = "poweroff"' in text and "# Boards without a power-off device" in text
