"""Debian's HiFive Unmatched firmware from an SD card on the emulator: mask ROM -> U-Boot SPL
(PRCI, DDR, SPI SD) -> OpenSBI + U-Boot from the FIT -> U-Boot's prompt, then a command that
reads the card through U-Boot's own mmc_spi driver."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pexpect
import pytest

from harness.emulator.host_env import interpreter_env
from harness.engine.verdict import Kind
from harness.model.board import resolve
from harness.model.plan import load_plan
from harness.run.board_loader import load_board
from harness.run.runner import Runner
from harness.run.setup import prepare
from tests.emulator.fu740_card import write_card

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def firmware_card(sifive_firmware: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A card with Debian's Unmatched SPL and FIT (the session's one firmware fetch, tests/card_fixtures.py)."""
    spl = (sifive_firmware / "unmatched" / "u-boot-spl.bin").read_bytes()
    fit = (sifive_firmware / "unmatched" / "u-boot.itb").read_bytes()
    return write_card(tmp_path_factory.mktemp("card") / "sd.img", spl, fit)


def test_unmatched_firmware_boots_from_the_card_to_the_uboot_prompt(firmware_card: Path) -> None:
    python = shutil.which("pypy3") or sys.executable
    argv = ["-m", "harness.emulator", "-M", "unmatched,msel=11", "-nographic"]
    argv += ["-drive", f"file={firmware_card},if=sd,format=raw,snapshot=on"]
    env = interpreter_env({**os.environ, "PYTHONPATH": str(ROOT)})
    child = pexpect.spawn(python, argv, cwd=str(ROOT), env=env, timeout=600)
    log = bytearray()
    started = time.monotonic()
    try:
        for pattern in (
            rb"U-Boot SPL 2025\.01\S*",
            b"Trying to boot from MMC1",
            rb"U-Boot 2025\.01\S*",
            b"Model: SiFive HiFive Unmatched A00",
            rb"DRAM:\s+16 GiB",
            b"MMC:   spi@10050000:mmc@0: 0",
            # The board EEPROM on I2C0 gives U-Boot its MAC address and serial number.
            b"EEPROM: SiFive PCB EEPROM format v1",
            b"Serial number: HARTBEAT-EMU0001",
            b"CRC: ",
            b"Net:   eth0: ethernet@10090000",
            b"Hit any key to stop autoboot",
        ):
            child.expect(pattern)
            log += child.before + child.after
        child.send(" ")
        child.expect(b"=> ")
        child.sendline(b"mmc info")
        # U-Boot reads the card's CSD/CID over SPI: an SDHC card of the image's 16 MiB.
        child.expect(rb"Capacity: 16 MiB")
        log += child.before + child.after
    finally:
        child.terminate(force=True)
    assert b"Traceback" not in log and b"bus error" not in log, log.decode(errors="replace")
    # Generous: about 15 s on PyPy on a quiet machine.
    assert time.monotonic() - started < 600


def test_qemu_sifive_u_sd_without_qemu_runs_unmatched_boot_on_emulator_unmatched_sd(
    unmatched_card: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SD board's fallback: the shipped plan, cut after U-Boot's prompt, on the emulator's
    FU740 booting the Unmatched card through the board profile (mask ROM, SPL, FIT, autoboot)."""
    monkeypatch.setenv("HARTBEAT_LOCK_DIR", str(tmp_path / "locks"))
    images = (("sdcard", str(unmatched_card)),)
    board = load_board(
        "qemu-sifive-u-sd", overrides=[("qemu.binary", "/nonexistent/qemu-system-riscv64")], images=images
    )
    plan = load_plan(resolve("unmatched-boot", "testplans")).cut_after("prompt")
    result = Runner(prepare(plan, board, images=images), out_dir=tmp_path / "run").run()
    assert result.verdict.kind is Kind.PASS, (result.verdict.summary(), result.out_dir)
    assert result.board.name == "emulator-unmatched-sd"
    assert result.fallback_for is not None and result.fallback_for[0] == "qemu-sifive-u-sd"
    assert "/nonexistent/qemu-system-riscv64" in result.fallback_for[1]
    assert [m.name for m in result.milestones] == [m.name for m in plan.milestones]
    model = next(m for m in result.milestones if m.name == "model")
    assert "HiFive Unmatched" in model.line
