/*
 * Live migration between two mvm processes (PUT /migration, PUT
 * /migration/incoming, mvm --incoming). The guest is bz_virtio's memcount
 * (tests/guests/virtio/t_memcount.c) in its rounds mode: in ring 3 it
 * rewrites a ring of pages over and over, checking first that each word
 * still holds what it wrote the round before. A page the migration lost
 * or sent stale ends it with "STALE"; its "round=N" lines must go on, on
 * the destination's console, from where the source's stopped.
 *
 * Every failure must leave the guest running on the source: a destination
 * that is not there, one killed in each phase (MVM_TEST_MIGRATION_KILL),
 * a cancel, a refusal, a stream cut or corrupted.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "mvm/err.h"
#include "mvm/mem.h"
#include "mvm/mem_file.h"
#include "mvm/migration.h"

#include "api_client.h"
#include "harness.h"
#include "snap_files.h"

#define PAGES "pages=2048" /* an 8 MiB ring */

static void boot(struct api_proc *p, const char *args, unsigned mem)
{
	char body[512];

	cr_assert_eq(api_spawn(p, NULL), 0);
	snprintf(body, sizeof(body), "{\"vcpu_count\": 1, \"mem_size_mib\": "
		 "%u}", mem);
	call_ok(p, "PUT", "/machine-config", body);
	put_boot_source(p, "virtio/bz_virtio", args);
	call_ok(p, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
}

/* The count of the last whole "memcount: round=N" line, or 0. */
static unsigned last_round(const char *out)
{
	const char *s = out;
	unsigned c = 0;

	while ((s = strstr(s, "memcount: round="))) {
		unsigned v;
		int end = 0;

		s += strlen("memcount: round=");
		if (sscanf(s, "%u%n", &v, &end) == 1 && s[end] == '\n')
			c = v;
	}
	return c;
}

/* Rounds go on past n within seconds (output read meanwhile). */
static bool rounds_past(struct api_proc *p, unsigned n, double seconds)
{
	for (double t = 0; t < seconds; t += 0.1) {
		if (last_round(p->out) > n)
			return true;
		api_drain(p, 0.1);
	}
	return false;
}

struct mig_state {
	char state[32];
	char error[512];
	unsigned long long downtime_ms, total_ms, transferred, iterations;
	/* downtime_parts_us: how many, their sum, the names in order */
	unsigned nr_parts;
	unsigned long long parts_us;
	char part_names[256];
};

static bool get_migration(struct api_proc *p, struct mig_state *m)
{
	struct api_resp r;
	struct json_object *o, *f;

	memset(m, 0, sizeof(*m));
	if (api_call(p->sock, "GET", "/migration", NULL, &r) != 200)
		return false;
	o = json_tokener_parse(r.body);
	if (!o)
		return false;
	if (json_object_object_get_ex(o, "state", &f))
		snprintf(m->state, sizeof(m->state), "%s",
			 json_object_get_string(f));
	if (json_object_object_get_ex(o, "error", &f) && f)
		snprintf(m->error, sizeof(m->error), "%s",
			 json_object_get_string(f));
	if (json_object_object_get_ex(o, "downtime_ms", &f))
		m->downtime_ms = (unsigned long long)json_object_get_int64(f);
	if (json_object_object_get_ex(o, "total_ms", &f))
		m->total_ms = (unsigned long long)json_object_get_int64(f);
	if (json_object_object_get_ex(o, "transferred_bytes", &f))
		m->transferred = (unsigned long long)json_object_get_int64(f);
	if (json_object_object_get_ex(o, "iterations", &f))
		m->iterations = (unsigned long long)json_object_get_int64(f);
	if (json_object_object_get_ex(o, "downtime_parts_us", &f) &&
	    json_object_is_type(f, json_type_object)) {
		json_object_object_foreach(f, key, val) {
			size_t at = strlen(m->part_names);

			m->nr_parts++;
			m->parts_us += (unsigned long long)
				json_object_get_int64(val);
			snprintf(m->part_names + at,
				 sizeof(m->part_names) - at, "%s ", key);
		}
	}
	json_object_put(o);
	return true;
}

/* Wait until GET /migration says state (or the process ends). */
static bool wait_state(struct api_proc *p, const char *state,
		       struct mig_state *m, double seconds)
{
	for (double t = 0; t < seconds; t += 0.05) {
		if (get_migration(p, m) && !strcmp(m->state, state))
			return true;
		api_drain(p, 0.05);
	}
	return false;
}

static const char *vm_state(struct api_proc *p)
{
	static char st[32];
	struct api_resp r;
	struct json_object *o, *f;

	st[0] = '\0';
	if (api_call(p->sock, "GET", "/", NULL, &r) != 200)
		return st;
	o = json_tokener_parse(r.body);
	if (o && json_object_object_get_ex(o, "state", &f))
		snprintf(st, sizeof(st), "%s", json_object_get_string(f));
	json_object_put(o);
	return st;
}

static void migrate(struct api_proc *src, const char *uri, const char *extra)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"uri\": \"%s\"%s}", uri,
		 extra ? extra : "");
	call_ok(src, "PUT", "/migration", body);
}

