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

/* GET /vm/config has every section of Firecracker's and no other. */
static void sections_are_firecrackers(struct json_object *o)
{
	required(o, full_sections, "GET /vm/config");
	json_object_object_foreach(o, k, val) {
		bool known = false;

		for (int i = 0; full_sections[i]; i++)
			known |= !strcmp(full_sections[i], k);
		cr_assert(known, "GET /vm/config: key '%s' is not "
			  "Firecracker's", k);
		(void)val;
	}
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

/* Before anything is configured, every section is there already. */
Test(api_firecracker, an_unconfigured_vm_config_has_every_section,
     .timeout = 30)
{
	struct json_object *o, *b, *v;
	struct api_proc p;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	o = get(p.sock, "/vm/config");
	required(o, full_sections, "GET /vm/config");
	cr_assert(json_object_object_get_ex(o, "boot-source", &b) &&
		  json_object_is_type(b, json_type_object), "%s",
		  json_object_to_json_string(o));
	cr_assert(json_object_object_get_ex(b, "kernel_image_path", &v));
	cr_assert_str_eq(json_object_get_string(v), "",
			 "Firecracker's empty path until one is set");
	json_object_put(o);
	api_stop(&p);
	api_proc_free(&p);
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
	sections_are_firecrackers(o);
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

/* ---- Firecracker's own sequences, as its documents give them ---------- */

static const struct key network_interface[] = {
	{ "iface_id", json_type_string }, { "guest_mac", json_type_string },
	{ "host_dev_name", json_type_string },
	{ "rx_rate_limiter", json_type_object },
	{ "tx_rate_limiter", json_type_object },
	END
};

static const struct key logger[] = {
	{ "log_path", json_type_string }, { "level", json_type_string },
	{ "show_level", json_type_boolean },
	{ "show_log_origin", json_type_boolean },
	{ "module", json_type_string },
	END
};

/* Firecracker's CpuConfig and its parts (x86 and aarch64 keys alike). */
static const struct key cpu_config[] = {
	{ "kvm_capabilities", json_type_array },
	{ "cpuid_modifiers", json_type_array },
	{ "msr_modifiers", json_type_array },
	{ "reg_modifiers", json_type_array },
	{ "vcpu_features", json_type_array },
	END
};

static const struct key cpuid_leaf_modifier[] = {
	{ "leaf", json_type_string }, { "subleaf", json_type_string },
	{ "flags", json_type_int }, { "modifiers", json_type_array },
	END
};

static const struct key cpuid_register_modifier[] = {
	{ "register", json_type_string }, { "bitmap", json_type_string },
	END
};

static const struct key msr_modifier[] = {
	{ "addr", json_type_string }, { "bitmap", json_type_string },
	END
};

static void each_only_keys(struct json_object *arr, const struct key *shape,
			   const char *what)
{
	cr_assert(json_object_is_type(arr, json_type_array), "%s", what);
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		only_keys(json_object_array_get_idx(arr, i), shape, what);
}

/* Every section of GET /vm/config is Firecracker's, each with its keys. */
static void vm_config_is_firecrackers(const char *sock)
{
	struct json_object *o = get(sock, "/vm/config"), *v;

	sections_are_firecrackers(o);
	cr_assert(json_object_object_get_ex(o, "machine-config", &v));
	only_keys(v, machine_config, "machine-config");
	cr_assert(json_object_object_get_ex(o, "drives", &v));
	each_only_keys(v, drive, "drives[]");
	cr_assert(json_object_object_get_ex(o, "network-interfaces", &v));
	each_only_keys(v, network_interface, "network-interfaces[]");
	cr_assert(json_object_object_get_ex(o, "logger", &v));
	if (!json_object_is_type(v, json_type_null))
		only_keys(v, logger, "logger");
	cr_assert(json_object_object_get_ex(o, "cpu-config", &v));
	if (!json_object_is_type(v, json_type_null)) {
		struct json_object *a;

		only_keys(v, cpu_config, "cpu-config");
		if (json_object_object_get_ex(v, "cpuid_modifiers", &a)) {
			each_only_keys(a, cpuid_leaf_modifier,
				       "cpuid_modifiers[]");
			for (size_t i = 0; i < json_object_array_length(a);
			     i++) {
				struct json_object *m;

				json_object_object_get_ex(
					json_object_array_get_idx(a, i),
					"modifiers", &m);
				each_only_keys(m, cpuid_register_modifier,
					       "cpuid_modifiers[].modifiers[]");
			}
		}
		if (json_object_object_get_ex(v, "msr_modifiers", &a))
			each_only_keys(a, msr_modifier, "msr_modifiers[]");
	}
	json_object_put(o);
}

static void running_and_firecrackers(const char *sock)
{
	struct json_object *o = get(sock, "/"), *v;

	only_keys(o, instance_info, "GET /");
	cr_assert(json_object_object_get_ex(o, "state", &v));
	cr_assert_str_eq(json_object_get_string(v), "Running");
	json_object_put(o);
	o = get(sock, "/machine-config");
	only_keys(o, machine_config, "GET /machine-config");
	json_object_put(o);
	vm_config_is_firecrackers(sock);
}

/*
 * The guide's KERNEL_BOOT_ARGS are for its Linux kernel; this repository's
 * tiny kernel also needs its action, which keeps it running.
 */
#define GUIDE_BOOT_ARGS "console=ttyS0 reboot=k panic=1"
#define TINY_ARGS GUIDE_BOOT_ARGS " action=echo"

/*
 * Firecracker's getting-started guide (docs/getting-started.md), call by
 * call: firecracker --api-sock ... --enable-pci, then the logger, the
 * boot source, the root drive, a NIC on a tap, InstanceStart. Each call
 * answers 204, as there; the guest runs; every answer has Firecracker's
 * keys alone.
 */
Test(api_firecracker, the_getting_started_sequence_boots, .timeout = 30)
{
	static char sectors[4096];
	char *rootfs = temp_file("fcgsroot", sectors, sizeof(sectors));
	char *log = temp_file("fcgslog", "", 0);
	char body[1024], tap[16];
	const char *const extra[] = { "--enable-pci", NULL };
	struct api_proc p;

	/* The guide's tap0, made this process's own: tests run side by side. */
	snprintf(tap, sizeof(tap), "fcgs%d", (int)getpid() % 100000);
	cr_assert_eq(api_spawn(&p, extra), 0);
	snprintf(body, sizeof(body), "{\n"
		 "        \"log_path\": \"%s\",\n"
		 "        \"level\": \"Debug\",\n"
		 "        \"show_level\": true,\n"
		 "        \"show_log_origin\": true\n"
		 "    }", log);
	put_ok(p.sock, "PUT", "/logger", body);
	snprintf(body, sizeof(body), "{\n"
		 "        \"kernel_image_path\": \"%s\",\n"
		 "        \"boot_args\": \"%s\"\n"
		 "    }", guest_path("mb_action"), TINY_ARGS);
	put_ok(p.sock, "PUT", "/boot-source", body);
	snprintf(body, sizeof(body), "{\n"
		 "        \"drive_id\": \"rootfs\",\n"
		 "        \"path_on_host\": \"%s\",\n"
		 "        \"is_root_device\": true,\n"
		 "        \"is_read_only\": false\n"
		 "    }", rootfs);
	put_ok(p.sock, "PUT", "/drives/rootfs", body);
	snprintf(body, sizeof(body), "{\n"
		 "        \"iface_id\": \"net1\",\n"
		 "        \"guest_mac\": \"06:00:AC:10:00:02\",\n"
		 "        \"host_dev_name\": \"%s\"\n"
		 "    }", tap);
	put_ok(p.sock, "PUT", "/network-interfaces/net1", body);
	put_ok(p.sock, "PUT", "/actions", "{\n"
	       "        \"action_type\": \"InstanceStart\"\n"
	       "    }");
	cr_assert(api_wait_out(&p, "echo ready", 10), "%s\n%s", p.out, p.err);
	running_and_firecrackers(p.sock);
	api_proc_free(&p);
	unlink(rootfs);
	unlink(log);
	free(rootfs);
	free(log);
}

/*
 * A multicast guest_mac is taken, as Firecracker takes it; the start then
 * warns that Linux would replace it and mvm drop the frames.
 */
Test(api_firecracker, a_multicast_mac_is_taken_and_warned_of, .timeout = 30)
{
	char *log = temp_file("fcmclog", "", 0);
	char body[512], tap[16], text[8192] = "";
	struct api_proc p;
	FILE *f;

	snprintf(tap, sizeof(tap), "fcmc%d", (int)getpid() % 100000);
	cr_assert_eq(api_spawn(&p, NULL), 0);
	snprintf(body, sizeof(body), "{\"log_path\": \"%s\", \"level\": "
		 "\"Warning\"}", log);
	put_ok(p.sock, "PUT", "/logger", body);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"%s\"}", guest_path("mb_action"), TINY_ARGS);
	put_ok(p.sock, "PUT", "/boot-source", body);
	snprintf(body, sizeof(body), "{\"iface_id\": \"eth0\", "
		 "\"guest_mac\": \"01:00:5e:00:00:01\", "
		 "\"host_dev_name\": \"%s\"}", tap);
	put_ok(p.sock, "PUT", "/network-interfaces/eth0", body);
	put_ok(p.sock, "PUT", "/actions", "{\"action_type\": "
	       "\"InstanceStart\"}");
	cr_assert(api_wait_out(&p, "echo ready", 10), "%s\n%s", p.out, p.err);
	f = fopen(log, "r");
	cr_assert_not_null(f);
	cr_assert_gt(fread(text, 1, sizeof(text) - 1, f), 0);
	fclose(f);
	cr_assert(strstr(text, "network interface 'eth0': guest_mac "
			 "01:00:5e:00:00:01 is a multicast address"), "%s",
		  text);
	api_stop(&p);
	api_proc_free(&p);
	unlink(log);
	free(log);
}

/*
 * Firecracker's example configuration (tests/framework/vm_config.json),
 * key by key with its nulls and its empty lists, given as the guide says:
 * firecracker --api-sock ... --config-file ... It boots, and the API then
 * answers about it with Firecracker's keys.
 */
Test(api_firecracker, the_example_vm_config_boots_verbatim, .timeout = 30)
{
	static char sectors[4096];
	char *rootfs = temp_file("fcexroot", sectors, sizeof(sectors));
	char text[2048], *cfg;
	struct api_proc p;

	snprintf(text, sizeof(text),
		 "{\n"
		 "  \"boot-source\": {\n"
		 "    \"kernel_image_path\": \"%s\",\n"
		 "    \"boot_args\": \"%s\",\n"
		 "    \"initrd_path\": null\n"
		 "  },\n"
		 "  \"drives\": [\n"
		 "    {\n"
		 "      \"drive_id\": \"rootfs\",\n"
		 "      \"partuuid\": null,\n"
		 "      \"is_root_device\": true,\n"
		 "      \"cache_type\": \"Unsafe\",\n"
		 "      \"is_read_only\": false,\n"
		 "      \"path_on_host\": \"%s\",\n"
		 "      \"io_engine\": \"Sync\",\n"
		 "      \"rate_limiter\": null,\n"
		 "      \"socket\": null\n"
		 "    }\n"
		 "  ],\n"
		 "  \"machine-config\": {\n"
		 "    \"vcpu_count\": 2,\n"
		 "    \"mem_size_mib\": 1024,\n"
		 "    \"smt\": false,\n"
		 "    \"track_dirty_pages\": false,\n"
		 "    \"huge_pages\": \"None\"\n"
		 "  },\n"
		 "  \"cpu-config\": null,\n"
		 "  \"balloon\": null,\n"
		 "  \"network-interfaces\": [],\n"
		 "  \"vsock\": null,\n"
		 "  \"logger\": null,\n"
		 "  \"metrics\": null,\n"
		 "  \"mmds-config\": null,\n"
		 "  \"entropy\": null,\n"
		 "  \"pmem\": [],\n"
		 "  \"memory-hotplug\": null\n"
		 "}\n", guest_path("mb_action"), TINY_ARGS, rootfs);
	cfg = temp_file("fcexcfg", text, strlen(text));
	{
		const char *const extra[] = { "--config-file", cfg, NULL };

		cr_assert_eq(api_spawn(&p, extra), 0);
	}
	cr_assert(api_wait_out(&p, "echo ready", 10), "%s\n%s", p.out, p.err);
	running_and_firecrackers(p.sock);
	api_proc_free(&p);
	unlink(cfg);
	unlink(rootfs);
	free(cfg);
	free(rootfs);
}

/*
 * A VM with a custom CPU template (Firecracker's fields only) answers with
 * Firecracker's keys in "cpu-config"; one with a static template names it
 * in machine-config, as Firecracker does.
 */
Test(api_firecracker, cpu_templates_answer_with_firecrackers_keys,
     .timeout = 30)
{
	struct json_object *o, *v;
	struct api_proc p;
	char body[512];

	cr_assert_eq(api_spawn(&p, NULL), 0);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"%s\"}", guest_path("mb_action"), TINY_ARGS);
	put_ok(p.sock, "PUT", "/boot-source", body);
	put_ok(p.sock, "PUT", "/cpu-config", "{\"kvm_capabilities\": "
	       "[\"!56\"], \"cpuid_modifiers\": [{\"leaf\": \"0x1\", "
	       "\"subleaf\": \"0x0\", \"flags\": 0, \"modifiers\": [{"
	       "\"register\": \"ecx\", \"bitmap\": "
	       "\"0bxxxxxxxxxxxxxxxxxxxxxxxxxxxx0xxx\"}]}], \"msr_modifiers\": "
	       "[{\"addr\": \"0x1a0\", \"bitmap\": \"0bxxxxxxxxxxxxxxxxxxxxxxx"
	       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx1\"}]}");
	vm_config_is_firecrackers(p.sock);
	o = get(p.sock, "/vm/config");
	cr_assert(json_object_object_get_ex(o, "cpu-config", &v) &&
		  json_object_is_type(v, json_type_object), "%s",
		  json_object_to_json_string(o));
	json_object_put(o);
	put_ok(p.sock, "PATCH", "/machine-config", "{\"cpu_template\": \"T2\"}");
	o = get(p.sock, "/machine-config");
	only_keys(o, machine_config, "GET /machine-config");
	cr_assert(json_object_object_get_ex(o, "cpu_template", &v));
	cr_assert_str_eq(json_object_get_string(v), "T2");
	json_object_put(o);
	/* A static template replaces the custom one, as in Firecracker. */
	o = get(p.sock, "/vm/config");
	cr_assert(json_object_object_get_ex(o, "cpu-config", &v));
	cr_assert_null(v);
	json_object_put(o);
	api_proc_free(&p);
}
