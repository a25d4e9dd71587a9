"""pytest in a child process against the qemu-virt board, for the plugin's own tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
FIRMWARE = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin")
UBOOT = Path("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin")

NEEDS_QEMU = pytest.mark.skipif(
    shutil.which("qemu-system-riscv64") is None or not FIRMWARE.is_file() or not UBOOT.is_file(),
    reason="needs qemu-system-misc, opensbi and u-boot-qemu (installed by `make deps`)",
)


def run_pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in a child process, with run folders under ``tmp_path/runs``."""
    command = [sys.executable, "-m", "pytest", *args, "-q", "-p", "no:cacheprovider"]
    command += ["--hartbeat-runs", str(tmp_path / "runs")]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
