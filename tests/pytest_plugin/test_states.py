"""One boot for many tests: pytest tests declaring the same state share a boot (counted here)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("qemu-system-riscv64") is None, reason="needs qemu-system-riscv64"),
]

SHARED = """
import pytest

pytestmark = pytest.mark.hartbeat(state="uboot-shell")


def test_version(console):
    result = console.run("version")
    assert result.status == 0 and "U-Boot" in result.output


def test_set_a_variable(console):
    assert console.run("setenv hb_shared 42").status == 0


def test_the_variable_is_still_there(console):
    # Only true when this test runs on the boot the previous one changed.
    assert console.run("printenv hb_shared").output == "hb_shared=42"
"""

BREAKING = """
import pytest

pytestmark = pytest.mark.hartbeat(state="uboot-shell")


def test_marks_the_boot(console):
    assert console.run("setenv hb_mark 1").status == 0


def test_breaks_the_board(console):
    console.expect_milestone("this never comes", "never", within=20, silence=2)


def test_boots_again(console):
    # A new boot: the variable set before the wedge is gone.
    assert console.run("printenv hb_mark").status != 0
"""


def run_tests(tmp_path: Path, text: str) -> tuple[subprocess.CompletedProcess[str], list[Path]]:
    """pytest on ``text`` with --board qemu-virt; returns the result and the run folders, in order."""
    test_file = tmp_path / "test_states.py"
    test_file.write_text(text)
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "pytest", str(test_file), "-q", "-p", "no:cacheprovider", "-p", "no:labgrid"]
    command += ["--board", "qemu-virt", "--hartbeat-runs", str(runs), "--rootdir", str(ROOT)]
    command += ["-c", str(ROOT / "pyproject.toml")]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    return proc, sorted(runs.iterdir(), key=lambda p: p.stat().st_mtime) if runs.exists() else []


def banners(run: Path) -> int:
    return (run / "console.log").read_text(errors="replace").count("OpenSBI v")


def test_three_tests_sharing_a_state_boot_once(tmp_path: Path) -> None:
    proc, runs = run_tests(tmp_path, SHARED)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout
    assert len(runs) == 1, runs
    assert banners(runs[0]) == 1
    report = json.loads((runs[0] / "report.json").read_text())
    assert report["verdict"]["kind"] == "pass"
    assert "shared by 3 test(s)" in report["verdict"]["reason"]


def test_a_test_that_breaks_the_board_makes_the_next_one_boot_again(tmp_path: Path) -> None:
    proc, runs = run_tests(tmp_path, BREAKING)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 2 passed" in proc.stdout, proc.stdout
    assert len(runs) == 2, runs
    assert [banners(run) for run in runs] == [1, 1]
    first, second = (json.loads((run / "report.json").read_text())["verdict"] for run in runs)
    assert first["kind"] == "wedge"
    assert second["kind"] == "pass"
