/*
 * RV64D: double-precision arithmetic with the flags each operation raises, rounding of a
 * tie in every static mode, fused multiply-add, sqrt, fmin/fmax with NaNs and signed zeros,
 * comparisons, fclass, sign injection, fmv.x.d/fmv.d.x, fld/fsd, and the conversions
 * between single and double (NaN canonicalisation, overflow, rounding, NaN-boxed results).
 */
#include "runtime.h"

    TEST_NAME d_double

    .equ ONE,     0x3ff0000000000000
    .equ TWO,     0x4000000000000000
    .equ THREE,   0x4008000000000000
    .equ M_ONE,   0xbff0000000000000
    .equ TENTH,   0x3fb999999999999a
    .equ EPS53,   0x3ca0000000000000      /* 2^-53: half an ulp of 1.0 */
    .equ ONE_P27, 0x3ff0000002000000      /* 1 + 2^-27 */
    .equ ONE_P26, 0x3ff0000004000000      /* 1 + 2^-26 */
    .equ PINF,    0x7ff0000000000000
    .equ NINF,    0xfff0000000000000
    .equ QNAN,    0x7ff8000000000000
    .equ QNAN_P,  0x7ff800000000beef
    .equ SNAN,    0x7ff0000000000001
    .equ PZERO,   0x0000000000000000
    .equ NZERO,   0x8000000000000000
    .equ DMAX,    0x7fefffffffffffff
    .equ MINSUB,  0x0000000000000001
    .equ HALF,    0x3fe0000000000000
    .equ S_ONE_TIE, 0x3ff0000010000000    /* 1 + 2^-24: a tie when narrowed to single */

.macro DOP2 op, rm, tag, a, b
    LID fa0, \a
    LID fa1, \b
    \op fa2, fa0, fa1, \rm
    PRF \op\()_\tag, fa2
    PRFLAGS \op\()_\tag\()_fl
.endm

.macro DOPN op, tag, a, b
    LID fa0, \a
    LID fa1, \b
    \op fa2, fa0, fa1
    PRF \op\()_\tag, fa2
    PRFLAGS \op\()_\tag\()_fl
.endm

.macro DFMA op, tag, a, b, c
    LID fa0, \a
    LID fa1, \b
    LID fa3, \c
    \op fa2, fa0, fa1, fa3, rne
    PRF \op\()_\tag, fa2
    PRFLAGS \op\()_\tag\()_fl
.endm

.macro DCMP op, tag, a, b
    LID fa0, \a
    LID fa1, \b
    \op s2, fa0, fa1
    PR \op\()_\tag, s2
    PRFLAGS \op\()_\tag\()_fl
.endm

.macro DCLASS tag, a
    LID fa0, \a
    fclass.d s2, fa0
    PR fclass.d_\tag, s2
.endm

/* Narrow a double to single with a rounding mode. */
.macro NARROW rm, tag, a
    LID fa0, \a
    fcvt.s.d fa2, fa0, \rm
    PRF fcvt.s.d_\tag, fa2
    PRFLAGS fcvt.s.d_\tag\()_fl
.endm

    .data
    .align 3
dbuf: .dword 0x1122334455667788
      .dword 0

    .text
    .globl main
