/*
 * isa-debug-exit, as QEMU has it: a write of V to the port ends mvm with
 * status (V << 1) | 1, so test kernels written for QEMU work unchanged.
 */
#include <string.h>

#include "mvm/bus.h"
#include "mvm/dev_ctx.h"
#include "mvm/devices.h"
#include "mvm/err.h"
#include "mvm/layout.h"

static void debug_exit_io(void *ctx, uint64_t off, uint8_t *data, uint32_t len,
			  bool is_write)
{
	struct dev_ctx *dc = ctx;
	uint32_t v = 0;

	(void)off;
	if (!is_write) {
		memset(data, 0xff, len);
		return;
	}
	memcpy(&v, data, len < 4 ? len : 4);
	dc->request_stop(dc, VM_STOP_DEBUG_EXIT, (int)(((v << 1) | 1) & 0xff),
			 NULL);
}

int debug_exit_create(struct dev_ctx *ctx, struct mvm_err *err)
{
	int ret = bus_add(ctx->pio, PORT_DEBUG_EXIT, 4, debug_exit_io, ctx);

	return ret ? mvm_fail(err, ret, "debug-exit port busy") : 0;
}
