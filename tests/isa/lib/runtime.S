/*
 * Runtime shared by the ISA test programs: entry for every hart, UART printing, trap
 * handlers for M and S mode that print each trap and resume after it, privilege switches
 * and exit through the sifive test device.
 *
 * The trap handlers resume after the trapping instruction so a program can provoke many
 * traps in a row and let the printed transcript tell what happened. Code and data are
 * expected to be identity-mapped whenever paging is on, so the handlers can read the
 * trapping instruction at its virtual address.
 */
#include "runtime.h"

    .equ FRAME, 272          /* x0..x31 plus padding, 16-byte aligned */
    .equ TRAP_LIMIT, 200     /* more traps than any program takes: a trap storm, give up */

    .section .text.init, "ax"
    .globl _start
_start:
    /* a0 = hart id, a1 = DTB: QEMU's reset vector passes both; only a0 is used. */
    csrr t0, mhartid
    slli t1, t0, 13
    la sp, rt_stacks_end
    sub sp, sp, t1
    la t2, rt_mtrap_stacks_end
    sub t2, t2, t1
    csrw mscratch, t2
    la t2, rt_strap_stacks_end
    sub t2, t2, t1
    csrw sscratch, t2

    /* PMP is per hart and may be absent: set it under a temporary mtvec that skips it. */
    la t2, 1f
    csrw mtvec, t2
    li t2, -1
    csrw pmpaddr0, t2
    li t2, 0x1f              /* NAPOT over all of memory, RWX, so S and U may access it */
    csrw pmpcfg0, t2
    .align 2
1:
    la t2, rt_trap_m
    csrw mtvec, t2
    csrw mie, zero
    csrw mideleg, zero
    csrw medeleg, zero
    csrw satp, zero
    li t2, (1 << 13)         /* FS = Initial, every other field 0 */
    csrw mstatus, t2
    fscsr zero
    bnez t0, rt_secondary

    la t1, __bss_start
    la t2, __bss_end
2:  bgeu t1, t2, 3f
    sd zero, 0(t1)
    addi t1, t1, 8
    j 2b
3:
    la t2, rt_strap_dummy    /* an stvec that exists, in case a program delegates early */
    csrw stvec, t2
    call main
    j rt_done

/* Other harts sleep until hart 0 sends them a software interrupt; then they run the
 * program's hart1_main if it has one, else sleep forever. They never touch shared state
 * before being woken, so hart 0 needs no lock to initialise. */
rt_secondary:
    li t2, MIP_MSIP
    csrw mie, t2
4:  wfi
    csrr t2, mip
    andi t2, t2, MIP_MSIP
    beqz t2, 4b
    li t2, CLINT_MSIP
    slli t1, t0, 2
    add t2, t2, t1
    sw zero, 0(t2)
    csrw mie, zero
    li t1, 1
    bne t0, t1, rt_park
    la t1, rt_hart1_entry
    ld t1, 0(t1)
    beqz t1, rt_park
    jalr t1
    .globl rt_park
rt_park:
    csrw mie, zero
5:  wfi
    j 5b

/* ------------------------------------------------------------------ printing */
    .text
    /* rt_putc(a0 = byte); preserves every register. */
    .globl rt_putc
rt_putc:
    addi sp, sp, -16
    sd t0, 0(sp)
    sd t1, 8(sp)
    li t0, UART_BASE
1:  lbu t1, 5(t0)
    andi t1, t1, 0x20        /* LSR.THRE: room for another byte */
    beqz t1, 1b
    sb a0, 0(t0)
    ld t0, 0(sp)
    ld t1, 8(sp)
    addi sp, sp, 16
    ret

    /* rt_puts(a0 = NUL-terminated string); preserves every register. */
    .globl rt_puts
rt_puts:
    addi sp, sp, -32
    sd ra, 0(sp)
    sd a0, 8(sp)
    sd t2, 16(sp)
    mv t2, a0
1:  lbu a0, 0(t2)
    beqz a0, 2f
    call rt_putc
    addi t2, t2, 1
    j 1b
2:  ld ra, 0(sp)
    ld a0, 8(sp)
    ld t2, 16(sp)
    addi sp, sp, 32
    ret

    /* rt_puthex(a0 = value): 16 lower-case hex digits; preserves every register. */
    .globl rt_puthex
rt_puthex:
    addi sp, sp, -48
    sd ra, 0(sp)
    sd a0, 8(sp)
    sd t2, 16(sp)
    sd t3, 24(sp)
    sd t4, 32(sp)
    mv t2, a0
    li t3, 60
1:  srl a0, t2, t3
    andi a0, a0, 0xf
    li t4, 10
    blt a0, t4, 2f
    addi a0, a0, 'a' - '0' - 10
