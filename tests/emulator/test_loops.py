"""harness.emulator.loops: a guest loop compiled into a region runs the guest the interpreter
alone runs, instruction for instruction.

Each test runs a bare-metal guest on the interpreter twice in this process, with regions (every
hot loop compiled at once) and without, and compares what the guest shows: the console, every
hart's instruction count after every scheduling round, the traps taken and the registers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.emulator import interp, loops
from harness.emulator.console import MemoryConsole
from harness.emulator.cpu import Hart
from harness.emulator.devices.test import MachineExit
from harness.emulator.machine import Machine, MachineConfig
from harness.emulator.ops import Op

from .conftest import PROGRAMS, build_elf, link, needs_gcc, run_elf

pytestmark = needs_gcc

# Far more rounds than the programs need: a hang fails instead of running on.
MAX_ROUNDS = 20000


Run = tuple[bytes, list[list[int]], Machine, int]


def run(elf: Path, smp: int, compiled: bool, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run ``elf`` on the interpreter to power-off, with every hot loop compiled at once (and built
    again with its passes in line after its first run) or with none: console, instruction counts
    per hart after each round, the machine and its exit status."""
    monkeypatch.setenv("HARTBEAT_EMU_ENGINE", "interp")
    monkeypatch.setenv("HARTBEAT_EMU_LOOPS", "1" if compiled else "0")
    with monkeypatch.context() as patch:
        patch.setattr(loops, "HEAT", 1)
        # Each region runs once as first built, then with its passes in line.
        patch.setattr(loops, "INLINE_AFTER", 0)
        console = MemoryConsole()
        machine = Machine(MachineConfig(board="virt", smp=smp, bios="none", kernel=str(elf)), console)
        rounds: list[list[int]] = []
        with pytest.raises(MachineExit) as exited:
            while len(rounds) < MAX_ROUNDS:
                if not machine.step_round():
                    machine.idle()
                rounds.append([h.icount for h in machine.harts])
        rounds.append([h.icount for h in machine.harts])
        console.flush()
    return bytes(console.output), rounds, machine, exited.value.status


def assert_same(plain: Run, compiled: Run) -> None:
    out_p, rounds_p, machine_p, status_p = plain
    out_c, rounds_c, machine_c, status_c = compiled
    assert out_c == out_p
    assert status_c == status_p
    first = next((i for i, (a, b) in enumerate(zip(rounds_p, rounds_c, strict=False)) if a != b), None)
    assert first is None, f"round {first + 1}: interpreter {rounds_p[first]}, with regions {rounds_c[first]}"
    assert len(rounds_c) == len(rounds_p)
    assert [h.traps for h in machine_c.harts] == [h.traps for h in machine_p.harts]
    assert [h.x for h in machine_c.harts] == [h.x for h in machine_p.harts]
    assert [h.pc for h in machine_c.harts] == [h.pc for h in machine_p.harts]


@pytest.fixture(scope="module")
def hot_loops(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run]:
    """programs/hot_loops.S on 2 harts, without regions and with every hot loop compiled."""
    elf = link(PROGRAMS / "hot_loops.S", tmp_path_factory.mktemp("hot_loops") / "hot_loops.elf")
    with pytest.MonkeyPatch.context() as monkeypatch:
        return run(elf, 2, False, monkeypatch), run(elf, 2, True, monkeypatch)


def test_every_path_of_a_region_runs_the_guest_the_interpreter_runs(hot_loops: tuple[Run, Run]) -> None:
    plain, compiled = hot_loops
    out, _, machine, status = plain
    # The guest did what the test is about: its text through the UART loop, a checksum, the
    # hole's faults (200 loads), and no region without the compiled loops.
    assert status == 0
    lines = out.decode().split("\n")
    assert lines[0] == "hot loops: the UART written and read in a compiled loop", out
    assert len(lines[1]) == 16 and int(lines[1], 16), out
    assert machine.harts[0].traps >= 200
    assert loops.summary(machine.harts) == (0, 0)
    # With them, most of what hart 0 ran ran in regions, among them the store loop's, the
    # device loop's and the patched one's.
    count, ran = loops.summary(compiled[2].harts)
    assert count >= 5
    assert ran > compiled[2].harts[0].icount // 2
    assert_same(plain, compiled)


