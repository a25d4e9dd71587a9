"""A backtrace by frame pointers, read through the backend's memory access.

Code built with frame pointers (the RISC-V psABI's ``-fno-omit-frame-pointer``: Linux with
``CONFIG_FRAME_POINTER``, qsoe-sim) keeps, below each frame's ``s0``, the caller's ``s0`` at
``s0 - 16`` and the return address at ``s0 - 8``: the walk Linux's own ``walk_stackframe`` does.
A frame that cannot be read, or a pointer that does not lead up the stack, ends the walk with
a frame saying why, never an error.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Protocol

from harness.autopsy.model import Frame, HartState, Location

# Frames walked at most: enough for any real call chain, bounded for a corrupt one.
MAX_FRAMES = 24
# A frame larger than this is not a frame: the pointer is garbage.
MAX_FRAME = 1 << 20


class Memory(Protocol):
    """Reads memory as a hart sees it (a :class:`~harness.autopsy.backend.Probe`)."""

    def read_memory(self, hart: int, address: int, size: int) -> bytes | None:
        """``size`` bytes at ``address``, or ``None``."""


class Deadline(Protocol):
    """Says when to stop (a :class:`~harness.autopsy.backend.Request`)."""

    def expired(self) -> bool:
        """True once there is no time left."""


def backtrace(
    memory: Memory, state: HartState, locate: Callable[[int], Location | None], deadline: Deadline
) -> tuple[Frame, ...]:
    """The callers of the hart's current function, innermost first (its own pc is not repeated).

    Only where the pc lies in a known symbol file: an unknown image is not assumed to keep
    frame pointers.
    """
    if locate(state.pc) is None:
        return ()
    frames: list[Frame] = []
    fp = state.fp
    previous = state.sp
    while len(frames) < MAX_FRAMES:
        if deadline.expired():
            frames.append(Frame(0, unreadable="out of time"))
            break
        if fp == 0 or fp & 7 or not previous <= fp <= previous + MAX_FRAME:
            if frames:
                break  # the outermost frame's s0 is 0 or leaves the stack: the walk is done
            frames.append(Frame(state.ra, locate(state.ra)))  # a leaf: ra still holds its caller
            break
        data = memory.read_memory(state.hart, fp - 16, 16)
        if data is None or len(data) != 16:
            frames.append(Frame(0, unreadable=f"frame at {fp - 16:#x} cannot be read"))
            break
        caller_fp, ra = struct.unpack("<QQ", data)
        if ra == 0:
            break
        frames.append(Frame(ra, locate(ra)))
        previous, fp = fp, caller_fp
    return tuple(frames)
