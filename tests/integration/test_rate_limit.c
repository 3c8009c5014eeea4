/*
 * Rate limiters measured on running VMs. The tiny kernels' benchmark modes
 * keep a device as busy as they can (bench_blk reads, bench_net sends),
 * and the host measures what got through from the metrics: a FlushMetrics
 * at the start and at the end of a window, and the lines written in
 * between summed. Each window starts once the bucket's initial tokens are
 * spent, so the rate is the refill rate alone. The tests run in parallel
 * (one guest each); the 10 s window is the accuracy claim.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api_assert.h"
#include "api_client.h"
#include "harness.h"
#include "snap_files.h"

#define MIB 1048576.0

static size_t count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;
	int c;

	cr_assert_not_null(f);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* Sum of <section>.<key> over the metrics lines after the first skip. */
static uint64_t sum_from(const char *path, size_t skip, const char *section,
			 const char *key)
{
	FILE *f = fopen(path, "r");
	char line[16384];
	uint64_t sum = 0;

	cr_assert_not_null(f);
	for (size_t i = 0; fgets(line, sizeof(line), f); i++) {
		struct json_object *o, *b, *v;

		if (i < skip)
			continue;
		o = json_tokener_parse(line);
		cr_assert_not_null(o, "bad metrics line: %s", line);
		if (json_object_object_get_ex(o, section, &b) &&
		    json_object_object_get_ex(b, key, &v))
			sum += json_object_get_uint64(v);
		json_object_put(o);
	}
	fclose(f);
	return sum;
}

static void flush(struct api_proc *p)
{
	api_ok(p->sock, "PUT", "/actions", "{\"action_type\": "
	       "\"FlushMetrics\"}");
}

/* utc_timestamp_ms of metrics line `index` (0 first), or 0. */
static uint64_t stamp_of(const char *path, size_t index)
{
	FILE *f = fopen(path, "r");
	char line[16384];
	uint64_t ms = 0;

	cr_assert_not_null(f);
	for (size_t i = 0; fgets(line, sizeof(line), f); i++) {
		struct json_object *o, *v;

		if (i != index)
			continue;
		o = json_tokener_parse(line);
		if (o && json_object_object_get_ex(o, "utc_timestamp_ms", &v))
			ms = json_object_get_uint64(v);
		json_object_put(o);
		break;
	}
	fclose(f);
	return ms;
}

/*
 * <section>.<key> per second over a window of about `seconds`. The window
 * is timed by mvm's own stamps on the two flushes that bound it, not by
 * this process's clock: on a loaded host the answer to a flush can come
 * late, which would stretch the window without adding to the count.
 */
static double measure(struct api_proc *p, const char *met,
		      const char *section, const char *key, double seconds)
{
	size_t lines, end;
	uint64_t t0, t1;

	flush(p);
	lines = count_lines(met);
	api_drain(p, seconds);
	flush(p);
	end = count_lines(met);
	t0 = stamp_of(met, lines - 1);
	t1 = stamp_of(met, end - 1);
	cr_assert(lines > 0 && t0 && t1 > t0, "metrics stamps %llu, %llu",
		  (unsigned long long)t0, (unsigned long long)t1);
	return (double)sum_from(met, lines, section, key) /
	       ((double)(t1 - t0) / 1000.0);
}

static void assert_within(double got, double want, double tolerance,
			  const char *what)
{
	double off = (got - want) / want;

	/* The figure the README quotes: on stderr, in the test log. */
	fprintf(stderr, "rate_limit: %s: %.1f/s, want %.1f/s (%+.2f %%)\n",
		what, got, want, off * 100);
	cr_assert(off < tolerance && off > -tolerance,
		  "%s: %.1f/s, want %.1f/s within %.0f %% (%+.2f %%)", what,
		  got, want, tolerance * 100, off * 100);
}

static char *empty_file(const char *tag)
{
	char *path = temp_file(tag, "", 0);

	cr_assert_not_null(path);
	return path;
}

static char *disk_image(const char *tag, size_t bytes)
{
	char *data = calloc(1, bytes), *path;

	cr_assert_not_null(data);
	path = temp_file(tag, data, bytes);
	cr_assert_not_null(path);
	free(data);
	return path;
}

