/*
 * A snapshot's NIC after the load: its tap is opened again by name, or by
 * the name network_overrides gives. The guest (mb_virtio's soak) sends a
 * frame every round; after a load with an override the frames come out
 * of the new tap. Needs root (a network namespace with taps), as the
 * virtio-net tests do, and says so when it cannot run.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api_client.h"
#include "harness.h"
#include "snap_files.h"

#define TAP_A "mvmsa0"
#define TAP_B "mvmsb0"
#define ETHERTYPE 0x88b5 /* the soak's frames */

static char netns[64];

static int sh(const char *cmd)
{
	char line[512];

	snprintf(line, sizeof(line), cmd, netns, netns, netns, netns);
	return system(line);
}

/* A namespace with two taps; the test process moves into it. */
static void enter_netns(void)
{
	char path[128];
	int fd;

	if (geteuid() != 0)
		cr_skip_test("not run: needs root for a network namespace and "
			     "taps");
	snprintf(netns, sizeof(netns), "mvmsn-%d", (int)getpid());
	if (sh("ip netns add %s 2>/dev/null"))
		cr_skip_test("not run: cannot create a network namespace");
	cr_assert_eq(sh("ip -n %s tuntap add dev " TAP_A " mode tap && "
			"ip -n %s link set " TAP_A " up && "
			"ip -n %s tuntap add dev " TAP_B " mode tap && "
			"ip -n %s link set " TAP_B " up"), 0);
	snprintf(path, sizeof(path), "/var/run/netns/%s", netns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert(fd >= 0);
	cr_assert_eq(setns(fd, CLONE_NEWNET), 0);
	close(fd);
	snap_dir_make();
}

static void drop_netns(void)
{
	if (netns[0])
		sh("ip netns del %s 2>/dev/null");
	snap_dir_drop();
}

/* A packet socket on tap for the soak's frames. */
static int tap_socket(const char *tap)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(ETHERTYPE) };
	/*
	 * Long enough for a guest that was just loaded or migrated to send
	 * its next frame on a loaded host (2 s was not: the destination's
	 * first round can wait that long for a CPU); a NIC on the wrong tap
	 * still fails, only later.
	 */
	struct timeval tv = { .tv_sec = 30 };
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETHERTYPE));

	sll.sll_ifindex = (int)if_nametoindex(tap);
	cr_assert(s >= 0 && sll.sll_ifindex > 0, "%s", tap);
	cr_assert_eq(bind(s, (struct sockaddr *)&sll, sizeof(sll)), 0);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return s;
}

static bool soak_frame(int s)
{
	uint8_t f[2048];

	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(s, f, sizeof(f), 0);

		if (n < 0)
			return false;
		if (n >= 22 && !memcmp(f + 14, "mvm-soak", 8))
			return true;
	}
	return false;
}

static void boot_soak(struct api_proc *p)
{
	int fd = open(path_in("disk"), O_RDWR | O_CREAT, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 4 << 20), 0);
	close(fd);
	cr_assert_eq(api_spawn(p, NULL), 0);
	call_ok(p, "PUT", "/machine-config",
		"{\"vcpu_count\": 1, \"mem_size_mib\": 64}");
	put_boot_source(p, "virtio/mb_virtio",
			"test=soak report=16");
	put_data_drive(p, "data", path_in("disk"));
	call_ok(p, "PUT", "/network-interfaces/eth0",
		"{\"iface_id\": \"eth0\", \"host_dev_name\": \"" TAP_A "\"}");
	call_ok(p, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
}

static int load(struct api_proc *p, const char *overrides,
		struct api_resp *r)
{
	char body[1024];

	snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\", "
		 "\"mem_backend\": {\"backend_type\": \"File\", "
		 "\"backend_path\": \"%s\"}, \"resume_vm\": true, "
		 "\"network_overrides\": %s}", path_in("state"),
		 path_in("mem"), overrides);
	return api_call(p->sock, "PUT", "/snapshot/load", body, r);
}

/*
 * After a load or a migration into b: the soak's frames come out of
 * TAP_B (sb), its disk and NIC go on (more rounds, no failure), and the
 * configuration says which tap it is on now.
 */
static void goes_on_on_tap_b(struct api_proc *b, int sb)
{
	struct api_resp r;
	int lines = count_str(b->out, "soak rounds=");

	if (!soak_frame(sb)) {
		struct api_resp st, mig;

		/* What the destination says of itself, for the reason. */
		api_call(b->sock, "GET", "/", NULL, &st);
		api_call(b->sock, "GET", "/migration", NULL, &mig);
		api_drain(b, 1);
		cr_assert_fail("no frame on " TAP_B ":\nGET / %d %s\nGET "
			       "/migration %d %s\n%s\n%s", st.status, st.body,
			       mig.status, mig.body, b->out, b->err);
	}
	for (int i = 0; i < 300 && count_str(b->out, "soak rounds=") < lines + 2;
	     i++)
		api_drain(b, 0.1);
	cr_assert_geq(count_str(b->out, "soak rounds="), lines + 2, "%s",
		      b->out);
	cr_assert_null(strstr(b->out, "FAIL"), "%s", b->out);
	cr_assert_eq(api_call(b->sock, "GET", "/vm/config", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"host_dev_name\":\"" TAP_B "\""), "%s",
		  r.body);
}

