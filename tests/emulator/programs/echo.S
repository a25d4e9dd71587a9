# Console round-trip for `-bios none`: prints "ready", then for every byte received on the
# ns16550 at 0x10000000 prints "got XX" (hex). 'q' powers off through the test device.
    .equ UART, 0x10000000
    .equ TEST, 0x100000

    .section .text.entry, "ax"
    .globl _start
_start:
    bnez a0, park
    li s0, UART
    la s1, ready
    call puts
loop:
    lbu t0, 5(s0)           # LSR: data ready?
    andi t0, t0, 1
    beqz t0, loop
    lbu s2, 0(s0)
    li t0, 'q'
    beq s2, t0, off
    la s1, got
    call puts
    srli a2, s2, 4
    call hexdigit
    andi a2, s2, 15
    call hexdigit
    li a2, '\n'
    sb a2, 0(s0)
    j loop
off:
    li t0, TEST
    li t1, 0x5555
    sw t1, 0(t0)
park:
    wfi
    j park

hexdigit:                   # a2 = 0..15
    li t0, 10
    blt a2, t0, 1f
    addi a2, a2, 'a' - '0' - 10
1:  addi a2, a2, '0'
    sb a2, 0(s0)
    ret
puts:                       # s1 = NUL-terminated string
    lbu a2, 0(s1)
    beqz a2, 2f
    sb a2, 0(s0)
    addi s1, s1, 1
    j puts
2:  ret

    .section .rodata
ready: .string "ready\n"
got:   .string "got "
