/*
 * virtio-vsock's connection table and a connection's buffer of guest
 * bytes (vsock.h). The table is a small array: at most VSOCK_MAX_CONNS
 * connections, each looked up by its two ports.
 */
#include <stdlib.h>
#include <string.h>

#include "mvm/virtio.h"

#include "vsock.h"

struct vsock_conn *vsock_table_find(struct vsock_table *t, uint32_t local,
				    uint32_t peer)
{
	for (unsigned i = 0; i < t->nr; i++) {
		struct vsock_conn *c = t->conns[i];

		if (c->local_port == local && c->peer_port == peer)
			return c;
	}
	return NULL;
}

struct vsock_conn *vsock_table_add(struct vsock_table *t, uint32_t local,
				   uint32_t peer)
{
	struct vsock_conn *c;

	if (t->nr >= VSOCK_MAX_CONNS)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = -1;
	c->rd.c = c;
	c->wr.c = c;
	c->local_port = local;
	c->peer_port = peer;
	t->conns[t->nr++] = c;
	return c;
}

void vsock_table_remove(struct vsock_table *t, struct vsock_conn *c)
{
	for (unsigned i = 0; i < t->nr; i++) {
		if (t->conns[i] == c) {
			t->conns[i] = t->conns[--t->nr];
			return;
		}
	}
}

static bool port_used(const struct vsock_table *t, uint32_t port)
{
	for (unsigned i = 0; i < t->nr; i++)
		if (t->conns[i]->local_port == port)
			return true;
	return false;
}

uint32_t vsock_table_new_port(struct vsock_table *t)
{
	uint32_t p;

	/* At most VSOCK_MAX_CONNS are used: one of the next few is free. */
	do {
		p = t->next_port++;
		if (p < VSOCK_HOST_PORT_FIRST) {
			t->next_port = VSOCK_HOST_PORT_FIRST + 1;
			p = VSOCK_HOST_PORT_FIRST;
		}
	} while (port_used(t, p));
	return p;
}

uint32_t vsock_buf_room(const struct vsock_conn *c)
{
	return VSOCK_BUF_ALLOC - c->buf_len;
}

void vsock_buf_put(struct vsock_conn *c, const struct iovec *iov,
		   unsigned n, size_t off, uint32_t len)
{
	uint32_t tail = (c->buf_head + c->buf_len) % VSOCK_BUF_ALLOC;
	uint32_t first = VSOCK_BUF_ALLOC - tail;

	if (first > len)
		first = len;
	iov_to_buf(iov, n, off, c->buf + tail, first);
	if (len > first)
		iov_to_buf(iov, n, off + first, c->buf, len - first);
	c->buf_len += len;
}

unsigned vsock_buf_iov(const struct vsock_conn *c, struct iovec iov[2])
{
	uint32_t first = VSOCK_BUF_ALLOC - c->buf_head;

	if (!c->buf_len)
		return 0;
	if (first >= c->buf_len) {
		iov[0] = (struct iovec){ c->buf + c->buf_head, c->buf_len };
		return 1;
	}
	iov[0] = (struct iovec){ c->buf + c->buf_head, first };
	iov[1] = (struct iovec){ c->buf, c->buf_len - first };
	return 2;
}

void vsock_buf_consume(struct vsock_conn *c, uint32_t n)
{
	if (n > c->buf_len)
		n = c->buf_len;
	c->buf_head = (c->buf_head + n) % VSOCK_BUF_ALLOC;
	c->buf_len -= n;
	c->fwd_cnt += n;
}

bool vsock_conn_credit_due(const struct vsock_conn *c)
{
	/* What the guest believes is held here: sent minus forwarded. */
	uint32_t seen_held = c->rx_cnt - c->fwd_cnt_sent;

	return c->fwd_cnt != c->fwd_cnt_sent &&
	       seen_held > VSOCK_BUF_ALLOC / 2;
}
