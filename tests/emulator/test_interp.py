"""harness.emulator.interp: the word arithmetic the dispatch loop computes with, and what it
runs inline or keeps decoded where the helpers used to.

The loop keeps registers as signed 64-bit words and adds, subtracts, multiplies and shifts
them with wrapping operations: PyPy's ``__pypy__.intop`` there, plain-Python equivalents on
CPython. Both are checked against the architectural result (the low 64 bits, read signed).
A ``time`` read inline must do what ``Hart.sysop`` does (value, trap, the yield after enough
polls); an instruction straddling two pages kept decoded must follow stores to either half
and never serve a translated fetch whose next page maps elsewhere.
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


# Integers well outside a word, at its edges and inside it.
WIDE = (*EDGES, 1 << 63, -(1 << 63) - 1, 1 << 64, (1 << 64) + 3, (1 << 200) + 7, -(1 << 130) - 9)


def test_signed_reduces_any_integer_to_the_signed_word() -> None:
    for v in WIDE:
        assert interp._signed(v) == signed(v), hex(v)


PYPY_SIGNED = """
import sys
sys.path.insert(0, sys.argv[1])
import __pypy__
from harness.emulator import interp
for line in sys.stdin:
    v = interp._signed(int(line) + (1 << 100) - (1 << 100))  # a big integer on PyPy, even in range
    print(v, "word" if "W_IntObject" in __pypy__.internal_repr(v) else "big")
