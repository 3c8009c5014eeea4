/*
 * Where mvm puts things in guest physical memory and I/O space. One table,
 * so the boot loaders, ACPI and the devices can never disagree.
 */
#ifndef MVM_LAYOUT_H
#define MVM_LAYOUT_H

/*
 * Low memory, below 1 MiB. A multiboot kernel may be linked over the stack,
 * boot info and command line: its loader then moves them above the kernel.
 * The page tables are written only for 64-bit entries.
 */
#define LAYOUT_GDT 0x500ULL         /* boot GDT (flat 32/64-bit segments) */
#define LAYOUT_STACK_TOP 0x5ff0ULL  /* initial stack for 32-bit entries */
#define LAYOUT_BOOT_INFO 0x6000ULL  /* multiboot info or hvm_start_info, 4K */
#define LAYOUT_ZERO_PAGE 0x7000ULL  /* Linux boot_params, 4K */
#define LAYOUT_PML4 0x9000ULL       /* identity map of the low 4 GiB: */
#define LAYOUT_PDPT 0xa000ULL       /*   PML4, PDPT, then 4 PDs of */
#define LAYOUT_PD 0xb000ULL         /*   2 MiB pages at 0xb000..0xefff */
#define LAYOUT_CMDLINE 0x20000ULL   /* kernel command line */
#define LAYOUT_CMDLINE_MAX 0x10000ULL
#define LAYOUT_EBDA 0x9fc00ULL      /* reserved from here to 1 MiB */
#define LAYOUT_ACPI 0xe0000ULL      /* RSDP first, then the other tables */
#define LAYOUT_ACPI_END 0x100000ULL
#define LAYOUT_HIGH 0x100000ULL     /* 1 MiB: kernels load at or above */

/* MMIO in the 32-bit hole. */
#define LAYOUT_PCI_MMIO32 0xc0000000ULL  /* BARs: from the hole's start */
#define LAYOUT_PCI_MMIO32_SIZE 0x20000000ULL /*   up to ECAM (512 MiB) */
#define LAYOUT_PCI_ECAM 0xe0000000ULL    /* PCIe config space, bus 0 only */
#define LAYOUT_PCI_ECAM_BUSES 1
#define LAYOUT_PCI_ECAM_SIZE (LAYOUT_PCI_ECAM_BUSES * 0x100000ULL)
#define LAYOUT_IOAPIC 0xfec00000ULL
#define LAYOUT_LAPIC 0xfee00000ULL

/*
 * 64-bit PCI window, declared to the guest for BARs above 4 GiB. Guest RAM
 * above 4 GiB must end below it (RAM up to 63 GiB).
 */
#define LAYOUT_PCI_MMIO64 0x1000000000ULL   /* 64 GiB */
#define LAYOUT_PCI_MMIO64_SIZE 0x1000000000ULL

/*
 * virtio-pmem regions (backing files mapped into guest physical memory),
 * past the 64-bit PCI window so neither RAM, hotpluggable memory nor BARs
 * can reach them; it ends at 384 GiB, inside a 39-bit physical address
 * space, the smallest of current x86 CPUs.
 */
#define LAYOUT_PMEM (LAYOUT_PCI_MMIO64 + LAYOUT_PCI_MMIO64_SIZE) /* 128 GiB */
#define LAYOUT_PMEM_SIZE 0x4000000000ULL /* 256 GiB */

/* Port I/O. */
#define PORT_I8042_DATA 0x60
#define PORT_I8042_CMD 0x64
#define PORT_DEBUG_EXIT 0xf4   /* QEMU isa-debug-exit compatible */
#define PORT_PVPANIC 0x505     /* QEMU's pvpanic port; DSDT device QEMU0001 */
#define PORT_COM1 0x3f8
#define PORT_PM_BASE 0x600      /* ACPI PM1a event (4) + control (2) */
#define PORT_PM1A_EVT PORT_PM_BASE
#define PORT_PM1A_CNT (PORT_PM_BASE + 4)
#define PORT_PM_LEN 6
#define PORT_PCI_CONFIG_ADDR 0xcf8 /* dword only: 0xcf9 is the reset port */
#define PORT_PCI_CONFIG_DATA 0xcfc
#define PORT_RESET 0xcf9        /* FADT RESET_REG */
#define RESET_VALUE 0x06

/* Legacy IRQs (IOAPIC pins). */
#define IRQ_COM1 4
#define IRQ_SCI 9
#define IRQ_I8042_KBD 1

/* SLP_TYP value mvm gives \_S5 in the DSDT: writing it with SLP_EN powers off. */
#define ACPI_S5_SLP_TYP 5

#endif
