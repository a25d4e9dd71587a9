"""What a spinning hart's loop waits on, decoded from code the GNU assembler produced."""

from __future__ import annotations

from harness.autopsy.loops import Effect, instructions, loop_wait
from harness.autopsy.model import LoopWait

BASE = 0x80000000
# riscv64-linux-gnu-as -march=rv64imafdc_zicsr of (objdump -d -M no-aliases for the addresses):
#   00 lrsc:      lr.w.aq t0,(a0); bne t0,zero,lrsc; sc.w t0,a1,(a0); bne t0,zero,lrsc (4-byte forms)
#   10 plain:     c.lw a5,0(a0); c.bnez a5,plain                     (while (l->locked);)
#   14 endless:   div a5,a5,zero; .word 0x0100000f (pause); c.j endless
#   1e stack:     c.ldsp a5,8(sp); c.addi a5,1; c.sdsp a5,8(sp); c.j stack
#   26 indirect:  c.jalr a4; c.bnez a0,indirect
#   2a relax:     c.addi sp,-16; c.sdsp s0,8(sp); c.addi4spn s0,sp,16; lw a5,64(gp); blt zero,a5,42;
#                 div a5,a5,zero; 3c: c.ldsp s0,8(sp); c.addi sp,16; c.jr ra; 42: pause; c.j 3c
#                 (Linux 6.1's cpu_relax out of line: a static key read first, a return before its end)
#   48 softlockup: jal ra,relax; c.j softlockup                     (lkdtm_SOFTLOCKUP)
#   4e poll:      c.lw a0,0(a1); c.jr ra
#   52 waitpoll:  jal ra,poll; c.beqz a0,waitpoll
#   58 countdown: c.addi a0,-1; c.bnez a0,countdown
#   5c clock:     csrrs a5,time,zero; bltu a5,a0,clock
#   64 mmio:      c.lw a5,20(a0); andi a5,a5,32; c.beqz a5,mmio
#   6c overwritten: c.lw a5,0(a0); c.li a5,1; c.bnez a5,overwritten
#   72 carried:   c.bnez a5,78; c.lw a5,0(a0); c.j carried; 78: c.nop
#   7a cpuup:     ld sp,0(a1); ld tp,0(a2); beq sp,zero,cpuup; beq tp,zero,cpuup
#                 (Linux 6.1's secondary harts' wait in head.S: the code at 0x802001d8 of 7 December's CI)
#   8a returns:   c.lw a5,0(a0); c.beqz a5,90; c.jr ra; 90: c.j returns
#   92 up:        jal ra,down; c.beqz a0,up; 98 down: c.lw a0,0(a1); c.jr ra   (a caller below its callee)
CODE = bytes.fromhex(
    "af220514e39e02feaf22b518e39a02fe1c41fdffb3c707020f000001e5bfa26785073ee4edbf02977dfd411122e4"
    "000883a701046347f000b3c707022264410182800f000001ddbfeff03ffef5bf88418280eff0dfff75dd7d157dfd"
    "f32710c0e3eea7fe5c4993f70702eddf1c418547f5ff99e31c41f5bf010003b1050003320600e30c01fee30a02fe"
    "1c4191c38280edbfef00600075dd88418280"
)


def read(address: int, size: int) -> bytes | None:
    """Memory holding CODE at BASE (nothing elsewhere), as a probe's read_memory answers."""
    offset = address - BASE
    if offset < 0 or offset >= len(CODE):
        return None
    return CODE[offset : offset + size]


def wait(*offsets: int, ra: int | None = None) -> LoopWait:
    return loop_wait(read, [BASE + o for o in offsets], None if ra is None else BASE + ra)


def test_the_forms_that_matter_decode_with_their_registers_and_targets() -> None:
    decoded = {i.address - BASE: i for i in instructions(CODE, BASE)}
    assert sum(i.size for i in decoded.values()) == len(CODE)
    lr, bne = decoded[0x00], decoded[0x04]
    assert (lr.effect, lr.rd, lr.sources) == (Effect.READ, 5, (10, 0))  # lr.w: t0 from (a0)
    assert (bne.effect, bne.target, bne.sources) == (Effect.BRANCH, BASE, (5, 0))
    assert (decoded[0x10].effect, decoded[0x10].rd, decoded[0x10].sources) == (Effect.READ, 15, (10,))  # c.lw
    assert (decoded[0x12].effect, decoded[0x12].target) == (Effect.BRANCH, BASE + 0x10)  # c.bnez
    assert (decoded[0x1C].effect, decoded[0x1C].target) == (Effect.JUMP, BASE + 0x14)  # c.j
    assert (decoded[0x1E].effect, decoded[0x1E].rd) == (Effect.STACK, 15)  # c.ldsp
    assert (decoded[0x26].effect, decoded[0x26].target) == (Effect.CALL, None)  # c.jalr
    assert (decoded[0x2E].rd, decoded[0x2E].sources) == (8, (2,))  # c.addi4spn s0,sp
    assert (decoded[0x34].effect, decoded[0x34].target) == (Effect.BRANCH, BASE + 0x42)  # blt forwards
    assert decoded[0x40].effect is Effect.RETURN  # c.jr ra
    assert (decoded[0x48].effect, decoded[0x48].target, decoded[0x48].rd) == (Effect.CALL, BASE + 0x2A, 1)
    assert (decoded[0x5C].effect, decoded[0x5C].rd) == (Effect.CSR, 15)  # csrr a5,time
    assert (decoded[0x66].rd, decoded[0x66].sources) == (15, (15,))  # andi
    assert (decoded[0x6E].rd, decoded[0x6E].sources) == (15, ())  # c.li
    assert (decoded[0x7A].effect, decoded[0x7A].rd, decoded[0x7A].sources) == (Effect.READ, 2, (11,))  # ld sp,(a1)


