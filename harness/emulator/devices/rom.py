"""Read-only memory holding the reset stub and the fw_dynamic information block."""

from __future__ import annotations


class Rom:
    """A read-only byte array; writes are ignored like on QEMU's mask ROM."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data = bytes(data).ljust(size, b"\0")

    def read(self, offset: int, size: int) -> int:
        """Return the bytes at ``offset`` as a little-endian integer."""
        return int.from_bytes(self.data[offset : offset + size], "little")

    def write(self, offset: int, size: int, value: int) -> None:
        """Ignore the write: the ROM is immutable."""