static void incoming(struct api_proc *dst, const char *uri)
{
	char body[512];

	cr_assert_eq(api_spawn(dst, NULL), 0);
	snprintf(body, sizeof(body), "{\"uri\": \"%s\"}", uri);
	call_ok(dst, "PUT", "/migration/incoming", body);
}

/* The whole way, checked on both ends. */
static void migrates(struct api_proc *src, struct api_proc *dst,
		     const char *uri)
{
	struct mig_state m;
	unsigned before;

	cr_assert(rounds_past(src, 2, 30), "no rounds:\n%s\n%s", src->out,
		  src->err);
	migrate(src, uri, NULL);
	/* The source ends with 0 once the guest runs on the destination. */
	cr_assert_eq(api_wait_exit(src, 60), 0, "source:\n%s", src->err);
	before = last_round(src->out);
	cr_assert(wait_state(dst, "completed", &m, 10), "destination: %s %s",
		  m.state, m.error);
	cr_assert(m.downtime_ms < 5000, "downtime %llu ms", m.downtime_ms);
	/* Where it went: the destination's spans, adding up to it. */
	cr_assert_str_eq(m.part_names, "final_pages state_in decode check "
			 "build load ready wait_commit disks resume ");
	cr_assert(m.parts_us / 1000 + 2 >= m.downtime_ms &&
		  m.parts_us / 1000 <= m.downtime_ms + 2, "parts %llu us, "
		  "downtime %llu ms", m.parts_us, m.downtime_ms);
	cr_assert(rounds_past(dst, before + 2, 30), "the count stopped at %u "
		  "(source's last %u):\n%s\n%s", last_round(dst->out), before,
		  dst->out, dst->err);
	cr_assert_eq(count_str(dst->out, "STALE"), 0, "%s", dst->out);
	cr_assert_str_eq(vm_state(dst), "Running");
}

Test(migration, over_unix_the_count_goes_on_without_a_stale_page,
     .init = snap_dir_make, .fini = snap_dir_drop, .timeout = 180)
{
	struct api_proc src, dst;
	char uri[160];

	snprintf(uri, sizeof(uri), "unix:%s", path_in("mig.sock"));
	boot(&src, "test=memcount " PAGES " report=4", 64);
	incoming(&dst, uri);
	migrates(&src, &dst, uri);
	cr_assert(api_stop(&dst) >= 0);
	api_proc_free(&src);
	api_proc_free(&dst);
}

