"""The autopsy backends' registry.

Each target kind that can be inspected has one backend module ending in
``BACKEND = AutopsyBackend(name=..., open=...)`` (see :mod:`harness.probes.backend`), and one
line in :data:`BACKENDS`, keyed by the target kind's name. A backend module is imported only
when a run of that kind fails, so a passing run never loads it.
"""

from __future__ import annotations

import importlib

from harness.probes.backend import AutopsyBackend, AutopsyUnavailable

# target kind -> the module that defines its BACKEND: adding a backend is one module and one line.
BACKENDS = {
    "emulator": "harness.probes.emulator",
    "qemu": "harness.probes.qemu",
    "serial": "harness.probes.openocd",
}

__all__ = ["BACKENDS", "AutopsyBackend", "AutopsyUnavailable", "backend_for"]


def backend_for(kind: str) -> AutopsyBackend:
    """The backend registered for target kind ``kind``; :class:`AutopsyUnavailable` when none is."""
    if kind not in BACKENDS:
        raise AutopsyUnavailable(f"target kind {kind!r} has no autopsy backend (known: {', '.join(BACKENDS)})")
    backend = importlib.import_module(BACKENDS[kind]).BACKEND
    if not isinstance(backend, AutopsyBackend):
        raise TypeError(f"{BACKENDS[kind]}.BACKEND must be an AutopsyBackend")
    return backend
