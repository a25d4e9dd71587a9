"""On-chip memory that is not DRAM: the FU740's L2 LIM (loosely integrated memory) at 0x08000000,
where the mask ROM copies the SPL and where the SPL keeps its stack and data until DRAM is up."""

from __future__ import annotations


class Sram:
    """A byte-addressable memory of ``size`` bytes (zero at power-on)."""

    def __init__(self, size: int) -> None:
        self.data = bytearray(size)

    def load(self, offset: int, data: bytes) -> None:
        """Copy ``data`` in at ``offset`` (the mask ROM's load)."""
        self.data[offset : offset + len(data)] = data

    def read(self, offset: int, size: int) -> int:
        """Little-endian read."""
        return int.from_bytes(self.data[offset : offset + size], "little")

    def write(self, offset: int, size: int, value: int) -> None:
        """Little-endian write."""
        self.data[offset : offset + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
