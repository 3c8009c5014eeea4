#include "lapic.h"

#include "io.h"
#include "pit.h"

#define MSR_APIC_BASE 0x1b
#define APIC_BASE_X2APIC (1u << 10)
#define APIC_BASE_ENABLE (1u << 11)
#define MSR_X2APIC_FIRST 0x800 /* x2APIC register r lives at MSR 0x800 + r/16 */

#define REG_ID 0x20
#define REG_EOI 0xb0
#define REG_SVR 0xf0
#define REG_ICR_LO 0x300
#define REG_ICR_HI 0x310
#define REG_LVT_TIMER 0x320
#define REG_TIMER_INIT 0x380
#define REG_TIMER_CUR 0x390
#define REG_TIMER_DIV 0x3e0
#define LVT_MASKED (1u << 16)
#define LVT_PERIODIC (1u << 17)
#define TIMER_DIV_16 0x3
#define CALIBRATE_MS 10
#define SVR_ENABLE 0x100
#define SPURIOUS_VECTOR 0xff
#define ICR_BUSY (1u << 12)
#define ICR_INIT 0x00000500u
#define ICR_STARTUP 0x00000600u
#define ICR_ASSERT 0x00004000u

static uint64_t base = LAPIC_DEFAULT_BASE;
static bool x2apic;

static uint32_t reg_read(uint32_t reg)
{
	if (x2apic)
		return (uint32_t)rdmsr(MSR_X2APIC_FIRST + reg / 16);
	return mmio_read32(base + reg);
}

static void reg_write(uint32_t reg, uint32_t v)
{
	if (x2apic)
		wrmsr(MSR_X2APIC_FIRST + reg / 16, v);
	else
		mmio_write32(base + reg, v);
}

void lapic_init(void)
{
	uint64_t msr = rdmsr(MSR_APIC_BASE);

	base = msr & 0xfffff000ULL;
	x2apic = (msr & (APIC_BASE_X2APIC | APIC_BASE_ENABLE)) ==
		 (APIC_BASE_X2APIC | APIC_BASE_ENABLE);
	/*
	 * Software-enable it, as an OS would before sending IPIs. Interrupts
	 * stay masked by EFLAGS.IF, so nothing is ever delivered to us.
	 */
	reg_write(REG_SVR, reg_read(REG_SVR) | SVR_ENABLE | SPURIOUS_VECTOR);
}

uint64_t lapic_base(void)
{
	return base;
}

bool lapic_x2apic_mode(void)
{
	return x2apic;
}

uint32_t lapic_id(void)
{
	uint32_t id = reg_read(REG_ID);

	return x2apic ? id : id >> 24;
}

void lapic_eoi(void)
{
	reg_write(REG_EOI, 0);
}

static bool send_ipi(uint32_t dest, uint32_t lo)
{
	if (x2apic) {
		wrmsr(MSR_X2APIC_FIRST + REG_ICR_LO / 16,
		      (uint64_t)dest << 32 | lo);
		return true;
	}
	reg_write(REG_ICR_HI, dest << 24);
	reg_write(REG_ICR_LO, lo);
	/* KVM completes IPIs at once; real APICs take a few microseconds. */
	for (int i = 0; i < 1000; i++)
		if (!(reg_read(REG_ICR_LO) & ICR_BUSY))
			return true;
	return false;
}

bool lapic_send_init(uint32_t apic_id)
{
	return send_ipi(apic_id, ICR_INIT | ICR_ASSERT);
}

bool lapic_send_sipi(uint32_t apic_id, uint8_t vector)
{
	return send_ipi(apic_id, ICR_STARTUP | ICR_ASSERT | vector);
}

uint32_t lapic_timer_per_ms(void)
{
	uint32_t left;

	reg_write(REG_TIMER_DIV, TIMER_DIV_16);
	reg_write(REG_LVT_TIMER, LVT_MASKED);
	reg_write(REG_TIMER_INIT, UINT32_MAX);
	delay_us(CALIBRATE_MS * 1000);
	left = reg_read(REG_TIMER_CUR);
	reg_write(REG_TIMER_INIT, 0);
	return (UINT32_MAX - left) / CALIBRATE_MS;
}

void lapic_timer_periodic(uint8_t vector, uint32_t count)
{
	reg_write(REG_TIMER_INIT, 0);
	if (!count)
		return;
	reg_write(REG_TIMER_DIV, TIMER_DIV_16);
	reg_write(REG_LVT_TIMER, LVT_PERIODIC | vector);
	reg_write(REG_TIMER_INIT, count);
}
