#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "mvm/bus.h"
#include "mvm/dev_ctx.h"
#include "mvm/devices.h"
#include "mvm/err.h"
#include "mvm/rtc.h"

/* Thursday 2024-02-29 13:45:07 UTC: a leap day, afternoon, BCD digits > 9. */
#define T_LEAP 1709214307
/* 2030-01-01 00:00:00 UTC */
#define T_2030 1893456000
/* 1999-12-31 23:59:59 UTC: the century rolls over one second later. */
#define T_Y2K_EVE 946684799

static struct timespec at(time_t s, long ns)
{
	return (struct timespec){ .tv_sec = s, .tv_nsec = ns };
}

static uint8_t rd(struct rtc_cmos *c, unsigned reg, struct timespec now)
{
	rtc_cmos_write(c, RTC_PORT_INDEX, (uint8_t)reg, now);
	return rtc_cmos_read(c, RTC_PORT_DATA, now);
}

static void wr(struct rtc_cmos *c, unsigned reg, uint8_t v,
	       struct timespec now)
{
	rtc_cmos_write(c, RTC_PORT_INDEX, (uint8_t)reg, now);
	rtc_cmos_write(c, RTC_PORT_DATA, v, now);
}

Test(rtc, power_on_state_is_24h_bcd_with_a_valid_battery)
{
	struct rtc_cmos c;
	struct timespec t = at(T_LEAP, 0);

	rtc_cmos_init(&c);
	cr_assert_eq(rd(&c, RTC_REG_A, t), RTC_A_DEFAULT);
	cr_assert_eq(rd(&c, RTC_REG_B, t), RTC_B_24H);
	cr_assert_eq(rd(&c, RTC_REG_C, t), 0);
	cr_assert_eq(rd(&c, RTC_REG_D, t), RTC_D_VRT);
}

Test(rtc, time_registers_in_bcd_follow_the_host_clock)
{
	struct rtc_cmos c;
	struct timespec t = at(T_LEAP, 500000000);

	rtc_cmos_init(&c);
	cr_assert_eq(rd(&c, RTC_SECONDS, t), 0x07);
	cr_assert_eq(rd(&c, RTC_MINUTES, t), 0x45);
	cr_assert_eq(rd(&c, RTC_HOURS, t), 0x13);
	cr_assert_eq(rd(&c, RTC_DAY_OF_WEEK, t), 5, "Thursday, Sunday = 1");
	cr_assert_eq(rd(&c, RTC_DAY_OF_MONTH, t), 0x29);
	cr_assert_eq(rd(&c, RTC_MONTH, t), 0x02);
	cr_assert_eq(rd(&c, RTC_YEAR, t), 0x24);
	cr_assert_eq(rd(&c, RTC_CENTURY, t), 0x20);
	/* The clock runs: a later read sees a later time. */
	cr_assert_eq(rd(&c, RTC_SECONDS, at(T_LEAP + 60, 0)), 0x07);
	cr_assert_eq(rd(&c, RTC_MINUTES, at(T_LEAP + 60, 0)), 0x46);
}

Test(rtc, binary_mode_per_register_b)
{
	struct rtc_cmos c;
	struct timespec t = at(T_LEAP, 0);

	rtc_cmos_init(&c);
	wr(&c, RTC_REG_B, RTC_B_24H | RTC_B_DM_BINARY, t);
	cr_assert_eq(rd(&c, RTC_SECONDS, t), 7);
	cr_assert_eq(rd(&c, RTC_MINUTES, t), 45);
	cr_assert_eq(rd(&c, RTC_HOURS, t), 13);
	cr_assert_eq(rd(&c, RTC_DAY_OF_MONTH, t), 29);
	cr_assert_eq(rd(&c, RTC_MONTH, t), 2);
	cr_assert_eq(rd(&c, RTC_YEAR, t), 24);
	cr_assert_eq(rd(&c, RTC_CENTURY, t), 20);
	cr_assert_eq(rd(&c, RTC_REG_B, t), RTC_B_24H | RTC_B_DM_BINARY);
}

Test(rtc, twelve_hour_mode_sets_the_pm_bit)
{
	struct rtc_cmos c;
	time_t midnight = T_LEAP - (13 * 3600 + 45 * 60 + 7);

	rtc_cmos_init(&c);
	wr(&c, RTC_REG_B, 0, at(T_LEAP, 0)); /* 12-hour, BCD */
	cr_assert_eq(rd(&c, RTC_HOURS, at(T_LEAP, 0)), RTC_HOURS_PM | 0x01);
	cr_assert_eq(rd(&c, RTC_HOURS, at(midnight, 0)), 0x12, "12 AM");
	cr_assert_eq(rd(&c, RTC_HOURS, at(midnight + 12 * 3600, 0)),
		     RTC_HOURS_PM | 0x12, "12 PM");
	cr_assert_eq(rd(&c, RTC_HOURS, at(midnight + 11 * 3600, 0)), 0x11);
}

