/*
 * An MC146818 CMOS RTC at ports 0x70 (index) and 0x71 (data). Linux probes
 * it on every PC (rtc_cmos); a missing one costs a guest over a second of
 * boot under nested virtualization, and gives it no wall clock of its own.
 *
 * The time registers are computed from the host clock at each read; only
 * while the guest holds SET (register B) do they hold values, which become
 * the new time when SET drops. No interrupts: periodic, alarm and update
 * interrupts are never raised (register C reads 0), which Linux copes with.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/bus.h"
#include "mvm/dev_ctx.h"
#include "mvm/device.h"
#include "mvm/devices.h"
#include "mvm/err.h"
#include "mvm/rtc.h"

#define PORT_RTC 0x70
#define PORT_RTC_LEN 2
#define RTC_INDEX_MASK 0x7f /* bit 7 of the index port masks NMIs: ignored */

struct rtc {
	pthread_mutex_t lock; /* the index/data pair is one state machine */
	struct rtc_cmos regs;
};

static bool is_time_reg(unsigned i)
{
	switch (i) {
	case RTC_SECONDS:
	case RTC_MINUTES:
	case RTC_HOURS:
	case RTC_DAY_OF_WEEK:
	case RTC_DAY_OF_MONTH:
	case RTC_MONTH:
	case RTC_YEAR:
	case RTC_CENTURY:
		return true;
	default:
		return false;
	}
}

static uint8_t encode(const struct rtc_cmos *c, unsigned v)
{
	if (c->ram[RTC_REG_B] & RTC_B_DM_BINARY)
		return (uint8_t)v;
	return (uint8_t)((v / 10) << 4 | v % 10);
}

static unsigned decode(const struct rtc_cmos *c, uint8_t b)
{
	if (c->ram[RTC_REG_B] & RTC_B_DM_BINARY)
		return b;
	return (b >> 4) * 10u + (b & 0xf);
}

static uint8_t encode_hours(const struct rtc_cmos *c, unsigned h)
{
	unsigned h12 = h % 12 ? h % 12 : 12;

	if (c->ram[RTC_REG_B] & RTC_B_24H)
		return encode(c, h);
	return (uint8_t)(encode(c, h12) | (h >= 12 ? RTC_HOURS_PM : 0));
}

static unsigned decode_hours(const struct rtc_cmos *c, uint8_t b)
{
	if (c->ram[RTC_REG_B] & RTC_B_24H)
		return decode(c, b);
	return decode(c, b & (uint8_t)~RTC_HOURS_PM) % 12 +
	       (b & RTC_HOURS_PM ? 12 : 0);
}

/* Write wall-clock time t into the time registers of regs, in c's mode. */
static void fill_time(const struct rtc_cmos *c, uint8_t *regs, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	regs[RTC_SECONDS] = encode(c, (unsigned)tm.tm_sec);
	regs[RTC_MINUTES] = encode(c, (unsigned)tm.tm_min);
	regs[RTC_HOURS] = encode_hours(c, (unsigned)tm.tm_hour);
	regs[RTC_DAY_OF_WEEK] = encode(c, (unsigned)tm.tm_wday + 1);
	regs[RTC_DAY_OF_MONTH] = encode(c, (unsigned)tm.tm_mday);
	regs[RTC_MONTH] = encode(c, (unsigned)tm.tm_mon + 1);
	regs[RTC_YEAR] = encode(c, (unsigned)(tm.tm_year + 1900) % 100);
	regs[RTC_CENTURY] = encode(c, (unsigned)(tm.tm_year + 1900) / 100);
}

/* The wall-clock time the time registers of c->ram spell, in c's mode. */
static int64_t read_time(const struct rtc_cmos *c)
{
	const uint8_t *r = c->ram;
	struct tm tm = {
		.tm_sec = (int)decode(c, r[RTC_SECONDS]),
		.tm_min = (int)decode(c, r[RTC_MINUTES]),
		.tm_hour = (int)decode_hours(c, r[RTC_HOURS]),
		.tm_mday = (int)decode(c, r[RTC_DAY_OF_MONTH]),
		.tm_mon = (int)decode(c, r[RTC_MONTH]) - 1,
		.tm_year = (int)(decode(c, r[RTC_CENTURY]) * 100 +
				 decode(c, r[RTC_YEAR])) - 1900,
	};

	/* Out-of-range fields roll over (timegm normalises): so does a chip. */
	return (int64_t)timegm(&tm);
}

