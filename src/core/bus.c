#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "mvm/bus.h"

void bus_init(struct bus *b)
{
	memset(b, 0, sizeof(*b));
	pthread_rwlock_init(&b->lock, NULL);
}

void bus_fini(struct bus *b)
{
	free(b->r);
	pthread_rwlock_destroy(&b->lock);
	b->r = NULL;
	b->nr = b->cap = 0;
}

/* Index of the first range whose end is above addr. */
static size_t lower_bound(const struct bus *b, uint64_t addr)
{
	size_t lo = 0, hi = b->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &b->r[mid];

		if (r->base + r->len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_add(struct bus *b, uint64_t base, uint64_t len, bus_io_fn fn,
	    void *ctx)
{
	size_t i;
	int ret = 0;

	if (len == 0 || base + len < base)
		return -EINVAL;
	pthread_rwlock_wrlock(&b->lock);
	i = lower_bound(b, base);
	if (i < b->nr && b->r[i].base < base + len) {
		ret = -EEXIST;
		goto out;
	}
	if (b->nr == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct bus_range *n = realloc(b->r, cap * sizeof(*n));

		if (!n) {
			ret = -ENOMEM;
			goto out;
		}
		b->r = n;
		b->cap = cap;
	}
	memmove(&b->r[i + 1], &b->r[i], (b->nr - i) * sizeof(b->r[0]));
	b->r[i] = (struct bus_range){ base, len, fn, ctx };
	b->nr++;
out:
	pthread_rwlock_unlock(&b->lock);
	return ret;
}

int bus_del(struct bus *b, uint64_t base)
{
	size_t i;
	int ret = -ENOENT;

	pthread_rwlock_wrlock(&b->lock);
	i = lower_bound(b, base);
	if (i < b->nr && b->r[i].base == base) {
		memmove(&b->r[i], &b->r[i + 1],
			(b->nr - i - 1) * sizeof(b->r[0]));
		b->nr--;
		ret = 0;
	}
	pthread_rwlock_unlock(&b->lock);
	return ret;
}

bool bus_dispatch(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len,
		  bool is_write)
{
	struct bus_range r;
	size_t i;

	pthread_rwlock_rdlock(&b->lock);
	i = lower_bound(b, addr);
	if (i >= b->nr || b->r[i].base > addr) {
		pthread_rwlock_unlock(&b->lock);
		return false;
	}
	r = b->r[i];
	pthread_rwlock_unlock(&b->lock);
	/* Handlers run unlocked so they may themselves move ranges (BARs). */
	r.fn(r.ctx, addr - r.base, data, len, is_write);
	return true;
}
