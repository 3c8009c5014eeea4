/*
 * AML encoding. A PkgLength counts its own bytes and everything after it up
 * to the end of the object, and its own size (1 to 4 bytes) depends on that
 * total, which is only known at the end. So the opener reserves the maximum
 * 4 bytes and aml_end() writes the real encoding and slides the body down.
 */
#include <errno.h>
#include <string.h>

#include "mvm/aml.h"

#define PKGLEN_RESERVED 4
#define NAMESEG_LEN 4
#define MAX_SEGS 255

void aml_init(struct aml *a, void *buf, size_t cap)
{
	a->buf = buf;
	a->cap = cap;
	a->len = 0;
	a->status = 0;
}

int aml_status(const struct aml *a)
{
	return a->status;
}

static void fail(struct aml *a, int code)
{
	if (!a->status)
		a->status = code;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->status)
		return;
	if (n > a->cap - a->len) {
		fail(a, -ENOSPC);
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void put_le(struct aml *a, uint64_t v, int n)
{
	uint8_t b[8];

	for (int i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(a, b, n);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO);
	} else if (v == 1) {
		aml_byte(a, AML_ONE);
	} else if (v == UINT64_MAX) {
		aml_byte(a, AML_ONES);
	} else if (v <= UINT8_MAX) {
		aml_byte(a, AML_BYTE_PREFIX);
		put_le(a, v, 1);
	} else if (v <= UINT16_MAX) {
		aml_byte(a, AML_WORD_PREFIX);
		put_le(a, v, 2);
	} else if (v <= UINT32_MAX) {
		aml_byte(a, AML_DWORD_PREFIX);
		put_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		put_le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	for (const char *p = s; *p; p++) {
		/* AsciiCharList is 0x01-0x7f; keep to printable to be safe. */
		if (*p < 0x20 || *p > 0x7e) {
			fail(a, -EINVAL);
			return;
		}
	}
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

static bool seg_char_ok(char c, bool first)
{
	if (c == '_' || (c >= 'A' && c <= 'Z'))
		return true;
	return !first && c >= '0' && c <= '9';
}

/* One segment of up to 4 chars from *p, padded with '_'; advances *p. */
static bool parse_seg(const char **p, char seg[NAMESEG_LEN])
{
	int n = 0;

	while (**p && **p != '.') {
		if (n == NAMESEG_LEN || !seg_char_ok(**p, n == 0))
			return false;
		seg[n++] = *(*p)++;
	}
	if (n == 0)
		return false;
	while (n < NAMESEG_LEN)
		seg[n++] = '_';
	return true;
}

void aml_namestring(struct aml *a, const char *path)
{
	char segs[MAX_SEGS][NAMESEG_LEN];
	const char *p = path;
	int nr = 0;

	if (*p == '\\') {
		aml_byte(a, AML_ROOT_CHAR);
		p++;
	} else {
		while (*p == '^') {
			aml_byte(a, AML_PARENT_CHAR);
			p++;
		}
	}
	while (*p) {
		if (nr == MAX_SEGS || !parse_seg(&p, segs[nr])) {
			fail(a, -EINVAL);
			return;
		}
		nr++;
		if (*p == '.' && !*++p) {
			fail(a, -EINVAL); /* trailing dot */
			return;
		}
	}
	if (nr == 0) {
		/* NullName, valid after a prefix ("\" is the root itself). */
		if (p == path)
			fail(a, -EINVAL);
		aml_byte(a, 0x00);
		return;
	}
	if (nr == 2) {
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	} else if (nr > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)nr);
	}
	aml_bytes(a, segs, (size_t)nr * NAMESEG_LEN);
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v = 0;

	/* Three letters of 5 bits each, then four hex digits; big-endian. */
	if (strlen(id) != 7) {
		fail(a, -EINVAL);
		return;
	}
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			fail(a, -EINVAL);
			return;
		}
		v = v << 5 | (uint32_t)(id[i] - 'A' + 1);
	}
	for (int i = 3; i < 7; i++) {
		char c = id[i];
		uint32_t d;

		if (c >= '0' && c <= '9')
			d = (uint32_t)(c - '0');
		else if (c >= 'A' && c <= 'F')
			d = (uint32_t)(c - 'A' + 10);
		else {
			fail(a, -EINVAL);
			return;
		}
		v = v << 4 | d;
	}
	/* The id is stored most significant byte first. */
	v = __builtin_bswap32(v);
	aml_byte(a, AML_DWORD_PREFIX);
	put_le(a, v, 4);
}

