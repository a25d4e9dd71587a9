"""pytest in a child process against the qemu-virt board, for the plugin's own tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# The same firmware and QEMU the QEMU target's own tests need.
from tests.targets.test_qemu import ROOT
from tests.targets.test_qemu import pytestmark as NEEDS_QEMU

__all__ = ["NEEDS_QEMU", "ROOT", "run_pytest"]


def run_pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in a child process, with run folders under ``tmp_path/runs``."""
    command = [sys.executable, "-m", "pytest", *args, "-q", "-p", "no:cacheprovider"]
    command += ["--hartbeat-runs", str(tmp_path / "runs")]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
