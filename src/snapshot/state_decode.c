/*
 * snap_file_decode: a state file, hostile, into a struct snap_file. The
 * FDT's structure is libfdt's to check (fdt_check_full); everything it
 * holds is checked here, property by property (state_props.c), and as a
 * whole: the vCPUs the machine has, each blob one mvm can decode, the
 * memory layout, the device nodes' ids.
 */
#include <libfdt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/snapshot.h"
#include "mvm/vcpu_state.h"

#include "state_fdt.h"

/* A big-endian u32 of the header, from any address. */
static uint32_t be32_at(const void *buf, size_t off)
{
	fdt32_t v;

	memcpy(&v, (const char *)buf + off, sizeof(v));
	return fdt32_to_cpu(v);
}

/*
 * What kind of file buf is: an FDT, whole. Read bytewise: buf may not be
 * aligned yet (libfdt's own accessors take an aligned header).
 */
static int check_header(const void *buf, size_t len, struct mvm_err *err)
{
	uint32_t total;

	if (len < sizeof(fdt32_t) ||
	    be32_at(buf, offsetof(struct fdt_header, magic)) != FDT_MAGIC)
		return mvm_fail(err, -EINVAL, "not an mvm snapshot state file "
				"(no FDT header)");
	if (len < sizeof(struct fdt_header))
		return mvm_fail(err, -EINVAL, "truncated: %zu of at least %zu "
				"bytes (the FDT header)", len,
				sizeof(struct fdt_header));
	total = be32_at(buf, offsetof(struct fdt_header, totalsize));
	if (len < total)
		return mvm_fail(err, -EINVAL, "truncated: %zu of %u bytes",
				len, total);
	if (len > total)
		return mvm_fail(err, -EINVAL, "%zu bytes, but its FDT header "
				"says %u", len, total);
	return 0;
}

