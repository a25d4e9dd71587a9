"""The PyPy-first execution engine: one small dispatch loop over predecoded instructions.

PyPy's tracing JIT compiles the loop of ``run`` (on the FU740's own firmware, once per kind
of fetch context, below) as a tree of guards on the opcode kind, and every guest instruction
then runs through that machine code: new guest code costs a decode, not a compile. (The
block translator in ``translate.py`` generates Python per guest region, which suits CPython
but makes PyPy trace thousands of functions.)

* Instructions are decoded once into ``Op`` records kept per hart and physical page
  (``Interpreter.pages``: a list with one slot per halfword), found through an instruction TLB from
  virtual page to that list. A store into a page with decoded code takes the slow path (such
  pages never enter a write TLB) and clears the slots it overlaps (``CodeCache.store``).
  PyPy's traces call the decoder (``fetch_op``) rather than inline it. An instruction whose
  upper half is on the next page is decoded on every execution, except where it is fetched
  untranslated (``Interpreter.keep_straddling``).
* Loads and stores that hit the data TLB go straight to the RAM mapping with
  ``struct`` (PyPy turns ``unpack_from``/``pack_into`` into raw memory accesses; memoryview
  indexing is many times slower there); everything else takes ``Hart.ld``/``Hart.st``.
* Registers and the pc are held *signed* (-2**63 <= v < 2**63) while the loop runs: PyPy
  keeps such ints in machine words, while every unsigned value at or above 2**63 (each
  kernel address, each -1) would be a heap-allocated big integer. ``run`` converts to the
  hart's unsigned ``x`` at its exits and around the helpers (system instructions, AMOs,
  floating point) for the registers they touch.
* The most frequent helper instructions of a Linux boot run inline, with the helper's exact
  effect, when their operands allow: LR/SC and AMOs (add, swap, or, and, xor) on aligned RAM
  that the data TLBs map (``inline.atomic``), csrrs/csrrc of sstatus that only set or clear SIE
  in S-mode (``inline.status_ie``: the kernel's interrupt save/restore), and reads of ``time`` the
  privilege may make (``inline.read_time``: U-Boot polls it every 8 bytes it reads from an SD card,
  3.6 M times for Debian's kernel; each left the loop). Anything else (a TLB miss, a
  misaligned address, another operand) goes to the helper unchanged.
* Writes to x0 go to a scratch register (index 32) that no instruction reads, so no
  instruction needs an rd == 0 test.
* Interrupts are checked when ``run`` starts and after every system instruction (nothing
  else changes ``mip``/``mie`` within a quantum); traps unwind to the loop as ``Trap``. A
  trapping instruction counts as one of the quantum's instructions (so on the block engine).
* Where the engine keeps the instruction kind in untranslated code (``reset_kind`` off: the
  FU740's own firmware), the loop exists twice, as two code objects: one runs untranslated
  fetches, the other translated ones, and ``run`` moves between them when a system
  instruction, a trap or an interrupt changes the fetch context. PyPy compiles a loop for the
  path it first traces and hangs every other path off it as bridges; with one loop for both,
  the firmware (half a billion instructions of SPL and U-Boot from an SD card) shaped the loop
  the kernel then ran in: the tiny Linux after it ran at 23 M instructions a second, against
  38 M booted straight from RAM, and at 29-32 M with the loops apart. Elsewhere one loop
  serves both: the kernel gains from the loop the firmware warmed (apart, the tiny Linux from
  RAM took 1.17x and Debian's kernel 1.09x the CPU time).
* A quantum is exactly ``budget`` instructions unless the hart waits (``wfi``) or yields; a
  spin-wait (a store-free loop back at the same registers) skips its remaining whole passes
  instead of running them, ending the quantum where running them would have.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .alu import div, divu, divuw, divw, rem, remu, remuw, remw
from .decode import decode32, decode_word, expand_compressed
from .inline import atomic, read_mapped, read_time, status_ie, write_mapped
from .loops import HOT_RUNS as _HOT_RUNS
from .loops import Region
from .loops import enter as enter_loop
from .ops import (
    _X31,
    _X33,
    ADD,
    ADDI,
    ADDIW,
    ADDW,
    AMO,
    AND,
    ANDI,
    AUIPC,
    BEQ,
    BGEU,
    BLT,
    BLTU,
    BNE,
    DIV,
    DIVU,
    DIVUW,
    DIVW,
    FENCE,
    FIRST_ATOMIC,
    FIRST_BRANCH,
    FIRST_LOAD,
    FIRST_REG_ALU,
    FIRST_STORE,
    FPU,
    ILLEGAL,
    JAL,
    JALR,
    JUMP_BACK,
    LAST_SLOT,
    LB,
    LBU,
    LD,
    LD_B,
    LD_H,
    LD_I,
    LHU,
    LR_D,
    LR_W,
    LUI,
    LW,
    LWU,
    MINS,
    MUL,
    MULH,
    MULHU,
    MULW,
    OR,
    ORI,
    REM,
    REMU,
    REMUW,
    REMW,
    SB,
    SD,
    SLL,
    SLLI,
    SLLIW,
    SLLW,
    SLT,
    SLTIU,
    SLTU,
    SPIN_CHECK_MASK,
    SRA,
    SRAI,
    SRAIW,
    SRAW,
    SRL,
    SRLI,
    SRLIW,
    SRLW,
    ST_B,
    ST_H,
    ST_I,
    SUB,
    SUBW,
    SW,
    SYSTEM,
    TIME_READ,
    VPN,
    XOR,
    XORI,
    LD_b,
    LD_h,
    LD_i,
    LD_q,
    M,
    Op,
    ST_q,
    _signed,
    _x31,
    _x33,
    int_add,
    int_lshift,
    int_mul,
    int_sub,
    make_op,
    uint_rshift,
)
from .tlb import FRONT_MASK as TLB_FRONT_MASK
from .trap import BARE, ILLEGAL_INSN, PRV_S, PRV_U, Trap

if TYPE_CHECKING:
    from .cpu import Hart

# Fetch contexts: user, supervisor and untranslated (bare, shared by every privilege).
CONTEXTS = (PRV_U, PRV_S, BARE)
# ``_loop``'s context when one loop runs both untranslated and translated fetches (_LOOPS).
EITHER = -1
# Helpers that store nothing, so a loop of them still waits for another hart (`lr.w; bnez`, a
# spinlock taken with LR/SC): it yields like a loop of plain loads instead of running its quanta.
LOAD_RESERVED = frozenset({"lr.w", "lr.d"})


_OPS: dict[int, Op] = {}


def fetch_op(h: Hart, pc: int, paddr: int, code: list[Op | None]) -> Op:
    """Decode the instruction at virtual ``pc`` (physical ``paddr``) into its slot of the
    page's list ``code``. An instruction whose upper half lies on the next page is decoded
    on every execution instead (that page's mapping may change independently), except where
    it is fetched untranslated from RAM (``Interpreter.keep_straddling``)."""
    bus = h.bus
    straddles = False
    if paddr & 0xFFF != 0xFFE and bus.is_ram(paddr, 4):
        # Four bytes of RAM in one read (the two past a compressed instruction are ignored).
        word = LD_I(bus.ram, paddr - bus.ram_base)[0]
        if word & 3 != 3:
            word &= 0xFFFF
    else:
        word = h.fetch_half(paddr, pc)
        if word & 3 == 3:
            if paddr & 0xFFF == 0xFFE:
                straddles = True
                word |= h.fetch_half_virtual((pc + 2) & M, pc) << 16
            else:
                word |= h.fetch_half(paddr + 2, pc) << 16
    # An Op depends on the instruction word alone (not on its address), so one serves every
    # copy of that word: most of a kernel's instructions recur, and decoding is the cost of
    # code that runs once.
    key = word | h.has_fd << 32
    op = _OPS.get(key)
    if op is None:
        op = _OPS[key] = make_op(decode_word(word, h.has_fd), h.has_fd)
    if not straddles:
        code[(paddr & 0xFFF) >> 1] = op
        # The page holds one more decoded instruction; a fetch that differs from the bytes
        # the hart last synchronised with fence.i is reported when reporting is on.
        live = h.interp.page_live
        live[paddr >> 12] = live.get(paddr >> 12, 0) + 1
        if h.code.report is not None:
            h.code.check_fetch(h, pc, paddr, paddr + op.length)
    elif h.fetch_key == BARE and bus.is_ram(paddr, 4):
        h.interp.keep_straddling(paddr >> 12, code, op)
    return op


if sys.implementation.name == "pypy":
    import pypyjit  # type: ignore[import-not-found]

    # Traces call fetch_op instead of inlining it: inlined, every first execution of an
    # instruction traced the decoder into the loop's tree, one bridge per path through it
    # (U-Boot to "Hit any key": tracing 1.9 -> 0.8 s, backend 0.9 -> 0.3 s on a loaded host).
    # Marking other helpers too (fetch_page, _call_helper) was slower. The decoder's own steps
    # are not inlined into fetch_op's trace either: each is compiled on its own, small, instead
    # of one long trace per path through all of them (U-Boot to "Hit any key": 1.6-3.2 % fewer
    # host instructions, valgrind, three pairs).
    for helper in (fetch_op, decode_word, decode32, expand_compressed, make_op, enter_loop):
        pypyjit.dont_trace_here(0, False, helper.__code__)

# Passes of a loop before PyPy traces it (PyPy's default: 1039) on the FU740's own firmware. The
# SPL and U-Boot read the SD card over SPI through short loops (8 bytes per FIFO fill, a timer
# read between) and many device paths, each warm for a while and then left: tracing them sooner
# paid. The Unmatched's card with the tiny Linux, power-on to the shell: 222.2 G -> 202.5 G host
# instructions (valgrind cachegrind). On RAM boots it does not: U-Boot on `virt` to "Hit any
# key" 0.92 -> 1.07 s (medians of 3, alternating), so they keep PyPy's default.
FIRMWARE_JIT_THRESHOLD = 500


def jit_settings(rom_boot: bool) -> tuple[str, ...]:
    """The ``pypyjit.set_param`` settings for a machine that boots from its mask ROM (the
    FU740's own firmware from an SD card) or not."""
    return (f"threshold={FIRMWARE_JIT_THRESHOLD}",) if rom_boot else ()


def tune_jit(rom_boot: bool) -> None:
    """Apply :func:`jit_settings` to this process's JIT (on PyPy; nothing on CPython)."""
    if sys.implementation.name != "pypy":
        return
    import pypyjit

    for setting in jit_settings(rom_boot):
        pypyjit.set_param(setting)


def fetch_page(h: Hart, pc: int) -> tuple[int, list[Op | None]]:
    """Physical page address and slot list for the page holding virtual ``pc`` (filling the
    instruction TLB)."""
    paddr = h.translate_fetch(pc) & ~0xFFF
    code = h.interp.page(paddr >> 12)
    if h.fetch_key != BARE:
        h.interp.map_translated(paddr >> 12, code)
    h.interp.itlb_sets[h.fetch_key][pc >> 12] = (paddr, code)
    h.note_fill(pc >> 12)
    return paddr, code


def _slow_load(h: Hart, a: int, size: int, signed: bool, pc: int) -> int:
    """A load the loop's fast path did not take (``a``, ``pc`` signed as the loop holds them),
    as a signed register value.

    A misaligned load inside a RAM page the read TLB maps is read here from RAM: what
    ``Hart.ld`` reads, without its page walk (Linux times misaligned word copies at boot:
    650,000 walks in Debian's kernel). A device page the hart already knows
    (``Hart.mmio_r``) is read here at once, as ``Hart.ld`` would: firmware reading an SD card
    over SPI makes three device accesses per byte, and going through ``Hart.ld`` (a function
    with loops, which PyPy's JIT does not inline) cost three times as much per access."""
    v = read_mapped(h, a, size, signed)
    return _signed(h.ld(a & M, size, signed, pc & M)) if v is None else v


def _slow_store(h: Hart, a: int, size: int, v: int, pc: int) -> None:
    """A store the loop's fast path did not take (``v`` unsigned, of ``size`` bytes): a
    misaligned one inside a RAM page the write TLB maps is written here, a known device page
    (``Hart.mmio_w``) at once (see ``_slow_load``)."""
    if write_mapped(h, a, size, v) < 0:
        h.st(a & M, size, v, pc & M)


def _call_helper(h: Hart, xs: list[int], op: Op, pc: int) -> None:
    """Run an AMO or FP instruction on the hart's unsigned registers."""
    x = h.x
    # rd too: an FP op's rd may name an f register, leaving x[rd] as it was.
    x[op.rs1] = xs[op.rs1] & M
    x[op.rs2] = xs[op.rs2] & M
    x[op.rd] = xs[op.rd] & M
    d = op.insn
    upc = pc & M
    if op.kind != FPU:
        h.amo(d, upc)
    else:
        h.fpu(d, upc)
    x[0] = 0
    xs[op.rd] = _signed(x[op.rd])


def run(h: Hart, budget: int, poll: bool = True) -> int:
    """Execute ``budget`` instructions on ``h``; stop early on WFI or a yield. Return the
    instructions executed. ``poll`` False: no interrupt check before the first instruction
    (the block engine's tail, which starts where the interpreter would not check)."""
    xs = signed_registers(h)
    before = h.icount
    try:
        if h.interp.reset_kind:
            _loop(h, xs, budget, poll)
            return h.icount - before
        while True:
            translated = int(h.fetch_key != BARE)
            _LOOPS[translated](h, xs, budget - (h.icount - before), poll, translated)
            if h.icount - before >= budget or h.wfi or h.yielding or (h.fetch_key != BARE) == translated:
                break
            # The fetch context changed: the rest of the quantum runs in the other loop, which
            # need not check for interrupts again (the loop just left did, after the change).
            poll = False
    finally:
        store_registers(h, xs)
    return h.icount - before


def signed_registers(h: Hart) -> list[int]:
    """The hart's registers as ``run`` holds them while it runs (signed, see the docstring)."""
    return list(_x33.unpack(_X33.pack(*h.x)))


def store_registers(h: Hart, xs: list[int]) -> None:
    """Put registers held as ``run`` holds them back into the hart's unsigned ``x`` (x1..x31).

    One pack and unpack for all of them: a quantum that ends early (a hart that yields polling
    the time, or waits) paid 64 struct round trips here, one per register."""
    h.x[1:32] = _X31.unpack(_x31.pack(*xs[1:32]))


def run_one(h: Hart, xs: list[int]) -> None:
    """Execute one instruction on ``h`` with its registers in ``xs`` (``signed_registers``);
    the caller copies them back to ``h.x``. The debug module's stepper runs on this."""
    _loop(h, xs, 1)


def _loop(h: Hart, x: list[int], limit: int, poll: bool = True, translated: int = EITHER) -> None:
    ram = h.bus.ram
    eng = h.interp
    n = 0
    h.yielding = False
    try:
        while n < limit and not h.wfi and not h.yielding:
            if poll and h.mip & h.mie:
                h.check_interrupts()
            poll = True
            if translated != EITHER and (h.fetch_key != BARE) != translated:
                # The other loop's context now (see _LOOPS): ``run`` goes on there.
                break
            pc = _signed(h.pc)
            R = h.rtlb
            W = h.wtlb
            # The TLBs' direct-mapped fronts (tlb.py), read inline by loads and stores.
            RT = R.tags
            RB = R.bases
            WT = W.tags
            WB = W.bases
            itlb = eng.itlb_sets[h.fetch_key]
            vpn = -1 << 60
            base = 0
            # Spin-wait detection: the target of the last backward branch, how often it was
            # taken in a row with no store in between, the registers at the last check and
            # the instruction count then.
            spin_pc = 1
            spin_n = 0
            spin_regs: list[int] = []
            spin_at = 0
            # The first loop closed since the quantum began or a system instruction (hot_pc 1)
            # asks for its region at once (see Interpreter).
            eng.hot_pc = eng.hot_end = 1
            back = False
            code: list[Op | None] = []
            reset_kind = eng.reset_kind or h.fetch_key != BARE
            try:
                while n < limit:
                    if pc >> 12 != vpn:
                        entry = itlb.get(pc >> 12 & VPN)
                        if entry is None:
                            vpn = -1 << 60
                            base, code = fetch_page(h, pc & M)
                        else:
                            base, code = entry
                        vpn = pc >> 12
                    op = code[(pc & 0xFFF) >> 1]
                    if op is None:
                        op = fetch_op(h, pc & M, base | (pc & 0xFFF), code)
                    n += 1
                    k = op.kind
                    if k < FIRST_REG_ALU:
                        a = x[op.rs1]
                        i = op.imm
                        if k == ADDI:
                            x[op.rd] = int_add(a, i)
                        elif k == SLLI:
                            x[op.rd] = int_lshift(a, i)
                        elif k == SRLI:
                            x[op.rd] = uint_rshift(a, i)
                        elif k == ADDIW:
                            x[op.rd] = ((a + i + 0x80000000) & 0xFFFFFFFF) - 0x80000000
                        elif k == SLLIW:
                            x[op.rd] = (((a & 0xFFFFFFFF) << i) + 0x80000000 & 0xFFFFFFFF) - 0x80000000
                        elif k == SRLIW:
                            x[op.rd] = (((a & 0xFFFFFFFF) >> i) + 0x80000000 & 0xFFFFFFFF) - 0x80000000
                        elif k == ANDI:
                            x[op.rd] = a & i
                        elif k == AUIPC:
                            x[op.rd] = int_add(pc, i)
                        elif k == XORI:
                            x[op.rd] = a ^ i
                        elif k == LUI:
                            x[op.rd] = i
                        elif k == SLTIU:
                            x[op.rd] = 1 if (a ^ MINS) < (i ^ MINS) else 0
                        elif k == SRAIW:
                            x[op.rd] = ((a + 0x80000000 & 0xFFFFFFFF) - 0x80000000) >> i
                        elif k == ORI:
                            x[op.rd] = a | i
                        elif k == SRAI:
                            x[op.rd] = a >> i
                        else:  # SLTI
                            x[op.rd] = 1 if a < i else 0
                        pc += op.length
                    elif k < FIRST_LOAD:
                        a = x[op.rs1]
                        b = x[op.rs2]
                        if k == ADD:
                            x[op.rd] = int_add(a, b)
                        elif k == XOR:
                            x[op.rd] = a ^ b
                        elif k == OR:
                            x[op.rd] = a | b
                        elif k == ADDW:
                            x[op.rd] = ((a + b + 0x80000000) & 0xFFFFFFFF) - 0x80000000
                        elif k == SUB:
                            x[op.rd] = int_sub(a, b)
                        elif k == AND:
                            x[op.rd] = a & b
                        elif k == SLTU:
                            x[op.rd] = 1 if (a ^ MINS) < (b ^ MINS) else 0
                        elif k == MUL:
                            x[op.rd] = int_mul(a, b)
                        elif k == SUBW:
                            x[op.rd] = ((a - b + 0x80000000) & 0xFFFFFFFF) - 0x80000000
                        elif k == MULHU:
                            x[op.rd] = _signed(((a & M) * (b & M)) >> 64)
                        elif k == SRL:
                            x[op.rd] = uint_rshift(a, b & 63)
                        elif k == SLL:
                            x[op.rd] = int_lshift(a, b & 63)
                        elif k == REMUW:
                            x[op.rd] = _signed(remuw(a & M, b & M))
                        elif k == DIVU:
                            x[op.rd] = _signed(divu(a & M, b & M))
                        elif k == REMU:
                            x[op.rd] = _signed(remu(a & M, b & M))
                        elif k == DIVUW:
                            x[op.rd] = _signed(divuw(a & M, b & M))
                        elif k == SLLW:
                            x[op.rd] = (((a & 0xFFFFFFFF) << (b & 31)) + 0x80000000 & 0xFFFFFFFF) - 0x80000000
                        elif k == DIV:
                            x[op.rd] = _signed(div(a & M, b & M))
                        elif k == MULW:
                            x[op.rd] = (((a & 0xFFFFFFFF) * (b & 0xFFFFFFFF) + 0x80000000) & 0xFFFFFFFF) - 0x80000000
                        elif k == SLT:
                            x[op.rd] = 1 if a < b else 0
                        elif k == SRAW:
                            x[op.rd] = ((a + 0x80000000 & 0xFFFFFFFF) - 0x80000000) >> (b & 31)
                        elif k == SRLW:
                            x[op.rd] = (((a & 0xFFFFFFFF) >> (b & 31)) + 0x80000000 & 0xFFFFFFFF) - 0x80000000
                        elif k == REMW:
                            x[op.rd] = _signed(remw(a & M, b & M))
                        elif k == SRA:
                            x[op.rd] = a >> (b & 63)
                        elif k == DIVW:
                            x[op.rd] = _signed(divw(a & M, b & M))
                        elif k == REM:
                            x[op.rd] = _signed(rem(a & M, b & M))
                        elif k == MULH:
                            x[op.rd] = _signed((a * b) >> 64)
                        else:  # MULHSU
                            x[op.rd] = _signed((a * (b & M)) >> 64)
                        pc += op.length
                    elif k < FIRST_STORE:
                        a = x[op.rs1] + op.imm
                        dv = a >> 12 & VPN
                        ds = dv & TLB_FRONT_MASK
                        p = RB[ds] if RT[ds] == dv else R.lookup(dv)
                        o = a & 0xFFF
                        if k == LD:
                            if p is not None and not a & 7:
                                x[op.rd] = LD_q(ram, p | o)[0]
                            else:
                                x[op.rd] = _slow_load(h, a, 8, False, pc)
                        elif k == LBU:
                            if p is not None:
                                x[op.rd] = LD_B(ram, p | o)[0]
                            else:
                                x[op.rd] = _slow_load(h, a, 1, False, pc)
                        elif k == LW:
                            if p is not None and not a & 3:
                                x[op.rd] = LD_i(ram, p | o)[0]
                            else:
                                x[op.rd] = _slow_load(h, a, 4, True, pc)
                        elif k == LHU:
                            if p is not None and not a & 1:
                                x[op.rd] = LD_H(ram, p | o)[0]
                            else:
                                x[op.rd] = _slow_load(h, a, 2, False, pc)
                        elif k == LWU:
                            if p is not None and not a & 3:
                                x[op.rd] = LD_I(ram, p | o)[0]
                            else:
                                x[op.rd] = _slow_load(h, a, 4, False, pc)
                        elif k == LB:
                            if p is not None:
                                x[op.rd] = LD_b(ram, p | o)[0]
                            else:
                                x[op.rd] = _slow_load(h, a, 1, True, pc)
                        elif p is not None and not a & 1:  # LH
                            x[op.rd] = LD_h(ram, p | o)[0]
                        else:
                            x[op.rd] = _slow_load(h, a, 2, True, pc)
                        pc += op.length
                    elif k < FIRST_BRANCH:
                        a = x[op.rs1] + op.imm
                        v = x[op.rs2]
                        dv = a >> 12 & VPN
                        ds = dv & TLB_FRONT_MASK
                        p = WB[ds] if WT[ds] == dv else W.lookup(dv)
                        o = a & 0xFFF
                        if k == SD:
                            if p is not None and not a & 7:
                                ST_q(ram, p | o, v)
                            else:
                                _slow_store(h, a, 8, v & M, pc)
                        elif k == SW:
                            if p is not None and not a & 3:
                                ST_I(ram, p | o, v & 0xFFFFFFFF)
                            else:
                                _slow_store(h, a, 4, v & 0xFFFFFFFF, pc)
                        elif k == SB:
                            if p is not None:
                                ST_B(ram, p | o, v & 0xFF)
                            else:
                                _slow_store(h, a, 1, v & 0xFF, pc)
                        elif p is not None and not a & 1:  # SH
                            ST_H(ram, p | o, v & 0xFFFF)
                        else:
                            _slow_store(h, a, 2, v & 0xFFFF, pc)
                        pc += op.length
                        spin_pc = 1
                        if eng.code_changed:
                            # The store rewrote decoded code: look the page up again.
                            eng.code_changed = False
                            vpn = -1 << 60
                    elif k < JAL:
                        a = x[op.rs1]
                        b = x[op.rs2]
                        if k == BNE:
                            taken = a != b
                        elif k == BEQ:
                            taken = a == b
                        elif k == BLTU:
                            taken = (a ^ MINS) < (b ^ MINS)
                        elif k == BGEU:
                            taken = (a ^ MINS) >= (b ^ MINS)
                        elif k == BLT:
                            taken = a < b
                        else:  # BGE
                            taken = a >= b
                        if not taken:
                            pc += op.length
                        elif op.imm >= 0:
                            pc += op.imm
                        else:
                            pc += op.imm
                            if pc != spin_pc:
                                spin_pc = pc
                                spin_n = 0
                                spin_regs = []
                            else:
                                spin_n += 1
                                if not spin_n & SPIN_CHECK_MASK:
                                    regs = x[:32]
                                    if regs == spin_regs:
                                        # A loop that neither stores nor changes a register
                                        # waits for another hart or a device, which cannot
                                        # act before the quantum ends: every further pass is
                                        # the same, so skip the whole ones left (counted as
                                        # run) and run the rest for real.
                                        period = n - spin_at
                                        n += (limit - n) // period * period
                                    spin_regs = regs
                                    spin_at = n
                            back = COMPILE_LOOPS
                    elif k == JAL:
                        x[op.rd] = pc + op.length
                        pc += op.imm
                    elif k == JUMP_BACK:
                        pc += op.imm
                        back = COMPILE_LOOPS
                    elif k == JALR:
                        t = int_add(x[op.rs1], op.imm) & -2
                        x[op.rd] = pc + op.length
                        pc = t
                    elif k == FENCE:
                        pc += op.length
                    elif k < FIRST_ATOMIC and (read_time(h, x, op) if k == TIME_READ else status_ie(h, x, op)):
                        pc += op.length
                        # As after any system instruction: spin detection starts again, and
                        # an interrupt pending and enabled now is taken before the next one
                        # (so is a yield: the time was polled often enough this quantum).
                        spin_pc = 1
                        if h.mip & h.mie or h.yielding:
                            h.pc = pc & M
                            break
                    elif FIRST_ATOMIC <= k < AMO and atomic(h, x, op, ram):
                        pc += op.length
                        if k != LR_W and k != LR_D:
                            spin_pc = 1
                    elif k == SYSTEM or k < FIRST_ATOMIC:
                        h.icount += n
                        limit -= n
                        n = 0
                        d = op.insn
                        ux = h.x
                        ux[d.rs1] = x[d.rs1] & M
                        ux[d.rd] = x[d.rd] & M
                        h.sysop(d, pc & M)
                        ux[0] = 0
                        x[d.rd] = _signed(ux[d.rd])
                        break
                    elif k == ILLEGAL:
                        raise Trap(ILLEGAL_INSN, op.insn.raw, pc & M)
                    else:  # AMO, FPU, and the atomics not run inline
                        _call_helper(h, x, op, pc)
                        pc += op.length
                        if op.insn.op not in LOAD_RESERVED:
                            spin_pc = 1
                        if eng.code_changed:
                            eng.code_changed = False
                            vpn = -1 << 60
                    if back:
                        # A loop closed (a backward branch taken, a jump back): PyPy traces
                        # each path with `back` a constant, so this costs the others nothing.
                        if pc != eng.hot_pc:
                            # The edge runs from `end` back to `pc`. One that crosses the
                            # loop's own (their spans overlap, neither inside the other) closes
                            # the same cycle: a loop the compiler laid out with two backward
                            # jumps a pass (Linux's __free_pages_ok, freeing 16 GiB a page at
                            # a time). It neither counts nor starts a loop; counted as a new
                            # one, such a loop started again twice a pass and never got hot.
                            # (A new loop whose one edge happens to cross the last loop's waits
                            # for the next quantum, where hot_pc starts at 1 again.)
                            # Anything else is a new loop, or (hot_pc 1) the first one since
                            # the quantum or a region began: its region is asked for at once.
                            end = pc - op.imm
                            head = eng.hot_pc
                            if not (head < pc <= eng.hot_end < end or pc < head <= end < eng.hot_end):
                                eng.hot_n = REJOIN if head == 1 else 0
                                eng.hot_pc = pc
                                eng.hot_end = end
                        else:
                            eng.hot_n += 1
                        if eng.hot_n >= HOT_RUNS:
                            # A loop running HOT_RUNS passes in a row, or rejoined: its
                            # region, if it has one, runs on from here (loops.py).
                            ran = enter_loop(h, x, pc, n, limit, eng.hot_n == HOT_RUNS)
                            eng.hot_n = 0
                            if ran is not None:
                                n, pc = ran
                                vpn = -1 << 60
                                spin_pc = 1
                                eng.hot_pc = eng.hot_end = 1
                                if eng.loop_break:
                                    # The region ended after a time read or an sstatus
                                    # change that leaves the loop (see the kinds above).
                                    eng.loop_break = False
                                    h.pc = pc & M
                                    break
                    # Every path leaves the per-instruction temporaries alike. PyPy compiles this
                    # loop for the path it traced first (with `k` known, say, to be ADDI); a
                    # bridge (every other path) may jump back into that compiled loop only where
                    # its locals look the same, else it re-enters through the loop's preamble,
                    # boxing the loop's integers on the way: 0.7 K boxing sites, ~100 bytes
                    # allocated per instruction. Tiny Linux 5.18 -> 4.15 CPU s (4 pairs).
                    # The kind too, except where the engine says not to (see reset_kind).
                    if reset_kind:
                        k = 0
                    a = b = i = p = o = v = t = dv = ds = period = end = head = 0
                    taken = back = False
                    entry = None
                    regs = spin_regs
                    ran = None
                else:
                    h.pc = pc & M
            except Trap as t:
                h.take_trap(t.cause, t.tval, t.pc)
    finally:
        h.icount += n


# The dispatch loop once more, as a code object of its own, for translated fetches where the
# engine keeps the instruction kind in untranslated code (see the module docstring): PyPy keeps
# compiled loops per code object, so the firmware and the kernel each get a compiled loop
# shaped by their own paths.
_loop_translated = types.FunctionType(
    _loop.__code__.replace(co_name="_loop_translated"), _loop.__globals__, "_loop_translated", _loop.__defaults__
)
_loop_translated.__qualname__ = "_loop_translated"
# The loop for a fetch context, indexed by ``fetch_key != BARE``, where the two are apart.
_LOOPS = (_loop, _loop_translated)


class Interpreter:
    """Runs a hart on predecoded ``Op`` records; holds them per physical page and the
    instruction TLB that finds them (see the module docstring)."""

    name = "interp"

    def __init__(self, hart: Hart) -> None:
        self.hart = hart
        # Decoded instructions per physical page (one slot per halfword) and how many slots
        # of each are filled (a page left with none stops being code). An Op depends on the
        # bytes alone, which stores keep coherent (``invalidate``), so every hart that decodes
        # alike (same F/D) shares them: SMP Linux runs the same kernel code on each hart, and
        # each decoding it again cost a 5-hart boot 7% of its host time. Stale-fetch reports
        # are per hart (each checks what it decodes), so with them each hart keeps its own.
        shared = hart.code.shared_decode(hart.has_fd)
        self.shared = shared is not None
        self.pages: dict[int, list[Op | None]]
        self.page_live: dict[int, int]
        # Pages a translated context has fetched from (see keep_straddling).
        self.translated: set[int]
        self.pages, self.page_live, self.translated = shared if shared is not None else ({}, {}, set())
        # Virtual page -> (physical page address, slot list), per fetch context (Hart.fetch_key).
        self.itlb_sets: dict[int, dict[int, tuple[int, list[Op | None]]]] = {key: {} for key in CONTEXTS}
        # Set when a store by this hart rewrote code it decoded, so the loop fetches again.
        self.code_changed = False
        # Whether the dispatch loop resets the instruction kind with its other temporaries in
        # untranslated code too (translated code always does). Resetting it lets PyPy's
        # bridges enter the compiled loop (tiny Linux 4.3 -> 3.5, U-Boot to "Hit any key"
        # 1.0 -> 0.75 CPU s), but the FU740's own firmware from an SD card (SPL, U-Boot) ran
        # 2x slower with it (to the prompt 7.4-9.3 -> 17 CPU s: the compiled loop was entered
        # from PyPy's interpreter 3.9 M times against 1.3 M, so guards failed without bridges;
        # why, we did not find), so the FU740's ROM boot turns it off (Machine).
        self.reset_kind = True
        # Compiled guest loops by head pc, per fetch context, and how often each head not yet
        # compiled got hot (loops.py).
        self.loop_sets: dict[int, dict[int, Region]] = {key: {} for key in CONTEXTS}
        # The regions by the heads of the loops inside them (loops.enter).
        self.inner_sets: dict[int, dict[int, Region]] = {key: {} for key in CONTEXTS}
        self.loop_heat: dict[int, int] = {}
        # Regions compiled for this hart and the instructions run in them (loops.summary).
        self.loops_built = 0
        self.loop_ran = 0
        # The target of the last backward branch or jump taken and how often in a row (_loop):
        # fields, not the loop's locals, because every local the dispatch loop carries from one
        # instruction to the next costs every instruction (as locals: 3.4% more host
        # instructions to the tiny Linux's shell).
        self.hot_pc = 1
        self.hot_n = 0
        # Where that backward edge came from (the loop's end, as far as _loop knows it).
        self.hot_end = 1
        # Counts the stores that reached this hart's decoded pages: a region checks its Ops
        # again only when it moved (loops.Region.current).
        self.code_epoch = 0
        # The instruction count a device access that raised inside a region leaves (loops.enter).
        self.loop_n = 0
        # Set by a region that ended where the interpreter leaves its loop (loops._block).
        self.loop_break = False

    def run(self, budget: int) -> int:
        """Execute ``budget`` instructions; stop early on WFI or a yield. Return the
        instructions executed."""
        return run(self.hart, budget)

    def reset(self) -> None:
        """Forget every decoded instruction (hart reset): shared pages too, so every hart
        sharing them forgets its instruction TLB, which may point into them."""
        self.pages.clear()
        self.page_live.clear()
        self.translated.clear()
        self.code_epoch += 1
        self.forget_code()
        if self.shared:
            for other in self.hart.code.harts:
                if other.interp.pages is self.pages:
                    other.interp.forget_code()

    def forget_context(self, key: int) -> None:
        """Forget the instruction TLB of fetch context ``key``."""
        self.itlb_sets[key].clear()

    def fence_untracked(self) -> None:
        """Nothing: every instruction-TLB fill (``fetch_page``) is tracked by the hart."""

    def forget_pages(self, key: int, pages: Iterable[int]) -> None:
        """Forget the instruction TLB entries of virtual ``pages`` in context ``key``."""
        itlb = self.itlb_sets[key]
        for page in pages:
            itlb.pop(page, None)

    def forget_code(self) -> None:
        """Forget every instruction TLB entry (after decoded code was invalidated)."""
        for itlb in self.itlb_sets.values():
            itlb.clear()

    def page(self, ppn: int) -> list[Op | None]:
        """The slot list of physical page ``ppn`` (created empty and claimed as code on first
        use, which takes the page out of every write TLB). Each hart that maps it claims it, so
        a store to it reaches that hart's ``invalidate`` even where another hart decoded it."""
        code = self.pages.get(ppn)
        if code is None:
            code = self.pages[ppn] = [None] * 2048
            self.page_live[ppn] = 0
        self.hart.code.claim(self.hart, ppn)
        return code

    def keep_straddling(self, ppn: int, code: list[Op | None], op: Op) -> None:
        """Keep ``op``, a 4-byte instruction at the last halfword of physical page ``ppn``
        fetched untranslated from RAM, in the page's last slot (``code``): its upper half is
        then always the first halfword of page ``ppn + 1``, whose stores clear it
        (``invalidate``), so it need not be decoded on every execution. (The SPL's SPI byte loop
        on the FU740 has one at the L2 LIM's 0x0800bffe: a million decodes to U-Boot proper.)

        Not on a page a translated context has fetched from: those read the same slots, and
        their next virtual page may map anywhere. The next page is claimed as code and counts
        the instruction as one of its live slots, so it stays claimed while the slot is kept."""
        if ppn in self.translated or self.pages.get(ppn) is not code:
            return
        code[LAST_SLOT] = op
        live = self.page_live
        live[ppn] += 1
        self.page(ppn + 1)
        live[ppn + 1] += 1

    def map_translated(self, ppn: int, code: list[Op | None]) -> None:
        """A translated context maps physical page ``ppn`` (its slots ``code``): no instruction
        straddling into the next page is kept there from now on (see keep_straddling)."""
        if ppn not in self.translated:
            self.translated.add(ppn)
            self._drop_straddling(ppn)

    def _drop_straddling(self, ppn: int) -> bool:
        """Forget the instruction kept straddling from page ``ppn`` into the next, if any (True).
        Neither page is dropped here when its count of live slots reaches 0: the store that
        caused this may be to the other page, whose owners are the ones being told."""
        code = self.pages.get(ppn)
        if code is None:
            return False
        op = code[LAST_SLOT]
        # A 4-byte instruction in the last slot is one kept by keep_straddling.
        if op is None or op.length != 4:
            return False
        code[LAST_SLOT] = None
        live = self.page_live
        live[ppn] -= 1
        live[ppn + 1] -= 1
        return True

    def invalidate(self, ppn: int, start: int, end: int, writer: Hart) -> bool:
        """Forget the decoded instructions overlapping physical ``[start, end)`` on page
        ``ppn`` (and one kept straddling into it from the page before); True if the page
        still holds some."""
        # Before anything else: where harts share decoded pages, the first hart told clears the
        # slots and the others find nothing to clear, yet their regions were built from them.
        self.code_epoch += 1
        code = self.pages.get(ppn)
        if code is None:
            if self.shared:
                # Another hart sharing the pages dropped this one in this same store: the list
                # may still be in this hart's instruction TLB.
                self.hart.forget_code()
            return False
        # A 4-byte instruction starting 2 bytes before the store overlaps it too, on this page or
        # (kept straddling) on the one before; and one at the last slot, into the next page.
        first = max(0, (start & 0xFFF) - 2) >> 1
        last = ((end - 1) & 0xFFF) >> 1 if end - 1 >> 12 == ppn else LAST_SLOT
        dropped = start & 0xFFF < 2 and self._drop_straddling(ppn - 1)
        if last == LAST_SLOT and self._drop_straddling(ppn):
            dropped = True
        cleared = 0
        for slot in range(first, last + 1):
            if code[slot] is not None:
                code[slot] = None
                cleared += 1
        if not cleared and not dropped:
            return True
        if self.hart is writer or writer.interp.pages is self.pages:
            # The writer's loop may be running this very list, whichever hart decoded it.
            writer.interp.code_changed = True
        live = self.page_live[ppn] - cleared
        self.page_live[ppn] = live
        if live > 0:
            return True
        del self.pages[ppn]
        del self.page_live[ppn]
        self.hart.forget_code()
        return False


def machine_int(v: int) -> int:
    """A non-negative ``v`` below 2**63 as a machine-word int on PyPy (see ``_signed``)."""
    return _signed(v)


# REJOIN: a count that asks for the region at once, not counted as heat (loops.enter).
HOT_RUNS = _HOT_RUNS
REJOIN = HOT_RUNS + 1
# Whether the dispatch loop looks for hot guest loops: a module constant, so that where it is
# False PyPy folds the look away from every path (set_compiled_loops, before a guest runs).
COMPILE_LOOPS = False


def set_compiled_loops(on: bool) -> None:
    """Look for hot guest loops and run their regions (loops.py), or not; for the machine being
    built, before its harts run (changing it later makes PyPy compile the loop again)."""
    global COMPILE_LOOPS
    COMPILE_LOOPS = on
