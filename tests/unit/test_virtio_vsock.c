/*
 * virtio-vsock's pure parts: a guest packet's header checks, a host's
 * CONNECT line, the guest's credit (counters that wrap), the connection
 * table and a connection's ring of held bytes; then the device on a fake
 * VM: its config space, its socket, its state.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mvm/dev_config.h"
#include "mvm/err.h"
#include "mvm/virtio_dev.h"
#include "../../src/devices/virtio/vsock.h"
#include "fake_vm.h"

static struct vsock_hdr pkt(uint64_t src_cid, uint64_t dst_cid, uint32_t len)
{
	struct vsock_hdr h = { .src_cid = src_cid, .dst_cid = dst_cid,
			       .src_port = 1000, .dst_port = 5000, .len = len,
			       .type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_RW };

	return h;
}

Test(virtio_vsock, guest_headers_are_checked)
{
	const uint32_t hs = sizeof(struct vsock_hdr);
	struct vsock_hdr h = pkt(3, 2, 10);
	const char *why = NULL;

	cr_assert_eq(vsock_check_tx(&h, hs + 10, 3, &why), 0);
	cr_assert_eq(vsock_check_tx(&h, hs - 1, 3, &why), -EINVAL);
	cr_assert_str_eq(why, "shorter than a header");
	cr_assert_eq(vsock_check_tx(&h, hs + 9, 3, &why), -EINVAL,
		     "len past the chain");
	cr_assert(strstr(why, "len past"), "%s", why);
	h = pkt(4, 2, 0);
	cr_assert_eq(vsock_check_tx(&h, hs, 3, &why), -EINVAL);
	cr_assert(strstr(why, "source CID"), "%s", why);
	h = pkt(3, 1, 0);
	cr_assert_eq(vsock_check_tx(&h, hs, 3, &why), -EINVAL);
	cr_assert(strstr(why, "destination CID"), "%s", why);
	h = pkt(3, 2, VSOCK_MAX_PKT + 1);
	cr_assert_eq(vsock_check_tx(&h, hs + VSOCK_MAX_PKT + 1, 3, &why),
		     -EINVAL);
	cr_assert(strstr(why, "64 KiB"), "%s", why);
	h = pkt(3, 2, UINT32_MAX);
	cr_assert_eq(vsock_check_tx(&h, UINT32_MAX, 3, &why), -EINVAL,
		     "no wrap in len + header");
}

Test(virtio_vsock, connect_lines)
{
	uint32_t port = 0;

#define LINE(s) s, sizeof(s) - 1
	cr_assert_eq(vsock_parse_connect(LINE("CONNECT 52\n"), &port), 0);
	cr_assert_eq(port, 52);
	cr_assert_eq(vsock_parse_connect(LINE("CONNECT 4294967295\n"), &port),
		     0);
	cr_assert_eq(port, UINT32_MAX);
	cr_assert_eq(vsock_parse_connect(LINE("CONNECT 5"), &port), -EAGAIN,
		     "no newline yet");
	cr_assert_eq(vsock_parse_connect(LINE(""), &port), -EAGAIN);
	cr_assert_eq(vsock_parse_connect(LINE("CONNECT 4294967296\n"), &port),
		     -EINVAL, "past 32 bits");
	cr_assert_eq(vsock_parse_connect(LINE("CONNECT \n"), &port), -EINVAL);
	cr_assert_eq(vsock_parse_connect(LINE("CONNECT -1\n"), &port),
		     -EINVAL);
	cr_assert_eq(vsock_parse_connect(LINE("CONNECT 5 6\n"), &port),
		     -EINVAL);
	cr_assert_eq(vsock_parse_connect(LINE("connect 5\n"), &port),
		     -EINVAL);
	cr_assert_eq(vsock_parse_connect(LINE("CONNECT 5\r\n"), &port),
		     -EINVAL);
	cr_assert_eq(vsock_parse_connect(LINE("\n"), &port), -EINVAL);
	/* A line that never ends is refused once it cannot be one. */
	cr_assert_eq(vsock_parse_connect(LINE("CONNECT 000000000000000000000"
					      "00000"), &port), -EINVAL);
#undef LINE
}

