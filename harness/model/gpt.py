"""GUID partition tables (UEFI spec, chapter 5), read and written in pure Python.

The SD card builder (images/sdcard/build.py) writes one without root privileges or partitioning
tools; the QEMU SD board and the pre-boot check read it, as the SiFive mask ROM does when it
looks for the SPL partition. 512-byte sectors; a protective MBR in sector 0, the header in
sector 1, the entries from sector 2, and the backup entries and header at the end.

The tables written list 4 entries (one sector), in the 16 KiB the specification reserves for the
entry array (128 entries: partitions still start at sector 34). U-Boot reads the whole listed array
at every partition lookup: with 128 entries, `bootflow scan mmc` read 33 sectors 155 times before
it found the extlinux entry (5,115 sectors, three quarters of the tiny Linux's kernel and initrd;
156 of the scan's 160 M guest instructions, 5.5-7 CPU s on the FU740 model, 4 M and 0.25 s with 4).
U-Boot, Linux, the model's mask ROM and SiFive's published FU540 ROM source take the number of
entries from the header.
"""

from __future__ import annotations

import enum
import struct
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

SECTOR = 512
# The space reserved for the entry array (the specification's minimum of 16 KiB)...
RESERVED_ENTRIES = 128
ENTRY_SIZE = 128
ENTRY_SECTORS = RESERVED_ENTRIES * ENTRY_SIZE // SECTOR
FIRST_USABLE = 2 + ENTRY_SECTORS  # 34
# ...and the entries the header lists, all a SiFive card needs (see the module's docstring).
ENTRIES = 4
SIGNATURE = b"EFI PART"
REVISION = 0x00010000
HEADER_SIZE = 92
_HEADER = struct.Struct("<8sIIIIQQQQ16sQIII")
_ENTRY = struct.Struct("<16s16sQQQ72s")
# GPT attribute bit 2: "legacy BIOS bootable", which U-Boot's distro boot scans first.
LEGACY_BOOTABLE = 1 << 2


class PartitionType(enum.Enum):
    """The partition types a SiFive board's card holds (SiFive's and U-Boot's documentation)."""

    SIFIVE_SPL = uuid.UUID("5B193300-FC78-40CD-8002-E86C45580B47")
    SIFIVE_UBOOT = uuid.UUID("2E54B353-1271-4842-806F-E436D6AF6985")
    LINUX_FS = uuid.UUID("0FC63DAF-8483-4772-8E79-3D69D8477DE4")
    BASIC_DATA = uuid.UUID("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7")


class GptError(Exception):
    """Not a GPT disk, or a damaged one: the message says what was found."""


@dataclass(frozen=True)
class Partition:
    """One entry of the table; sectors are inclusive, as in GPT."""

    number: int
    type_guid: uuid.UUID
    guid: uuid.UUID
    first: int
    last: int
    name: str = ""
    attributes: int = 0

    @property
    def offset(self) -> int:
        """Byte offset on the disk."""
        return self.first * SECTOR

    @property
    def size(self) -> int:
        """Size in bytes."""
        return (self.last - self.first + 1) * SECTOR

    @property
    def kind(self) -> PartitionType | None:
        """The known type, or None."""
        try:
            return PartitionType(self.type_guid)
        except ValueError:
            return None


def _entry_bytes(part: Partition) -> bytes:
    name = part.name.encode("utf-16-le")[:72]
    return _ENTRY.pack(
        part.type_guid.bytes_le, part.guid.bytes_le, part.first, part.last, part.attributes, name.ljust(72, b"\0")
    )


def _header(disk_guid: uuid.UUID, current: int, backup: int, entries_at: int, last_usable: int, crc: int) -> bytes:
    fields = [SIGNATURE, REVISION, HEADER_SIZE, 0, 0, current, backup, FIRST_USABLE, last_usable]
    fields += [disk_guid.bytes_le, entries_at, ENTRIES, ENTRY_SIZE, crc]
    raw = _HEADER.pack(*fields)
    fields[3] = zlib.crc32(raw)
    return _HEADER.pack(*fields).ljust(SECTOR, b"\0")


