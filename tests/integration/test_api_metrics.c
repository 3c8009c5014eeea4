/*
 * The metrics line's groups in Firecracker's names (uart, i8042, vcpu,
 * vmm, interrupts, latencies_us, logger, signals, mmds): every key there with
 * an integer, and the counts moving with what the guest and the API did.
 * The disks' groups are checked with a guest that reads its disk
 * (test_api_drive.c).
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_client.h"
#include "harness.h"

static void call_ok(struct api_proc *p, const char *method, const char *path,
		    const char *body)
{
	struct api_resp r;

	cr_assert_eq(api_call(p->sock, method, path, body, &r), 204,
		     "%s %s %s -> %d %s\n%s", method, path, body, r.status,
		     r.body, p->err);
}

static char *slurp(const char *path)
{
	static char buf[1 << 17];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* The metrics file's last line, parsed (the caller puts it). */
static struct json_object *last_line(const char *path)
{
	char *text = slurp(path), *end = text + strlen(text), *start;
	struct json_object *o;

	cr_assert(end > text && end[-1] == '\n', "metrics file: '%s'", text);
	end[-1] = '\0';
	start = strrchr(text, '\n');
	start = start ? start + 1 : text;
	o = json_tokener_parse(start);
	cr_assert(o, "not JSON: %s", start);
	return o;
}

/* root.group.key, which must be an integer. */
static uint64_t val(struct json_object *root, const char *group,
		    const char *key)
{
	struct json_object *g, *k;

	cr_assert(json_object_object_get_ex(root, group, &g) &&
			  json_object_is_type(g, json_type_object),
		  "no group %s: %s", group, json_object_to_json_string(root));
	cr_assert(json_object_object_get_ex(g, key, &k) &&
			  json_object_is_type(k, json_type_int),
		  "no integer %s.%s: %s", group, key,
		  json_object_to_json_string(g));
	return json_object_get_uint64(k);
}

static void has_keys(struct json_object *root, const char *group,
		     const char *const *keys)
{
	for (; *keys; keys++)
		val(root, group, *keys);
}

static void all_keys(struct json_object *o)
{
	static const char *const uart[] = { "error_count", "flush_count",
		"missed_read_count", "missed_write_count", "read_count",
		"write_count", NULL };
	static const char *const i8042[] = { "error_count",
		"missed_read_count", "missed_write_count", "read_count",
		"reset_count", "write_count", NULL };
	static const char *const vcpu[] = { "exit_io", "exit_mmio",
		"exit_io_in", "exit_io_out", "exit_mmio_read",
		"exit_mmio_write", "failures", "kvmclock_ctrl_fails", NULL };
	static const char *const lat[] = { "full_create_snapshot",
		"diff_create_snapshot", "load_snapshot", "pause_vm",
		"resume_vm", "vmm_full_create_snapshot",
		"vmm_diff_create_snapshot", "vmm_load_snapshot",
		"vmm_pause_vm", "vmm_resume_vm", NULL };
	static const char *const logger[] = { "missed_metrics_count",
		"metrics_fails", "missed_log_count", NULL };
	static const char *const vmm[] = { "panic_count", NULL };
	static const char *const sig[] = { "sighup", NULL };
	static const char *const mmds[] = { "rx_accepted", "rx_accepted_err",
		"rx_bad_eth", "rx_count", "rx_invalid_token", "rx_no_token",
		"tx_bytes", "tx_count", "tx_frames", NULL };
	static const char *const serial[] = { "dropped_bytes", NULL };
	static const char *const irq[] = { "triggers", "config_updates",
		NULL };
	static const char *const block[] = { "read_count", "write_count",
		"flush_count", "execute_fails", "invalid_reqs_count",
		"queue_event_count", NULL };
	static const char *const net[] = { "rx_packets_count",
		"tx_packets_count", "rx_queue_event_count",
		"tx_queue_event_count", NULL };

	has_keys(o, "uart", uart);
	has_keys(o, "serial", serial); /* mvm's own stays */
	has_keys(o, "i8042", i8042);
	has_keys(o, "vcpu", vcpu);
	has_keys(o, "latencies_us", lat);
	has_keys(o, "logger", logger);
	has_keys(o, "vmm", vmm);
	has_keys(o, "signals", sig);
	has_keys(o, "mmds", mmds);
	has_keys(o, "interrupts", irq);
	has_keys(o, "block", block); /* the sums, even with no disk */
	has_keys(o, "net", net);
}

