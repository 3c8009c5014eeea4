/*
 * Dynamic memory (PUT/GET/PATCH /dynamic-memory, --dynamic-memory) with
 * the virtio test kernel's test=dynmem guest (tests/guests/virtio/
 * t_balloon.c): a balloon and virtio-mem driver whose statistics say it
 * uses what the test tells it over the console ('h': 300 MiB, 'l': 16).
 * Idle, the controller shrinks it by inflating the balloon, a step at a
 * time, down to min_mib and no further; under pressure it deflates the
 * balloon first, then has virtio-mem blocks plugged, never beyond max_mib;
 * idle again, it unplugs, then inflates. mvm adds the balloon and the
 * hotpluggable memory it needs and says so in GET /vm/config; the
 * decisions are logged and counted in the metrics; a snapshot brings the
 * settings into a new mvm whose controller goes on. Every endpoint
 * refuses bad input with 400 naming the field.
 *
 * Not run here: the controller frozen (GET /dynamic-memory "frozen": true
 * with the policy's reason, GET /vm/policy's entry, PATCH 409) while the
 * guest hosts guests of its own, and resuming once it stops: that needs a
 * guest hypervisor, which this host's KVM cannot run. The freezing is a
 * pure function (dynmem_tick, dynmem_frozen) that the unit tests cover
 * (tests/unit/test_dynmem.c); the tests below check the unfrozen side.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_client.h"
#include "harness.h"
#include "snap_files.h"

#define GUEST "test=dynmem pool=160 used=16 high=300 low=16"
#define DYNMEM "{\"enabled\": true, \"min_mib\": 128, \"max_mib\": 512}"

static void note_not_run(void)
{
	fprintf(stderr, "[NOTE] dynamic memory: NOT RUN here: frozen while "
		"the guest hosts guests (needs nested virtualization, which "
		"this host's KVM lacks); unit-tested as a pure function\n");
}

static void refused(struct api_proc *p, const char *method, const char *path,
		    const char *body, const char *text)
{
	struct api_resp r;

	cr_assert_eq(api_call(p->sock, method, path, body, &r), 400,
		     "%s %s %s -> %d %s", method, path, body ? body : "",
		     r.status, r.body);
	cr_assert(fault_has(&r, text), "%s %s %s: want '%s': %s", method,
		  path, body ? body : "", text, r.body);
}

static struct json_object *get(struct api_proc *p, const char *path)
{
	struct api_resp r;
	struct json_object *o;

	cr_assert_eq(api_call(p->sock, "GET", path, NULL, &r), 200,
		     "GET %s -> %d %s", path, r.status, r.body);
	o = json_tokener_parse(r.body);
	cr_assert_not_null(o, "%s", r.body);
	return o;
}

/* o's field key (an object's, with a dot: "balloon.amount_mib"); -1. */
static long long field(struct json_object *o, const char *key)
{
	struct json_object *v;
	const char *dot = strchr(key, '.');
	char head[64];

	if (dot) {
		snprintf(head, sizeof(head), "%.*s", (int)(dot - key), key);
		if (!json_object_object_get_ex(o, head, &v))
			return -1;
		return field(v, dot + 1);
	}
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return -1;
	return json_object_get_int64(v);
}

static long long get_field(struct api_proc *p, const char *path,
			   const char *key)
{
	struct json_object *o = get(p, path);
	long long v = field(o, key);

	json_object_put(o);
	return v;
}

static void say(struct api_proc *p, char c)
{
	cr_assert_eq(write(p->in_fd, &c, 1), 1);
}

static void wait_out(struct api_proc *p, const char *text, double seconds)
{
	cr_assert(api_wait_out(p, text, seconds), "no '%s':\n%s\nstderr:\n%s",
		  text, p->out, p->err);
}

/*
 * Poll GET /dynamic-memory until current_mib is want (within seconds),
 * every size seen between min and max.
 */
