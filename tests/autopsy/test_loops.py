"""What a spinning hart's loop waits on, decoded from code the GNU assembler produced."""

from __future__ import annotations

from harness.autopsy.loops import loop_wait
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
#   9c slowpath:  c.lw a5,0(a3); c.bnez a5,a6; a0: c.addi a1,-1; c.bnez a1,slowpath; c.jr ra;
#                 a6: c.addi a2,1; c.j a0                (a debug flag's slow path, a count's exit)
#   aa locals:    lw a5,-20(s0); c.addi a5,1; sw a5,-20(s0); lw a4,-20(s0); blt a4,a1,locals; c.nop  (-O0)
#   be choose:    c.lw a5,0(a0); c.beqz a5,c6; c.li a0,5; c.jr ra; c6: c.li a0,0; c.jr ra
#   ca waitchoose: jal ra,choose; c.beqz a0,waitchoose; c.nop   (the value returned depends on memory)
#   d2 conditional: c.lw a5,0(a0); c.beqz a1,d8; c.li a5,0; d8: c.bnez a5,conditional; c.nop
#   dc tail:      c.j poll;  de waittail: jal ra,tail; c.beqz a0,waittail; c.nop   (a tail call)
#   e6 fpflag:    c.fld fa5,0(a0); fmv.x.d a5,fa5; c.beqz a5,fpflag; c.nop
#   f0 spilled:   c.lw a5,0(a0); sw a5,-20(s0); lw a4,-20(s0); c.beqz a4,spilled; c.nop  (-O0)
#   fe lisp:      c.li sp,16; c.nop
#  102 dly:       lw a5,0(s2); c.addi s0,1; c.bnez a5,110; 10a: bne s1,s0,dly; c.jr ra;
#                 110: jal ra,slowfn; bne s1,s0,dly; c.j 10e; 11a slowfn: c.nop; c.jr ra
#                 (gcc -O2's layout of a slow path: the call, then the loop's own test again)
#  11e guarded:   c.lw a5,0(a0); c.beqz a5,guarded; c.addi a1,-1; c.bnez a1,guarded; c.nop
#                 (a count that runs down only while a flag is set)
#  128 o1top:     csrrs a5,time,zero; bgeu a5,a0,138; c.lw a4,0(a3); c.beqz a4,o1top; c.addi a2,1;
#                 c.j o1top; 138: c.jr ra      (gcc -O1: the slow path after the closing branch)
#  13a o0relax:   jal ra,relax; csrrs a5,time,zero; ld a4,-24(s0); bltu a5,a4,o0relax; c.jr ra
#                 (-O0: while (rdtime() < until) cpu_relax();, until a local of the frame)
#  14c dbgcall:   c.lw a5,0(a3); c.beqz a5,154; jal ra,slowfn; 154: c.addi a1,-1; c.bnez a1,dbgcall;
#                 c.jr ra      (while (n--) if (debug) slow();)
#  15a slots:     c.lw a5,0(a0); sw a5,-20(s0); lw a4,-20(s0); c.sw a4,0(a1); lw a5,-24(s0);
#                 c.addi a5,1; sw a5,-24(s0); lw a4,-24(s0); blt a4,a2,slots; c.jr ra
#                 (-O0: s = *status; *last = s; i++, in two slots of the frame)
#  17a viaS0:     jal ra,relax; c.lw a5,0(s0); c.beqz a5,viaS0; c.jr ra
#                 (-O2: while (!*flag) cpu_relax();, the flag's address kept in s0)
#  184 guard2:    c.lw a5,0(a0); c.beqz a5,guard2; c.bnez a1,guard2; c.jr ra
#                 (the exit tests a register the loop never writes, reached only once the flag is set)
CODE = bytes.fromhex(
    "af220514e39e02feaf22b518e39a02fe1c41fdffb3c707020f000001e5bfa26785073ee4edbf02977dfd411122e4"
    "000883a701046347f000b3c707022264410182800f000001ddbfeff03ffef5bf88418280eff0dfff75dd7d157dfd"
    "f32710c0e3eea7fe5c4993f70702eddf1c418547f5ff99e31c41f5bf010003b1050003320600e30c01fee30a02fe"
    "1c4191c38280edbfef00600075dd884182809c4281e7fd15edfd82800506e5bf8327c4fe85072326f4fe0327c4fe"
    "e349b7fe01001c4199c31545828001458280eff05fff75dd01001c4191c18147edff01008dbfeff0ffff75dd0100"
    "1c21d38707e2eddf01001c412326f4fe0327c4fe7ddb01004141010083270900050481e7e39c84fe8280ef00a000"
    "e39784feddbf010082801c41fddffd15edfd0100f32710c063f6a70098427ddb0506cdbf8280eff01feff32710c0"
    "033784fee3eae7fe82809c4299c3eff0bffcfd15fdf982801c412326f4fe0327c4fe98c1832784fe85072324f4fe"
    "032784fee343c7fe8280eff01feb1c40eddf82801c41fddff5fd8280"
)
# The page holding CODE (the rest of it zeros); the next page is not mapped, and a read that
# reaches into it fails whole, as a probe's does. A copy of `plain` ends the page.
PAGE = bytearray(CODE.ljust(4096, b"\0"))
PAGE[4092:4096] = CODE[0x10:0x14]


def read(address: int, size: int) -> bytes | None:
    """Memory as a probe's read_memory answers: all of it, or None."""
    offset = address - BASE
    if offset < 0 or offset + size > len(PAGE):
        return None
    return bytes(PAGE[offset : offset + size])


