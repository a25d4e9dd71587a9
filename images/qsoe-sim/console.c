#include "console.h"

#include "lock.h"
#include "riscv.h"

#define UART_RBR 0
#define UART_THR 0
#define UART_IER 1
#define UART_LCR 3
#define UART_LSR 5
#define LSR_DR 0x01
#define LSR_THRE 0x20

static spinlock_t console_lock = SPINLOCK_INIT;

void console_init(void)
{
	/* FIFOs stay as reset: enabling them would drop bytes typed before boot. */
	mmio_write8(UART0_BASE + UART_IER, 0);
	mmio_write8(UART0_BASE + UART_LCR, 0x03); /* 8N1 */
}

static void uart_putc(char c)
{
	while (!(mmio_read8(UART0_BASE + UART_LSR) & LSR_THRE))
		;
	mmio_write8(UART0_BASE + UART_THR, (uint8_t)c);
}

/* Serial consoles expect CRLF; the log scanners strip it either way. */
static void console_sink(void *ctx, char c)
{
	(void)ctx;
	if (c == '\n')
		uart_putc('\r');
	uart_putc(c);
}

int console_getc(void)
{
	if (!(mmio_read8(UART0_BASE + UART_LSR) & LSR_DR))
		return -1;
	return mmio_read8(UART0_BASE + UART_RBR);
}

void kvprintf(const char *fmt, va_list ap)
{
	spin_lock(&console_lock);
	vformat(console_sink, NULL, fmt, ap);
	spin_unlock(&console_lock);
}

void kprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
}

void console_break_lock(void)
{
	spin_unlock(&console_lock);
}

struct buf_sink {
	char *buf;
	size_t size;
	size_t len;
};

static void buf_sink(void *ctx, char c)
{
	struct buf_sink *b = ctx;

	if (b->len + 1 < b->size)
		b->buf[b->len] = c;
	b->len++;
}

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct buf_sink b = { buf, size, 0 };

	vformat(buf_sink, &b, fmt, ap);
	if (size)
		buf[b.len < size ? b.len : size - 1] = '\0';
	return (int)b.len;
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
