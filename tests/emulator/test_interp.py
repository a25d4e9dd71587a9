"""harness.emulator.interp: the word arithmetic the dispatch loop computes with, and what it
runs inline or keeps decoded where the helpers used to.

The loop keeps registers as signed 64-bit words and adds, subtracts, multiplies and shifts
them with wrapping operations: PyPy's ``__pypy__.intop`` there, plain-Python equivalents on
CPython. Both are checked against the architectural result (the low 64 bits, read signed).
A ``time`` read inline must do what ``Hart.sysop`` does (value, trap, the yield after enough
polls).
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.emulator import interp
from harness.emulator.bus import Bus
from harness.emulator.clock import Clock
from harness.emulator.codecache import CodeCache
from harness.emulator.cpu import Hart
from harness.emulator.decode import decode
from harness.emulator.sysops import TIME_POLLS_PER_QUANTUM
from harness.emulator.trap import ILLEGAL_INSN, PRV_M, PRV_S, PRV_U, Trap

ROOT = Path(__file__).resolve().parents[2]
M = (1 << 64) - 1
EDGES = (0, 1, -1, 2, (1 << 63) - 1, -(1 << 63), 1 << 32, (1 << 32) - 1, -(1 << 31), 0x5555555555555555)


def signed(v: int) -> int:
    """The low 64 bits of ``v`` read as a signed word."""
    v &= M
    return v - (1 << 64) if v >> 63 else v


def reference(name: str, a: int, b: int) -> int:
    """What the RISC-V instruction computes into rd, as a signed word."""
    if name == "int_add":
        return signed(a + b)
    if name == "int_sub":
        return signed(a - b)
    if name == "int_mul":
        return signed(a * b)
    if name == "int_lshift":
        return signed(a << b)
    return signed((a & M) >> b)  # uint_rshift


OPS = ("int_add", "int_sub", "int_mul", "int_lshift", "uint_rshift")


def samples(seed: int) -> list[tuple[int, int, int]]:
    """Operand triples (a, b, shift) around every edge and at random."""
    rng = random.Random(seed)
    words = [*EDGES, *(rng.randrange(-(1 << 63), 1 << 63) for _ in range(40))]
    return [(a, b, rng.randrange(64)) for a in words for b in words] + [(a, 0, 0) for a in EDGES]


@pytest.mark.parametrize("name", OPS)
def test_the_word_operations_wrap_as_the_hardware_does(name: str) -> None:
    fn = getattr(interp, name)
    for a, b, n in samples(1):
        operand = n if name in ("int_lshift", "uint_rshift") else b
        got = fn(a, operand)
        assert got == reference(name, a, operand), f"{name}({a:#x}, {operand:#x}) = {got:#x}"
        assert -(1 << 63) <= got < 1 << 63


PYPY_CHECK = """
import sys
sys.path.insert(0, sys.argv[1])
from harness.emulator import interp
from harness.emulator.bus import Bus
from harness.emulator.clock import Clock
from harness.emulator.codecache import CodeCache
from harness.emulator.cpu import Hart
from harness.emulator.decode import decode
from harness.emulator.sysops import TIME_POLLS_PER_QUANTUM
from harness.emulator.trap import ILLEGAL_INSN, PRV_M, PRV_S, PRV_U, Trap
for line in sys.stdin:
    name, a, b = line.split()
    print(getattr(interp, name)(int(a), int(b)))
