/*
 * The register file of an MC146818 CMOS real-time clock, apart from the
 * bus and the host clock so that it can be tested with any time: the
 * caller passes "now" (host CLOCK_REALTIME) to every access.
 *
 * The clock is the host's wall clock plus a whole-second offset the guest
 * changes by setting the time; whole seconds keep the guest's second
 * boundaries (and so the update-in-progress window) on the host's.
 */
#ifndef MVM_RTC_H
#define MVM_RTC_H

#include <stdint.h>
#include <time.h>

/* Port offsets from the base port 0x70. */
#define RTC_PORT_INDEX 0
#define RTC_PORT_DATA 1

/* Register indexes. */
#define RTC_SECONDS 0x00
#define RTC_SECONDS_ALARM 0x01
#define RTC_MINUTES 0x02
#define RTC_MINUTES_ALARM 0x03
#define RTC_HOURS 0x04
#define RTC_HOURS_ALARM 0x05
#define RTC_DAY_OF_WEEK 0x06 /* 1 = Sunday */
#define RTC_DAY_OF_MONTH 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09 /* two digits */
#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_REG_C 0x0c
#define RTC_REG_D 0x0d
#define RTC_CENTURY 0x32 /* the PC convention (also QEMU's and SeaBIOS's) */
#define RTC_CMOS_SIZE 128

#define RTC_A_UIP 0x80
#define RTC_A_DEFAULT 0x26 /* 32.768 kHz time base, 1024 Hz rate */
#define RTC_B_SET 0x80
#define RTC_B_DM_BINARY 0x04
#define RTC_B_24H 0x02
#define RTC_D_VRT 0x80
#define RTC_HOURS_PM 0x80 /* 12-hour mode */

/*
 * A real MC146818 raises UIP 244 us before it updates the time registers;
 * readers that see UIP low have that long to read a consistent time.
 */
#define RTC_UIP_NS 244000L

struct rtc_cmos {
	uint8_t index;               /* last index written, NMI bit dropped */
	uint8_t ram[RTC_CMOS_SIZE];  /* time registers hold a value only while SET */
	int64_t offset_s;            /* guest wall clock - host wall clock */
};

/* Power-on state: 24-hour BCD, VRT set, guest time = host time. */
void rtc_cmos_init(struct rtc_cmos *c);
uint8_t rtc_cmos_read(struct rtc_cmos *c, unsigned port, struct timespec now);
void rtc_cmos_write(struct rtc_cmos *c, unsigned port, uint8_t v,
		    struct timespec now);

#endif
