# A guest that wedges after its first lines, for judging on the guest clock (`-bios none`).
# Every hart masks its interrupts; hart 0 prints two lines. Built as is, every hart then waits in
# wfi forever (a deadlock: no timer, no interrupt can wake it). With -DSPIN hart 0 instead spins
# on a lock word nobody releases, as a hart stuck on a spinlock does (with -DLRSC through lr.d,
# as a spinlock taken with LR/SC waits).
    .equ UART, 0x10000000

    .section .text.entry, "ax"
    .globl _start
_start:
    csrw mie, zero
    csrci mstatus, 8
    bnez a0, idle
    li s0, UART
    la s1, banner
print:
    lbu a2, 0(s1)
    beqz a2, stuck
    sb a2, 0(s0)
    addi s1, s1, 1
    j print
stuck:
#ifdef SPIN
    la s1, lock
spin:
#ifdef LRSC
    lr.d t0, (s1)
#else
    ld t0, 0(s1)
#endif
    beqz t0, spin
#endif
idle:
    wfi
    j idle

    .section .rodata
banner: .string "wedge: hart 0 up\nwedge: waiting for the lock\n"

    .section .data
    .balign 8
lock: .dword 0
