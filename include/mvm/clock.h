/*
 * The clocks mvm reads, in one place. Monotonic time measures intervals
 * (timeouts, rates, downtime); real time is what is written into state
 * that another process or host reads back (a snapshot's creation time,
 * the wall clock a guest paused at), since monotonic clocks do not agree
 * across boots or machines.
 */
#ifndef MVM_CLOCK_H
#define MVM_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t mvm_clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t mvm_mono_ns(void)
{
	return mvm_clock_ns(CLOCK_MONOTONIC);
}

static inline uint64_t mvm_mono_ms(void)
{
	return mvm_mono_ns() / 1000000u;
}

static inline uint64_t mvm_real_ns(void)
{
	return mvm_clock_ns(CLOCK_REALTIME);
}

#endif
