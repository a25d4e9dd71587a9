/*
 * Shared definitions of the ISA test programs: memory map of QEMU's "virt" machine, the
 * calling contract of the runtime in runtime.S and the printing macros every program uses.
 *
 * Every program prints "key=<16 hex digits>" lines and nothing else that could differ
 * between two correct machines, so that QEMU's output is a golden transcript for the emulator.
 */
#ifndef ISA_RUNTIME_H
#define ISA_RUNTIME_H

#define UART_BASE       0x10000000
#define TESTDEV_BASE    0x100000
#define CLINT_MSIP      0x2000000
#define CLINT_MTIMECMP  0x2004000
#define CLINT_MTIME     0x200bff8
/* Past the end of 128 MiB of RAM and below anything QEMU's virt maps: a vacant region. */
#define VACANT_ADDR     0x90000000

/* a7 value of an ecall that asks the handling mode to resume the caller in that mode. */
#define RT_MAGIC_ELEVATE 0x454c4556

#define MSTATUS_SIE   (1 << 1)
#define MSTATUS_MIE   (1 << 3)
#define MSTATUS_SPIE  (1 << 5)
#define MSTATUS_MPIE  (1 << 7)
#define MSTATUS_SPP   (1 << 8)
#define MSTATUS_MPP   (3 << 11)
#define MSTATUS_FS    (3 << 13)
#define MSTATUS_MPRV  (1 << 17)
#define MSTATUS_SUM   (1 << 18)
#define MSTATUS_MXR   (1 << 19)
#define MSTATUS_TVM   (1 << 20)
#define MSTATUS_TW    (1 << 21)
#define MSTATUS_TSR   (1 << 22)
/* The mstatus fields whose values are architectural after the writes the tests make: FS/SD
 * are left out because implementations may mark the FP state dirty conservatively, UXL/SXL
 * because their read-only value is implementation-defined. */
#define MSTATUS_STABLE 0x7e19aa

#define MIP_SSIP (1 << 1)
#define MIP_MSIP (1 << 3)
#define MIP_STIP (1 << 5)
#define MIP_MTIP (1 << 7)
#define MIP_SEIP (1 << 9)
#define MIP_MEIP (1 << 11)

#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

#ifdef __ASSEMBLER__

/* Programs other than rvc.S must not depend on the compressed decoder, so that a broken
 * C extension fails one program instead of all of them. */
.option norvc

/* Declare the program's name (printed in the final "ISA <name>: done" line). */
.macro TEST_NAME name
    .pushsection .rodata, "a"
    .globl test_name
test_name:
    .asciz "\name"
    .popsection
.endm

/* Print "name=<reg as 16 hex digits>\n"; preserves every register (reg must not be sp). */
.macro PR name, reg
    addi sp, sp, -32
    sd a0, 0(sp)
    sd a1, 8(sp)
    sd ra, 16(sp)
    mv a1, \reg
    la a0, .Lpr_str\@
    call rt_put_kv
    ld a0, 0(sp)
    ld a1, 8(sp)
    ld ra, 16(sp)
    addi sp, sp, 32
    .pushsection .rodata.str, "aMS", @progbits, 1
.Lpr_str\@:
    .asciz "\name"
    .popsection
.endm

/* Print the raw 64 bits of an FP register: for single values that shows the NaN-boxing too. */
.macro PRF name, freg
    addi sp, sp, -16
    sd t6, 0(sp)
    fmv.x.d t6, \freg
    PR \name, t6
    ld t6, 0(sp)
    addi sp, sp, 16
.endm

/* Print a CSR. */
.macro PRCSR name, csr
    addi sp, sp, -16
    sd t6, 0(sp)
    csrr t6, \csr
    PR \name, t6
    ld t6, 0(sp)
    addi sp, sp, 16
.endm

/* Print the accrued FP exception flags and clear them, so each result carries its own flags. */
.macro PRFLAGS name
    addi sp, sp, -16
    sd t6, 0(sp)
    csrrw t6, fflags, zero
    PR \name, t6
    ld t6, 0(sp)
    addi sp, sp, 16
.endm

/* Print a literal line. */
.macro PUTS text
    addi sp, sp, -32
    sd a0, 0(sp)
    sd ra, 8(sp)
    la a0, .Lputs_str\@
    call rt_puts
    ld a0, 0(sp)
    ld ra, 8(sp)
    addi sp, sp, 32
    .pushsection .rodata.str, "aMS", @progbits, 1
.Lputs_str\@:
    .asciz "\text\n"
    .popsection
.endm

/* From S or U mode, continue at the next instruction in the mode whose handler takes the
 * ecall (M unless medeleg delegates it to S), with that mode's interrupts disabled
 * (MIE or SIE = 0). Leaves a7 = 0. */
.macro ELEVATE
    li a7, RT_MAGIC_ELEVATE
    ecall
.endm

/* Floating-point constant loaders: the value is given as its bit pattern. */
.macro LIF freg, bits
    li t6, \bits
    fmv.w.x \freg, t6
.endm
.macro LID freg, bits
    li t6, \bits
    fmv.d.x \freg, t6
.endm

#endif /* __ASSEMBLER__ */
#endif /* ISA_RUNTIME_H */
