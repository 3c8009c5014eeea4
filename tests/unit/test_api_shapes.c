/*
 * The API's shapes and the spec, in-process: strict parsing with JSON
 * paths in the messages, a failed call leaving the spec as it was, the
 * config file taking what GET /vm/config gives, and root= for a root drive.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/api.h"
#include "mvm/cli.h"
#include "mvm/err.h"

#include "../../src/api/shapes.h"

static const struct shape_opts dry = { .dry_run = true };

static struct json_object *J(const char *text)
{
	struct mvm_err err;
	struct json_object *o;

	cr_assert_eq(api_json_parse(text, strlen(text), &o, &err), 0,
		     "%s: %s", text, err.msg);
	return o;
}

static void expect_err(int ret, const struct mvm_err *err, const char *want)
{
	cr_assert_neq(ret, 0, "accepted; wanted '%s'", want);
	cr_assert(strstr(err->msg, want), "want '%s' in '%s'", want, err->msg);
}

Test(api_shapes, json_is_parsed_strictly)
{
	struct mvm_err err;
	struct json_object *o;

	expect_err(api_json_parse("", 0, &o, &err), &err, "empty body");
	expect_err(api_json_parse("{\"a\":1", 6, &o, &err), &err,
		   "ends too early");
	expect_err(api_json_parse("{} x", 4, &o, &err), &err,
		   "malformed JSON");
	expect_err(api_json_parse("{\"a\":1,}", 8, &o, &err), &err,
		   "malformed JSON at byte 7");
	/* json-c alone would take a key in single quotes. */
	expect_err(api_json_parse("{'a': 1}", 8, &o, &err), &err,
		   "malformed JSON at byte 1: strings and keys take double");
	expect_err(api_json_parse("{\"a\": 'x'}", 11, &o, &err), &err,
		   "at byte 6");
	/* Inside strings a single quote is a character like any other. */
	cr_assert_eq(api_json_parse("{\"it's\": \"\\\"'\"}", 15, &o,
				    &err), 0, "%s", err.msg);
	json_object_put(o);
	cr_assert_eq(api_json_parse("7", 1, &o, &err), 0, "%s", err.msg);
	json_object_put(o);
	cr_assert_eq(api_json_parse(" {} \r\n", 6, &o, &err), 0);
	json_object_put(o);
}

Test(api_shapes, machine_config_put_patch_and_limits)
{
	struct vm_spec s;
	struct mvm_err err;
	struct json_object *o;

	spec_init(&s);
	o = J("{\"vcpu_count\": 4, \"mem_size_mib\": 256, \"nested_virt\": true}");
	cr_assert_eq(shape_machine_config(&s, o, "", false, &err), 0, "%s",
		     err.msg);
	json_object_put(o);
	cr_assert_eq(s.vcpu_count, 4);
	cr_assert_eq(s.mem_size_mib, 256);
	cr_assert(s.nested_virt);

	/* PATCH keeps what it does not name; PUT resets nested_virt. */
	o = J("{\"vcpu_count\": 2}");
	cr_assert_eq(shape_machine_config(&s, o, "", true, &err), 0);
	json_object_put(o);
	cr_assert_eq(s.vcpu_count, 2);
	cr_assert_eq(s.mem_size_mib, 256);
	cr_assert(s.nested_virt);

	/* A failing call changes nothing. */
	o = J("{\"vcpu_count\": 8, \"mem_size_mib\": 63, \"huge_pages\": "
	      "\"2M\"}");
	expect_err(shape_machine_config(&s, o, "machine-config", false, &err),
		   &err, "machine-config.mem_size_mib: 63 MiB is not a whole "
		   "number of 2 MiB huge pages");
	json_object_put(o);
	cr_assert_eq(s.vcpu_count, 2);
	cr_assert_eq(s.huge_pages, GM_PAGES_TRANSPARENT, "the default");
	o = J("{\"huge_pages\": \"Huge\"}");
	expect_err(shape_machine_config(&s, o, "machine-config", true, &err),
		   &err, "machine-config.huge_pages:");
	json_object_put(o);

	/* Each of Firecracker's three; PATCH keeps it, PUT resets it. */
	o = J("{\"huge_pages\": \"2M\"}");
	cr_assert_eq(shape_machine_config(&s, o, "", true, &err), 0, "%s",
		     err.msg);
	json_object_put(o);
	cr_assert_eq(s.huge_pages, GM_PAGES_HUGE_2M);
	o = J("{\"vcpu_count\": 2}");
	cr_assert_eq(shape_machine_config(&s, o, "", true, &err), 0);
	json_object_put(o);
	cr_assert_eq(s.huge_pages, GM_PAGES_HUGE_2M);
	o = J("{\"huge_pages\": \"None\"}");
	cr_assert_eq(shape_machine_config(&s, o, "", true, &err), 0);
	json_object_put(o);
	cr_assert_eq(s.huge_pages, GM_PAGES_SMALL);
	o = J("{\"vcpu_count\": 2, \"mem_size_mib\": 256}");
	cr_assert_eq(shape_machine_config(&s, o, "", false, &err), 0);
	json_object_put(o);
	cr_assert_eq(s.huge_pages, GM_PAGES_TRANSPARENT);

	o = J("{\"vcpu_count\": 255, \"mem_size_mib\": 64}");
	expect_err(shape_machine_config(&s, o, "", false, &err), &err,
		   "vcpu_count: must be from 1 to 254, got 255");
	json_object_put(o);
	o = J("{\"vcpu_count\": -1, \"mem_size_mib\": 64}");
	expect_err(shape_machine_config(&s, o, "", false, &err), &err,
		   "vcpu_count: must be from 1 to 254, got -1");
	json_object_put(o);
	o = J("{\"vcpu_count\": 1, \"mem_size_mib\": 18446744073709551615}");
	expect_err(shape_machine_config(&s, o, "", false, &err), &err,
		   "mem_size_mib: must be from 2 to");
	json_object_put(o);
	o = J("{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"x\": null}");
	expect_err(shape_machine_config(&s, o, "", false, &err), &err,
		   "x: unknown field (expected one of: vcpu_count");
	json_object_put(o);
	spec_free(&s);
}

