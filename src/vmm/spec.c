/*
 * struct vm_spec (include/mvm/spec.h): the VM as the API, the config file
 * and the command line describe it, and its translation into the
 * vm_config that vm_create() builds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/spec.h"

void spec_init(struct vm_spec *s)
{
	memset(s, 0, sizeof(*s));
	/* Firecracker's defaults, which are also mvm run's. */
	s->vcpu_count = MVM_DEFAULT_CPUS;
	s->mem_size_mib = MVM_DEFAULT_MEM_MIB;
	s->log_level = API_LOG_INFO;
	s->on_reboot = VM_ON_REBOOT_EXIT;
	s->console_in = 0;
	s->console_out = 1;
}

void spec_free(struct vm_spec *s)
{
	free(s->kernel_image_path);
	free(s->initrd_path);
	free(s->boot_args);
	for (unsigned i = 0; i < s->nr_drives; i++) {
		free(s->drives[i].path_on_host);
		free(s->drives[i].partuuid);
	}
	for (unsigned i = 0; i < s->nr_pmems; i++)
		free(s->pmems[i].path_on_host);
	free(s->vsock.uds_path);
	free(s->log_path);
	free(s->log_module);
	free(s->metrics_path);
	free(s->serial_out_path);
	free(s->cmdline);
	memset(s, 0, sizeof(*s));
}

static int dup_or_null(const char *src, char **dst, struct mvm_err *err)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : mvm_fail(err, -ENOMEM, "out of memory");
}

/* A command line's limiter, as the API would have given it. */
static struct spec_limiter limiter_of(const struct rate_limiter *rl)
{
	struct spec_limiter l = { .rl = *rl };

	l.bandwidth_set = rl->bandwidth.size != 0;
	l.ops_set = rl->ops.size != 0;
	l.set = l.bandwidth_set || l.ops_set;
	return l;
}

void spec_mmds_from_config(struct spec_mmds *s, const struct vm_config *cfg)
{
	memset(s, 0, sizeof(*s));
	if (!cfg->mmds.set)
		return;
	s->set = true;
	s->version = cfg->mmds.version;
	s->imds_compat = cfg->mmds.imds_compat;
	s->ipv4 = cfg->mmds.ipv4;
	for (unsigned i = 0; i < cfg->nr_nets && i < VM_MAX_NETS; i++)
		if (cfg->nets[i].mmds_ipv4)
			snprintf(s->ifaces[s->nr_ifaces++],
				 sizeof(s->ifaces[0]), "%s", cfg->nets[i].id);
}

int spec_from_config(struct vm_spec *s, const struct vm_config *cfg,
		     struct mvm_err *err)
{
	int ret;

