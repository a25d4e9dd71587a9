"""Control and status registers: access checks, WARL masks and side effects.

Anything not listed here raises illegal-instruction: OpenSBI probes features (priv spec
version, Sstc, PMP count, hpm counters...) by attempting accesses and catching that trap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    from .cpu import Hart

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

CSR_FFLAGS, CSR_FRM, CSR_FCSR = 0x001, 0x002, 0x003
CSR_CYCLE, CSR_TIME, CSR_INSTRET = 0xC00, 0xC01, 0xC02
CSR_SSTATUS, CSR_SIE, CSR_STVEC, CSR_SCOUNTEREN = 0x100, 0x104, 0x105, 0x106
CSR_SSCRATCH, CSR_SEPC, CSR_SCAUSE, CSR_STVAL, CSR_SIP = 0x140, 0x141, 0x142, 0x143, 0x144
CSR_SATP, CSR_STIMECMP, CSR_MENVCFG = 0x180, 0x14D, 0x30A
# menvcfg.STCE: stimecmp drives STIP (Sstc), and S-mode may access stimecmp.
ENVCFG_STCE = 1 << 63
CSR_MSTATUS, CSR_MISA, CSR_MEDELEG, CSR_MIDELEG, CSR_MIE, CSR_MTVEC = 0x300, 0x301, 0x302, 0x303, 0x304, 0x305
CSR_MCOUNTEREN, CSR_MCOUNTINHIBIT = 0x306, 0x320
CSR_MSCRATCH, CSR_MEPC, CSR_MCAUSE, CSR_MTVAL, CSR_MIP = 0x340, 0x341, 0x342, 0x343, 0x344
CSR_MCYCLE, CSR_MINSTRET = 0xB00, 0xB02
CSR_MVENDORID, CSR_MARCHID, CSR_MIMPID, CSR_MHARTID = 0xF11, 0xF12, 0xF13, 0xF14
# SiFive's JEDEC vendor id and the 7-series (S7 and U74 alike) architecture id.
MVENDORID_SIFIVE = 0x489
MARCHID_SIFIVE_7 = 0x8000000000000007


def _illegal(h: Hart) -> Trap:
    return Trap(ILLEGAL_INSN, h.cur_insn, h.cur_pc)


def _counter_allowed(h: Hart, index: int) -> bool:
    if h.priv == PRV_M:
        return True
    if not h.mcounteren >> index & 1:
        return False
    return h.priv == PRV_S or bool(h.scounteren >> index & 1)


def read_csr(h: Hart, num: int) -> int:
    """Return CSR ``num`` or raise illegal-instruction (privilege, absence)."""
    if (num >> 8) & 3 > h.priv:
        raise _illegal(h)
    value = _read(h, num)
    if value is None:
        raise _illegal(h)
    return value


def check_writable(h: Hart, num: int) -> None:
    """Raise illegal-instruction if CSR ``num`` is read-only or too privileged."""
    if num >> 10 == 3 or (num >> 8) & 3 > h.priv:
        raise _illegal(h)


def _fp_allowed(h: Hart) -> bool:
    return h.has_fd and h.mstatus & MSTATUS_FS != 0


def _read(h: Hart, num: int) -> int | None:
    s = h.has_s
    if num <= CSR_FCSR:
        if num == 0 or not _fp_allowed(h):
            return None
        return (h.fflags, h.frm, h.frm << 5 | h.fflags)[num - 1]
    if 0xC00 <= num <= 0xC1F:
        index = num - 0xC00
        if not _counter_allowed(h, index):
            return None
        if num == CSR_TIME:
            return h.clock.mtime()
        return h.cycles() if index < 3 else 0
    if 0xB00 <= num <= 0xB1F:
        return h.cycles() if num in (CSR_MCYCLE, CSR_MINSTRET) else (0 if num != 0xB01 else None)
    if 0x323 <= num <= 0x33F:
        return 0
    table: dict[int, int] = {
        CSR_MVENDORID: MVENDORID_SIFIVE,
        CSR_MARCHID: MARCHID_SIFIVE_7,
        CSR_MIMPID: 0,
        CSR_MHARTID: h.hartid,
        CSR_MSTATUS: h.read_mstatus(),
        CSR_MISA: h.misa,
        CSR_MIE: h.mie,
        CSR_MIP: h.mip,
        CSR_MTVEC: h.mtvec,
        CSR_MCOUNTEREN: h.mcounteren,
        CSR_MCOUNTINHIBIT: h.mcountinhibit,
        CSR_MSCRATCH: h.mscratch,
        CSR_MEPC: h.mepc,
        CSR_MCAUSE: h.mcause,
        CSR_MTVAL: h.mtval,
        0x3A0: h.pmpcfg[0],
        0x3A2: h.pmpcfg[1],
    }
    if s:
        table.update(
            {
                CSR_MEDELEG: h.medeleg,
                CSR_MIDELEG: h.mideleg,
                CSR_SSTATUS: h.read_mstatus() & (SSTATUS_MASK | MSTATUS_UXL | MSTATUS_SD),
                CSR_SIE: h.mie & h.mideleg,
                CSR_SIP: h.mip & h.mideleg,
                CSR_STVEC: h.stvec,
                CSR_SCOUNTEREN: h.scounteren,
                CSR_SSCRATCH: h.sscratch,
                CSR_SEPC: h.sepc,
                CSR_SCAUSE: h.scause,
                CSR_STVAL: h.stval,
            }
        )
        if num == CSR_SATP:
            if h.priv == PRV_S and h.mstatus & MSTATUS_TVM:
                return None
            return h.satp
    if 0x3B0 <= num <= 0x3BF:
        return h.pmpaddr[num - 0x3B0]
    if h.has_sstc and num in (CSR_MENVCFG, CSR_STIMECMP):
        return _read_sstc(h, num)
    return table.get(num)


def _read_sstc(h: Hart, num: int) -> int | None:
    if num == CSR_MENVCFG:
        return h.menvcfg
    # From S-mode only when M-mode enabled it (STCE) and lets S read time (mcounteren.TM).
    if h.priv == PRV_S and not (h.menvcfg & ENVCFG_STCE and h.mcounteren & 2):
        return None
    return h.stimecmp


def sstc_update(h: Hart, now: int) -> None:
    """With menvcfg.STCE set, STIP is ``mtime >= stimecmp`` (and not writable through mip)."""
    if h.menvcfg & ENVCFG_STCE:
        if now >= h.stimecmp:
            h.mip |= MIP_STIP
        else:
            h.mip &= ~MIP_STIP


def write_csr(h: Hart, num: int, value: int) -> None:
    """Write CSR ``num`` (already checked readable and writable), applying WARL masks."""
    s = h.has_s
    if num <= CSR_FCSR:
        if num == CSR_FFLAGS:
            h.fflags = value & 0x1F
        elif num == CSR_FRM:
            h.frm = value & 7
        else:
            h.fflags, h.frm = value & 0x1F, (value >> 5) & 7
        h.mstatus |= MSTATUS_FS
    elif num == CSR_MSTATUS:
        mask = MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_MPRV
        if s:
            mask |= SSTATUS_MASK | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR
        elif h.has_fd:
            mask |= MSTATUS_FS
        h.write_mstatus((h.mstatus & ~mask) | (value & mask))
    elif num == CSR_SSTATUS:
        h.write_mstatus((h.mstatus & ~SSTATUS_MASK) | (value & SSTATUS_MASK))
    elif num == CSR_MIE:
        mask = (M_INTERRUPTS | S_INTERRUPTS) if s else M_INTERRUPTS
        h.mie = value & mask
    elif num == CSR_SIE:
        h.mie = (h.mie & ~h.mideleg) | (value & h.mideleg)
    elif num == CSR_MIP:
        mask = S_INTERRUPTS if s else 0
        if h.menvcfg & ENVCFG_STCE:
            mask &= ~MIP_STIP
        h.mip = (h.mip & ~mask) | (value & mask)
    elif num == CSR_SIP:
        mask = MIP_SSIP & h.mideleg
        h.mip = (h.mip & ~mask) | (value & mask)
    elif num == CSR_MEDELEG:
        h.medeleg = value & MEDELEG_MASK
    elif num == CSR_MIDELEG:
        h.mideleg = value & S_INTERRUPTS
    elif num in (CSR_MTVEC, CSR_STVEC):
        # Modes 2 and 3 are reserved: fall back to direct mode.
        value = value & ~3 & M64 if value & 3 > 1 else value & ~2 & M64
        if num == CSR_MTVEC:
            h.mtvec = value
        else:
            h.stvec = value
    elif num == CSR_MCOUNTEREN:
        h.mcounteren = value & 0xFFFFFFFF
    elif num == CSR_SCOUNTEREN:
        h.scounteren = value & 0xFFFFFFFF
    elif num == CSR_MCOUNTINHIBIT:
        h.mcountinhibit = value & 0xFFFFFFFD
    elif num in (CSR_MSCRATCH, CSR_SSCRATCH):
        if num == CSR_MSCRATCH:
            h.mscratch = value
        else:
            h.sscratch = value
    elif num in (CSR_MEPC, CSR_SEPC):
        if num == CSR_MEPC:
            h.mepc = value & ~1 & M64
        else:
            h.sepc = value & ~1 & M64
    elif num == CSR_MCAUSE:
        h.mcause = value
    elif num == CSR_SCAUSE:
        h.scause = value
    elif num == CSR_MTVAL:
        h.mtval = value
    elif num == CSR_STVAL:
        h.stval = value
    elif num == CSR_SATP:
        mode = value >> 60
        if mode in (0, SATP_MODE_SV39):
            h.satp = value & ((0xF << 60) | (0xFFFF << 44) | ((1 << 44) - 1))
            h.flush_translations()
    elif num in (CSR_MCYCLE, CSR_MINSTRET):
        h.set_cycles(value)
    elif num in (0x3A0, 0x3A2):
        h.pmpcfg[(num - 0x3A0) >> 1] = value
    elif 0x3B0 <= num <= 0x3BF:
        h.pmpaddr[num - 0x3B0] = value & PMPADDR_MASK
    elif num == CSR_MENVCFG:
        # Only STCE is implemented; the other fields (CBIE, PBMTE...) read as zero (WARL).
        h.menvcfg = value & ENVCFG_STCE
        sstc_update(h, h.clock.mtime())
    elif num == CSR_STIMECMP:
        h.stimecmp = value
        sstc_update(h, h.clock.mtime())
    # Remaining readable CSRs (hpm counters/events, ids) are read-only zero or WARL-ignored.


def csr_op(h: Hart, kind: str, num: int, operand: int, rd: int, rs1: int) -> None:
    """Execute csrrw/csrrs/csrrc (and the immediate forms) on ``h``."""
    swap = kind in ("csrrw", "csrrwi")
    # csrrs/csrrc with rs1 (or uimm) zero only read, so they work on read-only CSRs.
    writes = swap or rs1 != 0
    if writes:
        check_writable(h, num)
    old = read_csr(h, num)
    if writes:
        if swap:
            new = operand
        elif kind in ("csrrs", "csrrsi"):
            new = old | operand
        else:
            new = old & ~operand & M64
        write_csr(h, num, new)
    if rd:
        h.x[rd] = old


def mode_allowed(h: Hart, mode: int) -> int:
    """Legalise a privilege mode written into MPP (WARL): unsupported modes become U."""
    if mode == PRV_M or (mode == PRV_S and h.has_s):
        return mode
    return PRV_U
