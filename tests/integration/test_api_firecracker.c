/*
 * Answers a Firecracker client can read: for a VM configured with
 * Firecracker's fields alone, every answer holds Firecracker's keys alone,
 * with Firecracker's types; mvm's extension keys appear once they are set
 * to something other than their default. The expected shapes are written
 * here from Firecracker's API description (its swagger: InstanceInfo,
 * FirecrackerVersion, MachineConfiguration, Drive, Logger, Metrics,
 * Balloon, FullVmConfiguration), not read from a copy of it.
 *
 * The sections of Firecracker's example config that mvm has nothing for
 * (an empty pmem list, null vsock and MMDS) are accepted as it gives them.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_client.h"
#include "harness.h"

/* One key of a shape: its name and JSON type (json_type_null: any). */
struct key {
	const char *name;
	enum json_type type;
};

#define END { NULL, json_type_null }

static const struct key instance_info[] = {
	{ "app_name", json_type_string }, { "id", json_type_string },
	{ "state", json_type_string }, { "vmm_version", json_type_string },
	END
};

static const struct key machine_config[] = {
	{ "vcpu_count", json_type_int }, { "mem_size_mib", json_type_int },
	{ "smt", json_type_boolean }, { "track_dirty_pages", json_type_boolean },
	{ "huge_pages", json_type_string }, { "cpu_template", json_type_string },
	END
};

static const struct key drive[] = {
	{ "drive_id", json_type_string }, { "path_on_host", json_type_string },
	{ "is_root_device", json_type_boolean },
	{ "is_read_only", json_type_boolean }, { "partuuid", json_type_string },
	{ "cache_type", json_type_string }, { "io_engine", json_type_string },
	{ "rate_limiter", json_type_object }, { "socket", json_type_string },
	END
};

/* Firecracker's document: every key it names, objects or null. */
static const char *const full_sections[] = {
	"balloon", "drives", "boot-source", "cpu-config", "logger",
	"machine-config", "metrics", "memory-hotplug", "mmds-config",
	"network-interfaces", "pmem", "vsock", "entropy", NULL
};

static const struct key *find(const struct key *shape, const char *k)
{
	for (; shape->name; shape++)
		if (!strcmp(shape->name, k))
			return shape;
	return NULL;
}

/* Every key of o is in shape with its type (an int may be a double's). */
static void only_keys(struct json_object *o, const struct key *shape,
		      const char *what)
{
	cr_assert(json_object_is_type(o, json_type_object), "%s: %s", what,
		  json_object_to_json_string(o));
	json_object_object_foreach(o, k, v) {
		const struct key *s = find(shape, k);

		cr_assert_not_null(s, "%s: key '%s' is not Firecracker's: %s",
				   what, k, json_object_to_json_string(o));
		cr_assert(json_object_is_type(v, s->type), "%s.%s: type %s",
			  what, k, json_type_to_name(json_object_get_type(v)));
	}
}

static void required(struct json_object *o, const char *const *keys,
		     const char *what)
{
	for (; *keys; keys++)
		cr_assert(json_object_object_get_ex(o, *keys, NULL),
			  "%s: Firecracker's key '%s' is missing: %s", what,
			  *keys, json_object_to_json_string(o));
}

static struct json_object *get(const char *sock, const char *path)
{
	struct api_resp r;
	struct json_object *o;

	cr_assert_eq(api_call(sock, "GET", path, NULL, &r), 200, "GET %s: %s",
		     path, r.body);
	o = json_tokener_parse(r.body);
	cr_assert_not_null(o, "GET %s: not JSON: %s", path, r.body);
	return o;
}

static void put_ok(const char *sock, const char *method, const char *path,
		   const char *body)
{
	struct api_resp r;

	cr_assert_eq(api_call(sock, method, path, body, &r), 204,
		     "%s %s %s -> %d %s", method, path, body, r.status, r.body);
}

