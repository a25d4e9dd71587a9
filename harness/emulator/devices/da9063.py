"""The Dialog DA9063 PMIC on the Unmatched's I2C0 (address 0x58), as far as OpenSBI's FU740
reset driver asks: register-addressed reads and writes, the page register, the device ID, and
the control bits that shut the board down or restart it."""

from __future__ import annotations

from .test import MachineExit, MachineReset

PAGE_CON = 0x00
CONTROL_A = 0x0E
CONTROL_F = 0x13
DEVICE_ID = 0x81
CHIP_ID = 0x61
CONTROL_A_STANDBY = 1 << 3
CONTROL_F_WAKEUP = 1 << 2
CONTROL_F_SHUTDOWN = 1 << 1
ADDRESS = 0x58


class Da9063:
    """An I2C target: the first byte written after a start selects a register, later bytes
    write it (auto-incrementing); reads return the selected register and advance."""

    def __init__(self) -> None:
        self.regs: dict[int, int] = {DEVICE_ID: CHIP_ID}
        self.pointer = 0
        self.addressing = False
        self.wakeup = False

    def start(self, read: bool) -> None:
        """A write transfer starts with the register address; a read continues from it."""
        self.addressing = not read

    def write(self, byte: int) -> bool:
        """Select a register, or write the selected one (always acknowledged)."""
        if self.addressing:
            self.pointer, self.addressing = byte, False
            return True
        self._store(self.pointer, byte)
        self.pointer = (self.pointer + 1) & 0xFF
        return True

    def read(self) -> int:
        """The selected register."""
        value = self.regs.get(self.pointer, 0)
        self.pointer = (self.pointer + 1) & 0xFF
        return value

    def stop(self) -> None:
        """End of transfer."""

    def _store(self, reg: int, value: int) -> None:
        self.regs[reg] = value
        if reg == CONTROL_F and value & CONTROL_F_SHUTDOWN:
            raise MachineExit(0)
        if reg == CONTROL_F and value & CONTROL_F_WAKEUP:
            self.wakeup = True
        elif reg == CONTROL_A and value & CONTROL_A_STANDBY and self.wakeup:
            # Standby with wake-up armed: the PMIC cycles the rails, the board restarts.
            raise MachineReset()
