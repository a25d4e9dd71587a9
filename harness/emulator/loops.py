"""Hot guest loops, compiled into Python functions of their own for PyPy's JIT.

The interpreter's dispatch loop (``interp._loop``) is one loop for every guest instruction:
PyPy compiles it as a tree of guards on the instruction's kind, and each guest instruction
pays for the fetch, the dispatch and the register list. A guest loop that runs millions of
times (Linux initialising 16 GiB of page structures, the kernel's crypto self-tests) is worth
a loop of its own: a *region* is Python source for the instructions the loop reaches (the
body, what it calls, the calls' returns), with registers in locals, immediates and pcs as
literals. PyPy traces the region's own ``while`` loop along the guest's path, so a guest loop
becomes one compiled loop with its registers in machine registers. Each trip of that loop starts
at a block found by its pc; once a region has run ``INLINE_AFTER`` instructions it is built again
with, after the head of its loop (and of each loop inside it), the blocks a pass goes on to written
in line, both ways at each branch, through a call (its ``ret`` checked against the call's return
address, then the caller's code in line) until the pass comes back to a loop head or
``INLINE_BUDGET`` instructions are written: one trip is a whole pass, and PyPy's trace of it keeps
every value in a register between the blocks, where one trip per block had handed the registers
from trace to trace at every jump.

A region runs integer arithmetic, branches and jumps, loads and stores, and the atomics the
interpreter runs inline, each as the interpreter does it: a load or store that misses the data
TLBs takes the interpreter's slow path where that needs no trap (a misaligned access inside a
page, a device page the hart knows, a TLB miss the page walk fills; ``load_miss``,
``store_miss``), the atomics go through ``inline.atomic`` itself. Anything else (a fault, an
access across pages, a system instruction, floating point, a pc the region does not hold) ends
the region *before* that instruction, with the registers stored back, and the interpreter runs
it: the guest sees what the interpreter alone would show it, instruction for instruction, and a
quantum ends at the same count (a block that would not fit the budget is left to the
interpreter). Nothing inside a region changes the fetch context, ``mip`` or ``mie``, or a TLB
other than through its slow paths (``_page``), in a way the interpreter would look at before its
next system instruction, so no interrupt is taken elsewhere (``interp`` module docstring). A
device write that ends the machine (a power-off, a reset) leaves the registers and the count as
the interpreter would. A pass that changes no register and stores nothing (no SC, AMO, time
read or sstatus change either) is a spin-wait and skips its whole passes left, as the
interpreter's does, though not always from the same pass: the state is the same unless such a
pass reads a device register that changes when read.

A region is found from a loop head (the target of a backward branch or jump taken ``HOT_RUNS`` + 1
times in a row, ``HEAT`` times; a backward edge crossing the loop's own does not break the run, see
``interp._loop``), from the instructions the hart has already decoded there (an instruction not yet
run is where the region ends), and kept per hart and fetch context by the head's virtual pc; the
interpreter also enters it at the head of a loop inside it wherever it would look for a region there
(after a yield or a quantum's end inside that loop, say). It is checked on every entry against the
instruction TLB and the decoded slots it was built from (once a store reached the hart's code pages
since), so a remapped page or rewritten code drops it; one whose entries run few instructions each
(it leaves every pass) is dropped too, unless most of those entries left it through a call by register
(``ra`` at one of its blocks) for code it could run: a function only a pointer reaches (U-Boot SPL's
timer read, through its driver's ops, in a delay loop) is then a *root* it is built again from. The
instructions are taken breadth first from the head and the roots, so a region that MAX_INSNS cuts short
leaves out the code furthest from them. Its function is cached by source text: harts running the same
code, and processes mapping the same code at the same addresses, share one compiled loop. Which
machines compile their loops: ``wanted``.
"""

from __future__ import annotations

import os
import types
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import ops as I
from .alu import div, divu, divuw, divw, rem, remu, remuw, remw
from .inline import atomic, read_mapped, read_ram, read_time, status_ie, write_mapped, write_ram

if TYPE_CHECKING:
    from .cpu import Hart

# Back-edges to one head in a row after the first before the head is looked up, and how often a
# head must get that hot before its region is compiled: a region's function runs in PyPy's
# interpreter until PyPy compiles its loop, and tracing a region costs as much as interpreting
# about a million guest instructions, so only loops that keep running are worth one. At 8,000
# the tiny Linux on `virt` compiles one loop, Linux on the Unmatched's 16 GiB four (its page
# structures), Debian's kernel a few dozen; at 2,000 the tiny Linux took 1.05x the CPU time.
# HOT_RUNS is 7, not 16, so that a loop of 8 passes counts: U-Boot's SiFive SPI driver fills the
# 8-byte FIFO and drains it for every 8 bytes it reads from an SD card (its loop-closing jump
# taken 8 times, the first starting the run). The Unmatched's card to `Starting kernel`: tiny
# Linux 13.4-14.5 -> 11.7-12.1 CPU s (3 pairs), Debian's card 48.6 -> 27.3 (the loops U-Boot
# proper reads the kernel with).
HOT_RUNS = 7
HEAT = int(os.environ.get("HARTBEAT_EMU_LOOP_HEAT", "8000"))
# A region whose first JUDGED_AFTER entries ran fewer than SHORTEST_RUN instructions each on
# average is dropped: an entry costs about what the interpreter takes for a hundred.
JUDGED_AFTER = 64
SHORTEST_RUN = 300
# The RAM from which a machine compiles its loops by default (wanted).
WANTED_RAM = 4 << 30
# Times one head's region is built, as more of the code it reaches gets run.
MOST_BUILDS = 4
# Instructions in one region at most (compile time grows with it).
MAX_INSNS = 400
# Instructions written in line after a loop head's block (see the module docstring): Linux's
# page-structure loops on 16 GiB, power-on to "Memory:", host instructions under valgrind 40.2 G
# with none, 36.3 G at 60, 35.2 G at 160, 32.9 G at 320 and 1,000 (a pass is shorter than that).
INLINE_BUDGET = 320
# Instructions a region runs before it is built again with its passes in line: that makes its
# source and PyPy's traces of it longer, which only a loop that keeps running pays back. The card
# boot's firmware loops run 0.1-13 M instructions each; U-Boot's SD read and Linux's page
# structures 90-220 M. Every region built in line at once, the tiny card's regions took 1.7 times
# the source (65.7 K lines against 43.0 K) and 2.5 times the compile time.
INLINE_AFTER = 20_000_000
# The indentation of a block's lines in the region's loop (the dispatch shifts them), and the
# deepest a block is written in line (64 levels: the dispatch's tree of up to 400 blocks and a
# block's own `if`s add under 16 more).
_BASE = "            "
_DEEPEST = 4 * 64

