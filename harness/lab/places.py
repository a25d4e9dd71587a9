"""Places on a labgrid coordinator: list them, acquire one (waiting while it is busy), release it.

labgrid's client is asyncio on gRPC while hartbeat's runs are threads (bisect boots several
boards at once), so one session per coordinator runs on an event loop of its own, in a daemon
thread, and every call here is a blocking call submitted to that loop. The session stays
subscribed to the coordinator, so a place's holder is always current.

A place acquired at the coordinator stays acquired when its client dies (labgrid has no lease):
a hartbeat killed with SIGKILL cannot release it. So each acquisition is also recorded in a
local :class:`~harness.lab.lock.BoardLock` (an ``flock`` that dies with its process, whose file keeps
the holder's record): the next run on this host that finds the place held by this host and user,
with the record of a process that is gone, releases it and says so.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import getpass
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from harness.errors import BoardLocked, HartbeatError, TargetError, TargetUnavailable
from harness.lab.lock import BoardLock

DEFAULT_COORDINATOR = "127.0.0.1:20408"
# How long connecting to a coordinator, or one request to it, may take.
CALL_TIMEOUT = 20.0
# How often a busy place is tried again while waiting for it.
RETRY_INTERVAL = 0.25

T = TypeVar("T")
Log = Callable[[str], None]


class LabgridMissing(TargetUnavailable):
    """The labgrid client library is not installed."""


def require_labgrid() -> None:
    """Raise :class:`LabgridMissing` with the install command unless labgrid can be imported."""
    try:
        import labgrid.remote.client  # noqa: F401
    except ImportError as exc:
        raise LabgridMissing(
            f"labgrid places need the labgrid extra: pip install 'hartbeat[labgrid]' ({exc})"
        ) from None


def coordinator_address(given: str | None = None) -> str:
    """The coordinator to use: ``given``, else ``$LG_COORDINATOR`` as labgrid does, else its default."""
    return given or os.environ.get("LG_COORDINATOR") or DEFAULT_COORDINATOR


def identity() -> str:
    """``host/user``, the name labgrid records as a place's holder (``LG_HOSTNAME``/``LG_USERNAME`` win)."""
    host = os.environ.get("LG_HOSTNAME") or socket.gethostname()
    user = os.environ.get("LG_USERNAME") or getpass.getuser()
    return f"{host}/{user}"


@dataclass(frozen=True)
class Resource:
    """One exported resource: where it lives (exporter, group), its class and parameters."""

    exporter: str
    group: str
    cls: str
    name: str
    params: dict[str, Any]
    extra: dict[str, Any]
    avail: bool

    @property
    def path(self) -> str:
        """labgrid's resource path, ``exporter/group/cls/name``."""
        return f"{self.exporter}/{self.group}/{self.cls}/{self.name}"


@dataclass(frozen=True)
class PlaceInfo:
    """A place as the coordinator knows it; ``resources`` are its acquired or matching ones."""

    name: str
    holder: str | None
    tags: dict[str, str] = field(default_factory=dict)
    comment: str = ""
    resources: tuple[Resource, ...] = ()

    def resource(self, *classes: str) -> Resource | None:
        """The first resource of one of ``classes``, in that order of preference."""
        for cls in classes:
            for resource in self.resources:
                if resource.cls == cls:
                    return resource
        return None


def _not_the_unreachable_line(record: logging.LogRecord) -> bool:
    """Drop labgrid's root-logger line for a coordinator never reached: our error says it, with the fix."""
    return not (record.name == "root" and record.msg == "coordinator is unavailable: %s")


