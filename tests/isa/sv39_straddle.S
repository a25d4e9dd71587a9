/*
 * A 4-byte instruction that straddles a page boundary under Sv39: its first half ends one
 * 4 KiB page, its second half starts the next. With both pages mapped it executes like any
 * other; with the second page unmapped the fetch fault names the instruction (epc = its
 * address, not the second half's) and the missing half (tval = the second page). Then the
 * same with the trap delegated to S.
 */
#include "runtime.h"

    TEST_NAME sv39_straddle

    .equ PTE_V, 1
    .equ PTE_R, 2
    .equ PTE_W, 4
    .equ PTE_X, 8
    .equ PTE_A, 64
    .equ PTE_D, 128
    .equ KERN, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
    .equ CODE, PTE_V | PTE_R | PTE_X | PTE_A | PTE_D

    .equ VA_CODE, 0x80200000     /* -> straddle_page, then -> the page after it */

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

    /* Devices and the program: identity; VA_CODE's 2 MiB through l0. */
    li t2, 0
    SET_PTE root, 0, t2, KERN
    la t2, l1
    SET_PTE root, 2, t2, PTE_V
    li t2, 0x80000000
    SET_PTE l1, 0, t2, KERN
    la t2, l0
    SET_PTE l1, 1, t2, PTE_V
    la t2, straddle_page
    SET_PTE l0, 0, t2, CODE
    li t3, 0x1000
    add t2, t2, t3
    SET_PTE l0, 1, t2, CODE

    la t0, root
    srli t0, t0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    sfence.vma

    li a0, PRV_S
    call rt_enter_mode

    /* Both pages mapped: the instruction runs and returns. */
    li s0, VA_CODE + 0xffe
    li a0, 0x100
    jalr ra, 0(s0)
    mv s2, a0
    PR straddle_mapped, s2

    /* Second page unmapped: a fetch page fault, handled in M. */
    li t2, 0
    SET_PTE l0, 1, t2, 0
    sfence.vma
    li s0, VA_CODE + 0xffe
    li a0, 0x100
    jalr ra, 0(s0)               /* fetch page fault, resumed at ra */
    mv s2, a0
    PR straddle_unmapped_a0, s2

    /* The same fault delegated to S. */
    ELEVATE
    li t0, 1 << 12
    csrw medeleg, t0
    li a0, PRV_S
    call rt_enter_mode
    li s0, VA_CODE + 0xffe
    jalr ra, 0(s0)

    ELEVATE
    csrw satp, zero
    sfence.vma
    csrw medeleg, zero
    ld ra, 0(sp)
    addi sp, sp, 16
    ret

    /* The page's last two bytes start a 4-byte addi; the next page starts with its second
     * half, then the return. */
    .balign 4096
straddle_page:
    .skip 0xffe
    .option push
    .option norvc
    addi a0, a0, 0x123
    .option pop
    ret

    .bss
    .align 12
root:   .space 4096
l1:     .space 4096
l0:     .space 4096
