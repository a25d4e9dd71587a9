"""What a spinning hart's loop reads, from its instructions: is it waiting on another hart?

Two harts that spin while no hart runs are a deadlock only if each waits on something another
can change: a loop that reads memory (a load, ``lr`` or an AMO through any register but ``sp``)
may be waiting on another hart; a loop that reads nothing but its own stack (``for (;;)
cpu_relax();``, a ``volatile`` counter on the stack) waits for nobody. The loop is found from
the sampled pcs: decoding forward from the lowest, the first backward branch or jump whose body
(from its target to it, with the functions the body calls directly, up to their return) holds
every sampled pc closes it. Only the instruction formats that decide this are decoded (RV64GC's
loads, AMOs, branches, jumps, calls, returns and ``ecall``); anything else is just its length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum, auto

from harness.autopsy.model import LoopReads

# A loop whose sampled pcs spread wider than this is not decoded (a spin is a few instructions).
MAX_LOOP = 1024
# How far past the highest sampled pc the closing branch is looked for, and how much of a
# called function is read for its return.
REACH = 64
SP = 2

ReadCode = Callable[[int, int], bytes | None]


class Effect(Enum):
    """What one instruction does that matters to a loop."""

    OTHER = auto()
    READ = auto()  # reads memory through a register other than sp
    STACK = auto()  # reads memory through sp
    CALL = auto()  # jal/jalr that links (a jal with its target), c.jalr, ecall
    JUMP = auto()  # a branch or a jump that does not link, with a known target
    RETURN = auto()  # jalr/c.jr that does not link: a return (or an indirect jump away)


@dataclass(frozen=True)
class Instruction:
    """One decoded instruction: its address, length, effect and (for a jump) target."""

    address: int
    size: int
    effect: Effect
    target: int | None = None


def _bits(word: int, high: int, low: int) -> int:
    return word >> low & ((1 << (high - low + 1)) - 1)


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) & 1 else value


def decode(address: int, word: int) -> Instruction:
    """The instruction at ``address`` whose first (low) bytes are ``word`` (4 bytes, little-endian)."""
    if word & 3 != 3:
        return _compressed(address, word & 0xFFFF)
    opcode = word & 0x7F
    rd, rs1 = _bits(word, 11, 7), _bits(word, 19, 15)
    if opcode in (0x03, 0x07, 0x2F):  # LOAD, LOAD-FP, AMO (lr and every AMO read memory)
        return Instruction(address, 4, Effect.STACK if rs1 == SP else Effect.READ)
    if opcode == 0x63:  # BRANCH
        imm = _bits(word, 31, 31) << 12 | _bits(word, 7, 7) << 11 | _bits(word, 30, 25) << 5 | _bits(word, 11, 8) << 1
        return Instruction(address, 4, Effect.JUMP, address + _signed(imm, 13))
    if opcode == 0x6F:  # JAL
        imm = (
            _bits(word, 31, 31) << 20 | _bits(word, 19, 12) << 12 | _bits(word, 20, 20) << 11 | _bits(word, 30, 21) << 1
        )
        return Instruction(address, 4, Effect.CALL if rd else Effect.JUMP, address + _signed(imm, 21))
    if opcode == 0x67:  # JALR: a call when it links; otherwise a return or an indirect jump out
        return Instruction(address, 4, Effect.CALL if rd else Effect.RETURN)
    if opcode == 0x73 and word >> 7 == 0:  # ecall
        return Instruction(address, 4, Effect.CALL)
    return Instruction(address, 4, Effect.OTHER)


def _compressed(address: int, half: int) -> Instruction:
    quadrant, funct3 = half & 3, half >> 13
    if quadrant == 0 and funct3 in (1, 2, 3):  # c.fld, c.lw, c.ld: rs1' is never sp
        return Instruction(address, 2, Effect.READ)
    if quadrant == 2 and funct3 in (1, 2, 3):  # c.fldsp, c.lwsp, c.ldsp
        return Instruction(address, 2, Effect.STACK)
    if quadrant == 1 and funct3 == 5:  # c.j
        imm = (
            _bits(half, 12, 12) << 11
            | _bits(half, 11, 11) << 4
            | _bits(half, 10, 9) << 8
            | _bits(half, 8, 8) << 10
            | _bits(half, 7, 7) << 6
            | _bits(half, 6, 6) << 7
            | _bits(half, 5, 3) << 1
            | _bits(half, 2, 2) << 5
        )
        return Instruction(address, 2, Effect.JUMP, address + _signed(imm, 12))
    if quadrant == 1 and funct3 in (6, 7):  # c.beqz, c.bnez
        imm = (
            _bits(half, 12, 12) << 8
            | _bits(half, 11, 10) << 3
            | _bits(half, 6, 5) << 6
            | _bits(half, 4, 3) << 1
            | _bits(half, 2, 2) << 5
        )
        return Instruction(address, 2, Effect.JUMP, address + _signed(imm, 9))
    if quadrant == 2 and funct3 == 4 and _bits(half, 11, 7) and not _bits(half, 6, 2):
        return Instruction(address, 2, Effect.CALL if _bits(half, 12, 12) else Effect.RETURN)  # c.jalr, c.jr
    return Instruction(address, 2, Effect.OTHER)


def instructions(code: bytes, base: int) -> Iterator[Instruction]:
    """Decode ``code`` (loaded at ``base``) from its start; a cut last instruction ends it."""
    offset = 0
    while offset + 2 <= len(code):
        word = int.from_bytes(code[offset : offset + 4].ljust(4, b"\0"), "little")
        insn = decode(base + offset, word)
        if offset + insn.size > len(code):
            return
        yield insn
        offset += insn.size


def loop_reads(read: ReadCode, pcs: Sequence[int]) -> LoopReads:
    """What the loop through ``pcs`` (a spinning hart's sampled pcs) reads, from memory's code."""
    if not pcs:
        return LoopReads.UNKNOWN
    low, high = min(pcs), max(pcs)
    if high - low > MAX_LOOP:
        return LoopReads.UNKNOWN
    code = read(low, high - low + REACH)
    if not code:
        return LoopReads.UNKNOWN
    for closing in instructions(code, low):
        target = closing.target
        if closing.effect is not Effect.JUMP or target is None or target > closing.address:
            continue
        if low - target > MAX_LOOP:
            continue
        body = _span(read, target, closing.address + closing.size)
        if body is None:
            continue
        ranges = [(target, closing.address)]
        effects: set[Effect] = set()
        for insn in body:
            if insn.effect is Effect.CALL and insn.target is not None:
                # A function the loop calls (cpu_relax out of line, a poll): its body up to its
                # return is part of the loop, as are samples taken in it.
                callee = _callee(read, insn.target)
                if callee is None:
                    effects.add(Effect.CALL)
                    continue
                ranges.append((insn.target, callee[-1].address))
                effects.update(i.effect for i in callee)
            else:
                effects.add(insn.effect)
        if all(any(start <= pc <= end for start, end in ranges) for pc in pcs):
            return _reads(effects)
    return LoopReads.UNKNOWN


def _span(read: ReadCode, start: int, end: int) -> list[Instruction] | None:
    """The instructions from ``start`` to ``end`` (exclusive), or ``None`` when unreadable."""
    code = read(start, end - start)
    if not code or len(code) < end - start:
        return None
    return list(instructions(code, start))


def _callee(read: ReadCode, start: int) -> list[Instruction] | None:
    """A called function from its entry to its first return, within :data:`REACH` bytes; ``None``
    when it is unreadable, returns later, or calls on (then what it waits on is out of sight)."""
    code = read(start, REACH)
    if not code:
        return None
    body: list[Instruction] = []
    for insn in instructions(code, start):
        if insn.effect is Effect.CALL:
            return None
        body.append(insn)
        if insn.effect is Effect.RETURN:
            return body
    return None


def _reads(effects: set[Effect]) -> LoopReads:
    if Effect.READ in effects:
        return LoopReads.MEMORY
    if Effect.CALL in effects:
        return LoopReads.CALLS
    return LoopReads.NOTHING
