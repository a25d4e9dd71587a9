"""Places on a labgrid coordinator (harness/lab/places.py): which coordinator, who holds a place,
and a place's resources by preference. Acquiring places on a real coordinator is
tests/lab/test_labgrid_lab.py's."""

from __future__ import annotations

import getpass
import socket

import pytest

from harness.lab.places import DEFAULT_COORDINATOR, PlaceInfo, Resource, coordinator_address, identity


def resource(cls: str, name: str = "r") -> Resource:
    return Resource("exp1", "unmatched-3", cls, name, {"port": "/dev/ttyUSB1"}, {}, True)


def test_the_coordinator_is_given_or_labgrids_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LG_COORDINATOR", raising=False)
    assert coordinator_address() == DEFAULT_COORDINATOR
    monkeypatch.setenv("LG_COORDINATOR", "lab:20408")
    assert coordinator_address() == "lab:20408"
    assert coordinator_address("other:1") == "other:1"


def test_the_holder_name_is_host_and_user_as_labgrid_records_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LG_HOSTNAME", raising=False)
    monkeypatch.delenv("LG_USERNAME", raising=False)
    assert identity() == f"{socket.gethostname()}/{getpass.getuser()}"
    monkeypatch.setenv("LG_HOSTNAME", "ci-7")
    monkeypatch.setenv("LG_USERNAME", "bisect")
    assert identity() == "ci-7/bisect"


def test_a_places_resource_by_order_of_preference() -> None:
    place = PlaceInfo(
        "unmatched-3", None, resources=(resource("USBSerialPort", "a"), resource("NetworkSerialPort", "b"))
    )
    assert place.resource("NetworkSerialPort", "USBSerialPort").name == "b"  # type: ignore[union-attr]
    assert place.resource("RawSerialPort", "USBSerialPort").name == "a"  # type: ignore[union-attr]
    assert place.resource("PDUDaemonPort") is None
    assert resource("USBSerialPort", "a").path == "exp1/unmatched-3/USBSerialPort/a"
