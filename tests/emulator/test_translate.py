"""Integer semantics of both execution paths (cold templates, compiled blocks) vs a reference."""

from __future__ import annotations

import random
import traceback

import pytest

from harness.emulator import interp
from harness.emulator.blocks import BlockEngine
from harness.emulator.bus import Bus
from harness.emulator.clock import Clock
from harness.emulator.codecache import CodeCache
from harness.emulator.cpu import Hart
from harness.emulator.translate import build_cold_block, build_hot_block
from harness.emulator.trap import ILLEGAL_INSN, Trap

M = (1 << 64) - 1
BASE = 0x80000000


def s64(v: int) -> int:
    v &= M
    return v - (1 << 64) if v >> 63 else v


def s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def tdiv(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def ref_div(a: int, b: int) -> int:
    return -1 if b == 0 else (a if (a, b) == (-(1 << 63), -1) else tdiv(a, b))


def ref_rem(a: int, b: int) -> int:
    return a if b == 0 else (0 if (a, b) == (-(1 << 63), -1) else a - b * tdiv(a, b))


def ref_divw(a: int, b: int) -> int:
    return -1 if b == 0 else (a if (a, b) == (-(1 << 31), -1) else tdiv(a, b))


def ref_remw(a: int, b: int) -> int:
    return a if b == 0 else (0 if (a, b) == (-(1 << 31), -1) else a - b * tdiv(a, b))


# (funct7, funct3, opcode) -> reference on (a, b) as unsigned 64-bit; results are masked later.
R_TYPE = {
    "add": (0x00, 0, 0x33, lambda a, b: a + b),
    "sub": (0x20, 0, 0x33, lambda a, b: a - b),
    "sll": (0x00, 1, 0x33, lambda a, b: a << (b & 63)),
    "slt": (0x00, 2, 0x33, lambda a, b: int(s64(a) < s64(b))),
    "sltu": (0x00, 3, 0x33, lambda a, b: int(a < b)),
    "xor": (0x00, 4, 0x33, lambda a, b: a ^ b),
    "srl": (0x00, 5, 0x33, lambda a, b: a >> (b & 63)),
    "sra": (0x20, 5, 0x33, lambda a, b: s64(a) >> (b & 63)),
    "or": (0x00, 6, 0x33, lambda a, b: a | b),
    "and": (0x00, 7, 0x33, lambda a, b: a & b),
    "mul": (0x01, 0, 0x33, lambda a, b: a * b),
    "mulh": (0x01, 1, 0x33, lambda a, b: (s64(a) * s64(b)) >> 64),
    "mulhsu": (0x01, 2, 0x33, lambda a, b: (s64(a) * b) >> 64),
    "mulhu": (0x01, 3, 0x33, lambda a, b: (a * b) >> 64),
    "div": (0x01, 4, 0x33, lambda a, b: ref_div(s64(a), s64(b))),
    "divu": (0x01, 5, 0x33, lambda a, b: a // b if b else M),
    "rem": (0x01, 6, 0x33, lambda a, b: ref_rem(s64(a), s64(b))),
    "remu": (0x01, 7, 0x33, lambda a, b: a % b if b else a),
    "addw": (0x00, 0, 0x3B, lambda a, b: s32(a + b)),
    "subw": (0x20, 0, 0x3B, lambda a, b: s32(a - b)),
    "sllw": (0x00, 1, 0x3B, lambda a, b: s32(a << (b & 31))),
    "srlw": (0x00, 5, 0x3B, lambda a, b: s32((a & 0xFFFFFFFF) >> (b & 31))),
    "sraw": (0x20, 5, 0x3B, lambda a, b: s32(a) >> (b & 31)),
    "mulw": (0x01, 0, 0x3B, lambda a, b: s32(a * b)),
    "divw": (0x01, 4, 0x3B, lambda a, b: s32(ref_divw(s32(a), s32(b)))),
    "divuw": (0x01, 5, 0x3B, lambda a, b: s32((a & 0xFFFFFFFF) // (b & 0xFFFFFFFF)) if b & 0xFFFFFFFF else -1),
    "remw": (0x01, 6, 0x3B, lambda a, b: s32(ref_remw(s32(a), s32(b)))),
    "remuw": (
        0x01,
        7,
        0x3B,
        lambda a, b: s32((a & 0xFFFFFFFF) % (b & 0xFFFFFFFF) if b & 0xFFFFFFFF else a),
    ),
}
# funct3, opcode, reference on (a, imm)
I_TYPE = {
    "addi": (0, 0x13, lambda a, i: a + i),
    "slti": (2, 0x13, lambda a, i: int(s64(a) < i)),
    "sltiu": (3, 0x13, lambda a, i: int(a < (i & M))),
    "xori": (4, 0x13, lambda a, i: a ^ (i & M)),
    "ori": (6, 0x13, lambda a, i: a | (i & M)),
    "andi": (7, 0x13, lambda a, i: a & (i & M)),
    "addiw": (0, 0x1B, lambda a, i: s32(a + i)),
}
EDGE = [0, 1, 2, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 63, M, (1 << 63) - 1, 0x123456789ABCDEF0]


def blocks_of(hart: Hart) -> BlockEngine:
    """A block engine for ``hart`` with a quantum of room left (blocks count into it)."""
    engine = BlockEngine(hart)
    engine.left[0] = 1 << 20
    return engine


def make_hart() -> Hart:
    bus = Bus(BASE, 1 << 16)
    return Hart(0, bus, Clock(10_000_000), CodeCache())


# How an instruction runs: a cold block, a compiled region, or the interpreter engine.
MODES = ["cold", "hot", "interp"]


def run_one(hart: Hart, word: int, a: int, b: int, mode: str) -> int:
    # One instruction followed by `jal x0, 0` so the block ends deterministically.
    hart.bus.ram[0:8] = word.to_bytes(4, "little") + (0x0000006F).to_bytes(4, "little")
    hart.x[:] = [0] * 33
    hart.x[5], hart.x[6] = a, b
    if mode == "interp":
        # The RAM was written behind the code cache's back: forget what was decoded.
        hart.interp.reset()
        hart.pc = BASE
        interp.run(hart, 1)
    else:
        build = build_hot_block if mode == "hot" else build_cold_block
        block = build(blocks_of(hart), BASE, BASE)
        block.entry[0](hart.x, hart.rtlb, hart.wtlb)
    assert hart.x[0] == 0
    return hart.x[7]


def operand_pairs() -> list[tuple[int, int]]:
    rng = random.Random(1234)
    pairs = [(a, b) for a in EDGE for b in EDGE]
    pairs += [(rng.getrandbits(64), rng.getrandbits(64)) for _ in range(30)]
    return pairs


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(R_TYPE))
def test_register_ops_match_reference(name: str, mode: str) -> None:
    f7, f3, opc, ref = R_TYPE[name]
    word = f7 << 25 | 6 << 20 | 5 << 15 | f3 << 12 | 7 << 7 | opc  # x7 = x5 op x6
    hart = make_hart()
    for a, b in operand_pairs():
        assert run_one(hart, word, a, b, mode) == ref(a, b) & M, (name, hex(a), hex(b))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(I_TYPE))
def test_immediate_ops_match_reference(name: str, mode: str) -> None:
    f3, opc, ref = I_TYPE[name]
    hart = make_hart()
    for imm in (-2048, -1, 0, 1, 2047, 0x555):
        word = (imm & 0xFFF) << 20 | 5 << 15 | f3 << 12 | 7 << 7 | opc
        for a in EDGE:
            assert run_one(hart, word, a, 0, mode) == ref(a, imm) & M, (name, hex(a), imm)


@pytest.mark.parametrize("mode", MODES)
def test_shift_immediates(mode: str) -> None:
    hart = make_hart()
    for sh in (0, 1, 31, 32, 63):
        srai = 0x10 << 26 | sh << 20 | 5 << 15 | 5 << 12 | 7 << 7 | 0x13
        slli = sh << 20 | 5 << 15 | 1 << 12 | 7 << 7 | 0x13
        assert run_one(hart, srai, 1 << 63, 0, mode) == (s64(1 << 63) >> sh) & M
        assert run_one(hart, slli, M, 0, mode) == (M << sh) & M
        if sh < 32:
            sraiw = 0x20 << 25 | sh << 20 | 5 << 15 | 5 << 12 | 7 << 7 | 0x1B
            assert run_one(hart, sraiw, 0x80000000, 0, mode) == (s32(0x80000000) >> sh) & M


@pytest.mark.parametrize("hot", [False, True], ids=["cold", "hot"])
def test_writes_to_x0_are_discarded(hot: bool) -> None:
    hart = make_hart()
    # add x0, x5, x6 then lw x0, 0(x0)-style side-effect-free: x0 must stay zero.
    word = 6 << 20 | 5 << 15 | 0 << 7 | 0x33
    hart.bus.ram[0:8] = word.to_bytes(4, "little") + (0x0000006F).to_bytes(4, "little")
    block = (build_hot_block if hot else build_cold_block)(blocks_of(hart), BASE, BASE)
    hart.x[5], hart.x[6] = 3, 4
    block.entry[0](hart.x, hart.rtlb, hart.wtlb)
    assert hart.x[0] == 0


@pytest.mark.parametrize("hot", [False, True], ids=["cold", "hot"])
def test_branches_signed_and_unsigned(hot: bool) -> None:
    hart = make_hart()
    # blt/bge/bltu/bgeu x5, x6, +8 at BASE; both successors are `j .` so a compiled region
    # stops in the successor that was taken.
    for f3, a, b, taken in ((4, M, 0, True), (6, M, 0, False), (5, 0, M, True), (7, 0, M, False)):
        word = (8 >> 1 & 0xF) << 8 | f3 << 12 | 5 << 15 | 6 << 20 | 0x63
        hart.bus.ram[0:12] = word.to_bytes(4, "little") + (0x0000006F).to_bytes(4, "little") * 2
        block = (build_hot_block if hot else build_cold_block)(blocks_of(hart), BASE, BASE)
        hart.x[5], hart.x[6] = a, b
        nxt = block.entry[0](hart.x, hart.rtlb, hart.wtlb)
        assert (hart.pc if nxt is None else nxt) == (BASE + 8 if taken else BASE + 4), (f3, taken)


def _assemble_group_block(hart: Hart) -> None:
    # sd x6, 0(x5); sd x7, 8(x5); ld x8, 8(x5); lw x9, 4(x5); jal x0, 0
    words = [
        6 << 20 | 5 << 15 | 3 << 12 | 0x23,
        7 << 20 | 5 << 15 | 3 << 12 | 8 << 7 | 0x23,
        8 << 20 | 5 << 15 | 3 << 12 | 8 << 7 | 0x03,
        4 << 20 | 5 << 15 | 2 << 12 | 9 << 7 | 0x03,
        0x0000006F,
    ]
    hart.bus.ram[0 : 4 * len(words)] = b"".join(w.to_bytes(4, "little") for w in words)


@pytest.mark.parametrize("offset", [0x800, 0xFF8, 0x804, 0x1001], ids=["aligned", "page-crossing", "4-aligned", "odd"])
def test_grouped_accesses_match_ungrouped_semantics(offset: int) -> None:
    hart = make_hart()
    _assemble_group_block(hart)
    block = build_hot_block(blocks_of(hart), BASE, BASE)
    hart.x[5] = BASE + 0x2000 + offset
    hart.x[6], hart.x[7] = 0x1111111122222222, 0x80000000AAAAAAAA
    block.entry[0](hart.x, hart.rtlb, hart.wtlb)
    ram = hart.bus.ram
    at = 0x2000 + offset
    assert int.from_bytes(ram[at : at + 8], "little") == 0x1111111122222222
    assert int.from_bytes(ram[at + 8 : at + 16], "little") == 0x80000000AAAAAAAA
    assert hart.x[8] == 0x80000000AAAAAAAA
    assert hart.x[9] == 0x11111111  # lw of the high word of x6, sign-extended (positive)


def _random_block(rng: random.Random) -> list[int]:
    """Straight-line integer code: ALU ops and loads/stores through x5..x7 into RAM."""
    words = []
    for _ in range(rng.randrange(2, 14)):
        rd, rs1, rs2 = rng.choice([1, 8, 9, 10, 11]), rng.choice([0, 8, 9, 10, 11]), rng.choice([8, 9, 10, 11])
        kind = rng.random()
        if kind < 0.35:
            name = rng.choice(sorted(R_TYPE))
            f7, f3, opc, _ = R_TYPE[name]
            words.append(f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | opc)
        elif kind < 0.55:
            f3, opc, _ = I_TYPE[rng.choice(sorted(I_TYPE))]
            words.append((rng.randrange(-2048, 2048) & 0xFFF) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | opc)
        elif kind < 0.8:
            base, f3 = rng.choice([5, 6, 7]), rng.choice([0, 1, 2, 3, 4, 5, 6])
            off = rng.choice([0, 8, 16, 24, 4, 2, 1, -8, 4090 - 0x800])
            words.append((off & 0xFFF) << 20 | base << 15 | f3 << 12 | rd << 7 | 0x03)
        else:
            base, f3 = rng.choice([5, 6, 7]), rng.choice([0, 1, 2, 3])
            off = rng.choice([0, 8, 16, 24, 4, 2, 1, -8])
            imm = off & 0xFFF
            words.append((imm >> 5) << 25 | rs2 << 20 | base << 15 | f3 << 12 | (imm & 0x1F) << 7 | 0x23)
    words.append(0x0000006F)  # j .
    return words


def test_compiled_regions_agree_with_interpretation_on_random_code() -> None:
    rng = random.Random(20261122)
    for _ in range(150):
        words = _random_block(rng)
        regs = [rng.getrandbits(64) for _ in range(32)]
        # Bases near a page end exercise the grouped-access page check and its slow path.
        regs[5], regs[6], regs[7] = BASE + 0x3000, BASE + 0x4FF0, BASE + 0x6003
        states = []
        for build in (build_cold_block, build_hot_block):
            hart = make_hart()
            hart.bus.ram[0 : 4 * len(words)] = b"".join(w.to_bytes(4, "little") for w in words)
            hart.bus.ram[0x2000:0x8000] = bytes(range(256)) * 0x60
            hart.x[:] = regs
            hart.x[0] = 0
            build(blocks_of(hart), BASE, BASE).entry[0](hart.x, hart.rtlb, hart.wtlb)
            states.append((list(hart.x), bytes(hart.bus.ram[0x2000:0x8000])))
        assert states[0] == states[1], [hex(w) for w in words]


def test_generated_code_shows_in_tracebacks() -> None:
    """A trap raised inside a compiled region shows the generated line in its traceback."""
    hart = make_hart()
    hart.bus.ram[0:4] = (0).to_bytes(4, "little")  # an all-zero halfword is illegal
    block = build_hot_block(blocks_of(hart), BASE, BASE)
    with pytest.raises(Trap) as caught:
        block.entry[0](hart.x, hart.rtlb, hart.wtlb)
    text = "".join(traceback.format_exception(caught.type, caught.value, caught.tb))
    assert f'File "<region {BASE:#x}>"' in text
    assert f"raise Trap({ILLEGAL_INSN}, 0x0, {BASE:#x})" in text
