/*
 * RV64F: single-precision arithmetic with its exception flags (each result is followed by
 * the fflags it raised), static rounding modes on a tie, fused multiply-add where fusing
 * changes the result, sqrt, fmin/fmax with quiet and signalling NaNs and signed zeros,
 * comparisons (quiet versus signalling), fclass of every class, sign injection, fmv.x.w /
 * fmv.w.x, flw/fsw and NaN boxing of single values held in 64-bit registers.
 */
#include "runtime.h"

    TEST_NAME f_single

    .equ ONE,     0x3f800000
    .equ TWO,     0x40000000
    .equ THREE,   0x40400000
    .equ M_ONE,   0xbf800000
    .equ TENTH,   0x3dcccccd
    .equ EPS24,   0x33800000      /* 2^-24: half an ulp of 1.0, so 1 + EPS24 is a tie */
    .equ ONE_P12, 0x3f800800      /* 1 + 2^-12 */
    .equ ONE_P11, 0x3f801000      /* 1 + 2^-11 */
    .equ PINF,    0x7f800000
    .equ NINF,    0xff800000
    .equ QNAN,    0x7fc00000
    .equ QNAN_P,  0x7fc12345      /* a quiet NaN with payload: results must not keep it */
    .equ SNAN,    0x7f800001
    .equ PZERO,   0x00000000
    .equ NZERO,   0x80000000
    .equ FMAX,    0x7f7fffff
    .equ MINNORM, 0x00800000
    .equ MINSUB,  0x00000001
    .equ HALF,    0x3f000000
    .equ ALMOST1, 0x3f7fffff      /* 1 - 2^-24 */

/* Two-operand arithmetic with a rounding mode: result bits, then the flags raised. */
.macro FOP2 op, rm, tag, a, b
    LIF fa0, \a
    LIF fa1, \b
    \op fa2, fa0, fa1, \rm
    PRF \op\()_\tag, fa2
    PRFLAGS \op\()_\tag\()_fl
.endm

/* Two-operand operation without a rounding mode (min/max/sign injection). */
.macro FOPN op, tag, a, b
    LIF fa0, \a
    LIF fa1, \b
    \op fa2, fa0, fa1
    PRF \op\()_\tag, fa2
    PRFLAGS \op\()_\tag\()_fl
.endm

.macro FMA op, tag, a, b, c
    LIF fa0, \a
    LIF fa1, \b
    LIF fa3, \c
    \op fa2, fa0, fa1, fa3, rne
    PRF \op\()_\tag, fa2
    PRFLAGS \op\()_\tag\()_fl
.endm

/* Comparison into an integer register. */
.macro FCMP op, tag, a, b
    LIF fa0, \a
    LIF fa1, \b
    \op s2, fa0, fa1
    PR \op\()_\tag, s2
    PRFLAGS \op\()_\tag\()_fl
.endm

.macro FCLASS tag, a
    LIF fa0, \a
    fclass.s s2, fa0
    PR fclass.s_\tag, s2
.endm

    .data
    .align 3
fbuf: .dword 0x1122334455667788
      .dword 0

    .text
    .globl main
