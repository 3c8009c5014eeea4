/*
 * virtio-vsock (Firecracker's hybrid vsock) against the virtio test
 * kernel's test=vsock (tests/guests/virtio/t_vsock.c), which makes its
 * packets by hand. This test is the host's programs: an echo server on
 * "<uds>_5000" for the guest's connections, and clients of "<uds>" that
 * send CONNECT lines (bad ones too), read "OK <port>", send 64 KiB the
 * guest takes under its credit, and close. A snapshot loaded with
 * vsock_override listens on the new socket and tells the guest with a
 * TRANSPORT_RESET. PUT /vsock refuses bad input naming the field and
 * answers 409 after boot; GET /vm/config, the config file and --vsock.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
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
#include "snap_files.h"

#define HOST_TOTAL 65536u
#define CID 7

/* An echo server on one Unix socket path, in a thread. */
struct echo {
	int fd;
	pthread_t thread;
	int conns;
};

static int uds_socket(const char *path, bool listening)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_lt(strlen(path), sizeof(a.sun_path));
	strcpy(a.sun_path, path);
	if (listening) {
		unlink(path);
		cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0,
			     "bind %s: %s", path, strerror(errno));
		cr_assert_eq(listen(fd, 8), 0);
	} else if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		cr_assert_fail("connect %s: %s", path, strerror(errno));
	}
	return fd;
}

static void *echo_loop(void *arg)
{
	struct echo *e = arg;
	char buf[4096];
	int c;

	while ((c = accept(e->fd, NULL, NULL)) >= 0) {
		ssize_t n;

		e->conns++;
		while ((n = read(c, buf, sizeof(buf))) > 0)
			if (write(c, buf, (size_t)n) != n)
				break;
		close(c);
	}
	return NULL;
}

static void echo_start(struct echo *e, const char *path)
{
	e->fd = uds_socket(path, true);
	e->conns = 0;
	cr_assert_eq(pthread_create(&e->thread, NULL, echo_loop, e), 0);
}

static void echo_stop(struct echo *e)
{
	shutdown(e->fd, SHUT_RDWR);
	pthread_join(e->thread, NULL);
	close(e->fd);
}

/* Up to len bytes, or a line, within ms: bytes read, 0 at EOF, -1. */
static ssize_t read_wait(int fd, char *buf, size_t len, int ms, bool line)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, ms) <= 0)
			return got ? (ssize_t)got : -1;
		n = read(fd, buf + got, line ? 1 : len - got);
		if (n <= 0)
			return got ? (ssize_t)got : n;
		got += (size_t)n;
		if (line && buf[got - 1] == '\n')
			break;
	}
	return (ssize_t)got;
}

/* A client the device closes without an answer: EOF within ms. */
static void expect_closed(const char *uds, const char *line, int ms)
{
	int fd = uds_socket(uds, false);
	char buf[64];

	cr_assert_eq(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	cr_assert_eq(read_wait(fd, buf, sizeof(buf), ms, false), 0,
		     "'%s': the device should close the client", line);
	close(fd);
}

static uint8_t host_pattern(uint32_t i)
{
	return (uint8_t)(i * 13u + (i >> 8) + 5u);
}

static void boot_met(struct api_proc *p, const char *uds, const char *args,
		     const char *met)
{
	char body[512];

	cr_assert_eq(api_spawn(p, NULL), 0);
	if (met) {
		snprintf(body, sizeof(body), "{\"metrics_path\": \"%s\"}",
			 met);
		call_ok(p, "PUT", "/metrics", body);
	}
	call_ok(p, "PUT", "/machine-config",
		"{\"vcpu_count\": 1, \"mem_size_mib\": 64}");
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"test=vsock cid=%d %s\"}",
		 guest_path("virtio/bz_virtio"), CID, args);
	call_ok(p, "PUT", "/boot-source", body);
	snprintf(body, sizeof(body), "{\"guest_cid\": %d, \"uds_path\": "
		 "\"%s\"}", CID, uds);
	call_ok(p, "PUT", "/vsock", body);
	call_ok(p, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
}

static void boot(struct api_proc *p, const char *uds, const char *args)
{
	boot_met(p, uds, args, NULL);
}

/* The vsock group's key summed over the metrics file's lines. */
static uint64_t metric(const char *met, const char *key)
{
	FILE *f = fopen(met, "r");
	char line[65536];
	uint64_t sum = 0;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		struct json_object *o = json_tokener_parse(line), *g, *v;

		cr_assert_not_null(o, "a metrics line: %s", line);
		cr_assert(json_object_object_get_ex(o, "vsock", &g), "%s",
			  line);
		cr_assert(json_object_object_get_ex(g, key, &v), "%s: %s",
			  key, line);
		sum += (uint64_t)json_object_get_int64(v);
		json_object_put(o);
	}
	fclose(f);
	return sum;
}

