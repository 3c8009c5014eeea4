/* Endpoint handlers, called by the router with the body already parsed. */
#ifndef MVM_API_HANDLERS_H
#define MVM_API_HANDLERS_H

#include "mvm/api.h"

struct vmm;
struct mvm_err;

struct api_request {
	const char *id;           /* the {id} path segment, or NULL */
	struct json_object *body; /* parsed JSON, or NULL for no body */
};

/*
 * Returns the HTTP status: 204, 200 with r->body set, or 4xx/5xx with the
 * reason in err (the router turns it into {"fault_message": ...}).
 */
typedef int (*api_handler)(struct vmm *v, const struct api_request *q,
			   struct api_response *r, struct mvm_err *err);

int h_get_instance(struct vmm *v, const struct api_request *q,
		   struct api_response *r, struct mvm_err *err);
int h_get_version(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err);
int h_get_vm_config(struct vmm *v, const struct api_request *q,
		    struct api_response *r, struct mvm_err *err);
int h_get_machine(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err);
int h_put_machine(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err);
int h_patch_machine(struct vmm *v, const struct api_request *q,
		    struct api_response *r, struct mvm_err *err);
int h_put_boot_source(struct vmm *v, const struct api_request *q,
		      struct api_response *r, struct mvm_err *err);
int h_put_vsock(struct vmm *v, const struct api_request *q,
		struct api_response *r, struct mvm_err *err);
int h_put_pmem(struct vmm *v, const struct api_request *q,
	       struct api_response *r, struct mvm_err *err);
int h_patch_pmem(struct vmm *v, const struct api_request *q,
		 struct api_response *r, struct mvm_err *err);
int h_put_drive(struct vmm *v, const struct api_request *q,
		struct api_response *r, struct mvm_err *err);
int h_patch_drive(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err);
int h_put_net(struct vmm *v, const struct api_request *q,
	      struct api_response *r, struct mvm_err *err);
int h_patch_net(struct vmm *v, const struct api_request *q,
		struct api_response *r, struct mvm_err *err);
int h_patch_vm(struct vmm *v, const struct api_request *q,
	       struct api_response *r, struct mvm_err *err);
int h_put_actions(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err);
int h_put_logger(struct vmm *v, const struct api_request *q,
		 struct api_response *r, struct mvm_err *err);
int h_put_metrics(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err);
int h_put_cpu_config(struct vmm *v, const struct api_request *q,
		     struct api_response *r, struct mvm_err *err);
int h_put_entropy(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err);
int h_put_serial(struct vmm *v, const struct api_request *q,
		 struct api_response *r, struct mvm_err *err);
int h_get_policy(struct vmm *v, const struct api_request *q,
		 struct api_response *r, struct mvm_err *err);
int h_get_nested(struct vmm *v, const struct api_request *q,
		 struct api_response *r, struct mvm_err *err);
int h_put_snapshot_create(struct vmm *v, const struct api_request *q,
			  struct api_response *r, struct mvm_err *err);
int h_put_snapshot_load(struct vmm *v, const struct api_request *q,
			struct api_response *r, struct mvm_err *err);
int h_put_checkpoints_config(struct vmm *v, const struct api_request *q,
			     struct api_response *r, struct mvm_err *err);
int h_get_checkpoints(struct vmm *v, const struct api_request *q,
		      struct api_response *r, struct mvm_err *err);
int h_put_checkpoint(struct vmm *v, const struct api_request *q,
		     struct api_response *r, struct mvm_err *err);
int h_delete_checkpoint(struct vmm *v, const struct api_request *q,
			struct api_response *r, struct mvm_err *err);
int h_put_checkpoint_apply(struct vmm *v, const struct api_request *q,
			   struct api_response *r, struct mvm_err *err);
int h_put_balloon(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err);
int h_get_balloon(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err);
int h_patch_balloon(struct vmm *v, const struct api_request *q,
		    struct api_response *r, struct mvm_err *err);
int h_get_balloon_stats(struct vmm *v, const struct api_request *q,
			struct api_response *r, struct mvm_err *err);
int h_patch_balloon_stats(struct vmm *v, const struct api_request *q,
			  struct api_response *r, struct mvm_err *err);
int h_patch_balloon_hint_start(struct vmm *v, const struct api_request *q,
			       struct api_response *r, struct mvm_err *err);
int h_get_balloon_hint_status(struct vmm *v, const struct api_request *q,
			      struct api_response *r, struct mvm_err *err);
int h_patch_balloon_hint_stop(struct vmm *v, const struct api_request *q,
			      struct api_response *r, struct mvm_err *err);
int h_put_hotplug(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err);
int h_patch_hotplug(struct vmm *v, const struct api_request *q,
		    struct api_response *r, struct mvm_err *err);
int h_get_hotplug(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err);
int h_put_dynmem(struct vmm *v, const struct api_request *q,
		 struct api_response *r, struct mvm_err *err);
int h_patch_dynmem(struct vmm *v, const struct api_request *q,
		   struct api_response *r, struct mvm_err *err);
int h_get_dynmem(struct vmm *v, const struct api_request *q,
		 struct api_response *r, struct mvm_err *err);
int h_put_mmds(struct vmm *v, const struct api_request *q,
	       struct api_response *r, struct mvm_err *err);
int h_patch_mmds(struct vmm *v, const struct api_request *q,
		 struct api_response *r, struct mvm_err *err);
int h_get_mmds(struct vmm *v, const struct api_request *q,
	       struct api_response *r, struct mvm_err *err);
int h_put_mmds_config(struct vmm *v, const struct api_request *q,
		      struct api_response *r, struct mvm_err *err);
/* 204, 409 (-EPERM, the policy), 500 (host trouble), or 400. */
int api_status_of(int ret, const struct mvm_err *err);

/* Firecracker's wording for calls made in the wrong phase. */
#define API_MSG_AFTER_BOOT \
	"The requested operation is not supported after starting the microVM."
#define API_MSG_BEFORE_BOOT \
	"The requested operation is not supported before starting the microVM."

/* handlers_migration.c */
int h_put_migration(struct vmm *v, const struct api_request *q,
		    struct api_response *r, struct mvm_err *err);
int h_put_migration_incoming(struct vmm *v, const struct api_request *q,
			     struct api_response *r, struct mvm_err *err);
int h_get_migration(struct vmm *v, const struct api_request *q,
		    struct api_response *r, struct mvm_err *err);
int h_delete_migration(struct vmm *v, const struct api_request *q,
		       struct api_response *r, struct mvm_err *err);

#endif
