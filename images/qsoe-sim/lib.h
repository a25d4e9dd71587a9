/* The few libc pieces a freestanding image needs (GCC may emit memcpy/memset calls itself). */
#ifndef QSOE_LIB_H
#define QSOE_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* Finds `key=<decimal>` among the space-separated words of a kernel command line. */
bool cmdline_u64(const char *cmdline, const char *key, uint64_t *out);
/* splitmix64 finaliser: consecutive seeds give independent-looking values. */
uint64_t mix64(uint64_t x);

#endif
