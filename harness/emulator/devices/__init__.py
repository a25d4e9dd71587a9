"""Memory-mapped devices of the emulated machines."""

from __future__ import annotations

from typing import Protocol


class Device(Protocol):
    """A memory-mapped device: ``offset`` is relative to the device's base address."""

    def read(self, offset: int, size: int) -> int:
        """Return the ``size``-byte little-endian value at ``offset``."""
        ...

    def write(self, offset: int, size: int, value: int) -> None:
        """Store the ``size``-byte value at ``offset``."""
        ...
