"""The interpreter's instruction kinds and ``Op`` record, and the machine-word arithmetic and
RAM accessors its fast paths use: what the dispatch loop (``interp``) and the compiled guest
loops (``loops``) both run on.

Registers are held *signed* (-2**63 <= v < 2**63), as machine words on PyPy; see ``interp``.
"""

from __future__ import annotations

import itertools
import struct

from .csr import CSR_SSTATUS, CSR_TIME
from .decode import Group, Insn

try:
    # PyPy's wrapping machine-word arithmetic: one instruction each in the JIT's code, where
    # ``a + b`` checks for overflow and, on a 64-bit wrap, builds a big integer that only a
    # round trip through ``struct`` (``_signed``) turns back into a word. (``slli a0, a0, 32``,
    # the compiler's zero-extension, wraps on about every other execution: 50 M such round trips
    # in a Debian kernel boot.)
    from __pypy__.intop import (  # type: ignore[import-not-found]
        int_add as int_add,
    )
    from __pypy__.intop import (
        int_lshift as int_lshift,
    )
    from __pypy__.intop import (
        int_mul as int_mul,
    )
    from __pypy__.intop import (
        int_sub as int_sub,
    )
    from __pypy__.intop import (
        uint_rshift as uint_rshift,
    )
except ImportError:  # CPython: the interpreter there only runs the block engine's tails

    def int_add(a: int, b: int) -> int:
        """``a + b`` wrapped to a signed 64-bit word."""
        return ((a + b + 0x8000000000000000) & 0xFFFFFFFFFFFFFFFF) - 0x8000000000000000

    def int_sub(a: int, b: int) -> int:
        """``a - b`` wrapped to a signed 64-bit word."""
        return ((a - b + 0x8000000000000000) & 0xFFFFFFFFFFFFFFFF) - 0x8000000000000000

    def int_mul(a: int, b: int) -> int:
        """``a * b`` wrapped to a signed 64-bit word."""
        return ((a * b + 0x8000000000000000) & 0xFFFFFFFFFFFFFFFF) - 0x8000000000000000

    def int_lshift(a: int, n: int) -> int:
        """``a << n`` (0 <= n < 64) wrapped to a signed 64-bit word."""
        return (((a << n) + 0x8000000000000000) & 0xFFFFFFFFFFFFFFFF) - 0x8000000000000000

    def uint_rshift(a: int, n: int) -> int:
        """The 64-bit pattern of ``a`` shifted right logically by ``n`` (0 <= n < 64), signed."""
        return a if n == 0 else (a & 0xFFFFFFFFFFFFFFFF) >> n


M = (1 << 64) - 1
# Spelled so that PyPy holds them as machine words (1 << 63 - 1 would stay a big integer).
MAXS = 0x7FFFFFFFFFFFFFFF
MINS = -MAXS - 1
VPN = (1 << 52) - 1
# The slot of a page's last halfword: a 4-byte instruction there straddles into the next page.
LAST_SLOT = 2047
# x[ZERO_SINK] receives writes to x0 (see the module docstring).
ZERO_SINK = 32
# Registers are compared every SPIN_CHECK_MASK + 1 iterations of a store-free loop.
SPIN_CHECK_MASK = 31
_Q = struct.Struct("<Q")
_q = struct.Struct("<q")
_I = struct.Struct("<I")
_i = struct.Struct("<i")
_H = struct.Struct("<H")
_h = struct.Struct("<h")
_b = struct.Struct("<b")
_B = struct.Struct("<B")
# All of a hart's registers at once (x0..x31 and the x0 sink; x1..x31), unsigned and signed.
_X33, _x33 = struct.Struct("<33Q"), struct.Struct("<33q")
_X31, _x31 = struct.Struct("<31Q"), struct.Struct("<31q")
LD_Q, ST_Q = _Q.unpack_from, _Q.pack_into
LD_I, ST_I = _I.unpack_from, _I.pack_into
LD_i = _i.unpack_from
LD_q, ST_q = _q.unpack_from, _q.pack_into
LD_H, ST_H = _H.unpack_from, _H.pack_into
LD_h = _h.unpack_from
LD_b = _b.unpack_from
# Bytes go through struct too: RAM is an mmap, and PyPy's JIT turns struct on it into raw
# memory accesses, but indexing an mmap (ram[i], ram[i] = v) stays a slow call, 20x slower.
LD_B, ST_B = _B.unpack_from, _B.pack_into

