/*
 * Entry for every hart: QEMU (and the repo's emulator) start all harts here
 * in M-mode with a0 = hart id and a1 = DTB address.
 */
#define STACK_SIZE 0x2000
#define MAX_HARTS 2

	.section .text.entry, "ax"
	.globl _start
_start:
	csrw	mie, zero
	la	t0, trap_vector
	csrw	mtvec, t0
	/* s0 = 0 ends the frame-pointer walk in panic() at the first C frame. */
	li	s0, 0
	li	t0, MAX_HARTS
	bgeu	a0, t0, extra_hart

	/* Stacks grow down from __stacks_end, one STACK_SIZE slice per hart. */
	la	sp, __stacks_end
	li	t0, STACK_SIZE
	mul	t0, t0, a0
	sub	sp, sp, t0
	bnez	a0, secondary

	la	t0, __bss_start
	la	t1, __bss_end
1:	bgeu	t0, t1, 2f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	1b
2:	fence	rw, rw
	/* The gate lives in .data: hart 1 must not read a .bss flag before it is cleared. */
	la	t0, boot_gate
	li	t1, 1
	sw	t1, 0(t0)
	call	hart0_main
	j	park

secondary:
	la	t0, boot_gate
3:	lw	t1, 0(t0)
	beqz	t1, 3b
	fence	rw, rw
	call	secondary_main
	j	park

extra_hart:
	/* Count it (harts_up is only read once the gate is open) and stay out of the way. */
	la	t0, boot_gate
4:	lw	t1, 0(t0)
	beqz	t1, 4b
	la	t0, harts_up
	li	t1, 1
	amoadd.w zero, t1, (t0)
park:
	wfi
	j	park

	/* Nothing is expected to trap; if something does, say so loudly instead of jumping to 0. */
	.balign 4
trap_vector:
	csrr	a0, mcause
	csrr	a1, mepc
	csrr	a2, mtval
	call	trap_handler
	j	park

	.data
	.balign 4
	.globl boot_gate
boot_gate:
	.word 0
