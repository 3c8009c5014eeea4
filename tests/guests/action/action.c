/*
 * mb_action: does one thing the host wants to watch the VMM react to,
 * chosen by action= on the command line. It always prints "action <name>"
 * first. Actions that should stop or reset the machine print
 * "FAIL <name>: ..." and exit with code 1 if the machine keeps running.
 */
#include "../lib/acpi.h"
#include "../lib/bootinfo.h"
#include "../lib/cmdline.h"
#include "../lib/io.h"
#include "../lib/pci.h"
#include "../lib/pit.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "../lib/uart.h"
#include "cpuid_virt.h"
#include "kbd.h"

#define PORT_I8042_STATUS 0x64
#define I8042_INPUT_FULL 0x02
#define I8042_CMD_RESET 0xfe
#define PORT_RESET 0xcf9
#define RESET_VALUE 6
#define PORT_PVPANIC 0x505
#define PVPANIC_PANICKED 0x01

/* How long a reset or power-off may take before we call it failed. */
#define STOP_GRACE_US 200000

static NORETURN void still_running(const char *name)
{
	delay_us(STOP_GRACE_US);
	fail(name, "machine still running");
	debug_exit(EXIT_CODE_FAIL);
}

static NORETURN void do_poweroff(const struct bootinfo *bi)
{
	struct acpi a;
	char why[80];
	uint8_t typa, typb;

	if (!acpi_open(&a, bi->rsdp, why, sizeof(why))) {
		fail("poweroff", "%s", why);
		debug_exit(EXIT_CODE_FAIL);
	}
	const struct acpi_sdt *fadt = acpi_find(&a, "FACP");
	const struct acpi_sdt *dsdt = fadt ? acpi_dsdt(fadt) : NULL;
	uint32_t pm1a = fadt ? acpi_fadt_pm1a_cnt(fadt) : 0;
	if (!pm1a || !dsdt || !acpi_dsdt_s5(dsdt, &typa, &typb)) {
		fail("poweroff", "no FADT PM1a_CNT or no \\_S5 in the DSDT");
		debug_exit(EXIT_CODE_FAIL);
	}
	uint16_t v = (uint16_t)((typa & 7) << ACPI_PM1_SLP_TYP_SHIFT |
				ACPI_PM1_SLP_EN);
	kprintf("poweroff: PM1a_CNT 0x%x <- 0x%x\n", pm1a, v);
	outw((uint16_t)pm1a, v);
	still_running("poweroff");
}

static NORETURN void do_i8042_reset(void)
{
	/* The controller takes a command only with its input buffer empty. */
	for (int i = 0; i < 10000; i++)
		if (!(inb(PORT_I8042_STATUS) & I8042_INPUT_FULL))
			break;
	outb(PORT_I8042_STATUS, I8042_CMD_RESET);
	still_running("reset");
}

static NORETURN void do_acpi_reset(const struct bootinfo *bi)
{
	struct acpi a;
	struct acpi_gas reg;
	uint8_t val;
	char why[80];

	if (!acpi_open(&a, bi->rsdp, why, sizeof(why))) {
		fail("acpireset", "%s", why);
		debug_exit(EXIT_CODE_FAIL);
	}
	const struct acpi_sdt *fadt = acpi_find(&a, "FACP");
	if (!fadt || !acpi_fadt_reset(fadt, &reg, &val) ||
	    reg.space != ACPI_GAS_IO || reg.address > 0xffff) {
		fail("acpireset", "no I/O RESET_REG in the FADT");
		debug_exit(EXIT_CODE_FAIL);
	}
	kprintf("acpireset: port 0x%x <- 0x%x\n", (unsigned)reg.address, val);
	outb((uint16_t)reg.address, val);
	still_running("acpireset");
}

/*
 * With a zero-limit IDT every exception is undeliverable: the fault
 * becomes a double fault, that one a triple fault, and the CPU shuts down.
 */
static void load_empty_idt(void)
{
	struct {
		uint16_t limit;
		uintptr_t base;
	} PACKED idtr = {0, 0};

	__asm__ volatile("lidt %0" : : "m"(idtr));
}

