"""The ``labgrid`` power backend: labgrid's own power drivers switch the board.

Two ways in. A board on this host names a power switch labgrid knows by model, host and index
(``model = "gude"``, ``host = "pdu-3.lab"``, ``index = 5``): labgrid's ``NetworkPowerDriver``
speaks that switch's protocol (about 30 PDU and smart-plug models), so no ``command`` recipe is
written. A labgrid place brings its own power resource (a PDU port, a USB hub port, YKUSH,
SiSPM, PDUDaemon): :func:`place_switch` picks labgrid's driver for it, as ``labgrid-client power``
does.
"""

from __future__ import annotations

import pkgutil
import threading
from typing import Any

from harness.errors import PowerError
from harness.lab.places import Coordinator, require_labgrid
from harness.model.board import Board
from harness.model.config import Section
from harness.power.base import PowerBackend, off_wait_on

# labgrid's power resources and the driver that switches each, in labgrid-client's order.
PLACE_DRIVERS = {
    "NetworkPowerPort": "NetworkPowerDriver",
    "NetworkUSBPowerPort": "USBPowerDriver",
    "NetworkSiSPMPowerPort": "SiSPMPowerDriver",
    "PDUDaemonPort": "PDUDaemonDriver",
    "TasmotaPowerPort": "TasmotaPowerDriver",
    "NetworkYKUSHPowerPort": "YKUSHPowerDriver",
}


# labgrid's drivers record each call as a "step" on one process-wide stack, and its remote-place
# manager is one per process: two boards switched from two threads at once (bisect) trip its
# assertions. A power switch is one request, so serialising labgrid calls costs little.
LABGRID_LOCK = threading.RLock()


class DriverSwitch:
    """A :class:`~harness.power.base.PowerSwitch` made of an active labgrid power driver."""

    name = "labgrid"

    def __init__(self, driver: Any, details: dict[str, Any]) -> None:
        self._driver = driver
        self.details = details

    def _do(self, action: str) -> None:
        try:
            with LABGRID_LOCK:
                getattr(self._driver, action)()
        except Exception as exc:
            # labgrid's models raise whatever their transport raises (requests, pysnmp, OSError).
            raise PowerError(
                f"labgrid power {self.details.get('driver')} ({self._where()}) failed to switch {action}: "
                f"{type(exc).__name__}: {exc}"
            ) from None

    def _where(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.details.items() if k in ("model", "host", "index", "place"))

    def on(self) -> None:
        """Switch on through the driver."""
        self._do("on")

    def off(self) -> None:
        """Switch off through the driver."""
        self._do("off")

    def cycle(self, off_time: float) -> None:
        """Off, ``off_time`` seconds, on (our timing, not the driver's fixed ``delay``)."""
        off_wait_on(self, off_time)

    def describe(self) -> dict[str, Any]:
        """Backend, driver and the switch it talks to."""
        return {"backend": "labgrid", **self.details}


def local_switch(model: str, host: str, index: int, board: str) -> DriverSwitch:
    """labgrid's ``NetworkPowerDriver`` for a switch on this host's network."""
    require_labgrid()
    from labgrid import Target
    from labgrid.driver import NetworkPowerDriver
    from labgrid.resource import NetworkPowerPort

    with LABGRID_LOCK:
        target = Target(board)
        NetworkPowerPort(target, name=None, model=model, host=host, index=str(index))
        driver = NetworkPowerDriver(target, name=None)
        target.activate(driver)
    return DriverSwitch(driver, {"driver": "NetworkPowerDriver", "model": model, "host": host, "index": index})


def place_switch(coordinator: Coordinator, place: str) -> DriverSwitch | None:
    """labgrid's driver for the power resource of an acquired ``place``; ``None`` when it has none.

    labgrid's ``RemotePlace`` expands the place into its resources through the client session
    (labgrid-client's own route), so the driver sees the exporter's current parameters.
    """
    from labgrid import Target
    from labgrid.factory import target_factory
    from labgrid.resource.remote import RemotePlace, RemotePlaceManager

    with LABGRID_LOCK:
        manager = RemotePlaceManager.get()
        manager.session, manager.loop = coordinator.session, coordinator.loop
        target = Target(place)
        RemotePlace(target, name=place)
        resources = list(target.resources)
    for resource in resources:
        driver_name = PLACE_DRIVERS.get(type(resource).__name__)
        if driver_name is None:
            continue
        with LABGRID_LOCK:
            driver = target_factory.class_from_string(driver_name)(target, name=None)
            target.activate(driver)
        params = {k: getattr(resource, k) for k in ("model", "host", "index", "pdu", "serial") if hasattr(resource, k)}
        return DriverSwitch(
            driver, {"driver": driver_name, "place": place, "resource": type(resource).__name__, **params}
        )
    return None


def from_section(section: Section, board: Board) -> DriverSwitch:
    """``[power]`` with ``model``, ``host`` and ``index``: checked against labgrid's models."""
    model = section.string("model", required=True) or ""
    host = section.string("host", required=True) or ""
    index = section.integer("index", 0)
    require_labgrid()
    import labgrid.driver.power

    models = sorted(m.name for m in pkgutil.iter_modules(labgrid.driver.power.__path__) if not m.name.startswith("_"))
    if model not in models:
        raise section.error("model", f"labgrid has no power model {model!r}; expected one of {', '.join(models)}")
    return local_switch(model, host, index or 0, board.name)


BACKEND = PowerBackend(name="labgrid", build=from_section)
