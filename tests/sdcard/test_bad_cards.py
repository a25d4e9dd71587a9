"""Broken SD cards on the QEMU SD board end as the firmware on the board would, and the verdict
(or the pre-boot check, for what the partition table shows) names it; never a traceback."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from harness.engine.verdict import Kind
from harness.model.board import PROJECT_ROOT, resolve
from harness.model.plan import load_plan
from harness.run.board_loader import load_board
from harness.run.runner import Runner, RunResult
from harness.run.setup import prepare
from tests.card_fixtures import CardInputs, build_card

pytestmark = pytest.mark.skipif(shutil.which("qemu-system-riscv64") is None, reason="needs QEMU (make deps)")


def _card(card_inputs: CardInputs, tmp_path: Path, *extra: str, **override: str) -> Path:
    proc = build_card(*card_inputs.args(**override), *extra, cache=tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip())


def _boot(card: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunResult:
    monkeypatch.setenv("HARTBEAT_LOCK_DIR", str(tmp_path / "locks"))
    images = (("sdcard", str(card)),)
    board = load_board("qemu-sifive-u-sd", images=images)
    plan = load_plan(resolve("unmatched-boot", "testplans"))
    return Runner(prepare(plan, board, images=images), out_dir=tmp_path / "run").run()


def test_corrupt_fit_is_the_spls_own_failure(card_inputs: CardInputs, tmp_path: Path, monkeypatch) -> None:
    fit = bytearray((card_inputs.firmware / "unleashed" / "u-boot.itb").read_bytes())
    structure = struct.unpack(">I", fit[8:12])[0]
    fit[structure : structure + 64] = b"\xff" * 64  # the FDT magic stays; its node tree is garbage
    (tmp_path / "corrupt.itb").write_bytes(fit)
    result = _boot(_card(card_inputs, tmp_path, fit=str(tmp_path / "corrupt.itb")), tmp_path, monkeypatch)
    verdict = result.verdict
    assert verdict.kind is Kind.PANIC, verdict.summary()
    assert verdict.milestone == "spl-mmc" and verdict.waiting_for == "uboot"
    assert "SPL: failed to boot from all boot devices" in verdict.key_line
    assert any("mmc_load_image_raw_sector" in line for _t, line in verdict.last_lines)


def test_extlinux_naming_a_missing_file_is_u_boots_skip(card_inputs: CardInputs, tmp_path: Path, monkeypatch) -> None:
    conf = tmp_path / "extlinux.conf"
    conf.write_text("default hartbeat\n\nlabel hartbeat\n    kernel /Image-missing\n    fdt /unleashed.dtb\n")
    result = _boot(_card(card_inputs, tmp_path, extlinux=str(conf)), tmp_path, monkeypatch)
    verdict = result.verdict
    assert verdict.kind is Kind.PANIC, verdict.summary()
    assert verdict.milestone == "extlinux" and verdict.waiting_for == "starting-kernel"
    assert verdict.key_line.endswith("Skipping hartbeat for failure retrieving kernel")
    assert any("Retrieving file: /Image-missing" in line for _t, line in verdict.last_lines)


def test_device_tree_of_another_board_is_the_kernels_fault(
    card_inputs: CardInputs, tmp_path: Path, monkeypatch
) -> None:
    # The Unmatched's tree on the Unleashed: Linux believes in 16 GiB of RAM the machine lacks.
    dtb = str(card_inputs.dtbs / "hifive-unmatched-a00.dtb")
    result = _boot(_card(card_inputs, tmp_path, "--allow-foreign-dtb", dtb=dtb), tmp_path, monkeypatch)
    verdict = result.verdict
    # The kernel faults (an oops or a panic, by the plan's standard fail patterns) or goes silent.
    assert verdict.kind in (Kind.OOPS, Kind.PANIC, Kind.WEDGE), verdict.summary()
    assert [m.name for m in result.milestones][-1] in ("starting-kernel", "linux")
    log = (tmp_path / "run" / "console.log").read_text()
    assert "Machine model: SiFive HiFive Unmatched A00" in log
    if verdict.kind is not Kind.WEDGE:
        assert "fault" in verdict.key_line or "panic" in verdict.key_line.lower(), verdict.key_line


def test_card_without_spl_partition_is_refused_before_boot(card_inputs: CardInputs, tmp_path: Path) -> None:
    card = _card(card_inputs, tmp_path, spl="none")
    args = ["run", "unmatched-boot", "--board", "qemu-sifive-u-sd", "--image", f"sdcard={card}"]
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", *args, "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    first = proc.stderr.splitlines()[0]
    assert "images.sdcard" in first and "has no SPL partition (type 5b193300-fc78-40cd-8002-e86c45580b47)" in first
    assert "the mask ROM would find nothing to load" in first
    assert not (tmp_path / "run").exists()  # nothing was booted
