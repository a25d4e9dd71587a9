"""Sv39 address translation (page walk, permission checks, hardware A/D updates)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .bus import BusError
from .csr import MSTATUS_MPRV, MSTATUS_MXR, MSTATUS_SUM, SATP_MODE_SV39
from .trap import (
    INSN_ACCESS,
    INSN_PAGE_FAULT,
    LOAD_ACCESS,
    LOAD_PAGE_FAULT,
    PRV_M,
    PRV_U,
    STORE_ACCESS,
    STORE_PAGE_FAULT,
    Trap,
)

if TYPE_CHECKING:
    from .cpu import Hart

READ = 0
WRITE = 1
EXECUTE = 2

PTE_V, PTE_R, PTE_W, PTE_X, PTE_U, PTE_G, PTE_A, PTE_D = (1 << i for i in range(8))
PPN_MASK = (1 << 44) - 1
SV39_TOP = (1 << 26) - 1

PAGE_FAULT = {READ: LOAD_PAGE_FAULT, WRITE: STORE_PAGE_FAULT, EXECUTE: INSN_PAGE_FAULT}
NO_TABLES: tuple[int, ...] = ()
ACCESS_FAULT = {READ: LOAD_ACCESS, WRITE: STORE_ACCESS, EXECUTE: INSN_ACCESS}


def translation_active(h: Hart, priv: int) -> bool:
    """True if accesses at ``priv`` go through Sv39."""
    return priv != PRV_M and h.satp >> 60 == SATP_MODE_SV39


def translate(h: Hart, vaddr: int, access: int, priv: int, pc: int) -> int:
    """Return the physical address for ``vaddr`` or raise the matching page fault.

    ``h.leaf_level`` is left at the level of the leaf PTE (0 for a 4 KiB page, 1 or 2 for a
    superpage), or 0 when no translation was done; ``h.walk_tables`` at the physical page
    numbers of the page-table pages the walk read (none when no translation was done).
    """
    h.leaf_level = 0
    h.walk_tables = NO_TABLES
    if not translation_active(h, priv):
        return vaddr
    # Sv39 addresses must be sign-extended from bit 38.
    top = vaddr >> 38
    if top != 0 and top != SV39_TOP:
        raise Trap(PAGE_FAULT[access], vaddr, pc)
    bus = h.bus
    table = (h.satp & PPN_MASK) << 12
    level = 2
    tables = []
    while True:
        tables.append(table >> 12)
        pte_addr = table + ((vaddr >> (12 + 9 * level)) & 0x1FF) * 8
        try:
            pte = bus.read(pte_addr, 8)
        except BusError:
            raise Trap(ACCESS_FAULT[access], vaddr, pc) from None
        if not pte & PTE_V or (not pte & PTE_R and pte & PTE_W):
            raise Trap(PAGE_FAULT[access], vaddr, pc)
        if pte & (PTE_R | PTE_X):
            break
        if pte >> 54 or not level:
            raise Trap(PAGE_FAULT[access], vaddr, pc)
        table = ((pte >> 10) & PPN_MASK) << 12
        level -= 1
    ppn = (pte >> 10) & PPN_MASK
    if level and ppn & ((1 << (9 * level)) - 1):
        raise Trap(PAGE_FAULT[access], vaddr, pc)  # misaligned superpage
    user = bool(pte & PTE_U)
    if access == EXECUTE:
        ok = bool(pte & PTE_X) and (user if priv == PRV_U else not user)
    else:
        if priv == PRV_U:
            ok = user
        else:
            ok = not user or bool(h.mstatus & MSTATUS_SUM)
        if access == READ:
            ok = ok and bool(pte & PTE_R or (pte & PTE_X and h.mstatus & MSTATUS_MXR))
        else:
            ok = ok and bool(pte & PTE_W)
    if not ok:
        raise Trap(PAGE_FAULT[access], vaddr, pc)
    needed = PTE_A | (PTE_D if access == WRITE else 0)
    if pte & needed != needed:
        # Update A/D in hardware, like QEMU, rather than faulting to software.
        bus.write(pte_addr, 8, pte | needed)
    # The TLB fills that follow remember superpage leaves: sfence.vma of one address must drop
    # every 4 KiB entry taken from the same leaf.
    h.leaf_level = level
    h.walk_tables = tables
    offset_mask = (1 << (12 + 9 * level)) - 1
    return ((ppn << 12) & ~offset_mask) | (vaddr & offset_mask)


def data_priv(h: Hart) -> int:
    """Privilege used for loads and stores (MPRV makes M-mode use MPP)."""
    if h.priv == PRV_M and h.mstatus & MSTATUS_MPRV:
        return (h.mstatus >> 11) & 3
    return h.priv
