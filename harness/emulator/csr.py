"""Control and status registers: access checks, WARL masks and side effects.

Anything not listed here raises illegal-instruction: OpenSBI probes features (priv spec
version, Sstc, PMP count, hpm counters...) by attempting accesses and catching that trap.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING

from .debug.csrs import debug_csrs
from .trap import (
    ILLEGAL_INSN,
    MIP_MEIP,
    MIP_MSIP,
    MIP_MTIP,
    MIP_SEIP,
    MIP_SSIP,
    MIP_STIP,
    PRV_M,
    PRV_S,
    PRV_U,
    Trap,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from .cpu import Hart

    # Annotations only (strings at run time), so the emulator still imports on Python 3.9.
    Reader = Callable[[Hart], int | None]
    Writer = Callable[[Hart, int], None]
    Feature = Callable[[Hart], bool]

M64 = (1 << 64) - 1

MSTATUS_SIE = 1 << 1
MSTATUS_MIE = 1 << 3
MSTATUS_SPIE = 1 << 5
MSTATUS_MPIE = 1 << 7
MSTATUS_SPP = 1 << 8
MSTATUS_MPP = 3 << 11
MSTATUS_FS = 3 << 13
MSTATUS_MPRV = 1 << 17
MSTATUS_SUM = 1 << 18
MSTATUS_MXR = 1 << 19
MSTATUS_TVM = 1 << 20
MSTATUS_TW = 1 << 21
MSTATUS_TSR = 1 << 22
MSTATUS_UXL = 2 << 32
MSTATUS_SXL = 2 << 34
MSTATUS_SD = 1 << 63

SSTATUS_MASK = MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR
S_INTERRUPTS = MIP_SSIP | MIP_STIP | MIP_SEIP
M_INTERRUPTS = MIP_MSIP | MIP_MTIP | MIP_MEIP
# Every exception except ecall-from-M can be delegated.
MEDELEG_MASK = 0xB3FF
SATP_MODE_SV39 = 8
PMPADDR_MASK = (1 << 54) - 1

CSR_SSTATUS = 0x100
CSR_TIME = 0xC01
# menvcfg.STCE: stimecmp drives STIP (Sstc), and S-mode may access stimecmp.
ENVCFG_STCE = 1 << 63
# SiFive's JEDEC vendor id and the 7-series (S7 and U74 alike) architecture id.
MVENDORID_SIFIVE = 0x489
MARCHID_SIFIVE_7 = 0x8000000000000007


@dataclass(frozen=True)
class Csr:
    """One control and status register, as the privileged spec's CSR listing describes it.

    ``read`` returns the value, or None where the current state hides the CSR (FS off, a
    counter mcounteren/scounteren does not expose, satp under TVM): that access traps too.
    ``write`` applies the WARL masks and side effects; None means writes are ignored (the
    hpm counters and events are read-only zero). ``present`` is the hart feature (S-mode,
    F/D, Sstc) the CSR belongs to, None if every hart has it.
    """

    address: int
    name: str
    min_priv: int
    read_only: bool
    read: Reader
    write: Writer | None
    present: Feature | None


def _illegal(h: Hart) -> Trap:
    return Trap(ILLEGAL_INSN, h.cur_insn, h.cur_pc)


def _has_s(h: Hart) -> bool:
    return h.has_s


def _has_fd(h: Hart) -> bool:
    return h.has_fd


def _has_sstc(h: Hart) -> bool:
    return h.has_sstc


def _zero(h: Hart) -> int:
    return 0


def _constant(value: int) -> Reader:
    return lambda h: value


def _field_reader(name: str) -> Reader:
    return attrgetter(name)


def _field_writer(name: str, mask: int) -> Writer:
    def write(h: Hart, value: int) -> None:
        setattr(h, name, value & mask)

    return write


# The index of ``time`` among the user counters (cycle, time, instret, hpmcounterN).
TIME_COUNTER = 1


def counter_allowed(h: Hart, index: int) -> bool:
    """True if the hart's privilege may read user counter ``index`` (mcounteren, scounteren)."""
    if h.priv == PRV_M:
        return True
    if not h.mcounteren >> index & 1:
        return False
    return h.priv == PRV_S or bool(h.scounteren >> index & 1)


