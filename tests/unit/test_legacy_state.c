/*
 * The legacy devices and the PCI host bridge through the device interface
 * (include/mvm/device.h): each one's state, driven through its ports on
 * one VM without KVM, comes back in a fresh device on another (saving
 * that one again gives the same bytes, and the ports read what they read
 * before); a paused device holds its IRQ line until resume; reset is the
 * power-on state; and nodes that are cut, too long, of another version,
 * another device's or holding values the hardware never could are
 * refused, naming the device.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/bus.h"
#include "mvm/device.h"
#include "mvm/devices.h"
#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/pci.h"
#include "mvm/rtc.h"

#include "fake_vm.h"

#define COM1 PORT_COM1
#define I8042_DATA 0x60
#define I8042_CMD 0x64

static struct fake_vm vm_a, vm_b;
static struct mvm_err err;

static void setup(void)
{
	fake_vm_init(&vm_a, 0, 1 << 20);
	fake_vm_init(&vm_b, 0, 1 << 20);
	err.msg[0] = '\0';
}

static void teardown(void)
{
	fake_vm_fini(&vm_a);
	fake_vm_fini(&vm_b);
}

TestSuite(legacy_state, .init = setup, .fini = teardown);

static void out8(struct fake_vm *f, uint16_t port, uint8_t v)
{
	cr_assert(bus_dispatch(f->ctx.pio, port, &v, 1, true));
}

static uint8_t in8(struct fake_vm *f, uint16_t port)
{
	uint8_t v = 0;

	cr_assert(bus_dispatch(f->ctx.pio, port, &v, 1, false));
	return v;
}

static struct device dev(const char *id, const struct device_ops *ops,
			 void *opaque)
{
	struct device d = { .ops = ops, .opaque = opaque };

	snprintf(d.id, sizeof(d.id), "%s", id);
	return d;
}

static void save(struct device *d, struct dev_state_node *n)
{
	cr_assert_eq(d->ops->pause(d, &err), 0, "%s", err.msg);
	cr_assert_eq(d->ops->save(d, n, &err), 0, "%s", err.msg);
	cr_assert_str_eq(n->id, d->id);
}

/* Load n into d, save d again: the same bytes must come out. */
static void load_and_compare(struct device *d, const struct dev_state_node *n)
{
	struct dev_state_node again;

	cr_assert_eq(d->ops->pause(d, &err), 0, "%s", err.msg);
	cr_assert_eq(d->ops->load(d, n, &err), 0, "%s", err.msg);
	cr_assert_eq(d->ops->save(d, &again, &err), 0, "%s", err.msg);
	cr_assert_eq(again.version, n->version);
	cr_assert_eq(again.len, n->len);
	if (n->len)
		cr_assert_arr_eq(again.data, n->data, n->len);
	dev_state_node_free(&again);
	cr_assert_eq(d->ops->resume(d, &err), 0, "%s", err.msg);
}

/*
 * What every device refuses: cut, one byte too many, another version,
 * another device's node. The message names the device.
 */
static void refuses_the_usual(struct device *d, const struct dev_state_node *n)
{
	struct dev_state_node bad;
	uint8_t *longer = calloc(1, n->len + 1);

	cr_assert_not_null(longer);
	if (n->len)
		memcpy(longer, n->data, n->len);
	bad = *n;
	bad.data = longer;
	if (n->len) {
		bad.len = n->len - 1;
		cr_assert_eq(d->ops->load(d, &bad, &err), -EINVAL, "cut");
		cr_assert(strstr(err.msg, d->id) == err.msg, "%s", err.msg);
	}
	bad.len = n->len + 1;
	cr_assert_eq(d->ops->load(d, &bad, &err), -EINVAL, "oversized");
	bad.len = n->len;
	bad.version = n->version + 1;
	cr_assert_eq(d->ops->load(d, &bad, &err), -EINVAL, "version");
	cr_assert_not_null(strstr(err.msg, "version"), "%s", err.msg);
	bad.version = n->version;
	snprintf(bad.id, sizeof(bad.id), "someone-else");
	cr_assert_eq(d->ops->load(d, &bad, &err), -EINVAL, "id");
	cr_assert(strstr(err.msg, d->id) == err.msg, "%s", err.msg);
	free(longer);
}

