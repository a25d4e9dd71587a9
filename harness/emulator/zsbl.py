"""The FU740 mask ROM's (ZSBL's) boot from an SD card, MSEL = 1011: what the ROM does over SPI.

It speaks SPI-mode SD to the card on the SPI2 bus (reset, CMD8, ACMD41 until ready, OCR), reads
the GPT header and partition entries, finds the partition whose type is the SiFive SPL GUID,
reads it with a multi-block read (checking each block's CRC16) into the L2 LIM and lets every
hart start there. The guest never sees this code: it is the ROM's behaviour, done before the
first instruction, as fast as the card model answers.
"""

from __future__ import annotations

import struct

from .devices.sdcard import BLOCK, TOKEN_START, SpiSdCard, crc16

SPL_TYPE = "5B193300-FC78-40CD-8002-E86C45580B47"
# As a GPT entry stores it: the first three fields little-endian (``uuid``'s ``bytes_le``,
# spelled out: importing ``uuid`` costs PyPy 30 ms of the emulator's start-up).
_SPL = bytes.fromhex(SPL_TYPE.replace("-", ""))
SPL_TYPE_LE = _SPL[3::-1] + _SPL[5:3:-1] + _SPL[7:5:-1] + _SPL[8:]
GPT_SIGNATURE = b"EFI PART"
# Bytes clocked while waiting for a response or a data token before giving up.
RESPONSE_WAIT = 16
TOKEN_WAIT = 4096
INIT_TRIES = 1000


class ZsblError(Exception):
    """The ROM could not load an SPL from the card (the board would sit silent)."""


class SdHost:
    """The ROM's SPI-mode SD host, talking byte by byte to a card."""

    def __init__(self, card: SpiSdCard) -> None:
        self.card = card

    def command(self, index: int, arg: int, extra: int = 0) -> tuple[int, bytes]:
        """Send a command frame; return R1 and ``extra`` bytes after it (R3/R7 payloads)."""
        frame = bytes((0x40 | index,)) + arg.to_bytes(4, "big")
        crc = 0x95 if index == 0 else 0x87 if index == 8 else 0x01
        for byte in frame + bytes((crc,)):
            self.card.exchange(byte)
        for _ in range(RESPONSE_WAIT):
            r1 = self.card.exchange(0xFF)
            if r1 != 0xFF:
                return r1, bytes(self.card.exchange(0xFF) for _ in range(extra))
        raise ZsblError(f"SD card does not answer CMD{index}")

    def init(self) -> None:
        """Reset the card into SPI mode and wait until it leaves the idle state."""
        self.card.deselect()
        r1, _ = self.command(0, 0)
        if r1 != 0x01:
            raise ZsblError(f"SD card rejects CMD0 (R1 {r1:#04x})")
        r1, echo = self.command(8, 0x1AA, 4)
        if r1 & 0x04 or echo[2:] != b"\x01\xaa":
            raise ZsblError("SD card does not support SD 2.0 (CMD8)")
        for _ in range(INIT_TRIES):
            self.command(55, 0)
            r1, _ = self.command(41, 1 << 30)
            if r1 == 0:
                break
        else:
            raise ZsblError("SD card stays idle after ACMD41")
        self.command(58, 0, 4)

    def _data(self) -> bytes:
        for _ in range(TOKEN_WAIT):
            token = self.card.exchange(0xFF)
            if token == TOKEN_START:
                break
            if token != 0xFF:
                raise ZsblError(f"SD card data error token {token:#04x}")
        else:
            raise ZsblError("SD card sends no data token")
        packet = self.card.clock_out(BLOCK + 2)
        data, crc = packet[:BLOCK], packet[BLOCK] << 8 | packet[BLOCK + 1]
        if crc != crc16(data):
            raise ZsblError("SD card data CRC mismatch")
        return data

    def read(self, lba: int, count: int) -> bytes:
        """``count`` blocks from ``lba``: CMD17 for one, CMD18 + CMD12 for more."""
        r1, _ = self.command(18 if count > 1 else 17, lba)
        if r1 != 0:
            raise ZsblError(f"SD card read of block {lba} failed (R1 {r1:#04x})")
        blocks = [self._data() for _ in range(count)]
        if count > 1:
            self.command(12, 0, 1)
        return b"".join(blocks)


def find_spl(host: SdHost) -> tuple[int, int]:
    """The SPL partition's first block and block count, from the card's GPT."""
    header = host.read(1, 1)
    if header[:8] != GPT_SIGNATURE:
        raise ZsblError("no GPT on the SD card (block 1 lacks the 'EFI PART' signature)")
    entries_lba, count, size = struct.unpack_from("<QII", header, 72)
    if not 0 < count <= 1024 or not 128 <= size <= 4096:
        raise ZsblError(f"GPT header has an unusable partition table ({count} entries of {size} bytes)")
    table = host.read(entries_lba, (count * size + BLOCK - 1) // BLOCK)
    for i in range(count):
        entry = table[i * size : (i + 1) * size]
        if entry[:16] == SPL_TYPE_LE:
            first, last = struct.unpack_from("<QQ", entry, 32)
            if last < first:
                break
            return first, last - first + 1
    raise ZsblError(f"no SPL partition (type {SPL_TYPE}) on the SD card")


def load_spl(card: SpiSdCard, limit: int) -> bytes:
    """Read the SPL partition (at most ``limit`` bytes, the LIM's size) from ``card``."""
    host = SdHost(card)
    host.init()
    first, blocks = find_spl(host)
    return host.read(first, min(blocks, limit // BLOCK))
