/*
 * virtio-pmem through Firecracker's PUT/PATCH /pmem/{id}, the config
 * file's "pmem" list and `mvm run --pmem`: the virtio test kernel's
 * test=pmem (tests/guests/virtio/t_pmem.c) finds the device, reads its
 * config, finds the file's bytes in its region, writes new ones and
 * flushes; the file then holds what the guest wrote. A read-only device
 * drops the guest's stores (KVM exits them as MMIO) and mvm goes on. Bad
 * input is refused with 400 naming the field; GET /vm/config lists the
 * devices; PATCH after boot takes the id alone and refuses a limiter.
 *
 * Not run here: a read-only file refused for a writable device when the
 * tests run as root (root opens any file for writing); the unit test
 * says the same.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../guests/virtio/tests.h"
#include "api_assert.h"
#include "api_client.h"
#include "harness.h"
#include "snap_files.h"

/* A file not a whole number of 2 MiB: its region is 4 MiB. */
#define FILE_LEN (3 * 1024 * 1024 + 4096 + 5)

static char *make_file(size_t len)
{
	uint8_t *b = malloc(len);
	char *path;

	cr_assert_not_null(b);
	for (size_t i = 0; i < len; i++)
		b[i] = pmem_pattern(i, 1);
	path = temp_file("pmem", b, len);
	free(b);
	return path;
}

/* Bytes the guest should have left: seed 2 where it wrote, 1 elsewhere. */
static void expect_file(const char *path, size_t len, bool written)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = malloc(len + 1);
	size_t n;

	cr_assert(f && b);
	n = fread(b, 1, len + 1, f);
	fclose(f);
	cr_assert_eq(n, len, "the file keeps its size");
	for (size_t i = 0; i < len; i++) {
		unsigned seed = written && pmem_sampled(i, len) ? 2 : 1;

		cr_assert_eq(b[i], pmem_pattern(i, seed), "byte %zu: 0x%x, "
			     "want seed %u's", i, b[i], seed);
	}
	free(b);
}

static void configure(struct api_proc *p, const char *args)
{
	char body[512];

	cr_assert_eq(api_spawn(p, NULL), 0);
	call_ok(p, "PUT", "/machine-config",
		"{\"vcpu_count\": 1, \"mem_size_mib\": 64}");
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"test=pmem len=%d %s\"}",
		 guest_path("virtio/bz_virtio"), FILE_LEN, args);
	call_ok(p, "PUT", "/boot-source", body);
}

static void put_pmem(struct api_proc *p, const char *id, const char *file,
		     bool ro)
{
	char path[64], body[512];

	snprintf(path, sizeof(path), "/pmem/%s", id);
	snprintf(body, sizeof(body), "{\"id\": \"%s\", \"path_on_host\": "
		 "\"%s\", \"read_only\": %s}", id, file, ro ? "true" : "false");
	call_ok(p, "PUT", path, body);
}

static void finish(struct api_proc *p)
{
	cr_assert(api_wait_out(p, "ALL OK", 60), "%s\n%s", p->out, p->err);
	cr_assert_null(strstr(p->out, "FAIL"), "%s", p->out);
	cr_assert_eq(api_wait_exit(p, 10), 1, "%s", p->err);
}

