"""``hartbeat run``: check, boot, decide, report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli.common import EXIT_USAGE, add_target_options, load_setup
from harness.model.preboot_finding import Level
from harness.records.report import summary
from harness.run.preboot_check import preboot_findings
from harness.run.runner import Runner
from harness.run.signals import signals_raise
from harness.run.status import StatusEvent, StatusKind


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
    run.add_argument(
        "--until",
        metavar="MILESTONE",
        help="end the plan after this milestone (the verdict is that of the milestones run; the target goes off)",
    )
    run.add_argument(
        "--follow",
        action="store_true",
        help="print each milestone as it is reached and the console's lines as they come (for slow boards)",
    )
    run.add_argument(
        "--symbols",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="a symbol file for the autopsy (ELF or System.map), e.g. --symbols bios=build/fw_jump.elf (repeatable)",
    )
    run.add_argument(
        "--hold",
        action="store_true",
        help="after a failing verdict keep the target up and stopped, print the gdb-multiarch command "
        "that attaches to it, and power off on Ctrl-C",
    )
    run.set_defaults(handler=cmd_run)


class StatusLine:
    """A one-line live status on a terminal; silent when stderr is not one."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self._width = 0

    def __call__(self, event: StatusEvent) -> None:
        if not self.enabled:
            return
        text = event.text
        sys.stderr.write("\r" + text.ljust(self._width))
        sys.stderr.flush()
        self._width = len(text)

    def clear(self) -> None:
        """Erase the status line before the summary is printed."""
        if self.enabled and self._width:
            sys.stderr.write("\r" + " " * self._width + "\r")
            sys.stderr.flush()


class Follow:
    """``--follow``: the console's lines as they reach console.log, and each milestone as reached.

    It is the runner's status callback, called on every milestone and four times a second while
    waiting; each call prints what the log gained since the last one, so lines and milestones
    come out in order, on stdout, for a terminal or a pipe.
    """

    def __init__(self, log: Path) -> None:
        self._log = log
        self._offset = 0

    def __call__(self, event: StatusEvent) -> None:
        self._tail()
        # The periodic "waiting for" line is the plain status line's; milestones and notes print.
        if event.kind is not StatusKind.WAITING:
            print(f"== {event.text}", flush=True)

    def _tail(self) -> None:
        try:
            with self._log.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return
        # Only whole lines: the unfinished one comes with the next call.
        end = data.rfind(b"\n") + 1
        if end:
            self._offset += end
            sys.stdout.write("  | " + data[:end].decode("utf-8", "replace").replace("\n", "\n  | ")[:-4])
            sys.stdout.flush()

    def finish(self) -> None:
        """Print what the log still holds when the run ends."""
        self._tail()


def cmd_run(args: argparse.Namespace) -> int:
    """``hartbeat run``: check, boot, decide, report."""
    setup = load_setup(args)
    plan, board = setup.plan, setup.board
    if not plan.runs_on(board.name):
        print(
            f"hartbeat: warning: plan {plan.name} is written for {plan.written_for()}, "
            f"running it on {board.name} as asked",
            file=sys.stderr,
        )
    findings = preboot_findings(setup)
    errors = [f for f in findings if f.level is Level.ERROR]
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
    runner = Runner(setup, out_dir=args.out, status=status, hold=args.hold)
    follow = Follow(runner.out_dir / "console.log") if args.follow else None
    if follow is not None:
        runner.status = follow
    # For the interrupt message: where the evidence is, once there is a folder.
    args.run_folder = runner.out_dir
    try:
        with signals_raise():
            result = runner.run()
    finally:
        status.clear()
        if follow is not None:
            follow.finish()
    print(summary(result))
    code = result.exit_code
    if args.expect_signature and code == 1 and args.expect_signature not in result.verdict.signature:
        print(
            f"hartbeat: signature {result.verdict.signature!r} does not contain {args.expect_signature!r}: "
            "exit 125 (skip)"
        )
        return 125
    return code
