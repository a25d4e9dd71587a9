"""SiFive SPI controller (``sifive,spi0``) as on the FU740, in its register (not flash) mode.

Each byte written to txdata is clocked out at once; with the frame direction set to receive
(fmt.dir = 0) the byte that came back on MISO enters the 8-deep receive FIFO. The chip select
follows csmode: HOLD keeps it asserted across frames, AUTO releases it after each frame, OFF
never asserts it. Without a device on the selected line MISO floats high (0xFF), as on the
board's empty SPI buses.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

SCKDIV = 0x00
SCKMODE = 0x04
CSID = 0x10
CSDEF = 0x14
CSMODE = 0x18
DELAY0 = 0x28
DELAY1 = 0x2C
FMT = 0x40
TXDATA = 0x48
RXDATA = 0x4C
TXMARK = 0x50
RXMARK = 0x54
FCTRL = 0x60
FFMT = 0x64
IE = 0x70
IP = 0x74
RX_EMPTY = 1 << 31
FIFO_DEPTH = 8
FMT_DIR_TX = 1 << 3
CSMODE_AUTO = 0
CSMODE_HOLD = 2
CSMODE_OFF = 3
IP_TXWM = 1
IP_RXWM = 2

# Reset values from the FU740 manual's SPI register table.
_RESET = {SCKDIV: 0x3, CSMODE: CSMODE_AUTO, DELAY0: 0x10001, DELAY1: 0x1, FMT: 0x80000, FCTRL: 1, FFMT: 0x30007}


class SpiDevice(Protocol):
    """Something on a chip-select line: takes one byte, returns the byte on MISO."""

    def exchange(self, mosi: int) -> int:
        """Clock one byte while selected."""
        ...

    def deselect(self) -> None:
        """Chip select went inactive."""
        ...


class SifiveSpi:
    """An SPI controller with ``num_cs`` chip selects and devices on some of them."""

    def __init__(self, num_cs: int = 1, devices: dict[int, SpiDevice] | None = None) -> None:
        self.num_cs = num_cs
        self.devices = dict(devices or {})
        self.regs = dict(_RESET)
        self.regs[CSDEF] = (1 << num_cs) - 1
        self.rx: deque[int] = deque()
        self.selected: SpiDevice | None = None
        self.frames = 0
        # What a frame does, kept up to date by register writes rather than looked up in
        # ``regs`` for every byte (firmware reads a card a byte per frame): the device the
        # chip select addresses, whether received bytes enter the FIFO, whether CS drops after.
        self._target: SpiDevice | None = None
        self._receive = True
        self._auto = True
        self._settle()

    def _settle(self) -> None:
        regs = self.regs
        mode = regs[CSMODE]
        self._target = None if mode == CSMODE_OFF else self.devices.get(regs.get(CSID, 0))
        self._receive = not regs[FMT] & FMT_DIR_TX
        self._auto = mode == CSMODE_AUTO

    def _release(self) -> None:
        if self.selected is not None:
            self.selected.deselect()
            self.selected = None

    def _transfer(self, mosi: int) -> None:
        device = self._target
        if device is not self.selected:
            self._release()
            self.selected = device
        miso = device.exchange(mosi) if device is not None else 0xFF
        self.frames += 1
        if self._receive and len(self.rx) < FIFO_DEPTH:
            self.rx.append(miso)
        if self._auto:
            self._release()

    def _ip(self) -> int:
        ip = IP_TXWM if self.regs.get(TXMARK, 0) > 0 else 0
        if len(self.rx) > self.regs.get(RXMARK, 0):
            ip |= IP_RXWM
        return ip

    def read(self, offset: int, size: int) -> int:
        """Read a register; rxdata pops the receive FIFO (bit 31 set when empty)."""
        if offset == RXDATA:
            return self.rx.popleft() if self.rx else RX_EMPTY
        if offset == TXDATA:
            return 0  # the transmit FIFO never fills: bytes go out as they are written
        if offset == IP:
            return self._ip()
        return self.regs.get(offset, 0)

    def write(self, offset: int, size: int, value: int) -> None:
        """Write a register; txdata sends a byte."""
        value &= 0xFFFFFFFF
        if offset == TXDATA:
            self._transfer(value & 0xFF)
            return
        if offset in (RXDATA, IP):
            return
        if offset == CSDEF:
            value &= (1 << self.num_cs) - 1
        elif offset == CSID and value != self.regs.get(CSID, 0):
            self._release()
        self.regs[offset] = value
        self._settle()
        if offset == CSMODE and value != CSMODE_HOLD:
            self._release()
