/*
 * The metrics groups mvm carries in Firecracker's names, beside its own
 * (metrics.c writes the line): uart, i8042, the vcpu group's exits each
 * way, vmm, interrupts, latencies_us, logger, signals and mmds. Counters are deltas since
 * the previous line, as in the rest of the line; latencies are values
 * held. What mvm cannot count is left out rather than written as a
 * constant (README, "Metrics").
 */
#include <json-c/json.h>

#include "mvm/clock.h"
#include "mvm/mmds.h"
#include "mvm/vmm.h"
#include "vmm_priv.h"

/* now - *last, or now when the total restarted (a new VM's device). */
static uint64_t delta(uint64_t now, uint64_t *last)
{
	uint64_t d = now >= *last ? now - *last : now;

	*last = now;
	return d;
}

static void add_delta(struct json_object *o, const char *k, uint64_t now,
		      uint64_t *last)
{
	json_object_object_add(o, k, json_object_new_uint64(delta(now, last)));
}

static void add_held(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

/*
 * The UART as the guest used it, and its output as the console queue
 * wrote it: flush_count is the queue's writes to the output, error_count
 * adds the writes that failed to the IRQ changes KVM refused, and bytes
 * the queue dropped are writes that did not go out (missed_write_count).
 */
static struct json_object *uart_json(struct vmm *v)
{
	struct vmm_fc_last *l = &v->metrics.last_fc;
	struct json_object *o = json_object_new_object();
	struct serial_counts c = { 0 };
	struct outq_counts q;
	uint64_t errors, missed;

	if (v->have_vm && v->vm.serial)
		serial_counts(v->vm.serial, &c);
	outq_counts(&v->console_q, &q);
	/* The queue outlives the VMs; the UART's counts restart with each. */
	errors = delta(c.error_count, &l->uart.error_count) +
		 delta(q.write_fails, &l->outq.write_fails);
	missed = delta(c.missed_write_count, &l->uart.missed_write_count) +
		 delta(q.dropped, &l->outq.dropped);
	add_held(o, "error_count", errors);
	add_delta(o, "flush_count", q.writes, &l->outq.writes);
	add_delta(o, "missed_read_count", c.missed_read_count,
		  &l->uart.missed_read_count);
	add_held(o, "missed_write_count", missed);
	add_delta(o, "read_count", c.read_count, &l->uart.read_count);
	add_delta(o, "write_count", c.write_count, &l->uart.write_count);
	return o;
}

static struct json_object *i8042_json(struct vmm *v)
{
	struct i8042_counts *l = &v->metrics.last_fc.i8042;
	struct json_object *o = json_object_new_object();
	struct i8042_counts c = { 0 };

	if (v->have_vm && v->vm.i8042)
		i8042_counts(v->vm.i8042, &c);
	add_delta(o, "error_count", c.error_count, &l->error_count);
	add_delta(o, "missed_read_count", c.missed_read_count,
		  &l->missed_read_count);
	add_delta(o, "missed_write_count", c.missed_write_count,
		  &l->missed_write_count);
	add_delta(o, "read_count", c.read_count, &l->read_count);
	add_delta(o, "reset_count", c.reset_count, &l->reset_count);
	add_delta(o, "write_count", c.write_count, &l->write_count);
	return o;
}

/* Firecracker's keys in mvm's vcpu group (metrics.c made it). */
void vmm_metrics_fc_vcpu(struct vmm *v, struct json_object *vcpu)
{
	static const char *const keys[VCPU_COUNTS] = {
		"exit_io_in", "exit_io_out", "exit_mmio_read",
		"exit_mmio_write", "failures", "kvmclock_ctrl_fails"
	};
	uint64_t now[VCPU_COUNTS] = { 0 };

	if (v->have_vm)
		for (unsigned i = 0; i < v->vm.nr_vcpus; i++)
			vcpu_counts_add(v->vm.vcpus[i], now);
	for (int i = 0; i < VCPU_COUNTS; i++)
		add_delta(vcpu, keys[i], now[i], &v->metrics.last_fc.vcpu[i]);
}

/* Firecracker counts its own panics here; mvm counts the guest's. */
static struct json_object *vmm_json(struct vmm *v)
{
	struct json_object *o = json_object_new_object();
	uint64_t now = 0;

	if (v->have_vm)
		now = atomic_load_explicit(&v->vm.dev_ctx.guest_panics,
					   memory_order_relaxed);
	add_delta(o, "panic_count", now, &v->metrics.last_fc.panics);
	return o;
}

/* Virtio interrupts sent, and MSI routes changed for a new message. */
static struct json_object *interrupts_json(struct vmm *v)
{
	struct vmm_fc_last *l = &v->metrics.last_fc;
	struct json_object *o = json_object_new_object();
	uint64_t triggers = 0, updates = 0;

	if (v->have_vm) {
		triggers = atomic_load_explicit(&v->vm.dev_ctx.irq_counts.triggers,
						memory_order_relaxed);
		updates = atomic_load_explicit(
			&v->vm.dev_ctx.irq_counts.config_updates,
			memory_order_relaxed);
	}
	add_delta(o, "triggers", triggers, &l->irq_triggers);
	add_delta(o, "config_updates", updates, &l->irq_config_updates);
	return o;
}

static struct json_object *latencies_json(struct vmm *v)
{
	static const char *const names[VMM_LATENCIES] = {
		[VMM_LAT_FULL_CREATE_SNAPSHOT] = "full_create_snapshot",
		[VMM_LAT_DIFF_CREATE_SNAPSHOT] = "diff_create_snapshot",
		[VMM_LAT_LOAD_SNAPSHOT] = "load_snapshot",
		[VMM_LAT_PAUSE_VM] = "pause_vm",
		[VMM_LAT_RESUME_VM] = "resume_vm",
	};
	const struct vmm_latencies *l = &v->metrics.latencies;
	struct json_object *o = json_object_new_object();
	char key[64];

	for (int i = 0; i < VMM_LATENCIES; i++)
		add_held(o, names[i], l->api_us[i]);
	for (int i = 0; i < VMM_LATENCIES; i++) {
		snprintf(key, sizeof(key), "vmm_%s", names[i]);
		add_held(o, key, l->vmm_us[i]);
	}
	return o;
}

/* mvm's log has no rate limit: rate_limited_log_count is left out. */
static struct json_object *logger_json(struct vmm *v)
{
	struct vmm_fc_counts *c = &v->metrics.counts, *l = &v->metrics.last_fc.own;
	struct json_object *o = json_object_new_object();

	add_delta(o, "missed_metrics_count", c->missed_metrics,
		  &l->missed_metrics);
	add_delta(o, "metrics_fails", c->metrics_fails, &l->metrics_fails);
	add_delta(o, "missed_log_count", c->missed_log, &l->missed_log);
	return o;
}

/*
 * Of Firecracker's signals, mvm handles SIGHUP only (it ends the VM, as
 * SIGTERM does); SIGPIPE is ignored and the faults are left to kill the
 * process, so their keys are left out.
 */
static struct json_object *signals_json(struct vmm *v)
{
	struct json_object *o = json_object_new_object();

	add_delta(o, "sighup", v->metrics.counts.sighup,
		  &v->metrics.last_fc.own.sighup);
	return o;
}

/*
 * MMDS as every NIC that serves it counted it in the store, which
 * outlives the VMs. tx_count is tx_frames: each send is one frame.
 */
static struct json_object *mmds_json(struct vmm *v)
{
	struct mmds_counters *l = &v->metrics.last_fc.mmds, c = { 0 };
	struct json_object *o = json_object_new_object();
	uint64_t frames;

	if (v->mmds)
		c = *mmds_counters(v->mmds);
	add_delta(o, "rx_accepted", c.rx_accepted, &l->rx_accepted);
	add_delta(o, "rx_accepted_err", c.rx_accepted_err,
		  &l->rx_accepted_err);
	add_delta(o, "rx_bad_eth", c.rx_bad_eth, &l->rx_bad_eth);
	add_delta(o, "rx_count", c.rx_count, &l->rx_count);
	add_delta(o, "rx_invalid_token", c.rx_invalid_token,
		  &l->rx_invalid_token);
	add_delta(o, "rx_no_token", c.rx_no_token, &l->rx_no_token);
	add_delta(o, "tx_bytes", c.tx_bytes, &l->tx_bytes);
	frames = delta(c.tx_frames, &l->tx_frames);
	add_held(o, "tx_count", frames);
	add_held(o, "tx_frames", frames);
	return o;
}

void vmm_metrics_fc_add(struct vmm *v, struct json_object *root)
{
	json_object_object_add(root, "uart", uart_json(v));
	json_object_object_add(root, "i8042", i8042_json(v));
	json_object_object_add(root, "vmm", vmm_json(v));
	json_object_object_add(root, "interrupts", interrupts_json(v));
	json_object_object_add(root, "latencies_us", latencies_json(v));
	json_object_object_add(root, "logger", logger_json(v));
	json_object_object_add(root, "signals", signals_json(v));
	json_object_object_add(root, "mmds", mmds_json(v));
}

/* Microseconds since start_ns, rounded up: a done op never reads 0. */
static uint64_t us_since(uint64_t start_ns)
{
	uint64_t now = mvm_mono_ns();

	return now > start_ns ? (now - start_ns + 999) / 1000 : 1;
}

void vmm_latency_api(struct vmm *v, enum vmm_latency op, uint64_t start_ns)
{
	if ((unsigned)op < VMM_LATENCIES)
		v->metrics.latencies.api_us[op] = us_since(start_ns);
}

void vmm_latency_vmm(struct vmm *v, enum vmm_latency op, uint64_t start_ns)
{
	if ((unsigned)op < VMM_LATENCIES)
		v->metrics.latencies.vmm_us[op] = us_since(start_ns);
}
