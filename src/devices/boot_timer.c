/*
 * The boot timer's register (include/mvm/boot_timer.h). Only a one-byte
 * write of the magic value at offset 0 counts, as in Firecracker; every
 * other access is ignored and reads give zeros.
 */
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "mvm/boot_timer.h"
#include "mvm/bus.h"
#include "mvm/clock.h"
#include "mvm/err.h"

static void boot_timer_io(void *ctx, uint64_t off, uint8_t *data,
			  uint32_t len, bool is_write)
{
	struct boot_timer *bt = ctx;
	uint64_t one = 1, now, cpu;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (off != 0 || len != 1 || data[0] != BOOT_TIMER_MAGIC ||
	    atomic_exchange(&bt->fired, true))
		return;
	now = mvm_clock_ns(CLOCK_MONOTONIC);
	cpu = mvm_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	atomic_store(&bt->us, (now - bt->start_ns) / 1000);
	atomic_store(&bt->cpu_us, (cpu - bt->start_cpu_ns) / 1000);
	/* The counter cannot overflow on one write: nothing to handle. */
	if (write(bt->efd, &one, sizeof(one)) < 0)
		return;
}

int boot_timer_init(struct boot_timer *bt, struct mvm_err *err)
{
	memset(bt, 0, sizeof(*bt));
	bt->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (bt->efd < 0)
		return mvm_fail(err, -errno, "boot timer: eventfd: %s",
				strerror(errno));
	return 0;
}

void boot_timer_fini(struct boot_timer *bt)
{
	if (bt->efd >= 0)
		close(bt->efd);
	bt->efd = -1;
}

void boot_timer_arm(struct boot_timer *bt)
{
	bt->start_ns = mvm_clock_ns(CLOCK_MONOTONIC);
	bt->start_cpu_ns = mvm_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	atomic_store(&bt->fired, false);
}

int boot_timer_attach(struct boot_timer *bt, struct bus *mmio,
		      struct mvm_err *err)
{
	int ret = bus_add(mmio, BOOT_TIMER_MMIO, BOOT_TIMER_LEN, boot_timer_io,
		      bt);

	return ret ? mvm_fail(err, ret, "boot timer: its page at 0x%llx is "
			      "taken", BOOT_TIMER_MMIO) : 0;
}

bool boot_timer_take(struct boot_timer *bt, uint64_t *us, uint64_t *cpu_us)
{
	uint64_t n;

	if (read(bt->efd, &n, sizeof(n)) != sizeof(n))
		return false;
	*us = atomic_load(&bt->us);
	*cpu_us = atomic_load(&bt->cpu_us);
	return true;
}