RegionFn = Callable[["Hart", list[int], int, int, int], tuple[int, int]]

# Kinds a region runs, by what follows them.
_IMM_ALU = {
    I.ADDI: "int_add({a}, {i})",
    I.LUI: "{i}",
    I.SLLI: "int_lshift({a}, {i})",
    I.SRLI: "uint_rshift({a}, {i})",
    I.SRAI: "{a} >> {i}",
    I.ANDI: "{a} & {i}",
    I.ORI: "{a} | {i}",
    I.XORI: "{a} ^ {i}",
    I.SLTI: "(1 if {a} < {i} else 0)",
    I.SLTIU: "(1 if ({a} ^ MINS) < {iu} else 0)",
    I.ADDIW: "(({a} + {i} + 0x80000000) & 0xFFFFFFFF) - 0x80000000",
    I.SLLIW: "((({a} & 0xFFFFFFFF) << {i}) + 0x80000000 & 0xFFFFFFFF) - 0x80000000",
    I.SRLIW: "((({a} & 0xFFFFFFFF) >> {i}) + 0x80000000 & 0xFFFFFFFF) - 0x80000000",
    I.SRAIW: "(({a} + 0x80000000 & 0xFFFFFFFF) - 0x80000000) >> {i}",
}
_REG_ALU = {
    I.ADD: "int_add({a}, {b})",
    I.SUB: "int_sub({a}, {b})",
    I.AND: "{a} & {b}",
    I.OR: "{a} | {b}",
    I.XOR: "{a} ^ {b}",
    I.SLL: "int_lshift({a}, {b} & 63)",
    I.SRL: "uint_rshift({a}, {b} & 63)",
    I.SRA: "{a} >> ({b} & 63)",
    I.SLT: "(1 if {a} < {b} else 0)",
    I.SLTU: "(1 if ({a} ^ MINS) < ({b} ^ MINS) else 0)",
    I.ADDW: "(({a} + {b} + 0x80000000) & 0xFFFFFFFF) - 0x80000000",
    I.SUBW: "(({a} - {b} + 0x80000000) & 0xFFFFFFFF) - 0x80000000",
    I.SLLW: "((({a} & 0xFFFFFFFF) << ({b} & 31)) + 0x80000000 & 0xFFFFFFFF) - 0x80000000",
    I.SRLW: "((({a} & 0xFFFFFFFF) >> ({b} & 31)) + 0x80000000 & 0xFFFFFFFF) - 0x80000000",
    I.SRAW: "(({a} + 0x80000000 & 0xFFFFFFFF) - 0x80000000) >> ({b} & 31)",
    I.MUL: "int_mul({a}, {b})",
    I.MULW: "((({a} & 0xFFFFFFFF) * ({b} & 0xFFFFFFFF) + 0x80000000) & 0xFFFFFFFF) - 0x80000000",
    I.MULH: "_signed(({a} * {b}) >> 64)",
    I.MULHSU: "_signed(({a} * ({b} & M)) >> 64)",
    I.MULHU: "_signed((({a} & M) * ({b} & M)) >> 64)",
    I.DIV: "_signed(div({a} & M, {b} & M))",
    I.DIVU: "_signed(divu({a} & M, {b} & M))",
    I.REM: "_signed(rem({a} & M, {b} & M))",
    I.REMU: "_signed(remu({a} & M, {b} & M))",
    I.DIVW: "_signed(divw({a} & M, {b} & M))",
    I.DIVUW: "_signed(divuw({a} & M, {b} & M))",
    I.REMW: "_signed(remw({a} & M, {b} & M))",
    I.REMUW: "_signed(remuw({a} & M, {b} & M))",
}
# Loads: (reader, alignment mask); stores: (writer, alignment mask, value mask or None).
_LOADS = {
    I.LD: ("LD_q", 7),
    I.LW: ("LD_i", 3),
    I.LWU: ("LD_I", 3),
    I.LBU: ("LD_B", 0),
    I.LB: ("LD_b", 0),
    I.LH: ("LD_h", 1),
    I.LHU: ("LD_H", 1),
}
# The system instructions a region runs through the interpreter's inline helpers.
_SYSTEM_INLINE = {I.TIME_READ: "read_time", I.STATUS_SET: "status_ie", I.STATUS_CLEAR: "status_ie"}
# Kinds whose region code takes only their operands (every other names its Op).
_OPERANDS_ONLY = frozenset(range(I.FENCE + 1))
_SIGNED_LOADS = frozenset({I.LD, I.LW, I.LB, I.LH})
_STORES = {
    I.SD: ("ST_q", 7, None),
    I.SW: ("ST_I", 3, "0xFFFFFFFF"),
    I.SB: ("ST_B", 0, "0xFF"),
    I.SH: ("ST_H", 1, "0xFFFF"),
}
_BRANCHES = {
    I.BEQ: "{a} == {b}",
    I.BNE: "{a} != {b}",
    I.BLT: "{a} < {b}",
    I.BGE: "{a} >= {b}",
    I.BLTU: "({a} ^ MINS) < ({b} ^ MINS)",
    I.BGEU: "({a} ^ MINS) >= ({b} ^ MINS)",
}


