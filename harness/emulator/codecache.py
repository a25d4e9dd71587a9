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

Page-table pages are watched the same way (``watch_table``): while some hart holds TLB entries
filled through a page-table page, stores to that page take the slow path and mark it stale
on those harts, so an sfence.vma of every address drops only the translations a store may
have changed (``Hart.fence_translations``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .cpu import Hart
    from .ops import Op

# The interpreter's decoded pages (physical page -> slots), their filled-slot counts and the
# pages a translated context fetched from.
OpPages = tuple[dict[int, list["Op | None"]], dict[int, int], set[int]]


@dataclass(frozen=True)
class PageSnapshot:
    """A page's bytes as one hart last synchronised them, and the first store since then."""

    data: bytes
    writer_pc: int
    writer_hart: int


class CodeCache:
    """Which harts hold decoded code (either engine's) on which physical pages."""

    def __init__(self, report: Callable[[str], None] | None = None) -> None:
        self.harts: list[Hart] = []
        self.page_harts: dict[int, set[Hart]] = {}
        self.report = report
        self.snapshots: dict[int, dict[int, PageSnapshot]] = {}
        self.reported: set[tuple[int, int]] = set()
        # The interpreter's decoded pages, shared by the harts with the same F/D (see
        # Interpreter): none while stale fetches are reported, which is per hart.
        self.decoded: dict[bool, OpPages] = {}
        # Page-table pages (physical page numbers) -> the harts with TLB entries filled
        # through them (Hart.table_fills).
        self.tables: dict[int, set[Hart]] = {}

    def shared_decode(self, has_fd: bool) -> OpPages | None:
        """The decoded pages every hart with (or without) F/D shares; None when stale fetches
        are reported (each hart must then decode, and check, what it fetches itself)."""
        if self.report is not None:
            return None
        return self.decoded.setdefault(has_fd, ({}, {}, set()))

    def add_hart(self, hart: Hart) -> None:
        """Track ``hart``'s blocks."""
        self.harts.append(hart)
        self.snapshots[hart.hartid] = {}

    def is_code_page(self, ppn: int) -> bool:
        """True if some hart has translated code on physical page ``ppn``."""
        return ppn in self.page_harts

    def is_watched(self, ppn: int) -> bool:
        """True if stores to physical page ``ppn`` must take the slow path (it holds
        translated code or page tables), so it may not enter a write TLB."""
        return ppn in self.page_harts or ppn in self.tables

    def watch_table(self, hart: Hart, ppn: int) -> None:
        """``hart`` filled a TLB entry through the page-table page ``ppn``: stores to it take
        the slow path from now on (the page leaves every write TLB) and mark it stale.

        A page watched only now starts stale on ``hart``: a store made before it left the write
        TLBs (a block engine's store group checks its page once for several stores) is then
        covered too, as is a table outside RAM, which may change without a store."""
        owners = self.tables.get(ppn)
        if owners is not None:
            owners.add(hart)
            return
        self.tables[ppn] = {hart}
        hart.stale_tables.add(ppn)
        bus = hart.bus
        if bus.is_ram(ppn << 12, 0x1000):
            offset = (ppn << 12) - bus.ram_base
            for h in self.harts if hart in self.harts else [*self.harts, hart]:
                h.forget_write_page(offset)

    def unwatch_table(self, hart: Hart, ppn: int) -> None:
        """``hart`` holds no TLB entry filled through page ``ppn`` any more."""
        owners = self.tables.get(ppn)
        if owners is not None:
            owners.discard(hart)
            if not owners:
                del self.tables[ppn]

    def table_store(self, paddr: int) -> None:
        """A store to physical ``paddr``: if a page table is there, the translations filled
        through it may have changed (the next sfence.vma drops them)."""
        owners = self.tables.get(paddr >> 12)
        if owners is not None:
            for hart in owners:
                hart.stale_tables.add(paddr >> 12)

    def claim(self, hart: Hart, ppn: int) -> None:
        """``hart``'s engine decoded code on physical page ``ppn``: stores to it take the slow
        path from now on (the page leaves every write TLB) and invalidate that code."""
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
        """Invalidate the code overlapping a store of ``size`` bytes at ``paddr`` on every hart."""
        ppn = paddr >> 12
        end = paddr + size
        for hart in list(self.page_harts.get(ppn, ())):
            # Every engine of the hart is asked (a list, not any(): none may be skipped).
            if not any([engine.invalidate(ppn, paddr, end, writer) for engine in hart.engines]):
                self.page_harts[ppn].discard(hart)
        if not self.page_harts.get(ppn, True):
            del self.page_harts[ppn]

    def fence_i(self, hart: Hart) -> None:
        """fence.i on ``hart``: its fetches are coherent with memory again."""
        if self.report is None:
            return
        self.snapshots[hart.hartid].clear()
        # Later stores must take the slow path once per page to snapshot it for this hart.
        for h in self.harts:
            h.flush_write_tlbs()

    def check_fetch(self, hart: Hart, vpc: int, pstart: int, pend: int) -> None:
        """Report a fetch of ``[pstart, pend)`` (at virtual ``vpc``) that differs from the
        bytes the hart last synchronised with fence.i."""
        if self.report is None:
            return
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
        self.tables.clear()
        self.reported.clear()
        for pages, live, translated in self.decoded.values():
            pages.clear()
            live.clear()
            translated.clear()
        for snaps in self.snapshots.values():
            snaps.clear()
