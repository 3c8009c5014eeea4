/*
 * MMDS's carriage (src/net/mmds_net.c) on a real loop: which frames it
 * takes off a NIC (ARP requests for its address, IPv4 to it), and a whole
 * exchange in raw frames: ARP answered, a SYN answered, a GET whose TCP
 * checksum the guest left to the device (NEEDS_CSUM) answered from the
 * store.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <json-c/json.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/loop.h"
#include "mvm/mmds.h"
#include "mvm/mmds_net.h"

#define VHDR 12
#define MMDS_IP 0xa9fea9feu
#define GUEST_IP 0x0a000002u
#define GUEST_PORT 40000

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

struct sink {
	uint8_t frames[32][1600];
	size_t len[32];
	unsigned n;
};

static struct loop loop;
static struct mmds *store;
static struct mmds_net *mn;
static struct sink sink;

static void sink_out(void *opaque, const void *frame, size_t len)
{
	struct sink *k = opaque;

	if (k->n < 32 && len <= sizeof(k->frames[0])) {
		memcpy(k->frames[k->n], frame, len);
		k->len[k->n++] = len;
	}
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint32_t sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (; n > 1; p += 2, n -= 2)
		s += get16(p);
	if (n)
		s += (uint32_t)p[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static void setup(void)
{
	struct mvm_err err = { 0 };
	struct json_object *doc = json_tokener_parse("{\"a\": \"hello\"}");

	cr_assert_eq(loop_init(&loop, 64, &err), 0, "%s", err.msg);
	cr_assert_eq(mmds_new(&store, 4096, &err), 0);
	cr_assert_eq(mmds_put(store, doc, &err), 0);
	json_object_put(doc);
	memset(&sink, 0, sizeof(sink));
	cr_assert_eq(mmds_net_new(&mn, store, MMDS_IP, &loop, sink_out,
				  &sink, &err), 0, "%s", err.msg);
}

static void teardown(void)
{
	mmds_net_free(mn);
	mmds_free(store);
	loop_fini(&loop);
}

TestSuite(mmds_net, .init = setup, .fini = teardown);

/* An ARP request for tip, after a zeroed virtio header; its length. */
static size_t arp(uint8_t *b, uint16_t op, uint32_t tip)
{
	uint8_t *f = b + VHDR, *a = f + 14;

	memset(b, 0, VHDR + 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0806);
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, guest_mac, 6);
	put32(a + 14, GUEST_IP);
	put32(a + 24, tip);
	return VHDR + 60;
}

/*
 * A TCP segment to MMDS's port 80. csum_partial: only the pseudo-header's
 * sum in the checksum field and NEEDS_CSUM in the virtio header, as a
 * guest with checksum offload sends it.
 */
static size_t tcp_port(uint8_t *b, uint16_t sport, uint32_t dst,
		       uint8_t flags, uint32_t seq, uint32_t ack,
		       const char *data, bool csum_partial)
{
	size_t n = strlen(data);
	uint8_t *f = b + VHDR, *ip = f + 14, *t = ip + 20;
	uint32_t ph;

	memset(b, 0, VHDR + 14 + 40 + n + 8);
	memset(f, 0x52, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(40 + n));
	ip[8] = 64;
	ip[9] = 6;
	put32(ip + 12, GUEST_IP);
	put32(ip + 16, dst);
	put16(ip + 10, (uint16_t)~sum(ip, 20, 0));
	put16(t, sport);
	put16(t + 2, 80);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = 5 << 4;
	t[13] = flags;
	put16(t + 14, 0xffff);
	if (n)
		memcpy(t + 20, data, n);
	ph = sum(ip + 12, 8, 6 + 20 + (uint32_t)n);
	if (csum_partial) {
		b[0] = 1;                 /* VIRTIO_NET_HDR_F_NEEDS_CSUM */
		put16(t + 16, (uint16_t)ph);
		b[6] = 14 + 20;           /* csum_start, little-endian */
		b[8] = 16;                /* csum_offset */
	} else {
		put16(t + 16, (uint16_t)~sum(t, 20 + n, ph));
	}
	return VHDR + 14 + 40 + n;
}

