"""The ``process`` target: any program whose console is its stdio (semu, Spike, TinyEMU ...).

QEMU and the in-repo emulator are processes too and reuse :class:`ProcessTarget`; only the
command line differs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import select
import shlex
import shutil
import signal
import sys
import threading
import time
import tty
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pexpect

from harness.errors import ConfigError, TargetError, TargetUnavailable, TransportClosed
from harness.model.board import Board
from harness.model.config import NOT_A_FILE
from harness.model.preboot_finding import Finding, Level
from harness.targets import keeper
from harness.targets.base import TargetKind
from harness.targets.linux_boot import MACHINE_UARTS, check_boot_arguments, check_console
from harness.targets.starvation import StarvationMeter, first_child

TERMINATE_GRACE = 2.0


class ProcessTransport:
    """The console of a spawned process: its pseudo-terminal, through pexpect.

    It exists before the process does (the runner opens the console first); reads before
    power-on just wait.
    """

    def __init__(self) -> None:
        self.child: pexpect.spawn[bytes] | None = None
        self._closed = False
        # The started program has exited; its children may still write to the terminal.
        self._child_exited = False
        # The terminal hung up: no process holds it open any more (the read saw its end).
        self.hung_up = False
        # The reader thread (at end of file) and power-off both reap the child; waitpid from
        # two threads at once makes pexpect lose the exit status.
        self.reap_lock = threading.Lock()
        self._meter = StarvationMeter()

    def alive(self) -> bool:
        """True while the process runs; reaps it when it has ended."""
        child = self.child
        if child is None:
            return False
        with self.reap_lock:
            try:
                return child.isalive()
            except pexpect.ExceptionPexpect:
                return False

    def starved(self) -> float | None:
        """Host seconds the program (the keeper's child) has waited for a CPU, as far as the
        samples taken so far tell (:class:`StarvationMeter`: one total that rises across the
        transport's processes); ``None`` if unknown.

        Until the keeper has started the program, and once it has exited, the keeper's own wait
        is the program's: on a loaded host the interpreter's start-up can take longer than a
        plan's silence. A launcher that waits for its program is the one sampled, asleep.
        """
        child = self.child
        if child is None or self._closed or child.pid is None:
            return None
        program = first_child(child.pid) or child.pid
        return self._meter.sample(program, time.monotonic())

    def read(self, size: int, timeout: float) -> bytes:
        """Bytes from the process, ``b""`` on timeout; ``TransportClosed`` once it has exited."""
        child = self.child
        if self._closed:
            raise TransportClosed("console closed")
        if child is None:
            time.sleep(timeout)
            return b""
        if self._child_exited:
            return self._read_after_exit(child, size, timeout)
        try:
            data: bytes = child.read_nonblocking(size, timeout)
            return data
        except pexpect.TIMEOUT:
            return b""
        except pexpect.EOF:
            # pexpect reports EOF once the program it started has exited, but a launcher script
            # may have left the real console program (its child) writing to the terminal: read
            # until the last writer closes it.
            self._child_exited = True
            return self._read_after_exit(child, size, timeout)
        except (OSError, ValueError, pexpect.ExceptionPexpect) as exc:
            # The harness closed the pty while the reader was blocked on it, or pexpect's own
            # reaping on EOF raced with power-off's.
            raise TransportClosed(f"console closed: {exc}") from None

    def _read_after_exit(self, child: pexpect.spawn[bytes], size: int, timeout: float) -> bytes:
        """Read the terminal directly: EIO (or end of file) once no process holds it open."""
        try:
            ready, _, _ = select.select([child.child_fd], [], [], timeout)
            if not ready:
                return b""
            data = os.read(child.child_fd, size)
        except OSError as exc:
            # EIO is the terminal's hang-up; another error (the harness closed it) proves nothing.
            data, self.hung_up = b"", exc.errno == errno.EIO
        except ValueError:
            data = b""
        else:
            self.hung_up = not data
        if not data:
            raise TransportClosed(self.exit_description())
        return data

    def write(self, data: bytes) -> None:
        """Type bytes into the process's terminal."""
        if self.child is None or self._closed:
            raise TargetError("cannot type: the target is not powered on")
        try:
            self.child.send(data)
        except OSError as exc:
            raise TargetError(f"cannot type into the target: {exc}") from None

    @property
    def closed(self) -> bool:
        """True once the target has released the process."""
        return self._closed

    def close(self) -> None:
        """Stop reading; the process itself is stopped by its target."""
        self._closed = True

    def exit_description(self) -> str:
        """``process exited with status 0`` / ``process killed by signal 9``, once it is reaped."""
        deadline = time.monotonic() + 1.0
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        child = self.child
        if child is None or self.alive():
            return "console closed while the process is still running"
        if child.signalstatus is not None:
            return f"process killed by signal {child.signalstatus}"
        return f"process exited with status {child.exitstatus}"


def _raw_terminal() -> None:
    # Runs in the child before exec: a serial line passes bytes untouched (no echo, no
    # newline translation, Ctrl-C is a byte), so the pty must behave the same.
    tty.setraw(0)


def keeper_argv(argv: Sequence[str]) -> list[str]:
    """The command line that runs ``argv`` under :mod:`harness.targets.keeper` (see there for why)."""
    # By file, isolated and without site: it is stdlib only, so it starts fast and from any cwd.
    return [sys.executable, "-I", "-S", keeper.__file__, "--parent", str(os.getpid()), "--", *argv]


class ProcessTarget:
    """A program whose stdin/stdout is the console; power off ends its whole process group.

    The program runs under :mod:`harness.targets.keeper`, the console's session leader, which keeps the
    console open until the program's last descendant has exited and kills them all if hartbeat dies.
    """

    kind = "process"

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if not argv:
            raise TargetUnavailable(f"{name}: empty command line")
        self.name = name
        self.argv = list(argv)
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self._transport = ProcessTransport()

    def console(self) -> ProcessTransport:
        """The process's terminal (bound at power-on)."""
        return self._transport

    def check_available(self) -> None:
        """Raise :class:`TargetUnavailable` when the program cannot be found."""
        program = self.argv[0]
        if shutil.which(program) is None and not os.access(program, os.X_OK):
            raise TargetUnavailable(f"{self.name}: program {program!r} not found (is it installed and on PATH?)")

    def power_on(self) -> None:
        """Start the process on a fresh pseudo-terminal."""
        self.check_available()
        if self.cwd is not None and not _is_dir(self.cwd):
            # pexpect would fork first and fail in the child, which then runs our own clean-up.
            raise TargetError(f"{self.name}: cwd {self.cwd} is not a folder")
        env = None
        if self.env is not None:
            env = {**os.environ, **self.env}
        try:
            command = keeper_argv(self.argv)
            self._transport.child = pexpect.spawn(
                command[0],
                command[1:],
                cwd=str(self.cwd) if self.cwd else None,
                env=env,
                echo=False,
                preexec_fn=_raw_terminal,
            )
            # pexpect sleeps 50 ms before every send by default; a board that drops fast input
            # has its own `send_delay`, and every prompt-and-command step paid that sleep.
            self._transport.child.delaybeforesend = None
            # ptyprocess sleeps 100 ms after closing the terminal; power_off has already ended
            # the whole group by then, so each run's power-off paid it for nothing.
            self._transport.child.ptyproc.delayafterclose = 0.0  # type: ignore[attr-defined]  # not in the stubs
        except pexpect.ExceptionPexpect as exc:
            raise TargetUnavailable(f"{self.name}: cannot start {self.argv[0]!r}: {exc}") from None

    @property
    def pid(self) -> int | None:
        """The process id while it runs."""
        child = self._transport.child
        return child.pid if child is not None else None

    def power_off(self) -> None:
        """Terminate the process group, escalate to SIGKILL, and reap it. Safe to call twice."""
        transport = self._transport
        child = transport.child
        # Once closed, the pid may already belong to another process: never signal it again.
        if child is None or child.pid is None or transport.closed:
            return
        pid = child.pid
        if transport.alive():
            _signal_group(pid, signal.SIGTERM)
            deadline = time.monotonic() + TERMINATE_GRACE
            while transport.alive() and time.monotonic() < deadline:
                time.sleep(0.02)
        # Grandchildren may outlive a well-behaved parent; the group goes in any case, and so
        # does anything that left it (setsid) but still holds the console. A terminal that hung
        # up has no holder left, and the search reads every process's files (tens of ms on a
        # busy host, on every run's exit).
        holders = [] if transport.hung_up else _terminal_holders(child.child_fd)
        _signal_group(pid, signal.SIGKILL)
        for holder in holders:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(holder, signal.SIGKILL)
        transport.close()
        with transport.reap_lock, contextlib.suppress(OSError, pexpect.ExceptionPexpect):
            child.close(force=True)

    def describe(self) -> dict[str, Any]:
        """Kind and exact command line."""
        return {"kind": self.kind, "name": self.name, "command": shlex.join(self.argv)}


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def _terminal_holders(master_fd: int) -> list[int]:
    """The processes (other than this one) with the console's pty open, found through /proc."""
    try:
        info = Path(f"/proc/self/fdinfo/{master_fd}").read_text()
    except OSError:
        return []
    index = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("tty-index:")), None)
    if index is None:
        return []
    terminal = f"/dev/pts/{index}"
    holders = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) == terminal for fd in (proc / "fd").iterdir()):
                holders.append(int(proc.name))
    return holders


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _argv(board: Board, extra: Mapping[str, str]) -> list[str]:
    """The board's ``command``, expanded; a list element is optional and dropped whole when an
    image slot it names is empty (``none``), e.g. ``["-initrd", "{initrd}"]``."""
    values = dict(extra)
    append = board.settings.get("append")
    if isinstance(append, str):
        values.setdefault("append", board.expand(append, "append", extra))
    argv: list[str] = []
    for index, item in enumerate(board.settings.get("command") or []):
        key = f"command[{index}]"
        if isinstance(item, str):
            argv.append(board.expand(item, key, values))
        elif not any(_empty_slot(board, text, values) for text in item):
            argv += [board.expand(str(text), key, values) for text in item]
    return argv


