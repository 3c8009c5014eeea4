/*
 * The checks every check kernel runs, whatever its boot protocol. Expected
 * values come from the kernel command line, so the host test decides them.
 */
#ifndef GUEST_CHECKS_H
#define GUEST_CHECKS_H

#include "../lib/acpi.h"
#include "../lib/bootinfo.h"

/* "skip=a,b" on the command line turns checks off by name. */
bool check_enabled(const struct bootinfo *bi, const char *name);

void check_cmdline(const struct bootinfo *bi);
void check_memmap(const struct bootinfo *bi);
void check_meminfo(const struct bootinfo *bi);
void check_memprobe(const struct bootinfo *bi);
void check_palloc(const struct bootinfo *bi);
void check_initrd(const struct bootinfo *bi);
void check_cpuid(const struct bootinfo *bi);
/* threads=N and cpuidwant=... (check_cpuid_shape.c). */
void check_cpuid_shape(const struct bootinfo *bi);

/* What the ACPI checks found, for the SMP check. */
#define MAX_CPUS 64
struct acpi_found {
	bool madt_ok;
	int ncpus; /* enabled LAPICs */
	uint32_t apic_ids[MAX_CPUS];
};
void check_acpi(const struct bootinfo *bi, struct acpi_found *found);
void check_smp(const struct bootinfo *bi, const struct acpi_found *found);

#endif