class Counted(int):
    """An int that counts the comparisons made with it."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        self.compared += 1
        return int(self) == other

    def __lt__(self, other: int) -> bool:
        self.compared += 1
        return int(self) < other

    __hash__ = int.__hash__


def test_a_region_finds_each_of_its_blocks_in_log2_comparisons() -> None:
    # A jump between blocks dispatches on the pc: a tree of comparisons, not a chain of one per
    # block (each comparison is a guard in PyPy's trace of the region's loop).
    starts = list(range(0x1000, 0x1000 + 4 * 100, 4))
    blocks = {start: [f"            return {start} - n"] for start in starts}
    lines = loops._dispatch(starts, blocks, 0)
    depths = [(len(line) - len(line.lstrip()) - 8) // 4 for line in lines if line.lstrip().startswith("if pc == ")]
    assert len(depths) == 100
    assert max(depths) <= 7
    namespace: dict[str, object] = {}
    exec("def dispatch(pc, n):\n    while True:\n" + "\n".join(lines) + "\n    return None\n", namespace)
    dispatch = namespace["dispatch"]
    assert callable(dispatch)
    assert [dispatch(start, 1) for start in starts] == [start - 1 for start in starts]
    # Counted: at most 7 comparisons down the tree and one at the leaf, for every block.
    for start in starts:
        pc = Counted(start)
        dispatch(pc, 0)
        assert pc.compared <= 8, (hex(start), pc.compared)
    # A pc between blocks, before the first or past the last leaves the region.
    assert [dispatch(pc, 1) for pc in (0x1002, 0xFFC, 0x1000 + 4 * 100, -1)] == [None] * 4


POWER_OFF_IN_A_LOOP = r"""
    .equ TEST, 0x100000
    .option norvc
    .section .text.entry, "ax"
    .globl _start
_start:
    bnez a0, park
    li s1, 3000
    li s2, TEST
    li s3, 0x5555
1:  addi s1, s1, -1
    seqz t0, s1
    mul t0, t0, s3                  # 0x5555 on the last pass: the test device powers off
    sw t0, 0(s2)
    add s4, s4, s1
    j 1b
park:
    wfi
    j park
"""


def ran_in_regions(elf: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """Run ``elf`` to its power-off with regions and without, check both ran the guest alike, and
    give the instructions run in regions."""
    plain = run(elf, 1, False, monkeypatch)
    compiled = run(elf, 1, True, monkeypatch)
    assert plain[3] == 0
    assert_same(plain, compiled)
    return loops.summary(compiled[2].harts)[1]


def test_a_device_write_that_powers_off_inside_a_region_counts_as_the_interpreter_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "power_off.S"
    source.write_text(POWER_OFF_IN_A_LOOP)
    elf = link(source, tmp_path / "power_off.elf")
    # The write that powered off ran in a region (the loop ran 3000 times, compiled after 16).
    assert ran_in_regions(elf, monkeypatch) > 2000 * 6


PASSES = 3000


def a_program(tmp_path: Path, name: str, body: str, functions: str = "") -> Path:
    """A bare-metal program: hart 0 runs ``body`` and powers off, other harts wait; ``functions``
    follow."""
    source = tmp_path / f"{name}.S"
    source.write_text(
        '    .equ TEST, 0x100000\n    .option norvc\n    .section .text.entry, "ax"\n    .globl _start\n'
        f"_start:\n    bnez a0, park\n{body}\n    li t0, TEST\n    li t1, 0x5555\n    sw t1, 0(t0)\n"
        f"park:\n    wfi\n    j park\n{functions}"
    )
    return link(source, tmp_path / f"{name}.elf")


A_PASS_OF_BLOCKS = f"""
    li s1, {PASSES}
1:  andi t0, s1, 1                  # odd passes one way, even the other
    beqz t0, 2f
    addi s2, s2, 3
    j 3f
2:  addi s2, s2, 5
3:  mv a0, s2
    jal twice                       # a call, and its return into the pass
    mv s2, a0
    addi s1, s1, -1
    bnez s1, 1b
"""
TWICE = """
twice:
    slli a0, a0, 1
    xori a0, a0, 0x2b
    ret
