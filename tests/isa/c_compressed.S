/*
 * RV64C: the compressed forms written explicitly (c.* mnemonics), covering the integer
 * register-immediate and register-register forms, the W forms, sp-relative and
 * register-relative loads/stores including FP, jumps and branches with their link values,
 * a 32-bit instruction at a 2-byte-aligned address, and the traps of c.ebreak and of the
 * all-zero (defined illegal) 16-bit instruction.
 */
#include "runtime.h"

    TEST_NAME c_compressed

    .data
    .align 3
cbuf: .dword 0x8877665544332211
      .dword 0xfedcba9876543210
      .dword 0
      .dword 0

    .text
    .option rvc
    .globl main
    .align 2
main:
    addi sp, sp, -64
    sd ra, 56(sp)

    c.li a0, -32
    PR c.li, a0
    c.lui a1, 0xfffe1          /* the 6-bit signed immediate -31, as an upper immediate */
    PR c.lui_neg, a1
    c.lui a1, 1
    PR c.lui_1, a1
    c.li a0, 31
    c.addi a0, -1
    PR c.addi, a0
    li a0, 0x7fffffff
    c.addiw a0, 1
    PR c.addiw_wrap, a0
    li a0, 0x123456789
    c.addiw a0, 0              /* sext.w */
    PR c.addiw_sext, a0
    li a0, 0x8000000000000001
    c.slli a0, 3
    PR c.slli, a0
    li a0, 0x8000000000000010
    c.srli a0, 4
    PR c.srli, a0
    li a0, 0x8000000000000010
    c.srai a0, 4
    PR c.srai, a0
    li a0, 0x0f0f
    c.andi a0, -16
    PR c.andi, a0

    li a0, 0x1234
    c.mv a1, a0
    PR c.mv, a1
    li a0, 0x0ff0
    li a1, 0x00ff
    c.add a0, a1
    PR c.add, a0
    li a0, 0x0ff0
    c.and a0, a1
    PR c.and, a0
    li a0, 0x0ff0
    c.or a0, a1
    PR c.or, a0
    li a0, 0x0ff0
    c.xor a0, a1
    PR c.xor, a0
    li a0, 0x0ff0
    c.sub a0, a1
    PR c.sub, a0
    li a0, 0x7fffffff
    li a1, 1
    c.addw a0, a1
    PR c.addw, a0
    li a0, 0
    c.subw a0, a1
    PR c.subw, a0

    /* sp-relative forms: scaled, zero-extended offsets. */
    mv s1, sp
    c.addi16sp sp, -64
    sub a0, s1, sp
    PR c.addi16sp, a0
    c.addi4spn a0, sp, 24
    sub a0, a0, sp
    PR c.addi4spn, a0
    li a0, 0xa5a5a5a5c3c3c3c3
    c.sdsp a0, 8(sp)
    c.swsp a0, 20(sp)
    c.ldsp a1, 8(sp)
    PR c.ldsp, a1
    c.lwsp a1, 20(sp)
    PR c.lwsp, a1
    c.fldsp fa0, 8(sp)
    c.fsdsp fa0, 32(sp)
    c.ldsp a1, 32(sp)
    PR c.fsdsp_fldsp, a1
    c.addi16sp sp, 64

    la s0, cbuf
    c.lw a0, 4(s0)
    PR c.lw_sext, a0
    c.ld a0, 8(s0)
    PR c.ld, a0
    li a1, 0x1122334455667788
    c.sw a1, 16(s0)
    c.sd a1, 24(s0)
    c.ld a0, 16(s0)
    PR c.sw, a0
    c.ld a0, 24(s0)
    PR c.sd, a0
    c.fld fa1, 0(s0)
    c.fsd fa1, 16(s0)
    c.ld a0, 16(s0)
    PR c.fld_fsd, a0

    /* Control transfer. */
    li a0, 0
    c.beqz a0, 1f
    li a0, 0xbad
1:  c.bnez a0, 2f
    li a0, 0x600d
2:  PR c.beqz_bnez, a0
    li a1, 5
    c.beqz a1, 3f
    li a1, 0x600d
3:  PR c.beqz_not_taken, a1
    c.j 4f
    li a0, 0xbad
4:  la a1, 5f
    c.jalr a1                 /* links pc + 2 */
6:  j 7f
5:  la a2, 6b
    sub a2, ra, a2
    PR c.jalr_link_delta, a2
    c.jr ra
7:  la a1, 8f
    c.jr a1
    li a0, 0xbad
8:  c.nop
    li a0, 0x600d
    PR c.j_jr, a0

    /* A 32-bit instruction that starts at a 2-byte boundary. */
    .align 2
    c.nop
    .option push
    .option norvc             /* force the 32-bit encodings */
    lui a0, 0x12
    addiw a0, a0, 0x345
    addi a0, a0, 1
    .option pop
    PR unaligned_32bit, a0

    /* c.ebreak traps with a 2-byte epc step; the all-zero halfword is illegal. */
    c.ebreak
    .half 0x0000
    c.li a0, 7
    PR after_c_traps, a0

    ld ra, 56(sp)
    addi sp, sp, 64
    ret
