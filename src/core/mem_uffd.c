/*
 * Restore, Uffd backend, with Firecracker's protocol, so that page fault
 * handlers written for Firecracker serve mvm too: guest RAM is fresh
 * anonymous memory registered MISSING with a userfaultfd; mvm connects to
 * the handler's UNIX socket and sends, in one message, the JSON list of
 * regions (Firecracker's GuestRegionUffdMapping) with the userfaultfd as
 * SCM_RIGHTS. The handler then fills each page on its first touch with
 * UFFDIO_COPY from the memory file. Nothing else goes over the socket;
 * mvm keeps it open so that the handler sees mvm end when it closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/mem_file.h"
#include "mem_priv.h"

/* Each region's JSON is under 160 bytes. */
#define JSON_MAX (MEM_MAX_REGIONS * 160 + 8)

/*
 * A userfaultfd that also sees faults taken in the kernel (KVM reaching
 * guest RAM): the syscall as root or with vm.unprivileged_userfaultfd,
 * else /dev/userfaultfd (Linux 6.1+) where its permissions allow.
 */
static int uffd_open(struct mvm_err *err)
{
	const int flags = O_CLOEXEC | O_NONBLOCK;
	struct uffdio_api api = { .api = UFFD_API };
	int fd = (int)syscall(SYS_userfaultfd, flags), dev;

	if (fd < 0 && (errno == EPERM || errno == ENOSYS)) {
		dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
		if (dev >= 0) {
			fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
			close(dev);
		}
	}
	if (fd < 0)
		return mvm_fail_host(err, -errno, "userfaultfd: %s (needs "
				     "root, vm.unprivileged_userfaultfd=1 or "
				     "access to /dev/userfaultfd)",
				     strerror(errno));
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		int e = errno;

		close(fd);
		return mvm_fail_host(err, -e, "userfaultfd: UFFDIO_API: %s",
				     strerror(e));
	}
	return fd;
}

/* A fresh anonymous region at r->gpa, its missing pages the handler's. */
static int add_region(struct guest_mem *gm, const struct gm_file_region *r,
		      unsigned i, struct mvm_err *err)
{
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	uint8_t *base, *hva;
	uint64_t len;
	int ret;

	/* 4 KiB pages: the handler copies pages of the size it is told. */
	ret = gm_map_ram(r->size, GM_PAGES_SMALL, &base, &len, &hva, err);
	if (ret)
		return ret;
	ret = gm_region_add(gm, r->gpa, r->size, base, len, hva, err);
	if (ret)
		return ret;
	gm->r[gm->nr - 1].file_off = r->offset;
	reg.range.start = (uintptr_t)hva;
	reg.range.len = r->size;
	if (ioctl(gm->uffd, UFFDIO_REGISTER, &reg) < 0)
		return mvm_fail_host(err, -errno, "userfaultfd: cannot "
				     "register region %u: %s", i,
				     strerror(errno));
	if (!(reg.ioctls & (UINT64_C(1) << _UFFDIO_COPY)))
		return mvm_fail_host(err, -EOPNOTSUPP, "userfaultfd: region "
				     "%u cannot be filled with UFFDIO_COPY", i);
	return 0;
}

/* The regions as Firecracker sends them (serde's field order). */
static int regions_json(const struct guest_mem *gm, char *buf, size_t cap)
{
	size_t len = 0;

	len += (size_t)snprintf(buf, cap, "[");
	for (int i = 0; i < gm->nr && len < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len,
			"%s{\"base_host_virt_addr\":%llu,\"size\":%llu,"
			"\"offset\":%llu,\"page_size\":%u,"
			"\"page_size_kib\":%u}", i ? "," : "",
			(unsigned long long)(uintptr_t)gm->r[i].hva,
			(unsigned long long)gm->r[i].size,
			(unsigned long long)gm->r[i].file_off, GM_PAGE,
			GM_PAGE);
	if (len < cap)
		len += (size_t)snprintf(buf + len, cap - len, "]");
	return len < cap ? (int)len : -1;
}

static int send_regions(const struct guest_mem *gm, const char *sock_path,
			struct mvm_err *err)
{
	char json[JSON_MAX];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl = { 0 };
	struct iovec iov = { .iov_base = json };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	int len = regions_json(gm, json, sizeof(json));
	ssize_t n;

	if (len < 0)
		return mvm_fail(err, -E2BIG, "userfaultfd: the region list "
				"does not fit in %zu bytes", sizeof(json));
	iov.iov_len = (size_t)len;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &gm->uffd, sizeof(int));
	do
		n = sendmsg(gm->uffd_sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != len)
		return mvm_fail(err, n < 0 ? -errno : -EIO, "%s: cannot send "
				"the regions to the page fault handler: %s",
				sock_path, n < 0 ? strerror(errno) :
						   "short write");
	return 0;
}

static int connect_handler(const char *sock_path, struct mvm_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(sock_path) >= sizeof(sa.sun_path))
		return mvm_fail(err, -ENAMETOOLONG, "%s: a UNIX socket path "
				"is at most %zu bytes", sock_path,
				sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, sock_path, strlen(sock_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mvm_fail(err, -errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		return mvm_fail(err, -e, "%s: cannot connect to the page "
				"fault handler: %s", sock_path, strerror(e));
	}
	return fd;
}

int gm_map_uffd(struct guest_mem *gm, const struct gm_file_region *r,
		unsigned n, const char *sock_path, struct mvm_err *err)
{
	int ret;

	memset(gm, 0, sizeof(*gm));
	ret = gm_file_layout_check(r, n, 0, err);
	if (ret)
		return ret;
	ret = uffd_open(err);
	if (ret < 0)
		return ret;
	gm->backing = GM_BACKING_UFFD;
	gm->uffd = ret;
	gm->uffd_sock = -1;
	ret = 0;
	for (unsigned i = 0; !ret && i < n; i++)
		ret = add_region(gm, &r[i], i, err);
	if (!ret) {
		gm->uffd_sock = connect_handler(sock_path, err);
		ret = gm->uffd_sock < 0 ? gm->uffd_sock : 0;
	}
	if (!ret)
		ret = send_regions(gm, sock_path, err);
	if (ret)
		gm_free(gm);
	return ret;
}
