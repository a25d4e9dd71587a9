/*
 * The trigger module (Sdtrig as the debug spec 0.13.2 describes it, in the spirit of
 * riscv-tests' rv64mi-p-breakpoint): mcontrol execute, load and store breakpoints with
 * action 0 raise a breakpoint exception *before* the instruction (mepc = that instruction,
 * which the runtime's handler then skips, so its effect never happens); a trigger for U
 * only stays quiet in M and fires in U; a disarmed trigger is quiet; a second trigger works.
 * The runtime prints every trap's mcause (3, breakpoint) and mtval, compared with QEMU's.
 * Also: tselect walks over the triggers (at least the two riscv-tests uses, each of type 2,
 * mcontrol) and stops at the first that does not exist; M-mode cannot give a trigger to
 * debug mode (dmode stays 0) nor make its action "enter debug mode" without it.
 */
#include "runtime.h"

    TEST_NAME trigger

    .equ MC_TYPE2, (2 << 60)
    .equ MC_M, (1 << 6)
    .equ MC_U, (1 << 3)
    .equ MC_EXEC, (1 << 2)
    .equ MC_STORE, (1 << 1)
    .equ MC_LOAD, (1 << 0)
    .equ MC_STABLE, 0x7f        /* the privilege and access bits, as written */

.macro PR_TDATA1 name
    csrr t5, tdata1
    srli t6, t5, 60
    PR \name\()_type, t6
    andi t5, t5, MC_STABLE
    PR \name\()_bits, t5
.endm

/* Print 1 as \name\()_zero_or_address if \value is 0 or \address (clobbers t6). */
.macro MTVAL_OK name, value, address
    li t6, 1
    beqz \value, 10f
    beq \value, \address, 10f
    li t6, 0
10: PR \name\()_zero_or_address, t6
.endm

    .text
    .globl main
main:
    addi sp, sp, -16
    sd ra, 0(sp)

    csrw tselect, zero
    csrr t0, tselect
    PR tselect_0, t0

    /* Walk tselect up: every trigger that exists is an mcontrol (type 2); t2 counts them. */
    li t2, 0
    li t3, 1                  /* all of type 2 so far */
8:  csrw tselect, t2
    csrr t0, tselect
    bne t0, t2, 9f
    csrr t0, tdata1
    srli t0, t0, 60
    li t1, 2
    beq t0, t1, 7f
    li t3, 0
7:  addi t2, t2, 1
    li t0, 64
    bltu t2, t0, 8b
9:  sltiu t0, t2, 2
    xori t0, t0, 1
    PR at_least_two_triggers, t0
    PR every_trigger_mcontrol, t3
    csrw tselect, zero

    /* dmode and action 1 (enter debug mode) from M-mode: neither sticks. */
    li t0, MC_TYPE2 | (1 << 59) | (1 << 12) | MC_M | MC_EXEC
    csrw tdata1, t0
    csrr t0, tdata1
    srli t1, t0, 59
    andi t1, t1, 1
    PR dmode_from_m, t1
    srli t1, t0, 12
    andi t1, t1, 0xf
    PR action_from_m, t1
    li t0, MC_TYPE2
    csrw tdata1, t0

    /* Execute, M mode: the addi never runs. */
    la t0, 1f
    csrw tdata2, t0
    li t0, MC_TYPE2 | MC_M | MC_EXEC
    csrw tdata1, t0
    PR_TDATA1 exec
    li a0, 7
1:  addi a0, a0, 1
    PR exec_a0, a0
    /* mtval: 0 (QEMU) or the address that matched (the emulator), both as the spec allows. */
    csrr t1, mtval
    la t0, 1b
    MTVAL_OK exec_mtval, t1, t0
    li t0, MC_TYPE2
    csrw tdata1, t0
    /* Disarmed (no privilege, no access kind) but aimed: the addi runs. */
    la t0, 5f
    csrw tdata2, t0
    li a0, 7
5:  addi a0, a0, 1
    PR disarmed_a0, a0

    /* Load, M mode: the ld never runs, t1 keeps its value. */
    la t0, value
    csrw tdata2, t0
    li t0, MC_TYPE2 | MC_M | MC_LOAD
    csrw tdata1, t0
    PR_TDATA1 load
    la t0, value
    li t1, 0x55
    ld t1, 0(t0)
    PR load_t1, t1
    csrr t1, mtval
    MTVAL_OK load_mtval, t1, t0
    /* A store to the same address does not match a load trigger. */
    li t1, 0x1234
    sd t1, 0(t0)
    li t1, MC_TYPE2
    csrw tdata1, t1
    ld t2, 0(t0)
    PR load_store_passes, t2

    /* Store, M mode: memory keeps its value. */
    li t1, MC_TYPE2 | MC_M | MC_STORE
    csrw tdata1, t1
    PR_TDATA1 store
    li t1, 0x9999
    sd t1, 0(t0)
    csrr t1, mtval
    MTVAL_OK store_mtval, t1, t0
    li t1, MC_TYPE2
    csrw tdata1, t1
    ld t2, 0(t0)
    PR store_value, t2

    /* Trigger 1, execute, U only: quiet in M, fires in U. */
    li t0, 1
    csrw tselect, t0
    csrr t0, tselect
    PR tselect_1, t0
    la t0, 3f
    csrw tdata2, t0
    li t0, MC_TYPE2 | MC_U | MC_EXEC
    csrw tdata1, t0
    PR_TDATA1 user
    li a1, 40
    call user_code
    PR user_in_m, a1
    li a0, PRV_U
    call rt_enter_mode
    li a1, 40
    call user_code
    ELEVATE
    PR user_in_u, a1
    li t0, MC_TYPE2
    csrw tdata1, t0
    csrw tselect, zero

    ld ra, 0(sp)
    addi sp, sp, 16
    ret

user_code:
3:  addi a1, a1, 2
    ret

    .data
    .balign 8
value:
    .dword 0x1111
