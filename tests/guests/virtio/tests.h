/* The virtio test kernel's tests, one per device type, chosen by test=. */
#ifndef GUEST_VIRTIO_TESTS_H
#define GUEST_VIRTIO_TESTS_H

#include "../lib/bootinfo.h"
#include "vdev.h"

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_VSOCK 19
#define VIRTIO_ID_MEM 24
#define VIRTIO_ID_PMEM 27

/*
 * The byte pattern disks are written and checked with (the host test
 * computes the same): byte i of sector s.
 */
static inline uint8_t disk_pattern(uint64_t s, unsigned i)
{
	return (uint8_t)(i * 7u + (unsigned)s * 13u + 1u);
}

/* The pmem backing file's bytes (the host test computes the same). */
static inline uint8_t pmem_pattern(uint64_t i, unsigned seed)
{
	return (uint8_t)(i * 7u + (i >> 12) * 3u + seed * 13u + 1u);
}

/*
 * The bytes test=pmem reads and writes of a len-byte file: the first 8 of
 * each 4 KiB page and the last one. The sampled byte after i, or len.
 */
static inline bool pmem_sampled(uint64_t i, uint64_t len)
{
	return i % 4096 < 8 || i == len - 1;
}

static inline uint64_t pmem_next_sample(uint64_t i, uint64_t len)
{
	uint64_t n = i % 4096 < 7 ? i + 1 : (i / 4096 + 1) * 4096;

	return n >= len && i < len - 1 ? len - 1 : n;
}

/* Feature wishes from the command line: event_idx=0|1, indirect=0|1. */
uint64_t ring_features(const struct bootinfo *bi);

void test_blk(const struct bootinfo *bi);
void test_blk_ro(const struct bootinfo *bi);
void test_blk_swap(const struct bootinfo *bi);
void test_bench_blk(const struct bootinfo *bi);
void test_bench_net(const struct bootinfo *bi);
void test_net(const struct bootinfo *bi);
void test_mmds(const struct bootinfo *bi);
void test_net_hostile(const struct bootinfo *bi);
void test_net_nat(const struct bootinfo *bi);
void test_rng(const struct bootinfo *bi);
void test_balloon(const struct bootinfo *bi);
void test_virtio_mem(const struct bootinfo *bi);
void test_pmem(const struct bootinfo *bi);
void test_vsock(const struct bootinfo *bi);
void test_bench_vsock(const struct bootinfo *bi);
void test_dynmem(const struct bootinfo *bi);
/*
 * test=dynmem's use of the virtio-mem driver (t_virtio_mem.c): open the
 * device and map its region (false, silently, without one), then bring
 * what is plugged to the host's requested_size, *plugged_mib after.
 */
bool vmem_open(const struct bootinfo *bi);
bool vmem_follow(uint64_t *plugged_mib);
void test_hostile(const struct bootinfo *bi);
void test_soak(const struct bootinfo *bi);
void test_diskcount(const struct bootinfo *bi);
/* selftest: test=memcount_selftest, which must find a stale word. */
void test_memcount(const struct bootinfo *bi, bool selftest);

/* Shared by the tests: a working virtio-rng request, as a health check. */
bool rng_works(const char *name);
/* One raw virtio-rng request (set up on first use); used length or -1. */
int rng_call(const struct vbuf *b, unsigned n);
/* A virtio-blk device opened, negotiated and live on queue 0. */
bool blk_setup(struct vdev *d, uint64_t extra, uint16_t qsize);
/* One virtio-blk request; returns the status byte, or -1 (no answer). */
int blk_rw(struct vdev *d, uint32_t type, uint64_t sector, void *data,
	   uint32_t len, int *used_len);

#endif
