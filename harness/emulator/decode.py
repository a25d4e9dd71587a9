"""Instruction decoding: RVC expansion and RV64IMAFD + Zicsr/Zifencei + privileged decode.

Compressed instructions are expanded to their 32-bit equivalents so the translator and the
FPU only ever see one encoding per operation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple


class Group:
    """What kind of instruction an encoding is: the engines dispatch on it (which helper runs
    it, whether it ends a block) instead of testing mnemonics."""

    INT = "int"  # integer ALU, loads, stores, branches and jumps: run inline by both engines
    FENCE = "fence"  # a no-op for a single in-order memory
    SYSTEM = "system"  # ecall, ebreak, xret, wfi, sfence.vma, fence.i: Hart.sysop
    CSR = "csr"  # Zicsr: Hart.sysop, through the CSR table
    AMO = "amo"  # LR/SC and AMOs: Hart.amo
    FP = "fp"  # F and D, loads and stores included: the FPU
    ILLEGAL = "illegal"


class Insn(NamedTuple):
    """One decoded instruction.

    ``op`` is the lower-case mnemonic (``"addi"``, ``"fadd.d"``...), or ``"illegal"``;
    ``group`` is its :class:`Group`. ``raw`` is the original encoding (16 or 32 bits)
    reported in mtval on an illegal instruction, ``length`` is 2 or 4.

    A named tuple rather than a frozen dataclass: immutable all the same, and built about
    five times faster on PyPy, where decoding a boot's new instructions (9,000 to U-Boot's
    "Hit any key", most of them executed a few times) is a fifth of the run.
    """

    op: str
    rd: int = 0
    rs1: int = 0
    rs2: int = 0
    rs3: int = 0
    imm: int = 0
    rm: int = 0
    raw: int = 0
    length: int = 4
    group: str = Group.INT


def _sext(value: int, bits: int) -> int:
    sign = 1 << (bits - 1)
    return (value & (sign - 1)) - (value & sign)


def _bits(v: int, hi: int, lo: int) -> int:
    return (v >> lo) & ((1 << (hi - lo + 1)) - 1)


# --- RVC expansion ------------------------------------------------------------------------------


def _r(op: int, rd: int, f3: int, rs1: int, rs2: int, f7: int) -> int:
    return op | rd << 7 | f3 << 12 | rs1 << 15 | rs2 << 20 | f7 << 25


def _i(op: int, rd: int, f3: int, rs1: int, imm: int) -> int:
    return op | rd << 7 | f3 << 12 | rs1 << 15 | (imm & 0xFFF) << 20


def _s(op: int, f3: int, rs1: int, rs2: int, imm: int) -> int:
    imm &= 0xFFF
    return op | (imm & 0x1F) << 7 | f3 << 12 | rs1 << 15 | rs2 << 20 | (imm >> 5) << 25


def _b(f3: int, rs1: int, rs2: int, imm: int) -> int:
    imm &= 0x1FFF
    return (
        0x63
        | ((imm >> 11) & 1) << 7
        | ((imm >> 1) & 0xF) << 8
        | f3 << 12
        | rs1 << 15
        | rs2 << 20
        | ((imm >> 5) & 0x3F) << 25
        | ((imm >> 12) & 1) << 31
    )


def _j(rd: int, imm: int) -> int:
    imm &= 0x1FFFFF
    return (
        0x6F
        | rd << 7
        | ((imm >> 12) & 0xFF) << 12
        | ((imm >> 11) & 1) << 20
        | ((imm >> 1) & 0x3FF) << 21
        | ((imm >> 20) & 1) << 31
    )


def expand_compressed(c: int, has_fd: bool = True) -> int | None:
    """Return the 32-bit encoding equivalent to the RV64C instruction ``c``, or None if illegal."""
    op = c & 3
    f3 = c >> 13
    rdp = 8 + _bits(c, 4, 2)
    rs1p = 8 + _bits(c, 9, 7)
    rd = _bits(c, 11, 7)
    rs2 = _bits(c, 6, 2)
    if op == 0:
        if f3 == 0:  # c.addi4spn
            imm = _bits(c, 10, 7) << 6 | _bits(c, 12, 11) << 4 | _bits(c, 5, 5) << 3 | _bits(c, 6, 6) << 2
            return None if imm == 0 else _i(0x13, rdp, 0, 2, imm)
        off_d = _bits(c, 12, 10) << 3 | _bits(c, 6, 5) << 6
        off_w = _bits(c, 12, 10) << 3 | _bits(c, 6, 6) << 2 | _bits(c, 5, 5) << 6
        if f3 == 1:
            return _i(0x07, rdp, 3, rs1p, off_d) if has_fd else None  # c.fld
        if f3 == 2:
            return _i(0x03, rdp, 2, rs1p, off_w)  # c.lw
        if f3 == 3:
            return _i(0x03, rdp, 3, rs1p, off_d)  # c.ld
        if f3 == 5:
            return _s(0x27, 3, rs1p, rdp, off_d) if has_fd else None  # c.fsd
        if f3 == 6:
            return _s(0x23, 2, rs1p, rdp, off_w)  # c.sw
        if f3 == 7:
            return _s(0x23, 3, rs1p, rdp, off_d)  # c.sd
        return None
    if op == 1:
        imm6 = _sext(_bits(c, 12, 12) << 5 | _bits(c, 6, 2), 6)
        if f3 == 0:
            return _i(0x13, rd, 0, rd, imm6)  # c.addi / c.nop
        if f3 == 1:
            return None if rd == 0 else _i(0x1B, rd, 0, rd, imm6)  # c.addiw
        if f3 == 2:
            return _i(0x13, rd, 0, 0, imm6)  # c.li
        if f3 == 3:
            if rd == 2:  # c.addi16sp
                imm = _sext(
                    _bits(c, 12, 12) << 9
                    | _bits(c, 4, 3) << 7
                    | _bits(c, 5, 5) << 6
                    | _bits(c, 2, 2) << 5
                    | _bits(c, 6, 6) << 4,
                    10,
                )
                return None if imm == 0 else _i(0x13, 2, 0, 2, imm)
            if imm6 == 0:
                return None
            return 0x37 | rd << 7 | (imm6 & 0xFFFFF) << 12  # c.lui
        if f3 == 4:
            sub = _bits(c, 11, 10)
            shamt = _bits(c, 12, 12) << 5 | _bits(c, 6, 2)
            if sub == 0:
                return _i(0x13, rs1p, 5, rs1p, shamt)  # c.srli
            if sub == 1:
                return _i(0x13, rs1p, 5, rs1p, shamt | 0x400)  # c.srai
            if sub == 2:
                return _i(0x13, rs1p, 7, rs1p, imm6)  # c.andi
            rs2p = 8 + _bits(c, 4, 2)
            sel = _bits(c, 12, 12) << 2 | _bits(c, 6, 5)
            table = {
                0: (0, 0x20, 0x33),  # c.sub
                1: (4, 0, 0x33),  # c.xor
                2: (6, 0, 0x33),  # c.or
                3: (7, 0, 0x33),  # c.and
                4: (0, 0x20, 0x3B),  # c.subw
                5: (0, 0, 0x3B),  # c.addw
            }
            if sel not in table:
                return None
            fn3, fn7, opc = table[sel]
            return _r(opc, rs1p, fn3, rs1p, rs2p, fn7)
        if f3 == 5:  # c.j
            imm = _sext(
                _bits(c, 12, 12) << 11
                | _bits(c, 8, 8) << 10
                | _bits(c, 10, 9) << 8
                | _bits(c, 6, 6) << 7
                | _bits(c, 7, 7) << 6
                | _bits(c, 2, 2) << 5
                | _bits(c, 11, 11) << 4
                | _bits(c, 5, 3) << 1,
                12,
            )
            return _j(0, imm)
        imm = _sext(
            _bits(c, 12, 12) << 8
            | _bits(c, 6, 5) << 6
            | _bits(c, 2, 2) << 5
            | _bits(c, 11, 10) << 3
            | _bits(c, 4, 3) << 1,
            9,
        )
        return _b(0 if f3 == 6 else 1, rs1p, 0, imm)  # c.beqz / c.bnez
    if op == 2:
        if f3 == 0:
            shamt = _bits(c, 12, 12) << 5 | _bits(c, 6, 2)
            return _i(0x13, rd, 1, rd, shamt)  # c.slli
        off_d = _bits(c, 12, 12) << 5 | _bits(c, 6, 5) << 3 | _bits(c, 4, 2) << 6
        off_w = _bits(c, 12, 12) << 5 | _bits(c, 6, 4) << 2 | _bits(c, 3, 2) << 6
        if f3 == 1:
            return _i(0x07, rd, 3, 2, off_d) if has_fd else None  # c.fldsp
        if f3 == 2:
            return None if rd == 0 else _i(0x03, rd, 2, 2, off_w)  # c.lwsp
        if f3 == 3:
            return None if rd == 0 else _i(0x03, rd, 3, 2, off_d)  # c.ldsp
        if f3 == 4:
            if _bits(c, 12, 12) == 0:
                if rs2 == 0:
                    return None if rd == 0 else _i(0x67, 0, 0, rd, 0)  # c.jr
                return _r(0x33, rd, 0, 0, rs2, 0)  # c.mv
            if rs2 == 0:
                if rd == 0:
                    return 0x00100073  # c.ebreak
                return _i(0x67, 1, 0, rd, 0)  # c.jalr
            return _r(0x33, rd, 0, rd, rs2, 0)  # c.add
        sd_off = _bits(c, 12, 10) << 3 | _bits(c, 9, 7) << 6
        sw_off = _bits(c, 12, 9) << 2 | _bits(c, 8, 7) << 6
        if f3 == 5:
            return _s(0x27, 3, 2, rs2, sd_off) if has_fd else None  # c.fsdsp
        if f3 == 6:
            return _s(0x23, 2, 2, rs2, sw_off)  # c.swsp
        return _s(0x23, 3, 2, rs2, sd_off)  # c.sdsp
    return None


# --- 32-bit decode ------------------------------------------------------------------------------


def _imm_u(i: int) -> int:
    return _sext(i & 0xFFFFF000, 32)


def _imm_j(i: int) -> int:
    return _sext(_bits(i, 31, 31) << 20 | _bits(i, 19, 12) << 12 | _bits(i, 20, 20) << 11 | _bits(i, 30, 21) << 1, 21)


def _imm_i(i: int) -> int:
    return _sext(i >> 20, 12)


def _imm_b(i: int) -> int:
    return _sext(_bits(i, 31, 31) << 12 | _bits(i, 7, 7) << 11 | _bits(i, 30, 25) << 5 | _bits(i, 11, 8) << 1, 13)


def _imm_s(i: int) -> int:
    return _sext((i >> 25) << 5 | _bits(i, 11, 7), 12)


def _imm_none(i: int) -> int:
    return 0


# Operand formats: how the immediate is laid out (rd, rs1 and rs2 are always the raw fields).
# "r4" (fused multiply-add) also takes rs3 and the rounding mode, "fp" the rounding mode.
_IMMEDIATES = {
    "r": _imm_none,
    "i": _imm_i,
    "s": _imm_s,
    "b": _imm_b,
    "u": _imm_u,
    "j": _imm_j,
    "shamt6": lambda i: _bits(i, 25, 20),
    "shamt5": lambda i: _bits(i, 24, 20),
    "csr": lambda i: i >> 20,
    "r4": _imm_none,
    "fp": _imm_none,
}


@dataclass(frozen=True)
class Encoding:
    """One instruction of the ISA manual's opcode map: ``word & mask == match`` selects it."""

    name: str
    mask: int
    match: int
    fmt: str
    group: str = Group.INT


