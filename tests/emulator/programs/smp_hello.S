# Bare-metal multi-hart check for `-bios none`: every hart starts here in M-mode with
# a0 = hartid and a1 = DTB. Each hart takes a ticket with amoadd, prints "hart N ticket T"
# on the ns16550 at 0x10000000 under an LR/SC spinlock, then hart 0 waits for all and
# powers off through the sifive,test device (0x5555) -- or reports failure (0x3333).
    .equ UART, 0x10000000
    .equ TEST, 0x100000
    .equ NHARTS, 2

    .section .text.entry, "ax"
    .globl _start
_start:
    csrr t0, mhartid
    bne t0, a0, fail                # a0 must carry the hart id
    lla t1, tickets
    li t2, 1
    amoadd.w s0, t2, (t1)           # s0 = my ticket
    lla t3, lock
1:  lr.w t4, (t3)
    bnez t4, 1b
    sc.w t4, t2, (t3)
    bnez t4, 1b
    la s1, msg
    call puts
    addi a2, a0, '0'
    call putc
    la s1, msg2
    call puts
    addi a2, s0, '0'
    call putc
    li a2, '\n'
    call putc
    amoswap.w zero, zero, (t3)      # unlock
    lla t1, done
    amoadd.w zero, t2, (t1)
    bnez a0, park
    li t5, NHARTS
2:  lw t6, (t1)
    bne t6, t5, 2b
    li t0, TEST
    li t1, 0x5555
    sw t1, 0(t0)
park:
    wfi
    j park
fail:
    li t0, TEST
    li t1, 0x13333
    sw t1, 0(t0)
    j park

putc:                               # a2 = byte
    li t0, UART
    sb a2, 0(t0)
    ret
puts:                               # s1 = NUL-terminated string, clobbers a2, t0
    mv t6, ra
3:  lbu a2, 0(s1)
    beqz a2, 4f
    call putc
    addi s1, s1, 1
    j 3b
4:  mv ra, t6
    ret

    .section .rodata
msg:  .string "hart "
msg2: .string " ticket "

    .section .data
    .balign 8
tickets: .word 0
lock:    .word 0
done:    .word 0