Test(migration, over_tcp_with_incoming_on_the_command_line,
     .init = snap_dir_make, .fini = snap_dir_drop, .timeout = 180)
{
	const char *extra[] = { "--incoming", NULL, NULL };
	struct api_proc src, dst;
	char uri[64];

	/* A port of its own per run: pid-derived, above the usual ones. */
	snprintf(uri, sizeof(uri), "tcp:127.0.0.1:%d",
		 20000 + (int)(getpid() % 20000));
	extra[1] = uri;
	boot(&src, "test=memcount " PAGES " report=4", 64);
	cr_assert_eq(api_spawn(&dst, extra), 0);
	migrates(&src, &dst, uri);
	cr_assert(api_stop(&dst) >= 0);
	api_proc_free(&src);
	api_proc_free(&dst);
}

/* Wait until GET /migration says failed or cancelled. */
static bool wait_ended(struct api_proc *p, struct mig_state *m,
		       double seconds)
{
	for (double t = 0; t < seconds; t += 0.05) {
		if (get_migration(p, m) && (!strcmp(m->state, "failed") ||
					    !strcmp(m->state, "cancelled")))
			return true;
		api_drain(p, 0.05);
	}
	return false;
}

/* The migration failed with why; the guest runs on the source. */
static void source_survives(struct api_proc *src, const char *why)
{
	struct mig_state m;
	unsigned now;

	cr_assert(wait_ended(src, &m, 60), "source: %s %s", m.state, m.error);
	cr_assert(strstr(m.error, why), "error '%s' lacks '%s'", m.error, why);
	cr_assert_str_eq(vm_state(src), "Running");
	now = last_round(src->out);
	cr_assert(rounds_past(src, now + 2, 30), "the source's guest stopped "
		  "at %u:\n%s\n%s", now, src->out, src->err);
	cr_assert_eq(count_str(src->out, "STALE"), 0, "%s", src->out);
}

Test(migration, a_destination_that_is_not_there_leaves_the_guest_running,
     .init = snap_dir_make, .fini = snap_dir_drop, .timeout = 120)
{
	struct api_proc src;
	char uri[160];

	snprintf(uri, sizeof(uri), "unix:%s", path_in("nobody.sock"));
	boot(&src, "test=memcount " PAGES " report=4", 64);
	cr_assert(rounds_past(&src, 1, 30));
	migrate(&src, uri, NULL);
	source_survives(&src, "connect");
	cr_assert(api_stop(&src) >= 0);
	api_proc_free(&src);
}

/*
 * A destination killed at phase (MVM_TEST_MIGRATION_KILL): the source
 * finds out, takes its disk back and its guest runs on; the disk is the
 * source's again (a second mvm cannot lock it).
 */
static void killed_at(const char *phase, const char *extra)
{
	struct api_proc src, dst;
	struct api_resp r;
	char uri[160], env[64], body[512];

	snprintf(uri, sizeof(uri), "unix:%s", path_in("mig.sock"));
	boot(&src, "test=memcount " PAGES " report=4", 64);
	snprintf(env, sizeof(env), "MVM_TEST_MIGRATION_KILL=%s", phase);
	putenv(env);
	incoming(&dst, uri);
	unsetenv("MVM_TEST_MIGRATION_KILL");
	cr_assert(rounds_past(&src, 1, 30));
	migrate(&src, uri, extra);
	cr_assert_eq(api_wait_exit(&dst, 60), 128 + SIGKILL, "destination "
		     "did not die at %s:\n%s", phase, dst.err);
	source_survives(&src, "");
	/* Still the same VM: pause and resume answer as ever. */
	snprintf(body, sizeof(body), "{\"state\": \"Paused\"}");
	cr_assert_eq(api_call(src.sock, "PATCH", "/vm", body, &r), 204);
	cr_assert_eq(api_call(src.sock, "PATCH", "/vm",
			      "{\"state\": \"Resumed\"}", &r), 204);
	cr_assert(api_stop(&src) >= 0);
	api_proc_free(&src);
	api_proc_free(&dst);
}

Test(migration, killed_destination_after_hello, .init = snap_dir_make,
     .fini = snap_dir_drop, .timeout = 120)
{
	killed_at("hello", NULL);
}

Test(migration, killed_destination_during_precopy, .init = snap_dir_make,
     .fini = snap_dir_drop, .timeout = 120)
{
	killed_at("pages", NULL);
}

