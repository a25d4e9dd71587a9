"""Bare-metal programs run in-process with -bios none: traps, privilege, interrupts, atomics."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .conftest import RunResult, needs_gcc

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [needs_gcc, pytest.mark.usefixtures("engine")]


def _ok(result: RunResult) -> None:
    assert result.status == 0, (result.status, result.output)


def test_unimplemented_csrs_raise_illegal_instruction(run_asm) -> None:  # type: ignore[no-untyped-def]
    _ok(
        run_asm(r"""
_start:
    la t0, handler
    csrw mtvec, t0
    li s0, 0
    csrr t1, 0x7b0          # dcsr: debug mode only
    csrr t1, 0x3c0          # pmpaddr16: only 16 PMP entries
    csrr t1, 0x3a1          # pmpcfg1 does not exist on RV64
    li t2, 3
    bne s0, t2, bad
    csrr t1, 0x3bf          # pmpaddr15 exists
    csrr t1, 0xb03          # mhpmcounter3 exists, reads zero
    bnez t1, bad
    csrr t1, 0x7a0          # tselect exists (the trigger module), outside debug mode too
    csrw mhartid, zero      # read-only CSR: illegal
    li t2, 4
    bne s0, t2, bad
    PASS
bad:
    FAIL 1
    .balign 4
handler:
    csrr t3, mcause
    li t4, 2
    bne t3, t4, bad2
    csrr t3, mtval          # the faulting instruction's encoding
    beqz t3, bad2
    addi s0, s0, 1
    csrr t3, mepc
    addi t3, t3, 4
    csrw mepc, t3
    mret
bad2:
    FAIL 2
""")
    )


def test_ecall_delegation_and_privilege_return(run_asm) -> None:  # type: ignore[no-untyped-def]
    _ok(
        run_asm(r"""
_start:
    la t0, mhandler
    csrw mtvec, t0
    la t0, shandler
    csrw stvec, t0
    li t0, 1 << 8           # delegate ecall-from-U to S
    csrw medeleg, t0
    li t0, 3 << 11
    csrc mstatus, t0        # MPP = U
    la t0, user
    csrw mepc, t0
    mret
user:
    ecall
    FAIL 1                  # never returns here
    .balign 4
shandler:
    csrr t0, scause
    li t1, 8
    bne t0, t1, bad3
    csrr t0, sepc
    la t1, user
    bne t0, t1, bad4
    csrr t0, sstatus
    andi t0, t0, 1 << 8     # SPP = U
    bnez t0, bad5
    ecall                   # ecall from S is not delegated: goes to M
    FAIL 6
    .balign 4
mhandler:
    csrr t0, mcause
    li t1, 9
    bne t0, t1, bad7
    csrr t0, mstatus
    srli t0, t0, 11
    andi t0, t0, 3
    li t1, 1                # MPP = S
    bne t0, t1, bad8
    PASS
bad3: FAIL 3
bad4: FAIL 4
bad5: FAIL 5
bad7: FAIL 7
bad8: FAIL 8
""")
    )


def test_vectored_timer_interrupt_wakes_wfi(run_asm) -> None:  # type: ignore[no-untyped-def]
    _ok(
        run_asm(r"""
    .equ CLINT, 0x2000000
_start:
    la t0, vectors
    ori t0, t0, 1           # vectored mode
    csrw mtvec, t0
    li t0, CLINT + 0xbff8
    ld t1, 0(t0)
    li t2, 20000            # 2 ms at 10 MHz
    add t1, t1, t2
    li t0, CLINT + 0x4000
    sd t1, 0(t0)
    li t0, 1 << 7
    csrs mie, t0
    csrsi mstatus, 8
1:  wfi
    j 1b
    .balign 64
    .option push
    .option norvc           # vector entries are 4 bytes apart
vectors:
    j bad
    .rept 6
    j bad
    .endr
    j timer                 # entry 7: machine timer
    .option pop
bad:
    FAIL 1
timer:
    csrr t0, mcause
    li t1, (1 << 63) | 7
    bne t0, t1, bad
    PASS
""")
    )


def test_self_modifying_code_with_fence_i(run_asm) -> None:  # type: ignore[no-untyped-def]
    from harness.emulator.translate import HOT_THRESHOLD

    assert HOT_THRESHOLD < 1000
    _ok(
        run_asm(r"""
_start:
    li s1, 1000             # run the function enough times for it to be compiled
1:  call func
    addi s1, s1, -1
    bnez s1, 1b
    li t0, 1
    bne a0, t0, bad
    la t0, func
    lw t1, patch
    sw t1, 0(t0)            # li a0, 1  ->  li a0, 2
    fence.i
    call func
    li t0, 2
    bne a0, t0, bad
    PASS
