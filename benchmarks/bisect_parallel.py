"""Wall time of ``hartbeat bisect --jobs 3`` against ``--jobs 1`` on one 32-build series.

Bad builds wedge, so each bad run waits out the plan's silence limit: that waiting is what
parallel targets overlap. Both bisects run here, one after the other, on the same series::

    python benchmarks/bisect_parallel.py            # scripted builds (fast, no toolchain)
    python benchmarks/bisect_parallel.py --qemu     # qsoe-sim builds under QEMU

Exits 1 when the ratio is above 0.7 or either bisect misses the culprit.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "bisect"))

from scripted_series import make_series, write_plan_and_board  # noqa: E402

COUNT = 32
CULPRIT = 19
LIMIT = 0.7


def series(root: Path, qemu: bool) -> tuple[list[str], str]:
    """The bisect arguments for the series, and the name of the culprit build."""
    if not qemu:
        plan, board = write_plan_and_board(root, silence=1.0)
        builds = make_series(root, COUNT, CULPRIT)
        return [str(plan), "--board", str(board), "--builds", str(builds)], f"build-{CULPRIT:03d}"
    folder = root / "series"
    make = REPO / "images" / "qsoe-sim" / "make_series.py"
    command = [sys.executable, str(make), "--folder", str(folder), "--count", str(COUNT), "--culprit", str(CULPRIT)]
    subprocess.run([*command, "--fault", "wedge"], check=True, capture_output=True)
    args = ["qsoe-boot", "--board", "qemu-qsoe", "--builds", str(folder), "--artifact", "kernel=qsoe.elf"]
    return args, f"build-{CULPRIT:03d}"


def bisect(args: list[str], out: Path, jobs: int) -> tuple[float, dict]:
    """One bisect; its wall time and bisect.json."""
    start = time.monotonic()
    command = [sys.executable, "-m", "harness.cli", "bisect", *args, "--out", str(out), "--seed", "1"]
    subprocess.run([*command, "--jobs", str(jobs)], cwd=REPO, check=False, capture_output=True)
    wall = time.monotonic() - start
    return wall, json.loads((out / "bisect.json").read_text())


def main() -> int:
    """Run both bisects and print the wall times and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qemu", action="store_true", help="qsoe-sim builds under QEMU instead of scripted ones")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        args, culprit = series(root, options.qemu)
        one, one_result = bisect(args, root / "jobs1", 1)
        three, three_result = bisect(args, root / "jobs3", 3)
    ratio = three / one
    print(f"jobs 1: {one:6.2f} s  {one_result['total_boots']} boots  first bad {one_result['first_bad']}")
    print(f"jobs 3: {three:6.2f} s  {three_result['total_boots']} boots  first bad {three_result['first_bad']}")
    print(f"ratio jobs3/jobs1: {ratio:.2f} (limit {LIMIT})")
    ok = ratio <= LIMIT and one_result["first_bad"] == three_result["first_bad"] == culprit
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
