"""``hartbeat run``: check, boot, decide, report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.check import preboot_findings
from harness.cli.common import EXIT_USAGE, add_target_options, load_target_args
from harness.report import summary
from harness.runner import Runner, run_variables
from harness.signals import signals_raise


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``run`` and its options."""
    run = subparsers.add_parser("run", help="run a testplan on a board")
    add_target_options(run)
    run.add_argument("--out", type=Path, help="run folder (default runs/<time>-<plan>-<board>)")
    run.add_argument(
        "--expect-signature",
        metavar="TEXT",
        help="for `git bisect run`: exit 1 only when the verdict's signature contains TEXT; "
        "any other failure exits 125 (skip)",
    )
    run.set_defaults(handler=cmd_run)


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


def cmd_run(args: argparse.Namespace) -> int:
    """``hartbeat run``: check, boot, decide, report."""
    plan, board, images, variables = load_target_args(args)
    if not plan.runs_on(board.name):
        print(
            f"hartbeat: warning: plan {plan.name} is written for boards {', '.join(plan.boards)}, "
            f"running it on {board.name} as asked",
            file=sys.stderr,
        )
    findings = preboot_findings(plan, board, run_variables(plan, board, variables), images)
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
    if args.out is not None and (args.out / "report.json").exists():
        # Overwriting would lose the earlier run's evidence without a word.
        print(f"hartbeat: error: --out {args.out} already holds a run; pick another folder", file=sys.stderr)
        return EXIT_USAGE
    runner = Runner(plan, board, out_dir=args.out, variables=variables, image_overrides=images, status=status)
    # For the interrupt message: where the evidence is, once there is a folder.
    args.run_folder = runner.out_dir
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
