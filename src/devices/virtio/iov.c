/*
 * Byte-offset access to iovec arrays: devices read request headers from,
 * and write statuses into, chains that point into guest memory. Small
 * fixed-size fields are copied through here rather than addressed in
 * place, because a field may straddle two descriptors.
 */
#include <string.h>

#include "mvm/virtio.h"

size_t iov_length(const struct iovec *iov, unsigned n)
{
	size_t len = 0;

	for (unsigned i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf,
		  size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t seg = iov[i].iov_len, chunk;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		chunk = seg - off < len - done ? seg - off : len - done;
		memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + off,
		       chunk);
		done += chunk;
		off = 0;
	}
	return done;
}

size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t off,
		    const void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t seg = iov[i].iov_len, chunk;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		chunk = seg - off < len - done ? seg - off : len - done;
		memcpy((uint8_t *)iov[i].iov_base + off,
		       (const uint8_t *)buf + done, chunk);
		done += chunk;
		off = 0;
	}
	return done;
}

int iov_slice(const struct iovec *src, unsigned n, size_t off, size_t len,
	      struct iovec *dst, unsigned cap)
{
	unsigned out = 0;

	for (unsigned i = 0; i < n && len; i++) {
		size_t seg = src[i].iov_len, chunk;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		if (out == cap)
			return -1;
		chunk = seg - off < len ? seg - off : len;
		dst[out].iov_base = (uint8_t *)src[i].iov_base + off;
		dst[out].iov_len = chunk;
		out++;
		len -= chunk;
		off = 0;
	}
	return len ? -1 : (int)out;
}
