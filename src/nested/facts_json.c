/*
 * GET /vm/nested's body: the VM's nesting facts as JSON. "since" is a
 * wall-clock time so an operator can line it up with logs.
 */
#include <stdio.h>
#include <time.h>

#include <json-c/json.h>

#include "mvm/err.h"
#include "mvm/nested.h"

static struct json_object *since_json(const struct timespec *ts)
{
	char buf[64];
	struct tm tm;

	if (ts->tv_sec == 0 && ts->tv_nsec == 0)
		return NULL; /* stored as null: nothing has run yet */
	if (!gmtime_r(&ts->tv_sec, &tm))
		return NULL;
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (ts->tv_nsec / 1000000) % 1000);
	return json_object_new_string(buf);
}

/* json-c keeps val on failure: drop it. NULL is a legal (null) value. */
static int add(struct json_object *o, const char *key, struct json_object *val)
{
	if (json_object_object_add(o, key, val)) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

int nested_facts_json(const struct vm_nested_facts *f,
		      struct json_object **out, struct mvm_err *err)
{
	struct json_object *o = json_object_new_object();

	*out = NULL;
	if (!o ||
	    add(o, "exposed", json_object_new_boolean(f->exposed)) ||
	    add(o, "host_supported",
		json_object_new_boolean(f->host_supported)) ||
	    add(o, "mechanism", f->mechanism ?
		json_object_new_string(f->mechanism) : NULL) ||
	    add(o, "l1_hypervisor_active",
		json_object_new_boolean(f->l1_hypervisor_active)) ||
	    add(o, "l2_running", json_object_new_boolean(f->l2_running)) ||
	    add(o, "since", since_json(&f->since))) {
		json_object_put(o);
		return mvm_fail(err, -ENOMEM, "nested: out of memory");
	}
	*out = o;
	return 0;
}
