"""The smoke plan on the in-repo emulator, through the same runner path as QEMU and the board."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.emulator.host_env import PYPY_NURSERY
from harness.run.board_loader import load_board
from harness.targets.emulator import EmulatorTarget

ROOT = Path(__file__).resolve().parent.parent.parent
FIRMWARE = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin")
UBOOT = Path("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin")

pytestmark = pytest.mark.skipif(
    not FIRMWARE.is_file() or not UBOOT.is_file(), reason="needs Debian's opensbi and u-boot-qemu (make deps)"
)


@pytest.mark.parametrize(
    ("board", "platform"),
    [("emulator-virt", "riscv-virtio,qemu"), ("emulator-unmatched", "SiFive HiFive Unmatched A00 (hartbeat emulator)")],
)
def test_uboot_smoke_on_the_emulator(tmp_path: Path, board: str, platform: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "uboot-smoke", "--board", board, "--out", str(tmp_path / "run")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["verdict"]["kind"] == "pass"
    assert report["target"]["kind"] == "emulator"
    assert report["fallback"] is None
    captures = {k: v for m in report["milestones"] for k, v in m["captures"].items()}
    assert captures["platform"] == platform
    assert captures["version"].startswith("2023.01")
    assert report["milestones"][-1]["name"] == "power-off"


def test_listing_boards_and_plans() -> None:
    boards = subprocess.run(
        [sys.executable, "-m", "harness.cli", "boards"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert boards.returncode == 0
    for name in ("qemu-virt", "qemu-sifive-u", "emulator-virt", "emulator-unmatched"):
        assert any(line.split()[0] == name for line in boards.stdout.splitlines())
    assert "INVALID" not in boards.stdout
    plans = subprocess.run(
        [sys.executable, "-m", "harness.cli", "plans"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert "uboot-smoke" in plans.stdout and " 9 milestones" in plans.stdout


def test_the_emulator_runs_hartbeats_own_code_whatever_the_cwd_holds(tmp_path: Path) -> None:
    # A folder with its own harness/ package (a common name): before the fix, `python -m
    # harness.emulator` put the cwd first on sys.path and ran this decoy as the emulator.
    decoy = tmp_path / "harness"
    (decoy / "emulator").mkdir(parents=True)
    (decoy / "__init__.py").write_text("print('DECOY harness imported')\nraise SystemExit(3)\n")
    (decoy / "emulator" / "__init__.py").write_text("")
    (decoy / "emulator" / "__main__.py").write_text("print('DECOY emulator')\n")
    hartbeat = Path(sys.executable).with_name("hartbeat")
    proc = subprocess.run(
        [str(hartbeat), "run", "uboot-smoke", "--board", "emulator-virt", "--out", str(tmp_path / "run")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    console = (tmp_path / "run" / "console.log").read_text()
    assert "DECOY" not in console
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads((tmp_path / "run" / "report.json").read_text())["verdict"]["kind"] == "pass"


def _emulator_environ(keeper: int, timeout: float = 30.0) -> list[bytes]:
    """The environment of the process the keeper ``keeper`` started (the emulator)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        children = Path(f"/proc/{keeper}/task/{keeper}/children").read_text().split()
        if children:
            return Path(f"/proc/{children[0]}/environ").read_bytes().split(b"\0")
        time.sleep(0.05)
    raise AssertionError("the keeper started no emulator")


def test_the_emulator_starts_with_pypys_nursery_sized_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # PyPy reads its nursery size only at start-up: the target must hand it over (a fifth of a
    # boot was the collector's with PyPy's default, see harness/emulator/host_env.py).
    monkeypatch.delenv("PYPY_GC_NURSERY", raising=False)
    target = EmulatorTarget(load_board("emulator-virt"), {})
    target.power_on()
    try:
        child = target.console().child
        assert child is not None
        assert f"PYPY_GC_NURSERY={PYPY_NURSERY}".encode() in _emulator_environ(child.pid)
    finally:
        target.power_off()
    # A size the user chose is kept.
    monkeypatch.setenv("PYPY_GC_NURSERY", "4MB")
    assert EmulatorTarget(load_board("emulator-virt"), {}).env == {"PYPY_GC_NURSERY": "4MB"}
