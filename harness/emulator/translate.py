"""Translation of guest code into Python.

A block is a straight run of instructions inside one page, ending at a control transfer, a
system instruction or a length limit. Its entry is ``(fn, need)`` where
``fn(x, R, W) -> next_pc | None``: ``x`` is the integer register list and ``R``/``W`` map
virtual page numbers to RAM offsets (the TLB hit path). ``None`` means execution ended in a
system instruction that already set ``hart.pc`` and may have changed privilege, translation
or interrupt state.

Every block counts what it retires in the engine's budget cell ``L`` (instructions left in
the quantum), exactly: ``need`` is the most one call may run, so the dispatcher enters a block
only when that fits, and a block that traps counts the instructions up to the trapping one
(as the interpreter does), not the rest.

One emitter spells every instruction's semantics as Python source, with operands either as
parameters (one closure factory per opcode, compiled once per process) or as literals.

* Cold blocks run as a tuple of per-instruction closures made by those factories: no
  ``compile()`` per block, which costs as much as a few thousand interpreted instructions.
* After ``HOT_THRESHOLD`` runs a block becomes the entry of a compiled *region*: the block
  plus the warm blocks it reaches by static edges in the same page, as one function with its
  own dispatch loop. Registers live in locals for the whole region (stored back on exit and,
  through ``except``, whenever a slow path traps), constants are folded, consecutive
  accesses through one base register share a TLB lookup, and a loop that re-reads memory
  without changing anything skips the whole iterations left in the quantum (a spin-wait).

Registers hold unsigned 64-bit values; signed comparisons flip the sign bit
(``(a ^ S) < (b ^ S)``) instead of converting.
"""

from __future__ import annotations

import linecache
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import CodeType, FunctionType
from typing import TYPE_CHECKING

from .decode import Group, Insn, decode, names_in
from .trap import ILLEGAL_INSN, Trap

if TYPE_CHECKING:
    from .blocks import BlockEngine

BlockFn = Callable[[list[int], dict[int, int], dict[int, int]], "int | None"]
Entry = tuple[BlockFn, int]

M = (1 << 64) - 1
LM = "0xFFFFFFFFFFFFFFFF"
LS = "0x8000000000000000"
MAX_BLOCK = 48
HOT_THRESHOLD = 500
# A compiled region holds at most this many blocks; it runs while the quantum has room for
# its longest block (with what is inlined into its exit).
MAX_REGION = 12
# Runs after which a successor block is worth compiling into its predecessor's region.
WARM_THRESHOLD = 100
# Successor blocks up to INLINE_MAX instructions are duplicated into their predecessors'
# exits, up to INLINE_BUDGET duplicated instructions per region (compile time grows with it).
INLINE_MAX = 12
INLINE_BUDGET = 96

BRANCH_COND = {
    "beq": "{a} == {b}",
    "bne": "{a} != {b}",
    "blt": f"({{a}} ^ {LS}) < ({{b}} ^ {LS})",
    "bge": f"({{a}} ^ {LS}) >= ({{b}} ^ {LS})",
    "bltu": "{a} < {b}",
    "bgeu": "{a} >= {b}",
}
# name -> (size, fast-path memoryview, signed)
LOADS = {
    "lb": (1, "mvb", True),
    "lh": (2, "mvh", True),
    "lw": (4, "mvi", True),
    "ld": (8, "mvq", False),
    "lbu": (1, "ram", False),
    "lhu": (2, "mvH", False),
    "lwu": (4, "mvI", False),
}
STORES = {"sb": (1, "ram"), "sh": (2, "mvH"), "sw": (4, "mvI"), "sd": (8, "mvq")}
SHIFT = {1: 0, 2: 1, 4: 2, 8: 3}
# Instructions Hart.sysop runs; a block ending like this (or in an illegal instruction) leaves
# the region (or traps) rather than set pc: never inlined.
SYSTEM = names_in(Group.SYSTEM, Group.CSR)
TERMINAL_EXITS = {"illegal", *SYSTEM}
# Instructions whose helpers read or write hart.x themselves.
HELPED = names_in(Group.SYSTEM, Group.CSR, Group.AMO, Group.FP)
AMOS = names_in(Group.AMO)
TEMPLATE_ARGS = "rd, rs1, rs2, imm, pc, nxt, D"


