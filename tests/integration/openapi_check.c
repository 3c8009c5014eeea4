#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <yaml.h>

#include "openapi_check.h"

/* YAML document -> json-c tree; every scalar becomes a string. */
static struct json_object *convert(yaml_document_t *doc, yaml_node_t *n)
{
	struct json_object *o;

	switch (n->type) {
	case YAML_SCALAR_NODE:
		return json_object_new_string_len(
			(const char *)n->data.scalar.value,
			(int)n->data.scalar.length);
	case YAML_SEQUENCE_NODE:
		o = json_object_new_array();
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++)
			json_object_array_add(
				o, convert(doc, yaml_document_get_node(doc, *i)));
		return o;
	case YAML_MAPPING_NODE:
		o = json_object_new_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);

			json_object_object_add(
				o, (const char *)k->data.scalar.value,
				convert(doc,
					yaml_document_get_node(doc, p->value)));
		}
		return o;
	default:
		return NULL;
	}
}

static struct json_object *load_spec(void)
{
	/* Loaded once per test process; the file does not change. */
	static struct json_object *spec;
	const char *file = getenv("MVM_OPENAPI");
	yaml_parser_t parser;
	yaml_document_t doc;
	FILE *f;

	if (spec)
		return spec;
	f = fopen(file ? file : "api/openapi.yaml", "rb");
	if (!f)
		return NULL;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (yaml_parser_load(&parser, &doc)) {
		yaml_node_t *root = yaml_document_get_root_node(&doc);

		if (root)
			spec = convert(&doc, root);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	fclose(f);
	return spec;
}

static struct json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	if (o && json_object_is_type(o, json_type_object))
		json_object_object_get_ex(o, k, &v);
	return v;
}

static const char *get_str(struct json_object *o, const char *k)
{
	struct json_object *v = get(o, k);

	return v ? json_object_get_string(v) : NULL;
}

/* "#/components/schemas/X" -> the node. */
static struct json_object *deref(struct json_object *spec,
				 struct json_object *node)
{
	const char *ref;
	char buf[256], *save = NULL;

	while ((ref = get_str(node, "$ref"))) {
		if (strncmp(ref, "#/", 2))
			return NULL;
		snprintf(buf, sizeof(buf), "%s", ref + 2);
		node = spec;
		for (char *t = strtok_r(buf, "/", &save); t;
		     t = strtok_r(NULL, "/", &save))
			node = get(node, t);
	}
	return node;
}

struct ctx {
	struct json_object *spec;
	char *why;
	size_t len;
};

static bool bad(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, c->len, fmt, ap);
	va_end(ap);
	return false;
}

static bool validate(struct ctx *c, struct json_object *schema,
		     struct json_object *v, const char *where);

static bool validate_object(struct ctx *c, struct json_object *s,
			    struct json_object *v, const char *where)
{
	struct json_object *req = get(s, "required"), *props = get(s, "properties");
	const char *addl = get_str(s, "additionalProperties");
	char sub[256];

	if (!json_object_is_type(v, json_type_object))
		return bad(c, "%s: expected an object", where);
	for (size_t i = 0; req && i < json_object_array_length(req); i++) {
		const char *k = json_object_get_string(
			json_object_array_get_idx(req, i));

		struct json_object *unused;

		/* Present with a null value counts: json-c keeps it as NULL. */
		if (!json_object_object_get_ex(v, k, &unused))
			return bad(c, "%s: required field %s is missing", where,
				   k);
	}
	json_object_object_foreach(v, key, val) {
		struct json_object *ps = get(props, key);

		snprintf(sub, sizeof(sub), "%s.%s", where, key);
		if (!ps) {
			if (addl && !strcmp(addl, "false"))
				return bad(c, "%s: not in the schema", sub);
			continue;
		}
		if (!validate(c, ps, val, sub))
			return false;
	}
	return true;
}

static bool validate(struct ctx *c, struct json_object *schema,
		     struct json_object *v, const char *where)
{
	struct json_object *s = deref(c->spec, schema), *e;
	const char *type, *nullable, *min, *max;
	char sub[256];

