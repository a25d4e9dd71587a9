# Bare-metal SMP guest whose console shows how its harts interleave (tests/emulator/test_engines.py):
# every hart runs ROUNDS rounds of work of a pseudo-random length (a loop long enough to be
# compiled by the block engine), takes an LR/SC spinlock (the others spin on it), prints its
# letter, and leaves; a load from a hole inside a hot loop faults (the handler skips it), a
# hart polls the time CSR, and hart 0 takes a timer interrupt every few thousand ticks and
# prints '*'. Hart 0 waits for the others, prints its counts and powers off. Which letter
# follows which, and where the '*' fall, depend on every hart's exact instruction count.
    .equ UART, 0x10000000
    .equ TEST, 0x100000
    .equ CLINT, 0x2000000
    .equ HOLE, 0x40000000
    .equ NHARTS, 3
    .equ ROUNDS, 24
    .equ TICKS, 1500
    .option norvc

    .section .text.entry, "ax"
    .globl _start
_start:
    la t0, trap
    csrw mtvec, t0
    mv s0, a0                       # hart id
    li s2, ROUNDS
    li t0, 7919
    mul s3, s0, t0
    addi s3, s3, 1                  # LCG seed per hart
    bnez s0, round
    # hart 0: a timer interrupt every TICKS ticks
    call arm
    li t0, 0x80
    csrs mie, t0
    csrsi mstatus, 8
round:
    # work: 200..711 passes of a small compute loop
    li t0, 1103515245
    mul s3, s3, t0
    addi s3, s3, 1234
    srli t1, s3, 16
    andi t1, t1, 511
    addi t1, t1, 200
    li a5, 0
1:  add a5, a5, t1
    xor a5, a5, s3
    slli a6, a5, 3
    sub a5, a6, a5
    addi t1, t1, -1
    bnez t1, 1b
    # twenty loads from a hole, each between other instructions of one block: access faults
    li t1, 20
    li t2, HOLE
2:  addi a5, a5, 1
    lw a7, 0(t2)
    addi a5, a5, 3
    addi t1, t1, -1
    bnez t1, 2b
    # hart 1 polls the time CSR until it moves on
    li t0, 1
    bne s0, t0, 3f
    rdtime t1
4:  rdtime t2
    beq t1, t2, 4b
3:  lla t3, lock
    li t2, 1
5:  lr.w t4, (t3)
    bnez t4, 5b
    sc.w t4, t2, (t3)
    bnez t4, 5b
    addi a2, s0, 'A'
    call putc
    amoswap.w zero, zero, (t3)      # unlock
    addi s2, s2, -1
    bnez s2, round
    lla t1, done
    li t2, 1
    amoadd.w zero, t2, (t1)
    bnez s0, park
    li s4, NHARTS
6:  lw s5, (t1)                     # a spin-wait (t5, t6 belong to the trap handler)
    bne s5, s4, 6b
    csrci mstatus, 8
    li a2, '\n'
    call putc
    li t0, TEST
    li t1, 0x5555
    sw t1, 0(t0)
park:
    wfi
    j park

putc:                               # a2 = byte
    li t0, UART
    sb a2, 0(t0)
    ret

arm:                                # mtimecmp = mtime + TICKS (uses t5, t6 only)
    li t5, CLINT + 0xBFF8
    ld t6, 0(t5)
    li t5, TICKS
    add t6, t6, t5
    li t5, CLINT + 0x4000
    sd t6, 0(t5)
    ret

trap:                               # uses t5, t6 and a scratch slot for ra
    csrw mscratch, ra
    csrr t5, mcause
    bltz t5, 7f
    csrr t5, mepc                   # an access fault: skip the load
    addi t5, t5, 4
    csrw mepc, t5
    csrr ra, mscratch
    mret
7:  li t5, UART                     # the timer: print '*', arm the next
    li t6, '*'
    sb t6, 0(t5)
    call arm
    csrr ra, mscratch
    mret

    .section .data
    .balign 8
lock:    .word 0
done:    .word 0