@dataclass(frozen=True)
class Block:
    """A translated block: ``entry`` for the dispatch loop, the physical bytes
    ``[pstart, pend)`` it came from (for store invalidation), its decoded instructions and
    ``runs``, a one-element execution counter kept while it is interpreted."""

    entry: Entry
    vpc: int
    pstart: int
    pend: int
    insns: tuple[tuple[Insn, int], ...]
    runs: list[int]


@dataclass(frozen=True)
class Spelling:
    """How operands are written in generated source: literals or template parameters."""

    rd: str
    rs1: str
    rs2: str
    imm: str
    pc: str
    nxt: str
    insn: str
    raw: str


TEMPLATE_SPELLING = Spelling("x[rd]", "x[rs1]", "x[rs2]", "imm", "pc", "nxt", "D", "D.raw")


def _sx32(expr: str) -> str:
    return f"((({expr}) + 0x80000000 & 0xFFFFFFFF) - 0x80000000 & {LM})"


# Register-result ALU ops as format strings over {a} (rs1), {b} (rs2), {i} (imm), {pc}.
ALU: dict[str, str] = {
    "lui": f"{{i}} & {LM}",
    "auipc": f"({{pc}} + {{i}}) & {LM}",
    "addi": f"({{a}} + {{i}}) & {LM}",
    "slti": f"1 if ({{a}} ^ {LS}) < (({{i}} & {LM}) ^ {LS}) else 0",
    "sltiu": f"1 if {{a}} < ({{i}} & {LM}) else 0",
    "xori": f"{{a}} ^ ({{i}} & {LM})",
    "ori": f"{{a}} | ({{i}} & {LM})",
    "andi": f"{{a}} & ({{i}} & {LM})",
    "slli": f"({{a}} << {{i}}) & {LM}",
    "srli": "{a} >> {i}",
    "srai": f"(({{a}} ^ {LS}) - {LS}) >> {{i}} & {LM}",
    "add": f"({{a}} + {{b}}) & {LM}",
    "sub": f"({{a}} - {{b}}) & {LM}",
    "sll": f"({{a}} << ({{b}} & 63)) & {LM}",
    "slt": f"1 if ({{a}} ^ {LS}) < ({{b}} ^ {LS}) else 0",
    "sltu": "1 if {a} < {b} else 0",
    "xor": "{a} ^ {b}",
    "srl": "{a} >> ({b} & 63)",
    "sra": f"(({{a}} ^ {LS}) - {LS}) >> ({{b}} & 63) & {LM}",
    "or": "{a} | {b}",
    "and": "{a} & {b}",
    "mul": f"({{a}} * {{b}}) & {LM}",
    "mulh": f"((({{a}} ^ {LS}) - {LS}) * (({{b}} ^ {LS}) - {LS}) >> 64) & {LM}",
    "mulhsu": f"((({{a}} ^ {LS}) - {LS}) * {{b}} >> 64) & {LM}",
    "mulhu": "({a} * {b}) >> 64",
    # The sign-extension bias is added to the immediate, which folds to one constant.
    "addiw": f"(({{a}} + ({{i}} + 0x80000000) & 0xFFFFFFFF) - 0x80000000 & {LM})",
    "slliw": _sx32("{a} << {i}"),
    "srliw": _sx32("({a} & 0xFFFFFFFF) >> {i}"),
    "sraiw": f"(({{a}} + 0x80000000 & 0xFFFFFFFF) - 0x80000000 >> {{i}}) & {LM}",
    "addw": _sx32("{a} + {b}"),
    "subw": _sx32("{a} - {b}"),
    "sllw": _sx32("{a} << ({b} & 31)"),
    "srlw": _sx32("({a} & 0xFFFFFFFF) >> ({b} & 31)"),
    "sraw": f"(({{a}} + 0x80000000 & 0xFFFFFFFF) - 0x80000000 >> ({{b}} & 31)) & {LM}",
    "mulw": _sx32("{a} * {b}"),
    **{op: op + "({a}, {b})" for op in ("div", "divu", "rem", "remu", "divw", "divuw", "remw", "remuw")},
}
ALU_READS_RS1 = {op for op, f in ALU.items() if "{a}" in f}
ALU_READS_RS2 = {op for op, f in ALU.items() if "{b}" in f}
TERMINATORS = {*BRANCH_COND, "jal", "jalr", "illegal", *SYSTEM}
WRITES_RD = {*ALU, *LOADS, "jal", "jalr"}


