/*
 * The virtio test kernel: drives mvm's virtio devices from the guest side.
 * test=blk|blk_ro|blk_swap|bench_blk|bench_net|net|rng|hostile picks what
 * runs; each prints PASS/FAIL lines and the kernel ends with "ALL OK" (exit
 * code 0) or a failure count.
 */
#include "../lib/cmdline.h"
#include "../lib/lapic.h"
#include "../lib/palloc.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "tests.h"

uint64_t ring_features(const struct bootinfo *bi)
{
	uint64_t f = VBIT(VIRTIO_F_VERSION_1);

	if (cmdline_u64_or(bi->cmdline, "event_idx", 1))
		f |= VBIT(VIRTIO_F_EVENT_IDX);
	if (cmdline_u64_or(bi->cmdline, "indirect", 1))
		f |= VBIT(VIRTIO_F_INDIRECT_DESC);
	return f;
}

static bool show(pci_bdf bdf, void *arg)
{
	struct pci_bar bar = { 0 };

	(void)arg;
	pci_bar(bdf, 0, &bar);
	kprintf("pci %02x:%02x.%x %04x:%04x class %06x bar0 0x%llx+0x%llx\n",
		PCI_BUS(bdf), PCI_DEV(bdf), PCI_FN(bdf),
		pci_read16(bdf, PCI_VENDOR_ID), pci_read16(bdf, PCI_DEVICE_ID),
		pci_read32(bdf, PCI_CLASS_REV) >> 8,
		(unsigned long long)bar.base, (unsigned long long)bar.size);
	return true;
}

void guest_main(struct bootinfo *bi)
{
	char test[32];

	lapic_init();
	palloc_init(bi);
	if (cmdline_str(bi->cmdline, "test", test, sizeof(test)) != 1) {
		fail("virtio", "no test= on the command line");
		report_finish();
	}
	kprintf("virtio test %s\n", test);
	pci_scan_bus0(show, NULL);
	if (!strcmp(test, "blk"))
		test_blk(bi);
	else if (!strcmp(test, "blk_ro"))
		test_blk_ro(bi);
	else if (!strcmp(test, "blk_swap"))
		test_blk_swap(bi);
	else if (!strcmp(test, "bench_blk"))
		test_bench_blk(bi);
	else if (!strcmp(test, "bench_net"))
		test_bench_net(bi);
	else if (!strcmp(test, "net"))
		test_net(bi);
	else if (!strcmp(test, "rng"))
		test_rng(bi);
	else if (!strcmp(test, "hostile"))
		test_hostile(bi);
	else
		fail("virtio", "unknown test '%s'", test);
	report_finish();
}
