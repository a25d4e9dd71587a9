"""RV64GC instructions as far as a loop's analysis needs them (:mod:`harness.autopsy.loops`).

Only what decides what a loop waits on is decoded: which register an instruction writes and
which it reads (integer registers 0-31, floating-point ones 32-63), whether it reads memory and
through which register, and where a branch, jump or call goes. Anything else is its length and
writes nothing. The emulator has a decoder of its own; the autopsy runs against QEMU and real
boards too and must not import the emulator (package layers, tests/test_layers.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum, auto

# The stack pointer and the frame pointer (s0), and the first floating-point register's number
# here (f0 is 32).
SP = 2
FP = 8
FP_BASE = 32
# OP-FP's funct5 values whose rd is an integer register (feq/flt/fle, fcvt.w/l, fmv.x/fclass),
# and those whose rs1 is one (fcvt.s/d from an integer, fmv.w/d.x).
_FP_TO_INT = frozenset({0x14, 0x18, 0x1C})
_INT_TO_FP = frozenset({0x1A, 0x1E})


class Effect(Enum):
    """What one instruction does that matters to a loop."""

    OTHER = auto()
    READ = auto()  # reads memory (a load, lr, an AMO) through ``base``
    WRITE = auto()  # stores its source register through ``base``
    CSR = auto()  # reads a CSR (the clock, mip)
    CALL = auto()  # jal/jalr that links (a jal with its target), c.jalr, ecall
    JUMP = auto()  # a jump that does not link, with its target
    BRANCH = auto()  # a conditional branch, with its target
    RETURN = auto()  # jalr/c.jr that does not link: a return (or an indirect jump away)


@dataclass(frozen=True)
class Instruction:
    """One decoded instruction: address, length, effect, target (jumps, branches and direct
    calls), the register it writes (``None``: none), the ones it reads, and a memory access's
    address register (``base``) and offset from it."""

    address: int
    size: int
    effect: Effect
    target: int | None = None
    rd: int | None = None
    sources: tuple[int, ...] = ()
    base: int | None = None
    offset: int = 0


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
        return Instruction(address, 4, Effect.READ, rd=rd, sources=(rs1,), base=rs1, offset=_signed(word >> 20, 12))
    if opcode == 0x07:  # LOAD-FP
        offset = _signed(word >> 20, 12)
        return Instruction(address, 4, Effect.READ, rd=FP_BASE + rd, sources=(rs1,), base=rs1, offset=offset)
    if opcode == 0x2F:  # AMO (lr and every AMO read memory)
        return Instruction(address, 4, Effect.READ, rd=rd, sources=(rs1, rs2), base=rs1)
    if opcode in (0x23, 0x27):  # STORE, STORE-FP
        offset = _signed(_bits(word, 31, 25) << 5 | rd, 12)
        value = rs2 if opcode == 0x23 else FP_BASE + rs2
        return Instruction(address, 4, Effect.WRITE, sources=(value,), base=rs1, offset=offset)
    if opcode in (0x13, 0x1B):  # OP-IMM, OP-IMM-32
        return Instruction(address, 4, Effect.OTHER, rd=rd, sources=(rs1,))
    if opcode in (0x33, 0x3B):  # OP, OP-32 (M included)
        return Instruction(address, 4, Effect.OTHER, rd=rd, sources=(rs1, rs2))
    if opcode in (0x37, 0x17):  # LUI, AUIPC
        return Instruction(address, 4, Effect.OTHER, rd=rd)
    if opcode == 0x53:  # OP-FP
        funct5 = word >> 27
        target = rd if funct5 in _FP_TO_INT else FP_BASE + rd
        sources = (rs1,) if funct5 in _INT_TO_FP else (FP_BASE + rs1, FP_BASE + rs2)
        return Instruction(address, 4, Effect.OTHER, rd=target, sources=sources)
    if opcode in (0x43, 0x47, 0x4B, 0x4F):  # the fused multiply-adds
        rs3 = word >> 27
        return Instruction(
            address, 4, Effect.OTHER, rd=FP_BASE + rd, sources=tuple(FP_BASE + r for r in (rs1, rs2, rs3))
        )
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
    """A 16-bit instruction, by quadrant and funct3 (the C extension's formats CIW, CL, CI, CB,
    CA, CJ and CR: a primed register is 8 + its 3-bit field)."""
    quadrant, funct3 = half & 3, half >> 13
    rd, rs2 = _bits(half, 11, 7), _bits(half, 6, 2)
    rd_, rs1_, rs2_ = 8 + _bits(half, 4, 2), 8 + _bits(half, 9, 7), 8 + _bits(half, 4, 2)
    if quadrant == 0:
        if funct3 == 0:  # c.addi4spn
            return Instruction(address, 2, Effect.OTHER, rd=rd_, sources=(SP,))
        # CL/CS offsets: a word's [5:3|2|6] from bits 12:10, 6, 5; a double's [5:3|7:6] from 12:10, 6:5.
        word_offset = _bits(half, 12, 10) << 3 | _bits(half, 6, 6) << 2 | _bits(half, 5, 5) << 6
        double_offset = _bits(half, 12, 10) << 3 | _bits(half, 6, 5) << 6
        offset = word_offset if funct3 in (2, 6) else double_offset
        if funct3 == 1:  # c.fld
            return Instruction(address, 2, Effect.READ, rd=FP_BASE + rd_, sources=(rs1_,), base=rs1_, offset=offset)
        if funct3 in (2, 3):  # c.lw, c.ld
            return Instruction(address, 2, Effect.READ, rd=rd_, sources=(rs1_,), base=rs1_, offset=offset)
        if funct3 == 5:  # c.fsd
            return Instruction(address, 2, Effect.WRITE, sources=(FP_BASE + rs2_,), base=rs1_, offset=offset)
        if funct3 in (6, 7):  # c.sw, c.sd
            return Instruction(address, 2, Effect.WRITE, sources=(rs2_,), base=rs1_, offset=offset)
        return Instruction(address, 2, Effect.OTHER)
    if quadrant == 1:
        if funct3 in (0, 1):  # c.addi, c.addiw
            return Instruction(address, 2, Effect.OTHER, rd=rd, sources=(rd,))
        if funct3 == 2:  # c.li
            return Instruction(address, 2, Effect.OTHER, rd=rd)
        if funct3 == 3:  # c.addi16sp (sp from sp), c.lui
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
        # CI (loads) offsets: a word's [5|4:2|7:6] from 12, 6:4, 3:2; a double's [5|4:3|8:6] from 12, 6:5, 4:2.
        if funct3 in (1, 3):  # c.fldsp, c.ldsp
            offset = _bits(half, 12, 12) << 5 | _bits(half, 6, 5) << 3 | _bits(half, 4, 2) << 6
            return Instruction(
                address, 2, Effect.READ, rd=rd + (FP_BASE if funct3 == 1 else 0), sources=(SP,), base=SP, offset=offset
            )
        if funct3 == 2:  # c.lwsp
            offset = _bits(half, 12, 12) << 5 | _bits(half, 6, 4) << 2 | _bits(half, 3, 2) << 6
            return Instruction(address, 2, Effect.READ, rd=rd, sources=(SP,), base=SP, offset=offset)
        if funct3 == 4:
            link = _bits(half, 12, 12)
            if rs2 == 0 and rd:  # c.jr, c.jalr
                return Instruction(address, 2, Effect.CALL if link else Effect.RETURN, rd=1 if link else None)
            if rs2:  # c.mv, c.add
                return Instruction(address, 2, Effect.OTHER, rd=rd, sources=(rd, rs2) if link else (rs2,))
        # CSS offsets: a word's [5:2|7:6] from 12:9, 8:7; a double's [5:3|8:6] from 12:10, 9:7.
        if funct3 in (5, 7):  # c.fsdsp, c.sdsp
            offset = _bits(half, 12, 10) << 3 | _bits(half, 9, 7) << 6
            value = FP_BASE + rs2 if funct3 == 5 else rs2
            return Instruction(address, 2, Effect.WRITE, sources=(value,), base=SP, offset=offset)
        if funct3 == 6:  # c.swsp
            offset = _bits(half, 12, 9) << 2 | _bits(half, 8, 7) << 6
            return Instruction(address, 2, Effect.WRITE, sources=(rs2,), base=SP, offset=offset)
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
