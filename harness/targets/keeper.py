"""The keeper: a process target's command runs under it, as the console's session leader.

``python harness/targets/keeper.py -- CMD...`` (or ``-m harness.targets.keeper``): stdlib only, so it starts
without the rest of the harness. It exists for two reasons:

- A launcher (``sh -c "prog & exit 0"``) that exits would, as session leader, make the kernel
  hang up the session and kill ``prog`` with SIGHUP. The keeper is the session leader instead and,
  as child subreaper, adopts every orphan and waits while any of them holds the console: it stays
  open until its last writer has exited (descendants that let go of it are then killed).
- A grandchild that ignores SIGHUP would outlive a SIGKILL of hartbeat. The keeper is told
  when hartbeat dies (PR_SET_PDEATHSIG, as SIGUSR1) and kills every descendant. The kernel
  also sends that signal when the *thread* that started the keeper ends (an OpenOCD started
  in a background thread at power-on outlives that thread): while hartbeat itself is still its
  parent, the signal is ignored.

It exits with the command's own status (or dies of the command's signal), so the run's
"process exited with status N" stays the command's.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import sys
import time
from types import FrameType

# prctl(2) options.
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36

# Below the harness's TERMINATE_GRACE, so a power-off's SIGTERM ends the keeper before it escalates.
STOP_GRACE = 1.5


def _prctl(option: int, value: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def descendants() -> list[int]:
    """Every process below this one (orphans are ours too: we are their subreaper)."""
    children: dict[int, list[int]] = {}
    # os, not pathlib: QEMU starts only once the keeper has imported what it needs (pathlib and
    # the re it imports doubled the keeper's start-up).
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError), open(f"/proc/{name}/stat", encoding="utf-8") as stat:
            parent = int(stat.read().rsplit(") ", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(name))
    found: list[int] = []
    pending = [os.getpid()]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def _console() -> str | None:
    """The terminal this keeper leads (its stdin), or None when it has none."""
    try:
        return os.ttyname(0)
    except OSError:
        return None


def _holds(pid: int, terminal: str) -> bool:
    """True when process ``pid`` has ``terminal`` open."""
    folder = f"/proc/{pid}/fd"
    with contextlib.suppress(OSError):
        for fd in os.listdir(folder):
            with contextlib.suppress(OSError):
                if os.readlink(f"{folder}/{fd}") == terminal:
                    return True
    return False


def _signal_all(sig: int) -> bool:
    """Signal every descendant; False when there is none left."""
    pids = descendants()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    return bool(pids)


class Keeper:
    """Runs one command and waits for all its descendants; stops them all on SIGTERM or SIGHUP."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.first: int | None = None
        self.status: int | None = None
        self._stopping = False

    def _reaped(self, pid: int, status: int) -> None:
        if pid == self.first:
            self.status = status

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        # hartbeat died, powered off, or closed the console: nothing below us may outlive that.
        if self._stopping:
            return
        self._stopping = True
        _signal_all(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while time.monotonic() < deadline:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid:
                self._reaped(pid, status)
            else:
                time.sleep(0.02)
        # A fork racing the kill leaves a new child: repeat until none is left.
        for _ in range(50):
            if not _signal_all(signal.SIGKILL):
                break
            time.sleep(0.01)

    def run(self) -> int:
        """Start the command, wait for every descendant, return the command's wait status."""
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._stop)
        self.first = os.fork()
        if self.first == 0:
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
                signal.signal(sig, signal.SIG_DFL)
            try:
                os.execvp(self.argv[0], self.argv)
            except OSError as exc:
                os.write(2, f"hartbeat keeper: cannot run {self.argv[0]!r}: {exc}\r\n".encode())
            os._exit(127)
        while self.status is None:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            self._reaped(pid, status)
        self._wait_for_console_writers()
        return self.status if self.status is not None else 0

    def _wait_for_console_writers(self) -> None:
        """After the command: wait while a descendant holds the console, then end the rest."""
        # A daemon that let go of the console (stdio on /dev/null) cannot write it: waiting for it
        # would keep a run whose program has ended from seeing the console close.
        console = _console()
        while True:
            try:
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            except ChildProcessError:
                return
            if console is None or not any(_holds(pid, console) for pid in descendants()):
                _signal_all(signal.SIGKILL)
                time.sleep(0.05)
            else:
                time.sleep(0.1)


def _exit_like(status: int) -> None:
    """Leave with the command's wait status: its exit code, or death by its signal."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        # Dying of SIGSEGV must not leave a core of the keeper.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        time.sleep(1)
        sys.exit(128 + sig)
    sys.exit(os.waitstatus_to_exitcode(status))


def _parent_gone(parent: int | None, keeper: Keeper) -> None:
    """The parent-death signal: stop everything, unless only a thread of the parent ended."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if parent is not None and os.getppid() == parent:
            return
        keeper._stop(signum, frame)

    signal.signal(signal.SIGUSR1, handler)


def main(args: list[str]) -> None:
    """``[--parent PID] -- CMD...``: PID is hartbeat's, to notice it died before we asked to be told."""
    parent: int | None = None
    if len(args) >= 2 and args[0] == "--parent":
        parent = int(args[1])
        args = args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.exit("usage: keeper.py [--parent PID] -- CMD...")
    keeper = Keeper(args)
    _parent_gone(parent, keeper)
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    _prctl(_PR_SET_PDEATHSIG, signal.SIGUSR1)
    if parent is not None and os.getppid() != parent:
        sys.exit(1)
    _exit_like(keeper.run())


if __name__ == "__main__":
    main(sys.argv[1:])
