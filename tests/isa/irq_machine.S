/*
 * Machine-level interrupts through the CLINT: the timer (mtimecmp/mtime) waking WFI while
 * interrupts are globally disabled and then trapping once enabled; a software interrupt
 * (msip) to itself; an inter-processor interrupt from hart 1 to hart 0 (-smp 2); the
 * priority of MSI over MTI when both are pending; M interrupts taken in S mode even with
 * mstatus.MIE = 0; and vectored mtvec dispatch (interrupts at base + 4 * cause,
 * exceptions at base). Only causes, pending bits and orders are printed, never times.
 */
#include "runtime.h"

    TEST_NAME irq_machine

    /* The vector stubs leave their index just below the trap stack top, in the frame's
     * padding, where SAVE_FRAME does not write. */
    .equ VEC_SLOT, -16

    .text

/* Ask for a timer interrupt soon: mtimecmp = mtime + \delta. Clobbers t0, t1. */
.macro TIMER_IN delta
    li t0, CLINT_MTIME
    ld t1, 0(t0)
    addi t1, t1, \delta
    li t0, CLINT_MTIMECMP
    sd t1, 0(t0)
.endm

/* Sleep until mip has \bit set (WFI may also return early, so re-check). */
.macro WAIT_PENDING bit
1:  wfi
    csrr t0, mip
    li t1, \bit
    and t0, t0, t1
    beqz t0, 1b
.endm

    .globl main
main:
    addi sp, sp, -16
    sd ra, 0(sp)
    la t0, m_hook
    la t1, rt_mirq_hook
    sd t0, 0(t1)

    /* Timer: pending wakes WFI although MIE = 0; the trap comes when MIE is set. */
    li t0, MIP_MTIP
    csrw mie, t0
    TIMER_IN 500
    WAIT_PENDING MIP_MTIP
    csrr s2, mip
    andi s2, s2, MIP_MTIP
    PR mtip_pending_after_wfi, s2
    PUTS "enabling MIE"
    csrsi mstatus, MSTATUS_MIE
    nop
    csrci mstatus, MSTATUS_MIE
    PUTS "after timer interrupt"
    csrr s2, mip
    andi s2, s2, MIP_MTIP
    PR mtip_after_ack, s2

    /* Software interrupt to self. */
    li t0, MIP_MSIP
    csrw mie, t0
    li t0, CLINT_MSIP
    li t1, 1
    sw t1, 0(t0)
    WAIT_PENDING MIP_MSIP
    csrsi mstatus, MSTATUS_MIE
    nop
    csrci mstatus, MSTATUS_MIE
    PUTS "after software interrupt"

    /* Both pending at once: MSI is taken before MTI. */
    li t0, MIP_MSIP | MIP_MTIP
    csrw mie, t0
    li t0, CLINT_MSIP
    li t1, 1
    sw t1, 0(t0)
    TIMER_IN 100
    WAIT_PENDING MIP_MTIP
    PUTS "both pending"
    csrsi mstatus, MSTATUS_MIE
    nop
    csrci mstatus, MSTATUS_MIE

    /* In S mode, M interrupts are enabled whatever mstatus.MIE says. */
    li t0, CLINT_MSIP
    li t1, 1
    sw t1, 0(t0)
    WAIT_PENDING MIP_MSIP
    li a0, PRV_S
    call rt_enter_mode
    nop
    ELEVATE
    PUTS "back from S"

    /* Vectored mtvec: the timer lands on slot 7, an ecall on slot 0. */
    csrr s5, mtvec
    la t0, vec_table
    ori t0, t0, 1
    csrw mtvec, t0
    li t0, MIP_MTIP
    csrw mie, t0
    TIMER_IN 100
    WAIT_PENDING MIP_MTIP
    csrsi mstatus, MSTATUS_MIE
    nop
    csrci mstatus, MSTATUS_MIE
    li a7, 0
    ecall
    csrw mtvec, s5

    /* IPI: wake hart 1 (its runtime waits for msip), which sends one back to hart 0. */
    li t0, MIP_MSIP
    csrw mie, t0
    li t0, CLINT_MSIP
    li t1, 1
    sw t1, 4(t0)
    WAIT_PENDING MIP_MSIP
    fence
    la t0, hart1_seen
    ld s2, 0(t0)
    PR hart1_mhartid_plus_100, s2
    csrsi mstatus, MSTATUS_MIE
    nop
    csrci mstatus, MSTATUS_MIE
    csrw mie, zero

    la t0, irq_count
    ld s2, 0(t0)
    PR irq_count, s2
    ld ra, 0(sp)
    addi sp, sp, 16
    ret

/* The interrupt hook: print what came and silence its source. */
m_hook:
    addi sp, sp, -16
    sd ra, 0(sp)
    PR mirq_cause, a0
    csrr t0, mstatus
    srli t0, t0, 11
    andi t0, t0, 3
    PR mirq_prev, t0
    csrr t0, mtvec
    andi t0, t0, 1
    beqz t0, 1f
    csrr t0, mscratch
    ld t1, VEC_SLOT(t0)
    PR mirq_vector, t1
1:  la t0, irq_count
    ld t1, 0(t0)
    addi t1, t1, 1
    sd t1, 0(t0)
    slli a0, a0, 1
    srli a0, a0, 1
    li t0, 3
    beq a0, t0, 2f
    li t0, 7
    beq a0, t0, 3f
    li a0, 0x71
    j rt_fail
2:  csrr t1, mhartid
    slli t1, t1, 2
    li t0, CLINT_MSIP
    add t0, t0, t1
    sw zero, 0(t0)
    j 4f
3:  li t0, CLINT_MTIMECMP
    li t1, -1
    sd t1, 0(t0)
4:  ld ra, 0(sp)
    addi sp, sp, 16
    ret

/* Hart 1, after the runtime took hart 0's wake-up IPI: report and interrupt hart 0. */
    .globl hart1_main
hart1_main:
    csrr t0, mhartid
    addi t0, t0, 100
    la t1, hart1_seen
    sd t0, 0(t1)
    fence
    li t0, CLINT_MSIP
    li t1, 1
    sw t1, 0(t0)
    j rt_park

/* Vector stub: record the slot, then share the runtime's handler. */
.macro VSTUB n
vstub\n:
    csrrw sp, mscratch, sp
    sd t0, VEC_SLOT + 8(sp)
    li t0, \n
    sd t0, VEC_SLOT(sp)
    ld t0, VEC_SLOT + 8(sp)
    csrrw sp, mscratch, sp
    j rt_trap_m
.endm

    .align 8
vec_table:
    j rt_trap_m
    j vstub1
    j vstub2
    j vstub3
    j vstub4
    j vstub5
    j vstub6
    j vstub7
    j vstub8
    j vstub9
    j vstub10
    j vstub11
    VSTUB 1
    VSTUB 2
    VSTUB 3
    VSTUB 4
    VSTUB 5
    VSTUB 6
    VSTUB 7
    VSTUB 8
    VSTUB 9
    VSTUB 10
    VSTUB 11

    .data
    .align 3
irq_count:  .dword 0
hart1_seen: .dword 0
