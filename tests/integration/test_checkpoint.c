/*
 * Checkpoints through the API (mvm's extension): taken of a running or
 * paused VM, listed, deleted, and applied to the same VM in place. The
 * guest is bz_virtio's memcount in rounds mode (tests/guests/virtio/
 * t_memcount.c): every round it checks every word of its pages against
 * what it wrote the round before, so a memory revert that is not the
 * whole, consistent memory of one instant ends it with "STALE". The
 * guest never touches its drive; the host writes the drive's file, so
 * that what a checkpoint keeps of a disk and puts back can be checked.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_client.h"
#include "harness.h"

#define DISK_BYTES (1 << 20)

static char dir[256];

/*
 * MVM_TEST_REFLINK_DIR: a directory on a file system with reflinks (xfs,
 * btrfs) to work in, where drives must then be reflinked, not copied.
 */
static const char *reflink_dir(void)
{
	const char *d = getenv("MVM_TEST_REFLINK_DIR");

	return d && *d ? d : NULL;
}

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "%s/mvm-ckpt-XXXXXX",
		 reflink_dir() ? reflink_dir() : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
}

static void drop_dir(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (dir[0] && system(cmd)) {
		/* a leftover temp dir fails no test */
	}
}

static const char *path_in(const char *name)
{
	static char p[4][300];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

static int call(struct api_proc *p, const char *method, const char *path,
		const char *body, struct api_resp *r)
{
	return api_call(p->sock, method, path, body, r);
}

static void call_ok(struct api_proc *p, const char *method, const char *path,
		    const char *body)
{
	struct api_resp r;
	int st = call(p, method, path, body, &r);

	cr_assert(st >= 200 && st < 300, "%s %s -> %d %s\n%s", method, path,
		  st, r.body, p->err ? p->err : "");
}

/* A 400 whose fault_message holds want. */
static void call_400(struct api_proc *p, const char *method, const char *path,
		     const char *body, const char *want)
{
	struct api_resp r;
	int st = call(p, method, path, body, &r);

	cr_assert_eq(st, 400, "%s %s -> %d %s", method, path, st, r.body);
	cr_assert(fault_has(&r, want), "%s %s: want '%s' in %s", method, path,
		  want, r.body);
}

/* The drive's file: DISK_BYTES of byte c. */
static void fill_disk(const char *path, char c)
{
	static char buf[DISK_BYTES];
	int fd = open(path, O_WRONLY | O_CREAT, 0600);

	cr_assert_geq(fd, 0, "%s", path);
	memset(buf, c, sizeof(buf));
	cr_assert_eq(pwrite(fd, buf, sizeof(buf), 0), DISK_BYTES);
	close(fd);
}

/* The drive's file holds DISK_BYTES of c and nothing more. */
static void disk_is(const char *path, char c)
{
	static char buf[DISK_BYTES + 1];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	cr_assert_geq(fd, 0, "%s", path);
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	cr_assert_eq(n, DISK_BYTES, "%s: %zd bytes", path, n);
	for (size_t i = 0; i < DISK_BYTES; i++)
		cr_assert_eq(buf[i], c, "%s: byte %zu is '%c', want '%c'",
			     path, i, buf[i], c);
}

/*
 * mvm with memcount on cpus vCPUs and 64 MiB, a writable drive disk0
 * (the file disk, made if absent) and checkpoints kept in ck.
 */
static void boot(struct api_proc *p, unsigned cpus, const char *ck)
{
	char body[1024];
	struct stat st;

	if (stat(path_in("disk"), &st))
		fill_disk(path_in("disk"), 'A');
	cr_assert_eq(api_spawn(p, NULL), 0);
	snprintf(body, sizeof(body), "{\"vcpu_count\": %u, \"mem_size_mib\": "
		 "64, \"track_dirty_pages\": true}", cpus);
	call_ok(p, "PUT", "/machine-config", body);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"test=memcount pages=512\"}",
		 guest_path("virtio/bz_virtio"));
	call_ok(p, "PUT", "/boot-source", body);
	snprintf(body, sizeof(body), "{\"drive_id\": \"disk0\", "
		 "\"path_on_host\": \"%s\", \"is_root_device\": false, "
		 "\"is_read_only\": false}", path_in("disk"));
	call_ok(p, "PUT", "/drives/disk0", body);
	snprintf(body, sizeof(body), "{\"dir\": \"%s\"}", ck);
	call_ok(p, "PUT", "/checkpoints/config", body);
	call_ok(p, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
}

/*
 * The round of a whole line "memcount: round=C\n" at s, or 0: a line the
 * guest was paused in the middle of printing is not one yet.
 */
static unsigned round_at(const char *s)
{
	unsigned c = 0;
	int end = 0;

	if (sscanf(s, "memcount: round=%u%n", &c, &end) == 1 &&
	    s[end] == '\n')
		return c;
	return 0;
}

/* The last whole line's round in out[from..], or 0. */
static unsigned last_round(const char *out, size_t from)
{
	const char *s = out + from;
	unsigned c = 0;

	for (; (s = strstr(s, "memcount: round=")); s++)
		if (round_at(s))
			c = round_at(s);
	return c;
}

/* The first whole line's round in out[from..], or 0. */
static unsigned first_round(const char *out, size_t from)
{
	const char *s = out + from;

	for (; (s = strstr(s, "memcount: round=")); s++)
		if (round_at(s))
			return round_at(s);
	return 0;
}

/* How many rounds apart two lines are (the guest's report=). */
static unsigned report_every(const char *out)
{
	const char *s = strstr(out, " report=");
	unsigned r = 0;

	cr_assert_not_null(s, "%s", out);
	sscanf(s, " report=%u", &r);
	cr_assert_gt(r, 0);
	return r;
}

static bool rounds_seen(struct api_proc *p, size_t from, int n,
			double seconds)
{
	for (double t = 0; t < seconds; t += 0.1) {
		if (count_str(p->out + from, "memcount: round=") >= n)
			return true;
		api_drain(p, 0.1);
	}
	return false;
}

/* Take checkpoint name: 201 and its JSON (the caller puts it). */
static json_object *take(struct api_proc *p, const char *name)
{
	struct api_resp r;
	char path[128];
	json_object *j;

	snprintf(path, sizeof(path), "/checkpoints/%s", name);
	cr_assert_eq(call(p, "PUT", path, NULL, &r), 201, "%s\n%s", r.body,
		     p->err);
	j = json_tokener_parse(r.body);
	cr_assert_not_null(j, "%s", r.body);
	return j;
}

static int64_t num(json_object *o, const char *key)
{
	json_object *v;

	cr_assert(json_object_object_get_ex(o, key, &v), "no %s", key);
	return json_object_get_int64(v);
}

static void apply(struct api_proc *p, const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/checkpoints/%s/apply", name);
	call_ok(p, "PUT", path, NULL);
}

static void state_is(struct api_proc *p, const char *state)
{
	struct api_resp r;
	char want[64];

	cr_assert_eq(call(p, "GET", "/", NULL, &r), 200);
	snprintf(want, sizeof(want), "\"state\":\"%s\"", state);
	cr_assert(strstr(r.body, want), "want %s: %s", state, r.body);
}

Test(checkpoint, apply_reverts_memory_and_disk, .init = make_dir,
     .fini = drop_dir, .timeout = 120)
{
	unsigned report, at_a, before, after;
	struct api_proc p;
	struct api_resp r;
	size_t mark;
	json_object *a;

	mkdir(path_in("ck"), 0700);
	boot(&p, 1, path_in("ck"));
	cr_assert(rounds_seen(&p, 0, 2, 30), "no rounds:\n%s\n%s", p.out,
		  p.err);
	report = report_every(p.out);
	/*
	 * Taken after round at_a's line, and before the third one after it:
	 * lines may come between this look and the pause.
	 */
	api_drain(&p, 0.2);
	at_a = last_round(p.out, 0);
	a = take(&p, "A");
	cr_assert_geq(num(a, "disk_bytes"), DISK_BYTES, "%s",
		      json_object_to_json_string(a));
	cr_assert_gt(num(a, "memory_bytes"), 512 * 4096);
	cr_assert_geq(num(a, "size_bytes"),
		      num(a, "disk_bytes") + num(a, "memory_bytes"));
	cr_assert_eq(num(a, "disks"), 1);
	if (reflink_dir())
		cr_assert_eq(num(a, "reflinked"), 1, "%s",
			     json_object_to_json_string(a));
	else
		cr_log_info("drives copied, not reflinked, unless /tmp makes "
			    "reflinks (MVM_TEST_REFLINK_DIR checks that)");
	json_object_put(a);
	state_is(&p, "Running"); /* a brief pause, then on */

	/* The guest counts on; the host writes other bytes to the drive. */
	mark = p.out_len;
	cr_assert(rounds_seen(&p, mark, 6, 30), "%s", p.out);
	fill_disk(path_in("disk"), 'B');
	before = last_round(p.out, 0);
	cr_assert_gt(before, at_a + 3 * report);

	mark = p.out_len;
	apply(&p, "A");
	state_is(&p, "Running");
	disk_is(path_in("disk"), 'A');
	cr_assert(rounds_seen(&p, mark, 2, 30), "no rounds after the apply:"
		  "\n%s\n%s", p.out + mark, p.err);
	/* Back to the checkpoint's count, not on from the last one. */
	after = first_round(p.out, mark);
	cr_assert(after > at_a && after <= at_a + 3 * report && after < before,
		  "checkpoint after round %u, last before the apply %u, first "
		  "after it %u", at_a, before, after);
	cr_assert_null(strstr(p.out, "STALE"), "%s", p.out + mark);

	/* Listed with its sizes; deleted, the VM runs on (its memory too). */
	cr_assert_eq(call(&p, "GET", "/checkpoints", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"name\":\"A\""), "%s", r.body);
	cr_assert(strstr(r.body, "\"size_bytes\":"), "%s", r.body);
	call_ok(&p, "DELETE", "/checkpoints/A", NULL);
	cr_assert_eq(call(&p, "GET", "/checkpoints", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"checkpoints\":[]"), "%s", r.body);
	cr_assert_eq(access(path_in("ck/A"), F_OK), -1);
	mark = p.out_len;
	cr_assert(rounds_seen(&p, mark, 3, 30), "%s", p.out + mark);
	cr_assert_null(strstr(p.out, "STALE"), "%s", p.out + mark);
	api_stop(&p);
	api_proc_free(&p);
}

/* Allocated bytes of a (sparse) file. */
static long long allocated(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "%s", path);
	return (long long)st.st_blocks * 512;
}