def _counter_reader(index: int) -> Reader:
    """The user counter ``index`` (cycle, time, instret, hpmcounterN) behind its enable bits."""

    def read(h: Hart) -> int | None:
        if not counter_allowed(h, index):
            return None
        if index == TIME_COUNTER:
            return h.clock.mtime()
        return h.cycles() if index < 3 else 0

    return read


def _fp_reader(num: int) -> Reader:
    def read(h: Hart) -> int | None:
        if not h.mstatus & MSTATUS_FS:
            return None
        return (h.fflags, h.frm, h.frm << 5 | h.fflags)[num - 1]

    return read


def _write_fflags(h: Hart, value: int) -> None:
    h.fflags = value & 0x1F
    h.mstatus |= MSTATUS_FS


def _write_frm(h: Hart, value: int) -> None:
    h.frm = value & 7
    h.mstatus |= MSTATUS_FS


def _write_fcsr(h: Hart, value: int) -> None:
    h.fflags, h.frm = value & 0x1F, (value >> 5) & 7
    h.mstatus |= MSTATUS_FS


def _read_mstatus(h: Hart) -> int:
    return h.read_mstatus()


def _write_mstatus(h: Hart, value: int) -> None:
    mask = MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_MPRV
    if h.has_s:
        mask |= SSTATUS_MASK | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR
    elif h.has_fd:
        mask |= MSTATUS_FS
    h.write_mstatus((h.mstatus & ~mask) | (value & mask))


def read_sstatus(h: Hart) -> int:
    """sstatus: the S-mode view of mstatus."""
    return h.read_mstatus() & (SSTATUS_MASK | MSTATUS_UXL | MSTATUS_SD)


def _write_sstatus(h: Hart, value: int) -> None:
    h.write_mstatus((h.mstatus & ~SSTATUS_MASK) | (value & SSTATUS_MASK))


def _write_mie(h: Hart, value: int) -> None:
    h.mie = value & ((M_INTERRUPTS | S_INTERRUPTS) if h.has_s else M_INTERRUPTS)


def _read_sie(h: Hart) -> int:
    return h.mie & h.mideleg


def _write_sie(h: Hart, value: int) -> None:
    h.mie = (h.mie & ~h.mideleg) | (value & h.mideleg)


def _write_mip(h: Hart, value: int) -> None:
    mask = S_INTERRUPTS if h.has_s else 0
    if h.menvcfg & ENVCFG_STCE:
        # Under Sstc STIP follows stimecmp alone.
        mask &= ~MIP_STIP
    h.mip = (h.mip & ~mask) | (value & mask)


def _read_sip(h: Hart) -> int:
    return h.mip & h.mideleg


def _write_sip(h: Hart, value: int) -> None:
    mask = MIP_SSIP & h.mideleg
    h.mip = (h.mip & ~mask) | (value & mask)


def _tvec_writer(name: str) -> Writer:
    def write(h: Hart, value: int) -> None:
        # Modes 2 and 3 are reserved: fall back to direct mode.
        setattr(h, name, value & ~3 & M64 if value & 3 > 1 else value & ~2 & M64)

    return write


def _read_satp(h: Hart) -> int | None:
    if h.priv == PRV_S and h.mstatus & MSTATUS_TVM:
        return None
    return h.satp


def _write_satp(h: Hart, value: int) -> None:
    # Only Bare and Sv39 are implemented; writing another mode leaves satp unchanged (WARL).
    if value >> 60 in (0, SATP_MODE_SV39):
        h.satp = value & ((0xF << 60) | (0xFFFF << 44) | ((1 << 44) - 1))
        h.flush_translations()


