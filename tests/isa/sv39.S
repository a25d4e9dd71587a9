/*
 * Sv39 virtual memory built by the program: a 1 GiB identity page for the devices and a
 * 1 GiB alias of RAM, a 2 MiB identity page for the program and a 2 MiB alias, 4 KiB
 * pages with different permissions; page faults (load, store, fetch) with scause/stval,
 * handled in M and then delegated to S; a misaligned superpage; U pages versus
 * sstatus.SUM; execute-only pages versus MXR; U-mode code faulting on S pages; and a PTE
 * change made visible with sfence.vma. Every PTE has A and D preset, because whether
 * hardware sets them or faults is the implementation's choice.
 */
#include "runtime.h"

    TEST_NAME sv39

    .equ PTE_V, 1
    .equ PTE_R, 2
    .equ PTE_W, 4
    .equ PTE_X, 8
    .equ PTE_U, 16
    .equ PTE_A, 64
    .equ PTE_D, 128
    .equ KERN, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D

    .equ VA_USER_CODE, 0x80200000   /* identity, U|R|X */
    .equ VA_PAGE_A,    0x80201000   /* -> page_a, S read/write */
    .equ VA_PAGE_B,    0x80202000   /* -> page_b, U read/write */
    .equ VA_A_RO,      0x80203000   /* -> page_a, read-only */
    .equ VA_INVALID,   0x80204000   /* V = 0 */
    .equ VA_A_XONLY,   0x80206000   /* -> page_a, execute-only */
    .equ VA_2M_ALIAS,  0x80400000   /* 2 MiB page -> 0x80000000 */
    .equ VA_2M_MISAL,  0x80600000   /* 2 MiB page with a PPN that is not 2 MiB aligned */
    .equ GIG_ALIAS,    0x40000000   /* VA 0xc0000000 -> PA 0x80000000 */

/* Store a PTE: \table[\index] = (\pa >> 12) << 10 | \flags, \pa in a register. */
.macro SET_PTE table, index, pa_reg, flags
    la t0, \table
    srli t1, \pa_reg, 12
    slli t1, t1, 10
    ori t1, t1, \flags
    sd t1, (\index * 8)(t0)
.endm

    .text
    .globl main
