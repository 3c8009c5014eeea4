/*
 * The machine node of a state file: the configuration the VM was built
 * from, checked against the same limits a new VM's is, since restore
 * builds a VM from it.
 */
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/mmds.h"
#include "mvm/snapshot.h"
#include "mvm/vm.h"

#include "state_fdt.h"

#define MIB_MIN 2
/* As the VM's own limit (src/vm/vm.c): RAM ends below the 64-bit PCI
 * window. */
#define MIB_MAX ((LAYOUT_PCI_MMIO64 - (MEM_HOLE_END - MEM_HOLE_START)) >> 20)
/* A tap's name (IFNAMSIZ, its NUL included). */
#define TAP_NAME_MAX 16

static int dup_str(const char *s, char **out, struct mvm_err *err)
{
	*out = NULL;
	if (s && !(*out = strdup(s)))
		return mvm_fail(err, -ENOMEM, "out of memory");
	return 0;
}

/* The machine's size: vCPUs, RAM and what backs it. */
static int sizes(const void *fdt, int node, struct vm_config *m,
		 struct mvm_err *err)
{
	uint32_t cpus;
	unsigned pages;
	int ret;

	ret = snap_rd_u32(fdt, node, "machine", "vcpu-count", &cpus, err);
	if (!ret && (cpus < 1 || cpus > VM_MAX_VCPUS))
		ret = mvm_fail(err, -EINVAL, "machine: vcpu-count %u (want 1 "
			       "to %d)", cpus, VM_MAX_VCPUS);
	if (!ret)
		ret = snap_rd_u64(fdt, node, "machine", "mem-size-mib",
				  &m->mem_mib, err);
	if (!ret && (m->mem_mib < MIB_MIN || m->mem_mib > MIB_MAX))
		ret = mvm_fail(err, -EINVAL, "machine: mem-size-mib %llu "
			       "(want %d to %llu)",
			       (unsigned long long)m->mem_mib, MIB_MIN,
			       (unsigned long long)MIB_MAX);
	if (!ret)
		ret = snap_rd_choice(fdt, node, "machine", "huge-pages",
				     gm_pages_names, &pages, err);
	/* gm_alloc's own rule: huge pages come whole. */
	if (!ret && pages == GM_PAGES_HUGE_2M && m->mem_mib % 2)
		ret = mvm_fail(err, -EINVAL, "machine: mem-size-mib %llu is "
			       "not a whole number of 2 MiB huge pages",
			       (unsigned long long)m->mem_mib);
	if (ret)
		return ret;
	m->cpus = cpus;
	m->pages = (enum gm_pages)pages;
	return 0;
}

static int boot(const void *fdt, int node, struct vm_config *m,
		struct mvm_err *err)
{
	const char *kernel, *initrd, *cmdline;
	unsigned reboot;
	int ret;

	ret = snap_rd_name(fdt, node, "machine", "kernel", SNAP_PATH_MAX,
			   &kernel, err);
	if (!ret)
		ret = snap_rd_str(fdt, node, "machine", "initrd",
				  SNAP_PATH_MAX, false, &initrd, err);
	if (!ret && initrd && !*initrd)
		ret = mvm_fail(err, -EINVAL, "machine: initrd is empty (no "
			       "initrd is no initrd property)");
	if (!ret)
		ret = snap_rd_str(fdt, node, "machine", "cmdline",
				  LAYOUT_CMDLINE_MAX, true, &cmdline, err);
	if (!ret)
		ret = snap_rd_choice(fdt, node, "machine", "on-reboot",
				     snap_on_reboot_names, &reboot, err);
	if (ret)
		return ret;
	m->on_reboot = (enum vm_on_reboot)reboot;
	if (dup_str(kernel, (char **)&m->kernel, err) ||
	    dup_str(initrd, (char **)&m->initrd, err) ||
	    dup_str(cmdline, (char **)&m->cmdline, err))
		return -ENOMEM;
	return 0;
}

