"""The ``emulator`` target: the in-repo RISC-V system emulator, run as its own process.

It is driven exactly like QEMU (console on stdio, killable when it hangs); the board's
``[emulator]`` section picks the machine and the interpreter: Debian's ``pypy3`` when it is
installed (its JIT runs the emulator several times faster), else this CPython.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from harness.emulator.boards import BOARDS
from harness.emulator.host_env import interpreter_settings
from harness.errors import TargetError
from harness.model.board import PROJECT_ROOT, Board
from harness.model.config import Section
from harness.model.preboot_finding import Finding
from harness.targets.base import TargetKind, guest_off_lines
from harness.targets.linux_boot import MACHINE_UARTS, check_boot_arguments, check_console
from harness.targets.openocd import JtagSettings, OpenOcd, OpenOcdError, open_halted
from harness.targets.process import ProcessTarget, ProcessTransport
from harness.targets.qemu_argv import image_arguments, placeholder_variables
from harness.targets.sockets import connect_when_ready

MACHINES = tuple(MACHINE_UARTS)
# Machine properties a board may add (``unmatched,msel=11``: boot from the SD card through the
# FU740 mask ROM, the board's own firmware chain).
MACHINE_PROPERTIES = {"unmatched": ("msel=11",)}
PYPY = "pypy3"


def default_python() -> str:
    """The interpreter the emulator runs under unless the board names one: PyPy if on PATH."""
    return shutil.which(PYPY) or sys.executable


# The emulator reports its guest time and plans are judged on it. Should that clock fail (a
# report garbled or going backwards), the run goes on in host seconds divided by the emulator's
# slowdown against the hardware QEMU models: 25 under PyPy (Debian's distro kernel to its shell
# was 23x QEMU when this was set, 11-14x in December's later runs; a cap that errs long, since one
# too short on a slowed host calls a healthy run hung), and CPython runs a Linux boot about CPYTHON_SLOWDOWN times
# slower again (hartbeat's tiny Linux to its prompt: 16.6 s against 4.7 s, `make bench`;
# `[emulator] cpython_slowdown`: short firmware-only boots are about as fast on both).
PYPY_SLOWDOWN = 25.0
CPYTHON_SLOWDOWN = 4.0


@dataclass(frozen=True)
class EmulatorSettings:
    """The ``[emulator]`` section, typed, with the run's variables expanded."""

    machine: str = "virt"
    smp: int = 1
    memory: str = "256M"
    append: str | None = None
    python: str = ""
    extra: tuple[str, ...] = ()
    cpython_slowdown: float = CPYTHON_SLOWDOWN


def emulator_settings(board: Board, extra: Mapping[str, str]) -> EmulatorSettings:
    """Read and check ``[emulator]``."""
    section = board.section("emulator")
    machine = section.string("machine", "virt")
    name, *props = machine.split(",")
    if name not in MACHINES or any(p not in MACHINE_PROPERTIES.get(name, ()) for p in props):
        choices = [*MACHINES, *(f"{m},{p}" for m, ps in MACHINE_PROPERTIES.items() for p in ps)]
        raise section.error("machine", f"expected one of {', '.join(choices)}, got {machine!r}")
    append = section.string("append")
    smp = section.integer("smp", 1)
    if not 1 <= smp <= 64:
        raise section.error("smp", f"expected a number of harts from 1 to 64, got {smp}")
    settings = EmulatorSettings(
        machine=machine,
        smp=smp,
        memory=section.string("memory", "256M"),
        append=None if append is None else board.expand(append, "emulator.append", extra),
        python=section.string("python") or default_python(),
        extra=tuple(section.str_list("extra")),
        cpython_slowdown=_slowdown(section),
    )
    section.reject_unknown()
    return settings


def _slowdown(section: Section) -> float:
    value = section.number("cpython_slowdown", CPYTHON_SLOWDOWN, limit=1000.0)
    if value is None or value < 1.0:
        raise section.error("cpython_slowdown", f"expected a factor of at least 1, got {value}")
    return value


# How the emulator process starts: isolated (-I: no cwd, script folder, PYTHONPATH or user site on
# sys.path), then this checkout's root put first and harness.emulator run as __main__. So a
# folder with its own ``harness/`` package (a common name) in the cwd is never what runs, and it
# works under PyPy 7.3 (Python 3.9, no -P) as under CPython.
BOOTSTRAP = (
    "import sys, runpy; sys.path.insert(0, sys.argv.pop(1)); "
    "runpy.run_module('harness.emulator', run_name='__main__', alter_sys=True)"
)


