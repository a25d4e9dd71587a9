"""harness.model.gpt: GUID partition tables written and read back, and damage detected."""

from __future__ import annotations

import uuid
import zlib
from pathlib import Path

import pytest

from harness.model import gpt

SECTORS = 65536


def _disk(path: Path, parts: list[gpt.Partition]) -> Path:
    with path.open("wb") as out:
        out.truncate(SECTORS * gpt.SECTOR)
        gpt.write_table(out, SECTORS, parts, uuid.UUID(int=7))
    return path


PARTS = [
    gpt.Partition(1, gpt.PartitionType.SIFIVE_SPL.value, uuid.UUID(int=1), 34, 2081, "spl"),
    gpt.Partition(2, gpt.PartitionType.SIFIVE_UBOOT.value, uuid.UUID(int=2), 2082, 10273, "uboot"),
    gpt.Partition(3, gpt.PartitionType.LINUX_FS.value, uuid.UUID(int=3), 16384, 65501, "boot", gpt.LEGACY_BOOTABLE),
]


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    disk = _disk(tmp_path / "card.img", PARTS)
    assert gpt.read_table(disk) == tuple(PARTS)
    raw = disk.read_bytes()
    assert raw[510:512] == b"\x55\xaa" and raw[450] == 0xEE  # the protective MBR
    assert raw[512:520] == b"EFI PART" and raw[-512:-504] == b"EFI PART"  # primary and backup
    spl = gpt.find(gpt.read_table(disk), gpt.PartitionType.SIFIVE_SPL)
    assert spl is not None and spl.offset == 34 * 512 and spl.size == 2048 * 512
    assert gpt.find(PARTS[1:], gpt.PartitionType.SIFIVE_SPL) is None


def test_damaged_primary_falls_back_to_the_backup(tmp_path: Path) -> None:
    disk = _disk(tmp_path / "card.img", PARTS)
    with disk.open("r+b") as handle:
        handle.seek(512 + 40)
        handle.write(b"\xff")  # the header CRC no longer matches
    assert gpt.read_table(disk) == tuple(PARTS)


def test_no_table_says_what_was_found(tmp_path: Path) -> None:
    blank = tmp_path / "blank.img"
    blank.write_bytes(bytes(SECTORS * gpt.SECTOR))
    with pytest.raises(gpt.GptError, match=r"blank.img: no valid GUID partition table \(no 'EFI PART' signature"):
        gpt.read_table(blank)
    with pytest.raises(gpt.GptError, match="too small"):
        (tmp_path / "tiny.img").write_bytes(b"x")
        gpt.read_table(tmp_path / "tiny.img")


def test_partition_outside_the_disk_is_refused(tmp_path: Path) -> None:
    bad = [gpt.Partition(1, gpt.PartitionType.LINUX_FS.value, uuid.UUID(int=1), 16384, SECTORS, "boot")]
    with pytest.raises(gpt.GptError, match="outside 34-"):
        _disk(tmp_path / "card.img", bad)


def test_the_header_lists_one_sector_of_entries_in_the_reserved_space(tmp_path: Path) -> None:
    # U-Boot reads every listed entry at each partition lookup (hundreds per boot): the header
    # lists 4 entries (one sector), while partitions still start after the 16 KiB the
    # specification reserves for the array.
    raw = _disk(tmp_path / "card.img", PARTS).read_bytes()
    for header_at in (1, SECTORS - 1):
        header = raw[header_at * gpt.SECTOR :][:92]
        first_usable, entries_at, count, size = (
            int.from_bytes(header[40:48], "little"),
            int.from_bytes(header[72:80], "little"),
            int.from_bytes(header[80:84], "little"),
            int.from_bytes(header[84:88], "little"),
        )
        assert (first_usable, count, size) == (34, 4, 128)
        listed = raw[entries_at * gpt.SECTOR :][: count * size]
        assert int.from_bytes(header[88:92], "little") == zlib.crc32(listed)
        assert entries_at in (2, SECTORS - 33)
        # The rest of the reserved array is unused entries (zero), as a reader of 128 would see.
        assert raw[entries_at * gpt.SECTOR + count * size :][: 32 * gpt.SECTOR - count * size] == bytes(
            32 * gpt.SECTOR - count * size
        )


def test_a_partition_number_beyond_the_listed_entries_is_refused(tmp_path: Path) -> None:
    bad = [gpt.Partition(5, gpt.PartitionType.LINUX_FS.value, uuid.UUID(int=1), 16384, 20000, "boot")]
    with pytest.raises(gpt.GptError, match="partition number 5 is outside 1-4"):
        _disk(tmp_path / "card.img", bad)
