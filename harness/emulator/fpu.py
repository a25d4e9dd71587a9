"""F and D extensions, computed exactly with rationals and rounded per IEEE 754.

Firmware rarely executes floating point, so correctness (all five rounding modes, exception
flags, NaN boxing and canonical NaNs) matters more than speed here: every operation is done
on exact ``Fraction`` values and rounded once.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import isqrt
from typing import TYPE_CHECKING

from .decode import Insn
from .trap import ILLEGAL_INSN, Trap

if TYPE_CHECKING:
    from .cpu import Hart

M64 = (1 << 64) - 1
BOX = 0xFFFFFFFF00000000

NV, DZ, OF, UF, NX = 16, 8, 4, 2, 1
RNE, RTZ, RDN, RUP, RMM = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class Fmt:
    """An IEEE binary format: exponent and fraction widths."""

    ebits: int
    mbits: int

    @property
    def bias(self) -> int:
        """Exponent bias."""
        return (1 << (self.ebits - 1)) - 1

    @property
    def width(self) -> int:
        """Total bits."""
        return 1 + self.ebits + self.mbits

    @property
    def canonical_nan(self) -> int:
        """The RISC-V canonical quiet NaN."""
        return ((1 << self.ebits) - 1) << self.mbits | 1 << (self.mbits - 1)


SINGLE = Fmt(8, 23)
DOUBLE = Fmt(11, 52)


@dataclass(frozen=True)
class Value:
    """A decoded operand: ``kind`` is zero/finite/inf/qnan/snan; ``mag`` the exact magnitude."""

    kind: str
    sign: int
    mag: Fraction


def unpack(bits: int, fmt: Fmt) -> Value:
    """Decode raw bits of ``fmt``."""
    sign = bits >> (fmt.width - 1) & 1
    exp = bits >> fmt.mbits & ((1 << fmt.ebits) - 1)
    frac = bits & ((1 << fmt.mbits) - 1)
    if exp == (1 << fmt.ebits) - 1:
        if frac == 0:
            return Value("inf", sign, Fraction(0))
        return Value("qnan" if frac >> (fmt.mbits - 1) else "snan", sign, Fraction(0))
    if exp == 0:
        if frac == 0:
            return Value("zero", sign, Fraction(0))
        return Value("finite", sign, Fraction(frac) * Fraction(2) ** (1 - fmt.bias - fmt.mbits))
    mant = frac | 1 << fmt.mbits
    return Value("finite", sign, Fraction(mant) * Fraction(2) ** (exp - fmt.bias - fmt.mbits))


def _round_int(q: Fraction, sign: int, rm: int) -> tuple[int, bool]:
    """Round non-negative ``q`` to an integer for a value of sign ``sign``; return (n, inexact)."""
    n = q.numerator // q.denominator
    r = q - n
    if r == 0:
        return n, False
    half = Fraction(1, 2)
    up = {
        RNE: r > half or (r == half and n & 1 == 1),
        RTZ: False,
        RDN: sign == 1,
        RUP: sign == 0,
        RMM: r >= half,
    }[rm]
    return n + (1 if up else 0), True


def _exponent(v: Fraction) -> int:
    e = v.numerator.bit_length() - v.denominator.bit_length()
    if Fraction(2) ** e > v:
        e -= 1
    elif Fraction(2) ** (e + 1) <= v:
        e += 1
    return e


def pack(sign: int, mag: Fraction, fmt: Fmt, rm: int) -> tuple[int, int]:
    """Round ``(-1)**sign * mag`` to ``fmt``; return (bits, exception flags)."""
    sbit = sign << (fmt.width - 1)
    if mag == 0:
        return sbit, 0
    emin = 1 - fmt.bias
    e = _exponent(mag)
    flags = 0
    # Tininess is detected after rounding (as RISC-V specifies): round with unbounded exponent.
    n_unb, _ = _round_int(mag / Fraction(2) ** (e - fmt.mbits), sign, rm)
    unbounded = Fraction(n_unb) * Fraction(2) ** (e - fmt.mbits)
    tiny = unbounded < Fraction(2) ** emin
    q_exp = max(e, emin) - fmt.mbits
    n, inexact = _round_int(mag / Fraction(2) ** q_exp, sign, rm)
    if e < emin:
        bits = n  # subnormal (or rounded up to the smallest normal: same encoding)
    else:
        bits = ((e + fmt.bias - 1) << fmt.mbits) + n
    if bits >> fmt.mbits >= (1 << fmt.ebits) - 1:
        flags |= OF | NX
        to_inf = rm in (RNE, RMM) or (rm == RUP and sign == 0) or (rm == RDN and sign == 1)
        max_finite = (((1 << fmt.ebits) - 2) << fmt.mbits) | ((1 << fmt.mbits) - 1)
        return sbit | (((1 << fmt.ebits) - 1) << fmt.mbits if to_inf else max_finite), flags
    if inexact:
        flags |= NX
        if tiny:
            flags |= UF
    return sbit | bits, flags


def _exact_sqrt(mag: Fraction, fmt: Fmt) -> Fraction:
    """sqrt(mag) truncated to well beyond ``fmt`` precision, plus a sticky tail if inexact."""
    extra = 2 * (fmt.mbits + 8) + 2 * max(0, -_exponent(mag))
    scale = 4**extra
    scaled = mag * scale
    whole = scaled.numerator // scaled.denominator
    root = isqrt(whole)
    exact = root * root == whole and scaled.denominator == 1
    result = Fraction(root, 2**extra)
    if not exact:
        # A tiny sticky bit below the kept precision makes rounding see "inexact, above".
        result += Fraction(1, 2 ** (extra + 1))
    return result


class FpuState:
    """Accessors for one hart's f registers with NaN boxing."""

    def __init__(self, h: Hart) -> None:
        self.h = h

    def get(self, r: int, fmt: Fmt) -> int:
        """Raw bits of f[r] as ``fmt``; an improperly boxed single reads as the canonical NaN."""
        v = self.h.f[r]
        if fmt is SINGLE:
            return v & 0xFFFFFFFF if v >> 32 == 0xFFFFFFFF else SINGLE.canonical_nan
        return v

    def set(self, r: int, fmt: Fmt, bits: int) -> None:
        """Write f[r], NaN-boxing singles."""
        self.h.f[r] = BOX | bits if fmt is SINGLE else bits & M64


