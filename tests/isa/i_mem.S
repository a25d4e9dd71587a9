/*
 * RV64I loads and stores of every width: sign and zero extension of LB/LH/LW versus
 * LBU/LHU/LWU, stores that must touch only their own bytes, negative offsets, and a load
 * into the base register. Accesses are naturally aligned: misaligned scalar accesses may
 * legally either work or trap, so they are left out.
 */
#include "runtime.h"

    TEST_NAME i_mem

    .data
    .align 3
pattern:
    .dword 0x8081f2f37475f6f7
    .dword 0x0123456789abcdef
scratch:
    .dword 0
    .dword 0
    .dword 0xffffffffffffffff

    .text
    .globl main
main:
    addi sp, sp, -16
    sd ra, 0(sp)

    la s0, pattern
    /* Byte 0 is 0xf7 (negative), byte 5 is 0xf2, byte 7 is 0x80. */
    lb s2, 0(s0)
    PR lb_0, s2
    lbu s2, 0(s0)
    PR lbu_0, s2
    lb s2, 3(s0)
    PR lb_3, s2
    lb s2, 7(s0)
    PR lb_7, s2
    lbu s2, 7(s0)
    PR lbu_7, s2
    lh s2, 0(s0)
    PR lh_0, s2
    lhu s2, 0(s0)
    PR lhu_0, s2
    lh s2, 2(s0)
    PR lh_2, s2
    lh s2, 6(s0)
    PR lh_6, s2
    lhu s2, 6(s0)
    PR lhu_6, s2
    lw s2, 0(s0)
    PR lw_0, s2
    lwu s2, 0(s0)
    PR lwu_0, s2
    lw s2, 4(s0)
    PR lw_4, s2
    lwu s2, 4(s0)
    PR lwu_4, s2
    lw s2, 8(s0)
    PR lw_8, s2
    ld s2, 0(s0)
    PR ld_0, s2
    ld s2, 8(s0)
    PR ld_8, s2

    /* Negative offsets from a base past the data. */
    addi s1, s0, 16
    ld s2, -8(s1)
    PR ld_m8, s2
    lbu s2, -1(s1)
    PR lbu_m1, s2
    lh s2, -16(s1)
    PR lh_m16, s2

    /* Each store width writes only its own bytes into a dword of ones and zeros. */
    la s1, scratch
    li s3, 0x1122334455667788
    sb s3, 1(s1)
    ld s2, 0(s1)
    PR sb_1, s2
    sh s3, 2(s1)
    ld s2, 0(s1)
    PR sh_2, s2
    sw s3, 4(s1)
    ld s2, 0(s1)
    PR sw_4, s2
    sd s3, 8(s1)
    ld s2, 8(s1)
    PR sd_8, s2
    sb zero, 16(s1)
    sh zero, 18(s1)
    ld s2, 16(s1)
    PR sb_sh_zero_into_ones, s2
    sw s3, 20(s1)
    ld s2, 16(s1)
    PR sw_into_ones, s2

    /* A store followed by loads of its parts (little-endian byte order). */
    li s3, 0xfedcba9876543210
    sd s3, 0(s1)
    lbu s2, 0(s1)
    PR le_byte0, s2
    lhu s2, 6(s1)
    PR le_half3, s2
    lw s2, 4(s1)
    PR le_word1, s2

    /* A load whose destination is its base register. */
    la s2, pattern
    ld s2, 8(s2)
    PR ld_into_base, s2

    ld ra, 0(sp)
    addi sp, sp, 16
    ret
