/*
 * What a VM is built from: kernel, memory, vCPUs and the devices to create.
 * Apart from struct vm (vm.h) so that the device layer can be handed the
 * parts it builds (disks, NICs) without seeing the VM itself.
 */
#ifndef MVM_VM_CONFIG_H
#define MVM_VM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "mvm/mem.h"

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
#define VM_ID_MAX 64

enum disk_cache {
	DISK_CACHE_WRITEBACK, /* page cache; FLUSH makes writes durable */
	DISK_CACHE_NONE,      /* O_DIRECT */
};

/* A virtio-blk disk (CLI --disk, API PUT /drives/{id}). */
struct disk_config {
	char id[VM_ID_MAX];
	char *path; /* owned */
	bool readonly;
	enum disk_cache cache;
};

/* A virtio-net NIC (CLI --net, API PUT /network-interfaces/{id}). */
struct net_config {
	char id[VM_ID_MAX];
	char tap[16]; /* IFNAMSIZ */
	uint8_t mac[6];
	bool mac_set;      /* false: generated, stable for the id */
	bool mac_spoofing; /* allow frames from other source MACs */
	/*
	 * With tap_given, tap_fd is the tap already attached, which the NIC
	 * borrows (the VMM holds it across reboots: closing the last fd of
	 * a tap mvm created deletes it, and the host's addresses on it).
	 * Without, the NIC attaches to the tap itself.
	 */
	bool tap_given;
	int tap_fd;
};

struct vm_config {
	const char *kernel;
	const char *initrd;  /* NULL: none */
	const char *cmdline; /* never NULL */
	unsigned cpus;
	uint64_t mem_mib;
	enum gm_pages pages; /* what backs guest RAM */
	enum vm_on_reboot on_reboot;
	bool nested;     /* expose VMX/SVM to the guest */
	struct disk_config disks[VM_MAX_DISKS];
	unsigned nr_disks;
	struct net_config nets[VM_MAX_NETS];
	unsigned nr_nets;
	bool rng; /* a virtio-rng device */
	/*
	 * The CMOS (time offset and NVRAM) as the last VM left it: a reboot
	 * keeps it, as a PC's battery does. NULL: power-on state.
	 */
	const struct rtc_cmos *cmos;
	int console_in;  /* fd the UART reads from, -1 for none */
	int console_out; /* fd the UART's output goes to... */
	struct outq *console_q; /* ...through this queue (NULL: nowhere) */
};

#endif