def _rm(h: Hart, d: Insn, pc: int) -> int:
    rm = h.frm if d.rm == 7 else d.rm
    if rm > 4:
        raise Trap(ILLEGAL_INSN, d.raw, pc)
    return rm


def _arith(op: str, a: Value, b: Value, fmt: Fmt, rm: int) -> tuple[int, int]:
    nan = fmt.canonical_nan
    if a.kind in ("qnan", "snan") or b.kind in ("qnan", "snan"):
        return nan, NV if "snan" in (a.kind, b.kind) else 0
    sa = -1 if a.sign else 1
    sb = -1 if b.sign else 1
    inf = ((1 << fmt.ebits) - 1) << fmt.mbits
    sign_bit = 1 << (fmt.width - 1)
    if op in ("add", "sub"):
        if op == "sub":
            sb = -sb
        if a.kind == "inf" or b.kind == "inf":
            if a.kind == "inf" and b.kind == "inf" and sa != sb:
                return nan, NV
            s = sa if a.kind == "inf" else sb
            return inf | (sign_bit if s < 0 else 0), 0
        total = sa * a.mag + sb * b.mag
        if total == 0:
            # An exact zero sum is -0 only for (-0) + (-0), or for opposite signs under round-down.
            if a.kind == "zero" and b.kind == "zero":
                neg = (sa < 0 and sb < 0) or (sa != sb and rm == RDN)
            else:
                neg = rm == RDN
            return sign_bit if neg else 0, 0
        return pack(1 if total < 0 else 0, abs(total), fmt, rm)
    sign = 1 if sa * sb < 0 else 0
    if op == "mul":
        if (a.kind == "inf" and b.kind == "zero") or (a.kind == "zero" and b.kind == "inf"):
            return nan, NV
        if "inf" in (a.kind, b.kind):
            return inf | sign * sign_bit, 0
        return pack(sign, a.mag * b.mag, fmt, rm)
    # div
    if (a.kind == "inf" and b.kind == "inf") or (a.kind == "zero" and b.kind == "zero"):
        return nan, NV
    if a.kind == "inf":
        return inf | sign * sign_bit, 0
    if b.kind == "inf":
        return sign * sign_bit, 0
    if b.kind == "zero":
        return inf | sign * sign_bit, DZ
    return pack(sign, a.mag / b.mag, fmt, rm)


