"""Autopsy time on Linux under QEMU: hartbeat's tiny Linux hung in the kernel (goal <= 1.0 s).

tests/linux/plans/linux-wedge.toml with `wedge=wedge-kernel` (LKDTM's loop with preemption off) on
qemu-virt, RUNS times: the autopsy's own time after the verdict (5 samples over 0.5 s through
QEMU's gdbstub, symbols from the kernel's vmlinux) and, apart, the SysRq probe's (`l` and `w`).
The baseline, measured in the same run, is the same boot with `[autopsy] enabled = false`: the
whole run's time with and without, and the verdict's overshoot past the silence limit (the autopsy
comes after the verdict, so that must not move).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.autopsy.model import AutopsySettings  # noqa: E402
from harness.engine.verdict import Kind  # noqa: E402
from harness.model.plan import load_plan  # noqa: E402
from harness.records.results import RunResult  # noqa: E402
from harness.run.board_loader import load_board  # noqa: E402
from harness.run.runner import Runner  # noqa: E402
from harness.run.setup import prepare  # noqa: E402

RUNS = 5
BASELINE_RUNS = 3
GOAL = 1.0
BOARD = "qemu-virt"


def image() -> Path:
    """The tiny Linux (built once, cached)."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "images" / "linux" / "build.py"), "--quiet"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(proc.stdout.strip().splitlines()[-1])


def overshoot(result: RunResult) -> float:
    """How long after the silence limit the wedge was declared (the plan's last milestone waits)."""
    waiting = result.plan.milestones[-1]
    silence = waiting.silence or result.plan.silence
    return result.verdict.at - result.verdict.last_lines[-1][0] - silence


def main() -> int:
    if shutil.which("qemu-system-riscv64") is None:
        print("autopsy_linux: skipped (no qemu-system-riscv64)")
        return 0
    entry = image()
    board = load_board(BOARD, images=[("kernel", str(entry / "Image")), ("initrd", str(entry / "initramfs.cpio"))])
    plan = load_plan(ROOT / "tests" / "linux" / "plans" / "linux-wedge.toml")
    off = replace(plan, autopsy=AutopsySettings(enabled=False))
    variables = {"wedge": "wedge-kernel"}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        taken = [
            Runner(prepare(plan, board, variables=variables), out_dir=folder / f"on{i}").run() for i in range(RUNS)
        ]
        baseline = [
            Runner(prepare(off, board, variables=variables), out_dir=folder / f"off{i}").run()
            for i in range(BASELINE_RUNS)
        ]
    for result in taken:
        assert result.verdict.kind is Kind.WEDGE and result.autopsy is not None, result.verdict.reason
        assert result.autopsy.available, result.autopsy.diagnosis.summary
    times = [r.autopsy.duration for r in taken if r.autopsy is not None]
    probes = [r.autopsy.sysrq.duration for r in taken if r.autopsy is not None and r.autopsy.sysrq is not None]
    med, worst = statistics.median(times), max(times)
    run_with = statistics.median(r.duration for r in taken)
    run_without = statistics.median(r.duration for r in baseline)
    print(f"autopsy_linux: tiny Linux, LKDTM SOFTLOCKUP on {BOARD}, {RUNS} runs, {BASELINE_RUNS} baseline runs without")
    print(f"  autopsy after the verdict: median {med:.3f} s, worst {worst:.3f} s (goal {GOAL:.1f} s)")
    if probes:
        print(f"  SysRq lw probe after it: median {statistics.median(probes):.3f} s, worst {max(probes):.3f} s")
    print(
        f"  whole run: {run_with:.2f} s with both, {run_without:.2f} s without ({BASELINE_RUNS} runs): "
        f"ratio {run_with / run_without:.2f}x"
    )
    print(
        f"  verdict overshoot past the silence: {statistics.median(map(overshoot, taken)) * 1000:.0f} ms with, "
        f"{statistics.median(map(overshoot, baseline)) * 1000:.0f} ms without"
    )
    autopsy = taken[0].autopsy
    print(f"  diagnosis: {autopsy.diagnosis.summary if autopsy else '-'}")
    if autopsy is not None and autopsy.sysrq is not None:
        print(f"  {autopsy.sysrq.summary()}")
    print(f"  goal (<= {GOAL:.1f} s after the verdict, worst run): {'met' if worst <= GOAL else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
