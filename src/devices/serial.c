/*
 * A 16550A UART. Register accesses arrive on vCPU threads (PIO exits);
 * received bytes arrive from the event loop, so the state is under a mutex.
 * Output goes to the console's queue (outq.h), which the loop writes out: a
 * reader that stops draining must not stop the vCPU, which would stop the
 * VM and, through its teardown, mvm.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvm/bus.h"
#include "mvm/dev_ctx.h"
#include "mvm/device.h"
#include "mvm/devices.h"
#include "mvm/err.h"
#include "mvm/outq.h"

#define RX_SIZE 4096

enum {
	REG_DATA = 0, /* RBR/THR, or DLL with DLAB */
	REG_IER = 1,  /* or DLM with DLAB */
	REG_IIR = 2,  /* read: IIR, write: FCR */
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};

#define IER_RDI 0x01
#define IER_THRI 0x02
#define IIR_NO_INT 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO 0xc0
#define FCR_FIFO_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_DCD 0x80
#define MSR_DSR 0x20
#define MSR_CTS 0x10

struct serial {
	struct dev_ctx *ctx;
	pthread_mutex_t lock;
	unsigned irq;
	struct outq *out; /* NULL: output discarded */
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	bool thri_pending; /* THR-empty interrupt not yet acknowledged */
	int irq_level;
	bool paused; /* the line waits for resume (include/mvm/device.h) */
	uint8_t rx[RX_SIZE];
	size_t rx_head, rx_len;
	struct serial_counts counts; /* for the metrics, under lock */
};

/* The registers as the UART comes up (mvm's firmware leaves OUT2 on). */
static void serial_power_on(struct serial *s)
{
	s->ier = s->lcr = s->scr = s->fcr = s->dll = s->dlm = 0;
	s->mcr = 0x08; /* OUT2: the PC gate that routes the IRQ */
	s->thri_pending = false;
	s->rx_head = s->rx_len = 0;
}

static void update_irq(struct serial *s)
{
	int level = ((s->ier & IER_RDI) && s->rx_len) ||
		    ((s->ier & IER_THRI) && s->thri_pending);

	if (s->paused)
		return; /* resume drives the line to where it should be */
	if (level != s->irq_level) {
		s->irq_level = level;
		if (s->ctx->irq_line(s->ctx, s->irq, level))
			s->counts.error_count++;
	}
}

static uint8_t iir(struct serial *s)
{
	uint8_t fifo = (s->fcr & FCR_FIFO_ENABLE) ? IIR_FIFO : 0;

	if ((s->ier & IER_RDI) && s->rx_len)
		return fifo | IIR_RDI;
	if ((s->ier & IER_THRI) && s->thri_pending) {
		/* Reading IIR acknowledges the THR-empty interrupt. */
		s->thri_pending = false;
		return fifo | IIR_THRI;
	}
	return fifo | IIR_NO_INT;
}

static void rx_put(struct serial *s, uint8_t b)
{
	if (s->rx_len == RX_SIZE)
		return;
	s->rx[(s->rx_head + s->rx_len) % RX_SIZE] = b;
	s->rx_len++;
}

static uint8_t rx_get(struct serial *s)
{
	uint8_t b;

	if (!s->rx_len)
		return 0;
	b = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % RX_SIZE;
	s->rx_len--;
	return b;
}

static void transmit(struct serial *s, uint8_t b)
{
	if (s->mcr & MCR_LOOP) {
		rx_put(s, b); /* loopback: drivers probe the UART this way */
	} else if (s->out) {
		outq_put(s->out, &b, 1);
	}
	s->counts.write_count++;
	s->thri_pending = true;
}

