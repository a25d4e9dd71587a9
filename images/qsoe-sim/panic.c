#include "panic.h"

#include <stdint.h>

#include "build.h"
#include "console.h"
#include "riscv.h"

#define MAX_FRAMES 6

extern char __stacks_start[], __stacks_end[];

const char *current_comm = "init";

/* Frame-pointer walk (the image is built with -fno-omit-frame-pointer): ra at fp-8, caller's fp at fp-16. */
static void backtrace(uintptr_t fp)
{
	kprintf("Call Trace:\n");
	for (int i = 0; i < MAX_FRAMES; i++) {
		uintptr_t ra;

		if (fp < (uintptr_t)__stacks_start + 16 || fp > (uintptr_t)__stacks_end || (fp & 7))
			break;
		ra = *(uintptr_t *)(fp - 8);
		if (!ra)
			break;
		/* No kallsyms here, so frames print the way Linux shows an unknown symbol. */
		kprintf("[<%016lx>] 0x%lx\n", (unsigned long)ra, (unsigned long)ra);
		fp = *(uintptr_t *)(fp - 16);
	}
}

void panic(const char *fmt, ...)
{
	char reason[128];
	va_list ap;

	csr_write(mie, 0);
	/* Format once: the reason is printed twice, like Linux does. */
	va_start(ap, fmt);
	kvsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	console_break_lock();
	kprintf("Kernel panic - not syncing: %s\n", reason);
	kprintf("CPU: %lu Comm: %s Not tainted 0.%u #%s\n", hart_id(), current_comm, build.number, build.id);
	backtrace((uintptr_t)__builtin_frame_address(0));
	kprintf("---[ end Kernel panic - not syncing: %s ]---\n", reason);
	halt();
}

void __attribute__((noreturn)) trap_handler(unsigned long mcause, unsigned long mepc, unsigned long mtval);

void trap_handler(unsigned long mcause, unsigned long mepc, unsigned long mtval)
{
	panic("unhandled trap: mcause=0x%lx mepc=0x%lx mtval=0x%lx", mcause, mepc, mtval);
}
