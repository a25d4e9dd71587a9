"""What the commands share: exit codes, the ``--set``/``--var`` options, and loading a plan and a board."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from harness.model.board import parse_assignments, resolve
from harness.model.plan import load_plan
from harness.run.board_loader import load_board
from harness.run.setup import RunSetup, prepare

# Exit codes follow `git bisect run`, plus 2 for a usage or configuration error.
EXIT_USAGE = 2


def add_override_options(parser: argparse.ArgumentParser) -> None:
    """``--set SECTION.KEY=VALUE`` and ``--var NAME=VALUE``, both repeatable."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a board profile key, e.g. --set qemu.smp=2 (repeatable)",
    )
    parser.add_argument(
        "--var",
        dest="variables",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a variable used as {NAME} in the board or plan (repeatable)",
    )


def add_target_options(parser: argparse.ArgumentParser) -> None:
    """A plan, ``--board``, ``--image`` and the override options: what ``run`` and ``check`` take."""
    parser.add_argument("plan", help="testplan name (in testplans/) or path to a .toml file")
    parser.add_argument("--board", "-b", required=True, help="board profile name (in boards/) or path")
    parser.add_argument(
        "--image",
        dest="images",
        action="append",
        default=[],
        metavar="SLOT=PATH",
        help="fill an image slot, e.g. --image kernel=build/Image (repeatable)",
    )
    add_override_options(parser)
    parser.add_argument(
        "--no-fallback",
        action="store_true",
        help="never run the board's fallback: an unavailable board is a skip (as `fallback = false`)",
    )


def load_setup(args: argparse.Namespace) -> RunSetup:
    """The run the arguments set up: plan (cut by ``--until``), board, ``--image``, ``--var``,
    ``--symbols``, without the fallback under ``--no-fallback``."""
    plan = load_plan(resolve(args.plan, "testplans"))
    images = tuple(parse_assignments(args.images, "--image"))
    board = load_board(args.board, overrides=parse_assignments(args.overrides, "--set"), images=images)
    if getattr(args, "no_fallback", False):
        board = dataclasses.replace(board, fallback=None)
    variables = dict(parse_assignments(args.variables, "--var"))
    if getattr(args, "until", None):
        plan = plan.cut_after(args.until)
    given = parse_assignments(getattr(args, "symbols", []), "--symbols")
    symbols = [(label, str(Path(path).absolute())) for label, path in given]
    return prepare(plan, board, variables=variables, images=images, symbols=symbols)
