"""NS16550A UART (QEMU virt's console), byte-wide registers (reg-shift 0)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

IER_RDI = 0x01
IER_THRI = 0x02
LCR_DLAB = 0x80
LSR_DR = 0x01
LSR_BI = 0x10
LSR_THRE = 0x20
LSR_TEMT = 0x40
IIR_NONE = 0x01
IIR_THRI = 0x02
IIR_RDI = 0x04
IIR_FIFO = 0xC0
# A break in the receive FIFO: read as a NUL character with LSR.BI set while it is at the head.
BREAK = 0x100


class Uart16550:
    """A 16550A whose transmitter is always ready; received bytes wait in an unbounded FIFO."""

    def __init__(self, tx: Callable[[bytes], None], set_irq: Callable[[bool], None]) -> None:
        self.tx = tx
        self.set_irq = set_irq
        self.rx: deque[int] = deque()
        self.ier = 0
        self.lcr = 0
        self.mcr = 0
        self.scr = 0
        self.fcr = 0
        self.dll = 0
        self.dlm = 0
        self.thr_empty_pending = False

    def receive(self, data: bytes) -> None:
        """Queue bytes typed on the console."""
        self.rx.extend(data)
        self._update()

    def receive_break(self) -> bool:
        """Queue a line break after the bytes already received (Linux's SysRq key starts with one)."""
        self.rx.append(BREAK)
        self._update()
        return True

    def wants_input(self) -> bool:
        """True while the guest has drained the FIFO, so input is taken at the guest's pace."""
        return len(self.rx) < 16

    def _iir(self) -> int:
        if self.ier & IER_RDI and self.rx:
            return IIR_RDI
        if self.ier & IER_THRI and self.thr_empty_pending:
            return IIR_THRI
        return IIR_NONE

    def _update(self) -> None:
        self.set_irq(self._iir() != IIR_NONE)

    def read(self, offset: int, size: int) -> int:
        """Read a register (RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR or the divisor latch)."""
        dlab = self.lcr & LCR_DLAB
        if offset == 0:
            if dlab:
                return self.dll
            value = self.rx.popleft() if self.rx else 0
            self._update()
            return value & 0xFF
        if offset == 1:
            return self.dlm if dlab else self.ier
        if offset == 2:
            iir = self._iir()
            if iir == IIR_THRI:
                self.thr_empty_pending = False
                self._update()
            return iir | (IIR_FIFO if self.fcr & 1 else 0)
        if offset == 3:
            return self.lcr
        if offset == 4:
            return self.mcr
        if offset == 5:
            lsr = LSR_THRE | LSR_TEMT | (LSR_DR if self.rx else 0)
            return lsr | LSR_BI if self.rx and self.rx[0] == BREAK else lsr
        if offset == 6:
            return 0xB0  # DCD, DSR, CTS asserted: the line is always connected
        if offset == 7:
            return self.scr
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        """Write a register; THR writes go straight to the console."""
        value &= 0xFF
        dlab = self.lcr & LCR_DLAB
        if offset == 0:
            if dlab:
                self.dll = value
            else:
                self.tx(bytes((value,)))
                self.thr_empty_pending = True
        elif offset == 1:
            if dlab:
                self.dlm = value
            else:
                # Enabling THRI with an empty transmitter raises the interrupt at once.
                if value & IER_THRI and not self.ier & IER_THRI:
                    self.thr_empty_pending = True
                self.ier = value & 0x0F
        elif offset == 2:
            self.fcr = value
            if value & 2:
                self.rx.clear()
        elif offset == 3:
            self.lcr = value
        elif offset == 4:
            self.mcr = value
        elif offset == 7:
            self.scr = value
        self._update()