Test(snapshot_net, the_nic_comes_back_on_the_tap_an_override_names,
     .init = enter_netns, .fini = drop_netns, .timeout = 90)
{
	struct api_proc a, b;
	struct api_resp r;
	char body[512];
	int sa, sb;

	boot_soak(&a);
	sa = tap_socket(TAP_A);
	cr_assert(api_wait_out(&a, "soak rounds=", 30), "%s\n%s", a.out,
		  a.err);
	cr_assert(soak_frame(sa), "no frame on " TAP_A);
	call_ok(&a, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\", "
		 "\"mem_file_path\": \"%s\"}", path_in("state"),
		 path_in("mem"));
	call_ok(&a, "PUT", "/snapshot/create", body);
	api_stop(&a);
	api_proc_free(&a);

	cr_assert_eq(api_spawn(&b, NULL), 0);
	/* An interface the snapshot does not have is named. */
	cr_assert_eq(load(&b, "[{\"iface_id\": \"eth9\", \"host_dev_name\": "
			  "\"" TAP_B "\"}]", &r), 400, "%s", r.body);
	cr_assert(strstr(r.body, "eth9"), "%s", r.body);
	sb = tap_socket(TAP_B);
	cr_assert_eq(load(&b, "[{\"iface_id\": \"eth0\", \"host_dev_name\": "
			  "\"" TAP_B "\"}]", &r), 204, "%s\n%s", r.body,
		     b.err);
	goes_on_on_tap_b(&b, sb);
	close(sa);
	close(sb);
	api_stop(&b);
	api_proc_free(&b);
}

/*
 * The same for a live migration: the destination (PUT /migration/incoming
 * with network_overrides) attaches its own tap, and the disk, on the same
 * file, changes hands at the commit (the source flushes and unlocks it,
 * the destination locks it): the soak's disk rounds go on there.
 */
Test(snapshot_net, a_migrated_nic_comes_out_of_the_tap_the_destination_names,
     .init = enter_netns, .fini = drop_netns, .timeout = 120)
{
	struct api_proc a, b;
	char body[512];
	int sb;

	boot_soak(&a);
	cr_assert(api_wait_out(&a, "soak rounds=", 30), "%s\n%s", a.out,
		  a.err);
	cr_assert_eq(api_spawn(&b, NULL), 0);
	snprintf(body, sizeof(body), "{\"uri\": \"unix:%s\", "
		 "\"network_overrides\": [{\"iface_id\": \"eth0\", "
		 "\"host_dev_name\": \"" TAP_B "\"}]}", path_in("mig.sock"));
	call_ok(&b, "PUT", "/migration/incoming", body);
	sb = tap_socket(TAP_B);
	snprintf(body, sizeof(body), "{\"uri\": \"unix:%s\"}",
		 path_in("mig.sock"));
	call_ok(&a, "PUT", "/migration", body);
	cr_assert_eq(api_wait_exit(&a, 60), 0, "%s", a.err);
	goes_on_on_tap_b(&b, sb);
	close(sb);
	api_stop(&b);
	api_proc_free(&a);
	api_proc_free(&b);
}

/* A free TCP port on 127.0.0.1 (taken, then let go). */
static unsigned free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* Does something listen on 127.0.0.1:port? */
static bool listening(unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	close(fd);
	return ok;
}

/*
 * A user-mode NAT NIC (no root, no tap): its configuration travels in
 * the snapshot, and the load makes a new stack, its hostfwd listening
 * again; an override, which names a tap, is refused for it.
 */