static int bucket(const void *fdt, int node, const char *where,
		  const char *kind, struct token_bucket *b, struct mvm_err *err)
{
	struct { const char *suffix; uint64_t *v; uint64_t max; } f[] = {
		{ "size", &b->size, RL_BUCKET_MAX },
		{ "one-time-burst", &b->one_time_burst, RL_BUCKET_MAX },
		{ "refill-time-ms", &b->refill_time_ms, RL_REFILL_MS_MAX },
	};
	char name[48];
	int ret = 0;

	for (size_t i = 0; !ret && i < sizeof(f) / sizeof(f[0]); i++) {
		snprintf(name, sizeof(name), "%s-%s", kind, f[i].suffix);
		ret = snap_rd_u64(fdt, node, where, name, f[i].v, err);
		if (!ret && *f[i].v > f[i].max)
			ret = mvm_fail(err, -EINVAL, "%s: %s is %llu, at most "
				       "%llu", where, name,
				       (unsigned long long)*f[i].v,
				       (unsigned long long)f[i].max);
	}
	return ret;
}

/* An optional rate limiter node of parent (none: no limits). */
static int limiter(const void *fdt, int parent, const char *parent_where,
		   const char *name, struct rate_limiter *rl,
		   struct mvm_err *err)
{
	int node = fdt_subnode_offset(fdt, parent, name), ret;
	char where[160];

	memset(rl, 0, sizeof(*rl));
	if (node == -FDT_ERR_NOTFOUND)
		return 0;
	snprintf(where, sizeof(where), "%s/%s", parent_where, name);
	if (node < 0)
		return mvm_fail(err, -EINVAL, "%s: %s", where,
				fdt_strerror(node));
	ret = bucket(fdt, node, where, "bandwidth", &rl->bandwidth, err);
	if (!ret)
		ret = bucket(fdt, node, where, "ops", &rl->ops, err);
	return ret;
}

static int drive(const void *fdt, int node, const char *where,
		 struct vm_config *m, struct mvm_err *err)
{
	struct disk_config *d = &m->disks[m->nr_disks];
	const char *id, *path;
	unsigned cache;
	int ret;

	ret = snap_rd_name(fdt, node, where, "id", DEV_CONFIG_ID_MAX, &id,
			   err);
	for (unsigned i = 0; !ret && i < m->nr_disks; i++)
		if (!strcmp(m->disks[i].id, id))
			ret = mvm_fail(err, -EINVAL, "%s: drive id \"%s\" "
				       "appears twice", where, id);
	if (!ret)
		ret = snap_rd_name(fdt, node, where, "path", SNAP_PATH_MAX,
				   &path, err);
	if (!ret)
		ret = snap_rd_flag(fdt, node, where, "read-only", &d->readonly,
				   err);
	if (!ret)
		ret = snap_rd_choice(fdt, node, where, "cache",
				     snap_cache_names, &cache, err);
	if (!ret)
		ret = limiter(fdt, node, where, "rate-limiter", &d->rl, err);
	if (ret)
		return ret;
	strcpy(d->id, id); /* fits: checked against DEV_CONFIG_ID_MAX */
	d->cache = (enum disk_cache)cache;
	if (dup_str(path, &d->path, err))
		return -ENOMEM;
	m->nr_disks++;
	return 0;
}

static int pmem(const void *fdt, int node, const char *where,
		struct vm_config *m, struct mvm_err *err)
{
	struct pmem_config *p = &m->pmems[m->nr_pmems];
	const char *id, *path;
	int ret;

	ret = snap_rd_name(fdt, node, where, "id", DEV_CONFIG_ID_MAX, &id,
			   err);
	for (unsigned i = 0; !ret && i < m->nr_pmems; i++)
		if (!strcmp(m->pmems[i].id, id))
			ret = mvm_fail(err, -EINVAL, "%s: pmem id \"%s\" "
				       "appears twice", where, id);
	if (!ret)
		ret = snap_rd_name(fdt, node, where, "path", SNAP_PATH_MAX,
				   &path, err);
	if (!ret)
		ret = snap_rd_flag(fdt, node, where, "read-only", &p->readonly,
				   err);
	if (!ret)
		ret = snap_rd_flag(fdt, node, where, "root", &p->root, err);
	if (ret)
		return ret;
	strcpy(p->id, id); /* fits: checked against DEV_CONFIG_ID_MAX */
	if (dup_str(path, &p->path, err))
		return -ENOMEM;
	m->nr_pmems++;
	return 0;
}

