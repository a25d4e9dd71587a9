"""OpenCores I2C master (``sifive,i2c0``) as on the FU740 (registers 4 bytes apart).

Commands complete at once: a start+write addresses a target, which acknowledges if a device
sits at that address (``devices``), else the byte is not acknowledged (status RxACK), as on an
empty bus.
"""

from __future__ import annotations

from typing import Protocol

PRER_LO = 0x00
PRER_HI = 0x04
CTR = 0x08
TXR_RXR = 0x0C
CR_SR = 0x10
CR_STA = 0x80
CR_STO = 0x40
CR_RD = 0x20
CR_WR = 0x10
CR_ACK = 0x08
CR_IACK = 0x01
SR_RXACK = 0x80
SR_BUSY = 0x40
SR_IF = 0x01


class I2cDevice(Protocol):
    """A target on the bus."""

    def start(self, read: bool) -> None:
        """Addressed after a (repeated) start."""
        ...

    def write(self, byte: int) -> bool:
        """A byte from the master; True to acknowledge."""
        ...

    def read(self) -> int:
        """A byte for the master."""
        ...

    def stop(self) -> None:
        """Stop condition."""
        ...


class OcoresI2c:
    """The controller; ``devices`` maps 7-bit addresses to targets."""

    def __init__(self, devices: dict[int, I2cDevice] | None = None) -> None:
        self.devices = dict(devices or {})
        self.prer = 0xFFFF
        self.ctr = 0
        self.txr = 0
        self.rxr = 0
        self.status = 0
        self.target: I2cDevice | None = None

    def read(self, offset: int, size: int) -> int:
        """Read prescale, control, receive or status."""
        if offset == PRER_LO:
            return self.prer & 0xFF
        if offset == PRER_HI:
            return self.prer >> 8
        if offset == CTR:
            return self.ctr
        if offset == TXR_RXR:
            return self.rxr
        if offset == CR_SR:
            return self.status
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        """Write prescale, control, transmit or a command."""
        value &= 0xFF
        if offset == PRER_LO:
            self.prer = (self.prer & 0xFF00) | value
        elif offset == PRER_HI:
            self.prer = (self.prer & 0xFF) | value << 8
        elif offset == CTR:
            self.ctr = value
        elif offset == TXR_RXR:
            self.txr = value
        elif offset == CR_SR:
            self._command(value)

    def _command(self, cr: int) -> None:
        if cr & CR_IACK:
            self.status &= ~SR_IF
        if not cr & (CR_STA | CR_STO | CR_RD | CR_WR):
            return
        ack = True
        if cr & CR_STA and cr & CR_WR:
            self.target = self.devices.get(self.txr >> 1)
            ack = self.target is not None
            if self.target is not None:
                self.target.start(bool(self.txr & 1))
            self.status |= SR_BUSY
        elif cr & CR_WR:
            ack = self.target.write(self.txr) if self.target is not None else False
        elif cr & CR_RD:
            self.rxr = self.target.read() if self.target is not None else 0xFF
        if cr & CR_STO:
            if self.target is not None:
                self.target.stop()
            self.target = None
            self.status &= ~SR_BUSY
        self.status = (self.status & ~SR_RXACK) | (0 if ack else SR_RXACK) | SR_IF