def load_miss(h: Hart, a: int, size: int, signed: bool) -> int | None:
    """A load the region's TLB hit path did not take, as the interpreter's slow path would do it
    (``interp._slow_load``) where that needs no trap: a misaligned load inside a mapped RAM page,
    a device page the hart knows, a TLB miss the page walk fills. None: the interpreter runs it."""
    v = read_mapped(h, a, size, signed)
    if v is not None or (a & 0xFFF) + size > 0x1000:
        return v
    p = h.probe(a & I.M, 0)
    return None if p is None else read_ram(h.bus.ram, p | (a & 0xFFF), size, signed)


def store_miss(h: Hart, a: int, size: int, v: int) -> int:
    """A store (``v`` unsigned, of ``size`` bytes) the region's TLB hit path did not take, as
    ``interp._slow_store`` would do it where that needs no trap: 0 written to RAM, 1 to a device,
    -1 not written (the interpreter runs it)."""
    done = write_mapped(h, a, size, v)
    # With stale-fetch reports, the first store to a page since fence.i goes through Hart.st,
    # which snapshots the page (CodeCache.before_store).
    if done >= 0 or (a & 0xFFF) + size > 0x1000 or h.code.report is not None:
        return done
    p = h.probe(a & I.M, 1)
    if p is None:
        return -1
    write_ram(h.bus.ram, p | (a & 0xFFF), size, v)
    return 0


# The names region source uses.
_SHARED = "int_add int_sub int_mul int_lshift uint_rshift _signed M MINS VPN"
_ACCESSORS = "LD_q LD_i LD_I LD_B LD_b LD_h LD_H ST_q ST_I ST_B ST_H"
_GLOBALS: dict[str, object] = {name: getattr(I, name) for name in f"{_SHARED} {_ACCESSORS}".split()}
_GLOBALS.update(div=div, divu=divu, rem=rem, remu=remu, divw=divw, divuw=divuw, remw=remw, remuw=remuw)
_GLOBALS.update(load_miss=load_miss, store_miss=store_miss, atomic=atomic, read_time=read_time, status_ie=status_ie)
# Compiled region functions by source text.
_COMPILED: dict[str, RegionFn] = {}


class Region:
    """A compiled guest loop and what it was built from: per virtual page, the slot list the
    instruction TLB gave and the (slot, Op) pairs read from it."""

    __slots__ = (
        "builds",
        "calls",
        "epoch",
        "fn",
        "head",
        "held",
        "in_line",
        "inner",
        "outside",
        "pages",
        "ran",
        "roots",
        "stale",
        "starts",
        "straddling",
        "undecoded",
    )

    def __init__(
        self,
        fn: RegionFn | None,
        pages: tuple[tuple[int, list[I.Op | None], tuple[tuple[int, I.Op], ...]], ...],
        epoch: int,
        undecoded: frozenset[int],
        head: int = 0,
        inner: tuple[int, ...] = (),
        in_line: bool = False,
        roots: tuple[int, ...] = (),
        starts: frozenset[int] = frozenset(),
        held: frozenset[int] = frozenset(),
        straddling: tuple[tuple[list[I.Op | None], I.Op], ...] = (),
    ) -> None:
        self.fn = fn
        # Its 4-byte instructions at a page's last halfword, with their pages' slot lists: looked
        # at on every entry (see current).
        self.straddling = straddling
        # The pcs it was built from besides its head (where its entries left it for code no
        # branch of its own reaches, see enter), its blocks' first pcs (its dispatch's) and the
        # pcs of all its instructions.
        self.roots = roots
        self.starts = starts
        self.held = held
        # Where its first JUDGED_AFTER entries left it for a pc it does not hold, and how often.
        self.outside: dict[int, int] = {}
        # Whether its loop heads' passes are written in line (INLINE_AFTER).
        self.in_line = in_line
        # Its head, and the heads of the loops inside it (targets of its backward edges), where
        # the interpreter may come back into it (enter).
        self.head = head
        self.inner = inner
        # Where it ended because the hart had not run the instruction there yet when it was
        # built; set stale when it ends at one of them, to be built again on its next entry
        # (the code after an inner loop runs only once that loop has got hot).
        self.undecoded = undecoded
        self.stale = False
        self.builds = 1
        self.pages = pages
        self.epoch = epoch
        # Entries and the instructions run in them (judged after JUDGED_AFTER entries).
        self.calls = 0
        self.ran = 0

    def current(self, itlb: dict[int, tuple[int, list[I.Op | None]]], epoch: int) -> bool:
        """Whether the pages still map to the code the region was built from: the same slot
        lists, and (once code was invalidated anywhere since the last look) the same Ops."""
        for vpn, code, _ in self.pages:
            entry = itlb.get(vpn)
            if entry is None or entry[1] is not code:
                return False
        # A store to the upper half of an instruction across a page's end is told to the harts
        # that claimed the next page; where harts share decoded pages, this one may run another's
        # kept instruction without having claimed it, and its epoch does not move. The slot the
        # store cleared is shared, so it is looked at every time.
        for code, op in self.straddling:
            if code[I.LAST_SLOT] is not op:
                return False
        if epoch != self.epoch:
            for _, code, slots in self.pages:
                for slot, op in slots:
                    if code[slot] is not op:
                        return False
            self.epoch = epoch
        return True


