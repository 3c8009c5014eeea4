/*
 * virtio-vsock (virtio 1.2, 5.10) with Firecracker's hybrid backend,
 * shared by its files: the packet header and the pure checks the unit
 * tests drive without a VM (vsock_pkt.c), the connection table
 * (vsock_conn.c), the host's Unix sockets (vsock_uds.c), the device and
 * its queues (vsock.c) and its state (vsock_state.c).
 *
 * The host end of every connection is a Unix stream socket: one a host
 * process opened on the device's uds_path and asked a guest port of
 * ("CONNECT <port>\n", answered "OK <hostport>\n" once the guest accepts),
 * or one the device connected to "<uds_path>_<port>" for a guest that
 * connected to the host's (CID 2) port. Bytes go straight between the
 * sockets and the guest's buffers; a connection buffers only what the
 * guest sent and its socket would not yet take, at most the buf_alloc it
 * advertises to the guest.
 */
#ifndef MVM_VIRTIO_VSOCK_DEV_H
#define MVM_VIRTIO_VSOCK_DEV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "mvm/dev_config.h"
#include "mvm/loop.h"

#define VSOCK_HOST_CID 2

#define VSOCK_TYPE_STREAM 1

enum vsock_op {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

/* SHUTDOWN's flags: the sender will receive (RCV) or send no more. */
#define VSOCK_SHUTDOWN_RCV 1u
#define VSOCK_SHUTDOWN_SEND 2u

#define VSOCK_EVENT_TRANSPORT_RESET 0

/* The queues: the guest's receive buffers, its packets, the events. */
#define VSOCK_RXQ 0
#define VSOCK_TXQ 1
#define VSOCK_EVQ 2
#define VSOCK_QUEUE_SIZE 256

/* struct virtio_vsock_hdr, little-endian like the host. */
struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));

_Static_assert(sizeof(struct vsock_hdr) == 44, "virtio_vsock_hdr");

/* The most payload one packet carries either way (Linux's 64 KiB). */
#define VSOCK_MAX_PKT (64u << 10)
/* What each connection takes from the guest beyond its socket's own. */
#define VSOCK_BUF_ALLOC (256u << 10)
/* Connections at once: a guest or host cannot take more fds than this. */
#define VSOCK_MAX_CONNS 256
/* A host CONNECT line: "CONNECT 4294967295\n" and a little slack. */
#define VSOCK_CONNECT_LINE_MAX 32
/* How long a host has to send its line, and the guest to answer it. */
#define VSOCK_TIMEOUT_MS 2000u
/* Host-initiated connections' local ports: from here, Firecracker's. */
#define VSOCK_HOST_PORT_FIRST (1u << 30)
/* Buffers of one chain: Linux uses one or two. */
#define VSOCK_MAX_SEGS 64
/* Device-level RSTs (no connection) waiting for a receive buffer. */
#define VSOCK_RST_QUEUE 64

/*
 * A packet from the guest, checked against the device's CID: 0 to act
 * on it, or -EINVAL (drop it, nothing to answer: not for us, or
 * malformed beyond an answer) with why set. out_len: the chain's
 * readable bytes, header included.
 */
int vsock_check_tx(const struct vsock_hdr *h, uint32_t out_len,
		   uint64_t guest_cid, const char **why);

/*
 * A host's first line, "CONNECT <port>\n", in buf (len bytes so far):
 * 0 with *port, -EAGAIN while it has no newline yet (and fits), -EINVAL
 * for anything else.
 */
int vsock_parse_connect(const char *buf, size_t len, uint32_t *port);

/*
 * The guest's credit: bytes it can take now, of what it advertised
 * (buf_alloc, fwd_cnt) and what was sent to it (tx_cnt). 0 when the
 * guest's numbers say less than nothing (it is never trusted more).
 */
uint32_t vsock_peer_credit(uint32_t peer_buf_alloc, uint32_t peer_fwd_cnt,
			   uint32_t tx_cnt);

enum vsock_conn_state {
	VSOCK_CONN_HOST_LINE,    /* host socket: reading its CONNECT line */
	VSOCK_CONN_HOST_REQ,     /* REQUEST sent, the guest's answer due */
	VSOCK_CONN_ESTABLISHED,
	VSOCK_CONN_KILLED,       /* socket closed, an RST owed the guest */
	VSOCK_CONN_DEAD,         /* closed; freed once its polls are back */
};

/* Control packets a connection owes the guest (flags of ->owed). */
#define VSOCK_OWE_REQUEST 1u
#define VSOCK_OWE_RESPONSE 2u
#define VSOCK_OWE_RST 4u
#define VSOCK_OWE_SHUTDOWN 8u
#define VSOCK_OWE_CREDIT_UPDATE 16u
#define VSOCK_OWE_CREDIT_REQUEST 32u

/* One poll on a socket, one-shot, counted while armed. */
struct vsock_poll {
	struct loop_op op;
	struct vsock *v;
	struct vsock_conn *c; /* NULL: the listener */
	bool armed;
	bool cancelled; /* a removal is on its way */
};

struct vsock_conn {
	struct vsock_conn *next_dead;
	enum vsock_conn_state state;
	int fd;
	uint32_t local_port; /* the host's end */
	uint32_t peer_port;  /* the guest's end */
	unsigned owed;       /* VSOCK_OWE_* */
	uint32_t shutdown_flags; /* the SHUTDOWN we owe */
	bool readable;       /* the socket may have bytes for the guest */
	bool host_eof;       /* the socket said EOF */
	bool peer_no_rcv;    /* the guest asked for no more data */
	bool peer_no_send;   /* the guest will send no more */
	uint64_t expiry_ns;  /* HOST_LINE, HOST_REQ: when to give up; 0 none */