2:  addi a0, a0, '0'
    call rt_putc
    addi t3, t3, -4
    bgez t3, 1b
    ld ra, 0(sp)
    ld a0, 8(sp)
    ld t2, 16(sp)
    ld t3, 24(sp)
    ld t4, 32(sp)
    addi sp, sp, 48
    ret

    /* rt_put_kv(a0 = key string, a1 = value): "key=value\n"; preserves every register. */
    .globl rt_put_kv
rt_put_kv:
    addi sp, sp, -16
    sd ra, 0(sp)
    sd a0, 8(sp)
    call rt_puts
    li a0, '='
    call rt_putc
    mv a0, a1
    call rt_puthex
    li a0, '\n'
    call rt_putc
    ld ra, 0(sp)
    ld a0, 8(sp)
    addi sp, sp, 16
    ret

/* ------------------------------------------------------------------ exit */
    /* Print "ISA <name>: done" and power off with the pass code. */
    .globl rt_done
rt_done:
    la a0, str_isa
    call rt_puts
    la a0, test_name
    call rt_puts
    la a0, str_done
    call rt_puts
    li t0, TESTDEV_BASE
    li t1, 0x5555
    sw t1, 0(t0)
1:  wfi
    j 1b

    /* rt_fail(a0 = code): print the code and power off with the fail status. */
    .globl rt_fail
rt_fail:
    mv s0, a0
    la a0, str_fail
    mv a1, s0
    call rt_put_kv
    li t0, TESTDEV_BASE
    slli t1, s0, 16
    li t2, 0x3333
    or t1, t1, t2
    sw t1, 0(t0)
1:  wfi
    j 1b

/* ------------------------------------------------------------------ privilege switches */
    /* rt_enter_mode(a0 = PRV_S or PRV_U): return to the caller in that mode (from M).
     * Clobbers t0. */
    .globl rt_enter_mode
rt_enter_mode:
    csrw mepc, ra
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    slli t0, a0, 11
    csrs mstatus, t0
    mret

    /* rt_s_enter_u(): from S, return to the caller in U mode. Clobbers t0. */
    .globl rt_s_enter_u
rt_s_enter_u:
    csrw sepc, ra
    li t0, MSTATUS_SPP
    csrc sstatus, t0
    sret

/* ------------------------------------------------------------------ trap handlers */
    /* Save x1 and x3..x31 into the frame at sp; the interrupted sp is in \scratch. */
.macro SAVE_FRAME scratch
    csrrw sp, \scratch, sp
    addi sp, sp, -FRAME
    .irp r, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    sd x\r, (\r * 8)(sp)
    .endr
    csrr t0, \scratch
    sd t0, 16(sp)
    addi t0, sp, FRAME
    csrw \scratch, t0        /* ready for the next trap even if this one never returns */
.endm

.macro RESTORE_FRAME
    .irp r, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    ld x\r, (\r * 8)(sp)
    .endr
    ld sp, 16(sp)
.endm

    /* Count traps across both handlers so a trap storm ends the run instead of hanging. */
rt_count_trap:
    la t0, rt_trap_count
    ld t1, 0(t0)
    addi t1, t1, 1
    sd t1, 0(t0)
    li t2, TRAP_LIMIT
    bltu t1, t2, 1f
    li a0, 0x7e
    j rt_fail
1:  ret

    /* rt_print_trap(a0 = prefix, s0 = cause, s1 = tval, s2 = epc, s3 = previous mode).
     * tval is printed only where the specification fixes it: not for ebreak (0 or the pc)
     * nor for ecall. */
rt_print_trap:
    addi sp, sp, -16
    sd ra, 0(sp)
    call rt_puts
    la a0, str_cause
    call rt_puts
    mv a0, s0
    call rt_puthex
    li t0, 3
    beq s0, t0, 1f
    li t0, 8
    bltu s0, t0, 2f
    li t0, 11
    bleu s0, t0, 1f
2:  la a0, str_tval
    call rt_puts
    mv a0, s1
    call rt_puthex
1:  la a0, str_epc
    call rt_puts
    mv a0, s2
    call rt_puthex
    la a0, str_prev
    call rt_puts
    addi a0, s3, '0'
    call rt_putc
    li a0, '\n'
    call rt_putc
    ld ra, 0(sp)
    addi sp, sp, 16
    ret

    /* rt_resume_pc(s0 = cause, s2 = epc) -> a0: where to continue after an exception.
     * A fetch fault has no instruction to skip: continue at the saved ra, which is why
     * programs provoke those with a jalr ra. */
