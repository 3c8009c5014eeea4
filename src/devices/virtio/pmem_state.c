/*
 * virtio-pmem's part of a device snapshot: where its region was and how
 * large. The region's bytes are the backing file's, which a snapshot does
 * not copy; the device is rebuilt from its configuration, and a blob is
 * refused unless the rebuilt region is where, and as large as, the one the
 * guest knew (a backing file that changed size since is caught here).
 */
#include <errno.h>
#include <string.h>

#include "mvm/virtio_dev.h"

#include "pmem.h"

#define PMEM_STATE_MAGIC 0x314d4d50u /* "PMM1" */

struct pmem_saved {
	uint32_t magic;
	uint32_t pad;
	uint64_t start, size;
};

size_t pmem_save(void *dev, void *buf, size_t cap)
{
	const struct pmem *p = dev;
	struct pmem_saved s = {
		.magic = PMEM_STATE_MAGIC,
		.start = p->config.start,
		.size = p->config.size,
	};

	if (cap < sizeof(s))
		return 0;
	memcpy(buf, &s, sizeof(s));
	return sizeof(s);
}

int pmem_load(void *dev, const void *buf, size_t len)
{
	struct pmem *p = dev;
	struct pmem_saved s;

	if (len != sizeof(s))
		return -EINVAL;
	memcpy(&s, buf, sizeof(s));
	if (s.magic != PMEM_STATE_MAGIC || s.pad ||
	    s.start != p->config.start || s.size != p->config.size) {
		virtio_log(p->t, "state: region %#llx+%#llx, the device's is "
			   "%#llx+%#llx (did the backing file change size?)",
			   (unsigned long long)s.start,
			   (unsigned long long)s.size,
			   (unsigned long long)p->config.start,
			   (unsigned long long)p->config.size);
		return -EINVAL;
	}
	p->nr_waiting = 0;
	p->stopping = false;
	return 0;
}
