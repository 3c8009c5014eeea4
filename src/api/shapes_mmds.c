/*
 * The shape of PUT /mmds/config and the config file's "mmds-config"
 * (Firecracker's MmdsConfig): version V1 or V2 (default V1), the NICs
 * that serve MMDS (required), a link-local IPv4 address (default
 * 169.254.169.254) and imds_compat. The NICs must exist already: that
 * check, and its words, are the VMM's (vmm_mmds_check).
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "mvm/api.h"
#include "mvm/err.h"
#include "mvm/vmm_mmds.h"

#include "json_in.h"
#include "shapes.h"

static int ifaces(struct jr *r, struct spec_mmds *c)
{
	struct json_object *a, *e;
	size_t n;

	if (!json_object_object_get_ex(r->o, "network_interfaces", &a) ||
	    json_object_is_type(a, json_type_null))
		return jr_fail(r, "network_interfaces", -EINVAL, "missing "
			       "required field");
	if (!json_object_is_type(a, json_type_array))
		return jr_fail(r, "network_interfaces", -EINVAL, "expected an "
			       "array of interface ids, got %s",
			       jr_type_name(a));
	n = json_object_array_length(a);
	if (n > VM_MAX_NETS)
		return jr_fail(r, "network_interfaces", -EINVAL, "%zu ids; a "
			       "VM has at most %d NICs", n, VM_MAX_NETS);
	for (size_t i = 0; i < n; i++) {
		e = json_object_array_get_idx(a, i);
		if (!json_object_is_type(e, json_type_string))
			return jr_fail(r, "network_interfaces", -EINVAL,
				       "[%zu]: expected a string, got %s", i,
				       jr_type_name(e));
		if ((size_t)json_object_get_string_len(e) >= VM_ID_MAX)
			return jr_fail(r, "network_interfaces", -EINVAL,
				       "[%zu]: longer than %d characters", i,
				       VM_ID_MAX - 1);
		snprintf(c->ifaces[i], sizeof(c->ifaces[i]), "%s",
			 json_object_get_string(e));
	}
	c->nr_ifaces = (unsigned)n;
	return 0;
}

int shape_mmds_config(const struct vm_spec *s, struct json_object *o,
		      const char *path, struct spec_mmds *out,
		      struct mvm_err *err)
{
	static const char *const known[] = { "version", "network_interfaces",
					     "ipv4_address", "imds_compat",
					     NULL };
	static const char *const versions[] = { "V1", "V2", NULL };
	struct spec_mmds c = { .set = true, .ipv4 = MMDS_DEFAULT_IPV4 };
	const char *addr = NULL;
	int version = MMDS_V1;
	struct jr r;
	int ret;

	ret = jr_open(&r, o, path, known, err);
	if (!ret)
		ret = jr_enum(&r, "version", false, versions, &version);
	if (ret >= 0)
		ret = ifaces(&r, &c);
	if (ret >= 0)
		ret = jr_str(&r, "ipv4_address", false, &addr);
	if (ret >= 0)
		ret = jr_bool(&r, "imds_compat", false, &c.imds_compat);
	if (ret < 0)
		return ret;
	if (addr && !mmds_parse_ipv4(addr, &c.ipv4))
		return jr_fail(&r, "ipv4_address", -EINVAL, "'%.32s' is not "
			       "an IPv4 address", addr);
	c.version = (enum mmds_version)version;
	ret = vmm_mmds_check(s, &c, err);
	if (!ret)
		*out = c;
	return ret;
}

/* Dotted quad of a host-order address, into buf (16 bytes). */
static const char *ipv4_text(uint32_t a, char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", a >> 24, a >> 16 & 0xff,
		 a >> 8 & 0xff, a & 0xff);
	return buf;
}

struct json_object *mmds_config_export(const struct spec_mmds *c)
{
	struct json_object *o = json_object_new_object(), *a;
	char buf[16];

	json_object_object_add(o, "version", json_object_new_string(
		c->version == MMDS_V2 ? "V2" : "V1"));
	a = json_object_new_array();
	for (unsigned i = 0; i < c->nr_ifaces; i++)
		json_object_array_add(a, json_object_new_string(c->ifaces[i]));
	json_object_object_add(o, "network_interfaces", a);
	json_object_object_add(o, "ipv4_address",
			       json_object_new_string(ipv4_text(c->ipv4, buf)));
	json_object_object_add(o, "imds_compat",
			       json_object_new_boolean(c->imds_compat));
	return o;
}
