/*
 * MMDS through the API, as Firecracker's: PUT, PATCH (a JSON merge patch)
 * and GET /mmds before and after boot, the store's limit (413 with
 * Firecracker's words, the store unchanged), --mmds-size-limit and
 * --metadata, PUT /mmds/config's checks and its section in GET /vm/config
 * and config files. Every answer is checked against api/openapi.yaml.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_client.h"
#include "harness.h"

static void call_ok(const char *sock, const char *method, const char *path,
		    const char *body)
{
	struct api_resp r;

	cr_assert_eq(api_call(sock, method, path, body, &r), 204,
		     "%s %s %s -> %d %s", method, path, body, r.status, r.body);
}

static void expect_fault(const char *sock, const char *method,
			 const char *path, const char *body, int status,
			 const char *text)
{
	struct api_resp r;

	cr_assert_eq(api_call(sock, method, path, body, &r), status,
		     "%s %s %s -> %d %s", method, path, body, r.status, r.body);
	cr_assert(fault_has(&r, text), "want '%s': %s", text, r.body);
}

/* GET /mmds, compared as compact JSON. */
static void expect_mmds(const char *sock, const char *want)
{
	struct json_object *got, *exp;
	struct api_resp r;

	cr_assert_eq(api_call(sock, "GET", "/mmds", NULL, &r), 200, "%s",
		     r.body);
	got = json_tokener_parse(r.body);
	exp = json_tokener_parse(want);
	cr_assert(got && exp, "%s", r.body);
	cr_assert_str_eq(json_object_to_json_string_ext(got,
			 JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
			 json_object_to_json_string_ext(exp,
			 JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	/* The order too: keys sorted, as Firecracker gives them. */
	cr_assert(strstr(r.body, "\"a\"") <= strstr(r.body, "\"b\"") ||
		  !strstr(r.body, "\"b\""), "%s", r.body);
	json_object_put(got);
	json_object_put(exp);
}

Test(api_mmds, put_patch_get_and_the_limit, .timeout = 30)
{
	struct api_proc p;
	char big[70000];

	cr_assert_eq(api_spawn(&p, NULL), 0);
	expect_mmds(p.sock, "{}");
	expect_fault(p.sock, "PATCH", "/mmds", "{\"a\": 1}", 400,
		     "MMDS error: The MMDS data store is not initialized.");
	call_ok(p.sock, "PUT", "/mmds", "{\"b\": {\"y\": 1, \"x\": \"s/t\"}, "
		"\"a\": [1, 2]}");
	expect_mmds(p.sock, "{\"a\": [1, 2], \"b\": {\"x\": \"s/t\", \"y\": 1}}");
	call_ok(p.sock, "PATCH", "/mmds", "{\"b\": {\"y\": null, \"z\": true}, "
		"\"c\": \"new\"}");
	expect_mmds(p.sock, "{\"a\": [1, 2], \"b\": {\"x\": \"s/t\", "
		    "\"z\": true}, \"c\": \"new\"}");
	/* Over the default limit, the API's payload limit: 64 KiB. */
	memset(big, 'x', sizeof(big));
	snprintf(big, 16, "{\"a\": \"");
	big[7] = 'x';
	strcpy(big + 65530, "\"}");
	expect_fault(p.sock, "PATCH", "/mmds", big, 413,
		     "MMDS limit exceeded error: The MMDS patch request "
		     "doesn't fit.");
	expect_mmds(p.sock, "{\"a\": [1, 2], \"b\": {\"x\": \"s/t\", "
		    "\"z\": true}, \"c\": \"new\"}");
	expect_fault(p.sock, "PUT", "/mmds", "{\"a\": ", 400, "");
	expect_fault(p.sock, "DELETE", "/mmds", NULL, 405, "");
	call_ok(p.sock, "PUT", "/mmds", "\"just a string\"");
	expect_mmds(p.sock, "\"just a string\"");
	api_stop(&p);
	api_proc_free(&p);
}

Test(api_mmds, size_limit_and_metadata_flags, .timeout = 30)
{
	static const char md[] = "{\"b\": \"2\", \"a\": {\"x\": \"1\"}}";
	char *file = temp_file("md", md, strlen(md));
	const char *argv[] = { "--api-sock", API_SOCK_HERE, "--metadata",
			       file, "--mmds-size-limit", "40", NULL };
	struct api_proc p;
	struct mvm_result res;

	cr_assert_eq(api_spawn_argv(&p, argv), 0);
	expect_mmds(p.sock, "{\"a\": {\"x\": \"1\"}, \"b\": \"2\"}");
	/* 41 bytes of compact JSON: one over; 40 fit. */
	expect_fault(p.sock, "PUT", "/mmds", "{\"k\": \"0123456789012345678901"
		     "23456789012\"}", 413, "doesn't fit");
	call_ok(p.sock, "PUT", "/mmds", "{\"k\": \"012345678901234567890123"
		"45678901\"}");
	api_stop(&p);
	api_proc_free(&p);

	/* A metadata file over the limit stops mvm, naming the file. */
	cr_assert_eq(mvm_launch((const char *[]){ "--id", "a",
				"--mmds-size-limit", "10", "--metadata", file,
				NULL }, NULL, &res), 0);
	cr_assert_eq(res.status, 1, "%s", res.err);
	cr_assert(strstr(res.err, "--metadata ") &&
		  strstr(res.err, "doesn't fit"), "%s", res.err);
	mvm_result_free(&res);
	free(file);
}

Test(api_mmds, config_checks_as_firecracker, .timeout = 30)
{
	struct api_proc p;
	struct api_resp r;
	struct json_object *o, *c, *v;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	expect_fault(p.sock, "PUT", "/mmds/config",
		     "{\"network_interfaces\": [\"eth0\"]}", 400,
		     "MMMDS config error: The list of network interface IDs "
		     "provided contains at least one ID that does not "
		     "correspond to any existing network interface.");
	call_ok(p.sock, "PUT", "/network-interfaces/eth0",
		"{\"iface_id\": \"eth0\", \"host_dev_name\": \"mvmtap0\"}");
	expect_fault(p.sock, "PUT", "/mmds/config",
		     "{\"network_interfaces\": []}", 400,
		     "The list of network interface IDs that allow forwarding "
		     "MMDS requests is empty.");
	expect_fault(p.sock, "PUT", "/mmds/config",
		     "{\"network_interfaces\": [\"eth0\"], \"ipv4_address\": "
		     "\"10.0.0.1\"}", 400,
		     "The MMDS IPv4 address is not link local.");
	expect_fault(p.sock, "PUT", "/mmds/config",
		     "{\"network_interfaces\": [\"eth0\"], \"ipv4_address\": "
		     "\"169.254.0.1\"}", 400, "not link local");
	expect_fault(p.sock, "PUT", "/mmds/config",
		     "{\"network_interfaces\": [\"eth0\"], \"ipv4_address\": "
		     "\"169.254.1\"}", 400, "ipv4_address");
	expect_fault(p.sock, "PUT", "/mmds/config",
		     "{\"network_interfaces\": [\"eth0\"], \"version\": "
		     "\"V3\"}", 400, "version");
	expect_fault(p.sock, "PUT", "/mmds/config",
		     "{\"network_interfaces\": [\"eth0\"], \"port\": 80}",
		     400, "port");
	expect_fault(p.sock, "PUT", "/mmds/config", "{}", 400,
		     "network_interfaces");

	/* Unset, GET /vm/config says null. */
	cr_assert_eq(api_call(p.sock, "GET", "/vm/config", NULL, &r), 200);
	o = json_tokener_parse(r.body);
	cr_assert(json_object_object_get_ex(o, "mmds-config", &c));
	cr_assert_null(c);
	json_object_put(o);

	call_ok(p.sock, "PUT", "/mmds/config", "{\"version\": \"V2\", "
		"\"network_interfaces\": [\"eth0\"], \"ipv4_address\": "
		"\"169.254.170.2\", \"imds_compat\": true}");
	cr_assert_eq(api_call(p.sock, "GET", "/vm/config", NULL, &r), 200);
	o = json_tokener_parse(r.body);
	cr_assert(json_object_object_get_ex(o, "mmds-config", &c), "%s",
		  r.body);
	cr_assert(json_object_object_get_ex(c, "version", &v));
	cr_assert_str_eq(json_object_get_string(v), "V2");
	cr_assert(json_object_object_get_ex(c, "ipv4_address", &v));
	cr_assert_str_eq(json_object_get_string(v), "169.254.170.2");
	cr_assert(json_object_object_get_ex(c, "imds_compat", &v));
	cr_assert(json_object_get_boolean(v));
	cr_assert(json_object_object_get_ex(c, "network_interfaces", &v));
	cr_assert_str_eq(json_object_get_string(
			 json_object_array_get_idx(v, 0)), "eth0");
	json_object_put(o);

	/* The default address, when none is given. */
	call_ok(p.sock, "PUT", "/mmds/config",
		"{\"network_interfaces\": [\"eth0\"]}");
	cr_assert_eq(api_call(p.sock, "GET", "/vm/config", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"169.254.169.254\""), "%s", r.body);
	cr_assert(strstr(r.body, "\"V1\""), "%s", r.body);
	api_stop(&p);
	api_proc_free(&p);
}

/* A config file's "mmds-config" names NICs of the same file. */
Test(api_mmds, config_file_section, .timeout = 30)
{
	char text[1024];
	struct mvm_result res;
	char *cfg;

	snprintf(text, sizeof(text), "{\"boot-source\": "
		 "{\"kernel_image_path\": \"%s\"}, \"mmds-config\": "
		 "{\"network_interfaces\": [\"eth9\"]}}",
		 guest_path("mb_action"));
	cfg = temp_file("mmdscfg", text, strlen(text));
	cr_assert_eq(mvm_launch((const char *[]){ "--no-api", "--config-file",
				cfg, NULL }, NULL, &res), 0);
	cr_assert_eq(res.status, 1, "%s", res.err);
	cr_assert(strstr(res.err, "does not correspond to any existing "
			 "network interface"), "%s", res.err);
	mvm_result_free(&res);
	free(cfg);
}

/*
 * After boot: the store a VM was built with keeps answering; without
 * one, Firecracker's "not initialized"; the config is pre-boot only.
 */
Test(api_mmds, after_boot, .timeout = 60)
{
	struct api_proc p, q;
	char body[512];

	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"action=hang\"}", guest_path("mb_action"));

	cr_assert_eq(api_spawn(&p, NULL), 0);
	call_ok(p.sock, "PUT", "/boot-source", body);
	call_ok(p.sock, "PATCH", "/machine-config", "{\"mem_size_mib\": 32}");
	call_ok(p.sock, "PUT", "/mmds", "{\"a\": \"1\"}");
	call_ok(p.sock, "PUT", "/actions",
		"{\"action_type\": \"InstanceStart\"}");
	expect_mmds(p.sock, "{\"a\": \"1\"}");
	call_ok(p.sock, "PATCH", "/mmds", "{\"b\": \"2\"}");
	expect_mmds(p.sock, "{\"a\": \"1\", \"b\": \"2\"}");
	expect_fault(p.sock, "PUT", "/mmds/config",
		     "{\"network_interfaces\": []}", 400,
		     "not supported after starting the microVM");
	api_stop(&p);
	api_proc_free(&p);

	cr_assert_eq(api_spawn(&q, NULL), 0);
	call_ok(q.sock, "PUT", "/boot-source", body);
	call_ok(q.sock, "PATCH", "/machine-config", "{\"mem_size_mib\": 32}");
	call_ok(q.sock, "PUT", "/actions",
		"{\"action_type\": \"InstanceStart\"}");
	expect_fault(q.sock, "GET", "/mmds", NULL, 400,
		     "MMDS error: The MMDS data store is not initialized.");
	expect_fault(q.sock, "PUT", "/mmds", "{}", 400, "not initialized");
	api_stop(&q);
	api_proc_free(&q);
}
