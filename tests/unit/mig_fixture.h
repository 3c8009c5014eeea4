/*
 * Migration streams to test with (and the fuzzer's seed): a guest CPUID,
 * a HELLO, guest RAM with a pattern, and a stream built section by
 * section. No test framework here, so that a plain program can use it
 * too: each function returns 0 or a negative errno.
 */
#ifndef MVM_TEST_MIG_FIXTURE_H
#define MVM_TEST_MIG_FIXTURE_H

#include <errno.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/mem.h"
#include "mvm/migration.h"

#define FIX_MIG_PAGE 4096u

/* A stream being built, in memory. */
struct fix_stream {
	uint8_t *b;
	size_t len, cap;
};

/* Room for n more bytes. */
static inline int fix_stream_room(struct fix_stream *s, size_t n)
{
	size_t cap = s->cap ? s->cap : 4096;
	uint8_t *b;

	while (cap - s->len < n)
		cap *= 2;
	if (cap == s->cap)
		return 0;
	b = realloc(s->b, cap);
	if (!b)
		return -ENOMEM;
	s->b = b;
	s->cap = cap;
	return 0;
}

/* One section of type and payload, appended. */
static inline int fix_stream_put(struct fix_stream *s, enum mig_section type,
				 const void *payload, size_t len)
{
	size_t n;
	int ret = fix_stream_room(s, MIG_HDR_SIZE + len);

	if (ret)
		return ret;
	n = mig_section_put(s->b + s->len, s->cap - s->len, type, payload,
			    len);
	if (!n)
		return -EINVAL;
	s->len += n;
	return 0;
}

static inline int fix_stream_put_u32(struct fix_stream *s,
				     enum mig_section type, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 24) };

	return fix_stream_put(s, type, b, sizeof(b));
}

/* PAGES: gpa, npages, kind, then data (npages pages) or nothing. */
static inline int fix_stream_pages(struct fix_stream *s, uint64_t gpa,
				   uint32_t npages, uint32_t kind,
				   const void *data)
{
	size_t dlen = data ? (size_t)npages * FIX_MIG_PAGE : 0;
	uint8_t *p = malloc(MIG_PAGES_HDR + dlen);
	int ret;

	if (!p)
		return -ENOMEM;
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(gpa >> (8 * i));
	for (int i = 0; i < 4; i++) {
		p[8 + i] = (uint8_t)(npages >> (8 * i));
		p[12 + i] = (uint8_t)(kind >> (8 * i));
	}
	if (dlen)
		memcpy(p + MIG_PAGES_HDR, data, dlen);
	ret = fix_stream_put(s, MIG_PAGES, p, MIG_PAGES_HDR + dlen);
	free(p);
	return ret;
}

/*
 * A guest's CPUID as KVM would give it: leaves 0, 1, 7.0, 7.1, 0xd.1,
 * 0x80000000, 0x80000001, 0x80000007, 0x80000008, with the features of a
 * recent x86 (AVX-512, SHA) set. The caller frees it.
 */
static inline struct kvm_cpuid2 *fix_mig_cpuid(void)
{
	static const struct kvm_cpuid_entry2 e[] = {
		{ .function = 0, .eax = 0xd, .ebx = 0x756e6547,
		  .ecx = 0x6c65746e, .edx = 0x49656e69 },
		{ .function = 1, .eax = 0x806f8,
		  .ecx = 0xfffa3203 | 1u << 31, .edx = 0x1f8bfbff },
		{ .function = 7, .index = 0,
		  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 1,
		  .ebx = 0xf1bf0fab, .ecx = 0x1b415f6e, .edx = 0xac004410 },
		{ .function = 7, .index = 1,
		  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0x30 },
		{ .function = 0xd, .index = 1,
		  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0xf },
		{ .function = 0x80000000, .eax = 0x80000008 },
		{ .function = 0x80000001, .ecx = 0x121, .edx = 0x2c100800 },
		{ .function = 0x80000007, .edx = 0x100 },
		{ .function = 0x80000008, .eax = 0x3030, .ebx = 0x200 },
	};
	size_t n = sizeof(e) / sizeof(e[0]);
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + sizeof(e));

	if (!c)
		return NULL;
	c->nent = (uint32_t)n;
	memcpy(c->entries, e, sizeof(e));
	return c;
}

/*
 * HELLO for a guest of `vcpus` vCPUs and the regions (gpa, size) of gm,
 * nesting exposed; h is the caller's to free (mig_hello_free).
 */
static inline int fix_mig_hello(struct mig_hello *h,
				const struct guest_mem *gm, uint32_t vcpus)
{
	uint64_t bytes = 0;

	memset(h, 0, sizeof(*h));
	h->version = MIG_VERSION;
	h->flags = MIG_HELLO_NESTED;
	h->vcpus = vcpus;
	h->src_realtime_ns = 1700000000123456789ull;
	for (int i = 0; i < gm->nr; i++) {
		h->regions[i].gpa = gm->r[i].gpa;
		h->regions[i].size = gm->r[i].size;
		bytes += gm->r[i].size;
	}
	h->nr_regions = (unsigned)gm->nr;
	h->mem_mib = bytes >> 20;
	h->cpuid = fix_mig_cpuid();
	return h->cpuid ? 0 : -ENOMEM;
}

/* The HELLO section of fix_mig_hello, appended. */
static inline int fix_stream_hello(struct fix_stream *s,
				   const struct guest_mem *gm)
{
	struct mig_hello h;
	size_t len;
	void *buf = NULL;
	int ret = fix_mig_hello(&h, gm, 2);

	if (!ret)
		ret = mig_hello_encode(&h, &buf, &len, NULL);
	if (!ret)
		ret = fix_stream_put(s, MIG_HELLO, buf, len);
	free(buf);
	mig_hello_free(&h);
	return ret;
}

/* Byte i of page p of the pattern (seed picks one of several). */
static inline uint8_t fix_mig_byte(uint64_t p, unsigned i, unsigned seed)
{
	return (uint8_t)((p * 131 + i * 7 + seed * 29) | 1); /* never 0 */
}

static inline void fix_mig_fill_page(uint8_t *page, uint64_t p,
				     unsigned seed)
{
	for (unsigned i = 0; i < FIX_MIG_PAGE; i++)
		page[i] = fix_mig_byte(p, i, seed);
}

#endif
