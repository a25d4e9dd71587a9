"""SiFive UART (``sifive,uart0``) as on the FU740: txdata/rxdata/txctrl/rxctrl/ie/ip/div."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

TXDATA = 0x00
RXDATA = 0x04
TXCTRL = 0x08
RXCTRL = 0x0C
IE = 0x10
IP = 0x14
DIV = 0x18
RX_EMPTY = 1 << 31
IP_TXWM = 1
IP_RXWM = 2


class SifiveUart:
    """A SiFive UART whose transmit FIFO is always empty (output is written immediately)."""

    def __init__(self, tx: Callable[[bytes], None], set_irq: Callable[[bool], None]) -> None:
        self.tx = tx
        self.set_irq = set_irq
        self.rx: deque[int] = deque()
        self.txctrl = 0
        self.rxctrl = 0
        self.ie = 0
        self.div = 0

    def receive(self, data: bytes) -> None:
        """Queue bytes typed on the console."""
        self.rx.extend(data)
        self._update()

    def wants_input(self) -> bool:
        """True while the receive FIFO (8 deep on hardware) has room."""
        return len(self.rx) < 8

    def _ip(self) -> int:
        ip = 0
        # The transmit FIFO is always empty, so the watermark (count < txcnt) holds when txcnt > 0.
        if (self.txctrl >> 16) & 7:
            ip |= IP_TXWM
        if len(self.rx) > (self.rxctrl >> 16) & 7:
            ip |= IP_RXWM
        return ip

    def _update(self) -> None:
        self.set_irq(bool(self._ip() & self.ie))

    def read(self, offset: int, size: int) -> int:
        """Read a register; rxdata pops one byte or reports empty in bit 31."""
        if offset == TXDATA:
            return 0
        if offset == RXDATA:
            if not self.rx:
                return RX_EMPTY
            value = self.rx.popleft()
            self._update()
            return value
        if offset == TXCTRL:
            return self.txctrl
        if offset == RXCTRL:
            return self.rxctrl
        if offset == IE:
            return self.ie
        if offset == IP:
            return self._ip()
        if offset == DIV:
            return self.div
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        """Write a register; txdata sends its low byte."""
        if offset == TXDATA:
            self.tx(bytes((value & 0xFF,)))
        elif offset == TXCTRL:
            self.txctrl = value & 0x70003
        elif offset == RXCTRL:
            self.rxctrl = value & 0x70001
        elif offset == IE:
            self.ie = value & 3
        elif offset == DIV:
            self.div = value & 0xFFFF
        self._update()
