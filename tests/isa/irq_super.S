/*
 * Supervisor interrupts and their delegation with mideleg: a supervisor timer interrupt
 * (mip.STIP raised by M) and a supervisor software interrupt (sip.SSIP raised by S) taken
 * by the S handler; a delegated interrupt taken in U mode although sstatus.SIE = 0; one
 * held off in S mode while sstatus.SIE = 0; delegated interrupts never taken in M mode; and,
 * without delegation, the same interrupt going to M.
 */
#include "runtime.h"

    TEST_NAME irq_super

    .text
    .globl main
main:
    addi sp, sp, -16
    sd ra, 0(sp)
    la t0, rt_trap_s
    csrw stvec, t0
    la t0, s_hook
    la t1, rt_sirq_hook
    sd t0, 0(t1)
    la t0, m_hook
    la t1, rt_mirq_hook
    sd t0, 0(t1)

    li t0, MIP_SSIP | MIP_STIP
    csrw mideleg, t0
    li t0, MIP_SSIP | MIP_STIP
    csrw mie, t0
    /* Delegated and pending, but M mode never takes them, even with MIE set. */
    li t0, MIP_STIP
    csrs mip, t0
    csrsi mstatus, MSTATUS_MIE | MSTATUS_SIE
    nop
    csrci mstatus, MSTATUS_MIE
    PUTS "M ignores delegated STI"
    csrr s2, sip
    andi s2, s2, MIP_SSIP | MIP_STIP
    PR sip_in_m, s2

    /* Enter S with SIE = 1: the STI is taken at once by the S handler. */
    li a0, PRV_S
    call rt_enter_mode
    PUTS "S after STI"
    /* S raises its own software interrupt. */
    csrsi sip, MIP_SSIP
    nop
    PUTS "S after SSI"
    /* With SIE = 0 a pending SSI waits in S mode ... */
    csrci sstatus, MSTATUS_SIE
    csrsi sip, MIP_SSIP
    nop
    csrr s2, sip
    andi s2, s2, MIP_SSIP
    PR ssip_held_in_s, s2
    /* ... but is taken as soon as the hart drops to U. */
    call rt_s_enter_u
    nop
    ELEVATE                      /* U ecall is not delegated: straight back to M */
    PUTS "back in M"

    /* Without delegation the same interrupts go to M. */
    csrw mideleg, zero
    li t0, MIP_SSIP | MIP_STIP   /* the S hook masked STIE */
    csrw mie, t0
    li t0, MIP_SSIP
    csrs mip, t0
    csrsi mstatus, MSTATUS_MIE
    nop
    csrci mstatus, MSTATUS_MIE
    li t0, MIP_STIP
    csrs mip, t0
    li a0, PRV_S
    call rt_enter_mode
    nop                          /* STI to M although MIE = 0: S is below M */
    ELEVATE
    csrw mie, zero

    la t0, irq_count
    ld s2, 0(t0)
    PR irq_count, s2
    ld ra, 0(sp)
    addi sp, sp, 16
    ret

/* S handler hook: print and silence. S cannot clear STIP, so it masks STIE instead. */
s_hook:
    addi sp, sp, -16
    sd ra, 0(sp)
    PR sirq_cause, a0
    csrr t0, sstatus
    srli t0, t0, 8
    andi t0, t0, 1
    PR sirq_prev, t0
    la t0, irq_count
    ld t1, 0(t0)
    addi t1, t1, 1
    sd t1, 0(t0)
    slli a0, a0, 1
    srli a0, a0, 1
    li t0, 1
    beq a0, t0, 1f
    li t0, 5
    beq a0, t0, 2f
    li a0, 0x72
    j rt_fail
1:  csrci sip, MIP_SSIP
    j 3f
2:  li t0, MIP_STIP
    csrc sie, t0
3:  ld ra, 0(sp)
    addi sp, sp, 16
    ret

/* M handler hook for the undelegated case. */
m_hook:
    addi sp, sp, -16
    sd ra, 0(sp)
    PR mirq_cause, a0
    csrr t0, mstatus
    srli t0, t0, 11
    andi t0, t0, 3
    PR mirq_prev, t0
    la t0, irq_count
    ld t1, 0(t0)
    addi t1, t1, 1
    sd t1, 0(t0)
    li t0, MIP_SSIP | MIP_STIP
    csrc mip, t0
    ld ra, 0(sp)
    addi sp, sp, 16
    ret

    .data
    .align 3
irq_count: .dword 0
