/*
 * Program "text" the loader copies into one shared page before running it.
 * Each stub returns its own id, so code fetched from a stale I-cache line
 * (a missing fence.i on the U74) shows up as the previous program's id.
 */
	.section .rodata.stubs, "a"
	.option push
	/* Fixed 8-byte stubs: the loader indexes them by id. */
	.option norvc
	.balign 8
	.globl prog_stubs
prog_stubs:
	.irp id, 0, 1, 2, 3, 4, 5, 6, 7
	li	a0, \id
	ret
	.endr
	.option pop
