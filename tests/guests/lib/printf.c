#include "printf.h"

#include "uart.h"

struct sink {
	char *buf; /* NULL: write to the UART */
	size_t size;
	size_t len; /* characters produced so far */
};

static void put(struct sink *s, char c)
{
	if (!s->buf)
		uart_putc(c);
	else if (s->len + 1 < s->size)
		s->buf[s->len] = c;
	s->len++;
}

/*
 * Divide by 10 without 64-bit division: 32-bit guests have no libgcc for
 * __udivdi3. Values that fit 32 bits (nearly all) take the fast path.
 */
static uint32_t divmod10(uint64_t *v)
{
	if (*v <= UINT32_MAX) {
		uint32_t x = (uint32_t)*v;
		*v = x / 10;
		return x % 10;
	}
	uint64_t q = 0, r = 0;
	for (int bit = 63; bit >= 0; bit--) {
		r = r << 1 | ((*v >> bit) & 1);
		if (r >= 10) {
			r -= 10;
			q |= 1ULL << bit;
		}
	}
	*v = q;
	return (uint32_t)r;
}

static void put_num(struct sink *s, uint64_t v, unsigned base, bool upper,
		    bool neg, int width, char pad)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0;

	do {
		if (base == 16) {
			tmp[n++] = digits[v & 15];
			v >>= 4;
		} else {
			tmp[n++] = digits[divmod10(&v)];
		}
	} while (v);
	if (neg && pad == '0')
		put(s, '-');
	for (int w = n + (neg ? 1 : 0); w < width; w++)
		put(s, pad);
	if (neg && pad != '0')
		put(s, '-');
	while (n)
		put(s, tmp[--n]);
}

static void format(struct sink *s, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(s, *fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, longs = 0;
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			longs++;
			fmt++;
		}
		switch (*fmt) {
		case 'd': {
			int64_t v = longs >= 2 ? va_arg(ap, long long)
				  : longs ? va_arg(ap, long) : va_arg(ap, int);
			put_num(s, v < 0 ? -(uint64_t)v : (uint64_t)v, 10,
				false, v < 0, width, pad);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			uint64_t v = longs >= 2 ? va_arg(ap, unsigned long long)
				   : longs ? va_arg(ap, unsigned long)
					   : va_arg(ap, unsigned int);
			put_num(s, v, *fmt == 'u' ? 10 : 16, *fmt == 'X',
				false, width, pad);
			break;
		}
		case 'p':
			put(s, '0');
			put(s, 'x');
			put_num(s, (uintptr_t)va_arg(ap, void *), 16, false,
				false, width, pad);
			break;
		case 'c':
			put(s, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);
			int len = 0;
			if (!str)
				str = "(null)";
			while (str[len])
				len++;
			for (; len < width; width--)
				put(s, ' ');
			while (*str)
				put(s, *str++);
			break;
		}
		case '%':
			put(s, '%');
			break;
		case '\0':
			return;
		default: /* unknown: show it rather than guess */
			put(s, '%');
			put(s, *fmt);
			break;
		}
	}
}

int kvprintf(const char *fmt, va_list ap)
{
	struct sink s = {0};

	format(&s, fmt, ap);
	return (int)s.len;
}

int kprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = kvprintf(fmt, ap);
	va_end(ap);
	return n;
}

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct sink s = {.buf = buf, .size = size};

	format(&s, fmt, ap);
	if (size)
		buf[s.len < size ? s.len : size - 1] = '\0';
	return (int)s.len;
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = kvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
