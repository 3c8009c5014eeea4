/*
 * The NIC's checksum completion for a backend with no fd (VIRTIO_NET_F_CSUM
 * on the user backend): a partial TCP sum a guest left is finished to
 * what a full computation gives, and a header whose offsets leave the
 * frame changes nothing and is refused.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "../../src/devices/virtio/net_dev.h"

#define PAYLOAD 7 /* odd: the last byte is summed alone */
#define FRAME (14 + 20 + 20 + PAYLOAD)

static uint32_t sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (; n > 1; p += 2, n -= 2)
		s += (uint32_t)(p[0] << 8 | p[1]);
	if (n)
		s += (uint32_t)p[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

/* A TCP/IPv4 frame; its TCP sum full, or only the pseudo-header's. */
static void frame(uint8_t *f, bool partial)
{
	uint8_t *ip = f + 14, *t = ip + 20;
	uint32_t ph, s;

	memset(f, 0, FRAME);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[3] = 20 + 20 + PAYLOAD;
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, "\x0a\x00\x02\x0f\x0a\x00\x02\x02", 8);
	t[1] = 0x50;
	t[3] = 80;
	t[12] = 5 << 4;
	t[13] = 0x18;
	memcpy(t + 20, "GET / x", PAYLOAD);
	ph = sum(ip + 12, 8, 6 + 20 + PAYLOAD);
	s = partial ? ph : ~sum(t, 20 + PAYLOAD, ph) & 0xffff;
	t[16] = (uint8_t)(s >> 8);
	t[17] = (uint8_t)s;
}

static void hdr_for(uint8_t *h, unsigned start, unsigned off)
{
	memset(h, 0, NET_HDR_LEN);
	h[0] = NET_HDR_F_NEEDS_CSUM;
	h[6] = (uint8_t)start;
	h[7] = (uint8_t)(start >> 8);
	h[8] = (uint8_t)off;
	h[9] = (uint8_t)(off >> 8);
}

Test(net_csum, completes_a_partial_tcp_sum)
{
	uint8_t want[FRAME], got[FRAME], h[NET_HDR_LEN];

	frame(want, false);
	frame(got, true);
	cr_assert_neq(memcmp(want, got, FRAME), 0);
	hdr_for(h, 34, 16);
	cr_assert(net_csum_complete(h, got, FRAME));
	cr_assert_eq(memcmp(want, got, FRAME), 0, "sum %02x%02x, want "
		     "%02x%02x", got[50], got[51], want[50], want[51]);
}

Test(net_csum, leaves_a_frame_without_the_flag)
{
	uint8_t want[FRAME], got[FRAME], h[NET_HDR_LEN] = { 0 };

	frame(want, true);
	frame(got, true);
	h[6] = 0xff; /* offsets are not looked at without the flag */
	h[7] = 0xff;
	cr_assert(net_csum_complete(h, got, FRAME));
	cr_assert_eq(memcmp(want, got, FRAME), 0);
}

Test(net_csum, refuses_offsets_outside_the_frame)
{
	static const unsigned bad[][2] = {
		{ FRAME + 1, 0 },      /* start past the end */
		{ 34, FRAME },         /* offset past the end */
		{ FRAME - 1, 0 },      /* one byte left: no room for a sum */
		{ 34, FRAME - 34 - 1 },
		{ 0xffff, 0xffff },
	};
	uint8_t want[FRAME], got[FRAME], h[NET_HDR_LEN];

	frame(want, true);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		frame(got, true);
		hdr_for(h, bad[i][0], bad[i][1]);
		cr_assert_not(net_csum_complete(h, got, FRAME), "case %u", i);
		cr_assert_eq(memcmp(want, got, FRAME), 0, "case %u wrote", i);
	}
}
