/*
 * virtio-balloon through the API, with the virtio test kernel's balloon
 * driver (tests/guests/virtio/t_balloon.c) on the other side: the host
 * sets the target, the guest inflates, says how much it holds and sends
 * statistics; mvm's RSS drops by what was inflated; the guest deflates
 * and finds the pages zeroed (the host had given them back); pages it
 * reports free, and hints during a run the API starts, go back too. The
 * device's state goes through a snapshot into a new process. Every
 * endpoint refuses bad input with 400 and a message naming the field.
 *
 * Not run here: the 409 of PATCH /balloon (the policy's memory_resize
 * refuses while the guest hosts guests of its own), which needs a
 * nested guest (the lab).
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

#define PAGES 4096  /* what the guest touches and inflates: 16 MiB */
#define MEM_MIB 128

static void ok(struct api_proc *p, const char *method, const char *path,
	       const char *body)
{
	struct api_resp r;

	cr_assert_eq(api_call(p->sock, method, path, body, &r), 204,
		     "%s %s %s -> %d %s", method, path, body ? body : "",
		     r.status, r.body);
}

static void refused(struct api_proc *p, const char *method, const char *path,
		    const char *body, const char *text)
{
	struct api_resp r;

	cr_assert_eq(api_call(p->sock, method, path, body, &r), 400,
		     "%s %s %s -> %d %s", method, path, body ? body : "",
		     r.status, r.body);
	cr_assert(fault_has(&r, text), "%s %s: want '%s': %s", method, path,
		  text, r.body);
}

/* GET path: its JSON body (the caller puts it). */
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

/* o's integer field key; -1 when it has none. */
static long long field(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return -1;
	return json_object_get_int64(v);
}

static void wait_out(struct api_proc *p, const char *text, double seconds)
{
	cr_assert(api_wait_out(p, text, seconds), "no '%s':\n%s\nstderr:\n%s",
		  text, p->out, p->err);
}

/* kernel with args on MEM_MIB, the balloon PUT body given (or none). */
static void boot_kernel(struct api_proc *p, const char *kernel,
			const char *args, const char *balloon)
{
	char body[512];

	cr_assert_eq(api_spawn(p, NULL), 0);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"%s\"}", guest_path(kernel), args);
	ok(p, "PUT", "/boot-source", body);
	snprintf(body, sizeof(body), "{\"vcpu_count\": 1, \"mem_size_mib\": "
		 "%d}", MEM_MIB);
	ok(p, "PUT", "/machine-config", body);
	if (balloon)
		ok(p, "PUT", "/balloon", balloon);
}

/* mb_virtio's test=balloon, with more arguments. */
static void boot(struct api_proc *p, const char *balloon, const char *args)
{
	char cmdline[128];

	snprintf(cmdline, sizeof(cmdline), "test=balloon pages=%d %s", PAGES,
		 args);
	boot_kernel(p, "virtio/mb_virtio", cmdline, balloon);
}

static void start(struct api_proc *p)
{
	ok(p, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
}

/* Sum of balloon.<key> over the metrics file's lines. */
static unsigned long long metric(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	char line[16384];
	unsigned long long sum = 0;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		struct json_object *o = json_tokener_parse(line), *b;

		cr_assert_not_null(o, "%s", line);
		if (json_object_object_get_ex(o, "balloon", &b) &&
		    field(b, key) > 0)
			sum += (unsigned long long)field(b, key);
		json_object_put(o);
	}
	fclose(f);
	return sum;
}

static const char *const everything =
	"{\"amount_mib\": 0, \"deflate_on_oom\": true, "
	"\"stats_polling_interval_s\": 1, \"free_page_hinting\": true, "
	"\"free_page_reporting\": true}";

/* The target reached: RSS, the actual size, the guest's statistics. */
static void check_inflated(struct api_proc *p, long rss_before)
{
	struct json_object *o;
	long rss;

	wait_out(p, "balloon: inflated pages=4096 actual=4096", 30);
	/* Let the last chain's discard land before RSS is read. */
	api_drain(p, 0.3);
	rss = proc_rss_kib(p->pid);
	cr_log_info("mvm's RSS: %ld KiB before the inflate, %ld after",
		    rss_before, rss);
	cr_assert_geq(rss_before - rss, 12 * 1024, "RSS %ld KiB before, %ld "
		      "after: not 16 MiB less", rss_before, rss);
	o = get(p, "/balloon");
	cr_assert_eq(field(o, "amount_mib"), 16);
	json_object_put(o);
	wait_out(p, "balloon: stats round=2", 30);
	o = get(p, "/balloon/statistics");
	cr_assert_eq(field(o, "target_pages"), PAGES);
	cr_assert_eq(field(o, "actual_pages"), PAGES);
	cr_assert_eq(field(o, "target_mib"), 16);
	cr_assert_eq(field(o, "actual_mib"), 16);
	cr_assert_eq(field(o, "total_memory"), 64ll << 20);
	cr_assert_eq(field(o, "available_memory"), 12345678);
	cr_assert_eq(field(o, "free_memory"), 32ll << 20);
	cr_assert_geq(field(o, "minor_faults"), 1, "no refreshed statistics");
	cr_assert_eq(field(o, "swap_in"), -1, "a statistic never sent");
	json_object_put(o);
}

