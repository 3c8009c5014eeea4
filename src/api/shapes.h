/* Helpers shared by the shape parsers (src/api/shapes_*.c). */
#ifndef MVM_API_SHAPES_H
#define MVM_API_SHAPES_H

#include <stdbool.h>
#include <stdint.h>

#include "mvm/api.h"

struct jr;

/*
 * The file at path (the value of field key) can be opened as asked and is
 * a regular file (or a block device, for drives). Skipped in a dry run.
 */
int shape_check_file(struct jr *r, const char *key, const char *path,
		     bool want_write, bool allow_blockdev,
		     const struct shape_opts *opt);

/* Firecracker's RateLimiter object under key, into *l (1 if present). */
int shape_limiter(struct jr *r, const char *key, struct spec_limiter *l);

/* Drive and interface ids: 1-63 characters of [A-Za-z0-9_-]. */
int shape_check_id(struct jr *r, const char *key, const char *id);

/* "AA:BB:CC:DD:EE:FF" into mac; false if malformed. */
bool shape_parse_mac(const char *s, unsigned char mac[6]);

struct json_object;
struct mvm_err;
struct vmm_snapshot_create;
struct vmm_snapshot_load;

/* PUT /snapshot/create and /snapshot/load (shapes_snapshot.c). */
int shape_snapshot_create(struct json_object *o,
			  struct vmm_snapshot_create *rq, struct mvm_err *err);
int shape_snapshot_load(struct json_object *o, struct vmm_snapshot_load *rq,
			struct mvm_err *err);

/*
 * PUT /hotplug/memory (and the config file's "memory-hotplug", at path):
 * MemoryHotplugConfig into *c, slot and block sizes defaulting to 128 and
 * 2 MiB, requested 0. PATCH: MemoryHotplugSizeUpdate (shapes_hotplug.c).
 */
struct mem_hotplug_config;
int shape_hotplug(struct json_object *o, const char *path,
		  struct mem_hotplug_config *c, struct mvm_err *err);
int shape_hotplug_patch(struct json_object *o, uint64_t *requested_mib,
			struct mvm_err *err);

/* network_overrides[] (snapshot load, incoming migration): 0 or -errno. */
struct jr;
struct vmm_net_override;
int shape_net_overrides(struct jr *r, struct vmm_net_override *out,
			unsigned *nr);

struct vmm_migrate_out;
struct vmm_migrate_in;
/* PUT /migration and PUT /migration/incoming (shapes_migration.c). */
int shape_migrate_out(struct json_object *o, struct vmm_migrate_out *rq,
		      struct mvm_err *err);
int shape_migrate_in(struct json_object *o, struct vmm_migrate_in *rq,
		     struct mvm_err *err);

/* PUT /checkpoints/config: *dir borrowed from o (shapes_checkpoint.c). */
int shape_checkpoint_config(struct json_object *o, const char **dir,
			    struct mvm_err *err);

/*
 * PUT /mmds/config (and the config file's "mmds-config", at path) into
 * *out, its NICs checked against s's (shapes_mmds.c); and the section
 * GET /vm/config shows for it.
 */
struct spec_mmds;
struct vm_spec;
int shape_mmds_config(const struct vm_spec *s, struct json_object *o,
		      const char *path, struct spec_mmds *out,
		      struct mvm_err *err);
struct json_object *mmds_config_export(const struct spec_mmds *c);

#endif
