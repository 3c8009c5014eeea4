/*
 * The FADT. mvm's platform is a full (not hardware-reduced) ACPI PC: the
 * PM1a event and control blocks are real I/O ports (src/devices/pm.c), so
 * the OS powers off by writing SLP_TYP|SLP_EN to PM1a_CNT and needs no
 * hardware-reduced sleep registers. SMI_CMD is 0: there is no SMM firmware
 * to hand over from, ACPI mode is on from reset (SCI_EN reads 1).
 */
#include <string.h>

#include "mvm/layout.h"

#include "tables.h"

#define FADT_REVISION 6
#define FADT_MINOR 0

/* IA-PC boot architecture flags. */
#define IAPC_LEGACY_DEVICES (1u << 0)
#define IAPC_8042 (1u << 1)
#define IAPC_VGA_NOT_PRESENT (1u << 2)
/*
 * Bit 5, CMOS RTC not present, stays clear: mvm has one at 0x70/0x71
 * (src/devices/rtc.c), and Linux's probe of a missing one is slow.
 */

/* Fixed feature flags. */
#define FADT_WBINVD (1u << 0)
#define FADT_PROC_C1 (1u << 2)
#define FADT_SLP_BUTTON (1u << 5) /* set: no fixed sleep button */
#define FADT_RESET_REG_SUP (1u << 10)

#define PM1_EVT_LEN 4
#define PM1_CNT_LEN 2

struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk;
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6 layout");

static struct acpi_gas io_gas(uint16_t port, uint8_t len, uint8_t access)
{
	return (struct acpi_gas){ .space_id = ACPI_GAS_SYSTEM_IO,
				  .bit_width = (uint8_t)(len * 8),
				  .access_size = access,
				  .address = port };
}

int acpi_build_fadt(struct acpi_ctx *c, uint64_t dsdt, uint64_t facs,
		    uint64_t *addr, struct mvm_err *err)
{
	struct acpi_fadt f;

	memset(&f, 0, sizeof(f));
	acpi_header_init(&f.h, "FACP", sizeof(f), FADT_REVISION);
	f.minor_version = FADT_MINOR;
	/* Both forms of each address, equal: old OSes read the 32-bit one. */
	f.firmware_ctrl = (uint32_t)facs;
	f.x_firmware_ctrl = facs;
	f.dsdt = (uint32_t)dsdt;
	f.x_dsdt = dsdt;

	f.sci_int = IRQ_SCI;
	f.smi_cmd = 0;
	f.pm1a_evt_blk = PORT_PM1A_EVT;
	f.pm1_evt_len = PM1_EVT_LEN;
	f.pm1a_cnt_blk = PORT_PM1A_CNT;
	f.pm1_cnt_len = PM1_CNT_LEN;
	f.x_pm1a_evt_blk = io_gas(PORT_PM1A_EVT, PM1_EVT_LEN,
				  ACPI_GAS_ACCESS_UNDEFINED);
	f.x_pm1a_cnt_blk = io_gas(PORT_PM1A_CNT, PM1_CNT_LEN,
				  ACPI_GAS_ACCESS_UNDEFINED);

	f.reset_reg = io_gas(PORT_RESET, 1, ACPI_GAS_ACCESS_BYTE);
	f.reset_value = RESET_VALUE;

	/* C2/C3 latencies above 100/1000 us tell the OS they do not exist. */
	f.p_lvl2_lat = 101;
	f.p_lvl3_lat = 1001;
	/* century = 0: no CMOS century byte is promised. */
	f.iapc_boot_arch =
		IAPC_LEGACY_DEVICES | IAPC_8042 | IAPC_VGA_NOT_PRESENT;
	f.flags = FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON |
		  FADT_RESET_REG_SUP;
	memcpy(&f.hypervisor_vendor_id, "MVM\0\0\0\0\0", 8);
	return acpi_emit_table(c, &f, addr, err);
}