static size_t tcp(uint8_t *b, uint32_t dst, uint8_t flags, uint32_t seq,
		  uint32_t ack, const char *data, bool csum_partial)
{
	return tcp_port(b, GUEST_PORT, dst, flags, seq, ack, data,
			csum_partial);
}

static bool wants(const uint8_t *b, size_t len)
{
	return mmds_net_wants(mn, b + VHDR, len - VHDR);
}

Test(mmds_net, takes_arp_requests_and_ipv4_for_its_address)
{
	uint8_t b[256];
	size_t n;

	cr_assert(wants(b, arp(b, 1, MMDS_IP)));
	cr_assert_not(wants(b, arp(b, 1, MMDS_IP + 1)), "another address");
	cr_assert_not(wants(b, arp(b, 2, MMDS_IP)), "a reply");
	cr_assert(wants(b, tcp(b, MMDS_IP, 0x02, 1, 0, "", false)));
	cr_assert_not(wants(b, tcp(b, 0x0a000001, 0x02, 1, 0, "", false)));
	n = arp(b, 1, MMDS_IP);
	cr_assert_not(mmds_net_wants(mn, b + VHDR, MMDS_NET_PEEK - 1),
		      "a frame too short to tell");
	b[VHDR + 12] = 0x86; /* IPv6's ethertype */
	b[VHDR + 13] = 0xdd;
	cr_assert_not(wants(b, n));
}

/* The TCP segment in frame i of the sink: its flags, seq, payload. */
static const uint8_t *segment_to(unsigned i, uint16_t *dport,
				 uint8_t *flags, uint32_t *seq, size_t *len)
{
	const uint8_t *f = sink.frames[i], *ip = f + 14, *t;

	if (sink.len[i] < 54 || get16(f + 12) != 0x0800 || ip[9] != 6 ||
	    get32(ip + 12) != MMDS_IP || get32(ip + 16) != GUEST_IP)
		return NULL;
	t = ip + (ip[0] & 15) * 4;
	*dport = get16(t + 2);
	*flags = t[13];
	*seq = get32(t + 4);
	*len = get16(ip + 2) - (size_t)(ip[0] & 15) * 4 -
	       (size_t)(t[12] >> 4) * 4;
	return t + (t[12] >> 4) * 4;
}

static const uint8_t *segment(unsigned i, uint8_t *flags, uint32_t *seq,
			      size_t *len)
{
	uint16_t dport;

	return segment_to(i, &dport, flags, seq, len);
}

/* Let slirp's timers run a little: nothing to wait for but time. */
static bool never(void *ctx)
{
	(void)ctx;
	return false;
}

Test(mmds_net, answers_arp_syn_and_a_get)
{
	static const char req[] = "GET /a HTTP/1.1\r\n\r\n";
	uint8_t b[512], flags = 0;
	uint32_t seq = 0, srv = 0;
	const uint8_t *data;
	bool synack = false, answered = false;
	size_t len;

	mmds_net_input(mn, b, arp(b, 1, MMDS_IP), VHDR);
	cr_assert_eq(sink.n, 1, "ARP: %u frames", sink.n);
	cr_assert_eq(get16(sink.frames[0] + 12), 0x0806);
	cr_assert_eq(get16(sink.frames[0] + 20), 2, "an ARP reply");
	cr_assert_eq(get32(sink.frames[0] + 28), MMDS_IP, "from the address");
	cr_assert_eq(memcmp(sink.frames[0] + 32, guest_mac, 6), 0);

	sink.n = 0;
	mmds_net_input(mn, b, tcp(b, MMDS_IP, 0x02, 1000, 0, "", false), VHDR);
	loop_run_until(&loop, never, NULL, 10);
	for (unsigned i = 0; i < sink.n; i++)
		if (segment(i, &flags, &seq, &len) && flags == 0x12) {
			synack = true;
			srv = seq;
		}
	cr_assert(synack, "no SYN-ACK among %u frames", sink.n);

	sink.n = 0;
	mmds_net_input(mn, b, tcp(b, MMDS_IP, 0x18, 1001, srv + 1, req, true),
		       VHDR);
	loop_run_until(&loop, never, NULL, 10);
	for (unsigned i = 0; i < sink.n; i++) {
		data = segment(i, &flags, &seq, &len);
		if (data && len && !memcmp(data, "HTTP/1.1 200 ", 13)) {
			cr_assert(memmem(data, len, "\r\n\r\nhello", 9),
				  "%.*s", (int)len, data);
			answered = true;
		}
	}
	cr_assert(answered, "no answer among %u frames", sink.n);
}

