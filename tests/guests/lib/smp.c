#include "smp.h"

#include "io.h"
#include "lapic.h"
#include "pit.h"
#include "string.h"

extern const char ap_trampoline_start[], ap_trampoline_end[];

static volatile uint32_t *tramp_u32(uint32_t off)
{
	return (volatile uint32_t *)phys_ptr(AP_TRAMPOLINE + off);
}

void smp_start_aps(const uint32_t *apic_ids, int n, uint32_t timeout_ms,
		   struct smp_result *res)
{
	uint32_t self = lapic_id();
	struct deadline d;

	memset(res, 0, sizeof(*res));
	memcpy(phys_ptr(AP_TRAMPOLINE), ap_trampoline_start,
	       (size_t)(ap_trampoline_end - ap_trampoline_start));
	memset(phys_ptr(AP_TRAMPOLINE + AP_OFF_NEXT), 0,
	       AP_OFF_SLOTS + AP_SLOTS_MAX * sizeof(struct ap_slot) -
		       AP_OFF_NEXT);

	/*
	 * INIT to all first, then the SIPIs to all, so the architectural
	 * waits (10 ms after INIT, 200 us between SIPIs) are paid once, not
	 * per CPU.
	 */
	for (int i = 0; i < n; i++) {
		if (apic_ids[i] == self)
			continue;
		lapic_send_init(apic_ids[i]);
		res->expected++;
	}
	if (!res->expected)
		return;
	delay_us(10000);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < n; i++)
			if (apic_ids[i] != self)
				lapic_send_sipi(apic_ids[i],
						AP_TRAMPOLINE >> 12);
		delay_us(200);
		/* A second SIPI is only needed if the first was lost. */
		if ((int)*tramp_u32(AP_OFF_DONE) >= res->expected)
			break;
	}

	deadline_start(&d, timeout_ms);
	while ((int)*tramp_u32(AP_OFF_DONE) < res->expected &&
	       !deadline_expired(&d)) {
		res->elapsed_polls++;
		cpu_pause();
	}
	res->arrived = (int)*tramp_u32(AP_OFF_DONE);
	int nslots = res->arrived < AP_SLOTS_MAX ? res->arrived : AP_SLOTS_MAX;
	memcpy(res->slots, phys_ptr(AP_TRAMPOLINE + AP_OFF_SLOTS),
	       (size_t)nslots * sizeof(struct ap_slot));
}