static void check_hinting(struct api_proc *p)
{
	struct json_object *o;

	wait_out(p, "balloon: waiting for a hint run", 30);
	o = get(p, "/balloon/hinting/status");
	cr_assert_eq(field(o, "host_cmd"), 0);
	cr_assert_eq(field(o, "guest_cmd"), -1, "the driver sent none yet");
	json_object_put(o);
	ok(p, "PATCH", "/balloon/hinting/stop", "{}");
	o = get(p, "/balloon/hinting/status");
	cr_assert_eq(field(o, "host_cmd"), 1);
	json_object_put(o);
	ok(p, "PATCH", "/balloon/hinting/start", NULL);
	wait_out(p, "balloon: hint run 2 done", 30);
	o = get(p, "/balloon/hinting/status");
	cr_assert_eq(field(o, "host_cmd"), 1, "acknowledged with DONE");
	cr_assert_eq(field(o, "guest_cmd"), 0, "the driver's STOP");
	json_object_put(o);
}

Test(virtio_balloon, inflate_statistics_deflate_report_hint, .timeout = 180,
     .init = snap_dir_make, .fini = snap_dir_drop)
{
	const char *met = path_in("metrics");
	struct api_proc p;
	struct json_object *o;
	char body[256];
	long rss;

	boot(&p, everything, "");
	snprintf(body, sizeof(body), "{\"metrics_path\": \"%s\"}", met);
	ok(&p, "PUT", "/metrics", body);
	o = get(&p, "/balloon");
	cr_assert_eq(field(o, "stats_polling_interval_s"), 1);
	json_object_put(o);
	start(&p);
	wait_out(&p, "balloon: touched pages=4096", 30);
	api_drain(&p, 0.3);
	rss = proc_rss_kib(p.pid);
	ok(&p, "PATCH", "/balloon", "{\"amount_mib\": 16}");
	check_inflated(&p, rss);
	ok(&p, "PATCH", "/balloon/statistics",
	   "{\"stats_polling_interval_s\": 2}");
	refused(&p, "PATCH", "/balloon/statistics",
		"{\"stats_polling_interval_s\": 0}", "cannot be disabled");
	ok(&p, "PATCH", "/balloon", "{\"amount_mib\": 0}");
	wait_out(&p, "PASS balloon deflated pages read zero", 30);
	wait_out(&p, "PASS balloon reported pages read zero", 30);
	check_hinting(&p);
	wait_out(&p, "PASS balloon hinted pages read zero", 30);
	wait_out(&p, "ALL OK", 30);
	cr_assert_eq(api_wait_exit(&p, 10), 1, "%s", p.err);
	cr_assert_eq(metric(met, "inflate_pages"), PAGES);
	cr_assert_eq(metric(met, "deflate_pages"), PAGES);
	cr_assert_eq(metric(met, "free_page_report_freed"), 1 << 20);
	cr_assert_eq(metric(met, "free_page_hint_freed"), 1 << 20);
	cr_assert_geq(metric(met, "stats_updates_count"), 2);
	cr_assert_eq(metric(met, "discard_fails"), 0);
	api_proc_free(&p);
}

/* Before boot: what is configured, and the calls of the wrong phase. */
static void refusals_before_boot(struct api_proc *p)
{
	refused(p, "GET", "/balloon", NULL, "no balloon device is configured");
	refused(p, "PUT", "/balloon", "{\"amount_mib\": 129, "
		"\"deflate_on_oom\": false}", "amount_mib: 129 is more than "
		"the VM's memory (128 MiB)");
	refused(p, "PUT", "/balloon", "{\"amount_mib\": 1}",
		"deflate_on_oom: missing required field");
	refused(p, "PUT", "/balloon", "{\"amount_mib\": \"1\", "
		"\"deflate_on_oom\": true}", "amount_mib: expected an integer");
	refused(p, "PUT", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": "
		"true, \"stats_polling_interval_s\": -2}",
		"stats_polling_interval_s: must be from 0 to 65535");
	refused(p, "PUT", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": "
		"true, \"free_page_hinting\": 1}",
		"free_page_hinting: expected a boolean");
	refused(p, "PUT", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": "
		"true, \"free_page_reporting\": \"on\"}",
		"free_page_reporting: expected a boolean");
	refused(p, "PUT", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": "
		"true, \"vsock\": 1}", "vsock: unknown field");
	refused(p, "PUT", "/balloon", NULL, "empty body");
	refused(p, "PATCH", "/balloon", "{\"amount_mib\": 1}",
		"not supported before starting");
	refused(p, "GET", "/balloon/statistics", NULL,
		"not supported before starting");
	refused(p, "PATCH", "/balloon/statistics",
		"{\"stats_polling_interval_s\": 1}",
		"not supported before starting");
	refused(p, "PATCH", "/balloon/hinting/start", NULL,
		"not supported before starting");
	refused(p, "GET", "/balloon/hinting/status", NULL,
		"not supported before starting");
	refused(p, "PATCH", "/balloon/hinting/stop", NULL,
		"not supported before starting");
}

