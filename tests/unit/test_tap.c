/*
 * The TAP backend's fd (src/net/tap.c): non-blocking whether mvm opened
 * the tap or adopted a caller's fd, so that io_uring tries each frame in
 * place instead of handing it to a worker thread (Linux 6.1), and a read
 * with nothing to read stays pending rather than failing. Needs
 * CAP_NET_ADMIN for TUNSETIFF: without it, the test fails saying so.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/net.h"

static void name(char *buf, size_t len, const char *what)
{
	snprintf(buf, len, "mvmut%s%d", what, (int)getpid() % 100000);
}

static void need_net_admin(void)
{
	int fd = open("/dev/net/tun", O_RDWR);

	cr_assert_geq(fd, 0, "NOT RUN: /dev/net/tun cannot be opened: %s",
		      strerror(errno));
	close(fd);
	cr_assert_eq(geteuid(), 0, "NOT RUN: creating a tap needs "
		     "CAP_NET_ADMIN; run the unit tests as root");
}

static bool nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	cr_assert_geq(fl, 0);
	return fl & O_NONBLOCK;
}

Test(tap, opened_tap_is_nonblocking_and_a_read_waits)
{
	struct mvm_err err = { 0 };
	struct net_backend *b = NULL;
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	char n[IFNAMSIZ], buf[2048];
	struct iovec iov = { buf, sizeof(buf) };

	need_net_admin();
	name(n, sizeof(n), "o");
	cr_assert_eq(tap_open(n, &b, &err), 0, "%s", err.msg);
	cr_assert(nonblocking(b->fd), "tap %s opened blocking", n);
	/* The interface is down: no frame comes, so the read must pend. */
	cr_assert_eq(io_uring_queue_init(4, &ring, 0), 0);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_readv(sqe, b->fd, &iov, 1, 0);
	cr_assert_eq(io_uring_submit(&ring), 1);
	usleep(50000);
	cr_assert_neq(io_uring_peek_cqe(&ring, &cqe), 0,
		      "a read of an idle tap completed (%d)", cqe->res);
	io_uring_queue_exit(&ring);
	b->ops->close(b);
}

Test(tap, adopted_fd_is_made_nonblocking)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	struct mvm_err err = { 0 };
	struct net_backend *b = NULL;
	int fd;

	need_net_admin();
	name(ifr.ifr_name, sizeof(ifr.ifr_name), "a");
	fd = open("/dev/net/tun", O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ioctl(fd, TUNSETIFF, &ifr), 0, "TUNSETIFF: %s",
		     strerror(errno));
	cr_assert(!nonblocking(fd));
	cr_assert_eq(tap_adopt(ifr.ifr_name, fd, &b, &err), 0, "%s", err.msg);
	cr_assert(nonblocking(b->fd));
	b->ops->close(b);
	close(fd);
}