Test(migration, killed_destination_after_the_state, .init = snap_dir_make,
     .fini = snap_dir_drop, .timeout = 120)
{
	killed_at("state", NULL);
}

Test(migration, killed_destination_at_commit, .init = snap_dir_make,
     .fini = snap_dir_drop, .timeout = 120)
{
	killed_at("commit", NULL);
}

Test(migration, cancel_leaves_the_guest_running_and_the_destination_empty,
     .init = snap_dir_make, .fini = snap_dir_drop, .timeout = 120)
{
	struct api_proc src, dst;
	struct mig_state m;
	struct api_resp r;
	char uri[160];

	snprintf(uri, sizeof(uri), "unix:%s", path_in("mig.sock"));
	boot(&src, "test=memcount " PAGES " report=4", 64);
	incoming(&dst, uri);
	cr_assert(rounds_past(&src, 1, 30));
	/* 20 Mbit/s: 64 MiB take half a minute, long enough to cancel. */
	migrate(&src, uri, ", \"max_bandwidth_mbps\": 20");
	cr_assert(wait_state(&src, "active", &m, 10), "%s %s", m.state,
		  m.error);
	call_ok(&src, "DELETE", "/migration", NULL);
	cr_assert(wait_state(&src, "cancelled", &m, 10), "%s", m.state);
	source_survives(&src, "cancelled");
	cr_assert(wait_state(&dst, "failed", &m, 10), "%s", m.state);
	cr_assert(strstr(m.error, "cancelled"), "%s", m.error);
	/* The destination discarded it: it can receive again. */
	cr_assert_str_eq(vm_state(&dst), "Not started");
	cr_assert_eq(api_call(dst.sock, "DELETE", "/migration", NULL, &r),
		     400);
	cr_assert(api_stop(&src) >= 0);
	cr_assert(api_stop(&dst) >= 0);
	api_proc_free(&src);
	api_proc_free(&dst);
}

/* A UNIX stream socket and path's address, for the fake peers. */
static int unix_socket(const char *path, struct sockaddr_un *a)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s", path);
	cr_assert(fd >= 0);
	return fd;
}

