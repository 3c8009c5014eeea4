/*
 * What a VM is built from: kernel, memory, vCPUs and the devices to create.
 * Apart from struct vm (vm.h); the parts the devices are built from
 * (disks, NICs) are the devices layer's, in mvm/dev_config.h.
 */
#ifndef MVM_VM_CONFIG_H
#define MVM_VM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "mvm/cpu_template.h"
#include "mvm/dev_config.h"
#include "mvm/mem.h"
#include "mvm/mem_file.h"

struct gm_file_region;
struct rtc_cmos;
struct outq;

enum vm_on_reboot {
	VM_ON_REBOOT_EXIT,
	VM_ON_REBOOT_RESTART,
};

/*
 * mvm's MADT uses xAPIC entries: APIC IDs 0..254, 255 is broadcast. The
 * one vCPU limit of the CLI, the API and the VM (a host whose KVM allows
 * fewer says so when the VM is built).
 */
#define VM_MAX_VCPUS 254
#define VM_MAX_DISKS 16
#define VM_MAX_NETS 8
#define VM_MAX_PMEMS 8
#define VM_ID_MAX DEV_CONFIG_ID_MAX

/*
 * Where guest RAM comes from: fresh, a snapshot's memory file, or RAM a
 * live migration has filled already (VM_MEM_ADOPT).
 */
enum vm_mem_backend { VM_MEM_ANON, VM_MEM_FILE, VM_MEM_UFFD, VM_MEM_ADOPT };

struct vm_mem_source {
	enum vm_mem_backend backend;
	const char *path; /* the memory file, or the handler's socket */
	const struct gm_file_region *regions; /* the snapshot's layout */
	unsigned nr;
	struct guest_mem *gm; /* VM_MEM_ADOPT: taken over (left zeroed) */
};

/*
 * Dynamic memory (mvm's, after Hyper-V's; API PUT /dynamic-memory, CLI
 * --dynamic-memory): the VMM's controller keeps the guest's memory at what
 * it uses plus buffer_percent, between min_mib and max_mib, with the
 * balloon below the boot memory and virtio-mem above it. The VM only
 * carries it (a snapshot keeps it); its rules are vm_dynmem_problem's.
 */
struct dynmem_config {
	bool enabled;
	uint64_t min_mib;
	uint64_t max_mib;
	uint32_t buffer_percent;
};

/* Hyper-V's: a buffer of 5 to 2000 percent, 20 unless told; 32 MiB least. */
#define DYNMEM_BUFFER_MIN 5
#define DYNMEM_BUFFER_MAX 2000
#define DYNMEM_BUFFER_DEFAULT 20
#define DYNMEM_MIN_FLOOR_MIB 32

struct vm_config {
	const char *kernel;
	const char *initrd;  /* NULL: none */
	const char *cmdline; /* never NULL */
	unsigned cpus;
	uint64_t mem_mib;
	enum gm_pages pages; /* what backs guest RAM */
	enum vm_on_reboot on_reboot;
	bool nested;     /* expose VMX/SVM to the guest */
	bool smt;        /* two threads a core in CPUID (Firecracker's smt) */
	/*
	 * A CPU template: Firecracker's static one by name (its vendor is
	 * checked at vm_create), or a custom one (PUT /cpu-config), which
	 * wins when set. Both are kept so that a snapshot says what it was.
	 */
	enum cpu_static_template cpu_template;
	bool cpu_custom_set;
	struct cpu_template cpu_custom;
	struct disk_config disks[VM_MAX_DISKS];
	unsigned nr_disks;
	struct net_config nets[VM_MAX_NETS];
	unsigned nr_nets;
	struct pmem_config pmems[VM_MAX_PMEMS]; /* virtio-pmem devices */
	unsigned nr_pmems;
	struct vsock_config vsock; /* a virtio-vsock; guest_cid 0: none */
	bool rng; /* a virtio-rng device */
	struct rate_limiter rng_rl; /* its limiter; sizes 0: none */
	struct balloon_config balloon; /* a virtio-balloon, if enabled */
	struct mem_hotplug_config mem_hotplug; /* virtio-mem; total 0: none */
	struct dynmem_config dynmem; /* the VMM's controller, if enabled */
	/*
	 * The CMOS (time offset and NVRAM) as the last VM left it: a reboot
	 * keeps it, as a PC's battery does. NULL: power-on state.
	 */
	const struct rtc_cmos *cmos;
	int console_in;  /* fd the UART reads from, -1 for none */
	int console_out; /* fd the UART's output goes to... */
	struct outq *console_q; /* ...through this queue (NULL: nowhere) */
	const struct vm_mem_source *mem_source; /* NULL: fresh anonymous RAM
						   (a boot) */
	bool track_dirty_pages; /* vm_create calls vm_dirty_start */
};

#endif
