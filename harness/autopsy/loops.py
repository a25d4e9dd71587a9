"""What a spinning hart's loop waits on, from its instructions: is it waiting on another hart?

Two harts that spin while no hart runs are a deadlock only if each waits on something another
can change. What a loop waits on is what its exits test:

* a loop with no exit (``for (;;) cpu_relax();``, a ``volatile`` counter on the stack) waits for
  nothing: only an interrupt takes the hart out of it;
* a loop whose exit may test a value read from memory (a lock word, a flag, a device's status,
  the CLINT's ``mtime``) may wait on another hart or a device;
* a loop whose exits test only registers, its stack or CSRs (a count, ``rdtime``) waits on no hart.

The stack is what is read through ``sp``, and below ``s0`` where ``s0`` is a frame pointer (-O0
code keeps its locals there); a stack slot is memory's only once the loop stores memory's value
to it. A slot the loop never writes (a structure another hart was handed a pointer to) counts
as the stack: a miss this analysis accepts.

**Finding the loop.** Decoding forward from the lowest sampled pc, each backward branch or jump
is a candidate: its body runs from its target to it, with the functions the body calls directly
(each decoded from its entry to the return past its furthest forward branch, :data:`REACH` bytes
at most, and not calling on) and its detours (straight-line code reached by a branch out of the
body, or by the closing branch's fall-through, that jumps or branches back into it: a slow path,
as gcc lays it out at -O1 and -O2; a branch back is then also an exit). A candidate whose target
runs straight into a return is a shared function epilogue, not a loop. The first candidate that
holds every sampled pc is the loop, and its answer stands, ``unknown`` included; when none does
(every sample in a function the loop calls, laid out before it), the search is made again with
the return address as a sample too.

**What the exits test.** A value is followed from a memory read through the instructions that
compute from it and the stack slots it is stored to, over a few passes, so a value read in one
iteration and tested in the next counts. What a branch on such a value decides is memory's too:
the registers written where it decides what runs (a forward branch: to its target, and the else
side past it when the code it skips ends in a jump forward; to the function's end when that code
returns; a backward one: the rest of the body). Only a write that runs on every pass clears a
register. The loop waits on memory when an exit tests such a value, or when every exit lies
where such a branch decides (a count that runs down only while a flag is set). A return inside
the body (-Os) is an exit of the branch that jumps over it. A loop that calls what cannot be
followed, or returns or jumps away from inside its body otherwise, is ``unknown``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.autopsy.decode import FP, SP, Effect, Instruction, instructions
from harness.autopsy.model import LoopWait

# A loop whose sampled pcs spread wider than this is not decoded (a spin is a few instructions).
MAX_LOOP = 1024
# How far past the highest sampled pc the closing branch is looked for, and how much of a called
# function or a detour is read.
REACH = 128
# Memory is read a page at most at a time where a read across a page's end fails.
PAGE = 4096
# The end of a 64-bit address space: a branch target past it (or below 0) is not read.
ADDRESSES = 1 << 64
# Passes over the loop's instructions while following values (a value read late in one pass and
# tested early in the next needs two; detours and stack slots one more each).
LAPS = 4

ReadCode = Callable[[int, int], bytes | None]


def loop_wait(read: ReadCode, pcs: Sequence[int], ra: int | None = None, frame_pointer: bool = False) -> LoopWait:
    """What the loop through ``pcs`` (a spinning hart's sampled pcs) waits on, from memory's code.

    ``read(address, size)`` reads memory as the hart sees it (``None`` where it cannot); ``ra``
    is the hart's return address; ``frame_pointer``: ``s0`` points into the hart's stack as a
    frame pointer, so what -O0 code reads below it is a local of the frame.
    """
    cached = _Cached(read)
    found = _loop_wait(cached, pcs, frame_pointer)
    if found is None and pcs and ra is not None:
        found = _loop_wait(cached, [*pcs, ra], frame_pointer)
    return LoopWait.UNKNOWN if found is None else found


class _Cached:
    """Memory reads served from the windows already read where they lie inside one (a read over
    JTAG costs milliseconds, and the candidates for a loop's body overlap); a read that fails is
    tried again cut at its page's end (the code may end a mapping)."""

    def __init__(self, read: ReadCode) -> None:
        self.read = read
        self.windows: list[tuple[int, bytes]] = []
        self.failed: set[tuple[int, int]] = set()

    def __call__(self, address: int, size: int) -> bytes | None:
        if address < 0 or address >= ADDRESSES:
            return None  # a branch target outside the address space is not code
        size = min(size, ADDRESSES - address)
        if size <= 0 or (address, size) in self.failed:
            return None  # a read that failed fails again
        for start, data in self.windows:
            if start <= address and address + size <= start + len(data):
                return data[address - start : address - start + size]
        read = self.read(address, size)
        cut = PAGE - address % PAGE
        if not read and cut < size:
            read = self.read(address, cut)
        if read:
            self.windows.append((address, read))
        else:
            self.failed.add((address, size))
        return read


@dataclass(frozen=True)
class _Loop:
    """A loop: its instructions in the order they run (a callee's after its call, a detour's
    after its branch), the address ranges it covers with the stack frame each runs in
    (``(first, last, frame)``: its body first; the body and its detours frame 0, each callee its
    own), its exits (the branches that leave it), each branch's shadow (``(branch, first, last)``: the
    addresses whose running it decides, see ``_shadow``), and whether everything in it could be
    followed."""

    order: tuple[Instruction, ...]
    frames: tuple[tuple[int, int, int], ...]
    exits: tuple[Instruction, ...]
    shadows: tuple[tuple[int, int, int], ...]
    complete: bool

    def covers(self, pcs: Sequence[int]) -> bool:
        """Whether every pc lies in the loop."""
        return all(any(a <= pc <= b for a, b, _ in self.frames) for pc in pcs)


def _loop_wait(read: ReadCode, pcs: Sequence[int], frame_pointer: bool) -> LoopWait | None:
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
            return _waits(loop, frame_pointer)
    return None


def _follow(read: ReadCode, start: int, closing: Instruction) -> _Loop | None:
    """The candidate loop from ``start`` to ``closing``; ``None`` when its body is unreadable or
    is a function's epilogue (its target runs straight into a return)."""
    body = _span(read, start, closing.address + closing.size)
    if body is None or _epilogue(body):
        return None
    end = closing.address
    order: list[Instruction] = []
    frames = [(start, end, 0)]  # the body's own frame is 0; each callee has its own
    exits: list[Instruction] = []
    shadows: list[tuple[int, int, int]] = []
    complete = True

    def add_detour(branch: Instruction, detour: _Detour) -> None:
        nonlocal complete
        insns, covered, followed, leaves = detour
        frames.append((*covered[0], 0))  # a detour runs in the body's frame, its callees in theirs
        frames.extend((a, b, len(frames) + i) for i, (a, b) in enumerate(covered[1:]))
        order.extend(insns)
        exits.extend(leaves)
        shadows.extend((branch.address, a, b) for a, b in covered)
        complete = complete and followed

    for insn in body:
        order.append(insn)
        target = insn.target
        if insn.effect is Effect.CALL:
            callee = None if target is None else _callee(read, target)
            if callee is None:
                complete = False
                continue
            frames.append((callee[0].address, callee[-1].address, len(frames)))
            order += callee
            shadows += [_shadow(callee, i) for i in callee if i.effect is Effect.BRANCH]
        elif insn.effect is Effect.BRANCH and target is not None and not start <= target <= end:
            detour = _detour(read, target, start, end)
            if detour is None:
                exits.append(insn)
            else:
                add_detour(insn, detour)
        elif insn.effect is Effect.BRANCH and insn is not closing:
            shadows.append(_shadow(body, insn))
        elif insn.effect is Effect.RETURN and (guard := _guard(body, insn)) is not None:
            exits.append(guard)  # -Os returns from inside the loop: the branch over the return decides
        elif insn.effect is Effect.RETURN or (insn.effect is Effect.JUMP and target is not None and target > end):
            complete = False  # it leaves from inside its body: what decides that is out of sight
    if closing.effect is Effect.BRANCH:
        # Its fall-through leaves, unless a slow path laid out there comes back (gcc -O1).
        detour = _detour(read, closing.address + closing.size, start, end)
        if detour is None:
            exits.append(closing)
        else:
            add_detour(closing, detour)
    return _Loop(tuple(order), tuple(frames), tuple(exits), tuple(shadows), complete)


def _guard(body: Sequence[Instruction], ret: Instruction) -> Instruction | None:
    """The branch that jumps over ``ret`` inside the body, with only straight-line code between
    them (its fall-through runs into the return: an exit); ``None`` when there is none."""
    before = [i for i in body if i.address < ret.address]
    for insn in reversed(before):
        if insn.effect is Effect.BRANCH:
            return insn if insn.target is not None and insn.target > ret.address else None
        if insn.effect in (Effect.JUMP, Effect.CALL, Effect.RETURN):
            return None
    return None


def _shadow(insns: Sequence[Instruction], branch: Instruction) -> tuple[int, int, int]:
    """What ``branch`` decides runs, among ``insns`` (a body or a callee, in address order):
    ``(branch, first, last)``. Backwards: the rest of them (they run once it falls through).
    Forwards: what it skips, to its target, and past it the else side when the skipped code ends
    in a jump forward; the rest of them when the skipped code returns (the sides join only in the
    caller)."""
    last = insns[-1].address
    target = branch.target
    first = branch.address + branch.size
    if target is None or target <= branch.address:
        return branch.address, first, last
    skipped = [i for i in insns if branch.address < i.address < target]
    if any(i.effect is Effect.RETURN for i in skipped):
        return branch.address, first, last
    jump = skipped[-1] if skipped else None
    if jump is not None and jump.effect is Effect.JUMP and jump.target is not None and jump.target > target:
        return branch.address, first, min(jump.target - 1, last)
    return branch.address, first, target - 1


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


# A detour: its instructions, the ranges they cover (its own first, then its callees'), whether
# every call in it could be followed, and its exits.
_Detour = tuple[list[Instruction], list[tuple[int, int]], bool, list[Instruction]]


def _detour(read: ReadCode, start: int, low: int, high: int) -> _Detour | None:
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


def _waits(loop: _Loop, frame_pointer: bool) -> LoopWait:
    """What the loop's exits test (see the module docstring)."""
    if not loop.complete:
        return LoopWait.UNKNOWN
    if not loop.exits:
        return LoopWait.NOTHING

    def slot(insn: Instruction) -> tuple[int, int, int] | None:
        """The stack slot a load or store uses, by frame, register and offset; None off the stack."""
        if insn.base == SP or (insn.base == FP and frame_pointer and insn.offset < 0):
            frame = next((f for a, b, f in loop.frames if a <= insn.address <= b), -1)
            return frame, insn.base, insn.offset
        return None

    memory: set[int] = set()  # registers that may hold (something computed from) memory's value
    slots: set[tuple[int, int, int]] = set()  # stack slots that may hold such a value
    tainted: set[int] = set()  # branches that test such a value

    def shadowed(address: int, only_tainted: bool) -> bool:
        return any(lo <= address <= hi for b, lo, hi in loop.shadows if not only_tainted or b in tainted)

    for _ in range(LAPS):
        for insn in loop.order:
            from_memory = any(r in memory for r in insn.sources)
            if insn.effect is Effect.BRANCH and from_memory:
                tainted.add(insn.address)
            place = slot(insn) if insn.effect in (Effect.READ, Effect.WRITE) else None
            if insn.effect is Effect.WRITE and place is not None and (from_memory or shadowed(insn.address, True)):
                slots.add(place)
            if insn.rd:
                if insn.effect is Effect.READ:
                    # Off the stack, or from a slot that holds memory's value: memory's.
                    derived = place is None or place in slots
                else:
                    derived = from_memory
                if derived or shadowed(insn.address, True):
                    memory.add(insn.rd)
                elif not shadowed(insn.address, False):
                    memory.discard(insn.rd)  # written on every pass from other values
    # An exit that tests memory's value waits on it; so does a loop whose every exit is reached
    # only by a branch on memory (a count that runs down only while a flag is set).
    if any(e.address in tainted for e in loop.exits) or all(shadowed(e.address, True) for e in loop.exits):
        return LoopWait.MEMORY
    return LoopWait.REGISTERS