/* A copy of n whose byte at off is v, for the device's own checks. */
static void refuses_byte(struct device *d, const struct dev_state_node *n,
			 size_t off, uint8_t v)
{
	struct dev_state_node bad = *n;
	uint8_t *p = malloc(n->len);

	cr_assert_not_null(p);
	memcpy(p, n->data, n->len);
	p[off] = v;
	bad.data = p;
	cr_assert_eq(d->ops->load(d, &bad, &err), -EINVAL,
		     "byte %zu = %#x taken", off, v);
	cr_assert(strstr(err.msg, d->id) == err.msg, "%s", err.msg);
	free(p);
}

Test(legacy_state, serial_registers_and_fifo_come_back)
{
	struct serial *sa, *sb;
	struct device da, db;
	struct dev_state_node n;

	cr_assert_eq(serial_create(&vm_a.ctx, COM1, 4, NULL, &sa, &err), 0);
	cr_assert_eq(serial_create(&vm_b.ctx, COM1, 4, NULL, &sb, &err), 0);
	da = dev("serial0", &serial_device_ops, sa);
	db = dev("serial0", &serial_device_ops, sb);
	out8(&vm_a, COM1 + 3, 0x83); /* DLAB, 8N1 */
	out8(&vm_a, COM1 + 0, 0x01); /* 115200 */
	out8(&vm_a, COM1 + 3, 0x03);
	out8(&vm_a, COM1 + 7, 0x5a);
	out8(&vm_a, COM1 + 1, 0x01); /* RX interrupt */
	cr_assert_eq(serial_rx_push(sa, (const uint8_t *)"xyz", 3), 3);
	cr_assert_eq(in8(&vm_a, COM1), 'x', "read one: the FIFO's head moves");
	cr_assert_eq(vm_a.irq[4], 1);
	save(&da, &n);

	load_and_compare(&db, &n);
	cr_assert_eq(in8(&vm_b, COM1 + 3), 0x03);
	cr_assert_eq(in8(&vm_b, COM1 + 7), 0x5a);
	cr_assert_eq(in8(&vm_b, COM1 + 1), 0x01);
	cr_assert_eq(vm_b.irq[4], 0, "the load drives no line...");
	cr_assert_eq(in8(&vm_b, COM1 + 5) & 0x01, 1, "data ready");
	cr_assert_eq(in8(&vm_b, COM1), 'y');
	cr_assert_eq(in8(&vm_b, COM1), 'z');
	out8(&vm_b, COM1 + 3, 0x83);
	cr_assert_eq(in8(&vm_b, COM1), 0x01, "the divisor latch");
	out8(&vm_b, COM1 + 3, 0x03);

	refuses_the_usual(&db, &n);
	refuses_byte(&db, &n, 0, 0x10);  /* IER bit 4: no such interrupt */
	refuses_byte(&db, &n, 7, 2);     /* thri_pending is a flag */
	refuses_byte(&db, &n, 12, 9);    /* a FIFO longer than the node */
	dev_state_node_free(&n);
	serial_destroy(sa);
	serial_destroy(sb);
}