static uint8_t reg_read(struct serial *s, unsigned reg)
{
	bool dlab = s->lcr & LCR_DLAB;

	switch (reg) {
	case REG_DATA:
		if (dlab)
			return s->dll;
		s->counts.read_count++;
		return rx_get(s);
	case REG_IER:
		return dlab ? s->dlm : s->ier;
	case REG_IIR:
		return iir(s);
	case REG_LCR:
		return s->lcr;
	case REG_MCR:
		return s->mcr;
	case REG_LSR:
		return LSR_THRE | LSR_TEMT | (s->rx_len ? LSR_DR : 0);
	case REG_MSR:
		if (s->mcr & MCR_LOOP) /* outputs looped to inputs */
			return (uint8_t)(((s->mcr & 0x0c) << 4) |
					 ((s->mcr & 0x01) << 5) |
					 ((s->mcr & 0x02) << 3));
		return MSR_DCD | MSR_DSR | MSR_CTS;
	default:
		return s->scr;
	}
}

static void reg_write(struct serial *s, unsigned reg, uint8_t v)
{
	bool dlab = s->lcr & LCR_DLAB;

	switch (reg) {
	case REG_DATA:
		if (dlab)
			s->dll = v;
		else
			transmit(s, v);
		break;
	case REG_IER:
		if (dlab) {
			s->dlm = v;
		} else {
			/* Enabling THRI with an empty THR raises it at once. */
			if ((v & IER_THRI) && !(s->ier & IER_THRI))
				s->thri_pending = true;
			s->ier = v & 0x0f;
		}
		break;
	case REG_IIR:
		s->fcr = v;
		if (v & FCR_CLEAR_RX)
			s->rx_len = 0;
		break;
	case REG_LCR:
		s->lcr = v;
		break;
	case REG_MCR:
		s->mcr = v & 0x1f;
		break;
	case REG_SCR:
		s->scr = v;
		break;
	default:
		break; /* LSR/MSR are read-only */
	}
}

