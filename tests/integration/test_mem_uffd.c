/*
 * The Uffd memory backend of a restore (gm_map_uffd, Firecracker's
 * protocol) against the example page fault handler
 * (tests/snapshot/uffd_handler.c, $MVM_UFFD_HANDLER) run as a child:
 * RAM read here gets the memory file's bytes, zeros where it has holes;
 * the handler ends when guest RAM is freed. The handshake mvm sends is
 * Firecracker's, field for field; the handler refuses hostile ones.
 *
 * This needs a userfaultfd that sees kernel faults (root here); without
 * one the tests fail saying so, as a skip would read as a pass.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/mem.h"
#include "mvm/mem_file.h"

#define MiB (UINT64_C(1) << 20)
#define PG GM_PAGE

static char dir[64];
static char sock_path[128], mem_path[128];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mvm-test-uffd-XXXXXX");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	snprintf(sock_path, sizeof(sock_path), "%s/uffd.sock", dir);
	snprintf(mem_path, sizeof(mem_path), "%s/mem", dir);
}

static void remove_dir(void)
{
	unlink(sock_path);
	unlink(mem_path);
	rmdir(dir);
}

TestSuite(mem_uffd, .init = make_dir, .fini = remove_dir);

struct handler {
	pid_t pid;
	int out, err; /* its stdout and stderr */
	char ebuf[4096];
};

/*
 * Read fd into buf (NUL-terminated) until it closes, until ms pass
 * without anything, or until buf holds until (if not NULL).
 */
static void read_all(int fd, char *buf, size_t cap, int ms,
		     const char *until)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t len = strlen(buf);
	ssize_t n;

	while (len + 1 < cap && !(until && strstr(buf, until)) &&
	       poll(&p, 1, ms) == 1) {
		n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
}

/* Start the handler on sock_path and mem_path; back once it listens. */
static void handler_start(struct handler *h)
{
	const char *bin = getenv("MVM_UFFD_HANDLER");
	char ready[64] = "";
	int o[2], e[2];

	cr_assert_not_null(bin, "MVM_UFFD_HANDLER is not set");
	cr_assert_eq(pipe(o), 0);
	cr_assert_eq(pipe(e), 0);
	h->pid = fork();
	cr_assert_geq(h->pid, 0);
	if (h->pid == 0) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		execl(bin, bin, sock_path, mem_path, (char *)NULL);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	h->out = o[0];
	h->err = e[0];
	h->ebuf[0] = '\0';
	read_all(h->out, ready, sizeof(ready), 10000, "ready\n");
	cr_assert_not_null(strstr(ready, "ready"), "the handler did not start");
}