	spec_init(s);
	s->boot_source_set = cfg->kernel != NULL;
	ret = dup_or_null(cfg->kernel, &s->kernel_image_path, err);
	if (!ret)
		ret = dup_or_null(cfg->initrd, &s->initrd_path, err);
	if (!ret)
		ret = dup_or_null(cfg->cmdline, &s->boot_args, err);
	s->vcpu_count = cfg->cpus;
	s->mem_size_mib = cfg->mem_mib;
	s->huge_pages = cfg->pages;
	s->nested_virt = cfg->nested;
	s->smt = cfg->smt;
	s->cpu_template = cfg->cpu_template;
	s->cpu_custom_set = cfg->cpu_custom_set;
	s->cpu_custom = cfg->cpu_custom;
	s->entropy_set = cfg->rng;
	s->entropy_rate_limiter = limiter_of(&cfg->rng_rl);
	s->balloon = cfg->balloon;
	if (!ret && cfg->vsock.guest_cid) {
		s->vsock = cfg->vsock;
		ret = dup_or_null(cfg->vsock.uds_path, &s->vsock.uds_path,
				  err);
	}
	s->mem_hotplug = cfg->mem_hotplug;
	s->dynmem = cfg->dynmem;
	spec_mmds_from_config(&s->mmds, cfg);
	s->on_reboot = cfg->on_reboot;
	s->console_in = cfg->console_in;
	s->console_out = cfg->console_out;
	/* Command-line disks are not root devices: the user's cmdline rules. */
	for (unsigned i = 0; !ret && i < cfg->nr_disks && i < VM_MAX_DISKS;
	     i++) {
		struct spec_drive *d = &s->drives[i];

		snprintf(d->id, sizeof(d->id), "%s", cfg->disks[i].id);
		d->is_read_only = cfg->disks[i].readonly;
		d->cache_writeback = true;
		d->direct = cfg->disks[i].cache == DISK_CACHE_NONE;
		d->rate_limiter = limiter_of(&cfg->disks[i].rl);
		s->nr_drives++;
		ret = dup_or_null(cfg->disks[i].path, &d->path_on_host, err);
	}
	for (unsigned i = 0; !ret && i < cfg->nr_nets && i < VM_MAX_NETS;
	     i++) {
		struct spec_net *n = &s->nets[i];

		snprintf(n->id, sizeof(n->id), "%s", cfg->nets[i].id);
		snprintf(n->host_dev_name, sizeof(n->host_dev_name), "%s",
			 cfg->nets[i].tap);
		memcpy(n->guest_mac, cfg->nets[i].mac, sizeof(n->guest_mac));
		n->guest_mac_set = cfg->nets[i].mac_set;
		n->mac_spoofing = cfg->nets[i].mac_spoofing;
		n->user = cfg->nets[i].user;
		n->nr_hostfwd = cfg->nets[i].nr_hostfwd;
		n->mtu = cfg->nets[i].mtu;
		memcpy(n->hostfwd, cfg->nets[i].hostfwd, sizeof(n->hostfwd));
		n->rx_rate_limiter = limiter_of(&cfg->nets[i].rx_rl);
		n->tx_rate_limiter = limiter_of(&cfg->nets[i].tx_rl);
		s->nr_nets++;
	}
	for (unsigned i = 0; !ret && i < cfg->nr_pmems && i < VM_MAX_PMEMS;
	     i++) {
		struct spec_pmem *p = &s->pmems[i];

		snprintf(p->id, sizeof(p->id), "%s", cfg->pmems[i].id);
		p->read_only = cfg->pmems[i].readonly;
		p->root_device = cfg->pmems[i].root;
		s->nr_pmems++;
		ret = dup_or_null(cfg->pmems[i].path, &p->path_on_host, err);
	}
	if (ret)
		spec_free(s);
	return ret;
}

void spec_take_machine(struct vm_spec *s, struct vm_spec *from)
{
	struct vm_spec keep = *s;

	/* from's machine, keep's own settings; then from owns keep's rest. */
	*s = *from;
	s->logger_set = keep.logger_set;
	s->log_path = keep.log_path;
	s->log_level = keep.log_level;
	s->log_show_level = keep.log_show_level;
	s->log_show_origin = keep.log_show_origin;
	s->log_module = keep.log_module;
	s->metrics_set = keep.metrics_set;
	s->metrics_path = keep.metrics_path;
	s->serial_set = keep.serial_set;
	s->serial_out_path = keep.serial_out_path;
	s->console_in = keep.console_in;
	s->console_out = keep.console_out;
	s->on_reboot = keep.on_reboot;
	from->log_path = from->log_module = NULL;
	from->metrics_path = from->serial_out_path = NULL;
	keep.log_path = keep.log_module = NULL;
	keep.metrics_path = keep.serial_out_path = NULL;
	/* keep now holds s's old machine, from nothing: both are freed. */
	*from = keep;
}

static const struct spec_drive *root_drive(const struct vm_spec *s)
{
	for (unsigned i = 0; i < s->nr_drives; i++)
		if (s->drives[i].is_root_device)
			return &s->drives[i];
	return NULL;
}

/* The root pmem's index (its /dev/pmemN), or -1. */
static int root_pmem(const struct vm_spec *s)
{
	for (unsigned i = 0; i < s->nr_pmems; i++)
		if (s->pmems[i].root_device)
			return (int)i;
	return -1;
}

/*
 * Firecracker's rule: a root drive adds root= (its PARTUUID, or the first
 * virtio disk, where the root drive is put) and ro/rw to the command line.
 * A boot_args that already says root= is the user's explicit choice.
 */
