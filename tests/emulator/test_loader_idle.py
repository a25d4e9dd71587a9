"""ELF32/ELF64 loading by program headers, and skipping guest time while every hart waits."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.emulator.bus import Bus
from harness.emulator.loader import LoadError, load_elf, load_image

from .conftest import build_elf, link, needs_gcc, run_elf

# Every test here runs a program on both execution engines.
pytestmark = pytest.mark.usefixtures("engine")

BASE = 0x80000000


@needs_gcc
@pytest.mark.parametrize(("march", "mabi"), [("rv32imac_zicsr", "ilp32"), ("rv64imac_zicsr", "lp64")])
def test_elf_segments_land_at_their_physical_addresses(tmp_path: Path, march: str, mabi: str) -> None:
    src = tmp_path / "seg.S"
    src.write_text(
        '.section .text.entry, "ax"\n.globl _start\n_start:\n  j _start\n'
        ".data\n.balign 8\nvalue: .word 0x12345678\n.bss\n.space 64\n"
    )
    elf = link(src, tmp_path / "seg.elf", march, mabi)
    bus = Bus(BASE, 1 << 20)
    bus.ram[:] = b"\xff" * (1 << 20)
    image = load_elf(bus, elf.read_bytes(), str(elf))
    assert image.entry == BASE
    assert bus.read(BASE, 2) == 0xA001  # c.j 0
    assert (0x12345678).to_bytes(4, "little") in bytes(bus.ram[: image.end - BASE])
    assert bus.ram[image.end - BASE - 1] == 0  # .bss (memsz beyond filesz) is zeroed


def test_non_riscv_and_truncated_elves_are_rejected(tmp_path: Path) -> None:
    bus = Bus(BASE, 1 << 16)
    with pytest.raises(LoadError):
        load_elf(bus, b"\x7fELF" + b"\0" * 10, "short.elf")
    with pytest.raises(LoadError):
        load_image(bus, str(tmp_path / "missing.bin"), BASE)
    raw = tmp_path / "raw.bin"
    raw.write_bytes(b"\x13\x00\x00\x00")
    assert load_image(bus, str(raw), BASE).end == BASE + 4


@needs_gcc
def test_all_harts_in_wfi_skip_guest_time_to_the_timer(tmp_path: Path) -> None:
    """Guest time is not host time: a 40 s guest wait costs the host almost nothing."""
    elf = build_elf(
        tmp_path,
        r"""
    .equ CLINT, 0x2000000
_start:
    bnez a0, park
    li t0, CLINT + 0xbff8
    ld t1, 0(t0)
    li t2, 400000000        # 40 s at 10 MHz
    add t1, t1, t2
    li t0, CLINT + 0x4000
    sd t1, 0(t0)
    li t0, 1 << 7
    csrs mie, t0            # MTIE, but MIE stays clear: WFI wakes without trapping
1:  wfi
    csrr t0, mip
    andi t0, t0, 1 << 7
    beqz t0, 1b
    PASS
park:
    wfi
    j park
""",
    )
    wall = time.monotonic()
    result = run_elf(elf, smp=2, seconds=20)
    wall = time.monotonic() - wall
    # A machine sleeping on the host would still be waiting when run_elf gives up at 20 s.
    assert result.status == 0
    assert result.machine.clock.mtime() >= 400_000_000
    assert result.machine.instructions < 1000
    assert wall < 15, wall