/* After boot, on a balloon without statistics or hinting. */
static void refusals_after_boot(struct api_proc *p)
{
	struct api_resp r;

	refused(p, "PUT", "/balloon", "{\"amount_mib\": 1, "
		"\"deflate_on_oom\": false}", "not supported after starting");
	refused(p, "PATCH", "/balloon", "{\"amount_mib\": 129}",
		"amount_mib: 129 is more than the VM's memory (128 MiB)");
	refused(p, "PATCH", "/balloon", "{\"amount_mib\": -1}",
		"amount_mib: must be from 0 to 16777215");
	refused(p, "PATCH", "/balloon", "{\"amount_mib\": 1, "
		"\"deflate_on_oom\": true}", "deflate_on_oom: unknown field");
	refused(p, "PATCH", "/balloon", "{}", "amount_mib: missing required");
	refused(p, "PATCH", "/balloon", "[]", "expected an object");
	refused(p, "GET", "/balloon/statistics", NULL,
		"statistics are not enabled");
	refused(p, "PATCH", "/balloon/statistics",
		"{\"stats_polling_interval_s\": 5}", "statistics were not "
		"enabled");
	refused(p, "PATCH", "/balloon/statistics",
		"{\"stats_polling_interval_s\": 65536}",
		"stats_polling_interval_s: must be from 0 to 65535");
	refused(p, "PATCH", "/balloon/statistics", "{\"interval\": 5}",
		"interval: unknown field");
	refused(p, "PATCH", "/balloon/hinting/start", NULL,
		"free page hinting was not enabled");
	refused(p, "PATCH", "/balloon/hinting/start",
		"{\"acknowledge_on_stop\": \"yes\"}",
		"acknowledge_on_stop: expected a boolean");
	refused(p, "PATCH", "/balloon/hinting/start", "{\"ack\": true}",
		"ack: unknown field");
	refused(p, "GET", "/balloon/hinting/status", NULL,
		"free page hinting was not enabled");
	refused(p, "PATCH", "/balloon/hinting/stop", NULL,
		"free page hinting was not enabled");
	refused(p, "PATCH", "/balloon/hinting/stop", "{\"now\": 1}",
		"now: unknown field (expected no fields)");
	cr_assert_eq(api_call(p->sock, "DELETE", "/balloon", NULL, &r), 405);
	cr_assert_eq(api_call(p->sock, "PUT", "/balloon/statistics", "{}", &r),
		     405);
	cr_assert_eq(api_call(p->sock, "GET", "/balloon/hinting", NULL, &r),
		     404);
}

Test(virtio_balloon, every_endpoint_refuses_bad_input, .timeout = 60)
{
	struct api_proc p;
	struct json_object *o;

	boot(&p, NULL, "wait=30");
	refusals_before_boot(&p);
	ok(&p, "PUT", "/balloon", "{\"amount_mib\": 8, \"deflate_on_oom\": "
	   "false}");
	o = get(&p, "/balloon");
	cr_assert_eq(field(o, "amount_mib"), 8);
	cr_assert_eq(field(o, "stats_polling_interval_s"), 0);
	json_object_put(o);
	start(&p);
	wait_out(&p, "balloon: touched pages=4096", 30);
	refusals_after_boot(&p);
	/* Refused calls changed nothing: the target is still 8 MiB. */
	o = get(&p, "/balloon");
	cr_assert_eq(field(o, "amount_mib"), 8);
	json_object_put(o);
	/* The same target again is no change (and no policy question). */
	ok(&p, "PATCH", "/balloon", "{\"amount_mib\": 8}");
	api_stop(&p);
	api_proc_free(&p);
}

