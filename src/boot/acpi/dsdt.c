/*
 * The DSDT. It says how to power off: \_S5 gives the SLP_TYP value that,
 * written with SLP_EN to PM1a_CNT, makes src/devices/pm.c end the VM. And
 * it describes the PCI host bridge (dsdt_pci.c) and the pvpanic port.
 * Devices are added as AML.
 */
#include <stdlib.h>

#include "mvm/aml.h"
#include "mvm/err.h"
#include "mvm/layout.h"

#include "tables.h"

#define DSDT_REVISION 2 /* 2+: integers are 64 bits wide */
#define DSDT_MAX (16 * 1024)

/*
 * The pvpanic port (src/devices/pvpanic.c), as QEMU describes it: Linux's
 * pvpanic-mmio driver binds ACPI id QEMU0001 and takes the port from _CRS.
 */
static void build_pvpanic(struct aml *a)
{
	/* IO(Decode16, port, port, 1, 1), then the end tag. */
	const uint8_t crs[] = {
		0x47, 0x01, PORT_PVPANIC & 0xff, PORT_PVPANIC >> 8,
		PORT_PVPANIC & 0xff, PORT_PVPANIC >> 8, 0x01, 0x01,
		0x79, 0x00,
	};
	size_t dev = aml_device(a, "\\_SB.PEVT");

	aml_name(a, "_HID");
	aml_string(a, "QEMU0001");
	aml_name(a, "_CRS");
	aml_buffer(a, crs, sizeof(crs));
	aml_end(a, dev);
}

static void build_body(struct aml *a)
{
	size_t pkg;

	/* Package: SLP_TYPa, SLP_TYPb, two reserved. */
	aml_name(a, "_S5");
	pkg = aml_package(a, 4);
	aml_integer(a, ACPI_S5_SLP_TYP);
	aml_integer(a, ACPI_S5_SLP_TYP);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_end(a, pkg);

	acpi_dsdt_pci(a);
	build_pvpanic(a);
}

int acpi_build_dsdt(struct acpi_ctx *c, uint64_t *addr, struct mvm_err *err)
{
	struct acpi_header *h;
	struct aml a;
	uint8_t *buf;
	int ret;

	buf = calloc(1, DSDT_MAX);
	if (!buf)
		return mvm_fail(err, -ENOMEM, "acpi: out of memory for the DSDT");
	/* The AML body follows the header directly. */
	aml_init(&a, buf + sizeof(*h), DSDT_MAX - sizeof(*h));
	build_body(&a);
	ret = aml_status(&a);
	if (ret) {
		free(buf);
		return mvm_fail(err, ret, "acpi: cannot encode the DSDT (%s)",
				ret == -ENOSPC ? "larger than 16 KiB" :
						 "invalid AML");
	}
	h = (struct acpi_header *)buf;
	acpi_header_init(h, "DSDT", (uint32_t)(sizeof(*h) + a.len),
			 DSDT_REVISION);
	ret = acpi_emit_table(c, buf, addr, err);
	free(buf);
	return ret;
}
