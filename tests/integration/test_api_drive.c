/*
 * Drives through the API on a running VM: a media swap (PATCH
 * path_on_host) seen by the virtio test kernel, which reads sector 0
 * before, during and after; swaps that cannot work are refused with 400
 * and the reason while the old medium keeps serving; the block metrics
 * count what the guest read. Rate limiters are kept as configured and
 * shown back (test_rate_limit.c measures them).
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_assert.h"
#include "api_client.h"
#include "harness.h"

/* An image of `sectors` sectors, every byte `fill`. */
static char *image(const char *tag, size_t bytes, int fill)
{
	char *data = malloc(bytes ? bytes : 1), *path;

	cr_assert_not_null(data);
	memset(data, fill, bytes);
	path = temp_file(tag, data, bytes);
	cr_assert_not_null(path);
	free(data);
	return path;
}

static void patch_path(struct api_proc *p, const char *path, int status,
		       const char *text)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"drive_id\": \"disk0\", "
		 "\"path_on_host\": \"%s\"}", path);
	if (status == 204)
		api_ok(p->sock, "PATCH", "/drives/disk0", body);
	else
		api_fault(p->sock, "PATCH", "/drives/disk0", body, status,
			  text);
}

/* Wait for needle in the console output written after offset `from`. */
static const char *wait_after(struct api_proc *p, size_t from,
			      const char *needle, double seconds)
{
	for (double t = 0; t < seconds; t += 0.05) {
		const char *hit = p->out_len > from ? strstr(p->out + from,
							      needle) : NULL;

		if (hit)
			return hit;
		api_drain(p, 0.05);
	}
	return NULL;
}

/* Sum of <section>.<key> over every metrics line in path. */
static uint64_t section_sum(const char *path, const char *section,
			    const char *key)
{
	FILE *f = fopen(path, "r");
	char line[16384];
	uint64_t sum = 0;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		struct json_object *o = json_tokener_parse(line), *b, *v;

		cr_assert_not_null(o, "bad metrics line: %s", line);
		if (json_object_object_get_ex(o, section, &b) &&
		    json_object_object_get_ex(b, key, &v))
			sum += json_object_get_uint64(v);
		json_object_put(o);
	}
	fclose(f);
	return sum;
}

static uint64_t metrics_sum(const char *path, const char *key)
{
	return section_sum(path, "block", key);
}

