/*
 * GET /vm/nested and the nesting policy over the API, on this host's KVM:
 * before boot the answer is the setting and the host probe; after boot it
 * is queried from the vCPUs; nesting cannot be switched after boot; where
 * the host cannot nest, InstanceStart with nested_virt is refused with the
 * probe's reason. Every response is checked against api/openapi.yaml by
 * the client. The lab (tests/lab/nested) covers the hypervisor-active side.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "api_assert.h"
#include "api_client.h"
#include "harness.h"

static bool host_can_nest(void)
{
	const char *argv[] = { "host-check", "--json", NULL };
	struct mvm_result r;
	bool yes;

	cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	yes = strstr(r.out, "\"nested_supported\": true") != NULL;
	mvm_result_free(&r);
	return yes;
}

static void boot_source(const char *sock, const char *action)
{
	char body[512];

	snprintf(body, sizeof(body),
		 "{\"kernel_image_path\": \"%s\", \"boot_args\": "
		 "\"action=%s\"}", guest_path("mb_action"), action);
	api_ok(sock, "PUT", "/boot-source", body);
}

Test(nested_api, before_boot_the_setting_and_the_probe, .timeout = 30)
{
	struct api_proc p;
	struct api_resp r;
	bool nest = host_can_nest();

	cr_assert_eq(api_spawn(&p, NULL), 0);
	cr_assert_eq(api_call(p.sock, "GET", "/vm/nested", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"exposed\":false,"), "%s", r.body);
	cr_assert(strstr(r.body, nest ? "\"host_supported\":true" :
					"\"host_supported\":false"),
		  "%s", r.body);
	cr_assert(strstr(r.body, "\"l1_hypervisor_active\":false,"
			 "\"l2_running\":false,\"since\":null}"), "%s", r.body);
	api_ok(p.sock, "PATCH", "/machine-config", "{\"nested_virt\": true}");
	cr_assert_eq(api_call(p.sock, "GET", "/vm/nested", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"exposed\":true,"), "%s", r.body);
	api_proc_free(&p);
}

Test(nested_api, after_boot_queried_and_fixed, .timeout = 30)
{
	struct api_proc p;
	struct api_resp r;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	boot_source(p.sock, "echo");
	api_ok(p.sock, "PUT", "/machine-config",
	       "{\"vcpu_count\": 2, \"mem_size_mib\": 32}");
	api_ok(p.sock, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	cr_assert(api_wait_out(&p, "echo ready", 10), "%s", p.out);
	cr_assert_eq(api_call(p.sock, "GET", "/vm/nested", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"exposed\":false,"), "%s", r.body);
	cr_assert(strstr(r.body, "\"l1_hypervisor_active\":false,"
			 "\"l2_running\":false,\"since\":\""), "%s", r.body);
	/* A guarded operation that exists: switching nesting after boot. */
	cr_assert_eq(api_call(p.sock, "PATCH", "/machine-config",
			      "{\"nested_virt\": true}", &r), 400);
	cr_assert(fault_has(&r, "nested virtualization can only be changed "
			    "while the VM is off"), "%s", r.body);
	cr_assert(fault_has(&r, "nested_toggle_requires_off"), "%s", r.body);
	/* PUT says the same; PUT without nested_virt gets Firecracker's. */
	cr_assert_eq(api_call(p.sock, "PUT", "/machine-config",
			      "{\"vcpu_count\": 2, \"mem_size_mib\": 32, "
			      "\"nested_virt\": true}", &r), 400);
	cr_assert(fault_has(&r, "nested virtualization can only be changed "
			    "while the VM is off"), "%s", r.body);
	cr_assert_eq(api_call(p.sock, "PUT", "/machine-config",
			      "{\"vcpu_count\": 2, \"mem_size_mib\": 32}",
			      &r), 400);
	cr_assert(fault_has(&r, "not supported after starting the microVM"),
		  "%s", r.body);
	/* Nothing else in the policy refuses a VM without nesting. */
	cr_assert_eq(api_call(p.sock, "GET", "/vm/policy", NULL, &r), 200);
	cr_assert(strstr(r.body, "{\"op\":\"snapshot_create\",\"allowed\":"
			 "true"), "%s", r.body);
	cr_assert(strstr(r.body, "{\"op\":\"live_migration\",\"allowed\":"
			 "true"), "%s", r.body);
	api_proc_free(&p);
}

Test(nested_api, start_with_nesting_refused_where_the_host_cannot,
     .timeout = 30)
{
	struct api_proc p;
	struct api_resp r;

	if (host_can_nest()) {
		fprintf(stderr, "[NOTE] this host can nest: the refusal of "
			"InstanceStart with nested_virt was not checked here "
			"(the lab checks nesting itself)\n");
		return;
	}
	cr_assert_eq(api_spawn(&p, NULL), 0);
	boot_source(p.sock, "echo");
	api_ok(p.sock, "PUT", "/machine-config",
	       "{\"vcpu_count\": 1, \"mem_size_mib\": 32, "
	       "\"nested_virt\": true}");
	cr_assert_eq(api_call(p.sock, "PUT", "/actions",
			      "{\"action_type\": \"InstanceStart\"}", &r), 400,
		     "%d %s", r.status, r.body);
	cr_assert(fault_has(&r, "nested: this host cannot expose "
			    "virtualization extensions: "), "%s", r.body);
	cr_assert_eq(api_call(p.sock, "GET", "/", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"Not started\""), "%s", r.body);
	api_proc_free(&p);
}
