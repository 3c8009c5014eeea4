/*
 * The metrics PUT /metrics configures: one JSON object per line, written
 * on FlushMetrics and every 60 seconds (a timerfd on the loop), like
 * Firecracker's. Counters are deltas since the previous line, so a reader
 * sums lines; latencies are over the same interval.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "mvm/clock.h"
#include "mvm/err.h"
#include "mvm/virtio_dev.h"
#include "mvm/vmm.h"
#include "vmm_priv.h"

#define METRICS_PERIOD_S 60

void vmm_api_account(struct vmm *v, int route, int status, uint64_t us)
{
	struct vmm_api_stats *s = &v->api_stats;
	unsigned b = 0;

	s->requests++;
	if (route >= 0 && route < VMM_MAX_ROUTES) {
		s->count[route]++;
		if (status >= 400)
			s->fails[route]++;
	} else if (status >= 400) {
		s->other_fails++;
	}
	while (b + 1 < VMM_LAT_BUCKETS && us >= (1ull << b))
		b++;
	s->lat[b]++;
	if (us > s->lat_max_us)
		s->lat_max_us = us;
}

/* KVM exit reasons by name; the rest are summed into "other". */
static const struct {
	unsigned reason;
	const char *name;
} exit_names[] = {
	{ KVM_EXIT_IO, "exit_io" },
	{ KVM_EXIT_MMIO, "exit_mmio" },
	{ KVM_EXIT_HLT, "exit_hlt" },
	{ KVM_EXIT_SHUTDOWN, "exit_shutdown" },
	{ KVM_EXIT_FAIL_ENTRY, "exit_fail_entry" },
	{ KVM_EXIT_INTERNAL_ERROR, "exit_internal_error" },
	{ KVM_EXIT_SYSTEM_EVENT, "exit_system_event" },
	{ KVM_EXIT_INTR, "exit_intr" },
	{ KVM_EXIT_IRQ_WINDOW_OPEN, "exit_irq_window_open" },
	{ KVM_EXIT_DEBUG, "exit_debug" },
	{ KVM_EXIT_UNKNOWN, "exit_unknown" },
};

static void add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static struct json_object *vcpu_json(struct vmm *v)
{
	struct json_object *o = json_object_new_object();
	unsigned long now[VM_METRICS_EXIT_REASONS] = { 0 };
	uint64_t other = 0;

	if (v->have_vm)
		for (int i = 0; i < VM_METRICS_EXIT_REASONS; i++)
			now[i] = atomic_load(&v->vm.metrics.exits[i]);
	for (int i = 0; i < VM_METRICS_EXIT_REASONS; i++) {
		/* A restarted VM starts its counters again from zero. */
		uint64_t d = now[i] >= v->metrics.last_exits[i] ?
				     now[i] - v->metrics.last_exits[i] : now[i];
		bool named = false;

		for (size_t k = 0; k < sizeof(exit_names) / sizeof(exit_names[0]);
		     k++)
			if (exit_names[k].reason == (unsigned)i) {
				add_u64(o, exit_names[k].name, d);
				named = true;
			}
		if (!named)
			other += d;
		v->metrics.last_exits[i] = now[i];
	}
	add_u64(o, "exit_other", other);
	vmm_metrics_fc_vcpu(v, o);
	return o;
}

/*
 * Sum of what the VM's devices of one kind moved since the last line; the
 * devices keep the reported totals, so a new VM starts from zero.
 */
static void device_deltas(struct vmm *v, uint16_t device_id,
			  uint64_t d[VIRTIO_CTR_COUNT])
{
	memset(d, 0, VIRTIO_CTR_COUNT * sizeof(d[0]));
	if (v->have_vm)
		virtio_counters_take(&v->vm.dev_ctx, device_id, d);
}

