"""The ``qemu`` target: ``qemu-system-riscv64`` with its console on stdio, a QMP socket and a gdbstub.

The command line comes from the board's ``[qemu]`` section and its image slots (``bios``,
``kernel``, ``initrd``, ``dtb``). QMP lets the harness pause the guest (a real wedge for the
tests), reset it and quit cleanly; the exact command line goes into the report.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import TargetError, TargetUnavailable
from harness.model.board import Board
from harness.model.config import Section
from harness.model.preboot_finding import Finding, Level
from harness.model.sdcard import CardError
from harness.targets.base import TargetKind, guest_off_lines
from harness.targets.linux_boot import check_boot_arguments, check_console
from harness.targets.process import ProcessTarget
from harness.targets.qemu_argv import image_arguments, placeholder_variables
from harness.targets.qmp import QMP

DEFAULT_BINARY = "qemu-system-riscv64"
TMP_PREFIX = "hartbeat-qemu-"
# How long QEMU, told to quit, may take to close its drives and exit before its group is signalled.
QUIT_GRACE = 10.0
QUIT_POLL = 0.002


def sweep_stale_folders() -> None:
    """Remove the QMP folders of runs that were killed (SIGKILL leaves them behind)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{TMP_PREFIX}*-*"):
        owner = folder.name.removeprefix(TMP_PREFIX).split("-", 1)[0]
        if owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's run
    return True


# The Linux name of each machine's first UART, for the console= check.
MACHINE_UARTS = {"virt": "ttyS", "sifive_u": "ttySIF", "spike": "hvc"}


@dataclass(frozen=True)
class QemuSettings:
    """The ``[qemu]`` section, typed, with the run's variables expanded."""

    machine: str
    binary: str = DEFAULT_BINARY
    cpu: str | None = None
    smp: int = 1
    memory: str = "256M"
    append: str | None = None
    drives: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    no_reboot: bool = False


def qemu_settings(board: Board, extra: Mapping[str, str]) -> QemuSettings:
    """Read and check ``[qemu]``, expanding ``{name}`` in the values that take variables."""
    section: Section = board.section("qemu")
    binary = section.string("binary", DEFAULT_BINARY)
    append = section.string("append")
    settings = QemuSettings(
        machine=section.string("machine", required=True) or "",
        binary=board.expand(binary, "qemu.binary", extra),
        cpu=section.string("cpu"),
        smp=_cpus(section),
        memory=section.string("memory", "256M"),
        append=None if append is None else board.expand(append, "qemu.append", extra),
        drives=tuple(board.expand(d, f"qemu.drives[{i}]", extra) for i, d in enumerate(section.str_list("drives"))),
        extra=tuple(board.expand(e, f"qemu.extra[{i}]", extra) for i, e in enumerate(section.str_list("extra"))),
        no_reboot=section.boolean("no_reboot", False),
    )
    section.reject_unknown()
    return settings


# QEMU's riscv64 `virt` takes up to 512 harts; 0 or more than that is a typo, not a machine.
MAX_SMP = 512


def _cpus(section: Section) -> int:
    smp = section.integer("smp", 1)
    if not 1 <= smp <= MAX_SMP:
        raise section.error("smp", f"expected a number of CPUs from 1 to {MAX_SMP}, got {smp}")
    return smp