static void serial_io(void *ctx, uint64_t off, uint8_t *data, uint32_t len,
		      bool is_write)
{
	struct serial *s = ctx;

	pthread_mutex_lock(&s->lock);
	if (len != 1 || off > 7) {
		if (is_write) {
			s->counts.missed_write_count++;
		} else {
			s->counts.missed_read_count++;
			memset(data, 0xff, len);
		}
		pthread_mutex_unlock(&s->lock);
		return;
	}
	if (is_write)
		reg_write(s, (unsigned)off, data[0]);
	else
		data[0] = reg_read(s, (unsigned)off);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

size_t serial_rx_room(struct serial *s)
{
	size_t room;

	pthread_mutex_lock(&s->lock);
	room = RX_SIZE - s->rx_len;
	pthread_mutex_unlock(&s->lock);
	return room;
}

size_t serial_rx_push(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	for (n = 0; n < len && s->rx_len < RX_SIZE; n++)
		rx_put(s, buf[n]);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

void serial_counts(struct serial *s, struct serial_counts *c)
{
	pthread_mutex_lock(&s->lock);
	*c = s->counts;
	pthread_mutex_unlock(&s->lock);
}

int serial_create(struct dev_ctx *ctx, uint16_t port, unsigned irq,
		  struct outq *q, struct serial **out, struct mvm_err *err)
{
	struct serial *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return mvm_fail(err, -ENOMEM, "out of memory");
	s->ctx = ctx;
	s->irq = irq;
	s->out = q;
	serial_power_on(s);
	pthread_mutex_init(&s->lock, NULL);
	ret = bus_add(ctx->pio, port, 8, serial_io, s);
	if (ret) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		return mvm_fail(err, ret, "serial at %#x: port busy", port);
	}
	*out = s;
	return 0;
}

void serial_destroy(struct serial *s)
{
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/*
 * The device interface (include/mvm/device.h). Register accesses complete
 * on the vCPU that makes them, so a pause has nothing to wait for: it
 * only holds the IRQ line still. Console bytes that come meanwhile still
 * go into the FIFO, which is state a save takes.
 */

#define SERIAL_STATE_VERSION 1

/* The saved registers; the receive FIFO follows, oldest byte first. */
struct serial_saved {
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	uint8_t thri_pending, irq_level;
	uint8_t pad[3];
	uint32_t rx_len;
};
_Static_assert(sizeof(struct serial_saved) == 16, "a new layout: a new "
	       "SERIAL_STATE_VERSION");

static int serial_dev_pause(struct device *d, struct mvm_err *err)
{
	struct serial *s = d->opaque;

	(void)err;
	pthread_mutex_lock(&s->lock);
	s->paused = true;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int serial_dev_resume(struct device *d, struct mvm_err *err)
{
	struct serial *s = d->opaque;

	(void)err;
	pthread_mutex_lock(&s->lock);
	s->paused = false;
	update_irq(s); /* what came while paused, or a reset's low line */
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int serial_dev_reset(struct device *d, struct mvm_err *err)
{
	struct serial *s = d->opaque;

	(void)err;
	pthread_mutex_lock(&s->lock);
	serial_power_on(s);
	if (s->irq_level) {
		s->irq_level = 0;
		s->ctx->irq_line(s->ctx, s->irq, 0);
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int serial_dev_save(struct device *d, struct dev_state_node *out,
			   struct mvm_err *err)
{
	struct serial *s = d->opaque;
	uint8_t buf[sizeof(struct serial_saved) + RX_SIZE];
	struct serial_saved v;
	size_t n;

	pthread_mutex_lock(&s->lock);
	v = (struct serial_saved){
		.ier = s->ier, .lcr = s->lcr, .mcr = s->mcr, .scr = s->scr,
		.fcr = s->fcr, .dll = s->dll, .dlm = s->dlm,
		.thri_pending = s->thri_pending,
		.irq_level = (uint8_t)s->irq_level,
		.rx_len = (uint32_t)s->rx_len,
	};
	for (n = 0; n < s->rx_len; n++)
		buf[sizeof(v) + n] = s->rx[(s->rx_head + n) % RX_SIZE];
	pthread_mutex_unlock(&s->lock);
	memcpy(buf, &v, sizeof(v));
	return dev_state_node_set(out, d->id, SERIAL_STATE_VERSION, buf,
				  sizeof(v) + n, err);
}

/* Values the UART itself could never hold are refused. */
static int serial_check(const struct device *d, const struct serial_saved *v,
			size_t len, struct mvm_err *err)
{
	static const uint8_t zero[sizeof(v->pad)];

	if (v->ier & ~0x0f || v->mcr & ~0x1f)
		return dev_state_bad(d, err, "IER %#x or MCR %#x has bits "
				     "the UART lacks", v->ier, v->mcr);
	if (v->thri_pending > 1 || v->irq_level > 1 ||
	    memcmp(v->pad, zero, sizeof(zero)))
		return dev_state_bad(d, err, "a flag other than 0 or 1");
	if (v->rx_len > RX_SIZE || len != sizeof(*v) + v->rx_len)
		return dev_state_bad(d, err, "a FIFO of %u bytes in %zu "
				     "bytes of state", v->rx_len, len);
	return 0;
}

static int serial_dev_load(struct device *d, const struct dev_state_node *in,
			   struct mvm_err *err)
{
	struct serial *s = d->opaque;
	struct serial_saved v;
	int ret;

	ret = dev_state_check(d, in, SERIAL_STATE_VERSION, sizeof(v),
			      sizeof(v) + RX_SIZE, err);
	if (ret)
		return ret;
	memcpy(&v, in->data, sizeof(v));
	ret = serial_check(d, &v, in->len, err);
	if (ret)
		return ret;
	pthread_mutex_lock(&s->lock);
	s->ier = v.ier;
	s->lcr = v.lcr;
	s->mcr = v.mcr;
	s->scr = v.scr;
	s->fcr = v.fcr;
	s->dll = v.dll;
	s->dlm = v.dlm;
	s->thri_pending = v.thri_pending;
	s->irq_level = v.irq_level; /* the line's level is the irqchip's */
	memcpy(s->rx, (const uint8_t *)in->data + sizeof(v), v.rx_len);
	s->rx_head = 0;
	s->rx_len = v.rx_len;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

const struct device_ops serial_device_ops = {
	.activate = dev_nop,
	.reset = serial_dev_reset,
	.pause = serial_dev_pause,
	.resume = serial_dev_resume,
	.save = serial_dev_save,
	.load = serial_dev_load,
};
