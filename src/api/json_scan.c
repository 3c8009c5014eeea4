/*
 * What json-c lets through but mvm refuses, found in the text of a document
 * json-c has already accepted: a key given twice in one object (json-c
 * keeps the last one, so the first would be silently ignored) and strings
 * that are not valid UTF-8 (they would be echoed back by GET /vm/config as
 * invalid JSON). Messages name the JSON path, as the shape readers do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/api.h"
#include "mvm/err.h"

#include "json_in.h"

/* json-c refuses documents nested deeper than 32 levels. */
#define SCAN_DEPTH 64
#define PATH_MAX_LEN 256
#define KEY_SHOWN 64

struct level {
	bool is_obj;
	bool want_key;            /* objects: a key comes next */
	size_t index;             /* arrays: the current element */
	size_t base;              /* length of the container's own path */
	struct json_object *seen; /* objects: the keys so far */
};

struct scan {
	const char *text;
	size_t len, pos;
	struct level lv[SCAN_DEPTH];
	int depth;
	char path[PATH_MAX_LEN];
	size_t plen;
	struct mvm_err *err;
};

/* Length of the UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t need;
	unsigned lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1;
	else if (c >= 0xe0 && c <= 0xef)
		need = 2;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 3;
	else
		return 0;
	/* No overlong forms, no surrogates, nothing above U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < need + 1 || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i <= need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need + 1;
}

bool api_utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq(u + i, n - i);

		if (!k)
			return false;
		i += k;
	}
	return true;
}

const char *api_text_problem(const char *s, char *buf, size_t cap)
{
	if (!api_utf8_valid(s, strlen(s)))
		return "is not valid UTF-8";
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			snprintf(buf, cap, "contains a control character "
				 "(0x%02x)", (unsigned char)*s);
			return buf;
		}
	return NULL;
}

static const char *where(const struct scan *sc)
{
	return sc->plen ? sc->path : "body";
}

static void path_cut(struct scan *sc, size_t len)
{
	sc->plen = len;
	sc->path[len] = '\0';
}

/* Append to the path; a path too long to show is cut, not refused. */
static void path_add(struct scan *sc, const char *fmt, const char *s,
		     size_t n)
{
	int w = snprintf(sc->path + sc->plen, sizeof(sc->path) - sc->plen,
			 fmt, (int)n, s);

	if (w > 0)
		sc->plen += (size_t)w < sizeof(sc->path) - sc->plen ?
			    (size_t)w : sizeof(sc->path) - sc->plen - 1;
}

/* The key's text with escapes resolved, or NULL (message in err). */
static char *key_text(struct scan *sc, size_t a, size_t b)
{
	struct json_object *o;
	char *quoted, *out = NULL;

	if (!memchr(sc->text + a, '\\', b - a))
		return strndup(sc->text + a, b - a);
	quoted = strndup(sc->text + a - 1, b - a + 2);
	o = quoted ? json_tokener_parse(quoted) : NULL;
	free(quoted);
	if (o && (size_t)json_object_get_string_len(o) ==
		 strlen(json_object_get_string(o)))
		out = strdup(json_object_get_string(o));
	else if (o)
		mvm_fail(sc->err, -EINVAL, "%s: a key contains a NUL "
			 "character", where(sc));
	json_object_put(o);
	if (!out && !o)
		mvm_fail(sc->err, -ENOMEM, "out of memory");
	return out;
}

/* Printable form of a key for the path: controls become '?'. */
static void show_key(const char *key, char *buf, size_t cap)
{
	size_t i;

	for (i = 0; key[i] && i + 1 < cap; i++)
		buf[i] = (unsigned char)key[i] < 0x20 || key[i] == 0x7f ?
			 '?' : key[i];
	buf[i] = '\0';
}

