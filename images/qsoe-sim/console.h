/* ns16550a console shared by both harts; kprintf holds a lock per call so lines never interleave. */
#ifndef QSOE_CONSOLE_H
#define QSOE_CONSOLE_H

#include <stdarg.h>
#include <stddef.h>

void console_init(void);
/* Next received byte, or -1 when the receive buffer is empty. */
int console_getc(void);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char *fmt, va_list ap);
int ksnprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
/* For panic: the lock may be held by a hart that will never release it. */
void console_break_lock(void);

/* printf subset: %s %c %d %u %x %p %%, 'l' length, '-'/'0' flags and a width. */
typedef void (*sink_fn)(void *ctx, char c);
void vformat(sink_fn sink, void *ctx, const char *fmt, va_list ap);

#endif