/* The user backend's "mtu"; absent (an older snapshot): the default. */
static int user_mtu(const void *fdt, int node, const char *where,
		    struct net_config *n, struct mvm_err *err)
{
	uint32_t mtu;
	int ret;

	n->mtu = 0;
	if (!fdt_getprop(fdt, node, "mtu", NULL))
		return 0;
	ret = snap_rd_u32(fdt, node, where, "mtu", &mtu, err);
	if (ret)
		return ret;
	if (mtu < SLIRP_NET_MTU_MIN || mtu > SLIRP_NET_MTU_MAX)
		return mvm_fail(err, -EINVAL, "%s: mtu %u is not %d to %d",
				where, mtu, SLIRP_NET_MTU_MIN,
				SLIRP_NET_MTU_MAX);
	n->mtu = mtu;
	return 0;
}

/* "backend" = "user", its "mtu" and "hostfwd" rules; absent: a tap. */
static int backend(const void *fdt, int node, const char *where,
		   struct net_config *n, struct mvm_err *err)
{
	char rules[SLIRP_NET_HOSTFWD_MAX * SLIRP_NET_HOSTFWD_STR];
	const char *b, *h;
	char *save = NULL, *tok;
	int ret;

	n->user = false;
	n->nr_hostfwd = 0;
	n->mtu = 0;
	ret = snap_rd_str(fdt, node, where, "backend", 8, false, &b, err);
	if (ret || !b)
		return ret;
	if (strcmp(b, "user"))
		return mvm_fail(err, -EINVAL, "%s: backend \"%s\" is not "
				"\"user\"", where, b);
	n->user = true;
	ret = user_mtu(fdt, node, where, n, err);
	if (!ret)
		ret = snap_rd_str(fdt, node, where, "hostfwd", sizeof(rules),
				  false, &h, err);
	if (ret || !h)
		return ret;
	strcpy(rules, h); /* fits: checked against its size */
	for (tok = strtok_r(rules, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		if (n->nr_hostfwd == SLIRP_NET_HOSTFWD_MAX)
			return mvm_fail(err, -EINVAL, "%s: more than %d hostfwd "
					"rules", where, SLIRP_NET_HOSTFWD_MAX);
		ret = slirp_net_hostfwd_parse(tok, &n->hostfwd[n->nr_hostfwd],
					      err);
		if (ret)
			return mvm_wrap(err, ret, "%s: ", where);
		n->nr_hostfwd++;
	}
	return 0;
}

/*
 * "mmds" = 1: the NIC serves MMDS at machine/mmds's address (decoded
 * first); absent: it does not. The store is the restoring VMM's to lend.
 */
static int nic_mmds(const void *fdt, int node, const char *where,
		    const struct vm_config *m, struct net_config *n,
		    struct mvm_err *err)
{
	bool on = false;
	int ret = 0;

	n->mmds = NULL;
	n->mmds_ipv4 = 0;
	if (fdt_getprop(fdt, node, "mmds", NULL))
		ret = snap_rd_flag(fdt, node, where, "mmds", &on, err);
	if (ret || !on)
		return ret;
	if (!m->mmds.set)
		return mvm_fail(err, -EINVAL, "%s: serves MMDS, but the machine "
				"has no mmds node", where);
	n->mmds_ipv4 = m->mmds.ipv4;
	return 0;
}

static int nic(const void *fdt, int node, const char *where,
	       struct vm_config *m, struct mvm_err *err)
{
	struct net_config *n = &m->nets[m->nr_nets];
	const char *id, *tap;
	const void *mac;
	size_t mac_len;
	int ret;

