/*
 * Firecracker's launch flags: mvm started as a program starts
 * `firecracker`, the flags in any order, and each flag's effect seen from
 * outside: the id GET / answers, the log's lines, the metrics' lines, the
 * boot timer's line, the body limit, --no-api, and bad values refused.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api_client.h"
#include "harness.h"

/* A private directory for the log and the metrics of one mvm. */
struct outs {
	char dir[64];
	char log[96];
	char metrics[96];
};

static void outs_make(struct outs *o)
{
	snprintf(o->dir, sizeof(o->dir), "/tmp/mvm-fcflags-XXXXXX");
	cr_assert_not_null(mkdtemp(o->dir));
	snprintf(o->log, sizeof(o->log), "%s/log", o->dir);
	snprintf(o->metrics, sizeof(o->metrics), "%s/metrics", o->dir);
}

static void outs_remove(struct outs *o)
{
	unlink(o->log);
	unlink(o->metrics);
	rmdir(o->dir);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	cr_assert_not_null(f, "cannot open %s", path);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void put_ok(const char *sock, const char *path, const char *body)
{
	struct api_resp r;

	cr_assert_eq(api_call(sock, "PUT", path, body, &r), 204,
		     "PUT %s %s -> %d %s", path, body, r.status, r.body);
}

/* Configure the action kernel to write the boot timer, and start it. */
static void boot_timer_guest(const char *sock, unsigned code)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"action=boot_timer code=%u\"}",
		 guest_path("mb_action"), code);
	put_ok(sock, "/boot-source", body);
	put_ok(sock, "/machine-config", "{\"vcpu_count\": 1, "
	       "\"mem_size_mib\": 32}");
	put_ok(sock, "/actions", "{\"action_type\": \"InstanceStart\"}");
}

static uint64_t mono_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

/* The last metrics line's api_server.<key>. */
static uint64_t metric_startup(const char *text, const char *key)
{
	const char *last = text, *p;
	struct json_object *o, *g, *v;
	uint64_t n;

	for (p = text; (p = strchr(p, '\n')) && p[1]; p++)
		last = p + 1;
	o = json_tokener_parse(last);
	cr_assert_not_null(o, "metrics line is not JSON: %s", last);
	cr_assert(json_object_object_get_ex(o, "api_server", &g),
		  "no api_server in %s", last);
	cr_assert(json_object_object_get_ex(g, key, &v), "no %s", key);
	n = (uint64_t)json_object_get_int64(v);
	json_object_put(o);
	return n;
}

static void check_one_order(const char *const *argv, const struct outs *o,
			    uint64_t t0)
{
	struct api_proc p;
	struct api_resp r;
	char *log, *metrics;
	uint64_t took;

	cr_assert_eq(api_spawn_argv(&p, argv), 0);
	cr_assert_eq(api_call(p.sock, "GET", "/", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"id\":\"vm-1\""), "%s", r.body);
	boot_timer_guest(p.sock, 2);
	cr_assert_eq(api_wait_exit(&p, 20), 5, "status %d: %s", p.status,
		     p.err);
	cr_assert(strstr(p.out, "boot timer written"), "%s", p.out);
	log = slurp(o->log);
	/* --show-level, --show-log-origin, --level Debug, --id. */
	cr_assert(strstr(log, "[vm-1:DEBUG:api] PUT /boot-source: 204"), "%s",
		  log);
	cr_assert(strstr(log, "[vm-1:INFO:vmm] VM started"), "%s", log);
	/* --boot-timer: Firecracker's words, which its tools search for. */
	cr_assert(strstr(log, "[vm-1:INFO:boot_timer] Guest-boot-time = "),
		  "%s", log);
	cr_assert(strstr(log, " us ") && strstr(log, " CPU ms"), "%s", log);
	/* --start-time-us: the time from then to the API serving. */
	cr_assert(strstr(log, "[vm-1:INFO:startup] serving the API"), "%s",
		  log);
	metrics = slurp(o->metrics);
	took = metric_startup(metrics, "process_startup_time_us");
	cr_assert_geq(took, 1000, "startup %llu us", (unsigned long long)took);
	cr_assert_leq(took, mono_us() - t0 + 1000);
	/* --start-time-cpu-us 0 plus --parent-cpu-time-us 1000000. */
	cr_assert_geq(metric_startup(metrics, "process_startup_time_cpu_us"),
		      1000000);
	free(log);
	free(metrics);
	api_proc_free(&p);
}