def _read_cycles(h: Hart) -> int:
    return h.cycles()


def _write_cycles(h: Hart, value: int) -> None:
    h.set_cycles(value)


def _pmpcfg(index: int) -> tuple[Reader, Writer]:
    def read(h: Hart) -> int:
        return h.pmpcfg[index]

    def write(h: Hart, value: int) -> None:
        h.pmpcfg[index] = value

    return read, write


def _pmpaddr(index: int) -> tuple[Reader, Writer]:
    def read(h: Hart) -> int:
        return h.pmpaddr[index]

    def write(h: Hart, value: int) -> None:
        h.pmpaddr[index] = value & PMPADDR_MASK

    return read, write


def _write_menvcfg(h: Hart, value: int) -> None:
    # Only STCE is implemented; the other fields (CBIE, PBMTE...) read as zero (WARL).
    h.menvcfg = value & ENVCFG_STCE
    sstc_update(h, h.clock.mtime())


def _read_stimecmp(h: Hart) -> int | None:
    # From S-mode only when M-mode enabled it (STCE) and lets S read time (mcounteren.TM).
    if h.priv == PRV_S and not (h.menvcfg & ENVCFG_STCE and h.mcounteren & 2):
        return None
    return h.stimecmp


def _write_stimecmp(h: Hart, value: int) -> None:
    h.stimecmp = value
    sstc_update(h, h.clock.mtime())


def _build() -> dict[int, Csr]:
    table: dict[int, Csr] = {}

    def add(address: int, name: str, read: Reader, write: Writer | None = None, present: Feature | None = None) -> None:
        # Privilege and read-only-ness are encoded in the address (bits 9:8 and 11:10).
        table[address] = Csr(address, name, (address >> 8) & 3, address >> 10 == 3, read, write, present)

    def field(address: int, name: str, mask: int = M64, present: Feature | None = None) -> None:
        add(address, name, _field_reader(name), _field_writer(name, mask), present)

    # Floating point (F/D), reachable only while mstatus.FS is on.
    add(0x001, "fflags", _fp_reader(0x001), _write_fflags, _has_fd)
    add(0x002, "frm", _fp_reader(0x002), _write_frm, _has_fd)
    add(0x003, "fcsr", _fp_reader(0x003), _write_fcsr, _has_fd)
    # Supervisor.
    add(CSR_SSTATUS, "sstatus", read_sstatus, _write_sstatus, _has_s)
    add(0x104, "sie", _read_sie, _write_sie, _has_s)
    add(0x105, "stvec", _field_reader("stvec"), _tvec_writer("stvec"), _has_s)
    field(0x106, "scounteren", 0xFFFFFFFF, _has_s)
    field(0x140, "sscratch", present=_has_s)
    field(0x141, "sepc", ~1 & M64, _has_s)
    field(0x142, "scause", present=_has_s)
    field(0x143, "stval", present=_has_s)
    add(0x144, "sip", _read_sip, _write_sip, _has_s)
    add(0x14D, "stimecmp", _read_stimecmp, _write_stimecmp, _has_sstc)
    add(0x180, "satp", _read_satp, _write_satp, _has_s)
    # Machine trap setup and handling.
    add(0x300, "mstatus", _read_mstatus, _write_mstatus)
    add(0x301, "misa", _field_reader("misa"))
    field(0x302, "medeleg", MEDELEG_MASK, _has_s)
    field(0x303, "mideleg", S_INTERRUPTS, _has_s)
    add(0x304, "mie", _field_reader("mie"), _write_mie)
    add(0x305, "mtvec", _field_reader("mtvec"), _tvec_writer("mtvec"))
    field(0x306, "mcounteren", 0xFFFFFFFF)
    add(0x30A, "menvcfg", _field_reader("menvcfg"), _write_menvcfg, _has_sstc)
    field(0x320, "mcountinhibit", 0xFFFFFFFD)
    for n in range(3, 32):
        add(0x320 + n, f"mhpmevent{n}", _zero)
    field(0x340, "mscratch")
    field(0x341, "mepc", ~1 & M64)
    field(0x342, "mcause")
    field(0x343, "mtval")
    add(0x344, "mip", _field_reader("mip"), _write_mip)
    # Physical memory protection: stored, not enforced (M-mode firmware only configures it).
    for index in (0, 1):
        add(0x3A0 + 2 * index, f"pmpcfg{2 * index}", *_pmpcfg(index))
    for index in range(16):
        add(0x3B0 + index, f"pmpaddr{index}", *_pmpaddr(index))
    # Counters: one cycle per retired instruction, so cycle and instret are the same count.
    add(0xB00, "mcycle", _read_cycles, _write_cycles)
    add(0xB02, "minstret", _read_cycles, _write_cycles)
    for n in range(3, 32):
        add(0xB00 + n, f"mhpmcounter{n}", _zero)
    for n in range(32):
        add(0xC00 + n, ("cycle", "time", "instret")[n] if n < 3 else f"hpmcounter{n}", _counter_reader(n))
    # SiFive 7-series custom: the feature-disable bits U-Boot's SPL clears on every hart.
    field(0x7C1, "feature_disable", 0xFFFFFFFF)
    # Machine information.
    add(0xF11, "mvendorid", _constant(MVENDORID_SIFIVE))
    add(0xF12, "marchid", _constant(MARCHID_SIFIVE_7))
    add(0xF13, "mimpid", _zero)
    add(0xF14, "mhartid", _field_reader("hartid"))
    return table