static int64_t guest_now(const struct rtc_cmos *c, struct timespec now)
{
	return (int64_t)now.tv_sec + c->offset_s;
}

void rtc_cmos_init(struct rtc_cmos *c)
{
	*c = (struct rtc_cmos){ 0 };
	c->ram[RTC_REG_A] = RTC_A_DEFAULT;
	c->ram[RTC_REG_B] = RTC_B_24H;
}

uint8_t rtc_cmos_read(struct rtc_cmos *c, unsigned port, struct timespec now)
{
	uint8_t regs[RTC_CMOS_SIZE];
	uint8_t v;
	unsigned i = c->index;
	bool set = c->ram[RTC_REG_B] & RTC_B_SET;

	if (port != RTC_PORT_DATA)
		return 0xff; /* the index port is write-only */
	if (is_time_reg(i) && !set) {
		fill_time(c, regs, guest_now(c, now));
		return regs[i];
	}
	switch (i) {
	case RTC_REG_A:
		/* SET stops updates, and with them UIP. */
		v = c->ram[i];
		if (!set && now.tv_nsec >= 1000000000L - RTC_UIP_NS)
			v |= RTC_A_UIP;
		return v;
	case RTC_REG_C:
		v = c->ram[i]; /* reading acknowledges the flags */
		c->ram[i] = 0;
		return v;
	case RTC_REG_D:
		return RTC_D_VRT; /* the battery is always good */
	default:
		return c->ram[i];
	}
}

/* A write to register B: SET latches the time; dropping it sets the clock. */
static void write_reg_b(struct rtc_cmos *c, uint8_t v, struct timespec now)
{
	bool was_set = c->ram[RTC_REG_B] & RTC_B_SET;
	int64_t t = was_set ? read_time(c) : guest_now(c, now);

	c->ram[RTC_REG_B] = v;
	if (v & RTC_B_SET)
		fill_time(c, c->ram, t); /* in the new mode, if it changed */
	else if (was_set)
		c->offset_s = t - (int64_t)now.tv_sec;
}

void rtc_cmos_write(struct rtc_cmos *c, unsigned port, uint8_t v,
		    struct timespec now)
{
	unsigned i = c->index;

	if (port != RTC_PORT_DATA) {
		c->index = v & RTC_INDEX_MASK;
		return;
	}
	if (is_time_reg(i)) {
		if (c->ram[RTC_REG_B] & RTC_B_SET) {
			c->ram[i] = v;
			return;
		}
		/* A running clock takes the new field at once. */
		fill_time(c, c->ram, guest_now(c, now));
		c->ram[i] = v;
		c->offset_s = read_time(c) - (int64_t)now.tv_sec;
		return;
	}
	switch (i) {
	case RTC_REG_A:
		c->ram[i] = v & (uint8_t)~RTC_A_UIP; /* UIP is read-only */
		break;
	case RTC_REG_B:
		write_reg_b(c, v, now);
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break; /* read-only */
	default:
		c->ram[i] = v;
		break;
	}
}

static void rtc_io(void *ctx, uint64_t off, uint8_t *data, uint32_t len,
		   bool is_write)
{
	struct rtc *rtc = ctx;
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&rtc->lock);
	for (uint32_t i = 0; i < len; i++) {
		unsigned port = (unsigned)(off + i);

		if (port >= PORT_RTC_LEN) {
			if (!is_write)
				data[i] = 0xff;
		} else if (is_write) {
			rtc_cmos_write(&rtc->regs, port, data[i], now);
		} else {
			data[i] = rtc_cmos_read(&rtc->regs, port, now);
		}
	}
	pthread_mutex_unlock(&rtc->lock);
}

int rtc_create(struct dev_ctx *ctx, const struct rtc_cmos *cmos,
	       struct rtc **out, struct mvm_err *err)
{
	struct rtc *rtc = calloc(1, sizeof(*rtc));
	int ret;

	if (!rtc)
		return mvm_fail(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&rtc->lock, NULL);
	if (cmos)
		rtc->regs = *cmos;
	else
		rtc_cmos_init(&rtc->regs);
	ret = bus_add(ctx->pio, PORT_RTC, PORT_RTC_LEN, rtc_io, rtc);
	if (ret) {
		rtc_destroy(rtc);
		return mvm_fail(err, ret, "CMOS RTC ports busy");
	}
	*out = rtc;
	return 0;
}

