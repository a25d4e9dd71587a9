"""Autopsy time: seconds the wedge autopsy adds after the verdict, 5 samples included (goal <= 1.0 s).

qsoe-sim's lock-order deadlock (FAULT=wedge) booted RUNS times on each board whose target kind
has an autopsy backend (emulator-qsoe always; qemu-qsoe once QEMU and its backend are there).
Prints the autopsy's own duration (median, worst) and, as the baseline measured in the same run,
the same boots with `[autopsy] enabled = false`: their whole run time, the autopsy's share of
ours, and the verdict's overshoot past the silence limit with and without it (the autopsy
comes after the verdict, so that overshoot must not move).
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
from harness.probes.registry import BACKENDS  # noqa: E402
from harness.records.results import RunResult  # noqa: E402
from harness.run.board_loader import load_board  # noqa: E402
from harness.run.runner import Runner  # noqa: E402
from harness.run.setup import prepare  # noqa: E402

RUNS = 5
BASELINE_RUNS = 3
GOAL = 1.0
BOARDS = ("emulator-qsoe", "qemu-qsoe")


def build(folder: Path) -> Path:
    out = folder / "qsoe"
    make = ["make", "-s", "-C", str(ROOT / "images" / "qsoe-sim"), f"BUILD_DIR={out}", "FAULT=wedge", "BUILD_NO=7"]
    subprocess.run(make, check=True, capture_output=True)
    return out / "qsoe.elf"


def overshoot(result: RunResult) -> float:
    return result.verdict.at - result.verdict.last_lines[-1][0] - result.plan.silence


def measure(board_name: str, image: Path, folder: Path) -> bool:
    board = load_board(board_name, images=[("kernel", str(image))])
    if board.name != board_name or board.target not in BACKENDS:
        print(f"  {board_name}: skipped (target {board.target!r} has no autopsy backend here)")
        return True
    if board.target == "qemu" and shutil.which("qemu-system-riscv64") is None:
        print(f"  {board_name}: skipped (no qemu-system-riscv64)")
        return True
    plan = load_plan(ROOT / "testplans" / "qsoe-boot.toml")
    off = replace(plan, autopsy=AutopsySettings(enabled=False))
    taken: list[RunResult] = []
    for index in range(RUNS):
        result = Runner(
            prepare(plan, board, variables={"seed": str(index)}), out_dir=folder / f"{board_name}-{index}"
        ).run()
        assert result.verdict.kind is Kind.WEDGE and result.autopsy is not None, result.verdict.reason
        assert result.autopsy.available, result.autopsy.diagnosis.summary
        taken.append(result)
    baseline = [
        Runner(prepare(off, board, variables={"seed": str(index)}), out_dir=folder / f"{board_name}-off{index}").run()
        for index in range(BASELINE_RUNS)
    ]
    times = [r.autopsy.duration for r in taken if r.autopsy is not None]
    med, worst = statistics.median(times), max(times)
    span = statistics.median(r.autopsy.span for r in taken if r.autopsy is not None)
    run_with = statistics.median(r.duration for r in taken)
    run_without = statistics.median(r.duration for r in baseline)
    print(f"  {board_name}: autopsy after the verdict: median {med:.3f} s, worst {worst:.3f} s (goal {GOAL:.1f} s)")
    print(f"    5 samples over {span:.3f} s; overhead beyond the sampling: {med - span:.3f} s")
    print(
        f"    whole run: {run_with:.2f} s with it, {run_without:.2f} s without ({BASELINE_RUNS} runs): "
        f"ratio {run_with / run_without:.2f}x"
    )
    print(
        f"    verdict overshoot past the silence: {statistics.median(map(overshoot, taken)) * 1000:.0f} ms with, "
        f"{statistics.median(map(overshoot, baseline)) * 1000:.0f} ms without"
    )
    print(f"    diagnosis: {taken[0].autopsy.diagnosis.summary if taken[0].autopsy else '-'}")
    return worst <= GOAL


def main() -> int:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        image = build(folder)
        print(f"autopsy_time: qsoe-sim FAULT=wedge, {RUNS} runs per board, {BASELINE_RUNS} baseline runs without")
        met = [measure(board, image, folder) for board in BOARDS]
    print(f"  goal (<= {GOAL:.1f} s after the verdict, worst run): {'met' if all(met) else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