Test(virtio_balloon, without_a_balloon_the_endpoints_say_so, .timeout = 60)
{
	struct api_proc p;

	/* A guest that idles once it has touched its RAM. */
	boot_kernel(&p, "virtio/bz_virtio", "test=memcount touch=all", NULL);
	start(&p);
	wait_out(&p, "memcount: touched pages=", 60);
	refused(&p, "GET", "/balloon", NULL, "no balloon device is "
		"configured");
	refused(&p, "PATCH", "/balloon", "{\"amount_mib\": 1}",
		"no balloon device is configured");
	refused(&p, "GET", "/balloon/statistics", NULL, "no balloon device");
	refused(&p, "PATCH", "/balloon/hinting/start", "{}",
		"no balloon device");
	api_stop(&p);
	api_proc_free(&p);
}

Test(virtio_balloon, run_option_configures_the_balloon, .timeout = 90)
{
	const char *const argv[] = { "run", "--kernel",
		guest_path("virtio/mb_virtio"), "--memory", "128",
		"--balloon", "amount_mib=16,stats=1", "--cmdline",
		"test=balloon pages=4096", NULL };
	struct api_proc p;
	struct json_object *o, *b;

	cr_assert_eq(api_spawn(&p, argv), 0);
	/* The target is there at boot: the driver inflates at once. */
	wait_out(&p, "balloon: inflated pages=4096 actual=4096", 30);
	o = get(&p, "/vm/config");
	cr_assert(json_object_object_get_ex(o, "balloon", &b), "%s",
		  json_object_to_json_string(o));
	cr_assert_eq(field(b, "amount_mib"), 16);
	cr_assert_eq(field(b, "stats_polling_interval_s"), 1);
	json_object_put(o);
	ok(&p, "PATCH", "/balloon", "{\"amount_mib\": 0}");
	wait_out(&p, "PASS balloon deflated pages read zero", 30);
	o = get(&p, "/vm/config");
	cr_assert(json_object_object_get_ex(o, "balloon", &b));
	cr_assert_eq(field(b, "amount_mib"), 0, "the spec follows PATCH");
	json_object_put(o);
	wait_out(&p, "ALL OK", 30);
	cr_assert_eq(api_wait_exit(&p, 10), 1, "%s", p.err);
	api_proc_free(&p);
}

Test(virtio_balloon, run_option_target_must_fit_the_memory, .timeout = 30)
{
	const char *argv[] = { "run", "--kernel",
		guest_path("virtio/mb_virtio"), "--memory", "128",
		"--balloon", "amount_mib=129", NULL };
	struct mvm_result r;

	cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	cr_assert_eq(r.status, 1, "status %d", r.status);
	cr_assert(strstr(r.err, "balloon: amount_mib 129 is more than the "
			 "VM's memory (128 MiB)"), "%s", r.err);
	mvm_result_free(&r);
}

/*
 * A snapshot taken with the balloon inflated loads in a new process: the
 * target, what the driver holds, its statistics buffer (the device keeps
 * it: statistics go on) and then the deflate.
 */
Test(virtio_balloon, snapshot_keeps_the_balloon, .timeout = 120,
     .init = snap_dir_make, .fini = snap_dir_drop)
{
	struct api_proc a, b;
	struct json_object *o;
	struct api_resp r;
	char body[768];

	boot(&a, "{\"amount_mib\": 16, \"deflate_on_oom\": false, "
	     "\"stats_polling_interval_s\": 1}", "");
	start(&a);
	wait_out(&a, "balloon: stats round=1", 30);
	ok(&a, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	snprintf(body, sizeof(body), "{\"snapshot_type\": \"Full\", "
		 "\"snapshot_path\": \"%s\", \"mem_file_path\": \"%s\"}",
		 path_in("state"), path_in("mem"));
	ok(&a, "PUT", "/snapshot/create", body);
	api_stop(&a);
	api_proc_free(&a);

	cr_assert_eq(api_spawn(&b, NULL), 0);
	snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\", "
		 "\"mem_backend\": {\"backend_type\": \"File\", "
		 "\"backend_path\": \"%s\"}, \"resume_vm\": true}",
		 path_in("state"), path_in("mem"));
	cr_assert_eq(api_call(b.sock, "PUT", "/snapshot/load", body, &r), 204,
		     "%s\n%s", r.body, b.err);
	o = get(&b, "/balloon");
	cr_assert_eq(field(o, "amount_mib"), 16);
	json_object_put(o);
	o = get(&b, "/balloon/statistics");
	cr_assert_eq(field(o, "actual_pages"), PAGES);
	cr_assert_eq(field(o, "total_memory"), 64ll << 20);
	json_object_put(o);
	/* The held buffer came back with the device: the period asks. */
	wait_out(&b, "balloon: stats round=", 30);
	ok(&b, "PATCH", "/balloon", "{\"amount_mib\": 0}");
	wait_out(&b, "PASS balloon deflated pages read zero", 30);
	wait_out(&b, "ALL OK", 30);
	api_stop(&b);
	api_proc_free(&b);
}
