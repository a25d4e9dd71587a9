"""harness.emulator.codecache: decoded code shared by harts, kept coherent with stores.

The interpreter's harts with the same F/D share one set of decoded pages; a store into code
that any of them decoded must reach every hart that maps the page, including a page dropped
whole while another hart's instruction TLB still points at it.
"""

from __future__ import annotations

from pathlib import Path

from harness.emulator.console import MemoryConsole
from harness.emulator.machine import Machine, MachineConfig

from .conftest import build_elf, needs_gcc, run_elf

# Hart 0 rewrites `f` (alone on its page, both instructions at once, so the page's decoded
# slots all go) to return k = 2, 3, 4; after each rewrite both harts call it and must get k.
# Hart 1 runs what hart 0 decoded and the other way round.
REWRITTEN_BY_ONE_HART_RUN_BY_BOTH = r"""
_start:
    la s0, f
    la s1, flag
    la s2, ack
    li s3, 2
    li s4, 5
    bnez a0, hart1
    jalr s0
    li t1, 1
    bne a0, t1, bad
0:  lw t1, 0(s2)
    beqz t1, 0b             # hart 1 ran the original too
1:  slli t4, s3, 20         # li a0, k; ret
    ori t4, t4, 0x513
    li t5, 0x8067
    slli t5, t5, 32
    or t4, t4, t5
    sd t4, 0(s0)
    fence.i
    sw s3, 0(s1)
    jalr s0
    bne a0, s3, bad
2:  lw t1, 0(s2)
    bne t1, s3, 2b
    addi s3, s3, 1
    bne s3, s4, 1b
    PASS
hart1:
    jalr s0
    li t1, 1
    bne a0, t1, bad1
    sw t1, 0(s2)
3:  lw t1, 0(s1)
    bne t1, s3, 3b
    fence.i
    jalr s0
    bne a0, s3, bad1
    sw s3, 0(s2)
    addi s3, s3, 1
    bne s3, s4, 3b
4:  wfi
    j 4b
bad:
    FAIL 1
bad1:
    FAIL 2

    .section .text.f, "ax"
    .balign 4096
    .option push
    .option norvc
f:  li a0, 1
    ret
    .option pop
    .balign 4096

    .data
    .balign 8
flag: .word 0
ack:  .word 0
"""


@needs_gcc
def test_code_rewritten_by_one_hart_runs_new_on_every_hart(tmp_path: Path, engine: str) -> None:
    result = run_elf(build_elf(tmp_path, REWRITTEN_BY_ONE_HART_RUN_BY_BOTH), smp=2)
    assert result.status == 0, result.output
    harts = result.machine.harts
    assert harts[0].interp.pages is harts[1].interp.pages


def test_harts_share_decoded_pages_only_where_they_decode_alike(tmp_path: Path) -> None:
    unmatched = Machine(MachineConfig(board="unmatched", smp=3, bios="none", kernel="/dev/null"), MemoryConsole())
    s7, u74, other_u74 = (h.interp for h in unmatched.harts)
    # The S7 monitor core has no F/D: an FP instruction decodes to illegal there, not on a U74.
    assert u74.pages is other_u74.pages
    assert s7.pages is not u74.pages
    # Stale-fetch reports check what each hart itself decodes, so then nothing is shared.
    config = MachineConfig(board="virt", smp=2, bios="none", kernel="/dev/null", report_stale_fetch=True)
    reporting = Machine(config, MemoryConsole())
    assert reporting.harts[0].interp.pages is not reporting.harts[1].interp.pages
