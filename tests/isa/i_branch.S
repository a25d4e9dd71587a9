/*
 * RV64I control transfer: the six conditional branches over signed/unsigned boundary pairs
 * (one bit per pair, printed as a mask), backward branches, JAL and JALR link values,
 * JALR clearing bit 0 of the target and JALR with rd == rs1.
 */
#include "runtime.h"

    TEST_NAME i_branch

/* Shift a 0/1 "was the branch taken" bit for (ra_val, rb_val) into s4. */
.macro BR1 op, va, vb
    li s0, \va
    li s1, \vb
    slli s4, s4, 1
    \op s0, s1, 1f
    j 2f
1:  ori s4, s4, 1
2:
.endm

/* The pairs straddle zero and the signed extremes, where signed and unsigned order differ. */
.macro BRANCH op
    li s4, 0
    BR1 \op, 0, 0
    BR1 \op, 1, 0
    BR1 \op, 0, 1
    BR1 \op, -1, 0
    BR1 \op, 0, -1
    BR1 \op, 0x8000000000000000, 0x7fffffffffffffff
    BR1 \op, 0x7fffffffffffffff, 0x8000000000000000
    BR1 \op, -1, -1
    BR1 \op, 0xffffffff, 0x100000000
    PR \op\()_mask, s4
.endm

    .text
    .globl main
main:
    addi sp, sp, -16
    sd ra, 0(sp)

    BRANCH beq
    BRANCH bne
    BRANCH blt
    BRANCH bge
    BRANCH bltu
    BRANCH bgeu

    /* A backward loop: sum 1..10. */
    li s0, 10
    li s2, 0
3:  add s2, s2, s0
    addi s0, s0, -1
    bnez s0, 3b
    PR loop_sum, s2

    /* JAL writes the address of the next instruction; print it relative to a label. */
    jal s3, 4f
5:  j 6f
4:  la s5, 5b
    sub s2, s3, s5
    PR jal_link_delta, s2
    jr s3
6:
    /* JALR adds the offset and clears bit 0: aim at target+1 with an odd offset. */
    la s0, 7f
    addi s0, s0, -4
    jalr s3, 5(s0)           /* s0 + 5 = target + 1, low bit dropped -> target */
14: li s2, 0xbad
    j 8f
7:  li s2, 0x600d
8:  PR jalr_odd_target, s2
    la s5, 14b
    sub s2, s3, s5
    PR jalr_link_delta, s2

    /* rd == rs1: the target uses the old value, the link overwrites it afterwards. */
    la s1, 9f
    jalr s1, 0(s1)
10: li s2, 0xbad
    j 11f
9:  la s5, 10b
    sub s2, s1, s5
11: PR jalr_rd_eq_rs1, s2

    /* A JAL to x0 does not link. */
    li s3, 0x1234
    jal zero, 12f
    li s3, 0xbad
12: PR j_no_link, s3

    /* A branch that is not taken must fall through even when its target is behind. */
    li s0, 1
    li s2, 0
13: addi s2, s2, 1
    beqz s0, 13b
    PR not_taken_backward, s2

    ld ra, 0(sp)
    addi sp, sp, 16
    ret
