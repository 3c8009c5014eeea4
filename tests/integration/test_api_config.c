/*
 * Config files, the socket's life cycle, `mvm run --api-sock`, and the
 * outputs the API configures (logger, metrics, serial).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api_client.h"
#include "harness.h"

static void put_ok(const char *sock, const char *method, const char *path,
		   const char *body)
{
	struct api_resp r;

	cr_assert_eq(api_call(sock, method, path, body, &r), 204,
		     "%s %s %s -> %d %s", method, path, body, r.status, r.body);
}

static char *config(const char *tag, const char *fmt, const char *arg)
{
	char text[2048];

	snprintf(text, sizeof(text), fmt, arg);
	return temp_file(tag, text, strlen(text));
}

Test(api_config, config_file_boots_at_once, .timeout = 30)
{
	char *cfg = config("cfg", "{\"boot-source\": {\"kernel_image_path\": "
			   "\"%s\", \"boot_args\": \"action=exit=3\"}, "
			   "\"machine-config\": {\"vcpu_count\": 1, "
			   "\"mem_size_mib\": 32}}",
			   guest_path("mb_action"));
	const char *argv[] = { "--config-file", cfg, NULL };
	struct mvm_result r;

	cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	cr_assert_eq(r.status, (3 << 1) | 1, "status %d\n%s\n%s", r.status,
		     r.out, r.err);
	cr_assert(strstr(r.out, "action exit=3"), "%s", r.out);
	mvm_result_free(&r);
	unlink(cfg);
	free(cfg);
}

static void bad_config(const char *text, const char *want)
{
	char *cfg = temp_file("badcfg", text, strlen(text));
	const char *argv[] = { "--config-file", cfg, NULL };
	struct mvm_result r;
	char prefix[300];

	cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	cr_assert_eq(r.status, 1, "status %d for %s: %s", r.status, text,
		     r.err);
	snprintf(prefix, sizeof(prefix), "mvm: %s: ", cfg);
	cr_assert(strstr(r.err, prefix), "no file name in: %s", r.err);
	cr_assert(strstr(r.err, want), "want '%s' in: %s", want, r.err);
	cr_assert_eq(count_str(r.err, "\n"), 1, "not one line: %s", r.err);
	mvm_result_free(&r);
	unlink(cfg);
	free(cfg);
}

Test(api_config, config_errors_name_the_json_path, .timeout = 30)
{
	char text[1024];

	bad_config("{\"boot-source\": ", "malformed JSON");
	bad_config("{\"machine-config\": {\"vcpu_count\": 1, "
		   "\"mem_size_mib\": 32}}",
		   "boot-source: missing required section");
	bad_config("{\"boot-source\": {\"kernel_image_path\": 7}}",
		   "boot-source.kernel_image_path: expected a string, got an "
		   "integer");
	bad_config("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, "
		   "\"bogus\": 1}", "bogus: unknown field");
	bad_config("{\"machine-config\": {\"vcpu_count\": 1, "
		   "\"mem_size_mib\": 32, \"smt\": \"no\"}, \"boot-source\": "
		   "{\"kernel_image_path\": \"/k\"}}",
		   "machine-config.smt: expected a boolean, got a string");
	snprintf(text, sizeof(text),
		 "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		 "\"drives\": [{\"drive_id\": \"a\", \"path_on_host\": "
		 "\"%s\", \"is_root_device\": false, "
		 "\"is_read_only\": true}, {\"drive_id\": \"b\", "
		 "\"path_on_host\": \"%s\", \"is_root_device\": "
		 "false, \"is_read_only\": \"yes\"}]}",
		 guest_path("mb_action"), mvm_bin(), mvm_bin());
	bad_config(text, "drives[1].is_read_only: expected a boolean, got a "
		   "string");
	snprintf(text, sizeof(text),
		 "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		 "\"network-interfaces\": [{\"iface_id\": \"eth0\", "
		 "\"host_dev_name\": \"tap0\", \"rx_rate_limiter\": "
		 "{\"ops\": {\"size\": -1, \"refill_time\": 10}}}]}",
		 guest_path("mb_action"));
	bad_config(text, "network-interfaces[0].rx_rate_limiter.ops.size: "
		   "must be from 0 to");
	snprintf(text, sizeof(text),
		 "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		 "\"network-interfaces\": [{\"iface_id\": \"eth0\", "
		 "\"backend\": \"user\", \"hostfwd\": [\"tcp::22-:22\", "
		 "\"tcp::80-:0\"]}]}", guest_path("mb_action"));
	bad_config(text, "network-interfaces[0].hostfwd: [1]: hostfwd "
		   "'tcp::80-:0': bad guest port '0'");
	bad_config("{\"boot-source\": {\"kernel_image_path\": "
		   "\"/no/such/kernel\"}}",
		   "boot-source.kernel_image_path: cannot open");
}

/* Two entries with one id: the first would silently vanish. */
Test(api_config, config_file_refuses_repeated_ids, .timeout = 30)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		 "\"drives\": [{\"drive_id\": \"rootfs\", \"path_on_host\": "
		 "\"%s\", \"is_root_device\": false, \"is_read_only\": "
		 "true}, {\"drive_id\": \"rootfs\", \"path_on_host\": "
		 "\"%s\", \"is_root_device\": false, \"is_read_only\": "
		 "true}]}",
		 guest_path("mb_action"), guest_path("mb_action"),
		 guest_path("mb_check"));
	bad_config(text, "drives[1].drive_id: 'rootfs' is already the id of "
		   "drives[0]");
	snprintf(text, sizeof(text),
		 "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		 "\"network-interfaces\": [{\"iface_id\": \"eth0\", "
		 "\"host_dev_name\": \"tap0\"}, {\"iface_id\": \"eth0\", "
		 "\"host_dev_name\": \"tap1\"}]}", guest_path("mb_action"));
	bad_config(text, "network-interfaces[1].iface_id: 'eth0' is already "
		   "the id of network-interfaces[0]");
}

