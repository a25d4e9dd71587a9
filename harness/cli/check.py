"""``hartbeat check``: validate a plan, a board and its images without booting."""

from __future__ import annotations

import argparse

from harness.cli.common import EXIT_USAGE, add_target_options, load_setup
from harness.model.preboot_finding import Level
from harness.run.preboot_check import preboot_findings


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``check`` and its options."""
    check = subparsers.add_parser("check", help="validate a plan, a board and its images without booting")
    add_target_options(check)
    check.set_defaults(handler=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    """``hartbeat check``: print every finding; 0 when none is an error."""
    setup = load_setup(args)
    plan, board = setup.plan, setup.board
    findings = preboot_findings(setup)
    for finding in findings:
        print(finding)
    errors = sum(1 for f in findings if f.level is Level.ERROR)
    print(
        f"{plan.path}: {len(plan.milestones)} milestones; {board.path}: target {board.target}; "
        f"{errors} error(s), {len(findings) - errors} warning(s)"
    )
    return EXIT_USAGE if errors else 0
