/*
 * The virtio-net benchmark's guest side (bench/net). Three phases, each
 * bracketed by "bench start NAME" and "bench done NAME ..." lines that the
 * host timestamps (so guest and host clocks need not agree):
 *
 *   tx_big    big=N frames of 64 KiB, one TSO (GSO TCPv4) frame each with
 *             a virtio-net header asking for checksum offload, when the
 *             device offers HOST_TSO4; otherwise 1514-byte frames, and the
 *             done line says so. The host counts what reached the tap.
 *   tx_small  small=N 60-byte frames (64 on a wire with the FCS).
 *   rx        rx=1: 60-byte frames the host sends into the tap, counted
 *             until the host's end marker arrives.
 *
 * Ring-0 code is slow on some hosts (a software KVM emulates it), so the
 * hot loops do the least a correct driver can: descriptors and frames are
 * built once, a used buffer costs one load and one store to recycle, the
 * avail index is published for a batch at a time with one notification at
 * most (EVENT_IDX's avail_event decides), and interrupts are off (no MSI-X
 * vector, used_event kept out of reach). After the device is set up the
 * phases run in ring 3 (user.h), which such a host runs natively in a
 * 64-bit kernel; the 32-bit build keeps them in ring 0.
 *
 * The guest checks itself too: every used element must be one of its
 * descriptors and, on receive, the frames it looks at must be the host's,
 * with sequence numbers that only grow; bench/net checks the host's side.
 */
#include "../lib/cmdline.h"
#include "../lib/palloc.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "../lib/user.h"
#include "tests.h"

#define NET_F_CSUM 0
#define NET_F_MAC 5
#define NET_F_HOST_TSO4 11
#define RXQ 0
#define TXQ 1
#define QSIZE 256
#define HDR 12 /* virtio_net_hdr_v1 */
#define BIG_FRAME 65536
#define MTU_FRAME 1514
#define SMALL_FRAME 60
#define BIG_BUFS 16 /* distinct 64 KiB frames, 1 MiB: not all cache-hot */
#define RX_BUF 2048
#define ETHERTYPE 0x88b5
#define AVAIL_NO_INTERRUPT 1
#define USED_NO_NOTIFY 1
#define NO_VECTOR 0xffff

/* The host's receive-phase frames: this tag, a sequence number, a kind. */
#define RX_TAG "mvmb"
#define RX_DATA 0
#define RX_END 1

struct netbench {
	struct vdev d;
	bool event_idx;
	uint8_t mac[6];
	uint8_t *rx_buf; /* QSIZE buffers of RX_BUF bytes, by descriptor */
};

static inline void barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

static inline void mb(void)
{
	__asm__ volatile("lock; addl $0,(%%" SP ")" ::: "memory");
}

static volatile uint16_t *used_event(struct vq *q)
{
	return &q->avail[2 + q->size];
}

static volatile uint16_t *avail_event(struct vq *q)
{
	return &q->used[2 + 4 * q->size];
}

static volatile struct vused *used_elem(struct vq *q, uint16_t i)
{
	return (volatile struct vused *)&q->used[2] + (i & (q->size - 1));
}

/* Publish the avail index; notify only when the device asked for it. */
static void publish(struct netbench *b, struct vq *q, uint16_t old)
{
	uint16_t now = q->avail_idx, ev;

	barrier();
	q->avail[1] = now;
	mb();
	if (b->event_idx) {
		ev = *avail_event(q);
		if ((uint16_t)(now - ev - 1) >= (uint16_t)(now - old))
			return;
	} else if (q->used[0] & USED_NO_NOTIFY) {
		return;
	}
	*q->notify = q->index;
}

/*
 * The device interrupts when the used index passes used_event: keep that
 * a full lap behind, so it never does (no vector is set either, but the
 * device would still have to signal one).
 */
static void no_interrupts(struct netbench *b, struct vq *q)
{
	if (b->event_idx)
		*used_event(q) = (uint16_t)(q->last_used - 1);
	else
		q->avail[0] = AVAIL_NO_INTERRUPT;
}

/*
 * Take back every used buffer and put its descriptor on the avail ring
 * again: that is the per-frame cost, so the loop is kept to a load, a
 * store and the index arithmetic (each instruction counts where ring 0 is
 * emulated); ids are range-checked once per batch. Returns how many came
 * back, or -1 for an id that is not a descriptor.
 */
