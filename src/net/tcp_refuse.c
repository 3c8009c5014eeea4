/*
 * A TCP segment's headers read from a guest's frame, and the RST that
 * refuses it, built here when a user-mode stack must not see the SYN
 * (MMDS's cap on its connections, mmds_net.c).
 */
#include <string.h>

#include "tcp_refuse.h"

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define IP_MF 0x2000
#define IP_OFFMASK 0x1fff

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
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

/* The Internet checksum of [p, p + n) added to s, folded, not inverted. */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (; n > 1; p += 2, n -= 2)
		s += get16(p);
	if (n)
		s += (uint32_t)p[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

enum ip_kind tcp_peek(const uint8_t *eth, size_t len, struct tcp_seg *seg)
{
	const uint8_t *ip = eth + ETH_HLEN, *t;
	size_t ihl, tot, doff;

	if (len < ETH_HLEN + 20 || get16(eth + 12) != ETH_P_IP ||
	    ip[0] >> 4 != 4 || ip[9] != 6)
		return IP_NOT_TCP;
	/* A stack reassembles pieces into a segment never looked at whole. */
	if (get16(ip + 6) & (IP_MF | IP_OFFMASK))
		return IP_FRAGMENT;
	ihl = (size_t)(ip[0] & 15) * 4;
	tot = get16(ip + 2);
	if (ihl < 20 || tot < ihl + 20 || tot > len - ETH_HLEN)
		return IP_BAD;
	t = ip + ihl;
	doff = (size_t)(t[12] >> 4) * 4;
	if (doff < 20 || doff > tot - ihl)
		return IP_BAD;
	seg->saddr = get32(ip + 12);
	seg->daddr = get32(ip + 16);
	seg->sport = get16(t);
	seg->dport = get16(t + 2);
	seg->seq = get32(t + 4);
	seg->flags = t[13];
	seg->payload = (uint32_t)(tot - ihl - doff);
	return IP_TCP;
}

bool tcp_opens(const struct tcp_seg *seg)
{
	return (seg->flags & (TCP_F_SYN | TCP_F_ACK | TCP_F_RST)) == TCP_F_SYN;
}

void tcp_refuse(const uint8_t *eth, const struct tcp_seg *seg,
		uint8_t out[TCP_RST_FRAME_LEN])
{
	uint8_t *ip = out + ETH_HLEN, *t = ip + 20;
	/* Everything the segment occupied in sequence space is acked. */
	uint32_t ack = seg->seq + seg->payload +
		       !!(seg->flags & TCP_F_SYN) + !!(seg->flags & TCP_F_FIN);

	memset(out, 0, TCP_RST_FRAME_LEN);
	memcpy(out, eth + 6, 6);     /* to its sender */
	memcpy(out + 6, eth, 6);     /* from the MAC it was sent to */
	put16(out + 12, ETH_P_IP);
	ip[0] = 0x45;
	put16(ip + 2, 40);
	ip[8] = 64;
	ip[9] = 6;
	put32(ip + 12, seg->daddr);
	put32(ip + 16, seg->saddr);
	put16(ip + 10, (uint16_t)~sum16(ip, 20, 0));
	put16(t, seg->dport);
	put16(t + 2, seg->sport);
	put32(t + 8, ack);
	t[12] = 5 << 4;
	t[13] = TCP_F_RST | TCP_F_ACK;
	/* The pseudo-header: addresses, protocol, TCP length. */
	put16(t + 16, (uint16_t)~sum16(t, 20, sum16(ip + 12, 8, 6 + 20)));
}
