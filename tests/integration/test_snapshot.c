/*
 * Snapshots through the API, as a Firecracker user takes and loads them:
 * PUT /snapshot/create on a paused VM, then PUT /snapshot/load in a new
 * mvm. The guest is bz_virtio's memcount (tests/guests/virtio/
 * t_memcount.c): it checks, round after round, that every word of its
 * pages holds what it wrote last, so a page the load got wrong (stale,
 * zero, from elsewhere) ends it with "STALE".
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_client.h"
#include "harness.h"
#include "snap_files.h"

static int call(struct api_proc *p, const char *method, const char *path,
		const char *body, struct api_resp *r)
{
	return api_call(p->sock, method, path, body, r);
}

/* Boot bz_virtio with args on mem MiB, dirty page tracking on. */
static void boot(struct api_proc *p, const char *args, unsigned mem)
{
	char body[512];

	cr_assert_eq(api_spawn(p, NULL), 0);
	snprintf(body, sizeof(body), "{\"vcpu_count\": 1, \"mem_size_mib\": "
		 "%u, \"track_dirty_pages\": true}", mem);
	call_ok(p, "PUT", "/machine-config", body);
	put_boot_source(p, "virtio/bz_virtio", args);
	call_ok(p, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
}

static void snapshot(struct api_proc *p, const char *type, const char *state,
		     const char *mem)
{
	char body[512];

	call_ok(p, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	snprintf(body, sizeof(body), "{\"snapshot_type\": \"%s\", "
		 "\"snapshot_path\": \"%s\", \"mem_file_path\": \"%s\"}",
		 type, state, mem);
	call_ok(p, "PUT", "/snapshot/create", body);
}

static int load(struct api_proc *p, const char *state, const char *backend,
		const char *mem, struct api_resp *r)
{
	char body[768];

	snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\", "
		 "\"mem_backend\": {\"backend_type\": \"%s\", "
		 "\"backend_path\": \"%s\"}, \"resume_vm\": true}", state,
		 backend, mem);
	return call(p, "PUT", "/snapshot/load", body, r);
}

/*
 * The count of the last whole line "PREFIXC\n" in out, or 0: a line
 * still being printed ("round=102" of 10240) does not count.
 */
static unsigned last_count(const char *out, const char *prefix)
{
	const char *s = out;
	unsigned c = 0;

	while ((s = strstr(s, prefix))) {
		unsigned v;
		int end = 0;

		s += strlen(prefix);
		if (sscanf(s, "%u%n", &v, &end) == 1 && s[end] == '\n')
			c = v;
	}
	return c;
}

static unsigned last_round(const char *out)
{
	return last_count(out, "memcount: round=");
}

static bool rounds_seen(struct api_proc *p, int n, double seconds)
{
	for (double t = 0; t < seconds; t += 0.1) {
		if (count_str(p->out, "memcount: round=") >= n)
			return true;
		api_drain(p, 0.1);
	}
	return false;
}

Test(snapshot, the_count_goes_on_in_a_new_process, .init = snap_dir_make,
     .fini = snap_dir_drop, .timeout = 90)
{
	struct api_proc a, b;
	struct api_resp r;
	unsigned before, after;

	boot(&a, "test=memcount pages=512", 64);
	cr_assert(rounds_seen(&a, 2, 30), "no rounds:\n%s\n%s", a.out, a.err);
	snapshot(&a, "Full", path_in("state"), path_in("mem"));
	api_drain(&a, 0.2);
	before = last_round(a.out);
	cr_assert_eq(api_stop(&a) >= 0, true);
	api_proc_free(&a);

	cr_assert_eq(api_spawn(&b, NULL), 0);
	cr_assert_eq(load(&b, path_in("state"), "File", path_in("mem"), &r),
		     204, "%s\n%s", r.body, b.err);
	cr_assert(rounds_seen(&b, 3, 30), "no rounds after the load:\n%s\n%s",
		  b.out, b.err);
	after = last_round(b.out);
	/* It went on from where it was: its pages held the count. */
	cr_assert_gt(after, before, "before %u, after %u\n%s", before, after,
		     b.out);
	cr_assert_null(strstr(b.out, "STALE"), "%s", b.out);
	/* The loaded VM is an ordinary one: paused, resumed, configured. */
	call_ok(&b, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	call_ok(&b, "PATCH", "/vm", "{\"state\": \"Resumed\"}");
	cr_assert_eq(call(&b, "GET", "/machine-config", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"mem_size_mib\":64"), "%s", r.body);
	cr_assert(rounds_seen(&b, 5, 30), "%s", b.out);
	cr_assert_null(strstr(b.out, "STALE"), "%s", b.out);
	api_stop(&b);
	api_proc_free(&b);
}

static unsigned last_disk_round(const char *out)
{
	return last_count(out, "diskcount: round=");
}

static bool disk_rounds_past(struct api_proc *p, unsigned round,
			     double seconds)
{
	for (double t = 0; t < seconds; t += 0.1) {
		if (last_disk_round(p->out) >= round || strstr(p->out, "FAIL"))
			return last_disk_round(p->out) >= round;
		api_drain(p, 0.1);
	}
	return false;
}

/*
 * diskcount reads back, each round, what it wrote 16 rounds before: the
 * rounds after the load read what was written before the snapshot.
 */
Test(snapshot, disk_data_written_before_is_there_after, .init = snap_dir_make,
     .fini = snap_dir_drop, .timeout = 90)
{
	struct api_proc a, b;
	struct api_resp r;
	unsigned before;
	int fd;

	fd = open(path_in("disk"), O_RDWR | O_CREAT, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	cr_assert_eq(api_spawn(&a, NULL), 0);
	call_ok(&a, "PUT", "/machine-config",
		"{\"vcpu_count\": 1, \"mem_size_mib\": 32}");
	put_boot_source(&a, "virtio/bz_virtio",
			"test=diskcount report=16");
	put_data_drive(&a, "data", path_in("disk"));
	call_ok(&a, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	cr_assert(disk_rounds_past(&a, 48, 30), "%s\n%s", a.out, a.err);
	snapshot(&a, "Full", path_in("state"), path_in("mem"));
	api_drain(&a, 0.2);
	before = last_disk_round(a.out);
	api_stop(&a);
	api_proc_free(&a);

	cr_assert_eq(api_spawn(&b, NULL), 0);
	cr_assert_eq(load(&b, path_in("state"), "File", path_in("mem"), &r),
		     204, "%s\n%s", r.body, b.err);
	/* 16 rounds on, every window written before the snapshot was read. */
	cr_assert(disk_rounds_past(&b, before + 48, 30), "before %u\n%s\n%s",
		  before, b.out, b.err);
	cr_assert_null(strstr(b.out, "STALE"), "%s", b.out);
	cr_assert_null(strstr(b.out, "FAIL"), "%s", b.out);
	api_stop(&b);
	api_proc_free(&b);
}

/* The example page-fault handler, serving mem on sock; its pid. */
static pid_t start_handler(const char *sock, const char *mem)
{
	const char *bin = getenv("MVM_UFFD_HANDLER");
	int pipefd[2];
	char ready[16] = "";
	pid_t pid;

	cr_assert_not_null(bin, "MVM_UFFD_HANDLER is not set");
	cr_assert_eq(pipe(pipefd), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(pipefd[1], 1);
		execl(bin, bin, sock, mem, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	/* It says "ready" once it listens. */
	cr_assert_gt(read(pipefd[0], ready, sizeof(ready) - 1), 0);
	cr_assert(strstr(ready, "ready"), "%s", ready);
	close(pipefd[0]);
	return pid;
}

Test(snapshot, a_page_fault_handler_serves_the_memory, .init = snap_dir_make,
     .fini = snap_dir_drop, .timeout = 90)
{
	struct api_proc a, b;
	struct api_resp r;
	unsigned before;
	pid_t handler;
	int status;

	boot(&a, "test=memcount pages=512", 64);
	cr_assert(rounds_seen(&a, 2, 30), "%s\n%s", a.out, a.err);
	snapshot(&a, "Full", path_in("state"), path_in("mem"));
	api_drain(&a, 0.2);
	before = last_round(a.out);
	api_stop(&a);
	api_proc_free(&a);

	handler = start_handler(path_in("uffd.sock"), path_in("mem"));
	cr_assert_eq(api_spawn(&b, NULL), 0);
	cr_assert_eq(load(&b, path_in("state"), "Uffd", path_in("uffd.sock"),
			  &r), 204, "%s\n%s", r.body, b.err);
	cr_assert(rounds_seen(&b, 3, 30), "%s\n%s", b.out, b.err);
	cr_assert_gt(last_round(b.out), before, "%s", b.out);
	cr_assert_null(strstr(b.out, "STALE"), "%s", b.out);
	api_stop(&b);
	api_proc_free(&b);
	/* mvm gone, the handler sees its socket close and ends cleanly. */
	cr_assert_eq(waitpid(handler, &status, 0), handler);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "handler status %d", status);
}

/* Copy the first len bytes of from into to (the whole file: len < 0). */
static void copy_part(const char *from, const char *to, long len)
{
	char cmd[512];

	if (len < 0)
		snprintf(cmd, sizeof(cmd), "cp %s %s", from, to);
	else
		snprintf(cmd, sizeof(cmd), "head -c %ld %s > %s", len, from,
			 to);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void flip_byte(const char *path, long at)
{
	int fd = open(path, O_RDWR);
	unsigned char c;

	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &c, 1, at), 1);
	c ^= 0x5a;
	cr_assert_eq(pwrite(fd, &c, 1, at), 1);
	close(fd);
}

static void refused(struct api_proc *p, const char *state, const char *mem,
		    const char *why)
{
	struct api_resp r;

	cr_assert_eq(load(p, state, "File", mem, &r), 400, "%s: %d %s", state,
		     r.status, r.body);
	cr_assert(strstr(r.body, why), "%s: want '%s' in %s", state, why,
		  r.body);
}

Test(snapshot, corrupt_truncated_and_foreign_files_are_refused,
     .init = snap_dir_make, .fini = snap_dir_drop, .timeout = 90)
{
	struct api_proc a, b;
	struct api_resp r;
	struct stat st;

	boot(&a, "test=memcount pages=64", 32);
	cr_assert(rounds_seen(&a, 1, 30), "%s", a.out);
	snapshot(&a, "Full", path_in("state"), path_in("mem"));
	api_stop(&a);
	api_proc_free(&a);
	cr_assert_eq(stat(path_in("state"), &st), 0);

	cr_assert_eq(api_spawn(&b, NULL), 0);
	copy_part(path_in("state"), path_in("trunc"), st.st_size / 2);
	refused(&b, path_in("trunc"), path_in("mem"), "truncated");
	copy_part(path_in("state"), path_in("flip"), -1);
	flip_byte(path_in("flip"), 2); /* the FDT magic */
	refused(&b, path_in("flip"), path_in("mem"), "not an mvm snapshot");
	refused(&b, guest_path("virtio/bz_virtio"), path_in("mem"),
		"not an mvm snapshot");
	refused(&b, path_in("absent"), path_in("mem"), "absent");
	/* A memory file shorter than the snapshot's RAM. */
	copy_part(path_in("mem"), path_in("shortmem"), 4096);
	refused(&b, path_in("state"), path_in("shortmem"), "shortmem");
	/* Refusals changed nothing: the good files still load. */
	cr_assert_eq(load(&b, path_in("state"), "File", path_in("mem"), &r),
		     204, "%s\n%s", r.body, b.err);
	cr_assert(rounds_seen(&b, 1, 30), "%s\n%s", b.out, b.err);
	cr_assert_null(strstr(b.out, "STALE"), "%s", b.out);
	/* A second load into the same mvm is refused. */
	cr_assert_eq(load(&b, path_in("state"), "File", path_in("mem"), &r),
		     400, "%s", r.body);
	api_stop(&b);
	api_proc_free(&b);
}

Test(snapshot, create_refuses_what_it_must, .init = snap_dir_make,
     .fini = snap_dir_drop, .timeout = 60)
{
	struct api_proc a;
	struct api_resp r;
	char body[512];

	boot(&a, "test=memcount pages=64", 32);
	cr_assert(rounds_seen(&a, 1, 30), "%s", a.out);
	/* Running: Firecracker's rule, a snapshot is of a paused VM. */
	snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\", "
		 "\"mem_file_path\": \"%s\"}", path_in("s"), path_in("m"));
	cr_assert_eq(call(&a, "PUT", "/snapshot/create", body, &r), 400);
	cr_assert(strstr(r.body, "Paused"), "%s", r.body);
	call_ok(&a, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	/* A directory that does not exist. */
	snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\", "
		 "\"mem_file_path\": \"%s\"}", path_in("s"), path_in("none/m"));
	cr_assert_eq(call(&a, "PUT", "/snapshot/create", body, &r), 400);
	cr_assert(strstr(r.body, "mem_file_path"), "%s", r.body);
	/* Bad shapes name their field. */
	cr_assert_eq(call(&a, "PUT", "/snapshot/create",
			  "{\"snapshot_path\": \"x\"}", &r), 400);
	cr_assert(strstr(r.body, "mem_file_path"), "%s", r.body);
	cr_assert_eq(call(&a, "PUT", "/snapshot/create",
			  "{\"snapshot_path\": \"x\", \"mem_file_path\": \"y\", "
			  "\"snapshot_type\": \"Half\"}", &r), 400);
	cr_assert(strstr(r.body, "snapshot_type"), "%s", r.body);
	/* Loading is for a fresh mvm only. */
	cr_assert_eq(load(&a, path_in("s"), "File", path_in("m"), &r), 400);
	/* The VM is still there and still runs. */
	call_ok(&a, "PATCH", "/vm", "{\"state\": \"Resumed\"}");
	cr_assert(rounds_seen(&a, 3, 30), "%s", a.out);
	api_stop(&a);
	api_proc_free(&a);
}

Test(snapshot, load_refuses_a_configured_mvm, .init = snap_dir_make,
     .fini = snap_dir_drop, .timeout = 30)
{
	struct api_proc a;
	struct api_resp r;

	cr_assert_eq(api_spawn(&a, NULL), 0);
	call_ok(&a, "PUT", "/machine-config",
		"{\"vcpu_count\": 2, \"mem_size_mib\": 64}");
	cr_assert_eq(load(&a, path_in("s"), "File", path_in("m"), &r), 400);
	cr_assert(strstr(r.body, "machine-config is configured already"),
		  "%s", r.body);
	cr_assert_eq(call(&a, "PUT", "/snapshot/load",
			  "{\"snapshot_path\": \"s\"}", &r), 400);
	cr_assert(strstr(r.body, "mem_backend"), "%s", r.body);
	cr_assert_eq(call(&a, "PUT", "/snapshot/load",
			  "{\"snapshot_path\": \"s\", \"mem_file_path\": \"m\", "
			  "\"mem_backend\": {\"backend_type\": \"File\", "
			  "\"backend_path\": \"m\"}}", &r), 400);
	cr_assert(strstr(r.body, "mem_file_path"), "%s", r.body);
	api_stop(&a);
	api_proc_free(&a);
}

/* Allocated bytes of a (sparse) file. */
static long long allocated(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "%s", path);
	return (long long)st.st_blocks * 512;
}

static bool out_has(struct api_proc *p, const char *needle, double seconds)
{
	return api_wait_out(p, needle, seconds);
}

static void console(struct api_proc *p, const char *keys)
{
	cr_assert_eq(write(p->in_fd, keys, strlen(keys)),
		     (ssize_t)strlen(keys));
}

Test(snapshot, a_diff_is_small_and_merges_onto_its_base, .init = snap_dir_make,
     .fini = snap_dir_drop, .timeout = 120)
{
	struct api_proc a, b;
	struct api_resp r;
	long long full, diff;
	char cmd[512];

	boot(&a, "test=memcount touch=all dirty=5", 128);
	cr_assert(out_has(&a, "memcount: touched", 60), "%s\n%s", a.out,
		  a.err);
	snapshot(&a, "Full", path_in("state"), path_in("mem"));
	call_ok(&a, "PATCH", "/vm", "{\"state\": \"Resumed\"}");
	console(&a, "d");
	cr_assert(out_has(&a, "memcount: dirtied", 30), "%s", a.out);
	snapshot(&a, "Diff", path_in("dstate"), path_in("dmem"));
	api_stop(&a);
	api_proc_free(&a);

	full = allocated(path_in("mem"));
	diff = allocated(path_in("dmem"));
	/* 5% of the pages, and what the devices and tables wrote meanwhile. */
	cr_assert_gt(full, 100ll << 20, "full %lld", full);
	cr_assert_lt(diff * 8, full, "diff %lld, full %lld", diff, full);

	/* The Diff layered onto its base is the memory of the Diff's state. */
	snprintf(cmd, sizeof(cmd), "%s snapshot merge %s %s", mvm_bin(),
		 path_in("mem"), path_in("dmem"));
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	cr_assert_eq(api_spawn(&b, NULL), 0);
	cr_assert_eq(load(&b, path_in("dstate"), "File", path_in("mem"), &r),
		     204, "%s\n%s", r.body, b.err);
	console(&b, "c");
	cr_assert(out_has(&b, "memcount: checked", 60), "%s\n%s", b.out,
		  b.err);
	cr_assert(strstr(b.out, "gen=1"), "%s", b.out);
	cr_assert_null(strstr(b.out, "STALE"), "%s", b.out);
	api_stop(&b);
	api_proc_free(&b);
}

/*
 * mvm host-check's verdict on nesting here; where it cannot, the first
 * of its reasons (what a refusal to nest quotes) into why.
 */
static bool host_can_nest(char *why, size_t len)
{
	char cmd[512], out[16384];
	struct json_object *j, *v;
	size_t n;
	bool can;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s host-check --json", mvm_bin());
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	j = json_tokener_parse(out);
	cr_assert_not_null(j, "mvm host-check --json: not JSON:\n%s", out);
	cr_assert(json_object_object_get_ex(j, "nested_supported", &v), "%s",
		  out);
	can = json_object_get_boolean(v);
	snprintf(why, len, "%s", "");
	if (json_object_object_get_ex(j, "nested_reasons", &v) &&
	    json_object_array_length(v) > 0)
		snprintf(why, len, "%s", json_object_get_string(
					 json_object_array_get_idx(v, 0)));
	json_object_put(j);
	return can;
}

Test(snapshot, nested_state_on_a_host_that_cannot_nest_gets_400_and_why,
     .init = snap_dir_make, .fini = snap_dir_drop, .timeout = 30)
{
	const char *writer = getenv("MVM_NESTED_STATE_FILE");
	struct api_proc p;
	struct api_resp r;
	char cmd[512], why[512];

	if (host_can_nest(why, sizeof(why))) {
		fprintf(stderr, "[NOTE] snapshot::nested_state_on_a_host_that_"
			"cannot_nest_gets_400_and_why NOT RUN: this host can "
			"nest (mvm host-check), so it would load the snapshot; "
			"the refusal on a host that cannot nest went unchecked "
			"here\n");
		cr_skip_test("this host can nest");
	}
	cr_assert(why[0], "host-check gives no reason this host cannot nest");
	cr_assert_not_null(writer, "MVM_NESTED_STATE_FILE is not set");
	snprintf(cmd, sizeof(cmd), "%s %s %s", writer, path_in("state"),
		 path_in("mem"));
	cr_assert_eq(system(cmd), 0, "%s", cmd);

	cr_assert_eq(api_spawn(&p, NULL), 0);
	cr_assert_eq(load(&p, path_in("state"), "File", path_in("mem"), &r),
		     400, "%d %s\n%s", r.status, r.body, p.err);
	/* What it is, and the host's reason, as mvm host-check gives it. */
	cr_assert(strstr(r.body, "taken with nested virtualization exposed "
			 "(its vCPUs carry nested state), which this host "
			 "cannot restore"), "%s", r.body);
	cr_assert(strstr(r.body, why), "want the host's reason '%s' in %s",
		  why, r.body);
	/* Refused before anything was built: this mvm is as it was. */
	cr_assert_eq(call(&p, "GET", "/", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"state\":\"Not started\""), "%s", r.body);
	cr_assert_null(strstr(p.err, "snapshot loaded"), "%s", p.err);
	api_stop(&p);
	api_proc_free(&p);
}