def _alu(op: str, a: str, b: str, i: str, pc: str) -> str | None:
    """Python expression for a register-result ALU op, or None if ``op`` is not one."""
    fmt = ALU.get(op)
    return None if fmt is None else fmt.format(a=a, b=b, i=i, pc=pc)


def is_terminator(op: str) -> bool:
    """True if ``op`` ends a block."""
    return op in TERMINATORS


def writes_rd(op: str) -> bool:
    """True if ``op`` writes integer register rd (so rd=x0 needs care)."""
    return op in WRITES_RD or op in AMOS


def _rel(pc: str, imm: str) -> str:
    """``pc + imm`` wrapped to 64 bits: folded to a literal when both are literals."""
    try:
        return f"{(int(pc, 0) + int(imm.strip('()'), 0)) & M:#x}"
    except ValueError:
        return f"({pc} + {imm}) & {LM}"


def _address(sp: Spelling) -> str:
    # Register operands already hold 64-bit values, so a zero offset needs no wrap.
    return sp.rs1 if sp.imm == "(0)" else f"({sp.rs1} + {sp.imm}) & {LM}"


def _simple_move(d: Insn, sp: Spelling) -> str | None:
    """Cheaper spellings of the idioms mv, li and nop-like adds (literal operands only)."""
    if sp.imm == "imm":
        return None
    if d.op == "addi" and d.imm == 0:
        return sp.rs1
    if d.op == "addi" and d.rs1 == 0:
        return f"{d.imm & M:#x}"
    if d.op == "add" and 0 in (d.rs1, d.rs2):
        return sp.rs2 if d.rs1 == 0 else sp.rs1
    if d.op in ("lui", "auipc"):
        return _rel("0x0" if d.op == "lui" else sp.pc, sp.imm)
    return None


def emit(d: Insn, sp: Spelling, lines: list[str]) -> str | None:
    """Append statements for ``d`` to ``lines``; return the block's exit expression if ``d``
    ends the block (the next pc, or a helper call returning it or None)."""
    op = d.op
    expr = _simple_move(d, sp) or _alu(op, sp.rs1, sp.rs2, sp.imm, sp.pc)
    if expr is not None:
        if sp.rd:
            lines.append(f"{sp.rd} = {expr}")
        return None
    if op in LOADS:
        size, view, signed = LOADS[op]
        align = f" and not a & {size - 1}" if size > 1 else ""
        index = f"(p | (a & 4095)) >> {SHIFT[size]}" if size > 1 else "p | (a & 4095)"
        fast = f"{view}[{index}]" + (f" & {LM}" if signed else "")
        target = sp.rd or "_"
        lines.append(f"a = {_address(sp)}")
        lines.append("p = R.get(a >> 12)")
        lines.append(f"if p is not None{align}: {target} = {fast}")
        lines.append(f"else: {target} = ld(a, {size}, {signed}, {sp.pc})")
        return None
    if op in STORES:
        size, view = STORES[op]
        value = sp.rs2 if size == 8 else f"{sp.rs2} & {(1 << (size * 8)) - 1}"
        align = f" and not a & {size - 1}" if size > 1 else ""
        index = f"(p | (a & 4095)) >> {SHIFT[size]}" if size > 1 else "p | (a & 4095)"
        lines.append(f"a = {_address(sp)}")
        lines.append("p = W.get(a >> 12)")
        lines.append(f"if p is not None{align}: {view}[{index}] = {value}")
        lines.append(f"else: st(a, {size}, {value}, {sp.pc})")
        return None
    if op in BRANCH_COND:
        cond = BRANCH_COND[op].format(a=sp.rs1, b=sp.rs2)
        return f"{_rel(sp.pc, sp.imm)} if {cond} else {sp.nxt}"
    if op == "jal":
        if sp.rd:
            lines.append(f"{sp.rd} = {sp.nxt}")
        return _rel(sp.pc, sp.imm)
    if op == "jalr":
        lines.append(f"t = ({sp.rs1} + {sp.imm}) & {M - 1:#x}")
        if sp.rd:
            lines.append(f"{sp.rd} = {sp.nxt}")
        return "t"
    if op == "fence":
        return None
    if op == "illegal":
        lines.append(f"raise Trap({ILLEGAL_INSN}, {sp.raw}, {sp.pc})")
        return "None"
    if op in SYSTEM:
        return f"sysop({sp.insn}, {sp.pc})"
    if op in AMOS:
        lines.append(f"amo({sp.insn}, {sp.pc})")
        return None
    # Everything left is floating point, executed by the FPU helper.
    lines.append(f"fpu({sp.insn}, {sp.pc})")
    return None


