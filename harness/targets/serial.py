"""The ``serial`` target: a real board, its console on a serial port, its power on a switch.

The console is anything pyserial's ``serial_for_url`` opens: a local tty (``/dev/ttyUSB1``, the
Unmatched's console on its FTDI chip), ``rfc2217://host:port`` (ser2net) or ``socket://``. It is
opened, under a per-port lock, before the power cycle so the first bytes of SPL are never lost,
and reopened when it vanishes (a USB serial adapter may disappear while the board is off); if
it does not come back within ``reopen_timeout`` the run ends as ``error`` with its log kept.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

import serial
import serial.rfc2217

from harness.errors import TargetError, TargetUnavailable, TransportClosed
from harness.lab.lock import BoardLock
from harness.model.board import Board
from harness.model.preboot_finding import Finding, Level
from harness.power import Power, power_from_board
from harness.targets.base import TargetKind
from harness.targets.openocd import JtagSettings, OpenOcd, OpenOcdError, jtag_settings, open_halted
from harness.targets.openocd_standby import StandbyOpenOcd

DEFAULT_BAUDRATE = 115200
DEFAULT_REOPEN_TIMEOUT = 10.0
# How often a vanished port is looked for again; short, because a board that was just switched
# on prints its first line within milliseconds of the port coming back.
REOPEN_INTERVAL = 0.05
# How long run --hold gives OpenOCD to start, examine the harts and halt them.
HOLD_START_S = 30.0


class Port(Protocol):
    """What the transport uses of an open pyserial port.

    Every concrete pyserial class has ``in_waiting``, but their common base does not declare it,
    so the openers' ``SerialBase`` is narrowed to this.
    """

    timeout: float | None

    @property
    def in_waiting(self) -> int:
        """Bytes ready to read without waiting."""

    def read(self, size: int = 1) -> bytes:
        """Up to ``size`` bytes within ``timeout``."""

    def write(self, data: bytes, /) -> int | None:
        """Send bytes."""

    def flush(self) -> None:
        """Wait until what was written is sent."""

    def close(self) -> None:
        """Release the port."""

    def send_break(self, duration: float = 0.25) -> None:
        """Hold the line in the break condition for ``duration`` seconds."""


PortOpener = Callable[[], Port]
# Long enough for any UART to see a break (Linux takes one character time), short for the probe.
BREAK_SECONDS = 0.25


@dataclass(frozen=True)
class SerialSettings:
    """``[serial]``: where the console is and how long a vanished port is waited for."""

    port: str
    baudrate: int = DEFAULT_BAUDRATE
    reopen_timeout: float = DEFAULT_REOPEN_TIMEOUT

    @property
    def is_local(self) -> bool:
        """A device path rather than a pyserial URL (``rfc2217://``, ``socket://`` ...)."""
        return "://" not in self.port


class KeepingRfc2217(serial.rfc2217.Serial):
    """An RFC2217 client that keeps what arrives while it negotiates.

    pyserial purges its input at the end of ``open()``; ser2net opens the device as soon as the
    TCP connection is up, so a board switched on while the console reconnects would lose its
    first lines (SPL, OpenSBI) in that purge.
    """

    _opening = False

    def open(self) -> None:
        """Connect and negotiate, without the final purge."""
        self._opening = True
        try:
            super().open()
        finally:
            self._opening = False

    def reset_input_buffer(self) -> None:
        """Discard buffered input, except during :meth:`open`."""
        if not self._opening:
            super().reset_input_buffer()

    def _telnet_read_loop(self) -> None:
        # ser2net drops the connection when its device vanishes (a board powered off), sometimes
        # while pyserial's reader thread answers an option: the broken pipe would print a
        # traceback from that thread. The transport sees the port lost and reopens it anyway.
        with contextlib.suppress(OSError):
            super()._telnet_read_loop()  # type: ignore[misc]  # private in the stubs, the loop itself


@dataclass(frozen=True)
class Reopened:
    """The console vanished ``lost_for`` seconds and came back (reported for diagnosis)."""

    reason: str
    lost_for: float


class SerialTransport:
    """A serial console that survives the port vanishing for up to ``reopen_timeout`` seconds."""

    def __init__(self, url: str, opener: PortOpener, reopen_timeout: float) -> None:
        self.url = url
        self._opener = opener
        self._reopen_timeout = reopen_timeout
        self._port: Port | None = None
        self._lost_at: float | None = None
        self._lost_reason = ""
        self._closed = False
        self.reopened: list[Reopened] = []

    def open(self, *, absent_ok: bool = False) -> None:
        """Open the port now; :class:`TargetUnavailable` when that fails.

        Nothing has been read or switched yet, so an unreachable console (ser2net down, a
        refused ``rfc2217://``) says nothing about the build: a skip, as a missing port is.
        With ``absent_ok`` a port that cannot be opened yet is waited for like a vanished one
        (up to ``reopen_timeout`` from now): a console exported by a lab host may exist only
        while its board is powered.
        """
        try:
            self._port = self._opener()
        except (serial.SerialException, OSError, ValueError) as exc:
            if not absent_ok:
                raise TargetUnavailable(f"cannot open console {self.url}: {exc}") from None
            self._lost_at = time.monotonic()
            self._lost_reason = f"not there before power-on: {exc}"

    def read(self, size: int, timeout: float) -> bytes:
        """Bytes from the port; ``b""`` on timeout or while a vanished port is waited for."""
        if self._closed:
            raise TransportClosed(f"console {self.url} closed")
        port = self._port
        if port is None:
            return self._reopen(timeout)
        try:
            if port.timeout != timeout:
                port.timeout = timeout
            data = port.read(1)
            waiting = port.in_waiting if data else 0
            while waiting and len(data) < size:
                data += port.read(min(waiting, size - len(data)))
                waiting = port.in_waiting
            return data
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            # pyserial raises TypeError/AttributeError when the port is closed under a blocked
            # read, which is how power-off ends the reader.
            if self._closed:
                raise TransportClosed(f"console {self.url} closed") from None
            if not isinstance(exc, serial.SerialException | OSError):
                raise
            self._lose(port, str(exc))
            return b""

    def _lose(self, port: Port, reason: str) -> None:
        self._port = None
        self._lost_at = time.monotonic()
        self._lost_reason = reason
        # The device is gone; closing only releases the file descriptor.
        with contextlib.suppress(serial.SerialException, OSError):
            port.close()

    def _reopen(self, timeout: float) -> bytes:
        lost_at = self._lost_at if self._lost_at is not None else time.monotonic()
        try:
            self._port = self._opener()
        except (serial.SerialException, OSError, ValueError) as exc:
            lost_for = time.monotonic() - lost_at
            if lost_for >= self._reopen_timeout:
                raise TransportClosed(
                    f"console {self.url} vanished ({self._lost_reason}) and did not come back within "
                    f"{self._reopen_timeout:g} s (last try: {exc})"
                ) from None
            time.sleep(min(timeout, REOPEN_INTERVAL))
            return b""
        self.reopened.append(Reopened(self._lost_reason, round(time.monotonic() - lost_at, 3)))
        self._lost_at = None
        return b""

    def write(self, data: bytes) -> None:
        """Send bytes; :class:`TargetError` while the port is gone."""
        port = self._port
        if port is None or self._closed:
            raise TargetError(f"cannot type: console {self.url} is not open ({self._lost_reason or 'closed'})")
        try:
            port.write(data)
            port.flush()
        except (serial.SerialException, OSError) as exc:
            raise TargetError(f"cannot type into console {self.url}: {exc}") from None

    def send_break(self) -> None:
        """A serial BREAK (Linux's magic SysRq key starts with one); :class:`TargetError` if it fails.

        A local tty and ``rfc2217://`` (ser2net) carry it; a raw ``socket://`` cannot and drops it.
        """
        port = self._port
        if port is None or self._closed:
            raise TargetError(f"cannot send a BREAK: console {self.url} is not open")
        try:
            port.send_break(BREAK_SECONDS)
        except (serial.SerialException, OSError) as exc:
            raise TargetError(f"cannot send a BREAK on console {self.url}: {exc}") from None

    def close(self) -> None:
        """Close the port for good; later reads raise :class:`TransportClosed`."""
        self._closed = True
        port, self._port = self._port, None
        if port is not None:
            # Closing a vanished device fails; it is closed either way.
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()


class SerialTarget:
    """A board on a serial console with a power switch; one run at a time per port."""

    kind = "serial"

    def __init__(
        self, name: str, settings: SerialSettings, power: Power, *, plan: str = "", jtag: JtagSettings | None = None
    ) -> None:
        self.name = name
        self.settings = settings
        self.power = power
        self.plan = plan
        # ``[jtag]``: OpenOCD for the autopsy (started at power-on, standing by) and ``run --hold``.
        self.jtag = jtag
        self._openocd: OpenOcd | None = None
        self._standby: StandbyOpenOcd | None = None
        self._autopsy = True
        self._lock = BoardLock(settings.port, board=name)
        self._transport = SerialTransport(settings.port, self._open_port, settings.reopen_timeout)
        self._opened = False
        self._off_done = False

    def _open_port(self) -> Port:
        kwargs: dict[str, Any] = {"baudrate": self.settings.baudrate, "timeout": REOPEN_INTERVAL}
        if self.settings.is_local:
            # Also keeps out terminal programs that honour flock (picocom, tio).
            kwargs["exclusive"] = True
        if self.settings.port.startswith("rfc2217://"):
            return KeepingRfc2217(self.settings.port, **kwargs)
        return cast(Port, serial.serial_for_url(self.settings.port, **kwargs))

    def check_available(self) -> None:
        """A local port must exist; a network console is only known once it is opened."""
        if self.settings.is_local and not os.path.exists(self.settings.port):
            raise TargetUnavailable(
                f"{self.name}: serial port {self.settings.port} does not exist "
                "(is the board's USB cable plugged in? see `ls /dev/serial/by-id/`)"
            )

    def console(self) -> SerialTransport:
        """Take the board's lock and open its console (before any power is switched)."""
        if not self._opened:
            self._lock.acquire(self.plan)
            try:
                self._transport.open()
            except (TargetError, TargetUnavailable):
                self._lock.release()
                raise
            self._opened = True
        return self._transport

    def send_break(self) -> None:
        """A serial BREAK on the console (for the autopsy's SysRq probe)."""
        self._transport.send_break()

    def switch_off_before_on(self) -> None:
        """The first half of the power cycle: off, then ``off_time`` for the rails to drain.

        The runner calls it before it starts the clock, so ``off_time`` does not count against
        the first milestone; :meth:`power_on` then only switches on.
        """
        if not self._opened:
            raise TargetError(f"{self.name}: console not open; the runner opens it before power-on")
        self.power.switch.off()
        time.sleep(self.power.off_time)
        self._off_done = True

    def power_on(self) -> None:
        """A power cycle, not just "on": the board may have been left running by someone."""
        if not self._opened:
            raise TargetError(f"{self.name}: console not open; the runner opens it before power-on")
        if self._off_done:
            self._off_done = False
            self.power.switch.on()
        else:
            self.power.switch.cycle(self.power.off_time)
        self._start_standby()

    def no_autopsy(self) -> None:
        """The run takes no autopsy (its plan's ``[autopsy] enabled = false``): OpenOCD is not
        started at power-on."""
        self._autopsy = False

    def _start_standby(self) -> None:
        """OpenOCD from ``[jtag] config`` starts now, in the background, for a quick autopsy."""
        if self._autopsy and self.jtag is not None and self.jtag.config is not None:
            self._close_standby()
            self._standby = StandbyOpenOcd(self.jtag)
            self._standby.start()

    def _close_standby(self) -> None:
        standby, self._standby = self._standby, None
        if standby is not None:
            standby.close()

    def take_openocd(self, deadline: float) -> OpenOcd | None:
        """The OpenOCD started at power-on, examined and ready, handed to the autopsy (which
        closes it); None when there is none (the autopsy starts its own). An attempt still
        under way is waited for until ``deadline``; its failure is :class:`OpenOcdError`."""
        standby, self._standby = self._standby, None
        if standby is None:
            return None
        try:
            return standby.take(deadline)
        finally:
            standby.close()

    # OpenOCD's gdb server: ``target extended-remote`` (gdb may detach and attach again).
    gdb_extended = True

    @property
    def gdb_address(self) -> tuple[str, int] | None:
        """Where gdb reaches the harts while held: OpenOCD's gdb port (None without ``[jtag]``)."""
        if self.jtag is None:
            return None
        host = self.jtag.tcl[0] if self.jtag.tcl is not None else "127.0.0.1"
        return (host, self.jtag.gdb_port)

    def pause(self) -> None:
        """``run --hold``: start OpenOCD from ``[jtag]`` (serving gdb) or reach the running one,
        and halt the harts; OpenOCD stays up until power-off."""
        if self.jtag is None:
            raise TargetError(f"{self.name}: no [jtag] section, so no debugger can reach the harts")
        # One OpenOCD at a time on the adapter: the one standing by (without gdb) goes first.
        self._close_standby()
        try:
            self._openocd = open_halted(self.jtag, time.monotonic() + HOLD_START_S)
        except OpenOcdError as exc:
            raise TargetError(f"openocd: {exc}") from None

    def power_off(self) -> None:
        """Switch off, close the console, give the board back. Only the lock holder touches power."""
        self._close_standby()
        session, self._openocd = self._openocd, None
        if session is not None:
            session.close()
        if not self._lock.held:
            return
        try:
            self.power.switch.off()
        finally:
            self._transport.close()
            self._lock.release()
            self._opened = False

    def describe(self) -> dict[str, Any]:
        """Port, speed, power backend, and every time the console vanished and came back."""
        return {
            "kind": self.kind,
            "name": self.name,
            "port": self.settings.port,
            "baudrate": self.settings.baudrate,
            "reopen_timeout": self.settings.reopen_timeout,
            "power": {**self.power.switch.describe(), "off_time": self.power.off_time},
            "lock": str(self._lock.path),
            "console_reopened": [{"reason": r.reason, "lost_for": r.lost_for} for r in self._transport.reopened],
        }


def serial_settings(board: Board) -> SerialSettings:
    """Read and check ``[serial]``."""
    section = board.section("serial")
    port = board.expand(section.string("port", required=True) or "", "serial.port")
    baudrate = section.integer("baudrate", DEFAULT_BAUDRATE)
    if baudrate is None or baudrate <= 0:
        raise section.error("baudrate", f"expected a positive integer such as 115200, got {baudrate!r}")
    reopen_timeout = section.duration("reopen_timeout", DEFAULT_REOPEN_TIMEOUT, allow_zero=True)
    section.reject_unknown()
    return SerialSettings(
        port=port,
        baudrate=baudrate,
        reopen_timeout=reopen_timeout,
    )


def from_board(board: Board, extra: Mapping[str, str]) -> SerialTarget:
    """A serial target from ``[serial]`` and ``[power]``; ``extra["plan"]`` goes into the lock record."""
    return SerialTarget(
        board.name,
        serial_settings(board),
        power_from_board(board),
        plan=extra.get("plan", ""),
        jtag=jtag_settings(board),
    )


def validate(board: Board) -> set[str]:
    """Check ``[serial]``, ``[power]`` and ``[jtag]`` (OpenOCD, for the autopsy and ``--hold``)."""
    serial_settings(board)
    power_from_board(board)
    jtag_settings(board)
    return {"serial", "power", "jtag"}


def preflight(board: Board, variables: Mapping[str, str]) -> list[Finding]:
    """Before boot: a missing local port means a skip (or the fallback), worth a warning; so is
    a ``[jtag]`` whose OpenOCD or config is missing (the autopsy would be unavailable)."""
    settings = serial_settings(board)
    findings = []
    if settings.is_local and not os.path.exists(settings.port):
        then = f"the run will use the fallback board {board.fallback}" if board.fallback else "the run will be a skip"
        findings.append(
            Finding(Level.WARNING, str(board.path), "serial.port", f"{settings.port} does not exist; {then}")
        )
    jtag = jtag_settings(board)
    if jtag is not None and jtag.config is not None:
        if not jtag.config.is_file():
            findings.append(Finding(Level.WARNING, str(board.path), "jtag.config", f"{jtag.config} does not exist"))
        if shutil.which(jtag.openocd) is None:
            problem = f"{jtag.openocd} is not installed (make deps installs Debian's openocd): no autopsy"
            findings.append(Finding(Level.WARNING, str(board.path), "jtag.openocd", problem))
    return findings


KIND = TargetKind(name="serial", validate=validate, build=from_board, preflight=preflight, copies=1, switched_off=True)