# Operation kinds, grouped so the dispatch tests ranges before single kinds. The order inside
# a group puts the most frequent operations first. Each kind is declared once, with the
# mnemonic it runs (None: run by a helper, chosen by the decoder's group): module constants,
# because PyPy's JIT folds a global int into the guard it compares against.
KINDS: dict[str, int] = {}
_numbers = itertools.count()


def _kind(mnemonic: str | None) -> int:
    kind = next(_numbers)
    if mnemonic is not None:
        KINDS[mnemonic] = kind
    return kind


# immediate
ADDI = _kind("addi")
LUI = _kind("lui")
AUIPC = _kind("auipc")
SLLI = _kind("slli")
SRLI = _kind("srli")
SRAI = _kind("srai")
ANDI = _kind("andi")
ORI = _kind("ori")
XORI = _kind("xori")
SLTI = _kind("slti")
SLTIU = _kind("sltiu")
ADDIW = _kind("addiw")
SLLIW = _kind("slliw")
SRLIW = _kind("srliw")
SRAIW = _kind("sraiw")
# register-register
ADD = _kind("add")
SUB = _kind("sub")
AND = _kind("and")
OR = _kind("or")
XOR = _kind("xor")
SLL = _kind("sll")
SRL = _kind("srl")
SRA = _kind("sra")
SLT = _kind("slt")
SLTU = _kind("sltu")
ADDW = _kind("addw")
SUBW = _kind("subw")
SLLW = _kind("sllw")
SRLW = _kind("srlw")
SRAW = _kind("sraw")
MUL = _kind("mul")
MULW = _kind("mulw")
MULH = _kind("mulh")
MULHSU = _kind("mulhsu")
MULHU = _kind("mulhu")
DIV = _kind("div")
DIVU = _kind("divu")
REM = _kind("rem")
REMU = _kind("remu")
DIVW = _kind("divw")
DIVUW = _kind("divuw")
REMW = _kind("remw")
REMUW = _kind("remuw")
# memory
LD = _kind("ld")
LW = _kind("lw")
LWU = _kind("lwu")
LBU = _kind("lbu")
LB = _kind("lb")
LH = _kind("lh")
LHU = _kind("lhu")
SD = _kind("sd")
SW = _kind("sw")
SB = _kind("sb")
SH = _kind("sh")
# control transfer and the rest
BEQ = _kind("beq")
BNE = _kind("bne")
BLT = _kind("blt")
BGE = _kind("bge")
BLTU = _kind("bltu")
BGEU = _kind("bgeu")
JAL = _kind("jal")
# `jal x0` to a lower address: a loop's jump back to its test (loops.py finds loops by it).
JUMP_BACK = _kind(None)
JALR = _kind("jalr")
FENCE = _kind("fence")
# csrrs/csrrc (and their immediate forms) on sstatus: run inline while they only set or clear
# SIE (a kernel's local_irq_save/restore: most of a Linux boot's system instructions), else
# Hart.sysop like every system instruction.
STATUS_SET = _kind(None)
STATUS_CLEAR = _kind(None)
# csrr rd, time (csrrs/csrrc with x0): firmware's and the kernel's time polls (U-Boot reads it
# every 8 bytes it reads from an SD card). Inline where the counter is readable, else Hart.sysop.
TIME_READ = _kind(None)
# LR/SC and the common AMOs: run inline on aligned RAM that the data TLBs map, else Hart.amo.
FIRST_ATOMIC = LR_W = _kind("lr.w")
SC_W = _kind("sc.w")
AMOADD_W = _kind("amoadd.w")
AMOSWAP_W = _kind("amoswap.w")
AMOOR_W = _kind("amoor.w")
AMOAND_W = _kind("amoand.w")
AMOXOR_W = _kind("amoxor.w")
LR_D = _kind("lr.d")
SC_D = _kind("sc.d")
AMOADD_D = _kind("amoadd.d")
AMOSWAP_D = _kind("amoswap.d")
AMOOR_D = _kind("amoor.d")
AMOAND_D = _kind("amoand.d")
AMOXOR_D = _kind("amoxor.d")
AMO = _kind(None)
FPU = _kind(None)
SYSTEM = _kind(None)
ILLEGAL = _kind("illegal")

