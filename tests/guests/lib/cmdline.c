#include "cmdline.h"

#include "string.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Length of the word at p, honouring one quoted value. */
static size_t word_len(const char *p)
{
	size_t n = 0;
	bool quoted = false;

	while (p[n] && (quoted || !is_space(p[n]))) {
		if (p[n] == '"')
			quoted = !quoted;
		n++;
	}
	return n;
}

bool cmdline_find(const char *cl, const char *key, const char **val,
		  size_t *len)
{
	size_t klen = strlen(key);
	const char *p = cl;

	while (*p) {
		while (is_space(*p))
			p++;
		size_t wlen = word_len(p);
		if (wlen >= klen && strncmp(p, key, klen) == 0 &&
		    (wlen == klen || p[klen] == '=')) {
			const char *v = wlen == klen ? p + wlen : p + klen + 1;
			size_t vlen = (size_t)(p + wlen - v);
			if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
				v++;
				vlen -= 2;
			}
			*val = v;
			*len = vlen;
			return true;
		}
		p += wlen;
	}
	return false;
}

int cmdline_str(const char *cl, const char *key, char *buf, size_t size)
{
	const char *v;
	size_t len;

	if (!cmdline_find(cl, key, &v, &len))
		return 0;
	if (len + 1 > size)
		return -1;
	memcpy(buf, v, len);
	buf[len] = '\0';
	return 1;
}

bool parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	unsigned base = 10;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		len -= 2;
	}
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return false;
		/* Shifts and adds only: no 64-bit multiply helper needed. */
		v = base == 16 ? v << 4 | d : (v << 3) + (v << 1) + d;
	}
	*out = v;
	return true;
}

int cmdline_u64(const char *cl, const char *key, uint64_t *out)
{
	const char *v;
	size_t len;

	if (!cmdline_find(cl, key, &v, &len))
		return 0;
	return parse_u64(v, len, out) ? 1 : -1;
}

uint64_t cmdline_u64_or(const char *cl, const char *key, uint64_t def)
{
	uint64_t v;

	return cmdline_u64(cl, key, &v) == 1 ? v : def;
}
