/*
 * Enough of an i8042 keyboard controller for Linux to probe it, and for its
 * reset line: command 0xFE (pulse reset) or an output-port write that drops
 * bit 0 reboots the VM. There is no keyboard behind it; keyboard commands
 * are acknowledged so drivers do not time out.
 *
 * There is no AUX (mouse) port either, and the controller says so at once:
 * its AUX interface test reports a stuck clock line. Linux then leaves the
 * port alone. Reporting success instead sends it into polling loops that
 * wait for the AUX bits of the command byte to move (some 100 register
 * reads, each a VM exit) and for an AUX interrupt that never comes (250 ms).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/bus.h"
#include "mvm/dev_ctx.h"
#include "mvm/device.h"
#include "mvm/devices.h"
#include "mvm/err.h"
#include "mvm/layout.h"

#define STS_OBF 0x01
#define STS_SYS 0x04
#define STS_UNLOCKED 0x10 /* keyboard not inhibited by the keylock */
#define STS_CMD 0x08 /* last write was a command */
#define STS_AUX 0x20 /* output buffer holds aux data */

#define AUX_TEST_CLOCK_STUCK_LOW 0x01

#define CMD_READ_CTR 0x20
#define CMD_WRITE_CTR 0x60
#define CMD_AUX_DISABLE 0xa7
#define CMD_AUX_ENABLE 0xa8
#define CMD_AUX_TEST 0xa9
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE 0xae
#define CMD_READ_OUTPORT 0xd0
#define CMD_WRITE_OUTPORT 0xd1
#define CMD_WRITE_AUX 0xd4
#define CMD_PULSE_RESET 0xfe

#define CTR_KBD_INT 0x01
#define CTR_KBD_DISABLED 0x10
#define CTR_AUX_DISABLED 0x20
#define CTR_XLATE 0x40 /* controller translates set 2 scancodes to set 1 */

struct i8042 {
	struct dev_ctx *ctx;
	pthread_mutex_t lock;
	uint8_t ctr;
	uint8_t status;
	uint8_t pending_cmd; /* command waiting for its data byte */
	uint8_t outq[16];
	unsigned outq_len;
	bool paused; /* IRQ 1 waits for resume (include/mvm/device.h) */
	struct i8042_counts counts; /* for the metrics, under lock */
};

/* As the controller comes up: keyboard interrupts on, nothing queued. */
static void i8042_power_on(struct i8042 *k)
{
	k->status = STS_SYS | STS_UNLOCKED;
	k->ctr = CTR_KBD_INT;
	k->pending_cmd = 0;
	k->outq_len = 0;
}

static void push(struct i8042 *k, uint8_t b)
{
	if (k->outq_len < sizeof(k->outq))
		k->outq[k->outq_len++] = b;
}

static void update_irq(struct i8042 *k)
{
	if (k->paused)
		return; /* resume raises what is queued by then */
	if (k->ctx->irq_line(k->ctx, IRQ_I8042_KBD,
			     k->outq_len && (k->ctr & CTR_KBD_INT)))
		k->counts.error_count++;
}

static void command(struct i8042 *k, uint8_t cmd)
{
	switch (cmd) {
	case CMD_READ_CTR:
		push(k, k->ctr);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTPORT:
	case CMD_WRITE_AUX:
		k->pending_cmd = cmd;
		break;
	case CMD_SELF_TEST:
		push(k, 0x55);
		break;
	case CMD_KBD_TEST:
		push(k, 0x00);
		break;
	case CMD_AUX_TEST:
		push(k, AUX_TEST_CLOCK_STUCK_LOW); /* no AUX port */
		break;
	case CMD_AUX_DISABLE:
		k->ctr |= CTR_AUX_DISABLED;
		break;
	case CMD_AUX_ENABLE:
		k->ctr &= ~CTR_AUX_DISABLED;
		break;
	case CMD_KBD_DISABLE:
		k->ctr |= CTR_KBD_DISABLED;
		break;
	case CMD_KBD_ENABLE:
		k->ctr &= ~CTR_KBD_DISABLED;
		break;
	case CMD_READ_OUTPORT:
		push(k, 0x01);
		break;
	case CMD_PULSE_RESET:
		k->counts.reset_count++;
		k->ctx->request_stop(k->ctx, VM_STOP_REBOOT, 0, NULL);
		break;
	default:
		break;
	}
}