Test(api_shapes, drives_nets_and_limiters_name_their_paths)
{
	struct vm_spec s;
	struct mvm_err err;
	struct json_object *o;

	spec_init(&s);
	/* Bad buckets are refused, naming the field... */
	{
		static const char *const bad[][2] = {
			{ "{\"bandwidth\": {\"size\": -1, \"refill_time\": 1}}",
			  "rate_limiter.bandwidth.size: must be from 0 to" },
			{ "{\"ops\": {\"size\": 1, \"refill_time\": "
			  "18446744073709551615}}",
			  "rate_limiter.ops.refill_time: must be from 0 to "
			  "1099511627776" },
			{ "{\"ops\": {\"size\": 1, \"refill_time\": 1, "
			  "\"one_time_burst\": 9007199254740993}}",
			  "rate_limiter.ops.one_time_burst: must be from 0 to "
			  "9007199254740992" },
			{ "{\"bandwidth\": {\"size\": 1}}",
			  "rate_limiter.bandwidth.refill_time:" },
			{ "{\"bandwidth\": {\"size\": 1, \"refill_time\": 1, "
			  "\"rate\": 2}}",
			  "rate_limiter.bandwidth.rate: unknown field" },
			{ "{\"iops\": {\"size\": 1, \"refill_time\": 1}}",
			  "rate_limiter.iops: unknown field" },
		};
		char body[512];

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			snprintf(body, sizeof(body), "{\"drive_id\": \"root\", "
				 "\"path_on_host\": \"/r\", "
				 "\"is_root_device\": true, "
				 "\"rate_limiter\": %s}", bad[i][0]);
			o = J(body);
			expect_err(shape_drive(&s, o, "", "root", &dry, &err),
				   &err, bad[i][1]);
			json_object_put(o);
		}
	}
	cr_assert_eq(s.nr_drives, 0);
	/* ...a bucket that limits is shaped and kept... */
	o = J("{\"drive_id\": \"root\", \"path_on_host\": \"/r\", "
	      "\"is_root_device\": true, \"rate_limiter\": {\"bandwidth\": "
	      "{\"size\": 10, \"refill_time\": 100, \"one_time_burst\": 5}}}");
	cr_assert_eq(shape_drive(&s, o, "drives[0]", "root", &dry, &err), 0,
		     "%s", err.msg);
	json_object_put(o);
	cr_assert_eq(s.nr_drives, 1);
	cr_assert(s.drives[0].rate_limiter.bandwidth_set);
	cr_assert_not(s.drives[0].rate_limiter.ops_set);
	cr_assert_eq(s.drives[0].rate_limiter.rl.bandwidth.size, 10);
	cr_assert_eq(s.drives[0].rate_limiter.rl.bandwidth.one_time_burst, 5);
	/* ...size 0, Firecracker's "no limit", is shaped and kept. */
	o = J("{\"drive_id\": \"root\", \"path_on_host\": \"/r\", "
	      "\"is_root_device\": true, \"rate_limiter\": {\"bandwidth\": "
	      "{\"size\": 0, \"refill_time\": 100}}}");
	cr_assert_eq(shape_drive(&s, o, "", "root", &dry, &err), 0, "%s",
		     err.msg);
	json_object_put(o);
	cr_assert_eq(s.nr_drives, 1);
	cr_assert(s.drives[0].rate_limiter.bandwidth_set);
	cr_assert_eq(s.drives[0].rate_limiter.rl.bandwidth.refill_time_ms, 100);

	o = J("{\"drive_id\": \"d\", \"path_on_host\": \"/d\", "
	      "\"is_root_device\": false, \"rate_limiter\": {\"ops\": "
	      "{\"size\": \"10\", \"refill_time\": 1}}}");
	expect_err(shape_drive(&s, o, "drives[1]", NULL, &dry, &err), &err,
		   "drives[1].rate_limiter.ops.size: expected an integer, got a "
		   "string");
	json_object_put(o);
	o = J("{\"drive_id\": \"bad id\", \"path_on_host\": \"/d\", "
	      "\"is_root_device\": false}");
	expect_err(shape_drive(&s, o, "", NULL, &dry, &err), &err,
		   "drive_id: may contain only letters, digits");
	json_object_put(o);
	o = J("{\"drive_id\": \"v\", \"socket\": \"/s\", "
	      "\"is_root_device\": false}");
	expect_err(shape_drive(&s, o, "", NULL, &dry, &err), &err,
		   "socket: vhost-user drives are not supported");
	json_object_put(o);
	cr_assert_eq(s.nr_drives, 1);

	o = J("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
	      "\"guest_mac\": \"06:00:ac:10:00:02\"}");
	cr_assert_eq(shape_net(&s, o, "", "eth0", &err), 0, "%s", err.msg);
	json_object_put(o);
	o = J("{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap0\"}");
	expect_err(shape_net(&s, o, "", "eth1", &err), &err,
		   "host_dev_name: 'tap0' is already used by interface 'eth0'");
	json_object_put(o);
	o = J("{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", "
	      "\"guest_mac\": \"06:00:AC:10:00:02\"}");
	expect_err(shape_net(&s, o, "", "eth1", &err), &err,
		   "is already used by interface 'eth0'");
	json_object_put(o);
	o = J("{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", "
	      "\"guest_mac\": \"06:00:AC:10:00\"}");
	expect_err(shape_net(&s, o, "", "eth1", &err), &err,
		   "guest_mac: '06:00:AC:10:00' is not a MAC address");
	json_object_put(o);
	spec_free(&s);
}