/* json-c keeps the last of two equal keys; mvm refuses them. */
Test(api_config, config_file_refuses_repeated_keys, .timeout = 30)
{
	bad_config("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, "
		   "\"boot-source\": {\"kernel_image_path\": \"/j\"}}",
		   "boot-source: duplicate key");
	bad_config("{\"boot-source\": {\"kernel_image_path\": \"/k\", "
		   "\"boot_args\": \"a\", \"boot\\u005fargs\": \"b\"}}",
		   "boot-source.boot_args: duplicate key");
	bad_config("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, "
		   "\"drives\": [{\"drive_id\": \"a\"}, {\"drive_id\": "
		   "\"b\", \"rate_limiter\": {\"ops\": {\"size\": 1, "
		   "\"size\": 2}}}]}",
		   "drives[1].rate_limiter.ops.size: duplicate key");
}

/* Output paths are opened after parsing; their errors say where too. */
Test(api_config, config_file_output_errors_name_the_json_path,
     .timeout = 30)
{
	static const char *const sections[][2] = {
		{ "\"logger\": {\"log_path\": \"/nonexistent/dir/log\"}",
		  "logger.log_path: cannot open" },
		{ "\"metrics\": {\"metrics_path\": \"/nonexistent/dir/m\"}",
		  "metrics.metrics_path: cannot open" },
		{ "\"serial\": {\"serial_out_path\": \"/nonexistent/dir/s\"}",
		  "serial.serial_out_path: cannot open" },
	};
	char text[1024];

	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		snprintf(text, sizeof(text), "{\"boot-source\": "
			 "{\"kernel_image_path\": \"%s\"}, %s}",
			 guest_path("mb_action"), sections[i][0]);
		bad_config(text, sections[i][1]);
	}
}

/* Strings are UTF-8 without control characters, or refused by name. */
Test(api_config, config_file_refuses_bad_text, .timeout = 30)
{
	bad_config("{\"boot-source\": {\"kernel_image_path\": \"/k\", "
		   "\"boot_args\": \"console=ttyS0 \xff\"}}",
		   "boot-source.boot_args: not valid UTF-8");
	bad_config("{\"boot-source\": {\"kernel_image_path\": \"/k\", "
		   "\"boot_args\": \"a\\nb\"}}",
		   "boot-source.boot_args: contains a control character "
		   "(0x0a)");
}