Test(snapshot_net, a_user_nic_comes_back_with_a_new_stack,
     .init = snap_dir_make, .fini = snap_dir_drop, .timeout = 90)
{
	struct api_proc a, b;
	struct api_resp r;
	unsigned port = free_port();
	char body[512], fwd[64];
	int lines, fd = open(path_in("disk"), O_RDWR | O_CREAT, 0600);

	/* The soak also moves a disk. */
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 4 << 20), 0);
	close(fd);
	cr_assert_eq(api_spawn(&a, NULL), 0);
	call_ok(&a, "PUT", "/machine-config",
		"{\"vcpu_count\": 1, \"mem_size_mib\": 64}");
	put_boot_source(&a, "virtio/mb_virtio",
			"test=soak report=16");
	put_data_drive(&a, "data", path_in("disk"));
	snprintf(fwd, sizeof(fwd), "tcp:127.0.0.1:%u-:80", port);
	snprintf(body, sizeof(body), "{\"iface_id\": \"eth0\", \"backend\": "
		 "\"user\", \"hostfwd\": [\"%s\"]}", fwd);
	call_ok(&a, "PUT", "/network-interfaces/eth0", body);
	call_ok(&a, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	cr_assert(api_wait_out(&a, "soak rounds=", 30), "%s\n%s", a.out,
		  a.err);
	cr_assert(listening(port), "no hostfwd listener on port %u", port);
	call_ok(&a, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\", "
		 "\"mem_file_path\": \"%s\"}", path_in("state"),
		 path_in("mem"));
	call_ok(&a, "PUT", "/snapshot/create", body);
	api_stop(&a);
	api_proc_free(&a);
	cr_assert_not(listening(port), "port %u still taken", port);

	cr_assert_eq(api_spawn(&b, NULL), 0);
	cr_assert_eq(load(&b, "[{\"iface_id\": \"eth0\", \"host_dev_name\": "
			  "\"tap0\"}]", &r), 400, "%s", r.body);
	cr_assert(strstr(r.body, "user backend"), "%s", r.body);
	cr_assert_eq(load(&b, "[]", &r), 204, "%s\n%s", r.body, b.err);
	lines = count_str(b.out, "soak rounds=");
	for (int i = 0; i < 300 && count_str(b.out, "soak rounds=") < lines + 2;
	     i++)
		api_drain(&b, 0.1);
	cr_assert_geq(count_str(b.out, "soak rounds="), lines + 2, "%s",
		      b.out);
	cr_assert(listening(port), "the restored stack does not listen on "
		  "port %u", port);
	cr_assert_eq(api_call(b.sock, "GET", "/vm/config", NULL, &r), 200);
	snprintf(body, sizeof(body), "\"backend\":\"user\",\"hostfwd\":"
		 "[\"%s\"]", fwd);
	cr_assert(strstr(r.body, body), "%s lacks %s", r.body, body);
	api_stop(&b);
	api_proc_free(&b);
}

/*
 * MMDS after a load: its configuration travels in the snapshot (another
 * address, IMDS compatibility), its data store does not (Firecracker's
 * rule). The guest (test=mmds poll=1) asks for data until it gets some;
 * the VM is snapshotted while its store is empty, and the restored VM's
 * NIC, a user-mode one (no root), answers once PUT /mmds fills the new
 * process's store.
 */
#define MD "{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-12345678\", " \
	   "\"hostname\": \"mvm-guest\"}}}"

Test(snapshot_net, mmds_is_served_again_after_a_load,
     .init = snap_dir_make, .fini = snap_dir_drop, .timeout = 120)
{
	struct api_proc a, b;
	struct api_resp r;
	char body[512];

	cr_assert_eq(api_spawn(&a, NULL), 0);
	call_ok(&a, "PUT", "/machine-config",
		"{\"vcpu_count\": 1, \"mem_size_mib\": 64}");
	put_boot_source(&a, "virtio/mb_virtio",
			"test=mmds poll=1 mmds_ip=0xa9feaa02");
	call_ok(&a, "PUT", "/network-interfaces/eth0",
		"{\"iface_id\": \"eth0\", \"backend\": \"user\"}");
	call_ok(&a, "PUT", "/mmds/config", "{\"network_interfaces\": "
		"[\"eth0\"], \"ipv4_address\": \"169.254.170.2\", "
		"\"imds_compat\": true}");
	call_ok(&a, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	/* Served, but empty: the guest waits. */
	cr_assert(api_wait_out(&a, "mmds empty ", 30), "%s\n%s", a.out,
		  a.err);
	call_ok(&a, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\", "
		 "\"mem_file_path\": \"%s\"}", path_in("state"),
		 path_in("mem"));
	call_ok(&a, "PUT", "/snapshot/create", body);
	api_stop(&a);
	cr_assert_null(strstr(a.out, "mmds answer"), "%s", a.out);
	api_proc_free(&a);

	cr_assert_eq(api_spawn(&b, NULL), 0);
	cr_assert_eq(load(&b, "[]", &r), 204, "%s\n%s", r.body, b.err);
	cr_assert_eq(api_call(b.sock, "GET", "/vm/config", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"mmds-config\":{\"version\":\"V1\","
			 "\"network_interfaces\":[\"eth0\"],\"ipv4_address\":"
			 "\"169.254.170.2\",\"imds_compat\":true}"), "%s",
		  r.body);
	/* The store did not travel. */
	cr_assert_eq(api_call(b.sock, "GET", "/mmds", NULL, &r), 200);
	cr_assert_str_eq(r.body, "{}");
	call_ok(&b, "PUT", "/mmds", MD);
	cr_assert(api_wait_out(&b, "mmds answer 404", 60), "%s\n%s", b.out,
		  b.err);
	/* IMDS compatibility: text, though the guest asked for JSON. */
	cr_assert(strstr(b.out, "mmds answer 200 ami-12345678\n"), "%s",
		  b.out);
	cr_assert(strstr(b.out, "mmds answer 200 ami-id|hostname\n"), "%s",
		  b.out);
	cr_assert_null(strstr(b.out, "FAIL"), "%s", b.out);
	api_stop(&b);
	api_proc_free(&b);
}
