"""Each hart's class from its samples, and the one-line diagnosis of the whole system."""

from __future__ import annotations

from dataclasses import astuple

from harness.autopsy.classify import cause_name, classify, diagnose, hart_list, interrupt_names
from harness.autopsy.model import (
    DiagnosisKind,
    HartAutopsy,
    HartClass,
    HartSample,
    HartState,
    Location,
    LoopWait,
    Privilege,
    TrapCsrs,
)

SPIN = Location("qsoe.elf", "spin_lock", 0x10, "lock.c", 12)


def state(
    hart: int = 0, pc: int = 0x80000324, *, wfi: bool = False, mip: int = 0, mie: int = 0, **kw: int
) -> HartState:
    return HartState(
        hart=hart, mode=Privilege.M, pc=pc, ra=0, sp=0, fp=0, wfi=wfi, mstatus=0, mip=mip, mie=mie, satp=0,
        m_trap=TrapCsrs(kw.get("cause", 0), kw.get("epc", 0), 0), instret=kw.get("instret"), traps=kw.get("traps"),
    )  # fmt: skip


def samples(pcs: list[int], instret: list[int | None], *, wfi: bool = False, traps: list[int] | None = None):
    return tuple(
        HartSample(0.1 * i, pc, n, None if traps is None else traps[i], wfi, Privilege.M)
        for i, (pc, n) in enumerate(zip(pcs, instret, strict=True))
    )


def in_lock(address: int) -> Location | None:
    return SPIN if 0x80000310 <= address < 0x80000340 else None


def test_in_wfi_with_nothing_pending_and_enabled_is_idle() -> None:
    s = samples([0x80000DFE] * 3, [10, 10, 10], wfi=True)
    # MSIP enabled but not pending: nothing can wake the hart.
    klass, note, *_ = astuple(classify(s, state(pc=0x80000DFE, wfi=True, mie=0x8), in_lock))
    assert klass is HartClass.IDLE and "no enabled interrupt pending" in note


def test_a_sleeping_hart_woken_for_one_sample_is_still_idle() -> None:
    # Sampled five times, once while it handled a tick (QEMU and the tiny Linux's idle CPU).
    s = tuple(
        HartSample(0.1 * i, 0x80001CAA if i != 2 else 0x80004000, None, None, i != 2, Privilege.S) for i in range(5)
    )
    result = classify(s, state(pc=0x80001CAA, wfi=True, mie=0x222), in_lock)
    assert result.klass is HartClass.IDLE
    assert result.note == "idle in wfi in S-mode, no enabled interrupt pending (awake in 1 of 5 samples)"
    assert result.pc == 0x80001CAA
    # Awake in most samples: not idle.
    awake = tuple(HartSample(0.1 * i, 0x80004000 + 4 * i, None, None, i < 2, Privilege.S) for i in range(5))
    assert classify(awake, state(pc=0x80004010), in_lock).klass is not HartClass.IDLE


def test_wfi_with_an_enabled_interrupt_pending_is_not_idle() -> None:
    s = samples([0x80000DFE] * 3, [10, 10, 10], wfi=True)
    klass = classify(s, state(pc=0x80000DFE, wfi=True, mie=0x8, mip=0x8), in_lock).klass
    assert klass is not HartClass.IDLE


def test_a_few_pcs_in_one_function_with_instructions_growing_is_spinning() -> None:
    s = samples([0x80000324, 0x80000330, 0x80000324], [100, 5000, 9000])
    found = classify(s, state(), in_lock)
    klass, note, pcs = found.klass, found.note, found.loop_pcs
    assert klass is HartClass.SPINNING
    assert "spin_lock (lock.c:12)" in note and "8900 instructions" in note
    assert pcs == (0x80000324, 0x80000330, 0x80000324)  # the loop's pcs, whose code is read next


def test_pcs_far_apart_in_several_functions_is_running() -> None:
    s = samples([0x80000324, 0x80004000, 0x80009000], [1, 2, 3])
    klass = classify(s, state(), in_lock).klass
    assert klass is HartClass.RUNNING


def test_no_instruction_retired_outside_wfi_is_stopped() -> None:
    s = samples([0x80000324] * 3, [7, 7, 7])
    assert classify(s, state(), in_lock).klass is HartClass.STOPPED


def test_a_trap_taken_at_every_sample_is_a_trap_loop() -> None:
    s = samples([0x80000100] * 3, [10, 900, 1800], traps=[4, 200, 400])
    klass, note, *_ = astuple(classify(s, state(cause=2, epc=0x80000324, traps=400), in_lock))
    assert klass is HartClass.TRAP_LOOP
    assert "illegal instruction" in note and "spin_lock" in note


def test_without_an_instruction_count_a_constant_pc_is_spinning_not_stopped() -> None:
    s = samples([0x80000324] * 3, [None, None, None])
    assert classify(s, state(), in_lock).klass is HartClass.SPINNING


def hart(
    n: int, klass: HartClass, where: Location | None = SPIN, note: str = "", loop: LoopWait | None = None
) -> HartAutopsy:
    return HartAutopsy(n, klass, note or klass.value, state=state(n), where=where, loop=loop)


def test_all_harts_idle_is_a_deadlock_in_wfi() -> None:
    diagnosis = diagnose([hart(0, HartClass.IDLE), hart(1, HartClass.IDLE)])
    assert diagnosis.kind is DiagnosisKind.DEADLOCK
    assert diagnosis.summary == "deadlock: all harts idle in wfi, no enabled interrupt pending"


