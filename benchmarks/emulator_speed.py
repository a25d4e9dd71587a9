"""Speed of the in-repo RISC-V emulator (harness/emulator) next to QEMU, measured in one run.

Workloads, each on QEMU, on the emulator under CPython and (when ``pypy3`` is on PATH) under
PyPy; every emulator figure comes from a separate process started like the harness starts it:
  * a bare-metal compute loop (CRC-32, a prime sieve and an insertion sort), built at run
    time with riscv64-unknown-elf-gcc into a temporary directory, to power-off;
  * Debian OpenSBI fw_jump + U-Boot on -M virt to "Hit any key to stop autoboot", and on to
    the ``=>`` prompt (after U-Boot's 2 s countdown, which on the emulator is guest time);
  * the same on -M unmatched with all 5 harts (to compare with 1 hart on virt);
  * hartbeat's tiny Linux (tinyconfig 6.1, ``make linux-image``) to its shell prompt on virt
    (1 hart) and unmatched (5 harts), when its kernel and initramfs are in ~/.cache/hartbeat/linux;
  * Debian's distro kernel (``make linux-distro``) with the same initramfs, on QEMU and PyPy
    (CPython takes about 7 minutes there: ``--cpython-everywhere``).

At the end it checks the figures of the default interpreter against issue 23's speed goals
(OpenSBI + U-Boot to "Hit any key" <= 1.0 s, the tiny Linux <= 3 s, the distro kernel <= 30 s,
5 harts at most 1.3x one hart).

Per workload and machine it prints wall seconds, guest instructions (the emulator's count at
the mark), MIPS (instructions per wall second) and the ratio to QEMU's seconds; for the last
mark also the emulator's CPU seconds and MIPS per CPU second, the figure that matters when
the host is shared (wall time then includes waiting for a core).

Usage: python benchmarks/emulator_speed.py [--iterations N] [--skip-linux] [--only NAME] [--cpython-everywhere]
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pexpect

from harness.emulator.host_env import interpreter_env

ROOT = Path(__file__).resolve().parent.parent
FW_JUMP = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"
UBOOT = "/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin"
LINUX_CACHE = Path.home() / ".cache" / "hartbeat" / "linux"
STATS_RE = re.compile(
    rb"hartbeat-emu: (\d+) instructions in [\d.]+ s \([\d.]+ MIPS\)\r?\nhartbeat-emu: ([\d.]+) s of CPU"
)
TIMEOUT_S = 900

START_S = r"""
    .section .text.entry, "ax"
    .globl _start
_start:
    bnez a0, park
    la sp, stack_top
    call main
    li t0, 0x100000
    li t1, 0x5555
    sw t1, 0(t0)
park:
    wfi
    j park
    .bss
    .balign 16
    .space 16384
stack_top:
"""

BENCH_C = r"""
#define N 2048
static unsigned char buf[N];
static unsigned int table[256];
static unsigned char sieve[N];
static int arr[256];

