#include "lib.h"

#include "riscv.h"

void *memcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	uint8_t *d = dst;

	while (n--)
		*d++ = (uint8_t)c;
	return dst;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b || !*a)
			return (unsigned char)*a - (unsigned char)*b;
	}
	return 0;
}

int strcmp(const char *a, const char *b)
{
	return strncmp(a, b, (size_t)-1);
}

bool cmdline_u64(const char *cmdline, const char *key, uint64_t *out)
{
	size_t klen = strlen(key);
	const char *p = cmdline;

	while (p && *p) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, klen) && p[klen] == '=' && p[klen + 1] >= '0' && p[klen + 1] <= '9') {
			uint64_t v = 0;

			for (p += klen + 1; *p >= '0' && *p <= '9'; p++)
				v = v * 10 + (uint64_t)(*p - '0');
			*out = v;
			return true;
		}
		while (*p && *p != ' ')
			p++;
	}
	return false;
}

uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void sleep_ticks(uint64_t ticks)
{
	uint64_t deadline = mtime() + ticks;

	mmio_write64(CLINT_MTIMECMP(hart_id()), deadline);
	csr_set(mie, MIE_MTIE);
	/* mstatus.MIE stays off: wfi wakes on the pending timer without taking a trap. */
	while (mtime() < deadline)
		wfi();
	csr_clear(mie, MIE_MTIE);
}

void halt(void)
{
	csr_write(mie, 0);
	for (;;)
		wfi();
}
