"""Decoder corners: compressed expansion, immediates, reserved encodings."""

from __future__ import annotations

from harness.emulator.decode import ENCODINGS, Group, decode, decode32, expand_compressed


def test_compressed_forms_expand_to_their_base_instructions() -> None:
    assert decode(0x1141).op == "addi" and decode(0x1141).imm == -16  # c.addi sp, -16
    d = decode(0x0800)  # c.addi4spn s0, sp, 16
    assert (d.op, d.rd, d.rs1, d.imm, d.length) == ("addi", 8, 2, 16, 2)
    d = decode(0x6F15)  # c.lui t5, 0x5
    assert (d.op, d.rd, d.imm) == ("lui", 30, 0x5000)
    d = decode(0xBFF5)  # c.j -4
    assert (d.op, d.rd, d.imm) == ("jal", 0, -4)
    d = decode(0x8082)  # c.jr ra (ret)
    assert (d.op, d.rd, d.rs1) == ("jalr", 0, 1)
    d = decode(0x9002)  # c.ebreak
    assert d.op == "ebreak"
    d = decode(0x7446)  # c.ldsp s0, 112(sp)
    assert (d.op, d.rd, d.rs1, d.imm) == ("ld", 8, 2, 112)


def test_reserved_compressed_encodings_are_illegal() -> None:
    assert decode(0x0000).op == "illegal"  # all-zero halfword
    assert expand_compressed(0x6101) is None  # c.addi16sp with zero immediate
    assert expand_compressed(0x4002) is None  # c.lwsp with rd = x0
    assert decode(0x2000, has_fd=False).op == "illegal"  # c.fld without D


def test_immediates_of_branches_and_jumps() -> None:
    d = decode(0xFE6293E3)  # bne t0, t1, -26
    assert (d.op, d.imm) == ("bne", -26)
    d = decode(0x422000EF)  # jal ra, +0x422
    assert (d.op, d.rd, d.imm) == ("jal", 1, 0x422)
    d = decode(0xFFF0031B)  # addiw t1, zero, -1
    assert (d.op, d.imm) == ("addiw", -1)


def test_shift_encodings() -> None:
    assert decode(0x4102D293).op == "srai"  # srai t0, t0, 16
    assert decode(0x0102D293).op == "srli"
    assert decode(0x8102D293).op == "illegal"  # bad funct6
    assert decode(0x0200101B).op == "illegal"  # slliw with shamt[5] set


def test_system_and_fp_decode() -> None:
    assert decode(0x30200073).op == "mret"
    assert decode(0x10500073).op == "wfi"
    assert decode(0x12000073).op == "sfence.vma"
    d = decode(0x34202E73)  # csrr t3, mcause
    assert (d.op, d.imm, d.rd) == ("csrrs", 0x342, 28)
    assert decode(0xF0050053).op == "fmv.w.x"
    assert decode(0x0000100F).op == "fence.i"
    d = decode(0x1000202F)  # lr.w x0, (x0)
    assert d.op == "lr.w"
    assert decode(0x1010202F).op == "illegal"  # lr with rs2 != 0


def test_encoding_table_patterns_are_disjoint_and_decode_to_their_names() -> None:
    for e in ENCODINGS:
        assert e.match & ~e.mask == 0, e.name
        assert decode32(e.match).op == e.name
        assert decode32(e.match | (~e.mask & 0xFFFFFFFF)).op == e.name  # free bits stay free
    for n, a in enumerate(ENCODINGS):
        for b in ENCODINGS[n + 1 :]:
            # Two patterns overlap unless some bit both fix differs between them.
            assert a.mask & b.mask & (a.match ^ b.match), (a.name, b.name)


def test_every_encoding_has_the_group_its_mnemonic_names() -> None:
    # The table's groups are what the engines dispatch on; the manual's naming cross-checks them.
    for e in ENCODINGS:
        name = e.name
        if name.startswith(("lr.", "sc.", "amo")):
            expected = Group.AMO
        elif name.startswith("csr"):
            expected = Group.CSR
        elif name in ("ecall", "ebreak", "mret", "sret", "wfi", "sfence.vma", "fence.i"):
            expected = Group.SYSTEM
        elif name == "fence":
            expected = Group.FENCE
        elif name.startswith("f"):
            expected = Group.FP
        else:
            expected = Group.INT
        assert e.group == expected, name
    assert decode(0x0000100F).group == Group.SYSTEM  # fence.i
    assert decode(0x2108).group == Group.FP  # c.fld
    assert decode(0x2108, has_fd=False).group == Group.ILLEGAL
    assert decode(0xFFFFFFFF).group == Group.ILLEGAL
