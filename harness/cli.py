"""The ``hartbeat`` command line.

Exit codes follow ``git bisect run``: 0 pass, 1 any failing verdict, 125 skip (cannot test),
2 usage or configuration error; an interrupted run exits 128 + the signal number.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.bisect_cli import add_parser as add_bisect
from harness.board import load_board, parse_assignments, resolve, search_path
from harness.check import preboot_findings
from harness.errors import ConfigError, HartbeatError
from harness.options import add_override_options
from harness.plan import load_plan
from harness.report import summary
from harness.runner import Interrupted, Runner, run_variables, signals_raise

EXIT_USAGE = 2


class StatusLine:
    """A one-line live status on a terminal; silent when stderr is not one."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self._width = 0

    def __call__(self, text: str) -> None:
        if not self.enabled:
            return
        sys.stderr.write("\r" + text.ljust(self._width))
        sys.stderr.flush()
        self._width = len(text)

    def clear(self) -> None:
        """Erase the status line before the summary is printed."""
        if self.enabled and self._width:
            sys.stderr.write("\r" + " " * self._width + "\r")
            sys.stderr.flush()


def _add_target_options(parser: argparse.ArgumentParser) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="hartbeat",
        description="Boot-milestone testing and hang bisection "
        "for the HiFive Unmatched, QEMU and the in-repo emulator.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a testplan on a board")
    _add_target_options(run)
    run.add_argument("--out", type=Path, help="run folder (default runs/<time>-<plan>-<board>)")
    run.add_argument(
        "--expect-signature",
        metavar="TEXT",
        help="for `git bisect run`: exit 1 only when the verdict's signature contains TEXT; "
        "any other failure exits 125 (skip)",
    )

    check = sub.add_parser("check", help="validate a plan, a board and its images without booting")
    _add_target_options(check)

    sub.add_parser("boards", help="list the board profiles")
    sub.add_parser("plans", help="list the testplans")
    add_bisect(sub)
    return parser


def _load(args: argparse.Namespace) -> tuple:
    plan = load_plan(resolve(args.plan, "testplans"))
    images = tuple(parse_assignments(args.images, "--image"))
    board = load_board(args.board, overrides=parse_assignments(args.overrides, "--set"), images=images)
    variables = dict(parse_assignments(args.variables, "--var"))
    return plan, board, images, variables


def cmd_check(args: argparse.Namespace) -> int:
    """``hartbeat check``: print every finding; 0 when none is an error."""
    plan, board, _images, variables = _load(args)
    findings = preboot_findings(plan, board, run_variables(plan, board, variables))
    for finding in findings:
        print(finding)
    errors = sum(1 for f in findings if f.level == "error")
    print(
        f"{plan.path}: {len(plan.milestones)} milestones; {board.path}: target {board.target}; "
        f"{errors} error(s), {len(findings) - errors} warning(s)"
    )
    return EXIT_USAGE if errors else 0


def cmd_run(args: argparse.Namespace) -> int:
    """``hartbeat run``: check, boot, decide, report."""
    plan, board, images, variables = _load(args)
    if not plan.runs_on(board.name):
        print(
            f"hartbeat: warning: plan {plan.name} is written for boards {', '.join(plan.boards)}, "
            f"running it on {board.name} as asked",
            file=sys.stderr,
        )
    findings = preboot_findings(plan, board, run_variables(plan, board, variables))
    errors = [f for f in findings if f.level == "error"]
    for finding in findings:
        # A missing image is reported by the run itself, as the reason for its skip.
        if not finding.unavailable:
            print(f"hartbeat: {finding}", file=sys.stderr)
    status = StatusLine()
    # A missing image is not a configuration error: the runner records it as a skip (125), which
    # is what `git bisect run` needs for a build that did not produce its artefact.
    if any(not f.unavailable for f in errors):
        print(f"hartbeat: not starting: {len(errors)} error(s) found before boot", file=sys.stderr)
        return EXIT_USAGE
    runner = Runner(plan, board, out_dir=args.out, variables=variables, image_overrides=images, status=status)
    try:
        with signals_raise():
            result = runner.run()
    finally:
        status.clear()
    print(summary(result))
    code = result.verdict.exit_code
    if args.expect_signature and code == 1 and args.expect_signature not in result.verdict.signature:
        print(
            f"hartbeat: signature {result.verdict.signature!r} does not contain {args.expect_signature!r}: "
            "exit 125 (skip)"
        )
        return 125
    return code


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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hartbeat`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "check":
            return cmd_check(args)
        if args.command in ("boards", "plans"):
            return _list("boards" if args.command == "boards" else "testplans")
        return args.handler(args)
    except Interrupted as exc:
        print(f"hartbeat: {exc}; the console log and report were written", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("hartbeat: interrupted; the console log and report were written", file=sys.stderr)
        return 130
    except HartbeatError as exc:
        print(f"hartbeat: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # `hartbeat run ... | head` closed our stdout; the report is on disk already.
        sys.stderr.close()
        return 1


if __name__ == "__main__":
    sys.exit(main())