Test(rtc, uip_is_high_only_in_the_last_244us_of_a_second)
{
	struct rtc_cmos c;

	rtc_cmos_init(&c);
	cr_assert_eq(rd(&c, RTC_REG_A, at(T_LEAP, 0)) & RTC_A_UIP, 0);
	cr_assert_eq(rd(&c, RTC_REG_A, at(T_LEAP, 999700000)) & RTC_A_UIP, 0);
	cr_assert_eq(rd(&c, RTC_REG_A, at(T_LEAP, 999800000)) & RTC_A_UIP,
		     RTC_A_UIP);
	/* The registers still show the old second until it ends. */
	cr_assert_eq(rd(&c, RTC_SECONDS, at(T_LEAP, 999800000)), 0x07);
	cr_assert_eq(rd(&c, RTC_SECONDS, at(T_LEAP + 1, 0)), 0x08);
	/* UIP is read-only: a write of 1 neither sticks nor shows. */
	wr(&c, RTC_REG_A, RTC_A_UIP | RTC_A_DEFAULT, at(T_LEAP, 0));
	cr_assert_eq(rd(&c, RTC_REG_A, at(T_LEAP, 0)), RTC_A_DEFAULT);
}

Test(rtc, index_port_drops_the_nmi_mask_bit_and_reads_ff)
{
	struct rtc_cmos c;
	struct timespec t = at(T_LEAP, 0);

	rtc_cmos_init(&c);
	rtc_cmos_write(&c, RTC_PORT_INDEX, 0x80 | RTC_REG_D, t);
	cr_assert_eq(rtc_cmos_read(&c, RTC_PORT_DATA, t), RTC_D_VRT);
	rtc_cmos_write(&c, RTC_PORT_INDEX, 0x80 | RTC_MINUTES, t);
	cr_assert_eq(rtc_cmos_read(&c, RTC_PORT_DATA, t), 0x45);
	cr_assert_eq(rtc_cmos_read(&c, RTC_PORT_INDEX, t), 0xff);
}

Test(rtc, setting_the_time_under_set_moves_the_clock)
{
	struct rtc_cmos c;
	struct timespec t = at(T_LEAP, 0);

	rtc_cmos_init(&c);
	/* What Linux's mc146818_set_time does: SET, the fields, SET off. */
	wr(&c, RTC_REG_B, RTC_B_SET | RTC_B_24H, t);
	cr_assert_eq(rd(&c, RTC_REG_A, at(T_LEAP, 999900000)) & RTC_A_UIP, 0,
		     "no update in progress while SET holds updates");
	wr(&c, RTC_YEAR, 0x30, t);
	wr(&c, RTC_MONTH, 0x01, t);
	wr(&c, RTC_DAY_OF_MONTH, 0x01, t);
	wr(&c, RTC_HOURS, 0x00, t);
	wr(&c, RTC_MINUTES, 0x00, t);
	wr(&c, RTC_SECONDS, 0x00, t);
	/* Frozen while SET: the written values read back as they are. */
	cr_assert_eq(rd(&c, RTC_SECONDS, at(T_LEAP + 3, 0)), 0x00);
	cr_assert_eq(rd(&c, RTC_YEAR, at(T_LEAP + 3, 0)), 0x30);
	cr_assert_eq(rd(&c, RTC_CENTURY, at(T_LEAP + 3, 0)), 0x20,
		     "the century latched with SET");
	wr(&c, RTC_REG_B, RTC_B_24H, at(T_LEAP + 10, 0));
	cr_assert_eq(c.offset_s, (int64_t)T_2030 - (T_LEAP + 10));
	/* It runs from the new time. */
	t = at(T_LEAP + 15, 0);
	cr_assert_eq(rd(&c, RTC_SECONDS, t), 0x05);
	cr_assert_eq(rd(&c, RTC_MINUTES, t), 0x00);
	cr_assert_eq(rd(&c, RTC_DAY_OF_MONTH, t), 0x01);
	cr_assert_eq(rd(&c, RTC_MONTH, t), 0x01);
	cr_assert_eq(rd(&c, RTC_YEAR, t), 0x30);
	cr_assert_eq(rd(&c, RTC_DAY_OF_WEEK, t), 3, "2030-01-01 is a Tuesday");
}

Test(rtc, a_field_written_while_running_takes_effect_alone)
{
	struct rtc_cmos c;
	struct timespec t = at(T_LEAP, 0);

	rtc_cmos_init(&c);
	wr(&c, RTC_MINUTES, 0x10, t);
	cr_assert_eq(rd(&c, RTC_MINUTES, t), 0x10);
	cr_assert_eq(rd(&c, RTC_HOURS, t), 0x13);
	cr_assert_eq(rd(&c, RTC_SECONDS, t), 0x07);
	cr_assert_eq(c.offset_s, -35 * 60);
}

