/*
 * The i8042 as Linux's driver probes it: self test, the command byte, and
 * an AUX (mouse) port that is reported absent at once rather than left to
 * time out. Driven through the PIO bus of a VM without KVM.
 */
#include <criterion/criterion.h>

#include "mvm/bus.h"
#include "mvm/devices.h"
#include "mvm/err.h"

#include "fake_vm.h"

#define DATA 0x60
#define CMD 0x64
#define STS_OBF 0x01

static struct fake_vm f;
static struct i8042 *k;

static void setup(void)
{
	struct mvm_err err = { .msg = "" };

	fake_vm_init(&f, 0, 1 << 20);
	cr_assert_eq(i8042_create(&f.ctx, &k, &err), 0, "%s", err.msg);
}

static void teardown(void)
{
	i8042_destroy(k);
	fake_vm_fini(&f);
}

static void out8(uint16_t port, uint8_t v)
{
	cr_assert(bus_dispatch(f.ctx.pio, port, &v, 1, true));
}

static uint8_t in8(uint16_t port)
{
	uint8_t v = 0;

	cr_assert(bus_dispatch(f.ctx.pio, port, &v, 1, false));
	return v;
}

/* The byte a command answers with; fails if the controller says nothing. */
static uint8_t reply(void)
{
	cr_assert(in8(CMD) & STS_OBF, "no reply in the output buffer");
	return in8(DATA);
}

TestSuite(i8042, .init = setup, .fini = teardown);

Test(i8042, self_test_passes)
{
	out8(CMD, 0xaa);
	cr_assert_eq(reply(), 0x55);
	cr_assert_eq(in8(CMD) & STS_OBF, 0, "one byte only");
}

Test(i8042, aux_interface_test_reports_no_port_at_once)
{
	out8(CMD, 0xa9);
	cr_assert_eq(reply(), 0x01, "a stuck clock line: no AUX port");
}

Test(i8042, aux_loop_is_not_answered_as_aux_data)
{
	/* An AT-type controller: the byte reaches the keyboard, which ACKs. */
	out8(CMD, 0xd3);
	out8(DATA, 0x5a);
	cr_assert_eq(in8(CMD) & 0x20, 0, "no AUX data flag");
	cr_assert_eq(reply(), 0xfa);
}

/* The command byte as read back after command cmd. */
static uint8_t ctr_after(uint8_t cmd)
{
	out8(CMD, cmd);
	out8(CMD, 0x20);
	return reply();
}

Test(i8042, port_enables_move_the_command_byte_bits)
{
	cr_assert_eq(ctr_after(0xa7) & 0x20, 0x20, "AUX disabled");
	cr_assert_eq(ctr_after(0xa8) & 0x20, 0, "AUX enabled");
	cr_assert_eq(ctr_after(0xad) & 0x10, 0x10, "keyboard disabled");
	cr_assert_eq(ctr_after(0xae) & 0x10, 0, "keyboard enabled");
}

Test(i8042, command_byte_written_is_read_back)
{
	out8(CMD, 0x60);
	out8(DATA, 0x47);
	out8(CMD, 0x20);
	cr_assert_eq(reply(), 0x47);
}

Test(i8042, status_says_the_keyboard_is_not_locked)
{
	/* Bit 4 clear is a keylock switch inhibiting the keyboard. */
	cr_assert_eq(in8(CMD) & 0x10, 0x10);
}

/* The reset line reaches the VM as a reboot request; nothing else does. */
Test(i8042, pulse_reset_asks_the_vm_to_reboot)
{
	out8(CMD, 0xaa);
	reply();
	cr_assert_eq(f.stop_kind, VM_STOP_NONE);
	out8(CMD, 0xfe);
	cr_assert_eq(f.stop_kind, VM_STOP_REBOOT);
}

/* A reply raises IRQ 1, and reading it drops the line again. */
Test(i8042, a_waiting_reply_raises_irq_1)
{
	out8(CMD, 0xaa);
	cr_assert_eq(f.irq[1], 1);
	reply();
	cr_assert_eq(f.irq[1], 0);
}

/* Firecracker's i8042 metrics, as the controller counts them. */
Test(i8042, counts_accesses_and_resets)
{
	struct i8042_counts c;
	uint8_t wide[2] = { 0, 0 };

	out8(CMD, 0xaa);
	(void)reply(); /* two reads: status, then data */
	/* A word, and a port of the range that means nothing. */
	cr_assert(bus_dispatch(f.ctx.pio, DATA, wide, 2, false));
	cr_assert(bus_dispatch(f.ctx.pio, DATA, wide, 2, true));
	out8(0x61, 0);
	out8(CMD, 0xfe); /* pulse the reset line */
	i8042_counts(k, &c);
	cr_assert_eq(c.write_count, 2);
	cr_assert_eq(c.read_count, 2);
	cr_assert_eq(c.missed_read_count, 1);
	cr_assert_eq(c.missed_write_count, 2);
	cr_assert_eq(c.reset_count, 1);
	cr_assert_eq(c.error_count, 0);
}