/* Connected to path as a source would be. */
static int connect_to(const char *path)
{
	struct sockaddr_un a;
	int fd = unix_socket(path, &a);

	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Bytes straight at a destination's socket, as a broken source. */
static void send_raw(const char *path, const void *buf, size_t len)
{
	int fd = connect_to(path);

	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	usleep(200000);
	close(fd);
}

Test(migration, a_corrupt_stream_is_refused_and_discarded,
     .init = snap_dir_make, .fini = snap_dir_drop, .timeout = 60)
{
	static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n and "
				   "more bytes that are not a section";
	struct api_proc dst;
	struct mig_state m;
	char uri[160];

	snprintf(uri, sizeof(uri), "unix:%s", path_in("mig.sock"));
	incoming(&dst, uri);
	send_raw(path_in("mig.sock"), junk, sizeof(junk));
	cr_assert(wait_state(&dst, "failed", &m, 10), "%s", m.state);
	cr_assert(strstr(m.error, "magic") || strstr(m.error, "header"),
		  "%s", m.error);
	cr_assert_str_eq(vm_state(&dst), "Not started");
	cr_assert(api_stop(&dst) >= 0);
	api_proc_free(&dst);
}

Test(migration, a_source_stopped_mid_way_leaves_nothing_behind,
     .init = snap_dir_make, .fini = snap_dir_drop, .timeout = 120)
{
	struct api_proc src, dst;
	struct mig_state m;
	char uri[160];

	snprintf(uri, sizeof(uri), "unix:%s", path_in("mig.sock"));
	boot(&src, "test=memcount " PAGES " report=4", 64);
	incoming(&dst, uri);
	cr_assert(rounds_past(&src, 1, 30));
	migrate(&src, uri, ", \"max_bandwidth_mbps\": 20");
	cr_assert(wait_state(&dst, "active", &m, 10), "%s", m.state);
	/* Ended by a signal mid-way, the source says so and exits. */
	kill(src.pid, SIGTERM);
	cr_assert_eq(api_wait_exit(&src, 20), 128 + SIGTERM, "%s", src.err);
	cr_assert(wait_state(&dst, "failed", &m, 10), "%s", m.state);
	/*
	 * Between two sends the source's ABORT says why; in the middle of
	 * one, the destination sees the connection close.
	 */
	cr_assert(strstr(m.error, "closed") ||
		  strstr(m.error, "the source aborted: the VM stopped while "
			 "migrating"), "%s", m.error);
	cr_assert_str_eq(vm_state(&dst), "Not started");
	cr_assert(api_stop(&dst) >= 0);
	api_proc_free(&src);
	api_proc_free(&dst);
}

Test(migration, bad_requests_are_400_naming_the_culprit,
     .init = snap_dir_make, .fini = snap_dir_drop, .timeout = 60)
{
	struct api_proc p;
	struct api_resp r;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	cr_assert_eq(api_call(p.sock, "PUT", "/migration",
			      "{\"uri\": \"ftp:x\"}", &r), 400);
	cr_assert(fault_has(&r, "uri"), "%s", r.body);
	cr_assert_eq(api_call(p.sock, "PUT", "/migration",
			      "{\"uri\": \"tcp:host\"}", &r), 400);
	cr_assert(fault_has(&r, "port"), "%s", r.body);
	cr_assert_eq(api_call(p.sock, "PUT", "/migration",
			      "{\"uri\": \"tcp:h:70000\"}", &r), 400);
	cr_assert_eq(api_call(p.sock, "PUT", "/migration",
			      "{\"uri\": \"unix:x\", \"max_downtime_ms\": 0}",
			      &r), 400);
	cr_assert(fault_has(&r, "max_downtime_ms"), "%s", r.body);
	cr_assert_eq(api_call(p.sock, "PUT", "/migration",
			      "{\"uri\": \"unix:x\", \"speed\": 1}", &r), 400);
	cr_assert(fault_has(&r, "speed"), "%s", r.body);
	/* No VM to migrate. */
	cr_assert_eq(api_call(p.sock, "PUT", "/migration",
			      "{\"uri\": \"unix:x\"}", &r), 400);
	cr_assert(fault_has(&r, "Not started"), "%s", r.body);
	cr_assert_eq(api_call(p.sock, "DELETE", "/migration", NULL, &r), 400);
	/* Incoming after configuration: refused, as a snapshot load is. */
	call_ok(&p, "PUT", "/machine-config", "{\"vcpu_count\": 2, "
		"\"mem_size_mib\": 64}");
	cr_assert_eq(api_call(p.sock, "PUT", "/migration/incoming",
			      "{\"uri\": \"unix:x\"}", &r), 400);
	cr_assert(fault_has(&r, "configured"), "%s", r.body);
	cr_assert(api_stop(&p) >= 0);
	api_proc_free(&p);
}

Test(migration, the_command_line_refuses_a_bad_incoming_uri)
{
	const char *argv[] = { "--incoming", "nowhere", NULL };
	struct mvm_result res;
	struct mvm_opts o = { .timeout = 10 };

	cr_assert_eq(mvm_launch(argv, &o, &res), 0);
	cr_assert_eq(res.status, 1, "status %d", res.status);
	cr_assert(strstr(res.err, "--incoming: uri 'nowhere'"), "%s",
		  res.err);
	mvm_result_free(&res);
}

/* Listening at path, for a fake destination. */
static int listen_at(const char *path)
{
	struct sockaddr_un a;
	int fd = unix_socket(path, &a);

	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(fd, 1), 0);
	return fd;
}

