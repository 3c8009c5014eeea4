/* What the checkpoint files of src/vmm share: paths and the directory. */
#ifndef MVM_VMM_CHECKPOINT_PRIV_H
#define MVM_VMM_CHECKPOINT_PRIV_H

#include <limits.h>
#include <stddef.h>

#include "mvm/vmm_checkpoint.h"

struct mvm_err;
struct vmm;

/* Room left in a path after the directory's own (vmm_checkpoint_config). */
#define CKPT_PATH_ROOM 256

/* A checkpoint's directory's files (mvm/vmm_checkpoint.h). */
#define CKPT_STATE "state"
#define CKPT_MEMORY "memory"
#define CKPT_DISKS "disks"

/*
 * The directory is set and name is a checkpoint name; 0 or -EINVAL
 * saying which is wrong.
 */
int ckpt_check(const struct vmm *v, const char *name, struct mvm_err *err);

/*
 * The VM is Running or Paused and not going away: 0, or -EINVAL saying
 * what it is (doing: "take", "apply").
 */
int ckpt_check_vm(const struct vmm *v, const char *doing,
		  struct mvm_err *err);

/*
 * "DIR/a/b" (b may be NULL) into buf (PATH_MAX): the directory's length
 * is bounded and a and b are names, so it always fits.
 */
void ckpt_path(const struct vmm *v, const char *a, const char *b, char *buf);

/*
 * Checkpoint name as its files say: created_ns, vCPUs and memory from its
 * state file (or, unreadable, why in problem), and its sizes.
 */
void ckpt_describe(const struct vmm *v, const char *name,
		   struct vmm_checkpoint_info *info);

/* info's byte counts, from the files of the checkpoint directory dir. */
void ckpt_sizes(const char *dir, struct vmm_checkpoint_info *info);

/*
 * Remove the checkpoint directory path and the files a checkpoint holds
 * (state, memory, disks/ID), refusing (-EINVAL, nothing removed) one that
 * holds anything else. what names it in messages.
 */
int ckpt_remove(const char *path, const char *what, struct mvm_err *err);

#endif
