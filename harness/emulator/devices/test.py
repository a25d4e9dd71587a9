"""The ``sifive,test1`` finisher at 0x100000: power-off, failure exit and reset."""

from __future__ import annotations


class MachineExit(Exception):
    """Raised when the guest powers the machine off; ``status`` is the process exit status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class MachineReset(Exception):
    """Raised when the guest requests a system reset."""


FINISHER_FAIL = 0x3333
FINISHER_PASS = 0x5555
FINISHER_RESET = 0x7777


class TestDevice:
    """QEMU's test finisher: 0x5555 powers off (status 0), 0x3333 exits with ``value >> 16``,
    0x7777 resets; other values are ignored like QEMU does."""

    __test__ = False  # not a pytest class despite the name

    def read(self, offset: int, size: int) -> int:
        """Reads return zero."""
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        """Act on a finisher command written at offset 0."""
        if offset != 0:
            return
        code = value & 0xFFFF
        if code == FINISHER_PASS:
            raise MachineExit(0)
        if code == FINISHER_FAIL:
            raise MachineExit((value >> 16) & 0xFFFF)
        if code == FINISHER_RESET:
            raise MachineReset()
