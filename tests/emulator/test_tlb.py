"""harness.emulator.tlb: the data TLB's direct-mapped front never outlives the TLB's entries.

The interpreter's loads and stores read the front before the dictionary; a translation the hart
has forgotten (``sfence.vma``, a ``satp`` write) must be gone from the front too, or the guest
would read and write through a mapping it has already changed.
"""

from __future__ import annotations

import copy
import pickle

import pytest

from harness.emulator.bus import Bus
from harness.emulator.clock import Clock
from harness.emulator.codecache import CodeCache
from harness.emulator.cpu import Hart
from harness.emulator.tlb import FRONT_SIZE, NO_PAGE, Tlb
from harness.emulator.trap import PRV_M, PRV_S

BASE = 0x80000000
VA = 0x40001000
OLD, NEW = BASE + 0x5000, BASE + 0x6000
CODE = BASE + 0x8000
T0, T1, T2, A0, A1 = 5, 6, 7, 10, 11
RW_AD = 0b11000111  # V R W, A and D set


def in_front(tlb: Tlb, vpn: int) -> int | None:
    """What the front answers for ``vpn`` (None: not there)."""
    slot = vpn % FRONT_SIZE
    return tlb.bases[slot] if tlb.tags[slot] == vpn else None


def test_every_way_an_entry_leaves_the_tlb_takes_it_out_of_the_front() -> None:
    tlb = Tlb()
    tlb[7] = 0x7000
    tlb[8] = 0x8000
    tlb[9] = 0x9000
    assert in_front(tlb, 7) == 0x7000 and in_front(tlb, 8) == 0x8000
    assert tlb.pop(7) == 0x7000 and in_front(tlb, 7) is None
    del tlb[8]
    assert in_front(tlb, 8) is None and in_front(tlb, 9) == 0x9000
    tlb.clear()
    assert not tlb and set(tlb.tags) == {NO_PAGE}


def test_a_page_sharing_a_slot_evicts_only_the_front_copy_and_lookup_brings_it_back() -> None:
    tlb = Tlb()
    tlb[3] = 0x3000
    tlb[3 + FRONT_SIZE] = 0x13000
    assert in_front(tlb, 3) is None and tlb[3] == 0x3000
    assert tlb.lookup(3) == 0x3000 and in_front(tlb, 3) == 0x3000
    assert tlb.lookup(5) is None and in_front(tlb, 5) is None
    # Removing the page no longer in the front leaves the one that is.
    tlb.pop(3 + FRONT_SIZE)
    assert in_front(tlb, 3) == 0x3000


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.update({1: 0x1000}),
        lambda t: t.setdefault(1, 0x1000),
        lambda t: t.popitem(),
        lambda t: t.__ior__({2: 0x5000}),
        lambda t: copy.copy(t),
        lambda t: pickle.dumps(t),
    ],
    ids=["update", "setdefault", "popitem", "ior", "copy", "pickle"],
)
def test_the_ways_that_would_bypass_the_front_are_refused(change) -> None:
    tlb = Tlb()
    tlb[2] = 0x2000
    with pytest.raises(TypeError, match="front"):
        change(tlb)
    assert dict(tlb) == {2: 0x2000} and in_front(tlb, 2) == 0x2000


def _ld(rd: int, rs1: int) -> int:
    return rs1 << 15 | 3 << 12 | rd << 7 | 0x03


def _sd(rs2: int, rs1: int) -> int:
    return rs2 << 20 | rs1 << 15 | 3 << 12 | 0x23


def _sfence_vma(rs1: int) -> int:
    return 0x12000073 | rs1 << 15


def _csrw_satp(rs1: int) -> int:
    return 0x180 << 20 | rs1 << 15 | 1 << 12 | 0x73


def _tables(h: Hart, root: int, page: int) -> int:
    """Sv39 tables at ``root`` (and the two pages after it) mapping VA to ``page``; their satp."""
    mid, leaf = root + 0x1000, root + 0x2000
    h.bus.write(root + (VA >> 30) * 8, 8, (mid >> 12) << 10 | 1)
    h.bus.write(mid + ((VA >> 21) & 0x1FF) * 8, 8, (leaf >> 12) << 10 | 1)
    h.bus.write(leaf + ((VA >> 12) & 0x1FF) * 8, 8, (page >> 12) << 10 | RW_AD)
    return 8 << 60 | root >> 12


