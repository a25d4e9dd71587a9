"""The physical address space: one RAM region plus memory-mapped devices."""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable

from .devices import Device

# RAM reads of a machine size unpack in place: a page walk reads three PTEs after every TLB
# flush (a kernel flushes tens of thousands of times per boot), and slicing allocated a copy.
_UNPACK = {size: struct.Struct("<" + code).unpack_from for size, code in ((1, "B"), (2, "H"), (4, "I"), (8, "Q"))}


class BusError(Exception):
    """No RAM or device at the physical address (becomes an access fault)."""


def lazy_ram(size: int) -> mmap.mmap:
    """Zeroed memory whose pages the host allocates only when touched: the FU740's 16 GiB of
    DRAM costs what the guest uses (a ``bytearray`` is zero-filled, page by page, up front)."""
    flags = mmap.MAP_PRIVATE | getattr(mmap, "MAP_ANONYMOUS", 0x20) | getattr(mmap, "MAP_NORESERVE", 0x4000)
    return mmap.mmap(-1, size, flags=flags)


class Bus:
    """Physical memory map. RAM is a ``bytearray`` (or, with ``lazy``, an anonymous mapping)
    so translated code can index it directly.

    With ``online`` False, RAM does not answer until :meth:`bring_online` (DRAM behind a
    controller that firmware must initialise first); until then its addresses are bus errors.
    """

    def __init__(self, ram_base: int, ram_size: int, lazy: bool = False, online: bool = True) -> None:
        self.ram_base = ram_base
        self.ram_size = ram_size
        self.ram: bytearray | mmap.mmap = lazy_ram(ram_size) if lazy else bytearray(ram_size)
        self.ram_end = ram_base + ram_size if online else ram_base
        self.devices: list[tuple[int, int, Device]] = []
        # Called with (physical address, size, access, hart, pc) when an access hits nothing.
        self.on_fault: Callable[[int, int, str, int, int], None] | None = None

    def bring_online(self) -> None:
        """RAM starts answering at its addresses."""
        self.ram_end = self.ram_base + self.ram_size

    def fault(self, paddr: int, size: int, access: str, hart: int, pc: int) -> None:
        """Report an access that found no RAM or device (the hart then takes an access fault)."""
        if self.on_fault is not None:
            self.on_fault(paddr, size, access, hart, pc)

    def map(self, base: int, size: int, device: Device) -> None:
        """Place ``device`` at ``[base, base + size)``."""
        self.devices.append((base, base + size, device))

    def is_ram(self, paddr: int, size: int = 1) -> bool:
        """True if ``[paddr, paddr + size)`` lies in RAM."""
        return self.ram_base <= paddr and paddr + size <= self.ram_end

    def _device(self, paddr: int) -> tuple[Device, int]:
        for base, end, device in self.devices:
            if base <= paddr < end:
                return device, paddr - base
        raise BusError(f"no device at {paddr:#x}")

    def read(self, paddr: int, size: int) -> int:
        """Read ``size`` bytes little-endian at ``paddr``."""
        if self.ram_base <= paddr and paddr + size <= self.ram_end:
            off = paddr - self.ram_base
            unpack = _UNPACK.get(size)
            if unpack is not None:
                value: int = unpack(self.ram, off)[0]
                return value
            return int.from_bytes(self.ram[off : off + size], "little")
        device, offset = self._device(paddr)
        return device.read(offset, size)

    def write(self, paddr: int, size: int, value: int) -> None:
        """Write the low ``size`` bytes of ``value`` at ``paddr``."""
        if self.ram_base <= paddr and paddr + size <= self.ram_end:
            off = paddr - self.ram_base
            self.ram[off : off + size] = (value & ((1 << (size * 8)) - 1)).to_bytes(size, "little")
            return
        device, offset = self._device(paddr)
        device.write(offset, size, value)

    def load(self, paddr: int, data: bytes) -> None:
        """Copy an image into RAM (used by the loader)."""
        if not self.is_ram(paddr, len(data)):
            raise BusError(f"image at {paddr:#x}+{len(data):#x} does not fit in RAM")
        off = paddr - self.ram_base
        self.ram[off : off + len(data)] = data
