"""CSR access rules, trap entry/return and Sv39 translation, exercised on a bare Hart."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.emulator import interp, mmu
from harness.emulator.blocks import BlockEngine
from harness.emulator.bus import Bus
from harness.emulator.clock import Clock
from harness.emulator.codecache import CodeCache
from harness.emulator.cpu import Hart
from harness.emulator.csr import CSRS, csr_op, read_csr
from harness.emulator.trap import ILLEGAL_INSN, LOAD_PAGE_FAULT, PRV_M, PRV_S, PRV_U, STORE_PAGE_FAULT, Trap

BASE = 0x80000000


def make_hart(has_s: bool = True, has_fd: bool = True, ram: int = 1 << 20) -> Hart:
    return Hart(0, Bus(BASE, ram), Clock(10_000_000), CodeCache(), has_s=has_s, has_fd=has_fd)


def illegal(h: Hart, kind: str, num: int, operand: int = 0, rd: int = 5, rs1: int = 0) -> bool:
    try:
        csr_op(h, kind, num, operand, rd, rs1)
    except Trap as t:
        assert t.cause == ILLEGAL_INSN
        return True
    return False


def test_misa_describes_rv64imafdc_with_s_and_u() -> None:
    letters = {chr(ord("A") + i) for i in range(26) if make_hart().misa >> i & 1}
    assert letters == set("IMAFDCSU")
    assert make_hart().misa >> 62 == 2
    monitor = {chr(ord("A") + i) for i in range(26) if make_hart(False, False).misa >> i & 1}
    assert monitor == set("IMACU")


def test_privilege_and_read_only_checks() -> None:
    h = make_hart()
    assert illegal(h, "csrrw", 0xF14, 1, rs1=1)  # mhartid is read-only
    assert not illegal(h, "csrrs", 0xF14)  # reading it with rs1=x0 is fine
    h.set_priv(PRV_S)
    assert illegal(h, "csrrs", 0x300)  # mstatus from S
    assert not illegal(h, "csrrs", 0x100)  # sstatus from S
    h.set_priv(PRV_U)
    assert illegal(h, "csrrs", 0x100)


def test_no_s_mode_hart_lacks_supervisor_csrs() -> None:
    h = make_hart(has_s=False, has_fd=False)
    for num in (0x180, 0x100, 0x302, 0x303, 0x001):  # satp sstatus medeleg mideleg fflags
        assert illegal(h, "csrrs", num), hex(num)


def test_csr_table_lists_each_register_once_with_its_address_encoding() -> None:
    names = [c.name for c in CSRS.values()]
    assert len(names) == len(set(names))
    assert CSRS[0x300].name == "mstatus" and CSRS[0xC01].name == "time" and CSRS[0x3BF].name == "pmpaddr15"
    for num, c in CSRS.items():
        assert c.address == num
        assert c.min_priv == (num >> 8) & 3, c.name
        assert c.read_only == (num >> 10 == 3), c.name


def test_absent_and_hpm_csrs() -> None:
    h = make_hart()
    for num in (0x000, 0x0FF, 0x7C0, 0xB01, 0x3A1):  # unlisted addresses: illegal, as OpenSBI probes expect
        assert num not in CSRS
        assert illegal(h, "csrrs", num), hex(num)
    csr_op(h, "csrrw", 0xB03, 1234, 0, 1)  # mhpmcounter3: the write is ignored, it reads zero
    assert read_csr(h, 0xB03) == 0


def test_mstatus_warl_fields() -> None:
    h = make_hart()
    csr_op(h, "csrrw", 0x300, 2 << 11, 0, 1)  # MPP=2 is reserved
    assert (read_csr(h, 0x300) >> 11) & 3 != 2
    csr_op(h, "csrrw", 0x300, 1 << 13, 0, 1)  # FS=Initial reads back non-zero, SD set when dirty
    status = read_csr(h, 0x300)
    assert status >> 13 & 3 != 0
    assert (status >> 63) == (1 if status >> 13 & 3 == 3 else 0)
    assert (status >> 32) & 3 == 2  # UXL = 64


def test_sstatus_is_a_view_of_mstatus() -> None:
    h = make_hart()
    csr_op(h, "csrrw", 0x100, (1 << 1) | (1 << 3) | (1 << 18), 0, 1)  # SIE, MIE (masked), SUM
    status = read_csr(h, 0x300)
    assert status & (1 << 1) and status & (1 << 18)
    assert not status & (1 << 3)


def test_counter_enable_gates_lower_privileges() -> None:
    h = make_hart()
    h.set_priv(PRV_S)
    assert illegal(h, "csrrs", 0xC01)  # time, mcounteren.TM clear
    h.mcounteren = 0b111
    assert not illegal(h, "csrrs", 0xC01)
    h.set_priv(PRV_U)
    assert illegal(h, "csrrs", 0xC00)  # scounteren clear
    h.scounteren = 1
    assert not illegal(h, "csrrs", 0xC00)


def test_satp_rejects_unsupported_modes() -> None:
    h = make_hart()
    csr_op(h, "csrrw", 0x180, 9 << 60 | 5, 0, 1)  # Sv48: write ignored
    assert h.satp == 0
    csr_op(h, "csrrw", 0x180, 8 << 60 | 5, 0, 1)
    assert h.satp == 8 << 60 | 5


def test_trap_to_s_mode_when_delegated_and_sret_returns() -> None:
    h = make_hart()
    h.medeleg = 1 << 8
    h.stvec = BASE + 0x100
    h.mstatus |= 1 << 1  # SIE
    h.set_priv(PRV_U)
    h.take_trap(8, 0, BASE + 0x40)
    assert (h.priv, h.pc, h.sepc, h.scause) == (PRV_S, BASE + 0x100, BASE + 0x40, 8)
    assert h.mstatus & (1 << 5) and not h.mstatus & (1 << 1)  # SPIE=1, SIE=0
    assert not h.mstatus & (1 << 8)  # SPP=U


def test_interrupt_priority_and_vectoring() -> None:
    h = make_hart()
    h.mtvec = BASE + 0x200 | 1
    h.mie = (1 << 7) | (1 << 11)
    h.mip = (1 << 7) | (1 << 11)
    h.mstatus |= 1 << 3
    assert h.check_interrupts()
    assert h.mcause == (1 << 63) | 11  # external beats timer
    assert h.pc == BASE + 0x200 + 4 * 11


def test_delegated_interrupt_not_taken_in_m_mode() -> None:
    h = make_hart()
    h.mideleg = 1 << 5
    h.mie = h.mip = 1 << 5
    h.mstatus |= (1 << 1) | (1 << 3)
    assert not h.check_interrupts()  # S interrupts never preempt M-mode
    h.set_priv(PRV_U)
    assert h.check_interrupts()
    assert h.priv == PRV_S


def _map(h: Hart, va: int, pa: int, flags: int) -> None:
    """Build a three-level Sv39 mapping of one 4 KiB page at the start of RAM."""
    root, mid, leaf = BASE, BASE + 0x1000, BASE + 0x2000
    bus = h.bus
    bus.write(root + ((va >> 30) & 0x1FF) * 8, 8, (mid >> 12) << 10 | 1)
    bus.write(mid + ((va >> 21) & 0x1FF) * 8, 8, (leaf >> 12) << 10 | 1)
    bus.write(leaf + ((va >> 12) & 0x1FF) * 8, 8, (pa >> 12) << 10 | flags)
    h.satp = 8 << 60 | root >> 12


def test_sv39_translation_sets_accessed_and_dirty() -> None:
    h = make_hart()
    va, pa = 0x40001000, BASE + 0x5000
    _map(h, va, pa, 0b0111)  # V R W, A/D clear
    assert mmu.translate(h, va + 0x10, mmu.READ, PRV_S, 0) == pa + 0x10
    pte_addr = BASE + 0x2000 + ((va >> 12) & 0x1FF) * 8
    assert h.bus.read(pte_addr, 8) & (1 << 6)
    assert not h.bus.read(pte_addr, 8) & (1 << 7)
    mmu.translate(h, va, mmu.WRITE, PRV_S, 0)
    assert h.bus.read(pte_addr, 8) & (1 << 7)


def test_sv39_permission_faults() -> None:
    h = make_hart()
    va = 0x40001000
    _map(h, va, BASE + 0x5000, 0b10011)  # V R U: user page, read-only
    with pytest.raises(Trap) as exc:
        mmu.translate(h, va, mmu.WRITE, PRV_U, 0)
    assert exc.value.cause == STORE_PAGE_FAULT
    with pytest.raises(Trap) as exc:
        mmu.translate(h, va, mmu.READ, PRV_S, 0)  # S may not touch U pages without SUM
    assert exc.value.cause == LOAD_PAGE_FAULT
    h.mstatus |= 1 << 18
    assert mmu.translate(h, va, mmu.READ, PRV_S, 0) == BASE + 0x5000
    with pytest.raises(Trap):
        mmu.translate(h, 1 << 40, mmu.READ, PRV_S, 0)  # not sign-extended from bit 38


def test_mprv_uses_mpp_for_data_accesses() -> None:
    h = make_hart()
    _map(h, 0x40001000, BASE + 0x5000, 0b11000111)
    h.mstatus |= (1 << 17) | (PRV_S << 11)
    h.set_priv(PRV_M)
    assert mmu.data_priv(h) == PRV_S
    assert h.ld(0x40001000, 8, False, 0) == 0
    h.bus.write(BASE + 0x5000, 8, 42)
    assert h.ld(0x40001000, 8, False, 0) == 42
    assert h.priv == PRV_M


def test_sfence_flushes_cached_translations() -> None:
    h = make_hart()
    _map(h, 0x40001000, BASE + 0x5000, 0b11000111)
    h.bus.write(BASE + 0x5000, 8, 1)
    h.bus.write(BASE + 0x6000, 8, 2)
    h.set_priv(PRV_S)
    assert h.ld(0x40001000, 8, False, 0) == 1
    _map(h, 0x40001000, BASE + 0x6000, 0b11000111)
    h.flush_translations()
    assert h.ld(0x40001000, 8, False, 0) == 2


def test_sfence_of_one_address_keeps_other_pages_and_drops_a_whole_superpage() -> None:
    h = make_hart(ram=8 << 20)
    mid = BASE + 0x1000
    _map(h, 0x40001000, BASE + 0x5000, 0b11000111)
    # A 2 MiB superpage at 0x40200000 -> BASE + 0x200000 (a leaf in the middle table).
    h.bus.write(mid + 1 * 8, 8, ((BASE + 0x200000) >> 12) << 10 | 0b11000111)
    h.set_priv(PRV_S)
    pages = (0x40001, 0x40200, 0x40201)
    for vpn in pages:
        h.ld(vpn << 12, 8, False, 0)
        h.st(vpn << 12, 8, vpn, 0)
    assert all(vpn in h.rtlb and vpn in h.wtlb for vpn in pages)
    # sfence.vma names one page of the superpage: every 4 KiB entry taken from it goes, and
    # the page elsewhere keeps its entry.
    h.flush_page(0x40200000)
    assert 0x40001 in h.rtlb and 0x40001 in h.wtlb
    assert not {0x40200, 0x40201} & (h.rtlb.keys() | h.wtlb.keys())
    h.flush_page(0x40001000)
    assert not h.rtlb and not h.wtlb
    assert h.ld(0x40201000, 8, False, 0) == 0x40201


RWX_AD = 0b11001111  # V R W X, A and D set


def _guest_load(h: Hart, va: int) -> int:
    """A doubleword load as the engines make it: straight from RAM on a read-TLB hit."""
    base = h.rtlb.get(va >> 12)
    if base is None:
        return h.ld(va, 8, False, 0)
    o = base | (va & 0xFFF)
    return int.from_bytes(h.bus.ram[o : o + 8], "little")


def _guest_store(h: Hart, va: int, value: int) -> None:
    """A doubleword store as the engines make it: straight to RAM on a write-TLB hit."""
    base = h.wtlb.get(va >> 12)
    if base is None:
        h.st(va, 8, value, 0)
    else:
        o = base | (va & 0xFFF)
        h.bus.ram[o : o + 8] = value.to_bytes(8, "little")


def test_a_fence_of_every_address_keeps_the_translations_no_page_table_store_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = make_hart()
    _map(h, 0x40001000, BASE + 0x5000, RWX_AD)
    _map(h, 0x40002000, BASE + 0x6000, RWX_AD)
    h.set_priv(PRV_S)
    walks: list[int] = []
    walk = mmu.translate
    monkeypatch.setattr(mmu, "translate", lambda h, va, *rest: walks.append(va >> 12) or walk(h, va, *rest))
    for va in (0x40001000, 0x40002000):
        _guest_load(h, va)
    assert walks == [0x40001, 0x40002]
    # Tables watched only now may have been stored to just before: the first fence drops.
    h.fence_translations()
    assert not h.rtlb
    for va in (0x40001000, 0x40002000):
        _guest_load(h, va)
    _guest_store(h, 0x40002008, 7)  # data, not a table
    h.fence_translations()
    assert {0x40001, 0x40002} <= h.rtlb.keys() and 0x40002 in h.wtlb
    assert _guest_load(h, 0x40002008) == 7 and _guest_load(h, 0x40001000) == 0
    assert walks == [0x40001, 0x40002] * 2 + [0x40002]  # the store's walk (write); none since
    # A satp write still forgets everything.
    h.satp = h.satp
    h.flush_translations()
    assert not h.rtlb and not h.code.tables


def test_a_fence_of_every_address_drops_what_a_page_table_store_may_have_changed() -> None:
    h = make_hart(ram=8 << 20)
    h.code.add_hart(h)
    other = Hart(1, h.bus, h.clock, h.code)
    h.code.add_hart(other)
    table = BASE + 0x7000
    _map(h, 0x40001000, table, RWX_AD)  # the table's page, mapped as data first
    h.bus.write(BASE + 0x1000 + 1 * 8, 8, (table >> 12) << 10 | 1)  # 0x40200000's leaf table
    h.bus.write(table, 8, ((BASE + 0x5000) >> 12) << 10 | RWX_AD)
    h.bus.write(BASE + 0x5000, 8, 5)
    h.bus.write(BASE + 0x6000, 8, 6)
    for hart in (h, other):
        hart.satp = h.satp
        hart.set_priv(PRV_S)
    _guest_store(h, 0x40001008, 0)
    assert 0x40001 in h.wtlb
    # A walk through the page makes it a watched table: stores to it leave the write TLBs.
    assert _guest_load(h, 0x40200000) == 5
    assert 0x40001 not in h.wtlb
    _guest_store(h, 0x40001008, 0)  # through the slow path, which leaves it out too
    assert 0x40001 not in h.wtlb
    h.fence_translations()
    for hart in (h, other):
        assert _guest_load(hart, 0x40200000) == 5
        interp.fetch_page(hart, 0x40200000)
        hart.fence_translations()
        assert 0x40200 in hart.rtlb and 0x40200 in hart.interp.itlb_sets[PRV_S]
    # One hart retargets the PTE: until a fence the old translation may serve (as on hardware,
    # and as every hart showed before), after it neither hart's does.
    _guest_store(h, 0x40001000, ((BASE + 0x6000) >> 12) << 10 | RWX_AD)
    assert _guest_load(h, 0x40200000) == 5
    for hart in (h, other):
        hart.fence_translations()
        assert 0x40200 not in hart.rtlb and 0x40200 not in hart.interp.itlb_sets[PRV_S]
        assert _guest_load(hart, 0x40200000) == 6


def test_a_fence_of_every_address_forgets_the_block_engines_untracked_code_maps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The block engine translates regions without the hart's page-table bookkeeping: whatever
    # the hart keeps, a fence forgets its translated contexts' maps (as a flush of all did).
    monkeypatch.setenv("HARTBEAT_EMU_ENGINE", "blocks")
    h = make_hart()
    blocks = h.engine
    assert isinstance(blocks, BlockEngine)
    _map(h, 0x40001000, BASE + 0x5000, RWX_AD)
    h.bus.write(BASE + 0x5000, 4, 0x0000006F)  # j .
    h.set_priv(PRV_S)
    blocks.lookup(0x40001000)
    assert 0x40001000 in blocks.jit_sets[PRV_S]
    h.fence_translations()
    assert not blocks.jit_sets[PRV_S]


class _Registers:
    """A device page that logs every access, and answers reads with its name and offset."""

    def __init__(self, name: int, log: list[tuple[int, str, int, int]]) -> None:
        self.name = name
        self.log = log

    def read(self, offset: int, size: int) -> int:
        self.log.append((self.name, "r", offset, size))
        return (self.name << 16 | offset) & ((1 << 8 * size) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        self.log.append((self.name, "w", offset, value))


def test_device_pages_go_straight_to_the_device_until_the_mapping_changes() -> None:
    h = make_hart()
    log: list[tuple[int, str, int, int]] = []
    h.bus.map(0x10000000, 0x2000, _Registers(1, log))  # two pages: the cache keeps the offset
    h.bus.map(0x10010000, 0x1000, _Registers(2, log))
    # Bare (M-mode): the page is remembered after the first access, reads and writes apart.
    assert h.ld(0x10001004, 4, False, 0) == 1 << 16 | 0x1004
    assert 0x10001 in h.mmio_r and 0x10001 not in h.mmio_w
    assert h.ld(0x10001008, 4, False, 0) == 1 << 16 | 0x1008
    h.st(0x10001010, 1, 0xAB, 0)
    h.st(0x10001010, 1, 0xCD, 0)
    assert 0x10001 in h.mmio_w
    assert log == [(1, "r", 0x1004, 4), (1, "r", 0x1008, 4), (1, "w", 0x1010, 0xAB), (1, "w", 0x1010, 0xCD)]
    # A byte load at the page's last byte stays on the page; a signed load sign-extends.
    assert h.ld(0x10001FFF, 1, True, 0) == (1 << 64) - 1
    # Sv39 (S-mode): a virtual page on device 1, then remapped to device 2.
    _map(h, 0x40001000, 0x10000000, 0b11000111)
    h.set_priv(PRV_S)
    assert h.ld(0x40001020, 4, False, 0) == 1 << 16 | 0x20
    _map(h, 0x40001000, 0x10010000, 0b11000111)
    assert h.ld(0x40001020, 4, False, 0) == 1 << 16 | 0x20  # not flushed yet: as a real TLB
    h.flush_page(0x40001000)
    assert h.ld(0x40001020, 4, False, 0) == 2 << 16 | 0x20
    h.st(0x40001030, 4, 7, 0)
    _map(h, 0x40001000, 0x10000000, 0b11000111)
    h.flush_translations()
    h.st(0x40001030, 4, 9, 0)
    assert log[-2:] == [(2, "w", 0x30, 7), (1, "w", 0x30, 9)]
    # The bare context kept its own entries.
    assert 0x10001 in h.mmio_sets[PRV_M][0]


class _TopBitRegisters:
    """A device whose every read has the top bit of its size set (sign extension shows)."""

    def __init__(self) -> None:
        self.writes: list[tuple[int, int, int]] = []

    def read(self, offset: int, size: int) -> int:
        return (0x80 | offset) << (8 * size - 8) | size

    def write(self, offset: int, size: int, value: int) -> None:
        self.writes.append((offset, size, value))


# Loads (funct3, signed, size) and stores (funct3, size) as the interpreter's slow path sees them.
_LOADS = ((0, True, 1), (1, True, 2), (2, True, 4), (3, False, 8), (4, False, 1), (5, False, 2), (6, False, 4))
_STORES = ((0, 1), (1, 2), (2, 4), (3, 8))


def _load_store_program(load_offset: Callable[[int], int], store_offset: Callable[[int, int], int]) -> bytes:
    """Every load of _LOADS from ``load_offset(i)(a0)`` into x(12 + 7 * round + i), then every
    store of _STORES of a1 to ``store_offset(round, i)(a0)``, in two rounds; then ``j .``."""
    words = []
    for rnd in range(2):
        for i, (funct3, _, _) in enumerate(_LOADS):
            rd, offset = 12 + 7 * rnd + i, load_offset(i)
            words.append(offset << 20 | 10 << 15 | funct3 << 12 | rd << 7 | 0x03)  # lX rd, offset(a0)
        for i, (funct3, _) in enumerate(_STORES):
            offset = store_offset(rnd, i)
            words.append((offset >> 5) << 25 | 11 << 20 | 10 << 15 | funct3 << 12 | (offset & 31) << 7 | 0x23)
    words.append(0x0000006F)  # j .
    return b"".join(w.to_bytes(4, "little") for w in words)


def test_interpreter_reads_and_writes_known_device_pages_as_hart_ld_and_st_do() -> None:
    # Each load and store twice: the first goes through Hart.ld/st and remembers the page, the
    # second goes to the device from the interpreter's slow path. Both must give the same.
    h = make_hart()
    device = _TopBitRegisters()
    h.bus.map(0x10001000, 0x1000, device)
    program = _load_store_program(lambda i: 0x10 * i, lambda rnd, i: 0x100 + 0x10 * i)
    h.bus.load(BASE, program)
    h.reset(BASE)
    h.x[10] = 0x10001000
    h.x[11] = value = 0x8877665544332211
    h.interp.run(len(program) // 4 - 1)
    for rnd in range(2):
        for i, (_, signed, size) in enumerate(_LOADS):
            raw = (0x80 | 0x10 * i) << (8 * size - 8) | size
            expected = (raw - (1 << 8 * size) if signed else raw) & ((1 << 64) - 1)
            assert h.x[12 + 7 * rnd + i] == expected, (rnd, i)
    stores = [(0x100 + 0x10 * i, size, value & ((1 << 8 * size) - 1)) for i, (_, size) in enumerate(_STORES)]
    assert device.writes == stores * 2
    assert 0x10001 in h.mmio_r and 0x10001 in h.mmio_w


def test_interpreter_makes_misaligned_ram_accesses_as_hart_ld_and_st_do(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every load and store size at an odd address, twice: the first round fills the TLBs
    # through Hart.ld/st, the second is served from them without Hart.ld/st. Both must give
    # what the bytes say. (The data is not on the code's page, which stores never reach fast.)
    h = make_hart()
    data = bytes(range(0x81, 0x81 + 0x40))
    program = _load_store_program(lambda i: 3 * i, lambda rnd, i: 0x101 + 0x10 * i + 0x40 * rnd)
    h.bus.load(BASE, program)
    h.bus.load(BASE + 0x1801, data)
    h.reset(BASE)
    h.x[10] = BASE + 0x1801
    h.x[11] = value = 0x8877665544332211
    slow: list[int] = []
    ld, st = Hart.ld, Hart.st
    monkeypatch.setattr(Hart, "ld", lambda self, va, *rest: slow.append(va) or ld(self, va, *rest))
    monkeypatch.setattr(Hart, "st", lambda self, va, *rest: slow.append(va) or st(self, va, *rest))
    h.interp.run(len(program) // 4 - 1)
    for rnd in range(2):
        for i, (_, signed, size) in enumerate(_LOADS):
            raw = int.from_bytes(data[3 * i : 3 * i + size], "little")
            expected = (raw - (1 << 8 * size) if signed and raw >> (8 * size - 1) else raw) & ((1 << 64) - 1)
            assert h.x[12 + 7 * rnd + i] == expected, (rnd, i)
        for i, (_, size) in enumerate(_STORES):
            stored = h.bus.read(BASE + 0x1801 + 0x101 + 0x10 * i + 0x40 * rnd, size)
            assert stored == value & ((1 << 8 * size) - 1), (rnd, i)
    # Only the first access to each page went through Hart.ld/st (one load, one store).
    assert len(slow) == 2
