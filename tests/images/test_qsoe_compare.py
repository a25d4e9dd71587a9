"""compare qsoe-boot with a good and a wedging qsoe-sim build: the divergence is after usr-mounted."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_good_and_wedging_builds_diverge_after_usr_mounted(build_image, tmp_path):
    if shutil.which("qemu-system-riscv64") is None:
        pytest.skip("needs qemu-system-misc (installed by `make deps`)")
    good, bad = build_image(), build_image(FAULT="wedge")
    out = tmp_path / "cmp"
    targets = ["--board", "qemu-qsoe", "--image", f"kernel={good}", "--board", "qemu-qsoe", "--image", f"kernel={bad}"]
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "compare", "qsoe-boot", *targets, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "diverge after `usr-mounted`: only some reach `login`" in proc.stdout
    assert "stopped: wedge|usr-mounted|tm_msg 0x# <- TM_REQ_SPAWN exec level#.sh" in proc.stdout
    verdicts = next(line for line in proc.stdout.splitlines() if line.startswith("verdict"))
    assert verdicts.split() == ["verdict", "PASS", "WEDGE"]
    page = (out / "compare.html").read_text()
    assert "DIFFER" in page and "diverge after <b>usr-mounted</b>" in page
