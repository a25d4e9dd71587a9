#include <stdbool.h>

#include "console.h"
#include "lib.h"

struct spec {
	int width;
	bool left;
	bool zero;
};

static void pad(sink_fn sink, void *ctx, char c, int n)
{
	while (n-- > 0)
		sink(ctx, c);
}

static void emit_str(sink_fn sink, void *ctx, const char *s, const struct spec *sp)
{
	int len = (int)strlen(s);

	if (!sp->left)
		pad(sink, ctx, ' ', sp->width - len);
	while (*s)
		sink(ctx, *s++);
	if (sp->left)
		pad(sink, ctx, ' ', sp->width - len);
}

static void emit_num(sink_fn sink, void *ctx, unsigned long v, unsigned base, bool neg, const struct spec *sp)
{
	char digits[24];
	int n = 0;
	int len;

	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	len = n + (neg ? 1 : 0);
	if (!sp->left && !sp->zero)
		pad(sink, ctx, ' ', sp->width - len);
	if (neg)
		sink(ctx, '-');
	/* Zero padding goes after the sign, as in libc. */
	if (!sp->left && sp->zero)
		pad(sink, ctx, '0', sp->width - len);
	while (n)
		sink(ctx, digits[--n]);
	if (sp->left)
		pad(sink, ctx, ' ', sp->width - len);
}

void vformat(sink_fn sink, void *ctx, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		struct spec sp = { 0, false, false };
		bool is_long = false;

		if (*fmt != '%') {
			sink(ctx, *fmt);
			continue;
		}
		for (fmt++; *fmt == '-' || *fmt == '0'; fmt++) {
			if (*fmt == '-')
				sp.left = true;
			else
				sp.zero = true;
		}
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			sp.width = sp.width * 10 + (*fmt - '0');
		if (*fmt == 'l') {
			is_long = true;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);

			emit_str(sink, ctx, s ? s : "(null)", &sp);
			break;
		}
		case 'c':
			sink(ctx, (char)va_arg(ap, int));
			break;
		case 'd': {
			long v = is_long ? va_arg(ap, long) : va_arg(ap, int);

			emit_num(sink, ctx, v < 0 ? -(unsigned long)v : (unsigned long)v, 10, v < 0, &sp);
			break;
		}
		case 'u':
			emit_num(sink, ctx, is_long ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10, false, &sp);
			break;
		case 'x':
			emit_num(sink, ctx, is_long ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16, false, &sp);
			break;
		case 'p':
			sink(ctx, '0');
			sink(ctx, 'x');
			emit_num(sink, ctx, (unsigned long)va_arg(ap, void *), 16, false, &sp);
			break;
		case '%':
			sink(ctx, '%');
			break;
		case '\0':
			return;
		default:
			sink(ctx, '%');
			sink(ctx, *fmt);
			break;
		}
	}
}
