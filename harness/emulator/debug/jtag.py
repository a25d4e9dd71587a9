"""A JTAG TAP with the RISC-V debug transport module (0.13.2 chapter 6): IDCODE, DTMCS, DMI.

The TAP controller follows IEEE 1149.1: TMS and TDI are sampled on the rising edge of TCK;
TDO is the low bit of the selected shift register while in Shift-DR/Shift-IR (the adapter
samples it before the rising edge that shifts). DMI accesses complete at Update-DR, so
dtmcs.dmistat never reports busy.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Protocol


class JtagSpecError(ValueError):
    """A ``-jtag`` value that is not ``tcp:PORT`` or ``unix:PATH``. Declared here, not beside
    the socket code in ``rbb`` that raises it, so the command line can catch it without
    importing the port's modules on every start."""


IR_LENGTH = 5
IR_IDCODE = 0x01
IR_DTMCS = 0x10
IR_DMI = 0x11
IR_BYPASS = 0x1F
DMI_ABITS = 7
DTM_VERSION_013 = 1
# Run-Test/Idle cycles the debugger should leave between DMI accesses (none needed here).
DTM_IDLE = 0
DMI_OP_READ = 1
DMI_OP_WRITE = 2


class State(IntEnum):
    """TAP controller states."""

    RESET = 0
    IDLE = 1
    SELECT_DR = 2
    CAPTURE_DR = 3
    SHIFT_DR = 4
    EXIT1_DR = 5
    PAUSE_DR = 6
    EXIT2_DR = 7
    UPDATE_DR = 8
    SELECT_IR = 9
    CAPTURE_IR = 10
    SHIFT_IR = 11
    EXIT1_IR = 12
    PAUSE_IR = 13
    EXIT2_IR = 14
    UPDATE_IR = 15


S = State
# NEXT[state] = (state after TMS 0, state after TMS 1).
NEXT: dict[State, tuple[State, State]] = {
    S.RESET: (S.IDLE, S.RESET),
    S.IDLE: (S.IDLE, S.SELECT_DR),
    S.SELECT_DR: (S.CAPTURE_DR, S.SELECT_IR),
    S.CAPTURE_DR: (S.SHIFT_DR, S.EXIT1_DR),
    S.SHIFT_DR: (S.SHIFT_DR, S.EXIT1_DR),
    S.EXIT1_DR: (S.PAUSE_DR, S.UPDATE_DR),
    S.PAUSE_DR: (S.PAUSE_DR, S.EXIT2_DR),
    S.EXIT2_DR: (S.SHIFT_DR, S.UPDATE_DR),
    S.UPDATE_DR: (S.IDLE, S.SELECT_DR),
    S.SELECT_IR: (S.CAPTURE_IR, S.RESET),
    S.CAPTURE_IR: (S.SHIFT_IR, S.EXIT1_IR),
    S.SHIFT_IR: (S.SHIFT_IR, S.EXIT1_IR),
    S.EXIT1_IR: (S.PAUSE_IR, S.UPDATE_IR),
    S.PAUSE_IR: (S.PAUSE_IR, S.EXIT2_IR),
    S.EXIT2_IR: (S.SHIFT_IR, S.UPDATE_IR),
    S.UPDATE_IR: (S.IDLE, S.SELECT_DR),
}


class Dmi(Protocol):
    """The debug module interface the DTM drives."""

    def dmi_read(self, address: int) -> int:
        """Read a DM register."""

    def dmi_write(self, address: int, value: int) -> None:
        """Write a DM register."""


