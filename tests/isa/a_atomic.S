/*
 * RV64A: LR/SC success and the failures the specification defines (no reservation, a
 * reservation already consumed by an SC, an SC to another address), every AMO in .w and
 * .d form with the old value, the new memory and the untouched neighbour word, signed
 * versus unsigned min/max, aq/rl variants, rd = x0, and misaligned LR/AMO traps.
 */
#include "runtime.h"

    TEST_NAME a_atomic

    .equ MEM_W, 0x5555555580000001   /* low word negative, high word a neighbour marker */
    .equ SRC_W, 0xaaaaaaaa00000002   /* high half must be ignored by the .w forms */
    .equ MEM_D, 0x8000000000000001
    .equ SRC_D, 0x0000000000000002

    .data
    .align 6
cell:   .dword 0
    .align 12
far:    .dword 0

    .text

/* Run one AMO on a freshly initialised cell; print old value (rd) and the whole dword. */
.macro AMO op, width, mem, src
    la s0, cell
    li s1, \mem
    sd s1, 0(s0)
    li s1, \src
    \op\().\width s2, s1, (s0)
    PR \op\()_\width\()_old, s2
    ld s2, 0(s0)
    PR \op\()_\width\()_mem, s2
.endm

.macro AMOS width, mem, src
    AMO amoswap, \width, \mem, \src
    AMO amoadd, \width, \mem, \src
    AMO amoxor, \width, \mem, \src
    AMO amoand, \width, \mem, \src
    AMO amoor, \width, \mem, \src
    AMO amomin, \width, \mem, \src
    AMO amomax, \width, \mem, \src
    AMO amominu, \width, \mem, \src
    AMO amomaxu, \width, \mem, \src
.endm

    .globl main
main:
    addi sp, sp, -16
    sd ra, 0(sp)
    la s0, cell

    /* LR/SC that succeeds: SC writes 0 and the value lands. */
    li s1, MEM_W
    sd s1, 0(s0)
    lr.w s2, (s0)
    PR lr_w, s2
    li s1, 0x12345678
    sc.w s3, s1, (s0)
    PR sc_w_ok, s3
    ld s2, 0(s0)
    PR sc_w_ok_mem, s2

    /* The SC above consumed the reservation: a second SC fails with code 1. */
    li s1, 0x77
    sc.w s3, s1, (s0)
    PR sc_w_again, s3
    ld s2, 0(s0)
    PR sc_w_again_mem, s2

    /* Doubleword LR/SC with aq/rl. */
    li s1, MEM_D
    sd s1, 0(s0)
    lr.d.aq s2, (s0)
    PR lr_d, s2
    li s1, 0x0fedcba987654321
    sc.d.rl s3, s1, (s0)
    PR sc_d_ok, s3
    ld s2, 0(s0)
    PR sc_d_ok_mem, s2

    /* An SC to an address 4 KiB away from the reservation fails and writes nothing. */
    lr.d s2, (s0)
    la s4, far
    li s1, 0x99
    sc.d s3, s1, (s4)
    PR sc_d_other_addr, s3
    ld s2, 0(s4)
    PR sc_d_other_addr_mem, s2
    sc.d s3, s1, (s0)        /* leave no reservation behind for what follows */

    AMOS w, MEM_W, SRC_W
    AMOS d, MEM_D, SRC_D

    /* aq/rl bits do not change the result; rd = x0 still updates memory. */
    li s1, MEM_D
    sd s1, 0(s0)
    li s1, 5
    amoadd.d.aqrl zero, s1, (s0)
    ld s2, 0(s0)
    PR amoadd_d_aqrl_x0_mem, s2

    /* AMOs and LR need natural alignment: misaligned ones trap with the address in tval. */
    addi s4, s0, 4
    amoadd.d s2, s1, (s4)
    addi s4, s0, 2
    amoswap.w s2, s1, (s4)
    addi s4, s0, 4
    lr.d s2, (s4)

    ld ra, 0(sp)
    addi sp, sp, 16
    ret
