"""What a spinning hart's loop waits on, from its instructions: is it waiting on another hart?

Two harts that spin while no hart runs are a deadlock only if each waits on something another
can change. What a loop waits on is what its exits test: a loop whose exit tests a value read
from memory through any register but ``sp`` (a lock word, a flag) waits on another hart or a
device; a loop with no exit (``for (;;) cpu_relax();``, a ``volatile`` counter on the stack)
waits for nothing; one whose exits test only registers, its stack or CSRs (a count, the clock)
waits on no hart.

The loop is found from the sampled pcs: decoding forward from the lowest, the first backward
branch or jump whose body (from its target to it, with the functions it calls directly, each
followed to its last return) holds every sampled pc closes it. Its exits are the conditional
branches that leave it (the closing branch's fall-through among them); the values they test are
followed through the body twice (a value read in one iteration is tested in the next). Only the
formats that decide this are decoded (RV64GC's loads, AMOs, integer arithmetic, CSR reads,
branches, jumps, calls and returns); anything else is just its length and writes nothing tracked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum, auto

from harness.autopsy.model import LoopWait

# A loop whose sampled pcs spread wider than this is not decoded (a spin is a few instructions).
MAX_LOOP = 1024
# How far past the highest sampled pc the closing branch is looked for, and how much of a
# called function is read.
REACH = 128
SP = 2

ReadCode = Callable[[int, int], bytes | None]


class Effect(Enum):
    """What one instruction does that matters to a loop."""

    OTHER = auto()
    READ = auto()  # reads memory through a register other than sp
    STACK = auto()  # reads memory through sp
    CSR = auto()  # reads a CSR (the clock, mip)
    CALL = auto()  # jal/jalr that links (a jal with its target), c.jalr, ecall
    JUMP = auto()  # a jump that does not link, with its target
    BRANCH = auto()  # a conditional branch, with its target
    RETURN = auto()  # jalr/c.jr that does not link: a return (or an indirect jump away)


@dataclass(frozen=True)
class Instruction:
    """One decoded instruction: address, length, effect, target (jumps, branches and direct
    calls), the integer register it writes (``None``: none tracked) and the ones it reads."""

    address: int
    size: int
    effect: Effect
    target: int | None = None
    rd: int | None = None
    sources: tuple[int, ...] = ()


def _bits(word: int, high: int, low: int) -> int:
    return word >> low & ((1 << (high - low + 1)) - 1)


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) & 1 else value


def decode(address: int, word: int) -> Instruction:
    """The instruction at ``address`` whose first (low) bytes are ``word`` (4 bytes, little-endian)."""
    if word & 3 != 3:
        return _compressed(address, word & 0xFFFF)
    opcode = word & 0x7F
    rd, rs1, rs2 = _bits(word, 11, 7), _bits(word, 19, 15), _bits(word, 24, 20)
    if opcode == 0x03:  # LOAD
        return Instruction(address, 4, Effect.STACK if rs1 == SP else Effect.READ, rd=rd, sources=(rs1,))
    if opcode == 0x07:  # LOAD-FP: the value goes to an FP register, which is not tracked
        return Instruction(address, 4, Effect.STACK if rs1 == SP else Effect.READ)
    if opcode == 0x2F:  # AMO (lr and every AMO read memory)
        return Instruction(address, 4, Effect.READ, rd=rd, sources=(rs1, rs2))
    if opcode in (0x13, 0x1B):  # OP-IMM, OP-IMM-32
        return Instruction(address, 4, Effect.OTHER, rd=rd, sources=(rs1,))
    if opcode in (0x33, 0x3B):  # OP, OP-32 (M included)
        return Instruction(address, 4, Effect.OTHER, rd=rd, sources=(rs1, rs2))
    if opcode in (0x37, 0x17):  # LUI, AUIPC
        return Instruction(address, 4, Effect.OTHER, rd=rd)
    if opcode == 0x63:  # BRANCH
        imm = _bits(word, 31, 31) << 12 | _bits(word, 7, 7) << 11 | _bits(word, 30, 25) << 5 | _bits(word, 11, 8) << 1
        return Instruction(address, 4, Effect.BRANCH, address + _signed(imm, 13), sources=(rs1, rs2))
    if opcode == 0x6F:  # JAL
        imm = (
            _bits(word, 31, 31) << 20 | _bits(word, 19, 12) << 12 | _bits(word, 20, 20) << 11 | _bits(word, 30, 21) << 1
        )
        return Instruction(address, 4, Effect.CALL if rd else Effect.JUMP, address + _signed(imm, 21), rd=rd)
    if opcode == 0x67:  # JALR: a call when it links; otherwise a return or an indirect jump out
        return Instruction(address, 4, Effect.CALL if rd else Effect.RETURN, rd=rd)
    if opcode == 0x73:
        funct3 = _bits(word, 14, 12)
        if funct3 == 0:
            return Instruction(address, 4, Effect.CALL if word >> 7 == 0 else Effect.OTHER)  # ecall; wfi, ...
        if funct3 != 4:  # csrrw/s/c and their immediate forms: rd gets the CSR
            return Instruction(address, 4, Effect.CSR, rd=rd)
    return Instruction(address, 4, Effect.OTHER)


def _compressed(address: int, half: int) -> Instruction:
    quadrant, funct3 = half & 3, half >> 13
    rd, rs2 = _bits(half, 11, 7), _bits(half, 6, 2)
    rd_, rs1_, rs2_ = 8 + _bits(half, 4, 2), 8 + _bits(half, 9, 7), 8 + _bits(half, 4, 2)
    if quadrant == 0:
        if funct3 == 0:  # c.addi4spn
            return Instruction(address, 2, Effect.OTHER, rd=rd_, sources=(SP,))
        if funct3 == 1:  # c.fld
            return Instruction(address, 2, Effect.READ)
        if funct3 in (2, 3):  # c.lw, c.ld: rs1' is never sp
            return Instruction(address, 2, Effect.READ, rd=rd_, sources=(rs1_,))
        return Instruction(address, 2, Effect.OTHER)  # stores
    if quadrant == 1:
        if funct3 in (0, 1):  # c.addi, c.addiw
            return Instruction(address, 2, Effect.OTHER, rd=rd, sources=(rd,))
        if funct3 in (2, 3):  # c.li, c.lui, c.addi16sp (sp from sp)
            return Instruction(address, 2, Effect.OTHER, rd=rd, sources=(SP,) if rd == SP else ())
        if funct3 == 4:
            if _bits(half, 11, 10) != 3:  # c.srli, c.srai, c.andi
                return Instruction(address, 2, Effect.OTHER, rd=rs1_, sources=(rs1_,))
            return Instruction(address, 2, Effect.OTHER, rd=rs1_, sources=(rs1_, rs2_))  # c.sub ... c.addw
        if funct3 == 5:  # c.j
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
        imm = (  # c.beqz, c.bnez
            _bits(half, 12, 12) << 8
            | _bits(half, 11, 10) << 3
            | _bits(half, 6, 5) << 6
            | _bits(half, 4, 3) << 1
            | _bits(half, 2, 2) << 5
        )
        return Instruction(address, 2, Effect.BRANCH, address + _signed(imm, 9), sources=(rs1_,))
    if quadrant == 2:
        if funct3 == 0:  # c.slli
            return Instruction(address, 2, Effect.OTHER, rd=rd, sources=(rd,))
        if funct3 == 1:  # c.fldsp
            return Instruction(address, 2, Effect.STACK)
        if funct3 in (2, 3):  # c.lwsp, c.ldsp
            return Instruction(address, 2, Effect.STACK, rd=rd, sources=(SP,))
        if funct3 == 4:
            link = _bits(half, 12, 12)
            if rs2 == 0 and rd:  # c.jr, c.jalr
                return Instruction(address, 2, Effect.CALL if link else Effect.RETURN, rd=1 if link else None)
            if rs2:  # c.mv, c.add
                return Instruction(address, 2, Effect.OTHER, rd=rd, sources=(rd, rs2) if link else (rs2,))
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


def loop_wait(read: ReadCode, pcs: Sequence[int], ra: int | None = None) -> LoopWait:
    """What the loop through ``pcs`` (a spinning hart's sampled pcs) waits on, from memory's code.

    When every sample fell in a function the loop calls (``cpu_relax``), the loop is looked for
    again with ``ra`` too, the return address into the caller's loop.
    """
    cached = _Cached(read)
    found = _loop_wait(cached, pcs)
    if found is LoopWait.UNKNOWN and pcs and ra is not None:
        return _loop_wait(cached, [*pcs, ra])
    return found


class _Cached:
    """Memory reads served from the windows already read where they lie inside one: a read
    over JTAG costs milliseconds, and the candidates for a loop's body overlap."""

    def __init__(self, read: ReadCode) -> None:
        self.read = read
        self.windows: list[tuple[int, bytes]] = []

    def __call__(self, address: int, size: int) -> bytes | None:
        for start, data in self.windows:
            if start <= address and address + size <= start + len(data):
                return data[address - start : address - start + size]
        read = self.read(address, size)
        if read:
            self.windows.append((address, read))
        return read


@dataclass(frozen=True)
class _Loop:
    """A loop's instructions in execution order (callees inline after their call) and the
    address ranges it covers (its body, then each callee)."""

    order: tuple[Instruction, ...]
    ranges: tuple[tuple[int, int], ...]
    closing: Instruction
    callees: frozenset[int]  # addresses of instructions inside called functions


def _loop_wait(read: ReadCode, pcs: Sequence[int]) -> LoopWait:
    if not pcs:
        return LoopWait.UNKNOWN
    low, high = min(pcs), max(pcs)
    if high - low > MAX_LOOP:
        return LoopWait.UNKNOWN
    code = read(low, high - low + REACH)
    if not code:
        return LoopWait.UNKNOWN
    for closing in instructions(code, low):
        target = closing.target
        if closing.effect not in (Effect.JUMP, Effect.BRANCH) or target is None or target > closing.address:
            continue
        if low - target > MAX_LOOP:
            continue
        loop = _follow(read, target, closing)
        if loop is not None and all(any(a <= pc <= b for a, b in loop.ranges) for pc in pcs):
            found = _waits(loop)
            if found is not LoopWait.UNKNOWN:
                return found  # else an outer loop may still close around these samples
    return LoopWait.UNKNOWN


def _follow(read: ReadCode, start: int, closing: Instruction) -> _Loop | None:
    """The loop from ``start`` to ``closing`` with its direct callees; ``None`` when unreadable,
    or when it calls what cannot be followed (then its waits are out of sight: unknown)."""
    body = _span(read, start, closing.address + closing.size)
    if body is None:
        return None
    order: list[Instruction] = []
    ranges = [(start, closing.address)]
    inside: set[int] = set()
    for insn in body:
        order.append(insn)
        if insn.effect is Effect.CALL:
            callee = None if insn.target is None else _callee(read, insn.target)
            if callee is None:
                return None
            ranges.append((callee[0].address, callee[-1].address))
            order.extend(callee)
            inside.update(i.address for i in callee)
    return _Loop(tuple(order), tuple(ranges), closing, frozenset(inside))


def _span(read: ReadCode, start: int, end: int) -> list[Instruction] | None:
    """The instructions from ``start`` to ``end`` (exclusive), or ``None`` when unreadable."""
    code = read(start, end - start)
    if not code or len(code) < end - start:
        return None
    return list(instructions(code, start))


def _callee(read: ReadCode, start: int) -> list[Instruction] | None:
    """A called function from its entry to its last return or jump, within :data:`REACH` bytes:
    a return is its end only when no branch in it goes further (``cpu_relax`` returns, then
    has its ``pause`` path after). ``None`` when it is unreadable, longer, or calls on."""
    code = read(start, REACH)
    if not code:
        return None
    body: list[Instruction] = []
    furthest = start
    for insn in instructions(code, start):
        if insn.effect is Effect.CALL:
            return None
        body.append(insn)
        if insn.effect in (Effect.BRANCH, Effect.JUMP) and insn.target is not None:
            furthest = max(furthest, insn.target)
        if insn.effect in (Effect.RETURN, Effect.JUMP) and insn.address >= furthest:
            return body
    return None


def _waits(loop: _Loop) -> LoopWait:
    """What the loop's exits test, following values from loads through arithmetic (twice round,
    for a value read in one iteration and tested in the next)."""
    memory: set[int] = set()  # registers holding (something computed from) a value read from memory

    def within(address: int) -> bool:
        return any(a <= address <= b for a, b in loop.ranges)

    exits: list[bool] = []  # per exit: does it test memory's value
    for lap in range(2):
        for insn in loop.order:
            own = insn.address not in loop.callees
            leaves = insn.target is not None and not within(insn.target)
            if insn.effect is Effect.BRANCH and (leaves or (own and insn.address == loop.closing.address)):
                if lap:
                    exits.append(any(r in memory for r in insn.sources))
            elif own and (insn.effect is Effect.RETURN or (insn.effect is Effect.JUMP and leaves)):
                return LoopWait.UNKNOWN  # a return or a jump out of the middle: the body is not straight
            if insn.rd:
                if insn.effect is Effect.READ or any(r in memory for r in insn.sources):
                    memory.add(insn.rd)
                else:
                    memory.discard(insn.rd)
    if not exits:
        return LoopWait.NOTHING
    return LoopWait.MEMORY if any(exits) else LoopWait.REGISTERS