bad:
    FAIL 1
    .balign 4
func:
    .option push
    .option norvc
    li a0, 1
    ret
patch:
    li a0, 2
    .option pop
""")
    )


def test_lr_sc_reservation_broken_by_other_hart(run_asm) -> None:  # type: ignore[no-untyped-def]
    _ok(
        run_asm(
            r"""
_start:
    la s0, word
    la s1, go
    la s2, done
    bnez a0, other
    lr.w t0, (s0)
    li t1, 1
    sw t1, 0(s1)            # let hart 1 store to the reserved word
1:  lw t1, 0(s2)
    beqz t1, 1b
    li t2, 7
    sc.w t3, t2, (s0)
    beqz t3, bad            # must fail: another hart wrote the word
    li s3, 100
2:  lr.w t0, (s0)           # uncontended LR/SC succeeds (retrying spurious failures)
    sc.w t3, t2, (s0)
    beqz t3, 3f
    addi s3, s3, -1
    bnez s3, 2b
    j bad
3:  lw t0, 0(s0)
    li t1, 7
    bne t0, t1, bad
    PASS
bad:
    FAIL 1
other:
1:  lw t1, 0(s1)
    beqz t1, 1b
    li t1, 5
    sw t1, 0(s0)
    li t1, 1
    sw t1, 0(s2)
2:  wfi
    j 2b
    .data
    .balign 8
word: .word 0
go:   .word 0
done: .word 0
""",
            smp=2,
        )
    )


def test_amo_results_are_sign_extended(run_asm) -> None:  # type: ignore[no-untyped-def]
    _ok(
        run_asm(r"""
_start:
    la s0, val
    li t0, -5
    sw t0, 0(s0)
    li t1, 3
    amomax.w t2, t1, (s0)   # old -5 (sign-extended), new max(-5, 3) = 3
    li t3, -5
    bne t2, t3, bad
    lw t2, 0(s0)
    li t3, 3
    bne t2, t3, bad
    li t1, -1
    amominu.w t2, t1, (s0)  # unsigned min(3, 0xffffffff) = 3
    lw t2, 0(s0)
    li t3, 3
    bne t2, t3, bad
    li t1, 10
    amoadd.d t2, t1, (s0)
    ld t2, 0(s0)
    li t3, 13
    bne t2, t3, bad
    PASS
bad:
    FAIL 1
    .data
    .balign 8
val: .dword 0
""")
    )


def test_atomics_on_a_data_page_and_their_misaligned_trap(run_asm) -> None:  # type: ignore[no-untyped-def]
    # The data sits on its own page, so after the first store the write TLB maps it and the
    # interpreter runs these inline (inline.atomic); a misaligned one goes to Hart.amo.
    _ok(
        run_asm(r"""
_start:
    la t0, handler
    csrw mtvec, t0
    la s0, data
    sd zero, 0(s0)          # fills the data TLBs
    li t0, 0x7fffffff
    sw t0, 0(s0)
    li t1, 1
    amoadd.w t2, t1, (s0)   # 0x7fffffff + 1 wraps to 0x80000000
    li t3, 0x7fffffff
    bne t2, t3, bad
    lw t2, 0(s0)
    li t3, -0x80000000
    bne t2, t3, bad
    li t1, 9
    amoswap.w t2, t1, (s0)  # rd: the old word sign-extended
    bne t2, t3, bad
    lwu t2, 0(s0)
    bne t2, t1, bad
    addi s1, s0, 8
    li t1, -1
    sd t1, 0(s1)
    li t1, 1
    amoadd.d t2, t1, (s1)   # -1 + 1 wraps to 0
    li t3, -1
    bne t2, t3, bad
    ld t2, 0(s1)
    bnez t2, bad
    li t1, 0xf0
    amoor.d t2, t1, (s1)
    li t1, 0x3c
    amoand.d t2, t1, (s1)
    li t3, 0xf0
    bne t2, t3, bad
    li t1, -1
    amoxor.d t2, t1, (s1)   # 0x30 ^ -1
    li t3, 0x30
    bne t2, t3, bad
    li t1, 0x80000001
    amoor.w t2, t1, (s0)    # 9 | 0x80000001
    amoand.w t2, t1, (s0)   # rd: 0x80000009 sign-extended
    li t3, -0x7ffffff7
    bne t2, t3, bad
    li t1, 0xf
    amoxor.w t2, t1, (s0)   # 0x80000001 ^ 0xf
    li t3, -0x7fffffff
    bne t2, t3, bad
    lwu t2, 0(s0)
    li t3, 0x8000000e
    bne t2, t3, bad
    ld t2, 0(s1)
    li t3, ~0x30
    bne t2, t3, bad
    li s3, 100
