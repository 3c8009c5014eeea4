/*
 * Shapes of /dynamic-memory (mvm's, after Hyper-V's dynamic memory):
 * DynamicMemory (PUT, and the config file's "dynamic-memory") and
 * DynamicMemoryUpdate (PATCH). The rules are the VM's
 * (vm_dynmem_problem); a message names the field that breaks one.
 */
#include <string.h>

#include "mvm/api.h"
#include "mvm/err.h"
#include "mvm/vm.h"

#include "json_in.h"
#include "shapes.h"

/* Firecracker's bounds for sizes: 32-bit MiB. */
#define SIZE_MAX_MIB 4294967295ULL

/* The fields present in o into *c: 0, or -errno with a message. */
static int read_fields(struct jr *r, struct dynmem_config *c, bool put)
{
	uint64_t buffer = c->buffer_percent;
	int ret;

	ret = jr_bool(r, "enabled", put, &c->enabled);
	if (ret >= 0)
		ret = jr_u64(r, "min_mib", put && c->enabled, 0, SIZE_MAX_MIB,
			     &c->min_mib);
	if (ret >= 0)
		ret = jr_u64(r, "max_mib", put && c->enabled, 0, SIZE_MAX_MIB,
			     &c->max_mib);
	if (ret >= 0)
		ret = jr_u64(r, "buffer_percent", false, DYNMEM_BUFFER_MIN,
			     DYNMEM_BUFFER_MAX, &buffer);
	c->buffer_percent = (uint32_t)buffer;
	return ret < 0 ? ret : 0;
}

/* c's rules, against mem_mib when known (0: not). */
static int check(struct jr *r, const struct dynmem_config *c,
		 uint64_t mem_mib)
{
	enum vm_dynmem_field f;
	const char *why;
	char buf[256];

	if (!c->enabled)
		return 0;
	why = vm_dynmem_problem(c, mem_mib, NULL, NULL, &f, buf, sizeof(buf));
	return why ? jr_fail(r, vm_dynmem_field_name(f), -EINVAL, "%s", why) :
		     0;
}

static const char *const known[] = { "enabled", "min_mib", "max_mib",
				     "buffer_percent", NULL };

int shape_dynmem(struct vm_spec *s, struct json_object *o, const char *path,
		 struct mvm_err *err)
{
	struct dynmem_config c = { .buffer_percent = DYNMEM_BUFFER_DEFAULT };
	struct jr r;
	int ret;

	ret = jr_open(&r, o, path, known, err);
	if (!ret)
		ret = read_fields(&r, &c, true);
	/* The boot memory may change before boot: InstanceStart checks. */
	if (!ret)
		ret = check(&r, &c, s->mem_size_mib);
	if (ret)
		return ret;
	if (!c.enabled)
		memset(&c, 0, sizeof(c));
	s->dynmem = c;
	return 0;
}

int shape_dynmem_patch(struct json_object *o, struct dynmem_config *c,
		       struct mvm_err *err)
{
	struct dynmem_config n = *c;
	struct jr r;
	int ret;

	if (!n.buffer_percent)
		n.buffer_percent = DYNMEM_BUFFER_DEFAULT;
	ret = jr_open(&r, o, "", known, err);
	if (!ret)
		ret = read_fields(&r, &n, false);
	if (!ret)
		ret = check(&r, &n, 0);
	if (!ret)
		*c = n;
	return ret;
}