def decode_block(eng: BlockEngine, vpc: int, paddr: int) -> tuple[list[tuple[Insn, int]], int]:
    """Decode instructions from ``paddr`` up to a terminator, the page end or MAX_BLOCK."""
    h = eng.hart
    insns: list[tuple[Insn, int]] = []
    pc, pa = vpc, paddr
    page_end = (paddr | 0xFFF) + 1
    while True:
        word = h.fetch_half(pa, pc)
        if word & 3 == 3:
            # The upper half of an instruction straddling a page comes from the next page.
            if pa + 2 < page_end:
                upper = h.fetch_half(pa + 2, pc)
            else:
                try:
                    upper = h.fetch_half_virtual(pc + 2, pc)
                except Trap:
                    if not insns:
                        raise
                    # The instructions before it run first (as on the interpreter); the
                    # fetch faults when the next block starts at it.
                    return insns, pa
            word |= upper << 16
        d = decode(word, h.has_fd)
        if not h.has_fd and d.group == Group.FP:
            d = Insn("illegal", raw=d.raw, length=d.length, group=Group.ILLEGAL)
        insns.append((d, pc))
        pc = (pc + d.length) & M
        pa += d.length
        if is_terminator(d.op) or pa >= page_end or len(insns) >= MAX_BLOCK:
            return insns, min(pa, page_end)


# --- cold blocks: template interpretation ------------------------------------------------


def _compile(src: str, name: str) -> CodeType:
    """Compile generated source, registered with ``linecache`` so that a traceback through
    it shows the generated lines (regions are few, so keeping their text costs little)."""
    linecache.cache[name] = (len(src), None, src.splitlines(keepends=True), name)
    return compile(src, name, "exec")


def _compile_template(op: str) -> object:
    lines: list[str] = []
    exit_expr = emit(Insn(op), TEMPLATE_SPELLING, lines)
    body = "\n".join("        " + line for line in lines) or "        pass"
    if exit_expr is not None:
        body += f"\n        return {exit_expr}"
    src = f"def factory({TEMPLATE_ARGS}):\n    def t(x, R, W):\n{body}\n    return t\n"
    return _compile(src, f"<template {op}>").co_consts[0]


_TEMPLATE_CODE: dict[str, object] = {}


def template(eng: BlockEngine, op: str) -> Callable[..., Callable[..., int | None]]:
    """The hart's closure factory for ``op``: ``factory(rd, rs1, rs2, imm, pc, nxt, D)``
    returns ``t(x, R, W)`` executing that one instruction (compiled once per process)."""
    fn = eng.templates.get(op)
    if fn is None:
        code = _TEMPLATE_CODE.get(op)
        if code is None:
            code = _TEMPLATE_CODE[op] = _compile_template(op)
        fn = eng.templates[op] = FunctionType(code, eng.jit_globals)  # type: ignore[arg-type]
    return fn


def _zero_x0(x: list[int], R: dict[int, int], W: dict[int, int]) -> None:
    x[0] = 0


def _cold_entry(eng: BlockEngine, insns: list[tuple[Insn, int]], runs: list[int], vpc: int, paddr: int) -> Entry:
    items = []
    for d, pc in insns:
        if d.rd == 0 and d.op in ALU:
            continue  # an ALU op writing x0 is a no-op (hint encodings)
        items.append(template(eng, d.op)(d.rd, d.rs1, d.rs2, d.imm, pc, (pc + d.length) & M, d))
        if d.rd == 0 and writes_rd(d.op) and not is_terminator(d.op):
            items.append(_zero_x0)
    last_d, last_pc = insns[-1]
    final = None if is_terminator(last_d.op) else (last_pc + last_d.length) & M
    last = items.pop() if final is None and items else None
    body = tuple(items)
    count = len(insns)
    left = eng.left
    # The compiled region, once promoted: (fn, need).
    hot: list[Entry] = []

    def cold(x: list[int], R: dict[int, int], W: dict[int, int]) -> int | None:
        if hot:
            fn, need = hot[0]
            if need <= left[0]:
                return fn(x, R, W)
            # Too little of the quantum left for the region: this block alone fits.
        else:
            runs[0] += 1
            if runs[0] >= HOT_THRESHOLD:
                hot.append(eng.promote(build_hot_block(eng, vpc, paddr, insns)).entry)
        left[0] -= count
        try:
            for f in body:
                f(x, R, W)
            if last is None:
                return final
            r = last(x, R, W)
        except Trap as t:
            left[0] += instructions_after(insns, t.pc)
            raise
        x[0] = 0
        return r

    return (cold, count)


