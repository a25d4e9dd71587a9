"""The frame-pointer walk over scripted memory: full frames, a leaf that saved only s0 (as Linux's
arch_cpu_idle), a leaf with no frame, and a frame that cannot be read."""

from __future__ import annotations

import struct

from harness.autopsy.backtrace import backtrace
from harness.autopsy.model import HartState, Location, Privilege, TrapCsrs

# Functions by address: idle (leaf) < 0x1100 <= caller < 0x1200 <= outer < 0x1300.
NAMES = ((0x1000, "idle"), (0x1100, "caller"), (0x1200, "outer"))


def locate(address: int) -> Location | None:
    for start, name in reversed(NAMES):
        if start <= address < 0x1300:
            return Location("k", name, address - start)
    return None


class Memory:
    def __init__(self, words: dict[int, int]) -> None:
        self.words = words

    def read_memory(self, hart: int, address: int, size: int) -> bytes | None:
        if address not in self.words or address + 8 not in self.words:
            return None
        return struct.pack("<QQ", self.words[address], self.words[address + 8])


class Never:
    def expired(self) -> bool:
        return False


def state(pc: int, ra: int, sp: int, fp: int) -> HartState:
    return HartState(
        hart=0, mode=Privilege.S, pc=pc, ra=ra, sp=sp, fp=fp, wfi=True, mstatus=0, mip=0, mie=0, satp=0,
        m_trap=TrapCsrs(0, 0, 0),
    )  # fmt: skip


def names(frames: tuple[object, ...]) -> list[str]:
    return [str(getattr(f, "where", None) or getattr(f, "unreadable", "")) for f in frames]


def test_full_frames_are_walked_to_the_outermost() -> None:
    # caller's frame at 0x8100 (ra into outer), outer's at 0x8200 (fp 0: the end).
    memory = Memory({0x80F0: 0x8200, 0x80F8: 0x1208, 0x81F0: 0, 0x81F8: 0x9999})
    frames = backtrace(memory, state(pc=0x1110, ra=0x1110, sp=0x80E0, fp=0x8100), locate, Never())
    assert names(frames) == ["outer+0x8"]


def test_a_leaf_that_saved_only_its_frame_pointer_takes_ra_as_its_caller() -> None:
    # idle's 16-byte frame at 0x8000 holds only the caller's s0 (0x8100) at fp - 8.
    memory = Memory({0x7FF0: 0xDEAD, 0x7FF8: 0x8100, 0x80F0: 0x8200, 0x80F8: 0x1208, 0x81F0: 0, 0x81F8: 0})
    frames = backtrace(memory, state(pc=0x1004, ra=0x1120, sp=0x7FF0, fp=0x8000), locate, Never())
    assert names(frames) == ["caller+0x20", "outer+0x8"]


def test_an_unreadable_frame_ends_the_walk_with_a_note() -> None:
    frames = backtrace(Memory({}), state(pc=0x1110, ra=0x1110, sp=0x80E0, fp=0x8100), locate, Never())
    assert names(frames) == ["frame at 0x80f0 cannot be read"]


def test_no_walk_where_no_symbol_file_covers_the_pc() -> None:
    assert backtrace(Memory({}), state(pc=0x5000, ra=0, sp=0x80E0, fp=0x8100), locate, Never()) == ()
