/*
 * RV64M: every multiply and divide, 64-bit and W forms, over pairs that hit the corner
 * cases the specification defines instead of trapping: division by zero (quotient all
 * ones, remainder the dividend), signed overflow (most negative / -1), and for the W
 * forms a divisor whose low 32 bits are zero although the register is not.
 */
#include "runtime.h"

    TEST_NAME m_muldiv

.macro PAIR op, tag, va, vb
    li s0, \va
    li s1, \vb
    \op s2, s0, s1
    PR \op\()_\tag, s2
.endm

.macro MD op
    PAIR \op, big, 0x123456789abcdef0, 0x0fedcba987654321
    PAIR \op, m1m1, -1, -1
    PAIR \op, minm1, 0x8000000000000000, -1
    PAIR \op, m7d2, -7, 2
    PAIR \op, d0, 7, 0
    PAIR \op, m5max, -5, 0x7fffffffffffffff
    PAIR \op, wmin, 0xffffffff80000000, -1
    PAIR \op, wd0, 0x1234567800000005, 0xffffffff00000000
.endm

    .text
    .globl main
main:
    addi sp, sp, -16
    sd ra, 0(sp)

    MD mul
    MD mulh
    MD mulhsu
    MD mulhu
    MD div
    MD divu
    MD rem
    MD remu
    MD mulw
    MD divw
    MD divuw
    MD remw
    MD remuw

    /* The destination may be a source: the result must use the old values. */
    li s0, 0x100000001
    mul s0, s0, s0
    PR mul_rd_is_rs, s0

    ld ra, 0(sp)
    addi sp, sp, 16
    ret