static int recycle(struct vq *q)
{
	uint16_t used = q->used[1], n = (uint16_t)(used - q->last_used);
	const volatile uint32_t *ue = (const volatile uint32_t *)&q->used[2];
	volatile uint16_t *av = &q->avail[2];
	uint32_t from = q->last_used, to = q->avail_idx, ids = 0;

	barrier();
	for (uint32_t i = 0; i < n; i++) {
		uint32_t id = ue[2 * ((from + i) & (QSIZE - 1))];

		ids |= id;
		av[(to + i) & (QSIZE - 1)] = (uint16_t)id;
	}
	q->last_used = used;
	return ids < QSIZE ? n : -1;
}

struct tx_job {
	struct netbench *b;
	uint32_t n;
};

/* Keep the ring full until n frames are back. 0, or -1. */
static int tx_loop(void *arg)
{
	struct tx_job *j = arg;
	struct netbench *b = j->b;
	struct vq *q = &b->d.q[TXQ];
	uint32_t n = j->n, completed = 0;
	uint32_t published = n < QSIZE ? n : QSIZE;
	uint16_t old = q->avail_idx;

	q->avail_idx = (uint16_t)(q->avail_idx + published);
	publish(b, q, old);
	while (completed < n) {
		int got = recycle(q);

		if (got < 0)
			return -1;
		if (!got) {
			__asm__ volatile("pause");
			continue;
		}
		completed += (uint32_t)got;
		no_interrupts(b, q);
		if (published < n) {
			uint32_t more = n - published < (uint32_t)got
						? n - published : (uint32_t)got;

			old = q->avail_idx;
			q->avail_idx = (uint16_t)(q->avail_idx + more);
			published += more;
			publish(b, q, old);
		}
	}
	return 0;
}

/*
 * Send n frames of len bytes (virtio-net header included) from bufs
 * distinct buffers, stride bytes apart, each already holding header and
 * frame. The ring starts full and every recycled descriptor goes straight
 * back.
 */
static bool tx_run(struct netbench *b, uint8_t *frames, uint32_t stride,
		   unsigned bufs, uint32_t len, uint32_t n)
{
	struct vq *q = &b->d.q[TXQ];
	struct tx_job j = { b, n };

	for (unsigned i = 0; i < QSIZE; i++) {
		q->desc[i] = (struct vdesc){
			(uintptr_t)(frames + (i % bufs) * stride), len, 0, 0 };
		q->avail[2 + ((q->avail_idx + i) & (QSIZE - 1))] = (uint16_t)i;
	}
	no_interrupts(b, q);
	if (tx_loop(&j)) {
		fail("bench_net", "transmit: used id out of range");
		return false;
	}
	return true;
}

static uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Destination: a unicast MAC nobody on the host has, so the host's stack
 * drops each frame at once and the figure is the VMM's path to the tap. */
static const uint8_t dst_mac[6] = { 2, 0, 0, 0, 0, 2 };

static void eth(struct netbench *b, uint8_t *f, uint16_t type)
{
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, b->mac, 6);
	put16(f + 12, type);
}

/*
 * A TCP/IPv4 frame of len bytes at f (virtio-net header at f - HDR).
 * With tso, the header asks the device for segmentation into MSS 1448
 * and a TCP checksum (checksum field preset to the pseudo-header sum, as
 * CHECKSUM_PARTIAL wants).
 */
static void tcp_frame(struct netbench *b, uint8_t *f, uint32_t len, bool tso)
{
	uint8_t *h = f - HDR, *ip = f + 14, *tcp = ip + 20;
	uint16_t ip_len = (uint16_t)(len - 14);
	uint32_t s = 0;

	if (tso) {
		h[0] = 1;                     /* NEEDS_CSUM */
		h[1] = 1;                     /* GSO_TCPV4 */
		h[2] = 54; h[3] = 0;          /* hdr_len */
		h[4] = 1448 & 0xff; h[5] = 1448 >> 8; /* gso_size */
		h[6] = 34; h[7] = 0;          /* csum_start: TCP header */
		h[8] = 16; h[9] = 0;          /* csum_offset: TCP checksum */
	}
	eth(b, f, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, ip_len);
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, "\x0a\x00\x00\x02\x0a\x00\x00\x01", 8);
	for (int i = 0; i < 20; i += 2)
		s += (uint32_t)ip[i] << 8 | ip[i + 1];
	put16(ip + 10, (uint16_t)~csum_fold(s));
	put16(tcp, 40000);
	put16(tcp + 2, 5001);
	tcp[12] = 5 << 4;
	tcp[13] = 0x18; /* PSH, ACK */
	put16(tcp + 14, 65535);
	/* Pseudo-header: addresses, protocol, TCP length. */
	s = 0x0a00 + 0x0002 + 0x0a00 + 0x0001 + 6 + (uint32_t)(ip_len - 20);
	put16(tcp + 16, csum_fold(s));
}