/* A VM as Firecracker's getting-started guide configures one. */
static void configure(const char *sock, const char *disk, const char *log,
		      const char *metrics)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"console=ttyS0 action=echo\"}",
		 guest_path("mb_action"));
	put_ok(sock, "PUT", "/boot-source", body);
	put_ok(sock, "PUT", "/machine-config",
	       "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"smt\": false}");
	snprintf(body, sizeof(body), "{\"drive_id\": \"rootfs\", "
		 "\"path_on_host\": \"%s\", \"is_root_device\": true, "
		 "\"is_read_only\": false}", disk);
	put_ok(sock, "PUT", "/drives/rootfs", body);
	snprintf(body, sizeof(body), "{\"log_path\": \"%s\", \"level\": "
		 "\"Info\", \"show_level\": true, \"show_log_origin\": true}",
		 log);
	put_ok(sock, "PUT", "/logger", body);
	snprintf(body, sizeof(body), "{\"metrics_path\": \"%s\"}", metrics);
	put_ok(sock, "PUT", "/metrics", body);
	put_ok(sock, "PUT", "/balloon", "{\"amount_mib\": 0, "
	       "\"deflate_on_oom\": false}");
}

Test(api_firecracker, answers_hold_firecracker_keys_only, .timeout = 30)
{
	static char sectors[4096];
	char *disk = temp_file("fcdisk", sectors, sizeof(sectors));
	char *log = temp_file("fclog", "", 0), *met = temp_file("fcmet", "", 0);
	struct json_object *o, *m, *v;
	struct api_proc p;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	configure(p.sock, disk, log, met);

	o = get(p.sock, "/");
	only_keys(o, instance_info, "GET /");
	json_object_put(o);

	o = get(p.sock, "/version");
	cr_assert(json_object_object_get_ex(o, "firecracker_version", &v));
	cr_assert_str_eq(json_object_get_string(v), "1.17.0-dev",
			 "the Firecracker API mvm follows");
	cr_assert(json_object_object_get_ex(o, "mvm_version", &v),
		  "mvm's own version under its own name");
	json_object_put(o);

	o = get(p.sock, "/machine-config");
	only_keys(o, machine_config, "GET /machine-config");
	json_object_put(o);

	o = get(p.sock, "/vm/config");
	required(o, full_sections, "GET /vm/config");
	json_object_object_foreach(o, k, val) {
		bool known = false;

		for (int i = 0; full_sections[i]; i++)
			known |= !strcmp(full_sections[i], k);
		cr_assert(known, "GET /vm/config: key '%s' is not "
			  "Firecracker's", k);
		(void)val;
	}
	cr_assert(json_object_object_get_ex(o, "machine-config", &m));
	only_keys(m, machine_config, "GET /vm/config machine-config");
	cr_assert(json_object_object_get_ex(o, "drives", &m));
	cr_assert_eq(json_object_array_length(m), 1);
	only_keys(json_object_array_get_idx(m, 0), drive, "drives[0]");
	for (const char *const *k = (const char *const[]){ "vsock",
		     "mmds-config", "cpu-config", "memory-hotplug", "entropy",
		     NULL }; *k; k++) {
		cr_assert(json_object_object_get_ex(o, *k, &v));
		cr_assert_null(v, "%s: null where unset", *k);
	}
	cr_assert(json_object_object_get_ex(o, "pmem", &v));
	cr_assert(json_object_is_type(v, json_type_array) &&
		  json_object_array_length(v) == 0, "pmem: an empty list");
	cr_assert(json_object_object_get_ex(o, "balloon", &v));
	cr_assert(json_object_is_type(v, json_type_object), "balloon set");
	json_object_put(o);

	/* An extension set to something else than its default appears. */
	put_ok(p.sock, "PATCH", "/machine-config", "{\"nested_virt\": true}");
	o = get(p.sock, "/machine-config");
	cr_assert(json_object_object_get_ex(o, "nested_virt", &v) &&
		  json_object_get_boolean(v), "%s",
		  json_object_to_json_string(o));
	json_object_put(o);
	put_ok(p.sock, "PATCH", "/machine-config", "{\"nested_virt\": false}");
	o = get(p.sock, "/machine-config");
	only_keys(o, machine_config, "GET /machine-config, nesting off again");
	json_object_put(o);

	api_proc_free(&p);
	unlink(disk);
	unlink(log);
	unlink(met);
	free(disk);
	free(log);
	free(met);
}

