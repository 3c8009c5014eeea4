#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mvm/api.h"
#include "mvm/err.h"

#include "json_in.h"

const char *jr_type_name(struct json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
		return "a number with a fraction";
	case json_type_int:
		return "an integer";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	}
	return "something else";
}

const char *jr_field(const struct jr *r, const char *key, char *buf,
		     size_t len)
{
	if (!key)
		snprintf(buf, len, "%s", r->path[0] ? r->path : "body");
	else if (r->path[0])
		snprintf(buf, len, "%s.%s", r->path, key);
	else
		snprintf(buf, len, "%s", key);
	return buf;
}

int jr_fail(struct jr *r, const char *key, int code, const char *fmt, ...)
{
	char field[256], msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return mvm_fail(r->err, code, "%s: %s",
			jr_field(r, key, field, sizeof(field)), msg);
}

static bool known_key(const char *const *known, const char *key)
{
	for (; *known; known++)
		if (!strcmp(*known, key))
			return true;
	return false;
}

int jr_open(struct jr *r, struct json_object *o, const char *path,
	    const char *const *known, struct mvm_err *err)
{
	r->o = o;
	r->err = err;
	snprintf(r->path, sizeof(r->path), "%s", path ? path : "");
	if (!json_object_is_type(o, json_type_object))
		return jr_fail(r, NULL, -EINVAL, "expected an object, got %s",
			       jr_type_name(o));
	json_object_object_foreach(o, key, val) {
		char names[256] = "";
		size_t n = 0;

		(void)val;
		if (known_key(known, key))
			continue;
		for (const char *const *k = known; *k; k++)
			n += (size_t)snprintf(names + n, sizeof(names) - n,
					      "%s%s", n ? ", " : "", *k);
		return jr_fail(r, key, -EINVAL, "unknown field (expected %s%s)",
			       known[0] ? "one of: " : "no fields",
			       names);
	}
	return 0;
}

/* 1 with *val when present and not null; 0 absent; error if required. */
static int lookup(struct jr *r, const char *key, bool required,
		  struct json_object **val)
{
	if (json_object_object_get_ex(r->o, key, val) &&
	    !json_object_is_type(*val, json_type_null))
		return 1;
	if (required)
		return jr_fail(r, key, -EINVAL, "missing required field");
	return 0;
}

int jr_str(struct jr *r, const char *key, bool required, const char **out)
{
	struct json_object *v;
	int ret = lookup(r, key, required, &v);
	const char *why;
	char buf[48];

	if (ret <= 0)
		return ret;
	if (!json_object_is_type(v, json_type_string))
		return jr_fail(r, key, -EINVAL, "expected a string, got %s",
			       jr_type_name(v));
	/* An embedded NUL would silently shorten a path or a name. */
	if (strlen(json_object_get_string(v)) !=
	    (size_t)json_object_get_string_len(v))
		return jr_fail(r, key, -EINVAL, "contains a NUL character");
	why = api_text_problem(json_object_get_string(v), buf, sizeof(buf));
	if (why)
		return jr_fail(r, key, -EINVAL, "%s", why);
	*out = json_object_get_string(v);
	return 1;
}

int jr_bool(struct jr *r, const char *key, bool required, bool *out)
{
	struct json_object *v;
	int ret = lookup(r, key, required, &v);

	if (ret <= 0)
		return ret;
	if (!json_object_is_type(v, json_type_boolean))
		return jr_fail(r, key, -EINVAL, "expected a boolean, got %s",
			       jr_type_name(v));
	*out = json_object_get_boolean(v);
	return 1;
}