Test(migration, a_destination_that_answers_nonsense_is_left,
     .init = snap_dir_make, .fini = snap_dir_drop, .timeout = 120)
{
	static const char junk[] = "this is no migration stream at all, "
				   "not even a section header";
	struct api_proc src;
	char uri[160], buf[4096];
	int lfd, fd;

	snprintf(uri, sizeof(uri), "unix:%s", path_in("fake.sock"));
	lfd = listen_at(path_in("fake.sock"));
	boot(&src, "test=memcount " PAGES " report=4", 64);
	cr_assert(rounds_past(&src, 1, 30));
	migrate(&src, uri, NULL);
	fd = accept(lfd, NULL, NULL);
	cr_assert(fd >= 0);
	cr_assert(read(fd, buf, sizeof(buf)) > 0); /* its HELLO */
	cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	source_survives(&src, "magic");
	close(fd);
	close(lfd);
	cr_assert(api_stop(&src) >= 0);
	api_proc_free(&src);
}

/*
 * A HELLO for a 64 MiB one-vCPU guest with these CPUID feature words;
 * with hp, hotpluggable memory of those sizes whose region is at hp_gpa.
 */
static size_t fake_hello_hotplug(uint8_t *out, size_t cap,
				 uint32_t leaf7_ebx,
				 const struct mem_hotplug_config *hp,
				 uint64_t hp_gpa)
{
	struct mig_hello h = { .version = MIG_VERSION, .vcpus = 1,
			       .mem_mib = 64 };
	struct guest_mem gm;
	struct mvm_err err = { .msg = "" };
	void *buf = NULL;
	size_t len = 0, n;
	unsigned nr = 0;

	cr_assert_eq(gm_alloc(&gm, 64u << 20, GM_PAGES_SMALL, &err), 0);
	gm_file_layout(&gm, h.regions, &nr);
	h.nr_regions = nr;
	gm_free(&gm);
	if (hp) {
		h.flags |= MIG_HELLO_HOTPLUG;
		h.hotplug = *hp;
		h.regions[nr].gpa = hp_gpa;
		h.regions[nr].size = hp->total_mib << 20;
		h.nr_regions = nr + 1;
	}
	h.cpuid = calloc(1, sizeof(*h.cpuid) + sizeof(h.cpuid->entries[0]));
	h.cpuid->nent = 1;
	h.cpuid->entries[0].function = 7;
	h.cpuid->entries[0].flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	h.cpuid->entries[0].ebx = leaf7_ebx;
	cr_assert_eq(mig_hello_encode(&h, &buf, &len, &err), 0, "%s",
		     err.msg);
	mig_hello_free(&h);
	n = mig_section_put(out, cap, MIG_HELLO, buf, len);
	free(buf);
	cr_assert(n > 0);
	return n;
}

static size_t fake_hello(uint8_t *out, size_t cap, uint32_t leaf7_ebx)
{
	return fake_hello_hotplug(out, cap, leaf7_ebx, NULL, 0);
}

/* The destination's answer to what was sent on fd: one section. */
static enum mig_rx_event answer(int fd, char *reason, size_t cap)
{
	struct mvm_err err = { .msg = "" };
	enum mig_rx_event ev = MIG_RX_NONE;
	struct mig_rx rx;
	uint8_t buf[2048];
	ssize_t n;

	mig_rx_init_replies(&rx);
	while (ev == MIG_RX_NONE && (n = read(fd, buf, sizeof(buf))) > 0)
		cr_assert(mig_rx_feed(&rx, buf, (size_t)n, &ev, &err) >= 0,
			  "%s", err.msg);
	if (ev == MIG_RX_ABORT)
		snprintf(reason, cap, "%.*s", (int)rx.payload_len,
			 (const char *)rx.payload);
	mig_rx_fini(&rx);
	return ev;
}