Test(legacy_state, serial_holds_its_line_while_paused)
{
	struct serial *s;
	struct device d;

	cr_assert_eq(serial_create(&vm_a.ctx, COM1, 4, NULL, &s, &err), 0);
	d = dev("serial0", &serial_device_ops, s);
	out8(&vm_a, COM1 + 1, 0x01);
	cr_assert_eq(d.ops->pause(&d, &err), 0);
	cr_assert_eq(serial_rx_push(s, (const uint8_t *)"k", 1), 1,
		     "console input is still taken");
	cr_assert_eq(vm_a.irq[4], 0, "but raises nothing while paused");
	cr_assert_eq(d.ops->resume(&d, &err), 0);
	cr_assert_eq(vm_a.irq[4], 1, "resume raises it");

	/* Reset: power-on registers, the FIFO gone, the line low. */
	cr_assert_eq(d.ops->pause(&d, &err), 0);
	cr_assert_eq(d.ops->reset(&d, &err), 0);
	cr_assert_eq(vm_a.irq[4], 0);
	cr_assert_eq(d.ops->resume(&d, &err), 0);
	cr_assert_eq(in8(&vm_a, COM1 + 1), 0);
	cr_assert_eq(in8(&vm_a, COM1 + 4), 0x08, "OUT2, as firmware left it");
	cr_assert_eq(in8(&vm_a, COM1 + 5) & 0x01, 0, "no data");
	serial_destroy(s);
}

/* Firecracker's uart metrics, as the UART counts them. */
Test(legacy_state, serial_counts_reads_writes_and_misses)
{
	struct serial_counts c;
	struct serial *s;
	uint8_t wide[2] = { 0, 0 };

	cr_assert_eq(serial_create(&vm_a.ctx, COM1, 4, NULL, &s, &err), 0);
	out8(&vm_a, COM1, 'a');
	out8(&vm_a, COM1, 'b');
	cr_assert_eq(serial_rx_push(s, (const uint8_t *)"k", 1), 1);
	cr_assert_eq(in8(&vm_a, COM1), 'k');
	(void)in8(&vm_a, COM1 + 5); /* LSR: not the receive buffer */
	out8(&vm_a, COM1 + 3, 0x80); /* DLAB: COM1 is the divisor now */
	out8(&vm_a, COM1, 1);
	(void)in8(&vm_a, COM1);
	cr_assert(bus_dispatch(vm_a.ctx.pio, COM1, wide, 2, false));
	cr_assert(bus_dispatch(vm_a.ctx.pio, COM1, wide, 2, true));
	serial_counts(s, &c);
	cr_assert_eq(c.write_count, 2);
	cr_assert_eq(c.read_count, 1);
	cr_assert_eq(c.missed_read_count, 1);
	cr_assert_eq(c.missed_write_count, 1);
	cr_assert_eq(c.error_count, 0);
	serial_destroy(s);
}

Test(legacy_state, i8042_queue_and_command_byte_come_back)
{
	struct i8042 *ka, *kb;
	struct device da, db;
	struct dev_state_node n;

	cr_assert_eq(i8042_create(&vm_a.ctx, &ka, &err), 0);
	cr_assert_eq(i8042_create(&vm_b.ctx, &kb, &err), 0);
	da = dev("i8042", &i8042_device_ops, ka);
	db = dev("i8042", &i8042_device_ops, kb);
	out8(&vm_a, I8042_CMD, 0x60);  /* write the command byte... */
	out8(&vm_a, I8042_DATA, 0x45); /* ...XLATE, SYS, KBD_INT */
	out8(&vm_a, I8042_CMD, 0xaa);  /* self test: 0x55 queued */
	out8(&vm_a, I8042_CMD, 0xd1);  /* output port write, data pending */
	save(&da, &n);

	load_and_compare(&db, &n);
	cr_assert_eq(in8(&vm_b, I8042_DATA), 0x55);
	out8(&vm_b, I8042_CMD, 0x20);
	cr_assert_eq(in8(&vm_b, I8042_DATA), 0x45);
	out8(&vm_b, I8042_DATA, 0x01); /* the pending 0xd1's byte: no reset */
	cr_assert_eq(vm_b.stop_kind, VM_STOP_NONE);

	refuses_the_usual(&db, &n);
	refuses_byte(&db, &n, 2, 17);   /* more than the queue holds */
	refuses_byte(&db, &n, 1, 0xaa); /* a command that takes no data */
	dev_state_node_free(&n);
	i8042_destroy(ka);
	i8042_destroy(kb);
}