static unsigned int crc32(const unsigned char *p, int n) {
    unsigned int c = 0xFFFFFFFFu;
    for (int i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return ~c;
}

static int primes(void) {
    int count = 0;
    for (int i = 0; i < N; i++) sieve[i] = 1;
    for (int i = 2; i < N; i++) {
        if (!sieve[i]) continue;
        count++;
        for (int j = i * 2; j < N; j += i) sieve[j] = 0;
    }
    return count;
}

static void sort(unsigned int seed) {
    for (int i = 0; i < 256; i++) { seed = seed * 1103515245u + 12345u; arr[i] = (int)(seed >> 8); }
    for (int i = 1; i < 256; i++) {
        int v = arr[i], j = i - 1;
        while (j >= 0 && arr[j] > v) { arr[j + 1] = arr[j]; j--; }
        arr[j + 1] = v;
    }
}

volatile unsigned int sink;

int main(void) {
    for (unsigned int i = 0; i < 256; i++) {
        unsigned int c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    for (int i = 0; i < N; i++) buf[i] = (unsigned char)(i * 7);
    for (int round = 0; round < ITERATIONS; round++) {
        sink = crc32(buf, N);
        sink = primes();
        sort(round);
    }
    return 0;
}
"""

LINK_LD = """
ENTRY(_start)
SECTIONS {
  . = 0x80000000;
  .text : { *(.text.entry) *(.text*) }
  .rodata : { *(.rodata*) *(.srodata*) }
  .data : { *(.data*) *(.sdata*) }
  .bss : { *(.bss*) *(.sbss*) *(COMMON) }
}
"""


@dataclass(frozen=True)
class Workload:
    """A machine command line (after the program name) and the console texts that mark it."""

    name: str
    args: tuple[str, ...]
    marks: tuple[tuple[str, str], ...]  # (label, text): the time to each text is a figure
    qemu: bool = True
    # CPython is left out of workloads it would spend many minutes on (see --cpython-everywhere).
    cpython: bool = True
    # Short boots are measured this many times and the median run is kept: a run of PyPy now
    # and then JITs a little later and takes 0.2-0.5 s more.
    repeats: int = 1


@dataclass(frozen=True)
class Figure:
    """Wall seconds to one mark; the emulator's instructions and CPU seconds when known."""

    seconds: float
    instructions: int | None = None
    cpu: float | None = None
    # The slowest of the repeated runs to the same mark (a goal "in every single run" is judged on it).
    worst: float | None = None


def build_compute_elf(workdir: Path, iterations: int) -> Path:
    """Assemble and link the compute benchmark; return the ELF path."""
    (workdir / "start.S").write_text(START_S)
    (workdir / "bench.c").write_text(BENCH_C)
    (workdir / "link.ld").write_text(LINK_LD)
    elf = workdir / "bench.elf"
    flags = ["-O2", "-march=rv64imac_zicsr", "-mabi=lp64", "-mcmodel=medany", "-nostdlib", "-nostartfiles"]
    flags += ["-ffreestanding", f"-DITERATIONS={iterations}", "-Wl,--no-warn-rwx-segments"]
    sources = [str(workdir / "start.S"), str(workdir / "bench.c")]
    subprocess.run(
        ["riscv64-unknown-elf-gcc", *flags, "-T", str(workdir / "link.ld"), "-o", str(elf), *sources], check=True
    )
    return elf


def tiny_linux() -> tuple[Path, Path] | None:
    """The newest tiny kernel and initramfs ``make linux-image`` left in the cache, if any."""
    builds = [d for d in LINUX_CACHE.glob("*") if (d / "Image").is_file() and (d / "initramfs.cpio").is_file()]
    if not builds:
        return None
    newest = max(builds, key=lambda d: (d / "Image").stat().st_mtime)
    return newest / "Image", newest / "initramfs.cpio"


def distro_kernel() -> Path | None:
    """Debian's riscv64 kernel that ``make linux-distro`` left in the cache, if any."""
    kernels = sorted((LINUX_CACHE / "distro").glob("linux-image-*/Image"), key=lambda p: p.stat().st_mtime)
    return kernels[-1] if kernels else None


def measure(argv: list[str], marks: tuple[tuple[str, str], ...], env: dict[str, str]) -> list[Figure]:
    """Spawn ``argv``; the wall seconds to each mark (or to exit, for an empty text); the
    emulator's instruction count when it stops (SIGTERM right after the last mark)."""
    started = time.monotonic()
    child = pexpect.spawn(argv[0], argv[1:], env=env, timeout=TIMEOUT_S, cwd=str(ROOT))
    log = io.BytesIO()
    child.logfile_read = log
    times: list[float] = []
    try:
        for _, text in marks:
            child.expect(pexpect.EOF if not text else re.escape(text))
            times.append(time.monotonic() - started)
        if child.isalive():
            child.kill(signal.SIGTERM)
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    match = STATS_RE.search(log.getvalue())
    last = len(times) - 1
    if match is None:
        return [Figure(t) for t in times]
    # Only the last mark's counts are known: earlier marks are shown with seconds only.
    count, cpu = int(match.group(1)), float(match.group(2))
    return [Figure(t, count, cpu) if i == last else Figure(t) for i, t in enumerate(times)]


def median_run(argv: list[str], marks: tuple[tuple[str, str], ...], env: dict[str, str], repeats: int) -> list[Figure]:
    """``measure`` ``repeats`` times; for each mark the median run's figure, carrying the slowest
    run's seconds to that mark (``worst``, when repeated), every run printed."""
    results = [measure(argv, marks, env) for _ in range(repeats)]
    shown: list[Figure] = []
    for index, (label, _) in enumerate(marks):
        ranked = sorted((figures[index] for figures in results), key=lambda figure: figure.seconds)
        if repeats > 1:
            seconds = ", ".join(f"{figures[index].seconds:.2f}" for figures in results)
            print(f"    ({Path(argv[0]).name}: {repeats} runs {label}: {seconds} s; the median is shown)")
        worst = ranked[-1].seconds if repeats > 1 else None
        shown.append(replace(ranked[len(ranked) // 2], worst=worst))
    return shown


def interpreters() -> list[tuple[str, str]]:
    """(label, python) for each interpreter the emulator can run under here."""
    found = [("CPython", sys.executable)]
    pypy = shutil.which("pypy3")
    if pypy:
        found.append(("PyPy", pypy))
    return found


def workloads(elf: Path, skip_linux: bool) -> list[Workload]:
    """Every workload this machine can run."""
    uboot = ("-m", "256M", "-nographic", "-bios", FW_JUMP, "-kernel", UBOOT)
    bare = ("-nographic", "-bios", "none")
    found = [
        Workload("compute loop", ("-M", "virt", *bare, "-kernel", str(elf)), (("exit", ""),), repeats=3),
        Workload(
            "OpenSBI + U-Boot, virt, 1 hart",
            ("-M", "virt", "-smp", "1", *uboot),
            (("to 'Hit any key'", "Hit any key to stop autoboot"), ("to the prompt", "=> ")),
            repeats=3,
        ),
        Workload(
            "OpenSBI + U-Boot, unmatched, 5 harts",
            ("-M", "unmatched", "-smp", "5", *uboot),
            (("to 'Hit any key'", "Hit any key to stop autoboot"), ("to the prompt", "=> ")),
            qemu=False,
            repeats=3,
        ),
    ]
    linux = None if skip_linux else tiny_linux()
    if linux is not None:
        kernel, initrd = linux
        args: tuple[str, ...] = ("-M", "virt", "-m", "256M", "-nographic", "-bios", FW_JUMP, "-kernel", str(kernel))
        args += ("-initrd", str(initrd), "-append", "console=ttyS0 earlycon")
        found.append(Workload("tiny Linux 6.1, virt, 1 hart", args, (("to the shell", "hartbeat# "),)))
        unmatched: tuple[str, ...] = ("-M", "unmatched", "-smp", "5", "-m", "256M", "-nographic", "-bios", FW_JUMP)
        unmatched += ("-kernel", str(kernel), "-initrd", str(initrd), "-append", "console=ttySIF0 earlycon")
        found.append(
            Workload("tiny Linux 6.1, unmatched, 5 harts", unmatched, (("to the shell", "hartbeat# "),), qemu=False)
        )
        distro = distro_kernel()
        if distro is not None:
            # Debian's own kernel with our initramfs, as the linux-boot plan boots it.
            args = ("-M", "virt", "-m", "512M", "-nographic", "-bios", FW_JUMP, "-kernel", str(distro))
            args += ("-initrd", str(initrd), "-append", "console=ttyS0 earlycon")
            found.append(
                Workload("Debian distro kernel, virt, 1 hart", args, (("to the shell", "hartbeat# "),), cpython=False)
            )
    return found


def row(label: str, figure: Figure, qemu: Figure | None) -> str:
    """One printed line of figures."""
    text = f"    {label:<9} {figure.seconds:7.2f} s"
    if figure.instructions is not None and figure.cpu is not None:
        mips = figure.instructions / figure.seconds / 1e6
        text += f"  {figure.instructions:>11,} instructions  {mips:6.2f} MIPS"
        text += f"  ({figure.cpu:.2f} s of CPU: {figure.instructions / figure.cpu / 1e6:.2f} MIPS)"
    if qemu is not None and label != "QEMU":
        text += f"  {figure.seconds / qemu.seconds:5.1f}x QEMU"
    return text


def main() -> int:
    """Run every workload and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=100, help="rounds of the compute loop")
    parser.add_argument("--skip-linux", action="store_true", help="leave out the tiny Linux boot")
    parser.add_argument("--only", help="run only the workloads whose name contains this text")
    parser.add_argument(
        "--cpython-everywhere",
        action="store_true",
        help="run CPython on the distro kernel too (about 7 minutes on its own)",
    )
    args = parser.parse_args()
    # The environment hartbeat's emulator target starts the emulator with (PyPy's nursery).
    env = interpreter_env(dict(os.environ, PYTHONPATH=str(ROOT), HARTBEAT_EMU_STATS="1"))
    # Measure what a user's second start costs: compiled bytecode cached beside the sources, as
    # Python keeps it unless told not to (a host with PYTHONDONTWRITEBYTECODE=1 recompiles the
    # emulator at every start, 0.3 s of PyPy's start-up here).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for _, python in interpreters():
        compile_all = "import harness.emulator.__main__, harness.emulator.cli"
        subprocess.run([python, "-c", compile_all], env=env, cwd=ROOT, check=True)
    have_qemu = shutil.which("qemu-system-riscv64") is not None
    measured: dict[tuple[str, str, str], Figure] = {}
    with tempfile.TemporaryDirectory() as tmp:
        elf = build_compute_elf(Path(tmp), args.iterations)
        found = workloads(elf, args.skip_linux)
        for work in found:
            if args.only and args.only not in work.name:
                continue
            runs: list[tuple[str, list[Figure]]] = []
            if work.qemu and have_qemu:
                qemu = ["qemu-system-riscv64", *work.args]
                runs.append(("QEMU", median_run(qemu, work.marks, env, work.repeats)))
            for label, python in interpreters():
                if label == "CPython" and not (work.cpython or args.cpython_everywhere):
                    print(f"{work.name}: CPython left out (--cpython-everywhere runs it)")
                    continue
                emulator = [python, "-m", "harness.emulator", *work.args]
                runs.append((label, median_run(emulator, work.marks, env, work.repeats)))
            reference = dict(runs).get("QEMU")
            for index, (mark, _) in enumerate(work.marks):
                print(f"{work.name}, {mark}:")
                for label, figures in runs:
                    print(row(label, figures[index], reference[index] if reference else None))
                    measured[(work.name, mark, label)] = figures[index]
            sys.stdout.flush()
        pairs = paired_ratios(found, env, args.only)
    print_goals(measured, pairs)
    return 0


# Issue 23's goals (the earlier 1.5 s / 5 s / 60 s / 1.5x were all met by December 2026).
GOALS = (
    ("OpenSBI + U-Boot, virt, 1 hart", "to 'Hit any key'", 1.0),
    ("tiny Linux 6.1, virt, 1 hart", "to the shell", 3.0),
    ("Debian distro kernel, virt, 1 hart", "to the shell", 30.0),
)
# The most a 5-hart boot may cost against the same boot on one hart, and the pairs of runs
# (1 hart, then 5) it is judged on.
HART_RATIO = 1.3
PAIRS = 3
HART_PAIRS = (
    ("OpenSBI + U-Boot, virt, 1 hart", "OpenSBI + U-Boot, unmatched, 5 harts", "to the prompt"),
    ("tiny Linux 6.1, virt, 1 hart", "tiny Linux 6.1, unmatched, 5 harts", "to the shell"),
)


def paired_ratios(found: list[Workload], env: dict[str, str], only: str | None) -> dict[str, float]:
    """Each 5-hart boot's cost against the 1-hart one (``HART_PAIRS``), on the default
    interpreter: ``PAIRS`` pairs of runs, the 1-hart boot and then the 5-hart one, each pair's
    ratio of wall seconds to the mark, every pair printed; the median by the pair's name.

    Paired, because this host's speed drifts by more than the goal's margin within minutes (the
    same boot 1.5x apart in one afternoon): two single runs about 30 s apart (CPython's between
    them) gave 1.10x in one run and 1.49x in another for the same code, while the runs of one
    pair, seconds apart, share the host's speed of the moment."""
    python = interpreters()[-1][1]
    by_name = {work.name: work for work in found}
    medians: dict[str, float] = {}
    for one, five, mark in HART_PAIRS:
        single, many = by_name.get(one), by_name.get(five)
        if single is None or many is None or (only and only not in one and only not in five):
            continue
        first_at = [label for label, _ in single.marks].index(mark)
        second_at = [label for label, _ in many.marks].index(mark)
        ratios = []
        for _ in range(PAIRS):
            first = measure([python, "-m", "harness.emulator", *single.args], single.marks, env)[first_at]
            second = measure([python, "-m", "harness.emulator", *many.args], many.marks, env)[second_at]
            ratios.append(second.seconds / first.seconds)
            print(f"    (pair: 1 hart {first.seconds:.2f} s, 5 harts {second.seconds:.2f} s: {ratios[-1]:.2f}x)")
        medians[five] = statistics.median(ratios)
        print(f"{five} / 1 hart, {mark}, {PAIRS} pairs: median {medians[five]:.2f}x")
        sys.stdout.flush()
    return medians


def print_goals(measured: dict[tuple[str, str, str], Figure], pairs: dict[str, float]) -> None:
    """The issue's goals against the default interpreter (PyPy where installed), in wall seconds."""
    engine = "PyPy" if any(label == "PyPy" for _, _, label in measured) else "CPython"
    print(f"goals ({engine}, wall seconds):")
    for name, mark, limit in GOALS:
        figure = measured.get((name, mark, engine))
        if figure is not None:
            # Every run must meet it, not the median alone: judged on the slowest.
            worst = figure.worst if figure.worst is not None else figure.seconds
            verdict = "met" if worst <= limit else "NOT met"
            shown = f"{figure.seconds:.2f} s" + (f", slowest run {worst:.2f} s" if figure.worst is not None else "")
            print(f"    {name}, {mark}: {shown} (goal <= {limit:g} s): {verdict}")
    # The median of the paired runs' ratios (paired_ratios), not a ratio of the two medians above.
    for _, five, mark in HART_PAIRS:
        ratio = pairs.get(five)
        if ratio is not None:
            verdict = "met" if ratio <= HART_RATIO else "NOT met"
            text = f"{ratio:.2f}x, median of {PAIRS} pairs"
            print(f"    5 harts / 1 hart, {five.split(',')[0]} {mark}: {text} (goal <= {HART_RATIO}x): {verdict}")


if __name__ == "__main__":
    sys.exit(main())