static void block_fill(struct json_object *o, const uint64_t *d)
{
	add_u64(o, "read_bytes", d[VIRTIO_CTR_READ_BYTES]);
	add_u64(o, "write_bytes", d[VIRTIO_CTR_WRITE_BYTES]);
	add_u64(o, "read_count", d[VIRTIO_CTR_READ_COUNT]);
	add_u64(o, "write_count", d[VIRTIO_CTR_WRITE_COUNT]);
	add_u64(o, "flush_count", d[VIRTIO_CTR_FLUSH_COUNT]);
	add_u64(o, "execute_fails", d[VIRTIO_CTR_FAIL_COUNT]);
	add_u64(o, "invalid_reqs_count", d[VIRTIO_CTR_INVALID_REQS]);
	add_u64(o, "queue_event_count", d[VIRTIO_CTR_KICKS_EVEN] +
					     d[VIRTIO_CTR_KICKS_ODD]);
	add_u64(o, "update_count", d[VIRTIO_CTR_UPDATES]);
	add_u64(o, "update_fails", d[VIRTIO_CTR_UPDATE_FAILS]);
	add_u64(o, "rate_limiter_throttled_events", d[VIRTIO_CTR_THROTTLED]);
}

static void net_fill(struct json_object *o, const uint64_t *d)
{
	add_u64(o, "rx_bytes_count", d[VIRTIO_CTR_RX_BYTES]);
	add_u64(o, "tx_bytes_count", d[VIRTIO_CTR_TX_BYTES]);
	add_u64(o, "rx_packets_count", d[VIRTIO_CTR_RX_PACKETS]);
	add_u64(o, "tx_packets_count", d[VIRTIO_CTR_TX_PACKETS]);
	add_u64(o, "rx_queue_event_count", d[VIRTIO_CTR_KICKS_EVEN]);
	add_u64(o, "tx_queue_event_count", d[VIRTIO_CTR_KICKS_ODD]);
	add_u64(o, "tx_fails", d[VIRTIO_CTR_TX_FAILS]);
	add_u64(o, "tap_write_fails", d[VIRTIO_CTR_TAP_WRITE_FAILS]);
	add_u64(o, "tx_malformed_frames", d[VIRTIO_CTR_TX_MALFORMED]);
	add_u64(o, "tx_spoofed_mac_count", d[VIRTIO_CTR_TX_SPOOFED]);
	add_u64(o, "tap_read_fails", d[VIRTIO_CTR_TAP_READ_FAILS]);
	add_u64(o, "rx_dropped_frames", d[VIRTIO_CTR_RX_DROPPED]);
	add_u64(o, "rx_rate_limiter_throttled", d[VIRTIO_CTR_RX_THROTTLED]);
	add_u64(o, "tx_rate_limiter_throttled", d[VIRTIO_CTR_TX_THROTTLED]);
}

/* Disks and NICs: the sum ("block") and, as Firecracker, each one's own
 * group ("block_rootfs") while it exists. */
struct per_device {
	struct json_object *root;
	const char *group;
	void (*fill)(struct json_object *o, const uint64_t *d);
	uint64_t sum[VIRTIO_CTR_COUNT];
};

static void one_device(void *arg, const char *id,
		       const uint64_t d[VIRTIO_CTR_COUNT])
{
	struct per_device *p = arg;
	struct json_object *o = json_object_new_object();
	char key[128];

	for (int i = 0; i < VIRTIO_CTR_COUNT; i++)
		p->sum[i] += d[i];
	p->fill(o, d);
	snprintf(key, sizeof(key), "%s_%s", p->group, id);
	json_object_object_add(p->root, key, o);
}

static void device_groups(struct vmm *v, struct json_object *root,
			  uint16_t device_id, const char *group,
			  void (*fill)(struct json_object *o,
				       const uint64_t *d))
{
	struct per_device p = { .root = root, .group = group, .fill = fill };
	struct json_object *o = json_object_new_object();

	/* The sum first: the line reads as it did before the per-device. */
	json_object_object_add(root, group, o);
	if (v->have_vm)
		virtio_counters_take_each(&v->vm.dev_ctx, device_id,
					  one_device, &p);
	fill(o, p.sum);
}

/* The virtio-rng device, in Firecracker's names. */
static struct json_object *entropy_json(struct vmm *v)
{
	struct json_object *o = json_object_new_object();
	uint64_t d[VIRTIO_CTR_COUNT];

