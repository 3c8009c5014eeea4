/*
 * The balloon as the front ends ask for it (the API's /balloon paths,
 * Firecracker's): before boot the spec's configuration (which the shapes
 * fill in: PUT /balloon, the config file, --balloon), after it the running
 * device (include/mvm/balloon.h), whose changes the spec follows so that
 * GET /vm/config and a snapshot tell the balloon as it is. Each returns
 * -ENOENT (with a message) when no balloon is configured.
 */
#ifndef MVM_VMM_BALLOON_H
#define MVM_VMM_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include "mvm/balloon.h"

struct mvm_err;
struct vmm;

/* GET /balloon and /balloon/statistics: the device's view, or the spec's. */
int vmm_balloon_get(struct vmm *v, struct balloon_info *out,
		    struct mvm_err *err);
/*
 * PATCH /balloon: a new target, at most the VM's RAM. A change is the
 * policy's memory_resize (-EPERM with the rule's reason: 409).
 */
int vmm_balloon_patch(struct vmm *v, uint32_t amount_mib,
		      struct mvm_err *err);
/*
 * PATCH /balloon/statistics: a new period, Firecracker's rule: statistics
 * configured off stay off, on stay on (-EINVAL).
 */
int vmm_balloon_stats_patch(struct vmm *v, uint16_t interval_s,
			    struct mvm_err *err);
/* The hinting endpoints; -EINVAL when hinting was not configured. */
int vmm_balloon_hint_start(struct vmm *v, bool ack_on_stop,
			   struct mvm_err *err);
int vmm_balloon_hint_stop(struct vmm *v, struct mvm_err *err);

#endif