# A head found to hold no region worth running (kept so it is not looked at again).
NO_REGION = Region(None, (), 0, frozenset())


def enter(h: Hart, x: list[int], pc: int, n: int, limit: int, counted: bool) -> tuple[int, int] | None:
    """Run the region whose head is ``pc`` (signed) if it has one, else the region holding a loop
    whose head is ``pc`` (``Region.inner``), from there; then the regions it ends at, the same way:
    the instruction count and the pc the interpreter goes on from; None if the interpreter goes on
    at ``pc`` itself. ``counted``: ``pc`` is a head that just got hot."""
    eng = h.interp
    key = h.fetch_key
    regions = eng.loop_sets[key]
    inner = eng.inner_sets[key]
    itlb = eng.itlb_sets[key]
    ran = False
    # What the interpreter counts if a device write ends the run (a power-off, a reset): the
    # region in which it happened sets loop_n to the count with the write (see _source).
    eng.loop_n = n
    started = n
    try:
        while n < limit:
            region = regions.get(pc)
            if region is None:
                # A loop inside a region whose run ended (a yield polling the time, a quantum's
                # end) comes back into that region at once, rather than running interpreted
                # until the region's own head gets hot again.
                region = inner.get(pc)
                if region is not None:
                    live = region.fn is not None and not region.stale and regions.get(region.head) is region
                    if not live or not region.current(itlb, eng.code_epoch):
                        # Dropped, due to be built again, or its code changed (it is dropped at
                        # its own head): this head gets a region of its own if it gets hot.
                        del inner[pc]
                        break
                else:
                    if ran or not counted:
                        break
                    heat = eng.loop_heat
                    seen = heat.get(pc, 0) + 1
                    if seen < HEAT:
                        heat[pc] = seen
                        break
                    heat.pop(pc, None)
                    region = regions[pc] = build(itlb, pc, eng.code_epoch)
                    if region.fn is not None:
                        eng.loops_built += 1
                        inner.update(dict.fromkeys(region.inner, region))
            elif not region.current(itlb, eng.code_epoch):
                del regions[pc]
                break
            elif region.stale:
                builds = region.builds + 1
                in_line = region.in_line or region.ran >= INLINE_AFTER
                region = regions[pc] = build(itlb, pc, eng.code_epoch, in_line, region.roots)
                if region.fn is not None:
                    eng.loops_built += 1
                    region.builds = builds
                    inner.update(dict.fromkeys(region.inner, region))
            fn = region.fn
            if fn is None:
                break
            start = pc
            before = n
            n, pc = fn(h, x, n, limit, pc)
            eng.loop_n = n
            eng.loop_ran += n - before
            ran = True
            if pc in region.undecoded and region.builds < MOST_BUILDS:
                region.stale = True
            region.calls += 1
            region.ran += n - before
            if region.ran >= INLINE_AFTER and not region.in_line:
                region.stale = True
            if region.calls <= JUDGED_AFTER and pc not in region.held and x[1] in region.starts:
                # Left for code it does not hold with `ra` at one of its blocks: a call from it
                # (through a register, as a rule: a `jal`'s callee is in it unless MAX_INSNS left
                # it out). Not a return to a caller, a switch's jump table or an instruction of
                # its own it stopped before (a yield after a time read): built again for every
                # pc it left at, OpenSBI's device-tree walk took four builds of 4,000-line sources
                # per loop and was dropped all the same.
                region.outside[pc] = region.outside.get(pc, 0) + 1
            if region.calls == JUDGED_AFTER and region.ran < JUDGED_AFTER * SHORTEST_RUN:
                roots = _roots(region, itlb)
                if not roots:
                    # Entered often for a few instructions each time (it leaves for an
                    # instruction it cannot run, every pass): the entries cost more than the
                    # region saves.
                    region.fn = None
                else:
                    # It leaves most passes for code it could run that none of its branches
                    # reaches (a function called through a pointer: U-Boot SPL's timer read,
                    # through its driver's ops, in its delay loops): built again with it.
                    region.roots += roots
                    region.stale = True
            if pc == start or n == before or eng.loop_break:
                # Back where it started (its region left it there), nothing run (the budget
                # left is less than the block there), or where the interpreter leaves its loop
                # (an interrupt pending, a yield): no other region runs first.
                break
    except BaseException:
        # The interpreter's loop adds what it had counted before the regions ran.
        h.icount += eng.loop_n - started
        raise
    return (n, pc) if ran else None


