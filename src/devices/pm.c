/*
 * The ACPI PM1a event and control blocks the FADT points at, plus the
 * 0xCF9 reset register. S5 (SLP_TYP from \_S5 with SLP_EN) powers off.
 * The enable and control registers hold what the OS writes: ACPICA reads
 * enable bits back to check that the hardware took them.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/bus.h"
#include "mvm/dev_ctx.h"
#include "mvm/devices.h"
#include "mvm/err.h"
#include "mvm/layout.h"

#define PM1_SCI_EN 0x0001
#define PM1_SLP_EN 0x2000
#define PM1_SLP_TYP_SHIFT 10

/* Offsets in the block: STS (2), EN (2), then CNT (2). */
#define OFF_STS 0
#define OFF_EN 2
#define OFF_CNT (PORT_PM1A_CNT - PORT_PM_BASE)

struct pm {
	struct dev_ctx *ctx;
	pthread_mutex_t lock;
	uint8_t regs[PORT_PM_LEN]; /* little-endian register file */
};

static uint16_t reg16(const struct pm *pm, unsigned off)
{
	return (uint16_t)(pm->regs[off] | pm->regs[off + 1] << 8);
}

static void write_bytes(struct pm *pm, unsigned off, const uint8_t *data,
			uint32_t len)
{
	for (uint32_t i = 0; i < len && off + i < PORT_PM_LEN; i++) {
		unsigned o = off + i;

		if (o < OFF_EN) /* status bits are write-one-to-clear */
			pm->regs[o] &= (uint8_t)~data[i];
		else
			pm->regs[o] = data[i];
	}
}

static void pm_io(void *ctx, uint64_t off, uint8_t *data, uint32_t len,
		  bool is_write)
{
	struct pm *pm = ctx;
	bool poweroff = false;
	uint16_t cnt;

	pthread_mutex_lock(&pm->lock);
	if (!is_write) {
		for (uint32_t i = 0; i < len; i++)
			data[i] = off + i < PORT_PM_LEN ? pm->regs[off + i]
							: 0xff;
		pthread_mutex_unlock(&pm->lock);
		return;
	}
	write_bytes(pm, (unsigned)off, data, len);
	cnt = reg16(pm, OFF_CNT);
	/* ACPI is always on (SMI_CMD is 0 in the FADT): SCI_EN stays set. */
	pm->regs[OFF_CNT] |= PM1_SCI_EN;
	if ((cnt & PM1_SLP_EN) &&
	    ((cnt >> PM1_SLP_TYP_SHIFT) & 7) == ACPI_S5_SLP_TYP)
		poweroff = true;
	pm->regs[OFF_CNT + 1] &= (uint8_t)~(PM1_SLP_EN >> 8); /* self-clearing */
	pthread_mutex_unlock(&pm->lock);
	if (poweroff)
		pm->ctx->request_stop(pm->ctx, VM_STOP_POWEROFF, 0, NULL);
}

static void reset_io(void *ctx, uint64_t off, uint8_t *data, uint32_t len,
		     bool is_write)
{
	struct dev_ctx *dc = ctx;

	(void)off;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (data[0] & 0x04) /* RST_CPU */
		dc->request_stop(dc, VM_STOP_REBOOT, 0, NULL);
}

int pm_create(struct dev_ctx *ctx, struct pm **out, struct mvm_err *err)
{
	struct pm *pm = calloc(1, sizeof(*pm));
	int ret;

	if (!pm)
		return mvm_fail(err, -ENOMEM, "out of memory");
	pm->ctx = ctx;
	pm->regs[OFF_CNT] = PM1_SCI_EN;
	pthread_mutex_init(&pm->lock, NULL);
	ret = bus_add(ctx->pio, PORT_PM_BASE, PORT_PM_LEN, pm_io, pm);
	if (ret) {
		pm_destroy(pm);
		return mvm_fail(err, ret, "ACPI PM block busy");
	}
	*out = pm;
	ret = bus_add(ctx->pio, PORT_RESET, 1, reset_io, ctx);
	return ret ? mvm_fail(err, ret, "reset port busy") : 0;
}

void pm_destroy(struct pm *pm)
{
	if (!pm)
		return;
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}
