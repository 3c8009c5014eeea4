/*
 * snap_file_encode: a struct snap_file into the state file's FDT, with
 * libfdt's sequential writer (the layout in include/mvm/snapshot.h). The
 * buffer is sized from the blobs it will hold, and doubled if libfdt
 * still finds it short.
 */
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/snapshot.h"

#include "state_fdt.h"

#define NAME_MAX_LEN (DEV_ID_MAX + 16)

/* The writer: once a call fails, the rest do nothing; err says why. */
struct fdt_w {
	void *fdt;
	int err;
};

static void w_begin(struct fdt_w *w, const char *name)
{
	if (!w->err)
		w->err = fdt_begin_node(w->fdt, name);
}

static void w_end(struct fdt_w *w)
{
	if (!w->err)
		w->err = fdt_end_node(w->fdt);
}

static void w_u32(struct fdt_w *w, const char *name, uint32_t v)
{
	if (!w->err)
		w->err = fdt_property_u32(w->fdt, name, v);
}

static void w_u64(struct fdt_w *w, const char *name, uint64_t v)
{
	if (!w->err)
		w->err = fdt_property_u64(w->fdt, name, v);
}

static void w_str(struct fdt_w *w, const char *name, const char *v)
{
	if (!w->err && v)
		w->err = fdt_property_string(w->fdt, name, v);
}

static void w_bytes(struct fdt_w *w, const char *name, const void *v,
		    size_t len)
{
	if (!w->err)
		w->err = len > INT32_MAX ? -FDT_ERR_NOSPACE :
					   fdt_property(w->fdt, name, v,
							(int)len);
}

/*
 * Node names for ids, one per sibling: the id made fit (snap_node_name),
 * or, when an earlier sibling's came out the same, that with "@index".
 * No fitted name holds '@', so the two kinds never meet.
 */
static void names_for(char (*names)[NAME_MAX_LEN], unsigned i,
		      const char *id)
{
	snap_node_name(id, names[i], NAME_MAX_LEN);
	for (unsigned j = 0; j < i; j++) {
		if (strcmp(names[j], names[i]))
			continue;
		snprintf(names[i] + strlen(names[i]),
			 NAME_MAX_LEN - strlen(names[i]), "@%u", i);
		return;
	}
}

static void w_limiter(struct fdt_w *w, const char *name,
		      const struct rate_limiter *rl)
{
	if (!rl->bandwidth.size && !rl->ops.size)
		return;
	w_begin(w, name);
	w_u64(w, "bandwidth-size", rl->bandwidth.size);
	w_u64(w, "bandwidth-one-time-burst", rl->bandwidth.one_time_burst);
	w_u64(w, "bandwidth-refill-time-ms", rl->bandwidth.refill_time_ms);
	w_u64(w, "ops-size", rl->ops.size);
	w_u64(w, "ops-one-time-burst", rl->ops.one_time_burst);
	w_u64(w, "ops-refill-time-ms", rl->ops.refill_time_ms);
	w_end(w);
}

static void w_drives(struct fdt_w *w, const struct vm_config *m,
		     char (*names)[NAME_MAX_LEN])
{
	w_begin(w, "drives");
	for (unsigned i = 0; i < m->nr_disks; i++) {
		const struct disk_config *d = &m->disks[i];

		names_for(names, i, d->id);
		w_begin(w, names[i]);
		w_str(w, "id", d->id);
		w_str(w, "path", d->path);
		w_u32(w, "read-only", d->readonly);
		w_str(w, "cache", snap_cache_names[d->cache]);
		w_limiter(w, "rate-limiter", &d->rl);
		w_end(w);
	}
	w_end(w);
}

/*
 * A rate limiter as configured, if it limits (an optional node: a state
 * file without one restores a device without limits). Bucket levels are
 * not kept: a restored device starts with full buckets.
 */
/*
 * The user-mode backend: its rules, space-separated, and its MTU. Its
 * connections do
 * not travel: the restored VM gets a new stack.
 */
