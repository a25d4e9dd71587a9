"""Bookkeeping of translated code per hart and per physical page, and stale-fetch detection.

Stores into a page holding translated code take the slow path (such pages never enter a
write TLB) and invalidate the blocks they overlap on every hart, so guests that forget
fence.i still run as on QEMU.

The U74 does not keep instruction fetch coherent with stores: a hart may execute old bytes
until it runs fence.i. With stale-fetch reporting on, each hart keeps a copy of every page as
it was at that hart's last fence.i, taken lazily just before the first store to the page
after the fence (fence.i flushes every write TLB so that first store takes the slow path).
Translating instructions whose bytes differ from that copy is a fetch the real hardware
could have served stale, and is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .translate import Block

if TYPE_CHECKING:
    from .cpu import Hart
    from .interp import Op


@dataclass(frozen=True)
class PageSnapshot:
    """A page's bytes as one hart last synchronised them, and the first store since then."""

    data: bytes
    writer_pc: int
    writer_hart: int


class CodeCache:
    """Which harts hold translated blocks on which physical pages."""

    def __init__(self, report: Callable[[str], None] | None = None) -> None:
        self.harts: list[Hart] = []
        self.page_harts: dict[int, set[Hart]] = {}
        self.report = report
        self.snapshots: dict[int, dict[int, PageSnapshot]] = {}
        self.reported: set[tuple[int, int]] = set()

    def add_hart(self, hart: Hart) -> None:
        """Track ``hart``'s blocks."""
        self.harts.append(hart)
        self.snapshots[hart.hartid] = {}

    def is_code_page(self, ppn: int) -> bool:
        """True if some hart has translated code on physical page ``ppn``."""
        return ppn in self.page_harts

    def register(self, hart: Hart, block: Block) -> None:
        """Record a freshly translated block; its page leaves every write TLB."""
        ppn = block.pstart >> 12
        hart.blocks.setdefault(ppn, {})[block.vpc] = block
        self._add_owner(hart, ppn)
        if self.report is not None:
            self._check_fetch(hart, block)

    def page(self, hart: Hart, ppn: int) -> list[Op | None]:
        """The interpreter's slot list for physical page ``ppn`` on ``hart`` (created empty and
        registered as code on first use, which takes the page out of every write TLB)."""
        code = hart.pages.get(ppn)
        if code is None:
            code = hart.pages[ppn] = [None] * 2048
            hart.page_live[ppn] = 0
            self._add_owner(hart, ppn)
        return code

    def decoded(self, hart: Hart, paddr: int, length: int, vpc: int) -> None:
        """The interpreter decoded ``length`` bytes at ``paddr`` into its page list."""
        ppn = paddr >> 12
        hart.page_live[ppn] = hart.page_live.get(ppn, 0) + 1
        if self.report is not None:
            self._check_bytes(hart, vpc, paddr, paddr + length)

    def _add_owner(self, hart: Hart, ppn: int) -> None:
        owners = self.page_harts.get(ppn)
        if owners is None:
            self.page_harts[ppn] = {hart}
            # Only that page leaves the write TLBs: flushing them whole made every new code
            # page cost a page walk for each data page stored to afterwards.
            offset = (ppn << 12) - hart.bus.ram_base
            for h in self.harts:
                h.forget_write_page(offset)
        else:
            owners.add(hart)

    def before_store(self, writer: Hart, paddr: int, pc: int) -> None:
        """Slow-path hook run before a store to RAM at ``paddr`` (stale-fetch bookkeeping)."""
        if self.report is None:
            return
        ppn = paddr >> 12
        page = None
        for hart in self.harts:
            snaps = self.snapshots[hart.hartid]
            if ppn not in snaps:
                if page is None:
                    off = (ppn << 12) - writer.bus.ram_base
                    page = bytes(writer.bus.ram[off : off + 0x1000])
                snaps[ppn] = PageSnapshot(page, pc, writer.hartid)

    def store(self, writer: Hart, paddr: int, size: int, pc: int) -> None:
        """Invalidate blocks overlapping a store of ``size`` bytes at ``paddr``."""
        ppn = paddr >> 12
        end = paddr + size
        for hart in list(self.page_harts.get(ppn, ())):
            if ppn in hart.pages:
                self._clear_slots(hart, writer, ppn, paddr, end)
                continue
            page = hart.blocks.get(ppn, {})
            stale = [vpc for vpc, b in page.items() if b.pstart < end and paddr < b.pend]
            if not stale:
                continue
            for vpc in stale:
                del page[vpc]
            hart.flush_jit()
            if not page:
                del hart.blocks[ppn]
                self.page_harts[ppn].discard(hart)
        if not self.page_harts.get(ppn, True):
            del self.page_harts[ppn]

    def _clear_slots(self, hart: Hart, writer: Hart, ppn: int, paddr: int, end: int) -> None:
        """Forget the interpreter's decoded instructions overlapping ``[paddr, end)``; a page
        left with none stops being code (so stores to it take the fast path again)."""
        code = hart.pages[ppn]
        # A 4-byte instruction starting 2 bytes before the store overlaps it too.
        first = max(0, (paddr & 0xFFF) - 2) >> 1
        last = ((end - 1) & 0xFFF) >> 1 if end - 1 >> 12 == ppn else 2047
        cleared = 0
        for slot in range(first, last + 1):
            if code[slot] is not None:
                code[slot] = None
                cleared += 1
        if not cleared:
            return
        if hart is writer:
            hart.code_changed = True
        live = hart.page_live[ppn] - cleared
        hart.page_live[ppn] = live
        if live <= 0:
            del hart.pages[ppn]
            del hart.page_live[ppn]
            self.page_harts[ppn].discard(hart)
            hart.flush_jit()

    def fence_i(self, hart: Hart) -> None:
        """fence.i on ``hart``: its fetches are coherent with memory again."""
        if self.report is None:
            return
        self.snapshots[hart.hartid].clear()
        # Later stores must take the slow path once per page to snapshot it for this hart.
        for h in self.harts:
            h.flush_write_tlbs()

    def _check_fetch(self, hart: Hart, block: Block) -> None:
        self._check_bytes(hart, block.vpc, block.pstart, block.pend)

    def _check_bytes(self, hart: Hart, vpc: int, pstart: int, pend: int) -> None:
        """Report a fetch of ``[pstart, pend)`` (at virtual ``vpc``) that differs from the
        bytes the hart last synchronised with fence.i."""
        ppn = pstart >> 12
        snap = self.snapshots[hart.hartid].get(ppn)
        if snap is None or self.report is None:
            return
        start, end = pstart & 0xFFF, pend - (ppn << 12)
        off = pstart - hart.bus.ram_base
        current = bytes(hart.bus.ram[off : off + end - start])
        if current == snap.data[start:end] or (hart.hartid, vpc) in self.reported:
            return
        self.reported.add((hart.hartid, vpc))
        self.report(
            f"hartbeat-emu: stale instruction fetch at pc={vpc:#x} "
            f"(code page written at pc={snap.writer_pc:#x} by hart {snap.writer_hart} without fence.i)"
        )

    def reset(self) -> None:
        """Forget all code and write history (machine reset)."""
        self.page_harts.clear()
        self.reported.clear()
        for snaps in self.snapshots.values():
            snaps.clear()
