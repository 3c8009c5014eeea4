/*
 * memory-op: one timed memory operation for bench/memory, inside the lab.
 * It asks a running VMM to change its guest's memory and polls the VMM
 * until the VMM says the guest's driver has done it, then prints how long
 * that took and the VMM's RSS before and after. Built static, so the lab
 * needs no libraries for it.
 *
 *   memory-op mvm|qemu SOCKET balloon|mem MIB PID
 *
 * balloon MIB: the balloon's size becomes MIB (mvm: PATCH /balloon
 *   amount_mib, until GET /balloon/statistics says actual_mib; QEMU: QMP
 *   "balloon" to the guest's RAM less MIB, until "query-balloon" says so).
 * mem MIB: MIB of hotpluggable memory plugged (mvm: PATCH /hotplug/memory
 *   requested_size_mib, until GET /hotplug/memory says plugged_size_mib;
 *   QEMU: qom-set of virtio-mem-pci "vmem0"'s requested-size, until its
 *   "size" says so).
 * SOCKET is mvm's API socket or QEMU's QMP socket; PID the VMM's, whose
 * VmRSS is read right before the request and right after the last poll.
 *
 * Prints "ms=<request to done> polls=N rss_before_kib=N rss_after_kib=N
 * status=ok" (status=timeout after 900 s, status=error: <why> when the
 * VMM refused). Both VMMs are polled alike, on one connection kept open
 * (mvm's HTTP like QEMU's QMP): every 20 ms for the first 2 s (a plug
 * takes about a second in the lab), then every 200 ms (a balloon's
 * reclaim takes tens of seconds there, and each poll costs the lab's
 * emulated CPU, which the guest and the VMM share, several ms). The time
 * is what a client polling so sees.
 */
#define _GNU_SOURCE /* strcasestr */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Polls: every FAST_MS for the first FAST_FOR_MS, then every SLOW_MS. */
#define FAST_MS 20
#define FAST_FOR_MS 2000
#define SLOW_MS 200
#define TIMEOUT_S 900
#define MIB (UINT64_C(1) << 20)