Test(fc_flags, firecrackers_usual_arguments_in_any_order, .timeout = 90)
{
	struct outs o;
	char start[32];
	uint64_t t0 = mono_us();

	outs_make(&o);
	/* The launcher started a millisecond ago. */
	snprintf(start, sizeof(start), "%llu", (unsigned long long)(t0 - 1000));
	const char *const orders[][32] = {
		{ "--api-sock", API_SOCK_HERE, "--id", "vm-1", "--level",
		  "Debug", "--log-path", o.log, "--show-level",
		  "--show-log-origin", "--metrics-path", o.metrics,
		  "--boot-timer", "--enable-pci", "--start-time-us", start,
		  "--start-time-cpu-us", "0", "--parent-cpu-time-us",
		  "1000000", NULL },
		{ "--id", "vm-1", "--boot-timer", "--metrics-path", o.metrics,
		  "--show-log-origin", "--start-time-us", start,
		  "--parent-cpu-time-us", "1000000", "--log-path", o.log,
		  "--enable-pci", "--level", "Debug", "--start-time-cpu-us",
		  "0", "--show-level", "--api-sock", API_SOCK_HERE, NULL },
		{ "--start-time-us=", NULL }, /* filled in below */
	};
	char start_eq[48];
	const char *third[] = { start_eq, "--enable-pci",
		"--parent-cpu-time-us=1000000", "--show-level",
		"--level=debug", "--boot-timer", "--metrics-path", o.metrics,
		"--api-sock", API_SOCK_HERE, "--start-time-cpu-us=0",
		"--show-log-origin", "--log-path", o.log, "--id=vm-1", NULL };

	snprintf(start_eq, sizeof(start_eq), "--start-time-us=%s", start);
	for (int i = 0; i < 3; i++) {
		check_one_order(i < 2 ? orders[i] : third, &o, t0);
		outs_remove(&o);
		cr_assert_eq(mkdir(o.dir, 0700), 0);
	}
	outs_remove(&o);
}

Test(fc_flags, without_boot_timer_no_time_is_logged, .timeout = 30)
{
	struct outs o;
	struct api_proc p;
	char *log;

	outs_make(&o);
	const char *const argv[] = { "--log-path", o.log, "--api-sock",
				     API_SOCK_HERE, "--id", "quiet-1", NULL };
	cr_assert_eq(api_spawn_argv(&p, argv), 0);
	boot_timer_guest(p.sock, 1);
	/* The write goes nowhere; the guest goes on and exits. */
	cr_assert_eq(api_wait_exit(&p, 20), 3, "status %d: %s", p.status,
		     p.err);
	log = slurp(o.log);
	cr_assert(strstr(log, "[quiet-1] VM started"), "%s", log);
	cr_assert_null(strstr(log, "Guest-boot-time"), "%s", log);
	free(log);
	api_proc_free(&p);
	outs_remove(&o);
}

