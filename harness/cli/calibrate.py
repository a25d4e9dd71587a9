"""``hartbeat calibrate``: suggested ``within`` and ``silence`` per milestone from passing runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.analysis.calibrate import (
    DEFAULT_MARGIN,
    DEFAULT_SLACK,
    CalibrationError,
    calibrate,
    table,
    toml_fragment,
    write_plan,
)
from harness.model.board import resolve
from harness.model.config import parse_duration
from harness.model.plan import load_plan
from harness.records.run_folder import find_runs, load_run


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``calibrate``."""
    parser = subparsers.add_parser("calibrate", help="suggest deadlines and silences from passing runs of a plan")
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders, or folders of runs")
    parser.add_argument("--plan", help="the plan (name or path; default: the one the runs recorded)")
    parser.add_argument(
        "--margin", type=float, default=DEFAULT_MARGIN, help=f"times the longest seen (default {DEFAULT_MARGIN:g})"
    )
    parser.add_argument(
        "--slack", default=f"{DEFAULT_SLACK:g}s", help=f"added on top, a duration (default {DEFAULT_SLACK:g}s)"
    )
    parser.add_argument("--write", type=Path, metavar="PLAN.toml", help="write a copy of the plan with the limits")
    parser.set_defaults(handler=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Print the measures and the TOML fragment; with ``--write``, the calibrated plan copy."""
    runs = [load_run(folder) for root in args.runs for folder in find_runs(root)]
    if not runs:
        raise CalibrationError(f"no run folders (with report.json) in {', '.join(map(str, args.runs))}")
    if args.plan:
        plan_path = resolve(args.plan, "testplans")
    else:
        paths = {str(run.report.get("plan", {}).get("path", "")) for run in runs}
        if len(paths) != 1 or not Path(next(iter(paths))).is_file():
            raise CalibrationError(f"the runs do not name one plan file ({', '.join(sorted(paths))}): give --plan")
        plan_path = Path(paths.pop())
    plan = load_plan(plan_path)
    slack = parse_duration(args.slack, "--slack", "", allow_zero=True)
    result = calibrate(plan, runs, margin=args.margin, slack=slack)
    print(table(result))
    print()
    print(toml_fragment(result))
    if args.write:
        print(f"\nwrote {write_plan(plan, result, args.write)}")
    return 0