OPCODE = 0x7F
F3 = 0x7000
F7 = 0xFE000000
RS2 = 0x1F00000
FMT = 0x6000000  # the floating-point format field (bits 26:25: 0 single, 1 double)


def _encodings() -> list[Encoding]:
    table: list[Encoding] = []

    def add(name: str, mask: int, match: int, fmt: str, group: str = Group.INT) -> None:
        table.append(Encoding(name, mask, match, fmt, group))

    add("lui", OPCODE, 0x37, "u")
    add("auipc", OPCODE, 0x17, "u")
    add("jal", OPCODE, 0x6F, "j")
    add("jalr", OPCODE | F3, 0x67, "i")
    for f3, name in enumerate(("beq", "bne", "", "", "blt", "bge", "bltu", "bgeu")):
        if name:
            add(name, OPCODE | F3, 0x63 | f3 << 12, "b")
    for f3, name in enumerate(("lb", "lh", "lw", "ld", "lbu", "lhu", "lwu")):
        add(name, OPCODE | F3, 0x03 | f3 << 12, "i")
    for f3, name in enumerate(("sb", "sh", "sw", "sd")):
        add(name, OPCODE | F3, 0x23 | f3 << 12, "s")
    for f3, name in enumerate(("addi", "", "slti", "sltiu", "xori", "", "ori", "andi")):
        if name:
            add(name, OPCODE | F3, 0x13 | f3 << 12, "i")
    # RV64 shifts by immediate: a 6-bit shamt, so only the top 6 bits of funct7 are fixed.
    add("slli", OPCODE | F3 | 0xFC000000, 0x1013, "shamt6")
    add("srli", OPCODE | F3 | 0xFC000000, 0x5013, "shamt6")
    add("srai", OPCODE | F3 | 0xFC000000, 0x40005013, "shamt6")
    add("addiw", OPCODE | F3, 0x1B, "i")
    add("slliw", OPCODE | F3 | F7, 0x101B, "shamt5")
    add("srliw", OPCODE | F3 | F7, 0x501B, "shamt5")
    add("sraiw", OPCODE | F3 | F7, 0x4000501B, "shamt5")
    register_ops = (
        ("add", 0, 0), ("sub", 0, 0x20), ("sll", 1, 0), ("slt", 2, 0), ("sltu", 3, 0), ("xor", 4, 0),
        ("srl", 5, 0), ("sra", 5, 0x20), ("or", 6, 0), ("and", 7, 0), ("mul", 0, 1), ("mulh", 1, 1),
        ("mulhsu", 2, 1), ("mulhu", 3, 1), ("div", 4, 1), ("divu", 5, 1), ("rem", 6, 1), ("remu", 7, 1),
    )  # fmt: skip
    for name, f3, f7 in register_ops:
        add(name, OPCODE | F3 | F7, 0x33 | f3 << 12 | f7 << 25, "r")
    word_ops = (
        ("addw", 0, 0), ("subw", 0, 0x20), ("sllw", 1, 0), ("srlw", 5, 0), ("sraw", 5, 0x20),
        ("mulw", 0, 1), ("divw", 4, 1), ("divuw", 5, 1), ("remw", 6, 1), ("remuw", 7, 1),
    )  # fmt: skip
    for name, f3, f7 in word_ops:
        add(name, OPCODE | F3 | F7, 0x3B | f3 << 12 | f7 << 25, "r")
    add("fence", OPCODE | F3, 0x0F, "r", Group.FENCE)
    add("fence.i", OPCODE | F3, 0x100F, "r", Group.SYSTEM)
    amos = (
        ("amoadd", 0x00), ("amoswap", 0x01), ("lr", 0x02), ("sc", 0x03), ("amoxor", 0x04), ("amoor", 0x08),
        ("amoand", 0x0C), ("amomin", 0x10), ("amomax", 0x14), ("amominu", 0x18), ("amomaxu", 0x1C),
    )  # fmt: skip
    for name, funct5 in amos:
        for f3, width in ((2, ".w"), (3, ".d")):
            # aq and rl (bits 26:25) are free; lr has no rs2.
            mask = OPCODE | F3 | 0xF8000000 | (RS2 if name == "lr" else 0)
            add(name + width, mask, 0x2F | f3 << 12 | funct5 << 27, "r", Group.AMO)
    for name, word in (("ecall", 0x73), ("ebreak", 0x100073), ("mret", 0x30200073), ("sret", 0x10200073),
                       ("wfi", 0x10500073)):  # fmt: skip
        add(name, 0xFFFFFFFF, word, "r", Group.SYSTEM)
    add("sfence.vma", OPCODE | F3 | F7 | 0xF80, 0x12000073, "r", Group.SYSTEM)
    for f3, name in enumerate(("", "csrrw", "csrrs", "csrrc", "", "csrrwi", "csrrsi", "csrrci")):
        if name:
            add(name, OPCODE | F3, 0x73 | f3 << 12, "csr", Group.CSR)
    add("flw", OPCODE | F3, 0x2007, "i", Group.FP)
    add("fld", OPCODE | F3, 0x3007, "i", Group.FP)
    add("fsw", OPCODE | F3, 0x2027, "s", Group.FP)
    add("fsd", OPCODE | F3, 0x3027, "s", Group.FP)
    for fmt, sfx in ((0, ".s"), (1, ".d")):
        for name, opcode in (("fmadd", 0x43), ("fmsub", 0x47), ("fnmsub", 0x4B), ("fnmadd", 0x4F)):
            add(name + sfx, OPCODE | FMT, opcode | fmt << 25, "r4", Group.FP)

        def fp(name: str, top: int, mask: int = 0, match: int = 0, fmt: int = fmt) -> None:
            # OP-FP: funct7 is the operation (top 5 bits) and the format; rm is free unless fixed.
            add(name, OPCODE | F7 | mask, 0x53 | (top << 2 | fmt) << 25 | match, "fp", Group.FP)

        for top, name in enumerate(("fadd", "fsub", "fmul", "fdiv")):
            fp(name + sfx, top)
        fp("fsqrt" + sfx, 0x0B, RS2)
        for rm, name in enumerate(("fsgnj", "fsgnjn", "fsgnjx")):
            fp(name + sfx, 0x04, F3, rm << 12)
        for rm, name in enumerate(("fmin", "fmax")):
            fp(name + sfx, 0x05, F3, rm << 12)
        for rm, name in enumerate(("fle", "flt", "feq")):
            fp(name + sfx, 0x14, F3, rm << 12)
        for rs2, name in enumerate(("w", "wu", "l", "lu")):
            fp("fcvt." + name + sfx, 0x18, RS2, rs2 << 20)
            fp("fcvt" + sfx + "." + name, 0x1A, RS2, rs2 << 20)
        fp("fmv.x.w" if fmt == 0 else "fmv.x.d", 0x1C, RS2 | F3)
        fp("fclass" + sfx, 0x1C, RS2 | F3, 1 << 12)
        fp("fmv.w.x" if fmt == 0 else "fmv.d.x", 0x1E, RS2 | F3)
    add("fcvt.s.d", OPCODE | F7 | RS2, 0x53 | 0x20 << 25 | 1 << 20, "fp", Group.FP)
    add("fcvt.d.s", OPCODE | F7 | RS2, 0x53 | 0x21 << 25, "fp", Group.FP)
    return table