static void guest_line(struct api_proc *p, const char *line)
{
	cr_assert(api_wait_out(p, line, 30), "want '%s'\n%s\n%s", line,
		  p->out, p->err);
}

static void finish(struct api_proc *p)
{
	guest_line(p, "ALL OK");
	cr_assert_null(strstr(p->out, "FAIL"), "%s", p->out);
	cr_assert_eq(api_wait_exit(p, 10), 1, "%s", p->err);
}

/* CONNECT 52, "OK <port>", 64 KiB to the guest, its line back. */
static void host_to_guest(const char *uds)
{
	int fd = uds_socket(uds, false);
	uint8_t *data = malloc(HOST_TOTAL);
	char line[64];
	unsigned port = 0;
	ssize_t n;

	cr_assert_not_null(data);
	cr_assert_eq(write(fd, "CONNECT 52\n", 11), 11);
	n = read_wait(fd, line, sizeof(line) - 1, 10000, true);
	cr_assert_gt(n, 0, "no answer to CONNECT 52");
	line[n] = '\0';
	cr_assert_eq(sscanf(line, "OK %u\n", &port), 1, "'%s'", line);
	cr_assert_geq(port, 1u << 30, "host port %u", port);
	for (uint32_t i = 0; i < HOST_TOTAL; i++)
		data[i] = host_pattern(i);
	/* More than the guest's buf_alloc: the rest waits for its credit. */
	cr_assert_eq(write(fd, data, HOST_TOTAL), (ssize_t)HOST_TOTAL);
	n = read_wait(fd, line, sizeof(line) - 1, 20000, true);
	cr_assert_gt(n, 0);
	line[n] = '\0';
	cr_assert_str_eq(line, "hello from the guest port 52\n");
	close(fd);
	free(data);
}

Test(virtio_vsock, both_ways_with_credit_and_resets, .init = snap_dir_make,
     .fini = snap_dir_drop, .timeout = 120)
{
	char uds[256], port_path[300], met[256];
	struct echo e;
	struct api_proc p;
	int mute;

	snprintf(uds, sizeof(uds), "%s", path_in("v.sock"));
	snprintf(met, sizeof(met), "%s", path_in("metrics"));
	fclose(fopen(met, "w"));
	snprintf(port_path, sizeof(port_path), "%s_5000", uds);
	echo_start(&e, port_path);
	/* Port 5002 takes the guest's connection and never reads it. */
	snprintf(port_path, sizeof(port_path), "%s_5002", uds);
	mute = uds_socket(port_path, true);
	boot_met(&p, uds, "", met);
	guest_line(&p, "vsock: listening");
	/* Bad first lines: the client is closed, the device goes on. */
	expect_closed(uds, "HELLO 52\n", 5000);
	expect_closed(uds, "CONNECT 99999999999\n", 5000);
	expect_closed(uds, "CONNECT \n", 5000);
	expect_closed(uds, "CONNECT 1 2\n", 5000);
	host_to_guest(uds);
	guest_line(&p, "PASS vsock host close resets");
	/* The guest refuses port 53 with an RST; 54 it never answers. */
	expect_closed(uds, "CONNECT 53\n", 10000);
	guest_line(&p, "vsock: refused 53");
	expect_closed(uds, "CONNECT 54\n", 10000);
	guest_line(&p, "PASS vsock unanswered connect resets");
	call_ok(&p, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}");
	cr_assert_geq(metric(met, "rx_bytes_count"), HOST_TOTAL);
	cr_assert_geq(metric(met, "tx_bytes_count"), 20);
	cr_assert_geq(metric(met, "conns_added"), 5, "2 guest's, 3 host's");
	cr_assert_geq(metric(met, "conns_killed"), 3,
		      "54's timeout, 1002, 1003");
	cr_assert_geq(metric(met, "conns_removed"), 5);
	cr_assert_geq(metric(met, "tx_queue_event_count"), 1);
	{
		int fd = uds_socket(uds, false);

		cr_assert_eq(write(fd, "CONNECT 55\n", 11), 11);
		close(fd);
	}
	finish(&p);
	cr_assert_geq(e.conns, 2, "the guest's connections: %d", e.conns);
	cr_assert(strstr(p.err, "packet dropped: source CID"), "%s", p.err);
	close(mute);
	/* The socket is gone with the device. */
	cr_assert_neq(access(uds, F_OK), 0, "%s is still there", uds);
	echo_stop(&e);
	api_proc_free(&p);
}

