/*
 * test=pmem (bz_virtio: the region lies far above 4 GiB, which only the
 * 64-bit kernel maps): mvm's virtio-pmem device (virtio 1.2, 5.19).
 *
 * It finds the device on PCI, reads its config (start, 2 MiB-aligned and
 * above 4 GiB, not RAM in the memory map; size, the file's len=N bytes
 * rounded up to 2 MiB), maps the region and checks that it holds the
 * file: pmem_pattern(i, 1) at byte i, which the host wrote. Then, unless
 * ro=1, it writes pmem_pattern(i, 2) over the sampled bytes (the first 8
 * of every 4 KiB page and the file's last byte, pmem_sampled()) and sends
 * a FLUSH, whose 4-byte answer must be 0; the host checks the file holds
 * the new pattern there and the old one elsewhere. Only a sample: under
 * a software KVM (PVM) every access to a region outside RAM may be
 * emulated, some 100 us each. With ro=1 (a read-only device) its stores must not
 * reach the region: a store exits to mvm as MMIO, which drops it, and the
 * byte still reads as the file's. Requests the device must refuse (an
 * unknown type, a request too short to hold its type, no room for the
 * answer) are answered with nothing written; a FLUSH still works after.
 * With wait=S it then prints "pmem: waiting" and stays up S seconds
 * before the report, for the host to talk to the running VM.
 */
#include "../lib/cmdline.h"
#include "../lib/palloc.h"
#include "../lib/pit.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "tests.h"

#ifdef __x86_64__

#define MSIX_BASE 0x78
#define CFG_START 0
#define CFG_SIZE 8

static struct vdev d;
static uint32_t *rq;
static volatile uint32_t *rs;
static uint64_t start, size;

static bool setup(void)
{
	if (!vdev_open(&d, VIRTIO_ID_PMEM, 0))
		return check("pmem open", false, "no virtio-pmem device");
	if (!vdev_negotiate(&d, VBIT(VIRTIO_F_VERSION_1)))
		return check("pmem features", false, "status 0x%x",
			     vdev_status(&d));
	vdev_msix(&d, MSIX_BASE);
	if (!vdev_queue(&d, 0, 0, 0))
		return check("pmem queue", false, "no queue 0");
	vdev_driver_ok(&d);
	rq = palloc_page();
	rs = (volatile uint32_t *)((uint8_t *)palloc_page() + 64);
	return rq && rs;
}

static bool read_config(const struct bootinfo *bi, uint64_t len)
{
	uint64_t want = (len + 2 * MIB - 1) / (2 * MIB) * (2 * MIB);
	bool overlap = false;

	start = vdev_cfg64(&d, CFG_START);
	size = vdev_cfg64(&d, CFG_SIZE);
	kprintf("pmem: start=0x%llx size=%llu\n", (unsigned long long)start,
		(unsigned long long)size);
	for (int i = 0; i < bi->nmmap; i++) {
		const struct bi_region *r = &bi->mmap[i];

		if (r->type == E820_RAM && r->addr < start + size &&
		    r->addr + r->size > start)
			overlap = true;
	}
	check("pmem region not in the memory map", !overlap,
	      "a RAM entry overlaps it");
	return check("pmem config", start >= 4 * GIB && !(start % (2 * MIB)) &&
		     size == want && start + size <= 512 * GIB,
		     "start 0x%llx size %llu, want size %llu",
		     (unsigned long long)start, (unsigned long long)size,
		     (unsigned long long)want);
}

/* 2 MiB pages for the region under the PDPT of the low 512 GiB. */
static bool map_region(void)
{
	uint64_t cr3, *pml4, *pdpt;

	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	pml4 = (uint64_t *)(uintptr_t)(cr3 & ~0xfffULL);
	pdpt = (uint64_t *)(uintptr_t)(pml4[0] & 0x000ffffffffff000ULL);
	if (!(pml4[0] & 1))
		return check("pmem map", false, "no PDPT");
	for (uint64_t g = start / GIB; g * GIB < start + size; g++) {
		uint64_t *pd = palloc_page();

		if (!pd)
			return check("pmem map", false, "no memory");
		for (uint64_t i = 0; i < 512; i++)
			pd[i] = (g * GIB + (i << 21)) | 0x83; /* P RW PS */
		pdpt[g] = (uintptr_t)pd | 0x3;
	}
	__asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
	return true;
}

