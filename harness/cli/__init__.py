"""The ``hartbeat`` command line: one module per command, each registering its own parser.

Exit codes follow ``git bisect run``: 0 pass, 1 any failing verdict, 125 skip (cannot test),
2 usage or configuration error; an interrupted run exits 128 + the signal number.

Layer: cli. May import: base, engine, autopsy, model, lab, ssh, power, targets, probes, records,
run, analysis, bisect.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

import harness
from harness.cli.common import EXIT_USAGE
from harness.errors import HartbeatError
from harness.run.signals import Interrupted

# Each module of a command and the commands it registers (`add_parser`, or `add_parsers` for
# several), in the order `hartbeat --help` lists them. Only the module of the command given is
# imported: `hartbeat run` has no use for bisect's, which were a third of its start-up.
COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("run", ("run",)),
    ("check", ("check",)),
    ("lists", ("boards", "plans")),
    ("bisect", ("bisect",)),
    ("replay", ("replay",)),
    ("calibrate", ("calibrate",)),
    ("report", ("report",)),
    ("compare", ("compare",)),
)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser: for the command ``argv`` names, else (help, a typo) for every one."""
    parser = argparse.ArgumentParser(
        prog="hartbeat",
        description="Boot-milestone testing and hang bisection "
        "for the HiFive Unmatched, QEMU and the in-repo emulator.",
    )
    parser.add_argument("--version", action="version", version=f"hartbeat {harness.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    given = _command(sys.argv[1:] if argv is None else argv)
    known = {name for _module, names in COMMANDS for name in names}
    for module_name, names in COMMANDS:
        if given in names or given not in known:
            module = importlib.import_module(f"harness.cli.{module_name}")
            register: Callable[[argparse._SubParsersAction], None]  # type: ignore[type-arg]
            register = getattr(module, "add_parsers", None) or module.add_parser
            register(sub)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The command word of a command line: its first argument that is not an option."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hartbeat`` console script."""
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
        return code
    except Interrupted as exc:
        print(f"hartbeat: {exc}{_written(args)}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print(f"hartbeat: interrupted{_written(args)}", file=sys.stderr)
        return 130
    except HartbeatError as exc:
        print(f"hartbeat: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # `hartbeat run ... | head` closed our stdout; the report is on disk already.
        sys.stderr.close()
        return 1


def _written(args: argparse.Namespace) -> str:
    """Where the interrupted run's evidence is; nothing when it stopped before a folder existed."""
    folder = getattr(args, "run_folder", None)
    if folder is not None and (folder / "report.json").is_file():
        return f"; the console log and report were written to {folder}"
    return "; nothing was written (interrupted before the run began)"