Test(migration, a_guest_whose_cpu_features_this_host_lacks_is_refused,
     .init = snap_dir_make, .fini = snap_dir_drop, .timeout = 60)
{
	struct api_proc dst;
	struct mig_state m;
	uint8_t hello[8192];
	char uri[160], reason[1100] = "";
	size_t n;
	int fd;

	snprintf(uri, sizeof(uri), "unix:%s", path_in("mig.sock"));
	incoming(&dst, uri);
	fd = connect_to(path_in("mig.sock"));
	/* Leaf 7 ebx: every bit, sgx, hle, mpx and intel_pt among them. */
	n = fake_hello(hello, sizeof(hello), 0xffffffffu);
	cr_assert_eq(write(fd, hello, n), (ssize_t)n);
	cr_assert_eq(answer(fd, reason, sizeof(reason)), MIG_RX_ABORT);
	cr_assert(strstr(reason, "cannot provide"), "%s", reason);
	close(fd);
	cr_assert(wait_state(&dst, "failed", &m, 10), "%s", m.state);
	cr_assert(strstr(m.error, "cannot provide"), "%s", m.error);
	cr_assert_str_eq(vm_state(&dst), "Not started");
	cr_assert(api_stop(&dst) >= 0);
	api_proc_free(&dst);
}

Test(migration, a_guest_this_host_can_run_is_accepted,
     .init = snap_dir_make, .fini = snap_dir_drop, .timeout = 60)
{
	struct api_proc dst;
	uint8_t hello[8192];
	char uri[160], reason[1100] = "";
	size_t n;
	int fd;

	snprintf(uri, sizeof(uri), "unix:%s", path_in("mig.sock"));
	incoming(&dst, uri);
	fd = connect_to(path_in("mig.sock"));
	n = fake_hello(hello, sizeof(hello), 0);
	cr_assert_eq(write(fd, hello, n), (ssize_t)n);
	cr_assert_eq(answer(fd, reason, sizeof(reason)), MIG_RX_ACCEPT,
		     "%s", reason);
	close(fd);
	cr_assert(api_stop(&dst) >= 0);
	api_proc_free(&dst);
}

/* The destination's answer to a HELLO with hotpluggable memory. */
static enum mig_rx_event hotplug_answer(const struct mem_hotplug_config *hp,
					uint64_t gpa, char *reason, size_t cap)
{
	struct api_proc dst;
	enum mig_rx_event ev;
	uint8_t hello[8192];
	char uri[160];
	size_t n;
	int fd;

	snprintf(uri, sizeof(uri), "unix:%s", path_in("mig.sock"));
	incoming(&dst, uri);
	fd = connect_to(path_in("mig.sock"));
	n = fake_hello_hotplug(hello, sizeof(hello), 0, hp, gpa);
	cr_assert_eq(write(fd, hello, n), (ssize_t)n);
	ev = answer(fd, reason, cap);
	close(fd);
	cr_assert(api_stop(&dst) >= 0);
	api_proc_free(&dst);
	return ev;
}

/*
 * HELLO's hotplug sizes come from the network: the destination makes
 * their region only when they keep the VM's rules, and only where a boot
 * of that machine would put it (4 GiB, above 64 MiB of RAM).
 */
Test(migration, hotplug_memory_in_hello_is_checked_as_hostile,
     .init = snap_dir_make, .fini = snap_dir_drop, .timeout = 60)
{
	struct mem_hotplug_config hp = { .total_mib = 256, .slot_mib = 128,
					 .block_mib = 2 };
	char reason[1100] = "";

	cr_assert_eq(hotplug_answer(&hp, 4ull << 30, reason, sizeof(reason)),
		     MIG_RX_ACCEPT, "%s", reason);
	hp.block_mib = 3;
	cr_assert_eq(hotplug_answer(&hp, 4ull << 30, reason, sizeof(reason)),
		     MIG_RX_ABORT);
	cr_assert(strstr(reason, "the source's memory-hotplug: block_size_mib: "
			 "must be a power of two"), "%s", reason);
	hp.block_mib = 2;
	hp.slot_mib = 64;
	cr_assert_eq(hotplug_answer(&hp, 4ull << 30, reason, sizeof(reason)),
		     MIG_RX_ABORT);
	cr_assert(strstr(reason, "slot_size_mib: must be at least 128"), "%s",
		  reason);
	hp.slot_mib = 128;
	cr_assert_eq(hotplug_answer(&hp, 8ull << 30, reason, sizeof(reason)),
		     MIG_RX_ABORT);
	cr_assert(strstr(reason, "memory layout (2 regions, 64 MiB and 256 MiB "
			 "hotpluggable) is not the one this mvm makes"), "%s",
		  reason);
}