"""


def test_a_pass_through_a_loop_of_blocks_and_a_call_is_one_trip_of_the_regions_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PyPy compiles a region's `while` loop one trip at a time: the blocks a pass goes through
    # from the loop's head are written in line after it (the callee and the code its return
    # comes back to as well), so that one trace holds the whole pass, not one block.
    elf = a_program(tmp_path, "blocks", A_PASS_OF_BLOCKS, TWICE)
    plain = run(elf, 1, False, monkeypatch)
    trips = [0]

    def counted(*args: object) -> str:
        text = original(*args)  # type: ignore[arg-type]
        if len(args) < 4 or args[3] is None:
            return text  # as first built, before its passes are in line (the first quantum)
        loop = next(line for line in text.split("\n") if line.strip() == "while True:")
        inside = " " * (len(loop) - len(loop.lstrip()) + 4)
        return text.replace(f"{loop}\n", f"{loop}\n{inside}trips[0] += 1\n", 1)

    original = loops._source
    monkeypatch.setattr(loops, "_source", counted)
    monkeypatch.setitem(loops._GLOBALS, "trips", trips)
    monkeypatch.setattr(loops, "_COMPILED", {})
    compiled = run(elf, 1, True, monkeypatch)
    assert plain[3] == 0
    ran = loops.summary(compiled[2].harts)[1]
    # Most passes (11 or 12 instructions) ran in the region, compiled after the first few, and
    # after its first quantum with the passes in line, each in one trip:
    # four or five a pass, one per block, without the blocks in line.
    assert ran > (PASSES - 100) * 11
    assert PASSES // 2 < trips[0] < PASSES * 1.1, (trips[0], ran)
    assert_same(plain, compiled)


A_CALL_THROUGH_A_REGISTER = f"""
    la s4, follows
    li s1, {PASSES}
1:  mv a0, s2
    jal first
    jalr s4                         # a function pointer to the code after first's return
    mv s2, a0
    addi s1, s1, -1
    bnez s1, 1b
"""
FIRST_AND_FOLLOWS = """
first:
    addi a0, a0, 7
    ret
follows:                            # as U-Boot's timer read, called through its driver's ops
    xori a0, a0, 0x15
    ret
"""


def test_a_function_after_a_return_called_through_a_register_runs_in_the_region(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A region takes in the code after each `ret` (another function often follows) and keeps it
    # where its dispatch finds it, in line or not: a pass calls it through a register without
    # leaving the region (U-Boot's SPI read did, at every time read, when only a call's return
    # site was kept: 90 M of its instructions went back to the interpreter).
    elf = a_program(tmp_path, "pointer", A_CALL_THROUGH_A_REGISTER, FIRST_AND_FOLLOWS)
    # 10 instructions a pass: most passes ran in the region.
    assert ran_in_regions(elf, monkeypatch) > (PASSES - 100) * 10


def a_loop_calling_through(pointer: str) -> str:
    """A loop of PASSES passes, each calling ``pointer``'s function through a register."""
    return f"""
    la s4, {pointer}
    li s1, {PASSES}
1:  mv a0, s2
    jalr s4                         # the only way to {pointer}: a function pointer
    mv s2, a0
    addi s1, s1, -1
    bnez s1, 1b
"""


# After `j park` (a_program): no branch or call of the loop's reaches them.
FAR = """
far:
    xori a0, a0, 0x15
    addi a0, a0, 3
    ret
"""
GETTIME = """
gettime:
    rdtime a0                       # the 8th time read of a quantum yields: the region stops after it
    andi a0, a0, 0xff
    ret
"""


def roots_built(elf: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, list[tuple[int, ...]]]:
    """``ran_in_regions`` of ``elf``, and the roots of each region built."""
    builds: list[tuple[int, ...]] = []
    original = loops.build

    def recording_build(*args: Any) -> loops.Region:
        region = original(*args)
        builds.append(region.roots)
        return region

    monkeypatch.setattr(loops, "build", recording_build)
    return ran_in_regions(elf, monkeypatch), builds


def test_a_function_only_a_pointer_reaches_is_taken_into_the_region_its_loop_leaves_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loop leaves its region for `far` every pass (8 instructions): judged after its first
    # entries, the region is built again with `far` as a root rather than dropped, and the
    # `ret` comes back into it (U-Boot SPL's delay loop calls its timer through the driver's
    # ops: its region was dropped and 9 M instructions of the card's boot ran interpreted).
    ran, builds = roots_built(a_program(tmp_path, "far", a_loop_calling_through("far"), FAR), monkeypatch)
    assert any(builds), builds
    assert ran > (PASSES - 200) * 8, (ran, builds)


def test_a_region_is_not_built_again_for_an_instruction_of_its_own_it_stops_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With `gettime` a root, the region stops after every 8th time read (a yield), at the `andi`
    # it holds: that is no root (its build would change nothing), and the region, still entered
    # for a few dozen instructions at a time, is dropped after its second build.
    elf = a_program(tmp_path, "gettime", a_loop_calling_through("gettime"), GETTIME)
    with_roots = [roots for roots in roots_built(elf, monkeypatch)[1] if roots]
    assert with_roots and all(roots == with_roots[0] and len(roots) == 1 for roots in with_roots), with_roots