def _empty_slot(board: Board, text: str, values: Mapping[str, str]) -> bool:
    """True if ``text`` names an image slot that holds no file (``none``, ``default`` or empty)."""
    for slot in re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", text):
        if slot in board.images and board.expand(board.images[slot], f"images.{slot}", values).lower() in NOT_A_FILE:
            return True
    return False


def from_board(board: Board, extra: Mapping[str, str]) -> ProcessTarget:
    """A process target from a board's ``command`` (and optional ``cwd``)."""
    cwd = board.settings.get("cwd")
    return ProcessTarget(board.name, _argv(board, extra), cwd=Path(board.expand(cwd, "cwd", extra)) if cwd else None)


def validate(board: Board) -> set[str]:
    """Check ``command``, ``cwd`` and what the board emulates; returns the top-level keys it reads."""
    command = board.settings.get("command")
    if (
        not isinstance(command, list)
        or not command
        or not isinstance(command[0], str)
        or not all(isinstance(c, str) or _string_list(c) for c in command)
    ):
        raise ConfigError(
            board.path,
            "command",
            'expected a list of strings (a list element is an optional group), e.g. ["semu", "-k", "{kernel}", '
            '["-i", "{initrd}"]]',
        )
    cwd = board.settings.get("cwd")
    if cwd is not None and (not isinstance(cwd, str) or not cwd):
        raise ConfigError(board.path, "cwd", f"expected a folder path string, got {cwd!r}")
    machine = board.settings.get("machine")
    if machine is not None and machine not in MACHINE_UARTS:
        raise ConfigError(board.path, "machine", f"expected one of {', '.join(MACHINE_UARTS)}, got {machine!r}")
    for key in ("uart", "append"):
        value = board.settings.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(board.path, key, f"expected a string, got {value!r}")
    # Only a process board has these: elsewhere they are typos.
    return {"command", "cwd", "machine", "uart", "append"}


