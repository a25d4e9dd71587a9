"""RV64GC decoded as the loop analysis needs it, against what the GNU assembler produced."""

from __future__ import annotations

from harness.autopsy.decode import FP_BASE, Effect, instructions
from tests.autopsy.test_loops import BASE, CODE


def test_every_instruction_decodes_to_its_length_and_nothing_is_left_over() -> None:
    assert sum(i.size for i in instructions(CODE, BASE)) == len(CODE)


def test_the_forms_that_matter_decode_with_their_registers_and_targets() -> None:
    decoded = {i.address - BASE: i for i in instructions(CODE, BASE)}
    lr, bne = decoded[0x00], decoded[0x04]
    assert (lr.effect, lr.rd, lr.sources, lr.base) == (Effect.READ, 5, (10, 0), 10)  # lr.w.aq t0,(a0)
    assert (bne.effect, bne.target, bne.sources) == (Effect.BRANCH, BASE, (5, 0))
    assert (decoded[0x10].effect, decoded[0x10].rd, decoded[0x10].base) == (Effect.READ, 15, 10)  # c.lw a5,0(a0)
    assert (decoded[0x12].effect, decoded[0x12].target) == (Effect.BRANCH, BASE + 0x10)  # c.bnez
    assert (decoded[0x1C].effect, decoded[0x1C].target) == (Effect.JUMP, BASE + 0x14)  # c.j
    assert (decoded[0x1E].effect, decoded[0x1E].rd, decoded[0x1E].base) == (Effect.READ, 15, 2)  # c.ldsp
    assert (decoded[0x22].effect, decoded[0x22].sources, decoded[0x22].base) == (Effect.WRITE, (15,), 2)  # c.sdsp
    assert (decoded[0x26].effect, decoded[0x26].target) == (Effect.CALL, None)  # c.jalr
    assert (decoded[0x2E].rd, decoded[0x2E].sources) == (8, (2,))  # c.addi4spn s0,sp,16
    assert (decoded[0x34].effect, decoded[0x34].target) == (Effect.BRANCH, BASE + 0x42)  # blt forwards
    assert decoded[0x40].effect is Effect.RETURN  # c.jr ra
    assert (decoded[0x48].effect, decoded[0x48].target, decoded[0x48].rd) == (Effect.CALL, BASE + 0x2A, 1)
    assert (decoded[0x5C].effect, decoded[0x5C].rd) == (Effect.CSR, 15)  # csrr a5,time
    assert (decoded[0x66].rd, decoded[0x66].sources) == (15, (15,))  # andi
    assert (decoded[0x6E].rd, decoded[0x6E].sources) == (15, ())  # c.li
    assert (decoded[0x7A].effect, decoded[0x7A].rd, decoded[0x7A].base) == (Effect.READ, 2, 11)  # ld sp,0(a1)
    assert (decoded[0xB0].effect, decoded[0xB0].sources, decoded[0xB0].base) == (Effect.WRITE, (15,), 8)  # sw
    assert (decoded[0xB8].effect, decoded[0xB8].target, decoded[0xB8].sources) == (Effect.BRANCH, BASE + 0xAA, (14, 11))
    assert (decoded[0xDC].effect, decoded[0xDC].target) == (Effect.JUMP, BASE + 0x4E)  # c.j backwards, far
    assert (decoded[0xE6].rd, decoded[0xE6].base) == (FP_BASE + 15, 10)  # c.fld fa5,0(a0)
    assert (decoded[0xE8].rd, decoded[0xE8].sources) == (15, (FP_BASE + 15, FP_BASE + 0))  # fmv.x.d a5,fa5
    assert (decoded[0xFE].rd, decoded[0xFE].sources) == (2, ())  # c.li sp,16 reads nothing


def test_a_cut_instruction_at_the_end_is_not_decoded() -> None:
    assert [i.address for i in instructions(CODE[:6], 0)] == [0]
