/*
 * Strict reading of JSON objects for the API shapes: every field is looked
 * up by name with its type and range, unknown fields are errors, and every
 * message starts with the field's JSON path ("drives[0].path_on_host: ...")
 * so a config file's author or an API client knows exactly what to fix.
 */
#ifndef MVM_API_JSON_IN_H
#define MVM_API_JSON_IN_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

struct mvm_err;

struct jr {
	struct json_object *o;
	char path[192];         /* "" for a request body's top level */
	struct mvm_err *err;
};

/*
 * Start reading o, found at path: it must be an object whose keys are all
 * in known (NULL-terminated). Returns 0 or -EINVAL with a message.
 */
int jr_open(struct jr *r, struct json_object *o, const char *path,
	    const char *const *known, struct mvm_err *err);

/* "path.key" (or "key" at the top level) into buf. */
const char *jr_field(const struct jr *r, const char *key, char *buf,
		     size_t len);

/*
 * Field getters: 1 when the field is present (and valid), 0 when absent
 * (or null) and not required, negative errno with a message otherwise.
 */
int jr_str(struct jr *r, const char *key, bool required, const char **out);
int jr_bool(struct jr *r, const char *key, bool required, bool *out);
int jr_u64(struct jr *r, const char *key, bool required, uint64_t min,
	   uint64_t max, uint64_t *out);
/* One of names (NULL-terminated), compared exactly; *out is its index. */
int jr_enum(struct jr *r, const char *key, bool required,
	    const char *const *names, int *out);
/* A nested object, opened with its own known keys. */
int jr_obj(struct jr *r, const char *key, bool required,
	   const char *const *known, struct jr *sub);

/* A message about the field key of r, returning code. */
int jr_fail(struct jr *r, const char *key, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Refuse, in a JSON text json-c has accepted, a key repeated in one object
 * and strings that are not UTF-8 (src/api/json_scan.c).
 */
int api_json_scan(const char *text, size_t len, struct mvm_err *err);

/* json-c's name for o's type: "a string", "an integer", "null"... */
const char *jr_type_name(struct json_object *o);

#endif
