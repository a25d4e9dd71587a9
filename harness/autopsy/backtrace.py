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
from dataclasses import replace
from typing import Protocol

from harness.autopsy.model import Frame, HartState, Location

# Frames walked at most: enough for any real call chain, bounded for a corrupt one.
MAX_FRAMES = 24
# A frame larger than this is not a frame: the pointer is garbage.
MAX_FRAME = 1 << 20


class Memory(Protocol):
    """Reads memory as a hart sees it (a :class:`~harness.probes.backend.Probe`)."""

    def read_memory(self, hart: int, address: int, size: int) -> bytes | None:
        """``size`` bytes at ``address``, or ``None``."""


class Deadline(Protocol):
    """Says when to stop (a :class:`~harness.probes.backend.Request`)."""

    def expired(self) -> bool:
        """True once there is no time left."""


def backtrace(
    memory: Memory, state: HartState, locate: Callable[[int], Location | None], deadline: Deadline
) -> tuple[Frame, ...]:
    """The callers of the hart's current function, innermost first (its own pc is not repeated).

    Only where the pc lies in a known symbol file: an unknown image is not assumed to keep
    frame pointers. A leaf function keeps no frame of its own: while ``ra`` points into another
    function than the pc's, that function is the first caller (the frame chain then starts at
    its caller). A return address outside the files' code ends the walk (the outermost frame's
    saved ``ra`` is whatever the boot code left there).
    """
    here = locate(state.pc)
    if here is None:
        return ()
    frames: list[Frame] = []
    ra_where = caller_location(state.ra, locate)
    if ra_where is not None and ra_where.code and ra_where.function != here.function:
        frames.append(Frame(state.ra, ra_where))
    fp = state.fp
    previous = state.sp
    first = True
    while len(frames) < MAX_FRAMES:
        if deadline.expired():
            frames.append(Frame(0, unreadable="out of time"))
            break
        if fp == 0 or fp & 7 or not previous <= fp <= previous + MAX_FRAME:
            break  # s0 is 0 or leaves the stack: the outermost frame, or code without frame pointers
        data = memory.read_memory(state.hart, fp - 16, 16)
        if data is None or len(data) != 16:
            frames.append(Frame(0, unreadable=f"frame at {fp - 16:#x} cannot be read"))
            break
        caller_fp, ra = struct.unpack("<QQ", data)
        if first and _on_stack(ra, fp):
            # A leaf that saved only s0 (Linux's arch_cpu_idle): fp - 8 holds the caller's frame
            # pointer, not a return address, and the caller is in ra (as walk_stackframe does).
            first, previous, fp = False, fp, ra
            if not frames and ra_where is not None:
                frames.append(Frame(state.ra, ra_where))
            continue
        first = False
        where = caller_location(ra, locate)
        if ra == 0 or where is None or not where.code:
            break
        if not frames or frames[-1].pc != ra:
            frames.append(Frame(ra, where))
        previous, fp = fp, caller_fp
    return tuple(frames)


def caller_location(ra: int, locate: Callable[[int], Location | None]) -> Location | None:
    """Where the call that returns to ``ra`` is: looked up at ``ra - 1``, as addr2line does, since
    a call to a function that never returns can be the last instruction of its function."""
    where = locate(ra - 1)
    return None if where is None else replace(where, offset=where.offset + 1)


def _on_stack(value: int, fp: int) -> bool:
    """``value`` looks like a frame pointer further up the stack than ``fp``."""
    return not value & 7 and fp < value <= fp + MAX_FRAME
