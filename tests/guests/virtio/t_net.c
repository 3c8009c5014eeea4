/*
 * virtio-net from the guest. The host test answers on the TAP side:
 * every "mvm-ping N" frame (ethertype 0x88b5) comes back as "mvm-pong N",
 * and "mvm-done" as "mvm-done-ack", which also tells the guest the host
 * has seen everything sent before it. spoof=1 also sends frames from a
 * foreign source MAC; the host test decides whether they should arrive.
 */
#include "../lib/cmdline.h"
#include "../lib/palloc.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "tests.h"

#define NET_F_CSUM 0
#define NET_F_GUEST_CSUM 1
#define NET_F_GUEST_TSO4 7
#define NET_F_GUEST_TSO6 8
#define NET_F_HOST_TSO4 11
#define NET_F_HOST_TSO6 12
#define NET_F_MAC 5
#define NET_F_MRG_RXBUF 15
#define NET_F_STATUS 16
#define HDR 12
#define ETHERTYPE 0x88b5
#define RXQ 0
#define TXQ 1
#define MSIX_BASE 0x50
#define NRX 16
#define NRX_GSO 64 /* with GUEST_TSO: room for a 64 KiB frame */
#define RX_BUF 2048
#define PINGS 3

static struct vdev d;
static uint8_t mac[6];
static uint8_t *rx_buf[256]; /* by descriptor index */
static uint8_t *tx_buf;
static bool mrg;

static void post_rx(uint8_t *b)
{
	struct vq *q = &d.q[RXQ];
	struct vbuf v = { (uintptr_t)b, RX_BUF, true };
	uint16_t head = vq_add(q, &v, 1);

	rx_buf[head] = b;
	vq_kick(q, head);
}

static bool send(const uint8_t *src, const char *payload)
{
	size_t n = strlen(payload);
	uint8_t *f = tx_buf + HDR;
	struct vbuf v;

	memset(tx_buf, 0, HDR);
	memset(f, 0xff, 6); /* broadcast */
	memcpy(f + 6, src, 6);
	f[12] = ETHERTYPE >> 8;
	f[13] = ETHERTYPE & 0xff;
	memcpy(f + 14, payload, n);
	/* Pad to the Ethernet minimum. */
	if (n < 46)
		memset(f + 14 + n, 0, 46 - n);
	v = (struct vbuf){ (uintptr_t)tx_buf,
			   (uint32_t)(HDR + 14 + (n < 46 ? 46 : n)), false };
	return vq_call(&d.q[TXQ], &v, 1) == 0;
}

/* Wait for a frame of ours whose payload starts with want. */
static bool recv(const char *want, char *got, size_t size)
{
	size_t wl = strlen(want);

	for (int tries = 0; tries < 64; tries++) {
		struct vused u;
		uint8_t *b;

		if (!vq_wait(&d.q[RXQ], &u) || u.id >= 256 || !rx_buf[u.id])
			return false;
		b = rx_buf[u.id];
		uint8_t *f = b + HDR;
		bool ours = u.len > HDR + 14 && f[12] == (ETHERTYPE >> 8) &&
			    f[13] == (ETHERTYPE & 0xff);
		uint16_t nb = (uint16_t)(b[10] | b[11] << 8);

		if (ours) {
			size_t n = u.len - HDR - 14;

			if (n >= size)
				n = size - 1;
			memcpy(got, f + 14, n);
			got[n] = 0;
			if (mrg && nb != 1)
				fail("net num_buffers", "%u", nb);
		}
		post_rx(b);
		if (ours && !strncmp(got, want, wl))
			return true;
	}
	return false;
}

static void check_mac(const struct bootinfo *bi)
{
	char want[24], got[24];

	ksnprintf(got, sizeof(got), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0],
		  mac[1], mac[2], mac[3], mac[4], mac[5]);
	kprintf("net mac %s\n", got);
	if (cmdline_str(bi->cmdline, "mac", want, sizeof(want)) == 1)
		check("net mac", !strcmp(want, got), "%s, want %s", got, want);
	check("net link up", vdev_cfg16(&d, 6) & 1, "status 0x%x",
	      vdev_cfg16(&d, 6));
}

void test_net(const struct bootinfo *bi)
{
	uint64_t want = ring_features(bi) | VBIT(NET_F_MAC) |
			VBIT(NET_F_STATUS);
	bool offload = cmdline_u64_or(bi->cmdline, "offload", 0);
	int nrx = offload ? NRX_GSO : NRX;
	uint8_t *pool = palloc_pages((unsigned)nrx * RX_BUF / PAGE_SIZE);
	static const uint8_t foreign[6] = { 2, 0, 0, 0, 0, 0x99 };
	char msg[64], got[64];
	int pongs = 0;

	if (cmdline_u64_or(bi->cmdline, "mrg", 1))
		want |= VBIT(NET_F_MRG_RXBUF);
	if (offload)
		want |= VBIT(NET_F_CSUM) | VBIT(NET_F_GUEST_CSUM) |
			VBIT(NET_F_GUEST_TSO4) | VBIT(NET_F_GUEST_TSO6) |
			VBIT(NET_F_HOST_TSO4) | VBIT(NET_F_HOST_TSO6);
	tx_buf = palloc_page();
	if (!vdev_open(&d, VIRTIO_ID_NET, 0) || !vdev_negotiate(&d, want)) {
		fail("net open", "no virtio-net device or features refused");
		return;
	}
	mrg = d.features & VBIT(NET_F_MRG_RXBUF);
	if (offload)
		check("net offloads offered", (d.features & want) == want,
		      "features 0x%llx", (unsigned long long)d.features);
	vdev_msix(&d, MSIX_BASE);
	if (!vdev_queue(&d, RXQ, 0, 0) || !vdev_queue(&d, TXQ, 0, 1)) {
		fail("net queues", "cannot set up");
		return;
	}
	for (int i = 0; i < 6; i++)
		mac[i] = vdev_cfg8(&d, (unsigned)i);
	check_mac(bi);
	for (int i = 0; i < nrx; i++)
		post_rx(pool + i * RX_BUF);
	vdev_driver_ok(&d);

	for (int i = 0; i < PINGS; i++) {
		ksnprintf(msg, sizeof(msg), "mvm-ping %d", i);
		if (!send(mac, msg))
			fail("net send", "%s not completed", msg);
	}
	for (int i = 0; i < PINGS; i++) {
		ksnprintf(msg, sizeof(msg), "mvm-pong %d", i);
		if (recv("mvm-pong", got, sizeof(got)) && !strcmp(got, msg))
			pongs++;
	}
	check("net echo", pongs == PINGS, "%d of %d replies", pongs, PINGS);
	check("net rx msix", lapic_irr(MSIX_BASE + RXQ),
	      "vector 0x%x not pending", MSIX_BASE + RXQ);
	if (cmdline_u64_or(bi->cmdline, "spoof", 0)) {
		for (int i = 0; i < 2; i++) {
			ksnprintf(msg, sizeof(msg), "mvm-spoof %d", i);
			check("net spoofed frame completed",
			      send(foreign, msg), "no completion");
		}
	}
	check("net done", send(mac, "mvm-done") &&
	      recv("mvm-done-ack", got, sizeof(got)), "no mvm-done-ack");
	/* A receive is always pending on the backend: reset must end it. */
	vdev_reset(&d);
	check("net reset with a receive pending", vdev_status(&d) == 0,
	      "status 0x%x", vdev_status(&d));
}
