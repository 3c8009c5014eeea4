/*
 * Hostile clients of the API socket: hundreds of idle connections, a
 * request trickled a byte at a time or left without its body, clients that
 * half-close mid-request, a NUL in the request target; and bodies with a
 * key given twice or text that is not UTF-8. A well-behaved client is
 * always answered, and keeps its keep-alive connection.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api_client.h"
#include "harness.h"

#define IDLE_CLIENTS 600
#define CAP 512

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The server closed fd (EOF or reset) within seconds. */
static bool closed_within(int fd, double seconds)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char b[256];

	if (poll(&p, 1, (int)(seconds * 1000)) <= 0)
		return false;
	return recv(fd, b, sizeof(b), MSG_DONTWAIT) <= 0;
}

static const char get_root[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

static void send_str(int fd, const char *s)
{
	cr_assert_eq(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

Test(api_conn, idle_connections_never_lock_out_a_new_client, .timeout = 60)
{
	static int idle[IDLE_CLIENTS];
	struct rlimit rl;
	struct api_proc p;
	struct api_resp r;
	double t0;
	int fd, n;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	cr_assert_eq(api_spawn(&p, NULL), 0);
	/* A well-behaved keep-alive client first: the longest idle. */
	idle[0] = api_connect(p.sock);
	cr_assert_eq(api_do(idle[0], "GET", "/", NULL, &r), 0);
	cr_assert_eq(r.status, 200);
	for (int i = 1; i < IDLE_CLIENTS; i++) {
		idle[i] = api_connect(p.sock);
		cr_assert_geq(idle[i], 0, "connection %d refused", i);
	}

	t0 = now_s();
	fd = api_connect(p.sock);
	cr_assert_geq(fd, 0);
	cr_assert_eq(api_do(fd, "GET", "/", NULL, &r), 0, "no answer");
	cr_assert_eq(r.status, 200);
	cr_assert_lt(now_s() - t0, 1.0, "answered after %.2f s", now_s() - t0);
	/* It made room by closing the one idle the longest. */
	cr_assert(closed_within(idle[0], 2), "the oldest idle one stayed");
	/* mvm holds at most the cap (plus its own few fds). */
	api_drain(&p, 0.5);
	n = proc_fd_count(p.pid);
	cr_assert_lt(n, CAP + 64, "%d fds open", n);
	close(fd);
	for (int i = 0; i < IDLE_CLIENTS; i++)
		close(idle[i]);
	api_proc_free(&p);
}

/*
 * One mvm, three clients at once: one trickles its head a byte a second,
 * one sends its head and a tenth of its body, one makes a request every
 * two seconds on one keep-alive connection. The first two are closed
 * after the 10 s deadlines; the third is answered throughout.
 */
Test(api_conn, slow_heads_and_bodies_are_cut_off, .timeout = 60)
{
	static const char slow_body[] =
		"PUT /machine-config HTTP/1.1\r\nHost: localhost\r\n"
		"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
		"{\"vcpu_co";
	double t0, trickle_end = 0, body_end = 0;
	int trickle, body, good, sent = 0;
	struct api_proc p;
	struct api_resp r;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	trickle = api_connect(p.sock);
	body = api_connect(p.sock);
	good = api_connect(p.sock);
	send_str(body, slow_body);
	t0 = now_s();
	while (now_s() - t0 < 16 && (!trickle_end || !body_end)) {
		double t = now_s() - t0;

		if (!trickle_end && (int)t >= sent) {
			if (send(trickle, get_root + sent, 1, MSG_NOSIGNAL) != 1)
				trickle_end = t;
			sent++;
		}
		if (!trickle_end && closed_within(trickle, 0))
			trickle_end = t;
		if (!body_end && closed_within(body, 0))
			body_end = t;
		if ((int)(t * 10) % 20 == 0) {
			cr_assert_eq(api_do(good, "GET", "/", NULL, &r), 0,
				     "keep-alive client dropped at %.1f s", t);
			cr_assert_eq(r.status, 200);
		}
		usleep(100000);
	}
	cr_assert(trickle_end >= 9 && trickle_end <= 13,
		  "trickling client closed at %.1f s", trickle_end);
	cr_assert(body_end >= 9 && body_end <= 13,
		  "client without its body closed at %.1f s", body_end);
	cr_assert_eq(api_do(good, "GET", "/", NULL, &r), 0);
	cr_assert_eq(r.status, 200);
	close(trickle);
	close(body);
	close(good);
	api_proc_free(&p);
}

Test(api_conn, half_closed_clients_are_let_go, .timeout = 30)
{
	struct api_proc p;
	struct api_resp r;
	int fd;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	/* Half a head, then the end: it can never be completed. */
	fd = api_connect(p.sock);
	send_str(fd, "GET / HT");
	shutdown(fd, SHUT_WR);
	cr_assert(closed_within(fd, 2), "a half-closed client stayed");
	close(fd);
	/* A whole request, then the end (nc -N, HTTP/1.0 style): answered. */
	fd = api_connect(p.sock);
	send_str(fd, get_root);
	shutdown(fd, SHUT_WR);
	cr_assert_eq(api_read_resp(fd, &r), 0, "no answer");
	cr_assert_eq(r.status, 200);
	close(fd);
	api_proc_free(&p);
}

static void nul_in_target(const char *sock, const char *req, size_t len,
			  const char *want)
{
	struct api_resp r;

	cr_assert_eq(api_raw(sock, req, len, &r), 400, "status %d: %s",
		     r.status, r.body);
	cr_assert(fault_has(&r, want), "%s", r.body);
}

Test(api_conn, nul_in_the_request_target_is_refused, .timeout = 30)
{
	static const char raw[] = "GET /\0x HTTP/1.1\r\nHost: localhost\r\n\r\n";
	static const char enc[] = "GET /%00x HTTP/1.1\r\nHost: localhost\r\n\r\n";
	struct api_proc p;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	nul_in_target(p.sock, raw, sizeof(raw) - 1,
		      "request target: contains a NUL byte after \\\"/\\\"");
	nul_in_target(p.sock, enc, sizeof(enc) - 1,
		      "request target \\\"/%00x\\\": contains an encoded NUL");
	api_proc_free(&p);
}

static void refused(const char *sock, const char *path, const char *body,
		    const char *want)
{
	struct api_resp r;

	cr_assert_eq(api_call(sock, "PUT", path, body, &r), 400, "%s -> %d",
		     body, r.status);
	cr_assert(fault_has(&r, want), "want '%s': %s", want, r.body);
}

Test(api_conn, bodies_with_repeated_keys_or_bad_text_are_refused,
     .timeout = 30)
{
	struct api_proc p;
	struct api_resp r;
	char body[512];

	cr_assert_eq(api_spawn(&p, NULL), 0);
	refused(p.sock, "/machine-config", "{\"vcpu_count\": 1, "
		"\"mem_size_mib\": 32, \"vcpu_count\": 2}",
		"vcpu_count: duplicate key");
	refused(p.sock, "/drives/a", "{\"drive_id\": \"a\", \"path_on_host\": "
		"\"/x\", \"is_root_device\": false, \"rate_limiter\": {\"ops\": "
		"{\"size\": 1, \"refill_time\": 1, \"size\": 2}}}",
		"rate_limiter.ops.size: duplicate key");
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"console=ttyS0 \xc3\x28\"}",
		 guest_path("mb_action"));
	refused(p.sock, "/boot-source", body, "boot_args: not valid UTF-8");
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"a\\u0007b\"}", guest_path("mb_action"));
	refused(p.sock, "/boot-source", body,
		"boot_args: contains a control character (0x07)");
	/* Nothing of it reached the configuration. */
	cr_assert_eq(api_call(p.sock, "GET", "/vm/config", NULL, &r), 200);
	cr_assert_null(strstr(r.body, "console=ttyS0"), "%s", r.body);
	api_proc_free(&p);
}