static void data_write(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending_cmd;

	k->pending_cmd = 0;
	switch (cmd) {
	case CMD_WRITE_CTR:
		k->ctr = v;
		break;
	case CMD_WRITE_OUTPORT:
		if (!(v & 0x01)) { /* bit 0: the CPU reset line, active low */
			k->counts.reset_count++;
			k->ctx->request_stop(k->ctx, VM_STOP_REBOOT, 0, NULL);
		}
		break;
	case CMD_WRITE_AUX:
		break; /* no mouse: say nothing, as absent hardware does */
	default:
		push(k, 0xfa); /* ACK a keyboard command */
		if (v == 0xff)
			push(k, 0xaa); /* reset: self-test passed */
		break;
	}
}

static void i8042_io(void *ctx, uint64_t off, uint8_t *data, uint32_t len,
		     bool is_write)
{
	struct i8042 *k = ctx;
	uint8_t port = (uint8_t)(PORT_I8042_DATA + off);

	pthread_mutex_lock(&k->lock);
	if (len != 1 || (port != PORT_I8042_CMD && port != PORT_I8042_DATA)) {
		/* Only byte accesses to 0x60 and 0x64 mean anything. */
		if (is_write) {
			k->counts.missed_write_count++;
		} else {
			k->counts.missed_read_count++;
			memset(data, 0xff, len);
		}
		pthread_mutex_unlock(&k->lock);
		return;
	}
	if (is_write)
		k->counts.write_count++;
	else
		k->counts.read_count++;
	if (port == PORT_I8042_CMD && is_write) {
		command(k, data[0]);
	} else if (port == PORT_I8042_CMD) {
		data[0] = k->status | (k->outq_len ? STS_OBF : 0);
	} else if (is_write) {
		data_write(k, data[0]);
	} else {
		data[0] = k->outq_len ? k->outq[0] : 0;
		if (k->outq_len)
			memmove(k->outq, k->outq + 1, --k->outq_len);
		/*
		 * IRQ 1 is edge-triggered: drop the line after each byte so
		 * that the next queued byte raises a fresh edge, as the real
		 * controller does, instead of staying high unnoticed.
		 */
		if (k->ctx->irq_line(k->ctx, IRQ_I8042_KBD, 0))
			k->counts.error_count++;
	}
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
}

/*
 * Make codes of Ctrl, Alt and Delete, then the break codes in reverse. The
 * guest reads set 1 when it has asked the controller to translate (Linux
 * does by default), otherwise the keyboard's native set 2.
 */
static const uint8_t cad_set1[] = { 0x1d, 0x38, 0xe0, 0x53,
				    0xe0, 0xd3, 0xb8, 0x9d };
static const uint8_t cad_set2[] = { 0x14, 0x11, 0xe0, 0x71,
				    0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14 };

void i8042_counts(struct i8042 *k, struct i8042_counts *c)
{
	pthread_mutex_lock(&k->lock);
	*c = k->counts;
	pthread_mutex_unlock(&k->lock);
}

int i8042_send_ctrl_alt_del(struct i8042 *k)
{
	const uint8_t *seq;
	size_t n;
	int ret = 0;

	pthread_mutex_lock(&k->lock);
	if (k->ctr & CTR_XLATE) {
		seq = cad_set1;
		n = sizeof(cad_set1);
	} else {
		seq = cad_set2;
		n = sizeof(cad_set2);
	}
	if (k->outq_len + n > sizeof(k->outq)) {
		ret = -EBUSY; /* half a key sequence would confuse the guest */
	} else {
		for (size_t i = 0; i < n; i++)
			push(k, seq[i]);
		update_irq(k);
	}
	pthread_mutex_unlock(&k->lock);
	return ret;
}

int i8042_create(struct dev_ctx *ctx, struct i8042 **out,
		 struct mvm_err *err)
{
	struct i8042 *k = calloc(1, sizeof(*k));
	int ret;

