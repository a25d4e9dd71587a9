"""compare: one plan on QEMU and on the in-repo emulator agrees; recorded runs that differ say where."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-system-riscv64") is None, reason="needs qemu-system-misc (installed by `make deps`)"
)

ROOT = Path(__file__).resolve().parent.parent.parent


def hartbeat(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_uboot_smoke_agrees_on_qemu_and_the_emulator(tmp_path):
    out = tmp_path / "cmp"
    proc = hartbeat(
        "compare", "uboot-smoke", "--board", "qemu-virt", "--board", "emulator-virt", "--out", str(out), cwd=ROOT
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["milestone", "qemu-virt", "emulator-virt"]
    assert lines[-2] == "agree: every target reached the same milestones"
    assert any(line.startswith("power-off ") for line in lines)
    page = (out / "compare.html").read_text()
    assert "AGREE" in page and page.count('class="tl"') == 2
    # Each target's run folder is a normal one, with its own report.
    assert len(list(out.glob("*/report.html"))) == 2


def test_recorded_runs_that_differ_exit_1_and_name_the_split(tmp_path, scripted_board, plan_file, run_plan):
    plan = plan_file(
        """
        name = "two"
        silence = "1s"
        [[milestone]]
        name = "banner"
        expect = 'OpenSBI'
        [[milestone]]
        name = "mounted"
        expect = 'mounted /usr'
        [[milestone]]
        name = "login"
        expect = 'login: $'
        """
    )
    folders = []
    for index, tail in enumerate(("put login: \nhang\n", "say spawn level1.sh\nhang\n")):
        result = run_plan(plan, scripted_board(f"say OpenSBI v1.2\nsay mounted /usr\n{tail}"))
        folders.append(shutil.copytree(result.out_dir, tmp_path / f"run-{index}"))
    proc = hartbeat("compare", *map(str, folders), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "diverge after `mounted`: only some reach `login`" in proc.stdout
    assert "stopped: wedge|mounted|spawn level#.sh" in proc.stdout
    assert (tmp_path / "compare.html").is_file()
