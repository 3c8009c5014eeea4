/*
 * The ACPI PM1a event and control blocks the FADT points at, plus the
 * 0xCF9 reset register. S5 (SLP_TYP from \_S5 with SLP_EN) powers off.
 */
#include <stdio.h>
#include <string.h>

#include "mvm/devices.h"
#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/vm.h"

#define PM1_SCI_EN 0x0001
#define PM1_SLP_EN 0x2000
#define PM1_SLP_TYP_SHIFT 10

static void pm_io(void *ctx, uint64_t off, uint8_t *data, uint32_t len,
		  bool is_write)
{
	struct vm *vm = ctx;
	uint16_t v = 0;

	if (!is_write) {
		memset(data, 0, len);
		/* ACPI is always enabled: SMI_CMD is 0 in the FADT. */
		if (off == PORT_PM1A_CNT - PORT_PM_BASE)
			data[0] = PM1_SCI_EN;
		return;
	}
	if (off != PORT_PM1A_CNT - PORT_PM_BASE || len < 2)
		return; /* event status/enable writes have nothing to clear */
	memcpy(&v, data, 2);
	if (!(v & PM1_SLP_EN))
		return;
	if (((v >> PM1_SLP_TYP_SHIFT) & 7) == ACPI_S5_SLP_TYP)
		vm_request_stop(vm, VM_STOP_POWEROFF, 0, NULL);
}

static void reset_io(void *ctx, uint64_t off, uint8_t *data, uint32_t len,
		     bool is_write)
{
	struct vm *vm = ctx;

	(void)off;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (data[0] & 0x04) /* RST_CPU */
		vm_request_stop(vm, VM_STOP_REBOOT, 0, NULL);
}

int pm_create(struct vm *vm, struct mvm_err *err)
{
	int ret = bus_add(&vm->pio, PORT_PM_BASE, PORT_PM_LEN, pm_io, vm);

	if (ret)
		return mvm_fail(err, ret, "ACPI PM block busy");
	ret = bus_add(&vm->pio, PORT_RESET, 1, reset_io, vm);
	return ret ? mvm_fail(err, ret, "reset port busy") : 0;
}
