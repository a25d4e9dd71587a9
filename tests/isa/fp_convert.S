/*
 * F/D conversions to and from integers in every rounding mode, static and dynamic (frm),
 * with the saturation values and flags of out-of-range and NaN inputs; the fcsr/frm/fflags
 * CSR views; reserved rounding modes (static rm 5, dynamic with frm 5..7) as illegal
 * instructions; and FP instructions and CSRs trapping while mstatus.FS is Off.
 */
#include "runtime.h"

    TEST_NAME fp_convert

    .equ S_M1P5, 0xbfc00000
    .equ S_2P5,  0x40200000
    .equ S_M0P5, 0xbf000000
    .equ S_M1,   0xbf800000
    .equ S_3E9,  0x4f32d05e
    .equ S_2P32, 0x4f800000
    .equ S_1E19, 0x5f0ac723
    .equ S_2P63, 0x5f000000
    .equ S_M2P63, 0xdf000000
    .equ S_PINF, 0x7f800000
    .equ S_NINF, 0xff800000
    .equ S_QNAN, 0x7fc00000
    .equ D_M1P5, 0xbff8000000000000
    .equ D_2P5,  0x4004000000000000
    .equ D_IMAX_P5, 0x41dfffffffe00000   /* 2147483647.5 */
    .equ D_IMIN_M5, 0xc1e0000000100000   /* -2147483648.5 */
    .equ D_UMAX_P5, 0x41effffffff00000   /* 4294967295.5 */
    .equ D_1E19, 0x43e158e460913d00
    .equ D_2P64, 0x43f0000000000000
    .equ D_M0P5, 0xbfe0000000000000
    .equ D_NAN,  0x7ff8000000000000
    .equ D_NINF, 0xfff0000000000000

/* Float-to-int: \load is LIF or LID. */
.macro F2I op, rm, tag, load, bits
    \load fa0, \bits
    \op s2, fa0, \rm
    PR \op\()_\rm\()_\tag, s2
    PRFLAGS \op\()_\rm\()_\tag\()_fl
.endm

/* Every static rounding mode for one conversion and input. */
.macro F2I_ALL op, tag, load, bits
    F2I \op, rne, \tag, \load, \bits
    F2I \op, rtz, \tag, \load, \bits
    F2I \op, rdn, \tag, \load, \bits
    F2I \op, rup, \tag, \load, \bits
    F2I \op, rmm, \tag, \load, \bits
.endm

/* Int-to-float. */
.macro I2F op, rm, tag, val
    li s0, \val
    \op fa2, s0, \rm
    PRF \op\()_\rm\()_\tag, fa2
    PRFLAGS \op\()_\rm\()_\tag\()_fl
.endm

/* Int-to-double from 32 bits is always exact: the instruction takes no rounding mode. */
.macro I2FX op, tag, val
    li s0, \val
    \op fa2, s0
    PRF \op\()_\tag, fa2
    PRFLAGS \op\()_\tag\()_fl
.endm

/* fcvt.w.s with rm = dyn after setting frm to \frm. */
.macro DYN frm, tag, bits
    li t0, \frm
    fsrm t0
    LIF fa0, \bits
    fcvt.w.s s2, fa0, dyn
    PR fcvt.w.s_dyn\frm\()_\tag, s2
    PRFLAGS fcvt.w.s_dyn\frm\()_\tag\()_fl
.endm

    .text
    .globl main
