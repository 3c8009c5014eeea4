/*
 * Applying a checkpoint (include/mvm/vmm_checkpoint.h): the same VM, in
 * the same process, goes back to the checkpoint's instant. Everything
 * that can refuse does so first, with the VM untouched: the state file
 * is read, the checkpoint must fit this VM, its files must be there and
 * of the right sizes, the policy is asked once the VM is paused. Then,
 * in the Restoring state: the writable drives' contents (a reflink from
 * the checkpoint's copy, or a copy back), the memory (the checkpoint's
 * memory file mapped over guest RAM in place, gm_remap_file) and the
 * vCPUs' and devices' state (vm_load_all, in place).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/device.h"
#include "mvm/err.h"
#include "mvm/file.h"
#include "mvm/mem_file.h"
#include "mvm/policy.h"
#include "mvm/snapshot.h"
#include "mvm/vm_config.h"
#include "mvm/vm_state.h"
#include "mvm/vmm.h"
#include "mvm/vmm_checkpoint.h"

#include "checkpoint_priv.h"
#include "vmm_priv.h"

/* A writable drive: the checkpoint's copy (src) into its file (dst). */
struct disk_back {
	const struct disk_config *disk;
	char src_path[PATH_MAX];
	int src, dst;
	uint64_t size;
};

struct revert {
	struct vmm *v;
	const char *name;
	struct snap_file s;
	char mem_path[PATH_MAX];
	struct disk_back disks[VM_MAX_DISKS];
	unsigned nr_disks;
};

static int misfit(const struct revert *r, struct mvm_err *err,
		  const char *what, unsigned long long then,
		  unsigned long long now)
{
	return mvm_fail(err, -EINVAL, "checkpoint %s does not fit this VM: "
			"taken with %s %llu, this VM has %llu", r->name, what,
			then, now);
}

static const struct disk_config *find_disk(const struct vm_config *c,
					   const char *id)
{
	for (unsigned i = 0; i < c->nr_disks; i++)
		if (!strcmp(c->disks[i].id, id))
			return &c->disks[i];
	return NULL;
}

/* The same drives (ids, read-only or not) and network interfaces. */
static int fit_devices(const struct revert *r, const struct vm_config *now,
		       struct mvm_err *err)
{
	const struct vm_config *then = &r->s.machine;

	if (then->nr_disks != now->nr_disks)
		return misfit(r, err, "drives:", then->nr_disks,
			      now->nr_disks);
	for (unsigned i = 0; i < now->nr_disks; i++) {
		const struct disk_config *d = find_disk(then, now->disks[i].id);

		if (!d || d->readonly != now->disks[i].readonly)
			return mvm_fail(err, -EINVAL, "checkpoint %s does not "
					"fit this VM: its drive %s %s",
					r->name, now->disks[i].id, !d ?
					"is not in it" : "was read-only or "
					"writable, this one the other");
	}
	if (then->nr_nets != now->nr_nets)
		return misfit(r, err, "network interfaces:", then->nr_nets,
			      now->nr_nets);
	for (unsigned i = 0; i < now->nr_nets; i++) {
		bool found = false;

		for (unsigned j = 0; j < then->nr_nets && !found; j++)
			found = !strcmp(then->nets[j].id, now->nets[i].id);
		if (!found)
			return mvm_fail(err, -EINVAL, "checkpoint %s does not "
					"fit this VM: its network interface %s "
					"is not in it", r->name,
					now->nets[i].id);
	}
	if (then->rng != now->rng)
		return misfit(r, err, "entropy devices:", then->rng, now->rng);
	if (then->balloon.enabled != now->balloon.enabled)
		return misfit(r, err, "balloon devices:", then->balloon.enabled,
			      now->balloon.enabled);
	return 0;
}

/* The machine: what vm_load_all would refuse, said plainly up front. */
static int fit(const struct revert *r, struct mvm_err *err)
{
	const struct vmm *v = r->v;
	const struct vm_config *then = &r->s.machine, *now = &v->vm.cfg;
	struct gm_file_region layout[MEM_MAX_REGIONS];
	unsigned n = 0;

	if (r->s.type != SNAP_FULL)
		return mvm_fail(err, -EINVAL, "checkpoint %s: its state file "
				"is a Diff snapshot's", r->name);
	if (then->cpus != now->cpus)
		return misfit(r, err, "vCPUs:", then->cpus, now->cpus);
	if (then->mem_mib != now->mem_mib)
		return misfit(r, err, "MiB of memory:", then->mem_mib,
			      now->mem_mib);
	gm_file_layout(&v->vm.mem, layout, &n);
	if (n != r->s.nr_regions ||
	    memcmp(layout, r->s.regions, n * sizeof(layout[0])))
		return mvm_fail(err, -EINVAL, "checkpoint %s does not fit this "
				"VM: its memory regions are laid out "
				"otherwise", r->name);
	if (then->nested != now->nested)
		return misfit(r, err, "nested virtualization", then->nested,
			      now->nested);
	return fit_devices(r, now, err);
}

