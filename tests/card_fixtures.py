"""SD card fixtures: Debian's SiFive firmware (images/sdcard/firmware.py) and the Unleashed card.

Registered in tests/conftest.py, so every folder shares one fetch and one card per session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
FIRMWARE_SCRIPT = PROJECT / "images" / "sdcard" / "firmware.py"


@pytest.fixture(scope="session")
def sifive_firmware() -> Path:
    """The cache entry of trixie's ``u-boot-sifive``; skips when no mirror can be reached."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("Debian's u-boot-sifive needs apt-get and dpkg-deb")
    proc = subprocess.run(
        [sys.executable, str(FIRMWARE_SCRIPT), "--quiet"], capture_output=True, text=True, timeout=900, check=False
    )
    if proc.returncode != 0:
        # No mirror reachable (an offline machine): the reason is the fetch's own message.
        pytest.skip(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "firmware fetch failed")
    return Path(proc.stdout.strip().splitlines()[-1])


BUILD_SCRIPT = PROJECT / "images" / "sdcard" / "build.py"


def build_card(*args: str, cache: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the card builder; ``cache`` is its XDG_CACHE_HOME (a test's own, or the shared one)."""
    env = dict(os.environ)
    link: list[str] = []
    if cache is not None:
        # A test's own card must not become the one the board profiles boot.
        env["XDG_CACHE_HOME"] = str(cache)
        link = ["--no-link"]
    return subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), "--quiet", *link, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@dataclass(frozen=True)
class CardInputs:
    """The files a card is built from, as builder options."""

    firmware: Path
    kernel: Path
    initrd: Path
    dtbs: Path

    def args(self, board: str = "unleashed", **override: str) -> list[str]:
        """Options for ``build.py``: every input explicit (no fetch), ``override`` replacing some."""
        chosen = {
            "board": board,
            "kernel": str(self.kernel),
            "initrd": str(self.initrd),
            "dtb": str(self.dtbs / f"hifive-{board}-a00.dtb"),
            "spl": str(self.firmware / board / "u-boot-spl.bin"),
            "fit": str(self.firmware / board / "u-boot.itb"),
            **override,
        }
        return [item for key, value in chosen.items() for item in (f"--{key.replace('_', '-')}", value)]


@pytest.fixture(scope="session")
def card_inputs(sifive_firmware: Path, linux_image: Path, distro_kernel: Path) -> CardInputs:
    """Debian's firmware, the tiny Linux, and Debian's device trees."""
    return CardInputs(
        sifive_firmware, linux_image / "Image", linux_image / "initramfs.cpio", distro_kernel.parent / "dtbs"
    )


def shared_card(card_inputs: CardInputs, board: str) -> Path:
    """The board's card in the shared cache (built once; the profiles' images/sdcard/out link)."""
    proc = build_card(*card_inputs.args(board))
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def unleashed_card(card_inputs: CardInputs) -> Path:
    """The Unleashed card the QEMU SD board boots (shared cache, built once)."""
    return shared_card(card_inputs, "unleashed")


@pytest.fixture(scope="session")
def unmatched_card(card_inputs: CardInputs) -> Path:
    """The Unmatched card emulator-unmatched-sd boots (shared cache, built once)."""
    return shared_card(card_inputs, "unmatched")