static void wait_current(struct api_proc *p, long long want, double seconds)
{
	long long cur = -1;

	for (double t = 0; t < seconds; t += 0.25) {
		struct json_object *o = get(p, "/dynamic-memory");

		cur = field(o, "current_mib");
		cr_assert_geq(cur, 128, "below min_mib: %s",
			      json_object_to_json_string(o));
		cr_assert_leq(field(o, "target_mib"), 512, "%s",
			      json_object_to_json_string(o));
		json_object_put(o);
		if (cur == want)
			return;
		api_drain(p, 0.25);
	}
	cr_assert_fail("current_mib %lld after %.0f s, want %lld\n%s\n%s",
		       cur, seconds, want, p->out, p->err);
}

/* bz_virtio's test=dynmem on 256 MiB, with logger and metrics in dir. */
static void configure(struct api_proc *p, const char *dynmem)
{
	char body[512];

	cr_assert_eq(api_spawn(p, NULL), 0);
	call_ok(p, "PUT", "/machine-config", "{\"vcpu_count\": 1, "
		"\"mem_size_mib\": 256}");
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"" GUEST "\"}",
		 guest_path("virtio/bz_virtio"));
	call_ok(p, "PUT", "/boot-source", body);
	snprintf(body, sizeof(body), "{\"log_path\": \"%s\", \"level\": "
		 "\"Info\"}", path_in("log"));
	call_ok(p, "PUT", "/logger", body);
	snprintf(body, sizeof(body), "{\"metrics_path\": \"%s\"}",
		 path_in("metrics"));
	call_ok(p, "PUT", "/metrics", body);
	if (dynmem)
		call_ok(p, "PUT", "/dynamic-memory", dynmem);
}

