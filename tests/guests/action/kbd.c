/*
 * action=kbd: report what arrives from the i8042 keyboard port, and say
 * "ctrl-alt-del" when that chord comes in, as the host's "send
 * Ctrl-Alt-Del" must produce. Polled: no interrupts in these guests.
 */
#include "../lib/io.h"
#include "../lib/printf.h"
#include "kbd.h"

#define PORT_DATA 0x60
#define PORT_STATUS 0x64
#define STS_OBF 0x01 /* a byte is waiting at PORT_DATA */
#define STS_IBF 0x02 /* the controller has not taken our last write */
#define CMD_READ_CTR 0x20
#define CTR_XLATE 0x40 /* scancodes arrive translated to set 1 */

#define EXT 0x100 /* key codes after an 0xE0 prefix */

struct keys {
	int set; /* 1 or 2 */
	bool ext, brk;
	bool ctrl, alt;
};

static bool wait_status(uint8_t mask, bool set)
{
	for (int i = 0; i < 100000; i++)
		if (((inb(PORT_STATUS) & mask) != 0) == set)
			return true;
	return false;
}

/* The controller's configuration byte says which scancode set we get. */
static int scancode_set(void)
{
	while (inb(PORT_STATUS) & STS_OBF) /* drop stale bytes */
		inb(PORT_DATA);
	if (!wait_status(STS_IBF, false))
		return 1;
	outb(PORT_STATUS, CMD_READ_CTR);
	if (!wait_status(STS_OBF, true))
		return 1;
	return (inb(PORT_DATA) & CTR_XLATE) ? 1 : 2;
}

/* Key numbers in the set in use: Ctrl, Alt, Delete. */
static bool is_ctrl(const struct keys *k, int key)
{
	return (key & 0xff) == (k->set == 1 ? 0x1d : 0x14);
}

static bool is_alt(const struct keys *k, int key)
{
	return (key & 0xff) == (k->set == 1 ? 0x38 : 0x11);
}

static bool is_del(const struct keys *k, int key)
{
	return key == (k->set == 1 ? (EXT | 0x53) : (EXT | 0x71));
}

static void feed(struct keys *k, uint8_t b)
{
	if (b == 0xe0) {
		k->ext = true;
		return;
	}
	if (k->set == 2 && b == 0xf0) {
		k->brk = true;
		return;
	}
	bool down = k->set == 1 ? !(b & 0x80) : !k->brk;
	int key = (k->ext ? EXT : 0) | (k->set == 1 ? (b & 0x7f) : b);
	k->ext = k->brk = false;

	if (is_ctrl(k, key))
		k->ctrl = down;
	else if (is_alt(k, key))
		k->alt = down;
	else if (is_del(k, key) && down && k->ctrl && k->alt)
		kprintf("ctrl-alt-del\n");
}

void kbd_watch(void)
{
	struct keys k = {.set = scancode_set()};

	kprintf("kbd ready (scancode set %d)\n", k.set);
	for (;;) {
		if (!(inb(PORT_STATUS) & STS_OBF)) {
			cpu_pause();
			continue;
		}
		uint8_t b = inb(PORT_DATA);
		kprintf("kbd: %02x\n", b);
		feed(&k, b);
	}
}