main:
    addi sp, sp, -16
    sd ra, 0(sp)
    la t0, rt_trap_s
    csrw stvec, t0

    /* Distinct contents to tell the pages apart. */
    la t2, page_a
    li t3, 0xaaaa000000000001
    sd t3, 0(t2)
    la t2, page_b
    li t3, 0xbbbb000000000002
    sd t3, 0(t2)

    /* Root: 1 GiB pages for the devices (identity) and a RAM alias; the rest via L1. */
    li t2, 0
    SET_PTE root, 0, t2, KERN
    li t2, 0x80000000
    SET_PTE root, 3, t2, KERN
    la t2, l1
    SET_PTE root, 2, t2, PTE_V
    /* L1: the program's 2 MiB identity page, a 2 MiB alias, a misaligned one, and L0. */
    li t2, 0x80000000
    SET_PTE l1, 0, t2, KERN
    SET_PTE l1, 2, t2, KERN
    li t2, 0x80001000
    SET_PTE l1, 3, t2, KERN
    la t2, l0
    SET_PTE l1, 1, t2, PTE_V
    /* L0: 4 KiB pages. */
    li t2, VA_USER_CODE
    SET_PTE l0, 0, t2, PTE_V | PTE_R | PTE_X | PTE_U | PTE_A | PTE_D
    la t2, page_a
    SET_PTE l0, 1, t2, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    la t2, page_b
    SET_PTE l0, 2, t2, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
    la t2, page_a
    SET_PTE l0, 3, t2, PTE_V | PTE_R | PTE_A | PTE_D
    la t2, page_a
    SET_PTE l0, 6, t2, PTE_V | PTE_X | PTE_A | PTE_D

    la t0, root
    srli t0, t0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    sfence.vma

    li a0, PRV_S
    call rt_enter_mode

    /* Reads through each kind of mapping. */
    li s0, VA_PAGE_A
    ld s2, 0(s0)
    PR va_page_a, s2
    li s0, VA_PAGE_B
    li t0, MSTATUS_SUM
    csrs sstatus, t0
    ld s2, 0(s0)
    PR va_page_b_sum, s2
    csrc sstatus, t0
    la s0, page_a
    li t0, GIG_ALIAS
    add s0, s0, t0
    ld s2, 0(s0)
    PR va_1g_alias, s2
    la s0, page_a
    li t0, VA_2M_ALIAS - 0x80000000
    add s0, s0, t0
    ld s2, 0(s0)
    PR va_2m_alias, s2
    /* A write through one mapping shows through the others. */
    li s0, VA_PAGE_A
    li t0, 0x1234567
    sd t0, 8(s0)
    li s0, VA_A_RO
    ld s2, 8(s0)
    PR va_ro_alias_sees_write, s2

    /* Faults, not delegated: M reports them with the previous mode S. */
    li s0, VA_A_RO
    sd zero, 16(s0)              /* store page fault */
    li s0, VA_INVALID
    ld s2, 0(s0)                 /* load page fault */
    li s0, VA_PAGE_B
    ld s2, 0(s0)                 /* U page with SUM = 0 */
    ELEVATE
    li t0, (1 << 12) | (1 << 13) | (1 << 15)
    csrw medeleg, t0
    li a0, PRV_S
    call rt_enter_mode

    /* Delegated: the same kinds of fault in S's handler. */
    li s0, VA_A_RO
    sw zero, 20(s0)
    li s0, VA_INVALID
    lbu s2, 3(s0)
    li s0, VA_2M_MISAL
    ld s2, 0(s0)                 /* misaligned superpage: page fault */
    li s0, VA_INVALID
    jalr ra, 0(s0)               /* fetch page fault, resumed at ra */
    li s0, VA_A_XONLY
    ld s2, 0(s0)                 /* execute-only: not readable ... */
    li t0, MSTATUS_MXR
    csrs sstatus, t0
    ld s2, 0(s0)                 /* ... unless MXR */
    PR xonly_with_mxr, s2
    csrc sstatus, t0
    li s0, VA_PAGE_B
    li t0, MSTATUS_SUM
    csrs sstatus, t0
    li s0, VA_USER_CODE
    jalr ra, 0(s0)               /* S may never execute a U page, even with SUM */

    /* U mode: user code touches its own page, an S page and S code. SUM stays set so the
     * S handler can read the faulting U instruction. */
    la ra, 1f
    li t0, VA_USER_CODE
    csrw sepc, t0
    li t0, MSTATUS_SPP
    csrc sstatus, t0
    sret
1:  /* user_code ELEVATEs to M and jumps back here. */
    la s0, page_b
    ld s2, 8(s0)
    PR user_wrote, s2

    /* Retarget VA_PAGE_A to page_b; sfence.vma makes the change visible. */
    li a0, PRV_S
    call rt_enter_mode
    la t2, page_b
    SET_PTE l0, 1, t2, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    li s0, VA_PAGE_A
    sfence.vma s0, zero
    ld s2, 0(s0)
    PR va_page_a_after_remap, s2
    ELEVATE
    csrw satp, zero
    sfence.vma
    csrw medeleg, zero

    ld ra, 0(sp)
    addi sp, sp, 16
    ret

/* Runs in U mode at VA_USER_CODE; uses no stack (the stack is an S page). */
    .section .user_text, "ax"
user_code:
    mv t3, ra                    /* where main continues, kept across the fetch fault */
    li t0, VA_PAGE_B
    ld t1, 0(t0)
    addi t1, t1, 1
    sd t1, 8(t0)                 /* own page: fine */
    li t0, VA_PAGE_A
    ld t1, 0(t0)                 /* S page: load page fault to S */
    li t0, 0x80000000
    jalr ra, 0(t0)               /* S code: fetch page fault, resumed at ra (here) */
    ELEVATE                      /* U ecall is not delegated: continue in M */
    jr t3

    .bss
    .align 12
root:   .space 4096
l1:     .space 4096
l0:     .space 4096
page_a: .space 4096
page_b: .space 4096
