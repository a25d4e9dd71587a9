"""The execution engines' common interface and their registry.

A hart holds architectural state (``cpu.Hart``); an engine runs it. Two engines sit side by
side, each in its own module with its own caches: ``interp.Interpreter`` (one dispatch loop
over predecoded instructions, PyPy's engine) and ``blocks.BlockEngine`` (guest code translated
into Python blocks and compiled regions, CPython's engine). Both run the same quantum the
same way, so the guest they show is the same (see ``Engine.run``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from .interp import Interpreter

if TYPE_CHECKING:
    from .cpu import Hart


class Engine(Protocol):
    """How a hart's instructions are executed, and the code caches that takes."""

    name: str

    def run(self, budget: int) -> int:
        """Execute up to ``budget`` instructions of the hart; stop early on WFI or a yield.
        Return the instructions executed."""

    def reset(self) -> None:
        """Forget every cached translation (hart reset)."""

    def forget_context(self, key: int) -> None:
        """Forget the translations of fetch context ``key`` (satp write, sfence.vma of all)."""

    def fence_untracked(self) -> None:
        """An sfence.vma of every address: forget the translations whose page-table pages the
        hart does not track (``Hart.note_fill``); the hart drops the tracked ones it must."""

    def forget_pages(self, key: int, pages: Iterable[int]) -> None:
        """Forget the translations of virtual ``pages`` in context ``key`` (sfence.vma of one)."""

    def forget_code(self) -> None:
        """Forget every virtual-pc mapping (code was invalidated)."""

    def invalidate(self, ppn: int, start: int, end: int, writer: Hart) -> bool:
        """Drop the code decoded from physical ``[start, end)`` on page ``ppn`` (a store by
        ``writer``); return True if code on that page remains."""


def _block_engine(hart: Hart) -> Engine:
    # Imported on first use: the translator is CPython's engine, and PyPy (whose engine is the
    # interpreter) need not load it at every start.
    from .blocks import BlockEngine

    return BlockEngine(hart)


# The engines by name (``HARTBEAT_EMU_ENGINE``, ``Hart.engine.name``).
ENGINES: dict[str, Callable[[Hart], Engine]] = {Interpreter.name: Interpreter, "blocks": _block_engine}


def default_engine() -> str:
    """The execution engine: ``HARTBEAT_EMU_ENGINE`` if set, else the predecoding interpreter
    on PyPy (whose JIT compiles its one loop) and the block translator on CPython."""
    chosen = os.environ.get("HARTBEAT_EMU_ENGINE")
    if chosen in ENGINES:
        return chosen
    return "interp" if sys.implementation.name == "pypy" else "blocks"