ENCODINGS = _encodings()
# Each mnemonic's group, and the mnemonics of each group.
GROUPS: dict[str, str] = {e.name: e.group for e in ENCODINGS} | {"illegal": Group.ILLEGAL}


def names_in(*groups: str) -> frozenset[str]:
    """The mnemonics whose group is one of ``groups``."""
    return frozenset(name for name, group in GROUPS.items() if group in groups)


# Walked per major opcode: the patterns never overlap, so the first match is the only one.
_BY_OPCODE: dict[int, list[Encoding]] = {}
for _e in ENCODINGS:
    _BY_OPCODE.setdefault(_e.match & OPCODE, []).append(_e)


def decode32(i: int) -> Insn:
    """Decode one 32-bit instruction word."""
    for e in _BY_OPCODE.get(i & OPCODE, ()):
        if i & e.mask == e.match:
            fmt = e.fmt
            rs3 = i >> 27 if fmt == "r4" else 0
            rm = (i >> 12) & 7 if fmt in ("r4", "fp") else 0
            return Insn(
                e.name,
                (i >> 7) & 0x1F,
                (i >> 15) & 0x1F,
                (i >> 20) & 0x1F,
                rs3,
                _IMMEDIATES[fmt](i),
                rm,
                raw=i,
                group=e.group,
            )
    return Insn("illegal", raw=i, group=Group.ILLEGAL)


def decode_word(word: int, has_fd: bool = True) -> Insn:
    """Decode the instruction whose low bits are ``word`` (16-bit or 32-bit encodings)."""
    if word & 3 != 3:
        half = word & 0xFFFF
        expanded = expand_compressed(half, has_fd)
        if expanded is None:
            return Insn("illegal", raw=half, length=2, group=Group.ILLEGAL)
        op, rd, rs1, rs2, rs3, imm, rm, _, _, group = decode32(expanded)
        return Insn(op, rd, rs1, rs2, rs3, imm, rm, half, 2, group)
    return decode32(word & 0xFFFFFFFF)


# The block engine decodes the same words again and again (each translation decodes its whole
# block); the interpreter keeps its own Op per word and calls ``decode_word`` directly, so
# PyPy does not trace the cache's wrapper.
decode = functools.lru_cache(maxsize=1 << 16)(decode_word)