static void w_user_backend(struct fdt_w *w, const struct net_config *n)
{
	char rules[SLIRP_NET_HOSTFWD_MAX * SLIRP_NET_HOSTFWD_STR] = "";
	size_t len = 0;

	w_str(w, "backend", "user");
	for (unsigned i = 0; i < n->nr_hostfwd && i < SLIRP_NET_HOSTFWD_MAX;
	     i++) {
		char one[SLIRP_NET_HOSTFWD_STR];

		slirp_net_hostfwd_format(&n->hostfwd[i], one);
		len += (size_t)snprintf(rules + len, sizeof(rules) - len,
					"%s%s", i ? " " : "", one);
	}
	if (n->nr_hostfwd)
		w_str(w, "hostfwd", rules);
	/* The MTU in effect, not "default": the guest's NIC was given it. */
	w_u32(w, "mtu", n->mtu ? n->mtu : NET_USER_MTU_DEFAULT);
}

static void w_nets(struct fdt_w *w, const struct vm_config *m,
		   char (*names)[NAME_MAX_LEN])
{
	w_begin(w, "network-interfaces");
	for (unsigned i = 0; i < m->nr_nets; i++) {
		const struct net_config *n = &m->nets[i];

		names_for(names, i, n->id);
		w_begin(w, names[i]);
		w_str(w, "id", n->id);
		if (n->user)
			w_user_backend(w, n);
		else
			w_str(w, "host-dev-name", n->tap);
		w_bytes(w, "guest-mac", n->mac, sizeof(n->mac));
		w_u32(w, "mac-set", n->mac_set);
		w_u32(w, "mac-spoofing", n->mac_spoofing);
		w_limiter(w, "rx-rate-limiter", &n->rx_rl);
		w_limiter(w, "tx-rate-limiter", &n->tx_rl);
		/* Serves MMDS: the address is machine/mmds's. */
		if (m->mmds.set && n->mmds_ipv4)
			w_u32(w, "mmds", 1);
		w_end(w);
	}
	w_end(w);
}

/*
 * The pmem devices, if any (a snapshot without the node has none): their
 * files are their contents, which the snapshot does not copy.
 */
static void w_pmems(struct fdt_w *w, const struct vm_config *m,
		    char (*names)[NAME_MAX_LEN])
{
	if (!m->nr_pmems)
		return;
	w_begin(w, "pmem");
	for (unsigned i = 0; i < m->nr_pmems; i++) {
		const struct pmem_config *p = &m->pmems[i];

		names_for(names, i, p->id);
		w_begin(w, names[i]);
		w_str(w, "id", p->id);
		w_str(w, "path", p->path);
		w_u32(w, "read-only", p->readonly);
		w_u32(w, "root", p->root);
		w_end(w);
	}
	w_end(w);
}

/* The balloon as configured, its target and period as they are now. */
static void w_balloon(struct fdt_w *w, const struct balloon_config *b)
{
	if (!b->enabled)
		return;
	w_begin(w, "balloon");
	w_u32(w, "amount-mib", b->amount_mib);
	w_u32(w, "deflate-on-oom", b->deflate_on_oom);
	w_u32(w, "stats-polling-interval-s", b->stats_interval_s);
	w_u32(w, "free-page-hinting", b->free_page_hinting);
	w_u32(w, "free-page-reporting", b->free_page_reporting);
	w_end(w);
}

/* The vsock device, if any: its CID and socket (connections are not
 * kept; the guest is told of that on load). */
static void w_vsock(struct fdt_w *w, const struct vsock_config *v)
{
	if (!v->guest_cid)
		return;
	w_begin(w, "vsock");
	w_str(w, "id", v->id);
	w_u32(w, "guest-cid", v->guest_cid);
	w_str(w, "uds-path", v->uds_path);
	w_end(w);
}

/*
 * MMDS's configuration, if set (the NICs that serve it have "mmds"); its
 * data store's contents are not kept, as Firecracker keeps them not.
 */
