/*
 * The VMM's MMDS actions, for the API, config files and the command line
 * (src/vmm/mmds.c). The store is the VMM's; the front ends only ask.
 * Errors carry Firecracker's words: -EFBIG (the API answers 413) when the
 * store would pass its limit, -ENODATA when a booted VM has no MMDS,
 * -EINVAL for a bad configuration.
 */
#ifndef MVM_VMM_MMDS_H
#define MVM_VMM_MMDS_H

#include <stddef.h>

struct vmm;
struct mvm_err;
struct json_object;
struct spec_mmds;
struct vm_spec;

/* PUT /mmds: replace the contents with a copy of value (borrowed). */
int vmm_mmds_put(struct vmm *v, struct json_object *value,
		 struct mvm_err *err);
/* PATCH /mmds: an RFC 7396 merge patch (borrowed). */
int vmm_mmds_patch(struct vmm *v, struct json_object *patch,
		   struct mvm_err *err);
/* GET /mmds: the contents as a new reference ({} when empty). */
int vmm_mmds_get(struct vmm *v, struct json_object **out,
		 struct mvm_err *err);
/*
 * PUT /mmds/config, pre-boot: the NICs must exist; the address must be
 * link-local. Records cfg in the spec and sets the store's version.
 */
int vmm_mmds_config(struct vmm *v, const struct spec_mmds *cfg,
		    struct mvm_err *err);
/* --mmds-size-limit (or the API's payload limit when it is not given). */
void vmm_mmds_set_limit(struct vmm *v, size_t limit);
/*
 * The checks of a configuration against the spec's NICs, shared with
 * config files (whose NICs come first): Firecracker's messages.
 */
int vmm_mmds_check(const struct vm_spec *s, const struct spec_mmds *cfg,
		   struct mvm_err *err);

#endif