/*
 * A divide error is a hardware fault, delivered by the CPU itself. A
 * software interrupt (int3) would do too on most hosts, but under KVM on
 * AMD without NRIP save (e.g. nested under QEMU's emulated SVM) its failed
 * delivery is re-injected forever instead of escalating: that variant is
 * kept apart as action=int3.
 */
static NORETURN void do_triple(void)
{
	load_empty_idt();
	__asm__ volatile("xorl %%ecx, %%ecx\n\tdivl %%ecx"
			 :
			 :
			 : "eax", "ecx", "edx");
	still_running("triple");
}

static NORETURN void do_int3(void)
{
	load_empty_idt();
	__asm__ volatile("int3");
	still_running("int3");
}

static NORETURN void do_ud(void)
{
	load_empty_idt();
	__asm__ volatile("ud2");
	still_running("ud");
}

static NORETURN void do_echo(void)
{
	kprintf("echo ready\n");
	for (;;) {
		int c = uart_getc_nowait();
		if (c < 0) {
			cpu_pause();
			continue;
		}
		uart_putc((char)c);
		if (c == 'q')
			debug_exit(EXIT_CODE_OK);
	}
}

static bool print_pci(pci_bdf bdf, void *arg)
{
	(void)arg;
	kprintf("pci: %02x:%02x.%x %04x:%04x class %06x\n", PCI_BUS(bdf),
		PCI_DEV(bdf), PCI_FN(bdf), pci_read16(bdf, PCI_VENDOR_ID),
		pci_read16(bdf, PCI_DEVICE_ID),
		pci_read32(bdf, PCI_CLASS_REV) >> 8);
	return true;
}

static NORETURN void do_pci(void)
{
	int n = pci_scan_bus0(print_pci, NULL);

	kprintf("pci: %d function(s) on bus 0\n", n);
	debug_exit(EXIT_CODE_OK);
}

/* action=exit=V, or action=exit with code=V (default 0). */
static NORETURN void do_exit(const char *action, const char *cl)
{
	uint64_t code = 0;

	if (action[4] == '=') {
		if (!parse_u64(action + 5, strlen(action + 5), &code))
			code = EXIT_CODE_FAIL;
	} else {
		code = cmdline_u64_or(cl, "code", 0);
	}
	debug_exit((uint8_t)code);
}

/*
 * PIT channel 2 through port 0x61, as guests use it to time waits and to
 * calibrate the TSC: its count must run down at the PIT's rate, so a wait
 * does not end before its time. Every wait of the tiny kernels depends on
 * it.
 */
static NORETURN void do_pit(void)
{
	struct deadline d;
	unsigned polls = 0;

	deadline_start(&d, 400);
	while (!deadline_expired(&d))
		polls++;
	check("pit: channel 2 counts before its output rises", polls >= 4,
	      "the 400 ms wait ended after %u polls", polls);
	kprintf("pit waited\n");
	report_finish();
}

#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define CMOS_YEAR 0x09
#define CMOS_REG_A 0x0a
#define CMOS_REG_B 0x0b
#define CMOS_A_UIP 0x80
#define CMOS_B_SET 0x80
#define CMOS_NVRAM_MARK 0x40 /* a byte of battery-backed RAM */
#define MARK 0xa5

static uint8_t cmos_read(uint8_t reg)
{
	outb(CMOS_INDEX, reg);
	return inb(CMOS_DATA);
}

static void cmos_write(uint8_t reg, uint8_t v)
{
	outb(CMOS_INDEX, reg);
	outb(CMOS_DATA, v);
}

/*
 * action=rtc_reboot, under --on-reboot restart: the first boot marks the
 * CMOS NVRAM, sets the clock's year to 2040 and reboots; the second must
 * find both, as on a PC whose battery kept the CMOS over the reboot.
 */