Test(legacy_state, i8042_ctrl_alt_del_waits_for_resume)
{
	struct i8042 *k;
	struct device d;

	cr_assert_eq(i8042_create(&vm_a.ctx, &k, &err), 0);
	d = dev("i8042", &i8042_device_ops, k);
	cr_assert_eq(d.ops->pause(&d, &err), 0);
	cr_assert_eq(i8042_send_ctrl_alt_del(k), 0);
	cr_assert_eq(vm_a.irq[1], 0);
	cr_assert_eq(d.ops->resume(&d, &err), 0);
	cr_assert_eq(vm_a.irq[1], 1);
	cr_assert_eq(d.ops->pause(&d, &err), 0);
	cr_assert_eq(d.ops->reset(&d, &err), 0);
	cr_assert_eq(vm_a.irq[1], 0);
	cr_assert_eq(d.ops->resume(&d, &err), 0);
	cr_assert_eq(in8(&vm_a, I8042_CMD) & 0x01, 0, "queue empty");
	i8042_destroy(k);
}

static uint8_t cmos(struct fake_vm *f, uint8_t reg)
{
	out8(f, 0x70, reg);
	return in8(f, 0x71);
}

Test(legacy_state, rtc_cmos_and_clock_come_back)
{
	struct rtc *ra, *rb;
	struct device da, db;
	struct dev_state_node n;
	int64_t off;

	cr_assert_eq(rtc_create(&vm_a.ctx, NULL, &ra, &err), 0);
	cr_assert_eq(rtc_create(&vm_b.ctx, NULL, &rb, &err), 0);
	da = dev("rtc", &rtc_device_ops, ra);
	db = dev("rtc", &rtc_device_ops, rb);
	out8(&vm_a, 0x70, 0x40);
	out8(&vm_a, 0x71, 0xa5); /* NVRAM */
	out8(&vm_a, 0x70, RTC_YEAR);
	out8(&vm_a, 0x71, 0x77); /* the guest sets 2077 (its century's) */
	out8(&vm_a, 0x70, 0x41); /* the index is state too */
	save(&da, &n);

	load_and_compare(&db, &n);
	cr_assert_eq(in8(&vm_b, 0x71), 0, "index 0x41, never written");
	cr_assert_eq(cmos(&vm_b, 0x40), 0xa5);
	cr_assert_eq(cmos(&vm_b, RTC_YEAR), 0x77, "the guest's clock moved");
	memcpy(&off, (uint8_t *)n.data + 8, sizeof(off));
	cr_assert_neq(off, 0);

	refuses_the_usual(&db, &n);
	refuses_byte(&db, &n, 0, 0x80);  /* index beyond 128 bytes */
	refuses_byte(&db, &n, 15, 0x40); /* an offset of 2^62 s */
	/* Reset keeps the battery-backed CMOS. */
	cr_assert_eq(db.ops->reset(&db, &err), 0);
	cr_assert_eq(cmos(&vm_b, 0x40), 0xa5);
	dev_state_node_free(&n);
	rtc_destroy(ra);
	rtc_destroy(rb);
}

