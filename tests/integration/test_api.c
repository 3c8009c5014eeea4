/*
 * The API over the real socket: configure, start, pause, resume and
 * Ctrl-Alt-Del a tiny kernel that shows each state on its UART; every
 * error path with its status and message, the VM still healthy after.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api_assert.h"
#include "api_client.h"
#include "harness.h"

#define AFTER_BOOT \
	"The requested operation is not supported after starting the microVM."
#define BEFORE_BOOT \
	"The requested operation is not supported before starting the microVM."

static void put_ok(const char *sock, const char *method, const char *path,
		   const char *body)
{
	struct api_resp r;

	cr_assert_eq(api_call(sock, method, path, body, &r), 204,
		     "%s %s %s -> %d %s", method, path, body, r.status, r.body);
}

/* Configure an echo guest over the API and start it. */
static void start_echo(struct api_proc *p, const char *action)
{
	char body[512];

	cr_assert_eq(api_spawn(p, NULL), 0);
	snprintf(body, sizeof(body),
		 "{\"kernel_image_path\": \"%s\", \"boot_args\": "
		 "\"action=%s\"}", guest_path("mb_action"), action);
	put_ok(p->sock, "PUT", "/boot-source", body);
	put_ok(p->sock, "PUT", "/machine-config",
	       "{\"vcpu_count\": 1, \"mem_size_mib\": 32}");
	put_ok(p->sock, "PUT", "/actions",
	       "{\"action_type\": \"InstanceStart\"}");
}

/* The guest echoes c once it is running; false if not within seconds. */
static bool echoes(struct api_proc *p, char c, double seconds)
{
	cr_assert(api_wait_out(p, "echo ready\n", 10), "guest not ready: %s",
		  p->out);
	if (write(p->in_fd, &c, 1) != 1)
		return false;
	for (double t = 0; t < seconds; t += 0.02) {
		/* p->out moves as it grows: look it up afresh each time. */
		if (strchr(strstr(p->out, "echo ready\n") + 11, c))
			return true;
		api_drain(p, 0.02);
	}
	return false;
}

static void expect_state(const char *sock, const char *state)
{
	struct api_resp r;
	char want[64];

	cr_assert_eq(api_call(sock, "GET", "/", NULL, &r), 200);
	snprintf(want, sizeof(want), "\"state\":\"%s\"", state);
	cr_assert(strstr(r.body, want), "want %s: %s", state, r.body);
}

