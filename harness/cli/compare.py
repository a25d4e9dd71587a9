"""``hartbeat compare``: one plan on several targets, or several recorded runs, side by side.

``compare PLAN --board A [--image/--set/--var ...] --board B [...]``: the options after a
``--board`` belong to that target, the ones before the first ``--board`` to all of them, so
two builds are ``--board x --image kernel=good.elf --board x --image kernel=bad.elf``.
``compare RUN RUN ...`` compares run folders already on disk.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.analysis.compare import Column, compare, render_html, table
from harness.errors import ConfigError
from harness.model.board import parse_assignments, resolve
from harness.model.plan import load_plan
from harness.records.run_folder import REPORT, load_run
from harness.run.board_loader import load_board
from harness.run.runner import Runner
from harness.run.setup import prepare
from harness.run.signals import signals_raise

PAGE = "compare.html"


class _TargetOption(argparse.Action):
    """``--board`` opens a target; ``--image``/``--set``/``--var`` go to the last one opened."""

    def __call__(self, parser: Any, namespace: argparse.Namespace, value: Any, option: str | None = None) -> None:
        targets: list[dict[str, Any]] = namespace.targets
        if self.dest == "board":
            targets.append({"board": value, "images": [], "overrides": [], "variables": []})
        elif targets:
            targets[-1][self.dest].append(value)
        else:
            namespace.common.setdefault(self.dest, []).append(value)


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``compare``."""
    parser = subparsers.add_parser(
        "compare", help="run one plan on several targets (or take recorded runs) and show where they diverge"
    )
    parser.add_argument("what", nargs="+", metavar="PLAN|RUN", help="a testplan, or two or more run folders")
    after = "; after a --board it applies to that target only, before the first to all (repeatable)"
    for flag, dest, meta, what in (
        ("--board", "board", "BOARD", "a target: board profile name or path (repeatable, two or more)"),
        ("--image", "images", "SLOT=PATH", "fill an image slot" + after),
        ("--set", "overrides", "SECTION.KEY=VALUE", "override a board profile key" + after),
        ("--var", "variables", "NAME=VALUE", "set a {NAME} variable" + after),
    ):
        parser.add_argument(flag, dest=dest, action=_TargetOption, metavar=meta, help=what)
    parser.add_argument(
        "--out",
        type=Path,
        help="folder for the runs and compare.html "
        "(default runs/compare-<time>; for run folders, the first one's parent)",
    )
    parser.set_defaults(handler=cmd_compare, targets=[], common={})


def _label(target: dict[str, Any]) -> str:
    # The file and its folder: two builds are usually one name in two build folders.
    extras = [
        f"{slot}={'/'.join(Path(path).parts[-2:])}" for slot, path in parse_assignments(target["images"], "--image")
    ]
    extras += list(target["overrides"]) + list(target["variables"])
    return " ".join([target["board"], *extras])


def _run_targets(args: argparse.Namespace, out: Path) -> list[Column]:
    plan = load_plan(resolve(args.what[0], "testplans"))
    columns = []
    labels: list[str] = []
    for index, target in enumerate(args.targets):
        images = tuple(parse_assignments([*args.common.get("images", []), *target["images"]], "--image"))
        overrides = parse_assignments([*args.common.get("overrides", []), *target["overrides"]], "--set")
        variables = dict(parse_assignments([*args.common.get("variables", []), *target["variables"]], "--var"))
        board = load_board(target["board"], overrides=overrides, images=images)
        label = _label(target)
        if label in labels:
            label = f"{label} #{index + 1}"
        labels.append(label)
        folder = out / f"{index + 1}-{re.sub(r'[^A-Za-z0-9_.=-]+', '_', label)}"
        print(f"hartbeat: running {plan.name} on {label} -> {folder}", file=sys.stderr)
        with signals_raise():
            Runner(prepare(plan, board, variables=variables, images=images), out_dir=folder).run()
        columns.append(Column(label, load_run(folder)))
    return columns


def cmd_compare(args: argparse.Namespace) -> int:
    """Run or load the columns, print the table, write compare.html; 0 when the targets agree."""
    recorded = all((Path(item) / REPORT).is_file() for item in args.what)
    if recorded:
        if len(args.what) < 2 or args.targets:
            raise ConfigError("compare", "RUN", "give two or more run folders, and no --board with them")
        columns = [Column(str(item), load_run(Path(item))) for item in args.what]
        out = args.out or Path(args.what[0]).parent
    else:
        if len(args.what) != 1 or len(args.targets) < 2:
            raise ConfigError("compare", "--board", "give one plan and two or more --board targets")
        out = args.out or Path("runs") / f"compare-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
        columns = _run_targets(args, out)
    result = compare(columns)
    out.mkdir(parents=True, exist_ok=True)
    page = out / PAGE
    page.write_text(render_html(result), encoding="utf-8")
    print(table(result))
    print(f"page: {page}")
    return 0 if result.agree else 1