def build(
    itlb: dict[int, tuple[int, list[I.Op | None]]],
    head: int,
    epoch: int,
    in_line: bool = False,
    roots: tuple[int, ...] = (),
) -> Region:
    """The region from loop head ``head``: the decoded instructions reachable from it, then from
    each of ``roots`` (see ``_roots``); ``in_line``: with its loop heads' passes written in line
    (see the module docstring)."""
    ops: dict[int, I.Op] = {}
    slots: dict[int, dict[int, I.Op]] = {}
    codes: dict[int, list[I.Op | None]] = {}
    leaders = {head, *roots}
    # Breadth first: when MAX_INSNS cuts a region short, what it leaves out is the code furthest
    # from the head and the roots (depth first, U-Boot SPL's SPI transfer loop filled its region
    # with the callees of its first branch's target and left out its own next block).
    work = deque((head, *roots))
    undecoded: set[int] = set()
    backward: set[int] = set()
    while work:
        pc = work.popleft()
        if pc in ops or len(ops) >= MAX_INSNS:
            continue
        vpn = pc >> 12 & I.VPN
        entry = itlb.get(vpn)
        if entry is None:
            continue
        slot = (pc & 0xFFF) >> 1
        op = entry[1][slot]
        if op is None:
            # Not run yet: the region ends here until it is built again (enter).
            undecoded.add(pc)
            continue
        # A 4-byte instruction at the page's last halfword is in its slot only where the
        # interpreter keeps it (fetched untranslated from RAM: keep_straddling); a store to its
        # upper half on the next page clears the slot, which current() looks at on every entry
        # (Region.straddling). The SPL's SPI byte loop has such a `fence` in every pass: its
        # region ended before it each time and was dropped.
        if not _runs(op):
            continue
        ops[pc] = op
        codes[vpn] = entry[1]
        slots.setdefault(vpn, {})[slot] = op
        k = op.kind
        after = pc + op.length
        if k == I.JUMP_BACK:
            leaders.add(pc + op.imm)
            work.append(pc + op.imm)
            backward.add(pc + op.imm)
        elif I.FIRST_BRANCH <= k < I.JAL:
            leaders.update((after, pc + op.imm))
            work += (after, pc + op.imm)
            if op.imm < 0:
                backward.add(pc + op.imm)
        elif k == I.JAL:
            # A call's return site is where the callee's `ret` (a JALR) comes back to.
            leaders.update((after, pc + op.imm))
            work += (after, pc + op.imm)
        elif k == I.JALR:
            leaders.add(after)
            work.append(after)
        else:
            work.append(after)
    if head not in ops:
        return NO_REGION
    source = _source(head, ops, leaders, backward if in_line else None)
    fn = _COMPILED.get(source)
    if fn is None:
        # A module's namespace, not a plain dict: PyPy reads a module's globals as constants in
        # compiled code, where a dict's are looked up by name on every use.
        module = types.ModuleType("hartbeat_region")
        module.__dict__.update(_GLOBALS)
        # The Ops the inline helpers take, by name (an Op stands for one instruction word).
        module.__dict__.update((f"op_{id(op)}", op) for op in ops.values() if op.kind not in _OPERANDS_ONLY)
        exec(compile(source, f"<region {head & I.M:#x}>", "exec"), module.__dict__)
        fn = _COMPILED[source] = module.region
    pages = tuple((vpn, codes[vpn], tuple(sorted(s.items()))) for vpn, s in sorted(slots.items()))
    inner = tuple(sorted(pc for pc in backward if pc in ops and pc != head))
    starts = frozenset(pc for pc in leaders if pc in ops)
    straddling = tuple(
        (codes[pc >> 12 & I.VPN], op) for pc, op in ops.items() if (pc & 0xFFF) >> 1 == I.LAST_SLOT and op.length == 4
    )
    return Region(
        fn, pages, epoch, frozenset(undecoded), head, inner, in_line, roots, starts, frozenset(ops), straddling
    )


def _roots(region: Region, itlb: dict[int, tuple[int, list[I.Op | None]]]) -> tuple[int, ...]:
    """The roots ``region`` is built again with: where its first JUDGED_AFTER entries left it for a
    pc it does not hold (see ``enter``), where the hart has decoded an instruction a region could
    hold (not one it leaves for by design), each at least an eighth of the entries and together at
    least half (one pointer to several functions), once per pc and within MOST_BUILDS; else none,
    and it is dropped."""
    if region.builds >= MOST_BUILDS:
        return ()
    found = []
    for pc, times in region.outside.items():
        entry = itlb.get(pc >> 12 & I.VPN)
        slot = (pc & 0xFFF) >> 1
        op = None if entry is None else entry[1][slot]
        if op is None or not _runs(op):
            continue
        if times * 8 >= JUDGED_AFTER and pc not in region.roots:
            found.append((times, pc))
    if sum(times for times, _ in found) * 2 < JUDGED_AFTER:
        return ()
    return tuple(pc for _, pc in sorted(found, reverse=True))


def _runs(op: I.Op) -> bool:
    """Whether a region runs this instruction itself."""
    return op.kind <= I.FENCE or _is_atomic(op.kind) or op.kind in _SYSTEM_INLINE


def _is_atomic(kind: int) -> bool:
    """LR, SC and the AMOs the interpreter runs inline (``inline.atomic``)."""
    return I.FIRST_ATOMIC <= kind < I.AMO


def _size(kind: int) -> int:
    """The bytes a load or store kind accesses."""
    return 8 if kind in (I.LD, I.SD) else 4 if kind in (I.LW, I.LWU, I.SW) else 2 if kind in (I.LH, I.LHU, I.SH) else 1


