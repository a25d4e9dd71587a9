"""Differential ISA tests: every program in ``tests/isa`` runs on QEMU and on the emulator.

QEMU is the reference: it must pass each program (exit 0, ``ISA <name>: done``), print the
expected number of result lines, and agree with values computed by hand here. The emulator
must then print exactly what QEMU printed. The programs print only architectural results,
so any difference is a bug in one of the two machines.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import build as isa_build

QEMU = "qemu-system-riscv64"
MACHINE_ARGS = ("-M", "virt", "-bios", "none", "-smp", "2", "-m", "128M", "-nographic")
QEMU_TIMEOUT_S = 20.0
# The emulator is an interpreter in Python: allow it far longer than QEMU, but bounded, so a
# program that hangs on it fails instead of stalling the suite.
EMULATOR_TIMEOUT_S = float(os.environ.get("HARTBEAT_ISA_EMU_TIMEOUT", "120"))

PROGRAMS = [p.name for p in isa_build.programs()]

# How many lines each program prints before its "ISA <name>: done" line on a correct machine
# (results, trap reports and progress markers). A program that silently stops computing, or an
# edit that drops checks, changes this count and has to update it here on purpose.
EXPECTED_LINES: dict[str, int] = {
    "a_atomic": 50,
    "c_compressed": 36,
    "csr": 43,
    "d_double": 142,
    "f_single": 153,
    "fp_convert": 169,
    "i_alu": 146,
    "i_branch": 13,
    "i_mem": 30,
    "irq_machine": 25,
    "irq_super": 17,
    "m_muldiv": 105,
    "sv39": 19,
    "sv39_straddle": 4,
    "traps": 35,
    "trigger": 28,
}

MASK64 = (1 << 64) - 1


def _signed(value: int) -> int:
    """Read a 64-bit pattern as a two's-complement integer."""
    value &= MASK64
    return value - (1 << 64) if value >> 63 else value


def _f32(x: float) -> int:
    """The bits of ``x`` as a single, NaN-boxed in a 64-bit register."""
    return 0xFFFFFFFF00000000 | struct.unpack("<I", struct.pack("<f", x))[0]


def _f64(x: float) -> int:
    """The bits of ``x`` as a double."""
    return struct.unpack("<Q", struct.pack("<d", x))[0]


_A, _B = 0x123456789ABCDEF0, 0x0FEDCBA987654321

