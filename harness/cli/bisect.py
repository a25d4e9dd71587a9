"""``hartbeat bisect``: the command line of the bisect package (options, checks, output)."""

from __future__ import annotations

import argparse
import random
import signal
import sys
from datetime import datetime
from pathlib import Path

from harness.bisect.answer import RESULT_NAME, Status, rows_from_events, table
from harness.bisect.bisector import Bisector, open_journal
from harness.bisect.criterion import BadIf
from harness.bisect.journal import LOG_NAME, Event, check_events, read_events
from harness.bisect.progress import Progress
from harness.bisect.series import FolderSeries, GitSeries, Series
from harness.bisect.settings import Settings
from harness.bisect.strategies import STRATEGIES
from harness.cli.common import add_override_options
from harness.errors import ConfigError
from harness.lab.lock import BoardLock
from harness.model.board import Board, parse_assignments, resolve
from harness.model.plan import Plan, load_plan
from harness.run.board_loader import load_board
from harness.run.signals import Interrupted, signals_raise
from harness.targets import target_kind


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``bisect`` and its options."""
    parser = subparsers.add_parser(
        "bisect",
        help="find the first build of a series that hangs",
        description="Boot builds of an ordered series to find the first one showing the bad endpoint's hang.",
    )
    parser.add_argument("plan", nargs="?", help="testplan name (in testplans/) or path")
    parser.add_argument(
        "--board",
        "-b",
        dest="boards",
        action="append",
        default=[],
        help="board profile; repeat to use several targets at once",
    )
    add_override_options(parser)
    source = parser.add_argument_group("builds")
    source.add_argument(
        "--builds", type=Path, metavar="DIR", help="folder with one subfolder per build (builds.toml or name order)"
    )
    source.add_argument("--repo", type=Path, metavar="DIR", help="git checkout to build revisions from")
    source.add_argument("--good", metavar="REV", help="with --repo: a revision that passes")
    source.add_argument("--bad", metavar="REV", help="with --repo: a revision that hangs")
    source.add_argument(
        "--build", dest="build_command", metavar="COMMAND", help="with --repo: shell command that builds a worktree"
    )
    source.add_argument(
        "--build-timeout",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="a build taking longer is a skip (default 1800)",
    )
    source.add_argument(
        "--artifact",
        dest="artifacts",
        action="append",
        default=[],
        metavar="SLOT=PATH",
        help="the file filling an image slot, relative to a build (repeatable)",
    )
    decide = parser.add_argument_group("deciding")
    decide.add_argument(
        "--strategy",
        choices=list(STRATEGIES),
        help="bayes (default): boot where a posterior over the culprit learns most, stop at --confidence; "
        "repeat: split the range, repeat each candidate until --miss",
    )
    decide.add_argument(
        "--confidence",
        type=float,
        default=0.99,
        metavar="P",
        help="bayes: stop when one build is the culprit with this posterior probability; both: verify "
        "the answer to it (default 0.99)",
    )
    decide.add_argument(
        "--bad-if",
        choices=[b.value for b in BadIf],
        default=BadIf.SIGNATURE.value,
        help="bad = the bad endpoint's signature (default), any wedge, or any failure",
    )
    decide.add_argument(
        "--check-endpoints",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="boot both endpoints first (default on)",
    )
    decide.add_argument(
        "--endpoint-runs",
        type=int,
        default=5,
        metavar="N",
        help="runs of the bad endpoint to learn how often it hangs (default 5)",
    )
    decide.add_argument(
        "--endpoint-max",
        type=int,
        default=0,
        metavar="M",
        help="while none of its runs failed, boot the bad endpoint on until it does, at most M runs in all "
        "(default 4 x --endpoint-runs)",
    )
    decide.add_argument(
        "--revert-check",
        action="store_true",
        help="with --repo: boot the culprit reverted on top of the bad endpoint as often as the verification; "
        "the answer stands only if it passes",
    )
    decide.add_argument(
        "--miss",
        type=float,
        default=0.05,
        metavar="P",
        help="repeat: a build is good once the chance of missing the hang is under P (default 0.05)",
    )
    decide.add_argument(
        "--seed", type=int, help="master seed; every run's seed derives from it (default random, printed)"
    )
    run = parser.add_argument_group("running")
    run.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=1,
        metavar="N",
        help="boot N copies of one process, QEMU or emulator board at once",
    )
    run.add_argument("--out", type=Path, metavar="DIR", help="bisect folder (default runs/bisect-<time>)")
    run.add_argument("--resume", action="store_true", help="continue the bisect in --out; nothing decided is rerun")
    run.add_argument("--replay", type=Path, metavar="LOG", help="print the decision table of a bisect.log and exit")
    parser.set_defaults(handler=cmd_bisect)


def cmd_bisect(args: argparse.Namespace) -> int:
    """The ``bisect`` handler: 0 culprit found, 1 inconclusive; errors raise (exit 2)."""
    if args.replay is not None:
        return replay(args.replay)
    _check(args)
    plan = load_plan(resolve(args.plan, "testplans"))
    boards = _boards(args)
    # Absolute: git worktrees are created from inside the repository, not from here.
    out = (args.out or Path("runs") / f"bisect-{datetime.now():%Y%m%d-%H%M%S}").resolve()
    # One bisect per folder: a second one (a --resume racing a running bisect) would interleave
    # its boots and corrupt the log. flock dies with the process, so a killed bisect leaves none.
    folder_lock = BoardLock(str(out), board="bisect folder", path=out / "bisect.lock")
    out.mkdir(parents=True, exist_ok=True)
    folder_lock.acquire("bisect")
    try:
        return _bisect(args, plan, boards, out)
    finally:
        folder_lock.release()


def _bisect(args: argparse.Namespace, plan: Plan, boards: tuple[Board, ...], out: Path) -> int:
    seed = _seed(args, out)
    strategy = _strategy(args, out)
    series = _series(args, boards[0], out)
    settings = Settings(
        plan=plan,
        boards=boards,
        variables=dict(parse_assignments(args.variables, "--var")),
        out=out,
        seed=seed,
        bad_if=BadIf(args.bad_if),
        miss=args.miss,
        endpoint_runs=args.endpoint_runs,
        endpoint_max=args.endpoint_max,
        revert_check=args.revert_check,
        check_endpoints=args.check_endpoints,
        strategy=strategy,
        confidence=args.confidence,
    )
    journal, restored = open_journal(settings, series.names, args.resume)
    print(
        f"hartbeat bisect: {len(series.names)} builds, {len(boards)} target(s), strategy {strategy}, "
        f"seed {seed}, log {journal.path}",
        file=sys.stderr,
    )
    if restored is not None and restored.result is not None:
        print("hartbeat bisect: this bisect had finished; its answer, over every session:", file=sys.stderr)
    progress = Progress(sys.stderr, sys.stderr.isatty(), strategy)
    try:
        with signals_raise():
            answer = Bisector(settings, series, journal, restored, progress).run()
    except (Interrupted, KeyboardInterrupt) as exc:
        # The log holds every boot that finished: that is what was written, and all it needs.
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        print(
            f"hartbeat bisect: stopped by {signal.Signals(signum).name}; the log {journal.path} holds every "
            f"finished boot; continue with the same options and --resume --out {out}",
            file=sys.stderr,
        )
        return 128 + signum
    print(answer.text())
    return answer.exit_code


def _check(args: argparse.Namespace) -> None:
    if not args.plan or not args.boards:
        raise ConfigError("bisect", "", "give a PLAN and --board (or --replay LOG)")
    if (args.builds is None) == (args.repo is None):
        raise ConfigError("bisect", "", "give exactly one of --builds DIR or --repo DIR")
    if args.repo is not None and not (args.good and args.bad and args.build_command):
        raise ConfigError("--repo", str(args.repo), "needs --good REV, --bad REV and --build COMMAND")
    if not 0.5 <= args.confidence < 1.0:
        raise ConfigError("--confidence", str(args.confidence), "expected a probability from 0.5 to below 1, e.g. 0.99")
    if not 0.0 < args.miss < 1.0:
        raise ConfigError("--miss", str(args.miss), "expected a probability between 0 and 1, e.g. 0.05")
    if args.endpoint_runs < 1:
        raise ConfigError("--endpoint-runs", str(args.endpoint_runs), "expected at least 1")
    if args.endpoint_max and args.endpoint_max < args.endpoint_runs:
        raise ConfigError(
            "--endpoint-max", str(args.endpoint_max), f"expected at least --endpoint-runs ({args.endpoint_runs})"
        )
    if args.revert_check and args.repo is None:
        raise ConfigError(
            "--revert-check", "", "needs a git range (--repo): a folder of builds has no commit to revert"
        )
    if args.jobs < 1:
        raise ConfigError("--jobs", str(args.jobs), "expected at least 1")
    if args.jobs > 1 and len(args.boards) > 1:
        raise ConfigError("--jobs", str(args.jobs), "give either several --board or --jobs N copies of one board")
    if args.resume and args.out is None:
        raise ConfigError("--resume", "", "needs --out DIR, the folder of the bisect to continue")


def _boards(args: argparse.Namespace) -> tuple[Board, ...]:
    overrides = parse_assignments(args.overrides, "--set")
    boards = tuple(load_board(name, overrides=overrides) for name in args.boards)
    # A profile may stand for several boards (every labgrid place matching a pattern).
    boards = tuple(
        each for board in boards for each in (target_kind(board.target, board.path).expand or (lambda b: (b,)))(board)
    )
    if args.jobs > 1:
        copies = target_kind(boards[0].target, boards[0].path).copies
        if copies is not None and args.jobs > copies:
            raise ConfigError(
                "--jobs",
                str(args.jobs),
                f"board {boards[0].name} is a {boards[0].target} target, which has "
                f"{'one copy' if copies == 1 else f'{copies} copies'}; give --board once per real board instead",
            )
        boards = boards * args.jobs
    return boards


def _seed(args: argparse.Namespace, out: Path) -> int:
    if not args.resume:
        return args.seed if args.seed is not None else random.randrange(1 << 31)
    # Every line is checked here, before the bisector folds them: a damaged log is one error line.
    logged = int(check_events(out / LOG_NAME, read_events(out / LOG_NAME))[0]["seed"])
    if args.seed is not None and args.seed != logged:
        raise ConfigError("--seed", str(args.seed), f"the bisect in {out} used seed {logged}; drop --seed to resume")
    return logged


def _strategy(args: argparse.Namespace, out: Path) -> str:
    # A resumed bisect goes on as it began; a log from before strategies existed was a repeat one.
    if not args.resume:
        return str(args.strategy or next(iter(STRATEGIES)))
    logged = str(read_events(out / LOG_NAME)[0].get("strategy", "repeat"))
    if logged not in STRATEGIES:
        raise ConfigError(out / LOG_NAME, "line 1", f"unknown strategy {logged!r}; damaged log")
    if args.strategy is not None and args.strategy != logged:
        raise ConfigError("--strategy", args.strategy, f"the bisect in {out} uses {logged}; drop --strategy to resume")
    return logged


def _series(args: argparse.Namespace, board: Board, out: Path) -> Series:
    artifacts = dict(parse_assignments(args.artifacts, "--artifact"))
    unknown = sorted(set(artifacts) - set(board.images))
    if unknown:
        known = ", ".join(sorted(board.images)) or "none"
        raise ConfigError("--artifact", unknown[0], f"board {board.name} has no such image slot; its slots: {known}")
    if args.builds is not None:
        return FolderSeries(args.builds, tuple(board.images), artifacts)
    return GitSeries(args.repo, args.good, args.bad, args.build_command, artifacts, out, args.build_timeout)


def replay(log: Path) -> int:
    """Print the decision table (and the answer, if the bisect finished) of a log."""
    events = check_events(log, read_events(log))
    print(table(rows_from_events(events)))
    result = next((e for e in reversed(events) if e.get("event") == Event.RESULT), None)
    if result is None:
        print("(unfinished: no answer yet)")
    elif result["status"] == Status.FOUND:
        print(f"first bad build: {result['first_bad']}  (last good: {result['last_good']})")
        strategy = events[0].get("strategy", "repeat")
        print(
            f"{result['total_boots']} boots, strategy {strategy}, confidence {result['confidence']:.3f}; "
            f"see {log.parent / RESULT_NAME}"
        )
    else:
        print(f"inconclusive: {result['reason']}")
    return 0