void rtc_save(struct rtc *rtc, struct rtc_cmos *out)
{
	pthread_mutex_lock(&rtc->lock);
	*out = rtc->regs;
	pthread_mutex_unlock(&rtc->lock);
}

void rtc_destroy(struct rtc *rtc)
{
	if (!rtc)
		return;
	pthread_mutex_destroy(&rtc->lock);
	free(rtc);
}

/*
 * The device interface (include/mvm/device.h). The RTC raises no
 * interrupt and has no I/O: pause and resume have nothing to do, and its
 * time keeps following the host's wall clock (plus the guest's offset)
 * while the VM is paused, as a real one's keeps running.
 */

#define RTC_STATE_VERSION 1
/* Far beyond any date the registers can spell: keeps now + offset sane. */
#define RTC_MAX_OFFSET_S (1LL << 40)
/* What the chip's RESET pin clears in register B: interrupt enables. */
#define RTC_B_IRQ_ENABLES 0x78

struct rtc_saved {
	uint8_t index;
	uint8_t pad[7];
	int64_t offset_s;
	uint8_t ram[RTC_CMOS_SIZE];
};
_Static_assert(sizeof(struct rtc_saved) == 16 + RTC_CMOS_SIZE,
	       "a new layout: a new RTC_STATE_VERSION");

/* Battery-backed: the CMOS and the clock survive, the latch does not. */
static int rtc_dev_reset(struct device *d, struct mvm_err *err)
{
	struct rtc *rtc = d->opaque;

	(void)err;
	pthread_mutex_lock(&rtc->lock);
	rtc->regs.index = 0;
	rtc->regs.ram[RTC_REG_B] &= (uint8_t)~RTC_B_IRQ_ENABLES;
	rtc->regs.ram[RTC_REG_C] = 0;
	pthread_mutex_unlock(&rtc->lock);
	return 0;
}

static int rtc_dev_save(struct device *d, struct dev_state_node *out,
			struct mvm_err *err)
{
	struct rtc *rtc = d->opaque;
	struct rtc_saved v;

	memset(&v, 0, sizeof(v));
	pthread_mutex_lock(&rtc->lock);
	v.index = rtc->regs.index;
	v.offset_s = rtc->regs.offset_s;
	memcpy(v.ram, rtc->regs.ram, sizeof(v.ram));
	pthread_mutex_unlock(&rtc->lock);
	return dev_state_node_set(out, d->id, RTC_STATE_VERSION, &v,
				  sizeof(v), err);
}

static int rtc_dev_load(struct device *d, const struct dev_state_node *in,
			struct mvm_err *err)
{
	static const uint8_t zero[sizeof(((struct rtc_saved *)0)->pad)];
	struct rtc *rtc = d->opaque;
	struct rtc_saved v;
	int ret;

	ret = dev_state_check(d, in, RTC_STATE_VERSION, sizeof(v), sizeof(v),
			      err);
	if (ret)
		return ret;
	memcpy(&v, in->data, sizeof(v));
	if (v.index >= RTC_CMOS_SIZE)
		return dev_state_bad(d, err, "index %u of %d registers",
				     v.index, RTC_CMOS_SIZE);
	if (memcmp(v.pad, zero, sizeof(zero)))
		return dev_state_bad(d, err, "padding that is not zero");
	if (v.offset_s > RTC_MAX_OFFSET_S || v.offset_s < -RTC_MAX_OFFSET_S)
		return dev_state_bad(d, err, "a clock %lld s from the host's",
				     (long long)v.offset_s);
	pthread_mutex_lock(&rtc->lock);
	rtc->regs.index = v.index;
	rtc->regs.offset_s = v.offset_s;
	memcpy(rtc->regs.ram, v.ram, sizeof(v.ram));
	pthread_mutex_unlock(&rtc->lock);
	return 0;
}

const struct device_ops rtc_device_ops = {
	.activate = dev_nop,
	.reset = rtc_dev_reset,
	.pause = dev_nop,
	.resume = dev_nop,
	.save = rtc_dev_save,
	.load = rtc_dev_load,
};