/* A VM on the API running the virtio test kernel with these args. */
static void boot(struct api_proc *p, const char *args, const char *met)
{
	char body[512];

	cr_assert_eq(api_spawn(p, NULL), 0);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"%s\"}", guest_path("virtio/mb_virtio"),
		 args);
	api_ok(p->sock, "PUT", "/boot-source", body);
	api_ok(p->sock, "PUT", "/machine-config",
	       "{\"vcpu_count\": 1, \"mem_size_mib\": 64}");
	snprintf(body, sizeof(body), "{\"metrics_path\": \"%s\"}", met);
	api_ok(p->sock, "PUT", "/metrics", body);
}

static void start(struct api_proc *p)
{
	api_ok(p->sock, "PUT", "/actions",
	       "{\"action_type\": \"InstanceStart\"}");
}

static void cleanup(struct api_proc *p, char **files)
{
	api_stop(p);
	api_proc_free(p);
	for (; *files; files++) {
		unlink(*files);
		free(*files);
	}
}

/*
 * 1 MiB/s on a drive the guest reads 64 KiB at a time, four requests
 * deep: measured over 10 s. Then PATCH doubles it on the running VM.
 */
Test(rate_limit, drive_bandwidth_over_10s_and_patched, .timeout = 120)
{
	char *img = disk_image("rl-bw", 4 << 20);
	char *met = empty_file("rl-bw-metrics");
	struct api_proc p;
	char body[512];
	double rate;

	boot(&p, "test=bench_blk mode=read bs=65536 depth=4 n=100000000",
	     met);
	snprintf(body, sizeof(body), "{\"drive_id\": \"disk0\", "
		 "\"path_on_host\": \"%s\", \"is_root_device\": false, "
		 "\"is_read_only\": true, \"rate_limiter\": {\"bandwidth\": "
		 "{\"size\": 1048576, \"refill_time\": 1000}}}", img);
	api_ok(p.sock, "PUT", "/drives/disk0", body);
	start(&p);
	cr_assert(api_wait_out(&p, "bench start", 60), "%s\n%s", p.out,
		  p.err);
	/* The bucket's first 1 MiB goes at once: start past it. */
	api_drain(&p, 1.5);
	rate = measure(&p, met, "block", "read_bytes", 10);
	assert_within(rate, MIB, 0.05, "drive bandwidth 1 MiB/s, 10 s");

	/* Refused changes name the field and change nothing. */
	api_fault(p.sock, "PATCH", "/drives/disk0", "{\"drive_id\": "
		  "\"disk0\", \"rate_limiter\": {\"bandwidth\": {\"size\": "
		  "-5, \"refill_time\": 1000}}}", 400,
		  "rate_limiter.bandwidth.size: must be from 0");
	api_fault(p.sock, "PATCH", "/drives/disk0", "{\"drive_id\": "
		  "\"disk0\", \"rate_limiter\": {\"bandwidth\": {\"size\": "
		  "5, \"refill_time\": 1000, \"burst\": 1}}}", 400,
		  "rate_limiter.bandwidth.burst: unknown field");
	api_ok(p.sock, "PATCH", "/drives/disk0", "{\"drive_id\": \"disk0\", "
	       "\"rate_limiter\": {\"bandwidth\": {\"size\": 2097152, "
	       "\"refill_time\": 1000}}}");
	rate = measure(&p, met, "block", "read_bytes", 4);
	assert_within(rate, 2 * MIB, 0.05, "drive bandwidth PATCHed to "
		      "2 MiB/s, 4 s");
	cr_assert_gt(sum_from(met, 0, "block", "rate_limiter_throttled_events"),
		     10);
	cleanup(&p, (char *[]){ img, met, NULL });
}