class Coordinator:
    """A session with one coordinator, on its own event loop thread; every method blocks."""

    def __init__(self, address: str) -> None:
        require_labgrid()
        from labgrid.remote.client import ClientSession

        # labgrid logs it through the root logger (which, unconfigured, prints `ERROR:root:...`)
        # before the TargetUnavailable below; "coordinator became unavailable" still shows.
        if _not_the_unreachable_line not in logging.getLogger().filters:
            logging.getLogger().addFilter(_not_the_unreachable_line)
        self.address = address
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=f"labgrid {address}", daemon=True)
        self._thread.start()

        async def connect() -> Any:
            session = ClientSession(address, self.loop)
            await session.start()
            return session

        try:
            self.session = self._call(connect())
        except Exception as exc:
            self._stop_loop()
            raise TargetUnavailable(
                f"cannot reach the labgrid coordinator at {address} ({type(exc).__name__}: {exc}); "
                "is labgrid-coordinator running there? (set LG_COORDINATOR or the board's coordinator)"
            ) from None

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def _sync(self) -> None:
        """Let the session take in every update the coordinator sent so far."""
        self._call(self.session.sync_with_coordinator())

    def places(self) -> list[PlaceInfo]:
        """Every place, by name, with its holder and matching resources."""
        self._sync()
        return [self._info(place) for _name, place in sorted(self.session.places.items())]

    def place(self, name: str) -> PlaceInfo:
        """One place by its exact name; :class:`TargetUnavailable` when the coordinator has none."""
        self._sync()
        place = self.session.places.get(name)
        if place is None:
            known = ", ".join(sorted(self.session.places)) or "none"
            raise TargetUnavailable(f"the coordinator at {self.address} has no place {name!r} (places: {known})")
        return self._info(place)

    def _info(self, place: Any) -> PlaceInfo:
        if place.acquired:
            paths = [tuple(p) for p in place.acquired_resources]
        else:
            paths = [r for r in self._resource_paths() if place.hasmatch(r)]
        resources = []
        for exporter, group, cls, name in paths:
            entry = self.session.resources.get(exporter, {}).get(group, {}).get(name)
            if entry is None:
                continue
            match = place.getmatch((exporter, group, cls, name))
            resources.append(
                Resource(
                    exporter=exporter,
                    group=group,
                    cls=entry.cls,
                    name=(match.rename if match is not None and match.rename else name),
                    params=dict(entry.args),
                    extra=dict(entry.extra or {}),
                    avail=bool(entry.avail),
                )
            )
        return PlaceInfo(
            name=place.name,
            holder=place.acquired or None,
            tags=dict(place.tags),
            comment=place.comment or "",
            resources=tuple(resources),
        )

    def _resource_paths(self) -> list[tuple[str, str, str, str]]:
        return [
            (exporter, group, entry.cls, name)
            for exporter, groups in self.session.resources.items()
            for group, entries in groups.items()
            for name, entry in entries.items()
        ]

    def try_acquire(self, name: str) -> str | None:
        """Acquire ``name`` now: ``None`` on success, else why not (the coordinator's words)."""
        import grpc
        from labgrid.remote.generated import labgrid_coordinator_pb2

        async def acquire() -> None:
            await self.session.stub.AcquirePlace(labgrid_coordinator_pb2.AcquirePlaceRequest(placename=name))
            await self.session.sync_with_coordinator()

        try:
            self._call(acquire())
        except grpc.aio.AioRpcError as exc:
            return str(exc.details())
        return None

    def release(self, name: str) -> None:
        """Release ``name`` (whoever holds it: the caller checked it is ours)."""
        import grpc
        from labgrid.remote.generated import labgrid_coordinator_pb2

        async def release() -> None:
            await self.session.stub.ReleasePlace(labgrid_coordinator_pb2.ReleasePlaceRequest(placename=name))
            await self.session.sync_with_coordinator()

        try:
            self._call(release())
        except grpc.aio.AioRpcError as exc:
            raise TargetError(f"cannot release place {name} at {self.address}: {exc.details()}") from None

    def close(self) -> None:
        """End the session and its loop."""
        with contextlib.suppress(Exception):
            self._call(self.session.stop(), timeout=5)
            self._call(self.session.close(), timeout=5)
        self._stop_loop()

    def _stop_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)


_sessions: dict[str, Coordinator] = {}
_sessions_lock = threading.Lock()