/* One request of out_len bytes of type; the used length, or -2. */
static int call(uint32_t type, uint32_t out_len, uint32_t in_len)
{
	struct vbuf b[2] = { { (uintptr_t)rq, out_len, false },
			     { (uintptr_t)rs, in_len, true } };

	*rq = type;
	*rs = 0xdeadbeef;
	return vq_call(&d.q[0], b, in_len ? 2 : 1);
}

static void flush(const char *name)
{
	int n = call(0, 4, 4);

	check(name, n == 4 && *rs == 0, "used %d, answer 0x%x", n, *rs);
}

static void bad_requests(void)
{
	int n = call(1, 4, 4);

	check("pmem unknown type refused", n == 0 && *rs == 0xdeadbeef,
	      "used %d, answer 0x%x", n, *rs);
	n = call(0, 2, 4);
	check("pmem short request refused", n == 0 && *rs == 0xdeadbeef,
	      "used %d, answer 0x%x", n, *rs);
	n = call(0, 4, 0);
	check("pmem request without answer refused", n == 0,
	      "used %d", n);
}

/* The first sampled byte of [0, len) not of seed's pattern, or len. */
static uint64_t first_bad(volatile uint8_t *p, uint64_t len, unsigned seed)
{
	for (uint64_t i = 0; i < len; i = pmem_next_sample(i, len))
		if (p[i] != pmem_pattern(i, seed))
			return i;
	return len;
}

static void run(const struct bootinfo *bi);

void test_pmem(const struct bootinfo *bi)
{
	uint64_t wait = cmdline_u64_or(bi->cmdline, "wait", 0);

	run(bi);
	if (wait) {
		kprintf("pmem: waiting\n");
		for (uint64_t i = 0; i < wait * 10; i++)
			delay_us(100000);
	}
}

static void run(const struct bootinfo *bi)
{
	uint64_t len = cmdline_u64_or(bi->cmdline, "len", 0), bad;
	bool ro = cmdline_u64_or(bi->cmdline, "ro", 0);
	volatile uint8_t *p;

	if (!setup() || !read_config(bi, len) || !map_region())
		return;
	p = (volatile uint8_t *)(uintptr_t)start;
	bad = first_bad(p, len, 1);
	check("pmem holds the file", bad == len, "byte %llu is 0x%x",
	      (unsigned long long)bad, bad < len ? p[bad] : 0);
	bad_requests();
	if (ro) {
		uint8_t before = p[len / 2];

		p[len / 2] = (uint8_t)~before; /* exits as MMIO, dropped */
		p[0] = (uint8_t)~p[0];
		check("pmem read-only store dropped", p[len / 2] == before &&
		      first_bad(p, len, 1) == len, "0x%x, was 0x%x",
		      p[len / 2], before);
		flush("pmem read-only flush");
		return;
	}
	for (uint64_t i = 0; i < len; i = pmem_next_sample(i, len))
		p[i] = pmem_pattern(i, 2);
	flush("pmem flush");
	bad = first_bad(p, len, 2);
	check("pmem reads back", bad == len, "byte %llu",
	      (unsigned long long)bad);
	kprintf("pmem: wrote %llu bytes\n", (unsigned long long)len);
}

#else

static void run(const struct bootinfo *bi);

void test_pmem(const struct bootinfo *bi)
{
	uint64_t wait = cmdline_u64_or(bi->cmdline, "wait", 0);

	run(bi);
	if (wait) {
		kprintf("pmem: waiting\n");
		for (uint64_t i = 0; i < wait * 10; i++)
			delay_us(100000);
	}
}

static void run(const struct bootinfo *bi)
{
	(void)bi;
	fail("pmem", "needs the 64-bit kernel (bz_virtio): the region lies "
	     "above 4 GiB");
}

#endif
