/*
 * What the virtio devices are built from (the devices layer's part of a
 * VM's configuration): disks, NICs, the entropy device, the balloon and
 * virtio-mem. Plain data; include/mvm/vm_config.h holds them in struct
 * vm_config, and the VM hands the devices these parts alone
 * (virtio_create_devices).
 */
#ifndef MVM_DEV_CONFIG_H
#define MVM_DEV_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "mvm/rate_limiter.h"
#include "mvm/slirp_net.h"

/*
 * The user backend's default MTU, QEMU's. Larger ones are offered on
 * request (mtu=): in the lab (bench/nat) a 65520 link made a Linux
 * guest's downloads slower and far more erratic than 1500, likely
 * because its receive window then holds about one segment at a time.
 */
#define NET_USER_MTU_DEFAULT 1500

/* The longest disk or NIC id, its NUL included. */
#define DEV_CONFIG_ID_MAX 64

enum disk_cache {
	DISK_CACHE_WRITEBACK, /* page cache; FLUSH makes writes durable */
	DISK_CACHE_NONE,      /* O_DIRECT */
};

/* A virtio-blk disk (CLI --disk, API PUT /drives/{id}). */
struct disk_config {
	char id[DEV_CONFIG_ID_MAX];
	char *path; /* owned */
	bool readonly;
	enum disk_cache cache;
	/*
	 * Opened without its lock: a migration's destination builds the VM
	 * while the source still holds it (virtio_blk_handover takes it).
	 */
	bool unlocked;
	struct rate_limiter rl; /* requests of every queue; sizes 0: none */
};

/* A virtio-net NIC (CLI --net, API PUT /network-interfaces/{id}). */
struct mmds;

struct net_config {
	char id[DEV_CONFIG_ID_MAX];
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
	/* The user-mode NAT backend (libslirp) instead of a tap (tap ""). */
	bool user;
	unsigned nr_hostfwd;
	struct slirp_net_hostfwd hostfwd[SLIRP_NET_HOSTFWD_MAX];
	/* The user backend's IP MTU, offered to the guest; 0: its default. */
	unsigned mtu;
	struct rate_limiter rx_rl; /* frames to the guest; sizes 0: none */
	struct rate_limiter tx_rl; /* frames from the guest */
	/*
	 * MMDS on this NIC: the VMM's store (lent, it outlives the NIC) and
	 * its address, host order; NULL: frames all go to the backend. A
	 * snapshot's NIC comes back with the address alone (0: no MMDS), the
	 * restoring VMM lends its store.
	 */
	struct mmds *mmds;
	uint32_t mmds_ipv4;
};

/*
 * A virtio-balloon (CLI --balloon, API PUT /balloon), Firecracker's
 * Balloon: the target at boot and the features the driver is offered.
 */
struct balloon_config {
	bool enabled;
	uint32_t amount_mib;       /* the target, in MiB of the guest's RAM */
	bool deflate_on_oom;       /* VIRTIO_BALLOON_F_DEFLATE_ON_OOM */
	uint16_t stats_interval_s; /* the statsq's period; 0: no statsq */
	bool free_page_hinting;    /* VIRTIO_BALLOON_F_FREE_PAGE_HINT */
	bool free_page_reporting;  /* VIRTIO_BALLOON_F_PAGE_REPORTING */
};

/*
 * Hotpluggable memory, a virtio-mem device (API PUT /hotplug/memory,
 * CLI --memory-hotplug), in Firecracker's units. total_mib 0: none. The
 * VM layer checks the sizes (vm_hotplug_problem) and places the region.
 */
struct mem_hotplug_config {
	uint64_t total_mib;     /* the region: a multiple of slot_mib */
	uint64_t slot_mib;      /* KVM memory slots: >= 128, of blocks */
	uint64_t block_mib;     /* what the guest (un)plugs: 2^n >= 2 */
	uint64_t requested_mib; /* asked of the guest from the start */
};

#define MEM_HOTPLUG_DEFAULT_SLOT_MIB 128
#define MEM_HOTPLUG_DEFAULT_BLOCK_MIB 2

/*
 * A virtio-pmem device (API PUT /pmem/{id}, CLI --pmem): a host file
 * mapped into guest physical memory, read-only if readonly (a read-only
 * KVM slot: the guest's writes do not reach the file). root: the VMM
 * puts root=/dev/pmemN on the command line (the devices ignore it).
 */
struct pmem_config {
	char id[DEV_CONFIG_ID_MAX];
	char *path; /* owned */
	bool readonly;
	bool root;
};

/*
 * A virtio-vsock device (API PUT /vsock, CLI --vsock), Firecracker's
 * hybrid vsock: the guest's CID and the host's Unix socket. A host
 * process connects to uds_path and asks for a guest port ("CONNECT
 * <port>\n"); a guest connection to the host's port P reaches
 * "<uds_path>_P". guest_cid 0: no device.
 */
struct vsock_config {
	char id[DEV_CONFIG_ID_MAX]; /* vsock_id, deprecated; "vsock" if none */
	uint32_t guest_cid;         /* >= 3 */
	char *uds_path;             /* owned */
};

/* Every virtio device of a VM, for virtio_create_devices(). */
struct virtio_devs_config {
	bool rng; /* a virtio-rng device */
	struct rate_limiter rng_rl; /* its requests (bytes each filled) */
	const struct balloon_config *balloon; /* NULL or !enabled: none */
	const struct disk_config *disks;
	unsigned nr_disks;
	unsigned cpus; /* the VM's vCPUs: one queue each per disk */
	const struct net_config *nets;
	unsigned nr_nets;
	/* virtio-mem, its region already in guest memory at mem_hotplug_gpa */
	const struct mem_hotplug_config *mem_hotplug;
	uint64_t mem_hotplug_gpa;
	/*
	 * virtio-pmem devices, placed one after the other from
	 * LAYOUT_PMEM, each in a KVM memory slot of its own from pmem_slot.
	 */
	const struct pmem_config *pmems;
	unsigned nr_pmems;
	uint32_t pmem_slot;
	const struct vsock_config *vsock; /* NULL or guest_cid 0: none */
};

#endif