Test(fc_flags, payload_limit_is_enforced, .timeout = 30)
{
	const char *const argv[] = { "--http-api-max-payload-size", "64",
				     "--api-sock", API_SOCK_HERE, NULL };
	char big[200];
	struct api_proc p;
	struct api_resp r;
	int fd;

	cr_assert_eq(api_spawn_argv(&p, argv), 0);
	/* 64 bytes or fewer: served. */
	put_ok(p.sock, "/machine-config", "{\"vcpu_count\": 1, "
	       "\"mem_size_mib\": 32}");
	snprintf(big, sizeof(big), "{\"vcpu_count\": 1, \"mem_size_mib\": "
		 "32, \"smt\": false, \"track_dirty_pages\": false%*s}", 60,
		 "");
	fd = api_connect(p.sock);
	cr_assert_geq(fd, 0);
	cr_assert_eq(api_do_raw(fd, "PUT", "/machine-config", big, &r), 0);
	close(fd);
	cr_assert_eq(r.status, 400, "%d %s", r.status, r.body);
	cr_assert(fault_has(&r, "larger than the limit of 64 allowed by "
			    "server"), "%s", r.body);
	char want[64];

	snprintf(want, sizeof(want), "with size %zu ", strlen(big));
	cr_assert(fault_has(&r, want), "want '%s': %s", want, r.body);
	/* The machine kept what the small request set. */
	cr_assert_eq(api_get_u64(&p, "/machine-config", "mem_size_mib"), 32);
	api_stop(&p);
	api_proc_free(&p);
}

Test(fc_flags, logger_put_after_the_flags_and_metrics_once, .timeout = 30)
{
	struct outs o;
	struct api_proc p;
	struct api_resp r;
	char body[256], second[128], *log;

	outs_make(&o);
	snprintf(second, sizeof(second), "%s/log2", o.dir);
	const char *const argv[] = { "--api-sock", API_SOCK_HERE,
		"--log-path", o.log, "--metrics-path", o.metrics, NULL };
	cr_assert_eq(api_spawn_argv(&p, argv), 0);
	/* As in Firecracker, PUT /logger then reconfigures the logger... */
	snprintf(body, sizeof(body), "{\"log_path\": \"%s\", \"level\": "
		 "\"Debug\", \"show_level\": true}", second);
	put_ok(p.sock, "/logger", body);
	cr_assert_eq(api_call(p.sock, "GET", "/", NULL, &r), 200);
	/* ...while a second metrics output is refused. */
	snprintf(body, sizeof(body), "{\"metrics_path\": \"%s\"}", second);
	cr_assert_eq(api_call(p.sock, "PUT", "/metrics", body, &r), 400,
		     "%d %s", r.status, r.body);
	cr_assert(fault_has(&r, "already configured"), "%s", r.body);
	api_stop(&p);
	log = slurp(second);
	cr_assert(strstr(log, "[anonymous-instance:DEBUG] GET /: 200"), "%s",
		  log);
	free(log);
	unlink(second);
	api_proc_free(&p);
	outs_remove(&o);
}

