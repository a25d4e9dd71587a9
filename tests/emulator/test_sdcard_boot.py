"""Debian's HiFive Unmatched firmware from an SD card on the emulator: mask ROM -> U-Boot SPL
(PRCI, DDR, SPI SD) -> OpenSBI + U-Boot from the FIT -> U-Boot's prompt, then a command that
reads the card through U-Boot's own mmc_spi driver."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest

from tests.emulator.fu740_card import write_card

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def unmatched_card(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A card with Debian's Unmatched SPL and FIT (images/sdcard/firmware.py: fetched once, cached)."""
    fetched = subprocess.run(
        [sys.executable, str(ROOT / "images" / "sdcard" / "firmware.py"), "--quiet"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if fetched.returncode != 0:
        pytest.skip(f"Debian's u-boot-sifive is not available: {fetched.stderr.strip()[-200:]}")
    firmware = Path(fetched.stdout.strip().splitlines()[-1]) / "unmatched"
    spl = (firmware / "u-boot-spl.bin").read_bytes()
    fit = (firmware / "u-boot.itb").read_bytes()
    return write_card(tmp_path_factory.mktemp("card") / "sd.img", spl, fit)


def test_unmatched_firmware_boots_from_the_card_to_the_uboot_prompt(unmatched_card: Path) -> None:
    python = shutil.which("pypy3") or sys.executable
    argv = ["-m", "harness.emulator", "-M", "unmatched,msel=11", "-nographic"]
    argv += ["-drive", f"file={unmatched_card},if=sd,format=raw,snapshot=on"]
    child = pexpect.spawn(python, argv, cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=600)
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