Test(api, configure_start_pause_resume_ctrl_alt_del, .timeout = 60)
{
	struct api_proc p;
	struct api_resp r;

	start_echo(&p, "echo");
	cr_assert(api_wait_out(&p, "echo ready\n", 10), "no boot: %s\n%s",
		  p.out, p.err);
	expect_state(p.sock, "Running");
	cr_assert(echoes(&p, 'a', 5), "running guest did not echo");

	/* Paused: every vCPU is parked, so nothing is echoed... */
	put_ok(p.sock, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	expect_state(p.sock, "Paused");
	cr_assert_not(echoes(&p, 'b', 0.5), "a paused guest echoed: %s",
		      p.out);
	/* ...and pausing again changes nothing. */
	put_ok(p.sock, "PATCH", "/vm", "{\"state\": \"Paused\"}");

	/* Resumed: the byte sent while paused comes back. */
	put_ok(p.sock, "PATCH", "/vm", "{\"state\": \"Resumed\"}");
	expect_state(p.sock, "Running");
	cr_assert(echoes(&p, 'c', 5) && strchr(strstr(p.out, "echo ready"),
					       'b'),
		  "resumed guest did not echo: %s", p.out);

	put_ok(p.sock, "PUT", "/actions",
	       "{\"action_type\": \"SendCtrlAltDel\"}");
	cr_assert(echoes(&p, 'd', 5), "guest unhealthy after Ctrl-Alt-Del");
	cr_assert_eq(api_call(p.sock, "GET", "/vm/config", NULL, &r), 200);

	/* 'q' makes the guest leave through isa-debug-exit with 0. */
	cr_assert(echoes(&p, 'q', 5));
	cr_assert_eq(api_wait_exit(&p, 10), 1, "status %d: %s", p.status,
		     p.err);
	cr_assert(access(p.sock, F_OK) != 0, "socket left behind");
	api_proc_free(&p);
}

/*
 * The guest's side of Ctrl-Alt-Del: an action that polls the i8042 and
 * reports the scancodes. Skipped while the tiny kernel lacks it.
 */
Test(api, ctrl_alt_del_reaches_the_guest_keyboard, .timeout = 60)
{
	struct api_proc p;

	start_echo(&p, "kbd");
	api_wait_out(&p, "\n", 5);
	api_drain(&p, 0.2);
	if (strstr(p.out, "unknown action")) {
		api_proc_free(&p);
		cr_skip_test("the tiny kernel has no action=kbd yet");
	}
	cr_assert(api_wait_out(&p, "kbd ready", 10), "%s", p.out);
	put_ok(p.sock, "PUT", "/actions",
	       "{\"action_type\": \"SendCtrlAltDel\"}");
	cr_assert(api_wait_out(&p, "ctrl-alt-del", 5), "guest saw: %s",
		  p.out);
	api_proc_free(&p);
}

/* The VM answers and echoes: nothing an error path did has hurt it. */
static void healthy(struct api_proc *p, char c)
{
	expect_state(p->sock, "Running");
	cr_assert(echoes(p, c, 5), "guest unhealthy: %s", p->out);
}

static void expect_fault(const char *sock, const char *method,
			 const char *path, const char *body, int status,
			 const char *text)
{
	struct api_resp r;

	cr_assert_eq(api_call(sock, method, path, body, &r), status,
		     "%s %s %s -> %d %s (want %d)", method, path, body,
		     r.status, r.body, status);
	cr_assert(fault_has(&r, text), "%s %s: want '%s' in %s", method, path,
		  text, r.body);
}

Test(api, every_error_path_answers_and_the_vm_stays_healthy, .timeout = 90)
{
	static char big[100 * 1024];
	struct api_proc p;
	struct api_resp r;
	char raw[256];
	int fd;

	start_echo(&p, "echo");
	cr_assert(api_wait_out(&p, "echo ready\n", 10), "%s", p.out);

	expect_fault(p.sock, "PATCH", "/vm", "{\"state\": \"Paused\"",
		     400, "malformed JSON");
	expect_fault(p.sock, "PATCH", "/vm", "{\"state\": 1}", 400,
		     "state: expected a string, got an integer");
	expect_fault(p.sock, "PATCH", "/vm", "{\"state\": \"Frozen\"}", 400,
		     "state: ");
	expect_fault(p.sock, "PATCH", "/vm",
		     "{\"state\": \"Paused\", \"when\": 1}", 400,
		     "when: unknown field");
	expect_fault(p.sock, "PATCH", "/vm", "{}", 400,
		     "state: missing required field");
	expect_fault(p.sock, "PUT", "/actions", "{\"action_type\": true}", 400,
		     "action_type: expected a string");
	expect_fault(p.sock, "PATCH", "/vm", "[]", 400, "expected an object");
	healthy(&p, 'a');

	/* A pre-boot call after boot, in Firecracker's words. */
	expect_fault(p.sock, "PUT", "/boot-source",
		     "{\"kernel_image_path\": \"/x\"}", 400, AFTER_BOOT);
	expect_fault(p.sock, "PUT", "/machine-config",
		     "{\"vcpu_count\": 2, \"mem_size_mib\": 64}", 400,
		     AFTER_BOOT);
	expect_fault(p.sock, "PUT", "/actions",
		     "{\"action_type\": \"InstanceStart\"}", 400, AFTER_BOOT);
	expect_fault(p.sock, "PATCH", "/machine-config",
		     "{\"nested_virt\": true}", 400,
		     "nested virtualization can only be changed while the VM "
		     "is off");
	expect_fault(p.sock, "PUT", "/drives/rootfs", "{}", 400, AFTER_BOOT);
	healthy(&p, 'b');

	/* Unknown path, wrong method (with Allow). */
	expect_fault(p.sock, "GET", "/nope", NULL, 404, "no such resource");
	expect_fault(p.sock, "GET", "/drives/a/b", NULL, 404,
		     "no such resource");
	cr_assert_eq(api_call(p.sock, "DELETE", "/vm", NULL, &r), 405);
	cr_assert_str_eq(r.allow, "PATCH");
	cr_assert_eq(api_call(p.sock, "POST", "/machine-config", "{}", &r),
		     405);
	cr_assert_str_eq(r.allow, "GET, PUT, PATCH");

	/* Oversized bodies: declared (refused unread) and streamed. */
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	expect_fault(p.sock, "PUT", "/logger", big, 413, "65536");
	fd = api_connect(p.sock);
	snprintf(raw, sizeof(raw), "PUT /logger HTTP/1.1\r\nHost: x\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n");
	cr_assert(send(fd, raw, strlen(raw), MSG_NOSIGNAL) > 0);
	for (int i = 0; i < 3; i++) {
		snprintf(raw, sizeof(raw), "%zx\r\n", (size_t)40000);
		send(fd, raw, strlen(raw), MSG_NOSIGNAL);
		send(fd, big, 40000, MSG_NOSIGNAL);
		send(fd, "\r\n", 2, MSG_NOSIGNAL);
	}
	send(fd, "0\r\n\r\n", 5, MSG_NOSIGNAL);
	cr_assert_eq(api_read_resp(fd, &r), 0);
	cr_assert_eq(r.status, 413, "%d %s", r.status, r.body);
	close(fd);
	healthy(&p, 'c');

	/* A truncated request (the client gives up mid-body)... */
	fd = api_connect(p.sock);
	snprintf(raw, sizeof(raw), "PATCH /vm HTTP/1.1\r\nHost: x\r\n"
		 "Content-Length: 100\r\n\r\n{\"state\":");
	cr_assert(send(fd, raw, strlen(raw), MSG_NOSIGNAL) > 0);
	shutdown(fd, SHUT_WR);
	api_read_resp(fd, &r); /* whatever it says, it must not hang */
	close(fd);
	/* ...a client that disconnects mid-headers... */
	fd = api_connect(p.sock);
	cr_assert(send(fd, "GET / HTTP/1.1\r\nHo", 18, MSG_NOSIGNAL) > 0);
	close(fd);
	/* ...and one that sends garbage. */
	cr_assert_eq(api_raw(p.sock, "\x01\x02 nonsense\r\n\r\n", 16, &r),
		     400);
	healthy(&p, 'd');

	/* Still answering on a kept-alive connection, and still Running. */
	fd = api_connect(p.sock);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(api_do(fd, "GET", "/machine-config", NULL, &r), 0);
		cr_assert_eq(r.status, 200);
		cr_assert_not(r.closed);
	}
	close(fd);
	healthy(&p, 'e');
	cr_assert_eq(api_stop(&p), 128 + SIGTERM);
	cr_assert(access(p.sock, F_OK) != 0, "socket left behind");
	api_proc_free(&p);
}