/* What GET /vm/config returns, --config-file takes back unchanged. */
Test(api_config, vm_config_round_trips_through_a_config_file, .timeout = 30)
{
	static char sectors[4096];
	char *disk = temp_file("data", sectors, sizeof(sectors));
	struct api_proc p;
	struct api_resp r;
	char body[512], *cfg;
	struct mvm_result res;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"action=exit=2\"}", guest_path("mb_action"));
	put_ok(p.sock, "PUT", "/boot-source", body);
	put_ok(p.sock, "PUT", "/machine-config",
	       "{\"vcpu_count\": 2, \"mem_size_mib\": 48}");
	snprintf(body, sizeof(body), "{\"drive_id\": \"data\", "
		 "\"path_on_host\": \"%s\", \"is_root_device\": false, "
		 "\"is_read_only\": true, \"cache_type\": \"Writeback\"}",
		 disk);
	put_ok(p.sock, "PUT", "/drives/data", body);
	put_ok(p.sock, "PUT", "/entropy", "{}");
	cr_assert_eq(api_call(p.sock, "GET", "/vm/config", NULL, &r), 200);
	api_proc_free(&p);

	cfg = temp_file("roundtrip", r.body, r.body_len);
	{
		const char *argv[] = { "--config-file", cfg, NULL };

		cr_assert_eq(mvm_launch(argv, NULL, &res), 0);
	}
	cr_assert_eq(res.status, (2 << 1) | 1, "status %d\n%s\n%s\n%s",
		     res.status, r.body, res.out, res.err);
	mvm_result_free(&res);
	unlink(cfg);
	free(cfg);
	unlink(disk);
	free(disk);
}

Test(api_config, config_file_and_api_together, .timeout = 30)
{
	char *cfg = config("cfgapi", "{\"boot-source\": {\"kernel_image_path\": "
			   "\"%s\", \"boot_args\": \"action=echo\"}, "
			   "\"machine-config\": {\"vcpu_count\": 1, "
			   "\"mem_size_mib\": 32}}",
			   guest_path("mb_action"));
	const char *extra[] = { "--config-file", cfg, NULL };
	struct api_proc p;
	struct api_resp r;

	cr_assert_eq(api_spawn(&p, extra), 0);
	cr_assert(api_wait_out(&p, "echo ready", 10), "%s %s", p.out, p.err);
	cr_assert_eq(api_call(p.sock, "GET", "/", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"state\":\"Running\""), "%s", r.body);
	cr_assert_eq(api_call(p.sock, "PUT", "/boot-source", "{}", &r), 400);
	api_proc_free(&p);
	unlink(cfg);
	free(cfg);
}

Test(api_config, run_with_api_sock_boots_and_keeps_the_api, .timeout = 30)
{
	const char *extra[] = { "run", "--kernel", guest_path("mb_action"),
				"--cmdline", "action=echo", "--memory", "32",
				NULL };
	struct api_proc p;
	struct api_resp r;

	cr_assert_eq(api_spawn(&p, extra), 0);
	cr_assert(api_wait_out(&p, "echo ready", 10), "%s %s", p.out, p.err);
	cr_assert_eq(api_call(p.sock, "GET", "/", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"state\":\"Running\""), "%s", r.body);
	cr_assert_eq(api_call(p.sock, "GET", "/machine-config", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"mem_size_mib\":32"), "%s", r.body);
	cr_assert_eq(api_call(p.sock, "PATCH", "/vm",
			      "{\"state\": \"Paused\"}", &r), 204);
	cr_assert_eq(api_call(p.sock, "PATCH", "/vm",
			      "{\"state\": \"Resumed\"}", &r), 204);
	cr_assert_eq(api_stop(&p), 128 + SIGTERM, "%s", p.err);
	cr_assert(strstr(p.err, "terminated by signal 15"), "%s", p.err);
	cr_assert(access(p.sock, F_OK) != 0, "socket left behind");
	api_proc_free(&p);
}

Test(api_config, socket_is_private_exclusive_and_cleaned_up, .timeout = 30)
{
	struct api_proc p, q;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	cr_assert_eq(stat(p.sock, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);

	/* A second mvm on the same path is refused; the first carries on. */
	{
		const char *argv[] = { "--api-sock", p.sock, NULL };
		struct mvm_result r;

		cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
		cr_assert_eq(r.status, 1, "%s", r.err);
		cr_assert(strstr(r.err, "in use by a running process"), "%s",
			  r.err);
		mvm_result_free(&r);
	}
	cr_assert_eq(access(p.sock, F_OK), 0, "the live socket was removed");
	cr_assert_eq(api_stop(&p), 128 + SIGTERM);
	cr_assert(access(p.sock, F_OK) != 0, "socket left after SIGTERM");

	/* A stale socket (nobody listening) is replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p.sock);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	{
		const char *argv[] = { "--api-sock", p.sock, NULL };
		struct mvm_opts o = { .timeout = 3 };
		struct mvm_result r;

		/* It starts (and waits for a client) until the timeout. */
		cr_assert_eq(mvm_launch(argv, &o, &r), 0);
		cr_assert(r.timed_out, "stale socket refused: %s", r.err);
		mvm_result_free(&r);
	}
	api_proc_free(&p);

	/* SIGINT before any VM exists ends mvm and removes the socket. */
	cr_assert_eq(api_spawn(&q, NULL), 0);
	kill(q.pid, SIGINT);
	cr_assert_eq(api_wait_exit(&q, 10), 128 + SIGINT);
	cr_assert(access(q.sock, F_OK) != 0, "socket left after SIGINT");
	api_proc_free(&q);
}