/* 200 requests a second, whatever their size; bandwidth unlimited. */
Test(rate_limit, drive_ops, .timeout = 90)
{
	char *img = disk_image("rl-ops", 1 << 20);
	char *met = empty_file("rl-ops-metrics");
	struct api_proc p;
	char body[512];
	double rate;

	boot(&p, "test=bench_blk mode=read bs=4096 depth=4 n=100000000", met);
	snprintf(body, sizeof(body), "{\"drive_id\": \"disk0\", "
		 "\"path_on_host\": \"%s\", \"is_root_device\": false, "
		 "\"is_read_only\": true, \"rate_limiter\": {\"ops\": "
		 "{\"size\": 20, \"refill_time\": 100}, \"bandwidth\": "
		 "{\"size\": 0, \"refill_time\": 0}}}", img);
	api_ok(p.sock, "PUT", "/drives/disk0", body);
	start(&p);
	cr_assert(api_wait_out(&p, "bench start", 60), "%s\n%s", p.out,
		  p.err);
	api_drain(&p, 0.5);
	rate = measure(&p, met, "block", "read_count", 5);
	assert_within(rate, 200, 0.05, "drive ops 200/s, 5 s");

	/*
	 * Paused while throttled: its timer fires and starts nothing; the
	 * resume serves the queue again at the same rate.
	 */
	api_ok(p.sock, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	cr_assert_eq(measure(&p, met, "block", "read_count", 1), 0);
	api_ok(p.sock, "PATCH", "/vm", "{\"state\": \"Resumed\"}");
	/* The bucket filled while paused: 20 requests go at once. */
	api_drain(&p, 0.3);
	rate = measure(&p, met, "block", "read_count", 3);
	assert_within(rate, 200, 0.05, "drive ops 200/s after a pause, 3 s");
	cleanup(&p, (char *[]){ img, met, NULL });
}

/*
 * The command line's limiter: --disk ...,ops=100 is 100 requests a second
 * with a second's burst, so the guest's 308 reads (a warm-up round of 4,
 * then 304) take 2.08 s where they would otherwise take milliseconds.
 */
Test(rate_limit, cli_disk_ops, .timeout = 60)
{
	char *img = disk_image("rl-cli", 1 << 20);
	char disk[512];
	const char *argv[] = { "run", "--kernel",
			       guest_path("virtio/mb_virtio"), "--memory", "64",
			       "--disk", disk, "--cmdline",
			       "test=bench_blk mode=read bs=4096 depth=4 n=304",
			       NULL };
	struct mvm_opts o = { .timeout = 40 };
	struct mvm_result r;

	snprintf(disk, sizeof(disk), "path=%s,readonly=on,ops=100", img);
	cr_assert_eq(mvm_launch(argv, &o, &r), 0);
	cr_assert(strstr(r.out, "bench done requests=304"), "%s\n%s", r.out,
		  r.err);
	fprintf(stderr, "rate_limit: CLI ops=100, 308 reads: %.2f s, want "
		"2.08 s and a boot\n", r.seconds);
	cr_assert_geq(r.seconds, 2.08 * 0.95, "%.2f s", r.seconds);
	cr_assert_lt(r.seconds, 8, "%.2f s", r.seconds);
	mvm_result_free(&r);
	unlink(img);
	free(img);
}

/*
 * A snapshot taken while the guest keeps the drive throttled loads
 * in a new mvm with the limiter as configured, and the guest goes on
 * reading at the limited rate.
 */
Test(rate_limit, drive_limit_survives_a_snapshot, .timeout = 90,
     .init = snap_dir_make, .fini = snap_dir_drop)
{
	char *img = disk_image("rl-snap", 1 << 20);
	char *met = empty_file("rl-snap-metrics");
	const char *state = path_in("state"), *mem = path_in("mem");
	struct api_proc a, b;
	struct api_resp r;
	char body[768];
	double rate;

	boot(&a, "test=bench_blk mode=read bs=4096 depth=4 n=100000000", met);
	snprintf(body, sizeof(body), "{\"drive_id\": \"disk0\", "
		 "\"path_on_host\": \"%s\", \"is_root_device\": false, "
		 "\"is_read_only\": true, \"rate_limiter\": {\"ops\": "
		 "{\"size\": 20, \"refill_time\": 100}}}", img);
	api_ok(a.sock, "PUT", "/drives/disk0", body);
	start(&a);
	cr_assert(api_wait_out(&a, "bench start", 60), "%s\n%s", a.out,
		  a.err);
	api_drain(&a, 0.5);
	api_ok(a.sock, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	snprintf(body, sizeof(body), "{\"snapshot_type\": \"Full\", "
		 "\"snapshot_path\": \"%s\", \"mem_file_path\": \"%s\"}",
		 state, mem);
	api_ok(a.sock, "PUT", "/snapshot/create", body);
	api_stop(&a);
	api_proc_free(&a);

	cr_assert_eq(api_spawn(&b, NULL), 0);
	snprintf(body, sizeof(body), "{\"metrics_path\": \"%s\"}", met);
	api_ok(b.sock, "PUT", "/metrics", body);
	snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\", "
		 "\"mem_backend\": {\"backend_type\": \"File\", "
		 "\"backend_path\": \"%s\"}, \"resume_vm\": true}", state,
		 mem);
	api_ok(b.sock, "PUT", "/snapshot/load", body);
	cr_assert_eq(api_call(b.sock, "GET", "/vm/config", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"rate_limiter\":{\"ops\":{\"size\":20,"
			 "\"refill_time\":100,"), "%s", r.body);
	/* A restored bucket starts full: 20 requests go at once. */
	api_drain(&b, 0.3);
	rate = measure(&b, met, "block", "read_count", 3);
	assert_within(rate, 200, 0.05, "drive ops 200/s after a snapshot "
		      "load, 3 s");
	cleanup(&b, (char *[]){ img, met, NULL });
}

/* This test's own network namespace, with a TAP up and no IPv6 chatter. */
static void netns_with_tap(const char *tap)
{
	char cmd[256];

	if (geteuid() != 0)
		cr_skip_test("needs root for a network namespace and a TAP: "
			     "the NIC's limiter was not measured");
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare: %m");
	snprintf(cmd, sizeof(cmd), "sysctl -qw "
		 "net.ipv6.conf.default.disable_ipv6=1 "
		 "net.ipv6.conf.all.disable_ipv6=1 && "
		 "ip tuntap add dev %s mode tap && ip link set %s up", tap,
		 tap);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/*
 * A NIC's transmit limited to 60000 bytes a second of 60-byte frames
 * (1000 frames a second), then PATCHed to 500 frames a second by its ops
 * bucket.
 */
Test(rate_limit, nic_tx_bandwidth_then_ops, .timeout = 90)
{
	char *met = empty_file("rl-net-metrics");
	struct api_proc p;
	double rate;

	netns_with_tap("mvmrl0");
	boot(&p, "test=bench_net big=0 small=100000000 rx=0", met);
	api_ok(p.sock, "PUT", "/network-interfaces/eth0",
	       "{\"iface_id\": \"eth0\", \"host_dev_name\": \"mvmrl0\", "
	       "\"tx_rate_limiter\": {\"bandwidth\": {\"size\": 6000, "
	       "\"refill_time\": 100}}}");
	start(&p);
	cr_assert(api_wait_out(&p, "bench start tx_small", 60), "%s\n%s",
		  p.out, p.err);
	api_drain(&p, 0.5);
	rate = measure(&p, met, "net", "tx_bytes_count", 4);
	assert_within(rate, 60000, 0.05, "NIC tx bandwidth 60000 B/s, 4 s");
	api_ok(p.sock, "PATCH", "/network-interfaces/eth0",
	       "{\"iface_id\": \"eth0\", \"tx_rate_limiter\": {\"ops\": "
	       "{\"size\": 50, \"refill_time\": 100}}}");
	/* The ops bucket was unlimited: it starts full, 50 frames. */
	api_drain(&p, 0.3);
	rate = measure(&p, met, "net", "tx_packets_count", 4);
	assert_within(rate, 500, 0.05, "NIC tx ops PATCHed to 500/s, 4 s");
	cr_assert_gt(sum_from(met, 0, "net", "tx_rate_limiter_throttled"), 10);
	cr_assert_eq(sum_from(met, 0, "net", "rx_rate_limiter_throttled"), 0);
	/* The NIC's own group (Firecracker's net_<iface_id>): the same. */
	cr_assert_eq(sum_from(met, 0, "net_eth0", "tx_packets_count"),
		     sum_from(met, 0, "net", "tx_packets_count"));
	cr_assert_gt(sum_from(met, 0, "net_eth0", "tx_queue_event_count"), 0);
	cr_assert_eq(sum_from(met, 0, "net_eth0", "tx_fails"), 0);
	cr_assert_eq(sum_from(met, 0, "net_eth0", "tap_write_fails"), 0);
	cr_assert_eq(sum_from(met, 0, "net_eth0", "tx_malformed_frames"), 0);
	cleanup(&p, (char *[]){ met, NULL });
}

struct sender {
	int sock;
	atomic_bool stop;
	uint32_t sent;
};

/*
 * Frames for bench_net's receive phase, about 4000 a second: EtherType
 * 0x88b5, "mvmb", a growing sequence number, kind 0 (data). What the TAP
 * cannot queue while the NIC is throttled is dropped, which the guest
 * allows (only skipped numbers).
 */
static void *send_frames(void *arg)
{
	struct sender *sd = arg;
	uint8_t f[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			  0x02, 0, 0, 0, 0, 0x01, 0x88, 0xb5, 'm', 'v', 'm',
			  'b' };
	struct timespec gap = { .tv_nsec = 250000 }, t0, now;
	uint64_t due;

	/*
	 * Paced by the clock, not by the sleeps: on a loaded host a 250 us
	 * sleep takes much longer, and the frames it missed go out in the
	 * next turn, so the rate holds.
	 */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!atomic_load(&sd->stop)) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		due = (uint64_t)((now.tv_sec - t0.tv_sec) * 4000 +
				 (now.tv_nsec - t0.tv_nsec) / 250000);
		for (unsigned n = 0; sd->sent < due && n < 64; n++) {
			uint32_t seq = htonl(sd->sent);

			memcpy(f + 18, &seq, 4);
			f[22] = 0;
			if (send(sd->sock, f, sizeof(f), 0) != sizeof(f))
				break;
			sd->sent++;
		}
		nanosleep(&gap, NULL);
	}
	return NULL;
}