/*
 * Firecracker's mmds metrics, in the store: every frame taken counts in
 * rx_accepted, then as handed on (rx_count), too short (rx_bad_eth) or
 * dropped (rx_accepted_err); the stack's frames in tx_frames, tx_bytes.
 */
Test(mmds_net, counts_what_it_takes_and_sends)
{
	struct mmds_counters *c = mmds_counters(store);
	uint8_t b[512];
	size_t len;

	mmds_net_input(mn, b, arp(b, 1, MMDS_IP), VHDR);
	cr_assert_eq(c->rx_accepted, 1);
	cr_assert_eq(c->rx_count, 1);
	cr_assert_eq(c->tx_frames, sink.n, "%u frames", sink.n);
	cr_assert_eq(c->tx_frames, 1);
	cr_assert_eq(c->tx_bytes, sink.len[0]);
	mmds_net_input(mn, b, VHDR + 10, VHDR);
	cr_assert_eq(c->rx_bad_eth, 1);
	len = tcp(b, MMDS_IP, 0x02, 1000, 0, "", false);
	b[1] = 1; /* VIRTIO_NET_HDR_GSO_TCPV4 */
	mmds_net_input(mn, b, len, VHDR);
	cr_assert_eq(c->rx_accepted_err, 1);
	cr_assert_eq(c->rx_accepted, 3);
	cr_assert_eq(c->rx_count, 1, "nothing more handed on");
	cr_assert_eq(c->tx_frames, 1, "nothing more sent");
}

/* The server's SYN-ACK sequence number for the guest's port, or -1. */
static int64_t synack_for(uint16_t port)
{
	uint16_t dport;
	uint8_t flags;
	uint32_t seq;
	size_t len;

	for (unsigned i = 0; i < sink.n; i++)
		if (segment_to(i, &dport, &flags, &seq, &len) &&
		    dport == port && flags == 0x12)
			return seq;
	return -1;
}

/* Whether an answer with body want reached the guest's port. */
static bool answered_on(uint16_t port, const char *want)
{
	const uint8_t *data;
	uint16_t dport;
	uint8_t flags;
	uint32_t seq;
	size_t len;

	for (unsigned i = 0; i < sink.n; i++) {
		data = segment_to(i, &dport, &flags, &seq, &len);
		if (data && dport == port && len &&
		    !memcmp(data, "HTTP/1.1 200 ", 13) &&
		    memmem(data, len, want, strlen(want)))
			return true;
	}
	return false;
}

/*
 * Two connections open at once, each with a request sent in two halves
 * interleaved with the other's: each gets its own answer, on its own
 * port (one parser per connection; a shared one would mix the halves).
 */
Test(mmds_net, serves_two_connections_at_once)
{
	static const uint16_t port[2] = { 40001, 40002 };
	static const char *half[2] = { "GET /a HTT", "P/1.1\r\n\r\n" };
	uint8_t b[512];
	int64_t srv[2];
	uint32_t off[2] = { 0, 0 };

	mmds_net_input(mn, b, arp(b, 1, MMDS_IP), VHDR);
	for (int c = 0; c < 2; c++) {
		sink.n = 0;
		mmds_net_input(mn, b, tcp_port(b, port[c], MMDS_IP, 0x02,
					       1000, 0, "", false), VHDR);
		loop_run_until(&loop, never, NULL, 10);
		srv[c] = synack_for(port[c]);
		cr_assert_geq(srv[c], 0, "no SYN-ACK for port %u", port[c]);
	}
	for (int h = 0; h < 2; h++)
		for (int c = 0; c < 2; c++) {
			mmds_net_input(mn, b, tcp_port(b, port[c], MMDS_IP, 0x18,
						       1001 + off[c],
						       (uint32_t)srv[c] + 1,
						       half[h], false), VHDR);
			off[c] += (uint32_t)strlen(half[h]);
		}
	cr_assert_eq(mmds_net_connections(mn), 2, "%u connections",
		     mmds_net_connections(mn));
	sink.n = 0;
	loop_run_until(&loop, never, NULL, 20);
	for (int c = 0; c < 2; c++)
		cr_assert(answered_on(port[c], "\r\n\r\nhello"),
			  "no answer on port %u among %u frames", port[c],
			  sink.n);
}