/*
 * A snapshot, loaded in a new mvm with vsock_override: the device listens
 * on the new socket, the guest hears TRANSPORT_RESET on its event queue,
 * and its next connection reaches the new "<uds>_5000".
 */
Test(virtio_vsock, a_snapshot_resets_the_transport, .init = snap_dir_make,
     .fini = snap_dir_drop, .timeout = 120)
{
	char uds[256], uds2[256], port_path[300], body[1024];
	struct api_proc a, b;
	struct api_resp r;
	struct echo e;

	snprintf(uds, sizeof(uds), "%s", path_in("a.sock"));
	snprintf(uds2, sizeof(uds2), "%s", path_in("b.sock"));
	boot(&a, uds, "snap=1");
	guest_line(&a, "vsock: waiting for reset");
	call_ok(&a, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	snprintf(body, sizeof(body), "{\"snapshot_type\": \"Full\", "
		 "\"snapshot_path\": \"%s\", \"mem_file_path\": \"%s\"}",
		 path_in("state"), path_in("mem"));
	call_ok(&a, "PUT", "/snapshot/create", body);
	api_stop(&a);
	api_proc_free(&a);

	snprintf(port_path, sizeof(port_path), "%s_5000", uds2);
	echo_start(&e, port_path);
	cr_assert_eq(api_spawn(&b, NULL), 0);
	/* An override without its uds_path is refused, naming it. */
	snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\", "
		 "\"mem_backend\": {\"backend_type\": \"File\", "
		 "\"backend_path\": \"%s\"}, \"vsock_override\": {}}",
		 path_in("state"), path_in("mem"));
	cr_assert_eq(api_call(b.sock, "PUT", "/snapshot/load", body, &r), 400,
		     "%s", r.body);
	cr_assert(fault_has(&r, "vsock_override.uds_path"), "%s", r.body);
	snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\", "
		 "\"mem_backend\": {\"backend_type\": \"File\", "
		 "\"backend_path\": \"%s\"}, \"resume_vm\": true, "
		 "\"vsock_override\": {\"uds_path\": \"%s\"}}",
		 path_in("state"), path_in("mem"), uds2);
	cr_assert_eq(api_call(b.sock, "PUT", "/snapshot/load", body, &r), 204,
		     "%s\n%s", r.body, b.err);
	cr_assert_eq(api_call(b.sock, "GET", "/vm/config", NULL, &r), 200);
	cr_assert(strstr(r.body, uds2), "%s", r.body);
	guest_line(&b, "PASS vsock transport reset");
	/* The loaded VM's own snapshot names the socket it has now (the
	 * load's strings are gone by then). */
	call_ok(&b, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	snprintf(body, sizeof(body), "{\"snapshot_type\": \"Full\", "
		 "\"snapshot_path\": \"%s\", \"mem_file_path\": \"%s\"}",
		 path_in("state2"), path_in("mem2"));
	call_ok(&b, "PUT", "/snapshot/create", body);
	{
		char cmd[512];
		FILE *f;
		size_t n;

		snprintf(cmd, sizeof(cmd), "%s snapshot inspect %s", mvm_bin(),
			 path_in("state2"));
		f = popen(cmd, "r");
		cr_assert_not_null(f);
		n = fread(body, 1, sizeof(body) - 1, f);
		body[n] = '\0';
		pclose(f);
		cr_assert(strstr(body, uds2), "%s", body);
	}
	call_ok(&b, "PATCH", "/vm", "{\"state\": \"Resumed\"}");
	guest_line(&b, "PASS vsock guest close");
	{
		int fd = uds_socket(uds2, false);

		cr_assert_eq(write(fd, "CONNECT 55\n", 11), 11);
		close(fd);
	}
	finish(&b);
	cr_assert_eq(e.conns, 1, "the guest's connection after the reset");
	echo_stop(&e);
	api_proc_free(&b);
}

static void expect_fault(struct api_proc *p, const char *body, int status,
			 const char *text)
{
	struct api_resp r;

	cr_assert_eq(api_call(p->sock, "PUT", "/vsock", body, &r), status,
		     "%s -> %d %s", body, r.status, r.body);
	cr_assert(fault_has(&r, text), "%s: want '%s': %s", body, text,
		  r.body);
}

