"""One run per board: an advisory file lock named after the board's console port.

The lock file holds who took it (pid, user, host, plan, command, start time) as JSON, so a
second run is refused with a message naming the holder. ``fcntl.flock`` locks die with their
process, so a run killed with SIGKILL never leaves a stale lock behind; the file itself stays
and is simply taken over. Strictly, a flock lives as long as its open file, which a child shares
between fork and exec: a run killed in that window leaves the lock with the child for a moment,
and the next run waits for it (up to HANDOVER_WAIT_S) rather than refusing in the name of a dead
process.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import getpass
import json
import os
import re
import socket
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from harness.errors import BoardLocked, TargetError

# /run/lock is where Debian keeps device locks (tmpfs, world-writable, sticky); other systems
# fall back to the temporary folder. HARTBEAT_LOCK_DIR lets a lab share locks elsewhere.
SYSTEM_LOCK_DIR = Path("/run/lock")
# A holder that died while a child it had just forked was still between fork and exec leaves the
# lock with that child (a flock belongs to the open file, which the child shares until its exec
# closes it): how long a run waits for such an orphan to let go before it refuses.
HANDOVER_WAIT_S = 3.0
HANDOVER_POLL_S = 0.02


@dataclass(frozen=True)
class LockHolder:
    """Who holds a board: written into the lock file, read back for the refusal message."""

    pid: int
    user: str
    host: str
    plan: str
    command: str
    started: str
    # Where ``pid`` means this process: the kernel's boot and PID namespace (see pid_space);
    # "" in records written before it was kept, or where /proc cannot say.
    pid_space: str = ""

    def __str__(self) -> str:
        plan = f" running plan {self.plan!r}" if self.plan else ""
        return f"{self.user}@{self.host} (pid {self.pid}){plan} since {self.started} [{self.command}]"


def lock_dir() -> Path:
    """The folder for lock files: ``$HARTBEAT_LOCK_DIR``, ``/run/lock`` or the temp folder."""
    configured = os.environ.get("HARTBEAT_LOCK_DIR")
    if configured:
        return Path(configured)
    if os.access(SYSTEM_LOCK_DIR, os.W_OK):
        return SYSTEM_LOCK_DIR
    return Path(tempfile.gettempdir())


def physical_port(port: str) -> str:
    """One spelling per physical console: a device path with its symlinks resolved
    (``/dev/serial/by-id/...`` and ``/dev/ttyUSB1`` are one board), a network console as the
    resolved address and port (``localhost`` and ``127.0.0.1`` are one ser2net port, whatever
    the URL scheme)."""
    scheme, sep, rest = port.partition("://")
    if not sep:
        # A device path; anything else (a labgrid place's name) is already one spelling.
        return os.path.realpath(port) if port.startswith("/") else port
    netloc = rest.split("/", 1)[0].split("?", 1)[0]
    host, _, number = netloc.rpartition(":")
    host = host.strip("[]") or netloc
    if not number.isdigit():
        return port
    try:
        infos = socket.getaddrinfo(host, int(number), type=socket.SOCK_STREAM)
        addresses = sorted({str(info[4][0]) for info in infos})
    except (OSError, UnicodeError, ValueError):
        return f"{scheme}://{host}:{number}"
    # `localhost` resolves to 127.0.0.1 and ::1: any loopback address is this machine.
    if any(a.startswith("127.") or a == "::1" for a in addresses):
        return f"net://loopback:{number}"
    return f"net://{addresses[0]}:{number}" if addresses else f"{scheme}://{host}:{number}"


def lock_path(port: str, folder: Path | None = None) -> Path:
    """``hartbeat-dev_ttyUSB1.lock`` for ``/dev/ttyUSB1``; one name per physical port, however it
    is spelled (see :func:`physical_port`)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", physical_port(port)).strip("_") or "port"
    return (folder or lock_dir()) / f"hartbeat-{slug}.lock"


