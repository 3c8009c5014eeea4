#include "pit.h"

#include "io.h"

#define PORT_CH2 0x42
#define PORT_MODE 0x43
#define PORT_GATE 0x61
#define GATE_CH2 0x01
#define SPEAKER 0x02
#define MODE_CH2_LOHI_RATE 0xb4  /* channel 2, lo/hi byte, mode 2 */
#define LATCH_CH2 0x80		 /* counter latch command, channel 2 */

/*
 * Polls per millisecond before giving up on the PIT. A poll is three port
 * accesses, each a VM exit (at least ~1 us on KVM), so this is well beyond
 * the real deadline wherever the PIT works.
 */
#define POLLS_PER_MS 20000u

/*
 * Channel 2 runs free (mode 2, reload 65536, one wrap per 55 ms) and is
 * never reprogrammed once started, so any number of waits can measure
 * time from it at once: a delay_us() inside a deadline's loop used to
 * restart the one-shot count the deadline was waiting on, and each such
 * delay ended a 55 ms chunk of the deadline early. The tiny kernels wait
 * on the boot CPU only; APs must not use these functions.
 */
static bool running;

static void start_free_run(void)
{
	uint8_t gate = inb(PORT_GATE) & (uint8_t)~(GATE_CH2 | SPEAKER);

	outb(PORT_GATE, gate);
	outb(PORT_MODE, MODE_CH2_LOHI_RATE);
	outb(PORT_CH2, 0);
	outb(PORT_CH2, 0);
	outb(PORT_GATE, gate | GATE_CH2);
	running = true;
}

static uint16_t read_count(void)
{
	uint8_t lo, hi;

	outb(PORT_MODE, LATCH_CH2);
	lo = inb(PORT_CH2);
	hi = inb(PORT_CH2);
	return (uint16_t)(lo | hi << 8);
}

static void start(struct deadline *d, uint32_t ticks, uint32_t polls)
{
	if (!running)
		start_free_run();
	d->ticks_left = ticks;
	d->polls_left = polls;
	d->last = read_count();
}

static uint32_t ms_to_ticks(uint32_t ms)
{
	/* 1193 ticks/ms, within 0.02%; avoids 64-bit math. */
	return ms > 3000000 ? UINT32_MAX : ms * 1193u;
}

void deadline_start(struct deadline *d, uint32_t ms)
{
	start(d, ms_to_ticks(ms),
	      ms > UINT32_MAX / POLLS_PER_MS - 1 ? UINT32_MAX
						 : (ms + 1) * POLLS_PER_MS);
}

/*
 * The counter runs down; the ticks since the last poll are the difference
 * modulo 65536. A gap of more than one wrap between polls (a vCPU that
 * was not scheduled for 55 ms) is undercounted, which makes a wait longer,
 * never shorter.
 */
bool deadline_expired(struct deadline *d)
{
	uint16_t now;
	uint16_t ran;

	if (d->polls_left == 0 || d->ticks_left == 0)
		return true;
	d->polls_left--;
	now = read_count();
	ran = (uint16_t)(d->last - now);
	d->last = now;
	d->ticks_left -= ran < d->ticks_left ? ran : d->ticks_left;
	return d->ticks_left == 0;
}

void delay_us(uint32_t us)
{
	struct deadline d;
	uint32_t ticks = us > 3000000000u / 1193u ? UINT32_MAX
						  : (us * 1193u) / 1000u;

	start(&d, ticks ? ticks : 1, (us / 1000 + 1) * POLLS_PER_MS);
	while (!deadline_expired(&d))
		cpu_pause();
}