/* The file descriptors this process has open. */
static unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	cr_assert(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n - 3; /* ".", ".." and the directory's own */
}

/* The guest's segment to MMDS from port with flags RST|ACK, if one. */
static bool reset_on(uint16_t port, uint32_t *ack)
{
	for (unsigned i = 0; i < sink.n; i++) {
		const uint8_t *f = sink.frames[i], *t = f + 14 + 20;

		if (sink.len[i] >= 54 && get16(f + 12) == 0x0800 &&
		    get32(f + 26) == MMDS_IP && get16(t + 2) == port &&
		    t[13] == 0x14) {
			*ack = get32(t + 8);
			return true;
		}
	}
	return false;
}

/*
 * SYN from port, then the ACK of the SYN-ACK: 1 when the connection
 * opened, 0 when it was refused with RST|ACK for the SYN, -1 neither.
 */
static int handshake(uint16_t port)
{
	uint8_t b[512];
	uint32_t ack = 0;
	int64_t srv;

	sink.n = 0;
	mmds_net_input(mn, b, tcp_port(b, port, MMDS_IP, 0x02, 1000, 0, "",
				       false), VHDR);
	if (reset_on(port, &ack))
		return ack == 1001 ? 0 : -1;
	srv = synack_for(port);
	if (srv < 0)
		return -1;
	mmds_net_input(mn, b, tcp_port(b, port, MMDS_IP, 0x10, 1001,
				       (uint32_t)srv + 1, "", false), VHDR);
	return 1;
}

/*
 * A guest that opens connections and never closes them holds at most
 * MMDS_NET_CONNS_MAX: the next SYNs are refused with RST|ACK, and mvm's
 * fds grow by two a connection at most (the stack's socket and the
 * server's), not by one more for each refused one that slirp keeps
 * until its TCP is done. Once the guest resets one, a new one opens.
 */
Test(mmds_net, caps_the_connections_a_guest_holds)
{
	unsigned fds = open_fds(), opened = 0, refused = 0;
	uint8_t b[512];

	mmds_net_input(mn, b, arp(b, 1, MMDS_IP), VHDR);
	for (uint16_t i = 0; i < MMDS_NET_CONNS_MAX + 8; i++) {
		int r = handshake((uint16_t)(41000 + i));

		cr_assert_geq(r, 0, "port %u: no SYN-ACK and no RST",
			      41000 + i);
		opened += r == 1;
		refused += r == 0;
	}
	loop_run_until(&loop, never, NULL, 10);
	cr_assert_eq(opened, MMDS_NET_CONNS_MAX, "%u opened", opened);
	cr_assert_eq(refused, 8, "%u refused", refused);
	cr_assert_leq(open_fds() - fds, 2 * MMDS_NET_CONNS_MAX,
		      "%u more fds for %d connections", open_fds() - fds,
		      MMDS_NET_CONNS_MAX);

	/* The guest resets its first connection: room for one more. */
	mmds_net_input(mn, b, tcp_port(b, 41000, MMDS_IP, 0x04, 1001, 0, "",
				       false), VHDR);
	loop_run_until(&loop, never, NULL, 10);
	cr_assert_eq(handshake(41999), 1, "no room after a reset");
	cr_assert_eq(handshake(41998), 0, "the cap is back");
}