int jr_u64(struct jr *r, const char *key, bool required, uint64_t min,
	   uint64_t max, uint64_t *out)
{
	struct json_object *v;
	int ret = lookup(r, key, required, &v);
	uint64_t u;

	if (ret <= 0)
		return ret;
	if (!json_object_is_type(v, json_type_int))
		return jr_fail(r, key, -EINVAL, "expected an integer, got %s",
			       jr_type_name(v));
	/*
	 * json-c keeps integers as int64 or uint64; a negative one read as
	 * uint64 would wrap, so the sign is checked on the int64 view.
	 */
	if (json_object_get_int64(v) < 0)
		return jr_fail(r, key, -ERANGE, "must be from %llu to %llu, "
			       "got %lld", (unsigned long long)min,
			       (unsigned long long)max,
			       (long long)json_object_get_int64(v));
	u = json_object_get_uint64(v);
	if (u < min || u > max)
		return jr_fail(r, key, -ERANGE, "must be from %llu to %llu, "
			       "got %llu", (unsigned long long)min,
			       (unsigned long long)max, (unsigned long long)u);
	*out = u;
	return 1;
}

int jr_enum(struct jr *r, const char *key, bool required,
	    const char *const *names, int *out)
{
	char list[256] = "";
	const char *s;
	size_t n = 0;
	int ret = jr_str(r, key, required, &s);

	if (ret <= 0)
		return ret;
	for (int i = 0; names[i]; i++) {
		if (!strcmp(names[i], s)) {
			*out = i;
			return 1;
		}
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s\"%s\"",
				      i ? ", " : "", names[i]);
	}
	return jr_fail(r, key, -EINVAL, "\"%.64s\" is not one of %s", s, list);
}

int jr_obj(struct jr *r, const char *key, bool required,
	   const char *const *known, struct jr *sub)
{
	struct json_object *v;
	char path[256];
	int ret = lookup(r, key, required, &v);

	if (ret <= 0)
		return ret;
	ret = jr_open(sub, v, jr_field(r, key, path, sizeof(path)), known,
		      r->err);
	return ret ? ret : 1;
}

/*
 * json-c's strict mode still takes object keys in single quotes. Outside
 * double-quoted strings a JSON text never holds one: find the first.
 */
static size_t single_quote_at(const char *text, size_t len)
{
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		if (in_str && text[i] == '\\')
			i++;
		else if (text[i] == '"')
			in_str = !in_str;
		else if (!in_str && text[i] == '\'')
			return i;
	}
	return len;
}

int api_json_parse(const char *text, size_t len, struct json_object **out,
		   struct mvm_err *err)
{
	struct json_tokener *tok;
	struct json_object *o;
	enum json_tokener_error jerr;
	size_t used;

	*out = NULL;
	if (len == 0)
		return mvm_fail(err, -EINVAL, "empty body, expected a JSON "
				"object");
	if (len > INT32_MAX)
		return mvm_fail(err, -E2BIG, "body too large");
	used = single_quote_at(text, len);
	if (used < len)
		return mvm_fail(err, -EINVAL, "malformed JSON at byte %zu: "
				"strings and keys take double quotes", used);
	tok = json_tokener_new();
	if (!tok)
		return mvm_fail(err, -ENOMEM, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue && !o) {
		/* A bare number may end the text: the NUL tells json-c so. */
		used = json_tokener_get_parse_end(tok);
		o = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		if (jerr != json_tokener_success)
			jerr = json_tokener_continue;
	} else {
		used = json_tokener_get_parse_end(tok);
	}
	json_tokener_free(tok);
	if (jerr == json_tokener_continue) {
		json_object_put(o);
		return mvm_fail(err, -EINVAL, "malformed JSON: the document "
				"ends too early");
	}
	if (jerr != json_tokener_success) {
		json_object_put(o);
		return mvm_fail(err, -EINVAL, "malformed JSON at byte %zu: %s",
				used, json_tokener_error_desc(jerr));
	}
	/* Only whitespace may follow the value. */
	for (; used < len; used++) {
		char c = text[used];

		if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			json_object_put(o);
			return mvm_fail(err, -EINVAL, "malformed JSON: "
					"unexpected data after the value at "
					"byte %zu", used);
		}
	}
	if (api_json_scan(text, len, err)) {
		json_object_put(o);
		return -EINVAL;
	}
	*out = o;
	return 0;
}