	ret = snap_rd_name(fdt, node, where, "id", DEV_CONFIG_ID_MAX, &id,
			   err);
	for (unsigned i = 0; !ret && i < m->nr_nets; i++)
		if (!strcmp(m->nets[i].id, id))
			ret = mvm_fail(err, -EINVAL, "%s: network interface id "
				       "\"%s\" appears twice", where, id);
	if (!ret)
		ret = backend(fdt, node, where, n, err);
	if (!ret && n->user)
		tap = "";
	else if (!ret)
		ret = snap_rd_name(fdt, node, where, "host-dev-name",
				   TAP_NAME_MAX, &tap, err);
	if (!ret)
		ret = snap_rd_bytes(fdt, node, where, "guest-mac",
				    sizeof(n->mac), &mac, &mac_len, err);
	if (!ret && mac_len != sizeof(n->mac))
		ret = mvm_fail(err, -EINVAL, "%s: guest-mac is %zu bytes, not "
			       "6", where, mac_len);
	if (!ret)
		ret = snap_rd_flag(fdt, node, where, "mac-set", &n->mac_set,
				   err);
	if (!ret)
		ret = snap_rd_flag(fdt, node, where, "mac-spoofing",
				   &n->mac_spoofing, err);
	if (!ret)
		ret = limiter(fdt, node, where, "rx-rate-limiter", &n->rx_rl,
			      err);
	if (!ret)
		ret = limiter(fdt, node, where, "tx-rate-limiter", &n->tx_rl,
			      err);
	if (!ret)
		ret = nic_mmds(fdt, node, where, m, n, err);
	if (ret)
		return ret;
	strcpy(n->id, id); /* both fit: checked against their sizes */
	strcpy(n->tap, tap);
	memcpy(n->mac, mac, sizeof(n->mac));
	/* The tap is the restoring VMM's to open (or to take over). */
	n->tap_given = false;
	n->tap_fd = -1;
	m->nr_nets++;
	return 0;
}

/* machine/balloon, if there is one (a state file without has none). */
/* The vsock device: absent in older snapshots and VMs without one. */
static int vsock(const void *fdt, int machine, struct vm_config *m,
		 struct mvm_err *err)
{
	const char *w = "machine/vsock", *id, *path;
	struct vsock_config *v = &m->vsock;
	uint32_t cid = 0;
	int node = fdt_subnode_offset(fdt, machine, "vsock"), ret;

	if (node == -FDT_ERR_NOTFOUND)
		return 0;
	if (node < 0)
		return mvm_fail(err, -EINVAL, "%s: %s", w, fdt_strerror(node));
	ret = snap_rd_name(fdt, node, w, "id", DEV_CONFIG_ID_MAX, &id, err);
	if (!ret)
		ret = snap_rd_u32(fdt, node, w, "guest-cid", &cid, err);
	if (!ret && (cid < 3 || cid == UINT32_MAX))
		ret = mvm_fail(err, -EINVAL, "%s: guest-cid %u (3 to %u)", w,
			       cid, UINT32_MAX - 1);
	if (!ret)
		ret = snap_rd_name(fdt, node, w, "uds-path", SNAP_PATH_MAX,
				   &path, err);
	if (ret)
		return ret;
	strcpy(v->id, id); /* fits: checked against DEV_CONFIG_ID_MAX */
	if (dup_str(path, &v->uds_path, err))
		return -ENOMEM;
	v->guest_cid = cid;
	return 0;
}

/*
 * machine/mmds: MMDS's configuration (absent in older snapshots and VMs
 * without MMDS). Its address is checked as PUT /mmds/config checks it.
 */
static int mmds(const void *fdt, int machine, struct vm_config *m,
		struct mvm_err *err)
{
	const char *w = "machine/mmds";
	struct vm_mmds_config *c = &m->mmds;
	unsigned version = 0;
	uint32_t ipv4 = 0;
	int node = fdt_subnode_offset(fdt, machine, "mmds"), ret;

	memset(c, 0, sizeof(*c));
	if (node == -FDT_ERR_NOTFOUND)
		return 0;
	if (node < 0)
		return mvm_fail(err, -EINVAL, "%s: %s", w, fdt_strerror(node));
	ret = snap_rd_choice(fdt, node, w, "version", snap_mmds_version_names,
			     &version, err);
	if (!ret)
		ret = snap_rd_u32(fdt, node, w, "ipv4-address", &ipv4, err);
	if (!ret && !mmds_ipv4_link_local(ipv4))
		ret = mvm_fail(err, -EINVAL, "%s: ipv4-address %u.%u.%u.%u is "
			       "not link-local (169.254.1.0 to "
			       "169.254.254.255)", w, ipv4 >> 24,
			       ipv4 >> 16 & 0xff, ipv4 >> 8 & 0xff,
			       ipv4 & 0xff);
	if (!ret)
		ret = snap_rd_flag(fdt, node, w, "imds-compat",
				   &c->imds_compat, err);
	if (ret)
		return ret;
	c->version = version ? MMDS_V2 : MMDS_V1;
	c->ipv4 = ipv4;
	c->set = true;
	return 0;
}

static int balloon(const void *fdt, int machine, struct vm_config *m,
		   struct mvm_err *err)
{
	const char *w = "machine/balloon";
	struct balloon_config *b = &m->balloon;
	uint32_t period = 0;
	int node = fdt_subnode_offset(fdt, machine, "balloon"), ret;