"""


@pytest.mark.skipif(shutil.which("pypy3") is None, reason="pypy3 is not installed (make deps installs it)")
def test_pypy_runs_the_same_word_operations() -> None:
    # PyPy takes the operations from __pypy__.intop: the same answers, as machine words.
    cases = [(name, a, n if name in ("int_lshift", "uint_rshift") else b) for name in OPS for a, b, n in samples(2)]
    stdin = "".join(f"{name} {a} {b}\n" for name, a, b in cases)
    out = subprocess.run(
        ["pypy3", "-c", PYPY_CHECK, str(ROOT)], input=stdin, capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert len(out) == len(cases)
    for (name, a, b), got in zip(cases, out, strict=True):
        assert int(got) == reference(name, a, b), f"PyPy {name}({a:#x}, {b:#x}) = {int(got):#x}"


# What the dispatch loop carries from one instruction to the next, and what only paths that
# leave the loop assign: every other local is a per-instruction temporary.
LOOP_STATE = {"n", "pc", "vpn", "base", "code", "op", "limit", "spin_pc", "spin_n", "spin_regs", "spin_at"}
LEAVING = {"d", "ux"}


def test_every_temporary_of_the_dispatch_loop_is_reset_at_the_end_of_its_body() -> None:
    # PyPy lets a bridge (any path but the one it traced first) jump into the compiled loop
    # only where its locals look like the loop's: a temporary that one path leaves set and
    # another does not sends every bridge through the loop's preamble, boxing the loop's
    # integers (about 100 bytes allocated per instruction, a fifth of a Linux boot's time).
    # A new temporary in _loop must join the reset at the end of the body.
    import ast
    import inspect
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(interp._loop)))
    inner = next(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.While) and isinstance(node.test, ast.Compare) and ast.unparse(node.test) == "n < limit"
    )
    assigned = {
        target.id
        for statement in inner.body
        for node in ast.walk(statement)
        for target in (node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)])
        if isinstance(target, ast.Name)
    }
    reset: set[str] = set()
    for statement in reversed(inner.body):
        if not isinstance(statement, ast.Assign):
            break
        reset |= {target.id for target in statement.targets if isinstance(target, ast.Name)}
    temporaries = assigned - LOOP_STATE - LEAVING
    assert temporaries, "the dispatch loop was not found as expected"
    assert temporaries <= reset, f"reset these at the end of _loop's body too: {sorted(temporaries - reset)}"


BASE = 0x80000000
RDTIME_A0 = 0xC0102573  # csrrs a0, time, x0
LOOP = 0x0000006F  # j .


def _hart(words: dict[int, int]) -> Hart:
    """A hart on 64 KiB of RAM at BASE holding ``words`` (address -> 32-bit word)."""
    h = Hart(0, Bus(BASE, 0x10000), Clock(10_000_000), CodeCache())
    for address, word in words.items():
        h.bus.write(address, 4, word)
    h.reset(BASE)
    return h


def _sysop_reference(h: Hart, steps: int, reads: int) -> None:
    """Run ``steps`` instructions of ``reads`` time reads at BASE, then `j .`, the way every
    system instruction ran before: through Hart.sysop."""
    h.time_polls = 0
    d = decode(RDTIME_A0, True)
    for _ in range(steps):
        if not BASE <= h.pc < BASE + 4 * reads:
            break  # `j .`, in the trap handler or after the reads
        try:
            h.sysop(d, h.pc)
        except Trap as t:
            h.take_trap(t.cause, t.tval, t.pc)
        if h.yielding:
            break


@pytest.mark.parametrize(
    ("priv", "mcounteren", "scounteren"),
    [(PRV_M, 0, 0), (PRV_S, 2, 0), (PRV_U, 2, 2), (PRV_S, 0, 2), (PRV_U, 2, 0)],
)
def test_an_inline_time_read_does_what_the_system_instruction_helper_does(
    priv: int, mcounteren: int, scounteren: int
) -> None:
    # Twelve reads of a time above 2**63 (a big integer unsigned), then an M-mode trap handler.
    words = {BASE + 4 * i: RDTIME_A0 for i in range(12)} | {BASE + 0x100: LOOP}
    harts = []
    for _ in range(2):
        h = _hart(words)
        h.clock.set_mtime(0xFEDC_BA98_7654_3210)
        h.mtvec = BASE + 0x100
        h.mcounteren, h.scounteren = mcounteren, scounteren
        h.set_priv(priv)
        harts.append(h)
    inline, reference = harts
    executed = inline.interp.run(1000)
    _sysop_reference(reference, executed, 12)
    assert inline.interp.pages[BASE >> 12][0].kind == interp.TIME_READ
    assert (inline.x, inline.pc, inline.priv, inline.mcause, inline.mtval, inline.mepc) == (
        reference.x,
        reference.pc,
        reference.priv,
        reference.mcause,
        reference.mtval,
        reference.mepc,
    )
    assert (inline.time_polls, inline.yielding) == (reference.time_polls, reference.yielding)
    if reference.mcause == ILLEGAL_INSN:
        assert inline.pc == BASE + 0x100 and inline.mtval == RDTIME_A0
    else:
        # Polling the time as often as this yields the quantum, as the helper did.
        assert executed == TIME_POLLS_PER_QUANTUM and inline.yielding
        assert inline.x[10] == 0xFEDC_BA98_7654_3210