FIRST_REG_ALU = ADD
FIRST_LOAD = LD
FIRST_STORE = SD
FIRST_BRANCH = BEQ

# The decoder's groups that a helper runs, as the loop's kinds.
HELPER_KINDS = {Group.SYSTEM: SYSTEM, Group.CSR: SYSTEM, Group.AMO: AMO, Group.FP: FPU}
# The sstatus instructions run inline: mnemonic -> (kind, whether the operand is the immediate).
STATUS_FORMS = {
    "csrrs": (STATUS_SET, False),
    "csrrsi": (STATUS_SET, True),
    "csrrc": (STATUS_CLEAR, False),
    "csrrci": (STATUS_CLEAR, True),
}


class Op:
    """A decoded instruction as the dispatch loop reads it: small ints only.

    ``rd`` is ZERO_SINK for x0; ``insn`` is the full decode, for the helpers (system, AMO,
    floating point) that take it. The sstatus kinds hold their operand as ``x[rs1] | imm``:
    an immediate form's rs1 is x0 and its imm the immediate (a register form's imm is 0).
    """

    __slots__ = ("imm", "insn", "kind", "length", "rd", "rs1", "rs2")

    def __init__(self, kind: int, d: Insn) -> None:
        # One unpacking, not five reads of named-tuple fields: PyPy runs the decoder in its
        # interpreter (see fetch_op), where each field read is a property call.
        _, rd, self.rs1, self.rs2, _, self.imm, _, _, self.length, _ = d
        self.kind = kind
        self.rd = rd or ZERO_SINK
        self.insn = d


def make_op(d: Insn, has_fd: bool) -> Op:
    """The ``Op`` for decoded instruction ``d`` on a hart with (or without) F/D."""
    kind = KINDS.get(d.op)
    if kind == JAL and d.rd == 0 and d.imm < 0:
        return Op(JUMP_BACK, d)
    if kind is not None:
        return Op(kind, d)
    status = STATUS_FORMS.get(d.op)
    if status is not None and not status[1] and d.rs1 == 0 and d.imm & 0xFFF == CSR_TIME:
        return Op(TIME_READ, d)
    if status is not None and d.imm & 0xFFF == CSR_SSTATUS:
        op = Op(status[0], d)
        op.rs1, op.imm = (0, d.rs1) if status[1] else (d.rs1, 0)
        return op
    kind = HELPER_KINDS[d.group]
    if kind == FPU and not has_fd:
        return Op(ILLEGAL, d)
    return Op(kind, d)


def _signed(v: int) -> int:
    """``v`` (any integer) reduced to the signed 64-bit range, as a machine-word int on PyPy.

    PyPy keeps the result of arithmetic on a big integer big even when it fits a word again,
    and every later operation on it slow. PyPy's ``int_add`` takes a big integer in the word's
    range and gives a word (one outside raises OverflowError; CPython's wraps it): most values
    are in range (a device register, a quotient), and that costs a fifteenth of the round trip
    through ``struct`` that every value took before (3 M calls: 0.19 -> 0.013 s), which the
    SPL's SD card reads, three device accesses per byte, paid in a tenth of their time."""
    try:
        return int_add(v, 0)  # type: ignore[no-any-return]
    except OverflowError:
        return _q.unpack(_Q.pack(v & M))[0]  # type: ignore[no-any-return]