1:  lr.d t2, (s1)           # uncontended LR/SC succeeds (retrying spurious failures)
    li t1, 5
    sc.d t4, t1, (s1)
    beqz t4, 2f
    addi s3, s3, -1
    bnez s3, 1b
    j bad
2:  li t3, ~0x30
    bne t2, t3, bad
    li t1, 6
    sc.d t4, t1, (s1)       # the reservation is gone: fails, stores nothing
    li t3, 1
    bne t4, t3, bad
    ld t2, 0(s1)
    li t3, 5
    bne t2, t3, bad
    li t1, -2
    sw t1, 16(s0)
    addi s2, s0, 16
    lr.w t2, (s2)           # sign-extended
    bne t2, t1, bad
    sc.w t4, zero, (s2)
    bnez t4, bad
    lw t2, 16(s0)
    bnez t2, bad
    li s4, 0
    addi s2, s0, 2
    amoadd.w t2, t1, (s2)   # misaligned: store/AMO address-misaligned (cause 6)
    li t3, 1
    bne s4, t3, bad
    PASS
bad:
    FAIL 1
    .balign 4
handler:
    csrr t3, mcause
    li t4, 6
    bne t3, t4, bad
    csrr t3, mtval
    bne t3, s2, bad
    addi s4, s4, 1
    csrr t3, mepc
    addi t3, t3, 4
    csrw mepc, t3
    mret
    .data
    .balign 4096
data: .dword 0, 0, 0
""")
    )


def test_sstatus_sie_in_s_mode_and_the_interrupt_it_unmasks(run_asm) -> None:  # type: ignore[no-untyped-def]
    # local_irq_save/restore's instructions, which the interpreter runs inline in S-mode: the
    # values they read, and a pending interrupt taken right after the one that sets SIE.
    _ok(
        run_asm(r"""
_start:
    la t0, mbad
    csrw mtvec, t0
    la t0, shandler
    csrw stvec, t0
    li t0, 2                # SSIP delegated and enabled
    csrw mideleg, t0
    csrw mie, t0
    li t0, 1 << 11          # MPP = S
    csrw mstatus, t0
    la t0, smode
    csrw mepc, t0
    mret
smode:
    li s5, 0
    csrsi sstatus, 2
    csrrci t0, sstatus, 2   # irq save: SIE was set
    andi t1, t0, 2
    beqz t1, bad
    csrr t0, sstatus
    andi t1, t0, 2
    bnez t1, bad
    li t0, 2
    csrs sip, t0            # pending, masked by SIE
    li t2, 2
    csrrs zero, sstatus, t2 # irq restore: taken here, before the next instruction
after:
    li s5, 1
    li t0, 2
    bne s6, t0, bad
    PASS
bad:
    FAIL 1
mbad:
    FAIL 2
    .balign 4
shandler:
    bnez s5, bad            # the instruction after the restore did not run first
    csrr t0, sepc
    la t1, after
    bne t0, t1, bad
    csrr t0, scause
    li t1, (1 << 63) | 1
    bne t0, t1, bad
    li t0, 2
    csrc sip, t0
    li s6, 2
    sret
""")
    )


def test_misaligned_accesses_work_across_pages(run_asm) -> None:  # type: ignore[no-untyped-def]
    _ok(
        run_asm(r"""
_start:
    la s0, buf
    li t4, 4093
    add s1, s0, t4
    li t0, 0x1122334455667788
    sd t0, 0(s1)            # straddles the page boundary at buf+4096
    ld t1, 0(s1)
    bne t0, t1, bad
    lhu t2, 2(s1)
    li t3, 0x5566
    bne t2, t3, bad
    lw t2, 1(s1)
    li t3, 0x44556677
    bne t2, t3, bad
    PASS
bad:
    FAIL 1
    .data
    .balign 4096
buf: .space 8192
""")
    )


def test_float_nan_boxing_and_rounding(run_asm) -> None:  # type: ignore[no-untyped-def]
    _ok(
        run_asm(r"""