static NORETURN void do_rtc_reboot(void)
{
	uint8_t b = cmos_read(CMOS_REG_B), year;

	if (cmos_read(CMOS_NVRAM_MARK) != MARK) {
		cmos_write(CMOS_NVRAM_MARK, MARK);
		cmos_write(CMOS_REG_B, b | CMOS_B_SET);
		cmos_write(CMOS_YEAR, 0x40); /* BCD: the registers' default */
		cmos_write(CMOS_REG_B, b & (uint8_t)~CMOS_B_SET);
		kprintf("rtc set year 40\n");
		do_i8042_reset();
	}
	while (cmos_read(CMOS_REG_A) & CMOS_A_UIP)
		;
	year = cmos_read(CMOS_YEAR);
	kprintf("rtc kept nvram %x year %x\n", cmos_read(CMOS_NVRAM_MARK),
		year);
	check("rtc: the clock kept its year over the reboot", year == 0x40,
	      "year register 0x%x", year);
	report_finish();
}

/*
 * action=boot_timer: what a Firecracker guest's init does once booted,
 * for --boot-timer: the byte 123 at 0xd0000000, then exit with code=V
 * (default 0).
 */
static NORETURN void do_boot_timer(const char *cl)
{
	*(volatile uint8_t *)(uintptr_t)0xd0000000u = 123;
	kprintf("boot timer written\n");
	debug_exit((uint8_t)cmdline_u64_or(cl, "code", 0));
}

static NORETURN void run(const struct bootinfo *bi, const char *action,
			 bool top)
{
	if (strncmp(action, "exit", 4) == 0 &&
	    (action[4] == '\0' || action[4] == '='))
		do_exit(action, bi->cmdline);
	if (strcmp(action, "poweroff") == 0)
		do_poweroff(bi);
	if (strcmp(action, "reset") == 0)
		do_i8042_reset();
	if (strcmp(action, "cf9") == 0) {
		outb(PORT_RESET, RESET_VALUE);
		still_running("cf9");
	}
	if (strcmp(action, "acpireset") == 0)
		do_acpi_reset(bi);
	if (strcmp(action, "triple") == 0)
		do_triple();
	if (strcmp(action, "ud") == 0)
		do_ud();
	if (strcmp(action, "int3") == 0)
		do_int3();
	if (strcmp(action, "panic") == 0) {
		/* What Linux's pvpanic driver does from its panic notifier. */
		kprintf("panicking\n");
		outb(PORT_PVPANIC, PVPANIC_PANICKED);
		still_running("panic");
	}
	if (strcmp(action, "hang") == 0) {
		kprintf("hanging\n");
		halt_forever();
	}
	if (strcmp(action, "spin") == 0) {
		kprintf("spinning\n");
		for (;;)
			__asm__ volatile("" ::: "memory");
	}
	if (strcmp(action, "flood") == 0) {
		/* Output without end, for a host reader that stops reading. */
		for (unsigned i = 0;; i++)
			kprintf("flood %u\n", i);
	}
	if (strcmp(action, "echo") == 0)
		do_echo();
	if (strcmp(action, "pci") == 0)
		do_pci();
	if (strcmp(action, "kbd") == 0)
		kbd_watch();
	if (strcmp(action, "pit") == 0)
		do_pit();
	if (strcmp(action, "rtc_reboot") == 0)
		do_rtc_reboot();
	if (strcmp(action, "cpuid") == 0)
		cpuid_virt_report();
	if (strcmp(action, "boot_timer") == 0)
		do_boot_timer(bi->cmdline);
	if (top && strcmp(action, "boot") == 0) {
		/* Reboot by default: with a restarting VMM, "booted" repeats. */
		char then[32] = "reset";
		kprintf("booted\n");
		cmdline_str(bi->cmdline, "then", then, sizeof(then));
		run(bi, then, false);
	}
	fail("action", "unknown action '%s'", action);
	debug_exit(EXIT_CODE_FAIL);
}

void guest_main(struct bootinfo *bi)
{
	char action[32];

	if (cmdline_str(bi->cmdline, "action", action, sizeof(action)) != 1) {
		kprintf("action none\n");
		fail("action", "no action= on the command line");
		debug_exit(EXIT_CODE_FAIL);
	}
	kprintf("action %s\n", action);
	run(bi, action, true);
}