Test(api, pre_boot_errors_name_the_field, .timeout = 30)
{
	struct api_proc p;
	struct api_resp r;
	char body[512];

	cr_assert_eq(api_spawn(&p, NULL), 0);
	expect_state(p.sock, "Not started");
	expect_fault(p.sock, "PUT", "/boot-source",
		     "{\"kernel_image_path\": \"/no/such/kernel\"}", 400,
		     "kernel_image_path: cannot open '/no/such/kernel'");
	expect_fault(p.sock, "PUT", "/boot-source", "{\"boot_args\": \"x\"}",
		     400, "kernel_image_path: missing required field");
	expect_fault(p.sock, "PUT", "/actions",
		     "{\"action_type\": \"InstanceStart\"}", 400,
		     "no kernel configured");
	expect_fault(p.sock, "PUT", "/actions",
		     "{\"action_type\": \"SendCtrlAltDel\"}", 400, BEFORE_BOOT);
	expect_fault(p.sock, "PUT", "/actions",
		     "{\"action_type\": \"FlushMetrics\"}", 400, BEFORE_BOOT);
	expect_fault(p.sock, "PATCH", "/vm", "{\"state\": \"Paused\"}", 400,
		     BEFORE_BOOT);
	expect_fault(p.sock, "PATCH", "/drives/a", "{\"drive_id\": \"a\"}",
		     400, BEFORE_BOOT);
	expect_fault(p.sock, "PUT", "/machine-config", "{\"vcpu_count\": 0, "
		     "\"mem_size_mib\": 64}", 400,
		     "vcpu_count: must be from 1 to 254, got 0");
	expect_fault(p.sock, "PUT", "/machine-config", "{\"vcpu_count\": 1.5, "
		     "\"mem_size_mib\": 64}", 400, "vcpu_count: expected an "
		     "integer");
	expect_fault(p.sock, "PUT", "/machine-config", "{\"vcpu_count\": 1}",
		     400, "mem_size_mib: missing required field");
	expect_fault(p.sock, "PUT", "/machine-config", "{\"vcpu_count\": 3, "
		     "\"mem_size_mib\": 64, \"smt\": true}", 400,
		     "vcpu_count: 3 with smt");
	expect_fault(p.sock, "PUT", "/drives/rootfs", "{\"drive_id\": "
		     "\"other\", \"path_on_host\": \"/x\", \"is_root_device\": "
		     "true}", 400, "does not match the id in the path");
	expect_fault(p.sock, "PUT", "/drives/rootfs", "{\"drive_id\": "
		     "\"rootfs\", \"path_on_host\": \"/no/disk\", "
		     "\"is_root_device\": true}", 400,
		     "path_on_host: cannot open '/no/disk'");
	expect_fault(p.sock, "PUT", "/logger", "{\"level\": \"Loud\"}", 400,
		     "level: ");

	/* A bad call changes nothing: the defaults are still there. */
	cr_assert_eq(api_call(p.sock, "GET", "/machine-config", NULL, &r),
		     200);
	cr_assert(strstr(r.body, "\"vcpu_count\":1"), "%s", r.body);
	cr_assert(strstr(r.body, "\"mem_size_mib\":128"), "%s", r.body);

	/* And the VM still starts once the input is right. */
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"action=echo\"}", guest_path("mb_action"));
	put_ok(p.sock, "PUT", "/boot-source", body);
	put_ok(p.sock, "PATCH", "/machine-config", "{\"mem_size_mib\": 32}");
	put_ok(p.sock, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	cr_assert(api_wait_out(&p, "echo ready", 10), "%s %s", p.out, p.err);
	api_proc_free(&p);
}