Test(rtc, mode_change_under_set_keeps_the_latched_time)
{
	struct rtc_cmos c;
	struct timespec t = at(T_LEAP, 0);

	rtc_cmos_init(&c);
	wr(&c, RTC_REG_B, RTC_B_SET | RTC_B_24H, t);
	wr(&c, RTC_REG_B, RTC_B_SET | RTC_B_24H | RTC_B_DM_BINARY, t);
	cr_assert_eq(rd(&c, RTC_MINUTES, t), 45, "re-encoded in binary");
	wr(&c, RTC_REG_B, RTC_B_24H | RTC_B_DM_BINARY, t);
	cr_assert_eq(c.offset_s, 0);
	cr_assert_eq(rd(&c, RTC_YEAR, t), 24);
}

Test(rtc, the_century_rolls_with_the_year)
{
	struct rtc_cmos c;

	rtc_cmos_init(&c);
	cr_assert_eq(rd(&c, RTC_YEAR, at(T_Y2K_EVE, 0)), 0x99);
	cr_assert_eq(rd(&c, RTC_CENTURY, at(T_Y2K_EVE, 0)), 0x19);
	cr_assert_eq(rd(&c, RTC_YEAR, at(T_Y2K_EVE + 1, 0)), 0x00);
	cr_assert_eq(rd(&c, RTC_CENTURY, at(T_Y2K_EVE + 1, 0)), 0x20);
	cr_assert_eq(rd(&c, RTC_MONTH, at(T_Y2K_EVE + 1, 0)), 0x01);
}

Test(rtc, status_c_and_d_are_read_only_and_cmos_ram_holds_bytes)
{
	struct rtc_cmos c;
	struct timespec t = at(T_LEAP, 0);

	rtc_cmos_init(&c);
	wr(&c, RTC_REG_C, 0xf0, t);
	cr_assert_eq(rd(&c, RTC_REG_C, t), 0, "no interrupt flags, ever");
	wr(&c, RTC_REG_D, 0x00, t);
	cr_assert_eq(rd(&c, RTC_REG_D, t), RTC_D_VRT);
	wr(&c, 0x40, 0x5a, t);
	wr(&c, 0x7f, 0xa5, t);
	cr_assert_eq(rd(&c, 0x40, t), 0x5a);
	cr_assert_eq(rd(&c, 0x7f, t), 0xa5);
	wr(&c, RTC_SECONDS_ALARM, 0x30, t);
	cr_assert_eq(rd(&c, RTC_SECONDS_ALARM, t), 0x30, "alarms are RAM");
	cr_assert_eq(rd(&c, RTC_SECONDS, t), 0x07);
}

/* The device on a VM's PIO bus, on the real host clock. */
Test(rtc, device_answers_at_ports_0x70_and_0x71)
{
	struct bus pio;
	struct dev_ctx ctx = { .pio = &pio };
	struct mvm_err err = { .msg = "" };
	struct rtc *rtc = NULL;
	uint8_t b;
	struct timespec before, after;

	bus_init(&pio);
	cr_assert_eq(rtc_create(&ctx, NULL, &rtc, &err), 0, "%s", err.msg);
	b = RTC_REG_D;
	cr_assert(bus_dispatch(&pio, 0x70, &b, 1, true));
	cr_assert(bus_dispatch(&pio, 0x71, &b, 1, false));
	cr_assert_eq(b, RTC_D_VRT);

	/* The minutes match the host's, unless the minute turned meanwhile. */
	for (int tries = 0; tries < 3; tries++) {
		struct tm tm_before, tm_after;
		unsigned min;

		clock_gettime(CLOCK_REALTIME, &before);
		b = RTC_MINUTES;
		cr_assert(bus_dispatch(&pio, 0x70, &b, 1, true));
		cr_assert(bus_dispatch(&pio, 0x71, &b, 1, false));
		clock_gettime(CLOCK_REALTIME, &after);
		gmtime_r(&before.tv_sec, &tm_before);
		gmtime_r(&after.tv_sec, &tm_after);
		if (tm_before.tm_min != tm_after.tm_min)
			continue;
		min = (b >> 4) * 10u + (b & 0xf);
		cr_assert_eq(min, (unsigned)tm_before.tm_min);
		break;
	}

	cr_assert_neq(rtc_create(&ctx, NULL, &rtc, &err), 0,
		      "ports already taken");
	cr_assert(strstr(err.msg, "RTC"), "message names the device: %s",
		  err.msg);
	rtc_destroy(rtc);
	bus_fini(&pio);
}