def _leave(indent: str, index: int, pc: int) -> str:
    """The lines that end the region before the instruction at ``pc``, the block's ``index``-th."""
    return f"{indent}n += {index}\n{indent}pc = {pc}\n{indent}break"


def _reg(r: int) -> str:
    return f"r{r}" if r and r != I.ZERO_SINK else "0"


def _dest(r: int) -> str | None:
    return f"r{r}" if r != I.ZERO_SINK else None


def _source(head: int, ops: dict[int, I.Op], leaders: set[int], inner: Iterable[int] | None = None) -> str:
    """Python source of the region: a dispatch on the pc over its blocks. With ``inner`` (the
    heads of the loops inside it), the blocks at ``head`` and at those are followed by what comes
    after them in line (see module doc, ``_dispatch`` and ``_follow``)."""
    used: set[int] = set()
    written: set[int] = set()
    for op in ops.values():
        used.update((op.rs1, op.rs2))
        if op.rd != I.ZERO_SINK:
            written.add(op.rd)
    used = {r for r in used | written if 0 < r < 32}
    # What makes a pass no spin-wait, as in the interpreter: a store, an SC or AMO, a time read
    # or an sstatus change.
    stores = any(
        op.kind in _STORES or op.kind in _SYSTEM_INLINE or (_is_atomic(op.kind) and op.kind not in (I.LR_W, I.LR_D))
        for op in ops.values()
    )
    in_line = inner is not None
    heads = {head} | {pc for pc in inner or () if pc in ops}
    shape = _Shape(ops, leaders, head, frozenset(heads), tuple(sorted(written)), stores)
    # Every block start stays in the dispatch, those written in line too: a jump through a register
    # may go to any of them (a switch's jump table to a label a branch also reaches; a function
    # pointer to the function after another's `ret`, as U-Boot's timer read), and leaving there
    # would drop the region after its first few entries.
    starts = sorted(pc for pc in leaders if pc in ops)
    blocks = {
        start: _block(shape, start, _BASE, _Budget(INLINE_BUDGET if in_line and start in heads else 0))
        for start in starts
    }
    body = _dispatch(starts, blocks, 0)
    # One cached page per base register and TLB (see _page).
    read_bases = sorted({op.rs1 for op in ops.values() if op.kind in _LOADS})
    write_bases = sorted({op.rs1 for op in ops.values() if op.kind in _STORES})
    forget = "".join(f"wb{r}v = " for r in write_bases)
    body = ["    " + line.replace("FORGET_WRITES", f"m = {forget}-1") for line in body]
    regs = sorted(used)
    lines = ["def region(h, x, n, limit, pc):", "    R = h.rtlb", "    W = h.wtlb", "    ram = h.bus.ram"]
    lines.append("    eng = h.interp")
    lines += [f"    r{r} = x[{r}]" for r in regs]
    lines += ["    spins = 0", "    spin_at = -1", "    snap = None", "    stored = False"]
    # The last page each data TLB gave (see _page): none yet.
    lines += [f"    rb{r}v = -1" for r in read_bases] + [f"    rb{r}p = 0" for r in read_bases]
    lines += [f"    wb{r}v = -1" for r in write_bases] + [f"    wb{r}p = 0" for r in write_bases]
    # ``m``: the count with the device access under way in a load's or store's slow path, else
    # -1. One that raises (a power-off, a reset) leaves the registers as the interpreter's would
    # be, and that count (enter): written once here, not at every access (most of the source a
    # region compiled was those lines, and compiling regions is most of the cost of building them).
    lines += ["    m = -1", "    try:", "        while True:", *body]
    lines += ["    except BaseException:", "        if m >= 0:", "            eng.loop_n = m"]
    lines += [f"            x[{r}] = r{r}" for r in sorted(written)]
    lines.append("        raise")
    lines += [f"    x[{r}] = r{r}" for r in sorted(written)]
    lines.append("    return n, pc")
    return "\n".join(lines) + "\n"


def _dispatch(starts: list[int], blocks: dict[int, list[str]], depth: int) -> list[str]:
    """The lines that run the block at ``pc`` among ``starts`` (sorted), or leave the region: a
    tree of comparisons, so a jump between blocks costs PyPy's trace about log2(blocks) guards
    where a chain of ``elif pc ==`` cost one per block before the right one (a region of
    ``MAX_INSNS`` instructions holds a hundred blocks or more, and each pass through a loop jumps
    between several)."""
    indent = "        " + "    " * depth
    if len(starts) == 1:
        start = starts[0]
        # Block lines are written for depth 0 (and some hold several lines in one string).
        shift = "    " * depth
        body = [shift + line for text in blocks[start] for line in text.split("\n")]
        return [f"{indent}if pc == {start}:", *body, f"{indent}else:", f"{indent}    break"]
    middle = len(starts) // 2
    return [
        f"{indent}if pc < {starts[middle]}:",
        *_dispatch(starts[:middle], blocks, depth + 1),
        f"{indent}else:",
        *_dispatch(starts[middle:], blocks, depth + 1),
    ]


@dataclass(frozen=True)
class _Shape:
    """What every block of a region is written from: its instructions by pc, the block starts,
    its head and the heads of the loops inside it, the registers it writes, whether it stores."""

    ops: dict[int, I.Op]
    leaders: set[int]
    head: int
    heads: frozenset[int]
    written: tuple[int, ...]
    stores: bool


class _Budget:
    """The instructions a loop head's pass may still have written in line after its block."""

    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left


