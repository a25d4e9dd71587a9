"""``hartbeat boards --coordinator`` (harness/cli/places.py): one line per labgrid place, its holder,
exporters, tags and resources. Listing a real coordinator's places, and an unreachable one, is
tested in tests/lab/test_labgrid_lab.py."""

from __future__ import annotations

from harness.cli.places import place_line
from harness.lab.places import PlaceInfo, Resource


def resource(cls: str, exporter: str = "lab-a", avail: bool = True, **params: object) -> Resource:
    return Resource(exporter=exporter, group="unmatched", cls=cls, name=cls, params=params, extra={}, avail=avail)


def test_a_free_place_shows_each_resource_as_the_user_would_reach_it() -> None:
    place = PlaceInfo(
        name="unmatched-1",
        holder=None,
        tags={"board": "unmatched", "rev": "a00"},
        resources=(
            resource("NetworkSerialPort", host="10.0.0.5", port=4001),
            resource("NetworkPowerPort", exporter="lab-b", model="shelly_gen1", host="plug-1", index=2),
            resource("USBDebugger", avail=False, serial="FT12", busnum=1),
        ),
    )
    fields = place_line(place).split(maxsplit=4)
    assert fields[:4] == ["unmatched-1", "free", "lab-a,lab-b", "board=unmatched"]
    assert fields[4].startswith("rev=a00 ")
    assert fields[4].split(maxsplit=1)[1].split("; ") == [
        "NetworkSerialPort rfc2217://10.0.0.5:4001",
        "NetworkPowerPort shelly_gen1 plug-1 #2",
        "USBDebugger busnum=1, serial=FT12 (unavailable)",
    ]


def test_a_held_place_names_its_holder_and_an_empty_one_says_so() -> None:
    held = PlaceInfo(
        name="unmatched-2",
        holder="ci-host/alice",
        resources=(resource("NetworkSerialPort", protocol="raw", host="127.0.0.1", port=5000),),
    )
    assert place_line(held).split()[:4] == ["unmatched-2", "acquired", "by", "ci-host/alice"]
    assert place_line(held).endswith("raw://127.0.0.1:5000")
    empty = place_line(PlaceInfo(name="spare", holder=None))
    assert empty.split() == ["spare", "free", "-", "-", "no", "matching", "resources"]
