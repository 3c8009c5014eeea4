/*
 * Checked readers of a state file's properties, and its node names. The
 * FDT has passed fdt_check_full, so libfdt walks it safely; what a
 * property holds is still anyone's, and is checked here before use.
 */
#include <ctype.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

#include "mvm/device.h"
#include "mvm/err.h"

#include "state_fdt.h"

const char *const snap_type_names[] = { "Full", "Diff", NULL };
const char *const snap_on_reboot_names[] = { "exit", "restart", NULL };
const char *const snap_cache_names[] = { "Writeback", "None", NULL };
const char *const snap_mmds_version_names[] = { "V1", "V2", NULL };

bool snap_vcpu_id(const char *id, unsigned *n)
{
	unsigned long v = 0;
	const char *p;

	if (strncmp(id, "vcpu", 4) || !isdigit((unsigned char)id[4]))
		return false;
	if (id[4] == '0' && id[5])
		return false; /* "vcpu01" is no vCPU's id */
	for (p = id + 4; isdigit((unsigned char)*p); p++) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 0xffffffffUL)
			return false;
	}
	if (*p)
		return false;
	*n = (unsigned)v;
	return true;
}

void snap_node_name(const char *id, char *out, size_t size)
{
	size_t i;

	for (i = 0; id[i] && i + 1 < size; i++) {
		char c = id[i];

		if (c == ':')
			c = ',';
		else if (!isalnum((unsigned char)c) && !strchr(",._+-", c))
			c = '_';
		out[i] = c;
	}
	out[i] = '\0';
}

void snap_where(char *where, const char *parent, const char *name, int len)
{
	size_t n = (size_t)snprintf(where, SNAP_WHERE_MAX, "%s/", parent);

	for (int i = 0; i < len && name[i] && n + 1 < SNAP_WHERE_MAX; i++) {
		unsigned char c = (unsigned char)name[i];

		where[n++] = isprint(c) ? (char)c : '?';
	}
	if (n >= SNAP_WHERE_MAX)
		n = SNAP_WHERE_MAX - 1;
	where[n] = '\0';
}

/* The property's bytes, or a message naming it when absent. */
static const void *get(const void *fdt, int node, const char *where,
		       const char *name, int *len, bool required, int *ret,
		       struct mvm_err *err)
{
	const void *p = fdt_getprop(fdt, node, name, len);

	*ret = 0;
	if (!p) {
		*len = 0;
		if (required)
			*ret = mvm_fail(err, -EINVAL, "%s: no %s", where, name);
	}
	return p;
}

static int want_len(const char *where, const char *name, int len,
		    int want, struct mvm_err *err)
{
	if (len != want)
		return mvm_fail(err, -EINVAL, "%s: %s is %d bytes, not %d",
				where, name, len, want);
	return 0;
}

int snap_rd_u32(const void *fdt, int node, const char *where,
		const char *name, uint32_t *out, struct mvm_err *err)
{
	int len, ret;
	const void *p = get(fdt, node, where, name, &len, true, &ret, err);

	if (!ret)
		ret = want_len(where, name, len, 4, err);
	if (!ret)
		*out = fdt32_ld(p);
	return ret;
}

int snap_rd_u64(const void *fdt, int node, const char *where,
		const char *name, uint64_t *out, struct mvm_err *err)
{
	int len, ret;
	const void *p = get(fdt, node, where, name, &len, true, &ret, err);

	if (!ret)
		ret = want_len(where, name, len, 8, err);
	if (!ret)
		*out = (uint64_t)fdt32_ld(p) << 32 |
		       fdt32_ld((const fdt32_t *)p + 1);
	return ret;
}

int snap_rd_flag(const void *fdt, int node, const char *where,
		 const char *name, bool *out, struct mvm_err *err)
{
	uint32_t v;
	int ret = snap_rd_u32(fdt, node, where, name, &v, err);

	if (!ret && v > 1)
		ret = mvm_fail(err, -EINVAL, "%s: %s is %u, not 0 or 1",
			       where, name, v);
	if (!ret)
		*out = v;
	return ret;
}

int snap_rd_str(const void *fdt, int node, const char *where,
		const char *name, size_t max, bool required,
		const char **out, struct mvm_err *err)
{
	int len, ret;
	const char *p = get(fdt, node, where, name, &len, required, &ret,
			    err);

	*out = NULL;
	if (ret || !p)
		return ret;
	/* One NUL, the last byte: no more, no less. */
	if (len < 1 || memchr(p, '\0', (size_t)len) != p + len - 1)
		return mvm_fail(err, -EINVAL, "%s: %s is not a string (%d "
				"bytes, not ending in its only NUL)", where,
				name, len);
	if ((size_t)len > max)
		return mvm_fail(err, -EINVAL, "%s: %s is %d characters, at "
				"most %zu", where, name, len - 1, max - 1);
	*out = p;
	return 0;
}

int snap_rd_name(const void *fdt, int node, const char *where,
		 const char *name, size_t max, const char **out,
		 struct mvm_err *err)
{
	int ret = snap_rd_str(fdt, node, where, name, max, true, out, err);

	if (!ret && !**out)
		ret = mvm_fail(err, -EINVAL, "%s: %s is empty", where, name);
	return ret;
}

int snap_rd_choice(const void *fdt, int node, const char *where,
		   const char *name, const char *const *names,
		   unsigned *out, struct mvm_err *err)
{
	char all[128] = "", shown[SNAP_WHERE_MAX];
	const char *s;
	int ret = snap_rd_str(fdt, node, where, name, 64, true, &s, err);

	if (ret)
		return ret;
	for (unsigned i = 0; names[i]; i++) {
		if (!strcmp(s, names[i])) {
			*out = i;
			return 0;
		}
		snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s",
			 i ? ", " : "", names[i]);
	}
	/* shown is "/" and the value, made printable. */
	snap_where(shown, "", s, (int)strlen(s));
	return mvm_fail(err, -EINVAL, "%s: %s \"%s\" is none of %s", where,
			name, shown + 1, all);
}

int snap_rd_bytes(const void *fdt, int node, const char *where,
		  const char *name, size_t max, const void **out,
		  size_t *len, struct mvm_err *err)
{
	int l, ret;
	const void *p = get(fdt, node, where, name, &l, true, &ret, err);

	if (ret)
		return ret;
	if ((size_t)l > max)
		return mvm_fail(err, -EINVAL, "%s: %s is %d bytes, at most %zu",
				where, name, l, max);
	*out = l ? p : NULL;
	*len = (size_t)l;
	return 0;
}

int snap_rd_node(const void *fdt, int parent, const char *where,
		 const char *name, int *out, struct mvm_err *err)
{
	int n = fdt_subnode_offset(fdt, parent, name);

	if (n < 0)
		return mvm_fail(err, -EINVAL, "%s: no %s node", where, name);
	*out = n;
	return 0;
}
