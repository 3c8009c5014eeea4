#include "pit.h"

#include "io.h"

#define PORT_CH2 0x42
#define PORT_MODE 0x43
#define PORT_GATE 0x61
#define GATE_CH2 0x01
#define SPEAKER 0x02
#define OUT_CH2 0x20
#define MODE_CH2_LOHI_ONESHOT 0xb0 /* channel 2, lo/hi byte, mode 0 */

/*
 * Polls per millisecond before giving up on the PIT. A port read is a VM
 * exit (at least ~1 us on KVM), so this is well beyond the real deadline
 * wherever the PIT works.
 */
#define POLLS_PER_MS 20000u

/* Mode 0: OUT2 goes high when the count reaches zero and stays high. */
static void start_count(uint16_t count)
{
	uint8_t gate = inb(PORT_GATE) & (uint8_t)~(GATE_CH2 | SPEAKER);

	outb(PORT_GATE, gate);
	outb(PORT_MODE, MODE_CH2_LOHI_ONESHOT);
	outb(PORT_CH2, count & 0xff);
	outb(PORT_CH2, count >> 8);
	outb(PORT_GATE, gate | GATE_CH2);
}

static uint32_t ms_to_ticks(uint32_t ms)
{
	/* 1193 ticks/ms, within 0.02%; avoids 64-bit math. */
	return ms > 3000000 ? UINT32_MAX : ms * 1193u;
}

static void next_chunk(struct deadline *d)
{
	uint32_t chunk = d->ticks_left > 0xffff ? 0xffff : d->ticks_left;

	if (chunk < 2)
		chunk = 2;
	d->ticks_left -= chunk < d->ticks_left ? chunk : d->ticks_left;
	start_count((uint16_t)chunk);
}

void deadline_start(struct deadline *d, uint32_t ms)
{
	d->ticks_left = ms_to_ticks(ms);
	d->polls_left = ms > UINT32_MAX / POLLS_PER_MS ? UINT32_MAX
						       : (ms + 1) * POLLS_PER_MS;
	next_chunk(d);
}

bool deadline_expired(struct deadline *d)
{
	if (d->polls_left == 0)
		return true;
	d->polls_left--;
	if (!(inb(PORT_GATE) & OUT_CH2))
		return false;
	if (d->ticks_left == 0)
		return true;
	next_chunk(d);
	return false;
}

void delay_us(uint32_t us)
{
	struct deadline d;
	uint32_t ticks = us > 3000000000u / 1193u ? UINT32_MAX
						  : (us * 1193u) / 1000u;

	d.ticks_left = ticks;
	d.polls_left = (us / 1000 + 1) * POLLS_PER_MS;
	next_chunk(&d);
	while (!deadline_expired(&d))
		cpu_pause();
}
