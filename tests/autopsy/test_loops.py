"""What a spinning hart's loop reads, decoded from code the GNU assembler produced."""

from __future__ import annotations

from harness.autopsy.loops import Effect, instructions, loop_reads
from harness.autopsy.model import LoopReads

BASE = 0x80000000
# riscv64-linux-gnu-as -march=rv64imafdc, objdump -d -M no-aliases of:
#   0 lrsc:    lr.w.aq t0,(a0); bne t0,zero,lrsc; sc.w t0,a1,(a0); bne t0,zero,lrsc   (4-byte forms)
#  10 plain:   c.lw a5,0(a0); c.bnez a5,plain
#  14 endless: div a5,a5,zero; .word 0x0100000f (pause); c.j endless
#  1e stack:   c.ldsp a5,8(sp); c.addi a5,1; c.sdsp a5,8(sp); c.j stack
#  26 calls:   auipc ra,0; jalr ra,0(ra); c.bnez a0,calls
#  30 foo:     c.jr ra
#  32 far:     c.nop; c.nop; beq a0,a1,far; jal zero,far; c.ldsp a4,8(sp); c.ld a4,8(a0);
#              c.jalr a4; ecall; c.beqz a0,far
#  4a relax:   c.addi sp,-16; c.sdsp s0,0(sp); c.addi4spn s0,sp,16; div a5,a5,zero; c.ldsp s0,0(sp);
#              c.addi sp,16; c.jr ra          (Linux 6.1's cpu_relax, out of line)
#  5a softlockup: jal ra,relax; c.j softlockup  (lkdtm_SOFTLOCKUP)
#  60 poll:    c.lw a0,0(a1); c.jr ra
#  64 waitpoll: jal ra,poll; c.beqz a0,waitpoll
CODE = bytes.fromhex(
    "af220514e39e02feaf22b518e39a02fe1c41fdffb3c707020f000001e5bfa26785073ee4edbf97000000e780"
    "000065fd828001000100e30eb5fe6ff09fff226718650297730000006dd5411122e00008b3c7070202644101"
    "8280eff01ffff5bf88418280eff0dfff75dd"
)


def read(address: int, size: int) -> bytes | None:
    """Memory holding CODE at BASE (nothing elsewhere), as a probe's read_memory answers."""
    offset = address - BASE
    if offset < 0 or offset >= len(CODE):
        return None
    return CODE[offset : offset + size]


def test_every_form_that_matters_decodes_with_its_length_and_target() -> None:
    decoded = [(i.address - BASE, i.size, i.effect, None if i.target is None else i.target - BASE)
               for i in instructions(CODE, BASE)]  # fmt: skip
    assert decoded == [
        (0x00, 4, Effect.READ, None),  # lr.w.aq
        (0x04, 4, Effect.JUMP, 0x00),
        (0x08, 4, Effect.READ, None),  # sc.w is an AMO: it reads the line too
        (0x0C, 4, Effect.JUMP, 0x00),
        (0x10, 2, Effect.READ, None),  # c.lw
        (0x12, 2, Effect.JUMP, 0x10),  # c.bnez
        (0x14, 4, Effect.OTHER, None),
        (0x18, 4, Effect.OTHER, None),
        (0x1C, 2, Effect.JUMP, 0x14),  # c.j
        (0x1E, 2, Effect.STACK, None),  # c.ldsp
        (0x20, 2, Effect.OTHER, None),
        (0x22, 2, Effect.OTHER, None),
        (0x24, 2, Effect.JUMP, 0x1E),
        (0x26, 4, Effect.OTHER, None),
        (0x2A, 4, Effect.CALL, None),  # jalr ra
        (0x2E, 2, Effect.JUMP, 0x26),
        (0x30, 2, Effect.RETURN, None),  # c.jr ra: a return, not a call
        (0x32, 2, Effect.OTHER, None),
        (0x34, 2, Effect.OTHER, None),
        (0x36, 4, Effect.JUMP, 0x32),  # beq backwards
        (0x3A, 4, Effect.JUMP, 0x32),  # jal zero backwards
        (0x3E, 2, Effect.STACK, None),
        (0x40, 2, Effect.READ, None),  # c.ld
        (0x42, 2, Effect.CALL, None),  # c.jalr
        (0x44, 4, Effect.CALL, None),  # ecall
        (0x48, 2, Effect.JUMP, 0x32),  # c.beqz backwards
        (0x4A, 2, Effect.OTHER, None),
        (0x4C, 2, Effect.OTHER, None),
        (0x4E, 2, Effect.OTHER, None),
        (0x50, 4, Effect.OTHER, None),
        (0x54, 2, Effect.STACK, None),
        (0x56, 2, Effect.OTHER, None),
        (0x58, 2, Effect.RETURN, None),
        (0x5A, 4, Effect.CALL, 0x4A),  # jal ra: a call with its target
        (0x5E, 2, Effect.JUMP, 0x5A),
        (0x60, 2, Effect.READ, None),
        (0x62, 2, Effect.RETURN, None),
        (0x64, 4, Effect.CALL, 0x60),
        (0x68, 2, Effect.JUMP, 0x64),
    ]