def qemu_argv(
    board: Board,
    extra: Mapping[str, str],
    qmp_path: Path | None,
    gdb_path: Path | None = None,
    firmware_dir: Path | None = None,
) -> list[str]:
    """The full QEMU command line for a board and a run's variables.

    ``gdb_path`` adds QEMU's gdbstub on that UNIX socket (the wedge autopsy reads the harts
    through it); it costs nothing until a debugger connects. A board whose ``extra`` starts its
    own stub (``-s``, ``-gdb``) keeps it: QEMU takes one, and :func:`gdb_address` finds it.
    ``firmware_dir`` receives the SPL taken from an SD card (a ``bios`` that names the card).
    """
    qemu = qemu_settings(board, extra)
    argv = [qemu.binary, "-machine", qemu.machine, "-smp", str(qemu.smp), "-m", qemu.memory]
    if qemu.cpu:
        argv += ["-cpu", qemu.cpu]
    # stdio without signal handling: a Ctrl-C typed at U-Boot must reach the guest, not kill QEMU.
    argv += ["-display", "none", "-chardev", "stdio,id=console,signal=off", "-serial", "chardev:console"]
    argv += ["-monitor", "none"]
    if qmp_path is not None:
        argv += ["-qmp", f"unix:{qmp_path},server=on,wait=off"]
    if gdb_path is not None and gdb_address(list(qemu.extra)) is None:
        argv += ["-gdb", f"unix:{gdb_path},server=on,wait=off"]
    argv += image_arguments(board, extra, qemu.append, firmware_dir)
    for drive in qemu.drives:
        argv += ["-drive", drive]
    if qemu.no_reboot:
        argv.append("-no-reboot")
    return argv + list(qemu.extra)


def gdb_address(argv: list[str]) -> Path | tuple[str, int] | None:
    """Where the gdbstub of a QEMU command line listens: a UNIX path, (host, port) or ``None``.

    The last ``-s`` / ``-gdb`` wins, as in QEMU. A stub on something else (a serial device, a
    ``chardev:`` id) is not one the harness can reach and counts as none.
    """
    address: Path | tuple[str, int] | None = None
    for i, arg in enumerate(argv):
        if arg == "-s":
            address = ("localhost", 1234)
        elif arg == "-gdb" and i + 1 < len(argv):
            spec = argv[i + 1].split(",")[0]
            kind, _, rest = spec.partition(":")
            address = None
            if kind == "unix" and rest:
                address = Path(rest)
            elif kind == "tcp" and rest.rpartition(":")[2].isdigit():
                host, _, port = rest.rpartition(":")
                address = (host or "localhost", int(port))
    return address


class QemuTarget(ProcessTarget):
    """QEMU as a process, plus a QMP channel for pause, reset and a clean quit."""

    kind = "qemu"

    def __init__(self, board: Board, extra: Mapping[str, str]) -> None:
        sweep_stale_folders()
        # The pid in the name tells a later run whether this folder's owner is still alive.
        self._tmp = tempfile.TemporaryDirectory(prefix=f"{TMP_PREFIX}{os.getpid()}-")
        self.qmp_path = Path(self._tmp.name) / "qmp.sock"
        try:
            argv = qemu_argv(board, extra, self.qmp_path, Path(self._tmp.name) / "gdb.sock", Path(self._tmp.name))
        except CardError as exc:
            self._tmp.cleanup()
            raise TargetError(f"{board.name}: {exc}") from None
        super().__init__(board.name, argv)
        self.qmp = QMP(self.qmp_path)
        # Under -no-reboot a guest's reset ends QEMU too, with the same clean exit.
        self.guest_off = guest_off_lines(reset="-no-reboot" in self.argv)
        # Where a debugger (the autopsy, or gdb-multiarch after `run --hold`) reaches the harts.
        self.gdb_address = gdb_address(self.argv)

    def check_available(self) -> None:
        """Skip (or fall back) when QEMU is not installed."""
        if shutil.which(self.argv[0]) is None:
            raise TargetUnavailable(
                f"{self.name}: {self.argv[0]} not found; install Debian's qemu-system-misc (make deps)"
            )

    def power_on(self) -> None:
        """Start QEMU and connect to its QMP socket."""
        super().power_on()
        # The report names QEMU's version: asked while the guest boots, it is ready when the
        # run ends, instead of a `--version` subprocess between QEMU's exit and the report.
        threading.Thread(target=qemu_version, args=(self.argv[0],), name="qemu-version", daemon=True).start()
        try:
            self.qmp.connect()
        except TargetError as exc:
            # QEMU refused its command line: its own message is on the console already.
            raise TargetError(f"QEMU did not start: {exc}") from None

    def pause(self) -> None:
        """Stop the guest CPUs (the console goes quiet, QEMU stays alive)."""
        self.qmp.command("stop")

    def resume(self) -> None:
        """Let the guest CPUs run again."""
        self.qmp.command("cont")

    def send_break(self) -> None:
        """A serial BREAK on the console (Linux's magic SysRq key starts with one)."""
        self.qmp.command("chardev-send-break", id="console")

    def reset(self) -> None:
        """Reset the machine as a reset button would."""
        self.qmp.command("system_reset")

    def end_guest_off(self) -> None:
        """The guest printed its power-off line: quit now rather than wait out its last steps.

        QMP ``quit`` is QEMU's own clean exit: it leaves its main loop and closes every drive,
        flushing it, before the process exits. The console closes only at that exit (QEMU holds
        the terminal as its stdio, the keeper until QEMU is gone), so the step's end, which the
        run waits for, comes after the flush, and nothing signals QEMU before it.
        """
        # If QEMU is already going (the guest got there first), its exit closes the console anyway.
        with contextlib.suppress(TargetError):
            self.qmp.command("quit")

    def power_off(self) -> None:
        """Ask QEMU to quit and wait until it has exited, then make sure the process group is gone."""
        console = self.console()
        if console.alive():
            try:
                self.qmp.command("quit")
            except TargetError:
                pass  # QEMU is already going: the group's SIGTERM (a clean exit for QEMU too) follows
            else:
                # A signal must not catch QEMU while it flushes its drives (see end_guest_off).
                deadline = time.monotonic() + QUIT_GRACE
                while console.alive() and time.monotonic() < deadline:
                    time.sleep(QUIT_POLL)
        self.qmp.close()
        super().power_off()
        self._tmp.cleanup()

    def describe(self) -> dict[str, Any]:
        """Kind, QEMU version and the exact command line."""
        return {
            "kind": self.kind,
            "name": self.name,
            "command": shlex.join(self.argv),
            "version": qemu_version(self.argv[0]),
        }


