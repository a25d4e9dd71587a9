"""The ``labgrid`` target: a board in a labgrid place, shared by a lab through its coordinator.

labgrid does the lab (who holds which board, where its console and power are exported); the
console is read by our serial engine, not labgrid's (its expect reads byte by byte). So a run
acquires the place (waiting up to ``wait`` while someone else has it, then ``skip`` naming
them), opens the place's ``NetworkSerialPort`` as RFC2217 or raw TCP with the usual reopen
logic, switches power with labgrid's own driver for the place's power resource, and releases
the place at power-off, which the runner reaches at the end, on Ctrl-C, SIGTERM or a crash.
"""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

import serial

from harness.errors import ConfigError, HartbeatError, TargetError, TargetUnavailable
from harness.lab.places import Acquisition, PlaceInfo, Resource, connect, coordinator_address
from harness.model.board import Board
from harness.model.preboot_finding import Finding, Level
from harness.power.base import DEFAULT_OFF_TIME
from harness.power.labgrid import DriverSwitch, place_switch
from harness.targets.base import TargetKind
from harness.targets.serial import DEFAULT_REOPEN_TIMEOUT, REOPEN_INTERVAL, KeepingRfc2217, Port, SerialTransport

DEFAULT_WAIT = 120.0
SERIAL_CLASSES = ("NetworkSerialPort",)


@dataclass(frozen=True)
class LabgridSettings:
    """``[labgrid]``: which place, on which coordinator, and how long a busy place is waited for."""

    place: str
    coordinator: str
    wait: float = DEFAULT_WAIT
    reopen_timeout: float = DEFAULT_REOPEN_TIMEOUT
    off_time: float = DEFAULT_OFF_TIME


def console_url(resource: Resource) -> str:
    """The pyserial URL of a ``NetworkSerialPort``: RFC2217 (ser2net's default) or raw TCP.

    ``ign_set_control``, as labgrid's own driver does: ser2net may not acknowledge modem lines.
    """
    host, port = resource.params.get("host"), resource.params.get("port")
    if not host or not port:
        raise TargetError(f"resource {resource.path} has no host/port (is its exporter's ser2net running?)")
    if resource.params.get("protocol", "rfc2217") == "raw":
        return f"socket://{host}:{port}"
    return f"rfc2217://{host}:{port}?ign_set_control"


class LabgridTarget:
    """A labgrid place: acquired in :meth:`check_available`, released in :meth:`power_off`."""

    kind = "labgrid"

    def __init__(self, name: str, settings: LabgridSettings, *, plan: str = "") -> None:
        self.name = name
        self.settings = settings
        self.plan = plan
        self._acquisition: Acquisition | None = None
        self._info: PlaceInfo | None = None
        self._switch: DriverSwitch | None = None
        self._transport: SerialTransport | None = None
        self._baudrate = 115200
        self.log: list[str] = []

    def check_available(self) -> None:
        """Acquire the place and find its console and power; a busy place is a skip naming the holder."""
        if any(char in self.settings.place for char in "*?["):
            raise TargetUnavailable(
                f"{self.name}: place {self.settings.place!r} is a pattern, which only `hartbeat bisect` expands "
                "(one board per matching place); name one place to run on"
            )
        coordinator = connect(self.settings.coordinator)
        acquisition = Acquisition(coordinator, self.settings.place, log=self.log.append)
        self._acquisition = acquisition
        info = acquisition.acquire(self.settings.wait, self.plan)
        try:
            port = info.resource(*SERIAL_CLASSES)
            if port is None:
                raise TargetUnavailable(f"place {info.name} has no NetworkSerialPort (add-match its console)")
            self._baudrate = int(port.params.get("speed") or 115200)
            url = console_url(port)
            self._transport = SerialTransport(url, lambda: self._open_port(url), self.settings.reopen_timeout)
            self._switch = place_switch(coordinator, info.name)
            if self._switch is None:
                raise TargetUnavailable(f"place {info.name} has no power resource labgrid can switch")
        except BaseException:
            acquisition.release()
            raise
        self._info = info

    def _open_port(self, url: str) -> Port:
        if url.startswith("rfc2217://"):
            return KeepingRfc2217(url, baudrate=self._baudrate, timeout=REOPEN_INTERVAL)
        return cast(Port, serial.serial_for_url(url, baudrate=self._baudrate, timeout=REOPEN_INTERVAL))

    def console(self) -> SerialTransport:
        """Open the place's console (before any power is switched).

        An exporter's ser2net cannot open a console whose USB adapter is powered by the board
        while the board is off, and drops the connection: such a console is waited for (up to
        ``reopen_timeout``) and read from the moment it comes up with the power.
        """
        if self._transport is None:
            raise TargetError(f"{self.name}: place {self.settings.place} is not acquired; check_available() first")
        self._transport.open(absent_ok=True)
        return self._transport

    def power_on(self) -> None:
        """A power cycle through labgrid's driver: someone may have left the board running."""
        if self._switch is None:
            raise TargetError(f"{self.name}: place {self.settings.place} is not acquired")
        self._switch.cycle(self.settings.off_time)

    def power_off(self) -> None:
        """Switch off, close the console, release the place, whatever fails on the way."""
        try:
            if self._switch is not None:
                self._switch.off()
        finally:
            if self._transport is not None:
                with contextlib.suppress(HartbeatError):
                    self._transport.close()
            if self._acquisition is not None:
                self._acquisition.release()

    def describe(self) -> dict[str, Any]:
        """The place, its exporters and resources, the console and power used, and the lab log."""
        info = self._info
        resources = [r.path for r in info.resources] if info else []
        return {
            "kind": self.kind,
            "name": self.name,
            "place": self.settings.place,
            "coordinator": self.settings.coordinator,
            "holder": self._acquisition.me if self._acquisition else None,
            "waited": round(self._acquisition.waited, 3) if self._acquisition else None,
            "exporters": sorted({r.exporter for r in info.resources}) if info else [],
            "resources": resources,
            "tags": info.tags if info else {},
            "console": self._transport.url if self._transport else None,
            "power": {**self._switch.describe(), "off_time": self.settings.off_time} if self._switch else None,
            "console_reopened": (
                [{"reason": r.reason, "lost_for": r.lost_for} for r in self._transport.reopened]
                if self._transport
                else []
            ),
            "lab_log": list(self.log),
        }