def wait(*offsets: int, ra: int | None = None, frame_pointer: bool = False) -> LoopWait:
    return loop_wait(read, [BASE + o for o in offsets], None if ra is None else BASE + ra, frame_pointer)


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


def test_a_return_inside_the_body_is_the_exit_of_the_branch_over_it() -> None:
    # -Os: while (!*p); laid out as a test, a return, and a jump back.
    assert wait(0x8A, 0x8C) is LoopWait.MEMORY


def test_a_value_read_in_one_iteration_and_tested_in_the_next_is_memory() -> None:
    assert wait(0x72, 0x74, 0x76) is LoopWait.MEMORY


def test_a_slow_path_that_comes_back_is_part_of_the_loop_not_an_exit() -> None:
    # The flag read on every pass decides only the detour; the exit tests the count.
    assert wait(0x9C, 0xA2) is LoopWait.REGISTERS
    assert wait(0x9C, 0xA6, 0xA2) is LoopWait.REGISTERS  # a sample in the detour
    # The detour ends in the loop's own test: its fall-through is one more exit, on the count.
    assert wait(0x102, 0x10A, 0x114) is LoopWait.REGISTERS


def test_gcc_o1s_slow_path_after_the_closing_branch_is_no_exit() -> None:
    # The flag decides only whether the slow path runs; the exit tests the clock.
    assert wait(0x128, 0x132) is LoopWait.REGISTERS


def test_what_a_branch_on_memory_decides_ends_where_its_sides_join() -> None:
    assert wait(0x14C, 0x156) is LoopWait.REGISTERS  # the count's test runs on both sides of the flag's


def test_an_exit_reached_only_through_a_branch_on_memory_waits_on_memory() -> None:
    assert wait(0x11E, 0x124) is LoopWait.MEMORY  # the count is written past the flag's test
    assert wait(0x184, 0x188) is LoopWait.MEMORY  # the register tested is not written at all


def test_locals_in_the_frame_are_the_stack_where_s0_is_a_frame_pointer() -> None:
    assert wait(0xAA, 0xB8, frame_pointer=True) is LoopWait.REGISTERS
    assert wait(0xAA, 0xB8) is LoopWait.MEMORY  # s0 not known to point into the stack
    # A value read from memory and passed through a stack slot is still memory's; another slot is not.
    assert wait(0xF0, 0xFA, frame_pointer=True) is LoopWait.MEMORY
    assert wait(0x15A, 0x174, frame_pointer=True) is LoopWait.REGISTERS
    # cpu_relax restores s0 and sp from the stack after a branch on a static key: they stay the
    # stack's, and the caller's local (below s0) is still a local.
    assert wait(0x13A, 0x146, frame_pointer=True) is LoopWait.REGISTERS
    assert wait(0x13A, 0x146) is LoopWait.MEMORY  # s0 not known to be a frame pointer
    # s0 holding a flag's address (at or above it) is a pointer, frame pointer or not.
    assert wait(0x17A, 0x180, frame_pointer=True) is LoopWait.MEMORY


def test_what_a_branch_on_memory_decides_is_memory_too() -> None:
    assert wait(0xC2, 0xCE) is LoopWait.MEMORY  # poll returns 5 or 0 by *p: the caller's exit tests it
    assert wait(0xD2, 0xD8) is LoopWait.MEMORY  # replaced on one side only: still memory's on the other


def test_a_flag_read_through_a_floating_point_register_is_memory() -> None:
    assert wait(0xE6, 0xEC) is LoopWait.MEMORY


def test_a_loop_at_a_pages_end_is_read_up_to_it() -> None:
    assert wait(0xFFC, 0xFFE) is LoopWait.MEMORY


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
    assert loop_wait(lambda address, size: None, [BASE]) is LoopWait.UNKNOWN
    assert wait(0x00, 0x2000) is LoopWait.UNKNOWN  # too wide to be one spin
    assert loop_wait(read, []) is LoopWait.UNKNOWN
    assert wait(0x98, 0x9A, ra=0x12) is LoopWait.UNKNOWN  # a stale ra that leads nowhere near
    assert wait(0xE2, 0xDE) is LoopWait.UNKNOWN  # a callee that tail-calls: not followed


def test_a_target_below_address_zero_is_never_read() -> None:
    asked: list[int] = []

    def low_memory(address: int, size: int) -> bytes | None:
        asked.append(address)
        return (b"\0\0" + CODE[0x1C:0x1E])[address : address + size]  # c.j -8 at 2: to -6

    assert loop_wait(low_memory, [2]) is LoopWait.UNKNOWN
    assert asked and min(asked) >= 0


def test_a_target_past_the_address_space_is_never_read_and_a_failed_read_is_not_repeated() -> None:
    top = (1 << 64) - 4
    asked: list[tuple[int, int]] = []

    def high_memory(address: int, size: int) -> bytes | None:
        asked.append((address, size))
        if address + size > 1 << 64:
            raise ValueError("a backend that cannot take such an address")
        return (CODE[0x10:0x14] + b"\0" * 4096)[: max(0, min(size, (1 << 64) - address))] or None

    # c.lw; c.bnez at the very top: the window past 2**64 is not asked for, the page cut is.
    assert loop_wait(high_memory, [top, top + 2]) is LoopWait.MEMORY
    assert all(a + n <= 1 << 64 for a, n in asked)
    missing: list[tuple[int, int]] = []

    def nothing(address: int, size: int) -> bytes | None:
        missing.append((address, size))
        return None

    # The window fails, then the search with ra (here within the samples) asks for it again.
    assert loop_wait(nothing, [BASE + 0x10, BASE + 0x12], BASE + 0x12) is LoopWait.UNKNOWN
    assert missing == [(BASE + 0x10, 2 + 128)]
