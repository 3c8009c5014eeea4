/*
 * PIO and MMIO dispatch: a sorted interval table per address space. vCPU
 * threads look ranges up on every exit; registration is rare (boot, BAR
 * moves), so a read-write lock keeps lookups parallel.
 */
#ifndef MVM_BUS_H
#define MVM_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* offset is relative to the range's base; data holds len bytes, LE. */
typedef void (*bus_io_fn)(void *ctx, uint64_t offset, uint8_t *data,
			  uint32_t len, bool is_write);

struct bus_range {
	uint64_t base;
	uint64_t len;
	bus_io_fn fn;
	void *ctx;
};

struct bus {
	struct bus_range *r;
	size_t nr;
	size_t cap;
	pthread_rwlock_t lock;
};

void bus_init(struct bus *b);
void bus_fini(struct bus *b);
/* -EEXIST if [base, base+len) overlaps a registered range. */
int bus_add(struct bus *b, uint64_t base, uint64_t len, bus_io_fn fn,
	    void *ctx);
int bus_del(struct bus *b, uint64_t base);
/* false if no range claims addr: the caller decides what that means. */
bool bus_dispatch(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len,
		  bool is_write);

#endif