/*
 * A NIC's receive limited to 500 frames a second while the host sends
 * more: a frame's size is known once read, so a read starts while the
 * buckets have tokens and is charged after.
 */
Test(rate_limit, nic_rx_ops, .timeout = 90)
{
	char *met = empty_file("rl-rx-metrics");
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(0x88b5) };
	struct sender sd = { .sent = 0 };
	struct api_proc p;
	pthread_t thread;
	double rate;

	netns_with_tap("mvmrl1");
	sd.sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(0x88b5));
	cr_assert_geq(sd.sock, 0, "socket: %m");
	sll.sll_ifindex = (int)if_nametoindex("mvmrl1");
	cr_assert_eq(bind(sd.sock, (struct sockaddr *)&sll, sizeof(sll)), 0);
	boot(&p, "test=bench_net big=0 small=0 rx=1", met);
	api_ok(p.sock, "PUT", "/network-interfaces/eth0",
	       "{\"iface_id\": \"eth0\", \"host_dev_name\": \"mvmrl1\", "
	       "\"rx_rate_limiter\": {\"ops\": {\"size\": 50, "
	       "\"refill_time\": 100}}}");
	start(&p);
	cr_assert(api_wait_out(&p, "bench start rx", 60), "%s\n%s", p.out,
		  p.err);
	cr_assert_eq(pthread_create(&thread, NULL, send_frames, &sd), 0);
	api_drain(&p, 0.5);
	rate = measure(&p, met, "net", "rx_packets_count", 4);
	atomic_store(&sd.stop, true);
	pthread_join(thread, NULL);
	close(sd.sock);
	cr_assert_gt(sd.sent, 8000, "the host sent only %u frames", sd.sent);
	assert_within(rate, 500, 0.05, "NIC rx ops 500/s, 4 s");
	cr_assert_gt(sum_from(met, 0, "net", "rx_rate_limiter_throttled"), 10);
	cr_assert_null(strstr(p.out, "FAIL"), "%s", p.out);
	cleanup(&p, (char *[]){ met, NULL });
}

