/*
 * VIRTIO_NET_F_CSUM for a backend with no fd (the user backend): a frame
 * the guest sent with VIRTIO_NET_HDR_F_NEEDS_CSUM carries only the
 * pseudo-header's sum at csum_start + csum_offset, and the device sums
 * the rest. libslirp checks every sum it gets, so the NIC completes it
 * before the backend sees the frame. The guest's header is hostile:
 * both offsets are checked against the frame.
 */
#include <stdint.h>

#include "net_dev.h"

/* The Internet checksum of [p, p + n) added to s, folded, not inverted. */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (; n > 1; p += 2, n -= 2)
		s += (uint32_t)(p[0] << 8 | p[1]);
	if (n)
		s += (uint32_t)p[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

bool net_csum_complete(const uint8_t *hdr, uint8_t *eth, size_t len)
{
	size_t start, off;
	uint32_t s;

	if (!(hdr[0] & NET_HDR_F_NEEDS_CSUM))
		return true;
	start = (size_t)(hdr[6] | hdr[7] << 8);
	off = (size_t)(hdr[8] | hdr[9] << 8);
	if (start > len || off > len - start || len - start - off < 2)
		return false;
	s = ~sum16(eth + start, len - start, 0) & 0xffff;
	eth[start + off] = (uint8_t)(s >> 8);
	eth[start + off + 1] = (uint8_t)s;
	return true;
}
