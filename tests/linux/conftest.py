"""The Linux test image (images/linux): built once per session, or found in its cache."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = PROJECT / "images" / "linux" / "build.py"
DISTRO_SCRIPT = PROJECT / "images" / "linux" / "distro.py"
TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")
# A fresh build is 2-3 minutes on 2 idle cores; a loaded CI machine needs more.
BUILD_TIMEOUT_S = 1200


@pytest.fixture(scope="session")
def linux_image() -> Path:
    """The cache entry with ``Image`` and ``initramfs.cpio``; images/linux/out points at it."""
    missing = [tool for tool in ("riscv64-linux-gnu-gcc", "make", "flex", "bison", "bc") if shutil.which(tool) is None]
    if missing or not TARBALL.is_file():
        pytest.skip(f"cannot build the Linux image: missing {', '.join(missing) or TARBALL} (make deps installs it)")
    proc = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    entry = Path(proc.stdout.strip().splitlines()[-1])
    assert (entry / "Image").is_file() and (entry / "initramfs.cpio").is_file()
    return entry


@pytest.fixture(scope="session")
def distro_kernel() -> Path:
    """Debian's riscv64 kernel (trixie), fetched with a private apt state; skips when it cannot be."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("Debian's distro kernel needs apt-get and dpkg-deb")
    proc = subprocess.run(
        [sys.executable, str(DISTRO_SCRIPT)], capture_output=True, text=True, timeout=900, check=False
    )
    if proc.returncode != 0:
        # No mirror reachable (an offline machine): the reason is the fetch's own message.
        pytest.skip(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "distro kernel fetch failed")
    kernel = Path(proc.stdout.strip().splitlines()[-1]) / "Image"
    assert kernel.is_file()
    return kernel