def instructions_after(insns: Sequence[tuple[Insn, int]], pc: int) -> int:
    """How many of a block's instructions follow the one at ``pc``: what a trap there did not
    run (found when a trap happens, rather than kept per block: blocks are many, traps few)."""
    for i, (_, at) in enumerate(insns):
        if at == pc:
            return len(insns) - 1 - i
    return 0


# --- hot regions: one compiled function per loop nest ---------------------------------------


def _sources(d: Insn) -> tuple[int, ...]:
    """Integer registers ``d`` reads (for ops the emitter spells with register operands)."""
    op = d.op
    if op in ALU:
        return tuple(r for r, reads in ((d.rs1, op in ALU_READS_RS1), (d.rs2, op in ALU_READS_RS2)) if reads)
    if op in LOADS or op == "jalr":
        return (d.rs1,)
    if op in STORES or op in BRANCH_COND:
        return (d.rs1, d.rs2)
    return ()


def _uses_x_directly(insns: Iterable[tuple[Insn, int]]) -> bool:
    # AMOs, FP ops and system instructions read or write hart.x inside their helpers.
    return any(d.op in HELPED for d, _ in insns)


def _successors(insns: Sequence[tuple[Insn, int]]) -> list[int]:
    """Statically known next pcs of a decoded block."""
    d, pc = insns[-1]
    nxt = (pc + d.length) & M
    if d.op in BRANCH_COND:
        return [(pc + d.imm) & M, nxt]
    if d.op == "jal":
        return [(pc + d.imm) & M]
    if d.op in TERMINATORS:
        return []
    return [nxt]


def _region(
    eng: BlockEngine, insns: Sequence[tuple[Insn, int]], vpc: int, paddr: int
) -> dict[int, Sequence[tuple[Insn, int]]]:
    """The entry block plus warm blocks reachable from it by static edges inside its page.

    Only blocks that already ran often are pulled in: code on paths never taken would cost
    compile time for nothing (leaving the region just returns to the dispatcher).
    """
    blocks: dict[int, Sequence[tuple[Insn, int]]] = {vpc: insns}
    heat: dict[int, int] = {}
    page = eng.blocks.get(paddr >> 12, {})
    queue = _successors(insns)
    while queue and len(blocks) < MAX_REGION:
        target = queue.pop(0)
        known = page.get(target)
        if target in blocks or known is None or known.runs[0] < WARM_THRESHOLD:
            continue
        if _uses_x_directly(known.insns):
            continue  # keep helper-heavy code out: it would disable register caching
        blocks[target] = known.insns
        heat[target] = known.runs[0]
        queue += _successors(known.insns)
    # The dispatch chain tests blocks in this order: most frequently run first.
    return {start: blocks[start] for start in sorted(blocks, key=lambda b: -heat.get(b, HOT_THRESHOLD))}


def _spin_loops(blocks: dict[int, Sequence[tuple[Insn, int]]]) -> dict[int, set[int]]:
    """Loop heads whose loop (the region blocks on a cycle through the head) has no stores,
    helpers other than LR or system instructions, mapped to the registers the loop writes."""
    edges = {start: [t for t in _successors(body) if t in blocks] for start, body in blocks.items()}

    def reach(start: int, forward: bool) -> set[int]:
        seen, todo = {start}, [start]
        while todo:
            node = todo.pop()
            nxt = edges[node] if forward else [src for src, dsts in edges.items() if node in dsts]
            for other in nxt:
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
        return seen

    heads: dict[int, set[int]] = {}
    for head in blocks:
        if not any(head in edges[src] and src >= head for src in blocks):
            continue  # not the target of a backward edge
        loop = reach(head, True) & reach(head, False)
        insns = [d for start in loop for d, _ in blocks[start]]
        # lr.w/lr.d store nothing: a spinlock taken with LR/SC waits like one of plain loads.
        if all(
            d.op in ALU or d.op in LOADS or d.op in BRANCH_COND or d.op in ("jal", "fence", "lr.w", "lr.d")
            for d in insns
        ):
            heads[head] = {d.rd for d in insns if writes_rd(d.op)} - {0}
    return heads


