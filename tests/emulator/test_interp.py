"""harness.emulator.interp: the word arithmetic the dispatch loop computes with.

The loop keeps registers as signed 64-bit words and adds, subtracts, multiplies and shifts
them with wrapping operations: PyPy's ``__pypy__.intop`` there, plain-Python equivalents on
CPython. Both are checked against the architectural result (the low 64 bits, read signed).
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.emulator import interp

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
