/*
 * The trigger module (Sdtrig as the debug spec 0.13.2 describes it, in the spirit of
 * riscv-tests' rv64mi-p-breakpoint): mcontrol execute, load and store breakpoints with
 * action 0 raise a breakpoint exception *before* the instruction (mepc = that instruction,
 * which the runtime's handler then skips, so its effect never happens); a trigger for U
 * only stays quiet in M and fires in U; a disarmed trigger is quiet; a second trigger works.
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

    .text
    .globl main
main:
    addi sp, sp, -16
    sd ra, 0(sp)

    csrw tselect, zero
    csrr t0, tselect
    PR tselect_0, t0

    /* Execute, M mode: the addi never runs. */
    la t0, 1f
    csrw tdata2, t0
    li t0, MC_TYPE2 | MC_M | MC_EXEC
    csrw tdata1, t0
    PR_TDATA1 exec
    li a0, 7
1:  addi a0, a0, 1
    PR exec_a0, a0
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