Test(api_shapes, root_drive_goes_first_with_root_on_the_cmdline)
{
	struct vm_spec s;
	struct vm_config cfg;
	struct mvm_err err;

	cr_assert_eq(config_parse(&s, "x", 1, "c.json", &dry, &err), -EINVAL);
	spec_init(&s);
	{
		static const char text[] =
			"{\"boot-source\": {\"kernel_image_path\": \"/k\", "
			"\"boot_args\": \"console=ttyS0\"}, \"drives\": ["
			"{\"drive_id\": \"data\", \"path_on_host\": \"/d\", "
			"\"is_root_device\": false}, "
			"{\"drive_id\": \"root\", \"path_on_host\": \"/r\", "
			"\"is_root_device\": true, \"is_read_only\": true}]}";

		cr_assert_eq(config_parse(&s, text, sizeof(text) - 1, "c.json",
					  &dry, &err), 0, "%s", err.msg);
	}
	cr_assert_eq(spec_to_config(&s, &cfg, 1, &err), 0, "%s", err.msg);
	cr_assert_str_eq(cfg.cmdline, "console=ttyS0 root=/dev/vda ro");
	cr_assert_eq(cfg.nr_disks, 2);
	cr_assert_str_eq(cfg.disks[0].id, "root");
	cr_assert(cfg.disks[0].readonly);
	cr_assert_str_eq(cfg.disks[1].id, "data");

	/* With a PARTUUID the root is named by it; a user's root= wins. */
	s.drives[1].partuuid = strdup("1234-5678");
	cr_assert_eq(spec_to_config(&s, &cfg, 1, &err), 0);
	cr_assert_str_eq(cfg.cmdline,
			 "console=ttyS0 root=PARTUUID=1234-5678 ro");
	free(s.boot_args);
	s.boot_args = strdup("root=/dev/vdb");
	cr_assert_eq(spec_to_config(&s, &cfg, 1, &err), 0);
	cr_assert_str_eq(cfg.cmdline, "root=/dev/vdb");
	spec_free(&s);
}

