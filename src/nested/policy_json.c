/*
 * Policy listing as JSON for GET /vm/policy: every operation with the
 * verdict policy_check() gives right now, so a UI can grey out what would
 * be refused and show why.
 */
#include <errno.h>

#include <json-c/json.h>

#include "mvm/err.h"
#include "mvm/policy.h"

static struct json_object *str_or_null(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

/* Add val under key; on failure json-c leaves val with us, so drop it. */
static int add(struct json_object *o, const char *key, struct json_object *val)
{
	if (json_object_object_add(o, key, val)) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *verdict_json(enum policy_op op,
					const struct policy_verdict *v)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	/* A NULL value (allocation failure aside) is stored as null. */
	if (add(o, "op", json_object_new_string(policy_op_name(op))) ||
	    add(o, "allowed", json_object_new_boolean(v->allowed)) ||
	    add(o, "warning", json_object_new_boolean(v->warning)) ||
	    add(o, "rule", str_or_null(v->rule)) ||
	    add(o, "reason", str_or_null(v->reason))) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int policy_list_json(const struct policy_facts *f, struct json_object **out,
		     struct mvm_err *err)
{
	struct json_object *root, *ops;
	int op;

	*out = NULL;
	root = json_object_new_object();
	ops = json_object_new_array();
	if (!root || !ops || json_object_object_add(root, "ops", ops)) {
		json_object_put(root);
		json_object_put(ops);
		return mvm_fail(err, -ENOMEM, "policy: out of memory");
	}
	for (op = 0; op < POLICY_OP_COUNT; op++) {
		struct policy_verdict v;
		struct json_object *o;

		policy_check(op, f, &v);
		o = verdict_json(op, &v);
		if (!o || json_object_array_add(ops, o)) {
			json_object_put(o);
			json_object_put(root);
			return mvm_fail(err, -ENOMEM, "policy: out of memory");
		}
	}
	*out = root;
	return 0;
}
