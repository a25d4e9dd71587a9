"""SiFive/RISC-V PLIC: level-triggered sources routed to per-hart M/S external interrupts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

PRIORITY_BASE = 0x0
PENDING_BASE = 0x1000
ENABLE_BASE = 0x2000
ENABLE_STRIDE = 0x80
CONTEXT_BASE = 0x200000
CONTEXT_STRIDE = 0x1000


@dataclass(frozen=True)
class PlicContext:
    """One interrupt target: ``hart`` index and the mip bit it drives (MEIP or SEIP)."""

    hart: int
    mip_bit: int


class Plic:
    """Platform-level interrupt controller.

    Like QEMU, a source's pending bit follows its line level while the source is not being
    serviced; claim clears it and complete re-arms it.
    """

    def __init__(
        self,
        num_sources: int,
        contexts: Sequence[PlicContext],
        set_irq: Callable[[int, int, bool], None],
    ) -> None:
        self.num_sources = num_sources
        self.contexts = list(contexts)
        self.set_irq = set_irq
        self.priority = [0] * (num_sources + 1)
        self.pending = [False] * (num_sources + 1)
        self.level = [False] * (num_sources + 1)
        self.in_service = [False] * (num_sources + 1)
        self.enable = [[False] * (num_sources + 1) for _ in self.contexts]
        self.threshold = [0] * len(self.contexts)

    def set_level(self, source: int, level: bool) -> None:
        """Drive interrupt line ``source``."""
        pending = level if not self.in_service[source] else self.pending[source]
        if self.level[source] == level and self.pending[source] == pending:
            return  # devices report their line on every register access: skip no-ops
        self.level[source] = level
        self.pending[source] = pending
        self._update()

    def _best(self, ctx: int) -> int:
        best, best_prio = 0, self.threshold[ctx]
        en = self.enable[ctx]
        for src in range(1, self.num_sources + 1):
            if self.pending[src] and en[src] and self.priority[src] > best_prio:
                best, best_prio = src, self.priority[src]
        return best

    def _update(self) -> None:
        for i, ctx in enumerate(self.contexts):
            self.set_irq(ctx.hart, ctx.mip_bit, self._best(i) != 0)

    def read(self, offset: int, size: int) -> int:
        """Read a priority, pending, enable, threshold or claim register."""
        if offset < PENDING_BASE:
            src = offset >> 2
            return self.priority[src] if src <= self.num_sources else 0
        if offset < ENABLE_BASE:
            word = (offset - PENDING_BASE) >> 2
            return self._bits(self.pending, word)
        if offset < CONTEXT_BASE:
            ctx, rest = divmod(offset - ENABLE_BASE, ENABLE_STRIDE)
            return self._bits(self.enable[ctx], rest >> 2) if ctx < len(self.contexts) else 0
        ctx, reg = divmod(offset - CONTEXT_BASE, CONTEXT_STRIDE)
        if ctx >= len(self.contexts):
            return 0
        if reg == 0:
            return self.threshold[ctx]
        if reg == 4:
            src = self._best(ctx)
            if src:
                self.pending[src] = False
                self.in_service[src] = True
                self._update()
            return src
        return 0

    def _bits(self, flags: list[bool], word: int) -> int:
        value = 0
        for bit in range(32):
            src = word * 32 + bit
            if src <= self.num_sources and flags[src]:
                value |= 1 << bit
        return value

    def write(self, offset: int, size: int, value: int) -> None:
        """Write a priority, enable, threshold or complete register."""
        if offset < PENDING_BASE:
            src = offset >> 2
            if 0 < src <= self.num_sources:
                self.priority[src] = value & 7
        elif offset < ENABLE_BASE:
            return
        elif offset < CONTEXT_BASE:
            ctx, rest = divmod(offset - ENABLE_BASE, ENABLE_STRIDE)
            if ctx < len(self.contexts):
                word = rest >> 2
                for bit in range(32):
                    src = word * 32 + bit
                    if 0 < src <= self.num_sources:
                        self.enable[ctx][src] = bool(value >> bit & 1)
        else:
            ctx, reg = divmod(offset - CONTEXT_BASE, CONTEXT_STRIDE)
            if ctx >= len(self.contexts):
                return
            if reg == 0:
                self.threshold[ctx] = value & 7
            elif reg == 4 and 0 < value <= self.num_sources and self.in_service[value]:
                self.in_service[value] = False
                self.pending[value] = self.level[value]
        self._update()
