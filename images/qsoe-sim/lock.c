#include "lock.h"

void spin_lock(spinlock_t *l)
{
	uint32_t busy;

	for (;;) {
		__asm__ volatile("amoswap.w.aq %0, %2, %1" : "=r"(busy), "+A"(l->locked) : "r"(1u) : "memory");
		if (!busy)
			return;
		/* Wait with plain loads so the holder's cache line is not stolen on every spin. */
		while (l->locked)
			;
	}
}

void spin_lock_lrsc(spinlock_t *l)
{
	uint32_t tmp;

	__asm__ volatile("1:	lr.w.aq	%0, %1\n"
			 "	bnez	%0, 1b\n"
			 "	sc.w	%0, %2, %1\n"
			 "	bnez	%0, 1b\n"
			 : "=&r"(tmp), "+A"(l->locked)
			 : "r"(1u)
			 : "memory");
}

void spin_unlock(spinlock_t *l)
{
	__asm__ volatile("amoswap.w.rl zero, zero, %0" : "+A"(l->locked) : : "memory");
}