static char buf[1 << 16];

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void die(const char *fmt, ...)
{
	va_list ap;

	printf("ms=-1 polls=0 rss_before_kib=0 rss_after_kib=0 status=error: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(1);
}

static long rss_kib(const char *pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		die("socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect %s: %s", path, strerror(errno));
	return fd;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			die("write: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

/* The unsigned number after "KEY": in text, or -1. */
static int64_t json_u64(const char *text, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(text, pat);
	if (!p)
		return -1;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	return (int64_t)strtoull(p, NULL, 10);
}

/* ---- mvm: HTTP/1.1 on one kept-alive connection, as QMP's ---------------- */

static int http_fd = -1;

/* One whole response into buf (headers, then Content-Length bytes). */
static bool http_response(void)
{
	size_t got = 0, want = 0;
	const char *end = NULL, *cl;

	for (;;) {
		ssize_t r;

		if (end && got >= want)
			break;
		r = read(http_fd, buf + got, sizeof(buf) - 1 - got);
		if (r <= 0)
			return false;
		got += (size_t)r;
		buf[got] = '\0';
		if (got == sizeof(buf) - 1)
			die("HTTP: response too long");
		if (!end && (end = strstr(buf, "\r\n\r\n"))) {
			cl = strcasestr(buf, "\r\nContent-Length:");
			want = (size_t)(end + 4 - buf) +
			       (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
		}
	}
	return true;
}

/* The response's status; the response is in buf. */
static int http(const char *sock, const char *method, const char *path,
		const char *body)
{
	char head[512];
	int n, status;

	n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: localhost\r\n"
		     "Content-Type: application/json\r\n"
		     "Content-Length: %zu\r\n\r\n", method, path,
		     body ? strlen(body) : 0);
	/* A server may close an idle connection: then once more, anew. */
	for (int tries = 0;; tries++) {
		if (http_fd < 0)
			http_fd = connect_to(sock);
		write_all(http_fd, head, (size_t)n);
		if (body)
			write_all(http_fd, body, strlen(body));
		if (http_response())
			break;
		close(http_fd);
		http_fd = -1;
		if (tries)
			die("%s %s: no HTTP response", method, path);
	}
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		die("%s %s: no HTTP response", method, path);
	return status;
}

static void mvm_request(const char *sock, bool balloon, uint64_t mib)
{
	char body[128];
	int st;

	snprintf(body, sizeof(body), balloon ? "{\"amount_mib\": %" PRIu64 "}" :
		 "{\"requested_size_mib\": %" PRIu64 "}", mib);
	st = http(sock, "PATCH", balloon ? "/balloon" : "/hotplug/memory",
		  body);
	if (st != 204)
		die("PATCH: HTTP %d %s", st, strstr(buf, "\r\n\r\n") ?
		    strstr(buf, "\r\n\r\n") + 4 : "");
}

static bool mvm_done(const char *sock, bool balloon, uint64_t mib)
{
	int st = http(sock, "GET", balloon ? "/balloon/statistics" :
		      "/hotplug/memory", NULL);

	if (st != 200)
		die("GET: HTTP %d", st);
	return json_u64(buf, balloon ? "actual_mib" : "plugged_size_mib") ==
	       (int64_t)mib;
}

/* ---- QEMU: QMP, one connection, a line a message ------------------------ */

static int qmp_fd = -1;
static size_t qmp_len;
static char qmp_in[1 << 16];

/* The next line that is not an event, into buf. */
static void qmp_reply(void)
{
	for (;;) {
		char *nl = memchr(qmp_in, '\n', qmp_len);

		if (nl) {
			size_t n = (size_t)(nl - qmp_in) + 1;

			memcpy(buf, qmp_in, n);
			buf[n] = '\0';
			memmove(qmp_in, qmp_in + n, qmp_len - n);
			qmp_len -= n;
			if (!strstr(buf, "\"event\""))
				return;
			continue;
		}
		ssize_t r = read(qmp_fd, qmp_in + qmp_len,
				 sizeof(qmp_in) - qmp_len);

		if (r <= 0)
			die("QMP: connection closed");
		qmp_len += (size_t)r;
		if (qmp_len == sizeof(qmp_in))
			die("QMP: line too long");
	}
}

static void qmp(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	write_all(qmp_fd, cmd, (size_t)n);
	qmp_reply();
	if (strstr(buf, "\"error\""))
		die("QMP %s: %s", cmd, buf);
}

static uint64_t qemu_ram;

static void qemu_open(const char *sock)
{
	qmp_fd = connect_to(sock);
	qmp_reply(); /* the greeting */
	qmp("{\"execute\": \"qmp_capabilities\"}\n");
	qmp("{\"execute\": \"query-memory-size-summary\"}\n");
	if (json_u64(buf, "base-memory") <= 0)
		die("QMP: no base-memory in %s", buf);
	qemu_ram = (uint64_t)json_u64(buf, "base-memory");
}

static void qemu_request(bool balloon, uint64_t mib)
{
	if (balloon)
		qmp("{\"execute\": \"balloon\", \"arguments\": "
		    "{\"value\": %" PRIu64 "}}\n", qemu_ram - mib * MIB);
	else
		qmp("{\"execute\": \"qom-set\", \"arguments\": {\"path\": "
		    "\"/machine/peripheral/vmem0\", \"property\": "
		    "\"requested-size\", \"value\": %" PRIu64 "}}\n",
		    mib * MIB);
}

static bool qemu_done(bool balloon, uint64_t mib)
{
	if (balloon) {
		qmp("{\"execute\": \"query-balloon\"}\n");
		return json_u64(buf, "actual") ==
		       (int64_t)(qemu_ram - mib * MIB);
	}
	qmp("{\"execute\": \"qom-get\", \"arguments\": {\"path\": "
	    "\"/machine/peripheral/vmem0\", \"property\": \"size\"}}\n");
	return json_u64(buf, "return") == (int64_t)(mib * MIB);
}

int main(int argc, char **argv)
{
	const char *vmm, *sock, *op, *pid;
	bool mvm, balloon, done = false;
	double t0, t1;
	long before, after;
	uint64_t mib;
	int polls = 0;

	if (argc != 6) {
		fprintf(stderr, "usage: memory-op mvm|qemu SOCKET balloon|mem "
			"MIB PID\n");
		return 2;
	}
	vmm = argv[1], sock = argv[2], op = argv[3], pid = argv[5];
	mvm = !strcmp(vmm, "mvm");
	balloon = !strcmp(op, "balloon");
	if ((!mvm && strcmp(vmm, "qemu")) || (!balloon && strcmp(op, "mem")))
		die("bad VMM '%s' or operation '%s'", vmm, op);
	mib = strtoull(argv[4], NULL, 10);
	if (!mvm)
		qemu_open(sock);
	before = rss_kib(pid);
	t0 = now_ms();
	if (mvm)
		mvm_request(sock, balloon, mib);
	else
		qemu_request(balloon, mib);
	while (now_ms() - t0 < TIMEOUT_S * 1e3) {
		polls++;
		done = mvm ? mvm_done(sock, balloon, mib) :
			     qemu_done(balloon, mib);
		if (done)
			break;
		sleep_ms(now_ms() - t0 < FAST_FOR_MS ? FAST_MS : SLOW_MS);
	}
	t1 = now_ms();
	after = rss_kib(pid);
	printf("ms=%.1f polls=%d rss_before_kib=%ld rss_after_kib=%ld "
	       "status=%s\n", t1 - t0, polls, before, after,
	       done ? "ok" : "timeout");
	return done ? 0 : 1;
}
