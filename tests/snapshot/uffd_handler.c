/*
 * An example page fault handler for mvm's Uffd memory backend, speaking
 * Firecracker's protocol (mvm/mem_file.h: gm_map_uffd):
 *
 *   uffd_handler SOCKET MEMORY_FILE
 *
 * listens on the UNIX socket SOCKET, prints "ready" once it does, accepts
 * one connection and receives, in one message, the JSON list of guest
 * RAM regions
 *   [{"base_host_virt_addr":N,"size":N,"offset":N,"page_size":N,
 *     "page_size_kib":N}, ...]
 * with the userfaultfd as SCM_RIGHTS. It then fills each page of guest
 * RAM the first time it is touched: UFFDIO_COPY from MEMORY_FILE (mapped
 * MAP_PRIVATE, read by the kernel as needed), UFFDIO_ZEROPAGE where the
 * file has a hole. It ends when the VMM closes the socket (the VMM's end,
 * or its guest RAM freed).
 *
 * Everything received is checked: the message, the JSON, every region
 * against the memory file and every fault against the regions. What it
 * cannot serve, it reports and exits; a VMM faulting on such a page then
 * waits forever, so whoever runs a handler watches it (as Firecracker's
 * documentation says of its own).
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_REGIONS 64
#define MSG_MAX 65536
#define ACCEPT_TIMEOUT_MS 60000
#define PAGE_4K 4096u
#define PAGE_2M (2u << 20)

struct region {
	uint64_t base, size, offset, page_size;
};

struct handler {
	int file_fd, sock, uffd;
	const uint8_t *file; /* the memory file, mapped */
	uint64_t file_size;
	struct region r[MAX_REGIONS];
	unsigned nr;
	uint64_t copied, zeroed; /* pages, reported at the end */
};

static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("uffd_handler: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static int open_file(struct handler *h, const char *path)
{
	struct stat st;
	void *m;

	h->file_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (h->file_fd < 0)
		return fail("%s: %s", path, strerror(errno));
	if (fstat(h->file_fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0)
		return fail("%s: not a non-empty regular file", path);
	h->file_size = (uint64_t)st.st_size;
	m = mmap(NULL, h->file_size, PROT_READ, MAP_PRIVATE, h->file_fd, 0);
	if (m == MAP_FAILED)
		return fail("%s: mmap: %s", path, strerror(errno));
	h->file = m;
	return 0;
}

/* Listen on path, say so, take one connection. */
static int accept_vmm(struct handler *h, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd p;
	int l;

	if (strlen(path) >= sizeof(sa.sun_path))
		return fail("%s: socket path too long", path);
	memcpy(sa.sun_path, path, strlen(path));
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(l, 1) < 0)
		return fail("%s: %s", path, strerror(errno));
	printf("ready\n");
	fflush(stdout);
	p = (struct pollfd){ .fd = l, .events = POLLIN };
	if (poll(&p, 1, ACCEPT_TIMEOUT_MS) != 1)
		return fail("%s: no VMM connected within %d s", path,
			    ACCEPT_TIMEOUT_MS / 1000);
	h->sock = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	close(l);
	unlink(path);
	if (h->sock < 0)
		return fail("%s: accept: %s", path, strerror(errno));
	return 0;
}

/* The one message: JSON into buf (NUL-terminated), the fd into h->uffd. */
static int receive(struct handler *h, char *buf, size_t cap)
{
	union {
		struct cmsghdr c;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = cap - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.b,
			      .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *c;
	ssize_t n;

	do
		n = recvmsg(h->sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return fail("no message from the VMM: %s",
			    n ? strerror(errno) : "it closed the socket");
	buf[n] = '\0';
	c = CMSG_FIRSTHDR(&msg);
	if (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC) || !c ||
	    c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)))
		return fail("the message carries no single file descriptor");
	memcpy(&h->uffd, CMSG_DATA(c), sizeof(int));
	return 0;
}

/* A field of object o: a non-negative integer. */
static int get_u64(json_object *o, const char *key, bool required,
		   uint64_t *v, unsigned i)
{
	json_object *f;

	if (!json_object_object_get_ex(o, key, &f)) {
		*v = 0;
		return required ? fail("region %u: no \"%s\"", i, key) : 1;
	}
	if (!json_object_is_type(f, json_type_int) ||
	    json_object_get_int64(f) < 0)
		return fail("region %u: \"%s\" is not a non-negative integer",
			    i, key);
	*v = json_object_get_uint64(f);
	return 0;
}

static int check_region(const struct handler *h, const struct region *r,
			unsigned i)
{
	if (r->page_size != PAGE_4K && r->page_size != PAGE_2M)
		return fail("region %u: page size %llu is neither 4 KiB nor "
			    "2 MiB", i, (unsigned long long)r->page_size);
	if (!r->size || r->size % r->page_size || r->base % r->page_size ||
	    r->offset % PAGE_4K)
		return fail("region %u: base, size or offset not aligned to "
			    "its pages", i);
	if (r->base + r->size < r->base || r->offset + r->size < r->offset ||
	    r->offset + r->size > h->file_size)
		return fail("region %u: offset %llu + size %llu is past the "
			    "memory file's %llu bytes", i,
			    (unsigned long long)r->offset,
			    (unsigned long long)r->size,
			    (unsigned long long)h->file_size);
	return 0;
}

