# Bare-metal guest whose hot loops take every path of a compiled guest loop (harness/emulator/
# loops.py; tests/emulator/test_loops.py runs it with loops compiled and without, and compares):
# every integer operation a region runs, mixed into one checksum; byte, halfword, word and double
# stores and loads, aligned, misaligned inside a page and across a page boundary; a call and
# its return inside the loop, a call returning elsewhere, a call through a register, a call to a long function, a 4-byte
# instruction straddling two pages; a loop closed by a jump back; UART writes and status reads (a
# device inside a loop); every AMO and LR/SC; the time polled in a loop while the timer and software interrupts come; a loop that patches an instruction it runs (fence.i); a load from a
# hole that faults (the handler skips it); a second hart waiting on a flag, storing each pass.
# Hart 0 prints the checksum in hex and powers off through the test device.
    .equ UART, 0x10000000
    .equ TEST, 0x100000
    .equ HOLE, 0x40000000
    .equ N, 300
    .equ CLINT, 0x2000000
    .equ TICKS, 1000
    .option norvc

    .section .text.entry, "ax"
    .globl _start
_start:
    la t0, trap
    csrw mtvec, t0
    bnez a0, waiter
    li s0, 0x9E3779B97F4A7C15       # the checksum
    # --- every integer operation, on words that take every sign ------------------------------
    li s1, N
    li s2, 0x0123456789ABCDEF
1:  add t0, s0, s2
    sub t1, s0, s1
    and t2, t0, t1
    or t3, t0, s1
    xor s0, s0, t2
    sll t4, t3, s1
    srl t5, t0, s1
    sra t6, t1, s1
    slt a2, t1, t0
    sltu a3, t1, t0
    addw a4, t0, t1
    subw a5, t1, t0
    sllw a6, t0, s1
    srlw a7, t1, s1
    sraw s3, t1, s1
    mul s4, t0, t1
    mulh s5, t0, t1
    mulhsu s6, t1, t0
    mulhu s7, t0, t1
    mulw s8, t0, t1
    div s9, t0, s1
    divu s10, t1, s1
    rem s11, t0, s1
    remu t0, t1, s1
    divw t2, t4, s1
    divuw t3, t5, s1
    remw t4, t6, s1
    remuw t5, a2, s1
    add s0, s0, t4
    xor s0, s0, t5
    add s0, s0, t6
    xor s0, s0, a2
    add s0, s0, a3
    xor s0, s0, a4
    add s0, s0, a5
    xor s0, s0, a6
    add s0, s0, a7
    xor s0, s0, s3
    add s0, s0, s4
    xor s0, s0, s5
    add s0, s0, s6
    xor s0, s0, s7
    add s0, s0, s8
    xor s0, s0, s9
    add s0, s0, s10
    xor s0, s0, s11
    add s0, s0, t0
    xor s0, s0, t2
    add s0, s0, t3
    div a2, s0, zero               # division by zero and the overflowing one
    rem a3, s0, zero
    li a4, -1
    slli a5, a4, 63
    div a6, a5, a4
    rem a7, a5, a4
    add s0, s0, a2
    xor s0, s0, a3
    add s0, s0, a6
    xor s0, s0, a7
    addi t0, s0, -2048
    slti t1, t0, 5
    sltiu t2, t0, -5
    andi t3, t0, -17
    ori t4, t0, 0x3f0
    xori t5, t0, -1
    slli t6, t0, 37
    srli a2, t0, 29
    srai a3, t0, 61
    addiw a4, t0, 2047
    slliw a5, t0, 31
    srliw a6, t0, 7
    sraiw a7, t0, 19
    lui a0, 0xfedcb
    auipc a1, 0x12345
    add s0, s0, t1
    xor s0, s0, t2
    add s0, s0, t3
    xor s0, s0, t4
    add s0, s0, t5
    xor s0, s0, t6
    add s0, s0, a2
    xor s0, s0, a3
    add s0, s0, a4
    xor s0, s0, a5
    add s0, s0, a6
    xor s0, s0, a7
    add s0, s0, a0
    xor s0, s0, a1
    slli t0, s0, 13                 # one branch each way, on the checksum's bits
    bltz t0, 2f
    addi s0, s0, 77