static void w_mmds(struct fdt_w *w, const struct vm_mmds_config *c)
{
	if (!c->set)
		return;
	w_begin(w, "mmds");
	w_str(w, "version", snap_mmds_version_names[c->version == MMDS_V2]);
	w_u32(w, "ipv4-address", c->ipv4);
	w_u32(w, "imds-compat", c->imds_compat);
	w_end(w);
}

/* Hotpluggable memory, when the machine has it (its blocks' state is
 * the device's node, their bytes the memory file's). */
static void w_hotplug(struct fdt_w *w, const struct mem_hotplug_config *h)
{
	if (!h->total_mib)
		return;
	w_begin(w, "memory-hotplug");
	w_u64(w, "total-size-mib", h->total_mib);
	w_u64(w, "slot-size-mib", h->slot_mib);
	w_u64(w, "block-size-mib", h->block_mib);
	w_u64(w, "requested-size-mib", h->requested_mib);
	w_end(w);
}

/* Dynamic memory, when on: its settings (the controller keeps nothing). */
static void w_dynmem(struct fdt_w *w, const struct dynmem_config *d)
{
	if (!d->enabled)
		return;
	w_begin(w, "dynamic-memory");
	w_u64(w, "min-mib", d->min_mib);
	w_u64(w, "max-mib", d->max_mib);
	w_u32(w, "buffer-percent", d->buffer_percent);
	w_end(w);
}

static void w_machine(struct fdt_w *w, const struct snap_file *s,
		      char (*names)[NAME_MAX_LEN])
{
	const struct vm_config *m = &s->machine;

	w_begin(w, "machine");
	w_u32(w, "vcpu-count", m->cpus);
	w_u64(w, "mem-size-mib", m->mem_mib);
	w_str(w, "huge-pages", gm_pages_names[m->pages]);
	w_u32(w, "nested-virt", m->nested);
	if (m->smt)
		w_u32(w, "smt", 1);

	w_u32(w, "track-dirty-pages", s->track_dirty_pages);
	w_u32(w, "entropy", m->rng);
	w_str(w, "kernel", m->kernel);
	w_str(w, "initrd", m->initrd);
	w_str(w, "cmdline", m->cmdline);
	w_str(w, "on-reboot", snap_on_reboot_names[m->on_reboot]);
	/* Its property, then its node: the first of machine's children. */
	if (!w->err)
		w->err = snap_encode_cpu_template(w->fdt, m);
	w_drives(w, m, names);
	w_nets(w, m, names);
	w_pmems(w, m, names);
	w_balloon(w, &m->balloon);
	w_vsock(w, &m->vsock);
	w_mmds(w, &m->mmds);
	w_hotplug(w, &m->mem_hotplug);
	w_dynmem(w, &m->dynmem);
	if (m->rng)
		w_limiter(w, "entropy-rate-limiter", &m->rng_rl);
	w_end(w);
}

/* cpu@0.. in order; encode checked that each has its node. */
static void w_vcpus(struct fdt_w *w, const struct snap_file *s)
{
	w_begin(w, "vcpus");
	for (unsigned i = 0; i < s->machine.cpus; i++) {
		const struct dev_state_node *n;
		char id[16], name[16];

		snprintf(id, sizeof(id), "vcpu%u", i);
		snprintf(name, sizeof(name), "cpu@%u", i);
		n = dev_state_list_find(&s->state, id);
		w_begin(w, name);
		w_bytes(w, "state", n->data, n->len);
		w_u32(w, "version", n->version);
		w_end(w);
	}
	w_end(w);
}

static void w_devices(struct fdt_w *w, const struct snap_file *s,
		      char (*names)[NAME_MAX_LEN])
{
	unsigned nr = 0, v;

	w_begin(w, "devices");
	for (unsigned i = 0; i < s->state.nr; i++) {
		const struct dev_state_node *n = &s->state.node[i];

		if (snap_vcpu_id(n->id, &v))
			continue;
		names_for(names, nr, n->id);
		w_begin(w, names[nr++]);
		w_str(w, "id", n->id);
		w_u32(w, "version", n->version);
		w_bytes(w, "data", n->data, n->len);
		w_end(w);
	}
	w_end(w);
}