static int parse_region(struct handler *h, json_object *o, unsigned i)
{
	struct region *r = &h->r[i];
	uint64_t kib;
	int no_ps, no_kib;

	if (!json_object_is_type(o, json_type_object))
		return fail("region %u is not an object", i);
	if (get_u64(o, "base_host_virt_addr", true, &r->base, i) ||
	    get_u64(o, "size", true, &r->size, i) ||
	    get_u64(o, "offset", true, &r->offset, i))
		return -1;
	/* 1: absent. Firecracker's page_size_kib is in bytes too. */
	no_ps = get_u64(o, "page_size", false, &r->page_size, i);
	no_kib = get_u64(o, "page_size_kib", false, &kib, i);
	if (no_ps < 0 || no_kib < 0)
		return -1;
	if (no_ps && no_kib)
		return fail("region %u: no page size", i);
	if (no_ps)
		r->page_size = kib;
	else if (!no_kib && kib != r->page_size)
		return fail("region %u: page_size %llu and page_size_kib %llu "
			    "differ", i, (unsigned long long)r->page_size,
			    (unsigned long long)kib);
	return check_region(h, r, i);
}

static int parse(struct handler *h, const char *json)
{
	json_tokener *tok = json_tokener_new();
	json_object *arr;
	size_t len = strlen(json), n;
	int ret = 0;

	if (!tok)
		return fail("out of memory");
	arr = json_tokener_parse_ex(tok, json, (int)len);
	if (!arr || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len)
		ret = fail("the message is not one JSON value: %.200s", json);
	else if (!json_object_is_type(arr, json_type_array))
		ret = fail("the message is not a JSON list of regions");
	n = ret ? 0 : json_object_array_length(arr);
	if (!ret && (n == 0 || n > MAX_REGIONS))
		ret = fail("%zu regions (1 to %d)", n, MAX_REGIONS);
	for (size_t i = 0; !ret && i < n; i++)
		ret = parse_region(h, json_object_array_get_idx(arr, i),
				   (unsigned)i);
	h->nr = ret ? 0 : (unsigned)n;
	json_object_put(arr);
	json_tokener_free(tok);
	return ret;
}

/* Whether the memory file has data (not a hole) at off. */
static bool file_has_data(const struct handler *h, uint64_t off)
{
	off_t d = lseek(h->file_fd, (off_t)off, SEEK_DATA);

	/* ENXIO: only holes from off on. Other errors: copy, to be safe. */
	return d < 0 ? errno != ENXIO : (uint64_t)d == off;
}

/* 0 served (or already there), 1 the VMM is gone, -1 an error. */
static int serve(struct handler *h, uint64_t addr)
{
	const struct region *r = NULL;
	uint64_t page, off;
	int ret;

	for (unsigned i = 0; i < h->nr && !r; i++)
		if (addr >= h->r[i].base && addr - h->r[i].base < h->r[i].size)
			r = &h->r[i];
	if (!r)
		return fail("fault at 0x%llx is in no region",
			    (unsigned long long)addr);
	page = addr & ~(r->page_size - 1);
	off = r->offset + (page - r->base);
	if (r->page_size == PAGE_4K && !file_has_data(h, off)) {
		struct uffdio_zeropage z = { .range = { page, PAGE_4K } };

		ret = ioctl(h->uffd, UFFDIO_ZEROPAGE, &z);
		h->zeroed++;
	} else {
		struct uffdio_copy c = { .dst = page,
					 .src = (uintptr_t)(h->file + off),
					 .len = r->page_size };

		ret = ioctl(h->uffd, UFFDIO_COPY, &c);
		h->copied++;
	}
	if (ret == 0 || errno == EEXIST || errno == EAGAIN)
		return 0; /* EAGAIN: the fault comes again */
	if (errno == ESRCH || errno == ENOENT)
		return 1;
	return fail("filling the page at 0x%llx: %s",
		    (unsigned long long)page, strerror(errno));
}

/* Whether the VMM closed the socket; anything it sends is ignored. */
static bool vmm_gone(const struct handler *h, short revents)
{
	char junk[256];
	ssize_t n;

	if (revents & (POLLHUP | POLLRDHUP | POLLERR))
		return true;
	n = recv(h->sock, junk, sizeof(junk), MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

/* Faults until the VMM closes the socket. */
static int run(struct handler *h)
{
	struct pollfd p[2] = { { .fd = h->uffd, .events = POLLIN },
			       { .fd = h->sock, .events = POLLIN | POLLRDHUP } };
	struct uffd_msg m;
	ssize_t n;
	int ret;

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return fail("poll: %s", strerror(errno));
		}
		if ((p[1].revents && vmm_gone(h, p[1].revents)) ||
		    p[0].revents & (POLLHUP | POLLERR))
			return 0;
		if (!(p[0].revents & POLLIN))
			continue;
		n = read(h->uffd, &m, sizeof(m));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n != sizeof(m))
			return fail("reading the userfaultfd: %s",
				    n < 0 ? strerror(errno) : "short read");
		if (m.event != UFFD_EVENT_PAGEFAULT)
			continue; /* none asked for; nothing to fill */
		ret = serve(h, m.arg.pagefault.address);
		if (ret)
			return ret > 0 ? 0 : -1;
	}
}

int main(int argc, char **argv)
{
	static char json[MSG_MAX];
	struct handler h = { .file_fd = -1, .sock = -1, .uffd = -1 };
	int ret;

	if (argc != 3) {
		fprintf(stderr, "usage: %s SOCKET MEMORY_FILE\n", argv[0]);
		return 2;
	}
	if (open_file(&h, argv[2]) || accept_vmm(&h, argv[1]) ||
	    receive(&h, json, sizeof(json)) || parse(&h, json))
		return 1;
	ret = run(&h);
	fprintf(stderr, "uffd_handler: %llu pages copied, %llu zeroed\n",
		(unsigned long long)h.copied, (unsigned long long)h.zeroed);
	return ret ? 1 : 0;
}
