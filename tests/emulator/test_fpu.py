"""F/D corner cases: rounding modes, flags, NaN handling, conversions."""

from __future__ import annotations

import math
import struct
from fractions import Fraction

import pytest

from harness.emulator.bus import Bus
from harness.emulator.clock import Clock
from harness.emulator.codecache import CodeCache
from harness.emulator.cpu import Hart
from harness.emulator.decode import Insn
from harness.emulator.fpu import DOUBLE, NV, NX, OF, SINGLE, UF, execute, pack

BOX = 0xFFFFFFFF00000000


def hart() -> Hart:
    h = Hart(0, Bus(0x80000000, 1 << 16), Clock(10_000_000), CodeCache())
    h.mstatus |= 3 << 13
    return h


def f32(v: float) -> int:
    return struct.unpack("<I", struct.pack("<f", v))[0]


def f64(v: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", v))[0]


def run(h: Hart, op: str, rm: int = 0, rd: int = 3, rs1: int = 1, rs2: int = 2, rs3: int = 4) -> None:
    execute(h, Insn(op, rd=rd, rs1=rs1, rs2=rs2, rs3=rs3, rm=rm), 0)


@pytest.mark.parametrize(
    ("rm", "expected"),
    [(0, 0x3EAAAAAB), (1, 0x3EAAAAAA), (2, 0x3EAAAAAA), (3, 0x3EAAAAAB), (4, 0x3EAAAAAB)],
)
def test_single_division_in_every_rounding_mode(rm: int, expected: int) -> None:
    h = hart()
    h.f[1], h.f[2] = BOX | f32(1.0), BOX | f32(3.0)
    run(h, "fdiv.s", rm)
    assert h.f[3] == BOX | expected
    assert h.fflags == NX


def test_dynamic_rounding_uses_frm_and_invalid_frm_is_illegal() -> None:
    h = hart()
    h.f[1], h.f[2] = f64(1.0), f64(3.0)
    h.frm = 1  # RTZ
    run(h, "fdiv.d", 7)
    down = h.f[3]
    h.frm = 3  # RUP
    run(h, "fdiv.d", 7)
    assert h.f[3] == down + 1
    assert f64(1 / 3) in (down, down + 1)
    h.frm = 5
    with pytest.raises(Exception, match="2"):
        run(h, "fdiv.d", 7)


def test_improperly_boxed_single_reads_as_canonical_nan() -> None:
    h = hart()
    h.f[1] = f32(2.0)  # upper half not all ones
    h.f[2] = BOX | f32(1.0)
    run(h, "fadd.s")
    assert h.f[3] == BOX | 0x7FC00000


def test_signaling_nan_sets_invalid_and_min_returns_other_operand() -> None:
    h = hart()
    h.f[1] = BOX | 0x7F800001  # sNaN
    h.f[2] = BOX | f32(5.0)
    run(h, "fmin.s")
    assert h.f[3] == BOX | f32(5.0)
    assert h.fflags & NV


def test_min_of_signed_zeros() -> None:
    h = hart()
    h.f[1], h.f[2] = f64(0.0), f64(-0.0)
    run(h, "fmin.d")
    assert h.f[3] == f64(-0.0)
    run(h, "fmax.d")
    assert h.f[3] == f64(0.0)


def test_overflow_and_underflow_flags() -> None:
    single_max = Fraction(0xFFFFFF) * Fraction(2) ** (127 - 23)
    bits, flags = pack(0, single_max * 2, SINGLE, 0)
    assert bits == 0x7F800000 and flags == OF | NX
    bits, flags = pack(0, single_max * 2, SINGLE, 1)  # RTZ saturates to the largest finite
    assert bits == 0x7F7FFFFF
    bits, flags = pack(0, Fraction(1, 3) * Fraction(2) ** -140, SINGLE, 0)
    assert flags == UF | NX and bits < 0x00800000


def test_conversions_saturate_and_round() -> None:
    h = hart()
    h.f[1] = f64(-1.5)
    run(h, "fcvt.w.d", 0)  # RNE: -2
    assert h.x[3] == (1 << 64) - 2
    run(h, "fcvt.wu.d", 1)  # negative to unsigned: 0, invalid
    assert h.x[3] == 0 and h.fflags & NV
    h.f[1] = f64(1e20)
    run(h, "fcvt.w.d", 1)
    assert h.x[3] == 0x7FFFFFFF
    h.x[1] = (1 << 64) - 1  # -1
    run(h, "fcvt.s.l", 0)
    assert h.f[3] == BOX | f32(-1.0)
    run(h, "fcvt.d.lu", 0)
    assert h.f[3] == f64(2.0**64)


def test_fma_is_fused() -> None:
    h = hart()
    a = 1 + 2**-30
    h.f[1], h.f[2], h.f[4] = f64(a), f64(a), f64(-1.0)
    run(h, "fmadd.d", 0)
    exact = (a * a) - 1  # rounded once in float: differs from the fused result
    fused = 2**-29 + 2**-60
    assert h.f[3] == f64(fused)
    assert f64(exact) != h.f[3]


def test_sqrt_and_classify() -> None:
    h = hart()
    h.f[1] = f64(2.0)
    run(h, "fsqrt.d", 0)
    assert h.f[3] == f64(math.sqrt(2.0))
    h.f[1] = f64(-1.0)
    run(h, "fsqrt.d", 0)
    assert h.f[3] == DOUBLE.canonical_nan and h.fflags & NV
    h.f[1] = f64(-0.0)
    run(h, "fclass.d")
    assert h.x[3] == 1 << 3


def test_compare_quiet_vs_signaling() -> None:
    h = hart()
    h.f[1], h.f[2] = f64(float("nan")), f64(1.0)
    run(h, "feq.d")
    assert h.x[3] == 0 and h.fflags == 0
    run(h, "flt.d")
    assert h.fflags & NV