main:
    addi sp, sp, -16
    sd ra, 0(sp)

    F2I_ALL fcvt.w.s, m1p5, LIF, S_M1P5
    F2I_ALL fcvt.w.s, 2p5, LIF, S_2P5
    F2I_ALL fcvt.w.s, m0p5, LIF, S_M0P5
    F2I_ALL fcvt.l.d, m1p5, LID, D_M1P5
    F2I_ALL fcvt.wu.d, 2p5, LID, D_2P5

    DYN 0, m1p5, S_M1P5
    DYN 1, m1p5, S_M1P5
    DYN 2, m1p5, S_M1P5
    DYN 3, m1p5, S_M1P5
    DYN 4, m1p5, S_M1P5
    DYN 0, 2p5, S_2P5
    DYN 4, 2p5, S_2P5
    fsrm zero

    /* Out of range and NaN: saturate and raise only NV. */
    F2I fcvt.w.s, rtz, 3e9, LIF, S_3E9
    F2I fcvt.w.s, rtz, pinf, LIF, S_PINF
    F2I fcvt.w.s, rtz, ninf, LIF, S_NINF
    F2I fcvt.w.s, rtz, nan, LIF, S_QNAN
    F2I fcvt.wu.s, rtz, m1, LIF, S_M1
    F2I fcvt.wu.s, rtz, m0p5, LIF, S_M0P5
    F2I fcvt.wu.s, rne, 2p32, LIF, S_2P32
    F2I fcvt.wu.s, rtz, nan, LIF, S_QNAN
    F2I fcvt.l.s, rtz, 1e19, LIF, S_1E19
    F2I fcvt.l.s, rtz, m2p63, LIF, S_M2P63
    F2I fcvt.l.s, rtz, nan, LIF, S_QNAN
    F2I fcvt.lu.s, rtz, 1e19, LIF, S_1E19
    F2I fcvt.lu.s, rtz, 2p63, LIF, S_2P63
    F2I fcvt.lu.s, rtz, ninf, LIF, S_NINF
    F2I fcvt.w.d, rne, imax_p5, LID, D_IMAX_P5
    F2I fcvt.w.d, rtz, imax_p5, LID, D_IMAX_P5
    F2I fcvt.w.d, rtz, imin_m5, LID, D_IMIN_M5
    F2I fcvt.w.d, rdn, imin_m5, LID, D_IMIN_M5
    F2I fcvt.wu.d, rtz, umax_p5, LID, D_UMAX_P5
    F2I fcvt.wu.d, rup, umax_p5, LID, D_UMAX_P5
    F2I fcvt.wu.d, rup, m0p5, LID, D_M0P5
    F2I fcvt.wu.d, rdn, m0p5, LID, D_M0P5
    F2I fcvt.l.d, rtz, 1e19, LID, D_1E19
    F2I fcvt.l.d, rtz, ninf, LID, D_NINF
    F2I fcvt.lu.d, rtz, 1e19, LID, D_1E19
    F2I fcvt.lu.d, rtz, 2p64, LID, D_2P64
    F2I fcvt.lu.d, rtz, nan, LID, D_NAN

    /* Int to float: rounding of values wider than the significand. */
    I2F fcvt.s.w, rne, imax, 0x7fffffff
    I2F fcvt.s.w, rtz, imax, 0x7fffffff
    I2F fcvt.s.w, rne, m1, -1
    I2F fcvt.s.w, rne, hi_ignored, 0x1234567800000003
    I2F fcvt.s.wu, rne, m1, -1
    I2F fcvt.s.wu, rtz, m1, -1
    I2F fcvt.s.l, rne, min, 0x8000000000000000
    I2F fcvt.s.l, rup, odd, 0x0000000001000001
    I2F fcvt.s.lu, rne, max, -1
    I2F fcvt.s.lu, rtz, max, -1
    I2FX fcvt.d.w, min, 0xffffffff80000000
    I2FX fcvt.d.wu, m1, -1
    I2F fcvt.d.l, rne, p53p1, 0x0020000000000001
    I2F fcvt.d.l, rdn, m53m1, 0xffdfffffffffffff
    I2F fcvt.d.lu, rmm, max, -1
    I2F fcvt.d.lu, rtz, max, -1

    /* fcsr is frm:fflags; bits 31:8 read as zero whatever is written. */
    li t0, -1
    fscsr t1, t0
    PR fscsr_old, t1
    frcsr t1
    PR fcsr_all_ones, t1
    frrm t1
    PR frm_all_ones, t1
    frflags t1
    PR fflags_all_ones, t1
    li t0, 0x42
    fscsr t0
    frrm t1
    PR frm_of_0x42, t1
    frflags t1
    PR fflags_of_0x42, t1
    fsflagsi t1, 0x1
    PR fsflagsi_old, t1
    csrrsi t1, fflags, 0x10
    frcsr t1
    PR fcsr_after_set, t1
    fsrmi t1, 4
    PR fsrmi_old, t1
    frcsr t1
    PR fcsr_after_fsrmi, t1
    fscsr zero

    /* Reserved rounding modes are illegal instructions: static rm 5 (fcvt.w.s a0, ft0) ... */
    .word 0xc0005553
    /* ... and dynamic rounding while frm holds 5, 6 or 7. */
    LIF fa0, S_M1P5
    li t0, 5
    fsrm t0
    fcvt.w.s a0, fa0, dyn
    li t0, 7
    fsrm t0
    fadd.s fa1, fa0, fa0, dyn
    fsrm zero
    fadd.s fa1, fa0, fa0, dyn  /* frm valid again: no trap */
    PRF dyn_after_restore, fa1

    /* With mstatus.FS Off every FP instruction and FP CSR access is illegal. */
    li t0, MSTATUS_FS
    csrc mstatus, t0
    fadd.d fa1, fa0, fa0
    fmv.x.d a0, fa0
    frcsr a0
    fld fa1, 0(sp)
    li t0, (1 << 13)
    csrs mstatus, t0
    fmv.x.d a0, fa0
    PR fs_back_on, a0

    ld ra, 0(sp)
    addi sp, sp, 16
    ret
