"""Command line: ``python -m harness.emulator`` with QEMU-like options.

    python -m harness.emulator -M virt|unmatched [-smp N] [-m 256M] [-bios PATH|none]
        [-kernel PATH] [-initrd PATH] [-append ARGS] [-dtb PATH] [-serial stdio|pty]
        [-nographic] [-dumpdtb PATH] [-no-reboot] [--report-stale-fetch] [-guest-clock FILE]
        [-control PATH] [-jtag tcp:PORT|unix:PATH]
    python -m harness.emulator -M unmatched,msel=11 -drive file=sd.img,if=sd,format=raw [-m 16G]

Boot works like QEMU's: every hart starts in M-mode at a reset stub at 0x1000 that jumps to
0x80000000 (the firmware) with a0 = hart id, a1 = DTB (near the top of RAM) and a2 = the
fw_dynamic info block. ``-kernel`` goes to the first 2 MiB boundary after the firmware
(0x80200000 for OpenSBI fw_jump) unless it is an ELF. With ``-bios none`` the kernel itself
is the entry point of all harts. Without ``-bios`` Debian's OpenSBI fw_dynamic.bin is used.
``-guest-clock FILE`` appends the guest's time to FILE as the console runs (see
``timefeed.py``): the harness judges silence and deadlines on it.
On ``unmatched``, ``-smp`` counts all harts including the S7 monitor core (default 5).

``-M unmatched,msel=11`` boots like the board with its mode-select pins at 1011: the mask ROM
reads the SPL from the SD card image given with ``-drive file=...,if=sd`` into the L2 LIM and
every hart starts there; U-Boot SPL then brings up DDR (16 GiB by default, as on the board,
mapped lazily) and loads OpenSBI and U-Boot from the card. No image is loaded into RAM and no
device tree is generated: the firmware carries the board's own. Guest writes to the card stay
in memory for the run.

The console is stdin/stdout (a terminal is switched to raw mode, so Ctrl-C reaches the guest
as 0x03) or, with ``-serial pty``, a new pseudo-terminal announced on stderr.

``-jtag`` opens a JTAG port with a RISC-V Debug Module (0.13.2) for OpenOCD's remote_bitbang
adapter, on a loopback TCP port (0: a free one) or a unix socket, announced on stderr as
``hartbeat-emu: JTAG remote_bitbang on tcp:127.0.0.1:PORT``. Off by default.

Exit status: 0 after a guest power-off (test device 0x5555, e.g. SBI system reset
shutdown); N for the test device's failure code (0xN3333); 3 for a guest reset request
with ``-no-reboot`` (without it the machine restarts, as QEMU does); 2 for a bad command
line or an unreadable file; 128+signal on SIGTERM/SIGINT. ``HARTBEAT_EMU_STATS=1`` prints
the instruction count and MIPS to stderr on exit.

``-control PATH`` listens on a unix socket at PATH for autopsy requests (each hart's registers,
instructions retired, memory through its translation; see ``control.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from typing import TYPE_CHECKING, NoReturn

from .bus import BusError
from .console import Console, pty_console, stdio_console
from .debug.jtag import JtagSpecError
from .devices.sdcard import SdCardError
from .dts import DtcError
from .interp import tune_jit
from .loader import LoadError
from .loops import summary as loop_summary
from .machine import MIB, Machine, MachineConfig
from .timefeed import TimeFeed

if TYPE_CHECKING:
    # Imported when -control is given (it brings socket, threading and json to every start).
    from .control import ControlServer

USAGE_STATUS = 2
DEFAULT_MEMORY = "128M"
# The HiFive Unmatched's 16 GiB: its SPL checks that DRAM is as large as its device tree says.
DEFAULT_ROM_BOOT_MEMORY = "16G"


class UsageError(Exception):
    """A bad command line; reported as one line on stderr with status 2."""


def _terminal_columns() -> int:
    """The width ``-h`` wraps to, found as argparse finds it (``$COLUMNS``, else the terminal on
    stdout, else 80) but without ``shutil`` (see :class:`_HelpFormatter`)."""
    text = os.environ.get("COLUMNS", "")
    if text.isdigit() and int(text) > 0:
        return int(text)
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):  # no stdout (None), or not a terminal
        return 80


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's layout with the width given: argparse builds a formatter for every option it
    adds, and finding the width itself imports shutil (with bz2, lzma, pwd and grp: 8 ms of
    PyPy's start-up, at every start) though only ``-h`` prints anything."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_terminal_columns() - 2)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def parse_size(text: str) -> int:
    """Parse ``-m`` sizes: a bare number is MiB (as in QEMU); K/M/G suffixes accepted."""
    value = text.strip().upper().removeprefix("SIZE=")
    units = {"K": 1 << 10, "M": MIB, "G": 1 << 30}
    scale = MIB
    if value and value[-1] in units:
        scale = units[value[-1]]
        value = value[:-1]
    elif value.endswith("B") and value[-2:-1] in units:
        scale = units[value[-2]]
        value = value[:-2]
    try:
        size = int(float(value) * scale)
    except ValueError:
        raise UsageError(f"invalid memory size '{text}'") from None
    if size <= 0 or size % 4096 or size > 16 << 30:
        raise UsageError(f"unsupported memory size '{text}'")
    return size


def parse_smp(text: str) -> int:
    """Parse ``-smp N`` or ``-smp cpus=N,...``."""
    first = text.split(",")[0].removeprefix("cpus=")
    if not first.isdigit() or not 1 <= int(first) <= 32:
        raise UsageError(f"invalid -smp value '{text}'")
    return int(first)


def build_parser() -> argparse.ArgumentParser:
    """The option parser (single-dash long options, like QEMU)."""
    p = _Parser(
        prog="python -m harness.emulator",
        allow_abbrev=False,
        description=__doc__,
        formatter_class=_HelpFormatter,
    )
    p.add_argument("-M", "-machine", dest="machine", default="virt")
    p.add_argument("-smp", dest="smp")
    p.add_argument("-m", dest="memory")
    p.add_argument("-drive", dest="drives", action="append", default=[])
    p.add_argument("-bios", dest="bios")
    p.add_argument("-kernel", dest="kernel")
    p.add_argument("-initrd", dest="initrd")
    p.add_argument("-append", dest="append")
    p.add_argument("-dtb", dest="dtb")
    p.add_argument("-serial", dest="serial", default="stdio")
    p.add_argument("-nographic", action="store_true")
    p.add_argument("-display", dest="display")
    p.add_argument("-dumpdtb", dest="dumpdtb")
    p.add_argument("-no-reboot", dest="no_reboot", action="store_true")
    p.add_argument("-jtag", dest="jtag")
    p.add_argument("-guest-clock", dest="guest_clock")
    p.add_argument("-control", dest="control")
    p.add_argument("--report-stale-fetch", "-report-stale-fetch", dest="report_stale_fetch", action="store_true")
    return p


def config_from_args(argv: list[str]) -> tuple[MachineConfig, argparse.Namespace]:
    """Turn the command line into a MachineConfig (raises UsageError)."""
    args = build_parser().parse_args(argv)
    if args.serial not in ("stdio", "mon:stdio", "pty"):
        raise UsageError(f"unsupported -serial '{args.serial}' (use stdio or pty)")
    board, msel = parse_machine(args.machine)
    sdcard = parse_drives(args.drives)
    if sdcard is not None and msel is None:
        raise UsageError("-drive if=sd needs a machine that boots from it (-M unmatched,msel=11)")
    config = MachineConfig(
        board=board,
        smp=parse_smp(args.smp) if args.smp else None,
        ram_size=parse_size(args.memory or (DEFAULT_ROM_BOOT_MEMORY if msel is not None else DEFAULT_MEMORY)),
        bios=args.bios,
        kernel=args.kernel,
        initrd=args.initrd,
        append=args.append,
        dtb=args.dtb,
        no_reboot=args.no_reboot,
        report_stale_fetch=args.report_stale_fetch,
        msel=msel,
        sdcard=sdcard,
    )
    return config, args


def parse_machine(text: str) -> tuple[str, int | None]:
    """``-M name[,msel=N]``: the machine and its mode-select pins (decimal, as QEMU's sifive_u)."""
    name, *props = text.split(",")
    msel = None
    for prop in props:
        key, _, value = prop.partition("=")
        if key != "msel" or not value.isdigit() or not 0 <= int(value) <= 15:
            raise UsageError(f"unsupported machine property '{prop}' (only msel=0..15)")
        msel = int(value)
    return name, msel


def parse_drives(drives: list[str]) -> str | None:
    """``-drive file=PATH,if=sd[,format=raw][,snapshot=on]``: the SD card image (one at most).

    As in QEMU, a comma inside the path is doubled. The card's writes always stay in memory
    (``snapshot=on`` is what the emulator does anyway)."""
    sdcard = None
    for text in drives:
        fields = [p.replace("\0", ",") for p in text.replace(",,", "\0").split(",")]
        props = dict(p.partition("=")[::2] for p in fields)
        unknown = set(props) - {"file", "if", "format", "snapshot"}
        if props.get("if") != "sd" or not props.get("file") or props.get("format", "raw") != "raw" or unknown:
            raise UsageError(f"unsupported -drive '{text}' (only file=PATH,if=sd,format=raw[,snapshot=on])")
        if sdcard is not None:
            raise UsageError("only one SD card (-drive if=sd) is supported")
        sdcard = props["file"]
    return sdcard


def _terminate(signum: int, frame: object) -> NoReturn:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    try:
        config, args = config_from_args(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        sys.stderr.write(f"hartbeat-emu: {exc}\n")
        return USAGE_STATUS
    console: Console | None = None
    control: ControlServer | None = None
    signal.signal(signal.SIGTERM, _terminate)
    try:
        if args.dumpdtb:
            machine = Machine(config, Console(None, 1))
            with open(args.dumpdtb, "wb") as f:
                f.write(machine.dtb)
            return 0
        console = pty_console() if args.serial == "pty" else stdio_console()
        # Before the machine: building one that boots from its mask ROM already runs the ROM's
        # SPI reads of the SPL.
        tune_jit(rom_boot=config.msel is not None)
        machine = Machine(config, console)
        if args.jtag:
            port = machine.attach_jtag(args.jtag)
            sys.stderr.write(f"hartbeat-emu: JTAG remote_bitbang on {port.address}\n")
            sys.stderr.flush()
        if args.guest_clock:
            console.time_feed = TimeFeed.open(args.guest_clock, machine.guest_ns)
            console.time_feed.mark(0, 0)
        if args.control:
            from .control import ControlServer

            control = ControlServer(args.control)
            control.machine = machine
        started = time.monotonic()
        try:
            status = machine.run(control=control)
        finally:
            if machine.debug is not None:
                machine.debug.close()
            if os.environ.get("HARTBEAT_EMU_STATS") == "1":
                elapsed = time.monotonic() - started
                cpu = time.process_time()
                n = machine.instructions
                sys.stderr.write(
                    f"\r\nhartbeat-emu: {n} instructions in {elapsed:.2f} s "
                    f"({n / elapsed / 1e6 if elapsed else 0:.2f} MIPS)\n"
                    f"hartbeat-emu: {cpu:.2f} s of CPU ({n / cpu / 1e6 if cpu else 0:.2f} MIPS per CPU second), "
                    f"engine {machine.harts[0].engine.name}\n"
                )
                loops, looped = loop_summary(machine.harts)
                sys.stderr.write(f"hartbeat-emu: {looped} instructions in {loops} compiled guest loops\n")
        return status
    except (LoadError, DtcError, BusError, SdCardError, OSError, JtagSpecError) as exc:
        if console is not None:
            console.close()
            console = None
        sys.stderr.write(f"hartbeat-emu: {exc}\n")
        return USAGE_STATUS
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    finally:
        if console is not None:
            console.close()
        if control is not None:
            control.close()


def leave(status: int) -> NoReturn:
    """End the process with ``status`` now, without the interpreter's teardown, as QEMU exits
    at once after a guest power-off.

    A Linux boot under CPython leaves millions of objects (the block translator's closures:
    3.2 M tracked after hartbeat's tiny Linux on ``unmatched``); tearing them down took seconds
    of CPU after the guest had powered off, 30 s and more of host time on a loaded host, with the
    console still open and the guest clock standing still, so the harness judged a hung emulator.
    :func:`main` has flushed and closed the console, the guest-clock feed, the control socket and
    the JTAG port; stdio is flushed here; nothing else holds data, so the teardown does nothing
    that matters.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)


def command_line() -> NoReturn:
    """``python -m harness.emulator``: run :func:`main` on ``sys.argv`` and :func:`leave` with
    its status."""
    try:
        code = main()
    except SystemExit as exc:
        # SIGTERM (_terminate) ends main() this way, once it has closed the console; -h too.
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:  # sys.exit("message"): said on stderr, as the interpreter's own exit would
            sys.stderr.write(f"{exc.code}\n")
            code = 1
    leave(code)
