/*
 * The snapshot layer's own helpers (not an interface of mvm): the names
 * of the state file's nodes, and checked readers of its properties. The
 * readers treat the FDT as hostile, after fdt_check_full: every length
 * is checked against what the property holds, every string must end in
 * its one NUL. Their messages name the node ("machine/drives/rootfs")
 * and the property; snap_file_decode prefixes "snapshot: ".
 */
#ifndef MVM_SNAPSHOT_STATE_FDT_H
#define MVM_SNAPSHOT_STATE_FDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mvm_err;
struct snap_file;

#define SNAP_MAGIC "mvm-snapshot"
/* The largest state file written or read. */
#define SNAP_FILE_MAX (1u << 30)
/* Paths in a state file: generous, but bounded. */
#define SNAP_PATH_MAX 4096
/* A node's path in messages, its name from the file made printable. */
#define SNAP_WHERE_MAX 160

/* Enum names, NULL-terminated, in enum order. */
extern const char *const snap_type_names[];
extern const char *const snap_on_reboot_names[];
extern const char *const snap_cache_names[];

/* "vcpu7" (canonical: no sign, no leading zero) -> 7. */
bool snap_vcpu_id(const char *id, unsigned *n);
/*
 * out = id made fit for a node name: ':' becomes ',', characters FDT
 * does not allow '_'. out has room for DEV_ID_MAX + 16.
 */
void snap_node_name(const char *id, char *out, size_t size);
/* where = parent "/" name, with the (hostile) name made printable. */
void snap_where(char *where, const char *parent, const char *name,
		int len);

int snap_rd_u32(const void *fdt, int node, const char *where,
		const char *name, uint32_t *out, struct mvm_err *err);
int snap_rd_u64(const void *fdt, int node, const char *where,
		const char *name, uint64_t *out, struct mvm_err *err);
/* A u32 that must be 0 or 1. */
int snap_rd_flag(const void *fdt, int node, const char *where,
		 const char *name, bool *out, struct mvm_err *err);
/*
 * A string of at most max - 1 characters (max counts the NUL), pointing
 * into the FDT. Absent: -EINVAL with a message when required, else 0
 * and *out NULL.
 */
int snap_rd_str(const void *fdt, int node, const char *where,
		const char *name, size_t max, bool required,
		const char **out, struct mvm_err *err);
/* The same, required and not empty: an id, a path. */
int snap_rd_name(const void *fdt, int node, const char *where,
		 const char *name, size_t max, const char **out,
		 struct mvm_err *err);
/* A string that must be one of names (NULL-terminated): its index. */
int snap_rd_choice(const void *fdt, int node, const char *where,
		   const char *name, const char *const *names,
		   unsigned *out, struct mvm_err *err);
/* Bytes, 0 to max of them (*out NULL when none). */
int snap_rd_bytes(const void *fdt, int node, const char *where,
		  const char *name, size_t max, const void **out,
		  size_t *len, struct mvm_err *err);
/* A child node that must be there. */
int snap_rd_node(const void *fdt, int parent, const char *where,
		 const char *name, int *out, struct mvm_err *err);

/*
 * The VM's CPU template, into the machine node being written (libfdt's
 * sequential writer; 0 or -FDT_ERR_*) and out of it (state_cpu_template.c).
 */
struct vm_config;
int snap_encode_cpu_template(void *fdt, const struct vm_config *m);
int snap_decode_cpu_template(const void *fdt, int node, struct vm_config *m,
			     struct mvm_err *err);

/* The machine node into s (state_decode_machine.c). */
int snap_decode_machine(const void *fdt, int node, struct snap_file *s,
			struct mvm_err *err);

/*
 * Walk the structure block of a tree whose header check_header passed,
 * tag by tag, before any libfdt call (state_prescan.c: libfdt 1.6.1 loops
 * on a negative property length). -EINVAL naming what is wrong.
 */
int snap_fdt_prescan(const void *fdt, size_t len, struct mvm_err *err);

#endif