/* Firecracker's rule for a root pmem: root=/dev/pmemN, by its order. */
Test(api_shapes, root_pmem_names_its_device_on_the_cmdline)
{
	static const char text[] =
		"{\"boot-source\": {\"kernel_image_path\": \"/k\", "
		"\"boot_args\": \"console=ttyS0\"}, \"pmem\": ["
		"{\"id\": \"a\", \"path_on_host\": \"/a\"}, "
		"{\"id\": \"b\", \"path_on_host\": \"/b\", "
		"\"root_device\": true, \"read_only\": true}]}";
	static const char two_roots[] =
		"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, "
		"\"drives\": [{\"drive_id\": \"r\", \"path_on_host\": \"/r\", "
		"\"is_root_device\": true}], \"pmem\": [{\"id\": \"b\", "
		"\"path_on_host\": \"/b\", \"root_device\": true}]}";
	static const char dup[] =
		"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, "
		"\"pmem\": [{\"id\": \"a\", \"path_on_host\": \"/a\"}, "
		"{\"id\": \"a\", \"path_on_host\": \"/b\"}]}";
	struct vm_spec s;
	struct vm_config cfg;
	struct mvm_err err;

	spec_init(&s);
	cr_assert_eq(config_parse(&s, text, sizeof(text) - 1, "c.json", &dry,
				  &err), 0, "%s", err.msg);
	cr_assert_eq(spec_to_config(&s, &cfg, 1, &err), 0, "%s", err.msg);
	cr_assert_str_eq(cfg.cmdline, "console=ttyS0 root=/dev/pmem1 ro");
	cr_assert_eq(cfg.nr_pmems, 2);
	cr_assert_str_eq(cfg.pmems[1].id, "b");
	cr_assert(cfg.pmems[1].readonly && cfg.pmems[1].root);
	cr_assert_str_eq(cfg.pmems[0].path, "/a");
	free(s.boot_args);
	s.boot_args = strdup("root=/dev/vdb");
	cr_assert_eq(spec_to_config(&s, &cfg, 1, &err), 0);
	cr_assert_str_eq(cfg.cmdline, "root=/dev/vdb");
	spec_free(&s);

	spec_init(&s);
	expect_err(config_parse(&s, two_roots, sizeof(two_roots) - 1,
				"c.json", &dry, &err), &err,
		   "pmem[0].root_device: drive 'r' is already the root device");
	spec_free(&s);
	spec_init(&s);
	expect_err(config_parse(&s, dup, sizeof(dup) - 1, "c.json", &dry,
				&err), &err,
		   "pmem[1].id: 'a' is already the id of pmem[0]");
	spec_free(&s);
}

Test(api_shapes, exported_config_parses_back)
{
	struct vm_spec a, b;
	struct mvm_err err;
	struct json_object *o;
	const char *text;

	spec_init(&a);
	o = J("{\"kernel_image_path\": \"/k\", \"initrd_path\": \"/i\"}");
	cr_assert_eq(shape_boot_source(&a, o, "", &dry, &err), 0);
	json_object_put(o);
	o = J("{\"drive_id\": \"r\", \"path_on_host\": \"/r\", "
	      "\"is_root_device\": true, \"partuuid\": \"p\", "
	      "\"cache_type\": \"Writeback\", \"io_engine\": \"Async\", "
	      "\"rate_limiter\": {\"ops\": {\"size\": 0, \"refill_time\": 7, "
	      "\"one_time_burst\": 9}}}");
	cr_assert_eq(shape_drive(&a, o, "", NULL, &dry, &err), 0, "%s",
		     err.msg);
	json_object_put(o);
	o = J("{\"iface_id\": \"n\", \"host_dev_name\": \"t\", "
	      "\"mac_spoofing\": true}");
	cr_assert_eq(shape_net(&a, o, "", NULL, &err), 0);
	json_object_put(o);
	o = J("{\"level\": \"warning\", \"show_level\": true}");
	cr_assert_eq(shape_logger(&a, o, "", &err), 0, "%s", err.msg);
	json_object_put(o);
	o = J("{\"amount_mib\": 12, \"deflate_on_oom\": true, "
	      "\"stats_polling_interval_s\": 3, "
	      "\"free_page_reporting\": true}");
	cr_assert_eq(shape_balloon(&a, o, "", &err), 0, "%s", err.msg);
	json_object_put(o);

	o = spec_export(&a);
	text = json_object_to_json_string_ext(o, API_JSON_FLAGS);
	spec_init(&b);
	cr_assert_eq(config_parse(&b, text, strlen(text), "export", &dry, &err),
		     0, "%s\n%s", err.msg, text);
	cr_assert_str_eq(b.initrd_path, "/i");
	cr_assert_eq(b.nr_drives, 1);
	cr_assert(b.drives[0].cache_writeback && b.drives[0].io_engine_async);
	cr_assert_eq(b.drives[0].rate_limiter.rl.ops.one_time_burst, 9);
	cr_assert(b.nets[0].mac_spoofing);
	cr_assert_eq(b.log_level, API_LOG_WARNING);
	cr_assert(b.balloon.enabled);
	cr_assert_eq(b.balloon.amount_mib, 12);
	cr_assert(b.balloon.deflate_on_oom);
	cr_assert_eq(b.balloon.stats_interval_s, 3);
	cr_assert_not(b.balloon.free_page_hinting);
	cr_assert(b.balloon.free_page_reporting);
	json_object_put(o);
	spec_free(&a);
	spec_free(&b);
}

