/*
 * RV64I integer computation: register-register and register-immediate ALU operations,
 * shifts (including the 32-bit W forms and the masking of the shift amount), set-less-than
 * on signed/unsigned edges, LUI/AUIPC and writes to x0.
 *
 * Each operation is applied to the same five operand pairs, chosen for carries, sign
 * boundaries and 32-bit wrap-around, so an error in sign extension shows in some pair.
 */
#include "runtime.h"

    TEST_NAME i_alu

    .equ A1, 0x123456789abcdef0
    .equ B1, 0x0fedcba987654321
    .equ A2, -1
    .equ B2, 1
    .equ A3, 0x8000000000000000
    .equ B3, -1
    .equ A4, 0x7fffffff
    .equ B4, 0x80000000
    .equ A5, 0xffffffff80000001
    .equ B5, 0x43             /* shift by 3 once masked to 5 or 6 bits: the mask is tested */

/* Apply a register-register operation to the five pairs and print each result. */
.macro RR op
    li s0, A1
    li s1, B1
    \op s2, s0, s1
    PR \op\()_1, s2
    li s0, A2
    li s1, B2
    \op s2, s0, s1
    PR \op\()_2, s2
    li s0, A3
    li s1, B3
    \op s2, s0, s1
    PR \op\()_3, s2
    li s0, A4
    li s1, B4
    \op s2, s0, s1
    PR \op\()_4, s2
    li s0, A5
    li s1, B5
    \op s2, s0, s1
    PR \op\()_5, s2
.endm

/* Apply a register-immediate operation to the first operand of each pair. */
.macro RI op, imm, tag
    li s0, A1
    \op s2, s0, \imm
    PR \op\()_\tag\()_1, s2
    li s0, A3
    \op s2, s0, \imm
    PR \op\()_\tag\()_3, s2
    li s0, A4
    \op s2, s0, \imm
    PR \op\()_\tag\()_4, s2
    li s0, A5
    \op s2, s0, \imm
    PR \op\()_\tag\()_5, s2
.endm

    .text
    .globl main
main:
    addi sp, sp, -16
    sd ra, 0(sp)

    RR add
    RR sub
    RR sll
    RR srl
    RR sra
    RR slt
    RR sltu
    RR xor
    RR or
    RR and
    RR addw
    RR subw
    RR sllw
    RR srlw
    RR sraw

    RI addi, -2048, m2048
    RI addi, 2047, p2047
    RI slti, -1, m1
    RI sltiu, -1, m1
    RI xori, -1, m1
    RI ori, 0x555, p555
    RI andi, -256, m256
    RI slli, 63, 63
    RI srli, 1, 1
    RI srai, 33, 33
    RI addiw, -1, m1
    RI addiw, 1, p1
    RI slliw, 31, 31
    RI srliw, 0, 0
    RI sraiw, 0, 0
    RI sraiw, 31, 31

    /* sltiu with immediate 1 is the seqz idiom: only 0 is below it. */
    li s0, 0
    sltiu s2, s0, 1
    PR seqz_0, s2

    lui s2, 0x80000
    PR lui_80000, s2
    lui s2, 0x7ffff
    PR lui_7ffff, s2
    lui s2, 0xfffff
    PR lui_fffff, s2

    /* AUIPC is printed relative to its own address, which the program knows. */
1:  auipc s2, 0x80000
    la s3, 1b
    sub s2, s2, s3
    PR auipc_80000, s2
2:  auipc s2, 0x1
    la s3, 2b
    sub s2, s2, s3
    PR auipc_1, s2

    /* A write to x0 is discarded; a read of x0 is zero. */
    li s0, 5
    add x0, s0, s0
    addi s2, x0, 0
    PR x0_after_write, s2

    ld ra, 0(sp)
    addi sp, sp, 16
    ret
