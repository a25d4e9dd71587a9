"""What a spinning hart's loop waits on, from its instructions: is it waiting on another hart?

Two harts that spin while no hart runs are a deadlock only if each waits on something another
can change. What a loop waits on is what its exits test:

* a loop with no exit (``for (;;) cpu_relax();``, a ``volatile`` counter on the stack) waits for
  nothing: only an interrupt takes the hart out of it;
* a loop whose exit may test a value read from memory (through a register that is not the
  stack's: a lock word, a flag, a device's status, the CLINT's ``mtime``) may wait on another
  hart or a device;
* a loop whose exits test only registers, the stack or CSRs (a count, ``rdtime``) waits on no hart.

**Finding the loop.** Decoding forward from the lowest sampled pc, each backward branch or jump
is a candidate: its body runs from its target to it, with the functions the body calls directly
(each decoded from its entry to the return past its furthest forward branch, :data:`REACH` bytes
at most, and not calling on) and its detours (a branch out to straight-line code that jumps or
branches back into the body: a slow path; a branch back is then also an exit). A candidate
whose target runs straight into a return is a shared function epilogue, not a loop. The first
candidate that holds every sampled pc is the loop, and its answer stands, ``unknown`` included;
when none does (every sample in a function the loop calls, laid out before it), the search is
made again with the return address as a sample too.

**What the exits test.** A value is followed from a memory read through the instructions that
compute from it (and through stack slots it is stored to), over a few passes, so a value read in
one iteration and tested in the next counts. What a branch that tests such a value decides is
tainted too: every register written after it in its function (or in the loop's body, or in its
detour), since which side joins where is not known; and only a write before every branch,
which runs on every pass, clears a register's taint. The loop waits on memory when an exit tests
such a value, or when every exit lies after a branch that does (a count that runs down only while
a flag is set). A loop that
calls what cannot be followed, returns or jumps away from inside its body, is ``unknown``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.autopsy.decode import SP, Effect, Instruction, instructions
from harness.autopsy.model import LoopWait

# A loop whose sampled pcs spread wider than this is not decoded (a spin is a few instructions).
MAX_LOOP = 1024
# How far past the highest sampled pc the closing branch is looked for, and how much of a called
# function or a detour is read.
REACH = 128
# Memory is read a page at most at a time where a read across a page's end fails.
PAGE = 4096
# Passes over the loop's instructions while following values (a value read late in one pass and
# tested early in the next needs two; detours and stack slots one more each).
LAPS = 4

ReadCode = Callable[[int, int], bytes | None]


def loop_wait(
    read: ReadCode, pcs: Sequence[int], ra: int | None = None, stack: frozenset[int] = frozenset({SP})
) -> LoopWait:
    """What the loop through ``pcs`` (a spinning hart's sampled pcs) waits on, from memory's code.

    ``read(address, size)`` reads memory as the hart sees it (``None`` where it cannot);
    ``ra`` is the hart's return address; ``stack`` the registers that point into its stack
    (``sp``, and ``s0`` where it is a frame pointer: -O0 code keeps its locals there).
    """
    cached = _Cached(read)
    found = _loop_wait(cached, pcs, stack)
    if found is None and pcs and ra is not None:
        found = _loop_wait(cached, [*pcs, ra], stack)
    return LoopWait.UNKNOWN if found is None else found


class _Cached:
    """Memory reads served from the windows already read where they lie inside one (a read over
    JTAG costs milliseconds, and the candidates for a loop's body overlap); a read that fails is
    tried again cut at its page's end (the code may end a mapping)."""

    def __init__(self, read: ReadCode) -> None:
        self.read = read
        self.windows: list[tuple[int, bytes]] = []

    def __call__(self, address: int, size: int) -> bytes | None:
        if address < 0 or size <= 0:
            return None  # a branch target below address 0: not code
        for start, data in self.windows:
            if start <= address and address + size <= start + len(data):
                return data[address - start : address - start + size]
        read = self.read(address, size)
        cut = PAGE - address % PAGE
        if not read and cut < size:
            read = self.read(address, cut)
        if read:
            self.windows.append((address, read))
        return read


@dataclass(frozen=True)
class _Loop:
    """A loop: its instructions in the order they run (a callee's after its call, a detour's
    after its branch), the address ranges it covers (its body first), its exits (the branches
    that leave it), each forward branch's shadow (``(branch, first, last)``: the addresses after
    it whose running it may decide), and whether everything in it could be followed."""

    order: tuple[Instruction, ...]
    ranges: tuple[tuple[int, int], ...]
    exits: tuple[Instruction, ...]
    shadows: tuple[tuple[int, int, int], ...]
    complete: bool

    def covers(self, pcs: Sequence[int]) -> bool:
        """Whether every pc lies in the loop."""
        return all(any(a <= pc <= b for a, b in self.ranges) for pc in pcs)


def _loop_wait(read: ReadCode, pcs: Sequence[int], stack: frozenset[int]) -> LoopWait | None:
    """The first candidate loop's answer that holds every pc; ``None`` when none does."""
    if not pcs:
        return None
    low, high = min(pcs), max(pcs)
    if high - low > MAX_LOOP:
        return None
    code = read(low, high - low + REACH)
    if not code:
        return None
    for closing in instructions(code, low):
        target = closing.target
        if closing.effect not in (Effect.JUMP, Effect.BRANCH) or target is None or target > closing.address:
            continue
        if low - target > MAX_LOOP:
            continue
        loop = _follow(read, target, closing)
        if loop is not None and loop.covers(pcs):
            return _waits(loop, stack)
    return None


def _follow(read: ReadCode, start: int, closing: Instruction) -> _Loop | None:
    """The candidate loop from ``start`` to ``closing``; ``None`` when its body is unreadable or
    is a function's epilogue (its target runs straight into a return)."""
    body = _span(read, start, closing.address + closing.size)
    if body is None or _epilogue(body):
        return None
    end = closing.address
    order: list[Instruction] = []
    ranges = [(start, end)]
    exits: list[Instruction] = []
    shadows: list[tuple[int, int, int]] = []
    complete = True
    for insn in body:
        order.append(insn)
        target = insn.target
        if insn.effect is Effect.CALL:
            callee = None if target is None else _callee(read, target)
            if callee is None:
                complete = False
                continue
            ranges.append((callee[0].address, callee[-1].address))
            order += callee
            shadows += _forward_shadows(callee)
        elif insn.effect is Effect.BRANCH and target is not None and not start <= target <= end:
            detour = _detour(read, target, start, end)
            if detour is None:
                exits.append(insn)
                continue
            insns, covered, followed, leaves = detour
            ranges += covered
            order += insns
            exits += leaves
            shadows += [(insn.address, a, b) for a, b in covered]
            complete = complete and followed
        elif insn.effect is Effect.BRANCH and insn is not body[-1]:
            # The rest of the body runs only when this branch falls through (forwards: skips it;
            # backwards: goes round again first).
            shadows.append((insn.address, insn.address + insn.size, end))
        elif insn.effect is Effect.RETURN or (insn.effect is Effect.JUMP and target is not None and target > end):
            complete = False  # it leaves from inside its body: what decides that is out of sight
    if closing.effect is Effect.BRANCH:
        exits.append(closing)  # its fall-through leaves
    return _Loop(tuple(order), tuple(ranges), tuple(exits), tuple(shadows), complete)


def _span(read: ReadCode, start: int, end: int) -> list[Instruction] | None:
    """The instructions from ``start`` to ``end`` (exclusive), or ``None`` when unreadable."""
    code = read(start, end - start)
    if not code or len(code) < end - start:
        return None
    return list(instructions(code, start))


def _epilogue(body: Sequence[Instruction]) -> bool:
    """Whether the body's first instructions run straight into a return (``cpu_relax``'s
    ``pause`` path jumps back to its own epilogue: a backward jump, not a loop)."""
    for insn in body:
        if insn.effect is Effect.RETURN:
            return True
        if insn.effect in (Effect.BRANCH, Effect.JUMP, Effect.CALL):
            return False
    return False


def _forward_shadows(insns: Sequence[Instruction]) -> list[tuple[int, int, int]]:
    """Each forward branch's shadow among ``insns``: everything after it to their end (what it
    skips, and the side it goes to, whose end is not known without a control-flow graph)."""
    last = insns[-1].address
    return [
        (i.address, i.address + i.size, last)
        for i in insns
        if i.effect is Effect.BRANCH and i.target is not None and i.target > i.address
    ]


def _callee(read: ReadCode, start: int) -> list[Instruction] | None:
    """A called function from its entry to the return past its furthest forward branch, within
    :data:`REACH` bytes (``cpu_relax`` returns, then has its ``pause`` path after). ``None`` when
    it is unreadable, longer, calls on, or ends in a jump elsewhere (a tail call)."""
    code = read(start, REACH)
    if not code:
        return None
    body: list[Instruction] = []
    furthest = start
    for insn in instructions(code, start):
        if insn.effect is Effect.CALL:
            return None
        body.append(insn)
        target = insn.target
        if insn.effect in (Effect.BRANCH, Effect.JUMP) and target is not None:
            if not start <= target < start + REACH:
                return None  # a branch or tail call out of it
            furthest = max(furthest, target)
        if insn.effect in (Effect.RETURN, Effect.JUMP) and insn.address >= furthest:
            return body if insn.effect is Effect.RETURN or (target is not None and target <= insn.address) else None
    return None


def _detour(
    read: ReadCode, start: int, low: int, high: int
) -> tuple[list[Instruction], list[tuple[int, int]], bool, list[Instruction]] | None:
    """The straight-line code at ``start`` when it jumps back into the body ``[low, high]`` (a
    slow path; a conditional branch back counts, its fall-through then being an exit, as
    compilers lay out a loop's condition again after a slow path): its instructions (with the
    functions it calls), the ranges they cover, whether every call could be followed, and its
    exit. ``None`` when the code leaves instead: the branch to it is an exit."""
    code = read(start, REACH)
    if not code:
        return None
    insns: list[Instruction] = []
    ranges: list[tuple[int, int]] = []
    followed = True
    for insn in instructions(code, start):
        insns.append(insn)
        target = insn.target
        if insn.effect in (Effect.JUMP, Effect.BRANCH) and target is not None and low <= target <= high:
            leaves = [insn] if insn.effect is Effect.BRANCH else []
            return insns, [(start, insn.address), *ranges], followed, leaves
        if insn.effect in (Effect.BRANCH, Effect.JUMP, Effect.RETURN):
            return None
        if insn.effect is Effect.CALL:
            callee = None if target is None else _callee(read, target)
            if callee is None:
                followed = False
            else:
                insns += callee
                ranges.append((callee[0].address, callee[-1].address))
    return None


def _waits(loop: _Loop, stack: frozenset[int]) -> LoopWait:
    """What the loop's exits test (see the module docstring)."""
    if not loop.complete:
        return LoopWait.UNKNOWN
    if not loop.exits:
        return LoopWait.NOTHING
    memory: set[int] = set()  # registers that may hold (something computed from) memory's value
    tainted: set[int] = set()  # branches that test such a value
    stacked = False  # such a value was stored to the stack

    def shadowed(address: int, only_tainted: bool) -> bool:
        return any(lo <= address <= hi for b, lo, hi in loop.shadows if not only_tainted or b in tainted)

    for _ in range(LAPS):
        for insn in loop.order:
            from_memory = any(r in memory for r in insn.sources)
            if insn.effect is Effect.BRANCH and from_memory:
                tainted.add(insn.address)
            if insn.effect is Effect.WRITE and insn.base in stack and from_memory:
                stacked = True
            if insn.rd:
                read = insn.effect is Effect.READ and (insn.base not in stack or stacked)
                if read or from_memory or shadowed(insn.address, True):
                    memory.add(insn.rd)
                elif not shadowed(insn.address, False):
                    memory.discard(insn.rd)  # written on every pass from other values
    # An exit that tests memory's value waits on it; so does a loop whose every exit is reached
    # only by a branch on memory (a count that runs down only while a flag is set).
    if any(e.address in tainted for e in loop.exits) or all(shadowed(e.address, True) for e in loop.exits):
        return LoopWait.MEMORY
    return LoopWait.REGISTERS