def test_harts_spinning_on_memory_with_nobody_running_are_a_deadlock() -> None:
    other = Location("qsoe.elf", "spin_lock_lrsc", 8, "lock.c", 21)
    diagnosis = diagnose([
        hart(0, HartClass.SPINNING, other, loop=LoopWait.MEMORY),
        hart(1, HartClass.SPINNING, loop=LoopWait.MEMORY),
        hart(2, HartClass.IDLE),
    ])  # fmt: skip
    assert diagnosis.kind is DiagnosisKind.DEADLOCK
    assert diagnosis.summary == (
        "deadlock: harts 0 and 1 spin waiting on memory, no hart runs (hart 0 in spin_lock_lrsc (lock.c:21), "
        "hart 1 in spin_lock (lock.c:12)); hart 2 idle in wfi"
    )


def test_a_spin_that_reads_no_memory_makes_no_deadlock() -> None:
    # The CI run of 7 December: a user program's endless loop beside a hart left in the kernel's
    # boot code by OpenSBI 1.1's hart-start race; neither waits on the other.
    boot = Location("vmlinux", "secondary_start_sbi", 0x1D8)
    diagnosis = diagnose([
        hart(0, HartClass.SPINNING, Location("hbtest", "wedge_spin", 0x20), loop=LoopWait.NOTHING),
        hart(1, HartClass.SPINNING, boot, loop=LoopWait.MEMORY),
    ])  # fmt: skip
    assert diagnosis.kind is DiagnosisKind.SPINNING
    assert diagnosis.summary == (
        "harts 0 and 1 spinning, no hart runs: hart 0 in wedge_spin, in a loop with no exit (waiting for nothing); "
        "hart 1 in secondary_start_sbi, waiting on memory"
    )


def test_spinning_harts_whose_loops_are_unknown_or_count_are_not_called_a_deadlock() -> None:
    unread = diagnose([hart(0, HartClass.SPINNING), hart(1, HartClass.SPINNING, loop=LoopWait.UNKNOWN)])
    assert unread.kind is DiagnosisKind.SPINNING
    assert unread.summary == (
        "harts 0 and 1 spinning, no hart runs (hart 0 in spin_lock (lock.c:12), hart 1 in spin_lock (lock.c:12)); "
        "what their loops wait on is not known"
    )
    counts = diagnose([
        hart(0, HartClass.SPINNING, loop=LoopWait.REGISTERS),
        hart(1, HartClass.SPINNING, loop=LoopWait.MEMORY),
    ])  # fmt: skip
    assert counts.kind is DiagnosisKind.SPINNING
    assert "hart 0 in spin_lock (lock.c:12), leaving on registers only (waiting on no hart); hart 1" in counts.summary


def test_one_hart_spinning_while_the_rest_idle_names_it() -> None:
    diagnosis = diagnose([hart(0, HartClass.SPINNING, note="spinning in U-mode in 0x10a4c")] + [
        hart(i, HartClass.IDLE) for i in range(1, 5)
    ])  # fmt: skip
    assert diagnosis.kind is DiagnosisKind.SPINNING
    assert diagnosis.summary == "hart 0 spinning in U-mode in 0x10a4c; harts 1-4 idle in wfi"


def test_a_trap_loop_comes_first_and_unreadable_harts_are_said() -> None:
    harts = [
        hart(0, HartClass.TRAP_LOOP, note="trap loop: 9 traps"),
        HartAutopsy(1, HartClass.UNAVAILABLE, "x", reason="x"),
    ]
    assert diagnose(harts).kind is DiagnosisKind.TRAP_LOOP
    only_missing = diagnose([HartAutopsy(0, HartClass.UNAVAILABLE, "gone", reason="hart 0 is gone")])
    assert only_missing.summary == "autopsy unavailable: hart 0 is gone"


def test_names() -> None:
    assert (
        hart_list([3]) == "hart 3" and hart_list([1, 0]) == "harts 0 and 1" and hart_list([1, 2, 3, 4]) == "harts 1-4"
    )
    assert hart_list([0, 2, 5]) == "harts 0, 2 and 5"
    assert cause_name(2) == "illegal instruction" and cause_name((1 << 63) | 7) == "interrupt MTI"
    assert interrupt_names(0x88) == "MTI MSI" and interrupt_names(0) == "none"


def test_a_minority_of_samples_caught_in_an_interrupt_does_not_make_a_spin_a_run() -> None:
    # A U-mode loop at 0x10a4c, one sample caught in the kernel's trap entry (a timer tick).
    s = (
        HartSample(0.0, 0x10A4C, 10, None, False, Privilege.U),
        HartSample(0.1, 0x10A50, 20, None, False, Privilege.U),
        HartSample(0.2, 0xFFFFFFFF80003000, 30, None, False, Privilege.S),
        HartSample(0.3, 0x10A4C, 40, None, False, Privilege.U),
        HartSample(0.4, 0x10A4C, 50, None, False, Privilege.U),
    )
    found = classify(s, state(pc=0x10A4C), lambda address: None)
    assert found.klass is HartClass.SPINNING and found.pc == 0x10A4C
    assert found.note == "spinning in U-mode in 0x10a4c, 40 instructions in 0.40 s (elsewhere in 1 of 5 samples)"


def test_timer_ticks_while_spinning_are_not_a_trap_loop() -> None:
    # 100 ticks a second against millions of instructions: a spinning hart, not a trap loop.
    s = samples([0x80000324] * 5, [0, 2_000_000, 4_000_000, 6_000_000, 8_000_000], traps=[0, 12, 25, 37, 50])
    assert classify(s, state(traps=50), in_lock).klass is HartClass.SPINNING