Test(fc_flags, no_api_boots_from_the_config_file, .timeout = 30)
{
	struct outs o;
	char text[512], sock[128], *cfg, *log;
	struct mvm_result r;
	struct stat st;

	outs_make(&o);
	snprintf(sock, sizeof(sock), "%s/never.sock", o.dir);
	snprintf(text, sizeof(text), "{\"boot-source\": {\"kernel_image_path\""
		 ": \"%s\", \"boot_args\": \"action=boot_timer code=4\"}, "
		 "\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": "
		 "32}}", guest_path("mb_action"));
	cfg = temp_file("fccfg", text, strlen(text));
	const char *const argv[] = { "--boot-timer", "--no-api",
		"--api-sock", sock, "--id", "cfg-vm", "--log-path", o.log,
		"--config-file", cfg, "--enable-pci", NULL };

	cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	cr_assert_eq(r.status, 9, "status %d\n%s\n%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "boot timer written"), "%s", r.out);
	/* Firecracker ignores --api-sock under --no-api; so does mvm. */
	cr_assert_neq(stat(sock, &st), 0, "%s exists", sock);
	log = slurp(o.log);
	cr_assert(strstr(log, "[cfg-vm] Guest-boot-time = "), "%s", log);
	free(log);
	mvm_result_free(&r);
	unlink(cfg);
	free(cfg);
	outs_remove(&o);
}

static void refused(const char *const *argv, const char *want)
{
	struct mvm_result r;

	cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	cr_assert_eq(r.status, 1, "status %d for '%s': %s", r.status, want,
		     r.err);
	cr_assert(strstr(r.err, want), "want '%s' in: %s", want, r.err);
	cr_assert_eq(count_str(r.err, "\n"), 1, "not one line: %s", r.err);
	mvm_result_free(&r);
}

Test(fc_flags, bad_values_are_refused_naming_the_flag, .timeout = 60)
{
	refused((const char *[]){ "--api-sock", "/nonexistent/s", "--id",
				  "vm_1", NULL }, "--id: 'vm_1'");
	refused((const char *[]){ "--id", "vm-1", "--level", "Chatty", NULL },
		"--level: 'Chatty'");
	refused((const char *[]){ "--api-sock", "/nonexistent/s",
				  "--http-api-max-payload-size", "lots",
				  NULL }, "--http-api-max-payload-size: "
		"'lots'");
	refused((const char *[]){ "--start-time-us", "-5", NULL },
		"--start-time-us: '-5'");
	refused((const char *[]){ "--start-time-cpu-us", "x", NULL },
		"--start-time-cpu-us: 'x'");
	refused((const char *[]){ "--parent-cpu-time-us", "1e3", NULL },
		"--parent-cpu-time-us: '1e3'");
	refused((const char *[]){ "--no-api", "--id", "a", NULL },
		"--no-api needs --config-file");
	refused((const char *[]){ "--id", "a", "--metadata",
				  "/nonexistent/md.json", NULL },
		"--metadata /nonexistent/md.json: No such file");
	refused((const char *[]){ "--id", "a", "--mmds-size-limit", "big",
				  NULL }, "--mmds-size-limit: 'big'");
	refused((const char *[]){ "--id", "a", "--log-path",
				  "/nonexistent/dir/log", NULL },
		"--log-path /nonexistent/dir/log: ");
	refused((const char *[]){ "--api-sock", "/nonexistent/dir/s",
				  "--metrics-path", "/nonexistent/m", NULL },
		"--metrics-path: ");
	refused((const char *[]){ "--id", "a", "--bogus", NULL },
		"unknown argument '--bogus'");
}

Test(fc_flags, version_and_help, .timeout = 30)
{
	static const char *const flags[] = { "--api-sock", "--id",
		"--config-file", "--no-api", "--log-path", "--level",
		"--show-level", "--show-log-origin", "--module",
		"--metrics-path", "--boot-timer", "--http-api-max-payload-size",
		"--mmds-size-limit", "--metadata", "--no-seccomp",
		"--start-time-us", "--start-time-cpu-us",
		"--parent-cpu-time-us",
		"--describe-snapshot", "--version", "--enable-pci",
		"--incoming", NULL };
	struct mvm_result r;
	char want[64];

	cr_assert_eq(mvm_launch((const char *[]){ "--version", NULL }, NULL,
				&r), 0);
	cr_assert_eq(r.status, 0);
	snprintf(want, sizeof(want), "Firecracker v");
	cr_assert_eq(strncmp(r.out, want, strlen(want)), 0, "%s", r.out);
	cr_assert(strstr(r.out, "(mvm "), "%s", r.out);
	mvm_result_free(&r);
	/* Among other flags, as Firecracker's parser takes it anywhere. */
	cr_assert_eq(mvm_launch((const char *[]){ "--id", "x", "--version",
						  NULL }, NULL, &r), 0);
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "Firecracker v"), "%s", r.out);
	mvm_result_free(&r);
	cr_assert_eq(mvm_launch((const char *[]){ "--help", NULL }, NULL, &r),
		     0);
	cr_assert_eq(r.status, 0);
	for (int i = 0; flags[i]; i++) {
		snprintf(want, sizeof(want), "  %s ", flags[i]);
		cr_assert(strstr(r.out, want) ||
			  (snprintf(want, sizeof(want), "  %s\n", flags[i]),
			   strstr(r.out, want)) ||
			  (snprintf(want, sizeof(want), ", %s ", flags[i]),
			   strstr(r.out, want)),
			  "mvm --help lacks %s:\n%s", flags[i], r.out);
	}
	mvm_result_free(&r);
}