/*
 * Entropy at 64 bytes per 100 ms: the guest's 64-byte reads wait for
 * the bucket, and its 4096-byte read, larger than the bucket, passes
 * once the bucket is full (it never waits for ever).
 */
Test(rate_limit, entropy_waits_and_oversize_passes, .timeout = 60)
{
	char *met = empty_file("rl-rng-metrics");
	struct api_proc p;
	struct api_resp r;

	boot(&p, "test=rng", met);
	api_ok(p.sock, "PUT", "/entropy", "{\"rate_limiter\": {\"bandwidth\": "
	       "{\"size\": 64, \"refill_time\": 100}}}");
	cr_assert_eq(api_call(p.sock, "GET", "/vm/config", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"entropy\":{\"rate_limiter\":{\"bandwidth\":"
			 "{\"size\":64,"), "%s", r.body);
	start(&p);
	cr_assert(api_wait_out(&p, "ALL OK", 30), "%s\n%s", p.out, p.err);
	cr_assert_eq(api_wait_exit(&p, 10), 1, "%s", p.err);
	cr_assert_eq(sum_from(met, 0, "entropy", "entropy_bytes"),
		     64 + 64 + 4096);
	cr_assert_geq(sum_from(met, 0, "entropy",
			       "entropy_rate_limiter_throttled"), 2);
	cleanup(&p, (char *[]){ met, NULL });
}