Test(legacy_state, pm_registers_come_back)
{
	struct pm *pa, *pb;
	struct device da, db;
	struct dev_state_node n;
	uint8_t en[2] = { 0x21, 0x01 };

	cr_assert_eq(pm_create(&vm_a.ctx, &pa, &err), 0);
	cr_assert_eq(pm_create(&vm_b.ctx, &pb, &err), 0);
	da = dev("pm", &pm_device_ops, pa);
	db = dev("pm", &pm_device_ops, pb);
	cr_assert(bus_dispatch(vm_a.ctx.pio, PORT_PM_BASE + 2, en, 2, true));
	save(&da, &n);

	load_and_compare(&db, &n);
	cr_assert_eq(in8(&vm_b, PORT_PM_BASE + 2), 0x21);
	cr_assert_eq(in8(&vm_b, PORT_PM_BASE + 3), 0x01);
	refuses_the_usual(&db, &n);
	refuses_byte(&db, &n, 4, 0x00); /* SCI_EN clear */
	refuses_byte(&db, &n, 5, 0x20); /* SLP_EN set */
	cr_assert_eq(db.ops->reset(&db, &err), 0);
	cr_assert_eq(in8(&vm_b, PORT_PM_BASE + 2), 0);
	cr_assert_eq(in8(&vm_b, PORT_PM_BASE + 4), 0x01, "SCI_EN");
	dev_state_node_free(&n);
	pm_destroy(pa);
	pm_destroy(pb);
}

Test(legacy_state, stateless_ports_save_empty_nodes)
{
	for (unsigned i = 0; i < 2; i++) {
		struct device d = dev(i ? "debug-exit" : "pvpanic",
				      &dev_stateless_ops, NULL);
		struct device other = dev("fresh", &dev_stateless_ops, NULL);
		struct dev_state_node n;

		save(&d, &n);
		cr_assert_eq(n.len, 0);
		snprintf(other.id, sizeof(other.id), "%s", d.id);
		load_and_compare(&other, &n);
		refuses_the_usual(&other, &n);
		dev_state_node_free(&n);
	}
}

static void out32(struct fake_vm *f, uint16_t port, uint32_t v)
{
	cr_assert(bus_dispatch(f->ctx.pio, port, (uint8_t *)&v, 4, true));
}

static uint32_t in32(struct fake_vm *f, uint16_t port)
{
	uint32_t v = 0;

	cr_assert(bus_dispatch(f->ctx.pio, port, (uint8_t *)&v, 4, false));
	return v;
}

Test(legacy_state, pci_host_latch_and_bridge_config_come_back)
{
	struct device da = dev("pci-host", &pci_host_device_ops, vm_a.ctx.pci);
	struct device db = dev("pci-host", &pci_host_device_ops, vm_b.ctx.pci);
	struct dev_state_node n;

	out32(&vm_a, 0xcf8, 0x8000000c);   /* 00:00.0, cache line size */
	out32(&vm_a, 0xcfc, 0x00000010);
	out32(&vm_a, 0xcf8, 0x8000003c);   /* interrupt line, left latched */
	out32(&vm_a, 0xcfc, 0x0000000b);
	save(&da, &n);

	load_and_compare(&db, &n);
	cr_assert_eq(in32(&vm_b, 0xcf8), 0x8000003c, "the latch");
	cr_assert_eq(in32(&vm_b, 0xcfc) & 0xff, 0x0b);
	out32(&vm_b, 0xcf8, 0x8000000c);
	cr_assert_eq(in32(&vm_b, 0xcfc) & 0xff, 0x10);
	out32(&vm_b, 0xcf8, 0x80000000);
	cr_assert_eq(in32(&vm_b, 0xcfc), 0x00081b36, "still this bridge");

	refuses_the_usual(&db, &n);
	refuses_byte(&db, &n, 0, 0x01);     /* latch bits that do not exist */
	refuses_byte(&db, &n, 4 + 0, 0x86); /* another vendor's bridge */
	cr_assert_eq(db.ops->reset(&db, &err), 0);
	cr_assert_eq(in32(&vm_b, 0xcf8), 0);
	out32(&vm_b, 0xcf8, 0x8000003c);
	cr_assert_eq(in32(&vm_b, 0xcfc) & 0xff, 0, "power-on again");
	out32(&vm_b, 0xcf8, 0x80000004);
	cr_assert_eq(in32(&vm_b, 0xcfc) & 0xffff, 0x0002, "memory decoding on");
	dev_state_node_free(&n);
}
