/*
 * Live migration, as the VMM runs it (src/vmm/migration_*.c): the API's
 * PUT /migration (the source), PUT /migration/incoming and the CLI's
 * --incoming (the destination), GET and DELETE /migration. Both sides run
 * on the VMM's loop; the stream's format is the migration layer's
 * (include/mvm/migration.h).
 *
 * Source: pre-copy passes over KVM's dirty log while the guest runs, until
 * the pages left would go within max_downtime_ms at the bandwidth
 * measured and another pass would not halve them (mig_switchover); then
 * the VM pauses, the policy is asked again, the last pages
 * and the state go, the disks are flushed and unlocked, and once the
 * destination runs the guest the source's mvm exits 0. On any failure
 * before that the source takes its disks back and its guest runs on.
 */
#ifndef MVM_VMM_MIGRATION_H
#define MVM_VMM_MIGRATION_H

#include <stdbool.h>
#include <stdint.h>

#include "mvm/vmm_snapshot.h"

struct mvm_err;
struct vmm;

#define MIG_URI_MAX 256
#define MIG_DEFAULT_DOWNTIME_MS 300u

enum mig_status {
	MIG_STATUS_NONE,
	MIG_STATUS_SETUP,     /* connecting, listening, handshake */
	MIG_STATUS_ACTIVE,    /* pages and state on the way */
	MIG_STATUS_COMPLETED,
	MIG_STATUS_FAILED,
	MIG_STATUS_CANCELLED,
};

/* "none", "setup", ... as GET /migration says them. */
const char *mig_status_name(enum mig_status s);

/* Where to connect to, or listen on: "unix:PATH" or "tcp:HOST:PORT". */
struct mig_uri {
	bool tcp;
	char path[108];  /* unix: sun_path */
	char host[128];  /* tcp: a name or an address ([v6] in brackets) */
	char port[8];
};

/* Checked fully, so that the API can answer 400 naming it. */
int mig_uri_parse(const char *uri, struct mig_uri *out, struct mvm_err *err);

struct vmm_migrate_out {
	char uri[MIG_URI_MAX];
	uint64_t max_downtime_ms;    /* MIG_DEFAULT_DOWNTIME_MS */
	uint64_t max_bandwidth_mbps; /* 10^6 bit/s; 0: unlimited */
	/* Carry a hosting guest's nested state (both hosts must can). */
	bool allow_nested_state;
};

struct vmm_migrate_in {
	char uri[MIG_URI_MAX];
	struct vmm_net_override overrides[VM_MAX_NETS];
	unsigned nr_overrides;
};

/*
 * Where the downtime went, span after span (GET /migration's
 * "downtime_parts_us"): each side names its own, in the order they came.
 * The destination's first spans, from the source's pause, are on the
 * realtime clock (the two hosts' clocks may differ by their skew).
 */
#define MIG_PARTS_MAX 12
struct mig_downtime_part {
	const char *name; /* a string literal */
	uint64_t us;
};

/* GET /migration. */
struct vmm_migration_info {
	enum mig_status status;
	bool incoming;
	uint32_t iterations;        /* pre-copy passes, the last one's too */
	uint64_t transferred_bytes; /* on the wire, both ways */
	uint64_t remaining_bytes;   /* dirty, not sent yet (source) */
	uint64_t dirty_rate_mbps;   /* as measured over the last pass */
	uint64_t downtime_ms;       /* pause to the destination's resume */
	uint64_t total_ms;          /* request to completion */
	struct mig_downtime_part parts[MIG_PARTS_MAX];
	unsigned nr_parts;
	char error[512];
};

/*
 * Start migrating the running (or paused) VM: the policy is asked now,
 * and the connection is made on the loop. 0 (the API's 204) once it has
 * begun; -EINVAL for no VM or a bad request, -EPERM (409) for a refusal,
 * -EBUSY while one runs.
 */
int vmm_migrate_out(struct vmm *v, const struct vmm_migrate_out *rq,
		    struct mvm_err *err);
/*
 * Wait for an incoming migration on rq->uri: listening when this
 * returns, in the Migrating in state. Into an mvm with nothing
 * configured (as a snapshot load).
 */
int vmm_migrate_in(struct vmm *v, const struct vmm_migrate_in *rq,
		   struct mvm_err *err);
/*
 * DELETE /migration: an outgoing migration stops and its guest runs on;
 * an incoming one discards what it received. -EINVAL when none runs.
 */
int vmm_migrate_cancel(struct vmm *v, struct mvm_err *err);
void vmm_migration_info(struct vmm *v, struct vmm_migration_info *out);
/* Free what a migration left (vmm_fini). */
void vmm_migration_fini(struct vmm *v);

#endif