Test(virtio_vsock, put_vsock_checks_its_input_and_is_pre_boot_only,
     .init = snap_dir_make, .fini = snap_dir_drop, .timeout = 60)
{
	char body[512];
	struct api_proc p;
	struct api_resp r;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	cr_assert_eq(api_call(p.sock, "GET", "/vm/config", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"vsock\": null") ||
		  strstr(r.body, "\"vsock\":null"), "%s", r.body);
	expect_fault(&p, "{\"guest_cid\": 2, \"uds_path\": \"/x\"}", 400,
		     "guest_cid");
	expect_fault(&p, "{\"guest_cid\": 3}", 400, "uds_path");
	expect_fault(&p, "{\"guest_cid\": \"3\", \"uds_path\": \"/x\"}", 400,
		     "guest_cid");
	expect_fault(&p, "{\"guest_cid\": 3, \"uds_path\": \"\"}", 400,
		     "uds_path");
	expect_fault(&p, "{\"guest_cid\": 3, \"uds_path\": \"/x\", "
		     "\"port\": 1}", 400, "port");
	expect_fault(&p, "{\"guest_cid\": 4294967296, \"uds_path\": \"/x\"}",
		     400, "guest_cid");
	snprintf(body, sizeof(body), "{\"vsock_id\": \"v0\", \"guest_cid\": "
		 "9, \"uds_path\": \"%s\"}", path_in("c.sock"));
	call_ok(&p, "PUT", "/vsock", body);
	cr_assert_eq(api_call(p.sock, "GET", "/vm/config", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"guest_cid\": 9") ||
		  strstr(r.body, "\"guest_cid\":9"), "%s", r.body);
	cr_assert(strstr(r.body, "\"vsock_id\": \"v0\"") ||
		  strstr(r.body, "\"vsock_id\":\"v0\""), "%s", r.body);
	cr_assert(strstr(r.body, path_in("c.sock")), "%s", r.body);
	call_ok(&p, "PUT", "/machine-config",
		"{\"vcpu_count\": 1, \"mem_size_mib\": 64}");
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"test=vsock cid=9 snap=1\"}",
		 guest_path("virtio/bz_virtio"));
	call_ok(&p, "PUT", "/boot-source", body);
	call_ok(&p, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	guest_line(&p, "PASS vsock cid");
	snprintf(body, sizeof(body), "{\"guest_cid\": 10, \"uds_path\": "
		 "\"%s\"}", path_in("d.sock"));
	expect_fault(&p, body, 409, "after");
	api_stop(&p);
	api_proc_free(&p);
}

/* The config file's "vsock" section and `mvm run --vsock`. */
Test(virtio_vsock, config_file_and_command_line, .init = snap_dir_make,
     .fini = snap_dir_drop, .timeout = 60)
{
	char cfg[1024], *file, args[128];
	struct api_proc p;
	struct mvm_result res;
	struct stat st;

	snprintf(cfg, sizeof(cfg), "{\"boot-source\": {\"kernel_image_path\": "
		 "\"%s\", \"boot_args\": \"test=vsock cid=11 snap=1\"}, "
		 "\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": "
		 "64}, \"vsock\": {\"guest_cid\": 11, \"uds_path\": \"%s\"}}",
		 guest_path("virtio/bz_virtio"), path_in("f.sock"));
	file = temp_file("vsock-config", cfg, strlen(cfg));
	cr_assert_not_null(file);
	{
		const char *argv[] = { "--config-file", file, NULL };

		cr_assert_eq(api_spawn(&p, argv), 0);
	}
	guest_line(&p, "PASS vsock cid");
	cr_assert_eq(stat(path_in("f.sock"), &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	api_stop(&p);
	api_proc_free(&p);
	unlink(file);
	free(file);

	snprintf(args, sizeof(args), "cid=12,uds=%s", path_in("g.sock"));
	{
		const char *argv[] = { "run", "--kernel",
			guest_path("virtio/bz_virtio"), "--memory", "64",
			"--cmdline", "test=vsock cid=12 snap=1", "--vsock",
			args, NULL };
		struct mvm_opts o = { .timeout = 30,
			.kill_after_match = "PASS vsock cid",
			.kill_after_match_signal = SIGTERM };

		mvm_launch(argv, &o, &res);
		cr_assert(strstr(res.out, "PASS vsock cid"), "%s\n%s",
			  res.out, res.err);
		mvm_result_free(&res);
	}
	{
		const char *argv[] = { "run", "--kernel",
			guest_path("virtio/bz_virtio"), "--vsock", "cid=2,uds=/x",
			NULL };
		struct mvm_opts o = { .timeout = 10 };

		mvm_launch(argv, &o, &res);
		cr_assert_neq(res.status, 0);
		cr_assert(strstr(res.err, "--vsock"), "%s", res.err);
		mvm_result_free(&res);
	}
}