def emulator_command(python: str, root: Path = PROJECT_ROOT) -> list[str]:
    """The interpreter command line that runs ``harness.emulator`` from ``root``, whatever the cwd."""
    return [python, "-I", "-c", BOOTSTRAP, str(root)]


def emulator_argv(board: Board, extra: Mapping[str, str]) -> list[str]:
    """``python -m harness.emulator`` (from this checkout) with QEMU-like options from the board."""
    emu = emulator_settings(board, extra)
    argv = [*emulator_command(emu.python), "-M", emu.machine, "-smp", str(emu.smp)]
    argv += ["-m", emu.memory, "-serial", "stdio"]
    return argv + image_arguments(board, extra, emu.append) + list(emu.extra)


class GuestClockTransport(ProcessTransport):
    """The emulator's console, and the guest time it reports beside it (``-guest-clock FILE``)."""

    def __init__(self, fallback_scale: float) -> None:
        super().__init__()
        self.fallback_scale = fallback_scale
        self.path: Path | None = None
        self._feed: IO[bytes] | None = None
        self._rest = b""

    def guest_marks(self) -> list[str]:
        """The complete report lines written since the last call (the file is only appended to)."""
        if self._feed is None:
            if self.path is None:
                return []
            try:
                self._feed = self.path.open("rb")
            except OSError:
                return []
        try:
            data = self._feed.read()
        except (OSError, ValueError):
            return []
        if not data:
            return []
        lines = (self._rest + data).split(b"\n")
        self._rest = lines.pop()
        return [line.decode("ascii", "replace") for line in lines]

    def release(self) -> None:
        """Close and delete the report file."""
        if self._feed is not None:
            self._feed.close()
            self._feed = None
        self._rest = b""
        if self.path is not None:
            shutil.rmtree(self.path.parent, ignore_errors=True)
            self.path = None


# ``run --hold``: OpenOCD on the emulator's JTAG port (RBB_PORT 0: RBB_HOST is a unix socket).
OPENOCD_CONFIG = PROJECT_ROOT / "boards" / "openocd" / "emulator.cfg"
# Starting OpenOCD, examining the harts through the emulator's Debug Module and halting them.
HOLD_START_S = 60.0
# The control socket's answer to a break comes after one round of the emulator's loop.
BREAK_TIMEOUT = 2.0
MAX_ANSWER = 4096


