"""From samples to conclusions: each hart's class, and the one line that sums the system up.

Pure functions of the samples and the symbols' answers, so they are tested without a target.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.autopsy.model import (
    INTERRUPT_BIT,
    Diagnosis,
    DiagnosisKind,
    HartAutopsy,
    HartClass,
    HartSample,
    HartState,
    Location,
    LoopWait,
)

# At least one trap per this many instructions retired is a trap loop (a handler that returns to
# the faulting instruction runs tens to hundreds of instructions per trap).
TRAP_LOOP_INSTRUCTIONS = 2000
# Samples whose pcs all lie within this many bytes (or in one function) are one loop: spinning.
SPIN_WINDOW = 256

EXCEPTIONS = {
    0: "instruction address misaligned",
    1: "instruction access fault",
    2: "illegal instruction",
    3: "breakpoint",
    4: "load address misaligned",
    5: "load access fault",
    6: "store address misaligned",
    7: "store access fault",
    8: "ecall from U-mode",
    9: "ecall from S-mode",
    11: "ecall from M-mode",
    12: "instruction page fault",
    13: "load page fault",
    15: "store page fault",
}
INTERRUPTS = {1: "SSI", 3: "MSI", 5: "STI", 7: "MTI", 9: "SEI", 11: "MEI"}

Locate = Callable[[int], Location | None]


def cause_name(cause: int) -> str:
    """``illegal instruction``, ``interrupt MTI`` ... for an xcause value."""
    code = cause & ~INTERRUPT_BIT
    if cause & INTERRUPT_BIT:
        return f"interrupt {INTERRUPTS.get(code, code)}"
    return EXCEPTIONS.get(code, f"exception {code}")


def interrupt_names(bits: int) -> str:
    """``MTI MSI`` for a mip/mie value; ``none`` when empty."""
    names = [name for number, name in sorted(INTERRUPTS.items(), reverse=True) if bits >> number & 1]
    return " ".join(names) or "none"


@dataclass(frozen=True)
class Classified:
    """A hart's class, the note that says why, and the pc that stands for where it is (for a
    spinning hart, its loop's most frequent pc, though the last sample may have caught it elsewhere)."""

    klass: HartClass
    note: str
    pc: int
    # A spinning hart's samples in its loop, whose code says what the loop waits on.
    loop_pcs: tuple[int, ...] = ()


def classify(samples: Sequence[HartSample], state: HartState, locate: Locate) -> Classified:
    """One hart's class and a note saying why, from its samples (oldest first) and last state."""
    if not samples:
        return Classified(HartClass.UNAVAILABLE, "no sample", state.pc)
    span = samples[-1].t - samples[0].t
    # Idle: in wfi in more than half the samples (a sleeping hart woken for a tick or an IPI when
    # sampled is still a sleeping hart), and nothing enabled pending when last seen in wfi.
    sleeping = [s for s in samples if s.wfi]
    if len(sleeping) * 2 > len(samples) and not (state.wfi and state.pending_enabled):
        away = len(samples) - len(sleeping)
        elsewhere = f" (awake in {away} of {len(samples)} samples)" if away else ""
        note = f"idle in wfi in {sleeping[-1].mode.value}-mode, no enabled interrupt pending{elsewhere}"
        return Classified(HartClass.IDLE, note, sleeping[-1].pc)
    first, last = samples[0], samples[-1]
    retired = None if first.instret is None or last.instret is None else last.instret - first.instret
    traps = None if first.traps is None or last.traps is None else last.traps - first.traps
    if _trap_loop(traps, retired, len(samples)):
        trap = state.trap
        note = (
            f"trap loop: {traps} traps in {span:.2f} s, last {cause_name(trap.cause)} "
            f"at {_where(trap.epc, locate)} (tval {trap.tval:#x})"
        )
        return Classified(HartClass.TRAP_LOOP, note, state.pc)
    if retired == 0 and not any(s.wfi for s in samples):
        note = f"stopped in {state.mode.value}-mode: no instruction retired in {span:.2f} s"
        return Classified(HartClass.STOPPED, note, state.pc)
    counted = "" if retired is None else f", {retired} instructions in {span:.2f} s"
    if state.pending_enabled:
        # wfi returns at once while an enabled interrupt is pending: a wfi loop that spins.
        counted += f", {interrupt_names(state.pending_enabled)} pending and enabled"
    loop = _loop(samples, locate)
    if loop:
        pc = Counter(s.pc for s in loop).most_common(1)[0][0]
        mode = next(s.mode for s in loop if s.pc == pc)
        # A hart stopped to be sampled may be caught taking an interrupt (a timer tick): a
        # minority of samples elsewhere does not make a spinning hart a running one.
        away = len(samples) - len(loop)
        elsewhere = f" (elsewhere in {away} of {len(samples)} samples)" if away else ""
        note = f"spinning in {mode.value}-mode in {_short(pc, locate)}{counted}{elsewhere}"
        return Classified(HartClass.SPINNING, note, pc, tuple(s.pc for s in loop))
    pcs = [s.pc for s in samples]
    names = sorted({f for f in (_function(pc, locate) for pc in pcs) if f is not None})
    seen = f" through {', '.join(names)}" if names else ""
    note = f"running in {state.mode.value}-mode, {len(set(pcs))} pcs{seen}{counted}"
    return Classified(HartClass.RUNNING, note, state.pc)