main:
    addi sp, sp, -16
    sd ra, 0(sp)

    DOP2 fadd.d, rne, 1p2, ONE, TWO
    DOP2 fadd.d, rne, tenth2, TENTH, TENTH
    DOP2 fadd.d, rne, max_max, DMAX, DMAX
    DOP2 fadd.d, rdn, max_max_rdn, DMAX, DMAX
    DOP2 fadd.d, rne, inf_minf, PINF, NINF
    DOP2 fadd.d, rne, snan, SNAN, ONE
    DOP2 fadd.d, rne, qnan_payload, QNAN_P, ONE
    DOP2 fsub.d, rne, 1m3, ONE, THREE
    DOP2 fsub.d, rdn, 1m1_rdn, ONE, ONE
    DOP2 fmul.d, rne, tenth3, TENTH, THREE
    DOP2 fmul.d, rne, minsub_half, MINSUB, HALF
    DOP2 fmul.d, rne, zero_inf, PZERO, NINF
    DOP2 fdiv.d, rne, 1d3, ONE, THREE
    DOP2 fdiv.d, rtz, 1d3_rtz, ONE, THREE
    DOP2 fdiv.d, rup, 1d3_rup, ONE, THREE
    DOP2 fdiv.d, rne, m1d0, M_ONE, PZERO
    DOP2 fdiv.d, rne, inf_inf, PINF, PINF

    DOP2 fadd.d, rne, tie_rne, ONE, EPS53
    DOP2 fadd.d, rtz, tie_rtz, ONE, EPS53
    DOP2 fadd.d, rdn, tie_rdn, ONE, EPS53
    DOP2 fadd.d, rup, tie_rup, ONE, EPS53
    DOP2 fadd.d, rmm, tie_rmm, ONE, EPS53
    DOP2 fsub.d, rdn, ntie_rdn, M_ONE, EPS53
    DOP2 fsub.d, rup, ntie_rup, M_ONE, EPS53
    li t0, 4                  /* RMM */
    fsrm t0
    DOP2 fadd.d, dyn, tie_dyn_rmm, ONE, EPS53
    li t0, 1                  /* RTZ */
    fsrm t0
    DOP2 fadd.d, dyn, tie_dyn_rtz, ONE, EPS53
    fsrm zero

    /* (1+2^-27)^2 = 1 + 2^-26 + 2^-54: only the fused forms keep the 2^-54. */
    DFMA fmadd.d, fused, ONE_P27, ONE_P27, ONE
    DFMA fmsub.d, fused, ONE_P27, ONE_P27, ONE_P26
    DFMA fnmadd.d, fused, ONE_P27, ONE_P27, ONE
    DFMA fnmsub.d, fused, ONE_P27, ONE_P27, ONE_P26
    DFMA fmadd.d, zero_inf_qnan, PZERO, PINF, QNAN
    DFMA fmadd.d, snan_addend, ONE, ONE, SNAN

    LID fa0, TWO
    fsqrt.d fa2, fa0
    PRF fsqrt.d_2, fa2
    PRFLAGS fsqrt.d_2_fl
    LID fa0, NINF
    fsqrt.d fa2, fa0
    PRF fsqrt.d_ninf, fa2
    PRFLAGS fsqrt.d_ninf_fl

    DOPN fmin.d, 1_2, ONE, TWO
    DOPN fmax.d, 1_2, ONE, TWO
    DOPN fmin.d, qnan_1, QNAN, ONE
    DOPN fmax.d, snan_1, SNAN, ONE
    DOPN fmax.d, qnan_qnan, QNAN_P, QNAN_P
    DOPN fmin.d, p0_m0, PZERO, NZERO
    DOPN fmax.d, m0_p0, NZERO, PZERO

    DCMP feq.d, 1_1, ONE, ONE
    DCMP feq.d, qnan, QNAN, ONE
    DCMP feq.d, snan, ONE, SNAN
    DCMP flt.d, m1_1, M_ONE, ONE
    DCMP flt.d, qnan, ONE, QNAN
    DCMP fle.d, 2_1, TWO, ONE
    DCMP fle.d, m0_p0, NZERO, PZERO

    DCLASS ninf, NINF
    DCLASS nnorm, M_ONE
    DCLASS nsub, 0x8000000000000001
    DCLASS nzero, NZERO
    DCLASS pzero, PZERO
    DCLASS psub, MINSUB
    DCLASS pnorm, ONE
    DCLASS pinf, PINF
    DCLASS snan, SNAN
    DCLASS qnan, QNAN

    DOPN fsgnj.d, 1_m1, ONE, M_ONE
    DOPN fsgnjn.d, m1_m1, M_ONE, M_ONE
    DOPN fsgnjx.d, m1_m1, M_ONE, M_ONE
    DOPN fsgnjx.d, qnan_m1, QNAN_P, M_ONE

    /* Double to single: rounding of a tie, overflow, NaNs become the canonical NaN. */
    NARROW rne, tie_rne, S_ONE_TIE
    NARROW rup, tie_rup, S_ONE_TIE
    NARROW rne, max, DMAX
    NARROW rtz, max_rtz, DMAX
    NARROW rne, qnan_payload, QNAN_P
    NARROW rne, snan, SNAN
    NARROW rne, tenth, TENTH
    NARROW rne, minsub, MINSUB

    /* Single to double is exact; NaNs are canonicalised and sNaN signals. */
    LIF fa0, 0x3dcccccd
    fcvt.d.s fa2, fa0
    PRF fcvt.d.s_tenth, fa2
    PRFLAGS fcvt.d.s_tenth_fl
    LIF fa0, 0x7f800001
    fcvt.d.s fa2, fa0
    PRF fcvt.d.s_snan, fa2
    PRFLAGS fcvt.d.s_snan_fl
    LIF fa0, 0x00000001
    fcvt.d.s fa2, fa0
    PRF fcvt.d.s_minsub, fa2
    PRFLAGS fcvt.d.s_minsub_fl
    li t0, 0x000000003f800000   /* not NaN-boxed: reads as the canonical single NaN */
    fmv.d.x fa0, t0
    fcvt.d.s fa2, fa0
    PRF fcvt.d.s_unboxed, fa2
    PRFLAGS fcvt.d.s_unboxed_fl

    /* fmv moves bits untouched, even signalling NaNs. */
    li t0, SNAN
    fmv.d.x fa0, t0
    fmv.x.d s2, fa0
    PR fmv_snan_roundtrip, s2
    PRFLAGS fmv_snan_roundtrip_fl

    la s0, dbuf
    fld fa0, 0(s0)
    PRF fld, fa0
    fsd fa0, 8(s0)
    ld s2, 8(s0)
    PR fsd, s2

    ld ra, 0(sp)
    addi sp, sp, 16
    ret
