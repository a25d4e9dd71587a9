"""Boots spent by ``--strategy bayes`` against ``--strategy repeat`` on a flaky hang, same series, same seeds.

A 200-build scripted series (tests/bisect/scripted_series.py: each build is a shell script booted
as a real process board) wedges from the culprit on, on 30 % of boots (decided by the run's seed).
Both strategies bisect it once per master seed, 20 seeds, with the same target confidence
(``--confidence 0.99`` for bayes and for both verify steps, ``--miss 0.01`` for repeat, the setting
that gives repeat a confidence of about 0.99). A deterministic series then checks that bayes
costs no more boots than repeat when every bad boot hangs::

    python benchmarks/bisect_flaky.py                 # 20 seeds, 4 bisects at a time
    python benchmarks/bisect_flaky.py --seeds 5 --parallel 2

Boots are counted whole: endpoints, candidates and the verify step. Exits 1 unless bayes names the
right culprit in at least 19 of 20 (scaled to --seeds) with reported confidence >= 0.95, uses at
most 0.6x repeat's mean boots, and the deterministic case costs it no more boots than repeat.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "bisect"))

from scripted_series import make_series, write_plan_and_board  # noqa: E402

COUNT = 200
CULPRIT = 120
HANG_PERCENT = 30
RATIO_LIMIT = 0.6
CONFIDENCE_FLOOR = 0.95
STRATEGY_OPTIONS = {
    "bayes": ["--strategy", "bayes", "--confidence", "0.99"],
    "repeat": ["--strategy", "repeat", "--miss", "0.01", "--confidence", "0.99"],
}


def bisect(common: list[str], out: Path, strategy: str, seed: int) -> dict[str, Any]:
    """One bisect as a separate ``hartbeat`` process; its bisect.json."""
    command = [sys.executable, "-m", "harness.cli", "bisect", *common, "--out", str(out), "--seed", str(seed)]
    done = subprocess.run([*command, *STRATEGY_OPTIONS[strategy]], cwd=REPO, capture_output=True, text=True)
    result = out / "bisect.json"
    if not result.exists():
        raise SystemExit(f"{strategy} seed {seed} wrote no answer (exit {done.returncode}):\n{done.stderr[-2000:]}")
    data: dict[str, Any] = json.loads(result.read_text())
    return data


def series(root: Path, hang_percent: int) -> list[str]:
    """The common bisect arguments for a scripted series in ``root``."""
    plan, board = write_plan_and_board(root, silence=1.0)
    builds = make_series(root, COUNT, CULPRIT, hang_percent=hang_percent)
    return [str(plan), "--board", str(board), "--builds", str(builds)]


def run_all(root: Path, common: list[str], seeds: range, parallel: int) -> dict[str, list[dict[str, Any]]]:
    """Both strategies on every seed, ``parallel`` bisects at a time."""
    jobs = [(strategy, seed) for seed in seeds for strategy in STRATEGY_OPTIONS]
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        answers = list(pool.map(lambda job: bisect(common, root / f"{job[0]}-{job[1]}", *job), jobs))
    results: dict[str, list[dict[str, Any]]] = {strategy: [] for strategy in STRATEGY_OPTIONS}
    for (strategy, _seed), answer in zip(jobs, answers, strict=True):
        results[strategy].append(answer)
    return results


def mean(values: list[float]) -> float:
    """The arithmetic mean."""
    return sum(values) / len(values)


def main() -> int:
    """Run the flaky and the deterministic comparison; print the figures; 0 when every limit holds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="master seeds 1..N (default 20)")
    parser.add_argument("--parallel", type=int, default=4, help="bisects at a time (default 4)")
    options = parser.parse_args()
    seeds = range(1, options.seeds + 1)
    culprit = f"build-{CULPRIT:03d}"
    with tempfile.TemporaryDirectory() as temp:
        flaky_root, exact_root = Path(temp) / "flaky", Path(temp) / "deterministic"
        flaky_root.mkdir()
        exact_root.mkdir()
        flaky = run_all(flaky_root, series(flaky_root, HANG_PERCENT), seeds, options.parallel)
        exact = run_all(exact_root, series(exact_root, 100), range(1, 4), options.parallel)

    print(f"{COUNT} builds, culprit {culprit}, hang on {HANG_PERCENT} % of bad boots, seeds 1..{options.seeds}")
    print(f"{'seed':>4}  {'bayes boots':>11} {'conf':>6} {'found':10}  {'repeat boots':>12} {'conf':>6} {'found':10}")
    for seed, bayes, repeat in zip(seeds, flaky["bayes"], flaky["repeat"], strict=True):
        print(
            f"{seed:>4}  {bayes['total_boots']:>11} {bayes['confidence']:>6.3f} {bayes['first_bad'] or '-':10}  "
            f"{repeat['total_boots']:>12} {repeat['confidence']:>6.3f} {repeat['first_bad'] or '-':10}"
        )
    summary = {}
    for strategy, answers in flaky.items():
        right = [a for a in answers if a["first_bad"] == culprit and a["confidence"] >= CONFIDENCE_FLOOR]
        boots = [float(a["total_boots"]) for a in answers]
        confidences = [a["confidence"] for a in answers]
        summary[strategy] = (mean(boots), len(right), min(confidences), mean(confidences))
        print(
            f"{strategy:6}: mean {mean(boots):6.1f} boots (min {min(boots):.0f}, max {max(boots):.0f}); "
            f"right culprit with confidence >= {CONFIDENCE_FLOOR}: {len(right)}/{len(answers)}; "
            f"confidence min {min(confidences):.3f} mean {mean(confidences):.3f}"
        )
    ratio = summary["bayes"][0] / summary["repeat"][0]
    print(f"ratio bayes/repeat mean boots: {ratio:.2f} (limit {RATIO_LIMIT})")
    exact_bayes = [a["total_boots"] for a in exact["bayes"]]
    exact_repeat = [a["total_boots"] for a in exact["repeat"]]
    exact_right = all(a["first_bad"] == culprit for answers in exact.values() for a in answers)
    print(f"deterministic: bayes boots {exact_bayes}, repeat boots {exact_repeat}, right culprit: {exact_right}")
    needed = math.ceil(0.95 * options.seeds)
    ok = (
        summary["bayes"][1] >= needed
        and ratio <= RATIO_LIMIT
        and exact_right
        and all(b <= r for b, r in zip(exact_bayes, exact_repeat, strict=True))
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