Test(virtio_vsock, credit_never_exceeds_what_the_guest_gave)
{
	cr_assert_eq(vsock_peer_credit(8192, 0, 0), 8192);
	cr_assert_eq(vsock_peer_credit(8192, 0, 8000), 192);
	cr_assert_eq(vsock_peer_credit(8192, 0, 8192), 0);
	cr_assert_eq(vsock_peer_credit(8192, 100, 8192), 100);
	/* Counters wrap at 2^32. */
	cr_assert_eq(vsock_peer_credit(8192, UINT32_MAX - 10, 5), 8192 - 16);
	/* A guest whose fwd_cnt runs ahead of what it got: no credit. */
	cr_assert_eq(vsock_peer_credit(8192, 9000, 100), 0);
	cr_assert_eq(vsock_peer_credit(0, 0, 0), 0);
}

Test(virtio_vsock, the_table_finds_by_both_ports_and_fills_up)
{
	static struct vsock_table t;
	struct vsock_conn *a, *b;
	uint32_t p;

	memset(&t, 0, sizeof(t));
	t.next_port = VSOCK_HOST_PORT_FIRST;
	a = vsock_table_add(&t, 5000, 1000);
	b = vsock_table_add(&t, 5000, 1001);
	cr_assert(a && b && a != b);
	cr_assert_eq(a->fd, -1);
	cr_assert_eq(vsock_table_find(&t, 5000, 1000), a);
	cr_assert_eq(vsock_table_find(&t, 5000, 1001), b);
	cr_assert_null(vsock_table_find(&t, 1000, 5000));
	vsock_table_remove(&t, a);
	cr_assert_null(vsock_table_find(&t, 5000, 1000));
	free(a);
	for (unsigned i = t.nr; i < VSOCK_MAX_CONNS; i++)
		cr_assert_not_null(vsock_table_add(&t, vsock_table_new_port(&t),
						   7));
	cr_assert_null(vsock_table_add(&t, 1, 1), "full");
	/* Host ports are unique and never below the host range, even when
	 * the counter wraps. */
	t.next_port = UINT32_MAX;
	p = vsock_table_new_port(&t);
	cr_assert_eq(p, UINT32_MAX);
	p = vsock_table_new_port(&t);
	cr_assert_geq(p, VSOCK_HOST_PORT_FIRST);
	for (unsigned i = 0; i < t.nr; i++)
		cr_assert_neq(t.conns[i]->local_port, p);
	while (t.nr) {
		struct vsock_conn *c = t.conns[0];

		vsock_table_remove(&t, c);
		free(c);
	}
}

Test(virtio_vsock, held_bytes_wrap_around_the_ring)
{
	static struct vsock_conn c;
	static uint8_t src[VSOCK_BUF_ALLOC], out[VSOCK_BUF_ALLOC];
	struct iovec in = { src, sizeof(src) }, iov[2];
	unsigned n;
	size_t got = 0;

	memset(&c, 0, sizeof(c));
	c.buf = malloc(VSOCK_BUF_ALLOC);
	cr_assert_not_null(c.buf);
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 31 + 7);
	cr_assert_eq(vsock_buf_room(&c), VSOCK_BUF_ALLOC);
	vsock_buf_put(&c, &in, 1, 0, 1000);
	vsock_buf_consume(&c, 1000);
	cr_assert_eq(c.fwd_cnt, 1000);
	/* Fill all of it from offset 1000: it wraps. */
	vsock_buf_put(&c, &in, 1, 0, VSOCK_BUF_ALLOC);
	cr_assert_eq(vsock_buf_room(&c), 0);
	n = vsock_buf_iov(&c, iov);
	cr_assert_eq(n, 2);
	cr_assert_eq(iov[0].iov_len + iov[1].iov_len, VSOCK_BUF_ALLOC);
	for (unsigned i = 0; i < n; i++) {
		memcpy(out + got, iov[i].iov_base, iov[i].iov_len);
		got += iov[i].iov_len;
	}
	cr_assert_eq(memcmp(out, src, VSOCK_BUF_ALLOC), 0, "in order");
	vsock_buf_consume(&c, VSOCK_BUF_ALLOC + 5);
	cr_assert_eq(c.buf_len, 0, "never more than held");
	cr_assert_eq(c.fwd_cnt, 1000 + VSOCK_BUF_ALLOC);
	cr_assert_eq(vsock_buf_iov(&c, iov), 0);
	free(c.buf);
}