def _protective_mbr(sectors: int) -> bytes:
    mbr = bytearray(SECTOR)
    # One partition of type 0xEE covering the disk (capped at 32 bits), then the boot signature.
    mbr[446:462] = struct.pack("<B3sB3sII", 0, b"\x00\x02\x00", 0xEE, b"\xff\xff\xff", 1, min(sectors - 1, 0xFFFFFFFF))
    mbr[510:512] = b"\x55\xaa"
    return bytes(mbr)


def write_table(out: BinaryIO, sectors: int, partitions: Sequence[Partition], disk_guid: uuid.UUID) -> None:
    """Write the protective MBR, both headers and both entry arrays of a ``sectors``-long disk."""
    last_usable = sectors - 1 - 1 - ENTRY_SECTORS
    for part in partitions:
        if not FIRST_USABLE <= part.first <= part.last <= last_usable:
            raise GptError(
                f"partition {part.number} ({part.first}-{part.last}) is outside {FIRST_USABLE}-{last_usable}"
            )
        if not 1 <= part.number <= ENTRIES:
            raise GptError(f"partition number {part.number} is outside 1-{ENTRIES}")
    # The listed entries; the rest of the reserved space stays zero (unused entries).
    table = bytearray(ENTRIES * ENTRY_SIZE)
    for part in partitions:
        start = (part.number - 1) * ENTRY_SIZE
        table[start : start + ENTRY_SIZE] = _entry_bytes(part)
    crc = zlib.crc32(table)
    backup_entries = sectors - 1 - ENTRY_SECTORS
    out.seek(0)
    out.write(_protective_mbr(sectors))
    out.write(_header(disk_guid, 1, sectors - 1, 2, last_usable, crc))
    reserved = bytes(table).ljust(ENTRY_SECTORS * SECTOR, b"\0")
    out.write(reserved)
    out.seek(backup_entries * SECTOR)
    out.write(reserved)
    out.write(_header(disk_guid, sectors - 1, 1, backup_entries, last_usable, crc))


def read_table(path: Path) -> tuple[Partition, ...]:
    """The partitions of the disk image at ``path`` (the primary table; the backup if it is damaged)."""
    try:
        with path.open("rb") as disk:
            size = disk.seek(0, 2)
            if size < 2 * FIRST_USABLE * SECTOR:
                raise GptError(f"{path}: {size} bytes is too small for a GPT disk")
            problems: list[str] = []
            for where in (1, size // SECTOR - 1):
                try:
                    return _read_at(disk, where)
                except GptError as exc:
                    problems.append(str(exc))
    except OSError as exc:
        raise GptError(f"{path}: {exc.strerror or exc}") from None
    raise GptError(f"{path}: no valid GUID partition table ({'; '.join(problems)})")


def _read_at(disk: BinaryIO, lba: int) -> tuple[Partition, ...]:
    disk.seek(lba * SECTOR)
    raw = disk.read(HEADER_SIZE)
    if len(raw) < HEADER_SIZE or raw[:8] != SIGNATURE:
        raise GptError(f"no 'EFI PART' signature in sector {lba}")
    fields = list(_HEADER.unpack(raw))
    crc, fields[3] = fields[3], 0
    if zlib.crc32(_HEADER.pack(*fields)) != crc:
        raise GptError(f"header CRC mismatch in sector {lba}")
    entries_at, count, entry_size, entries_crc = fields[10], fields[11], fields[12], fields[13]
    if entry_size < _ENTRY.size or count > 1024:
        raise GptError(f"unsupported entry layout ({count} x {entry_size} bytes) in sector {lba}")
    disk.seek(entries_at * SECTOR)
    table = disk.read(count * entry_size)
    if zlib.crc32(table) != entries_crc:
        raise GptError(f"partition entries CRC mismatch (header in sector {lba})")
    parts = []
    for index in range(count):
        entry = table[index * entry_size : index * entry_size + _ENTRY.size]
        type_le, guid_le, first, last, attributes, name = _ENTRY.unpack(entry)
        if type_le == bytes(16):
            continue
        label = name.decode("utf-16-le", errors="replace").split("\0", 1)[0]
        parts.append(
            Partition(
                index + 1, uuid.UUID(bytes_le=type_le), uuid.UUID(bytes_le=guid_le), first, last, label, attributes
            )
        )
    return tuple(parts)


def find(partitions: Sequence[Partition], kind: PartitionType) -> Partition | None:
    """The first partition of a type, or None."""
    return next((part for part in partitions if part.kind is kind), None)