def test_a_jump_through_a_register_to_a_block_written_in_line_stays_in_the_region(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 3f is reached by a branch (so written in line after the head) and, every other pass,
    # through a register (a switch's jump table to a label a bounds check also reaches): the
    # dispatch must still find it, or the region leaves there every other pass and is dropped.
    elf = a_program(
        tmp_path,
        "table",
        f"""
    li s1, {PASSES}
1:  addi s1, s1, -1
    andi t2, s1, 1
    beqz t2, 3f
    la t1, 3f
    jr t1
2:  j 1b
3:  addi s2, s2, 7
    bnez s1, 1b
""",
    )
    # 5 or 7 instructions a pass: most of them in the region.
    assert ran_in_regions(elf, monkeypatch) > (PASSES - 100) * 5


def test_a_chain_of_branches_each_taken_into_the_next_is_written_no_deeper_than_python_compiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each branch taken in line nests a level deeper; 110 of them in a pass went past the 100
    # levels CPython compiles (IndentationError out of the build, ending the run).
    elf = a_program(
        tmp_path,
        "chain",
        f"""
    li s1, {PASSES // 10}
1:  addi s1, s1, -1
    .rept 110
    bnez s1, .+8
    addi s2, s2, 1
    .endr
    bnez s1, 1b
""",
    )
    assert ran_in_regions(elf, monkeypatch) > (PASSES // 10 - 20) * 110


def test_a_region_is_dropped_when_its_page_is_mapped_elsewhere_or_its_code_changes(
    hot_loops: tuple[Run, Run],
) -> None:
    machine = hot_loops[1][2]
    h = machine.harts[0]
    itlb = h.interp.itlb_sets[h.fetch_key]
    regions = [r for r in h.interp.loop_sets[h.fetch_key].values() if r.fn is not None]
    assert regions
    region = regions[0]
    assert region.current(itlb, h.interp.code_epoch)
    # Rewritten code: a slot it was built from holds another Op once code was dropped anywhere.
    vpn, code, slots = region.pages[0]
    slot, op = slots[0]
    code[slot] = None
    assert not region.current(itlb, h.interp.code_epoch + 1)
    code[slot] = op
    assert region.current(itlb, h.interp.code_epoch + 1)
    # Remapped: the instruction TLB gives another slot list for the page.
    saved = itlb.pop(vpn)
    assert not region.current(itlb, h.interp.code_epoch + 1)
    itlb[vpn] = (saved[0], list(saved[1]))
    assert not region.current(itlb, h.interp.code_epoch + 1)
    itlb[vpn] = saved


def test_a_head_whose_first_instruction_a_region_cannot_run_gets_no_region(hot_loops: tuple[Run, Run]) -> None:
    machine = hot_loops[1][2]
    h = machine.harts[0]
    itlb = h.interp.itlb_sets[h.fetch_key]
    # The trap handler's first instruction reads a CSR: a system instruction stays the
    # interpreter's. And a pc not decoded at all.
    trap = h.mtvec
    assert loops.build(itlb, interp._signed(trap), 0) is loops.NO_REGION
    assert loops.build(itlb, interp._signed(0x80000000 + 0x3FFE), 0) is loops.NO_REGION


def test_a_store_by_another_hart_sharing_the_decoded_pages_drops_the_region(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Harts that decode alike share one slot list per page: the first hart a store reaches
    # clears the slots, the others find nothing to clear, and a region of theirs built from
    # those slots must still be checked again (Interpreter.invalidate, Region.current).
    elf = link(PROGRAMS / "hot_loops.S", tmp_path / "hot_loops.elf")
    machine = run(elf, 2, True, monkeypatch)[2]
    h0, h1 = machine.harts
    assert h0.interp.pages is h1.interp.pages
    itlb = h0.interp.itlb_sets[h0.fetch_key]
    region = next(r for r in h0.interp.loop_sets[h0.fetch_key].values() if r.fn is not None)
    assert region.current(itlb, h0.interp.code_epoch)
    vpn, code, slots = region.pages[0]
    slot = slots[0][0]
    ppn = itlb[vpn][0] >> 12
    start = ppn << 12 | slot << 1
    h1.interp.invalidate(ppn, start, start + 2, h1)
    h0.interp.invalidate(ppn, start, start + 2, h1)
    assert code[slot] is None
    assert not region.current(itlb, h0.interp.code_epoch)


# U-Boot's SiFive SPI driver, as the FU740's firmware reads an SD card: for every 8 bytes it fills
# the FIFO in a loop tested at its top (the closing jump taken 8 times) and drains it in one
# tested at its bottom (7 times). Neither loop runs 16 passes in a row.
FIFO_FILLS = r"""
_start:
    li s0, 3000            # FIFO fills
    la s1, buf
    li s2, 0               # checksum
    li t1, 8
fill:
    li t0, 0
tx: beq t0, t1, txdone
    add t2, s1, t0
    sb t0, 0(t2)
    addi t0, t0, 1
    j tx
txdone:
    li t0, 0
rx: add t2, s1, t0
    lbu t3, 0(t2)
    add s2, s2, t3
    addi t0, t0, 1
    bltu t0, t1, rx
    addi s0, s0, -1
    bnez s0, fill
    li t0, 3000 * 28       # 0 + 1 + ... + 7 per fill
    bne s2, t0, bad
    PASS
bad:
    FAIL 1
    .data
    .balign 4096           # data on a page of its own (stores to a code page leave a region)
buf: .space 8
"""


def assert_mostly_in_regions(tmp_path: Path, source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run ``source`` with regions on and a low heat: its loop gets a region, and after the first
    few hundred passes it runs there (three quarters of its instructions)."""
    monkeypatch.setenv("HARTBEAT_EMU_ENGINE", "interp")
    monkeypatch.setenv("HARTBEAT_EMU_LOOPS", "1")
    # A low heat keeps the test short; what is tested is which runs count as heat at all.
    monkeypatch.setattr(loops, "HEAT", 200)
    result = run_elf(build_elf(tmp_path, source))
    assert result.status == 0, result.output
    count, ran = loops.summary(result.machine.harts)
    assert count >= 1
    assert ran > result.machine.harts[0].icount * 3 // 4


def test_a_loop_of_eight_passes_entered_again_and_again_gets_a_region(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_mostly_in_regions(tmp_path, FIFO_FILLS, monkeypatch)


# A loop the compiler laid out with two backward jumps per pass, as Linux's __free_pages_ok frees
# the pages of a 16 GiB board: the test at the top jumps forward to the body, which calls a
# function and then jumps back to the increment (`j next`), and the increment jumps back to the
# test (`j head`). The two edges cross; counting only runs of one edge, the loop started again
# twice a pass and never got hot.
CROSSING_BACK_EDGES = r"""
_start:
    li s0, 300             # entries
    li s2, 0               # checksum
outer:
    li s3, 0
    li s4, 64              # passes per entry
head:
    blt s3, s4, body
    addi s0, s0, -1
    bnez s0, outer
    li t0, 300 * 2016      # 0 + 1 + ... + 63 per entry
    bne s2, t0, bad
    PASS
bad:
    FAIL 1
next:
    addi s3, s3, 1
    j head
body:
    mv a0, s3
    call weigh
    bnez a1, next
    add s2, s2, a0
    j next
weigh:
    li a1, 0
    ret
"""


def test_a_loop_closed_by_two_crossing_backward_jumps_gets_a_region(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_mostly_in_regions(tmp_path, CROSSING_BACK_EDGES, monkeypatch)


def test_a_region_of_a_loop_with_crossing_backward_jumps_runs_as_the_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain, compiled = lockstep(tmp_path, CROSSING_BACK_EDGES, monkeypatch)
    assert plain[3] == 0
    assert_same(plain, compiled)


# A FIFO fill of 8 passes (it gets hot and becomes a region's head), a drain of 5 passes and the
# loop around both: the drain and the outer loop never run 7 passes in a row, so their heads get
# no region of their own, yet both are inside the fill's region. A quantum that ends in the drain
# (half the instructions) starts the next one there; its first loop closed is the drain's.
INNER_LOOPS = r"""
_start:
    li s0, 3000            # outer passes
    li s2, 0
    li s3, 0
    li t2, 8
outer:
    li t0, 0
fill:
    beq t0, t2, filled
    add s2, s2, t0
    addi t0, t0, 1
    j fill
filled:
    li t1, 5
drain:
    add s3, s3, s2
    xor s4, s3, s2
    add s3, s3, s4
    srli s3, s3, 1
    addi t1, t1, -1
    bnez t1, drain
    addi s0, s0, -1
    bnez s0, outer
    PASS
"""


def recorded_entries(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Record (region head, pc it was entered at) for every run of a region built from now on."""
    entries: list[tuple[int, int]] = []
    build = loops.build

    def recording_build(
        itlb: dict[int, tuple[int, list[Op | None]]],
        head: int,
        epoch: int,
        in_line: bool = False,
        roots: tuple[int, ...] = (),
    ) -> loops.Region:
        region = build(itlb, head, epoch, in_line, roots)
        fn = region.fn
        if fn is not None:

            def run(h: Hart, x: list[int], n: int, limit: int, pc: int) -> tuple[int, int]:
                entries.append((head, pc))
                return fn(h, x, n, limit, pc)

            region.fn = run
        return region

    monkeypatch.setattr(loops, "build", recording_build)
    return entries


def test_a_quantum_that_starts_inside_a_regions_inner_loop_goes_on_in_that_region(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = recorded_entries(monkeypatch)
    plain, compiled = lockstep(tmp_path, INNER_LOOPS, monkeypatch)
    assert plain[3] == 0
    assert_same(plain, compiled)
    # Some runs of the fill's region began at the drain's head or the outer loop's.
    assert any(pc != head for head, pc in entries), entries[:10]


# As INNER_LOOPS, but every outer pass rewrites the drain's first instruction (its head) between
# `addi s3, s3, 1` and `addi s3, s3, 2`, from the fill's region: the first loop closed after the
# store is the drain's, whose region was built from the code before it (a reviewer's guest; it
# ends with status 1 if the region is entered there without checking its code is still current).
INNER_HEAD_REWRITTEN = r"""
    .option norvc
_start:
    li s0, 300
    li s2, 0
    li s3, 0
    li t2, 8
    la s1, site
    lw s5, 0(s1)           # addi s3, s3, 1
    lw s4, alt             # addi s3, s3, 2
    xor s4, s4, s5
outer:
    li t0, 0
fill:
    beq t0, t2, filled
    add s2, s2, t0
    addi t0, t0, 1
    j fill
filled:
    lw t0, 0(s1)
    xor t0, t0, s4         # the other of the two instructions
    sw t0, 0(s1)
    li t1, 5
drain:
site:
    addi s3, s3, 1
    addi t1, t1, -1
    bnez t1, drain
    addi s0, s0, -1
    bnez s0, outer
    li t0, 150 * 5 * 2 + 150 * 5 * 1
    bne s3, t0, bad
    PASS
bad:
    FAIL 1
alt:
    addi s3, s3, 2
"""


def test_a_region_entered_at_an_inner_head_whose_code_changed_runs_the_new_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = recorded_entries(monkeypatch)
    plain, compiled = lockstep(tmp_path, INNER_HEAD_REWRITTEN, monkeypatch)
    assert plain[3] == 0
    assert entries
    assert_same(plain, compiled)


# A loop that reads a word of its own code page and then rewrites an instruction on that page,
# which it runs next. The read TLB maps the page; the write TLB never does (stores to decoded code
# take the slow path, which drops the decoded instruction). A region that took the read TLB's
# page for the store would write RAM behind the decoded instruction, and the old one would run.
CODE_PAGE_READ_THEN_WRITTEN = r"""
    .option norvc          # whole 4-byte words to read and write
_start:
    li s0, 600
    li s2, 0
    la s1, site
    lw s3, 0(s1)           # addi s2, s2, 1
    lw s4, alt             # addi s2, s2, 2
    xor s4, s4, s3
loop:
    lw t0, 0(s1)
    xor t0, t0, s4         # the other of the two instructions
    sw t0, 0(s1)
site:
    addi s2, s2, 1
    addi s0, s0, -1
    bnez s0, loop
    li t1, 300 * 2 + 300 * 1
    bne s2, t1, bad
    PASS
bad:
    FAIL 1
alt:
    addi s2, s2, 2
"""


def lockstep(tmp_path: Path, source: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Run, Run]:
    """``source`` (after the test prelude) on one hart, without regions and with every hot loop
    compiled at once."""
    elf = build_elf(tmp_path, source)
    return run(elf, 1, False, monkeypatch), run(elf, 1, True, monkeypatch)


def test_a_region_reading_a_code_page_still_writes_it_through_the_slow_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain, compiled = lockstep(tmp_path, CODE_PAGE_READ_THEN_WRITTEN, monkeypatch)
    assert plain[3] == 0
    assert loops.summary(compiled[2].harts)[0] >= 1
    assert_same(plain, compiled)


# A store in a region through virtual page S (mapped to physical page P: the write TLB holds S),
# then the page table entry behind S changed to another page without sfence.vma, then a load
# whose page walk goes through P for the first time: P becomes a watched page table and S
# leaves the write TLB (codecache.watch_table). The interpreter walks S again at its next store
# and sees the new entry (status 0: the later stores reach P2); a region still using the write
# page it kept would go on storing to P (FAIL 2). Either is allowed by the spec (no sfence.vma);
# regions must do what the interpreter does.
WALK_DROPS_A_WRITE_PAGE = r"""
_start:
    la t0, trap
    csrw mtvec, t0
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    la s0, root
    la s1, midB
    la s2, ptP
    la s3, ptQ
    la s4, dataD
    la s5, pageP2
    li t0, 0xC7                       # root[0]: 0-1 GiB identity (devices), V R W A D
    sd t0, 0(s0)
    li t0, (0x80000 << 10) | 0xCF     # root[2]: 2-3 GiB identity, V R W X A D
    sd t0, 16(s0)
    srli t0, s1, 12
    slli t0, t0, 10
    ori t0, t0, 1
    sd t0, 8(s0)                      # root[1] -> midB (VA 0x40000000)
    srli t0, s2, 12
    slli t0, t0, 10
    ori t0, t0, 1
    sd t0, 0(s1)                      # midB[0] -> P
    srli t0, s3, 12
    slli t0, t0, 10
    ori t0, t0, 1
    sd t0, 8(s1)                      # midB[1] -> Q
    srli t0, s4, 12
    slli t0, t0, 10
    ori t0, t0, 0xC7
    sd t0, 0(s2)                      # P[0] -> D   (VA 0x40000000)
    srli t0, s2, 12
    slli t0, t0, 10
    ori t0, t0, 0xC7
    sd t0, 0(s3)                      # Q[0] -> P   (VA 0x40200000 = S, an alias of P)
    srli t0, s0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    sfence.vma
    li t0, 1 << 11
    csrs mstatus, t0                  # MPP = S
    la t0, smode
    csrw mepc, t0
    mret
smode:
    li a0, 0x40200000
    sd zero, 8(a0)                    # write TLB: S -> P (walk root, midB, Q)
    srli t0, s5, 12
    slli t0, t0, 10
    ori t0, t0, 0xC7
    sd t0, 0(s3)                      # Q[0] -> P2, no sfence.vma (the TLB may keep S -> P)
    li s6, 400
    li t0, 0x40000000
    sub s8, t0, s4
loop:
    sd s6, 16(a0)                     # store to S
    sltiu t2, s6, 100
    neg t2, t2
    and t3, t2, s8
    add t4, s4, t3
    ld t1, 0(t4)                      # from s6 = 99: VA 0x40000000, first walk through P
    addi s6, s6, -1
    bnez s6, loop
    ld t0, 16(s2)                     # P + 16
    ld t1, 16(s5)                     # P2 + 16
    li t2, 99
    bne t0, t2, 1f
    li t2, 1
    bne t1, t2, 1f
    PASS                              # the interpreter: S re-walked after the drop -> P2
1:  li t2, 1
    bne t0, t2, 2f
    bnez t1, 2f
    FAIL 2                            # every store to S went to P
2:  FAIL 3
trap:
    FAIL 9
    .data
    .balign 4096
root: .space 4096
midB: .space 4096
ptP: .space 4096
ptQ: .space 4096
dataD: .space 4096
pageP2: .space 4096
"""


def test_a_walk_inside_a_region_that_drops_a_write_page_is_seen_by_the_region(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain, compiled = lockstep(tmp_path, WALK_DROPS_A_WRITE_PAGE, monkeypatch)
    assert plain[3] == 0
    assert loops.summary(compiled[2].harts)[1] > 0
    assert_same(plain, compiled)


# A loop one of whose 4-byte instructions starts at a page's last halfword (its upper half on
# the next page), fetched untranslated, as the FU740 SPL's SPI byte loop has a `fence` at the L2
# LIM's 0x0800bffe: the interpreter keeps such an instruction decoded (keep_straddling), and the
# region runs it too instead of ending before it every pass.
STRADDLING = r"""
    .option norvc          # 4-byte instructions but for the two c.nop
_start:
    li s0, 30000
    li s2, 0
    li s3, 0
    j loop
    .balign 4096
    .space 4096 - 14
loop:                      # 14 bytes before the page's end
    addi s2, s2, 1
    addi s0, s0, -1
    .2byte 0x0001          # c.nop: the next instruction starts 2 bytes before the page's end
    .2byte 0x0001
    add s3, s3, s2         # straddles
    bnez s0, loop
    li t0, 30000 * 30001 / 2
    bne s3, t0, bad
    PASS
bad:
    FAIL 1
"""


def test_a_loop_with_an_instruction_across_a_page_end_runs_in_its_region(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ending before the instruction every pass, the region ran 4 instructions an entry and was
    # dropped: 0.3 % of the loop in regions.
    assert_mostly_in_regions(tmp_path, STRADDLING, monkeypatch)


# The same instruction turned from `add` into `sub` and back by a store to its upper half, on
# the next page, between runs of 50 passes: a region holding it must run the instruction as it
# is now (s3 ends at 0; a stale one leaves -1000 or 1000).
STRADDLING_REWRITTEN = r"""
    .option norvc
_start:
    li s0, 20
    li s3, 0
    li t1, 1
    la s1, upper           # the straddling instruction's upper half
    li s4, 0x4000          # bit 30 of the word: add <-> sub
outer:
    lhu t0, 0(s1)
    xor t0, t0, s4
    sh t0, 0(s1)
    li t2, 50
    j loop
    .balign 4096
    .space 4096 - 10
loop:
    addi t2, t2, -1
    .2byte 0x0001
    .2byte 0x0001
    add s3, s3, t1         # straddles: sub on odd runs of the outer loop, add on even
upper = . - 2
    bnez t2, loop
    addi s0, s0, -1
    bnez s0, outer
    bnez s3, bad
    PASS
bad:
    FAIL 1
"""


def test_a_region_runs_an_instruction_across_a_page_end_as_a_store_to_the_next_page_left_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain, compiled = lockstep(tmp_path, STRADDLING_REWRITTEN, monkeypatch)
    assert plain[3] == 0
    assert loops.summary(compiled[2].harts)[1] > 20 * 40 * 4
    assert_same(plain, compiled)


# Two harts sharing decoded pages: hart 0 runs a `j` across a page's end once (the interpreter
# keeps it decoded, and hart 0 claims the next page), then hart 1 loops through it, from its
# region, without decoding it itself. Hart 0 then turns `j blka` into `j blkb` by a store to the
# upper half: only hart 0 is told, yet hart 1's region must take the new jump (hart 1 counts its
# passes through blkb in s3 - s5; a region running the old jump left it at 36 of 57,143).
STRADDLING_SHARED = r"""
    .option norvc
    .option norelax
_start:
    la s1, upper
    la s6, flags
    bnez a0, hart1
    li t0, 1
    sd t0, 0(s6)           # stop = 1
    jal ra, jmp            # hart 0 runs the jump once: decoded and kept
    sd zero, 0(s6)         # stop = 0
    li t0, 1
    sd t0, 8(s6)           # go
    li t1, 200000
1:  addi t1, t1, -1
    bnez t1, 1b
    lhu t0, 0(s1)
    xori t0, t0, 0x80      # `j blka` -> `j blkb`
    sh t0, 0(s1)
    fence.i
    li t1, 200000
1:  addi t1, t1, -1
    bnez t1, 1b
    li t0, 1
    sd t0, 0(s6)           # stop
2:  ld t0, 16(s6)
    beqz t0, 2b
    ld t0, 24(s6)          # hart 1's passes through blkb
    li t1, 1000
    blt t0, t1, bad
    PASS
bad:
    FAIL 1
hart1:
    ld t0, 8(s6)
    beqz t0, hart1
    li s3, 0
    li s5, 0
    jal ra, head
    sub t0, s3, s5
    sd t0, 24(s6)
    li t0, 1
    sd t0, 16(s6)
park:
    wfi
    j park
    .balign 4096
    .space 4096 - 32
out:
    ret
    .space 12
head:
    addi s5, s5, 1
    ld t0, 0(s6)
    bnez t0, out
    .2byte 0x0001          # c.nop: the jump starts 2 bytes before the page's end
jmp:
    j blka                 # straddles
upper = . - 2
    .balign 4096
    .space 4096
blka:
    addi s3, s3, 1
    j head
blkb:
    addi s3, s3, 2
    j head
    .data
    .balign 4096
flags: .space 64
"""


def test_a_region_sees_a_store_to_an_instruction_across_a_page_end_that_another_hart_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elf = build_elf(tmp_path, STRADDLING_SHARED)
    plain, compiled = run(elf, 2, False, monkeypatch), run(elf, 2, True, monkeypatch)
    harts = compiled[2].harts
    assert all(h.interp.pages is harts[0].interp.pages for h in harts)
    assert plain[3] == 0
    assert loops.summary(harts)[1] > 100_000
    assert_same(plain, compiled)
