"""The physical address space: one RAM region plus memory-mapped devices."""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable

from .devices import Device

# RAM reads of a machine size unpack in place: a page walk reads three PTEs after every TLB
# flush (a kernel flushes tens of thousands of times per boot), and slicing allocated a copy.
_UNPACK = {size: struct.Struct("<" + code).unpack_from for size, code in ((1, "B"), (2, "H"), (4, "I"), (8, "Q"))}


# A page wholly inside one device: the device and the page's offset in it.
DevicePage = tuple[Device, int]


class BusError(Exception):
    """No RAM or device at the physical address (becomes an access fault)."""


def lazy_ram(size: int) -> mmap.mmap:
    """Zeroed memory whose pages the host allocates only when touched: the FU740's 16 GiB of
    DRAM costs what the guest uses, and a 256 MiB board starts at once (a ``bytearray`` is
    zero-filled up front: 0.3 s of PyPy's start-up, a quarter of a U-Boot boot)."""
    flags = mmap.MAP_PRIVATE | getattr(mmap, "MAP_ANONYMOUS", 0x20) | getattr(mmap, "MAP_NORESERVE", 0x4000)
    return mmap.mmap(-1, size, flags=flags)


class Bus:
    """Physical memory map. RAM is an anonymous mapping (``lazy_ram``) that the engines index
    directly.

    ``sram`` (base, size) puts on-chip memory below RAM in the same mapping (the FU740's L2
    LIM, so code and stacks there run at RAM speed): the mapping then starts at the SRAM's base
    and the gap between SRAM and RAM is a *hole* that is not memory (devices live there). With
    ``online`` False, RAM does not answer until :meth:`bring_online` (DRAM behind a controller
    that firmware must initialise first); until then its addresses are part of the hole.
    """

    def __init__(
        self,
        ram_base: int,
        ram_size: int,
        online: bool = True,
        sram: tuple[int, int] | None = None,
    ) -> None:
        self.dram_base = ram_base
        self.ram_base = ram_base if sram is None else sram[0]
        self.ram_end = ram_base + ram_size
        self.ram_size = self.ram_end - self.ram_base
        self.ram: mmap.mmap = lazy_ram(self.ram_size)
        # [hole_start, hole_end) inside the mapping is not memory; empty (0, 0) on plain boards.
        self.hole_start = 0 if sram is None else sram[0] + sram[1]
        self.hole_end = 0 if sram is None else ram_base
        if not online:
            self.hole_start = self.hole_start or self.ram_base
            self.hole_end = self.ram_end
        self.devices: list[tuple[int, int, Device]] = []
        # Device lookups by page: (base, device) for pages wholly inside one device.
        self._pages: dict[int, tuple[int, Device]] = {}
        # Called with (physical address, size, access, hart, pc) when an access hits nothing.
        self.on_fault: Callable[[int, int, str, int, int], None] | None = None

    def bring_online(self) -> None:
        """DRAM starts answering at its addresses."""
        self.hole_end = self.dram_base if self.hole_start < self.dram_base else 0
        if not self.hole_end:
            self.hole_start = 0

    def fault(self, paddr: int, size: int, access: str, hart: int, pc: int) -> None:
        """Report an access that found no RAM or device (the hart then takes an access fault)."""
        if self.on_fault is not None:
            self.on_fault(paddr, size, access, hart, pc)

    def map(self, base: int, size: int, device: Device) -> None:
        """Place ``device`` at ``[base, base + size)``."""
        self.devices.append((base, base + size, device))
        self._pages.clear()

    def is_ram(self, paddr: int, size: int = 1) -> bool:
        """True if ``[paddr, paddr + size)`` lies in RAM."""
        return (
            self.ram_base <= paddr
            and paddr + size <= self.ram_end
            and not (self.hole_start < paddr + size and paddr < self.hole_end)
        )

    def device_page(self, paddr: int) -> DevicePage | None:
        """The device and the offset of ``paddr``'s page in it, if an access there went to a
        device that holds the whole page; else None (RAM, nothing, a page shared by devices).
        Valid until the next :meth:`map`."""
        hit = self._pages.get(paddr >> 12)
        return None if hit is None else (hit[1], (paddr & ~0xFFF) - hit[0])

    def _device(self, paddr: int) -> tuple[Device, int]:
        hit = self._pages.get(paddr >> 12)
        if hit is not None:
            return hit[1], paddr - hit[0]
        for base, end, device in self.devices:
            if base <= paddr < end:
                if base <= paddr & ~0xFFF and (paddr | 0xFFF) < end:
                    self._pages[paddr >> 12] = (base, device)
                return device, paddr - base
        raise BusError(f"no device at {paddr:#x}")

    def read(self, paddr: int, size: int) -> int:
        """Read ``size`` bytes little-endian at ``paddr``."""
        if (
            self.ram_base <= paddr
            and paddr + size <= self.ram_end
            and not (self.hole_start < paddr + size and paddr < self.hole_end)
        ):
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
        if (
            self.ram_base <= paddr
            and paddr + size <= self.ram_end
            and not (self.hole_start < paddr + size and paddr < self.hole_end)
        ):
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