	if (node == -FDT_ERR_NOTFOUND)
		return 0;
	if (node < 0)
		return mvm_fail(err, -EINVAL, "%s: %s", w, fdt_strerror(node));
	ret = snap_rd_u32(fdt, node, w, "amount-mib", &b->amount_mib, err);
	if (!ret && b->amount_mib > m->mem_mib)
		ret = mvm_fail(err, -EINVAL, "%s: amount-mib %u is more than "
			       "the machine's memory", w, b->amount_mib);
	if (!ret)
		ret = snap_rd_u32(fdt, node, w, "stats-polling-interval-s",
				  &period, err);
	if (!ret && period > UINT16_MAX)
		ret = mvm_fail(err, -EINVAL, "%s: stats-polling-interval-s %u "
			       "(at most %u)", w, period, UINT16_MAX);
	if (!ret)
		ret = snap_rd_flag(fdt, node, w, "deflate-on-oom",
				   &b->deflate_on_oom, err);
	if (!ret)
		ret = snap_rd_flag(fdt, node, w, "free-page-hinting",
				   &b->free_page_hinting, err);
	if (!ret)
		ret = snap_rd_flag(fdt, node, w, "free-page-reporting",
				   &b->free_page_reporting, err);
	b->stats_interval_s = (uint16_t)period;
	b->enabled = !ret;
	return ret;
}

typedef int (*child_fn)(const void *fdt, int node, const char *where,
			struct vm_config *m, struct mvm_err *err);

/* Each child of machine/NAME, at most max of them, through fn. */
static int children(const void *fdt, int machine, const char *name,
		    unsigned max, const unsigned *nr, child_fn fn,
		    struct vm_config *m, struct mvm_err *err)
{
	char base[64], where[SNAP_WHERE_MAX];
	int parent, node, ret, len;

	snprintf(base, sizeof(base), "machine/%s", name);
	ret = snap_rd_node(fdt, machine, "machine", name, &parent, err);
	if (ret)
		return ret;
	fdt_for_each_subnode(node, fdt, parent) {
		const char *child = fdt_get_name(fdt, node, &len);

		if (*nr == max)
			return mvm_fail(err, -EINVAL, "%s: more than %u", base,
					max);
		snap_where(where, base, child ? child : "?", child ? len : 1);
		ret = fn(fdt, node, where, m, err);
		if (ret)
			return ret;
	}
	if (node != -FDT_ERR_NOTFOUND)
		return mvm_fail(err, -EINVAL, "%s: %s", base,
				fdt_strerror(node));
	return 0;
}

/*
 * machine/memory-hotplug, if there: the sizes a new VM's would be held
 * to, with the region placed above this machine's RAM.
 */
static int hotplug(const void *fdt, int machine, struct vm_config *m,
		   struct mvm_err *err)
{
	static const char *const where = "machine/memory-hotplug";
	struct mem_hotplug_config *h = &m->mem_hotplug;
	int node = fdt_subnode_offset(fdt, machine, "memory-hotplug");
	enum vm_hotplug_field f;
	const char *why;
	char buf[192];
	int ret;