rt_resume_pc:
    li t0, 1
    bleu s0, t0, 1f
    li t0, 12
    beq s0, t0, 1f
    lhu t0, 0(s2)
    andi t0, t0, 3
    li t1, 3
    addi a0, s2, 2
    bne t0, t1, 2f
    addi a0, s2, 4
2:  ret
1:  ld a0, 8(sp)             /* saved ra in the caller's frame (this is a leaf) */
    ret

    .globl rt_trap_m
    .align 2
rt_trap_m:
    SAVE_FRAME mscratch
    call rt_count_trap
    csrr s0, mcause
    csrr s1, mtval
    csrr s2, mepc
    csrr s3, mstatus
    srli s3, s3, 11
    andi s3, s3, 3
    bltz s0, 5f

    /* An ecall with the magic a7 from a lower mode: resume after it in M mode. */
    addi t0, s0, -8
    li t1, 3
    bgeu t0, t1, 1f
    ld t0, (17 * 8)(sp)
    li t1, RT_MAGIC_ELEVATE
    bne t0, t1, 1f
    sd zero, (17 * 8)(sp)     /* a7 = 0: a later plain ecall must not look magic */
    li t0, MSTATUS_MPP
    csrs mstatus, t0
    li t0, MSTATUS_MPIE       /* resume with MIE = 0, as if M code had never left */
    csrc mstatus, t0
    addi s2, s2, 4
    csrw mepc, s2
    j 9f

1:  la a0, str_mtrap
    call rt_print_trap
    call rt_resume_pc
    csrw mepc, a0
    j 9f

5:  la t0, rt_mirq_hook
    ld t0, 0(t0)
    beqz t0, 6f
    mv a0, s0
    jalr t0
    j 9f
6:  la a0, str_mirq
    call rt_print_trap
    li a0, 0x7d
    j rt_fail

9:  RESTORE_FRAME
    mret

    /* The S-mode handler: same contract, for traps delegated with medeleg/mideleg.
     * The frame lives at a physical address that every test keeps identity-mapped. */
    .globl rt_trap_s
    .align 2
rt_trap_s:
    SAVE_FRAME sscratch
    call rt_count_trap
    csrr s0, scause
    csrr s1, stval
    csrr s2, sepc
    csrr s3, sstatus
    srli s3, s3, 8
    andi s3, s3, 1
    bltz s0, 5f

    addi t0, s0, -8
    li t1, 3
    bgeu t0, t1, 1f
    ld t0, (17 * 8)(sp)
    li t1, RT_MAGIC_ELEVATE
    bne t0, t1, 1f
    sd zero, (17 * 8)(sp)
    li t0, MSTATUS_SPP
    csrs sstatus, t0
    li t0, MSTATUS_SPIE
    csrc sstatus, t0
    addi s2, s2, 4
    csrw sepc, s2
    j 9f

1:  la a0, str_strap
    call rt_print_trap
    call rt_resume_pc
    csrw sepc, a0
    j 9f

5:  la t0, rt_sirq_hook
    ld t0, 0(t0)
    beqz t0, 6f
    mv a0, s0
    jalr t0
    j 9f
6:  la a0, str_sirq
    call rt_print_trap
    li a0, 0x7c
    j rt_fail

9:  RESTORE_FRAME
    sret

    /* stvec before a program sets its own: any trap reaching S mode this early is a bug. */
    .align 2
rt_strap_dummy:
    li a0, 0x7b
    j rt_fail

    .section .rodata, "a"
str_isa:    .asciz "ISA "
str_done:   .asciz ": done\n"
str_fail:   .asciz "ISA FAIL code"
str_mtrap:  .asciz "mtrap"
str_strap:  .asciz "strap"
str_mirq:   .asciz "unexpected mirq"
str_sirq:   .asciz "unexpected sirq"
str_cause:  .asciz " cause="
str_tval:   .asciz " tval="
str_epc:    .asciz " epc="
str_prev:   .asciz " prev="

    .data
    .align 3
    /* Interrupt handlers of the running program, called with a0 = cause; 0 = none. */
    .globl rt_mirq_hook, rt_sirq_hook
rt_mirq_hook: .dword 0
rt_sirq_hook: .dword 0
rt_trap_count: .dword 0
    /* A weak reference reads as 0 when the program has no hart1_main. */
    .weak hart1_main
rt_hart1_entry: .dword hart1_main

    .section .stacks, "aw", @nobits
    .align 4
    /* 8 KiB per hart for up to 4 harts, for the program and for each trap handler. */
    .space 4 * 8192
rt_stacks_end:
    .space 4 * 8192
rt_mtrap_stacks_end:
    .space 4 * 8192
rt_strap_stacks_end:
