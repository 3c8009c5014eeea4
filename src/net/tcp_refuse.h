/*
 * A guest's IPv4 TCP segment, looked at before a user-mode stack takes
 * it, and the RST that refuses its connection (tcp_refuse.c). The frame
 * is the guest's and hostile: every offset is checked against it.
 */
#ifndef MVM_NET_TCP_REFUSE_H
#define MVM_NET_TCP_REFUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TCP_F_FIN 0x01
#define TCP_F_SYN 0x02
#define TCP_F_RST 0x04
#define TCP_F_ACK 0x10

/* Ethernet, IPv4 and TCP headers with no options. */
#define TCP_RST_FRAME_LEN (14 + 20 + 20)

enum ip_kind {
	IP_NOT_TCP,  /* not IPv4, or not TCP */
	IP_FRAGMENT, /* a piece of an IPv4 packet */
	IP_BAD,      /* headers past the frame's end */
	IP_TCP,      /* a whole TCP segment: seg is filled */
};

struct tcp_seg {
	uint32_t saddr, daddr; /* host order */
	uint16_t sport, dport;
	uint32_t seq;
	uint8_t flags;
	uint32_t payload; /* bytes after the TCP header */
};

/* What the Ethernet frame eth[0, len) carries. */
enum ip_kind tcp_peek(const uint8_t *eth, size_t len, struct tcp_seg *seg);

/*
 * Whether seg may open a connection in a BSD stack (libslirp's): SYN
 * without ACK or RST.
 */
bool tcp_opens(const struct tcp_seg *seg);

/*
 * The RST|ACK a closed port answers seg (one without ACK, as tcp_opens
 * finds) with (RFC 9293 3.10.7.1), from
 * the address and MAC seg was sent to, back to its sender, into
 * out[TCP_RST_FRAME_LEN]. eth is seg's frame.
 */
void tcp_refuse(const uint8_t *eth, const struct tcp_seg *seg,
		uint8_t out[TCP_RST_FRAME_LEN]);

#endif