def _trap_loop(traps: int | None, retired: int | None, count: int) -> bool:
    """Traps taken at every sample and often enough to be most of the work: a hart that takes a
    trap per :data:`TRAP_LOOP_INSTRUCTIONS` instructions or more. A kernel's timer ticks (100 a
    second against millions of instructions) are not a loop."""
    if traps is None or count < 2 or traps < count - 1:
        return False
    return retired is None or traps * TRAP_LOOP_INSTRUCTIONS >= retired


def _loop(samples: Sequence[HartSample], locate: Locate) -> list[HartSample]:
    """The largest set of samples in one loop, when it holds more than half of them: in one
    mode and one function, or within :data:`SPIN_WINDOW` bytes, or at a pc seen again and again."""
    best: list[HartSample] = []
    for center in samples:
        function = _function(center.pc, locate)
        group = [
            s
            for s in samples
            if s.mode == center.mode
            and (abs(s.pc - center.pc) <= SPIN_WINDOW or (function is not None and _function(s.pc, locate) == function))
        ]
        if len(group) > len(best):
            best = group
    if len(best) * 2 > len(samples):
        return best
    # A few pcs again and again (a loop far apart in a stripped image): half the samples or more.
    repeated = Counter(s.pc for s in samples)
    if len(samples) > 2 and len(repeated) <= len(samples) // 2:
        return list(samples)
    return []


def _where(address: int, locate: Locate) -> str:
    found = locate(address)
    return f"{address:#x}" if found is None else f"{address:#x} {found}"


def _short(address: int, locate: Locate) -> str:
    found = locate(address)
    return f"{address:#x}" if found is None else found.short


def _function(address: int, locate: Locate) -> str | None:
    found = locate(address)
    return None if found is None or found.function is None else found.function


def hart_list(harts: Sequence[int]) -> str:
    """``hart 0``, ``harts 0 and 1``, ``harts 1-4``, ``harts 0, 2 and 5``."""
    ids = sorted(harts)
    if len(ids) == 1:
        return f"hart {ids[0]}"
    if len(ids) > 2 and ids == list(range(ids[0], ids[-1] + 1)):
        return f"harts {ids[0]}-{ids[-1]}"
    return f"harts {', '.join(map(str, ids[:-1]))} and {ids[-1]}"