@functools.cache
def qemu_version(binary: str) -> str:
    """``QEMU emulator version 7.2.22 ...`` first line, or ``unknown``."""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.splitlines()[0] if out else "unknown"


@functools.cache
def known_machines(binary: str) -> frozenset[str] | None:
    """Machine names from ``-machine help``; ``None`` when QEMU cannot be asked."""
    try:
        out = subprocess.run([binary, "-machine", "help"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return frozenset(m.group(1) for m in re.finditer(r"^(\S+)\s", out, re.MULTILINE) if m.group(1) != "Supported")


def from_board(board: Board, extra: Mapping[str, str]) -> QemuTarget:
    """A QEMU target from a board profile."""
    return QemuTarget(board, extra)


def validate(board: Board) -> set[str]:
    """Check the ``[qemu]`` section's keys and types."""
    qemu_settings(board, placeholder_variables(board))
    return {"qemu"}


def preflight(board: Board, variables: Mapping[str, str]) -> list[Finding]:
    """The QEMU-specific checks before boot: machine name, and kernel/initrd/disk/root= agreement."""
    qemu = qemu_settings(board, variables)
    findings: list[Finding] = []
    machines = known_machines(qemu.binary)
    machine = qemu.machine.split(",")[0]
    if machines is not None and machine not in machines:
        findings.append(
            Finding(
                Level.ERROR,
                str(board.path),
                "qemu.machine",
                f"{qemu.binary} does not know machine {machine!r}; `{qemu.binary} -machine help` lists "
                f"{', '.join(sorted(machines)[:8])}...",
            )
        )
    findings += check_boot_arguments(board, variables, append=qemu.append, has_disk=bool(qemu.drives))
    uart = MACHINE_UARTS.get(machine)
    if uart is not None:
        findings += check_console(board, variables, append=qemu.append, uart=uart, key="qemu.append")
    return findings


KIND = TargetKind(name="qemu", validate=validate, build=from_board, preflight=preflight, copies=None)
