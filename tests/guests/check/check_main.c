/* The check kernels' main: run every check, report, exit. */
#include "../lib/cmdline.h"
#include "../lib/lapic.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "checks.h"

bool check_enabled(const struct bootinfo *bi, const char *name)
{
	const char *v;
	size_t len, nlen = strlen(name);

	if (!cmdline_find(bi->cmdline, "skip", &v, &len))
		return true;
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && v[j] != ',')
			j++;
		if (j - i == nlen && strncmp(v + i, name, nlen) == 0) {
			kprintf("SKIP %s\n", name);
			return false;
		}
		i = j + 1;
	}
	return true;
}

void guest_main(struct bootinfo *bi)
{
	static struct acpi_found found;

	kprintf("guest: %s check kernel, image 0x%llx-0x%llx\n", bi->proto,
		(unsigned long long)bi->image_start,
		(unsigned long long)bi->image_end);
	lapic_init();
	check_cmdline(bi);
	check_memmap(bi);
	check_meminfo(bi);
	check_memprobe(bi);
	check_palloc(bi);
	check_initrd(bi);
	check_cpuid(bi);
	check_cpuid_shape(bi);
	check_acpi(bi, &found);
	check_smp(bi, &found);
	report_finish();
}
