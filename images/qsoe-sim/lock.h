/*
 * Spinlocks in the two styles RISC-V kernels use. Both really spin: the
 * injected wedge is a genuine lock-order deadlock, not a simulated hang.
 */
#ifndef QSOE_LOCK_H
#define QSOE_LOCK_H

#include <stdint.h>

typedef struct {
	volatile uint32_t locked;
} spinlock_t;

#define SPINLOCK_INIT { 0 }

/* Test-and-test-and-set on amoswap.w.aq. */
void spin_lock(spinlock_t *l);
/* lr.w.aq / sc.w loop. */
void spin_lock_lrsc(spinlock_t *l);
/* Release for either style (amoswap.w.rl). */
void spin_unlock(spinlock_t *l);

#endif