static bool phase_tx_big(struct netbench *b, uint32_t n)
{
	bool tso = b->d.features & VBIT(NET_F_HOST_TSO4);
	uint32_t frame = tso ? BIG_FRAME : MTU_FRAME;
	uint32_t stride = (HDR + BIG_FRAME + 4095) & ~4095u;
	uint8_t *frames = palloc_pages(BIG_BUFS * stride / PAGE_SIZE);

	if (!frames) {
		fail("bench_net", "out of memory for 64 KiB frames");
		return false;
	}
	for (unsigned i = 0; i < BIG_BUFS; i++)
		tcp_frame(b, frames + i * stride + HDR, frame, tso);
	kprintf("bench start tx_big\n");
	if (!tx_run(b, frames, stride, BIG_BUFS, HDR + frame, n))
		return false;
	kprintf("bench done tx_big frames=%u frame_bytes=%u tso=%d\n", n, frame,
		tso ? 1 : 0);
	return true;
}

static bool phase_tx_small(struct netbench *b, uint32_t n)
{
	uint8_t *frames = palloc_pages(1);

	if (!frames) {
		fail("bench_net", "out of memory");
		return false;
	}
	/* Eight copies, 128 bytes apart: the same few cache lines. */
	for (unsigned i = 0; i < 8; i++) {
		eth(b, frames + i * 128 + HDR, ETHERTYPE);
		memcpy(frames + i * 128 + HDR + 14, "mvm-bench", 9);
	}
	kprintf("bench start tx_small\n");
	if (!tx_run(b, frames, 128, 8, HDR + SMALL_FRAME, n))
		return false;
	kprintf("bench done tx_small frames=%u frame_bytes=%u\n", n,
		SMALL_FRAME);
	return true;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* The kind of the host frame in descriptor id, or -1 if it is not one. */
static int rx_kind(struct netbench *b, uint32_t id, uint32_t len,
		   uint32_t *seq)
{
	const uint8_t *f = b->rx_buf + id * RX_BUF + HDR;

	if (len < HDR + 14 + 9 || f[12] != (ETHERTYPE >> 8) ||
	    f[13] != (ETHERTYPE & 0xff) || memcmp(f + 14, RX_TAG, 4))
		return -1;
	*seq = get32(f + 18);
	return f[22];
}

enum { RX_OK, RX_BAD_ID, RX_FOREIGN, RX_SEQ };

struct rx_job {
	struct netbench *b;
	uint32_t frames, last_seq, bad_len, bad_seq;
};

/*
 * Receive until the host's end marker. Only the newest frame of
 * each batch is looked at (the rest are recycled unread); once that is an
 * end marker, the markers before it in the batch are counted back out.
 */
static int rx_loop(void *arg)
{
	struct rx_job *j = arg;
	struct netbench *b = j->b;
	struct vq *q = &b->d.q[RXQ];
	uint32_t seq;
	bool any = false;

	for (;;) {
		uint16_t from = q->last_used, old;
		int got = recycle(q), kind;
		volatile struct vused *e;

		if (got < 0)
			return RX_BAD_ID;
		if (!got) {
			__asm__ volatile("pause");
			continue;
		}
		e = used_elem(q, (uint16_t)(from + got - 1));
		kind = rx_kind(b, e->id, e->len, &seq);
		if (kind == RX_END) {
			int data = got;

			/* Markers follow all data: count them back out. */
			while (data > 0) {
				e = used_elem(q, (uint16_t)(from + data - 1));
				if (rx_kind(b, e->id, e->len, &seq) != RX_END)
					break;
				data--;
			}
			j->frames += (uint32_t)data;
			return RX_OK;
		}
		if (kind != RX_DATA) {
			j->bad_len = e->len;
			return RX_FOREIGN;
		}
		/* Drops only skip numbers: seq >= frames received - 1. */
		if ((any && seq <= j->last_seq) ||
		    seq + 1 < j->frames + (uint32_t)got) {
			j->bad_seq = seq;
			return RX_SEQ;
		}
		any = true;
		j->last_seq = seq;
		j->frames += (uint32_t)got;
		no_interrupts(b, q);
		old = q->avail_idx;
		q->avail_idx = (uint16_t)(q->avail_idx + got);
		publish(b, q, old);
	}
}

static bool phase_rx(struct netbench *b)
{
	struct rx_job j = { .b = b };

	kprintf("bench start rx\n");
	switch (rx_loop(&j)) {
	case RX_OK:
		break;
	case RX_BAD_ID:
		fail("bench_net", "receive: used id out of range");
		return false;
	case RX_FOREIGN:
		fail("bench_net", "receive: a frame that is not the host's "
		     "(len %u)", j.bad_len);
		return false;
	default:
		fail("bench_net", "receive: sequence %u after %u, %u frames",
		     j.bad_seq, j.last_seq, j.frames);
		return false;
	}
	kprintf("bench done rx frames=%u last_seq=%u\n", j.frames, j.last_seq);
	return true;
}

static bool setup(struct netbench *b, const struct bootinfo *bi)
{
	uint64_t want = VBIT(VIRTIO_F_VERSION_1) | VBIT(NET_F_MAC) |
			VBIT(NET_F_CSUM) | VBIT(NET_F_HOST_TSO4);
	struct vq *rq;

	b->event_idx = cmdline_u64_or(bi->cmdline, "event_idx", 1);
	if (b->event_idx)
		want |= VBIT(VIRTIO_F_EVENT_IDX);
	if (!vdev_open(&b->d, VIRTIO_ID_NET, 0) ||
	    !vdev_negotiate(&b->d, want)) {
		fail("bench_net", "no virtio-net device or features refused");
		return false;
	}
	b->event_idx = b->d.features & VBIT(VIRTIO_F_EVENT_IDX);
	if (!vdev_queue(&b->d, RXQ, QSIZE, NO_VECTOR) ||
	    !vdev_queue(&b->d, TXQ, QSIZE, NO_VECTOR) ||
	    b->d.q[RXQ].size != QSIZE || b->d.q[TXQ].size != QSIZE) {
		fail("bench_net", "cannot set up two %u-entry queues", QSIZE);
		return false;
	}
	for (int i = 0; i < 6; i++)
		b->mac[i] = vdev_cfg8(&b->d, (unsigned)i);
	b->rx_buf = palloc_pages(QSIZE * RX_BUF / PAGE_SIZE);
	if (!b->rx_buf) {
		fail("bench_net", "out of memory for receive buffers");
		return false;
	}
	/* Every receive buffer is posted from the start, one per entry. */
	rq = &b->d.q[RXQ];
	for (unsigned i = 0; i < QSIZE; i++) {
		rq->desc[i] = (struct vdesc){ (uintptr_t)(b->rx_buf + i * RX_BUF),
					      RX_BUF, VQ_F_WRITE, 0 };
		rq->avail[2 + i] = (uint16_t)i;
	}
	no_interrupts(b, rq);
	rq->avail_idx = QSIZE;
	rq->avail[1] = QSIZE;
	vdev_driver_ok(&b->d);
	kprintf("bench_net features 0x%llx event_idx=%d\n",
		(unsigned long long)b->d.features, b->event_idx ? 1 : 0);
	return true;
}

struct phases {
	struct netbench *b;
	uint32_t big, small;
	bool rx;
};

/* Runs in ring 3 where the kernel can (see user.h). */
static void run_phases(void *arg)
{
	struct phases *p = arg;

	kprintf("bench_net ring=%u\n", user_mode() ? 3 : 0);
	if (p->big && !phase_tx_big(p->b, p->big))
		return;
	if (p->small && !phase_tx_small(p->b, p->small))
		return;
	if (p->rx && !phase_rx(p->b))
		return;
	pass("bench_net");
}

void test_bench_net(const struct bootinfo *bi)
{
	struct netbench b;
	struct phases p = {
		.b = &b,
		.big = (uint32_t)cmdline_u64_or(bi->cmdline, "big", 20000),
		.small = (uint32_t)cmdline_u64_or(bi->cmdline, "small", 200000),
		.rx = cmdline_u64_or(bi->cmdline, "rx", 1),
	};

	memset(&b, 0, sizeof(b));
	if (!setup(&b, bi))
		return;
	/* The device is live: the phases need nothing from ring 0. */
	user_run(bi, run_phases, &p);
}
