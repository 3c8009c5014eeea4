/*
 * virtio-pmem's pure half: the region's size for a file, and the check of
 * a request chain (5.19.6), which is hostile input from the guest.
 */
#include <errno.h>
#include <string.h>

#include "mvm/virtio.h"

#include "pmem.h"

uint64_t pmem_region_size(uint64_t file_len)
{
	if (!file_len || file_len > UINT64_MAX - PMEM_ALIGN)
		return 0;
	return (file_len + PMEM_ALIGN - 1) / PMEM_ALIGN * PMEM_ALIGN;
}

int pmem_check_request(const struct iovec *out, unsigned nr_out,
		       uint32_t out_len, uint32_t in_len, const char **why)
{
	uint32_t type;

	if (out_len < sizeof(type)) {
		*why = "request shorter than its 4-byte type";
		return -EINVAL;
	}
	if (in_len < sizeof(uint32_t)) {
		*why = "no room for the 4-byte answer";
		return -EINVAL;
	}
	if (iov_to_buf(out, nr_out, 0, &type, sizeof(type)) != sizeof(type)) {
		*why = "request shorter than its 4-byte type";
		return -EINVAL;
	}
	if (type != VIRTIO_PMEM_REQ_TYPE_FLUSH) {
		*why = "unknown request type (only FLUSH, 0, exists)";
		return -EINVAL;
	}
	return 0;
}
