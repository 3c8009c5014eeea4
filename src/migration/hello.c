/*
 * HELLO, the source's first section: what the destination needs to say
 * yes or no before any page comes (the vCPUs, the memory layout, the
 * guest's CPUID, whether nesting travels). It comes from the network:
 * every count is checked against the bytes there are before it is used.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdlib.h>

#include "mvm/err.h"
#include "mvm/vm_config.h"
#include "mig_priv.h"

#define FIXED 32u      /* version .. src_realtime_ns */
#define REGION 16u     /* gpa, size */
#define NR_CPUID 4u
#define CPUID_ENTRY 28u /* function, index, flags, eax, ebx, ecx, edx */
#define HOTPLUG 24u     /* total, slot, block: MIG_HELLO_HOTPLUG only */
#define KNOWN_FLAGS (MIG_HELLO_NESTED | MIG_HELLO_NESTED_STATE | \
		     MIG_HELLO_HOTPLUG)

static size_t hello_size(unsigned nr_regions, unsigned nr_cpuid,
			 uint32_t flags)
{
	return FIXED + (size_t)nr_regions * REGION + NR_CPUID +
	       (size_t)nr_cpuid * CPUID_ENTRY +
	       (flags & MIG_HELLO_HOTPLUG ? HOTPLUG : 0);
}

int mig_hello_encode(const struct mig_hello *h, void **buf, size_t *len,
		     struct mvm_err *err)
{
	unsigned nc = h->cpuid ? h->cpuid->nent : 0;
	struct mig_hello back;
	uint8_t *b, *p;
	size_t n;
	int ret;

	/* Checked here too: they size the buffer and index the arrays. */
	if (h->nr_regions > MEM_MAX_REGIONS || nc > MIG_HELLO_CPUID_MAX)
		return mvm_fail(err, -EINVAL, "HELLO: %u regions and %u CPUID "
				"entries, at most %u and %u", h->nr_regions,
				nc, MEM_MAX_REGIONS, MIG_HELLO_CPUID_MAX);
	n = hello_size(h->nr_regions, nc, h->flags);
	b = p = malloc(n);
	if (!b)
		return mvm_fail(err, -ENOMEM, "out of memory");
	p = mig_put32(p, MIG_VERSION);
	p = mig_put32(p, h->flags);
	p = mig_put32(p, h->vcpus);
	p = mig_put32(p, h->nr_regions);
	p = mig_put64(p, h->mem_mib);
	p = mig_put64(p, h->src_realtime_ns);
	for (unsigned i = 0; i < h->nr_regions; i++) {
		p = mig_put64(p, h->regions[i].gpa);
		p = mig_put64(p, h->regions[i].size);
	}
	p = mig_put32(p, nc);
	for (unsigned i = 0; i < nc; i++) {
		const struct kvm_cpuid_entry2 *e = &h->cpuid->entries[i];

		p = mig_put32(p, e->function);
		p = mig_put32(p, e->index);
		p = mig_put32(p, e->flags);
		p = mig_put32(p, e->eax);
		p = mig_put32(p, e->ebx);
		p = mig_put32(p, e->ecx);
		p = mig_put32(p, e->edx);
	}
	if (h->flags & MIG_HELLO_HOTPLUG) {
		p = mig_put64(p, h->hotplug.total_mib);
		p = mig_put64(p, h->hotplug.slot_mib);
		p = mig_put64(p, h->hotplug.block_mib);
	}
	/* Never send what the other side would refuse: say so here. */
	ret = mig_hello_decode(b, n, &back, err);
	if (ret) {
		free(b);
		return ret;
	}
	mig_hello_free(&back);
	*buf = b;
	*len = n;
	return 0;
}

/* The regions, packed as a memory file would be, checked as one. */
static int check_regions(struct mig_hello *h, struct mvm_err *err)
{
	struct gm_file_region packed[MEM_MAX_REGIONS];
	uint64_t sum = 0, max = UINT64_MAX >> 20;
	uint64_t hot = h->hotplug.total_mib;
	int ret;

	for (unsigned i = 0; i < h->nr_regions; i++) {
		packed[i] = h->regions[i];
		packed[i].offset = sum; /* wraps only where the check fails */
		sum += h->regions[i].size;
	}
	ret = gm_file_layout_check(packed, h->nr_regions, 0, err);
	if (ret)
		return mvm_wrap(err, ret, "HELLO: ");
	/* Both counts are hostile: neither sum nor shift may wrap. */
	if (h->mem_mib <= max && hot <= max - h->mem_mib &&
	    sum == (h->mem_mib + hot) << 20)
		return 0;
	if (!hot)
		return mvm_fail(err, -EINVAL, "HELLO: the regions hold %" PRIu64
				" bytes, mem_mib says %" PRIu64 " MiB", sum,
				h->mem_mib);
	return mvm_fail(err, -EINVAL, "HELLO: the regions hold %" PRIu64
			" bytes, mem_mib and hotplug_total_mib say %" PRIu64
			" and %" PRIu64 " MiB", sum, h->mem_mib, hot);
}

