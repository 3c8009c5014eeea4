/*
 * The virtio test kernel: drives mvm's virtio devices from the guest side.
 * test=blk|blk_ro|blk_swap|bench_blk|bench_net|net|net_hostile|mmds|rng|balloon|
 * hostile|ring3|soak|diskcount|memcount|memcount_selftest|virtio_mem|dynmem|
 * pmem|vsock|bench_vsock
 * picks what runs; each prints PASS/FAIL lines and the kernel ends with
 * "ALL OK" (exit code 0) or a failure count.
 */
#include "../lib/cmdline.h"
#include "../lib/lapic.h"
#include "../lib/palloc.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/io.h"
#include "../lib/string.h"
#include "../lib/user.h"
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

/* rdtsc cycles for n turns of an empty loop: what one ring costs. */
static uint64_t spin(uint32_t n)
{
	uint64_t t0 = rdtsc();

	for (uint32_t i = 0; i < n; i++)
		__asm__ volatile("" : "+r"(i));
	return rdtsc() - t0;
}

/* rdtsc cycles for n port reads (the PIT gate, harmless to read). */
static uint64_t port_reads(uint32_t n)
{
	uint64_t t0 = rdtsc();

	for (uint32_t i = 0; i < n; i++)
		(void)inb(0x61);
	return rdtsc() - t0;
}

struct spin_job {
	uint32_t n;
	uint64_t ring0, io0;
};

static void ring3_part(void *arg)
{
	struct spin_job *j = arg;
	uint64_t t = spin(j->n), io = port_reads(1000);
	unsigned long flags;

	__asm__ volatile("pushf; pop %0" : "=r"(flags));

	kprintf("spin ring0 %u turns %llu cycles\n", j->n,
		(unsigned long long)j->ring0);
	kprintf("spin ring%u %u turns %llu cycles\n", user_mode() ? 3 : 0,
		j->n, (unsigned long long)t);
	kprintf("io ring0 1000 port reads %llu cycles\n",
		(unsigned long long)j->io0);
	kprintf("io ring%u 1000 port reads %llu cycles\n", user_mode() ? 3 : 0,
		(unsigned long long)io);
	kprintf("ring3: eflags 0x%lx (IOPL %lu)\n", flags, flags >> 12 & 3);
	check("ring3", user_mode() == user_available(), "in ring %u",
	      user_mode() ? 3 : 0);
}

/*
 * test=ring3 spin=N: the same loop timed in ring 0 and then in ring 3, to
 * show whether the host runs this kernel's ring 3 natively (the point of
 * running the benchmarks' loops there).
 */
static void test_ring3(const struct bootinfo *bi)
{
	struct spin_job j;

	j.n = (uint32_t)cmdline_u64_or(bi->cmdline, "spin", 1000000);
	j.ring0 = spin(j.n);
	j.io0 = port_reads(1000);
	user_run(bi, ring3_part, &j);
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
	else if (!strcmp(test, "mmds"))
		test_mmds(bi);
	else if (!strcmp(test, "net_nat"))
		test_net_nat(bi);
	else if (!strcmp(test, "net_hostile"))
		test_net_hostile(bi);
	else if (!strcmp(test, "rng"))
		test_rng(bi);
	else if (!strcmp(test, "balloon"))
		test_balloon(bi);
	else if (!strcmp(test, "ring3"))
		test_ring3(bi);
	else if (!strcmp(test, "hostile"))
		test_hostile(bi);
	else if (!strcmp(test, "soak"))
		test_soak(bi);
	else if (!strcmp(test, "diskcount"))
		test_diskcount(bi);
	else if (!strcmp(test, "memcount"))
		test_memcount(bi, false);
	else if (!strcmp(test, "memcount_selftest"))
		test_memcount(bi, true);
	else if (!strcmp(test, "virtio_mem"))
		test_virtio_mem(bi);
	else if (!strcmp(test, "dynmem"))
		test_dynmem(bi);
	else if (!strcmp(test, "pmem"))
		test_pmem(bi);
	else if (!strcmp(test, "vsock"))
		test_vsock(bi);
	else if (!strcmp(test, "bench_vsock"))
		test_bench_vsock(bi);
	else
		fail("virtio", "unknown test '%s'", test);
	report_finish();
}
