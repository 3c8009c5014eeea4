/*
 * A TCP segment's headers read from a guest's frame, and the RST that
 * refuses it, built here when a user-mode stack must not see the SYN
 * (MMDS's cap on its connections, mmds_net.c).
 */
#include <string.h>

#include "tcp_refuse.h"
#include "wire.h"

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define IP_MF 0x2000
#define IP_OFFMASK 0x1fff

enum ip_kind tcp_peek(const uint8_t *eth, size_t len, struct tcp_seg *seg)
{
	const uint8_t *ip = eth + ETH_HLEN, *t;
	size_t ihl, tot, doff;

	if (len < ETH_HLEN + 20 || wire_get16(eth + 12) != ETH_P_IP ||
	    ip[0] >> 4 != 4 || ip[9] != 6)
		return IP_NOT_TCP;
	/* A stack reassembles pieces into a segment never looked at whole. */
	if (wire_get16(ip + 6) & (IP_MF | IP_OFFMASK))
		return IP_FRAGMENT;
	ihl = (size_t)(ip[0] & 15) * 4;
	tot = wire_get16(ip + 2);
	if (ihl < 20 || tot < ihl + 20 || tot > len - ETH_HLEN)
		return IP_BAD;
	t = ip + ihl;
	doff = (size_t)(t[12] >> 4) * 4;
	if (doff < 20 || doff > tot - ihl)
		return IP_BAD;
	seg->saddr = wire_get32(ip + 12);
	seg->daddr = wire_get32(ip + 16);
	seg->sport = wire_get16(t);
	seg->dport = wire_get16(t + 2);
	seg->seq = wire_get32(t + 4);
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
	wire_put16(out + 12, ETH_P_IP);
	ip[0] = 0x45;
	wire_put16(ip + 2, 40);
	ip[8] = 64;
	ip[9] = 6;
	wire_put32(ip + 12, seg->daddr);
	wire_put32(ip + 16, seg->saddr);
	wire_put16(ip + 10, (uint16_t)~wire_sum16(ip, 20, 0));
	wire_put16(t, seg->dport);
	wire_put16(t + 2, seg->sport);
	wire_put32(t + 8, ack);
	t[12] = 5 << 4;
	t[13] = TCP_F_RST | TCP_F_ACK;
	/* The pseudo-header: addresses, protocol, TCP length. */
	wire_put16(t + 16, (uint16_t)~wire_sum16(t, 20,
						 wire_sum16(ip + 12, 8, 6 + 20)));
}