/* The entries, none twice: which one would the check believe? */
static int read_cpuid(const uint8_t *p, unsigned nc, struct mig_hello *h,
		      struct mvm_err *err)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) +
					       nc * sizeof(c->entries[0]));

	if (!c)
		return mvm_fail(err, -ENOMEM, "out of memory");
	c->nent = nc;
	for (unsigned i = 0; i < nc; i++, p += CPUID_ENTRY) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		e->function = mig_get32(p);
		e->index = mig_get32(p + 4);
		e->flags = mig_get32(p + 8);
		e->eax = mig_get32(p + 12);
		e->ebx = mig_get32(p + 16);
		e->ecx = mig_get32(p + 20);
		e->edx = mig_get32(p + 24);
		for (unsigned j = 0; j < i; j++) {
			if (c->entries[j].function != e->function ||
			    c->entries[j].index != e->index)
				continue;
			mvm_fail(err, -EINVAL, "HELLO: CPUID leaf 0x%x.%u "
				 "comes twice (entries %u and %u)",
				 e->function, e->index, j, i);
			free(c);
			return -EINVAL;
		}
	}
	h->cpuid = c;
	return 0;
}

/* Everything before the CPUID entries; their count in *nc. */
static int read_head(const uint8_t *b, size_t len, struct mig_hello *h,
		     unsigned *nc, struct mvm_err *err)
{
	const uint8_t *p = b + FIXED;

	if (len < FIXED + NR_CPUID)
		return mvm_fail(err, -EINVAL, "HELLO: %zu bytes, shorter than "
				"its fixed fields (%u)", len,
				FIXED + NR_CPUID);
	h->version = mig_get32(b);
	h->flags = mig_get32(b + 4);
	h->vcpus = mig_get32(b + 8);
	h->nr_regions = mig_get32(b + 12);
	h->mem_mib = mig_get64(b + 16);
	h->src_realtime_ns = mig_get64(b + 24);
	if (h->version != MIG_VERSION)
		return mvm_fail(err, -EINVAL, "HELLO: stream version %u, this "
				"mvm speaks %u", h->version, MIG_VERSION);
	if (h->flags & ~KNOWN_FLAGS)
		return mvm_fail(err, -EINVAL, "HELLO: unknown flags 0x%x",
				h->flags & ~KNOWN_FLAGS);
	if (h->vcpus < 1 || h->vcpus > VM_MAX_VCPUS)
		return mvm_fail(err, -EINVAL, "HELLO: %u vCPUs (1 to %d "
				"allowed)", h->vcpus, VM_MAX_VCPUS);
	if (h->nr_regions < 1 || h->nr_regions > MEM_MAX_REGIONS)
		return mvm_fail(err, -EINVAL, "HELLO: %u memory regions (1 to "
				"%d allowed)", h->nr_regions, MEM_MAX_REGIONS);
	if (len < hello_size(h->nr_regions, 0, 0))
		return mvm_fail(err, -EINVAL, "HELLO: %zu bytes, too short for "
				"its %u regions", len, h->nr_regions);
	for (unsigned i = 0; i < h->nr_regions; i++, p += REGION) {
		h->regions[i].gpa = mig_get64(p);
		h->regions[i].size = mig_get64(p + 8);
		h->regions[i].offset = 0;
	}
	*nc = mig_get32(p);
	if (*nc < 1 || *nc > MIG_HELLO_CPUID_MAX)
		return mvm_fail(err, -EINVAL, "HELLO: %u CPUID entries (1 to "
				"%u allowed)", *nc, MIG_HELLO_CPUID_MAX);
	if (len != hello_size(h->nr_regions, *nc, h->flags))
		return mvm_fail(err, -EINVAL, "HELLO: %zu bytes, its counts "
				"(%u regions, %u CPUID entries%s) make %zu",
				len, h->nr_regions, *nc,
				h->flags & MIG_HELLO_HOTPLUG ?
					", hotplug sizes" : "",
				hello_size(h->nr_regions, *nc, h->flags));
	if (h->flags & MIG_HELLO_HOTPLUG) {
		p = b + hello_size(h->nr_regions, *nc, 0);
		h->hotplug.total_mib = mig_get64(p);
		h->hotplug.slot_mib = mig_get64(p + 8);
		h->hotplug.block_mib = mig_get64(p + 16);
		if (!h->hotplug.total_mib)
			return mvm_fail(err, -EINVAL, "HELLO: hotpluggable "
					"memory of 0 MiB");
	}
	return check_regions(h, err);
}

int mig_hello_decode(const void *buf, size_t len, struct mig_hello *h,
		     struct mvm_err *err)
{
	unsigned nc = 0;
	int ret;

	memset(h, 0, sizeof(*h));
	ret = read_head(buf, len, h, &nc, err);
	if (!ret)
		ret = read_cpuid((const uint8_t *)buf +
					 hello_size(h->nr_regions, 0, 0),
				 nc, h, err);
	if (ret)
		memset(h, 0, sizeof(*h));
	return ret;
}

void mig_hello_free(struct mig_hello *h)
{
	free(h->cpuid);
	memset(h, 0, sizeof(*h));
}