# Values worked out by hand (or by Python's integer and IEEE arithmetic), independent of
# both machines, so QEMU itself is checked against ground truth and not only trusted.
GROUND_TRUTH: dict[str, dict[str, int]] = {
    "i_alu": {
        "add_1": (_A + _B) & MASK64,
        "sub_3": (0x8000000000000000 + 1) & MASK64,
        "sraw_5": 0xFFFFFFFFF0000000,  # low word 0x80000001 >> 3, arithmetic, sign-extended
        "sltu_2": 0,  # 0xffff... < 1 is false unsigned
        "slt_2": 1,  # -1 < 1 signed
        "lui_80000": 0xFFFFFFFF80000000,
        "addiw_p1_4": 0xFFFFFFFF80000000,  # 0x7fffffff + 1 wraps in 32 bits
    },
    "i_mem": {"lb_0": 0xFFFFFFFFFFFFFFF7, "lwu_4": 0x8081F2F3, "lh_6": 0xFFFFFFFFFFFF8081},
    "m_muldiv": {
        "mulh_big": ((_signed(_A) * _signed(_B)) >> 64) & MASK64,
        "mulhu_big": (_A * _B) >> 64,
        "mulhsu_m1m1": ((-1 * MASK64) >> 64) & MASK64,
        "mul_big": (_A * _B) & MASK64,
        "div_minm1": 0x8000000000000000,  # overflow: the dividend
        "rem_minm1": 0,
        "div_d0": MASK64,  # division by zero: all ones
        "divu_d0": MASK64,
        "rem_d0": 7,  # remainder by zero: the dividend
        "div_m7d2": (-3) & MASK64,  # rounds toward zero
        "rem_m7d2": (-1) & MASK64,
        "divw_wmin": 0xFFFFFFFF80000000,
        "remuw_wd0": 5,
    },
    "a_atomic": {
        "sc_w_ok": 0,
        "sc_w_again": 1,
        "amomin_w_mem": 0x5555555580000001,  # signed: 0x80000001 < 2
        "amominu_w_mem": 0x5555555500000002,  # unsigned: 2 < 0x80000001
        "amoadd_w_old": 0xFFFFFFFF80000001,  # the old word, sign-extended
        "amoadd_d_mem": 0x8000000000000003,
    },
    "f_single": {
        "fadd.s_1p2": _f32(3.0),
        "fdiv.s_1d3": _f32(1 / 3),
        "fsqrt.s_2": _f32(math.sqrt(2)),
        "fdiv.s_1d0_fl": 0x08,  # DZ
        "fsub.s_inf_inf": 0xFFFFFFFF7FC00000,  # canonical NaN, boxed
        "fsub.s_inf_inf_fl": 0x10,  # NV
        "fmin.s_snan_1": _f32(1.0),
        "fmin.s_m0_p0": _f32(-0.0),
        "fclass.s_qnan": 1 << 9,
        "fclass.s_nsub": 1 << 2,
        "unboxed_fadd": 0xFFFFFFFF7FC00000,
        "fmsub.s_fused": _f32(2.0**-24),
    },
    "d_double": {
        "fsqrt.d_2": _f64(math.sqrt(2)),
        "fmul.d_tenth3": _f64(0.1 * 3),
        "fadd.d_max_max_fl": 0x05,  # OF | NX
        "fcvt.s.d_tenth": _f32(0.1),
        "fcvt.d.s_snan": 0x7FF8000000000000,
    },
    "fp_convert": {
        "fcvt.w.s_rne_m1p5": (-2) & MASK64,
        "fcvt.w.s_rtz_m1p5": (-1) & MASK64,
        "fcvt.w.s_rdn_m1p5": (-2) & MASK64,
        "fcvt.w.s_rup_m1p5": (-1) & MASK64,
        "fcvt.w.s_rmm_m1p5": (-2) & MASK64,
        "fcvt.w.s_rne_m1p5_fl": 0x01,  # NX
        "fcvt.w.s_rne_2p5": 2,  # ties to even
        "fcvt.w.s_rmm_2p5": 3,  # ties away from zero
        "fcvt.w.s_dyn2_m1p5": (-2) & MASK64,  # frm = RDN
        "fcvt.w.s_rtz_nan": 0x7FFFFFFF,
        "fcvt.w.s_rtz_nan_fl": 0x10,
        "fcvt.wu.s_rtz_m1": 0,
        "fcvt.lu.d_rtz_1e19": 10**19,
        "fcvt.s.w_rtz_imax": 0xFFFFFFFF4EFFFFFF,  # 2147483520.0
        "fcsr_all_ones": 0xFF,
    },
    "csr": {"misa": 0x800000000014112D, "mhartid": 0},
    # Each breakpoint skips its instruction: the addi, the load and the store never happen.
    "trigger": {
        "exec_a0": 7,
        "disarmed_a0": 8,
        "load_t1": 0x55,
        "load_store_passes": 0x1234,
        "store_value": 0x1234,
        "at_least_two_triggers": 1,
        "every_trigger_mcontrol": 1,
        "dmode_from_m": 0,
        "action_from_m": 0,
        "exec_mtval_zero_or_address": 1,
        "load_mtval_zero_or_address": 1,
        "store_mtval_zero_or_address": 1,
    },
    "irq_machine": {"hart1_mhartid_plus_100": 101},
    "sv39": {"user_wrote": 0xBBBB000000000003, "va_page_a_after_remap": 0xBBBB000000000002},
    # The unmapped case must not run the addi: the fault comes before it.
    "sv39_straddle": {"straddle_mapped": 0x223, "straddle_unmapped_a0": 0x100},
}


@dataclass(frozen=True)
class Run:
    """The outcome of one program on one machine."""

    returncode: int | None  # None when the machine was killed at the timeout
    output: str

    @property
    def lines(self) -> list[str]:
        """The console output split into lines."""
        return self.output.splitlines()


def run_machine(argv: list[str], timeout: float) -> Run:
    """Run a machine until it powers off or ``timeout`` seconds pass; capture its console.

    The console is decoded as Latin-1 so that any byte a broken machine emits still shows
    in the diff instead of raising a decoding error. Only the console (stdout) is compared: a
    machine's own diagnostics on stderr (the emulator reports every bus error there, with the
    address, pc and hart; QEMU is silent) are not something the guest printed.
    """
    try:
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            cwd=isa_build.REPO_ROOT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        return Run(None, out.decode("latin-1"))
    return Run(proc.returncode, proc.stdout.decode("latin-1"))