	device_deltas(v, VIRTIO_ID_RNG, d);
	add_u64(o, "entropy_bytes", d[VIRTIO_CTR_ENTROPY_BYTES]);
	add_u64(o, "entropy_rate_limiter_throttled", d[VIRTIO_CTR_THROTTLED]);
	return o;
}

/*
 * The virtio-vsock device in Firecracker's names (rx: to the guest).
 * rx_queue_event_count counts the guest's kicks on the receive and the
 * event queues (they share the even counter); the event queue's are a
 * handful at the driver's start.
 */
static struct json_object *vsock_json(struct vmm *v)
{
	struct json_object *o = json_object_new_object();
	uint64_t d[VIRTIO_CTR_COUNT];

	device_deltas(v, VIRTIO_ID_VSOCK, d);
	add_u64(o, "rx_queue_event_count", d[VIRTIO_CTR_KICKS_EVEN]);
	add_u64(o, "tx_queue_event_count", d[VIRTIO_CTR_KICKS_ODD]);
	add_u64(o, "rx_bytes_count", d[VIRTIO_CTR_RX_BYTES]);
	add_u64(o, "tx_bytes_count", d[VIRTIO_CTR_TX_BYTES]);
	add_u64(o, "rx_packets_count", d[VIRTIO_CTR_RX_PACKETS]);
	add_u64(o, "tx_packets_count", d[VIRTIO_CTR_TX_PACKETS]);
	add_u64(o, "conns_added", d[VIRTIO_CTR_CONNS_ADDED]);
	add_u64(o, "conns_killed", d[VIRTIO_CTR_CONNS_KILLED]);
	add_u64(o, "conns_removed", d[VIRTIO_CTR_CONNS_REMOVED]);
	add_u64(o, "tx_write_fails", d[VIRTIO_CTR_VSOCK_WRITE_FAILS]);
	add_u64(o, "rx_read_fails", d[VIRTIO_CTR_VSOCK_READ_FAILS]);
	return o;
}

/* Firecracker's names where it has them; pages and bytes are mvm's. */
static struct json_object *balloon_json(struct vmm *v)
{
	struct json_object *o = json_object_new_object();
	uint64_t d[VIRTIO_CTR_COUNT];

	device_deltas(v, VIRTIO_ID_BALLOON, d);
	add_u64(o, "inflate_count", d[VIRTIO_CTR_INFLATE_COUNT]);
	add_u64(o, "deflate_count", d[VIRTIO_CTR_DEFLATE_COUNT]);
	add_u64(o, "inflate_pages", d[VIRTIO_CTR_INFLATE_PAGES]);
	add_u64(o, "deflate_pages", d[VIRTIO_CTR_DEFLATE_PAGES]);
	add_u64(o, "stats_updates_count", d[VIRTIO_CTR_STATS_UPDATES]);
	add_u64(o, "free_page_hint_freed", d[VIRTIO_CTR_HINT_BYTES]);
	add_u64(o, "free_page_report_freed", d[VIRTIO_CTR_REPORT_BYTES]);
	add_u64(o, "discard_fails", d[VIRTIO_CTR_FAIL_COUNT]);
	return o;
}

/*
 * Dynamic memory's controller: its decisions that grew and shrank the
 * guest, the ticks it sat frozen (the guest hosting guests) and the
 * changes a device refused.
 */
static struct json_object *dynmem_json(struct vmm *v)
{
	static const char *const keys[] = { "grow_count", "shrink_count",
					    "frozen_ticks", "fails" };
	const struct vmm_dynmem *d = &v->dynmem;
	uint64_t now[4] = { d->grows, d->shrinks, d->frozen_ticks, d->fails };
	struct json_object *o = json_object_new_object();

	for (int i = 0; i < 4; i++) {
		add_u64(o, keys[i], now[i] - v->metrics.last_dynmem[i]);
		v->metrics.last_dynmem[i] = now[i];
	}
	return o;
}

/* The console's bytes lost to a reader that stopped draining (outq.h). */
static struct json_object *serial_json(struct vmm *v)
{
	struct json_object *o = json_object_new_object();
	uint64_t now = outq_dropped(&v->console_q);