def _string_list(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def preflight(board: Board, variables: Mapping[str, str]) -> list[Finding]:
    """Before boot: the program is installed, the working folder exists, and for a board that
    declares the machine it emulates, the Linux checks QEMU boards get (console=, root=/initrd)."""
    source = str(board.path)
    findings = []
    argv = _argv(board, variables)
    program = argv[0] if argv else ""
    if shutil.which(program) is None and not os.access(program, os.X_OK):
        # With a fallback board the run goes there (and says so), as for a missing QEMU.
        severity, then = (
            (Level.WARNING, f"; runs fall back to {board.fallback}") if board.fallback else (Level.ERROR, "")
        )
        message = f"program {program!r} is not installed (not on PATH){then}"
        findings.append(Finding(severity, source, "command[0]", message))
    cwd = board.settings.get("cwd")
    if cwd is not None:
        folder = Path(board.expand(cwd, "cwd", variables))
        with contextlib.suppress(OSError, ValueError):
            if not folder.is_dir():
                findings.append(
                    Finding(Level.ERROR, source, "cwd", f"{folder} is not a folder; create it or fix `cwd`")
                )
    machine = board.settings.get("machine")
    if machine is None:
        return findings
    append = board.settings.get("append")
    append = None if append is None else board.expand(append, "append", variables)
    uart = board.settings.get("uart") or MACHINE_UARTS[machine]
    findings += check_boot_arguments(board, variables, append=append, has_disk=False)
    return findings + check_console(board, variables, append=append, uart=uart, key="append")


KIND = TargetKind(name="process", validate=validate, build=from_board, preflight=preflight, copies=None)