/* GET /hotplug/memory's field key. */
static uint64_t hotplug_status(struct api_proc *p, const char *key)
{
	return api_get_u64(p, "/hotplug/memory", key);
}

/* PATCH requested_size_mib, then wait for the guest's round line. */
static void hotplug_resize(struct api_proc *p, unsigned mib, unsigned round)
{
	char body[64], line[64];

	snprintf(body, sizeof(body), "{\"requested_size_mib\": %u}", mib);
	call_ok(p, "PATCH", "/hotplug/memory", body);
	snprintf(line, sizeof(line), "virtio_mem: round %u plugged=%u MiB\n",
		 round, mib);
	cr_assert(api_wait_out(p, line, 60), "no '%s':\n%s\n%s", line, p->out,
		  p->err);
}

/*
 * Hotpluggable memory moves with the guest: bz_virtio's test=virtio_mem
 * plugs 64 MiB of its region and writes every page; on the destination
 * GET /hotplug/memory says the same, and the guest, asked for 16 MiB,
 * unplugs from the top and reads back every page it keeps (the region
 * is in the destination's KVM slots and holds the source's data), then
 * unplugs the rest.
 */
Test(migration, plugged_hotplug_memory_moves_with_its_data,
     .init = snap_dir_make, .fini = snap_dir_drop, .timeout = 180)
{
	struct api_proc src, dst;
	struct mig_state m;
	char uri[160];

	snprintf(uri, sizeof(uri), "unix:%s", path_in("mig.sock"));
	cr_assert_eq(api_spawn(&src, NULL), 0);
	call_ok(&src, "PUT", "/machine-config", "{\"vcpu_count\": 1, "
		"\"mem_size_mib\": 64}");
	put_boot_source(&src, "virtio/bz_virtio",
			"test=virtio_mem rounds=3");
	call_ok(&src, "PUT", "/hotplug/memory", "{\"total_size_mib\": 256, "
		"\"block_size_mib\": 4}");
	call_ok(&src, "PUT", "/actions", "{\"action_type\": "
		"\"InstanceStart\"}");
	cr_assert(api_wait_out(&src, "virtio_mem: ready", 60), "%s\n%s",
		  src.out, src.err);
	hotplug_resize(&src, 64, 1);

	incoming(&dst, uri);
	migrate(&src, uri, NULL);
	cr_assert_eq(api_wait_exit(&src, 60), 0, "source:\n%s", src.err);
	cr_assert(wait_state(&dst, "completed", &m, 10), "destination: %s %s",
		  m.state, m.error);
	cr_assert_str_eq(vm_state(&dst), "Running");
	cr_assert_eq(hotplug_status(&dst, "total_size_mib"), 256);
	cr_assert_eq(hotplug_status(&dst, "block_size_mib"), 4);
	cr_assert_eq(hotplug_status(&dst, "plugged_size_mib"), 64);
	cr_assert_eq(hotplug_status(&dst, "requested_size_mib"), 64);

	hotplug_resize(&dst, 16, 2);
	cr_assert(strstr(dst.out, "PASS virtio_mem kept blocks hold data"),
		  "%s", dst.out);
	cr_assert_eq(hotplug_status(&dst, "plugged_size_mib"), 16);
	hotplug_resize(&dst, 0, 3);
	cr_assert(api_wait_out(&dst, "ALL OK", 30), "%s\n%s", dst.out,
		  dst.err);
	cr_assert_null(strstr(dst.out, "FAIL"), "%s", dst.out);
	api_wait_exit(&dst, 10);
	api_proc_free(&src);
	api_proc_free(&dst);
}