@dataclass(frozen=True)
class AccessGroup:
    """Loads (or stores) through one unmodified base register within a block: one TLB lookup
    and one alignment/page check at the first member serve all of them."""

    index: int  # names the guard and offset locals: gN, oN
    base: int
    store: bool
    lo: int
    span: int
    align: int
    first: int  # position in the block of the member that performs the check


def _access_groups(body: Sequence[tuple[Insn, int]]) -> dict[int, AccessGroup]:
    """Map instruction positions in ``body`` to the access group they belong to."""
    groups: dict[int, AccessGroup] = {}
    open_: dict[tuple[int, bool], list[int]] = {}

    def close(key: tuple[int, bool]) -> None:
        members = open_.pop(key, [])
        if len(members) < 2:
            return
        sizes = {i: (STORES[body[i][0].op][0] if key[1] else LOADS[body[i][0].op][0]) for i in members}
        lo = min(body[i][0].imm for i in members)
        members = [i for i in members if (body[i][0].imm - lo) % sizes[i] == 0]
        if len(members) < 2:
            return
        span = max(body[i][0].imm + sizes[i] for i in members) - lo
        if span > 0x1000:
            return
        group = AccessGroup(members[0], key[0], key[1], lo, span, max(sizes[i] for i in members), members[0])
        for i in members:
            groups[i] = group

    for i, (d, _) in enumerate(body):
        if (d.op in LOADS or d.op in STORES) and d.rs1:
            open_.setdefault((d.rs1, d.op in STORES), []).append(i)
        elif d.op not in ALU and d.op not in BRANCH_COND and d.op not in ("jal", "jalr", "fence"):
            for key in list(open_):
                close(key)  # helpers and system instructions end every group
        if writes_rd(d.op) and d.rd:
            for key in [k for k in open_ if k[0] == d.rd]:
                close(key)
    for key in list(open_):
        close(key)
    return groups


def _emit_grouped(d: Insn, pos: int, pc: int, g: AccessGroup, reg: Callable[[int], str], lines: list[str]) -> None:
    """Emit a member of an access group (the first member also emits the shared check)."""
    guard, offset = f"g{g.index}", f"o{g.index}"
    if pos == g.first:
        lines.append(f"a = {reg(g.base)}" if g.lo == 0 else f"a = ({reg(g.base)} + {g.lo}) & {LM}")
        tlb = "W" if g.store else "R"
        lines.append(f"p = {tlb}.get(a >> 12)")
        # A TLB miss is filled by a probe (which never traps) so a first visit to a page
        # does not send every member down the slow path.
        lines.append(f"if p is None: p = probe(a, {int(g.store)})")
        lines.append(f"{guard} = p is not None and not a & {g.align - 1} and (a & 4095) <= {0x1000 - g.span}")
        lines.append(f"if {guard}: {offset} = p | (a & 4095)")
    delta = d.imm - g.lo
    addr = f"({reg(g.base)} + {d.imm}) & {LM}"
    if g.store:
        size, view = STORES[d.op]
        value = reg(d.rs2) if size == 8 else f"{reg(d.rs2)} & {(1 << (size * 8)) - 1}"
        lines.append(f"if {guard}: {view}[({offset} + {delta}) >> {SHIFT[size]}] = {value}")
        lines.append(f"else: st({addr}, {size}, {value}, {pc:#x})")
    else:
        size, view, signed = LOADS[d.op]
        target = reg(d.rd) if d.rd else "_"
        mask = f" & {LM}" if signed else ""
        lines.append(f"if {guard}: {target} = {view}[({offset} + {delta}) >> {SHIFT[size]}]{mask}")
        lines.append(f"else: {target} = ld({addr}, {size}, {signed}, {pc:#x})")


def _indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]