static int top(const void *fdt, struct snap_file *s, struct mvm_err *err)
{
	const char *version = NULL, *mem_file = NULL;
	unsigned type = 0;
	int len, ret;
	const char *magic = fdt_getprop(fdt, 0, "magic", &len);

	if (!magic || len != sizeof(SNAP_MAGIC) ||
	    memcmp(magic, SNAP_MAGIC, sizeof(SNAP_MAGIC)))
		return mvm_fail(err, -EINVAL, "an FDT, but not an mvm snapshot "
				"(no magic \"%s\")", SNAP_MAGIC);
	ret = snap_rd_u32(fdt, 0, "/", "format-version", &s->format_version,
			  err);
	if (!ret && s->format_version != SNAP_FORMAT_VERSION)
		ret = mvm_fail(err, -EINVAL, "format version %u, this mvm "
			       "reads %u", s->format_version,
			       SNAP_FORMAT_VERSION);
	if (!ret)
		ret = snap_rd_name(fdt, 0, "/", "mvm-version",
				   sizeof(s->mvm_version), &version, err);
	for (const char *c = version; !ret && c && *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			ret = mvm_fail(err, -EINVAL, "mvm-version has a "
				       "character that is not printable");
	if (!ret)
		ret = snap_rd_choice(fdt, 0, "/", "snapshot-type",
				     snap_type_names, &type, err);
	if (!ret)
		ret = snap_rd_u64(fdt, 0, "/", "created-ns", &s->created_ns,
				  err);
	if (!ret)
		ret = snap_rd_str(fdt, 0, "/", "mem-file", SNAP_PATH_MAX, false,
				  &mem_file, err);
	if (ret)
		return ret;
	strcpy(s->mvm_version, version); /* fits: checked against its size */
	s->type = (enum snap_type)type;
	if (mem_file && !(s->mem_file = strdup(mem_file)))
		return mvm_fail(err, -ENOMEM, "out of memory");
	return 0;
}

static int add_node(struct snap_file *s, const char *id, uint32_t version,
		    const void *data, size_t len, struct mvm_err *err)
{
	struct dev_state_node n = { .version = 0 };
	int ret = dev_state_node_set(&n, id, version, data, len, err);

	if (!ret)
		ret = dev_state_list_add(&s->state, &n, err);
	dev_state_node_free(&n);
	return ret;
}

/* "cpu@N", N decimal without leading zeros, below count. */
static bool cpu_index(const char *name, int len, unsigned count,
		      unsigned *n)
{
	char id[16];

	if (len < 5 || len > 8 || strncmp(name, "cpu@", 4))
		return false;
	snprintf(id, sizeof(id), "vcpu%.*s", len - 4, name + 4);
	return snap_vcpu_id(id, n) && *n < count;
}

static int vcpu(const void *fdt, int node, const char *where, unsigned n,
		struct snap_file *s, struct mvm_err *err)
{
	struct vcpu_state st;
	const void *blob;
	size_t len;
	uint32_t version;
	char id[16];
	int ret;

	ret = snap_rd_u32(fdt, node, where, "version", &version, err);
	if (!ret && version != VCPU_STATE_VERSION)
		ret = mvm_fail(err, -EINVAL, "%s: version %u, this mvm reads "
			       "%u", where, version, VCPU_STATE_VERSION);
	if (!ret)
		ret = snap_rd_bytes(fdt, node, where, "state",
				    DEV_STATE_MAX_LEN, &blob, &len, err);
	if (ret)
		return ret;
	/* Refused now, not once the VM is half built from this file. */
	ret = vcpu_state_decode(blob, len, &st, err);
	vcpu_state_free(&st);
	if (ret) /* another blob version too: this file is not loadable */
		return mvm_wrap(err, ret == -ENOMEM ? ret : -EINVAL, "%s: ",
				where);
	snprintf(id, sizeof(id), "vcpu%u", n);
	return add_node(s, id, version, blob, len, err);
}

static int vcpus(const void *fdt, struct snap_file *s, struct mvm_err *err)
{
	unsigned count = s->machine.cpus, n;
	bool seen[VM_MAX_VCPUS] = { false };
	char where[SNAP_WHERE_MAX];
	int parent, node, len, ret;

	ret = snap_rd_node(fdt, 0, "/", "vcpus", &parent, err);
	if (ret)
		return ret;
	fdt_for_each_subnode(node, fdt, parent) {
		const char *name = fdt_get_name(fdt, node, &len);

		snap_where(where, "vcpus", name ? name : "?", name ? len : 1);
		if (!name || !cpu_index(name, len, count, &n))
			return mvm_fail(err, -EINVAL, "%s: not a node of "
					"vcpu-count %u (cpu@0 to cpu@%u)",
					where, count, count - 1);
		if (seen[n])
			return mvm_fail(err, -EINVAL, "%s appears twice", where);
		seen[n] = true;
		ret = vcpu(fdt, node, where, n, s, err);
		if (ret)
			return ret;
	}
	if (node != -FDT_ERR_NOTFOUND)
		return mvm_fail(err, -EINVAL, "vcpus: %s", fdt_strerror(node));
	for (n = 0; n < count; n++)
		if (!seen[n])
			return mvm_fail(err, -EINVAL, "vcpus: no cpu@%u "
					"(vcpu-count is %u)", n, count);
	return 0;
}

static int device(const void *fdt, int node, const char *where,
		  struct snap_file *s, struct mvm_err *err)
{
	const char *id;
	const void *data;
	size_t len;
	uint32_t version;
	unsigned n;
	int ret;

	ret = snap_rd_name(fdt, node, where, "id", DEV_ID_MAX, &id, err);
	if (!ret && snap_vcpu_id(id, &n))
		ret = mvm_fail(err, -EINVAL, "%s: id \"%s\" is a vCPU's (they "
			       "are under /vcpus)", where, id);
	if (!ret && dev_state_list_find(&s->state, id))
		ret = mvm_fail(err, -EINVAL, "%s: device id \"%s\" appears "
			       "twice", where, id);
	if (!ret)
		ret = snap_rd_u32(fdt, node, where, "version", &version, err);
	if (!ret)
		ret = snap_rd_bytes(fdt, node, where, "data",
				    DEV_STATE_MAX_LEN, &data, &len, err);
	if (!ret)
		ret = add_node(s, id, version, data, len, err);
	return ret;
}

static int devices(const void *fdt, struct snap_file *s,
		   struct mvm_err *err)
{
	char where[SNAP_WHERE_MAX];
	int parent, node, len, ret;

	ret = snap_rd_node(fdt, 0, "/", "devices", &parent, err);
	if (ret)
		return ret;
	fdt_for_each_subnode(node, fdt, parent) {
		const char *name = fdt_get_name(fdt, node, &len);

		snap_where(where, "devices", name ? name : "?",
			   name ? len : 1);
		if (s->state.nr == DEV_STATE_MAX_NODES)
			return mvm_fail(err, -EINVAL, "devices: more than %u "
					"nodes with the vCPUs'",
					DEV_STATE_MAX_NODES);
		ret = device(fdt, node, where, s, err);
		if (ret)
			return ret;
	}
	if (node != -FDT_ERR_NOTFOUND)
		return mvm_fail(err, -EINVAL, "devices: %s",
				fdt_strerror(node));
	return dev_state_list_check(&s->state, err);
}

static int region(const void *fdt, int node, const char *where,
		  struct gm_file_region *r, struct mvm_err *err)
{
	int ret = snap_rd_u64(fdt, node, where, "gpa", &r->gpa, err);

	if (!ret)
		ret = snap_rd_u64(fdt, node, where, "size", &r->size, err);
	if (!ret)
		ret = snap_rd_u64(fdt, node, where, "offset", &r->offset, err);
	return ret;
}

static int memory(const void *fdt, struct snap_file *s,
		  struct mvm_err *err)
{
	char where[SNAP_WHERE_MAX], want[24];
	uint64_t total = 0;
	int parent, node, len, ret;

	ret = snap_rd_node(fdt, 0, "/", "memory", &parent, err);
	if (ret)
		return ret;
	fdt_for_each_subnode(node, fdt, parent) {
		const char *name = fdt_get_name(fdt, node, &len);

		snap_where(where, "memory", name ? name : "?", name ? len : 1);
		if (s->nr_regions == MEM_MAX_REGIONS)
			return mvm_fail(err, -EINVAL, "memory: more than %d "
					"regions", MEM_MAX_REGIONS);
		/* In order: region i is the i-th. */
		snprintf(want, sizeof(want), "region@%u", s->nr_regions);
		if (!name || (size_t)len != strlen(want) ||
		    memcmp(name, want, (size_t)len))
			return mvm_fail(err, -EINVAL, "%s: not %s", where,
					want);
		ret = region(fdt, node, where, &s->regions[s->nr_regions],
			     err);
		if (ret)
			return ret;
		s->nr_regions++;
	}
	if (node != -FDT_ERR_NOTFOUND)
		return mvm_fail(err, -EINVAL, "memory: %s", fdt_strerror(node));
	ret = gm_file_layout_check(s->regions, s->nr_regions, 0, err);
	if (ret)
		return ret;
	/* Checked: no sum overflows, as every region is below 2^64. */
	for (unsigned i = 0; i < s->nr_regions; i++)
		total += s->regions[i].size;
	/* RAM, and the hotpluggable memory's region (both bounded). */
	if (total != (s->machine.mem_mib +
		      s->machine.mem_hotplug.total_mib) << 20)
		return mvm_fail(err, -EINVAL, "memory: the regions hold %llu "
				"bytes, but machine mem-size-mib is %llu MiB "
				"and its memory-hotplug %llu MiB",
				(unsigned long long)total,
				(unsigned long long)s->machine.mem_mib,
				(unsigned long long)
					s->machine.mem_hotplug.total_mib);
	return 0;
}

static int decode(const void *fdt, size_t len, struct snap_file *s,
		  struct mvm_err *err)
{
	int machine, ret = snap_fdt_prescan(fdt, len, err);

	if (ret)
		return ret;
	ret = fdt_check_full(fdt, len);
	if (ret)
		return mvm_fail(err, -EINVAL, "corrupt FDT: %s",
				fdt_strerror(ret));
	ret = top(fdt, s, err);

	if (!ret)
		ret = snap_rd_node(fdt, 0, "/", "machine", &machine, err);
	if (!ret)
		ret = snap_decode_machine(fdt, machine, s, err);
	if (!ret)
		ret = memory(fdt, s, err);
	if (!ret)
		ret = vcpus(fdt, s, err);
	if (!ret)
		ret = devices(fdt, s, err);
	return ret;
}

int snap_file_decode(const void *buf, size_t len, struct snap_file *s,
		     struct mvm_err *err)
{
	void *copy = NULL;
	int ret;

	memset(s, 0, sizeof(*s));
	s->machine.console_in = s->machine.console_out = -1;
	ret = check_header(buf, len, err);
	/* libfdt refuses a tree that is not 8-byte aligned. */
	if (!ret && ((uintptr_t)buf & 7)) {
		copy = malloc(len);
		if (!copy)
			ret = mvm_fail(err, -ENOMEM, "out of memory");
		else
			buf = memcpy(copy, buf, len);
	}
	if (!ret)
		ret = decode(buf, len, s, err);
	free(copy);
	if (ret) {
		snap_file_free(s);
		return mvm_wrap(err, ret, "snapshot: ");
	}
	return 0;
}
