"""The HiFive Unmatched's board EEPROM: an AT24C02 (256 bytes) on I2C0 at 0x54, holding SiFive's
platform record (magic, product id, PCB/BOM revision, serial number, Ethernet MAC, CRC-32), the
record U-Boot's ``mac_read_from_eeprom`` reads at start-up (``EEPROM: SiFive PCB EEPROM format
v1``) to set ``ethaddr`` and ``serial#``.

The emulated board's record names it: serial ``HARTBEAT-EMU0001``, and a locally administered
MAC (02:...), never one of SiFive's, so it cannot clash with a real board's. Writes (``mac
write_eeprom``) stay in memory for the run, as the SD card's do.
"""

from __future__ import annotations

import struct
import zlib

ADDRESS = 0x54
SIZE = 256
MAGIC = bytes((0xF1, 0x5E, 0x50, 0x45))
FORMAT_VERSION = 1
PRODUCT_UNMATCHED = 2
PCB_REVISION = 4
BOM_REVISION = ord("A")
BOM_VARIANT = 0
SERIAL = b"HARTBEAT-EMU0001"
MANUF_TEST_PASS = 1
MAC = bytes((0x02, 0x68, 0x62, 0x65, 0x6D, 0x75))


def sifive_record(serial: bytes = SERIAL, mac: bytes = MAC) -> bytes:
    """SiFive's packed platform record (37 bytes, little-endian, CRC-32 over the rest)."""
    body = MAGIC + struct.pack(
        "<BHBBB16sB6s",
        FORMAT_VERSION,
        PRODUCT_UNMATCHED,
        PCB_REVISION,
        BOM_REVISION,
        BOM_VARIANT,
        serial,
        MANUF_TEST_PASS,
        mac,
    )
    return body + struct.pack("<I", zlib.crc32(body))


class At24Eeprom:
    """An I2C target with a one-byte word address: the first byte written after a start sets
    it, later bytes are stored (auto-incrementing, wrapping at the end); reads continue from it.
    Unwritten bytes read 0xFF, as on an erased part."""

    def __init__(self, contents: bytes = b"") -> None:
        self.data = bytearray(contents[:SIZE].ljust(SIZE, b"\xff"))
        self.pointer = 0
        self.addressing = False

    def start(self, read: bool) -> None:
        """A write transfer starts with the word address; a read continues from it."""
        self.addressing = not read

    def write(self, byte: int) -> bool:
        """Set the word address, or store a byte there (always acknowledged)."""
        if self.addressing:
            self.pointer, self.addressing = byte % SIZE, False
        else:
            self.data[self.pointer] = byte & 0xFF
            self.pointer = (self.pointer + 1) % SIZE
        return True

    def read(self) -> int:
        """The byte at the word address, which then advances."""
        value = self.data[self.pointer]
        self.pointer = (self.pointer + 1) % SIZE
        return value

    def stop(self) -> None:
        """End of transfer."""