class _RegionWriter:
    """Source generation for one compiled region (see ``_compile_region``)."""

    def __init__(self, blocks: dict[int, Sequence[tuple[Insn, int]]]) -> None:
        self.blocks = blocks
        self.cache = not any(_uses_x_directly(b) for b in blocks.values())
        used: set[int] = set()
        written: set[int] = set()
        for body in blocks.values():
            for d, _ in body:
                used.update(_sources(d))
                if writes_rd(d.op):
                    written.add(d.rd)
        self.used = sorted((used | written) - {0})
        self.spill = "; ".join(f"x[{r}] = r{r}" for r in sorted(written - {0})) if self.cache else ""
        # Leaving counts the region's instructions in the budget cell, once (n is reset so
        # a helper that then traps is not counted twice).
        self.leave = f"{self.spill}; L[0] -= n; n = 0" if self.spill else "L[0] -= n; n = 0"
        self.consts: dict[str, Insn] = {}
        self.spin_heads = _spin_loops(blocks)
        self.inlined = 0
        # The most instructions one pass of the region's loop runs: a block and what its exit
        # inlines (``need``: the loop runs while that much of the quantum is left).
        self.need = 0
        self._inlined_here = 0

    def reg(self, r: int) -> str:
        return "0" if r == 0 else (f"r{r}" if self.cache else f"x[{r}]")

    def body(self, start: int) -> list[str]:
        """Statements of block ``start`` up to (not including) its terminator. The block's
        instructions are counted first; a trap takes back those after it (see ``source``)."""
        body = self.blocks[start]
        lines = [f"n += {len(body)}"]
        groups = _access_groups(body)
        straight = body[:-1] if is_terminator(body[-1][0].op) else body
        for pos, (d, pc) in enumerate(straight):
            if pos in groups:
                _emit_grouped(d, pos, pc, groups[pos], self.reg, lines)
            else:
                self._emit(d, pc, lines)
        return lines

    def _emit(self, d: Insn, pc: int, lines: list[str]) -> str | None:
        name = f"D{len(self.consts)}"
        spelling = Spelling(
            rd=self.reg(d.rd) if d.rd and writes_rd(d.op) else "",
            rs1=self.reg(d.rs1),
            rs2=self.reg(d.rs2),
            imm=f"({d.imm})",
            pc=f"{pc:#x}",
            nxt=f"{(pc + d.length) & M:#x}",
            insn=name,
            raw=f"{d.raw:#x}",
        )
        n_before = len(lines)
        expr = emit(d, spelling, lines)
        if any(name in line for line in lines[n_before:]) or (expr and name in expr):
            self.consts[name] = d
        return expr

    def exit(self, start: int, inline: bool) -> list[str]:
        """Statements leaving block ``start``: set pc (or return, or raise), inlining small
        successors into the exits when ``inline`` so a two-block loop needs one dispatch."""
        d, pc = self.blocks[start][-1]
        nxt = (pc + d.length) & M
        if d.op in BRANCH_COND:
            cond = BRANCH_COND[d.op].format(a=self.reg(d.rs1), b=self.reg(d.rs2))
            taken = self._goto((pc + d.imm) & M, start, inline)
            fallthrough = self._goto(nxt, start, inline)
            return [f"if {cond}:", *_indent(taken), "else:", *_indent(fallthrough)]
        if d.op == "jal":
            link = [f"{self.reg(d.rd)} = {nxt:#x}"] if d.rd else []
            return link + self._goto((pc + d.imm) & M, start, inline)
        if d.op == "jalr" or d.op in TERMINAL_EXITS:
            lines: list[str] = []
            expr = self._emit(d, pc, lines)
            if d.op == "illegal":
                return lines
            if d.op == "jalr":
                return [*lines, f"pc = {expr}"]
            return [*lines, self.leave, f"return {expr}"]
        return self._goto(nxt, start, inline)  # block cut at the length or page limit

    def _goto(self, target: int, start: int, inline: bool) -> list[str]:
        body = self.blocks.get(target)
        if (
            not inline
            or body is None
            or len(body) > INLINE_MAX
            or self.inlined + len(body) > INLINE_BUDGET
            or target == start
            or target in self.spin_heads
            or body[-1][0].op in TERMINAL_EXITS
        ):
            return [f"pc = {target:#x}"]
        self.inlined += len(body)
        self._inlined_here = max(self._inlined_here, len(body))
        # pc names the block running, for the trap handler's count.
        return [f"pc = {target:#x}", *self.body(target), *self.exit(target, inline=False)]

    def source(self, vpc: int) -> str:
        code: list[str] = []
        for index, start in enumerate(self.blocks):
            code.append(f"{'if' if index == 0 else 'elif'} pc == {start:#x}:")
            if start in self.spin_heads:
                # Back at a loop head whose body neither stores nor calls helpers, with the
                # same registers: a spin-wait on memory no one else can write until the
                # scheduler runs another hart. Every further pass would be the same, so the
                # engine skips the whole passes left in the quantum (``BlockEngine.skip``).
                snap = ", ".join([f"{start:#x}", *(self.reg(r) for r in sorted(self.spin_heads[start]))])
                count = f"{self.spill}; L[0] -= n" if self.spill else "L[0] -= n"
                code += [f"    t = ({snap})", "    if t == s:", f"        {count}"]
                code += [f"        return skip({start:#x}, n - sn)", "    s = t", "    sn = n"]
            self._inlined_here = 0
            code += ["    " + line for line in self.body(start) + self.exit(start, inline=True)]
            self.need = max(self.need, len(self.blocks[start]) + self._inlined_here)
        code += ["else:", "    break"]
        loop = ["while n <= lim:", *("    " + line for line in code)]
        lines = [f"r{r} = x[{r}]" for r in self.used] if self.cache else []
        lines += ["n = 0", "s = None", "sn = 0", f"lim = L[0] - {self.need}", f"pc = {vpc:#x}"]
        # A trap counts the instructions of its block up to the trapping one: ``A(block, pc)``
        # says how many follow.
        undo = "L[0] -= n - A(pc, e.pc)"
        lines += ["try:", *("    " + line for line in loop), "except Trap as e:"]
        lines += [f"    {self.spill}; {undo}" if self.spill else f"    {undo}", "    raise"]
        if self.spill:
            lines += ["except BaseException:", f"    {self.spill}", "    raise"]
        lines += [self.leave, "return pc"]
        params = ", ".join(["A", *self.consts])
        src = f"def make({params}):\n  def blk(x, R, W):\n"
        src += "".join(f"      {line}\n" for line in lines)
        return src + "  return blk\n"

    def after(self) -> Callable[[int, int], int]:
        """The trap handler's ``A(block start, pc)``: instructions of that block after pc."""
        blocks = self.blocks

        def after(start: int, pc: int) -> int:
            body = blocks.get(start)
            return 0 if body is None else instructions_after(body, pc)

        return after


