"""Speed of the in-repo RISC-V emulator (harness/emulator).

Prints, for CPython (and PyPy when ``pypy3`` is on PATH):
  * MIPS on a bare-metal compute loop (CRC-32, a prime sieve and an insertion sort), built at
    run time with riscv64-unknown-elf-gcc into a temporary directory;
  * seconds from start to the U-Boot ``=>`` prompt (Debian OpenSBI fw_jump + U-Boot on -M virt,
    including U-Boot's 2 s autoboot countdown), next to QEMU's time for the same boot measured
    in this run, and the ratio.

Usage: python benchmarks/emulator_speed.py [--skip-boot] [--skip-compute] [--iterations N]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parent.parent
FW_JUMP = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"
UBOOT = "/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin"
STATS_RE = re.compile(r"hartbeat-emu: (\d+) instructions in ([\d.]+) s")

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


def build_compute_elf(workdir: Path, iterations: int) -> Path:
    """Assemble and link the compute benchmark; return the ELF path."""
    (workdir / "start.S").write_text(START_S)
    (workdir / "bench.c").write_text(BENCH_C)
    (workdir / "link.ld").write_text(LINK_LD)
    elf = workdir / "bench.elf"
    subprocess.run(
        [
            "riscv64-unknown-elf-gcc",
            "-O2",
            "-march=rv64imac_zicsr",
            "-mabi=lp64",
            "-mcmodel=medany",
            "-nostdlib",
            "-nostartfiles",
            "-ffreestanding",
            f"-DITERATIONS={iterations}",
            "-Wl,--no-warn-rwx-segments",
            "-T",
            str(workdir / "link.ld"),
            "-o",
            str(elf),
            str(workdir / "start.S"),
            str(workdir / "bench.c"),
        ],
        check=True,
    )
    return elf


def run_compute(python: str, elf: Path) -> tuple[int, float]:
    """Run the compute ELF on the emulator under ``python``; return (instructions, seconds)."""
    env = dict(os.environ, HARTBEAT_EMU_STATS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [python, "-m", "harness.emulator", "-M", "virt", "-bios", "none", "-kernel", str(elf), "-nographic"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    match = STATS_RE.search(proc.stderr)
    if proc.returncode != 0 or not match:
        raise RuntimeError(f"compute run failed (status {proc.returncode}): {proc.stderr.strip()}")
    return int(match.group(1)), float(match.group(2))


def seconds_to_prompt(argv: list[str], env: dict[str, str] | None = None) -> float:
    """Seconds from spawning ``argv`` until U-Boot prints its ``=>`` prompt (autoboot included)."""
    started = time.monotonic()
    child = pexpect.spawn(argv[0], argv[1:], env=env, timeout=300, cwd=str(ROOT))
    try:
        child.expect("Hit any key to stop autoboot")
        child.expect("=> ")
        return time.monotonic() - started
    finally:
        child.terminate(force=True)


def boot_argv(python: str | None) -> list[str]:
    """Command line booting OpenSBI fw_jump + U-Boot on virt, on the emulator or on QEMU."""
    common = ["-M", "virt", "-m", "256M", "-nographic", "-bios", FW_JUMP, "-kernel", UBOOT]
    if python is None:
        return ["qemu-system-riscv64", *common]
    return [python, "-m", "harness.emulator", *common]


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-boot", action="store_true")
    parser.add_argument("--skip-compute", action="store_true")
    parser.add_argument("--iterations", type=int, default=100)
    args = parser.parse_args()
    pythons = [("CPython", sys.executable)]
    if shutil.which("pypy3"):
        pythons.append(("PyPy", shutil.which("pypy3") or "pypy3"))
    if not args.skip_compute:
        with tempfile.TemporaryDirectory() as tmp:
            elf = build_compute_elf(Path(tmp), args.iterations)
            for label, python in pythons:
                n, secs = run_compute(python, elf)
                print(f"compute loop, {label}: {n} instructions in {secs:.2f} s = {n / secs / 1e6:.2f} MIPS")
    if not args.skip_boot:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        qemu = seconds_to_prompt(boot_argv(None)) if shutil.which("qemu-system-riscv64") else None
        if qemu is not None:
            print(f"U-Boot prompt, QEMU: {qemu:.2f} s")
        for label, python in pythons:
            secs = seconds_to_prompt(boot_argv(python), env)
            ratio = f" ({secs / qemu:.1f}x QEMU)" if qemu else ""
            print(f"U-Boot prompt, emulator on {label}: {secs:.2f} s{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