def test_a_cut_instruction_at_the_end_is_not_decoded() -> None:
    assert [i.address for i in instructions(CODE[:6], 0)] == [0]


def test_a_lock_loop_reads_memory_wherever_the_samples_fell() -> None:
    assert loop_reads(read, [BASE + 0x4, BASE + 0x4]) is LoopReads.MEMORY  # only on the branch
    assert loop_reads(read, [BASE + 0x10, BASE + 0x12, BASE + 0x10]) is LoopReads.MEMORY


def test_a_loop_of_cpu_relax_reads_nothing() -> None:
    assert loop_reads(read, [BASE + 0x14, BASE + 0x18, BASE + 0x1C]) is LoopReads.NOTHING


def test_a_counter_on_the_stack_is_not_waiting_on_anyone() -> None:
    assert loop_reads(read, [BASE + 0x20, BASE + 0x22]) is LoopReads.NOTHING


def test_a_loop_that_calls_a_function_is_said_to_call_out() -> None:
    assert loop_reads(read, [BASE + 0x2E]) is LoopReads.CALLS


def test_a_function_the_loop_calls_is_part_of_the_loop() -> None:
    # lkdtm_SOFTLOCKUP calling cpu_relax: samples in both; only the stack is read.
    assert loop_reads(read, [BASE + 0x50, BASE + 0x5E, BASE + 0x54]) is LoopReads.NOTHING
    # A poll function that loads: the loop waits on memory through its callee.
    assert loop_reads(read, [BASE + 0x60, BASE + 0x68]) is LoopReads.MEMORY


def test_the_first_closing_branch_past_the_samples_bounds_the_body() -> None:
    # Samples on the two nops: beq at 0x36 closes the loop before the loads and calls after it.
    assert loop_reads(read, [BASE + 0x32, BASE + 0x34]) is LoopReads.NOTHING
    # Samples up to c.ld: only c.beqz at 0x48 closes it, over a load through a0 and two calls.
    assert loop_reads(read, [BASE + 0x32, BASE + 0x40]) is LoopReads.MEMORY


def test_unreadable_code_or_no_closing_branch_is_unknown() -> None:
    assert loop_reads(lambda address, size: None, [BASE]) is LoopReads.UNKNOWN
    assert loop_reads(read, [BASE + 0x30]) is LoopReads.UNKNOWN  # c.jr ra leaves; nothing closes within reach
    assert loop_reads(read, [BASE, BASE + 0x2000]) is LoopReads.UNKNOWN  # too wide to be one spin
    assert loop_reads(read, []) is LoopReads.UNKNOWN