/* Firecracker's example config names sections mvm has nothing for. */
Test(api_firecracker, example_config_with_empty_sections_boots,
     .timeout = 30)
{
	char text[1024], *cfg;
	struct mvm_result r;

	snprintf(text, sizeof(text),
		 "{\"boot-source\": {\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"console=ttyS0 action=exit=4\", "
		 "\"initrd_path\": null}, \"drives\": [], "
		 "\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": "
		 "32, \"smt\": false, \"track_dirty_pages\": false, "
		 "\"huge_pages\": \"None\"}, \"cpu-config\": null, "
		 "\"balloon\": null, \"network-interfaces\": [], "
		 "\"vsock\": null, \"logger\": null, \"metrics\": null, "
		 "\"mmds-config\": null, \"entropy\": null, \"pmem\": [], "
		 "\"memory-hotplug\": null}",
		 guest_path("mb_action"));
	cfg = temp_file("fcexample", text, strlen(text));
	{
		const char *argv[] = { "--config-file", cfg, NULL };

		cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	}
	cr_assert_eq(r.status, (4 << 1) | 1, "status %d\n%s\n%s", r.status,
		     r.out, r.err);
	mvm_result_free(&r);
	unlink(cfg);
	free(cfg);
}

/* A pmem list is shaped as PUT /pmem/{id} is: a missing file is named. */
Test(api_firecracker, a_pmem_entry_names_its_missing_file, .timeout = 30)
{
	char text[512], *cfg;
	struct mvm_result r;

	snprintf(text, sizeof(text),
		 "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		 "\"pmem\": [{\"id\": \"p0\", \"path_on_host\": \"/x\"}]}",
		 guest_path("mb_action"));
	cfg = temp_file("fcpmem", text, strlen(text));
	{
		const char *argv[] = { "--config-file", cfg, NULL };

		cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	}
	cr_assert_eq(r.status, 1, "status %d: %s", r.status, r.err);
	cr_assert(strstr(r.err, "pmem[0].path_on_host: cannot open '/x'"),
		  "%s", r.err);
	mvm_result_free(&r);
	unlink(cfg);
	free(cfg);
}

static void expect_status(const char *sock, const char *method,
			  const char *path, const char *body, int status,
			  const char *fault)
{
	struct api_resp r;

	cr_assert_eq(api_call(sock, method, path, body, &r), status,
		     "%s %s %s -> %d %s", method, path, body, r.status, r.body);
	if (fault)
		cr_assert(fault_has(&r, fault), "%s %s: %s", method, path,
			  r.body);
}

/*
 * Where Firecracker's answer is its own rule, mvm's is the same: a PATCH
 * of the machine with nothing in it, a PATCH of a drive with its id alone,
 * a FlushMetrics with no metrics file (done: nothing to write).
 */
Test(api_firecracker, empty_patches_and_a_flush_without_metrics,
     .timeout = 30)
{
	static char sectors[4096];
	char *disk = temp_file("fcpatch", sectors, sizeof(sectors));
	char body[512];
	struct api_proc p;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	expect_status(p.sock, "PATCH", "/machine-config", "{}", 400,
		      "Empty PATCH request.");
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"action=hang\"}", guest_path("mb_action"));
	put_ok(p.sock, "PUT", "/boot-source", body);
	put_ok(p.sock, "PUT", "/machine-config",
	       "{\"vcpu_count\": 1, \"mem_size_mib\": 32}");
	snprintf(body, sizeof(body), "{\"drive_id\": \"d0\", "
		 "\"path_on_host\": \"%s\", \"is_root_device\": false, "
		 "\"is_read_only\": true}", disk);
	put_ok(p.sock, "PUT", "/drives/d0", body);
	put_ok(p.sock, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	expect_status(p.sock, "PUT", "/actions",
		      "{\"action_type\": \"FlushMetrics\"}", 204, NULL);
	expect_status(p.sock, "PATCH", "/drives/d0", "{\"drive_id\": \"d0\"}",
		      400, "drive d0: nothing to patch");
	expect_status(p.sock, "PATCH", "/machine-config", "{}", 400,
		      "Empty PATCH request.");
	api_proc_free(&p);
	unlink(disk);
	free(disk);
}

/* As Firecracker: a size is taken at PUT, one the host lacks refused at
 * InstanceStart with the reason, and the VM can still be set right. */
Test(api_firecracker, a_huge_memory_is_refused_at_start, .timeout = 30)
{
	char body[512];
	struct api_proc p;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"action=hang\"}", guest_path("mb_action"));
	put_ok(p.sock, "PUT", "/boot-source", body);
	put_ok(p.sock, "PUT", "/machine-config",
	       "{\"vcpu_count\": 1, \"mem_size_mib\": 100000000}");
	expect_status(p.sock, "PUT", "/actions",
		      "{\"action_type\": \"InstanceStart\"}", 400,
		      "100000000 MiB is more than");
	put_ok(p.sock, "PATCH", "/machine-config", "{\"mem_size_mib\": 32}");
	put_ok(p.sock, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	api_proc_free(&p);
}