static void balloon_refused(struct vm_spec *s, const char *body,
			    const char *want)
{
	struct json_object *o = J(body);
	struct mvm_err err;

	expect_err(shape_balloon(s, o, "balloon", &err), &err, want);
	json_object_put(o);
	cr_assert_not(s->balloon.enabled, "%s left a balloon", body);
}

Test(api_shapes, balloon_shapes_name_the_field)
{
	struct vm_spec s;
	struct mvm_err err;
	struct json_object *o;
	uint32_t mib = 0;
	uint16_t period = 0;
	bool ack = false;

	spec_init(&s); /* 128 MiB */
	balloon_refused(&s, "{\"deflate_on_oom\": true}",
			"balloon.amount_mib: missing required field");
	balloon_refused(&s, "{\"amount_mib\": 1}",
			"balloon.deflate_on_oom: missing required field");
	balloon_refused(&s, "{\"amount_mib\": 129, \"deflate_on_oom\": "
			"false}", "balloon.amount_mib: 129 is more than the "
			"VM's memory (128 MiB)");
	balloon_refused(&s, "{\"amount_mib\": -1, \"deflate_on_oom\": false}",
			"balloon.amount_mib: must be from 0 to 16777215, got "
			"-1");
	balloon_refused(&s, "{\"amount_mib\": 1.5, \"deflate_on_oom\": "
			"false}", "balloon.amount_mib: expected an integer");
	balloon_refused(&s, "{\"amount_mib\": 1, \"deflate_on_oom\": 1}",
			"balloon.deflate_on_oom: expected a boolean");
	balloon_refused(&s, "{\"amount_mib\": 1, \"deflate_on_oom\": false, "
			"\"stats_polling_interval_s\": 65536}",
			"balloon.stats_polling_interval_s: must be from 0 to "
			"65535");
	balloon_refused(&s, "{\"amount_mib\": 1, \"deflate_on_oom\": false, "
			"\"free_page_hinting\": \"yes\"}",
			"balloon.free_page_hinting: expected a boolean");
	balloon_refused(&s, "{\"amount_mib\": 1, \"deflate_on_oom\": false, "
			"\"free_page_reporting\": null, \"size\": 1}",
			"balloon.size: unknown field");
	balloon_refused(&s, "[1]", "balloon: expected an object, got an "
			"array");
	o = J("{\"amount_mib\": 128, \"deflate_on_oom\": false}");
	cr_assert_eq(shape_balloon(&s, o, "", &err), 0, "%s", err.msg);
	json_object_put(o);
	cr_assert(s.balloon.enabled);
	cr_assert_eq(s.balloon.amount_mib, 128);

	o = J("{\"amount_mib\": 4294967296}");
	expect_err(shape_balloon_update(o, &mib, &err), &err,
		   "amount_mib: must be from 0 to 16777215");
	json_object_put(o);
	o = J("{\"amount_mib\": 7, \"deflate_on_oom\": true}");
	expect_err(shape_balloon_update(o, &mib, &err), &err,
		   "deflate_on_oom: unknown field (expected one of: "
		   "amount_mib)");
	json_object_put(o);
	o = J("{}");
	expect_err(shape_balloon_update(o, &mib, &err), &err,
		   "amount_mib: missing required field");
	expect_err(shape_balloon_stats_update(o, &period, &err), &err,
		   "stats_polling_interval_s: missing required field");
	cr_assert_eq(shape_balloon_hint_start(o, &ack, &err), 0);
	cr_assert(ack, "acknowledge_on_stop defaults to true");
	cr_assert_eq(shape_balloon_hint_stop(o, &err), 0);
	json_object_put(o);
	o = J("{\"stats_polling_interval_s\": \"5\"}");
	expect_err(shape_balloon_stats_update(o, &period, &err), &err,
		   "stats_polling_interval_s: expected an integer, got a "
		   "string");
	json_object_put(o);
	o = J("{\"acknowledge_on_stop\": false}");
	cr_assert_eq(shape_balloon_hint_start(o, &ack, &err), 0);
	cr_assert_not(ack);
	expect_err(shape_balloon_hint_stop(o, &err), &err,
		   "acknowledge_on_stop: unknown field (expected no fields)");
	json_object_put(o);
	o = J("{\"acknowledge_on_stop\": 0}");
	expect_err(shape_balloon_hint_start(o, &ack, &err), &err,
		   "acknowledge_on_stop: expected a boolean");
	json_object_put(o);
	cr_assert_eq(shape_balloon_hint_start(NULL, &ack, &err), 0);
	cr_assert(ack);
	spec_free(&s);
}