static void start(struct api_proc *p, const char *ready)
{
	call_ok(p, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	wait_out(p, ready, 60);
}

/* Sum of dynamic_memory.<key> over the metrics file's lines. */
static long long metric(const char *key)
{
	FILE *f = fopen(path_in("metrics"), "r");
	char line[16384], k[64];
	long long sum = 0;

	cr_assert_not_null(f);
	snprintf(k, sizeof(k), "dynamic_memory.%s", key);
	while (fgets(line, sizeof(line), f)) {
		struct json_object *o = json_tokener_parse(line);

		cr_assert_not_null(o, "%s", line);
		if (field(o, k) > 0)
			sum += field(o, k);
		json_object_put(o);
	}
	fclose(f);
	return sum;
}

static char *slurp(const char *path)
{
	static char buf[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n;

	cr_assert_not_null(f, "%s", path);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* What mvm added for dynamic memory, in GET /vm/config. */
static void check_added(struct api_proc *p)
{
	struct json_object *o = get(p, "/vm/config");
	const char *text;

	cr_assert_eq(field(o, "balloon.stats_polling_interval_s"), 1, "%s",
		     json_object_to_json_string(o));
	cr_assert_eq(field(o, "memory-hotplug.total_size_mib"), 256);
	cr_assert_eq(field(o, "memory-hotplug.block_size_mib"), 2);
	cr_assert_eq(field(o, "dynamic-memory.min_mib"), 128);
	cr_assert_eq(field(o, "dynamic-memory.buffer_percent"), 20);
	json_object_put(o);
	o = get(p, "/vm/policy");
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	cr_assert(strstr(text, "\"op\":\"dynamic_memory\",\"allowed\":true,"
			 "\"warning\":false,\"rule\":null,\"reason\":null,"
			 "\"frozen\":false}"), "%s", text);
	json_object_put(o);
}

/* Idle: down to min by the balloon; the API's own PATCHes refused. */
static void shrinks_idle(struct api_proc *p)
{
	struct json_object *o = get(p, "/dynamic-memory");

	cr_assert_eq(field(o, "current_mib"), 256);
	cr_assert_eq(field(o, "frozen"), 0);
	cr_assert(json_object_object_get_ex(o, "reason", NULL));
	json_object_put(o);
	wait_current(p, 128, 60);
	/*
	 * The guest writes the balloon's actual size, which current_mib
	 * follows, before it prints the line: wait for the line.
	 */
	cr_assert(api_wait_out(p, "dynmem: balloon=64 MiB\n", 10), "%s",
		  p->out);
	cr_assert(api_wait_out(p, "dynmem: balloon=128 MiB\n", 10), "%s",
		  p->out);
	cr_assert_eq(get_field(p, "/balloon", "amount_mib"), 128);
	cr_assert_eq(get_field(p, "/dynamic-memory", "target_mib"), 128);
	refused(p, "PATCH", "/balloon", "{\"amount_mib\": 10}", "amount_mib: "
		"dynamic memory sets the balloon's target while it is on");
	refused(p, "PATCH", "/hotplug/memory", "{\"requested_size_mib\": 2}",
		"requested_size_mib: dynamic memory sets it while it is on");
	/* It stays there: no chasing of what stays within hysteresis. */
	api_drain(p, 3);
	cr_assert_eq(get_field(p, "/dynamic-memory", "current_mib"), 128);
}

/* Pressure: the balloon empties first, then blocks are plugged. */
static void grows_under_pressure(struct api_proc *p)
{
	long long cur;

	say(p, 'h');
	wait_out(p, "dynmem: used=300 MiB", 10);
	wait_out(p, "dynmem: plugged=", 60);
	/*
	 * One decision empties the balloon and plugs what RAM cannot give
	 * (compose() never asks for blocks while the balloon keeps any:
	 * tests/unit/test_dynmem.c). The guest may take the plug before it
	 * has deflated all, so the order of its lines is not the
	 * controller's: both must come, and the balloon's target is 0.
	 */
	wait_out(p, "dynmem: balloon=0 MiB\n", 60);
	cur = get_field(p, "/dynamic-memory", "current_mib");
	cr_assert_gt(cur, 256, "%lld", cur);
	cr_assert_leq(cur, 512, "%lld", cur);
	cr_assert_gt(get_field(p, "/hotplug/memory", "plugged_size_mib"), 0);
	cr_assert_eq(get_field(p, "/balloon", "amount_mib"), 0);
}

/* Idle again: the blocks go back, the balloon inflates to min again. */
static void shrinks_again(struct api_proc *p)
{
	say(p, 'l');
	wait_current(p, 128, 90);
	cr_assert(api_wait_out(p, "dynmem: plugged=0 MiB\n", 10), "%s",
		  p->out);
	cr_assert_eq(get_field(p, "/hotplug/memory", "requested_size_mib"), 0);
	cr_assert_eq(get_field(p, "/balloon", "amount_mib"), 128);
}

/* One decision's line of the log: its sizes, within min and max. */
static void check_decision(const char *line)
{
	unsigned long long from, to, b0, b1, h0, h1;
	const char *what = strstr(line, "] grow ");

	if (!what)
		what = strstr(line, "] shrink ");
	cr_assert_not_null(what, "%.200s", line);
	cr_assert_eq(sscanf(strchr(what, ' ') + 1, "%*s %llu -> %llu", &from,
			    &to), 2, "%.200s", line);
	cr_assert(to >= 128 && to <= 512, "%.200s", line);
	cr_assert_eq(sscanf(strstr(line, "; balloon "), "; balloon %llu -> "
			    "%llu MiB, virtio-mem %llu -> %llu MiB", &b0, &b1,
			    &h0, &h1), 4, "%.200s", line);
	cr_assert(b1 == 0 || h1 == 0, "both hold memory: %.200s", line);
	cr_assert_eq(256 - b1 + h1, to, "%.200s", line);
}

/*
 * Every decision in the log: the balloon and virtio-mem never both hold
 * memory (a grow empties the balloon before it plugs, a shrink unplugs
 * before it inflates), and the sizes stay within min and max.
 */
static void check_decisions(const char *log)
{
	unsigned decisions = 0;
	char line[512];

	for (const char *l = log; *l;) {
		size_t n = strcspn(l, "\n");

		snprintf(line, sizeof(line), "%.*s", (int)n, l);
		l += n + (l[n] == '\n');
		if (!strstr(line, "; balloon "))
			continue;
		check_decision(line);
		decisions++;
	}
	cr_assert_geq(decisions, 5, "%s", log);
}

static void check_counted_and_logged(struct api_proc *p)
{
	const char *log;

	call_ok(p, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}");
	cr_assert_geq(metric("grow_count"), 1);
	cr_assert_geq(metric("shrink_count"), 4);
	cr_assert_eq(metric("frozen_ticks"), 0);
	cr_assert_eq(metric("fails"), 0);
	log = slurp(path_in("log"));
	cr_assert(strstr(log, "added a balloon with statistics every 1 s"),
		  "%s", log);
	cr_assert(strstr(log, "added hotpluggable memory for max_mib: 256 MiB"),
		  "%s", log);
	cr_assert(strstr(log, "shrink 256 -> 192 MiB: the guest uses 16 MiB, "
			 "20% more and the 1 MiB its kernel keeps is 128 MiB "
			 "(128-512); balloon 0 -> 64 MiB"),
		  "%s", log);
	cr_assert(strstr(log, "grow 128 -> "), "%s", log);
	check_decisions(log);
}

Test(dynamic_memory, shrinks_an_idle_guest_and_grows_it_under_pressure,
     .init = snap_dir_make, .fini = snap_dir_drop, .timeout = 300)
{
	struct api_proc p;

	note_not_run();
	configure(&p, DYNMEM);
	start(&p, "dynmem: ready ram=255 MiB virtio-mem yes");
	check_added(&p);
	shrinks_idle(&p);
	grows_under_pressure(&p);
	shrinks_again(&p);
	check_counted_and_logged(&p);
	/* Off: the sizes stay, and the balloon is the API's again. */
	call_ok(&p, "PATCH", "/dynamic-memory", "{\"enabled\": false}");
	cr_assert_eq(get_field(&p, "/dynamic-memory", "enabled"), 0);
	cr_assert_eq(get_field(&p, "/dynamic-memory", "current_mib"), 128);
	call_ok(&p, "PATCH", "/balloon", "{\"amount_mib\": 100}");
	wait_out(&p, "dynmem: balloon=100 MiB", 30);
	say(&p, 'q');
	wait_out(&p, "ALL OK", 30);
	cr_assert_null(strstr(p.out, "FAIL"), "%s", p.out);
	cr_assert_eq(api_wait_exit(&p, 10), 1, "%s", p.err);
	api_proc_free(&p);
}

static void refusals_before_boot(struct api_proc *p)
{
	struct json_object *o = get(p, "/dynamic-memory");

	cr_assert_eq(field(o, "enabled"), 0);
	cr_assert_eq(field(o, "current_mib"), 256, "the boot memory");
	cr_assert_eq(field(o, "target_mib"), 256);
	json_object_put(o);
	refused(p, "PATCH", "/dynamic-memory", "{\"enabled\": false}",
		"not supported before starting the microVM");
	refused(p, "PUT", "/dynamic-memory", "{}",
		"enabled: missing required field");
	refused(p, "PUT", "/dynamic-memory", "{\"enabled\": true, "
		"\"max_mib\": 512}", "min_mib: missing required field");
	refused(p, "PUT", "/dynamic-memory", "{\"enabled\": \"yes\"}",
		"enabled: expected a boolean");
	refused(p, "PUT", "/dynamic-memory", "{\"enabled\": true, "
		"\"min_mib\": 64, \"max_mib\": 512, \"buffer_percent\": 4}",
		"buffer_percent: must be from 5 to 2000");
	refused(p, "PUT", "/dynamic-memory", "{\"enabled\": true, "
		"\"min_mib\": 300, \"max_mib\": 512}", "min_mib: 300 MiB is "
		"more than the boot memory (mem_size_mib 256)");
	refused(p, "PUT", "/dynamic-memory", "{\"enabled\": true, "
		"\"min_mib\": 64, \"max_mib\": 200}", "max_mib: 200 MiB is "
		"less than the boot memory");
	refused(p, "PUT", "/dynamic-memory", "{\"enabled\": true, "
		"\"min_mib\": 16, \"max_mib\": 512}", "min_mib: 16 MiB is "
		"less than 32 MiB");
	refused(p, "PUT", "/dynamic-memory", DYNMEM "x", "malformed JSON");
	refused(p, "PUT", "/dynamic-memory", "{\"enabled\": true, "
		"\"min_mib\": 64, \"max_mib\": 512, \"size\": 1}", "size");
	cr_assert_eq(get_field(p, "/dynamic-memory", "enabled"), 0,
		     "a refusal configured it");
}

/* What the machine lacks, said at InstanceStart; the start then works. */
static void refusals_at_start(struct api_proc *p)
{
	struct api_resp r;

	call_ok(p, "PUT", "/dynamic-memory", DYNMEM);
	call_ok(p, "PUT", "/balloon", "{\"amount_mib\": 0, "
		"\"deflate_on_oom\": false}");
	refused(p, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}",
		"dynamic-memory: balloon: stats_polling_interval_s is 0");
	call_ok(p, "PUT", "/balloon", "{\"amount_mib\": 0, "
		"\"deflate_on_oom\": false, \"stats_polling_interval_s\": 1}");
	call_ok(p, "PUT", "/hotplug/memory", "{\"total_size_mib\": 128}");
	refused(p, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}",
		"dynamic-memory: max_mib: 512 MiB is beyond the boot memory "
		"(256 MiB) and memory-hotplug's total_size_mib (128 MiB)");
	call_ok(p, "PUT", "/hotplug/memory", "{\"total_size_mib\": 256}");
	cr_assert_eq(api_call(p->sock, "GET", "/", NULL, &r), 200);
	cr_assert(strstr(r.body, "Not started"), "%s", r.body);
}

static void refusals_after_boot(struct api_proc *p)
{
	refused(p, "PUT", "/dynamic-memory", DYNMEM,
		"not supported after starting the microVM");
	refused(p, "PATCH", "/dynamic-memory", "{\"buffer_percent\": 1}",
		"buffer_percent: must be from 5 to 2000");
	refused(p, "PATCH", "/dynamic-memory", "{\"min_mib\": 600}",
		"min_mib: 600 MiB is more than max_mib (512 MiB)");
	refused(p, "PATCH", "/dynamic-memory", "{\"max_mib\": 1024}",
		"max_mib: 1024 MiB is beyond the boot memory (256 MiB) and "
		"memory-hotplug's total_size_mib (256 MiB)");
	refused(p, "PATCH", "/dynamic-memory", "{\"min_mib\": 300}",
		"min_mib: 300 MiB is more than the boot memory");
	refused(p, "PATCH", "/dynamic-memory", "{\"enabled\": 1}",
		"enabled: expected a boolean");
	refused(p, "PATCH", "/dynamic-memory", "{\"colour\": 1}", "colour");
	refused(p, "PATCH", "/dynamic-memory", "[]", "expected an object");
	cr_assert_eq(get_field(p, "/dynamic-memory", "buffer_percent"), 20,
		     "a refusal changed it");
	call_ok(p, "PATCH", "/dynamic-memory", "{\"buffer_percent\": 50}");
	cr_assert_eq(get_field(p, "/dynamic-memory", "buffer_percent"), 50);
	cr_assert_eq(get_field(p, "/vm/config",
			       "dynamic-memory.buffer_percent"), 50);
}

Test(dynamic_memory, every_endpoint_refuses_bad_input,
     .init = snap_dir_make, .fini = snap_dir_drop, .timeout = 120)
{
	struct api_proc p;

	configure(&p, NULL);
	refusals_before_boot(&p);
	refusals_at_start(&p);
	start(&p, "dynmem: ready ram=255 MiB virtio-mem yes");
	/* The user's own balloon and hotplug memory, kept as they were. */
	cr_assert_eq(get_field(&p, "/vm/config",
			       "memory-hotplug.total_size_mib"), 256);
	refusals_after_boot(&p);
	say(&p, 'q');
	wait_out(&p, "ALL OK", 30);
	cr_assert_eq(api_wait_exit(&p, 10), 1, "%s", p.err);
	api_proc_free(&p);
}

Test(dynamic_memory, run_option_configures_it, .timeout = 120)
{
	const char *const argv[] = { "run", "--kernel",
		guest_path("virtio/bz_virtio"), "--memory", "256",
		"--dynamic-memory", "min=128,max=256,buffer=30", "--cmdline",
		GUEST, NULL };
	const char *const bad[] = { "run", "--kernel",
		guest_path("virtio/bz_virtio"), "--dynamic-memory",
		"min=256,max=512", NULL };
	struct api_proc p;
	struct mvm_result r;
	struct json_object *o;

	cr_assert_eq(api_spawn(&p, argv), 0);
	/* max is the boot memory: a balloon, and no virtio-mem, added. */
	wait_out(&p, "dynmem: ready ram=255 MiB virtio-mem no", 60);
	o = get(&p, "/dynamic-memory");
	cr_assert_eq(field(o, "enabled"), 1);
	cr_assert_eq(field(o, "min_mib"), 128);
	cr_assert_eq(field(o, "max_mib"), 256);
	cr_assert_eq(field(o, "buffer_percent"), 30);
	json_object_put(o);
	o = get(&p, "/vm/config");
	cr_assert_eq(field(o, "balloon.stats_polling_interval_s"), 1);
	cr_assert_eq(field(o, "memory-hotplug.total_size_mib"), -1);
	json_object_put(o);
	wait_out(&p, "dynmem: balloon=64 MiB", 30);
	say(&p, 'q');
	wait_out(&p, "ALL OK", 30);
	cr_assert_eq(api_wait_exit(&p, 10), 1, "%s", p.err);
	api_proc_free(&p);

	cr_assert_eq(mvm_launch(bad, NULL, &r), 0);
	cr_assert_eq(r.status, 1, "status %d", r.status);
	cr_assert(strstr(r.err, "--dynamic-memory: min: 256 MiB is more than "
			 "the boot memory (mem_size_mib 128)"), "%s", r.err);
	mvm_result_free(&r);
}

/*
 * The settings travel in the snapshot; the controller's own state is not
 * saved but re-derived: the new mvm's waits for fresh statistics, starts
 * from the sizes the devices' state holds, and goes on.
 */
Test(dynamic_memory, a_snapshot_carries_it_into_a_new_mvm,
     .init = snap_dir_make, .fini = snap_dir_drop, .timeout = 240)
{
	struct api_proc a, b;
	struct api_resp r;
	char body[768];

	configure(&a, DYNMEM);
	start(&a, "dynmem: ready ram=255 MiB virtio-mem yes");
	wait_current(&a, 128, 60);
	call_ok(&a, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	snprintf(body, sizeof(body), "{\"snapshot_type\": \"Full\", "
		 "\"snapshot_path\": \"%s\", \"mem_file_path\": \"%s\"}",
		 path_in("state"), path_in("mem"));
	call_ok(&a, "PUT", "/snapshot/create", body);
	api_stop(&a);
	api_proc_free(&a);

	cr_assert_eq(api_spawn(&b, NULL), 0);
	snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\", "
		 "\"mem_backend\": {\"backend_type\": \"File\", "
		 "\"backend_path\": \"%s\"}, \"resume_vm\": true}",
		 path_in("state"), path_in("mem"));
	cr_assert_eq(api_call(b.sock, "PUT", "/snapshot/load", body, &r), 204,
		     "%s\n%s", r.body, b.err);
	cr_assert_eq(get_field(&b, "/dynamic-memory", "enabled"), 1);
	cr_assert_eq(get_field(&b, "/dynamic-memory", "current_mib"), 128);
	cr_assert_eq(get_field(&b, "/vm/config", "dynamic-memory.max_mib"),
		     512);
	say(&b, 'h');
	wait_out(&b, "dynmem: balloon=0 MiB", 60);
	cr_assert_gt(get_field(&b, "/dynamic-memory", "current_mib"), 128);
	say(&b, 'q');
	wait_out(&b, "ALL OK", 30);
	cr_assert_null(strstr(b.out, "FAIL"), "%s", b.out);
	api_wait_exit(&b, 10);
	api_proc_free(&b);
}