Test(api, drives_and_nics_are_recorded_and_patch_reaches_the_device,
     .timeout = 30)
{
	static char sectors[4096];
	char *disk = temp_file("disk", sectors, sizeof(sectors));
	struct api_proc p;
	struct api_resp r;
	char body[512];

	cr_assert_eq(api_spawn(&p, NULL), 0);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"action=echo\"}", guest_path("mb_action"));
	put_ok(p.sock, "PUT", "/boot-source", body);
	put_ok(p.sock, "PATCH", "/machine-config", "{\"mem_size_mib\": 32}");
	snprintf(body, sizeof(body), "{\"drive_id\": \"rootfs\", "
		 "\"path_on_host\": \"%s\", \"is_root_device\": true, "
		 "\"is_read_only\": true}", disk);
	put_ok(p.sock, "PUT", "/drives/rootfs", body);
	snprintf(body, sizeof(body), "{\"drive_id\": \"second\", "
		 "\"path_on_host\": \"%s\", \"is_root_device\": true, "
		 "\"is_read_only\": true}", disk);
	expect_fault(p.sock, "PUT", "/drives/second", body, 400,
		     "drive 'rootfs' is already the root device");
	put_ok(p.sock, "PUT", "/network-interfaces/eth0",
	       "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap-mvm0\", "
	       "\"guest_mac\": \"06:00:AC:10:00:02\", \"mac_spoofing\": true}");
	cr_assert_eq(api_call(p.sock, "GET", "/vm/config", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"drive_id\":\"rootfs\""), "%s", r.body);
	cr_assert(strstr(r.body, "\"host_dev_name\":\"tap-mvm0\""), "%s",
		  r.body);
	cr_assert(strstr(r.body, "\"guest_mac\":\"06:00:ac:10:00:02\""), "%s",
		  r.body);
	put_ok(p.sock, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	cr_assert(api_wait_out(&p, "echo ready", 10), "%s %s", p.out, p.err);

	snprintf(body, sizeof(body), "{\"drive_id\": \"rootfs\", "
		 "\"path_on_host\": \"%s\"}", disk);
	/* The image in use, again: a no-op swap (its size is re-read). */
	cr_assert_eq(api_call(p.sock, "PATCH", "/drives/rootfs", body, &r),
		     204, "%s", r.body);
	expect_fault(p.sock, "PATCH", "/drives/nope", "{\"drive_id\": "
		     "\"nope\"}", 400, "no drive 'nope' is configured");
	expect_fault(p.sock, "PATCH", "/network-interfaces/eth0",
		     "{\"iface_id\": \"eth0\", \"rx_rate_limiter\": "
		     "{\"bandwidth\": {\"size\": 1000}}}", 400,
		     "rx_rate_limiter.bandwidth.refill_time: missing required "
		     "field");
	healthy(&p, 'x');
	api_proc_free(&p);
	unlink(disk);
	free(disk);
}

