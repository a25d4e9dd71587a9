"""``hartbeat run --hold``: after a failing verdict, keep the target alive and stopped for a debugger.

The runner calls :func:`hold` after the autopsy and before power-off. The target must be able to
stop its harts and offer a gdbstub (QEMU: QMP ``stop`` and ``-gdb``; a serial board or the
emulator: OpenOCD on their JTAG, started by ``pause``); a target that needs to be started
ready for it has ``prepare_hold``, called before power-on (the emulator opens its JTAG port
only then, so an ordinary run costs nothing). The user gets the
``gdb-multiarch`` command that attaches with the run's symbol files, and Ctrl-C (or SIGTERM,
SIGHUP, or the target going away) releases it: the run then powers off and ends as usual.
"""

from __future__ import annotations

import shlex
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from harness.engine.verdict import Kind
from harness.errors import HartbeatError
from harness.run.signals import HELD_SIGNALS
from harness.targets.base import Target

# The verdicts that say the board did something wrong (an error is the harness's or the target's).
HOLD_VERDICTS = frozenset({Kind.WEDGE, Kind.STALL, Kind.PANIC, Kind.RESET, Kind.FAIL})
GDB = "gdb-multiarch"
ELF_MAGIC = b"\x7fELF"
# How often the hold looks whether the target is still there.
POLL = 0.2


class HoldUnavailable(HartbeatError):
    """The target cannot be held for a debugger; the message says why."""


def gdb_target(address: Path | tuple[str, int]) -> str:
    """What ``target remote`` takes: a UNIX socket's path, or ``host:port``."""
    if isinstance(address, Path):
        return str(address)
    host, port = address
    return f"{host}:{port}"


def gdb_command(address: Path | tuple[str, int], symbol_files: Iterable[Path], *, extended: bool = False) -> str:
    """``gdb-multiarch -q -ex 'file vmlinux' -ex 'target remote ...'`` for a shell.

    The first ELF file is gdb's main symbol file, the others are added at their own addresses
    (a System.map is not something gdb reads, so it is left out). ``extended``: ``target
    extended-remote``, for a gdb server that outlives a session (OpenOCD's).
    """
    argv = [GDB, "-q", "-ex", "set architecture riscv:rv64"]
    elves = [path for path in symbol_files if _is_elf(path)]
    for index, path in enumerate(elves):
        argv += ["-ex", f"{'file' if index == 0 else 'add-symbol-file'} {path}"]
    argv += ["-ex", f"target {'extended-remote' if extended else 'remote'} {gdb_target(address)}"]
    return shlex.join(argv)


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == ELF_MAGIC
    except OSError:
        return False


def prepare_hold(target: Target) -> None:
    """Before power-on of a ``--hold`` run: a target that must be started ready for a debugger is
    told so (one that needs nothing has no ``prepare_hold``)."""
    prepare = getattr(target, "prepare_hold", None)
    if callable(prepare):
        prepare()


def stop_for_debugger(target: Target) -> Path | tuple[str, int]:
    """Stop the target's harts and return where its gdbstub listens; :class:`HoldUnavailable` if not.

    The address is read after ``pause``: OpenOCD's gdb port exists only once it is started.
    """
    pause = getattr(target, "pause", None)
    if not hasattr(target, "gdb_address") or not callable(pause):
        raise HoldUnavailable(f"{type(target).__name__} has no gdbstub a debugger can attach to")
    if not _alive(target):
        raise HoldUnavailable("the target is no longer running")
    try:
        pause()
    except HartbeatError as exc:
        raise HoldUnavailable(f"cannot stop the target: {exc}") from None
    address = getattr(target, "gdb_address", None)
    if address is None:
        raise HoldUnavailable(f"{type(target).__name__} has no gdbstub a debugger can attach to")
    if not isinstance(address, Path | tuple):
        raise HoldUnavailable(f"{type(target).__name__}'s gdbstub address {address!r} is not one gdb can reach")
    return address


def _alive(target: Target) -> bool:
    """The target's process still runs (a transport that cannot tell counts as alive)."""
    alive = getattr(target.console(), "alive", None)
    return bool(alive()) if callable(alive) else True


@contextmanager
def _released_by_signals(release: threading.Event) -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP set ``release`` for the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda _signum, _frame: release.set()) for sig in HELD_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def hold_target(
    target: Target,
    symbol_files: Iterable[Path],
    *,
    headline: str = "",
    out: TextIO | None = None,
    release: threading.Event | None = None,
) -> str | None:
    """Keep ``target`` stopped until released; returns why it could not be held, or ``None``.

    ``release`` ends the hold from another thread (tests); Ctrl-C ends it from the terminal.
    """
    stream = out or sys.stdout
    try:
        address = stop_for_debugger(target)
    except HoldUnavailable as exc:
        print(f"hartbeat: --hold: {exc}; powering off", file=stream, flush=True)
        return str(exc)
    event = release or threading.Event()
    if headline:
        print(headline, file=stream)
    print("hartbeat: --hold: the target is stopped and stays up; attach gdb with", file=stream)
    extended = bool(getattr(target, "gdb_extended", False))
    print(f"  {gdb_command(address, symbol_files, extended=extended)}", file=stream)
    print("hartbeat: --hold: press Ctrl-C to release it (power off and finish the run)", file=stream, flush=True)
    with _released_by_signals(event):
        while not event.wait(POLL):
            if not _alive(target):
                print("hartbeat: --hold: the target has gone away", file=stream, flush=True)
                break
    return None
