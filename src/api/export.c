/*
 * The spec as JSON, in the shapes the API takes: GET /vm/config returns a
 * document that --config-file accepts back unchanged. For a VM configured
 * with Firecracker's fields alone every answer has Firecracker's keys
 * only, so that its clients, which refuse keys they do not know, read it:
 * mvm's extensions appear when set to something other than their default.
 */
#include <stdio.h>

#include <json-c/json.h>

#include "mvm/api.h"
#include "mvm/cpu_template.h"

#include "shapes.h"

static void put_str(struct json_object *o, const char *k, const char *v)
{
	if (v)
		json_object_object_add(o, k, json_object_new_string(v));
}

static void put_bool(struct json_object *o, const char *k, bool v)
{
	json_object_object_add(o, k, json_object_new_boolean(v));
}

static void put_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static struct json_object *bucket_json(const struct token_bucket *b)
{
	struct json_object *o = json_object_new_object();

	put_u64(o, "size", b->size);
	put_u64(o, "refill_time", b->refill_time_ms);
	put_u64(o, "one_time_burst", b->one_time_burst);
	return o;
}

static void put_limiter(struct json_object *o, const char *k,
			const struct spec_limiter *l)
{
	struct json_object *rl;

	if (!l->set)
		return;
	rl = json_object_new_object();
	if (l->bandwidth_set)
		json_object_object_add(rl, "bandwidth",
				       bucket_json(&l->rl.bandwidth));
	if (l->ops_set)
		json_object_object_add(rl, "ops", bucket_json(&l->rl.ops));
	json_object_object_add(o, k, rl);
}

struct json_object *spec_export_machine(const struct vm_spec *s)
{
	struct json_object *o = json_object_new_object();

	put_u64(o, "vcpu_count", s->vcpu_count);
	put_u64(o, "mem_size_mib", s->mem_size_mib);
	put_bool(o, "smt", s->smt);
	put_bool(o, "track_dirty_pages", s->track_dirty_pages);
	put_str(o, "huge_pages", gm_pages_names[s->huge_pages]);
	/* As Firecracker: a static template's name, when one is set. */
	if (s->cpu_template != CPU_STATIC_NONE && !s->cpu_custom_set)
		put_str(o, "cpu_template", cpu_static_names[s->cpu_template]);
	if (s->nested_virt)
		put_bool(o, "nested_virt", true);
	return o;
}

static struct json_object *drive_json(const struct spec_drive *d)
{
	struct json_object *o = json_object_new_object();

	put_str(o, "drive_id", d->id);
	put_str(o, "path_on_host", d->path_on_host);
	put_bool(o, "is_root_device", d->is_root_device);
	put_bool(o, "is_read_only", d->is_read_only);
	put_str(o, "partuuid", d->partuuid);
	put_str(o, "cache_type", d->cache_writeback ? "Writeback" : "Unsafe");
	put_str(o, "io_engine", d->io_engine_async ? "Async" : "Sync");
	put_limiter(o, "rate_limiter", &d->rate_limiter);
	return o;
}

static struct json_object *pmem_json(const struct spec_pmem *p)
{
	struct json_object *o = json_object_new_object();

	put_str(o, "id", p->id);
	put_str(o, "path_on_host", p->path_on_host);
	put_bool(o, "root_device", p->root_device);
	put_bool(o, "read_only", p->read_only);
	return o;
}

static struct json_object *net_json(const struct spec_net *n)
{
	struct json_object *o = json_object_new_object();
	char mac[18];

	put_str(o, "iface_id", n->id);
	if (n->user) {
		/* mvm extensions, shown only when set */
		struct json_object *a = json_object_new_array();
		char rule[SLIRP_NET_HOSTFWD_STR];

		put_str(o, "backend", "user");
		for (unsigned i = 0; i < n->nr_hostfwd; i++) {
			slirp_net_hostfwd_format(&n->hostfwd[i], rule);
			json_object_array_add(a, json_object_new_string(rule));
		}
		if (n->nr_hostfwd)
			json_object_object_add(o, "hostfwd", a);
		else
			json_object_put(a);
		if (n->mtu)
			json_object_object_add(o, "mtu",
					       json_object_new_int((int)n->mtu));
	} else {
		put_str(o, "host_dev_name", n->host_dev_name);
	}
	if (n->guest_mac_set) {
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
			 n->guest_mac[0], n->guest_mac[1], n->guest_mac[2],
			 n->guest_mac[3], n->guest_mac[4], n->guest_mac[5]);
		put_str(o, "guest_mac", mac);
	}
	put_limiter(o, "rx_rate_limiter", &n->rx_rate_limiter);
	put_limiter(o, "tx_rate_limiter", &n->tx_rate_limiter);
	if (n->mac_spoofing)
		put_bool(o, "mac_spoofing", true);
	return o;
}

static struct json_object *balloon_json(const struct balloon_config *b)
{
	struct json_object *o = json_object_new_object();

