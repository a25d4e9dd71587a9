"""Command-line options shared by ``hartbeat run``, ``check`` and ``bisect``."""

from __future__ import annotations

import argparse


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