# Every implemented CSR by address; any other address raises illegal-instruction.
CSRS: dict[int, Csr] = _build()
# The trigger and debug-mode CSRs live with the rest of the debug support.
CSRS.update((c.address, c) for c in debug_csrs(Csr))


def _lookup(h: Hart, num: int) -> Csr:
    """The CSR ``num`` if this hart has it and its privilege allows; else illegal-instruction."""
    csr = CSRS.get(num)
    if csr is None or csr.min_priv > h.priv or (csr.present is not None and not csr.present(h)):
        raise _illegal(h)
    return csr


def read_csr(h: Hart, num: int) -> int:
    """Return CSR ``num`` or raise illegal-instruction (privilege, absence)."""
    value = _lookup(h, num).read(h)
    if value is None:
        raise _illegal(h)
    return value


def sstc_update(h: Hart, now: int) -> None:
    """With menvcfg.STCE set, STIP is ``mtime >= stimecmp`` (and not writable through mip)."""
    if h.menvcfg & ENVCFG_STCE:
        if now >= h.stimecmp:
            h.mip |= MIP_STIP
        else:
            h.mip &= ~MIP_STIP


def csr_op(h: Hart, kind: str, num: int, operand: int, rd: int, rs1: int) -> None:
    """Execute csrrw/csrrs/csrrc (and the immediate forms) on ``h``."""
    csr = _lookup(h, num)
    swap = kind in ("csrrw", "csrrwi")
    # csrrs/csrrc with rs1 (or uimm) zero only read, so they work on read-only CSRs.
    writes = swap or rs1 != 0
    if writes and csr.read_only:
        raise _illegal(h)
    old = csr.read(h)
    if old is None:
        raise _illegal(h)
    if writes and csr.write is not None:
        if swap:
            new = operand
        elif kind in ("csrrs", "csrrsi"):
            new = old | operand
        else:
            new = old & ~operand & M64
        csr.write(h, new)
    if rd:
        h.x[rd] = old


def mode_allowed(h: Hart, mode: int) -> int:
    """Legalise a privilege mode written into MPP (WARL): unsupported modes become U."""
    if mode == PRV_M or (mode == PRV_S and h.has_s):
        return mode
    return PRV_U
