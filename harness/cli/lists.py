"""``hartbeat boards`` and ``hartbeat plans``: the profiles and testplans found, one a line.

``hartbeat boards --coordinator [HOST:PORT]`` lists a labgrid coordinator's places instead.
"""

from __future__ import annotations

import argparse

from harness.errors import ConfigError
from harness.model.board import search_path
from harness.model.plan import load_plan
from harness.run.board_loader import load_board


def add_parsers(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``boards`` and ``plans``."""
    boards = subparsers.add_parser("boards", help="list the board profiles, or a labgrid coordinator's places")
    boards.add_argument(
        "--coordinator",
        nargs="?",
        const="",
        metavar="HOST:PORT",
        help="list the places of this labgrid coordinator (default: $LG_COORDINATOR)",
    )
    boards.set_defaults(handler=_boards)
    subparsers.add_parser("plans", help="list the testplans").set_defaults(handler=lambda _args: _list("testplans"))


def _boards(args: argparse.Namespace) -> int:
    if args.coordinator is None:
        return _list("boards")
    from harness.cli.places import print_places

    return print_places(args.coordinator or None)


def _list(kind: str) -> int:
    seen = set()
    for folder in search_path(kind):
        for path in sorted(folder.glob("*.toml")):
            if path.stem in seen:
                continue
            seen.add(path.stem)
            try:
                if kind == "boards":
                    board = load_board(str(path))
                    detail = f"{board.target:9} {board.description}"
                else:
                    plan = load_plan(path)
                    detail = f"{len(plan.milestones):2} milestones  {plan.description}"
            except ConfigError as exc:
                detail = f"INVALID: {exc}"
            print(f"{path.stem:24} {detail}")
    return 0