Test(virtio_pmem, guest_writes_reach_the_file_after_flush, .timeout = 120)
{
	char *file = make_file(FILE_LEN);
	struct api_proc p;

	configure(&p, "");
	put_pmem(&p, "p0", file, false);
	call_ok(&p, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	cr_assert(api_wait_out(&p, "pmem: start=0x2000000000 size=4194304",
			       30), "%s\n%s", p.out, p.err);
	cr_assert(api_wait_out(&p, "PASS pmem flush", 30), "%s\n%s", p.out,
		  p.err);
	finish(&p);
	/* The guest's bad requests were logged, rate-limited. */
	cr_assert(strstr(p.err, "mvm: virtio-pmem p0: queue 0: unknown "
			 "request type"), "%s", p.err);
	expect_file(file, FILE_LEN, true);
	api_proc_free(&p);
	unlink(file);
	free(file);
}

Test(virtio_pmem, a_read_only_device_drops_the_guests_stores, .timeout = 120)
{
	char *file = make_file(FILE_LEN);
	struct api_proc p;

	chmod(file, 0444);
	configure(&p, "ro=1");
	put_pmem(&p, "ro0", file, true);
	call_ok(&p, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	cr_assert(api_wait_out(&p, "PASS pmem read-only store dropped", 30),
		  "%s\n%s", p.out, p.err);
	finish(&p);
	expect_file(file, FILE_LEN, false);
	api_proc_free(&p);
	unlink(file);
	free(file);
}

Test(virtio_pmem, bad_input_is_refused_naming_the_field, .timeout = 60)
{
	char *file = make_file(FILE_LEN), *empty = temp_file("pmem0", "", 0);
	char body[512];
	struct api_proc p;

	configure(&p, "");
	api_fault(p.sock, "PUT", "/pmem/p0", "{\"id\": \"p0\", "
		  "\"path_on_host\": \"/nonexistent/pmem\"}", 400,
		  "path_on_host: cannot open '/nonexistent/pmem'");
	snprintf(body, sizeof(body), "{\"id\": \"p0\", \"path_on_host\": "
		 "\"%s\"}", empty);
	api_fault(p.sock, "PUT", "/pmem/p0", body, 400, "path_on_host");
	api_fault(p.sock, "PUT", "/pmem/p0", body, 400, "is empty");
	snprintf(body, sizeof(body), "{\"id\": \"p1\", \"path_on_host\": "
		 "\"%s\"}", file);
	api_fault(p.sock, "PUT", "/pmem/p0", body, 400,
		  "id: 'p1' does not match the id in the path");
	api_fault(p.sock, "PUT", "/pmem/p0", "{\"id\": \"p0\"}", 400,
		  "path_on_host");
	snprintf(body, sizeof(body), "{\"id\": \"p0\", \"path_on_host\": "
		 "\"%s\", \"rate_limiter\": {\"ops\": {\"size\": 10, "
		 "\"refill_time\": 100}}}", file);
	api_fault(p.sock, "PUT", "/pmem/p0", body, 400, "rate_limiter");
	snprintf(body, sizeof(body), "{\"id\": \"p0\", \"path_on_host\": "
		 "\"%s\", \"colour\": 1}", file);
	api_fault(p.sock, "PUT", "/pmem/p0", body, 400, "colour");
	/* Two root devices: a pmem, then a drive, are refused. */
	snprintf(body, sizeof(body), "{\"id\": \"p0\", \"path_on_host\": "
		 "\"%s\", \"root_device\": true}", file);
	call_ok(&p, "PUT", "/pmem/p0", body);
	snprintf(body, sizeof(body), "{\"id\": \"p1\", \"path_on_host\": "
		 "\"%s\", \"root_device\": true}", file);
	api_fault(p.sock, "PUT", "/pmem/p1", body, 400,
		  "root_device: pmem 'p0' is already the root device");
	snprintf(body, sizeof(body), "{\"drive_id\": \"d0\", \"path_on_host\": "
		 "\"%s\", \"is_root_device\": true}", file);
	api_fault(p.sock, "PUT", "/drives/d0", body, 400,
		  "pmem 'p0' is already the root device");
	/* Before boot, PATCH is not allowed yet. */
	api_fault(p.sock, "PATCH", "/pmem/p0", "{\"id\": \"p0\"}", 400, "");
	api_stop(&p);
	api_proc_free(&p);
	unlink(file);
	unlink(empty);
	free(file);
	free(empty);
}

/* GET /vm/config's pmem list; PATCH while the guest runs. */
Test(virtio_pmem, vm_config_lists_them_and_patch_after_boot, .timeout = 120)
{
	char *file = make_file(FILE_LEN), body[512];
	struct json_object *o, *l, *e, *v;
	struct api_resp r;
	struct api_proc p;

	configure(&p, "wait=30");
	snprintf(body, sizeof(body), "{\"id\": \"p0\", \"path_on_host\": "
		 "\"%s\", \"root_device\": true}", file);
	call_ok(&p, "PUT", "/pmem/p0", body);
	cr_assert_eq(api_call(p.sock, "GET", "/vm/config", NULL, &r), 200);
	o = json_tokener_parse(r.body);
	cr_assert(json_object_object_get_ex(o, "pmem", &l) &&
		  json_object_array_length(l) == 1, "%s", r.body);
	e = json_object_array_get_idx(l, 0);
	cr_assert(json_object_object_get_ex(e, "id", &v) &&
		  !strcmp(json_object_get_string(v), "p0"));
	cr_assert(json_object_object_get_ex(e, "path_on_host", &v) &&
		  !strcmp(json_object_get_string(v), file));
	cr_assert(json_object_object_get_ex(e, "root_device", &v) &&
		  json_object_get_boolean(v));
	cr_assert(json_object_object_get_ex(e, "read_only", &v) &&
		  !json_object_get_boolean(v));
	json_object_put(o);
	call_ok(&p, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	cr_assert(api_wait_out(&p, "pmem: waiting", 30), "%s\n%s", p.out,
		  p.err);
	call_ok(&p, "PATCH", "/pmem/p0", "{\"id\": \"p0\"}");
	api_fault(p.sock, "PATCH", "/pmem/p9", "{\"id\": \"p9\"}", 400,
		  "no pmem device 'p9'");
	api_fault(p.sock, "PATCH", "/pmem/p0", "{\"id\": \"p0\", "
		  "\"rate_limiter\": {\"bandwidth\": {\"size\": 1000, "
		  "\"refill_time\": 100}}}", 400, "rate_limiter");
	api_fault(p.sock, "PUT", "/pmem/p1", body, 400, "");
	cr_assert_null(strstr(p.out, "FAIL"), "%s", p.out);
	api_stop(&p);
	api_proc_free(&p);
	unlink(file);
	free(file);
}

/* The config file's list, and mvm run --pmem, give the same device. */
Test(virtio_pmem, config_file_and_command_line, .timeout = 120)
{
	char *file = make_file(FILE_LEN), text[1024], args[64], spec[512];
	char *cfg;
	struct mvm_result r;

	snprintf(text, sizeof(text),
		 "{\"boot-source\": {\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"test=pmem len=%d\"}, "
		 "\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": "
		 "64}, \"pmem\": [{\"id\": \"p0\", \"path_on_host\": \"%s\"}]}",
		 guest_path("virtio/bz_virtio"), FILE_LEN, file);
	cfg = temp_file("pmemcfg", text, strlen(text));
	{
		const char *argv[] = { "--config-file", cfg, NULL };

		cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	}
	cr_assert(strstr(r.out, "ALL OK"), "%s\n%s", r.out, r.err);
	mvm_result_free(&r);
	expect_file(file, FILE_LEN, true);
	unlink(file);
	free(file);

	file = make_file(FILE_LEN);
	snprintf(args, sizeof(args), "test=pmem len=%d", FILE_LEN);
	snprintf(spec, sizeof(spec), "path=%s,id=cli0", file);
	{
		const char *argv[] = { "run", "--kernel",
			guest_path("virtio/bz_virtio"), "--memory", "64",
			"--cmdline", args, "--pmem", spec, NULL };

		cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	}
	cr_assert(strstr(r.out, "ALL OK"), "%s\n%s", r.out, r.err);
	mvm_result_free(&r);
	expect_file(file, FILE_LEN, true);
	unlink(cfg);
	free(cfg);
	unlink(file);
	free(file);
}

/*
 * The whole VM saved and loaded in place while the guest works on its
 * pmem (the test hook MVM_TEST_VM_ROUNDTRIP, every 0.5 s from the start):
 * the device pauses, saves and loads its region, and the guest's flush
 * and data still reach the file.
 */
Test(virtio_pmem, the_device_survives_vm_state_round_trips, .timeout = 120)
{
	char *file = make_file(FILE_LEN);
	struct api_proc p;

	setenv("MVM_TEST_VM_ROUNDTRIP", "4", 1);
	configure(&p, "wait=4");
	unsetenv("MVM_TEST_VM_ROUNDTRIP");
	put_pmem(&p, "p0", file, false);
	call_ok(&p, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	finish(&p);
	cr_assert_eq(count_str(p.err, "devices identical after load"), 4,
		     "%s", p.err);
	cr_assert_null(strstr(p.err, "round trip failed"), "%s", p.err);
	expect_file(file, FILE_LEN, true);
	api_proc_free(&p);
	unlink(file);
	free(file);
}

/*
 * A snapshot of a VM with a pmem, loaded in a new mvm: the state file
 * names the device and its file (its contents stay in the file, not in
 * the memory file, which holds the guest's RAM alone), the device comes
 * back at the same place, and the guest, paused while it waited, goes on
 * to its report. A file that changed size since is refused at the load.
 */
Test(virtio_pmem, a_snapshot_brings_the_device_back, .init = snap_dir_make,
     .fini = snap_dir_drop, .timeout = 120)
{
	char *file = make_file(FILE_LEN), body[768];
	struct api_proc a, b;
	struct api_resp r;
	struct stat st;

	configure(&a, "wait=3");
	put_pmem(&a, "p0", file, false);
	call_ok(&a, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	cr_assert(api_wait_out(&a, "pmem: waiting", 30), "%s\n%s", a.out,
		  a.err);
	call_ok(&a, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	snprintf(body, sizeof(body), "{\"snapshot_type\": \"Full\", "
		 "\"snapshot_path\": \"%s\", \"mem_file_path\": \"%s\"}",
		 path_in("state"), path_in("mem"));
	call_ok(&a, "PUT", "/snapshot/create", body);
	api_stop(&a);
	api_proc_free(&a);
	cr_assert_eq(stat(path_in("mem"), &st), 0);
	cr_assert_eq(st.st_size, 64 << 20, "RAM alone: %lld bytes",
		     (long long)st.st_size);
	expect_file(file, FILE_LEN, true);

	/* The file grew past its 2 MiB boundary: the guest's region moved. */
	cr_assert_eq(truncate(file, 5 << 20), 0);
	cr_assert_eq(api_spawn(&b, NULL), 0);
	snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\", "
		 "\"mem_backend\": {\"backend_type\": \"File\", "
		 "\"backend_path\": \"%s\"}, \"resume_vm\": true}",
		 path_in("state"), path_in("mem"));
	cr_assert_eq(api_call(b.sock, "PUT", "/snapshot/load", body, &r), 400,
		     "%s\n%s", r.body, b.err);
	cr_assert(fault_has(&r, "virtio-pmem"), "%s", r.body);
	api_stop(&b);
	api_proc_free(&b);

	cr_assert_eq(truncate(file, FILE_LEN), 0);
	cr_assert_eq(api_spawn(&b, NULL), 0);
	cr_assert_eq(api_call(b.sock, "PUT", "/snapshot/load", body, &r), 204,
		     "%s\n%s", r.body, b.err);
	cr_assert_eq(api_call(b.sock, "GET", "/vm/config", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"pmem\": [ { \"id\": \"p0\"") ||
		  strstr(r.body, "\"id\":\"p0\""), "%s", r.body);
	finish(&b);
	expect_file(file, FILE_LEN, true);
	api_proc_free(&b);
	unlink(file);
	free(file);
}

/*
 * A live migration on this host: the destination maps the same file at
 * the same place, and the guest, migrated while it waited, finishes there
 * with its data in the file (the source fsync'd it at the handover).
 */
Test(virtio_pmem, a_live_migration_takes_the_device_along,
     .init = snap_dir_make, .fini = snap_dir_drop, .timeout = 120)
{
	char *file = make_file(FILE_LEN), body[512];
	struct api_proc src, dst;

	configure(&src, "wait=4");
	put_pmem(&src, "p0", file, false);
	call_ok(&src, "PUT", "/actions",
		"{\"action_type\": \"InstanceStart\"}");
	cr_assert(api_wait_out(&src, "pmem: waiting", 30), "%s\n%s", src.out,
		  src.err);
	cr_assert_eq(api_spawn(&dst, NULL), 0);
	snprintf(body, sizeof(body), "{\"uri\": \"unix:%s\"}",
		 path_in("mig.sock"));
	call_ok(&dst, "PUT", "/migration/incoming", body);
	call_ok(&src, "PUT", "/migration", body);
	cr_assert_eq(api_wait_exit(&src, 60), 0, "source:\n%s", src.err);
	finish(&dst);
	cr_assert_null(strstr(src.out, "ALL OK"), "the source finished");
	expect_file(file, FILE_LEN, true);
	api_proc_free(&src);
	api_proc_free(&dst);
	unlink(file);
	free(file);
}