	add_u64(o, "dropped_bytes", now - v->metrics.last_serial_dropped);
	v->metrics.last_serial_dropped = now;
	return o;
}

/* Upper bound (us) of the bucket holding the q-th fraction of requests. */
static uint64_t percentile(const uint64_t *lat, uint64_t total, double q)
{
	uint64_t want = (uint64_t)((double)total * q + 0.999999), seen = 0;

	if (!total)
		return 0;
	for (unsigned b = 0; b < VMM_LAT_BUCKETS; b++) {
		seen += lat[b];
		if (seen >= want)
			return 1ull << b;
	}
	return 1ull << (VMM_LAT_BUCKETS - 1);
}

/* Firecracker groups request counters by method: get_api_requests... */
static void api_json(struct vmm *v, struct json_object *root)
{
	static const char *const methods[] = { "GET", "PUT", "PATCH",
					       "DELETE" };
	static const char *const keys[] = { "get_api_requests",
					    "put_api_requests",
					    "patch_api_requests",
					    "delete_api_requests" };
	struct vmm_api_stats *now = &v->api_stats, *last = &v->metrics.last_api;
	struct json_object *api = json_object_new_object();
	struct json_object *lat = json_object_new_object();
	uint64_t d[VMM_LAT_BUCKETS], fails = now->other_fails - last->other_fails;
	char key[64];

	for (int m = 0; m < 4; m++) {
		struct json_object *o = json_object_new_object();

		for (unsigned r = 0; r < v->routes.n; r++) {
			if (strcmp(v->routes.method[r], methods[m]))
				continue;
			snprintf(key, sizeof(key), "%s_count",
				 v->routes.name[r]);
			add_u64(o, key, now->count[r] - last->count[r]);
			snprintf(key, sizeof(key), "%s_fails",
				 v->routes.name[r]);
			add_u64(o, key, now->fails[r] - last->fails[r]);
		}
		json_object_object_add(root, keys[m], o);
	}
	for (unsigned r = 0; r < VMM_MAX_ROUTES; r++)
		fails += now->fails[r] - last->fails[r];
	for (unsigned b = 0; b < VMM_LAT_BUCKETS; b++)
		d[b] = now->lat[b] - last->lat[b];
	add_u64(api, "requests", now->requests - last->requests);
	add_u64(api, "fails", fails);
	add_u64(lat, "p50", percentile(d, now->requests - last->requests, 0.5));
	add_u64(lat, "p99", percentile(d, now->requests - last->requests,
				       0.99));
	add_u64(lat, "max", now->lat_max_us);
	json_object_object_add(api, "latency_us", lat);
	json_object_object_add(root, "api", api);
	*last = *now;
	now->lat_max_us = 0; /* the maximum is per interval too */
	last->lat_max_us = 0;
}

/*
 * Firecracker's api_server group: how long the start took, a value held
 * rather than a count (0 until the launcher's times were given).
 */
static struct json_object *startup_json(struct vmm *v)
{
	struct json_object *o = json_object_new_object();