static void w_memory(struct fdt_w *w, const struct snap_file *s)
{
	w_begin(w, "memory");
	for (unsigned i = 0; i < s->nr_regions; i++) {
		char name[24];

		snprintf(name, sizeof(name), "region@%u", i);
		w_begin(w, name);
		w_u64(w, "gpa", s->regions[i].gpa);
		w_u64(w, "size", s->regions[i].size);
		w_u64(w, "offset", s->regions[i].offset);
		w_end(w);
	}
	w_end(w);
}

static int build(void *buf, size_t size, const struct snap_file *s,
		 char (*names)[NAME_MAX_LEN])
{
	struct fdt_w w = { .fdt = buf };

	w.err = fdt_create(buf, (int)size);
	if (!w.err)
		w.err = fdt_finish_reservemap(buf);
	w_begin(&w, "");
	w_str(&w, "magic", SNAP_MAGIC);
	w_u32(&w, "format-version", SNAP_FORMAT_VERSION);
	w_str(&w, "mvm-version", s->mvm_version[0] ? s->mvm_version :
						     MVM_VERSION);
	w_str(&w, "snapshot-type", snap_type_names[s->type]);
	w_u64(&w, "created-ns", s->created_ns);
	w_str(&w, "mem-file", s->mem_file);
	w_machine(&w, s, names);
	w_vcpus(&w, s);
	w_devices(&w, s, names);
	w_memory(&w, s);
	w_end(&w);
	if (!w.err)
		w.err = fdt_finish(buf);
	return w.err;
}

/* What the writer itself relies on: counts, enums, strings there. */
static int check_input(const struct snap_file *s, struct mvm_err *err)
{
	const struct vm_config *m = &s->machine;
	unsigned v;

	if (m->cpus < 1 || m->cpus > VM_MAX_VCPUS ||
	    m->nr_disks > VM_MAX_DISKS || m->nr_nets > VM_MAX_NETS ||
	    m->nr_pmems > VM_MAX_PMEMS ||
	    s->nr_regions > MEM_MAX_REGIONS ||
	    s->state.nr > DEV_STATE_MAX_NODES)
		return mvm_fail(err, -EINVAL, "snapshot: %u vCPUs, %u drives, "
				"%u NICs, %u regions, %u state nodes: beyond "
				"mvm's limits", m->cpus, m->nr_disks,
				m->nr_nets, s->nr_regions, s->state.nr);
	if ((unsigned)s->type > SNAP_DIFF ||
	    (unsigned)m->pages > GM_PAGES_HUGE_2M ||
	    (unsigned)m->on_reboot > VM_ON_REBOOT_RESTART)
		return mvm_fail(err, -EINVAL, "snapshot: type, huge pages or "
				"on-reboot out of range");
	for (unsigned i = 0; i < m->nr_disks; i++)
		if ((unsigned)m->disks[i].cache > DISK_CACHE_NONE ||
		    !memchr(m->disks[i].id, '\0', sizeof(m->disks[i].id)))
			return mvm_fail(err, -EINVAL, "snapshot: drive %u: "
					"cache out of range or id not a "
					"string", i);
	for (unsigned i = 0; i < m->nr_nets; i++)
		if (!memchr(m->nets[i].id, '\0', sizeof(m->nets[i].id)) ||
		    !memchr(m->nets[i].tap, '\0', sizeof(m->nets[i].tap)))
			return mvm_fail(err, -EINVAL, "snapshot: network "
					"interface %u: id or tap not a string",
					i);
	for (unsigned i = 0; i < m->nr_pmems; i++)
		if (!memchr(m->pmems[i].id, '\0', sizeof(m->pmems[i].id)))
			return mvm_fail(err, -EINVAL, "snapshot: pmem %u: id "
					"not a string", i);
	if (m->vsock.guest_cid &&
	    (!m->vsock.uds_path ||
	     !memchr(m->vsock.id, '\0', sizeof(m->vsock.id))))
		return mvm_fail(err, -EINVAL, "snapshot: vsock: no uds_path or "
				"id not a string");
	if (!memchr(s->mvm_version, '\0', sizeof(s->mvm_version)))
		return mvm_fail(err, -EINVAL, "snapshot: mvm_version is not "
				"a string");
	for (unsigned i = 0; i < m->cpus; i++) {
		char id[16];

		snprintf(id, sizeof(id), "vcpu%u", i);
		if (!dev_state_list_find(&s->state, id))
			return mvm_fail(err, -EINVAL, "snapshot: no state for "
					"%s (vcpu-count is %u)", id, m->cpus);
	}
	for (unsigned i = 0; i < s->state.nr; i++)
		if (snap_vcpu_id(s->state.node[i].id, &v) && v >= m->cpus)
			return mvm_fail(err, -EINVAL, "snapshot: state node %s "
					"is past vcpu-count %u",
					s->state.node[i].id, m->cpus);
	return dev_state_list_check(&s->state, err);
}

