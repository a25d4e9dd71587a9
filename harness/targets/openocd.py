"""A board's JTAG through OpenOCD: the ``[jtag]`` section and one OpenOCD session.

A board profile names either an OpenOCD configuration to start (``config``, e.g.
``boards/openocd/unmatched.cfg`` for the Unmatched's on-board FT2232) or the Tcl port of an
OpenOCD already running on a lab host (``tcl = "labhost:6666"``)::

    [jtag]
    config = "openocd/unmatched.cfg"   # relative to the board file's folder, or absolute
    # tcl = "labhost:6666"             # instead of config: an OpenOCD someone else runs
    # openocd = "openocd"              # the program (default: openocd on PATH)
    # gdb_port = 3333                  # where a started OpenOCD serves gdb (run --hold)
    #                                  # (0, set by a target rather than a board: a free port)
    [jtag.set]                         # Tcl variables set before the config is read
    HARTS = "5"

:class:`OpenOcd` talks to OpenOCD's Tcl server (a command, then its result, each ended by
0x1a). One it started runs under the keeper (:mod:`harness.targets.keeper`) in its own process group, so
it dies with the harness, and is shut down by :meth:`OpenOcd.close`; every call honours a deadline. Failures are
:class:`OpenOcdError` whose message is OpenOCD's own error line.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HartbeatError
from harness.model.board import Board
from harness.targets.process import keeper_argv

DEFAULT_GDB_PORT = 3333
# How long OpenOCD gets to leave after ``shutdown`` before it is terminated, then killed.
QUIT_WAIT_S = 1.0
TCL_END = b"\x1a"
# Lines of OpenOCD's output kept for error messages.
KEPT_LINES = 200
# OpenOCD processes started and not yet stopped: stopped at exit too, whatever happened.
_LIVE: set[subprocess.Popen[bytes]] = set()


class OpenOcdError(HartbeatError):
    """OpenOCD is missing, failed or did not answer; the message is its own error line."""


@dataclass(frozen=True)
class JtagSettings:
    """A board's ``[jtag]``: a config to start OpenOCD with, or a running OpenOCD's Tcl port."""

    config: Path | None = None
    tcl: tuple[str, int] | None = None
    openocd: str = "openocd"
    gdb_port: int = DEFAULT_GDB_PORT
    variables: Mapping[str, str] = field(default_factory=dict)


def jtag_settings(board: Board) -> JtagSettings | None:
    """Read and check ``[jtag]``; None when the board has none."""
    if "jtag" not in board.settings:
        return None
    section = board.section("jtag")
    config = section.string("config")
    tcl = section.string("tcl")
    openocd = section.string("openocd", "openocd")
    gdb_port = section.integer("gdb_port", DEFAULT_GDB_PORT)
    table = section.table("set")
    variables = {}
    for name in table.data:
        value = table.data[name]
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise table.error(name, f"expected a string or an integer, got {value!r}")
        variables[name] = board.expand(str(value), table.key(name))
    section.reject_unknown()
    if (config is None) == (tcl is None):
        raise section.error("config", "expected exactly one of config (an OpenOCD file to start) and tcl (host:port)")
    if gdb_port is None or not 0 < gdb_port < 65536:
        raise section.error("gdb_port", f"expected a TCP port 1-65535, got {gdb_port!r}")
    address = None
    if tcl is not None:
        host, _, port = tcl.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise section.error(
                "tcl", f"expected host:port of OpenOCD's Tcl server such as 'labhost:6666', got {tcl!r}"
            )
        address = (host, int(port))
    path = None
    if config is not None:
        path = Path(board.expand(config, "jtag.config"))
        if not path.is_absolute():
            path = board.path.parent / path
    return JtagSettings(config=path, tcl=address, openocd=openocd, gdb_port=gdb_port, variables=variables)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a started OpenOCD and its process group: wait, then SIGTERM, then SIGKILL."""
    for stop in (None, signal.SIGTERM, signal.SIGKILL):
        if stop is not None:
            try:
                os.killpg(process.pid, stop)
            except ProcessLookupError:
                break
        try:
            process.wait(QUIT_WAIT_S)
            break
        except subprocess.TimeoutExpired:
            continue
    _LIVE.discard(process)


@atexit.register
def _stop_all() -> None:
    """No OpenOCD outlives the harness, even one an abandoned autopsy thread started."""
    for process in list(_LIVE):
        _stop(process)


