"""The SiFive firmware from Debian (images/sdcard/firmware.py): fetched once, or found in its cache."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
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
