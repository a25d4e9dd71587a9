"""The seed's bug (semu's AMO commit order, shared/seeds/004) in a copy of the emulator: the
shipped linux-stress plan must catch it on emulator-virt (harness/emulator/mutants.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.emulator.mutants import BY_NAME, make_copy

pytestmark = pytest.mark.slow


@pytest.mark.timeout(600)
def test_the_seed_mutant_is_caught_by_linux_stress_on_emulator_virt(linux_image: Path, tmp_path: Path) -> None:
    # semu's bug (shared/seeds/004): the AMO's rd committed before its store faults on a COW page.
    copy = make_copy(BY_NAME["amo-rd-before-store"], tmp_path / "copy")
    run = tmp_path / "run"
    code = f"import sys; sys.path.insert(0, {str(copy)!r}); from harness.cli import main; sys.exit(main())"
    proc = subprocess.run(
        [sys.executable, "-I", "-c", code, "run", "linux-stress", "--board", "emulator-virt", "--out", str(run)],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=580,
    )
    report = json.loads((run / "report.json").read_text())
    assert proc.returncode != 0, proc.stdout
    verdict = report["verdict"]
    # The old tests pass (amo-cow's rd differs from rs2); the new ones catch it: glibc's malloc
    # lock left taken after a threaded fork (the watchdog names the hung test), or rd == rs2.
    assert "amo-cow" in [m["name"] for m in report["milestones"]], report["milestones"]
    assert verdict["waiting_for"] in ("fork-threads", "amo-rd-rs2"), verdict
    # A test program's own report is the verdict, a `fail`, not a wedge: the plan's silence for
    # each test outlasts the test's 30 s watchdog (it was a wedge at fork-threads before).
    assert verdict["kind"] == "fail" and verdict["key_line"].startswith("hbtest: FAIL: "), verdict
    if verdict["waiting_for"] == "fork-threads":
        assert "fork-threads: still running after 30 s: hung" in verdict["key_line"], verdict
    # The verdict is dated by its line, in guest seconds (not by the end of the wait for the lines
    # after it, while the idle guest's clock ran on: 160.3 s for a line at 30.65 s).
    (key_t,) = [entry["t"] for entry in verdict["last_lines"] if entry["line"] == verdict["key_line"]]
    assert abs(verdict["at"] - key_t) < 1.0, (verdict["at"], key_t)
