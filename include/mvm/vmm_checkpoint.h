/*
 * Checkpoints (src/vmm/checkpoint*.c), after Hyper-V's: the VM as it was
 * at one instant, kept by name in one directory, put back into the same
 * running VM in place. The API's /checkpoints paths become these calls.
 *
 * DIR/NAME/ holds
 *   state          the state file, as a snapshot's (include/mvm/snapshot.h)
 *   memory         guest RAM, as a Full snapshot's memory file
 *   disks/ID       each writable drive's contents: a reflink where the
 *                  file system makes one, else a sparse copy
 * A checkpoint is written into DIR/.NAME.tmp-XXXXXX and renamed to
 * DIR/NAME once complete: a crash leaves no half checkpoint under a name.
 * Names that start with a dot are never checkpoints.
 */
#ifndef MVM_VMM_CHECKPOINT_H
#define MVM_VMM_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

struct mvm_err;
struct vmm;

#define VMM_CHECKPOINT_NAME_MAX 64

struct vmm_checkpoint_info {
	char name[VMM_CHECKPOINT_NAME_MAX + 1];
	uint64_t created_ns; /* CLOCK_REALTIME; 0: its state is unreadable */
	/* Bytes allocated on disk (shared extents counted in full). */
	uint64_t size_bytes; /* the whole checkpoint */
	uint64_t memory_bytes;
	uint64_t disk_bytes;
	unsigned vcpus;      /* as its state file says (0: unreadable) */
	uint64_t mem_mib;
	unsigned disks;      /* writable drives kept */
	bool reflinked;      /* create: every disk kept is a reflink */
	char problem[512];   /* list: why its state is unreadable, or "" */
};

/*
 * A checkpoint name: 1 to 64 characters of [A-Za-z0-9._-], not starting
 * with a dot, and not "config" (PUT /checkpoints/config's). -EINVAL
 * saying which rule it breaks.
 */
int vmm_checkpoint_name_check(const char *name, struct mvm_err *err);

/*
 * Keep checkpoints in dir: an existing directory this process can write
 * (-EINVAL naming it otherwise). Its absolute path is kept.
 */
int vmm_checkpoint_config(struct vmm *v, const char *dir,
			  struct mvm_err *err);

/*
 * Take checkpoint name of the running or paused VM: paused (if it ran)
 * for as long as its state, memory and disks take to capture, the policy
 * asked (op snapshot_create: -EPERM with its rule) once it is paused;
 * then running again as it was. -EINVAL before the directory is set, for
 * a bad name, a name that exists, a VM in another state, a writable
 * drive that is no regular file. *out describes what was written.
 */
int vmm_checkpoint_create(struct vmm *v, const char *name,
			  struct vmm_checkpoint_info *out,
			  struct mvm_err *err);

/*
 * The checkpoints in the directory, oldest first: *out (free() it) holds
 * *n of them. A directory entry whose state file cannot be read is still
 * listed, with created_ns 0 and the reason in problem.
 */
int vmm_checkpoint_list(struct vmm *v, struct vmm_checkpoint_info **out,
			unsigned *n, struct mvm_err *err);

/*
 * Remove checkpoint name: its files and its directory. -EINVAL for no
 * such checkpoint, or one holding anything a checkpoint does not (it is
 * left alone then, whole).
 */
int vmm_checkpoint_delete(struct vmm *v, const char *name,
			  struct mvm_err *err);

/*
 * Revert the running or paused VM to checkpoint name, in place: its
 * writable drives' contents, its memory, its vCPUs' and devices' state.
 * The VM is paused while this runs and is running again after if it was.
 * Checked before anything changes (-EINVAL, the VM untouched): the
 * checkpoint must fit this VM (vCPUs, memory layout, nesting, drives and
 * their sizes, network interfaces, entropy device, the state nodes of
 * its devices); the policy is asked with the VM paused (op
 * checkpoint_apply: -EPERM with its rule). A
 * failure after the first change leaves a VM that is neither: it is
 * discarded (mvm is then Not started), and the message says so.
 */
int vmm_checkpoint_apply(struct vmm *v, const char *name,
			 struct mvm_err *err);

#endif
