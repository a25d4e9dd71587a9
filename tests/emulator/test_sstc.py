"""Sstc on the virt machine only: stimecmp raises STIP from mtime; the FU740 model has no Sstc."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.emulator.boards import UNMATCHED, VIRT
from harness.emulator.dts import DtOptions, render_dts

from .conftest import build_elf, needs_gcc, run_elf

# Every test here runs a program on both execution engines.
pytestmark = pytest.mark.usefixtures("engine")

SSTC_PROGRAM = r"""
_start:
    bnez a0, park
    li t0, 1
    slli t0, t0, 63
    csrw 0x30a, t0          # menvcfg.STCE
    csrr t1, 0x30a
    bne t1, t0, fail_envcfg
    csrr t1, time
    li t2, 100000
    add t1, t1, t2
    csrw 0x14d, t1          # stimecmp = now + 10 ms of guest time
    csrr t3, mip
    andi t3, t3, 1 << 5
    bnez t3, fail_early     # STIP must wait for the compare value
    li t3, 1 << 5
    csrs mip, t3            # with STCE, STIP is not writable through mip
    csrr t3, mip
    andi t3, t3, 1 << 5
    bnez t3, fail_writable
1:  csrr t3, mip            # spin until mtime passes stimecmp
    andi t3, t3, 1 << 5
    beqz t3, 1b
    csrr t4, time
    bltu t4, t1, fail_early
    li t2, -1
    csrw 0x14d, t2          # a compare value in the future lowers STIP again
    csrr t3, mip
    andi t3, t3, 1 << 5
    bnez t3, fail_lower
    PASS
fail_envcfg:
    FAIL 2
fail_early:
    FAIL 3
fail_writable:
    FAIL 4
fail_lower:
    FAIL 5
park:
    wfi
    j park
"""

NO_SSTC_PROGRAM = r"""
_start:
    bnez a0, park
    la t0, handler
    csrw mtvec, t0
    li s0, 0
    csrr t1, 0x14d          # stimecmp
    csrr t1, 0x30a          # menvcfg (priv 1.12): the U74 implements 1.11
    li t2, 2
    bne s0, t2, bad
    PASS
bad:
    FAIL 1
    .balign 4
handler:
    csrr t3, mepc
    addi t3, t3, 4
    csrw mepc, t3
    addi s0, s0, 1
    mret
park:
    wfi
    j park
"""


@needs_gcc
def test_stimecmp_drives_stip_on_virt(tmp_path: Path) -> None:
    result = run_elf(build_elf(tmp_path, SSTC_PROGRAM))
    assert result.status == 0, result.status


@needs_gcc
def test_unmatched_has_no_sstc(tmp_path: Path) -> None:
    result = run_elf(build_elf(tmp_path, NO_SSTC_PROGRAM), smp=2, board="unmatched")
    assert result.status == 0, result.status


def test_isa_string_and_uart_clock_in_the_device_tree() -> None:
    virt = render_dts(VIRT, 1, DtOptions(1 << 28))
    assert 'riscv,isa = "rv64imafdc_sstc";' in virt
    unmatched = render_dts(UNMATCHED, 5, DtOptions(1 << 28))
    assert "_sstc" not in unmatched
    # Linux's sifive serial driver needs a clock to probe (no clock: no console).
    assert 'compatible = "fixed-clock";' in unmatched
    assert "clocks = <&uartclk>;" in unmatched