class BoardLock:
    """An exclusive, non-blocking lock on one port; :meth:`acquire` raises :class:`BoardLocked`."""

    def __init__(self, port: str, *, board: str, folder: Path | None = None, path: Path | None = None) -> None:
        self.port = port
        self.board = board
        # `path` names the lock file itself (a bisect folder's own lock).
        self.path = path or lock_path(port, folder)
        self._handle: IO[str] | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._handle is not None

    def acquire(self, plan: str = "") -> None:
        """Take the lock or raise :class:`BoardLocked` naming who has it. Idempotent."""
        if self._handle is not None:
            return
        handle = self._open()
        deadline: float | None = None
        while not self._try_lock(handle):
            handle.seek(0)
            holder = _holder(handle.read())
            if holder is None or not holder.pid_space or holder.pid_space != pid_space() or _alive(holder.pid):
                handle.close()
                raise BoardLocked(
                    f"board {self.board} ({self.port}) is in use by {_describe_holder(holder)}; "
                    f"wait for that run to finish (lock file {self.path})"
                )
            # The recorded holder (a pid of this boot and PID namespace) is gone, yet its lock is
            # held: by a child it forked just before it died, which lets go at its exec (see
            # HANDOVER_WAIT_S). A holder elsewhere cannot be looked up: refused at once, above.
            if deadline is None:
                deadline = time.monotonic() + HANDOVER_WAIT_S
            elif time.monotonic() >= deadline:
                handle.close()
                raise BoardLocked(
                    f"board {self.board} ({self.port}) is still locked by a process that {holder} left "
                    f"behind (it is no longer running); `fuser -v {self.path}` names it: end it, then run again"
                )
            time.sleep(HANDOVER_POLL_S)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(asdict(current_holder(plan))) + "\n")
        handle.flush()
        self._handle = handle

    def _try_lock(self, handle: IO[str]) -> bool:
        """Take the lock if it is free; False if another open file holds it."""
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as exc:
            handle.close()
            raise TargetError(f"cannot lock board {self.board}: {self.path}: {exc.strerror}") from None
        return True

    def _open(self) -> IO[str]:
        # Without O_CREAT when the file exists: with fs.protected_regular (systemd's default) an
        # O_CREAT open of another user's file in the sticky /run/lock fails even when it is 0666.
        # Neither way truncates the holder's record before we own the lock.
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self.path, os.O_RDWR)
            except FileNotFoundError:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
                # Other users of the lab must be able to take the lock after us (umask aside).
                with contextlib.suppress(OSError):
                    os.fchmod(fd, 0o666)
        except OSError as exc:
            raise TargetError(
                f"cannot open the lock file of board {self.board}: {self.path}: {exc.strerror}; "
                "set HARTBEAT_LOCK_DIR to a folder every lab user can write"
            ) from None
        return os.fdopen(fd, "r+", encoding="utf-8")

    def release(self) -> None:
        """Give the board back; safe to call when not held."""
        handle, self._handle = self._handle, None
        if handle is None:
            return
        with contextlib.suppress(OSError):
            handle.seek(0)
            handle.truncate()
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def current_holder(plan: str) -> LockHolder:
    """This process as a lock holder."""
    return LockHolder(
        pid=os.getpid(),
        user=getpass.getuser(),
        host=socket.gethostname(),
        plan=plan,
        command=" ".join(sys.argv),
        started=datetime.now().astimezone().isoformat(timespec="seconds"),
        pid_space=pid_space(),
    )


@functools.cache
def pid_space() -> str:
    """``<boot id>/<PID namespace>`` of this process: a pid names one process only within both
    (a container on the host's network has the host's name but pids of its own); "" where
    /proc cannot say. Read once: a process keeps both for its life."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    return f"{boot}/{namespace}"


def _holder(text: str) -> LockHolder | None:
    """The holder a lock file records; None while it has none (the holder is between flock()
    and writing its record) or for a foreign file."""
    try:
        holder = LockHolder(**json.loads(text))
    except (ValueError, TypeError):
        return None
    return holder if isinstance(holder.pid, int) and isinstance(holder.pid_space, str) else None


def _describe_holder(holder: LockHolder | None) -> str:
    return str(holder) if holder is not None else "another process (no holder record yet)"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (another user's process counts: EPERM)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True