/* Its exit status once it ends (within 10 s), its stderr in h->ebuf. */
static int handler_wait(struct handler *h)
{
	int status = 0;

	for (int i = 0; i < 1000; i++) {
		if (waitpid(h->pid, &status, WNOHANG) == h->pid)
			break;
		if (i == 999) {
			kill(h->pid, SIGKILL);
			waitpid(h->pid, &status, 0);
			cr_assert_fail("the handler did not end");
		}
		usleep(10000);
	}
	read_all(h->err, h->ebuf, sizeof(h->ebuf), 0, NULL);
	close(h->out);
	close(h->err);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void fill_page(uint8_t *p, uint8_t seed)
{
	for (unsigned i = 0; i < PG; i++)
		p[i] = (uint8_t)(seed * 31 + i) | 1;
}

/* A memory file of ram bytes: data in every third page, else holes. */
static void make_mem_file(struct guest_mem *gm, uint64_t ram,
			  struct gm_file_region *r, unsigned *n)
{
	struct mvm_err err = { .msg = "" };
	uint64_t written;
	int fd = open(mem_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(gm_alloc(gm, ram, GM_PAGES_TRANSPARENT, &err), 0);
	for (uint64_t p = 0; p < ram / PG; p += 3)
		fill_page(gm->r[0].hva + p * PG, (uint8_t)p);
	cr_assert_eq(gm_save_full(gm, fd, &written, &err), 0, "%s", err.msg);
	close(fd);
	gm_file_layout(gm, r, n);
}

Test(mem_uffd, handler_serves_the_file_and_zeros_for_holes, .timeout = 60)
{
	const uint64_t ram = 8 * MiB;
	struct gm_file_region r[MEM_MAX_REGIONS];
	struct guest_mem gm, back;
	struct mvm_err err = { .msg = "" };
	struct handler h;
	unsigned n;

	make_mem_file(&gm, ram, r, &n);
	handler_start(&h);
	cr_assert_eq(gm_map_uffd(&back, r, n, sock_path, &err), 0,
		     "%s (a userfaultfd that sees kernel faults needs root: "
		     "these tests did not run)", err.msg);
	cr_assert_eq(back.backing, GM_BACKING_UFFD);
	cr_assert_eq(back.nr, 1);
	cr_assert_eq(back.r[0].gpa, 0);
	cr_assert_eq(back.r[0].size, ram);
	/* Each page's first touch is a fault the handler fills. */
	for (uint64_t p = 0; p < ram / PG; p++) {
		const uint8_t *got = gm_ptr(&back, p * PG, PG);

		cr_assert_eq(memcmp(got, gm.r[0].hva + p * PG, PG), 0,
			     "page %llu", (unsigned long long)p);
	}
	/* The pages are the process's own now: they take writes. */
	memset(gm_ptr(&back, 5 * PG, PG), 0x5a, PG);
	cr_assert_eq(*(uint8_t *)gm_ptr(&back, 5 * PG + 7, 1), 0x5a);
	gm_free(&back); /* closes the socket: the handler ends */
	cr_assert_eq(handler_wait(&h), 0, "%s", h.ebuf);
	cr_assert_not_null(strstr(h.ebuf, "683 pages copied, 1365 zeroed"),
			   "%s", h.ebuf);
	gm_free(&gm);
}

/* A fake handler: what mvm sends, received here. */
Test(mem_uffd, handshake_is_firecrackers, .timeout = 30)
{
	struct gm_file_region r[2] = {
		{ .gpa = 0, .size = 4 * MiB, .offset = 0 },
		{ .gpa = 0x100000000ULL, .size = 2 * MiB, .offset = 4 * MiB },
	};
	static const char *const keys[] = { "base_host_virt_addr", "size",
					    "offset", "page_size",
					    "page_size_kib" };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	union {
		struct cmsghdr c;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	char buf[4096];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.b,
			      .msg_controllen = sizeof(ctl.b) };
	struct guest_mem back;
	struct mvm_err err = { .msg = "" };
	struct cmsghdr *c;
	json_object *arr;
	int l, s, fd;
	ssize_t len;

	strcpy(sa.sun_path, sock_path);
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(l, 1), 0);
	cr_assert_eq(gm_map_uffd(&back, r, 2, sock_path, &err), 0, "%s",
		     err.msg);
	s = accept(l, NULL, NULL);
	len = recvmsg(s, &msg, 0);
	cr_assert_gt(len, 0);
	buf[len] = '\0';
	c = CMSG_FIRSTHDR(&msg);
	cr_assert(c && c->cmsg_type == SCM_RIGHTS, "no fd sent");
	memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	cr_assert_geq(fd, 0);
	arr = json_tokener_parse(buf);
	cr_assert(json_object_is_type(arr, json_type_array), "%s", buf);
	cr_assert_eq(json_object_array_length(arr), 2, "%s", buf);
	for (int i = 0; i < 2; i++) {
		json_object *o = json_object_array_get_idx(arr, i), *v;
		uint64_t want[5] = { (uintptr_t)back.r[i].hva, r[i].size,
				     r[i].offset, 4096, 4096 };

		cr_assert_eq(json_object_object_length(o), 5, "%s", buf);
		for (int k = 0; k < 5; k++) {
			cr_assert(json_object_object_get_ex(o, keys[k], &v),
				  "no %s: %s", keys[k], buf);
			cr_assert_eq(json_object_get_uint64(v), want[k],
				     "%s of region %d: %s", keys[k], i, buf);
		}
	}
	/* Regions are 2 MiB-aligned in the process, as gm_alloc's are. */
	cr_assert_eq((uintptr_t)back.r[1].hva % (2 * MiB), 0);
	json_object_put(arr);
	close(fd);
	gm_free(&back);
	/* mvm closed its end: the handler sees the end of the stream. */
	cr_assert_eq(recv(s, buf, 1, 0), 0);
	close(s);
	close(l);
}

Test(mem_uffd, connect_failures_name_the_socket)
{
	struct gm_file_region r = { .gpa = 0, .size = 2 * MiB, .offset = 0 };
	struct guest_mem back;
	struct mvm_err err = { .msg = "" };
	char longp[200];

	cr_assert_eq(gm_map_uffd(&back, &r, 1, sock_path, &err), -ENOENT);
	cr_assert_not_null(strstr(err.msg, sock_path), "%s", err.msg);
	cr_assert_eq(back.nr, 0);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	cr_assert_eq(gm_map_uffd(&back, &r, 1, longp, &err), -ENAMETOOLONG);
	r.size = 100;
	cr_assert_eq(gm_map_uffd(&back, &r, 1, sock_path, &err), -EINVAL);
	cr_assert_not_null(strstr(err.msg, "region 0: size"), "%s", err.msg);
}

/* Send msg (and fd, if >= 0) to a fresh handler; it must exit 1 saying why. */
static void hostile(const char *msg, int fd, const char *why)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	union {
		struct cmsghdr c;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl = { 0 };
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = strlen(msg) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct handler h;
	int s;

	handler_start(&h);
	strcpy(sa.sun_path, sock_path);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (fd >= 0) {
		struct cmsghdr *c;

		m.msg_control = ctl.b;
		m.msg_controllen = sizeof(ctl.b);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	cr_assert_eq(sendmsg(s, &m, 0), (ssize_t)strlen(msg));
	cr_assert_eq(handler_wait(&h), 1, "%s: %s", msg, h.ebuf);
	cr_assert_not_null(strstr(h.ebuf, why), "%s: '%s' lacks '%s'", msg,
			   h.ebuf, why);
	close(s);
}

Test(mem_uffd, handler_refuses_hostile_handshakes, .timeout = 60)
{
	struct gm_file_region r[MEM_MAX_REGIONS];
	struct guest_mem gm;
	unsigned n;
	int fd = open("/dev/null", O_RDONLY);

	make_mem_file(&gm, 2 * MiB, r, &n);
	gm_free(&gm);
	hostile("[{\"base_host_virt_addr\":0,\"size\":4096,\"offset\":0,"
		"\"page_size\":4096}]", -1, "no single file descriptor");
	hostile("not json", fd, "not one JSON value");
	hostile("[1] trailing", fd, "not one JSON value");
	hostile("{}", fd, "not a JSON list");
	hostile("[]", fd, "0 regions");
	hostile("[7]", fd, "region 0 is not an object");
	hostile("[{\"size\":4096,\"offset\":0,\"page_size\":4096}]", fd,
		"no \"base_host_virt_addr\"");
	hostile("[{\"base_host_virt_addr\":-4096,\"size\":4096,\"offset\":0,"
		"\"page_size\":4096}]", fd, "not a non-negative integer");
	hostile("[{\"base_host_virt_addr\":\"0\",\"size\":4096,\"offset\":0,"
		"\"page_size\":4096}]", fd, "not a non-negative integer");
	hostile("[{\"base_host_virt_addr\":0,\"size\":4096,\"offset\":0}]", fd,
		"no page size");
	hostile("[{\"base_host_virt_addr\":0,\"size\":4096,\"offset\":0,"
		"\"page_size\":4096,\"page_size_kib\":4}]", fd, "differ");
	hostile("[{\"base_host_virt_addr\":0,\"size\":4096,\"offset\":0,"
		"\"page_size\":3}]", fd, "neither 4 KiB nor 2 MiB");
	hostile("[{\"base_host_virt_addr\":0,\"size\":0,\"offset\":0,"
		"\"page_size\":4096}]", fd, "not aligned");
	hostile("[{\"base_host_virt_addr\":0,\"size\":4096,"
		"\"offset\":2097152,\"page_size\":4096}]", fd,
		"past the memory file");
	hostile("[{\"base_host_virt_addr\":0,\"size\":4096,"
		"\"offset\":18446744073709547520,\"page_size\":4096}]", fd,
		"past the memory file");
	close(fd);
}
