"""Instruction decoding: RVC expansion and RV64IMAFD + Zicsr/Zifencei + privileged decode.

Compressed instructions are expanded to their 32-bit equivalents so the translator and the
FPU only ever see one encoding per operation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass


@dataclass(frozen=True)
class Insn:
    """One decoded instruction.

    ``op`` is the lower-case mnemonic (``"addi"``, ``"fadd.d"``...), or ``"illegal"``.
    ``raw`` is the original encoding (16 or 32 bits) reported in mtval on an illegal
    instruction, ``length`` is 2 or 4.
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

_LOADS = {0: "lb", 1: "lh", 2: "lw", 3: "ld", 4: "lbu", 5: "lhu", 6: "lwu"}
_STORES = {0: "sb", 1: "sh", 2: "sw", 3: "sd"}
_BRANCHES = {0: "beq", 1: "bne", 4: "blt", 5: "bge", 6: "bltu", 7: "bgeu"}
_OPIMM = {0: "addi", 2: "slti", 3: "sltiu", 4: "xori", 6: "ori", 7: "andi"}
_OP = {
    (0, 0): "add",
    (0, 0x20): "sub",
    (1, 0): "sll",
    (2, 0): "slt",
    (3, 0): "sltu",
    (4, 0): "xor",
    (5, 0): "srl",
    (5, 0x20): "sra",
    (6, 0): "or",
    (7, 0): "and",
    (0, 1): "mul",
    (1, 1): "mulh",
    (2, 1): "mulhsu",
    (3, 1): "mulhu",
    (4, 1): "div",
    (5, 1): "divu",
    (6, 1): "rem",
    (7, 1): "remu",
}
_OP32 = {
    (0, 0): "addw",
    (0, 0x20): "subw",
    (1, 0): "sllw",
    (5, 0): "srlw",
    (5, 0x20): "sraw",
    (0, 1): "mulw",
    (4, 1): "divw",
    (5, 1): "divuw",
    (6, 1): "remw",
    (7, 1): "remuw",
}
_AMO = {
    0x00: "amoadd",
    0x01: "amoswap",
    0x02: "lr",
    0x03: "sc",
    0x04: "amoxor",
    0x08: "amoor",
    0x0C: "amoand",
    0x10: "amomin",
    0x14: "amomax",
    0x18: "amominu",
    0x1C: "amomaxu",
}
_CSR = {1: "csrrw", 2: "csrrs", 3: "csrrc", 5: "csrrwi", 6: "csrrsi", 7: "csrrci"}
_FMA = {0x43: "fmadd", 0x47: "fmsub", 0x4B: "fnmsub", 0x4F: "fnmadd"}


def _fp_op(i: int, rd: int, rs1: int, rs2: int, rm: int) -> str | None:
    f7 = i >> 25
    fmt = f7 & 3
    if fmt > 1:
        return None
    sfx = ".s" if fmt == 0 else ".d"
    top = f7 >> 2
    simple = {0: "fadd", 1: "fsub", 2: "fmul", 3: "fdiv"}
    if top in simple:
        return simple[top] + sfx
    if top == 0x0B and rs2 == 0:
        return "fsqrt" + sfx
    if top == 0x04 and rm <= 2:
        return ("fsgnj", "fsgnjn", "fsgnjx")[rm] + sfx
    if top == 0x05 and rm <= 1:
        return ("fmin", "fmax")[rm] + sfx
    if top == 0x08:  # fcvt.s.d / fcvt.d.s
        if fmt == 0 and rs2 == 1:
            return "fcvt.s.d"
        if fmt == 1 and rs2 == 0:
            return "fcvt.d.s"
        return None
    if top == 0x14 and rm <= 2:
        return ("fle", "flt", "feq")[rm] + sfx
    if top == 0x18 and rs2 <= 3:
        return ("fcvt.w", "fcvt.wu", "fcvt.l", "fcvt.lu")[rs2] + sfx
    if top == 0x1A and rs2 <= 3:
        return ("fcvt" + sfx + ".w", "fcvt" + sfx + ".wu", "fcvt" + sfx + ".l", "fcvt" + sfx + ".lu")[rs2]
    if top == 0x1C and rs2 == 0:
        if rm == 0:
            return "fmv.x.w" if fmt == 0 else "fmv.x.d"
        if rm == 1:
            return "fclass" + sfx
        return None
    if top == 0x1E and rs2 == 0 and rm == 0:
        return "fmv.w.x" if fmt == 0 else "fmv.d.x"
    return None