	if (!k)
		return mvm_fail(err, -ENOMEM, "out of memory");
	k->ctx = ctx;
	i8042_power_on(k);
	pthread_mutex_init(&k->lock, NULL);
	/* 0x60..0x64 as one range. The kernel PIT answers 0x61 first (see
	 * create_irqchip); 0x62-0x63 read as open bus. */
	ret = bus_add(ctx->pio, PORT_I8042_DATA, 5, i8042_io, k);
	if (ret) {
		pthread_mutex_destroy(&k->lock);
		free(k);
		return mvm_fail(err, ret, "i8042 ports busy");
	}
	*out = k;
	return 0;
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
	free(k);
}

/*
 * The device interface (include/mvm/device.h). Register accesses complete
 * on the vCPU that makes them; a pause holds IRQ 1 still, and a
 * Ctrl-Alt-Del sent meanwhile waits in the output queue for resume.
 */

#define I8042_STATE_VERSION 1

struct i8042_saved {
	uint8_t ctr;
	uint8_t pending_cmd; /* a command waiting for its data byte, or 0 */
	uint8_t outq_len;
	uint8_t pad;
	uint8_t outq[16];    /* zero past outq_len */
};
_Static_assert(sizeof(struct i8042_saved) == 20, "a new layout: a new "
	       "I8042_STATE_VERSION");

static int i8042_dev_pause(struct device *d, struct mvm_err *err)
{
	struct i8042 *k = d->opaque;

	(void)err;
	pthread_mutex_lock(&k->lock);
	k->paused = true;
	pthread_mutex_unlock(&k->lock);
	return 0;
}

static int i8042_dev_resume(struct device *d, struct mvm_err *err)
{
	struct i8042 *k = d->opaque;

	(void)err;
	pthread_mutex_lock(&k->lock);
	k->paused = false;
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

static int i8042_dev_reset(struct device *d, struct mvm_err *err)
{
	struct i8042 *k = d->opaque;

	(void)err;
	pthread_mutex_lock(&k->lock);
	i8042_power_on(k);
	k->ctx->irq_line(k->ctx, IRQ_I8042_KBD, 0);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

static int i8042_dev_save(struct device *d, struct dev_state_node *out,
			  struct mvm_err *err)
{
	struct i8042 *k = d->opaque;
	struct i8042_saved v;

	memset(&v, 0, sizeof(v));
	pthread_mutex_lock(&k->lock);
	v.ctr = k->ctr;
	v.pending_cmd = k->pending_cmd;
	v.outq_len = (uint8_t)k->outq_len;
	memcpy(v.outq, k->outq, k->outq_len);
	pthread_mutex_unlock(&k->lock);
	return dev_state_node_set(out, d->id, I8042_STATE_VERSION, &v,
				  sizeof(v), err);
}

static int i8042_dev_load(struct device *d, const struct dev_state_node *in,
			  struct mvm_err *err)
{
	struct i8042 *k = d->opaque;
	struct i8042_saved v;
	int ret;

	ret = dev_state_check(d, in, I8042_STATE_VERSION, sizeof(v),
			      sizeof(v), err);
	if (ret)
		return ret;
	memcpy(&v, in->data, sizeof(v));
	if (v.outq_len > sizeof(v.outq))
		return dev_state_bad(d, err, "%u bytes queued, at most %zu",
				     v.outq_len, sizeof(v.outq));
	if (v.pad)
		return dev_state_bad(d, err, "padding that is not zero");
	/* Only these take a data byte: another would never be completed. */
	if (v.pending_cmd && v.pending_cmd != CMD_WRITE_CTR &&
	    v.pending_cmd != CMD_WRITE_OUTPORT &&
	    v.pending_cmd != CMD_WRITE_AUX)
		return dev_state_bad(d, err, "command %#x waiting for data",
				     v.pending_cmd);
	pthread_mutex_lock(&k->lock);
	k->ctr = v.ctr;
	k->pending_cmd = v.pending_cmd;
	k->outq_len = v.outq_len;
	memset(k->outq, 0, sizeof(k->outq));
	memcpy(k->outq, v.outq, v.outq_len);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

const struct device_ops i8042_device_ops = {
	.activate = dev_nop,
	.reset = i8042_dev_reset,
	.pause = i8042_dev_pause,
	.resume = i8042_dev_resume,
	.save = i8042_dev_save,
	.load = i8042_dev_load,
};
