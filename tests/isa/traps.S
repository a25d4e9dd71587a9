/*
 * Synchronous traps and privilege transitions: ecall from M, S and U; illegal instructions
 * (reserved opcode, xRET from too low a privilege, TSR, TVM); ebreak; load, store and fetch
 * access faults on a vacant physical address; delegation to S mode through medeleg (and
 * that M-mode traps are never delegated); the mstatus stack (MPIE/MPP, SPIE/SPP) after
 * mret and sret.
 */
#include "runtime.h"

    TEST_NAME traps

.macro PR_MSTATUS name
    csrr t5, mstatus
    li t6, MSTATUS_STABLE
    and t5, t5, t6
    PR \name, t5
.endm

    .text
    .globl main
main:
    addi sp, sp, -16
    sd ra, 0(sp)
    la t0, rt_trap_s
    csrw stvec, t0

    /* M mode. */
    ecall
    ebreak
    .word 0x0000000b            /* custom-0 opcode, unimplemented */
    la t0, 2f
    csrw sepc, t0
    sret                        /* legal in M: to sepc in the mode SPP says (U) ... */
2:  csrr t1, mhartid             /* ... where this M CSR is illegal */
    ELEVATE
    PR_MSTATUS mstatus_after_mret
    li t0, VACANT_ADDR
    ld t1, 0(t0)
    sw t1, 8(t0)
    jalr ra, 0(t0)              /* fetch fault: the handler resumes at ra */
    PUTS "back from fetch fault"

    /* S mode without delegation: everything goes to M. */
    li a0, PRV_S
    call rt_enter_mode
    ecall
    ebreak
    mret
    li t0, VACANT_ADDR
    lw t1, 0(t0)
    ELEVATE
    PR_MSTATUS mstatus_after_s

    /* U mode without delegation. */
    li a0, PRV_U
    call rt_enter_mode
    ecall
    sret
    mret
    .word 0x0000000b
    ELEVATE

    /* Delegate U ecall, illegal instruction, breakpoint and load access fault to S. */
    li t0, (1 << 8) | (1 << 2) | (1 << 3) | (1 << 5)
    csrw medeleg, t0
    csrr s2, medeleg
    li t0, (1 << 8) | (1 << 2) | (1 << 3) | (1 << 5)
    and s2, s2, t0
    PR medeleg, s2
    /* A trap taken in M mode is never delegated. */
    ebreak
    .word 0x0000000b
    li a0, PRV_U
    call rt_enter_mode
    ecall                        /* to S */
    ebreak                       /* to S */
    .word 0x0000000b             /* to S */
    li t0, VACANT_ADDR
    ld t1, 0(t0)                 /* to S */
    sd t1, 0(t0)                 /* store fault, not delegated: to M */
    ELEVATE                      /* the U ecall is delegated: this climbs to S only */
    /* Now in S: the S handler's sret left SPP = U and SPIE = 1. */
    csrr t5, sstatus
    li t6, MSTATUS_STABLE
    and t5, t5, t6
    PR sstatus_after_sret, t5
    ecall                        /* S ecall is not delegated: to M */
    ebreak                       /* delegated, and S is not above S: to S */
    call rt_s_enter_u
    csrr t1, sscratch            /* illegal from U: to S */
    ELEVATE                      /* back to S */
    ELEVATE                      /* S ecall goes to M: back to M */
    csrw medeleg, zero

    /* TSR makes sret illegal in S; TVM makes satp and sfence.vma illegal in S. */
    li t0, MSTATUS_TSR | MSTATUS_TVM
    csrs mstatus, t0
    li a0, PRV_S
    call rt_enter_mode
    sret
    csrr t1, satp
    sfence.vma
    ELEVATE
    li t0, MSTATUS_TSR | MSTATUS_TVM
    csrc mstatus, t0
    li a0, PRV_S
    call rt_enter_mode
    csrr s2, satp                /* allowed again */
    ELEVATE
    PR satp_read_in_s, s2

    /* mret pops MPIE into MIE and MPP to U; a trap pushes MIE into MPIE. */
    li t0, MSTATUS_MPIE
    csrs mstatus, t0
    li t0, MSTATUS_MPP
    csrs mstatus, t0
    la t0, 1f
    csrw mepc, t0
    mret
1:  csrr s2, mstatus
    li t0, MSTATUS_MIE
    csrc mstatus, t0             /* no interrupt is enabled in mie: MIE is harmless but reset it */
    li t0, MSTATUS_STABLE
    and s2, s2, t0
    PR mstatus_mret_to_m, s2

    ld ra, 0(sp)
    addi sp, sp, 16
    ret
