"""``hartbeat report``: (re)write report.html for a run folder, or an index page for a folder of runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.records.html_report import write_index, write_run_page
from harness.records.run_folder import REPORT, RunFolderError, find_runs, load_run


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``report``."""
    parser = subparsers.add_parser("report", help="write report.html for a run, or index.html for a folder of runs")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="a run folder or a folder of runs")
    parser.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    """Write the pages and print where they are."""
    for path in args.paths:
        if (path / REPORT).is_file():
            print(write_run_page(load_run(path)))
            continue
        if not path.is_dir():
            raise RunFolderError(f"{path}: no such folder")
        if not find_runs(path):
            raise RunFolderError(f"no run folders (with report.json) in {path}")
        index, count = write_index(path)
        print(f"{index}: {count} run(s)")
    return 0
