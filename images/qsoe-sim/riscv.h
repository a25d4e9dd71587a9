/*
 * Machine-mode helpers for the QEMU virt board. The addresses are virt's,
 * not the Unmatched's: the image only has to look like the field boot.
 */
#ifndef QSOE_RISCV_H
#define QSOE_RISCV_H

#include <stdint.h>

#define UART0_BASE 0x10000000UL
#define TEST_BASE 0x100000UL
#define TEST_POWEROFF 0x5555u
#define TEST_RESET 0x7777u
#define CLINT_BASE 0x2000000UL
#define CLINT_MSIP(h) (CLINT_BASE + 4UL * (h))
#define CLINT_MTIMECMP(h) (CLINT_BASE + 0x4000UL + 8UL * (h))
#define CLINT_MTIME (CLINT_BASE + 0xbff8UL)
#define MTIME_HZ 10000000UL

#define MIE_MSIE (1UL << 3)
#define MIE_MTIE (1UL << 7)

/* Harts beyond these park at boot; init runs on hart 0, taskman on hart 1. */
#define MAX_HARTS 2
#define INIT_HART 0
#define TASKMAN_HART 1

#define csr_read(csr)                                        \
	({                                                   \
		unsigned long v_;                            \
		__asm__ volatile("csrr %0, " #csr : "=r"(v_)); \
		v_;                                          \
	})
#define csr_write(csr, val) __asm__ volatile("csrw " #csr ", %0" ::"r"((unsigned long)(val)))
#define csr_set(csr, val) __asm__ volatile("csrs " #csr ", %0" ::"r"((unsigned long)(val)))
#define csr_clear(csr, val) __asm__ volatile("csrc " #csr ", %0" ::"r"((unsigned long)(val)))

static inline void mmio_write8(uintptr_t addr, uint8_t v) { *(volatile uint8_t *)addr = v; }
static inline uint8_t mmio_read8(uintptr_t addr) { return *(volatile uint8_t *)addr; }
static inline void mmio_write32(uintptr_t addr, uint32_t v) { *(volatile uint32_t *)addr = v; }
static inline void mmio_write64(uintptr_t addr, uint64_t v) { *(volatile uint64_t *)addr = v; }
static inline uint64_t mmio_read64(uintptr_t addr) { return *(volatile uint64_t *)addr; }

static inline uint64_t mtime(void) { return mmio_read64(CLINT_MTIME); }
static inline void wfi(void) { __asm__ volatile("wfi" ::: "memory"); }
static inline void fence_i(void) { __asm__ volatile("fence.i" ::: "memory"); }
static inline unsigned long hart_id(void) { return csr_read(mhartid); }

/* Sleeps in wfi on the CLINT timer so an idle hart costs neither QEMU CPU nor emulator steps. */
void sleep_ticks(uint64_t ticks);
/* Parks the calling hart for good with every interrupt masked. */
void __attribute__((noreturn)) halt(void);

#endif