Test(api, policy_is_listed_and_nesting_is_fixed_after_boot, .timeout = 30)
{
	struct api_proc p;
	struct api_resp r;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	cr_assert_eq(api_call(p.sock, "GET", "/vm/policy", NULL, &r), 200);
	cr_assert(strstr(r.body, "{\"op\":\"nested_toggle\",\"allowed\":true"),
		  "%s", r.body);
	/* Before boot the setting is free to change. */
	put_ok(p.sock, "PATCH", "/machine-config", "{\"nested_virt\": false}");
	api_proc_free(&p);

	start_echo(&p, "echo");
	cr_assert(api_wait_out(&p, "echo ready", 10));
	cr_assert_eq(api_call(p.sock, "GET", "/vm/policy", NULL, &r), 200);
	cr_assert(strstr(r.body,
			 "{\"op\":\"nested_toggle\",\"allowed\":false"),
		  "%s", r.body);
	cr_assert(strstr(r.body, "nested_toggle_requires_off"), "%s", r.body);
	healthy(&p, 'y');
	api_proc_free(&p);
}

/* A NIC on the user-mode NAT: recorded, shown, its mistakes named. */
Test(api, user_backend_nic_is_recorded_and_its_errors_named, .timeout = 30)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int busy = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct api_proc p;
	struct api_resp r;
	char body[512];

	cr_assert_eq(api_spawn(&p, NULL), 0);
	expect_fault(p.sock, "PUT", "/network-interfaces/eth0",
		     "{\"iface_id\": \"eth0\", \"backend\": \"user\", "
		     "\"host_dev_name\": \"tap0\"}", 400,
		     "host_dev_name: not with");
	expect_fault(p.sock, "PUT", "/network-interfaces/eth0",
		     "{\"iface_id\": \"eth0\", \"backend\": \"slirp\"}", 400,
		     "is not one of");
	expect_fault(p.sock, "PUT", "/network-interfaces/eth0",
		     "{\"iface_id\": \"eth0\", \"backend\": \"user\", "
		     "\"hostfwd\": [\"tcp:127.0.0.1:80\"]}", 400,
		     "hostfwd: [0]: hostfwd 'tcp:127.0.0.1:80': expected");
	expect_fault(p.sock, "PUT", "/network-interfaces/eth0",
		     "{\"iface_id\": \"eth0\", \"backend\": \"user\", "
		     "\"hostfwd\": \"tcp::80-:80\"}", 400,
		     "hostfwd: must be an array");
	expect_fault(p.sock, "PUT", "/network-interfaces/eth0",
		     "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
		     "\"hostfwd\": [\"tcp::80-:80\"]}", 400,
		     "hostfwd: only with");
	expect_fault(p.sock, "PUT", "/network-interfaces/eth0",
		     "{\"iface_id\": \"eth0\"}", 400, "host_dev_name");
	expect_fault(p.sock, "PUT", "/network-interfaces/eth0",
		     "{\"iface_id\": \"eth0\", \"backend\": \"user\", "
		     "\"mtu\": 65521}", 400, "mtu");
	expect_fault(p.sock, "PUT", "/network-interfaces/eth0",
		     "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
		     "\"mtu\": 9000}", 400, "mtu: only with");

	/* A host port already taken: the start fails, naming the rule. */
	cr_assert_eq(bind(busy, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(busy, 1), 0);
	cr_assert_eq(getsockname(busy, (struct sockaddr *)&a, &l), 0);
	snprintf(body, sizeof(body), "{\"iface_id\": \"eth0\", \"backend\": "
		 "\"user\", \"hostfwd\": [\"tcp:127.0.0.1:%u-:80\", "
		 "\"udp::5353-10.0.2.15:53\"]}", ntohs(a.sin_port));
	put_ok(p.sock, "PUT", "/network-interfaces/eth0", body);
	put_ok(p.sock, "PUT", "/network-interfaces/eth1",
	       "{\"iface_id\": \"eth1\", \"backend\": \"user\", "
	       "\"mtu\": 9000}");
	cr_assert_eq(api_call(p.sock, "GET", "/vm/config", NULL, &r), 200);
	snprintf(body, sizeof(body), "\"iface_id\":\"eth0\",\"backend\":"
		 "\"user\",\"hostfwd\":[\"tcp:127.0.0.1:%u-:80\",\"udp::5353-"
		 "10.0.2.15:53\"]", ntohs(a.sin_port));
	cr_assert(strstr(r.body, body), "%s lacks %s", r.body, body);
	cr_assert(strstr(r.body, "\"iface_id\":\"eth1\",\"backend\":\"user\","
			 "\"mtu\":9000}"), "%s", r.body);
	cr_assert_null(strstr(r.body, "host_dev_name"), "%s", r.body);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"action=echo\"}", guest_path("mb_action"));
	put_ok(p.sock, "PUT", "/boot-source", body);
	put_ok(p.sock, "PATCH", "/machine-config", "{\"mem_size_mib\": 32}");
	snprintf(body, sizeof(body), "hostfwd tcp:127.0.0.1:%u-:80",
		 ntohs(a.sin_port));
	expect_fault(p.sock, "PUT", "/actions",
		     "{\"action_type\": \"InstanceStart\"}", 400, body);
	/* Freed, the port is there for the next try, which boots. */
	close(busy);
	cr_assert_eq(api_start_again(p.sock, &r), 204, "%s", r.body);
	cr_assert(api_wait_out(&p, "echo ready", 10), "%s %s", p.out, p.err);
	api_proc_free(&p);
}