static int build_cmdline(struct vm_spec *s, struct mvm_err *err)
{
	const struct spec_drive *root = root_drive(s);
	const char *args = s->boot_args ? s->boot_args : "";
	int pmem = root_pmem(s);
	char *line = NULL;
	int n;

	if ((!root && pmem < 0) || strstr(args, "root="))
		n = asprintf(&line, "%s", args);
	else if (!root)
		n = asprintf(&line, "%s%sroot=/dev/pmem%d %s", args,
			     *args ? " " : "", pmem,
			     s->pmems[pmem].read_only ? "ro" : "rw");
	else if (root->partuuid)
		n = asprintf(&line, "%s%sroot=PARTUUID=%s %s", args,
			     *args ? " " : "", root->partuuid,
			     root->is_read_only ? "ro" : "rw");
	else
		n = asprintf(&line, "%s%sroot=/dev/vda %s", args,
			     *args ? " " : "", root->is_read_only ? "ro" : "rw");
	if (n < 0)
		return mvm_fail(err, -ENOMEM, "out of memory");
	free(s->cmdline);
	s->cmdline = line;
	return 0;
}

static void fill_disk(struct disk_config *d, const struct spec_drive *sd)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->id, sizeof(d->id), "%s", sd->id);
	d->path = sd->path_on_host;
	d->readonly = sd->is_read_only;
	/* Unsafe and Writeback both use the page cache and mvm honours
	 * FLUSH; only the command line's cache=none bypasses it. */
	d->cache = sd->direct ? DISK_CACHE_NONE : DISK_CACHE_WRITEBACK;
	d->rl = sd->rate_limiter.rl;
}

int spec_to_config(struct vm_spec *s, struct vm_config *cfg, int out_fd,
		   struct mvm_err *err)
{
	const struct spec_drive *root = root_drive(s);
	int ret;

	if (!s->boot_source_set || !s->kernel_image_path)
		return mvm_fail(err, -EINVAL, "boot-source: no kernel "
				"configured (PUT /boot-source first)");
	ret = build_cmdline(s, err);
	if (ret)
		return ret;
	memset(cfg, 0, sizeof(*cfg));
	cfg->kernel = s->kernel_image_path;
	cfg->initrd = s->initrd_path;
	cfg->cmdline = s->cmdline;
	cfg->cpus = s->vcpu_count;
	cfg->mem_mib = s->mem_size_mib;
	cfg->pages = s->huge_pages;
	cfg->on_reboot = s->on_reboot;
	cfg->nested = s->nested_virt;
	cfg->smt = s->smt;
	cfg->cpu_template = s->cpu_template;
	cfg->cpu_custom_set = s->cpu_custom_set;
	cfg->cpu_custom = s->cpu_custom;
	cfg->track_dirty_pages = s->track_dirty_pages;
	cfg->rng = s->entropy_set;
	cfg->rng_rl = s->entropy_rate_limiter.rl;
	cfg->balloon = s->balloon;
	cfg->vsock = s->vsock; /* its uds_path lent */
	cfg->mem_hotplug = s->mem_hotplug;
	cfg->dynmem = s->dynmem;
	cfg->console_in = s->console_in;
	cfg->console_out = out_fd;
	/* The root drive becomes the first disk, /dev/vda. */
	if (root)
		fill_disk(&cfg->disks[cfg->nr_disks++], root);
	for (unsigned i = 0; i < s->nr_drives; i++)
		if (&s->drives[i] != root)
			fill_disk(&cfg->disks[cfg->nr_disks++], &s->drives[i]);
	for (unsigned i = 0; i < s->nr_nets; i++) {
		struct net_config *n = &cfg->nets[cfg->nr_nets++];
		const struct spec_net *sn = &s->nets[i];

		snprintf(n->id, sizeof(n->id), "%s", sn->id);
		snprintf(n->tap, sizeof(n->tap), "%s", sn->host_dev_name);
		memcpy(n->mac, sn->guest_mac, sizeof(n->mac));
		n->mac_set = sn->guest_mac_set;
		n->mac_spoofing = sn->mac_spoofing;
		n->user = sn->user;
		n->nr_hostfwd = sn->nr_hostfwd;
		n->mtu = sn->mtu;
		memcpy(n->hostfwd, sn->hostfwd, sizeof(n->hostfwd));
		n->rx_rl = sn->rx_rate_limiter.rl;
		n->tx_rl = sn->tx_rate_limiter.rl;
	}
	for (unsigned i = 0; i < s->nr_pmems; i++) {
		struct pmem_config *p = &cfg->pmems[cfg->nr_pmems++];
		const struct spec_pmem *sp = &s->pmems[i];

		snprintf(p->id, sizeof(p->id), "%s", sp->id);
		p->path = sp->path_on_host;
		p->readonly = sp->read_only;
		p->root = sp->root_device;
	}
	return 0;
}
