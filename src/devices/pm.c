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
#include "mvm/device.h"
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

/* ACPI is always on (SMI_CMD is 0 in the FADT): SCI_EN from the start. */
static void pm_power_on(struct pm *pm)
{
	memset(pm->regs, 0, sizeof(pm->regs));
	pm->regs[OFF_CNT] = PM1_SCI_EN;
}

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
	pm_power_on(pm);
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

/*
 * The device interface (include/mvm/device.h). The PM block raises no
 * SCI and has no I/O, so pause and resume have nothing to do; the 0xCF9
 * port it brings along has no state at all.
 */

#define PM_STATE_VERSION 1

static int pm_dev_reset(struct device *d, struct mvm_err *err)
{
	struct pm *pm = d->opaque;

	(void)err;
	pthread_mutex_lock(&pm->lock);
	pm_power_on(pm);
	pthread_mutex_unlock(&pm->lock);
	return 0;
}

static int pm_dev_save(struct device *d, struct dev_state_node *out,
		       struct mvm_err *err)
{
	struct pm *pm = d->opaque;
	uint8_t regs[PORT_PM_LEN];

	pthread_mutex_lock(&pm->lock);
	memcpy(regs, pm->regs, sizeof(regs));
	pthread_mutex_unlock(&pm->lock);
	return dev_state_node_set(out, d->id, PM_STATE_VERSION, regs,
				  sizeof(regs), err);
}

static int pm_dev_load(struct device *d, const struct dev_state_node *in,
		       struct mvm_err *err)
{
	struct pm *pm = d->opaque;
	uint8_t regs[PORT_PM_LEN];
	uint16_t cnt;
	int ret;

	ret = dev_state_check(d, in, PM_STATE_VERSION, sizeof(regs),
			      sizeof(regs), err);
	if (ret)
		return ret;
	memcpy(regs, in->data, sizeof(regs));
	cnt = (uint16_t)(regs[OFF_CNT] | regs[OFF_CNT + 1] << 8);
	/* SCI_EN never drops and SLP_EN clears itself: neither can be. */
	if (!(cnt & PM1_SCI_EN) || (cnt & PM1_SLP_EN))
		return dev_state_bad(d, err, "PM1a_CNT %#x: SCI_EN clear or "
				     "SLP_EN set", cnt);
	pthread_mutex_lock(&pm->lock);
	memcpy(pm->regs, regs, sizeof(regs));
	pthread_mutex_unlock(&pm->lock);
	return 0;
}

const struct device_ops pm_device_ops = {
	.activate = dev_nop,
	.reset = pm_dev_reset,
	.pause = dev_nop,
	.resume = dev_nop,
	.save = pm_dev_save,
	.load = pm_dev_load,
};