def _fma(a: Value, b: Value, c: Value, negate_product: bool, negate_c: bool, fmt: Fmt, rm: int) -> tuple[int, int]:
    nan = fmt.canonical_nan
    inf = ((1 << fmt.ebits) - 1) << fmt.mbits
    sign_bit = 1 << (fmt.width - 1)
    kinds = (a.kind, b.kind, c.kind)
    invalid_mul = (a.kind == "inf" and b.kind == "zero") or (a.kind == "zero" and b.kind == "inf")
    if any(k in ("qnan", "snan") for k in kinds) or invalid_mul:
        return nan, NV if "snan" in kinds or invalid_mul else 0
    psign = a.sign ^ b.sign ^ negate_product
    csign = c.sign ^ negate_c
    if a.kind == "inf" or b.kind == "inf":
        if c.kind == "inf" and csign != psign:
            return nan, NV
        return inf | psign * sign_bit, 0
    if c.kind == "inf":
        return inf | csign * sign_bit, 0
    total = (-1 if psign else 1) * a.mag * b.mag + (-1 if csign else 1) * c.mag
    if total == 0:
        product_zero = a.kind == "zero" or b.kind == "zero"
        if product_zero and c.kind == "zero":
            neg = (psign and csign) or (psign != csign and rm == RDN)
        else:
            neg = rm == RDN
        return sign_bit if neg else 0, 0
    return pack(1 if total < 0 else 0, abs(total), fmt, rm)


def _to_int(v: Value, bits: int, signed: bool, rm: int) -> tuple[int, int]:
    lo = -(1 << (bits - 1)) if signed else 0
    hi = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
    if v.kind in ("qnan", "snan"):
        return hi, NV
    if v.kind == "inf":
        return (lo if v.sign else hi), NV
    n, inexact = _round_int(v.mag, v.sign, rm)
    value = -n if v.sign else n
    if value < lo or value > hi:
        return (lo if v.sign else hi), NV
    return value, NX if inexact else 0


def _compare(op: str, a: Value, b: Value) -> tuple[int, int]:
    nans = ("qnan", "snan")
    if a.kind in nans or b.kind in nans:
        signaling = op != "feq" or "snan" in (a.kind, b.kind)
        return 0, NV if signaling else 0
    va = -a.mag if a.sign else a.mag
    vb = -b.mag if b.sign else b.mag
    if a.kind == "inf":
        va = Fraction(-(10**400)) if a.sign else Fraction(10**400)
    if b.kind == "inf":
        vb = Fraction(-(10**400)) if b.sign else Fraction(10**400)
    result = {"feq": va == vb, "flt": va < vb, "fle": va <= vb}[op]
    return int(result), 0


def _minmax(op: str, abits: int, bbits: int, fmt: Fmt) -> tuple[int, int]:
    a, b = unpack(abits, fmt), unpack(bbits, fmt)
    nans = ("qnan", "snan")
    flags = NV if "snan" in (a.kind, b.kind) else 0
    if a.kind in nans and b.kind in nans:
        return fmt.canonical_nan, flags
    if a.kind in nans:
        return bbits, flags
    if b.kind in nans:
        return abits, flags

    def key(v: Value) -> tuple[Fraction, int]:
        big = Fraction(10**400)
        mag = big if v.kind == "inf" else v.mag
        return (-mag if v.sign else mag, 0 if v.sign else 1)

    pick_a = key(a) <= key(b) if op == "fmin" else key(a) >= key(b)
    return (abits if pick_a else bbits), flags


def _classify(bits: int, fmt: Fmt) -> int:
    v = unpack(bits, fmt)
    exp = bits >> fmt.mbits & ((1 << fmt.ebits) - 1)
    if v.kind == "inf":
        return 1 << (0 if v.sign else 7)
    if v.kind == "zero":
        return 1 << (3 if v.sign else 4)
    if v.kind == "snan":
        return 1 << 8
    if v.kind == "qnan":
        return 1 << 9
    if exp == 0:
        return 1 << (2 if v.sign else 5)
    return 1 << (1 if v.sign else 6)


def _sext32(v: int) -> int:
    v &= 0xFFFFFFFF
    return (v - (1 << 32) if v >> 31 else v) & M64