def connect(address: str) -> Coordinator:
    """The process's session with ``address``, opened on first use (bisect threads share it)."""
    with _sessions_lock:
        session = _sessions.get(address)
        if session is None:
            session = _sessions[address] = Coordinator(address)
        return session


@atexit.register
def _close_sessions() -> None:
    with _sessions_lock:
        for session in _sessions.values():
            session.close()
        _sessions.clear()


class PlaceBusy(TargetUnavailable):
    """The place stayed acquired by someone else for the whole wait; the message names them."""


class Acquisition:
    """One run's hold on a place: acquire (waiting), the resources it got, and an exact release."""

    def __init__(self, coordinator: Coordinator, place: str, *, log: Log | None = None) -> None:
        self.coordinator = coordinator
        self.place = place
        self.log = log or (lambda _text: None)
        self.me = identity()
        self._lock = BoardLock(f"labgrid {coordinator.address} {place}", board=f"labgrid place {place}")
        # A place the user acquired with labgrid-client beforehand is used and left acquired.
        self.users_hold = False
        self.info: PlaceInfo | None = None
        self.waited = 0.0

    def acquire(self, wait: float, plan: str = "") -> PlaceInfo:
        """Acquire the place, retrying for up to ``wait`` seconds; :class:`PlaceBusy` names the holder."""
        start = time.monotonic()
        try:
            holder = self._take_local_lock(start + wait, plan)
            while True:
                info = self.coordinator.place(self.place)
                if info.holder == self.me:
                    info = self._own_hold(info, holder)
                    if info.holder == self.me:
                        break
                refused = self.coordinator.try_acquire(self.place)
                if refused is None:
                    break
                if time.monotonic() - start >= wait:
                    holder_now = self.coordinator.place(self.place).holder
                    raise PlaceBusy(
                        f"place {self.place} is acquired by {holder_now or 'another client'} "
                        f"(waited {wait:g} s; coordinator {self.coordinator.address} said: {refused})"
                    )
                time.sleep(RETRY_INTERVAL)
        except BaseException:
            # Ctrl-C or SIGTERM may land between the request and its answer: give back whatever
            # this run may hold before the exception goes on.
            self.release()
            raise
        self.waited = time.monotonic() - start
        self.info = self.coordinator.place(self.place)
        self.log(f"acquired place {self.place} at {self.coordinator.address} as {self.me} after {self.waited:.1f} s")
        return self.info

    def _take_local_lock(self, deadline: float, plan: str) -> str:
        """Take this host's lock for the place; returns the record a previous holder left in it."""
        while True:
            left = self._lock.path.read_text(encoding="utf-8").strip() if self._lock.path.exists() else ""
            try:
                self._lock.acquire(plan)
                return left
            except BoardLocked as exc:
                if time.monotonic() >= deadline:
                    raise PlaceBusy(f"place {self.place}: {exc}") from None
            time.sleep(RETRY_INTERVAL)

    def _own_hold(self, info: PlaceInfo, left: str) -> PlaceInfo:
        """The place is held by this host and user: a dead hartbeat's hold is released, a user's kept."""
        if not left:
            self.log(f"place {self.place} is already acquired by {self.me} (labgrid-client?): using it, not releasing")
            self.users_hold = True
            return info
        self.log(
            f"place {self.place} was left acquired by a hartbeat run that is gone ({left}); releasing it at "
            f"{self.coordinator.address}"
        )
        self.coordinator.release(self.place)
        return self.coordinator.place(self.place)

    def release(self) -> None:
        """Release the place unless the user held it before, then the local lock. Safe to call twice.

        The coordinator is asked who holds the place rather than trusting what this run believes:
        an interrupt may have cut the acquire request after the coordinator granted it.
        """
        try:
            if self._lock.held and not self.users_hold:
                with contextlib.suppress(HartbeatError, TimeoutError):
                    if self.coordinator.place(self.place).holder == self.me:
                        self.coordinator.release(self.place)
                        self.log(f"released place {self.place}")
        finally:
            self._lock.release()