Test(api_drive, media_swap_reaches_the_guest, .timeout = 240)
{
	char *a = image("swap-a", 64 * 512, 0x5a);
	char *b = image("swap-b", 128 * 512, 0xc3);
	char *odd = image("swap-odd", 1000, 0x11);
	char *met = image("swap-metrics", 0, 0);
	struct api_proc p;
	const char *line;
	char body[512];
	size_t mark;
	uint64_t reads, bytes;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"test=blk_swap\"}",
		 guest_path("virtio/mb_virtio"));
	api_ok(p.sock, "PUT", "/boot-source", body);
	api_ok(p.sock, "PUT", "/machine-config",
	       "{\"vcpu_count\": 1, \"mem_size_mib\": 64}");
	snprintf(body, sizeof(body), "{\"drive_id\": \"disk0\", "
		 "\"path_on_host\": \"%s\", \"is_root_device\": false, "
		 "\"is_read_only\": false}", a);
	api_ok(p.sock, "PUT", "/drives/disk0", body);
	snprintf(body, sizeof(body), "{\"metrics_path\": \"%s\"}", met);
	api_ok(p.sock, "PUT", "/metrics", body);
	api_ok(p.sock, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");

	cr_assert(api_wait_out(&p, "swap before:", 60), "%s\n%s", p.out,
		  p.err);
	line = strstr(p.out, "swap before:");
	cr_assert_not_null(wait_after(&p, (size_t)(line - p.out), "\n", 10));
	cr_assert(strstr(p.out, "swap before: status 0 capacity 64 data "
			 "5a5a5a5a"), "%s", p.out);

	/* Refused, with the reason; the guest keeps reading the old disk. */
	patch_path(&p, "/nonexistent/disk.img", 400, "cannot open");
	patch_path(&p, odd, 400, "not a multiple of 512");
	mark = p.out_len;
	line = wait_after(&p, mark, "swap tick", 60);
	cr_assert_not_null(line, "no reads after the refused swaps: %s",
			   p.out);
	mark = (size_t)(line - p.out);
	cr_assert_not_null(wait_after(&p, mark, "\n", 10));
	line = p.out + mark;
	cr_assert(!strncmp(line, "swap tick: status 0 capacity 64 data "
			   "5a5a5a5a", 38), "%s", line);

	/* While the VM runs: its devices' counters go with it. */
	api_ok(p.sock, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}");
	/* A limiter the guest's few reads never reach: taken, no effect. */
	api_ok(p.sock, "PATCH", "/drives/disk0", "{\"drive_id\": "
	       "\"disk0\", \"rate_limiter\": {\"ops\": {\"size\": 100000, "
	       "\"refill_time\": 10}}}");
	patch_path(&p, b, 204, NULL);
	cr_assert(api_wait_out(&p, "ALL OK", 60), "%s\n%s", p.out, p.err);
	cr_assert(strstr(p.out, "swap after: status 0 capacity 128 data "
			 "c3c3c3c3"), "%s", p.out);
	cr_assert(strstr(p.out, "PASS blk swap generation"), "%s", p.out);
	cr_assert_eq(api_wait_exit(&p, 10), 1, "%s", p.err);

	/* Requests are counted by route, in Firecracker's groups. */
	cr_assert_geq(section_sum(met, "put_api_requests", "actions_count"), 1);
	cr_assert_geq(section_sum(met, "patch_api_requests", "drive_count"), 1);
	/* Every read was one sector, and the guest wrote nothing. */
	reads = metrics_sum(met, "read_count");
	bytes = metrics_sum(met, "read_bytes");
	cr_assert_geq(reads, 65, "read_count %llu", (unsigned long long)reads);
	cr_assert_eq(bytes, reads * 512, "read_bytes %llu",
		     (unsigned long long)bytes);
	cr_assert_eq(metrics_sum(met, "write_count"), 0);
	/* The one disk's own group, as Firecracker's block_<drive_id>. */
	cr_assert_eq(section_sum(met, "block_disk0", "read_count"), reads);
	cr_assert_eq(section_sum(met, "block_disk0", "read_bytes"), bytes);
	/* The guest's kicks, and the completions' interrupts. */
	cr_assert_geq(metrics_sum(met, "queue_event_count"), 1);
	cr_assert_eq(section_sum(met, "block_disk0", "queue_event_count"),
		     metrics_sum(met, "queue_event_count"));
	cr_assert_geq(section_sum(met, "interrupts", "triggers"), 1);
	cr_assert_eq(metrics_sum(met, "invalid_reqs_count"), 0);
	/*
	 * The limiter and the good swap; the odd-sized medium the disk
	 * refused (a path nobody can open is refused before the disk sees
	 * it).
	 */
	cr_assert_eq(section_sum(met, "block_disk0", "update_count"), 2);
	cr_assert_eq(section_sum(met, "block_disk0", "update_fails"), 1);
	api_proc_free(&p);
	for (char **f = (char *[]){ a, b, odd, met, NULL }; *f; f++) {
		unlink(*f);
		free(*f);
	}
}

Test(api_drive, rate_limiters_are_kept_and_shown, .timeout = 30)
{
	char *a = image("rl-a", 8 * 512, 0);
	struct api_proc p;
	struct api_resp r;
	char body[512];

	cr_assert_eq(api_spawn(&p, NULL), 0);
	snprintf(body, sizeof(body), "{\"drive_id\": \"disk0\", "
		 "\"path_on_host\": \"%s\", \"is_root_device\": false, "
		 "\"is_read_only\": false, \"rate_limiter\": {\"bandwidth\": "
		 "{\"size\": 1000, \"refill_time\": 100, "
		 "\"one_time_burst\": 7}}}", a);
	api_ok(p.sock, "PUT", "/drives/disk0", body);
	api_ok(p.sock, "PUT", "/network-interfaces/eth0",
	       "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
	       "\"tx_rate_limiter\": {\"ops\": {\"size\": 5, "
	       "\"refill_time\": 10}}}");
	/* A shape error names the field; nothing is recorded. */
	api_fault(p.sock, "PUT", "/network-interfaces/eth1",
		  "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", "
		  "\"rx_rate_limiter\": {\"ops\": {\"size\": 5}}}", 400,
		  "rx_rate_limiter.ops.refill_time: missing required");
	api_fault(p.sock, "PUT", "/network-interfaces/eth1",
		  "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", "
		  "\"rx_rate_limiter\": {\"ops\": {\"size\": "
		  "99999999999999999999, \"refill_time\": 1}}}", 400,
		  "rx_rate_limiter.ops.size");
	cr_assert_eq(api_call(p.sock, "GET", "/vm/config", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"rate_limiter\":{\"bandwidth\":{"
			 "\"size\":1000,\"refill_time\":100,"
			 "\"one_time_burst\":7}}"), "%s", r.body);
	cr_assert(strstr(r.body, "\"tx_rate_limiter\":{\"ops\":{"
			 "\"size\":5,"), "%s", r.body);
	cr_assert_null(strstr(r.body, "eth1"), "%s", r.body);
	api_stop(&p);
	api_proc_free(&p);
	unlink(a);
	free(a);
}