2:  bgeu t0, s2, 3f
    xori s0, s0, 99
3:  blt s2, t0, 4f
    addi s0, s0, -5
4:  bge t0, zero, 5f
    ori s0, s0, 1
5:  beq t0, s2, 6f
    addi s2, s2, 3
6:  addi s1, s1, -1
    bnez s1, 1b
    la t0, early                    # hart 1 moves to its second wait
    sd s0, 0(t0)
    # --- stores and loads of every size: aligned, misaligned in a page, across a page ----------
    la s1, buf
    li s3, N
7:  andi t0, s3, 255
    add t1, s1, t0
    sb s0, 0(t1)
    sh s0, 1(t1)                    # misaligned
    sw s0, 5(t1)                    # misaligned
    sd s0, 16(t1)
    lb t2, 0(t1)
    lbu t3, 1(t1)
    lh t4, 1(t1)
    lhu t5, 2(t1)
    lw t6, 5(t1)
    lwu a2, 6(t1)
    ld a3, 16(t1)
    ld a4, 3(t1)                    # misaligned
    li a5, -2                       # a misaligned word read back sign-extended
    sw a5, 9(t1)
    lw a6, 9(t1)
    beq a6, a5, 23f
    li t0, TEST                     # not: fail with status 2
    li t1, (2 << 16) | 0x3333
    sw t1, 0(t0)
23:
    add s0, s0, t2
    xor s0, s0, t3
    add s0, s0, t4
    xor s0, s0, t5
    add s0, s0, t6
    xor s0, s0, a2
    add s0, s0, a3
    xor s0, s0, a4
    li t0, 4093                     # across buf's first page into its second
    add t0, t0, s1
    sd s0, 0(t0)
    ld t1, 0(t0)
    add s0, s0, t1
    addi s3, s3, -1
    bnez s3, 7b
    # --- a call through a register inside the loop (a function pointer): the region ends at
    # the callee, which only an indirect jump reaches ------------------------------------------
    la s4, mix
    li s3, N
24: mv a0, s0
    jalr s4
    mv s0, a0
    addi s3, s3, -1
    bnez s3, 24b
    # --- a loop calling a function whose decoded cold path is longer than a region: the
    # region is cut at MAX_INSNS instructions, the loop runs where the cut leaves it -----------
    li a1, 1                        # once through its long path first: decoded, never hot
    mv a0, s0
    call long
    mv s0, a0
    li a1, 0
    li s3, N
long_loop:
    mv a0, s0
    call long
long_return:
    mv s0, a0                       # s0 + 1, mixed with the count (one to one)
    xor s0, s0, s3
    addi s3, s3, -1
    bnez s3, long_loop
    # --- a loop with a 4-byte instruction straddling two pages (kept decoded in its slot) -----
    li s3, N
    call straddle
    # --- a call and its return inside the loop; a loop closed by a jump back ------------------
    li s3, N
    la s5, buf
    li s6, 4096
    add s6, s6, s5                  # buf + 4096: a second page, through a second base register
8:  beqz s3, 9f
    mv a0, s0
    call mix
    bltz s3, 25f                    # never taken: makes 25 a block start, where skip returns
    jal skip                        # returns one instruction past its call's return address
    xori a0, a0, 0x3c               # skipped
25: sd a0, 8(s5)                    # two pages, through two base registers, in turn
    ld t0, 16(s6)
    add a0, a0, t0
    sd a0, 16(s6)
    ld t1, 8(s5)
    xor a0, a0, t1
    mv s0, a0
    addi s3, s3, -1
    j 8b
    # --- a device inside the loop: the UART's status polled, its bytes written ----------------
9:  la s1, text
    li s3, UART