class EmulatorTarget(ProcessTarget):
    """The in-repo emulator as a console process, reporting its guest time to the console, with a
    control socket for the autopsy."""

    kind = "emulator"

    def __init__(self, board: Board, extra: Mapping[str, str]) -> None:
        super().__init__(board.name, emulator_argv(board, extra), env=interpreter_settings())
        self._command = list(self.argv)
        emu = emulator_settings(board, extra)
        self._emu = emu
        self._transport = self._guest = GuestClockTransport(fallback_scale(emu))
        self._control_dir: str | None = None
        # A power-off line only: a reset under -no-reboot exits with its own status (3), not 0.
        self.guest_off = guest_off_lines(reset=False)
        # ``run --hold``: the JTAG port is opened (next to the control socket) and, once held,
        # OpenOCD serves gdb on it.
        self._jtag = False
        self._openocd: OpenOcd | None = None

    # OpenOCD's gdb server: ``target extended-remote``.
    gdb_extended = True

    @property
    def control_path(self) -> Path | None:
        """The emulator's ``-control`` socket while it runs (see :mod:`harness.emulator.control`)."""
        return None if self._control_dir is None else Path(self._control_dir) / "control"

    @property
    def jtag_path(self) -> Path | None:
        """The emulator's JTAG port (a unix socket) while it runs after :meth:`prepare_hold`."""
        return None if self._control_dir is None or not self._jtag else Path(self._control_dir) / "jtag"

    def prepare_hold(self) -> None:
        """``run --hold``: start the emulator with its JTAG port open (only then: a port costs a
        poll per round of the emulator's loop), so a failing run can be held under OpenOCD."""
        self._jtag = True

    @property
    def gdb_address(self) -> tuple[str, int] | None:
        """OpenOCD's gdb port while the run is held (None before)."""
        if self._openocd is None or self._openocd.gdb_port is None:
            return None
        return ("127.0.0.1", self._openocd.gdb_port)

    def pause(self) -> None:
        """``run --hold``: OpenOCD on the JTAG port, serving gdb on a free loopback port, with the
        harts halted; it stays up until power-off."""
        path = self.jtag_path
        if path is None:
            raise TargetError("the emulator was started without its JTAG port")
        settings = JtagSettings(
            config=OPENOCD_CONFIG,
            gdb_port=0,
            variables={
                "RBB_HOST": str(path),
                "RBB_PORT": "0",
                "HARTS": str(self._emu.smp),
                "IDCODE": f"{BOARDS[self._emu.machine].jtag_idcode:#x}",
            },
        )
        try:
            self._openocd = open_halted(settings, time.monotonic() + HOLD_START_S)
        except OpenOcdError as exc:
            raise TargetError(f"openocd: {exc}") from None

    def power_on(self) -> None:
        """Start the emulator with a fresh guest-clock file next to its console, and its control
        socket in a private folder (both removed at power-off)."""
        self._guest.release()
        self._guest.path = Path(tempfile.mkdtemp(prefix="hartbeat-guest-")) / "guest-clock"
        self._guest.path.touch()
        self._release_control()
        self._control_dir = tempfile.mkdtemp(prefix="hartbeat-emu-")
        self.argv = [*self._command, "-guest-clock", str(self._guest.path), "-control", str(self.control_path)]
        if self.jtag_path is not None:
            self.argv += ["-jtag", f"unix:{self.jtag_path}"]
        super().power_on()

    def power_off(self) -> None:
        """Stop OpenOCD (if held), the emulator, and delete its guest-clock file and its control
        socket's folder."""
        session, self._openocd = self._openocd, None
        try:
            if session is not None:
                session.close()
            super().power_off()
        finally:
            self._guest.release()
            self._release_control()

    def send_break(self) -> None:
        """A serial BREAK on the console (Linux's SysRq key starts with one): the control socket
        has the emulator's loop put it in the UART's receive FIFO; :class:`TargetError` if not."""
        answer = self._control("break")
        if answer.get("break") is not True:
            raise TargetError(f"the emulator took no BREAK: {answer.get('error', 'no answer')}")

    def end_guest_off(self) -> None:
        """The guest printed its power-off line: the emulator stops now, with the status the guest's
        own power-off gives (0), instead of running out U-Boot's 100 ms at its own pace (about a
        second of host time); it keeps nothing on disk (an SD card's writes stay in memory)."""
        # If it does not answer, the guest's own power-off still ends the run.
        with contextlib.suppress(TargetError):
            self._control("power-off")

    def _control(self, op: str) -> dict[str, object]:
        """One request on the control socket and its answer; :class:`TargetError` if none."""
        path = self.control_path
        if path is None:
            raise TargetError("the emulator is not running")
        try:
            with connect_when_ready(path, BREAK_TIMEOUT, 0.0) as sock, sock.makefile("rb") as reader:
                sock.sendall(json.dumps({"op": op}).encode() + b"\n")
                answer = json.loads(reader.readline(MAX_ANSWER) or b"{}")
        except (OSError, ValueError) as exc:
            raise TargetError(f"the emulator's control socket: {exc}") from None
        if not isinstance(answer, dict):
            raise TargetError("the emulator's control socket gave a malformed answer")
        return answer

    def _release_control(self) -> None:
        if self._control_dir is not None:
            shutil.rmtree(self._control_dir, ignore_errors=True)
            self._control_dir = None


def from_board(board: Board, extra: Mapping[str, str]) -> EmulatorTarget:
    """An emulator target from a board profile."""
    return EmulatorTarget(board, extra)


def fallback_scale(emu: EmulatorSettings) -> float:
    """Host seconds per guest second should the guest clock fail: PyPy's slowdown, times
    ``cpython_slowdown`` on CPython."""
    return PYPY_SLOWDOWN if "pypy" in Path(emu.python).name else PYPY_SLOWDOWN * emu.cpython_slowdown


def validate(board: Board) -> set[str]:
    """Check the ``[emulator]`` section."""
    emulator_settings(board, placeholder_variables(board))
    return {"emulator"}


def preflight(board: Board, variables: Mapping[str, str]) -> list[Finding]:
    """Kernel/initrd/root= agreement and the Linux console, as for QEMU."""
    emu = emulator_settings(board, variables)
    findings = check_boot_arguments(board, variables, append=emu.append, has_disk=False)
    uart = MACHINE_UARTS[emu.machine.split(",")[0]]
    return findings + check_console(board, variables, append=emu.append, uart=uart, key="emulator.append")


def host_scale(board: Board) -> float:
    """At most this many host seconds per guest second: the slowdown used should the clock fail."""
    return fallback_scale(emulator_settings(board, placeholder_variables(board)))


KIND = TargetKind(
    name="emulator", validate=validate, build=from_board, preflight=preflight, copies=None, host_scale=host_scale
)