static int open_regular(const char *path, int flags, uint64_t *size,
			const char *what, struct mvm_err *err)
{
	int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	struct stat st;

	if (fd < 0)
		return mvm_fail(err, -EINVAL, "%s: %s: %s", what, path,
				strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return mvm_fail(err, -EINVAL, "%s: %s is not a regular file",
				what, path);
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

/* The checkpoint's copy of d, and d's file, both open; the same size. */
static int open_disk(struct revert *r, const struct disk_config *d,
		     struct mvm_err *err)
{
	struct disk_back *b = &r->disks[r->nr_disks];
	char what[160];
	uint64_t now = 0;
	size_t n;

	snprintf(what, sizeof(what), "checkpoint %s: drive %s", r->name,
		 d->id);
	ckpt_path(r->v, r->name, CKPT_DISKS, b->src_path);
	n = strlen(b->src_path);
	snprintf(b->src_path + n, sizeof(b->src_path) - n, "/%s", d->id);
	b->disk = d;
	b->src = open_regular(b->src_path, O_RDONLY, &b->size, what, err);
	if (b->src < 0)
		return b->src;
	b->dst = open_regular(d->path, O_WRONLY, &now, what, err);
	if (b->dst < 0) {
		close(b->src);
		return b->dst;
	}
	r->nr_disks++;
	/* The guest's disk cannot change size under it (virtio-blk). */
	if (now != b->size)
		return mvm_fail(err, -EINVAL, "%s: its file is %llu bytes now, "
				"%llu in the checkpoint: size it back first",
				what, (unsigned long long)now,
				(unsigned long long)b->size);
	return 0;
}

/* Every file the apply reads or writes, open, before anything changes. */
static int prepare(struct revert *r, struct mvm_err *err)
{
	const struct vm_config *cfg = &r->v->vm.cfg;
	uint64_t size = 0;
	int fd, ret = 0;

	ckpt_path(r->v, r->name, CKPT_MEMORY, r->mem_path);
	fd = open_regular(r->mem_path, O_RDONLY, &size, "checkpoint memory",
			  err);
	if (fd < 0)
		return fd;
	close(fd);
	if (gm_file_layout_check(r->s.regions, r->s.nr_regions, size, err))
		return mvm_wrap(err, -EINVAL, "checkpoint %s: its memory file "
				"is %llu bytes: ", r->name,
				(unsigned long long)size);
	for (unsigned i = 0; !ret && i < cfg->nr_disks; i++)
		if (!cfg->disks[i].readonly)
			ret = open_disk(r, &cfg->disks[i], err);
	return ret;
}

static bool has_node(const struct dev_state_list *l, const char *id)
{
	for (unsigned i = 0; i < l->nr; i++)
		if (!strcmp(l->node[i].id, id))
			return true;
	return false;
}

/*
 * The same state nodes as the paused VM's (one per device and vCPU, and
 * the kvmclock): vm_load_all refuses any other, but only once it has
 * begun. A node's contents are still its device's to refuse.
 */
static int fit_state(struct revert *r, struct mvm_err *err)
{
	struct dev_state_list now = { 0 };
	int ret = vm_save_all(&r->v->vm, &now, err);

	if (ret)
		return ret;
	for (unsigned i = 0; !ret && i < r->s.state.nr; i++)
		if (!has_node(&now, r->s.state.node[i].id))
			ret = mvm_fail(err, -EINVAL, "checkpoint %s does not fit "
				       "this VM: its state has a node '%s', "
				       "which this VM has not", r->name,
				       r->s.state.node[i].id);
	for (unsigned i = 0; !ret && i < now.nr; i++)
		if (!has_node(&r->s.state, now.node[i].id))
			ret = mvm_fail(err, -EINVAL, "checkpoint %s does not fit "
				       "this VM: its state has no node '%s'",
				       r->name, now.node[i].id);
	dev_state_list_free(&now);
	return ret;
}

/* Asked with the VM paused: the VM as it is, and as the checkpoint was. */
static int ask_policy(struct revert *r, struct mvm_err *err)
{
	struct policy_facts now, then;

	vmm_policy_facts(r->v, &now);
	vmm_snapshot_facts(&r->s, &then);
	now.l1_hypervisor_active |= then.l1_hypervisor_active;
	now.l2_running |= then.l2_running;
	return vmm_policy_ask(r->v, POLICY_OP_CHECKPOINT_APPLY, &now, err);
}

/* In the Restoring state: disks, memory, state. */
static int revert(struct revert *r, struct mvm_err *err)
{
	struct vmm *v = r->v;
	bool reflinked;
	int ret = 0;

	for (unsigned i = 0; !ret && i < r->nr_disks; i++) {
		struct disk_back *b = &r->disks[i];

		ret = file_clone_or_copy(b->src, b->src_path, b->dst,
					 b->disk->path, b->size, &reflinked,
					 err);
	}
	if (!ret)
		ret = gm_remap_file(&v->vm.mem, r->mem_path, err);
	/* The kvmclock goes on from the checkpoint's. */
	if (!ret)
		ret = vm_load_all_opts(&v->vm, &r->s.state, NULL, err);
	return ret;
}

static int apply_paused(struct revert *r, struct mvm_err *err)
{
	struct vmm *v = r->v;
	bool was_running = v->state == VM_STATE_RUNNING;
	int ret = 0;

	if (was_running)
		ret = vmm_pause(v, err);
	if (!ret)
		ret = fit_state(r, err);
	if (!ret)
		ret = ask_policy(r, err);
	if (!ret)
		ret = vmm_transition(v, VM_EV_RESTORE, err);
	if (ret) {
		if (was_running && v->state == VM_STATE_PAUSED) {
			struct mvm_err rerr = { .msg = "" };

			vmm_resume(v, &rerr);
		}
		return ret;
	}
	ret = revert(r, err);
	if (ret) {
		vmm_must_transition(v, VM_EV_RESTORE_FAILED);
		vmm_discard_vm(v);
		return mvm_wrap(err, ret, "checkpoint %s: the apply failed "
				"half way, so the VM is discarded (mvm is Not "
				"started now): ", r->name);
	}
	vmm_must_transition(v, VM_EV_RESTORE_DONE);
	if (v->vm.cfg.dynmem.enabled)
		vmm_dynmem_rewait(v);
	return was_running ? vmm_resume(v, err) : 0;
}

static void finish(struct revert *r)
{
	for (unsigned i = 0; i < r->nr_disks; i++) {
		close(r->disks[i].src);
		close(r->disks[i].dst);
	}
	snap_file_free(&r->s);
	free(r);
}

/* The checkpoint's state file; its absence is a name nobody took. */
static int read_state(struct revert *r, struct mvm_err *err)
{
	char dir[PATH_MAX], state[PATH_MAX];
	struct stat st;
	int ret;

	ckpt_path(r->v, r->name, NULL, dir);
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return mvm_fail(err, -EINVAL, "no checkpoint %s in '%s'",
				r->name, r->v->checkpoint_dir);
	ckpt_path(r->v, r->name, CKPT_STATE, state);
	ret = snap_file_read(state, &r->s, err);
	if (ret)
		return ret == -ENOMEM ? ret :
		       mvm_wrap(err, -EINVAL, "checkpoint %s: ", r->name);
	return 0;
}

int vmm_checkpoint_apply(struct vmm *v, const char *name,
			 struct mvm_err *err)
{
	struct revert *r;
	int ret = ckpt_check(v, name, err);

	if (!ret)
		ret = ckpt_check_vm(v, "apply", err);
	if (ret || v->dry_run)
		return ret;
	r = calloc(1, sizeof(*r));
	if (!r)
		return mvm_fail(err, -ENOMEM, "out of memory");
	r->v = v;
	r->name = name;
	ret = read_state(r, err);
	if (!ret)
		ret = fit(r, err);
	if (!ret)
		ret = prepare(r, err);
	if (!ret)
		ret = apply_paused(r, err);
	finish(r);
	if (!ret)
		vmm_log(v, API_LOG_INFO, "checkpoint", "checkpoint %s applied",
			name);
	return ret;
}
