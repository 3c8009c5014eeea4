/*
 * virtio-vsock's pure checks (vsock.h): a guest packet's header, a host's
 * CONNECT line and the guest's credit. Everything here comes from the
 * guest or a host process, and is checked before anything acts on it.
 */
#include <errno.h>
#include <string.h>

#include "vsock.h"

int vsock_check_tx(const struct vsock_hdr *h, uint32_t out_len,
		   uint64_t guest_cid, const char **why)
{
	if (out_len < sizeof(*h)) {
		*why = "shorter than a header";
		return -EINVAL;
	}
	/* A packet from another CID, or for another than the host, is
	 * not one the device can answer (5.10.6.6: dropped). */
	if (h->src_cid != guest_cid) {
		*why = "source CID is not the guest's";
		return -EINVAL;
	}
	if (h->dst_cid != VSOCK_HOST_CID) {
		*why = "destination CID is not the host's";
		return -EINVAL;
	}
	if (h->len > out_len - sizeof(*h)) {
		*why = "len past the chain's readable bytes";
		return -EINVAL;
	}
	if (h->len > VSOCK_MAX_PKT) {
		*why = "len over 64 KiB";
		return -EINVAL;
	}
	return 0;
}

int vsock_parse_connect(const char *buf, size_t len, uint32_t *port)
{
	static const char verb[] = "CONNECT ";
	const char *nl = memchr(buf, '\n', len);
	uint64_t p = 0;
	size_t i;

	if (!nl)
		return len < VSOCK_CONNECT_LINE_MAX ? -EAGAIN : -EINVAL;
	len = (size_t)(nl - buf);
	if (len < sizeof(verb) || memcmp(buf, verb, sizeof(verb) - 1))
		return -EINVAL;
	/* Digits only, at least one, and the value fits 32 bits. */
	for (i = sizeof(verb) - 1; i < len; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -EINVAL;
		p = p * 10 + (uint64_t)(buf[i] - '0');
		if (p > UINT32_MAX)
			return -EINVAL;
	}
	if (i == sizeof(verb) - 1)
		return -EINVAL;
	*port = (uint32_t)p;
	return 0;
}

uint32_t vsock_peer_credit(uint32_t peer_buf_alloc, uint32_t peer_fwd_cnt,
			   uint32_t tx_cnt)
{
	/* Counters wrap: in flight is the difference mod 2^32. */
	uint32_t in_flight = tx_cnt - peer_fwd_cnt;

	return in_flight >= peer_buf_alloc ? 0 : peer_buf_alloc - in_flight;
}
