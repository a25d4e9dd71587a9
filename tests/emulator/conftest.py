"""Shared helpers: assemble bare-metal snippets and run them on an in-process machine."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.emulator.console import MemoryConsole
from harness.emulator.engines import ENGINES
from harness.emulator.machine import Machine, MachineConfig

GCC = "riscv64-unknown-elf-gcc"
PROGRAMS = Path(__file__).parent / "programs"

# Every snippet starts at 0x80000000 in M-mode (a0 = hartid, a1 = DTB) and reports through the
# sifive,test device: PASS powers off with status 0, FAIL n exits with status n.
PRELUDE = r"""
    .equ TEST, 0x100000
    .equ UART, 0x10000000
    .macro PASS
    li t6, TEST
    li t5, 0x5555
    sw t5, 0(t6)
    .endm
    .macro FAIL code
    li t6, TEST
    li t5, (\code << 16) | 0x3333
    sw t5, 0(t6)
    .endm
    .section .text.entry, "ax"
    .globl _start
"""


@pytest.fixture(params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once per execution engine (the interpreter PyPy uses by default, the
    block translator CPython uses), both in this CPython process."""
    monkeypatch.setenv("HARTBEAT_EMU_ENGINE", request.param)
    return str(request.param)


needs_gcc = pytest.mark.skipif(shutil.which(GCC) is None, reason="riscv64-unknown-elf-gcc not installed")


@dataclass(frozen=True)
class RunResult:
    """Exit status (-1 on timeout) and console output of a program run."""

    status: int
    output: bytes
    machine: Machine


def link(
    source: Path, elf: Path, march: str = "rv64imafdc_zicsr_zifencei", mabi: str = "lp64", flags: tuple[str, ...] = ()
) -> Path:
    """Assemble and link ``source`` at 0x80000000 (programs/link.ld) into ``elf``; ``flags`` such as
    ``-DSPIN`` go to the preprocessor of a ``.S`` file."""
    subprocess.run(
        [GCC, f"-march={march}", f"-mabi={mabi}", *flags, "-nostdlib", "-nostartfiles", "-Wl,--no-warn-rwx-segments",
         "-T", str(PROGRAMS / "link.ld"), "-o", str(elf), str(source)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return elf


def build_elf(tmp_path: Path, source: str, name: str = "prog", march: str = "rv64imafdc_zicsr_zifencei") -> Path:
    """Assemble ``source`` (after PRELUDE) linked at 0x80000000; return the ELF path."""
    src = tmp_path / f"{name}.S"
    src.write_text(PRELUDE + source)
    return link(src, tmp_path / f"{name}.elf", march)


def run_elf(
    elf: Path, smp: int = 1, seconds: float = 20.0, board: str = "virt", report_stale_fetch: bool = False
) -> RunResult:
    """Run ``elf`` with ``-bios none`` in-process until it exits through the test device."""
    console = MemoryConsole()
    config = MachineConfig(board=board, smp=smp, bios="none", kernel=str(elf), report_stale_fetch=report_stale_fetch)
    machine = Machine(config, console)
    status = machine.run(max_seconds=seconds)
    return RunResult(status, bytes(console.output), machine)


@pytest.fixture
def run_asm(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Assemble and run a snippet: ``run_asm(source, smp=1) -> RunResult``."""

    def run(source: str, smp: int = 1, seconds: float = 20.0) -> RunResult:
        return run_elf(build_elf(tmp_path, source), smp=smp, seconds=seconds)

    return run
