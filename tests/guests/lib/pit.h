/*
 * Wall-clock waits from PIT channel 2 (gated through port 0x61), counting
 * freely, so timeouts mean the same on a fast KVM host and on a slow
 * emulated one, and waits may nest. Every wait is also capped by an
 * iteration count, so a missing PIT cannot hang a guest.
 */
#ifndef GUEST_PIT_H
#define GUEST_PIT_H

#include "types.h"

#define PIT_HZ 1193182u

struct deadline {
	uint32_t ticks_left; /* PIT ticks still to run */
	uint32_t polls_left; /* fallback bound */
	uint16_t last;	     /* channel 2's count at the last poll */
};

void deadline_start(struct deadline *d, uint32_t ms);
/* Polls the PIT (one port read); true once the time is up. */
bool deadline_expired(struct deadline *d);
void delay_us(uint32_t us);

#endif
