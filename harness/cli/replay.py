"""``hartbeat replay``: judge recorded runs again, with their plan or a new one, without a target."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from harness.analysis.replay import Replayed, replay, replayable
from harness.autopsy.render import autopsy_lines
from harness.engine.verdict import EXIT_FAILED
from harness.model.board import resolve
from harness.records.report import summary, write_report
from harness.records.run_folder import RunFolderError, find_runs, load_run


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``replay``."""
    parser = subparsers.add_parser(
        "replay", help="judge a recorded run (or a folder of runs) again, with its plan or another one"
    )
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folder, or a folder of run folders")
    parser.add_argument("--plan", help="judge with this testplan (name or path) instead of the run's own")
    parser.add_argument("--out", type=Path, help="write the replay's report.json and report.html here (one run)")
    parser.set_defaults(handler=cmd_replay)


def _compared(replayed: Replayed, new_plan: bool) -> str:
    live = replayed.live.verdict
    how = "" if replayed.exact else " (from console.log: line times only, no console.timing)"
    head = (
        f"  live run: {str(live.get('kind', '?')).upper()} {live.get('signature', '')}, "
        f"decided at {float(live.get('at', 0.0)):.3f} s; replay decided at {replayed.verdict.at:.3f} s{how}"
    )
    # A replay has no target to inspect: it shows the autopsy the live run took.
    autopsy = replayed.live.autopsy
    recorded = "" if autopsy is None else "\n  the live run's autopsy:\n" + "\n".join(autopsy_lines(autopsy, "  "))
    differences = replayed.differences()
    if not differences:
        agrees = (
            "\n  replay agrees with the live run (kind, milestones reached and waited for, signature, key line,"
            " milestone times within 1 ms)"
        )
        return head + agrees + recorded
    word = "the new plan gives" if new_plan else "replay differs"
    return head + f"\n  {word}: " + "; ".join(differences) + recorded


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay each run; one run prints its full summary, several a line each."""
    plan = resolve(args.plan, "testplans") if args.plan else None
    folders = [folder for root in args.runs for folder in find_runs(root)]
    if not folders:
        raise RunFolderError(f"no run folders (with report.json) in {', '.join(map(str, args.runs))}")
    if len(folders) == 1:
        replayed = replay(folders[0], plan)
        result = replayed.result
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            result = replace(result, out_dir=args.out)
            write_report(result)
        text = summary(result)
        if not args.out:
            text = text.rsplit("\n", 1)[0]
        print(f"replay of {folders[0]}:\n{text}\n{_compared(replayed, plan is not None)}")
        return result.verdict.exit_code
    failed = agree = skipped = 0
    for folder in folders:
        why = replayable(load_run(folder)) if plan is None else None
        if why:
            skipped += 1
            print(f"{folder}: not replayed: {why}")
            continue
        replayed = replay(folder, plan)
        same = not replayed.differences()
        agree += same
        failed += not replayed.verdict.passed
        mark = "same as live" if same else "live was " + str(replayed.live.verdict.get("signature", "?"))
        print(f"{folder}: {replayed.verdict.kind.value.upper():5} {replayed.verdict.signature}  ({mark})")
    replayed_count = len(folders) - skipped
    print(f"{replayed_count} run(s) replayed: {agree} as live, {replayed_count - agree} differ, {failed} failing")
    return EXIT_FAILED if failed else 0