def decode32(i: int) -> Insn:
    """Decode one 32-bit instruction word."""
    opc = i & 0x7F
    rd = (i >> 7) & 0x1F
    f3 = (i >> 12) & 7
    rs1 = (i >> 15) & 0x1F
    rs2 = (i >> 20) & 0x1F
    f7 = i >> 25
    imm_i = _sext(i >> 20, 12)
    bad = Insn("illegal", raw=i)

    def mk(op: str, imm: int = 0, **kw: int) -> Insn:
        return Insn(op, rd=rd, rs1=rs1, rs2=rs2, imm=imm, raw=i, **kw)

    if opc == 0x37:
        return mk("lui", _sext(i & 0xFFFFF000, 32))
    if opc == 0x17:
        return mk("auipc", _sext(i & 0xFFFFF000, 32))
    if opc == 0x6F:
        imm = _bits(i, 31, 31) << 20 | _bits(i, 19, 12) << 12 | _bits(i, 20, 20) << 11 | _bits(i, 30, 21) << 1
        return mk("jal", _sext(imm, 21))
    if opc == 0x67:
        return mk("jalr", imm_i) if f3 == 0 else bad
    if opc == 0x63:
        imm = _bits(i, 31, 31) << 12 | _bits(i, 7, 7) << 11 | _bits(i, 30, 25) << 5 | _bits(i, 11, 8) << 1
        return mk(_BRANCHES[f3], _sext(imm, 13)) if f3 in _BRANCHES else bad
    if opc == 0x03:
        return mk(_LOADS[f3], imm_i) if f3 in _LOADS else bad
    if opc == 0x23:
        imm = _sext(f7 << 5 | rd, 12)
        return mk(_STORES[f3], imm) if f3 in _STORES else bad
    if opc == 0x13:
        if f3 == 1:
            return mk("slli", rs2 | (f7 & 1) << 5) if f7 >> 1 == 0 else bad
        if f3 == 5:
            sh = rs2 | (f7 & 1) << 5
            if f7 >> 1 == 0:
                return mk("srli", sh)
            if f7 >> 1 == 0x10:
                return mk("srai", sh)
            return bad
        return mk(_OPIMM[f3], imm_i)
    if opc == 0x1B:
        if f3 == 0:
            return mk("addiw", imm_i)
        if f3 == 1 and f7 == 0:
            return mk("slliw", rs2)
        if f3 == 5 and f7 == 0:
            return mk("srliw", rs2)
        if f3 == 5 and f7 == 0x20:
            return mk("sraiw", rs2)
        return bad
    if opc == 0x33:
        op = _OP.get((f3, f7))
        return mk(op) if op else bad
    if opc == 0x3B:
        op = _OP32.get((f3, f7))
        return mk(op) if op else bad
    if opc == 0x0F:
        if f3 == 0:
            return mk("fence")
        if f3 == 1:
            return mk("fence.i")
        return bad
    if opc == 0x2F:
        name = _AMO.get(f7 >> 2)
        if name is None or f3 not in (2, 3) or (name == "lr" and rs2 != 0):
            return bad
        return mk(name + (".w" if f3 == 2 else ".d"))
    if opc == 0x73:
        if f3 == 0:
            if i == 0x00000073:
                return mk("ecall")
            if i == 0x00100073:
                return mk("ebreak")
            if i == 0x30200073:
                return mk("mret")
            if i == 0x10200073:
                return mk("sret")
            if i == 0x10500073:
                return mk("wfi")
            if f7 == 0x09 and rd == 0:
                return mk("sfence.vma")
            return bad
        op = _CSR.get(f3)
        return mk(op, i >> 20) if op else bad
    if opc in (0x07, 0x27):
        if f3 not in (2, 3):
            return bad
        if opc == 0x07:
            return mk("flw" if f3 == 2 else "fld", imm_i)
        return mk("fsw" if f3 == 2 else "fsd", _sext(f7 << 5 | rd, 12))
    if opc in _FMA:
        fmt = f7 & 3
        if fmt > 1:
            return bad
        return mk(_FMA[opc] + (".s" if fmt == 0 else ".d"), rs3=i >> 27, rm=f3)
    if opc == 0x53:
        op = _fp_op(i, rd, rs1, rs2, f3)
        return mk(op, rm=f3) if op else bad
    return bad


@functools.lru_cache(maxsize=1 << 16)
def decode(word: int, has_fd: bool = True) -> Insn:
    """Decode the instruction whose low bits are ``word`` (16-bit or 32-bit encodings)."""
    if word & 3 != 3:
        half = word & 0xFFFF
        expanded = expand_compressed(half, has_fd)
        if expanded is None:
            return Insn("illegal", raw=half, length=2)
        d = decode32(expanded)
        return Insn(d.op, d.rd, d.rs1, d.rs2, d.rs3, d.imm, d.rm, raw=half, length=2)
    return decode32(word & 0xFFFFFFFF)