"""


@pytest.mark.skipif(shutil.which("pypy3") is None, reason="pypy3 is not installed (make deps installs it)")
def test_pypy_signed_gives_a_machine_word_in_and_out_of_range() -> None:
    # In range through int_add (a big integer that fits comes back a word), outside it through
    # struct: the same value as CPython's, and a word either way (a big one slows every later
    # operation on the register).
    stdin = "".join(f"{v}\n" for v in WIDE)
    out = subprocess.run(
        ["pypy3", "-c", PYPY_SIGNED, str(ROOT)], input=stdin, capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    assert [line.split() for line in out] == [[str(signed(v)), "word"] for v in WIDE]


def test_only_a_mask_rom_boot_has_jit_settings_of_its_own() -> None:
    (setting,) = interp.jit_settings(rom_boot=True)
    name, value = setting.split("=")
    assert name == "threshold" and int(value) > 0
    assert interp.jit_settings(rom_boot=False) == ()


# Applies the mask ROM boot's settings; prints the threshold they set and PyPy's default.
PYPY_TUNE = """
import sys
sys.path.insert(0, sys.argv[1])
import pypyjit
from harness.emulator import interp
interp.tune_jit(True)
print(interp.FIRMWARE_JIT_THRESHOLD, pypyjit.defaults["threshold"])
"""


@pytest.mark.skipif(shutil.which("pypy3") is None, reason="pypy3 is not installed (make deps installs it)")
def test_pypy_takes_the_mask_rom_boots_jit_settings_and_traces_sooner_than_its_default() -> None:
    # A setting PyPy refused would end every SD card boot with a ValueError before the mask ROM.
    argv = ["pypy3", "-c", PYPY_TUNE, str(ROOT)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    ours, default = (int(word) for word in done.stdout.split())
    assert ours < default, "the firmware's threshold was measured below PyPy's default; a new PyPy moved it"


# What the dispatch loop carries from one instruction to the next, and what only paths that
# leave the loop assign: every other local is a per-instruction temporary.
LOOP_STATE = {
    "n",
    "pc",
    "vpn",
    "base",
    "code",
    "op",
    "limit",
    "spin_pc",
    "spin_n",
    "spin_regs",
    "spin_at",
    "reset_kind",
}
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
        # Assignments, or assignments under a condition that holds for a whole pass of the
        # loop (the kind's, see Interpreter.reset_kind).
        assigns = statement.body if isinstance(statement, ast.If) else [statement]
        if not all(isinstance(assign, ast.Assign) for assign in assigns):
            break
        reset |= {
            target.id
            for assign in assigns
            if isinstance(assign, ast.Assign)
            for target in assign.targets
            if isinstance(target, ast.Name)
        }
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


def _jal(rd: int, offset: int) -> int:
    imm = offset & 0x1FFFFF
    return (
        (imm >> 20 & 1) << 31
        | (imm >> 1 & 0x3FF) << 21
        | (imm >> 11 & 1) << 20
        | (imm >> 12 & 0xFF) << 12
        | rd << 7
        | 0x6F
    )


def _sh(rs2: int, rs1: int, offset: int = 0) -> int:
    return (offset >> 5) << 25 | rs2 << 20 | rs1 << 15 | 1 << 12 | (offset & 31) << 7 | 0x23  # sh rs2, offset(rs1)


def _addi(rd: int, rs1: int, imm: int) -> int:
    return (imm & 0xFFF) << 20 | rs1 << 15 | rd << 7 | 0x13


RET = 0x00008067
# Code on page P (BASE + 0x4000) calls its last halfword, where `addi a0, a0, 1` straddles into
# page P + 1 (its upper half, 0x0015, is P + 1's first halfword) followed by `ret`.
P = BASE + 0x4000
STRADDLING = _addi(10, 10, 1)
ADD_16_UPPER = _addi(10, 10, 16) >> 16


def _straddling_program(*calls: int) -> dict[int, int]:
    words = {P + 4 * i: word for i, word in enumerate(calls)}
    words[P + 4 * len(calls)] = LOOP
    # Written as halfwords' word: P + 0xFFC holds `c.nop` then the straddling lower half.
    words[P + 0xFFC] = 0x0001 | (STRADDLING & 0xFFFF) << 16
    words[P + 0x1000] = STRADDLING >> 16 | (RET & 0xFFFF) << 16
    words[P + 0x1004] = RET >> 16
    return words


def test_a_straddling_instruction_fetched_bare_is_kept_and_a_store_to_its_upper_half_is_seen() -> None:
    # Call it twice; rewrite `ret` (P + 1's only other decoded instruction) as it was, store a
    # new upper half (+16) through t0 = P + 0x1000, call it again.
    words = _straddling_program(_jal(1, 0xFFE), _jal(1, 0xFFA), _sh(0, 5, 4), _sh(6, 5), _jal(1, 0xFEE))
    h = _hart(words)
    h.reset(P)
    h.x[5], h.x[6] = P + 0x1000, ADD_16_UPPER
    assert h.interp.run(6) == 6
    assert h.x[10] == 2
    page = h.interp.pages[P >> 12]
    # Kept after its first execution (not decoded on every one, as on a translated fetch).
    assert page[interp.LAST_SLOT] is not None and page[interp.LAST_SLOT].length == 4
    assert h.interp.run(5) == 5
    assert h.x[10] == 2 + 16
    # Its lower half too (this page's own slots): now `addi a1, a0, 16`.
    h.bus.write(P + 0x10, 4, _sh(7, 5))
    h.bus.write(P + 0x14, 4, _jal(1, 0xFFE - 0x14))
    h.bus.write(P + 0x18, 4, LOOP)
    h.code.store(h, P + 0x10, 8, 0)  # the test wrote code behind the hart's back, as a loader would
    h.x[5], h.x[7] = P + 0xFFE, STRADDLING & 0xFFFF & ~(0x1F << 7) | 11 << 7
    h.pc = P + 0x10
    assert h.interp.run(4) == 4
    assert (h.x[10], h.x[11]) == (18, 18 + 16)


def _sv39(h: Hart, va: int, *pages: int) -> int:
    """Page tables at BASE mapping ``va`` and the pages after it to physical ``pages`` (V R X A);
    the satp value that turns them on."""
    root, mid, leaf = BASE, BASE + 0x1000, BASE + 0x2000
    h.bus.write(root + (va >> 30) * 8, 8, (mid >> 12) << 10 | 1)
    h.bus.write(mid, 8, (leaf >> 12) << 10 | 1)
    for index, page in enumerate(pages):
        h.bus.write(leaf + 8 * index, 8, (page >> 12) << 10 | 0x4B)
    return 8 << 60 | root >> 12


def test_a_straddling_instruction_kept_bare_never_serves_a_translated_fetch() -> None:
    # Virtual V maps P, V + 1 maps Q (not P + 1), where the upper half says +16 instead of +1.
    words = _straddling_program(_jal(1, 0xFFE))
    q = BASE + 0x7000
    words[q] = ADD_16_UPPER | LOOP << 16
    words[q + 4] = LOOP >> 16
    h = _hart(words)
    va = 0x40000000
    satp = _sv39(h, va, P, q)
    h.reset(P)
    assert h.interp.run(3) == 3 and h.x[10] == 1
    assert h.interp.pages[P >> 12][interp.LAST_SLOT] is not None
    h.satp = satp
    h.set_priv(PRV_S)
    h.pc = va + 0xFFE
    assert h.interp.run(1) == 1
    assert h.x[10] == 1 + 16 and h.pc == va + 0x1002
    assert h.interp.pages[P >> 12][interp.LAST_SLOT] is None
    # Fetched bare again, it is no longer kept: the page is one a translated context reads.
    h.set_priv(PRV_M)
    h.pc = P
    assert h.interp.run(3) == 3 and h.x[10] == 18
    assert h.interp.pages[P >> 12][interp.LAST_SLOT] is None


MRET = 0x30200073
ECALL = 0x00000073


@pytest.mark.parametrize("reset_kind", [False, True], ids=["loops-apart", "one-loop"])
def test_a_quantum_moves_between_the_untranslated_and_translated_loops_and_runs_exactly(
    monkeypatch, reset_kind: bool
) -> None:
    # M-mode, bare: mret into S-mode at virtual V (paging on), three addi there, an ecall back to
    # M-mode's handler (bare): `addi a1`, then `j .`. One quantum of 10 runs through all of it,
    # in the loops apart (the FU740's own firmware: reset_kind off) or in the one loop.
    q, handler = BASE + 0x7000, BASE + 0x8000
    h = _hart({BASE + 0x4000: MRET, q: _addi(10, 10, 1), q + 4: _addi(10, 10, 1), q + 8: _addi(10, 10, 1)})
    for address, word in ((q + 12, ECALL), (handler, _addi(11, 11, 1)), (handler + 4, LOOP)):
        h.bus.write(address, 4, word)
    va = 0x40000000
    h.satp = _sv39(h, va, q)
    h.mtvec = handler
    h.mepc = va
    h.mstatus |= PRV_S << 11  # MPP
    h.pc = BASE + 0x4000
    h.interp.reset_kind = reset_kind
    entered: list[tuple[int, int]] = []

    def recording(translated: int):
        loop = interp._LOOPS[translated]

        def record(hart, xs, limit, poll=True, translated=translated):
            entered.append((translated, limit))
            loop(hart, xs, limit, poll, translated)

        return record

    monkeypatch.setattr(interp, "_LOOPS", (recording(False), recording(True)))
    assert h.interp.run(10) == 10
    assert (h.x[10], h.x[11], h.priv, h.pc) == (3, 1, PRV_M, handler + 4)
    # Apart: mret ran bare (1), the addi and the ecall translated (4), the handler bare (5).
    assert entered == ([] if reset_kind else [(0, 10), (1, 9), (0, 5)])


def test_the_two_dispatch_loops_are_apart_for_pypy() -> None:
    # PyPy keeps a compiled loop per code object: one object for both would share the loop.
    untranslated, translated = interp._LOOPS
    assert untranslated.__code__ is not translated.__code__
    assert untranslated.__code__.co_code == translated.__code__.co_code