def diagnose(harts: Sequence[HartAutopsy]) -> Diagnosis:
    """The one line for the whole system, from each hart's class."""
    by_class: dict[HartClass, list[HartAutopsy]] = {}
    for hart in harts:
        by_class.setdefault(hart.klass, []).append(hart)
    readable = [h for h in harts if h.klass != HartClass.UNAVAILABLE]
    if not readable:
        reasons = sorted({h.reason or h.note for h in harts}) or ["no harts"]
        return Diagnosis(DiagnosisKind.UNAVAILABLE, f"autopsy unavailable: {'; '.join(reasons)}")
    idle = by_class.get(HartClass.IDLE, [])
    spinning = by_class.get(HartClass.SPINNING, [])
    missing = by_class.get(HartClass.UNAVAILABLE, [])
    rest = _rest(idle, missing)
    if trap_loops := by_class.get(HartClass.TRAP_LOOP):
        loops = "; ".join(f"hart {h.hart}: {h.note.removeprefix('trap loop: ')}" for h in trap_loops)
        return Diagnosis(DiagnosisKind.TRAP_LOOP, f"trap loop: {loops}{rest}")
    if running := by_class.get(HartClass.RUNNING):
        text = "; ".join(f"hart {h.hart} {h.note}" for h in running)
        return Diagnosis(DiagnosisKind.RUNNING, f"not stuck in one place: {text}{rest}")
    if len(idle) == len(harts):
        who = "all harts" if len(harts) > 1 else f"hart {harts[0].hart}"
        return Diagnosis(DiagnosisKind.DEADLOCK, f"deadlock: {who} idle in wfi, no enabled interrupt pending")
    if len(spinning) >= 2:
        return _spinners(spinning, rest)
    if spinning:
        hart = spinning[0]
        return Diagnosis(DiagnosisKind.SPINNING, f"hart {hart.hart} {hart.note}{rest}")
    stopped = by_class.get(HartClass.STOPPED, [])
    if stopped:
        return Diagnosis(DiagnosisKind.STOPPED, f"{hart_list([h.hart for h in stopped])} stopped{rest}")
    return Diagnosis(DiagnosisKind.PARTIAL, f"{hart_list([h.hart for h in idle])} idle{rest}")


def _spinners(spinning: Sequence[HartAutopsy], rest: str) -> Diagnosis:
    """Several harts spin and none runs: a deadlock only when every loop leaves on a value read
    from memory (a loop with no exit, or one that counts or reads the clock, waits on nobody;
    one whose code did not say is not shown waiting on anyone either)."""
    ids = hart_list([h.hart for h in spinning])
    places = ", ".join(f"hart {h.hart} in {_place(h)}" for h in spinning)
    loops = [h.loop or LoopWait.UNKNOWN for h in spinning]
    if all(loop is LoopWait.MEMORY for loop in loops):
        return Diagnosis(
            DiagnosisKind.DEADLOCK, f"deadlock: {ids} spin waiting on memory, no hart runs ({places}){rest}"
        )
    if all(loop is LoopWait.UNKNOWN for loop in loops):
        text = f"{ids} spinning, no hart runs ({places}); what their loops wait on is not known{rest}"
        return Diagnosis(DiagnosisKind.SPINNING, text)
    each = "; ".join(f"hart {h.hart} in {_place(h)}, {_waits(h.loop)}" for h in spinning)
    return Diagnosis(DiagnosisKind.SPINNING, f"{ids} spinning, no hart runs: {each}{rest}")


def _waits(loop: LoopWait | None) -> str:
    """What a spinning hart's loop waits on, as the several-spinners line says it."""
    return {
        LoopWait.MEMORY: "waiting on memory",
        LoopWait.NOTHING: "in a loop with no exit (waiting for nothing)",
        LoopWait.REGISTERS: "leaving on registers only (waiting on no hart)",
    }.get(loop or LoopWait.UNKNOWN, "what it waits on not known")


def _place(hart: HartAutopsy) -> str:
    if hart.where is not None:
        return hart.where.short
    return f"{hart.state.mode.value}-mode at {hart.state.pc:#x}" if hart.state else "an unknown place"


def _rest(idle: Sequence[HartAutopsy], missing: Sequence[HartAutopsy]) -> str:
    parts = []
    if idle:
        parts.append(f"{hart_list([h.hart for h in idle])} idle in wfi")
    if missing:
        parts.append(f"{hart_list([h.hart for h in missing])} unreadable")
    return "; " + ", ".join(parts) if parts else ""
