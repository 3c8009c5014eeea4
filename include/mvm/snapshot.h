/*
 * A snapshot's state file: everything but guest RAM (which is the memory
 * file's, include/mvm/mem_file.h). It is a flattened device tree, so that
 * `dtc -I dtb -O dts FILE` prints it and libfdt checks its structure:
 *
 * / { magic = "mvm-snapshot"; format-version = <1>; mvm-version = "x.y";
 *     snapshot-type = "Full"|"Diff"; created-ns = <u64 CLOCK_REALTIME>;
 *     mem-file = "path as given" (absent: unknown);
 *     machine { vcpu-count; mem-size-mib (u64); huge-pages =
 *               "Transparent"|"None"|"2M"; nested-virt; track-dirty-pages;
 *               entropy; kernel; initrd (absent: none); cmdline;
 *               on-reboot = "exit"|"restart";
 *               drives { NAME { id; path; read-only; cache =
 *                        "Writeback"|"None"; }; ... };
 *               mmds { version = "V1"|"V2"; ipv4-address (host
 *                        order); imds-compat; } (absent: no MMDS; never
 *                        its data store);
 *               network-interfaces { NAME { id; host-dev-name;
 *                        guest-mac = [6 bytes]; mac-set; mac-spoofing;
 *                        mmds (1: serves MMDS; absent: not); }; ... };
 *               memory-hotplug { total-size-mib; slot-size-mib;
 *                        block-size-mib; requested-size-mib; (u64
 *                        each) } (absent: none);
 *               dynamic-memory { min-mib; max-mib; (u64 each)
 *                        buffer-percent; } (absent: off); };
 *     vcpus { cpu@N { state = [vcpu_state_encode blob]; version; }; ... };
 *     devices { NAME { id; version; data = [bytes]; }; ... };
 *     memory { region@N { gpa; size; offset; (u64 each) }; ... }; };
 *
 * Integers are big-endian FDT cells (u32 unless marked u64); flags are
 * u32 0 or 1; N is decimal, from 0. A NAME is the id made fit for a node
 * name (FDT allows [A-Za-z0-9,._+-]: ':' becomes ',', others '_'), made
 * unique with "@index" when two ids come out the same: the real id is
 * the `id` property.
 */
#ifndef MVM_SNAPSHOT_H
#define MVM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mvm/device.h"
#include "mvm/mem.h"
#include "mvm/mem_file.h"
#include "mvm/vm_config.h"

struct mvm_err;

#define SNAP_FORMAT_VERSION 1u

enum snap_type { SNAP_FULL, SNAP_DIFF };

struct snap_file {
	uint32_t format_version;   /* as read; encode writes
				      SNAP_FORMAT_VERSION */
	char mvm_version[32];      /* encode: "" writes this mvm's */
	uint64_t created_ns;
	enum snap_type type;
	char *mem_file;            /* owned; NULL: unknown */
	struct vm_config machine;  /* kernel/initrd/cmdline/disk paths owned
				      (snap_file_free frees them); console_*
				      fields -1/NULL, cmos NULL, mem_source
				      NULL; nets: tap_given false */
	bool track_dirty_pages;
	struct gm_file_region regions[MEM_MAX_REGIONS];
	unsigned nr_regions;
	struct dev_state_list state; /* "vcpu0".. (version
					VCPU_STATE_VERSION) + device nodes
					+ "kvmclock" */
};

/*
 * s into a new FDT (*buf, *len; the caller frees *buf). What is written
 * is read back with snap_file_decode first: mvm never writes a state
 * file it would refuse to load.
 */
int snap_file_encode(const struct snap_file *s, void **buf, size_t *len,
		     struct mvm_err *err);
/*
 * Hostile input: fdt_check_full, magic, version, every property's length,
 * machine values within the VM's limits (VM_MAX_VCPUS...), layout via
 * gm_file_layout_check(.., 0, ..), dev_state_list_check, vCPU nodes
 * 0..vcpu-count-1 present, each vcpu blob decodable (vcpu_state_decode).
 * -EINVAL "snapshot: <what is wrong>". s is filled only on success (on
 * failure it is left empty: nothing to free).
 */
int snap_file_decode(const void *buf, size_t len, struct snap_file *s,
		     struct mvm_err *err);
/* Written to "PATH.tmp", fsync'd, then renamed over path. */
int snap_file_write(const char *path, const struct snap_file *s,
		    struct mvm_err *err);
/* A regular file of at most 1 GiB, decoded; messages name path. */
int snap_file_read(const char *path, struct snap_file *s,
		   struct mvm_err *err);
/* Free what s owns and zero it. Safe on a zeroed s. */
void snap_file_free(struct snap_file *s);
/* A vCPU blob carries a NESTED section. */
bool snap_file_has_nested(const struct snap_file *s);
/*
 * `mvm snapshot inspect`: vCPUs, devices (id, version, bytes), memory
 * regions, nested state present or not, when taken (UTC ISO-8601), type,
 * versions, machine config. Strings from the file are printed with
 * control characters escaped.
 */
void snap_file_print(const struct snap_file *s, FILE *out);

#endif