	/* To the guest: its credit and what it was sent. */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	uint32_t tx_cnt;
	bool credit_asked;   /* a CREDIT_REQUEST went since credit ran out */

	/* From the guest: what it sent, what reached the socket. */
	uint32_t rx_cnt, fwd_cnt;
	uint32_t fwd_cnt_sent; /* the fwd_cnt the guest last heard of */
	uint8_t *buf;          /* VSOCK_BUF_ALLOC bytes, when needed */
	uint32_t buf_head, buf_len; /* a ring: start and bytes held */

	/* HOST_LINE: the CONNECT line so far. */
	char line[VSOCK_CONNECT_LINE_MAX];
	uint32_t line_len;

	struct vsock_poll rd, wr;
};

/* The connection table (vsock_conn.c). */
struct vsock_table {
	struct vsock_conn *conns[VSOCK_MAX_CONNS];
	unsigned nr;
	uint32_t next_port; /* the next host-initiated local port to try */
};

struct vsock_conn *vsock_table_find(struct vsock_table *t, uint32_t local,
				    uint32_t peer);
/* A new connection in the table, fd -1; NULL when full (or no memory). */
struct vsock_conn *vsock_table_add(struct vsock_table *t, uint32_t local,
				   uint32_t peer);
/* Take c out of the table (the caller frees it). */
void vsock_table_remove(struct vsock_table *t, struct vsock_conn *c);
/* A local port no connection uses, for a host-initiated one. */
uint32_t vsock_table_new_port(struct vsock_table *t);

/*
 * The guest's bytes a connection holds for its socket: room left,
 * append (len must fit), and the held bytes as up to two iovecs.
 */
uint32_t vsock_buf_room(const struct vsock_conn *c);
void vsock_buf_put(struct vsock_conn *c, const struct iovec *iov,
		   unsigned n, size_t off, uint32_t len);
unsigned vsock_buf_iov(const struct vsock_conn *c, struct iovec iov[2]);
void vsock_buf_consume(struct vsock_conn *c, uint32_t n);
/*
 * The guest should hear of the space freed: it sent a CREDIT_REQUEST,
 * or less than half its buffer looks free to it while more is.
 */
bool vsock_conn_credit_due(const struct vsock_conn *c);

struct virtio_transport;
struct virtio_queue;
struct dev_ctx;
struct mvm_err;

struct vsock {
	struct dev_ctx *ctx;
	struct virtio_transport *t;
	uint64_t guest_cid;
	char *uds_path; /* owned */
	int listen_fd;
	dev_t uds_dev;  /* the socket file it bound, removed at the end */
	ino_t uds_ino;
	struct vsock_poll listen_poll;

	struct vsock_table table;
	struct vsock_conn *dead; /* closed, waiting for their polls */
	unsigned rr;             /* the next connection the receive serves */

	/* RSTs answering packets of no connection: ports, from the guest's
	 * view (src = the host's port). */
	struct { uint32_t src_port, dst_port; } rsts[VSOCK_RST_QUEUE];
	unsigned nr_rsts;

	bool event_reset_due; /* TRANSPORT_RESET for the event queue */
	bool pumping, pump_again; /* vsock_rx_pump is running */
	bool stopping;        /* reset asked for */
	unsigned armed;       /* polls and the timer in the kernel */

	/* One timer for every connection's expiry. */
	struct loop_op timer_op;
	struct __kernel_timespec timer_ts;
	bool timer_armed, timer_cancelled;

	struct iovec iov[VSOCK_MAX_SEGS];
};

/* vsock_uds.c: the host's sockets. */
int vsock_uds_listen(struct vsock *v, struct mvm_err *err);
void vsock_uds_close_listener(struct vsock *v);
/* Connect to "<uds_path>_<port>"; the fd or -errno. */
int vsock_uds_connect(const struct vsock *v, uint32_t port);
/* Arm what each socket waits for; cancel every poll (pause, reset). */
void vsock_poll_arm(struct vsock *v, struct vsock_poll *p, int fd,
		    unsigned events);
void vsock_poll_cancel(struct vsock *v, struct vsock_poll *p);
/* A host socket's CONNECT line: read what came, act on a whole one. */
void vsock_uds_read_line(struct vsock *v, struct vsock_conn *c);
/* sendmsg without SIGPIPE or blocking: bytes sent or -errno. */
ssize_t vsock_uds_send(int fd, const struct iovec *iov, unsigned n);
/* Write the held guest bytes to the socket; false on a socket error. */
bool vsock_uds_flush(struct vsock *v, struct vsock_conn *c);

/* vsock.c: connections' lives, the polls' and the timer's events. */
/* Forget c here (the guest knows, or never will): close its socket. */
void vsock_conn_close(struct vsock *v, struct vsock_conn *c);
/* Close c's socket and tell the guest with an RST. */
void vsock_conn_kill(struct vsock *v, struct vsock_conn *c);
/* A control packet for the guest, sent by the next vsock_rx_pump. */
void vsock_conn_owe(struct vsock *v, struct vsock_conn *c, unsigned what);
/* An RST answering a guest packet of no connection (its ports). */
void vsock_rst_unknown(struct vsock *v, const struct vsock_hdr *h);
void vsock_poll_done(struct vsock *v, struct vsock_poll *p, int res);
/* A connection waits for a reply or a guest RST: the timer runs. */
void vsock_timer_arm(struct vsock *v);

/* vsock_rx.c: packets to the guest, on its receive queue. */
void vsock_rx_pump(struct vsock *v);
/* vsock_tx.c: the guest's packets. */
void vsock_tx_kick(struct vsock *v, struct virtio_queue *q);

/* Device state for snapshots (vsock_state.c). */
size_t vsock_save(void *dev, void *buf, size_t cap);
int vsock_load(void *dev, const void *buf, size_t len);

#endif