	add_u64(o, "process_startup_time_us", v->startup.startup_us);
	add_u64(o, "process_startup_time_cpu_us", v->startup.startup_cpu_us);
	return o;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int vmm_metrics_flush(struct vmm *v, struct mvm_err *err)
{
	struct json_object *o;
	const char *text;
	int ret;

	/* As Firecracker: a flush with nowhere to write writes nothing. */
	if (!v->spec.metrics_set)
		return 0;
	if (v->metrics.fd < 0)
		return 0; /* a dry run */
	o = json_object_new_object();
	add_u64(o, "utc_timestamp_ms", mvm_real_ns() / 1000000);
	json_object_object_add(o, "state",
			       json_object_new_string(vm_state_name(v->state)));
	json_object_object_add(o, "vcpu", vcpu_json(v));
	device_groups(v, o, VIRTIO_ID_BLOCK, "block", block_fill);
	device_groups(v, o, VIRTIO_ID_NET, "net", net_fill);
	json_object_object_add(o, "entropy", entropy_json(v));
	json_object_object_add(o, "balloon", balloon_json(v));
	json_object_object_add(o, "vsock", vsock_json(v));
	json_object_object_add(o, "dynamic_memory", dynmem_json(v));
	json_object_object_add(o, "serial", serial_json(v));
	api_json(v, o);
	json_object_object_add(o, "api_server", startup_json(v));
	vmm_metrics_fc_add(v, o);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text) {
		json_object_put(o);
		v->metrics.counts.metrics_fails++;
		return mvm_fail(err, -ENOMEM, "metrics: cannot build the line");
	}
	ret = write_all(v->metrics.fd, text, strlen(text));
	if (!ret)
		ret = write_all(v->metrics.fd, "\n", 1);
	json_object_put(o);
	if (ret) {
		v->metrics.counts.missed_metrics++;
		return mvm_fail(err, ret, "metrics: cannot write to '%s': %s",
				v->spec.metrics_path, strerror(-ret));
	}
	v->metrics.lines++;
	return 0;
}

static void on_period(void *ctx)
{
	struct vmm *v = ctx;
	struct mvm_err err;
	uint64_t n;

	if (read(v->metrics.timer_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	if (vmm_metrics_flush(v, &err))
		vmm_log(v, API_LOG_ERROR, "metrics", "%s", err.msg);
}

static int start_timer(struct vmm *v, struct mvm_err *err)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = METRICS_PERIOD_S },
		.it_interval = { .tv_sec = METRICS_PERIOD_S },
	};

	v->metrics.timer_fd = timerfd_create(CLOCK_MONOTONIC,
					     TFD_NONBLOCK | TFD_CLOEXEC);
	if (v->metrics.timer_fd < 0)
		return mvm_fail(err, -errno, "timerfd: %s", strerror(errno));
	timerfd_settime(v->metrics.timer_fd, 0, &its, NULL);
	if (loop_watch_add(&v->loop, &v->metrics.timer_watch,
			   v->metrics.timer_fd, on_period, v))
		return mvm_fail(err, -EBUSY, "metrics: cannot watch the timer");
	/* A line written mid-teardown would read a VM being freed. */
	v->metrics.timer_watch.holdable = true;
	v->metrics.timer_armed = true;
	return 0;
}

int vmm_metrics_set(struct vmm *v, struct vm_spec *src, struct mvm_err *err)
{
	int fd = -1, ret;

	if (v->metrics.fd >= 0 || (src != &v->spec && v->spec.metrics_set))
		return mvm_fail(err, -EINVAL, "metrics: already configured");
	if (!v->dry_run) {
		fd = open(src->metrics_path, O_WRONLY | O_APPEND | O_CREAT |
					     O_NONBLOCK | O_CLOEXEC | O_NOCTTY,
			  0600);
		if (fd < 0)
			return mvm_fail(err, -errno, "metrics_path: cannot open "
					"'%s': %s", src->metrics_path,
					strerror(errno));
	}
	if (src != &v->spec) {
		free(v->spec.metrics_path);
		v->spec.metrics_path = src->metrics_path;
		src->metrics_path = NULL;
		v->spec.metrics_set = true;
	}
	v->metrics.fd = fd;
	if (fd < 0)
		return 0;
	ret = start_timer(v, err);
	if (ret)
		vmm_log(v, API_LOG_ERROR, "metrics", "%s", err->msg);
	return 0; /* explicit flushes still work without the period */
}

void vmm_metrics_fini(struct vmm *v)
{
	struct mvm_err err;

	/* The last interval, as at exit, unless the VM's end wrote it. */
	if (v->metrics.fd >= 0 && !v->metrics.final_flushed)
		vmm_metrics_flush(v, &err);
	if (v->metrics.timer_armed)
		loop_watch_cancel(&v->metrics.timer_watch);
	v->metrics.timer_armed = false;
	if (v->metrics.timer_fd >= 0)
		close(v->metrics.timer_fd);
	if (v->metrics.fd >= 0)
		close(v->metrics.fd);
	v->metrics.timer_fd = v->metrics.fd = -1;
}
