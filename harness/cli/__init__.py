"""The ``hartbeat`` command line: one module per command, each registering its own parser.

Exit codes follow ``git bisect run``: 0 pass, 1 any failing verdict, 125 skip (cannot test),
2 usage or configuration error; an interrupted run exits 128 + the signal number.

Layer: cli. May import: base, engine, autopsy, model, lab, ssh, power, targets, probes, records,
run, analysis, bisect.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import harness
from harness.cli import bisect, calibrate, check, compare, lists, replay, report, run
from harness.cli.common import EXIT_USAGE
from harness.errors import HartbeatError
from harness.run.signals import Interrupted


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="hartbeat",
        description="Boot-milestone testing and hang bisection "
        "for the HiFive Unmatched, QEMU and the in-repo emulator.",
    )
    parser.add_argument("--version", action="version", version=f"hartbeat {harness.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run.add_parser(sub)
    check.add_parser(sub)
    lists.add_parsers(sub)
    bisect.add_parser(sub)
    replay.add_parser(sub)
    calibrate.add_parser(sub)
    report.add_parser(sub)
    compare.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hartbeat`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
        return code
    except Interrupted as exc:
        print(f"hartbeat: {exc}{_written(args)}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print(f"hartbeat: interrupted{_written(args)}", file=sys.stderr)
        return 130
    except HartbeatError as exc:
        print(f"hartbeat: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # `hartbeat run ... | head` closed our stdout; the report is on disk already.
        sys.stderr.close()
        return 1


def _written(args: argparse.Namespace) -> str:
    """Where the interrupted run's evidence is; nothing when it stopped before a folder existed."""
    folder = getattr(args, "run_folder", None)
    if folder is not None and (folder / "report.json").is_file():
        return f"; the console log and report were written to {folder}"
    return "; nothing was written (interrupted before the run began)"
