"""QEMU overhead: wall time from QEMU start to the U-Boot prompt, raw vs through hartbeat.

Raw: QEMU spawned with pexpect and a plain reader that waits for the autoboot line, presses a
key and waits for `=> `. hartbeat: the same command line through the qemu target, runner and
console engine (logging, timestamps, fail patterns, wedge detection), measured to the prompt
milestone. Median of 10 each, in the same run; prints the ratio (goal <= 1.1x).
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.model.board import resolve  # noqa: E402
from harness.model.plan import load_plan  # noqa: E402
from harness.run.board_loader import load_board  # noqa: E402
from harness.run.runner import Runner  # noqa: E402
from harness.run.setup import prepare  # noqa: E402
from harness.targets.qemu import qemu_argv  # noqa: E402

RUNS = 10


def raw_boot(argv: list[str]) -> float:
    start = time.monotonic()
    child = pexpect.spawn(argv[0], argv[1:], timeout=60)
    child.expect("Hit any key to stop autoboot")
    child.send("\r")
    child.expect("=> ")
    elapsed = time.monotonic() - start
    child.close(force=True)
    return elapsed


def hartbeat_boot(out: Path) -> float:
    plan = load_plan(resolve("uboot-smoke", "testplans"))
    milestones = tuple(m for m in plan.milestones if m.name in ("opensbi", "uboot", "autoboot", "prompt"))
    plan = dataclasses.replace(plan, milestones=milestones)
    result = Runner(prepare(plan, load_board("qemu-virt")), out_dir=out).run()
    assert result.verdict.passed, result.verdict.reason
    return result.milestones[-1].t


def main() -> None:
    board = load_board("qemu-virt")
    argv = qemu_argv(board, {"seed": "0"}, None)
    raw, harness = [], []
    with tempfile.TemporaryDirectory() as folder:
        for index in range(RUNS):
            raw.append(raw_boot(argv))
            harness.append(hartbeat_boot(Path(folder) / f"run{index}"))
    raw_med, hb_med = statistics.median(raw), statistics.median(harness)
    print(f"qemu_overhead: QEMU start to U-Boot prompt on qemu-virt, median of {RUNS}")
    print(f"  raw QEMU + plain reader: {raw_med:.3f} s")
    print(f"  hartbeat run           : {hb_med:.3f} s")
    print(f"  ratio hartbeat/raw     : {hb_med / raw_med:.3f}x (goal <= 1.1x)")


if __name__ == "__main__":
    main()