static void configure(struct api_proc *p, const char *met, const char *action)
{
	char body[512];

	cr_assert_eq(api_spawn(p, NULL), 0);
	snprintf(body, sizeof(body), "{\"metrics_path\": \"%s\"}", met);
	call_ok(p, "PUT", "/metrics", body);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"action=%s\"}", guest_path("mb_action"),
		 action);
	call_ok(p, "PUT", "/boot-source", body);
	call_ok(p, "PATCH", "/machine-config", "{\"mem_size_mib\": 32}");
	call_ok(p, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
}

static void flush(struct api_proc *p)
{
	call_ok(p, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}");
}

Test(api_metrics, firecracker_groups_count_what_happened, .timeout = 60)
{
	char *met = temp_file("met", "", 0), *state = temp_file("st", "", 0);
	char *mem = temp_file("mem", "", 0), body[768];
	struct api_proc p;
	struct json_object *o;
	uint64_t pause_us;

	/* Names for the snapshot's files, which it creates. */
	unlink(state);
	unlink(mem);

	/* The guest polls the i8042 and prints on the UART. */
	configure(&p, met, "kbd");
	cr_assert(api_wait_out(&p, "kbd ready", 10), "%s\n%s", p.out, p.err);
	call_ok(&p, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	snprintf(body, sizeof(body), "{\"snapshot_type\": \"Full\", "
		 "\"snapshot_path\": \"%s\", \"mem_file_path\": \"%s\"}",
		 state, mem);
	call_ok(&p, "PUT", "/snapshot/create", body);
	call_ok(&p, "PATCH", "/vm", "{\"state\": \"Resumed\"}");
	usleep(100000);
	/* Paused again, so that the exit counters hold still for the line. */
	call_ok(&p, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	flush(&p);
	call_ok(&p, "PATCH", "/vm", "{\"state\": \"Resumed\"}");

	o = last_line(met);
	all_keys(o);
	cr_expect_gt(val(o, "uart", "write_count"), strlen("kbd ready"));
	cr_expect_gt(val(o, "uart", "flush_count"), 0);
	cr_expect_eq(val(o, "uart", "missed_read_count"), 0);
	cr_expect_gt(val(o, "i8042", "read_count"), 0);
	cr_expect_gt(val(o, "i8042", "write_count"), 0); /* read the CTR */
	cr_expect_eq(val(o, "i8042", "reset_count"), 0);
	cr_expect_gt(val(o, "vcpu", "exit_io_in"), 0);
	cr_expect_gt(val(o, "vcpu", "exit_io_out"), 0);
	/* Every PIO exit is one way or the other. */
	cr_expect_eq(val(o, "vcpu", "exit_io_in") +
			     val(o, "vcpu", "exit_io_out"),
		     val(o, "vcpu", "exit_io"));
	cr_expect_eq(val(o, "vcpu", "exit_mmio_read") +
			     val(o, "vcpu", "exit_mmio_write"),
		     val(o, "vcpu", "exit_mmio"));
	cr_expect_eq(val(o, "vcpu", "failures"), 0);
	cr_expect_eq(val(o, "vcpu", "kvmclock_ctrl_fails"), 0);
	cr_expect_eq(val(o, "vmm", "panic_count"), 0);
	pause_us = val(o, "latencies_us", "pause_vm");
	cr_expect_gt(pause_us, 0);
	cr_expect_gt(val(o, "latencies_us", "resume_vm"), 0);
	cr_expect_gt(val(o, "latencies_us", "full_create_snapshot"), 0);
	cr_expect_gt(val(o, "latencies_us", "vmm_pause_vm"), 0);
	cr_expect_gt(val(o, "latencies_us", "vmm_resume_vm"), 0);
	cr_expect_gt(val(o, "latencies_us", "vmm_full_create_snapshot"), 0);
	/* The API's view holds the VMM's part. */
	cr_expect_geq(pause_us, val(o, "latencies_us", "vmm_pause_vm"));
	cr_expect_geq(val(o, "latencies_us", "full_create_snapshot"),
		      val(o, "latencies_us", "vmm_full_create_snapshot"));
	cr_expect_eq(val(o, "latencies_us", "diff_create_snapshot"), 0);
	cr_expect_eq(val(o, "latencies_us", "load_snapshot"), 0);
	cr_expect_eq(val(o, "logger", "missed_metrics_count"), 0);
	cr_expect_eq(val(o, "signals", "sighup"), 0);
	json_object_put(o);

	/* Counters start again from the last line; latencies are held. */
	usleep(100000);
	flush(&p);
	o = last_line(met);
	cr_expect_eq(val(o, "latencies_us", "pause_vm"), pause_us);
	cr_expect_gt(val(o, "i8042", "read_count"), 0); /* still polling */
	cr_expect_lt(val(o, "uart", "write_count"), strlen("kbd ready"));
	json_object_put(o);

	/* SIGHUP ends mvm; the last line counts it. */
	kill(p.pid, SIGHUP);
	cr_expect_eq(api_wait_exit(&p, 10), 128 + SIGHUP);
	o = last_line(met);
	all_keys(o);
	cr_expect_eq(val(o, "signals", "sighup"), 1);
	json_object_put(o);
	api_proc_free(&p);

	/* A load: its latencies and the resume it asked for. */
	cr_assert_eq(api_spawn(&p, NULL), 0);
	snprintf(body, sizeof(body), "{\"metrics_path\": \"%s\"}", met);
	call_ok(&p, "PUT", "/metrics", body);
	snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\", "
		 "\"mem_backend\": {\"backend_type\": \"File\", "
		 "\"backend_path\": \"%s\"}, \"resume_vm\": true}", state, mem);
	call_ok(&p, "PUT", "/snapshot/load", body);
	flush(&p);
	o = last_line(met);
	all_keys(o);
	cr_expect_gt(val(o, "latencies_us", "load_snapshot"), 0);
	cr_expect_gt(val(o, "latencies_us", "vmm_load_snapshot"), 0);
	cr_expect_gt(val(o, "latencies_us", "vmm_resume_vm"), 0);
	cr_expect_eq(val(o, "latencies_us", "resume_vm"), 0); /* no PATCH */
	cr_expect_eq(val(o, "latencies_us", "pause_vm"), 0);
	json_object_put(o);
	api_stop(&p);
	api_proc_free(&p);
	unlink(met);
	unlink(state);
	unlink(mem);
	free(met);
	free(state);
	free(mem);
}

Test(api_metrics, guest_panic_is_counted, .timeout = 30)
{
	char *met = temp_file("met", "", 0);
	struct api_proc p;
	struct json_object *o;

	configure(&p, met, "panic");
	/* The crash status; the VM's end writes the last line. */
	cr_expect_eq(api_wait_exit(&p, 10), 2, "%s\n%s", p.out, p.err);
	o = last_line(met);
	all_keys(o);
	cr_expect_eq(val(o, "vmm", "panic_count"), 1);
	cr_expect_eq(val(o, "vcpu", "failures"), 0); /* not a vCPU's error */
	cr_expect_gt(val(o, "uart", "write_count"), strlen("panicking"));
	json_object_put(o);
	api_proc_free(&p);
	unlink(met);
	free(met);
}