def _follow(shape: _Shape, t: str, target: int, budget: _Budget, returns: tuple[int, ...]) -> list[str]:
    """The lines, indented by ``t``, that go on at ``target``: its block written in line while the
    budget holds it (never a loop head: a pass ends there), else a jump through the dispatch.
    ``returns``: the return addresses of the calls made on the way (innermost last). Each branch
    taken in line nests a level deeper: at ``_DEEPEST`` levels the pass goes on through the
    dispatch (CPython compiles no more than 100 levels; a chain of forward branches each taken into
    the next reached that)."""
    if target in shape.ops and target not in shape.heads and len(t) < _DEEPEST:
        size = _extent(shape, target)
        if size <= budget.left:
            budget.left -= size
            return _block(shape, target, t, budget, returns)
    return [f"{t}pc = {target}", f"{t}continue"]


def _extent(shape: _Shape, start: int) -> int:
    """Instructions in the block at ``start``."""
    ops = shape.ops
    pc = start
    count = 0
    while pc in ops:
        count += 1
        k = ops[pc].kind
        if I.FIRST_BRANCH <= k <= I.JALR:
            break
        pc += ops[pc].length
        if pc in shape.leaders:
            break
    return count


def _block(shape: _Shape, start: int, t: str, budget: _Budget, returns: tuple[int, ...] = ()) -> list[str]:
    """The lines of the block at ``start``, indented by ``t``: its instructions, then where it goes
    (see ``_follow``)."""
    ops, leaders, head, written, stores = shape.ops, shape.leaders, shape.head, shape.written, shape.stores
    pcs: list[int] = []
    pc = start
    while pc in ops:
        pcs.append(pc)
        k = ops[pc].kind
        if I.FIRST_BRANCH <= k <= I.JALR:
            break
        pc += ops[pc].length
        if pc in leaders:
            break
    out: list[str] = []
    add = out.append
    length = len(pcs)
    if start == head:
        # The interpreter's spin-wait rule, on the head of the loop (see interp._loop).
        snapshot = "(" + "".join(f"r{r}, " for r in written) + ")"
        add(f"{t}spins += 1")
        add(f"{t}if not spins & {I.SPIN_CHECK_MASK}:")
        add(f"{t}    regs = {snapshot}")
        add(f"{t}    if {'not stored and ' if stores else ''}regs == snap:")
        add(f"{t}        n += (limit - n) // (n - spin_at) * (n - spin_at)")
        add(f"{t}    snap = regs")
        add(f"{t}    spin_at = n")
        if stores:
            add(f"{t}    stored = False")
    add(f"{t}if n > limit - {length}:")
    add(f"{t}    pc = {start}")
    add(f"{t}    break")
    end = pcs[-1] + ops[pcs[-1]].length
    for index, pc in enumerate(pcs):
        op = ops[pc]
        k = op.kind
        a, b, rd = _reg(op.rs1), _reg(op.rs2), _dest(op.rd)
        i = op.imm
        leave = _leave(t + "        ", index, pc)
        if k in _IMM_ALU:
            if rd:
                add(f"{t}{rd} = " + _IMM_ALU[k].format(a=a, i=i, iu=i ^ I.MINS))
        elif k == I.AUIPC:
            if rd:
                add(f"{t}{rd} = {I.int_add(pc, i)}")
        elif k in _REG_ALU:
            if rd:
                add(f"{t}{rd} = " + _REG_ALU[k].format(a=a, b=b))
        elif k in _LOADS:
            reader, align = _LOADS[k]
            add(f"{t}a = {a} + {i}")
            out += _page(t, "R", f"rb{op.rs1}")
            add(f"{t}if p is not None{f' and not a & {align}' if align else ''}:")
            add(f"{t}    {rd or '_'} = {reader}(ram, p | (a & 0xFFF))[0]")
            add(f"{t}else:")
            add(f"{t}    m = n + {index + 1}")
            add(f"{t}    v = load_miss(h, a, {_size(k)}, {k in _SIGNED_LOADS})")
            # The miss may have walked the page tables, and a walk can empty a write page (_page);
            # no access is under way (m, see _source).
            add(f"{t}    FORGET_WRITES")
            add(f"{t}    if v is None:\n{leave}")
            add(f"{t}    {rd or '_'} = v")
        elif k in _STORES:
            writer, align, mask = _STORES[k]
            value = f"{b} & {mask}" if mask else b
            add(f"{t}a = {a} + {i}")
            out += _page(t, "W", f"wb{op.rs1}")
            add(f"{t}if p is not None{f' and not a & {align}' if align else ''}:")
            add(f"{t}    {writer}(ram, p | (a & 0xFFF), {value})")
            add(f"{t}else:")
            add(f"{t}    m = n + {index + 1}")
            add(f"{t}    v = store_miss(h, a, {_size(k)}, {value if mask else f'{b} & M'})")
            # As after a load's miss.
            add(f"{t}    FORGET_WRITES")
            add(f"{t}    if v < 0:\n{leave}")
            add(f"{t}    if v and eng.code_changed:")
            add(f"{t}        # A device wrote decoded code: the interpreter fetches it again.")
            add(f"{t}        eng.code_changed = False")
            add(f"{t}        n += {index + 1}")
            add(f"{t}        pc = {pc + op.length}")
            add(f"{t}        break")
            add(f"{t}stored = True")
        elif k == I.FENCE:
            pass
        elif k in _SYSTEM_INLINE:
            # Through the interpreter's own inline time read or sstatus.SIE change, on the
            # register list; then as the interpreter after one: an interrupt pending and enabled
            # now, or a yield (the time polled often enough), ends its loop at the next
            # instruction (interp._loop looks at loop_break), and no spin-wait is seen across it.
            add(f"{t}x[{op.rs1}] = {a}")
            add(f"{t}if not {_SYSTEM_INLINE[k]}(h, x, op_{id(op)}):\n{_leave(t + '    ', index, pc)}")
            if rd:
                add(f"{t}{rd} = x[{op.rd}]")
            add(f"{t}stored = True")
            add(f"{t}if h.mip & h.mie or h.yielding:")
            add(f"{t}    eng.loop_break = True")
            add(_leave(t + "    ", index + 1, pc + op.length))
        elif _is_atomic(k):
            # Through the interpreter's own inline atomics, on the register list.
            name = f"op_{id(op)}"
            add(f"{t}x[{op.rs1}] = {a}; x[{op.rs2}] = {b}")
            add(f"{t}if not atomic(h, x, {name}, ram):\n{_leave(t + '    ', index, pc)}")
            if rd:
                add(f"{t}{rd} = x[{op.rd}]")
            if k not in (I.LR_W, I.LR_D):
                add(f"{t}stored = True")
        elif k == I.JUMP_BACK:
            add(f"{t}n += {length}")
            return out + _follow(shape, t, pc + i, budget, returns)
        elif I.FIRST_BRANCH <= k < I.JAL:
            add(f"{t}n += {length}")
            add(f"{t}if " + _BRANCHES[k].format(a=a, b=b) + ":")
            out += _follow(shape, t + "    ", pc + i, budget, returns)
            return out + _follow(shape, t, pc + op.length, budget, returns)
        elif k == I.JAL:
            if rd:
                add(f"{t}{rd} = {pc + op.length}")
            add(f"{t}n += {length}")
            # A call (it links): its callee's return is written in line to come back here.
            return out + _follow(shape, t, pc + i, budget, (*returns, pc + op.length) if rd else returns)
        elif k == I.JALR:
            add(f"{t}pc = int_add({a}, {i}) & -2")
            if rd:
                add(f"{t}{rd} = {pc + op.length}")
            add(f"{t}n += {length}")
            if returns and not rd:
                # A return, or a jump through a register, from a call written in line: where that
                # call returns to, if it does (a function may return elsewhere).
                add(f"{t}if pc == {returns[-1]}:")
                out += _follow(shape, t + "    ", returns[-1], budget, returns[:-1])
            add(f"{t}continue")
            return out
    add(f"{t}n += {length}")
    return out + _follow(shape, t, end, budget, returns)


