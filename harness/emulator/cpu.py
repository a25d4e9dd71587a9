"""One RISC-V hart: architectural state, traps and interrupts, the slow paths and helpers its
execution engine (``engines.py``) calls."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from . import interp, mmu
from .bus import Bus, BusError, DevicePage
from .clock import Clock
from .csr import (
    MSTATUS_FS,
    MSTATUS_MIE,
    MSTATUS_MPIE,
    MSTATUS_MPP,
    MSTATUS_MXR,
    MSTATUS_SD,
    MSTATUS_SIE,
    MSTATUS_SPIE,
    MSTATUS_SPP,
    MSTATUS_SUM,
    MSTATUS_SXL,
    MSTATUS_UXL,
    mode_allowed,
)
from .debug.hart import HartDebug
from .debug.stepper import stepper_for
from .decode import Insn
from .engines import ENGINES, Engine, default_engine
from .sysops import SYSOPS
from .tlb import Tlb
from .trap import (
    BARE,
    ILLEGAL_INSN,
    INSN_ACCESS,
    INSN_PAGE_FAULT,
    IRQ_PRIORITY,
    LOAD_ACCESS,
    LOAD_MISALIGNED,
    PRV_M,
    PRV_S,
    PRV_U,
    STORE_ACCESS,
    STORE_MISALIGNED,
    Trap,
)

if TYPE_CHECKING:
    from .codecache import CodeCache

M64 = (1 << 64) - 1
INTERRUPT_BIT = 1 << 63
# An sfence.vma of every address that would drop more TLB entries than this drops them all.
FENCE_PAGES_LIMIT = 512
# Exceptions raised by fetching an instruction: taken at a trap vector that cannot be fetched
# either, they repeat without end (see take_trap).
FETCH_FAULTS = (INSN_ACCESS, INSN_PAGE_FAULT)


def _misa(has_s: bool, has_fd: bool) -> int:
    letters = "IMACU" + ("S" if has_s else "") + ("FD" if has_fd else "")
    value = 2 << 62
    for letter in letters:
        value |= 1 << (ord(letter) - ord("A"))
    return value


class Hart:
    """A hart with RV64IMAC (+FD, +S/Sv39 when enabled).

    ``has_s`` False models the FU740's S7 monitor core: M and U modes only, no MMU.
    """

    def __init__(
        self,
        hartid: int,
        bus: Bus,
        clock: Clock,
        code: CodeCache,
        has_s: bool = True,
        has_fd: bool = True,
        has_sstc: bool = False,
    ) -> None:
        self.hartid = hartid
        # Sstc (stimecmp, menvcfg.STCE): state and behaviour live in csr.py; the machine
        # raises STIP from it each round (sstc_update).
        self.has_sstc = has_sstc
        self.bus = bus
        self.clock = clock
        self.code = code
        self.has_s = has_s
        self.has_fd = has_fd
        self.misa = _misa(has_s, has_fd)
        # Page-table pages (physical page numbers) -> the virtual pages whose TLB entries (of
        # any kind) were filled through them since the last complete flush; the pages among
        # them that something stored to since (see fence_translations).
        self.table_fills: dict[int, set[int]] = {}
        self.stale_tables: set[int] = set()
        # x[32] is the interpreter's sink for writes to x0 (see interp.py).
        self.x: list[int] = [0] * 33
        # Told (hart, cause, address) when the hart's trap vector cannot be fetched (take_trap).
        self.on_trap_loop: Callable[[Hart, int, int], None] | None = None
        self.time_polls = 0
        self.f: list[int] = [0] * 32
        self.icount = 0
        # The engine that runs this hart, and the interpreter, which every hart has: the
        # debug stepper and program buffer run on it whatever the engine.
        self.interp = interp.Interpreter(self)
        name = default_engine()
        self.engine: Engine = self.interp if name == self.interp.name else ENGINES[name](self)
        self.engines: tuple[Engine, ...] = (self.interp,) if self.engine is self.interp else (self.interp, self.engine)
        self.reset(0)

    def reset(self, pc: int) -> None:
        """Put the hart in its reset state (M-mode, everything zero) starting at ``pc``."""
        self.x[:] = [0] * 33
        self.f[:] = [0] * 32
        self.pc = pc
        self.priv = PRV_M
        self.wfi = False
        # Traps taken since reset: the control socket reports it, so an autopsy can tell a hart
        # taking the same trap again and again from one that took it once.
        self.traps = 0
        self.yielding = False
        self.reservation: int | None = None
        self.cur_insn = 0
        self.cur_pc = 0
        self.fflags = 0
        self.frm = 0
        self.mstatus = 0
        self.mie = 0
        self.mip = 0
        self.medeleg = 0
        self.mideleg = 0
        self.mtvec = 0
        self.stvec = 0
        self.mscratch = 0
        self.sscratch = 0
        self.mepc = 0
        self.sepc = 0
        self.mcause = 0
        self.scause = 0
        self.mtval = 0
        self.stval = 0
        self.mcounteren = 0
        self.scounteren = 0
        self.mcountinhibit = 0
        # SiFive's custom feature-disable CSR (0x7C1) of the U74/S7 cores: firmware clears it.
        self.feature_disable = 0
        self.satp = 0
        self.pmpcfg = [0, 0]
        self.pmpaddr = [0] * 16
        self.cycle_offset = 0
        self.menvcfg = 0
        self.stimecmp = (1 << 64) - 1
        # Debug mode and triggers (debug/hart.py): a halted hart is skipped by the scheduler;
        # ``stepper``, when set, runs the hart instead of its engine.
        self.dbg = HartDebug(self.has_s)
        self.halted = False
        self.debug_mode = False
        self.stepper: Callable[[Hart, int], int] | None = None
        for engine in self.engines:
            engine.reset()
        # Set by mmu.translate; TLB entries taken from superpage leaves, by superpage.
        self.leaf_level = 0
        self.walk_tables: Sequence[int] = mmu.NO_TABLES
        self._forget_tables()
        self.superpage_fills: dict[int, list[int]] = {}
        self.tlb_sets: dict[int, tuple[Tlb, Tlb]] = {key: (Tlb(), Tlb()) for key in (PRV_U, PRV_S, BARE)}
        # Device pages by context, as the TLBs hold RAM pages: virtual page -> (device, offset of
        # the page in the device), for reads and writes apart (their permissions differ). A load
        # or store there calls the device at once instead of translating and searching the bus
        # again: firmware reading an SD card over SPI makes several device accesses per byte.
        self.mmio_sets: dict[int, tuple[dict[int, DevicePage], dict[int, DevicePage]]] = {
            key: ({}, {}) for key in (PRV_U, PRV_S, BARE)
        }
        self.update_context()

    # --- context (which data TLB and which of the engines' code maps apply) -----------------

    def update_context(self) -> None:
        dpriv = mmu.data_priv(self)
        dkey = dpriv if mmu.translation_active(self, dpriv) else BARE
        self.rtlb, self.wtlb = self.tlb_sets[dkey]
        self.mmio_r, self.mmio_w = self.mmio_sets[dkey]
        # The engines keep their code maps per fetch context: user, supervisor or bare.
        self.fetch_key = self.priv if mmu.translation_active(self, self.priv) else BARE

    def flush_translations(self) -> None:
        """Forget every Sv39 translation (satp write; an sfence.vma of every address whose
        page-table stores are not all known, see fence_translations)."""
        self.superpage_fills.clear()
        self._forget_tables()
        for key in (PRV_U, PRV_S):
            r, w = self.tlb_sets[key]
            r.clear()
            w.clear()
            self._flush_mmio(key)
            for engine in self.engines:
                engine.forget_context(key)
        self.update_context()

    def fence_translations(self) -> None:
        """sfence.vma of every address: forget the translations filled through a page-table
        page that was stored to since, keep the others.

        A new walk of a kept one would read the same PTEs and give the same translation (its
        A/D bits are set already; clearing one is a store to its page), so the guest sees what
        a flush of everything would show it. Debian's kernel fences everything some 80,000
        times while it boots, each after changing one PTE; flushing everything made the walks
        after them about 6 of its 45 CPU seconds (issue 23).
        """
        for engine in self.engines:
            engine.fence_untracked()
        if not self.stale_tables:
            return
        doomed: set[int] = set()
        for ppn in self.stale_tables:
            pages = self.table_fills.get(ppn)
            if pages is not None:
                doomed |= pages
                # The page stays watched: it is a page table still, and its next fills count.
                pages.clear()
        self.stale_tables.clear()
        if len(doomed) > FENCE_PAGES_LIMIT:
            # Most of the TLB: dropping it page by page costs more than refilling it.
            self.flush_translations()
            return
        self._forget_pages(doomed)

    def _forget_tables(self) -> None:
        """No TLB entry depends on a page-table page any more (they were all dropped)."""
        for ppn in self.table_fills:
            self.code.unwatch_table(self, ppn)
        self.table_fills.clear()
        self.stale_tables.clear()

    def flush_page(self, vaddr: int) -> None:
        """sfence.vma of one address: forget the translations of its page, in every address space.

        A kernel flushes one page after each PTE it changes (thousands of times a second); a
        whole-TLB flush there made every following access walk the page table again. Entries
        filled from a superpage leaf are dropped together, whichever of its pages is named.
        """
        vpn = vaddr >> 12
        doomed = [vpn]
        for level in (1, 2):
            doomed += self.superpage_fills.pop(_superpage_key(vpn, level), ())
        self._forget_pages(doomed)

    def _forget_pages(self, doomed: Iterable[int]) -> None:
        """Forget the translations of virtual pages ``doomed`` in every translated context."""
        doomed = list(doomed)
        for key in (PRV_U, PRV_S):
            r, w = self.tlb_sets[key]
            mr, mw = self.mmio_sets[key]
            for page in doomed:
                r.pop(page, None)
                w.pop(page, None)
                mr.pop(page, None)
                mw.pop(page, None)
            for engine in self.engines:
                engine.forget_pages(key, doomed)

    def note_fill(self, vpn: int) -> None:
        """Record a TLB entry for ``vpn`` filled from the translation just done (see flush_page)."""
        level = self.leaf_level
        if level:
            self.superpage_fills.setdefault(_superpage_key(vpn, level), []).append(vpn)
        fills = self.table_fills
        for ppn in self.walk_tables:
            pages = fills.get(ppn)
            if pages is None:
                fills[ppn] = {vpn}
                self.code.watch_table(self, ppn)
            else:
                pages.add(vpn)

    def _flush_mmio(self, key: int) -> None:
        for pages in self.mmio_sets[key]:
            pages.clear()

    def flush_write_tlbs(self) -> None:
        """Drop cached write permissions so the next store to each page takes the slow path."""
        for _, w in self.tlb_sets.values():
            w.clear()

    def forget_write_page(self, offset: int) -> None:
        """Drop the write-TLB entries that map to the RAM page at ``offset`` (it became code)."""
        for _, w in self.tlb_sets.values():
            for vpn in [v for v, o in w.items() if o == offset]:
                del w[vpn]

    def forget_code(self) -> None:
        """Forget the engines' virtual-pc maps (after decoded code was invalidated)."""
        for engine in self.engines:
            engine.forget_code()

    def refresh_stepper(self) -> None:
        """Run on the debug stepper while a trigger is armed or dcsr.step is set (debug/)."""
        self.stepper = stepper_for(self)

    def set_priv(self, priv: int) -> None:
        """Switch privilege mode."""
        self.priv = priv
        self.update_context()

    def read_mstatus(self) -> int:
        """mstatus as software sees it (SD and the fixed XLEN fields filled in)."""
        value = self.mstatus
        if value & MSTATUS_FS == MSTATUS_FS:
            value |= MSTATUS_SD
        if self.has_s:
            value |= MSTATUS_UXL | MSTATUS_SXL
        else:
            value |= MSTATUS_UXL
        return value

    def write_mstatus(self, value: int) -> None:
        """Store mstatus, legalising MPP and tracking FS conservatively as Dirty."""
        old = self.mstatus
        mpp = mode_allowed(self, (value >> 11) & 3)
        value = (value & ~MSTATUS_MPP) | mpp << 11
        if value & MSTATUS_FS:
            # FS is tracked conservatively: any enabled state reads as Dirty (allowed by the spec).
            value |= MSTATUS_FS
        self.mstatus = value & ~(MSTATUS_SD | MSTATUS_UXL | MSTATUS_SXL)
        if (old ^ value) & (MSTATUS_SUM | MSTATUS_MXR):
            for key in (PRV_U, PRV_S):
                r, w = self.tlb_sets[key]
                r.clear()
                w.clear()
                self._flush_mmio(key)
        self.update_context()

    def cycles(self) -> int:
        """cycle/instret value (one cycle per retired instruction)."""
        return (self.icount + self.cycle_offset) & M64

    def set_cycles(self, value: int) -> None:
        """Make cycle/instret read ``value`` now."""
        self.cycle_offset = value - self.icount

    # --- running ------------------------------------------------------------------------------

    def run(self, budget: int) -> int:
        """Run one quantum on the hart's engine (or the debug stepper while a trigger is armed
        or it single-steps); stop early on WFI or a yield. Return the budget used."""
        self.time_polls = 0
        if self.stepper is not None:
            return self.stepper(self, budget)
        return self.engine.run(budget)

    def translate_fetch(self, pc: int) -> int:
        """Physical address of the instruction at virtual ``pc`` (a fault names ``pc``)."""
        return mmu.translate(self, pc, mmu.EXECUTE, self.priv, pc)

    def fetch_half(self, paddr: int, pc: int) -> int:
        """16 bits of instruction memory at ``paddr`` (an access fault names ``pc``)."""
        try:
            return self.bus.read(paddr, 2)
        except BusError:
            self.bus.fault(paddr, 2, "fetch", self.hartid, pc)
            raise Trap(INSN_ACCESS, pc, pc) from None

    def fetch_half_virtual(self, vaddr: int, pc: int) -> int:
        """16 bits of instruction memory at virtual ``vaddr``."""
        # A fault names the instruction (epc = pc) and the missing half (tval = vaddr).
        return self.fetch_half(mmu.translate(self, vaddr, mmu.EXECUTE, self.priv, pc), pc)

    # --- traps and interrupts --------------------------------------------------------------

    def take_trap(self, cause: int, tval: int, epc: int, interrupt: bool = False) -> None:
        """Enter the M- or S-mode handler for ``cause`` (delegation per medeleg/mideleg)."""
        if self.debug_mode:
            # An exception in debug mode (a program buffer run) changes no trap CSR: it aborts.
            self.dbg.progbuf_exception = True
            self.yielding = True
            return
        self.wfi = False
        self.traps += 1
        deleg = self.mideleg if interrupt else self.medeleg
        ms = self.mstatus
        if self.priv != PRV_M and deleg >> cause & 1:
            self.scause = cause | (INTERRUPT_BIT if interrupt else 0)
            self.sepc = epc
            self.stval = tval
            ms &= ~(MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP)
            if self.mstatus & MSTATUS_SIE:
                ms |= MSTATUS_SPIE
            if self.priv == PRV_S:
                ms |= MSTATUS_SPP
            vector, priv = self.stvec, PRV_S
        else:
            self.mcause = cause | (INTERRUPT_BIT if interrupt else 0)
            self.mepc = epc
            self.mtval = tval
            ms &= ~(MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP)
            if self.mstatus & MSTATUS_MIE:
                ms |= MSTATUS_MPIE
            ms |= self.priv << 11
            vector, priv = self.mtvec, PRV_M
        self.mstatus = ms
        self.priv = priv
        self.update_context()
        base = vector & ~3
        self.pc = base + 4 * cause if vector & 1 and interrupt else base
        if not interrupt and cause in FETCH_FAULTS and self.pc == epc:
            # The handler is the address whose fetch just failed: the hart takes this fault
            # again and again without retiring an instruction, so its quantum would never
            # end and the other harts would starve. It yields, as a spin-wait does.
            self.yielding = True
            if self.on_trap_loop is not None:
                self.on_trap_loop(self, cause, epc)

    def check_interrupts(self) -> bool:
        """Take the highest-priority pending and enabled interrupt, if any."""
        pending = self.mip & self.mie
        if not pending:
            return False
        ms = self.mstatus
        m_pending = pending & ~self.mideleg
        if m_pending and (self.priv != PRV_M or ms & MSTATUS_MIE):
            return self._take_interrupt(m_pending)
        s_pending = pending & self.mideleg
        if s_pending and (self.priv == PRV_U or (self.priv == PRV_S and ms & MSTATUS_SIE)):
            return self._take_interrupt(s_pending)
        return False

    def _take_interrupt(self, pending: int) -> bool:
        for irq in IRQ_PRIORITY:
            if pending >> irq & 1:
                self.take_trap(irq, 0, self.pc, interrupt=True)
                return True
        return False

    # --- helpers called from translated code -------------------------------------------------

    def _data_addr(self, vaddr: int, access: int, pc: int) -> int:
        paddr = mmu.translate(self, vaddr, access, mmu.data_priv(self), pc)
        bus = self.bus
        if bus.is_ram(paddr & ~0xFFF, 0x1000):
            # A machine-word int on PyPy even when paddr is a big one (see interp._signed), so
            # the TLB hit path never does big-integer arithmetic.
            offset = interp.machine_int((paddr & ~0xFFF) - bus.ram_base)
            if access == mmu.READ:
                self.rtlb[vaddr >> 12] = offset
                self.note_fill(vaddr >> 12)
            elif not self.code.is_watched(paddr >> 12):
                self.wtlb[vaddr >> 12] = offset
                self.note_fill(vaddr >> 12)
        return paddr

    def probe(self, vaddr: int, write: int) -> int | None:
        """TLB value for ``vaddr`` (filling the TLB), or None if the access would need the
        slow path (fault, MMIO, code page). Never traps: the accesses themselves do."""
        access = mmu.WRITE if write else mmu.READ
        try:
            self._data_addr(vaddr, access, 0)
        except Trap:
            return None
        return (self.wtlb if write else self.rtlb).get(vaddr >> 12)

    def ld(self, vaddr: int, size: int, signed: bool, pc: int) -> int:
        """Load slow path: translation, TLB fill, MMIO, page-crossing accesses."""
        offset = vaddr & 0xFFF
        hit = self.mmio_r.get(vaddr >> 12)
        if hit is not None and offset + size <= 0x1000:
            value = hit[0].read(hit[1] + offset, size)
        elif offset + size > 0x1000:
            value = 0
            for i in range(size):
                value |= self.ld((vaddr + i) & M64, 1, False, pc) << (8 * i)
        else:
            paddr = self._data_addr(vaddr, mmu.READ, pc)
            try:
                value = self.bus.read(paddr, size)
            except BusError:
                self.bus.fault(paddr, size, "load", self.hartid, pc)
                raise Trap(LOAD_ACCESS, vaddr, pc) from None
            self._note_device_page(self.mmio_r, vaddr, paddr)
        if signed and value >> (size * 8 - 1):
            value -= 1 << (size * 8)
        return value & M64

    def st(self, vaddr: int, size: int, value: int, pc: int) -> None:
        """Store slow path: translation, TLB fill, code invalidation, MMIO."""
        offset = vaddr & 0xFFF
        hit = self.mmio_w.get(vaddr >> 12)
        if hit is not None and offset + size <= 0x1000:
            hit[0].write(hit[1] + offset, size, value)
            return
        if offset + size > 0x1000:
            # Translate both pages before writing anything so a fault leaves memory unchanged.
            mmu.translate(self, (vaddr + size - 1) & M64, mmu.WRITE, mmu.data_priv(self), pc)
            for i in range(size):
                self.st((vaddr + i) & M64, 1, value >> (8 * i), pc)
            return
        paddr = self._data_addr(vaddr, mmu.WRITE, pc)
        self.store_phys(paddr, size, value, vaddr, pc)
        if not self.code.is_code_page(paddr >> 12):
            self._note_device_page(self.mmio_w, vaddr, paddr)

    def _note_device_page(self, pages: dict[int, DevicePage], vaddr: int, paddr: int) -> None:
        """Remember the device behind ``vaddr``'s page after an access there went through the
        bus (nothing for RAM, or a page that is not wholly one device's)."""
        hit = self.bus.device_page(paddr)
        if hit is not None:
            pages[vaddr >> 12] = hit
            self.note_fill(vaddr >> 12)

    def store_phys(self, paddr: int, size: int, value: int, vaddr: int, pc: int) -> None:
        """Write physical memory, invalidating translated code it overlaps."""
        if self.bus.is_ram(paddr, size):
            self.code.before_store(self, paddr, pc)
        if self.code.is_code_page(paddr >> 12):
            self.code.store(self, paddr, size, pc)
        self.code.table_store(paddr)
        try:
            self.bus.write(paddr, size, value)
        except BusError:
            self.bus.fault(paddr, size, "store", self.hartid, pc)
            raise Trap(STORE_ACCESS, vaddr, pc) from None

    def sysop(self, d: Insn, pc: int) -> None:
        """Execute a system instruction (CSR, ecall, xret, wfi, fences); sets ``self.pc``."""
        SYSOPS[d.op](self, d, pc)

    def amo(self, d: Insn, pc: int) -> None:
        """Execute LR/SC or an AMO."""
        op, width = d.op.split(".")
        size = 4 if width == "w" else 8
        addr = self.x[d.rs1]
        x = self.x
        if addr & (size - 1):
            raise Trap(LOAD_MISALIGNED if op == "lr" else STORE_MISALIGNED, addr, pc)
        # A TLB hit is RAM that this context may access (the write TLB: also writable, not
        # code, A/D set), as for plain loads and stores: no page walk, no bus.
        ram = self.bus.ram
        if op == "lr":
            base = self.rtlb.get(addr >> 12)
            if base is None:
                value = self.ld(addr, size, True, pc)
            else:
                o = base | (addr & 0xFFF)
                value = int.from_bytes(ram[o : o + size], "little", signed=True) & M64
            self.reservation = addr
        elif op == "sc":
            ok = self.reservation == addr
            self.reservation = None
            if ok:
                base = self.wtlb.get(addr >> 12)
                if base is None:
                    self.st(addr, size, x[d.rs2], pc)
                else:
                    o = base | (addr & 0xFFF)
                    ram[o : o + size] = (x[d.rs2] & ((1 << (size * 8)) - 1)).to_bytes(size, "little")
            value = 0 if ok else 1
        else:
            base = self.wtlb.get(addr >> 12)
            if base is None:
                paddr = self._data_addr(addr, mmu.WRITE, pc)
                try:
                    old = self.bus.read(paddr, size)
                except BusError:
                    self.bus.fault(paddr, size, "amo", self.hartid, pc)
                    raise Trap(STORE_ACCESS, addr, pc) from None
                new = _amo_result(op, old, x[d.rs2], size)
                self.store_phys(paddr, size, new, addr, pc)
            else:
                o = base | (addr & 0xFFF)
                old = int.from_bytes(ram[o : o + size], "little")
                ram[o : o + size] = _amo_result(op, old, x[d.rs2], size).to_bytes(size, "little")
            value = old - (1 << (size * 8)) if old >> (size * 8 - 1) else old
            value &= M64
        if d.rd:
            x[d.rd] = value

    def fpu(self, d: Insn, pc: int) -> None:
        """Execute a floating-point instruction."""
        if not self.mstatus & MSTATUS_FS:
            raise Trap(ILLEGAL_INSN, d.raw, pc)
        # Imported by the first FP instruction: its exact arithmetic brings fractions and
        # decimal (pure Python on PyPy, 6% of the start-up's imports), and firmware to U-Boot's
        # prompt executes none.
        from . import fpu

        fpu.execute(self, d, pc)


def _superpage_key(vpn: int, level: int) -> int:
    """The key of the level-``level`` superpage holding virtual page ``vpn`` (levels kept apart)."""
    return vpn >> (9 * level) << 2 | level


def _amo_result(op: str, old: int, operand: int, size: int) -> int:
    bits = size * 8
    mask = (1 << bits) - 1
    a, b = old & mask, operand & mask
    sign = 1 << (bits - 1)
    if op == "amoswap":
        return b
    if op == "amoadd":
        return (a + b) & mask
    if op == "amoxor":
        return a ^ b
    if op == "amoand":
        return a & b
    if op == "amoor":
        return a | b
    if op == "amomin":
        return a if (a ^ sign) < (b ^ sign) else b
    if op == "amomax":
        return a if (a ^ sign) > (b ^ sign) else b
    if op == "amominu":
        return min(a, b)
    return max(a, b)