10: lbu t0, 5(s3)                   # LSR: transmitter empty
    andi t0, t0, 0x20
    beqz t0, 10b
    lbu t1, 0(s1)
    beqz t1, 11f
    sb t1, 0(s3)
    sb t1, 7(s3)                    # the scratch register, written and read back
    lbu t2, 7(s3)
    lb t3, 6(s3)                    # MSR: 0xb0, negative as a signed byte
    bltz t3, 22f
    li t0, TEST                     # not sign-extended: fail with status 1
    li t1, (1 << 16) | 0x3333
    sw t1, 0(t0)
22:
    add s0, s0, t2
    xor s0, s0, t3
    add s0, s0, t1
    addi s1, s1, 1
    j 10b
    # --- a loop that rewrites an instruction it runs (the immediate of `patched`) --------------
11: li s3, 64
    lui s4, 0x00100                 # adds 1 to the immediate of an addi
12: la t0, patched
    lw t1, 0(t0)
    add t1, t1, s4
    sw t1, 0(t0)
    fence.i
patched:
    addi s0, s0, 1
    addi s3, s3, -1
    bnez s3, 12b
    # --- every AMO the interpreter runs inline, and an LR/SC increment, inside a loop ----------
    li s3, 300
    la s4, words
    addi s5, s4, 8
    addi s6, s4, 16
    addi s7, s4, 24
    addi s8, s4, 32
    addi s9, s4, 40
    addi s10, s4, 44
    addi s11, s4, 48
    addi a0, s4, 56
    addi a1, s4, 64
    addi ra, s4, 72
    addi tp, s4, 80
16: amoadd.d t0, s3, (s4)
    amoxor.w t1, s0, (s5)
    amoor.d t2, s3, (s6)
    amoand.w t3, s0, (s7)
    amoswap.d t4, s0, (s8)
    amoadd.w t5, s3, (s9)
    amoswap.w t6, s3, (s10)
    amoor.w a2, s0, (s11)
    amoand.d a3, s0, (a0)
    amoxor.d a4, s3, (a1)
17: lr.d a5, (ra)
    addi a5, a5, 1
    sc.d a6, a5, (ra)
    bnez a6, 17b
18: lr.w a7, (tp)
    addi a7, a7, 3
    sc.w a6, a7, (tp)
    bnez a6, 18b
    add s0, s0, t0
    xor s0, s0, t1
    add s0, s0, t2
    xor s0, s0, t3
    add s0, s0, t4
    xor s0, s0, t5
    add s0, s0, t6
    xor s0, s0, a2
    add s0, s0, a3
    xor s0, s0, a4
    add s0, s0, a5
    xor s0, s0, a7
    addi s3, s3, -1
    bnez s3, 16b
    # --- loads from a hole inside a hot loop: each faults, the handler skips it ----------------
    li s3, 200
    li s4, HOLE
13: addi s0, s0, 3
    lw t0, 0(s4)
    addi s3, s3, -1
    bnez s3, 13b
    # --- the time polled in a loop (a delay: the hart yields), the timer interrupting it -------
    li t0, CLINT + 0xBFF8
    ld t1, 0(t0)
    addi t1, t1, TICKS
    li t0, CLINT + 0x4000
    sd t1, 0(t0)
    li t0, 0x88
    csrs mie, t0
    csrsi mstatus, 8
    li s3, 20 * TICKS
    rdtime s4
    li s5, CLINT
    li s6, 1
19: li t2, 100                     # work between two polls
20: addi t2, t2, -1
    xor s0, s0, t2
    bnez t2, 20b
    sw s6, 0(s5)                    # a software interrupt to itself, taken after the next
    rdtime t0                       # system instruction (this time read)
    sub t1, t0, s4
    xor s0, s0, t1
    bltu t1, s3, 19b
    # --- a store-free loop whose registers repeat every 32 passes, with a time read each 32:
    # no spin-wait (the interpreter starts its spin detection again after a system instruction)
    rdtime s4
    li s3, 3 * TICKS
    li t0, 0
21: addi t0, t0, 1
    andi t0, t0, 31
    bnez t0, 21b
    rdtime t1
    sub t2, t1, s4
    bltu t2, s3, 21b
    xor s0, s0, t2
    csrci mstatus, 8
    la t0, ticks
    ld t1, 0(t0)
    add s0, s0, t1
    # --- release hart 1 (spinning), wait for its answer, print the checksum -------------------
    la t0, flag
    sd s0, 0(t0)
    la t0, answer
