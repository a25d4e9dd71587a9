"""An SDHC card in SPI mode: the byte protocol a host speaks over MOSI/MISO while CS is low.

The card answers the commands U-Boot's ``mmc_spi`` driver and the FU740's mask ROM send:
reset and initialisation (CMD0, CMD8, ACMD41, CMD58, CMD59), its registers (CSD, CID, SCR,
status, SD status) and single/multi-block reads and writes (CMD17/18/12, CMD24/25), with data tokens
and CRC16 on every block. Anything else gets R1 with "illegal command" set, as a real card
answers. Writes land in an overlay kept for the run (like QEMU's ``-snapshot``), so a cached
card image is never modified.
"""

from __future__ import annotations

import binascii
import os
from collections import deque

BLOCK = 512
R1_IDLE = 0x01
R1_ILLEGAL = 0x04
R1_PARAM = 0x40
R1_ADDRESS = 0x20
TOKEN_START = 0xFE
TOKEN_MULTI_WRITE = 0xFC
TOKEN_STOP_TRAN = 0xFD
DATA_ACCEPTED = 0x05
# OCR: 3.2-3.4 V window, card capacity status (SDHC: block addressing), power-up done.
OCR_VOLTAGES = 0x00300000
OCR_CCS = 1 << 30
OCR_READY = 1 << 31
CID = bytes.fromhex("01" + "4842" + "4842454154" + "10" + "12345678" + "0190")  # "HBEAT" card
SCR = bytes((0x02, 0x35, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00))  # SD 3.0, 1/4-bit bus, CMD23 no


class SdCardError(Exception):
    """The card image cannot be opened."""


def crc7(data: bytes) -> int:
    """The SD command/register CRC7 (polynomial x^7 + x^3 + 1), returned shifted with the end bit."""
    crc = 0
    for byte in data:
        for bit in range(7, -1, -1):
            top = (crc >> 6) ^ ((byte >> bit) & 1)
            crc = (crc << 1) & 0x7F
            if top:
                crc ^= 0x09
    return (crc << 1) | 1


def crc16(data: bytes) -> int:
    """The SD data CRC16 (CCITT, polynomial 0x1021, initial 0)."""
    return binascii.crc_hqx(data, 0)