def test_a_cut_instruction_at_the_end_is_not_decoded() -> None:
    assert [i.address for i in instructions(CODE[:6], 0)] == [0]


def test_lock_loops_wait_on_memory_wherever_the_samples_fell() -> None:
    assert wait(0x04, 0x04) is LoopWait.MEMORY  # only on the branch: the body starts before it
    assert wait(0x08, 0x0C) is LoopWait.MEMORY  # sc's result decides
    assert wait(0x10, 0x12, 0x10) is LoopWait.MEMORY
    assert wait(0x64, 0x6A) is LoopWait.MEMORY  # a status bit, through andi
    assert wait(0x7E, 0x86) is LoopWait.MEMORY  # Linux's secondary harts: loads into sp and tp


def test_a_loop_without_an_exit_waits_for_nothing() -> None:
    assert wait(0x14, 0x18, 0x1C) is LoopWait.NOTHING
    assert wait(0x20, 0x22) is LoopWait.NOTHING  # a counter on its own stack


def test_a_callee_is_part_of_the_loop_and_a_static_key_it_reads_is_no_exit() -> None:
    # lkdtm_SOFTLOCKUP: cpu_relax reads a static key and branches on it, but never out of the loop.
    assert wait(0x38, 0x4C, 0x42) is LoopWait.NOTHING
    assert wait(0x38, 0x3C, 0x42) is LoopWait.NOTHING  # every sample in cpu_relax: found past it
    # Samples only on cpu_relax's return path: its own c.j closes a body holding a return, which
    # says nothing; the caller's loop past it does.
    assert wait(0x3C, 0x40) is LoopWait.NOTHING
    # A caller below its callee is not found forward from the samples: the return address leads there.
    assert wait(0x98, 0x9A) is LoopWait.UNKNOWN
    assert wait(0x98, 0x9A, ra=0x96) is LoopWait.MEMORY
    assert wait(0x4E, 0x56) is LoopWait.MEMORY  # a poll function's load decides the caller's exit
    assert wait(0x4E, ra=0x56) is LoopWait.MEMORY


def test_exits_on_registers_or_the_clock_wait_on_no_hart() -> None:
    assert wait(0x58, 0x5A) is LoopWait.REGISTERS  # a countdown
    assert wait(0x5C, 0x60) is LoopWait.REGISTERS  # the time CSR
    assert wait(0x6C, 0x70) is LoopWait.REGISTERS  # the value read is replaced before the test


def test_a_value_read_in_one_iteration_and_tested_in_the_next_is_memory() -> None:
    assert wait(0x72, 0x74, 0x76) is LoopWait.MEMORY


def test_overlapping_reads_are_served_from_what_was_read() -> None:
    asked: list[tuple[int, int]] = []

    def counted(address: int, size: int) -> bytes | None:
        asked.append((address, size))
        return read(address, size)

    # Two closing candidates (cpu_relax's own c.j, then lkdtm_SOFTLOCKUP's), each body read and
    # cpu_relax read as their callee: two reads, the window from the lowest sample and the callee.
    assert loop_wait(counted, [BASE + 0x3C, BASE + 0x40], BASE + 0x4C) is LoopWait.NOTHING
    assert asked == [(BASE + 0x3C, 0x40 - 0x3C + 128), (BASE + 0x2A, 128)]


def test_what_cannot_be_followed_is_unknown() -> None:
    assert wait(0x26, 0x28) is LoopWait.UNKNOWN  # an indirect call
    assert wait(0x8A, 0x8C) is LoopWait.UNKNOWN  # a return inside the body
    assert loop_wait(lambda address, size: None, [BASE]) is LoopWait.UNKNOWN
    assert wait(0x00, 0x2000) is LoopWait.UNKNOWN  # too wide to be one spin
    assert loop_wait(read, []) is LoopWait.UNKNOWN
    assert wait(0x98, 0x9A, ra=0x12) is LoopWait.UNKNOWN  # a stale ra that leads nowhere near