14: ld t1, 0(t0)
    beqz t1, 14b
    add s0, s0, t1
    li s3, 60
15: srl t0, s0, s3
    andi t0, t0, 15
    la t1, hex
    add t1, t1, t0
    lbu t0, 0(t1)
    li t2, UART
    sb t0, 0(t2)
    addi s3, s3, -4
    bgez s3, 15b
    li t0, '\n'
    sb t0, 0(t2)
    li t0, TEST
    li t1, 0x5555
    sw t1, 0(t0)
park:
    wfi
    j park

waiter:                             # hart 1: wait for hart 0's flags, counting its passes in
    la t0, early                    # memory (a pass ends with the registers it began with, but
    la t3, beat                     # it stores: no spin-wait), first with a store, then with an
1:  ld t5, 0(t3)                    # AMO; answer with a hash of the flag and both counts
    addi t5, t5, 1
    sd t5, 0(t3)
    li t5, 0
    ld t1, 0(t0)
    beqz t1, 1b
    la t0, flag
    la t4, amobeat
    li t2, 1
2:  amoadd.d zero, t2, (t4)
    ld t1, 0(t0)
    beqz t1, 2b
    ld t5, 0(t4)
    add t1, t1, t5
    ld t5, 0(t3)
    add t1, t1, t5
    li t2, 0x100000001B3
    mul t1, t1, t2
    ori t1, t1, 1
    la t0, answer
    sd t1, 0(t0)
    j park

mix:                                # a0 = a0 * 31 + (a0 >> 7), through a jalr return
    slli t0, a0, 5
    sub t0, t0, a0
    srli t1, a0, 7
    add a0, t0, t1
    ret

# (A region built from a loop that calls `mix` takes in what follows each `ret` up to the trap
# handler's CSR read, and not `long`: the loop's own code after the calls fits in it.)
skip:                               # a0 += 9, returning past the instruction after its call
    addi a0, a0, 9
    addi ra, ra, 4
    ret

trap:                               # an access fault: skip the faulting load; the timer:
    csrr t5, mcause                 # count the tick, arm the next
    bltz t5, 1f
    csrr t5, mepc
    addi t5, t5, 4
    csrw mepc, t5
    mret
1:  slli t5, t5, 1
    li t6, 6                        # a software interrupt: count it, clear it
    bne t5, t6, 2f
    la t5, ticks
    ld t6, 0(t5)
    addi t6, t6, 1000
    sd t6, 0(t5)
    li t5, CLINT
    sw zero, 0(t5)
    mret
2:  la t5, ticks
    ld t6, 0(t5)
    addi t6, t6, 1
    sd t6, 0(t5)
    li t5, CLINT + 0x4000
    ld t6, 0(t5)
    addi t6, t6, TICKS
    sd t6, 0(t5)
    mret

long:                               # a0 += 1, after 410 instructions if a1 is set
    beqz a1, 1f
    .rept 205
    addi a0, a0, 3
    xori a0, a0, 0x5a
    .endr
1:  addi a0, a0, 1
    ret

    # The page's last halfword holds the first half of a 4-byte instruction.
    .globl straddle
    .option push
    .option rvc
    .balign 4096
    .skip 4096 - 6
straddle:
    c.nop
    c.nop
    xori s0, s0, 0x155              # at 0xffe: its upper half on the next page
    addi s0, s0, 7
    addi s3, s3, -1
    bnez s3, straddle
    ret
    .option pop

    .section .rodata
text:    .asciz "hot loops: the UART written and read in a compiled loop\n"
hex:     .ascii "0123456789abcdef"

    .section .data
    .balign 8
flag:    .dword 0
answer:  .dword 0
beat:    .dword 0
amobeat: .dword 0
early:   .dword 0
ticks:   .dword 0
words:   .dword 0, 0, 0, -1, 0, 0, 0, -1, 0, 0, 0
    .balign 4096
buf:     .space 8192
