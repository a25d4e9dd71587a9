"""Integer division helpers (RISC-V semantics for divide-by-zero and overflow)."""

from __future__ import annotations

from collections.abc import Callable

M64 = (1 << 64) - 1
M32 = 0xFFFFFFFF


def _s64(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def _s32(v: int) -> int:
    v &= M32
    return v - (1 << 32) if v >> 31 else v


def _tdiv(a: int, b: int) -> int:
    # Truncating division (C semantics), not Python's floor division.
    q = abs(a) // abs(b)
    return -q if (a < 0) != (b < 0) else q


def div(a: int, b: int) -> int:
    """DIV: signed, x/0 = -1, overflow returns the dividend."""
    sa, sb = _s64(a), _s64(b)
    if sb == 0:
        return M64
    return _tdiv(sa, sb) & M64


def divu(a: int, b: int) -> int:
    """DIVU: x/0 = all ones."""
    return a // b if b else M64


def rem(a: int, b: int) -> int:
    """REM: signed, x%0 = x, overflow remainder 0."""
    sa, sb = _s64(a), _s64(b)
    if sb == 0:
        return a
    return (sa - sb * _tdiv(sa, sb)) & M64


def remu(a: int, b: int) -> int:
    """REMU: x%0 = x."""
    return a % b if b else a


def divw(a: int, b: int) -> int:
    """DIVW on the low 32 bits, sign-extended."""
    sa, sb = _s32(a), _s32(b)
    if sb == 0:
        return M64
    return _s32(_tdiv(sa, sb)) & M64


def divuw(a: int, b: int) -> int:
    """DIVUW on the low 32 bits, sign-extended."""
    ua, ub = a & M32, b & M32
    return _s32(ua // ub if ub else M32) & M64


def remw(a: int, b: int) -> int:
    """REMW on the low 32 bits, sign-extended."""
    sa, sb = _s32(a), _s32(b)
    if sb == 0:
        return sa & M64
    return _s32(sa - sb * _tdiv(sa, sb)) & M64


def remuw(a: int, b: int) -> int:
    """REMUW on the low 32 bits, sign-extended."""
    ua, ub = a & M32, b & M32
    return _s32(ua % ub if ub else ua) & M64


ALU_HELPERS: dict[str, Callable[[int, int], int]] = {
    "div": div,
    "divu": divu,
    "rem": rem,
    "remu": remu,
    "divw": divw,
    "divuw": divuw,
    "remw": remw,
    "remuw": remuw,
}