	put_u64(o, "amount_mib", b->amount_mib);
	put_bool(o, "deflate_on_oom", b->deflate_on_oom);
	put_u64(o, "stats_polling_interval_s", b->stats_interval_s);
	put_bool(o, "free_page_hinting", b->free_page_hinting);
	put_bool(o, "free_page_reporting", b->free_page_reporting);
	return o;
}

static const char *level_name(enum api_log_level l)
{
	static const char *const names[] = { "Off", "Error", "Warning",
					     "Info", "Debug", "Trace" };

	return (unsigned)l < sizeof(names) / sizeof(names[0]) ? names[l] :
								  "Info";
}

/*
 * Firecracker's document names every section: null where a device or
 * setting is absent, an empty list where it has none (pmem is always
 * a list, filled by spec_export).
 */
static void put_unset(struct json_object *o)
{
	static const char *const sections[] = {
		"balloon", "cpu-config", "logger", "metrics", "memory-hotplug",
		"mmds-config", "vsock", "entropy", NULL };

	for (int i = 0; sections[i]; i++)
		if (!json_object_object_get_ex(o, sections[i], NULL))
			json_object_object_add(o, sections[i], NULL);
}

struct json_object *spec_export(const struct vm_spec *s)
{
	struct json_object *o = json_object_new_object();
	struct json_object *drives = json_object_new_array();
	struct json_object *nets = json_object_new_array();
	struct json_object *b = json_object_new_object();
	struct json_object *pmems;

	/* Firecracker's is always there: an empty path until one is set. */
	put_str(b, "kernel_image_path",
		s->boot_source_set ? s->kernel_image_path : "");
	if (s->boot_source_set) {
		put_str(b, "boot_args", s->boot_args);
		put_str(b, "initrd_path", s->initrd_path);
	}
	json_object_object_add(o, "boot-source", b);
	json_object_object_add(o, "machine-config", spec_export_machine(s));
	for (unsigned i = 0; i < s->nr_drives; i++)
		json_object_array_add(drives, drive_json(&s->drives[i]));
	json_object_object_add(o, "drives", drives);
	for (unsigned i = 0; i < s->nr_nets; i++)
		json_object_array_add(nets, net_json(&s->nets[i]));
	json_object_object_add(o, "network-interfaces", nets);
	pmems = json_object_new_array();
	for (unsigned i = 0; i < s->nr_pmems; i++)
		json_object_array_add(pmems, pmem_json(&s->pmems[i]));
	json_object_object_add(o, "pmem", pmems);
	if (s->cpu_custom_set)
		json_object_object_add(o, "cpu-config",
				       cpu_config_export(&s->cpu_custom));
	if (s->logger_set) {
		struct json_object *l = json_object_new_object();

		put_str(l, "log_path", s->log_path);
		put_str(l, "level", level_name(s->log_level));
		put_bool(l, "show_level", s->log_show_level);
		put_bool(l, "show_log_origin", s->log_show_origin);
		put_str(l, "module", s->log_module);
		json_object_object_add(o, "logger", l);
	}
	if (s->metrics_set) {
		struct json_object *m = json_object_new_object();

		put_str(m, "metrics_path", s->metrics_path);
		json_object_object_add(o, "metrics", m);
	}
	if (s->entropy_set) {
		struct json_object *e = json_object_new_object();

		put_limiter(e, "rate_limiter", &s->entropy_rate_limiter);
		json_object_object_add(o, "entropy", e);
	}
	if (s->balloon.enabled)
		json_object_object_add(o, "balloon", balloon_json(&s->balloon));
	if (s->vsock.guest_cid) {
		struct json_object *vs = json_object_new_object();

		put_str(vs, "vsock_id", s->vsock.id);
		put_u64(vs, "guest_cid", s->vsock.guest_cid);
		put_str(vs, "uds_path", s->vsock.uds_path);
		json_object_object_add(o, "vsock", vs);
	}
	if (s->mem_hotplug.total_mib) {
		struct json_object *h = json_object_new_object();

		put_u64(h, "total_size_mib", s->mem_hotplug.total_mib);
		put_u64(h, "slot_size_mib", s->mem_hotplug.slot_mib);
		put_u64(h, "block_size_mib", s->mem_hotplug.block_mib);
		json_object_object_add(o, "memory-hotplug", h);
	}
	if (s->dynmem.enabled) {
		struct json_object *d = json_object_new_object();

		put_bool(d, "enabled", true);
		put_u64(d, "min_mib", s->dynmem.min_mib);
		put_u64(d, "max_mib", s->dynmem.max_mib);
		put_u64(d, "buffer_percent", s->dynmem.buffer_percent);
		json_object_object_add(o, "dynamic-memory", d);
	}
	if (s->serial_set) {
		struct json_object *e = json_object_new_object();

		put_str(e, "serial_out_path", s->serial_out_path);
		json_object_object_add(o, "serial", e);
	}
	if (s->mmds.set)
		json_object_object_add(o, "mmds-config",
				       mmds_config_export(&s->mmds));
	put_unset(o);
	return o;
}
