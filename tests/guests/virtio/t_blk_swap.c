/*
 * virtio-blk media swap, seen from the guest: read sector 0, keep reading
 * it (the old medium must keep working while the host tries swaps that
 * fail) until the config-change interrupt says the medium changed, then
 * read it again. The host test compares the printed bytes and capacity
 * with the images it swapped.
 */
#include "../lib/palloc.h"
#include "../lib/pit.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "tests.h"

#define T_IN 0
#define S_OK 0
#define MSIX_BASE 0x40
#define CC_CONFIG_GENERATION 0x15
#define CFG_CAPACITY 0
#define WAIT_SWAP_MS 120000 /* the host swaps when it is ready */
#define TICK_READS 64

static void show(const char *what, struct vdev *d, const uint8_t *buf,
		 int st)
{
	kprintf("swap %s: status %d capacity %llu data %02x%02x%02x%02x\n",
		what, st, (unsigned long long)vdev_cfg64(d, CFG_CAPACITY),
		buf[0], buf[1], buf[2], buf[511]);
}

void test_blk_swap(const struct bootinfo *bi)
{
	struct vdev d;
	struct deadline dl;
	uint8_t *buf = palloc_page();
	uint8_t cfg_vector, gen;
	unsigned reads = 0;
	int st;

	if (!blk_setup(&d, ring_features(bi), 0))
		return;
	/* vdev_msix gives the config changes the last MSI-X entry. */
	cfg_vector = (uint8_t)(MSIX_BASE + d.msix_n - 1);
	gen = d.common[CC_CONFIG_GENERATION];
	st = blk_rw(&d, T_IN, 0, buf, 512, NULL);
	show("before", &d, buf, st);
	deadline_start(&dl, WAIT_SWAP_MS);
	while (!lapic_irr(cfg_vector)) {
		st = blk_rw(&d, T_IN, 0, buf, 512, NULL);
		if (st != S_OK) {
			fail("blk swap old medium", "read %u: status %d",
			     reads, st);
			return;
		}
		if (++reads % TICK_READS == 0)
			show("tick", &d, buf, st);
		if (deadline_expired(&dl)) {
			fail("blk swap", "no config change after %u reads",
			     reads);
			return;
		}
	}
	check("blk swap generation", d.common[CC_CONFIG_GENERATION] != gen,
	      "config generation still %u", gen);
	st = blk_rw(&d, T_IN, 0, buf, 512, NULL);
	show("after", &d, buf, st);
	check("blk swap read", st == S_OK, "status %d", st);
}