Test(checkpoint, apply_while_paused_keeps_it_paused, .init = make_dir,
     .fini = drop_dir, .timeout = 120)
{
	unsigned report, at_p, before, after;
	struct api_proc p;
	char body[1024];
	size_t mark;

	mkdir(path_in("ck"), 0700);
	boot(&p, 1, path_in("ck"));
	cr_assert(rounds_seen(&p, 0, 2, 30), "%s\n%s", p.out, p.err);
	report = report_every(p.out);
	call_ok(&p, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	api_drain(&p, 0.2);
	at_p = last_round(p.out, 0);
	json_object_put(take(&p, "P"));
	state_is(&p, "Paused"); /* taken of a paused VM: still paused */
	call_ok(&p, "PATCH", "/vm", "{\"state\": \"Resumed\"}");
	cr_assert(rounds_seen(&p, p.out_len, 4, 30), "%s", p.out);
	call_ok(&p, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	api_drain(&p, 0.2);
	before = last_round(p.out, 0);

	mark = p.out_len;
	apply(&p, "P");
	state_is(&p, "Paused");
	api_drain(&p, 0.5);
	cr_assert_eq(count_str(p.out + mark, "memcount: round="), 0,
		     "the guest ran while paused: %s", p.out + mark);

	/* Its memory is the checkpoint's file now: no snapshot over it. */
	snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\", "
		 "\"mem_file_path\": \"%s\"}", path_in("s"),
		 path_in("ck/P/memory"));
	call_400(&p, "PUT", "/snapshot/create", body, "still reads its "
		 "memory from");
	/* No dirty log knows what the apply changed: a Diff holds it all. */
	snprintf(body, sizeof(body), "{\"snapshot_type\": \"Diff\", "
		 "\"snapshot_path\": \"%s\", \"mem_file_path\": \"%s\"}",
		 path_in("s"), path_in("dmem"));
	call_ok(&p, "PUT", "/snapshot/create", body);
	cr_assert_geq(allocated(path_in("dmem")), 64ll << 20);

	call_ok(&p, "PATCH", "/vm", "{\"state\": \"Resumed\"}");
	cr_assert(rounds_seen(&p, mark, 2, 30), "%s\n%s", p.out + mark,
		  p.err);
	/* Paused after round at_p's line, or in the middle of the next. */
	after = first_round(p.out, mark);
	cr_assert(after > at_p && after <= at_p + 2 * report &&
		  after < before, "paused after round %u, last before the "
		  "apply %u, first after it %u", at_p, before, after);
	cr_assert_null(strstr(p.out, "STALE"), "%s", p.out + mark);
	api_stop(&p);
	api_proc_free(&p);
}

/* The FDT file at path without its node at node_path. */
static void drop_node(const char *path, const char *node_path)
{
	static char fdt[1 << 20];
	int fd = open(path, O_RDWR), at;
	ssize_t n = read(fd, fdt, sizeof(fdt));

	cr_assert_gt(n, 0, "%s", path);
	at = fdt_path_offset(fdt, node_path);
	cr_assert_geq(at, 0, "%s: no %s", path, node_path);
	cr_assert_eq(fdt_del_node(fdt, at), 0);
	cr_assert_eq(fdt_pack(fdt), 0);
	cr_assert_eq(ftruncate(fd, 0), 0);
	cr_assert_eq(pwrite(fd, fdt, fdt_totalsize(fdt), 0),
		     (ssize_t)fdt_totalsize(fdt));
	close(fd);
}

Test(checkpoint, refusals_leave_the_vm_as_it_was, .init = make_dir,
     .fini = drop_dir, .timeout = 120)
{
	char body[1024], long_name[80], path[128];
	struct api_proc p;
	struct api_resp r;
	size_t mark;

	/* Before the directory is set, and a directory that is not one. */
	cr_assert_eq(api_spawn(&p, NULL), 0);
	call_400(&p, "GET", "/checkpoints", NULL, "PUT /checkpoints/config");
	call_400(&p, "PUT", "/checkpoints/config", "{\"dir\": \"/nonexistent"
		 "/ck\"}", "/nonexistent/ck");
	fill_disk(path_in("disk"), 'A');
	snprintf(body, sizeof(body), "{\"dir\": \"%s\"}", path_in("disk"));
	call_400(&p, "PUT", "/checkpoints/config", body, "not a directory");
	call_400(&p, "PUT", "/checkpoints/config", "{}", "dir");
	call_400(&p, "PUT", "/checkpoints/config", "{\"dir\": 7}", "dir");
	call_400(&p, "PUT", "/checkpoints/A", NULL, "before starting");
	api_stop(&p);
	api_proc_free(&p);

	mkdir(path_in("ck"), 0700);
	boot(&p, 1, path_in("ck"));
	cr_assert(rounds_seen(&p, 0, 1, 30), "%s\n%s", p.out, p.err);
	/* Names. */
	call_400(&p, "PUT", "/checkpoints/.A", NULL, "must not start with");
	call_400(&p, "PUT", "/checkpoints/a*b", NULL, "may contain only");
	memset(long_name, 'n', 65);
	long_name[65] = '\0';
	snprintf(path, sizeof(path), "/checkpoints/%s", long_name);
	call_400(&p, "PUT", path, NULL, "1 to 64 characters");
	call_400(&p, "DELETE", "/checkpoints/config", NULL, "'config'");
	call_400(&p, "PUT", "/checkpoints/nope/apply", NULL,
		 "no checkpoint nope");
	call_400(&p, "DELETE", "/checkpoints/nope", NULL, "no checkpoint nope");
	call_400(&p, "PUT", "/checkpoints/A", "{}", "takes no body");
	/* Methods: the Allow header says which a path takes. */
	cr_assert_eq(call(&p, "DELETE", "/checkpoints", NULL, &r), 405);
	cr_assert_str_eq(r.allow, "GET");
	cr_assert_eq(call(&p, "GET", "/checkpoints/A", NULL, &r), 405);
	cr_assert_str_eq(r.allow, "PUT, DELETE");
	cr_assert_eq(call(&p, "GET", "/checkpoints/A/apply", NULL, &r), 405);
	cr_assert_str_eq(r.allow, "PUT");

	/* A name taken is not taken twice. */
	json_object_put(take(&p, "A"));
	call_400(&p, "PUT", "/checkpoints/A", NULL, "exists");
	/* A state file cut short: listed with why, refused, VM untouched. */
	json_object_put(take(&p, "B"));
	cr_assert_eq(truncate(path_in("ck/B/state"), 100), 0);
	cr_assert_eq(call(&p, "GET", "/checkpoints", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"name\":\"B\",\"created\":null"), "%s",
		  r.body);
	cr_assert(strstr(r.body, "\"error\":"), "%s", r.body);
	call_400(&p, "PUT", "/checkpoints/B/apply", NULL, "checkpoint B");
	/* The drive's file grew since: a disk cannot change size. */
	cr_assert_eq(truncate(path_in("disk"), 2 * DISK_BYTES), 0);
	call_400(&p, "PUT", "/checkpoints/A/apply", NULL, "size it back");
	cr_assert_eq(truncate(path_in("disk"), DISK_BYTES), 0);
	/*
	 * A state without a device's node (the RTC's) fits the machine
	 * config but not the VM: refused before anything changes.
	 */
	json_object_put(take(&p, "C"));
	drop_node(path_in("ck/C/state"), "/devices/rtc");
	call_400(&p, "PUT", "/checkpoints/C/apply", NULL, "no node 'rtc'");
	/* A checkpoint holding what no checkpoint does is left whole. */
	fill_disk(path_in("ck/A/notes"), 'n');
	call_400(&p, "DELETE", "/checkpoints/A", NULL, "'notes'");
	cr_assert_eq(access(path_in("ck/A/memory"), F_OK), 0);
	state_is(&p, "Running");
	mark = p.out_len;
	cr_assert(rounds_seen(&p, mark, 2, 30), "%s", p.out + mark);
	cr_assert_null(strstr(p.out, "STALE"), "%s", p.out);
	api_stop(&p);
	api_proc_free(&p);
}

/* mvm's command line, against p's socket: its exit status; out in buf. */
static int cli(struct api_proc *p, const char *args, char *buf, size_t len)
{
	char cmd[1024];
	FILE *f;
	size_t n;

	snprintf(cmd, sizeof(cmd), "%s checkpoint %s --api-sock %s 2>&1",
		 mvm_bin(), args, p->sock);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	return WEXITSTATUS(pclose(f));
}

Test(checkpoint, another_shape_of_vm_is_refused, .init = make_dir,
     .fini = drop_dir, .timeout = 120)
{
	struct api_proc a, b;
	char cmd[1024], out[4096];
	size_t mark;

	mkdir(path_in("ck1"), 0700);
	boot(&a, 1, path_in("ck1"));
	cr_assert(rounds_seen(&a, 0, 1, 30), "%s\n%s", a.out, a.err);
	/* The command line, as a person would: create, list. */
	cr_assert_eq(cli(&a, "create X", out, sizeof(out)), 0, "%s", out);
	cr_assert(strstr(out, "\"name\":\"X\""), "%s", out);
	cr_assert_eq(cli(&a, "list", out, sizeof(out)), 0, "%s", out);
	cr_assert(strstr(out, "\"name\":\"X\""), "%s", out);
	cr_assert_eq(cli(&a, "apply Y", out, sizeof(out)), 1, "%s", out);
	cr_assert(strstr(out, "mvm checkpoint apply: 400: no checkpoint Y"),
		  "%s", out);
	api_stop(&a);
	api_proc_free(&a);

	/* The same checkpoint, copied, shown to a VM of 2 vCPUs. */
	snprintf(cmd, sizeof(cmd), "cp -a %s %s", path_in("ck1"),
		 path_in("ck2"));
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	boot(&b, 2, path_in("ck2"));
	cr_assert(rounds_seen(&b, 0, 1, 30), "%s\n%s", b.out, b.err);
	call_400(&b, "PUT", "/checkpoints/X/apply", NULL,
		 "taken with vCPUs: 1, this VM has 2");
	state_is(&b, "Running");
	mark = b.out_len;
	cr_assert(rounds_seen(&b, mark, 2, 30), "%s", b.out + mark);
	cr_assert_null(strstr(b.out, "STALE"), "%s", b.out);
	api_stop(&b);
	api_proc_free(&b);
}