# The same as plain ints, for the per-edge path (an IntEnum member costs an attribute lookup).
RESET, SHIFT_DR, SHIFT_IR = int(State.RESET), int(State.SHIFT_DR), int(State.SHIFT_IR)
CAPTURE_DR, UPDATE_DR = int(State.CAPTURE_DR), int(State.UPDATE_DR)
CAPTURE_IR, UPDATE_IR = int(State.CAPTURE_IR), int(State.UPDATE_IR)
NEXT_INT: tuple[tuple[int, int], ...] = tuple((int(NEXT[s][0]), int(NEXT[s][1])) for s in State)
# States whose entry does something (capture, update, reset).
ACTIONS = frozenset({RESET, CAPTURE_DR, UPDATE_DR, CAPTURE_IR, UPDATE_IR})
# For the remote_bitbang server's inlined edge loop, indexed by state: the next state for TMS 0
# (NEXT_BY_TMS[0]) and TMS 1 (NEXT_BY_TMS[2]: the TMS bit of a '4'-'7' byte is 2), whether the
# state shifts, whether entering it acts.
NEXT_BY_TMS: tuple[tuple[int, ...], ...] = (
    tuple(n[0] for n in NEXT_INT),
    (),
    tuple(n[1] for n in NEXT_INT),
)
SHIFTS: tuple[bool, ...] = tuple(s in (SHIFT_DR, SHIFT_IR) for s in range(len(State)))
ACTS: tuple[bool, ...] = tuple(s in ACTIONS for s in range(len(State)))


class Tap:
    """One TAP (IR length 5) holding the RISC-V DTM in front of ``dmi``."""

    def __init__(self, dmi: Dmi, idcode: int) -> None:
        self.dmi = dmi
        self.idcode = idcode
        self.state = RESET
        self.ir = IR_IDCODE
        self.shift = 0
        self.length = 32
        # The bit TDI enters at while shifting (1 << (length - 1)).
        self.top = 1 << 31
        self.tck = False
        # The DMI result the next capture returns: the address and data of the last access.
        self.dmi_address = 0
        self.dmi_data = 0

    def reset(self) -> None:
        """Test-Logic-Reset (a new connection or TRST)."""
        self.state = RESET
        self.ir = IR_IDCODE
        self.tck = False

    def tdo(self) -> int:
        """The TDO pin."""
        if self.state == SHIFT_DR or self.state == SHIFT_IR:
            return self.shift & 1
        return 0

    def clock(self, tck: bool, tms: bool, tdi: bool) -> None:
        """Set the pins; a rising edge of TCK advances the TAP."""
        if tck and not self.tck:
            self.rise(tms, tdi)
        self.tck = tck

    def rise(self, tms: int, tdi: int) -> None:
        """A rising edge of TCK with TMS and TDI as given (any true value is 1)."""
        state = self.state
        if state in (SHIFT_DR, SHIFT_IR):
            self.shift >>= 1
            if tdi:
                self.shift |= self.top
        state = NEXT_INT[state][1 if tms else 0]
        self.state = state
        if state in ACTIONS:
            self._enter(state)

    def _set_shift(self, value: int, length: int) -> None:
        self.shift, self.length, self.top = value, length, 1 << (length - 1)

    def enter(self, state: int) -> None:
        """The TAP has just entered ``state`` (one of :data:`ACTIONS`): capture, update or reset."""
        self._enter(state)

    def _enter(self, state: int) -> None:
        if state == CAPTURE_DR:
            self._capture_dr()
        elif state == UPDATE_DR:
            self._update_dr()
        elif state == CAPTURE_IR:
            self._set_shift(0b00001, IR_LENGTH)
        elif state == UPDATE_IR:
            self.ir = self.shift & ((1 << IR_LENGTH) - 1)
        else:  # RESET
            self.ir = IR_IDCODE

    def _capture_dr(self) -> None:
        ir = self.ir
        if ir == IR_IDCODE:
            self._set_shift(self.idcode, 32)
        elif ir == IR_DTMCS:
            self._set_shift(DTM_IDLE << 12 | DMI_ABITS << 4 | DTM_VERSION_013, 32)
        elif ir == IR_DMI:
            self._set_shift(self.dmi_address << 34 | self.dmi_data << 2, DMI_ABITS + 34)
        else:
            self._set_shift(0, 1)

    def _update_dr(self) -> None:
        if self.ir != IR_DMI:
            return  # dtmcs writes (dmireset, dmihardreset) have nothing to clear
        value = self.shift
        op = value & 3
        data = value >> 2 & 0xFFFFFFFF
        address = value >> 34 & ((1 << DMI_ABITS) - 1)
        if op == DMI_OP_READ:
            self.dmi_address, self.dmi_data = address, self.dmi.dmi_read(address)
        elif op == DMI_OP_WRITE:
            self.dmi.dmi_write(address, data)
            self.dmi_address, self.dmi_data = address, data