void aml_name(struct aml *a, const char *path)
{
	aml_byte(a, AML_NAME);
	aml_namestring(a, path);
}

void aml_return(struct aml *a)
{
	aml_byte(a, AML_RETURN);
}

/* Reserve the PkgLength after an opcode; the mark is where it starts. */
static size_t open_pkg(struct aml *a)
{
	static const uint8_t zero[PKGLEN_RESERVED];
	size_t mark = a->len;

	aml_bytes(a, zero, sizeof(zero));
	return mark;
}

void aml_end(struct aml *a, size_t mark)
{
	size_t body, total;
	int n;

	if (a->status)
		return;
	if (mark > a->len || a->len - mark < PKGLEN_RESERVED) {
		fail(a, -EINVAL);
		return;
	}
	body = a->len - mark - PKGLEN_RESERVED;
	if (body + 1 <= 0x3f)
		n = 1;
	else if (body + 2 <= 0xfff)
		n = 2;
	else if (body + 3 <= 0xfffff)
		n = 3;
	else if (body + 4 <= 0xfffffff)
		n = 4;
	else {
		fail(a, -ENOSPC);
		return;
	}
	total = body + (size_t)n;
	if (n == 1) {
		a->buf[mark] = (uint8_t)total;
	} else {
		/* Lead byte: count of following bytes, then the low nibble. */
		a->buf[mark] = (uint8_t)((n - 1) << 6 | (total & 0xf));
		for (int i = 1; i < n; i++)
			a->buf[mark + i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	memmove(a->buf + mark + n, a->buf + mark + PKGLEN_RESERVED, body);
	a->len -= (size_t)(PKGLEN_RESERVED - n);
}

size_t aml_scope(struct aml *a, const char *path)
{
	size_t mark;

	aml_byte(a, AML_SCOPE);
	mark = open_pkg(a);
	aml_namestring(a, path);
	return mark;
}

size_t aml_device(struct aml *a, const char *path)
{
	size_t mark;

	aml_byte(a, AML_EXT_PREFIX);
	aml_byte(a, AML_EXT_DEVICE);
	mark = open_pkg(a);
	aml_namestring(a, path);
	return mark;
}

size_t aml_method(struct aml *a, const char *path, unsigned nargs,
		  bool serialized)
{
	size_t mark;

	if (nargs > 7)
		fail(a, -EINVAL);
	aml_byte(a, AML_METHOD);
	mark = open_pkg(a);
	aml_namestring(a, path);
	/* MethodFlags: ArgCount in bits 0-2, SerializeFlag in bit 3. */
	aml_byte(a, (uint8_t)((nargs & 7) | (serialized ? 0x08 : 0)));
	return mark;
}

size_t aml_package(struct aml *a, unsigned nelems)
{
	size_t mark;

	if (nelems > UINT8_MAX)
		fail(a, -EINVAL);
	aml_byte(a, AML_PACKAGE);
	mark = open_pkg(a);
	aml_byte(a, (uint8_t)nelems);
	return mark;
}

void aml_buffer(struct aml *a, const void *data, size_t n)
{
	size_t mark;

	aml_byte(a, AML_BUFFER);
	mark = open_pkg(a);
	aml_integer(a, n);
	aml_bytes(a, data, n);
	aml_end(a, mark);
}