def _page(indent: str, tlb: str, last: str) -> list[str]:
    """The lines that set ``p`` to the TLB entry (``tlb``: ``R`` or ``W``) of address ``a``'s page,
    or None: the entry that TLB gave last to an access through the same base register in this
    region call (locals ``{last}v``, ``{last}p``, e.g. ``rb2v`` for loads through sp) when ``a`` is
    on that page, else a lookup, kept when it hits. A region runs nothing that takes an entry out
    of the read TLB (a satp or mstatus write, an sfence.vma: instructions it leaves before). The
    write TLB loses entries also when a page walk first goes through a page, which then becomes a
    watched page table (``codecache.watch_table`` -> ``Hart.forget_write_page``): a region walks
    only in ``load_miss``/``store_miss``, so after each of those it forgets all its write pages
    (``FORGET_WRITES`` in ``_source``). Linux initialising 16 GiB of page structures makes several
    stores to each ``struct page`` and the dict lookup was most of a store's cost: the tiny Linux
    on the Unmatched's 16 GiB to its shell, host instructions under valgrind 70.5 G -> 66.0 G with
    one page kept per TLB. One per base register: a pass of that loop reaches the stack, its zone
    and the page structures in turn, a lookup at each change; to "Memory:" 36.1 G -> 35.2 G."""
    return [
        f"{indent}v = a >> 12 & VPN",
        f"{indent}if v == {last}v:",
        f"{indent}    p = {last}p",
        f"{indent}else:",
        f"{indent}    p = {tlb}.get(v)",
        f"{indent}    if p is not None:",
        f"{indent}        {last}v = v",
        f"{indent}        {last}p = p",
    ]


def summary(harts: Iterable[Hart]) -> tuple[int, int]:
    """How many regions the harts compiled (one built again counts again), and the instructions
    run in regions."""
    return sum(h.interp.loops_built for h in harts), sum(h.interp.loop_ran for h in harts)


def wanted(ram_size: int) -> bool:
    """Whether a machine compiles its hot guest loops: ``HARTBEAT_EMU_LOOPS`` (``1`` or ``0``) if
    set, else where it has at least ``WANTED_RAM`` bytes of RAM. Looking for loops costs the
    interpreter about 3% of its host instructions on any boot; regions win that back many times
    where the guest runs long loops, and a big memory is what makes them long (Linux initialising
    the Unmatched's 16 GiB of page structures, the board's own firmware reading its SD card:
    0.77-0.94x the CPU time), not on the 256-512 MiB boots (the tiny Linux 1.03-1.06x, Debian's
    kernel 1.0-1.04x)."""
    chosen = os.environ.get("HARTBEAT_EMU_LOOPS")
    if chosen in ("0", "1"):
        return chosen == "1"
    return ram_size >= WANTED_RAM