Test(api_config, guest_poweroff_ends_mvm_and_removes_the_socket,
     .timeout = 30)
{
	struct api_proc p;
	char body[512];

	cr_assert_eq(api_spawn(&p, NULL), 0);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"action=poweroff\"}", guest_path("mb_action"));
	put_ok(p.sock, "PUT", "/boot-source", body);
	put_ok(p.sock, "PATCH", "/machine-config", "{\"mem_size_mib\": 32}");
	put_ok(p.sock, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	cr_assert_eq(api_wait_exit(&p, 10), 0, "%s %s", p.out, p.err);
	cr_assert(access(p.sock, F_OK) != 0, "socket left after poweroff");
	api_proc_free(&p);
}

static char *slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

Test(api_config, logger_metrics_and_serial_outputs, .timeout = 30)
{
	char *log = temp_file("log", "", 0), *met = temp_file("met", "", 0);
	char *ser = temp_file("ser", "", 0), body[512], *text;
	struct api_proc p;
	struct api_resp r;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	snprintf(body, sizeof(body), "{\"log_path\": \"%s\", \"level\": "
		 "\"debug\", \"show_level\": true}", log);
	put_ok(p.sock, "PUT", "/logger", body);
	snprintf(body, sizeof(body), "{\"metrics_path\": \"%s\"}", met);
	put_ok(p.sock, "PUT", "/metrics", body);
	cr_assert_eq(api_call(p.sock, "PUT", "/metrics", body, &r), 400);
	cr_assert(fault_has(&r, "already configured"), "%s", r.body);
	snprintf(body, sizeof(body), "{\"serial_out_path\": \"%s\"}", ser);
	put_ok(p.sock, "PUT", "/serial", body);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"action=hang\"}", guest_path("mb_action"));
	put_ok(p.sock, "PUT", "/boot-source", body);
	put_ok(p.sock, "PATCH", "/machine-config", "{\"mem_size_mib\": 32}");
	put_ok(p.sock, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	for (int i = 0; i < 100 && !strstr(slurp(ser), "hanging"); i++)
		usleep(50000);
	cr_assert(strstr(slurp(ser), "hanging"), "serial file: %s",
		  slurp(ser));
	cr_assert_not(strstr(p.out, "hanging"), "console got it too");

	put_ok(p.sock, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}");
	text = slurp(met);
	cr_assert_eq(count_str(text, "\n"), 1, "%s", text);
	/* The keys exist even while their devices do not. */
	cr_assert(strstr(text, "\"exit_io\":"), "%s", text);
	cr_assert(strstr(text, "\"block\":{\"read_bytes\":0"), "%s", text);
	cr_assert(strstr(text, "\"net\":{\"rx_bytes_count\":0"), "%s", text);
	cr_assert(strstr(text, "\"boot_source_count\":1"), "%s", text);
	cr_assert(strstr(text, "\"metrics_fails\":1"), "%s", text);
	cr_assert(strstr(text, "\"latency_us\":{\"p50\":"), "%s", text);
	cr_assert(strstr(text, "\"state\":\"Running\""), "%s", text);

	text = slurp(log);
	cr_assert(strstr(text, ":INFO] VM started"), "%s", text);
	cr_assert(strstr(text, "PUT /metrics: 400"), "%s", text);

	/* At exit the last interval is flushed too. */
	cr_assert_eq(api_stop(&p), 128 + SIGTERM);
	cr_assert_eq(count_str(slurp(met), "\n"), 2, "%s", slurp(met));
	api_proc_free(&p);
	unlink(log);
	unlink(met);
	unlink(ser);
	free(log);
	free(met);
	free(ser);
}
