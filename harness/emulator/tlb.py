"""A hart's data TLB: virtual page -> offset of its RAM page, with a direct-mapped front.

The dictionary is the TLB (every translation the hart has made and not yet forgotten). The front
holds a copy of some of its entries in two plain lists indexed by the page's low bits, which the
interpreter's loads and stores read without a dictionary lookup: on PyPy a ``dict.get`` in a
compiled loop is a call into the runtime (~4 ns), the two list reads and the compare are inline
(a quarter of a Linux boot's instructions are loads and stores).

Every change to the dictionary goes through the methods below, which keep the front a subset of
it: an entry leaves the front when it leaves the TLB, so the front never answers with a
translation the TLB has forgotten (an ``sfence.vma`` or a ``satp`` write is seen at once).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NoReturn

# Entries in the front: a power of two. Page numbers are never negative, so NO_PAGE matches none.
FRONT_SIZE = 256
FRONT_MASK = FRONT_SIZE - 1
NO_PAGE = -1


class Tlb(dict[int, int]):
    """Virtual page number -> RAM page offset, with ``tags``/``bases`` as its front."""

    __slots__ = ("bases", "tags")

    def __init__(self) -> None:
        super().__init__()
        self.tags = [NO_PAGE] * FRONT_SIZE
        self.bases = [0] * FRONT_SIZE

    def lookup(self, vpn: int) -> int | None:
        """The TLB's entry for ``vpn`` (None on a miss), copied into the front for next time."""
        base = self.get(vpn)
        if base is not None:
            slot = vpn & FRONT_MASK
            self.tags[slot] = vpn
            self.bases[slot] = base
        return base

    def __setitem__(self, vpn: int, base: int) -> None:
        super().__setitem__(vpn, base)
        slot = vpn & FRONT_MASK
        self.tags[slot] = vpn
        self.bases[slot] = base

    def __delitem__(self, vpn: int) -> None:
        super().__delitem__(vpn)
        self._drop(vpn)

    def pop(self, vpn: int, default: int | None = None) -> int | None:  # type: ignore[override]
        """Remove ``vpn``'s entry, returning it (``default``, None unless given, if there was
        none: the TLB's callers forget pages that may not be there)."""
        self._drop(vpn)
        return super().pop(vpn, default)

    def clear(self) -> None:
        """Forget every translation."""
        super().clear()
        tags = self.tags
        for slot in range(FRONT_SIZE):
            tags[slot] = NO_PAGE

    def _drop(self, vpn: int) -> None:
        slot = vpn & FRONT_MASK
        if self.tags[slot] == vpn:
            self.tags[slot] = NO_PAGE

    # The dictionary's other ways of changing (and copying, which would share the front) would
    # bypass it: none is used, and each refuses rather than let the front go stale.
    def update(self, *args: Mapping[int, int] | Iterable[tuple[int, int]], **kwargs: int) -> NoReturn:  # type: ignore[override]
        """Not supported (it would bypass the front): set entries one at a time."""
        raise TypeError("Tlb.update would bypass the front; set entries one at a time")

    def setdefault(self, vpn: int, default: int | None = None) -> NoReturn:
        """Not supported (it would bypass the front)."""
        raise TypeError("Tlb.setdefault would bypass the front")

    def popitem(self) -> NoReturn:
        """Not supported (it would bypass the front)."""
        raise TypeError("Tlb.popitem would bypass the front")

    def __ior__(self, other: object) -> NoReturn:  # type: ignore[misc]
        """Not supported (``|=`` would bypass the front)."""
        raise TypeError("Tlb |= would bypass the front; set entries one at a time")

    def __copy__(self) -> NoReturn:
        """Not supported: a copy would share the front with this TLB."""
        raise TypeError("a Tlb is not copied (its copy would share the front)")

    def __reduce__(self) -> NoReturn:
        """Not supported: a hart's TLB is not saved; it refills from the page tables."""
        raise TypeError("a Tlb is not pickled, front and all: it refills from the page tables")