class OpenOcd:
    """One OpenOCD session: started from a config, or attached to a running one's Tcl port."""

    def __init__(self, settings: JtagSettings) -> None:
        self.settings = settings
        self.process: subprocess.Popen[bytes] | None = None
        self.tcl_address: tuple[str, int] | None = settings.tcl
        self.gdb_port: int | None = None
        self._sock: socket.socket | None = None
        self._lines: list[str] = []
        self._printed = 0
        self._reader: threading.Thread | None = None

    @property
    def started(self) -> bool:
        """True if this session started the OpenOCD process (and so stops it)."""
        return self.process is not None

    def open(self, deadline: float, gdb: bool = False, after_init: tuple[str, ...] = ()) -> None:
        """Start OpenOCD (or reach the running one) and connect to its Tcl server by ``deadline``.

        ``gdb``: a started OpenOCD also serves gdb on the board's ``gdb_port``; ``after_init``:
        commands a started OpenOCD runs after ``init``, before it serves anyone.
        """
        if self.settings.config is not None:
            self._start(self.settings.config, gdb, after_init)
        assert self.tcl_address is not None
        while True:
            try:
                self._sock = socket.create_connection(self.tcl_address, timeout=max(0.01, deadline - time.monotonic()))
                return
            except OSError as exc:
                if self.process is None or time.monotonic() >= deadline:
                    if self.process is not None:
                        raise OpenOcdError(self._failure("did not open its Tcl port in time")) from None
                    raise OpenOcdError(f"Tcl port {self.tcl_address[0]}:{self.tcl_address[1]}: {exc}") from None
                if self.process.poll() is not None:
                    self._reader_join(deadline)
                    raise OpenOcdError(self._failure(f"exited with status {self.process.returncode}")) from None
                time.sleep(0.02)

    def _start(self, config: Path, gdb: bool, after_init: tuple[str, ...]) -> None:
        tcl_port = _free_port()
        self.tcl_address = ("127.0.0.1", tcl_port)
        self.gdb_port = (self.settings.gdb_port or _free_port()) if gdb else None
        argv = [self.settings.openocd]
        if self.settings.variables:
            argv += ["-c", "; ".join(f"set {k} {{{v}}}" for k, v in self.settings.variables.items())]
        argv += ["-f", str(config)]
        ports = f"gdb_port {self.gdb_port if gdb else 'disabled'}; telnet_port disabled; tcl_port {tcl_port}"
        argv += ["-c", ports, "-c", "init"]
        for command in after_init:
            argv += ["-c", command]
        if shutil.which(argv[0]) is None:
            raise OpenOcdError(f"cannot run {argv[0]!r}: not found (make deps installs Debian's openocd)")
        try:
            # Under the keeper: if hartbeat is killed, even with SIGKILL, OpenOCD goes too.
            self.process = subprocess.Popen(
                keeper_argv(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise OpenOcdError(str(exc)) from None
        _LIVE.add(self.process)
        self._reader = threading.Thread(target=self._read_output, name="openocd-output", daemon=True)
        self._reader.start()

    def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for raw in self.process.stdout:
            self._lines.append(raw.decode("utf-8", "replace").rstrip())
            self._printed += 1
            del self._lines[:-KEPT_LINES]

    def _reader_join(self, deadline: float) -> None:
        if self._reader is not None:
            self._reader.join(max(0.0, min(0.5, deadline - time.monotonic())))

    def _failure(self, fallback: str) -> str:
        """OpenOCD's own error line: the first ``Error:`` it printed, else ``fallback``."""
        return self.first_error() or fallback

    def mark(self) -> int:
        """A position in OpenOCD's output, for :meth:`first_error` (lines printed so far)."""
        return self._printed

    def first_error(self, since: int = 0) -> str | None:
        """The first ``Error:`` line a started OpenOCD printed after ``since`` (a :meth:`mark`),
        without the prefix: the cause, where later lines are its consequences ("Target not
        examined yet")."""
        kept_from = self._printed - len(self._lines)
        for line in self._lines[max(0, since - kept_from) :]:
            if line.startswith("Error:"):
                return line.removeprefix("Error:").strip()
        return None

    @property
    def output(self) -> list[str]:
        """What a started OpenOCD printed (the last lines)."""
        return list(self._lines)

    def tcl(self, command: str, deadline: float) -> str:
        """Run ``command`` on OpenOCD's Tcl server and return its result by ``deadline``."""
        sock = self._sock
        if sock is None:
            raise OpenOcdError("not connected")
        data = b""
        try:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            sock.sendall(command.encode() + TCL_END)
            while not data.endswith(TCL_END):
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(1 << 16)
                if not chunk:
                    raise OpenOcdError(self._failure("closed its Tcl connection"))
                data += chunk
        except TimeoutError:
            raise OpenOcdError(self._failure("did not answer in time")) from None
        except OSError as exc:
            raise OpenOcdError(self._failure(f"Tcl connection failed: {exc}")) from None
        return data[:-1].decode("utf-8", "replace")

    def detach(self) -> subprocess.Popen[bytes] | None:
        """Close the Tcl connection and hand over a started OpenOCD, left running (``run --hold``):
        the caller stops it (:func:`stop`)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        process, self.process = self.process, None
        return process

    def close(self) -> None:
        """Disconnect; a started OpenOCD is shut down (terminated, then killed, if it lingers)."""
        process = self.process
        if self._sock is not None:
            if process is not None:
                try:
                    self._sock.settimeout(QUIT_WAIT_S)
                    self._sock.sendall(b"shutdown" + TCL_END)
                except OSError:
                    pass
            self._sock.close()
            self._sock = None
        if process is not None:
            # Stopping may take a second: the caller (an autopsy on its deadline) does not wait.
            threading.Thread(target=_stop, args=(process,), name="openocd-stop", daemon=True).start()
        self.process = None


def open_halted(settings: JtagSettings, deadline: float) -> OpenOcd:
    """``run --hold``: OpenOCD started from ``settings`` (serving gdb on its ``gdb_port``) or the
    running one reached, and the harts halted by ``deadline``; the caller closes it at power-off."""
    session = OpenOcd(settings)
    try:
        session.open(deadline, gdb=True)
        session.tcl("halt 3000", deadline)
    except OpenOcdError:
        session.close()
        raise
    return session


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop an OpenOCD that :meth:`OpenOcd.detach` handed over."""
    _stop(process)
