/*
 * pvpanic, the paravirtual panic port QEMU defined: a guest kernel writes
 * bit 0 to it from its panic notifier, before it reboots or halts, so a
 * panic ends mvm with the guest-crash status instead of looking like a
 * reboot (panic=-1) or hanging (panic=0). The DSDT describes the port as
 * device QEMU0001 (Linux: pvpanic-mmio). Reading the port tells the guest
 * which events mvm understands.
 */
#include <stdatomic.h>
#include <string.h>

#include "mvm/bus.h"
#include "mvm/dev_ctx.h"
#include "mvm/devices.h"
#include "mvm/err.h"
#include "mvm/layout.h"

#define PVPANIC_PANICKED 0x01
/* A kdump kernel is being loaded: the guest goes on, so does mvm. */
#define PVPANIC_CRASH_LOADED 0x02

static void pvpanic_io(void *ctx, uint64_t off, uint8_t *data, uint32_t len,
		       bool is_write)
{
	struct dev_ctx *dc = ctx;

	(void)off;
	if (!is_write) {
		memset(data, 0, len);
		data[0] = PVPANIC_PANICKED | PVPANIC_CRASH_LOADED;
		return;
	}
	if (!(data[0] & PVPANIC_PANICKED))
		return;
	atomic_fetch_add_explicit(&dc->guest_panics, 1, memory_order_relaxed);
	dc->request_stop(dc, VM_STOP_ERROR, 0,
			 "guest kernel panicked (reported through pvpanic)");
}

int pvpanic_create(struct dev_ctx *ctx, struct mvm_err *err)
{
	int ret = bus_add(ctx->pio, PORT_PVPANIC, 1, pvpanic_io, ctx);

	return ret ? mvm_fail(err, ret, "pvpanic port busy") : 0;
}