Test(virtio_vsock, a_credit_update_is_due_when_the_guest_sees_half_full)
{
	struct vsock_conn c = { 0 };

	c.rx_cnt = VSOCK_BUF_ALLOC / 2 + 1;
	cr_assert(!vsock_conn_credit_due(&c), "nothing was forwarded");
	c.fwd_cnt = c.rx_cnt;
	cr_assert(vsock_conn_credit_due(&c));
	c.fwd_cnt_sent = c.fwd_cnt;
	cr_assert(!vsock_conn_credit_due(&c), "it was told");
	c.rx_cnt += 1000;
	c.fwd_cnt += 1000;
	cr_assert(!vsock_conn_credit_due(&c), "little held in its view");
}

/* ---- the device on a fake VM --------------------------------------- */

static struct fake_vm fvm;
static char dir[64], sock[96];

static int create(uint32_t cid, struct mvm_err *err)
{
	struct vsock_config vc = { .id = "v0", .guest_cid = cid,
				   .uds_path = sock };
	struct virtio_devs_config dc = { .vsock = &vc };

	fake_vm_init(&fvm, 0x100000, 1 << 20);
	return virtio_create_devices(&fvm.ctx, &dc, err);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mvm-vsock-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/v.sock", dir);
}

static void teardown(void)
{
	unlink(sock);
	rmdir(dir);
}

Test(virtio_vsock, the_device_listens_and_says_its_cid, .init = setup,
     .fini = teardown)
{
	struct mvm_err err = { .msg = "" };
	struct virtio_transport *t;
	struct stat st;
	uint64_t cid = 0;

	cr_assert_eq(create(42, &err), 0, "%s", err.msg);
	t = fvm.ctx.virtio_devs;
	cr_assert_eq(t->info.device_id, VIRTIO_ID_VSOCK);
	cr_assert_eq(t->info.nr_queues, 3);
	cr_assert_eq(t->info.config_size, 8);
	t->ops->config_read(t->dev, 0, (uint8_t *)&cid, sizeof(cid));
	cr_assert_eq(cid, 42);
	cr_assert_eq(stat(sock, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	fake_vm_fini(&fvm);
	cr_assert_neq(access(sock, F_OK), 0, "the socket goes with it");
}

/* A socket file bound at the path since is another's: it stays. */
Test(virtio_vsock, only_its_own_socket_file_is_removed, .init = setup,
     .fini = teardown)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct mvm_err err = { .msg = "" };
	int fd;

	cr_assert_eq(create(3, &err), 0, "%s", err.msg);
	cr_assert_eq(unlink(sock), 0);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	fake_vm_fini(&fvm);
	cr_assert_eq(access(sock, F_OK), 0, "the other socket stays");
	close(fd);
}

Test(virtio_vsock, bad_configurations_are_refused, .init = setup,
     .fini = teardown)
{
	struct mvm_err err = { .msg = "" };

	cr_assert_eq(create(2, &err), -EINVAL);
	cr_assert(strstr(err.msg, "guest_cid 2"), "%s", err.msg);
	fake_vm_fini(&fvm);
	/* Not a socket: not ours to replace. */
	cr_assert_eq(mkdir(sock, 0700), 0);
	cr_assert_eq(create(3, &err), -EADDRINUSE);
	cr_assert(strstr(err.msg, sock), "%s", err.msg);
	fake_vm_fini(&fvm);
	rmdir(sock);
}

Test(virtio_vsock, state_comes_back_only_with_the_same_cid, .init = setup,
     .fini = teardown)
{
	static uint8_t blob[65536];
	struct mvm_err err = { .msg = "" };
	struct {
		uint32_t magic, pad;
		uint64_t cid;
	} *h;
	struct vsock *v;
	size_t n;

	cr_assert_eq(create(5, &err), 0, "%s", err.msg);
	v = fvm.ctx.virtio_devs->dev;
	n = virtio_save(fvm.ctx.virtio_devs, blob, sizeof(blob));
	cr_assert_gt(n, sizeof(*h));
	h = (void *)(blob + n - sizeof(*h));
	cr_assert_eq(h->cid, 5, "the model's part is last");
	cr_assert_eq(virtio_load(fvm.ctx.virtio_devs, blob, n), 0);
	cr_assert(v->event_reset_due, "the guest is told of the reset");
	h->cid = 6;
	cr_assert_eq(virtio_load(fvm.ctx.virtio_devs, blob, n), -EINVAL);
	h->cid = 5;
	h->magic ^= 1;
	cr_assert_eq(virtio_load(fvm.ctx.virtio_devs, blob, n), -EINVAL);
	h->magic ^= 1;
	cr_assert_eq(virtio_load(fvm.ctx.virtio_devs, blob, n - 1), -EINVAL);
	fake_vm_fini(&fvm);
}
