/*
 * struct vm_spec: the VM to boot as the VMM keeps it between boots, with
 * owned strings. The API's shapes, the config file and the `run` command
 * line fill it in; spec_to_config() turns it into the vm_config that
 * vm_create() builds from. It belongs to the VMM (src/vmm/spec.c): the
 * front ends depend on it, never the other way round.
 */
#ifndef MVM_SPEC_H
#define MVM_SPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "mvm/mmds.h"
#include "mvm/vm.h"

struct mvm_err;

/* A VM nobody sized: Firecracker's defaults, which are also `mvm run`'s. */
#define MVM_DEFAULT_CPUS 1
#define MVM_DEFAULT_MEM_MIB 128

enum api_log_level {
	API_LOG_OFF,
	API_LOG_ERROR,
	API_LOG_WARNING,
	API_LOG_INFO,
	API_LOG_DEBUG,
	API_LOG_TRACE,
};

/* A device rate limiter as the API gave it (absent buckets unset). */
struct spec_limiter {
	bool set;
	bool bandwidth_set;
	bool ops_set;
	struct rate_limiter rl;
};

struct spec_drive {
	char id[VM_ID_MAX];
	char *path_on_host;
	bool is_root_device;
	bool is_read_only;
	char *partuuid;        /* NULL: none */
	bool cache_writeback;  /* "Writeback"; false: "Unsafe" */
	bool direct;           /* O_DIRECT (the CLI's cache=none) */
	bool io_engine_async;  /* "Async"; false: "Sync" */
	struct spec_limiter rate_limiter;
};

struct spec_net {
	char id[VM_ID_MAX];
	char host_dev_name[16]; /* IFNAMSIZ */
	uint8_t guest_mac[6];
	bool guest_mac_set;
	bool mac_spoofing;      /* mvm extension */
	/* mvm extensions: "backend": "user" (NAT, no tap) and its rules. */
	bool user;
	unsigned nr_hostfwd;
	struct slirp_net_hostfwd hostfwd[SLIRP_NET_HOSTFWD_MAX];
	unsigned mtu; /* "mtu", with "backend": "user" only; 0: default */
	struct spec_limiter rx_rate_limiter;
	struct spec_limiter tx_rate_limiter;
};

/* A virtio-pmem device (PUT /pmem/{id}, Firecracker's Pmem). */
struct spec_pmem {
	char id[VM_ID_MAX];
	char *path_on_host;
	bool root_device;
	bool read_only;
};

/* PUT /mmds/config (Firecracker's MmdsConfig). */
struct spec_mmds {
	bool set;
	enum mmds_version version;
	char ifaces[VM_MAX_NETS][VM_ID_MAX]; /* the NICs that serve it */
	unsigned nr_ifaces;
	uint32_t ipv4;          /* host order */
	bool imds_compat;
};

/*
 * Everything a boot is built from, as the API, the config file or the `run`
 * command line set it. Owns its strings; spec_to_config() lends them.
 */
struct vm_spec {
	bool boot_source_set;
	char *kernel_image_path;
	char *initrd_path;      /* NULL: none */
	char *boot_args;        /* NULL: none */

	unsigned vcpu_count;
	uint64_t mem_size_mib;
	enum gm_pages huge_pages;
	bool smt;               /* two threads a core */
	/* machine-config's cpu_template; PUT /cpu-config's, which wins. */
	enum cpu_static_template cpu_template;
	bool cpu_custom_set;
	struct cpu_template cpu_custom;
	bool nested_virt;       /* mvm extension: VMX/SVM for the guest */
	bool track_dirty_pages; /* for Diff snapshots */

	struct spec_drive drives[VM_MAX_DISKS];
	unsigned nr_drives;
	struct spec_net nets[VM_MAX_NETS];
	unsigned nr_nets;
	struct spec_pmem pmems[VM_MAX_PMEMS]; /* in order: /dev/pmem0, ... */
	unsigned nr_pmems;

	bool logger_set;
	char *log_path;
	enum api_log_level log_level;
	bool log_show_level;
	bool log_show_origin;
	char *log_module;       /* NULL: every module */

	bool metrics_set;
	char *metrics_path;

	bool entropy_set;       /* a virtio-rng device */
	struct spec_limiter entropy_rate_limiter;
	/* PUT /balloon (enabled), its target and period as changed since. */
	struct balloon_config balloon;

	/* PUT /vsock (its uds_path owned); guest_cid 0: none. */
	struct vsock_config vsock;

	/* PUT /hotplug/memory (virtio-mem); total_mib 0: none. */
	struct mem_hotplug_config mem_hotplug;

	/* PUT /dynamic-memory, PATCH'd since (mvm's, after Hyper-V's). */
	struct dynmem_config dynmem;

	bool serial_set;
	char *serial_out_path;  /* NULL: the console */

	struct spec_mmds mmds;

	/* Not settable through the API: from `mvm run`'s command line. */
	enum vm_on_reboot on_reboot;
	int console_in;
	int console_out;

	char *cmdline;          /* built by spec_to_config() */
};

void spec_init(struct vm_spec *s);
void spec_free(struct vm_spec *s);
/* A machine's MMDS configuration (its NICs that serve it) as PUT
 * /mmds/config would have set it; unset when the machine has none. */
void spec_mmds_from_config(struct spec_mmds *s, const struct vm_config *cfg);
/* The spec of a `run` command line (strings and disks are copied). */
int spec_from_config(struct vm_spec *s, const struct vm_config *cfg,
		     struct mvm_err *err);
/*
 * Move the machine of from (boot source, machine-config, drives, NICs,
 * entropy, balloon, vsock, memory-hotplug, dynamic memory) into s, keeping s's
 * logger, metrics and serial settings: a loaded snapshot's configuration.
 * from keeps nothing of it.
 */
void spec_take_machine(struct vm_spec *s, struct vm_spec *from);
/*
 * The vm_config to boot s: the root drive first and, unless boot_args
 * names one, root= for it (or for the root pmem, /dev/pmemN) on the
 * command line, as Firecracker does.
 * Pointers in *cfg stay owned by s. out_fd is the UART's output.
 */
int spec_to_config(struct vm_spec *s, struct vm_config *cfg, int out_fd,
		   struct mvm_err *err);

#endif