	if (node == -FDT_ERR_NOTFOUND)
		return 0;
	if (node < 0)
		return mvm_fail(err, -EINVAL, "%s: %s", where,
				fdt_strerror(node));
	ret = snap_rd_u64(fdt, node, where, "total-size-mib", &h->total_mib,
			  err);
	if (!ret)
		ret = snap_rd_u64(fdt, node, where, "slot-size-mib",
				  &h->slot_mib, err);
	if (!ret)
		ret = snap_rd_u64(fdt, node, where, "block-size-mib",
				  &h->block_mib, err);
	if (!ret)
		ret = snap_rd_u64(fdt, node, where, "requested-size-mib",
				  &h->requested_mib, err);
	if (ret)
		return ret;
	why = vm_hotplug_problem(h, m->mem_mib, &f, buf, sizeof(buf));
	if (why)
		return mvm_fail(err, -EINVAL, "%s: %s %s", where,
				vm_hotplug_field_name(f), why);
	return 0;
}

/*
 * machine/dynamic-memory, if there: its settings, held to the rules
 * against the machine's memory, balloon and hotpluggable memory (decoded
 * before it).
 */
static int dynmem(const void *fdt, int machine, struct vm_config *m,
		  struct mvm_err *err)
{
	static const char *const where = "machine/dynamic-memory";
	struct dynmem_config *d = &m->dynmem;
	int node = fdt_subnode_offset(fdt, machine, "dynamic-memory");
	enum vm_dynmem_field f;
	const char *why;
	char buf[256];
	int ret;

	if (node == -FDT_ERR_NOTFOUND)
		return 0;
	if (node < 0)
		return mvm_fail(err, -EINVAL, "%s: %s", where,
				fdt_strerror(node));
	ret = snap_rd_u64(fdt, node, where, "min-mib", &d->min_mib, err);
	if (!ret)
		ret = snap_rd_u64(fdt, node, where, "max-mib", &d->max_mib,
				  err);
	if (!ret)
		ret = snap_rd_u32(fdt, node, where, "buffer-percent",
				  &d->buffer_percent, err);
	if (ret)
		return ret;
	d->enabled = true;
	why = vm_dynmem_problem(d, m->mem_mib, &m->balloon, &m->mem_hotplug,
				&f, buf, sizeof(buf));
	if (why)
		return mvm_fail(err, -EINVAL, "%s: %s %s", where,
				vm_dynmem_field_name(f), why);
	return 0;
}

int snap_decode_machine(const void *fdt, int node, struct snap_file *s,
			struct mvm_err *err)
{
	struct vm_config *m = &s->machine;
	int ret;

	m->console_in = -1;
	m->console_out = -1;
	ret = sizes(fdt, node, m, err);
	if (!ret)
		ret = snap_rd_flag(fdt, node, "machine", "nested-virt",
				   &m->nested, err);
	/* Snapshots of VMs without SMT, and older ones, have no "smt". */
	if (!ret && fdt_getprop(fdt, node, "smt", NULL))
		ret = snap_rd_flag(fdt, node, "machine", "smt", &m->smt, err);
	if (!ret)
		ret = snap_decode_cpu_template(fdt, node, m, err);
	if (!ret)
		ret = snap_rd_flag(fdt, node, "machine", "track-dirty-pages",
				   &s->track_dirty_pages, err);
	if (!ret)
		ret = snap_rd_flag(fdt, node, "machine", "entropy", &m->rng,
				   err);
	if (!ret)
		ret = limiter(fdt, node, "machine", "entropy-rate-limiter",
			      &m->rng_rl, err);
	if (!ret)
		ret = boot(fdt, node, m, err);
	if (!ret)
		ret = children(fdt, node, "drives", VM_MAX_DISKS,
			       &m->nr_disks, drive, m, err);
	/* Before the NICs, which name it. */
	if (!ret)
		ret = mmds(fdt, node, m, err);
	if (!ret)
		ret = children(fdt, node, "network-interfaces", VM_MAX_NETS,
			       &m->nr_nets, nic, m, err);
	/* Older snapshots, and VMs without pmem, have no node. */
	if (!ret && fdt_subnode_offset(fdt, node, "pmem") >= 0)
		ret = children(fdt, node, "pmem", VM_MAX_PMEMS,
			       &m->nr_pmems, pmem, m, err);
	if (!ret)
		ret = balloon(fdt, node, m, err);
	if (!ret)
		ret = vsock(fdt, node, m, err);
	if (!ret)
		ret = hotplug(fdt, node, m, err);
	if (!ret)
		ret = dynmem(fdt, node, m, err);
	return ret;
}