Test(api_shapes, api_options_are_taken_out_of_argv)
{
	char *argv[] = { "run", "--kernel", "k", "--api-sock", "/s",
			 "--cpus=2", "--config-file=c.json", NULL };
	char *argv2[] = { "run", "--kernel", "k", "--config-file", "c", NULL };
	char *argv3[] = { "mvm", "--api-sock", NULL };
	struct cli_api_opts o;
	struct mvm_err err;
	int argc = 7;

	cr_assert_eq(cli_take_api_opts(&argc, argv, &o, true, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(argc, 4);
	cr_assert_str_eq(o.api_sock, "/s");
	cr_assert_str_eq(o.config_file, "c.json");
	cr_assert_str_eq(argv[3], "--cpus=2");
	cr_assert_null(argv[4]);

	argc = 5;
	expect_err(cli_take_api_opts(&argc, argv2, &o, false, &err), &err,
		   "--config-file cannot be combined with run options");
	argc = 2;
	expect_err(cli_take_api_opts(&argc, argv3, &o, true, &err), &err,
		   "option '--api-sock' needs a value");
}

/* /hotplug/memory's shapes, and the config file's "memory-hotplug". */
Test(api_shapes, hotplug_memory_defaults_and_refusals)
{
	struct mem_hotplug_config c;
	struct mvm_err err;
	struct json_object *o;
	uint64_t req = 0;
	const struct {
		const char *json, *want;
	} bad[] = {
		{ "{}", "total_size_mib: missing" },
		{ "{\"total_size_mib\": 100}", "total_size_mib: must be a "
		  "positive whole number of slots (128 MiB)" },
		{ "{\"total_size_mib\": 256, \"slot_size_mib\": 64}",
		  "slot_size_mib: must be from 128" },
		{ "{\"total_size_mib\": 256, \"block_size_mib\": 3}",
		  "block_size_mib: must be a power of two" },
		{ "{\"total_size_mib\": 256, \"block_size_mib\": 256}",
		  "slot_size_mib: must be a whole number of blocks" },
		{ "{\"total_size_mib\": 4294967296}", "total_size_mib: must "
		  "be from 0 to 4294967295" },
		{ "{\"total_size_mib\": 256, \"requested_size_mib\": 2}",
		  "requested_size_mib" },
	};

	o = J("{\"total_size_mib\": 1024}");
	cr_assert_eq(shape_hotplug(o, "", &c, &err), 0, "%s", err.msg);
	json_object_put(o);
	cr_assert_eq(c.total_mib, 1024);
	cr_assert_eq(c.slot_mib, 128);
	cr_assert_eq(c.block_mib, 2);
	cr_assert_eq(c.requested_mib, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = J(bad[i].json);
		expect_err(shape_hotplug(o, "", &c, &err), &err, bad[i].want);
		json_object_put(o);
	}
	o = J("{\"requested_size_mib\": 64}");
	cr_assert_eq(shape_hotplug_patch(o, &req, &err), 0);
	cr_assert_eq(req, 64);
	json_object_put(o);
	o = J("{\"requested_size_mib\": true}");
	expect_err(shape_hotplug_patch(o, &req, &err), &err,
		   "requested_size_mib: expected an integer");
	json_object_put(o);
}

Test(api_shapes, hotplug_memory_in_a_config_file_round_trips)
{
	const char *text = "{\"boot-source\": {\"kernel_image_path\": \"/k\"},"
			   " \"memory-hotplug\": {\"total_size_mib\": 512, "
			   "\"slot_size_mib\": 256, \"block_size_mib\": 4}}";
	struct vm_spec a, b;
	struct mvm_err err;
	struct json_object *o;
	const char *out;

	spec_init(&a);
	cr_assert_eq(config_parse(&a, text, strlen(text), "c", &dry, &err), 0,
		     "%s", err.msg);
	cr_assert_eq(a.mem_hotplug.total_mib, 512);
	cr_assert_eq(a.mem_hotplug.slot_mib, 256);
	o = spec_export(&a);
	out = json_object_to_json_string_ext(o, API_JSON_FLAGS);
	spec_init(&b);
	cr_assert_eq(config_parse(&b, out, strlen(out), "export", &dry, &err),
		     0, "%s\n%s", err.msg, out);
	cr_assert_eq(memcmp(&a.mem_hotplug, &b.mem_hotplug,
			    sizeof(a.mem_hotplug)), 0, "%s", out);
	json_object_put(o);
	spec_free(&a);
	spec_free(&b);
	text = "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, "
	       "\"memory-hotplug\": {\"total_size_mib\": 100}}";
	spec_init(&a);
	expect_err(config_parse(&a, text, strlen(text), "c", &dry, &err), &err,
		   "c: memory-hotplug.total_size_mib: must be a positive");
	spec_free(&a);
}

static void dynmem_refused(struct vm_spec *s, const char *body,
			   const char *want)
{
	struct dynmem_config before = s->dynmem;
	struct json_object *o = J(body);
	struct mvm_err err;

	expect_err(shape_dynmem(s, o, "", &err), &err, want);
	json_object_put(o);
	cr_assert_eq(memcmp(&before, &s->dynmem, sizeof(before)), 0,
		     "%s changed the spec", body);
}

/* PUT /dynamic-memory: defaults, and every refusal naming its field. */
Test(api_shapes, dynamic_memory_put_names_the_field)
{
	struct vm_spec s;
	struct mvm_err err;
	struct json_object *o;

	spec_init(&s); /* 128 MiB */
	o = J("{\"enabled\": true, \"min_mib\": 64, \"max_mib\": 1024}");
	cr_assert_eq(shape_dynmem(&s, o, "", &err), 0, "%s", err.msg);
	json_object_put(o);
	cr_assert(s.dynmem.enabled);
	cr_assert_eq(s.dynmem.min_mib, 64);
	cr_assert_eq(s.dynmem.max_mib, 1024);
	cr_assert_eq(s.dynmem.buffer_percent, 20);
	dynmem_refused(&s, "{}", "enabled: missing required field");
	dynmem_refused(&s, "{\"enabled\": true, \"max_mib\": 256}",
		       "min_mib: missing required field");
	dynmem_refused(&s, "{\"enabled\": true, \"min_mib\": 64}",
		       "max_mib: missing required field");
	dynmem_refused(&s, "{\"enabled\": 1, \"min_mib\": 64, "
		       "\"max_mib\": 256}", "enabled: expected a boolean");
	dynmem_refused(&s, "{\"enabled\": true, \"min_mib\": \"64\", "
		       "\"max_mib\": 256}", "min_mib: expected an integer");
	dynmem_refused(&s, "{\"enabled\": true, \"min_mib\": 64, "
		       "\"max_mib\": -1}", "max_mib: must be from 0 to");
	dynmem_refused(&s, "{\"enabled\": true, \"min_mib\": 64, "
		       "\"max_mib\": 256, \"buffer_percent\": 4}",
		       "buffer_percent: must be from 5 to 2000");
	dynmem_refused(&s, "{\"enabled\": true, \"min_mib\": 64, "
		       "\"max_mib\": 256, \"buffer_percent\": 2001}",
		       "buffer_percent: must be from 5 to 2000");
	dynmem_refused(&s, "{\"enabled\": true, \"min_mib\": 16, "
		       "\"max_mib\": 256}", "min_mib: 16 MiB is less than 32");
	dynmem_refused(&s, "{\"enabled\": true, \"min_mib\": 256, "
		       "\"max_mib\": 512}", "min_mib: 256 MiB is more than the "
		       "boot memory (mem_size_mib 128)");
	dynmem_refused(&s, "{\"enabled\": true, \"min_mib\": 64, "
		       "\"max_mib\": 100}", "max_mib: 100 MiB is less than the "
		       "boot memory");
	dynmem_refused(&s, "{\"enabled\": true, \"min_mib\": 64, "
		       "\"max_mib\": 256, \"colour\": 1}", "colour");
	o = J("{\"enabled\": false}");
	cr_assert_eq(shape_dynmem(&s, o, "", &err), 0, "%s", err.msg);
	json_object_put(o);
	cr_assert_not(s.dynmem.enabled);
	spec_free(&s);
}

/* PATCH /dynamic-memory: any field, the rest kept. */
Test(api_shapes, dynamic_memory_patch_keeps_what_it_does_not_name)
{
	struct dynmem_config c = { .enabled = true, .min_mib = 64,
				   .max_mib = 512, .buffer_percent = 20 };
	struct mvm_err err;
	struct json_object *o;

	o = J("{\"buffer_percent\": 50}");
	cr_assert_eq(shape_dynmem_patch(o, &c, &err), 0, "%s", err.msg);
	json_object_put(o);
	cr_assert(c.enabled);
	cr_assert_eq(c.min_mib, 64);
	cr_assert_eq(c.buffer_percent, 50);
	o = J("{\"enabled\": false}");
	cr_assert_eq(shape_dynmem_patch(o, &c, &err), 0, "%s", err.msg);
	json_object_put(o);
	cr_assert_not(c.enabled);
	cr_assert_eq(c.max_mib, 512);
	o = J("{\"enabled\": true, \"min_mib\": 600}");
	expect_err(shape_dynmem_patch(o, &c, &err), &err,
		   "min_mib: 600 MiB is more than max_mib (512 MiB)");
	json_object_put(o);
	cr_assert_not(c.enabled, "a refusal changed it");
	o = J("{\"max_mib\": true}");
	expect_err(shape_dynmem_patch(o, &c, &err), &err,
		   "max_mib: expected an integer");
	json_object_put(o);
	/* Never configured: on with sizes, Hyper-V's buffer. */
	c = (struct dynmem_config){ 0 };
	o = J("{\"enabled\": true, \"min_mib\": 64, \"max_mib\": 128}");
	cr_assert_eq(shape_dynmem_patch(o, &c, &err), 0, "%s", err.msg);
	json_object_put(o);
	cr_assert_eq(c.buffer_percent, 20);
}

Test(api_shapes, dynamic_memory_in_a_config_file_round_trips)
{
	const char *text = "{\"boot-source\": {\"kernel_image_path\": \"/k\"},"
			   " \"machine-config\": {\"vcpu_count\": 1, "
			   "\"mem_size_mib\": 512}, \"dynamic-memory\": "
			   "{\"enabled\": true, \"min_mib\": 256, "
			   "\"max_mib\": 2048, \"buffer_percent\": 35}}";
	struct vm_spec a, b;
	struct mvm_err err;
	struct json_object *o;
	const char *out;

	spec_init(&a);
	cr_assert_eq(config_parse(&a, text, strlen(text), "c", &dry, &err), 0,
		     "%s", err.msg);
	cr_assert(a.dynmem.enabled);
	cr_assert_eq(a.dynmem.buffer_percent, 35);
	o = spec_export(&a);
	out = json_object_to_json_string_ext(o, API_JSON_FLAGS);
	cr_assert(strstr(out, "\"dynamic-memory\":{\"enabled\":true,"
			 "\"min_mib\":256,\"max_mib\":2048,"
			 "\"buffer_percent\":35}"), "%s", out);
	spec_init(&b);
	cr_assert_eq(config_parse(&b, out, strlen(out), "export", &dry, &err),
		     0, "%s\n%s", err.msg, out);
	cr_assert_eq(memcmp(&a.dynmem, &b.dynmem, sizeof(a.dynmem)), 0, "%s",
		     out);
	json_object_put(o);
	spec_free(&a);
	spec_free(&b);
	/* Off: not exported. */
	spec_init(&a);
	o = spec_export(&a);
	cr_assert_null(strstr(json_object_to_json_string(o), "dynamic"));
	json_object_put(o);
	spec_free(&a);
	text = "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, "
	       "\"dynamic-memory\": {\"enabled\": true, \"min_mib\": 64, "
	       "\"max_mib\": 64}}";
	spec_init(&a);
	expect_err(config_parse(&a, text, strlen(text), "c", &dry, &err), &err,
		   "c: dynamic-memory.max_mib: 64 MiB is less than the boot "
		   "memory (mem_size_mib 128)");
	spec_free(&a);
}