def execute(h: Hart, d: Insn, pc: int) -> None:
    """Execute one F/D instruction on ``h`` (FS already checked to be enabled)."""
    op = d.op
    regs = FpuState(h)
    x = h.x
    flags = 0
    if op in ("flw", "fld"):
        size = 4 if op == "flw" else 8
        value = h.ld((x[d.rs1] + d.imm) & M64, size, False, pc)
        regs.set(d.rd, SINGLE if size == 4 else DOUBLE, value)
        return
    if op in ("fsw", "fsd"):
        size = 4 if op == "fsw" else 8
        h.st((x[d.rs1] + d.imm) & M64, size, h.f[d.rs2] & ((1 << (size * 8)) - 1), pc)
        return
    base, _, suffix = op.rpartition(".")
    if op.startswith("fcvt"):
        flags = _convert(h, regs, d, pc)
    elif op in ("fmv.x.w", "fmv.x.d"):
        if d.rd:
            x[d.rd] = _sext32(h.f[d.rs1]) if op == "fmv.x.w" else h.f[d.rs1]
    elif op in ("fmv.w.x", "fmv.d.x"):
        regs.set(d.rd, SINGLE if op == "fmv.w.x" else DOUBLE, x[d.rs1] & (0xFFFFFFFF if op == "fmv.w.x" else M64))
    else:
        fmt = SINGLE if suffix == "s" else DOUBLE
        a_bits = regs.get(d.rs1, fmt)
        b_bits = regs.get(d.rs2, fmt)
        sign_bit = 1 << (fmt.width - 1)
        if base in ("fadd", "fsub", "fmul", "fdiv"):
            result, flags = _arith(base[1:], unpack(a_bits, fmt), unpack(b_bits, fmt), fmt, _rm(h, d, pc))
            regs.set(d.rd, fmt, result)
        elif base == "fsqrt":
            rm = _rm(h, d, pc)
            a = unpack(a_bits, fmt)
            if a.kind in ("qnan", "snan") or (a.sign and a.kind in ("finite", "inf")):
                result, flags = fmt.canonical_nan, NV if a.kind != "qnan" else 0
            elif a.kind in ("zero", "inf"):
                result = a_bits
            else:
                result, flags = pack(0, _exact_sqrt(a.mag, fmt), fmt, rm)
            regs.set(d.rd, fmt, result)
        elif base in ("fmadd", "fmsub", "fnmsub", "fnmadd"):
            rm = _rm(h, d, pc)
            c = unpack(regs.get(d.rs3, fmt), fmt)
            neg_p = base in ("fnmsub", "fnmadd")
            neg_c = base in ("fmsub", "fnmadd")
            result, flags = _fma(unpack(a_bits, fmt), unpack(b_bits, fmt), c, neg_p, neg_c, fmt, rm)
            regs.set(d.rd, fmt, result)
        elif base in ("fsgnj", "fsgnjn", "fsgnjx"):
            sb = b_bits & sign_bit
            if base == "fsgnjn":
                sb ^= sign_bit
            elif base == "fsgnjx":
                sb ^= a_bits & sign_bit
            regs.set(d.rd, fmt, (a_bits & ~sign_bit) | sb)
        elif base in ("fmin", "fmax"):
            result, flags = _minmax(base, a_bits, b_bits, fmt)
            regs.set(d.rd, fmt, result)
        elif base in ("feq", "flt", "fle"):
            result, flags = _compare(base, unpack(a_bits, fmt), unpack(b_bits, fmt))
            if d.rd:
                x[d.rd] = result
        elif base == "fclass":
            if d.rd:
                x[d.rd] = _classify(a_bits, fmt)
        else:
            raise Trap(ILLEGAL_INSN, d.raw, pc)
    h.fflags |= flags


_INT_TYPES = {"w": (32, True), "wu": (32, False), "l": (64, True), "lu": (64, False)}


def _convert(h: Hart, regs: FpuState, d: Insn, pc: int) -> int:
    _, dst, src = d.op.split(".")
    rm = _rm(h, d, pc)
    fmts = {"s": SINGLE, "d": DOUBLE}
    if dst in fmts and src in fmts:
        sf, df = fmts[src], fmts[dst]
        v = unpack(regs.get(d.rs1, sf), sf)
        if v.kind in ("qnan", "snan"):
            result, flags = df.canonical_nan, NV if v.kind == "snan" else 0
        elif v.kind == "inf":
            result, flags = (v.sign << (df.width - 1)) | ((1 << df.ebits) - 1) << df.mbits, 0
        else:
            result, flags = pack(v.sign, v.mag, df, rm)
        regs.set(d.rd, df, result)
        return flags
    if dst in _INT_TYPES:
        bits, signed = _INT_TYPES[dst]
        value, flags = _to_int(unpack(regs.get(d.rs1, fmts[src]), fmts[src]), bits, signed, rm)
        if d.rd:
            # 32-bit results are sign-extended even for the unsigned conversion.
            h.x[d.rd] = _sext32(value) if bits == 32 else value & M64
        return flags
    bits, signed = _INT_TYPES[src]
    raw = h.x[d.rs1] & ((1 << bits) - 1)
    if signed and raw >> (bits - 1):
        raw -= 1 << bits
    result, flags = pack(1 if raw < 0 else 0, Fraction(abs(raw)), fmts[dst], rm)
    regs.set(d.rd, fmts[dst], result)
    return flags