def _csd(blocks: int) -> bytes:
    """A CSD version 2.0 (SDHC/SDXC) register for ``blocks`` 512-byte blocks."""
    c_size = max(blocks // 1024, 1) - 1
    body = bytes(
        (
            0x40,  # CSD_STRUCTURE 1
            0x0E,  # TAAC
            0x00,  # NSAC
            0x32,  # TRAN_SPEED: 25 MHz
            0x5B,  # CCC high bits
            0x59,  # CCC low nibble, READ_BL_LEN = 9
            0x00,
            (c_size >> 16) & 0x3F,
            (c_size >> 8) & 0xFF,
            c_size & 0xFF,
            0x7F,  # ERASE_BLK_EN, SECTOR_SIZE
            0x80,
            0x0A,  # R2W_FACTOR, WRITE_BL_LEN = 9
            0x40,
            0x00,
        )
    )
    return body + bytes((crc7(body),))


class SdImage:
    """The card's blocks: a raw image file read on demand, with writes kept in memory."""

    def __init__(self, path: str) -> None:
        try:
            self.fd = os.open(path, os.O_RDONLY)
            self.size = os.fstat(self.fd).st_size
        except OSError as exc:
            raise SdCardError(f"could not open SD card image '{path}': {exc.strerror}") from None
        if self.size < BLOCK:
            os.close(self.fd)
            raise SdCardError(f"SD card image '{path}' is smaller than one 512-byte block")
        self.path = path
        self.blocks = self.size // BLOCK
        self.written: dict[int, bytes] = {}

    def read(self, block: int) -> bytes:
        """Block ``block`` (the overlay's copy if the guest wrote it)."""
        data = self.written.get(block)
        if data is not None:
            return data
        return os.pread(self.fd, BLOCK, block * BLOCK).ljust(BLOCK, b"\0")

    def write(self, block: int, data: bytes) -> None:
        """Keep ``data`` as block ``block`` for the rest of the run."""
        self.written[block] = bytes(data)


class SpiSdCard:
    """The card's side of the SPI bus: ``exchange`` one byte while selected."""

    def __init__(self, image: SdImage) -> None:
        self.image = image
        self.csd = _csd(image.blocks)
        self.out: deque[int] = deque()
        self.cmd = bytearray()
        self.idle = True
        self.app = False
        self.crc_on = False
        # Multi-block read: the next block to send once the output runs dry; None when idle.
        self.read_next: int | None = None
        # Write state: the block to write the next data packet to; None when not writing.
        self.write_block: int | None = None
        self.write_multi = False
        self.write_buf: bytearray | None = None
        self.commands = 0

    def deselect(self) -> None:
        """CS went high: a command in progress is abandoned (a running read keeps its state)."""
        self.cmd.clear()

    def exchange(self, mosi: int) -> int:
        """Clock one byte: take ``mosi`` from the host, return the byte on MISO."""
        if self.write_block is not None and not self.cmd:
            return self._write_byte(mosi)
        if self.cmd or (mosi & 0xC0) == 0x40:
            self.cmd.append(mosi)
            if len(self.cmd) == 6:
                frame = bytes(self.cmd)
                self.cmd.clear()
                self._command(frame)
                return 0xFF  # the response starts after the last command byte
            return self._next_out()
        return self._next_out()

    def clock_out(self, count: int) -> bytes:
        """``count`` exchanges with MOSI held high (0xFF), as a host reads a data block."""
        if self.write_block is not None or self.cmd:
            return bytes(self.exchange(0xFF) for _ in range(count))
        out = bytearray()
        while len(out) < count:
            if not self.out and self.read_next is None:
                out.extend(b"\xff" * (count - len(out)))
                break
            if not self.out:
                self._next_out_refill()
            take = min(count - len(out), len(self.out))
            out.extend(self.out.popleft() for _ in range(take))
        return bytes(out)

    def _next_out_refill(self) -> None:
        assert self.read_next is not None
        self._queue_block(self.read_next)
        if self.read_next is not None:
            self.read_next += 1

    def _next_out(self) -> int:
        if not self.out and self.read_next is not None:
            self._next_out_refill()
        return self.out.popleft() if self.out else 0xFF

    def _queue_block(self, block: int) -> None:
        if block >= self.image.blocks:
            self.out.extend((0xFF, 0x09))  # data error token: out of range
            self.read_next = None
            return
        self._queue_data(self.image.read(block))

    def _queue_data(self, data: bytes) -> None:
        crc = crc16(data)
        self.out.extend((0xFF, TOKEN_START))
        self.out.extend(data)
        self.out.extend((crc >> 8, crc & 0xFF))

    def _r1(self, flags: int = 0) -> int:
        return (R1_IDLE if self.idle else 0) | flags

    def _command(self, frame: bytes) -> None:
        index, arg = frame[0] & 0x3F, int.from_bytes(frame[1:5], "big")
        self.commands += 1
        app, self.app = self.app, False
        if index != 12:
            # Any new command ends the output of the previous one (CMD12 stops a read below).
            self.out.clear()
        self.out.append(0xFF)  # Ncr: one byte before the response
        if index == 0:
            self.idle, self.read_next, self.write_block = True, None, None
            self.out.append(R1_IDLE)
        elif index == 8:
            self.out.extend((self._r1(), 0x00, 0x00, (arg >> 8) & 0x0F, arg & 0xFF))
        elif index == 55:
            self.app = True
            self.out.append(self._r1())
        elif (index == 41 and app) or index == 1:
            self.idle = False
            self.out.append(self._r1())
        elif index == 58:
            ocr = OCR_VOLTAGES | OCR_CCS | (0 if self.idle else OCR_READY)
            self.out.append(self._r1())
            self.out.extend(ocr.to_bytes(4, "big"))
        elif index == 59:
            self.crc_on = bool(arg & 1)
            self.out.append(self._r1())
        elif index == 16:
            self.out.append(self._r1(0 if arg == BLOCK else R1_PARAM))
        elif index in (9, 10):
            self.out.append(self._r1())
            self._queue_data(self.csd if index == 9 else CID + bytes((crc7(CID),)))
        elif index == 13 and app:
            # SD_STATUS: R2, then the 64-byte status block (1-bit bus, AU size 4 MiB).
            status = bytearray(64)
            status[10] = 0x90
            self.out.extend((self._r1(), 0x00))
            self._queue_data(bytes(status))
        elif index == 13:
            self.out.extend((self._r1(), 0x00))
        elif index == 51 and app:
            self.out.append(self._r1())
            self._queue_data(SCR)
        elif index == 6:
            # SWITCH_FUNC: report function group 1 supporting default and high speed, none busy.
            status = bytearray(64)
            status[0:2] = (100).to_bytes(2, "big")  # max current
            status[12:14] = (0x8003).to_bytes(2, "big")
            status[13] = 0x03
            status[16] = (arg & 0xF) if arg & (1 << 31) else 0
            self.out.append(self._r1())
            self._queue_data(bytes(status))
        elif index in (17, 18):
            if arg >= self.image.blocks:
                self.out.append(self._r1(R1_ADDRESS))
                return
            self.out.append(self._r1())
            self._queue_block(arg)
            self.read_next = arg + 1 if index == 18 else None
        elif index == 12:
            self.read_next = None
            self.out.clear()
            self.out.extend((0xFF, self._r1(), 0x00, 0xFF))  # Ncr, R1b, busy, ready
        elif index in (24, 25):
            if arg >= self.image.blocks:
                self.out.append(self._r1(R1_ADDRESS))
                return
            self.out.append(self._r1())
            self.write_block, self.write_multi, self.write_buf = arg, index == 25, None
        else:
            self.out.append(self._r1(R1_ILLEGAL))

    def _write_byte(self, mosi: int) -> int:
        """Receive a data packet (token, 512 bytes, CRC) for CMD24/CMD25."""
        if self.out:
            return self.out.popleft()
        block = self.write_block
        assert block is not None
        if self.write_buf is None:
            if mosi == TOKEN_START or (self.write_multi and mosi == TOKEN_MULTI_WRITE):
                self.write_buf = bytearray()
            elif self.write_multi and mosi == TOKEN_STOP_TRAN:
                self.write_block = None
                self.out.extend((0xFF, 0x00, 0xFF))  # busy, then ready
            elif (mosi & 0xC0) == 0x40:
                self.write_block = None
                self.cmd.append(mosi)
            return 0xFF
        self.write_buf.append(mosi)
        if len(self.write_buf) < BLOCK + 2:
            return 0xFF
        data = bytes(self.write_buf[:BLOCK])
        self.write_buf = None
        if block >= self.image.blocks:
            self.write_block = None
            self.out.extend((0x0D, 0x00, 0xFF))  # write error
            return 0xFF
        self.image.write(block, data)
        self.out.extend((DATA_ACCEPTED, 0x00, 0xFF))  # data response, busy, ready
        if self.write_multi:
            self.write_block = block + 1
        else:
            self.write_block = None
        return 0xFF
