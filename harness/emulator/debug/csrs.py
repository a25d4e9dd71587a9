"""The trigger CSRs (tselect, tdata1-3, tinfo) and the debug-mode CSRs (dcsr, dpc, dscratch0-1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .hart import DCSR_WRITABLE, MCONTROL_DMODE, TINFO, TRIGGER_COUNT

if TYPE_CHECKING:
    from ..cpu import Hart
    from ..csr import Csr, Feature, Reader, Writer

M64 = (1 << 64) - 1


def _in_debug(h: Hart) -> bool:
    return h.debug_mode


def _read_tselect(h: Hart) -> int:
    return h.dbg.tselect


def _write_tselect(h: Hart, value: int) -> None:
    # WARL: a trigger that does not exist leaves tselect as it was (software counts triggers so).
    if value < TRIGGER_COUNT:
        h.dbg.tselect = value


def _read_tdata1(h: Hart) -> int:
    return h.dbg.tdata1[h.dbg.tselect]


def _write_tdata1(h: Hart, value: int) -> None:
    h.dbg.write_tdata1(value, h.debug_mode)
    h.refresh_stepper()
    # The engine leaves its quantum so the trigger is live from the next instruction on.
    h.yielding = True


def _read_tdata2(h: Hart) -> int:
    return h.dbg.tdata2[h.dbg.tselect]


def _write_tdata2(h: Hart, value: int) -> None:
    d = h.dbg
    if not d.tdata1[d.tselect] & MCONTROL_DMODE or h.debug_mode:
        d.tdata2[d.tselect] = value & M64


def _zero(h: Hart) -> int:
    return 0


def _tinfo(h: Hart) -> int:
    return TINFO


def _read_dcsr(h: Hart) -> int:
    return h.dbg.dcsr


def _write_dcsr(h: Hart, value: int) -> None:
    d = h.dbg
    d.dcsr = (d.dcsr & ~DCSR_WRITABLE) | (value & DCSR_WRITABLE)


def _read_dpc(h: Hart) -> int:
    return h.dbg.dpc


def _write_dpc(h: Hart, value: int) -> None:
    h.dbg.dpc = value & ~1 & M64


def _scratch(index: int) -> tuple[Reader, Writer]:
    def read(h: Hart) -> int:
        return h.dbg.dscratch[index]

    def write(h: Hart, value: int) -> None:
        h.dbg.dscratch[index] = value & M64

    return read, write


def debug_csrs(make: type[Csr]) -> list[Csr]:
    """The CSRs of this module, built with ``make`` (csr.Csr, passed in to avoid an import cycle)."""
    entries: list[Csr] = []

    def add(address: int, name: str, read: Reader, write: Writer | None, present: Feature | None = None) -> None:
        entries.append(make(address, name, 3, False, read, write, present))

    add(0x7A0, "tselect", _read_tselect, _write_tselect)
    add(0x7A1, "tdata1", _read_tdata1, _write_tdata1)
    add(0x7A2, "tdata2", _read_tdata2, _write_tdata2)
    add(0x7A3, "tdata3", _zero, None)
    add(0x7A4, "tinfo", _tinfo, None)
    add(0x7B0, "dcsr", _read_dcsr, _write_dcsr, _in_debug)
    add(0x7B1, "dpc", _read_dpc, _write_dpc, _in_debug)
    for index in (0, 1):
        read, write = _scratch(index)
        add(0x7B2 + index, f"dscratch{index}", read, write, _in_debug)
    return entries
