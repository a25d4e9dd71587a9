"""A minimal GPT disk image writer for the SD boot tests: the layout SiFive documents for the
HiFive boards (SPL at LBA 34, the U-Boot FIT at LBA 2082), written without root or gdisk."""

from __future__ import annotations

import binascii
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path

BLOCK = 512
SPL_TYPE = uuid.UUID("5B193300-FC78-40CD-8002-E86C45580B47")
UBOOT_TYPE = uuid.UUID("2E54B353-1271-4842-806F-E436D6AF6985")
LINUX_TYPE = uuid.UUID("0FC63DAF-8483-4772-8E79-3D69D8477DE4")
ENTRIES = 128
ENTRY_SIZE = 128
ENTRY_BLOCKS = ENTRIES * ENTRY_SIZE // BLOCK


@dataclass(frozen=True)
class Partition:
    """One GPT partition: type, first and last LBA, name, and the bytes put at its start."""

    type: uuid.UUID
    first: int
    last: int
    name: str
    data: bytes = b""


def _header(current: int, backup: int, entries_lba: int, blocks: int, disk: uuid.UUID, entries_crc: int) -> bytes:
    fields = struct.pack(
        "<8sIIIIQQQQ16sQIII",
        b"EFI PART",
        0x00010000,
        92,
        0,
        0,
        current,
        backup,
        34,
        blocks - 34,
        disk.bytes_le,
        entries_lba,
        ENTRIES,
        ENTRY_SIZE,
        entries_crc,
    )
    crc = binascii.crc32(fields)
    return (fields[:16] + struct.pack("<I", crc) + fields[20:]).ljust(BLOCK, b"\0")


def write_card(path: Path, size: int, partitions: list[Partition]) -> Path:
    """Write a GPT card image of ``size`` bytes holding ``partitions``."""
    blocks = size // BLOCK
    table = bytearray(ENTRIES * ENTRY_SIZE)
    for i, part in enumerate(partitions):
        name = part.name.encode("utf-16-le")[:72]
        unique = uuid.uuid5(uuid.NAMESPACE_OID, f"hartbeat-{i}")
        struct.pack_into("<16s16sQQQ72s", table, i * ENTRY_SIZE, part.type.bytes_le, unique.bytes_le, part.first, part.last, 0, name)
    entries_crc = binascii.crc32(table)
    disk = uuid.uuid5(uuid.NAMESPACE_OID, "hartbeat-card")
    mbr = bytearray(BLOCK)
    struct.pack_into("<B3sB3sII", mbr, 446, 0, b"\0\x02\0", 0xEE, b"\xff\xff\xff", 1, min(blocks - 1, 0xFFFFFFFF))
    mbr[510:512] = b"\x55\xaa"
    with open(path, "wb") as f:
        f.truncate(size)
        f.write(mbr)
        f.write(_header(1, blocks - 1, 2, blocks, disk, entries_crc))
        f.write(table)
        for part in partitions:
            if len(part.data) > (part.last - part.first + 1) * BLOCK:
                raise ValueError(f"{part.name}: {len(part.data)} bytes do not fit")
            f.seek(part.first * BLOCK)
            f.write(part.data)
        f.seek((blocks - 1 - ENTRY_BLOCKS) * BLOCK)
        f.write(table)
        f.write(_header(blocks - 1, 1, blocks - 1 - ENTRY_BLOCKS, blocks, disk, entries_crc))
    return path


def firmware_card(path: Path, spl: bytes, fit: bytes, size: int = 64 << 20) -> Path:
    """A card with the SPL and U-Boot FIT partitions where the SiFive boards look for them."""
    return write_card(
        path,
        size,
        [
            Partition(SPL_TYPE, 34, 2081, "spl", spl),
            Partition(UBOOT_TYPE, 2082, 10273, "uboot", fit),
            Partition(LINUX_TYPE, 16384, size // BLOCK - 34, "rootfs"),
        ],
    )
