/*
 * MMDS's data store: one JSON value the API replaces (PUT) or merges
 * into (PATCH, RFC 7396), within a size limit on its compact JSON, kept
 * with every object's keys sorted so the guest and GET /mmds see the
 * order Firecracker gives. Changes are built aside and swapped in, so a
 * refused one leaves the store as it was.
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "mvm/err.h"
#include "mvm/mmds.h"

#include "mmds_priv.h"

/* Compact, and '/' left as is: the text whose length the limit counts. */
#define MMDS_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | \
			 JSON_C_TO_STRING_NOSLASHESCAPE)

int mmds_new(struct mmds **out, size_t limit, struct mvm_err *err)
{
	struct mmds *m = calloc(1, sizeof(*m));

	if (!m)
		return mvm_fail(err, -ENOMEM, "mmds: out of memory");
	m->limit = limit;
	m->version = MMDS_V1;
	*out = m;
	return 0;
}

void mmds_free(struct mmds *m)
{
	if (!m)
		return;
	json_object_put(m->data);
	free(m);
}

void mmds_set_limit(struct mmds *m, size_t limit)
{
	m->limit = limit;
}

size_t mmds_limit(const struct mmds *m)
{
	return m->limit;
}

void mmds_set_version(struct mmds *m, enum mmds_version v)
{
	m->version = v;
}

enum mmds_version mmds_version(const struct mmds *m)
{
	return m->version;
}

void mmds_set_imds_compat(struct mmds *m, bool on)
{
	m->imds_compat = on;
}

bool mmds_imds_compat(const struct mmds *m)
{
	return m->imds_compat;
}

bool mmds_initialized(const struct mmds *m)
{
	return m->initialized;
}

struct json_object *mmds_data(const struct mmds *m)
{
	return m->data;
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * A copy of o with every object's keys in byte order (new reference).
 * Depth is bounded by json-c's parser, which made every value here.
 * NULL, for JSON null, when memory runs out too: the caller checks o.
 */
static struct json_object *sorted_copy(struct json_object *o, bool *oom)
{
	struct json_object *out;
	const char **keys;
	size_t n = 0, i;

	if (json_object_is_type(o, json_type_array)) {
		out = json_object_new_array();
		if (!out) {
			*oom = true;
			return NULL;
		}
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			json_object_array_add(out, sorted_copy(
				json_object_array_get_idx(o, i), oom));
		return out;
	}
	if (!json_object_is_type(o, json_type_object))
		return json_object_get(o);
	out = json_object_new_object();
	keys = calloc((size_t)json_object_object_length(o) + 1,
		      sizeof(*keys));
	if (!out || !keys) {
		json_object_put(out);
		free(keys);
		*oom = true;
		return NULL;
	}
	json_object_object_foreach(o, k, v) {
		(void)v;
		keys[n++] = k;
	}
	qsort(keys, n, sizeof(*keys), cmp_keys);
	for (i = 0; i < n; i++)
		json_object_object_add(out, keys[i], sorted_copy(
			json_object_object_get(o, keys[i]), oom));
	free(keys);
	return out;
}

/* RFC 7396 on target (may be NULL), as a new value (new reference). */
static struct json_object *merge(struct json_object *target,
				 struct json_object *patch)
{
	struct json_object *out, *t;
	bool t_obj = json_object_is_type(target, json_type_object);

	if (!json_object_is_type(patch, json_type_object))
		return json_object_get(patch);
	out = json_object_new_object();
	if (!out)
		return NULL;
	if (t_obj) {
		json_object_object_foreach(target, k, v) {
			if (!json_object_object_get_ex(patch, k, NULL))
				json_object_object_add(out, k,
						       json_object_get(v));
		}
	}
	json_object_object_foreach(patch, pk, pv) {
		if (!pv)
			continue; /* null: the key goes */
		t = t_obj ? json_object_object_get(target, pk) : NULL;
		json_object_object_add(out, pk, merge(t, pv));
	}
	return out;
}

/* Take next (a new reference) as the contents if it fits the limit. */
static int install(struct mmds *m, struct json_object *next,
		   struct mvm_err *err)
{
	bool oom = false;
	struct json_object *sorted = sorted_copy(next, &oom);
	size_t len = 0;

	json_object_put(next);
	if (oom) {
		json_object_put(sorted);
		return mvm_fail(err, -ENOMEM, "mmds: out of memory");
	}
	if (!json_object_to_json_string_length(sorted, MMDS_JSON_FLAGS,
					       &len)) {
		json_object_put(sorted);
		return mvm_fail(err, -ENOMEM, "mmds: out of memory");
	}
	if (len > m->limit) {
		json_object_put(sorted);
		return mvm_fail(err, -EFBIG, MMDS_MSG_TOO_BIG);
	}
	json_object_put(m->data);
	m->data = sorted;
	m->initialized = true;
	return 0;
}

int mmds_put(struct mmds *m, struct json_object *value, struct mvm_err *err)
{
	return install(m, json_object_get(value), err);
}

int mmds_patch(struct mmds *m, struct json_object *patch,
	       struct mvm_err *err)
{
	struct json_object *next;