def labgrid_settings(board: Board) -> LabgridSettings:
    """Read and check ``[labgrid]``."""
    section = board.section("labgrid")
    place = board.expand(section.string("place", required=True) or "", "labgrid.place")
    coordinator = coordinator_address(section.string("coordinator"))
    wait = section.duration("wait", DEFAULT_WAIT, allow_zero=True)
    reopen_timeout = section.duration("reopen_timeout", DEFAULT_REOPEN_TIMEOUT, allow_zero=True)
    off_time = section.duration("off_time", DEFAULT_OFF_TIME, allow_zero=True)
    section.reject_unknown()
    return LabgridSettings(
        place=place,
        coordinator=coordinator,
        wait=wait,
        reopen_timeout=reopen_timeout,
        off_time=off_time,
    )


def from_board(board: Board, extra: Mapping[str, str]) -> LabgridTarget:
    """A labgrid target from ``[labgrid]``; ``extra["plan"]`` goes into the local lock record."""
    return LabgridTarget(board.name, labgrid_settings(board), plan=extra.get("plan", ""))


def validate(board: Board) -> set[str]:
    """Check ``[labgrid]`` (without contacting the coordinator)."""
    labgrid_settings(board)
    return {"labgrid"}


def preflight(board: Board, variables: Mapping[str, str]) -> list[Finding]:
    """Before boot: a missing labgrid library is worth a warning (the run would be a skip)."""
    try:
        from harness.lab.places import require_labgrid

        require_labgrid()
    except TargetUnavailable as exc:
        return [Finding(Level.WARNING, str(board.path), "target", f"{exc}; the run will be a skip")]
    return []


def expand_places(board: Board) -> tuple[Board, ...]:
    """One profile per place matching a ``place`` pattern (``unmatched-*``), named after the place.

    Each copy's ``place`` (and the variable ``{place}``) is that place, so a ``[deploy]`` dest
    like ``/srv/tftp/{board}`` sends each build to the board that boots it. Places are matched
    when the bisect starts; each run still acquires and releases its place.
    """
    settings = labgrid_settings(board)
    if not any(char in settings.place for char in "*?["):
        return (board,)
    places = [place.name for place in connect(settings.coordinator).places()]
    matching = [name for name in places if fnmatch.fnmatchcase(name, settings.place)]
    if not matching:
        raise ConfigError(
            board.path,
            "labgrid.place",
            f"no place of the coordinator at {settings.coordinator} matches {settings.place!r}; "
            f"its places: {', '.join(places) or 'none'}",
        )
    return tuple(
        replace(
            board,
            name=name,
            variables={**board.variables, "place": name},
            settings={**board.settings, "labgrid": {**board.settings.get("labgrid", {}), "place": name}},
        )
        for name in matching
    )


KIND = TargetKind(
    name="labgrid",
    validate=validate,
    build=from_board,
    preflight=preflight,
    copies=1,
    expand=expand_places,
    switched_off=True,
)