@pytest.fixture(scope="session")
def elves(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Build every program once per session into a temporary folder."""
    try:
        isa_build.compiler()
    except isa_build.ToolchainMissing as exc:
        pytest.skip(str(exc))
    out = tmp_path_factory.mktemp("isa")
    try:
        return isa_build.build_all(out)
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"building the ISA programs failed:\n{exc.stderr}")


_qemu_runs: dict[str, Run] = {}


@pytest.fixture(scope="session")
def qemu_run(elves: dict[str, Path]):
    """Return a function that runs a program on QEMU once and caches the result."""
    if shutil.which(QEMU) is None:
        pytest.skip(f"{QEMU} not found on PATH (Debian: apt-get install qemu-system-misc)")

    def get(name: str) -> Run:
        if name not in _qemu_runs:
            _qemu_runs[name] = run_machine([QEMU, *MACHINE_ARGS, "-kernel", str(elves[name])], QEMU_TIMEOUT_S)
        return _qemu_runs[name]

    return get


def values(run: Run) -> dict[str, int]:
    """Map each ``key=value`` result line of a run to its integer value."""
    out: dict[str, int] = {}
    for line in run.lines:
        key, sep, val = line.partition("=")
        if sep and re.fullmatch(r"[0-9a-f]{16}", val):
            out[key] = int(val, 16)
    return out


def test_every_program_has_an_expected_line_count() -> None:
    """A new program must declare how many lines it prints, and no stale entries remain."""
    assert sorted(EXPECTED_LINES) == sorted(PROGRAMS)
    assert set(GROUND_TRUTH) <= set(PROGRAMS)


@pytest.mark.parametrize("name", PROGRAMS)
def test_qemu_passes(name: str, qemu_run) -> None:
    """QEMU, the reference, runs the program to its pass exit and prints all its results."""
    run = qemu_run(name)
    assert run.returncode == 0, f"QEMU exit {run.returncode} for {name}; output:\n{run.output}"
    assert run.lines[-1:] == [f"ISA {name}: done"], run.output
    printed = len(run.lines) - 1
    assert printed == EXPECTED_LINES[name], (
        f"{name} printed {printed} lines before 'done', expected {EXPECTED_LINES[name]}:\n{run.output}"
    )
    assert len(set(run.lines)) > printed // 2, "mostly repeated lines: a loop, not results"


@pytest.mark.parametrize("name", sorted(GROUND_TRUTH))
def test_qemu_agrees_with_ground_truth(name: str, qemu_run) -> None:
    """Selected results on QEMU equal values computed independently in this file."""
    got = values(qemu_run(name))
    wrong = {
        key: (f"{got[key]:016x}" if key in got else "missing", f"{want:016x}")
        for key, want in GROUND_TRUTH[name].items()
        if got.get(key) != want
    }
    assert not wrong, f"{name}: (qemu, expected) per key: {wrong}"


def test_ground_truth_detects_a_wrong_value() -> None:
    """The ground-truth comparison rejects a transcript with one mutated result."""
    key, want = next(iter(GROUND_TRUTH["m_muldiv"].items()))
    mutated = Run(0, f"{key}={want ^ 1:016x}\n")
    assert values(mutated)[key] != want
    assert values(Run(0, f"{key}={want:016x}\n"))[key] == want


@pytest.mark.parametrize("name", PROGRAMS)
def test_emulator_matches_qemu(name: str, elves: dict[str, Path], qemu_run, emulator_python: str) -> None:
    """The emulator prints exactly what QEMU prints and powers off with the pass code, under
    CPython and under PyPy."""
    expected = qemu_run(name)
    assert expected.returncode == 0, f"QEMU itself fails {name}: see test_qemu_passes"
    argv = [emulator_python, "-m", "harness.emulator", *MACHINE_ARGS, "-kernel", str(elves[name])]
    got = run_machine(argv, EMULATOR_TIMEOUT_S)
    if got.output != expected.output:
        diff = "\n".join(
            difflib.unified_diff(
                expected.lines, got.lines, fromfile=f"qemu/{name}", tofile=f"emulator/{name}", lineterm=""
            )
        )
        status = "timed out" if got.returncode is None else f"exit {got.returncode}"
        pytest.fail(f"emulator output differs from QEMU on {name} (emulator {status}):\n{diff}")
    assert got.returncode == 0, f"emulator printed the right output but exited {got.returncode}"