def _compile_region(eng: BlockEngine, blocks: dict[int, Sequence[tuple[Insn, int]]], vpc: int) -> Entry:
    """One function running the region's blocks with an internal dispatch loop, and its need.

    Registers live in locals rN for the whole region and go back to x on every exit; an
    exception (trap in a slow path, illegal instruction) stores them back before leaving.
    """
    writer = _RegionWriter(blocks)
    src = writer.source(vpc)
    scope: dict[str, object] = {}
    exec(_compile(src, f"<region {vpc:#x}>"), eng.jit_globals, scope)
    fn = scope["make"](writer.after(), *writer.consts.values())  # type: ignore[operator]
    return (fn, writer.need)


def build_cold_block(eng: BlockEngine, vpc: int, paddr: int) -> Block:
    """Decode the block at virtual ``vpc`` (physical ``paddr``) for template interpretation."""
    insns, pend = decode_block(eng, vpc, paddr)
    runs = [0]
    return Block(_cold_entry(eng, insns, runs, vpc, paddr), vpc, paddr, pend, tuple(insns), runs)


def build_hot_block(eng: BlockEngine, vpc: int, paddr: int, insns: Sequence[tuple[Insn, int]] | None = None) -> Block:
    """Compile the region entered at virtual ``vpc`` (physical ``paddr``) into one function."""
    if insns is None:
        insns, _ = decode_block(eng, vpc, paddr)
    blocks = _region(eng, insns, vpc, paddr)
    page = paddr & ~0xFFF
    pstart = page | min(pc & 0xFFF for pc in blocks)
    pend = max(page + min(0x1000, (b[-1][1] & 0xFFF) + b[-1][0].length) for b in blocks.values())
    return Block(_compile_region(eng, blocks, vpc), vpc, pstart, pend, tuple(insns), [HOT_THRESHOLD])