static int on_key(struct scan *sc, struct level *l, size_t a, size_t b)
{
	char shown[KEY_SHOWN + 1];
	char *key;

	if (!api_utf8_valid(sc->text + a, b - a))
		return mvm_fail(sc->err, -EINVAL, "%s: a key is not valid "
				"UTF-8", where(sc));
	key = key_text(sc, a, b);
	if (!key)
		return -EINVAL;
	show_key(key, shown, sizeof(shown));
	path_cut(sc, l->base);
	path_add(sc, l->base ? ".%.*s" : "%.*s", shown, strlen(shown));
	if (json_object_object_get_ex(l->seen, key, NULL)) {
		free(key);
		return mvm_fail(sc->err, -EINVAL, "%s: duplicate key (a key "
				"may appear only once in an object)",
				sc->path);
	}
	json_object_object_add(l->seen, key, NULL);
	free(key);
	l->want_key = false;
	return 0;
}

/* A string from the opening quote at sc->pos; leaves pos after it. */
static int on_string(struct scan *sc)
{
	struct level *l = sc->depth ? &sc->lv[sc->depth - 1] : NULL;
	size_t a = ++sc->pos;

	while (sc->pos < sc->len && sc->text[sc->pos] != '"')
		sc->pos += sc->text[sc->pos] == '\\' ? 2 : 1;
	sc->pos++;
	if (l && l->is_obj && l->want_key)
		return on_key(sc, l, a, sc->pos - 1);
	if (!api_utf8_valid(sc->text + a, sc->pos - 1 - a))
		return mvm_fail(sc->err, -EINVAL, "%s: not valid UTF-8",
				where(sc));
	return 0;
}

static void element_path(struct scan *sc, struct level *l)
{
	char idx[24];

	snprintf(idx, sizeof(idx), "%zu", l->index);
	path_cut(sc, l->base);
	path_add(sc, "[%.*s]", idx, strlen(idx));
}

static int open_level(struct scan *sc, bool is_obj)
{
	struct level *l;

	if (sc->depth == SCAN_DEPTH)
		return mvm_fail(sc->err, -EINVAL, "%s: nested too deeply",
				where(sc));
	l = &sc->lv[sc->depth++];
	memset(l, 0, sizeof(*l));
	l->is_obj = is_obj;
	l->want_key = is_obj;
	l->base = sc->plen;
	if (is_obj) {
		l->seen = json_object_new_object();
		if (!l->seen)
			return mvm_fail(sc->err, -ENOMEM, "out of memory");
	} else {
		element_path(sc, l);
	}
	return 0;
}

static void close_level(struct scan *sc)
{
	struct level *l = &sc->lv[--sc->depth];

	json_object_put(l->seen);
	path_cut(sc, l->base);
}

static void next_member(struct scan *sc)
{
	struct level *l = &sc->lv[sc->depth - 1];

	if (l->is_obj) {
		l->want_key = true;
		path_cut(sc, l->base);
	} else {
		l->index++;
		element_path(sc, l);
	}
}

static int step(struct scan *sc)
{
	char c = sc->text[sc->pos];

	switch (c) {
	case '"':
		return on_string(sc);
	case '{':
	case '[':
		sc->pos++;
		return open_level(sc, c == '{');
	case '}':
	case ']':
		sc->pos++;
		if (sc->depth)
			close_level(sc);
		return 0;
	case ',':
		sc->pos++;
		if (sc->depth)
			next_member(sc);
		return 0;
	default: /* whitespace, ':', numbers, true, false, null */
		sc->pos++;
		return 0;
	}
}

int api_json_scan(const char *text, size_t len, struct mvm_err *err)
{
	struct scan *sc = calloc(1, sizeof(*sc));
	int ret = 0;

	if (!sc)
		return mvm_fail(err, -ENOMEM, "out of memory");
	sc->text = text;
	sc->len = len;
	sc->err = err;
	while (!ret && sc->pos < sc->len)
		ret = step(sc);
	while (sc->depth)
		close_level(sc);
	free(sc);
	return ret;
}
