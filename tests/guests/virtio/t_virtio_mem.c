/*
 * test=virtio_mem (bz_virtio: the region lies above 4 GiB, which only
 * the 64-bit kernel maps): mvm's virtio-mem device at the protocol level
 * (virtio 1.2, 5.15).
 *
 * It finds the device, reads its config (the region above 4 GiB and not
 * RAM in the memory map, nothing plugged) and sends requests the device
 * must refuse: PLUG before any size is asked (NACK; skipped when the
 * host asks for a size from boot), unaligned, outside, empty, straddling
 * the end, wrapping around 2^64 (ERROR), UNPLUG of an unplugged block
 * (ERROR), an unknown type (ERROR), a request too short to read (no
 * answer). Then "virtio_mem: ready", and it follows the host
 * rounds=N times (default 3): it waits for requested_size to change
 * (wait=S seconds, default 60), plugs blocks from the bottom up to it (a
 * PLUG past it must be NACKed), writes a word into every page of the new
 * blocks and reads every plugged page back (the memory must work as RAM
 * through KVM's slots), or unplugs from the top down to it, checks STATE
 * and the config's plugged_size, and prints
 *   virtio_mem: round R plugged=N MiB
 * Last, an UNPLUG_ALL must empty the region (keep=1: it leaves what is
 * plugged as it is, for the host to look at).
 *
 * test=dynmem (t_balloon.c) uses the same driver through vmem_open and
 * vmem_follow: no refusals tried, the host's requests followed as they
 * come.
 */
#include "../lib/cmdline.h"
#include "../lib/io.h"
#include "../lib/palloc.h"
#include "../lib/pit.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "tests.h"

#ifdef __x86_64__

#define F_UNPLUGGED_INACCESSIBLE 1
#define MSIX_BASE 0x70
#define CHUNK 8 /* blocks per request */

/* struct virtio_mem_config */
#define CFG_BLOCK 0
#define CFG_ADDR 16
#define CFG_REGION 24
#define CFG_USABLE 32
#define CFG_PLUGGED 40
#define CFG_REQUESTED 48

enum { PLUG, UNPLUG, UNPLUG_ALL, STATE };
enum { ACK, NACK, BUSY, ERROR };
enum { S_PLUGGED, S_UNPLUGGED, S_MIXED };

struct mreq {
	uint16_t type, pad[3];
	uint64_t addr;
	uint16_t nb, pad2[3];
};

struct mresp {
	uint16_t type, pad[3];
	uint16_t state;
} __attribute__((packed));

static struct vdev d;
static struct mreq *rq;
static volatile struct mresp *rs;
static uint64_t base, region, block, nblocks;
static uint64_t nplugged; /* blocks [0, nplugged) are plugged */

/* One request; the response type, or -1 when no 10-byte answer came. */
static int call(uint16_t type, uint64_t addr, uint16_t nb, uint16_t *state)
{
	struct vbuf b[2] = { { (uintptr_t)rq, sizeof(*rq), false },
			     { (uintptr_t)rs, sizeof(*rs), true } };

	memset((void *)rs, 0xff, sizeof(*rs));
	memset(rq, 0, sizeof(*rq));
	rq->type = type;
	rq->addr = addr;
	rq->nb = nb;
	if (vq_call(&d.q[0], b, 2) != (int)sizeof(*rs))
		return -1;
	if (state)
		*state = rs->state;
	return rs->type;
}

static uint64_t blk_addr(uint64_t i)
{
	return base + i * block;
}

