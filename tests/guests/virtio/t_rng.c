/* virtio-rng from the guest: entropy arrives, and differs each time. */
#include "../lib/palloc.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "tests.h"

#define MSIX_BASE 0x60
#define NBYTES 64

static struct vdev rng;
static bool rng_ready;

static bool rng_setup(uint64_t want)
{
	if (!vdev_open(&rng, VIRTIO_ID_RNG, 0)) {
		kprintf("rng: no device\n");
		return false;
	}
	if (!vdev_negotiate(&rng, want)) {
		kprintf("rng: features refused (status 0x%x)\n",
			vdev_status(&rng));
		return false;
	}
	vdev_msix(&rng, MSIX_BASE);
	if (!vdev_queue(&rng, 0, 0, 0))
		return false;
	vdev_driver_ok(&rng);
	rng_ready = true;
	return true;
}

static int rng_read(uint8_t *buf, uint32_t len)
{
	struct vbuf b = { (uintptr_t)buf, len, true };

	memset(buf, 0, len);
	return vq_call(&rng.q[0], &b, 1);
}

int rng_call(const struct vbuf *b, unsigned n)
{
	if (!rng_ready && !rng_setup(VBIT(VIRTIO_F_VERSION_1)))
		return -1;
	return vq_call(&rng.q[0], b, n);
}

bool rng_works(const char *name)
{
	static uint8_t *buf;
	bool nonzero = false;
	int n;

	if (!buf)
		buf = palloc_page();
	if (!rng_ready && !rng_setup(VBIT(VIRTIO_F_VERSION_1)))
		return check(name, false, "no virtio-rng device");
	n = rng_read(buf, NBYTES);
	for (int i = 0; i < NBYTES; i++)
		nonzero |= buf[i] != 0;
	return check(name, n == NBYTES && nonzero, "got %d bytes", n);
}

void test_rng(const struct bootinfo *bi)
{
	uint8_t *a = palloc_page(), *b = palloc_page();
	int n1, n2;

	if (!rng_setup(ring_features(bi))) {
		fail("rng open", "no virtio-rng device");
		return;
	}
	n1 = rng_read(a, NBYTES);
	n2 = rng_read(b, NBYTES);
	check("rng fills buffers", n1 == NBYTES && n2 == NBYTES,
	      "got %d and %d bytes", n1, n2);
	check("rng differs", memcmp(a, b, NBYTES) != 0, "same bytes twice");
	check("rng msix", lapic_irr(MSIX_BASE), "vector 0x%x not pending",
	      MSIX_BASE);
	/* A large buffer split in two descriptors. */
	struct vbuf two[2] = { { (uintptr_t)a, 2048, true },
			       { (uintptr_t)b, 2048, true } };
	n1 = vq_call(&rng.q[0], two, 2);
	check("rng two buffers", n1 == 4096, "got %d bytes", n1);
}
