"""``hartbeat boards --coordinator``: a labgrid coordinator's places, who holds them, what they export."""

from __future__ import annotations

from harness.lab.places import PlaceInfo, Resource, connect, coordinator_address


def _resource(resource: Resource) -> str:
    params = resource.params
    if resource.cls == "NetworkSerialPort":
        detail = f"{params.get('protocol', 'rfc2217')}://{params.get('host')}:{params.get('port')}"
    elif "model" in params:
        detail = f"{params['model']} {params.get('host', '')} #{params.get('index', 0)}"
    else:
        detail = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
    unavailable = "" if resource.avail else " (unavailable)"
    return f"{resource.cls} {detail}{unavailable}"


def place_line(place: PlaceInfo) -> str:
    """One place: name, holder, exporters, tags, then its resources."""
    holder = f"acquired by {place.holder}" if place.holder else "free"
    exporters = ",".join(sorted({r.exporter for r in place.resources})) or "-"
    tags = " ".join(f"{k}={v}" for k, v in sorted(place.tags.items())) or "-"
    resources = "; ".join(_resource(r) for r in place.resources) or "no matching resources"
    return f"{place.name:16} {holder:28} {exporters:14} {tags:18} {resources}"


def print_places(address: str | None) -> int:
    """Print every place of the coordinator at ``address`` (default ``$LG_COORDINATOR``)."""
    coordinator = connect(coordinator_address(address))
    places = coordinator.places()
    print(f"# labgrid coordinator {coordinator.address}: {len(places)} place(s)")
    for place in places:
        print(place_line(place))
    return 0
