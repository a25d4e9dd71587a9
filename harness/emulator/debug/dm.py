"""The Debug Module (RISC-V External Debug Support 0.13.2, chapter 3) behind the DMI.

Registers: dmcontrol, dmstatus, hartinfo, abstractcs, command (Access Register for GPRs,
FPRs and CSRs), abstractauto, data0-1, progbuf0-7, haltsum0-1, and system bus access
(sbcs, sbaddress0-1, sbdata0-1). Hart selection covers every hart: hartsel, and with hasel
the hart array mask (hawindowsel, hawindow), so haltreq, resumereq, hartreset and the
halt-on-reset requests reach several harts at once and dmstatus's all*/any* bits cover them.
Reset: while ndmreset (every hart) or hartreset (the selected ones) is asserted the harts are
held in reset (dmstatus reports them unavailable) and start when it is deasserted. haltreq is
a request held per hart until written 0, as the spec has it: a hart leaving reset with it set
halts before its first instruction (what OpenOCD's ``reset halt`` relies on), and so does one
whose halt-on-reset request is set (setresethaltreq, clrresethaltreq; dcsr.cause 5), also
after a reset the guest asks for. The module runs on the emulator's main thread between quanta, so
every operation completes at once: abstractcs.busy and sbcs.sbbusy always read 0.

The program buffer runs on the selected hart in debug mode through the interpreter: its
words are decoded into a page of instruction slots that the hart's instruction TLB maps at
PROGBUF_ADDR for the run, followed by the implicit ebreak (impebreak). An exception ends
the run with cmderr 3 and changes no trap CSR.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from .. import interp, ops
from ..boards import ROM_BASE
from ..bus import Bus, BusError
from ..codecache import CodeCache
from ..csr import CSRS, MSTATUS_MPRV
from ..decode import decode
from .hart import CAUSE_HALTREQ, CAUSE_RESETHALTREQ, DCSR_STEP, DCSR_STOPCOUNT, enter_debug, resume

if TYPE_CHECKING:
    from ..cpu import Hart

M32 = 0xFFFFFFFF
M64 = (1 << 64) - 1

# DMI register addresses.
DATA0 = 0x04
DMCONTROL = 0x10
DMSTATUS = 0x11
HARTINFO = 0x12
HALTSUM1 = 0x13
HAWINDOWSEL = 0x14
HAWINDOW = 0x15
ABSTRACTCS = 0x16
COMMAND = 0x17
ABSTRACTAUTO = 0x18
PROGBUF0 = 0x20
SBCS = 0x38
SBADDRESS0 = 0x39
SBADDRESS1 = 0x3A
SBDATA0 = 0x3C
SBDATA1 = 0x3D
HALTSUM0 = 0x40

DATACOUNT = 2
PROGBUFSIZE = 8
HARTSELLEN = 5
NSCRATCH = 2
DM_VERSION_013 = 2
# Where the program buffer appears to the hart while it runs (as the FU740's debug module
# sits at 0x0); nothing else lives in that page.
PROGBUF_ADDR = 0x300
EBREAK = 0x00100073
# Instructions a program buffer run may take before it counts as failed (no ebreak reached).
PROGBUF_LIMIT = 64
# Instructions run between checks for the program buffer's end.
PROGBUF_STEP = 16

# dmcontrol bits.
HALTREQ = 1 << 31
RESUMEREQ = 1 << 30
HARTRESET = 1 << 29
ACKHAVERESET = 1 << 28
HASEL = 1 << 26
SETRESETHALTREQ = 1 << 3
CLRRESETHALTREQ = 1 << 2
NDMRESET = 1 << 1
# dmstatus.hasresethaltreq
HASRESETHALTREQ = 1 << 5

# abstractcs.cmderr
CMDERR_NONE = 0
CMDERR_NOT_SUPPORTED = 2
CMDERR_EXCEPTION = 3
CMDERR_HALT_RESUME = 4

# sbcs
SBVERSION = 1
SBERR_BAD_ADDRESS = 2
SBERR_ALIGNMENT = 3
SBERR_SIZE = 4
SB_ACCESS_ALL = 0b1111  # 8, 16, 32 and 64-bit accesses

REG_CSR_END = 0x1000
REG_GPR = 0x1000
REG_FPR = 0x1020
REG_FPR_END = 0x1040


class DebugTarget(Protocol):
    """What the Debug Module needs of the machine."""

    harts: list[Hart]
    bus: Bus
    code: CodeCache

    def reset(self) -> None:
        """Reset the whole machine (dmcontrol.ndmreset)."""


class AbstractError(Exception):
    """An abstract command failed; ``cmderr`` says how."""

    def __init__(self, cmderr: int) -> None:
        super().__init__(cmderr)
        self.cmderr = cmderr


class DebugModule:
    """One Debug Module over all harts of ``target``."""

    def __init__(self, target: DebugTarget) -> None:
        self.target = target
        self.havereset: set[int] = set(range(len(target.harts)))
        # Harts to halt as they leave reset; kept through dmactive = 0 and every reset (as the
        # spec asks: a debugger sets it, then resets the system).
        self.resethaltreq: set[int] = set()
        # Harts held in reset (ndmreset or hartreset asserted), and halt requests (haltreq is
        # held per hart until written 0).
        self.held: set[int] = set()
        self.haltreq: set[int] = set()
        self._clear()
        self.readers: dict[int, Callable[[], int]] = {
            DMCONTROL: self._read_dmcontrol,
            DMSTATUS: self._read_dmstatus,
            HARTINFO: lambda: NSCRATCH << 20,
            HALTSUM1: self._read_haltsum1,
            HAWINDOWSEL: lambda: 0,
            HAWINDOW: lambda: self.hawindow,
            ABSTRACTCS: self._read_abstractcs,
            COMMAND: lambda: 0,
            ABSTRACTAUTO: lambda: self.abstractauto,
            SBCS: self._read_sbcs,
            SBADDRESS0: lambda: self.sbaddress & M32,
            SBADDRESS1: lambda: self.sbaddress >> 32,
            SBDATA0: self._read_sbdata0,
            SBDATA1: lambda: self.sbdata >> 32,
            HALTSUM0: self._read_haltsum0,
        }
        self.writers: dict[int, Callable[[int], None]] = {
            DMCONTROL: self._write_dmcontrol,
            HAWINDOW: self._write_hawindow,
            ABSTRACTCS: self._write_abstractcs,
            COMMAND: self._write_command,
            ABSTRACTAUTO: self._write_abstractauto,
            SBCS: self._write_sbcs,
            SBADDRESS0: self._write_sbaddress0,
            SBADDRESS1: self._write_sbaddress1,
            SBDATA0: self._write_sbdata0,
            SBDATA1: self._write_sbdata1,
        }

    def _clear(self) -> None:
        """The state dmcontrol.dmactive = 0 resets (harts held in reset start)."""
        if getattr(self, "held", None):
            self._release(set(self.held))
        self.haltreq = set()
        self.dmactive = False
        self.hartsel = 0
        self.hasel = False
        # The hart array mask: one window of 32 harts (hawindowsel is 0; there are at most 32).
        self.hawindow = 0
        self.hartreset = False
        self.ndmreset = False
        self.data = [0] * DATACOUNT
        self.progbuf = [0] * PROGBUFSIZE
        self.cmderr = CMDERR_NONE
        self.command = 0
        self.abstractauto = 0
        self.resumeack: set[int] = set()
        self.sbreadonaddr = False
        self.sbaccess = 2
        self.sbautoincrement = False
        self.sbreadondata = False
        self.sberror = 0
        self.sbaddress = 0
        self.sbdata = 0

    # --- the DMI ---------------------------------------------------------------------------

    def dmi_read(self, address: int) -> int:
        """The value of DM register ``address`` (0 for registers not implemented)."""
        if DATA0 <= address < DATA0 + DATACOUNT:
            value = self.data[address - DATA0]
            self._autoexec(address - DATA0)
            return value
        if PROGBUF0 <= address < PROGBUF0 + PROGBUFSIZE:
            value = self.progbuf[address - PROGBUF0]
            self._autoexec(16 + address - PROGBUF0)
            return value
        reader = self.readers.get(address)
        return reader() & M32 if reader is not None else 0

    def dmi_write(self, address: int, value: int) -> None:
        """Write DM register ``address`` (ignored for registers not implemented)."""
        value &= M32
        if address == DMCONTROL:
            self._write_dmcontrol(value)
            return
        if not self.dmactive:
            return
        if DATA0 <= address < DATA0 + DATACOUNT:
            if self.cmderr == CMDERR_NONE:
                self.data[address - DATA0] = value
            self._autoexec(address - DATA0)
        elif PROGBUF0 <= address < PROGBUF0 + PROGBUFSIZE:
            if self.cmderr == CMDERR_NONE:
                self.progbuf[address - PROGBUF0] = value
            self._autoexec(16 + address - PROGBUF0)
        else:
            writer = self.writers.get(address)
            if writer is not None:
                writer(value)

    def on_machine_reset(self) -> None:
        """Every hart was reset (a guest reset or ndmreset): report it in havereset; under
        ndmreset they are held until it is deasserted, else those asked to halt halt now."""
        everyone = set(range(len(self.target.harts)))
        self.havereset = set(everyone)
        if self.ndmreset:
            self._hold(everyone)
        else:
            self._release_halting(everyone)

    def _hold(self, indices: set[int]) -> None:
        """Hold ``indices`` in reset: they do not run (the scheduler skips a halted hart)."""
        for index in indices:
            self.target.harts[index].halted = True
        self.held |= indices

    def _release(self, indices: set[int]) -> None:
        """Let ``indices`` out of reset: each runs, or halts at once if asked to."""
        released = indices & self.held
        self.held -= released
        for index in released:
            self.target.harts[index].halted = False
        self._release_halting(released)

    def _release_halting(self, indices: set[int]) -> None:
        for index in sorted(indices):
            h = self.target.harts[index]
            if h.halted:
                continue
            if index in self.resethaltreq:
                enter_debug(h, CAUSE_RESETHALTREQ, h.pc)
            elif index in self.haltreq:
                enter_debug(h, CAUSE_HALTREQ, h.pc)

    # --- run control -----------------------------------------------------------------------

    def _hart(self) -> Hart | None:
        harts = self.target.harts
        return harts[self.hartsel] if self.hartsel < len(harts) else None

    def _selected(self) -> list[int]:
        """The harts dmcontrol's requests reach: hartsel, and the hart array mask with hasel."""
        count = len(self.target.harts)
        chosen = {self.hartsel} if self.hartsel < count else set()
        if self.hasel:
            chosen |= {i for i in range(min(count, 32)) if self.hawindow >> i & 1}
        return sorted(chosen)

    def _write_hawindow(self, value: int) -> None:
        self.hawindow = value & ((1 << min(len(self.target.harts), 32)) - 1)

    def _read_dmcontrol(self) -> int:
        lo, hi = self.hartsel & 0x3FF, self.hartsel >> 10
        bits = self.hasel << 26 | self.hartreset << 29
        return bits | lo << 16 | hi << 6 | self.ndmreset << 1 | self.dmactive

    def _write_dmcontrol(self, value: int) -> None:
        if not value & 1:
            self._clear()
            return
        self.dmactive = True
        sel = (value >> 16 & 0x3FF) | (value >> 6 & 0x3FF) << 10
        self.hartsel = sel & ((1 << HARTSELLEN) - 1)
        self.hasel = bool(value & HASEL)
        selected = self._selected()
        # haltreq is held per hart until written 0 (a hart in reset halts as it leaves it).
        if value & HALTREQ:
            self.haltreq.update(selected)
        else:
            self.haltreq.difference_update(selected)
        if value & SETRESETHALTREQ:
            self.resethaltreq.update(selected)
        elif value & CLRRESETHALTREQ:
            self.resethaltreq.difference_update(selected)
        ndmreset = bool(value & NDMRESET)
        if ndmreset and not self.ndmreset:
            self.ndmreset = True
            self.target.reset()
            self.on_machine_reset()
        elif self.ndmreset and not ndmreset:
            self.ndmreset = False
            self._release(set(self.held))
        if value & ACKHAVERESET:
            self.havereset.difference_update(selected)
        hartreset = bool(value & HARTRESET)
        if hartreset and not self.hartreset:
            self._reset_harts(selected)
        elif self.hartreset and not hartreset:
            self._release(set(selected))
        self.hartreset = hartreset
        harts = self.target.harts  # after a reset: the machine's harts are new
        if value & HALTREQ:
            for index in selected:
                if not harts[index].halted and index not in self.held:
                    enter_debug(harts[index], CAUSE_HALTREQ, harts[index].pc)
        elif value & RESUMEREQ:
            for index in selected:
                self.resumeack.discard(index)
                h = harts[index]
                if h.halted and index not in self.held:
                    resume(h)
                    if h.dbg.dcsr & DCSR_STEP:
                        # A step is over before the debugger looks, as on silicon (OpenOCD gives
                        # it a few hundred dmstatus reads): its one instruction runs now.
                        h.run(1)
                self.resumeack.add(index)

    def _reset_harts(self, selected: list[int]) -> None:
        """hartreset: the selected harts alone are reset (their memory and the other harts are
        untouched) and held there until hartreset is deasserted."""
        for index in selected:
            self.target.harts[index].reset(ROM_BASE)
            self.havereset.add(index)
        self._hold(set(selected))

    def _read_dmstatus(self) -> int:
        value = DM_VERSION_013 | 1 << 7 | 1 << 22 | HASRESETHALTREQ  # authenticated, impebreak
        selected = self._selected()
        if not selected:
            return value | 3 << 14  # all/anynonexistent
        harts, held = self.target.harts, self.held
        for bit, has in (
            (18, [i in self.havereset for i in selected]),
            (16, [i in self.resumeack for i in selected]),
            (12, [i in held for i in selected]),  # unavailable: held in reset
            (10, [not harts[i].halted for i in selected]),
            (8, [harts[i].halted and i not in held for i in selected]),
        ):
            value |= any(has) << bit | all(has) << (bit + 1)
        return value

    def _read_haltsum0(self) -> int:
        base = self.hartsel & ~0x1F
        harts = self.target.harts[base : base + 32]
        return sum(1 << i for i, h in enumerate(harts) if h.halted and base + i not in self.held)

    def _read_haltsum1(self) -> int:
        base = self.hartsel & ~0x3FF
        harts = self.target.harts
        value = 0
        for group in range(32):
            start = base + 32 * group
            if any(h.halted for h in harts[start : start + 32]):
                value |= 1 << group
        return value

    # --- abstract commands -----------------------------------------------------------------

    def _read_abstractcs(self) -> int:
        return PROGBUFSIZE << 24 | self.cmderr << 8 | DATACOUNT

    def _write_abstractcs(self, value: int) -> None:
        self.cmderr &= ~(value >> 8 & 7)

    def _write_abstractauto(self, value: int) -> None:
        self.abstractauto = value & ((1 << PROGBUFSIZE) - 1) << 16 | value & ((1 << DATACOUNT) - 1)

    def _write_command(self, value: int) -> None:
        if self.cmderr != CMDERR_NONE:
            return
        self.command = value
        self._execute()

    def _autoexec(self, bit: int) -> None:
        if self.abstractauto >> bit & 1 and self.cmderr == CMDERR_NONE:
            self._execute()

    def _execute(self) -> None:
        try:
            self.command = self._access_register(self.command)
        except AbstractError as exc:
            self.cmderr = exc.cmderr

    def _access_register(self, command: int) -> int:
        """Run an Access Register command; return the command as postincrement leaves it."""
        if command >> 24 != 0:
            raise AbstractError(CMDERR_NOT_SUPPORTED)
        h = self._hart()
        if h is None or not h.halted or self.hartsel in self.held:
            raise AbstractError(CMDERR_HALT_RESUME)
        size = command >> 20 & 7
        regno = command & 0xFFFF
        if command & 1 << 17:  # transfer
            if size not in (2, 3):
                raise AbstractError(CMDERR_NOT_SUPPORTED)
            if command & 1 << 16:  # write
                value = self.data[0] | (self.data[1] << 32 if size == 3 else 0)
                _write_register(h, regno, value)
            else:
                value = _read_register(h, regno)
                self.data[0] = value & M32
                if size == 3:
                    self.data[1] = value >> 32 & M32
        if command & 1 << 18:  # postexec
            self._run_progbuf(h)
        if command & 1 << 19:  # aarpostincrement
            command = (command & ~0xFFFF) | (regno + 1) & 0xFFFF
        return command

    def _run_progbuf(self, h: Hart) -> None:
        """Run the program buffer on halted ``h`` until its (implicit) ebreak."""
        code: list[ops.Op | None] = [None] * 2048
        halves = b"".join(w.to_bytes(4, "little") for w in (*self.progbuf, EBREAK))
        offset = 0
        while offset < len(halves) - 2:
            word = int.from_bytes(halves[offset : offset + 4], "little")
            if word & 3 != 3:
                word &= 0xFFFF
            d = decode(word, h.has_fd)
            code[(PROGBUF_ADDR + offset) >> 1] = ops.make_op(d, h.has_fd)
            offset += d.length
        vpn = PROGBUF_ADDR >> 12
        itlb = h.interp.itlb_sets[h.fetch_key]
        saved_entry = itlb.get(vpn)
        saved = (h.pc, h.mie, h.mstatus & MSTATUS_MPRV, h.icount)
        dbg = h.dbg
        dbg.progbuf_done = dbg.progbuf_exception = False
        itlb[vpn] = (0, code)
        h.pc = PROGBUF_ADDR
        # Debug mode takes no interrupts and, with dcsr.mprven 0, ignores MPRV.
        h.mie = 0
        h.mstatus &= ~MSTATUS_MPRV
        h.set_priv(h.priv)
        try:
            run = 0
            while run < PROGBUF_LIMIT and not (dbg.progbuf_done or dbg.progbuf_exception):
                h.wfi = False  # wfi is a nop in debug mode
                interp.run(h, PROGBUF_STEP)
                run += PROGBUF_STEP
        finally:
            if itlb.get(vpn, (0, None))[1] is code:
                if saved_entry is None:
                    del itlb[vpn]
                else:
                    itlb[vpn] = saved_entry
            pc, mie, mprv, icount = saved
            h.pc = pc
            if h.mie == 0:
                h.mie = mie
            h.mstatus |= mprv
            if dbg.dcsr & DCSR_STOPCOUNT:
                # Counters stop in debug mode: the program buffer's instructions are not counted.
                h.icount = icount
            h.wfi = h.yielding = False
            h.set_priv(h.priv)
        if not dbg.progbuf_done:
            raise AbstractError(CMDERR_EXCEPTION)

    # --- system bus access -----------------------------------------------------------------

    def _read_sbcs(self) -> int:
        return (
            SBVERSION << 29
            | self.sbreadonaddr << 20
            | self.sbaccess << 17
            | self.sbautoincrement << 16
            | self.sbreadondata << 15
            | self.sberror << 12
            | 64 << 5
            | SB_ACCESS_ALL
        )

    def _write_sbcs(self, value: int) -> None:
        self.sbreadonaddr = bool(value & 1 << 20)
        self.sbaccess = value >> 17 & 7
        self.sbautoincrement = bool(value & 1 << 16)
        self.sbreadondata = bool(value & 1 << 15)
        self.sberror &= ~(value >> 12 & 7)

    def _write_sbaddress0(self, value: int) -> None:
        self.sbaddress = (self.sbaddress & ~M32) | value
        if self.sbreadonaddr:
            self._sb_read()

    def _write_sbaddress1(self, value: int) -> None:
        self.sbaddress = (self.sbaddress & M32) | value << 32

    def _read_sbdata0(self) -> int:
        value = self.sbdata & M32
        if self.sbreadondata:
            self._sb_read()
        return value

    def _write_sbdata0(self, value: int) -> None:
        self.sbdata = (self.sbdata & ~M32) | value
        self._sb_write()

    def _write_sbdata1(self, value: int) -> None:
        self.sbdata = (self.sbdata & M32) | value << 32

    def _sb_size(self) -> int | None:
        size = 1 << self.sbaccess
        if size > 8:
            self.sberror = SBERR_SIZE
            return None
        if self.sbaddress & (size - 1):
            self.sberror = SBERR_ALIGNMENT
            return None
        return size

    def _sb_read(self) -> None:
        if self.sberror:
            return
        size = self._sb_size()
        if size is None:
            return
        try:
            self.sbdata = self.target.bus.read(self.sbaddress, size)
        except BusError:
            self.sberror = SBERR_BAD_ADDRESS
            return
        if self.sbautoincrement:
            self.sbaddress = (self.sbaddress + size) & M64

    def _sb_write(self) -> None:
        if self.sberror:
            return
        size = self._sb_size()
        if size is None:
            return
        address = self.sbaddress
        value = self.sbdata & ((1 << (8 * size)) - 1)
        target = self.target
        # Code translated from these bytes is dropped on every hart, as for a guest store.
        if target.code.is_code_page(address >> 12):
            target.code.store(target.harts[0], address, size, 0)
        # So are the translations filled through a page table here, at the next sfence.vma.
        target.code.table_store(address)
        try:
            target.bus.write(address, size, value)
        except BusError:
            self.sberror = SBERR_BAD_ADDRESS
            return
        if self.sbautoincrement:
            self.sbaddress = (address + size) & M64


def _read_register(h: Hart, regno: int) -> int:
    if REG_GPR <= regno < REG_FPR:
        return h.x[regno - REG_GPR]
    if REG_FPR <= regno < REG_FPR_END and h.has_fd:
        return h.f[regno - REG_FPR]
    if regno < REG_CSR_END:
        csr = CSRS.get(regno)
        if csr is not None and (csr.present is None or csr.present(h)):
            value = csr.read(h)
            if value is not None:
                return value & M64
    raise AbstractError(CMDERR_EXCEPTION)


def _write_register(h: Hart, regno: int, value: int) -> None:
    if REG_GPR <= regno < REG_FPR:
        if regno != REG_GPR:
            h.x[regno - REG_GPR] = value
        return
    if REG_FPR <= regno < REG_FPR_END and h.has_fd:
        h.f[regno - REG_FPR] = value
        return
    if regno < REG_CSR_END:
        csr = CSRS.get(regno)
        if csr is not None and not csr.read_only and (csr.present is None or csr.present(h)):
            if csr.read(h) is None:
                raise AbstractError(CMDERR_EXCEPTION)
            if csr.write is not None:
                csr.write(h, value)
                h.set_priv(h.priv)
            return
    raise AbstractError(CMDERR_EXCEPTION)