	if (!m->initialized)
		return mvm_fail(err, -ENODATA, MMDS_MSG_NOT_INIT);
	next = merge(m->data, patch);
	if (!next && patch)
		return mvm_fail(err, -ENOMEM, "mmds: out of memory");
	return install(m, next, err);
}

/* One pointer token: ~1 is '/', ~0 is '~' (RFC 6901). */
static char *unescape_token(const char *s, size_t n)
{
	char *t = malloc(n + 1), *o = t;

	if (!t)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '~' && i + 1 < n && (s[i + 1] == '0' ||
						 s[i + 1] == '1')) {
			*o++ = s[i + 1] == '0' ? '~' : '/';
			i++;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return t;
}

/* An array index as RFC 6901 spells one: digits, no leading zero. */
static bool array_index(const char *t, size_t *idx)
{
	size_t v = 0;

	if (!*t || (t[0] == '0' && t[1]))
		return false;
	for (; *t; t++) {
		if (*t < '0' || *t > '9' || v > (SIZE_MAX - 9) / 10)
			return false;
		v = v * 10 + (size_t)(*t - '0');
	}
	*idx = v;
	return true;
}

static bool step(struct json_object **cur, const char *tok)
{
	struct json_object *next;
	size_t idx;

	if (json_object_is_type(*cur, json_type_object)) {
		if (!json_object_object_get_ex(*cur, tok, &next))
			return false;
		*cur = next;
		return true;
	}
	if (json_object_is_type(*cur, json_type_array) &&
	    array_index(tok, &idx) &&
	    idx < json_object_array_length(*cur)) {
		*cur = json_object_array_get_idx(*cur, idx);
		return true;
	}
	return false;
}

/* The value at pointer p (n bytes): "" is the root, else "/tok/tok". */
static bool lookup(struct json_object *root, const char *p, size_t n,
		   struct json_object **out)
{
	struct json_object *cur = root;
	size_t i = 0, seg;
	char *tok;
	bool ok;

	if (n && p[0] != '/')
		return false;
	while (i < n) {
		i++; /* the '/' */
		for (seg = 0; i + seg < n && p[i + seg] != '/'; seg++)
			;
		tok = unescape_token(p + i, seg);
		if (!tok)
			return false;
		ok = step(&cur, tok);
		free(tok);
		if (!ok)
			return false;
		i += seg;
	}
	*out = cur;
	return true;
}

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* An object's keys, one a line, objects' with '/'; a string raw. */
static int imds_text(struct json_object *v, char **out, size_t *len)
{
	size_t n = 0, at = 0;
	char *t;

	if (json_object_is_type(v, json_type_string)) {
		*len = (size_t)json_object_get_string_len(v);
		*out = dup_n(json_object_get_string(v), *len);
		return *out ? 0 : -ENOMEM;
	}
	if (!json_object_is_type(v, json_type_object))
		return -ENOTSUP;
	json_object_object_foreach(v, k0, v0) {
		n += strlen(k0) + 2; /* '/' and '\n' at most */
		(void)v0;
	}
	t = malloc(n + 1);
	if (!t)
		return -ENOMEM;
	json_object_object_foreach(v, k, kv) {
		size_t kl = strlen(k);

		if (at)
			t[at++] = '\n';
		memcpy(t + at, k, kl);
		at += kl;
		if (json_object_is_type(kv, json_type_object))
			t[at++] = '/';
	}
	t[at] = '\0';
	*out = t;
	*len = at;
	return 0;
}

int mmds_render(const struct mmds *m, const char *path, bool json,
		char **out, size_t *len)
{
	struct json_object *v;
	size_t n = strlen(path);
	const char *s;

	if (n && path[n - 1] == '/')
		n--; /* "/a/" is "/a"; "/" the root */
	if (!lookup(m->data, path, n, &v))
		return -ENOENT;
	if (m->imds_compat || !json)
		return imds_text(v, out, len);
	s = json_object_to_json_string_length(v, MMDS_JSON_FLAGS, len);
	if (!s)
		return -ENOMEM;
	*out = dup_n(s, *len);
	return *out ? 0 : -ENOMEM;
}

bool mmds_parse_ipv4(const char *s, uint32_t *ipv4)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned o = 0, digits = 0;

		if (i && *s++ != '.')
			return false;
		for (; *s >= '0' && *s <= '9' && digits < 4; s++, digits++)
			o = o * 10 + (unsigned)(*s - '0');
		/* No leading zeros: "010" is octal to some parsers. */
		if (!digits || digits > 3 || o > 255 ||
		    (digits > 1 && s[-(int)digits] == '0'))
			return false;
		v = v << 8 | o;
	}
	if (*s)
		return false;
	*ipv4 = v;
	return true;
}

bool mmds_ipv4_link_local(uint32_t ipv4)
{
	uint32_t third = ipv4 >> 8 & 0xff;

	return (ipv4 >> 16) == 0xa9fe && third >= 1 && third <= 254;
}