static bool setup(void)
{
	uint64_t want = VBIT(VIRTIO_F_VERSION_1) |
			VBIT(F_UNPLUGGED_INACCESSIBLE);

	if (!vdev_open(&d, VIRTIO_ID_MEM, 0))
		return check("virtio_mem open", false, "no virtio-mem device");
	check("virtio_mem offers UNPLUGGED_INACCESSIBLE",
	      vdev_device_features(&d) & VBIT(F_UNPLUGGED_INACCESSIBLE),
	      "features 0x%llx", (unsigned long long)vdev_device_features(&d));
	if (!vdev_negotiate(&d, want))
		return check("virtio_mem features", false, "status 0x%x",
			     vdev_status(&d));
	vdev_msix(&d, MSIX_BASE);
	if (!vdev_queue(&d, 0, 0, 0))
		return check("virtio_mem queue", false, "no queue 0");
	vdev_driver_ok(&d);
	rq = palloc_page();
	rs = (volatile struct mresp *)((uint8_t *)palloc_page() + 64);
	return rq && rs;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* The region as the config gives it: sane, and above RAM. */
static bool read_config(void)
{
	block = vdev_cfg64(&d, CFG_BLOCK);
	base = vdev_cfg64(&d, CFG_ADDR);
	region = vdev_cfg64(&d, CFG_REGION);
	kprintf("virtio_mem: addr=0x%llx region=%llu MiB block=%llu MiB "
		"usable=%llu MiB plugged=%llu requested=%llu\n",
		(unsigned long long)base, (unsigned long long)(region / MIB),
		(unsigned long long)(block / MIB),
		(unsigned long long)(vdev_cfg64(&d, CFG_USABLE) / MIB),
		(unsigned long long)vdev_cfg64(&d, CFG_PLUGGED),
		(unsigned long long)vdev_cfg64(&d, CFG_REQUESTED));
	if (!check("virtio_mem config", is_pow2(block) && base >= 4 * GIB &&
		   !(base % block) && region && !(region % block) &&
		   vdev_cfg64(&d, CFG_USABLE) == region,
		   "block %llu addr 0x%llx region %llu",
		   (unsigned long long)block, (unsigned long long)base,
		   (unsigned long long)region))
		return false;
	nblocks = region / block;
	return check("virtio_mem starts unplugged",
		     vdev_cfg64(&d, CFG_PLUGGED) == 0, "plugged %llu",
		     (unsigned long long)vdev_cfg64(&d, CFG_PLUGGED));
}

/* 5.15: the region is not RAM in the firmware's map. */
static void check_not_ram(const struct bootinfo *bi)
{
	bool overlap = false;

	for (int i = 0; i < bi->nmmap; i++) {
		const struct bi_region *r = &bi->mmap[i];

		if (r->type == E820_RAM && r->addr < base + region &&
		    r->addr + r->size > base)
			overlap = true;
	}
	check("virtio_mem region not in the memory map", !overlap,
	      "a RAM entry overlaps it");
}

/*
 * 2 MiB pages for the region in the page tables this kernel runs on:
 * a page directory per GiB under the PDPT that maps the low 4 GiB.
 */
static bool map_region(void)
{
	uint64_t cr3, *pml4, *pdpt;

	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	pml4 = (uint64_t *)(uintptr_t)(cr3 & ~0xfffULL);
	pdpt = (uint64_t *)(uintptr_t)(pml4[0] & 0x000ffffffffff000ULL);
	if (!(pml4[0] & 1) || base + region > 512 * GIB)
		return check("virtio_mem map", false, "no PDPT for 0x%llx",
			     (unsigned long long)base);
	for (uint64_t g = base / GIB; g * GIB < base + region; g++) {
		uint64_t *pd = palloc_page();

		if (!pd)
			return check("virtio_mem map", false, "no memory");
		for (uint64_t i = 0; i < 512; i++)
			pd[i] = (g * GIB + (i << 21)) | 0x83; /* P RW PS */
		pdpt[g] = (uintptr_t)pd | 0x3;
	}
	__asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
	return true;
}

static void expect(const char *name, int got, int want)
{
	check(name, got == want, "response %d, want %d", got, want);
}

/* Requests a device must refuse, each checked against the spec. */
static void bad_requests(void)
{
	struct vbuf shortreq[2] = { { (uintptr_t)rq, 8, false },
				    { (uintptr_t)rs, sizeof(*rs), true } };
	uint16_t st = 0xffff;
	int n;

	/* Nothing asked yet (unless the host asks from boot): no plug. */
	if (!vdev_cfg64(&d, CFG_REQUESTED))
		expect("virtio_mem plug before any request NACK",
		       call(PLUG, base, 1, NULL), NACK);
	expect("virtio_mem unaligned ERROR",
	       call(STATE, base + 4096, 1, NULL), ERROR);
	expect("virtio_mem below the region ERROR",
	       call(STATE, base - block, 1, NULL), ERROR);
	expect("virtio_mem past the region ERROR",
	       call(STATE, base + region, 1, NULL), ERROR);
	expect("virtio_mem straddling the end ERROR",
	       call(STATE, blk_addr(nblocks - 1), 2, NULL), ERROR);
	expect("virtio_mem zero blocks ERROR", call(STATE, base, 0, NULL),
	       ERROR);
	expect("virtio_mem wrapping address ERROR",
	       call(STATE, ~0ULL - block + 1, 0xffff, NULL), ERROR);
	expect("virtio_mem unplug of unplugged ERROR",
	       call(UNPLUG, base, 1, NULL), ERROR);
	expect("virtio_mem unknown type ERROR", call(9, base, 1, NULL), ERROR);
	n = call(STATE, base, (uint16_t)(nblocks < 4 ? nblocks : 4), &st);
	check("virtio_mem state unplugged", n == ACK && st == S_UNPLUGGED,
	      "response %d state %u", n, st);
	n = vq_call(&d.q[0], shortreq, 2);
	check("virtio_mem short request unanswered", n == 0, "used %d", n);
	expect("virtio_mem unplug all ACK", call(UNPLUG_ALL, 0, 0, NULL), ACK);
}

static uint64_t word_of(uint64_t gpa)
{
	return gpa ^ 0x6d656d6d656d6d65ULL;
}

/* A word in every page of blocks [from, to). */
static void write_blocks(uint64_t from, uint64_t to)
{
	for (uint64_t a = blk_addr(from); a < blk_addr(to); a += PAGE_SIZE)
		*(volatile uint64_t *)(uintptr_t)a = word_of(a);
}

static bool read_back(const char *name)
{
	for (uint64_t a = base; a < blk_addr(nplugged); a += PAGE_SIZE) {
		uint64_t w = *(volatile uint64_t *)(uintptr_t)a;

		if (w != word_of(a))
			return check(name, false, "0x%llx holds 0x%llx",
				     (unsigned long long)a,
				     (unsigned long long)w);
	}
	pass(name);
	return true;
}

static bool plug_to(uint64_t target)
{
	uint64_t from = nplugged;
	int n;

	while (nplugged < target) {
		uint64_t nb = target - nplugged < CHUNK ? target - nplugged :
							 CHUNK;

		n = call(PLUG, blk_addr(nplugged), (uint16_t)nb, NULL);
		if (n != ACK)
			return check("virtio_mem plug", false, "response %d at "
				     "block %llu", n,
				     (unsigned long long)nplugged);
		nplugged += nb;
		/* Below requested_size, so not NACKed: refused as plugged. */
		if (nplugged < target)
			expect("virtio_mem plug of plugged ERROR",
			       call(PLUG, blk_addr(nplugged - 1), 1, NULL),
			       ERROR);
	}
	if (nplugged < nblocks)
		expect("virtio_mem plug past requested NACK",
		       call(PLUG, blk_addr(nplugged), 1, NULL), NACK);
	write_blocks(from, nplugged);
	return read_back("virtio_mem plugged memory holds data");
}

static bool unplug_to(uint64_t target)
{
	int n;

	while (nplugged > target) {
		uint64_t nb = nplugged - target < CHUNK ? nplugged - target :
							 CHUNK;

		n = call(UNPLUG, blk_addr(nplugged - nb), (uint16_t)nb, NULL);
		if (n != ACK)
			return check("virtio_mem unplug", false, "response %d "
				     "at block %llu", n,
				     (unsigned long long)(nplugged - nb));
		nplugged -= nb;
	}
	return read_back("virtio_mem kept blocks hold data");
}

/* STATE and plugged_size agree with what this driver did. */
static void check_state(void)
{
	uint16_t st = 0xffff;
	int n;

	check("virtio_mem plugged_size",
	      vdev_cfg64(&d, CFG_PLUGGED) == nplugged * block, "%llu, want "
	      "%llu", (unsigned long long)vdev_cfg64(&d, CFG_PLUGGED),
	      (unsigned long long)(nplugged * block));
	if (nplugged && nplugged <= 0xffff) {
		n = call(STATE, base, (uint16_t)nplugged, &st);
		check("virtio_mem state plugged", n == ACK && st == S_PLUGGED,
		      "response %d state %u", n, st);
	}
	if (nplugged && nplugged < nblocks) {
		n = call(STATE, blk_addr(nplugged - 1), 2, &st);
		check("virtio_mem state mixed", n == ACK && st == S_MIXED,
		      "response %d state %u", n, st);
	}
}

/* Wait for requested_size to differ from what is plugged. */
static bool wait_request(uint32_t ms, uint64_t *target)
{
	struct deadline dl;

	deadline_start(&dl, ms);
	while (!deadline_expired(&dl)) {
		uint64_t want = vdev_cfg64(&d, CFG_REQUESTED);

		if (want != nplugged * block) {
			*target = want / block;
			return check("virtio_mem requested_size",
				     want % block == 0 && *target <= nblocks,
				     "%llu", (unsigned long long)want);
		}
		cpu_pause();
	}
	return check("virtio_mem request", false, "no new requested_size "
		     "within %u ms", ms);
}

static void follow(const struct bootinfo *bi)
{
	uint64_t rounds = cmdline_u64_or(bi->cmdline, "rounds", 3);
	uint32_t ms = (uint32_t)cmdline_u64_or(bi->cmdline, "wait", 60) * 1000;
	uint64_t target = 0;

	kprintf("virtio_mem: ready\n");
	for (uint64_t r = 1; r <= rounds; r++) {
		if (!wait_request(ms, &target))
			return;
		if (!(target > nplugged ? plug_to(target) : unplug_to(target)))
			return;
		check_state();
		kprintf("virtio_mem: round %llu plugged=%llu MiB\n",
			(unsigned long long)r, (unsigned long long)
			(vdev_cfg64(&d, CFG_PLUGGED) / MIB));
	}
	if (cmdline_u64_or(bi->cmdline, "keep", 0))
		return; /* what is plugged stays, written, for the host */
	expect("virtio_mem final unplug all ACK", call(UNPLUG_ALL, 0, 0, NULL),
	       ACK);
	nplugged = 0;
	check_state();
}

void test_virtio_mem(const struct bootinfo *bi)
{
	if (!setup() || !read_config())
		return;
	check_not_ram(bi);
	if (!map_region())
		return;
	bad_requests();
	follow(bi);
}

bool vmem_open(const struct bootinfo *bi)
{
	pci_bdf bdf;

	if (!pci_find(0x1af4, 0x1040 + VIRTIO_ID_MEM, 0, &bdf))
		return false;
	if (!setup() || !read_config())
		return false;
	check_not_ram(bi);
	return map_region();
}

bool vmem_follow(uint64_t *plugged_mib)
{
	uint64_t want = vdev_cfg64(&d, CFG_REQUESTED), target = want / block;

	if (want % block || target > nblocks)
		return check("virtio_mem requested_size", false, "%llu",
			     (unsigned long long)want);
	if (target > nplugged && !plug_to(target))
		return false;
	if (target < nplugged && !unplug_to(target))
		return false;
	*plugged_mib = nplugged * block / MIB;
	return true;
}

#else

void test_virtio_mem(const struct bootinfo *bi)
{
	(void)bi;
	fail("virtio_mem", "needs the 64-bit kernel (bz_virtio): the region "
	     "lies above 4 GiB");
}

bool vmem_open(const struct bootinfo *bi)
{
	(void)bi;
	return false; /* its region is out of this kernel's reach */
}

bool vmem_follow(uint64_t *plugged_mib)
{
	*plugged_mib = 0;
	return true;
}

#endif
