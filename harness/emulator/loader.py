"""Loading firmware and kernels: ELF (by program headers) or raw binaries."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .bus import Bus, BusError

PT_LOAD = 1
EM_RISCV = 243


class LoadError(Exception):
    """The image cannot be read or does not fit the machine."""


@dataclass(frozen=True)
class LoadedImage:
    """Where an image landed: ``entry`` point and the ``[start, end)`` span it occupies."""

    entry: int
    start: int
    end: int


def read_file(path: str) -> bytes:
    """Read ``path`` or raise LoadError with a one-line reason."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise LoadError(f"could not load '{path}': {exc.strerror}") from None


def is_elf(data: bytes) -> bool:
    """True if ``data`` starts with the ELF magic."""
    return data[:4] == b"\x7fELF"


def load_elf(bus: Bus, data: bytes, name: str) -> LoadedImage:
    """Copy the PT_LOAD segments of an ELF32/ELF64 image to their physical addresses."""
    if len(data) < 52:
        raise LoadError(f"{name}: truncated ELF header")
    ei_class, ei_data = data[4], data[5]
    if ei_data != 1 or ei_class not in (1, 2):
        raise LoadError(f"{name}: not a little-endian ELF32/ELF64 file")
    if ei_class == 2:
        (_, machine, _, entry, phoff, _, _, _, phentsize, phnum) = struct.unpack_from("<HHIQQQIHHH", data, 16)
        ph_fmt = "<IIQQQQQQ"
    else:
        (_, machine, _, entry, phoff, _, _, _, phentsize, phnum) = struct.unpack_from("<HHIIIIIHHH", data, 16)
        ph_fmt = "<IIIIIIII"
    if machine != EM_RISCV:
        raise LoadError(f"{name}: not a RISC-V ELF (e_machine={machine})")
    start, end = None, 0
    for i in range(phnum):
        at = phoff + i * phentsize
        if at + struct.calcsize(ph_fmt) > len(data):
            raise LoadError(f"{name}: truncated program header table")
        fields = struct.unpack_from(ph_fmt, data, at)
        if ei_class == 2:
            p_type, _, p_offset, _, p_paddr, p_filesz, p_memsz, _ = fields
        else:
            p_type, p_offset, _, p_paddr, p_filesz, p_memsz, _, _ = fields
        if p_type != PT_LOAD or p_memsz == 0:
            continue
        segment = data[p_offset : p_offset + p_filesz].ljust(p_memsz, b"\0")
        try:
            bus.load(p_paddr, segment)
        except BusError as exc:
            raise LoadError(f"{name}: {exc}") from None
        start = p_paddr if start is None else min(start, p_paddr)
        end = max(end, p_paddr + p_memsz)
    if start is None:
        raise LoadError(f"{name}: no loadable segments")
    return LoadedImage(entry, start, end)


def load_image(bus: Bus, path: str, raw_address: int) -> LoadedImage:
    """Load ``path``: ELF by its headers, anything else verbatim at ``raw_address``."""
    data = read_file(path)
    if is_elf(data):
        return load_elf(bus, data, path)
    try:
        bus.load(raw_address, data)
    except BusError as exc:
        raise LoadError(f"{path}: {exc}") from None
    return LoadedImage(raw_address, raw_address, raw_address + len(data))