	if (!s)
		return bad(c, "%s: unresolvable schema", where);
	nullable = get_str(s, "nullable");
	if (!v || json_object_is_type(v, json_type_null))
		return (nullable && !strcmp(nullable, "true")) ||
		       bad(c, "%s: null but not nullable", where);
	/* OpenAPI 3.0's way to make a $ref nullable: allOf beside it. */
	e = get(s, "allOf");
	for (size_t i = 0; e && i < json_object_array_length(e); i++)
		if (!validate(c, json_object_array_get_idx(e, i), v, where))
			return false;
	type = get_str(s, "type");
	if (!type)
		return true;
	if (!strcmp(type, "object"))
		return validate_object(c, s, v, where);
	if (!strcmp(type, "array")) {
		if (!json_object_is_type(v, json_type_array))
			return bad(c, "%s: expected an array", where);
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			snprintf(sub, sizeof(sub), "%s[%zu]", where, i);
			if (!validate(c, get(s, "items"),
				      json_object_array_get_idx(v, i), sub))
				return false;
		}
		return true;
	}
	if (!strcmp(type, "string")) {
		if (!json_object_is_type(v, json_type_string))
			return bad(c, "%s: expected a string", where);
		e = get(s, "enum");
		for (size_t i = 0; e && i < json_object_array_length(e); i++)
			if (!strcmp(json_object_get_string(
					    json_object_array_get_idx(e, i)),
				    json_object_get_string(v)))
				return true;
		return !e || bad(c, "%s: \"%s\" is not in the enum", where,
				 json_object_get_string(v));
	}
	if (!strcmp(type, "integer")) {
		if (!json_object_is_type(v, json_type_int))
			return bad(c, "%s: expected an integer", where);
		min = get_str(s, "minimum");
		max = get_str(s, "maximum");
		if (min && json_object_get_int64(v) < atoll(min))
			return bad(c, "%s: below the minimum", where);
		if (max && json_object_get_int64(v) > atoll(max))
			return bad(c, "%s: above the maximum", where);
		return true;
	}
	if (!strcmp(type, "boolean"))
		return json_object_is_type(v, json_type_boolean) ||
		       bad(c, "%s: expected a boolean", where);
	if (!strcmp(type, "number"))
		return json_object_is_type(v, json_type_int) ||
		       json_object_is_type(v, json_type_double) ||
		       bad(c, "%s: expected a number", where);
	return bad(c, "%s: unknown schema type %s", where, type);
}

/* "/drives/{drive_id}" matches "/drives/rootfs". */
static bool template_matches(const char *tmpl, const char *path)
{
	while (*tmpl && *path) {
		if (*tmpl == '{') {
			const char *te = strchr(tmpl, '}');
			size_t seg = strcspn(path, "/");

			if (!te || seg == 0)
				return false;
			tmpl = te + 1;
			path += seg;
			continue;
		}
		if (*tmpl++ != *path++)
			return false;
	}
	return !*tmpl && !*path;
}

static bool error_body(struct ctx *c, const char *body)
{
	struct json_object *v = json_tokener_parse(body);
	struct json_object *s = json_object_new_object();
	bool ok;

	json_object_object_add(s, "$ref", json_object_new_string(
						  "#/components/schemas/Error"));
	ok = v ? validate(c, s, v, "body") : bad(c, "body is not JSON");
	json_object_put(s);
	json_object_put(v);
	return ok;
}

bool openapi_check(const char *method, const char *path, int status,
		   const char *body, char *why, size_t len)
{
	struct ctx c = { load_spec(), why, len };
	struct json_object *paths, *item = NULL, *op, *resp, *schema, *v;
	char m[16], code[8], p[512];
	bool ok;

	why[0] = '\0';
	if (!c.spec)
		return bad(&c, "cannot load the OpenAPI file (MVM_OPENAPI)");
	snprintf(p, sizeof(p), "%.*s", (int)strcspn(path, "?"), path);
	paths = get(c.spec, "paths");
	json_object_object_foreach(paths, tmpl, node) {
		if (template_matches(tmpl, p))
			item = node;
	}
	if (!item)
		return (status == 404 || bad(&c, "unknown path answered %d",
					     status)) &&
		       error_body(&c, body);
	for (size_t i = 0; i < sizeof(m) - 1 && method[i]; i++)
		m[i] = (char)tolower((unsigned char)method[i]), m[i + 1] = 0;
	op = get(item, m);
	if (!op)
		return (status == 405 || bad(&c, "undocumented method "
					     "answered %d", status)) &&
		       error_body(&c, body);
	snprintf(code, sizeof(code), "%d", status);
	resp = deref(c.spec, get(get(op, "responses"), code));
	if (!resp)
		return status == 413 ? bad(&c, "413 is not documented here") :
				       bad(&c, "status %d is not documented",
					   status);
	schema = get(get(get(resp, "content"), "application/json"), "schema");
	if (!schema)
		return !body[0] || bad(&c, "documented without a body, got "
				       "one");
	v = json_tokener_parse(body);
	if (!v)
		return bad(&c, "the body is not JSON");
	ok = validate(&c, schema, v, "body");
	json_object_put(v);
	return ok;
}
