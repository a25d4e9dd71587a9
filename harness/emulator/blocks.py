"""The block engine, CPython's: a dispatch loop over translated blocks, and their caches.

Guest code is translated per block (``translate.py``); a block's entry is ``(fn, need)``
and ``fn(x, R, W)`` returns the next pc, or None after a system instruction (which set
``hart.pc`` and may have changed privilege, translation or interrupt state). Blocks are kept
per hart and physical page (``blocks``), found through a map from virtual pc to entry per
fetch context (``jit_sets``), and become compiled regions once hot (``promote``).

A quantum is an exact number of instructions, as on the interpreter: blocks count what they
retire in the cell ``left``, the dispatcher enters a block only if its ``need`` fits, and the
last few instructions, fewer than the next block, run on the interpreter (``interp.run``).
Interrupts are checked where the interpreter checks them (quantum start, after a system
instruction or a trap), so both engines run the same guest, instruction for instruction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from . import interp
from .alu import ALU_HELPERS
from .decode import Group, Insn
from .interp import CONTEXTS
from .translate import Block, Entry, build_cold_block, decode_block
from .trap import PRV_S, PRV_U, Trap

if TYPE_CHECKING:
    from .cpu import Hart

M64 = (1 << 64) - 1


class BlockEngine:
    """Runs a hart on translated blocks; holds its blocks and their virtual-pc maps."""

    name = "blocks"

    def __init__(self, hart: Hart) -> None:
        self.hart = hart
        # Blocks per physical page number, by virtual start address.
        self.blocks: dict[int, dict[int, Block]] = {}
        # Virtual pc -> entry, per fetch context (Hart.fetch_key).
        self.jit_sets: dict[int, dict[int, Entry]] = {key: {} for key in CONTEXTS}
        self.templates: dict[str, Callable[..., Callable[..., int | None]]] = {}
        # Instructions left in the quantum: every block subtracts what it retires.
        self.left = [0]
        # The hart's instruction count and the budget when the quantum began.
        self._start = (0, 0)
        # Set when a quantum ended on the interpreter: the next one mostly starts inside a block.
        self._resumed = False
        ram = hart.bus.ram
        view = memoryview(ram)
        # The globals of generated code: RAM views for the TLB hit paths and the slow paths.
        self.jit_globals: dict[str, object] = {
            "M": M64,
            "S": 1 << 63,
            "ram": ram,
            "mvb": view.cast("b"),
            "mvh": view.cast("h"),
            "mvH": view.cast("H"),
            "mvi": view.cast("i"),
            "mvI": view.cast("I"),
            "mvq": view.cast("Q"),
            "ld": hart.ld,
            "st": hart.st,
            "probe": hart.probe,
            "sysop": self.sysop,
            "amo": hart.amo,
            "fpu": hart.fpu,
            "Trap": Trap,
            "L": self.left,
            "skip": self.skip,
            **ALU_HELPERS,
        }

    # --- the Engine interface ----------------------------------------------------------------

    def run(self, budget: int) -> int:
        """Execute ``budget`` instructions; stop early on WFI or a yield. Return the
        instructions executed."""
        h = self.hart
        x = h.x
        left = self.left
        left[0] = budget
        self._start = (h.icount, budget)
        h.yielding = False
        try:
            while left[0] > 0 and not h.wfi and not h.yielding:
                if h.mip & h.mie:
                    h.check_interrupts()
                get = self.jit_sets[h.fetch_key].get
                rtlb, wtlb = h.rtlb, h.wtlb
                pc: int | None = h.pc
                try:
                    while True:
                        e = get(pc)  # type: ignore[arg-type]
                        if e is None:
                            if self._resumed:
                                # Inside a block where the last quantum stopped: its rest runs on
                                # the interpreter rather than become a block of its own (one per
                                # quantum, never run again).
                                self._resumed = False
                                if self._finish_block(pc):  # type: ignore[arg-type]
                                    break
                                get = self.jit_sets[h.fetch_key].get
                                rtlb, wtlb = h.rtlb, h.wtlb
                                pc = h.pc
                                continue
                            e = self.lookup(pc)  # type: ignore[arg-type]
                        fn, need = e
                        if need > left[0]:
                            h.pc = pc  # type: ignore[assignment]
                            self._tail()
                            self._resumed = True
                            break
                        pc = fn(x, rtlb, wtlb)
                        if pc is None:
                            break
                except Trap as t:
                    h.take_trap(t.cause, t.tval, t.pc)
        finally:
            self._sync()
        return budget - left[0]

    def _sync(self) -> None:
        """Bring the hart's instruction count up to date (cycle and instret read it)."""
        icount, budget = self._start
        self.hart.icount = icount + budget - self.left[0]

    def _tail(self) -> None:
        """Run what is left of the quantum, less than the next block, on the interpreter,
        without an interrupt check of its own (the interpreter would not check here)."""
        if self.left[0] <= 0:
            return
        self._sync()
        self.left[0] -= interp.run(self.hart, self.left[0], poll=False)

    def _finish_block(self, pc: int) -> bool:
        """Run the instructions from ``pc`` to the end of its block on the interpreter (no
        interrupt check first: none is due here). True if the dispatcher must stop: the quantum
        is over, the hart waits or yields, or a system instruction ended it (the interrupt check
        that follows one is the dispatcher's)."""
        h = self.hart
        insns, _ = decode_block(self, pc, h.translate_fetch(pc))
        h.pc = pc
        self._sync()
        self.left[0] -= interp.run(h, min(len(insns), self.left[0]), poll=False)
        last = insns[-1][0]
        return h.wfi or h.yielding or self.left[0] <= 0 or last.group in (Group.SYSTEM, Group.CSR)

    def sysop(self, d: Insn, pc: int) -> None:
        """A system instruction from a block: the count is brought up to date first."""
        self._sync()
        self.hart.sysop(d, pc)

    def skip(self, pc: int, period: int) -> int:
        """A region found its loop at ``pc`` back in the state it had ``period`` instructions
        ago, having stored nothing: every further pass is the same. Skip the whole passes left
        in the quantum (counted as run, as the interpreter does); the rest runs for real."""
        self.left[0] %= period
        return pc

    def reset(self) -> None:
        """Forget every block (hart reset)."""
        self.blocks.clear()
        for jit in self.jit_sets.values():
            jit.clear()

    def forget_context(self, key: int) -> None:
        """Forget the virtual-pc map of fetch context ``key``."""
        self.jit_sets[key].clear()

    def fence_untracked(self) -> None:
        """Forget the translated contexts' virtual-pc maps: a compiled region spans pages that
        were translated without the hart's page-table bookkeeping."""
        for key in (PRV_U, PRV_S):
            self.jit_sets[key].clear()

    def forget_pages(self, key: int, pages: Iterable[int]) -> None:
        """Forget the translations of ``pages`` in context ``key``: compiled blocks may chain
        across pages, so the context's whole map goes."""
        self.jit_sets[key].clear()

    def forget_code(self) -> None:
        """Forget every virtual-pc map (after blocks were invalidated)."""
        for jit in self.jit_sets.values():
            jit.clear()

    def invalidate(self, ppn: int, start: int, end: int, writer: Hart) -> bool:
        """Drop the blocks of page ``ppn`` overlapping physical ``[start, end)``; True if the
        page still holds blocks."""
        page = self.blocks.get(ppn)
        if page is None:
            return False
        stale = [vpc for vpc, b in page.items() if b.pstart < end and start < b.pend]
        if stale:
            for vpc in stale:
                del page[vpc]
            self.hart.forget_code()
        if page:
            return True
        del self.blocks[ppn]
        return False

    # --- blocks ------------------------------------------------------------------------------

    def lookup(self, pc: int) -> Entry:
        """Find or translate the block at virtual ``pc`` in the current fetch context."""
        h = self.hart
        paddr = h.translate_fetch(pc)
        page = self.blocks.get(paddr >> 12)
        block = page.get(pc) if page is not None else None
        if block is None or block.pstart != paddr or _straddles(block):
            block = build_cold_block(self, pc, paddr)
            self.blocks.setdefault(block.pstart >> 12, {})[block.vpc] = block
            h.code.claim(h, block.pstart >> 12)
            h.code.check_fetch(h, block.vpc, block.pstart, block.pend)
        self.jit_sets[h.fetch_key][pc] = block.entry
        return block.entry

    def promote(self, block: Block) -> Block:
        """Replace a cold block by its compiled region; return ``block``."""
        page = self.blocks.get(block.pstart >> 12)
        if page is not None and block.vpc in page:
            page[block.vpc] = block
            self.jit_sets[self.hart.fetch_key][block.vpc] = block.entry
        return block


def _straddles(block: Block) -> bool:
    """True if the block's last instruction ends on the next page: that half came through
    a mapping that may have changed since, so the block is decoded again, never reused."""
    d, pc = block.insns[-1]
    return (pc & 0xFFF) + d.length > 0x1000