def _bare_hart(program: list[int]) -> Hart:
    """A hart in M-mode, bare, about to run ``program`` at CODE (then `j .`) in the interpreter."""
    h = Hart(0, Bus(BASE, 0x20000), Clock(10_000_000), CodeCache())
    h.code.add_hart(h)  # as Machine does: the code cache drops its code pages from this hart's TLBs
    for index, word in enumerate([*program, 0x0000006F]):
        h.bus.write(CODE + 4 * index, 4, word)
    h.reset(CODE)
    return h


def _hart(program: list[int]) -> Hart:
    """M-mode with MPRV set and MPP = S: fetches are bare, loads and stores go through Sv39 (and
    the data TLB) as the kernel's would, run by the interpreter."""
    h = _bare_hart(program)
    h.bus.write(OLD, 8, 1)
    h.bus.write(NEW, 8, 2)
    h.satp = _tables(h, BASE, OLD)
    h.mstatus |= 1 << 17 | PRV_S << 11  # MPRV, MPP
    h.x[T0] = VA
    h.update_context()
    assert h.priv == PRV_M
    return h


def test_a_load_after_sfence_vma_of_its_page_reads_the_new_mapping() -> None:
    h = _hart([_ld(A0, T0), _sfence_vma(T0), _ld(A1, T0)])
    assert h.interp.run(1) == 1 and h.x[A0] == 1
    assert in_front(h.rtlb, VA >> 12) is not None
    _tables(h, BASE, NEW)
    assert h.interp.run(2) == 2
    assert h.x[A1] == 2


def test_a_store_after_sfence_vma_of_its_page_writes_the_new_page() -> None:
    h = _hart([_sd(T1, T0), _sfence_vma(T0), _sd(T2, T0)])
    h.x[T1], h.x[T2] = 11, 22
    assert h.interp.run(1) == 1 and h.bus.read(OLD, 8) == 11
    assert in_front(h.wtlb, VA >> 12) is not None
    _tables(h, BASE, NEW)
    assert h.interp.run(2) == 2
    assert (h.bus.read(OLD, 8), h.bus.read(NEW, 8)) == (11, 22)


def test_a_load_after_a_satp_write_reads_through_the_new_tables() -> None:
    h = _hart([_ld(A0, T0), _csrw_satp(T2), _ld(A1, T0)])
    h.x[T2] = _tables(h, BASE + 0x10000, NEW)
    assert h.interp.run(1) == 1 and h.x[A0] == 1
    assert h.interp.run(2) == 2
    assert h.x[A1] == 2


def _addi(rd: int, rs1: int, imm: int) -> int:
    return (imm & 0xFFF) << 20 | rs1 << 15 | rd << 7 | 0x13


def _jalr(rd: int, rs1: int) -> int:
    return rs1 << 15 | rd << 7 | 0x67


def test_a_page_that_becomes_code_leaves_the_write_front_so_a_store_to_it_is_seen() -> None:
    # Bare M-mode: store a routine (`addi a0, a0, 1; ret`) into a data page, call it, store a
    # new first instruction (`addi a0, a0, 16`) and call it again. The first store put the page
    # in the write TLB's front; once fetched it is code, and the second store must go where the
    # decoded copy is dropped, not straight to RAM.
    page, ret = BASE + 0x9000, _jalr(0, 1)
    program = [_sd(T1, T0), _jalr(1, T0), _sd(T2, T0), 0x0000100F, _jalr(1, T0)]  # fence.i
    h = _bare_hart(program)
    h.x[T0], h.x[T1], h.x[T2] = page, ret << 32 | _addi(A0, A0, 1), ret << 32 | _addi(A0, A0, 16)
    assert h.interp.run(1) == 1 and in_front(h.wtlb, page >> 12) is not None
    assert h.interp.run(8) == 8
    assert h.x[A0] == 17