/* Room for everything: the blobs, the strings, each node's overhead. */
static size_t estimate(const struct snap_file *s)
{
	const struct vm_config *m = &s->machine;
	size_t size = 16384;

	for (unsigned i = 0; i < s->state.nr; i++)
		size += s->state.node[i].len + 256;
	for (unsigned i = 0; i < m->nr_disks; i++)
		size += (m->disks[i].path ? strlen(m->disks[i].path) : 0) + 256;
	for (unsigned i = 0; i < m->nr_pmems; i++)
		size += (m->pmems[i].path ? strlen(m->pmems[i].path) : 0) + 256;
	if (m->vsock.uds_path)
		size += strlen(m->vsock.uds_path) + 256;
	size += (m->kernel ? strlen(m->kernel) : 0) +
		(m->initrd ? strlen(m->initrd) : 0) +
		(m->cmdline ? strlen(m->cmdline) : 0) +
		(s->mem_file ? strlen(s->mem_file) : 0) +
		(m->nr_nets + s->nr_regions) * 256u;
	return size;
}

static int encode(const struct snap_file *s, void **buf, size_t *len,
		  char (*names)[NAME_MAX_LEN], struct mvm_err *err)
{
	size_t size = estimate(s);

	/* No bigger than snap_file_read takes back. */
	if (size > SNAP_FILE_MAX)
		size = SNAP_FILE_MAX;
	for (;;) {
		void *fdt = malloc(size);
		int r;

		if (!fdt)
			return mvm_fail(err, -ENOMEM, "snapshot: out of memory "
					"(%zu bytes)", size);
		r = build(fdt, size, s, names);
		if (!r) {
			*buf = fdt;
			*len = fdt_totalsize(fdt);
			return 0;
		}
		free(fdt);
		if (r != -FDT_ERR_NOSPACE)
			return mvm_fail(err, -EINVAL, "snapshot: cannot build "
					"the FDT: %s", fdt_strerror(r));
		if (size == SNAP_FILE_MAX)
			return mvm_fail(err, -E2BIG, "snapshot: the state "
					"needs more than %u bytes",
					SNAP_FILE_MAX);
		size = size > SNAP_FILE_MAX / 2 ? SNAP_FILE_MAX : size * 2;
	}
}

int snap_file_encode(const struct snap_file *s, void **buf, size_t *len,
		     struct mvm_err *err)
{
	char (*names)[NAME_MAX_LEN];
	struct snap_file back;
	int ret;

	*buf = NULL;
	*len = 0;
	ret = check_input(s, err);
	if (ret)
		return ret;
	names = calloc(DEV_STATE_MAX_NODES, sizeof(*names));
	if (!names)
		return mvm_fail(err, -ENOMEM, "snapshot: out of memory");
	ret = encode(s, buf, len, names, err);
	free(names);
	if (ret)
		return ret;
	/* Found now, not when the snapshot is needed. */
	ret = snap_file_decode(*buf, *len, &back, err);
	snap_file_free(&back);
	if (ret) {
		free(*buf);
		*buf = NULL;
		*len = 0;
		return mvm_wrap(err, ret, "this state would not load back: ");
	}
	return 0;
}