main:
    addi sp, sp, -16
    sd ra, 0(sp)

    /* Basic arithmetic, inexact, overflow, underflow, invalid and divide-by-zero. */
    FOP2 fadd.s, rne, 1p2, ONE, TWO
    FOP2 fadd.s, rne, tenth3, TENTH, TENTH
    FOP2 fadd.s, rne, max_max, FMAX, FMAX
    FOP2 fadd.s, rtz, max_max_rtz, FMAX, FMAX
    FOP2 fadd.s, rne, inf_minf, PINF, NINF
    FOP2 fadd.s, rne, snan, SNAN, ONE
    FOP2 fadd.s, rne, qnan_payload, QNAN_P, ONE
    FOP2 fadd.s, rne, m0_p0, NZERO, PZERO
    FOP2 fadd.s, rdn, 1_m1_rdn, ONE, M_ONE
    FOP2 fsub.s, rne, 1m3, ONE, THREE
    FOP2 fsub.s, rne, inf_inf, PINF, PINF
    FOP2 fmul.s, rne, tenth3, TENTH, THREE
    FOP2 fmul.s, rne, minnorm_half, MINNORM, HALF
    FOP2 fmul.s, rne, minsub_half, MINSUB, HALF
    FOP2 fmul.s, rne, almost1_minnorm, ALMOST1, MINNORM
    FOP2 fmul.s, rne, zero_inf, PZERO, PINF
    FOP2 fdiv.s, rne, 1d3, ONE, THREE
    FOP2 fdiv.s, rne, 1d0, ONE, PZERO
    FOP2 fdiv.s, rne, m1d0, M_ONE, PZERO
    FOP2 fdiv.s, rne, 0d0, PZERO, PZERO

    /* 1 + 2^-24 is exactly halfway between two singles: each rounding mode decides. */
    FOP2 fadd.s, rne, tie_rne, ONE, EPS24
    FOP2 fadd.s, rtz, tie_rtz, ONE, EPS24
    FOP2 fadd.s, rdn, tie_rdn, ONE, EPS24
    FOP2 fadd.s, rup, tie_rup, ONE, EPS24
    FOP2 fadd.s, rmm, tie_rmm, ONE, EPS24
    FOP2 fsub.s, rdn, ntie_rdn, M_ONE, EPS24
    FOP2 fsub.s, rtz, ntie_rtz, M_ONE, EPS24
    FOP2 fsub.s, rmm, ntie_rmm, M_ONE, EPS24

    /* Dynamic rounding reads frm. */
    li t0, 3                  /* RUP */
    fsrm t0
    FOP2 fadd.s, dyn, tie_dyn_rup, ONE, EPS24
    li t0, 2                  /* RDN */
    fsrm t0
    FOP2 fsub.s, dyn, ntie_dyn_rdn, M_ONE, EPS24
    fsrm zero

    /* (1+2^-12)^2 = 1 + 2^-11 + 2^-24: only a fused operation keeps the 2^-24. */
    FMA fmadd.s, fused, ONE_P12, ONE_P12, ONE
    FMA fmsub.s, fused, ONE_P12, ONE_P12, ONE_P11
    FMA fnmadd.s, fused, ONE_P12, ONE_P12, ONE
    FMA fnmsub.s, fused, ONE_P12, ONE_P12, ONE_P11
    FMA fmadd.s, inf_zero_qnan, PINF, PZERO, QNAN
    FMA fmadd.s, inf_minf, PINF, ONE, NINF
    FOP2 fmul.s, rne, unfused, ONE_P12, ONE_P12

    LIF fa0, TWO
    fsqrt.s fa2, fa0
    PRF fsqrt.s_2, fa2
    PRFLAGS fsqrt.s_2_fl
    LIF fa0, M_ONE
    fsqrt.s fa2, fa0
    PRF fsqrt.s_m1, fa2
    PRFLAGS fsqrt.s_m1_fl
    LIF fa0, NZERO
    fsqrt.s fa2, fa0
    PRF fsqrt.s_m0, fa2
    PRFLAGS fsqrt.s_m0_fl
    LIF fa0, PINF
    fsqrt.s fa2, fa0
    PRF fsqrt.s_inf, fa2
    PRFLAGS fsqrt.s_inf_fl

    /* fmin/fmax return the non-NaN operand; only a signalling NaN raises NV. */
    FOPN fmin.s, 1_2, ONE, TWO
    FOPN fmax.s, 1_2, ONE, TWO
    FOPN fmin.s, qnan_1, QNAN, ONE
    FOPN fmax.s, 1_qnan, ONE, QNAN
    FOPN fmin.s, snan_1, SNAN, ONE
    FOPN fmax.s, qnan_qnan, QNAN_P, QNAN
    FOPN fmin.s, snan_snan, SNAN, SNAN
    FOPN fmin.s, m0_p0, NZERO, PZERO
    FOPN fmin.s, p0_m0, PZERO, NZERO
    FOPN fmax.s, m0_p0, NZERO, PZERO

    /* feq is quiet (NV only for sNaN); flt/fle signal on any NaN. */
    FCMP feq.s, 1_1, ONE, ONE
    FCMP feq.s, m0_p0, NZERO, PZERO
    FCMP feq.s, qnan, QNAN, QNAN
    FCMP feq.s, snan, SNAN, ONE
    FCMP flt.s, 1_2, ONE, TWO
    FCMP flt.s, 2_1, TWO, ONE
    FCMP flt.s, qnan, QNAN, ONE
    FCMP fle.s, 1_1, ONE, ONE
    FCMP fle.s, m0_p0, NZERO, PZERO
    FCMP fle.s, ninf_qnan, NINF, QNAN

    FCLASS ninf, NINF
    FCLASS nnorm, M_ONE
    FCLASS nsub, 0x80000001
    FCLASS nzero, NZERO
    FCLASS pzero, PZERO
    FCLASS psub, MINSUB
    FCLASS pnorm, ONE
    FCLASS pinf, PINF
    FCLASS snan, SNAN
    FCLASS qnan, QNAN

    /* Sign injection never raises flags and keeps NaN payloads. */
    FOPN fsgnj.s, 1_m1, ONE, M_ONE
    FOPN fsgnjn.s, 1_m1, ONE, M_ONE
    FOPN fsgnjx.s, m1_m1, M_ONE, M_ONE
    FOPN fsgnjx.s, m1_1, M_ONE, ONE
    FOPN fsgnjn.s, snan_1, SNAN, ONE

    /* NaN boxing: a single in a 64-bit register needs the upper 32 bits all ones. An
     * improperly boxed input reads as the canonical NaN. */
    li t0, 0x000000003f800000
    fmv.d.x fa0, t0
    LIF fa1, ONE
    fadd.s fa2, fa0, fa1
    PRF unboxed_fadd, fa2
    PRFLAGS unboxed_fadd_fl
    fsgnj.s fa2, fa1, fa0
    PRF unboxed_fsgnj_rs2, fa2
    fclass.s s2, fa0
    PR unboxed_fclass, s2
    li t0, 0xfffffffe3f800000  /* upper half not all ones: also unboxed */
    fmv.d.x fa0, t0
    feq.s s2, fa0, fa1
    PR unboxed_feq, s2
    PRFLAGS unboxed_feq_fl
    /* fmv.x.w takes the low 32 bits as they are and sign-extends bit 31. */
    li t0, 0x12345678c0000000
    fmv.d.x fa0, t0
    fmv.x.w s2, fa0
    PR fmv.x.w_unboxed, s2
    li t0, 0xdeadbeef3f800000
    fmv.w.x fa0, t0
    PRF fmv.w.x_boxes, fa0
    fmv.x.w s2, fa0
    PR fmv.x.w_pos, s2

    /* flw boxes the loaded word; fsw stores only the low 32 bits. */
    la s0, fbuf
    flw fa0, 0(s0)
    PRF flw_boxes, fa0
    li t0, 0x0123456789abcdef
    fmv.d.x fa1, t0
    fsw fa1, 8(s0)
    ld s2, 8(s0)
    PR fsw_low32, s2

    ld ra, 0(sp)
    addi sp, sp, 16
    ret