_start:
    li t0, 1 << 13
    csrs mstatus, t0        # FS = Initial
    li t0, 0x3f800000       # 1.0f
    fmv.d.x f1, t0          # not NaN-boxed: reads as the canonical NaN
    fadd.s f2, f1, f1
    fmv.x.w t1, f2
    li t2, 0x7fc00000
    bne t1, t2, bad
    li t0, 0x3f800000
    fmv.w.x f3, t0          # properly boxed 1.0f
    li t0, 0x40400000       # 3.0f
    fmv.w.x f4, t0
    fdiv.s f5, f3, f4, rtz  # 1/3 rounded toward zero
    fmv.x.w t1, f5
    li t2, 0x3eaaaaaa
    bne t1, t2, bad
    fdiv.s f5, f3, f4, rup  # rounded up
    fmv.x.w t1, f5
    li t2, 0x3eaaaaab
    bne t1, t2, bad
    csrr t1, fflags
    andi t1, t1, 1          # inexact
    beqz t1, bad
    fcvt.w.s t1, f1         # NaN converts to INT_MAX with invalid flag
    li t2, 0x7fffffff
    bne t1, t2, bad
    csrr t1, fflags
    andi t1, t1, 16
    beqz t1, bad
    PASS
bad:
    FAIL 1
""")
    )


@pytest.mark.parametrize("board", ["virt", "unmatched"])
def test_dtb_in_a1_and_hartid_in_a0(tmp_path, board: str) -> None:  # type: ignore[no-untyped-def]
    from .conftest import build_elf, run_elf

    elf = build_elf(
        tmp_path,
        r"""
_start:
    csrr t0, mhartid
    bne t0, a0, bad
    lwu t1, 0(a1)
    li t2, 0xedfe0dd0       # FDT magic, big-endian in memory
    bne t1, t2, bad
    bnez a0, park
    PASS
park:
    wfi
    j park
bad:
    FAIL 1
""",
    )
    result = run_elf(elf, smp=2, board=board)
    assert result.status == 0


STALE_FETCH = r"""
_start:
    la t0, target
    lw t1, insn
    sw t1, 0(t0)            # write `li a0, 7` over code that was never executed
    {fence}
    jalr ra, t0
    li t1, 7
    bne a0, t1, bad
    PASS
bad:
    FAIL 1
    .balign 4
    .option push
    .option norvc
insn:
    li a0, 7
    .section .data
    .balign 4096
target:
    .word 0
    ret
    .option pop
"""


@pytest.mark.parametrize("fence", ["", "fence.i"])
def test_stale_fetch_report_needs_missing_fence_i(tmp_path, fence: str, engine: str) -> None:  # type: ignore[no-untyped-def]
    from .conftest import build_elf, run_elf

    elf = build_elf(tmp_path, STALE_FETCH.format(fence=fence))
    result = run_elf(elf, report_stale_fetch=True)
    assert result.status == 0  # executes the new bytes either way, like QEMU
    reports = result.machine.stale_fetches
    if fence:
        assert reports == []
    else:
        assert len(reports) == 1
        assert reports[0].startswith("hartbeat-emu: stale instruction fetch at pc=0x8000")
        assert "without fence.i" in reports[0]


def test_stale_fetch_is_reported_under_each_interpreter(tmp_path: Path, emulator_python: str) -> None:
    from .conftest import build_elf

    elf = build_elf(tmp_path, STALE_FETCH.format(fence=""))
    argv = [emulator_python, "-m", "harness.emulator", "-M", "virt", "-bios", "none", "-kernel", str(elf)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([*argv, "-nographic", "--report-stale-fetch"], capture_output=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    output = (done.stdout + done.stderr).decode(errors="replace")
    assert output.count("stale instruction fetch at pc=0x8000") == 1, output


RESET_PROGRAM = r"""
_start:
    bnez a0, 1f
    li t0, UART
    li t1, 'B'
    sb t1, 0(t0)
    li t0, TEST
    li t1, 0x7777           # reset request
    sw t1, 0(t0)
1:  wfi
    j 1b
"""


def test_reset_request_restarts_or_exits_with_status_3(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from harness.emulator.console import MemoryConsole
    from harness.emulator.machine import RESET_STATUS, Machine, MachineConfig

    from .conftest import build_elf

    elf = str(build_elf(tmp_path, RESET_PROGRAM))
    console = MemoryConsole()
    restarted = Machine(MachineConfig(bios="none", kernel=elf), console)
    # Every reset boots again, so the machine never ends on its own; slices of wall time (not
    # one second) let a loaded host still see the second boot.
    for _ in range(40):
        assert restarted.run(max_seconds=0.25) == -1
        if console.output.count(b"B") >= 2:
            break
    assert console.output.count(b"B") >= 2
    console = MemoryConsole()
    once = Machine(MachineConfig(bios="none", kernel=elf, no_reboot=True), console)
    assert once.run(max_seconds=10.0) == RESET_STATUS
    assert bytes(console.output) == b"B"
