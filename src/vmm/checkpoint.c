/*
 * Taking a checkpoint (include/mvm/vmm_checkpoint.h). The VM is paused
 * only for the capture: the memory file, the state file and the disks'
 * copies are written (a reflink of a disk costs no data), then the VM
 * runs again and only then are the files made durable and the directory
 * renamed into place. Everything that can be refused is refused before
 * the pause; the policy is asked once the VM stands still, so that what
 * it decided on is what is captured.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/file.h"
#include "mvm/mem_file.h"
#include "mvm/snapshot.h"
#include "mvm/vm_config.h"
#include "mvm/vmm.h"
#include "mvm/vmm_checkpoint.h"

#include "checkpoint_priv.h"
#include "vmm_priv.h"

/* One writable drive: its file, and its copy in the checkpoint. */
struct disk_copy {
	const struct disk_config *disk;
	int src, dst;
	bool reflinked;
};

struct capture {
	struct vmm *v;
	const char *name;
	char tmp[PATH_MAX]; /* DIR/.NAME.tmp-XXXXXX, renamed DIR/NAME */
	int mem_fd;
	struct disk_copy disks[VM_MAX_DISKS];
	unsigned nr_disks;
};

int ckpt_check_vm(const struct vmm *v, const char *doing,
		  struct mvm_err *err)
{
	if ((v->state != VM_STATE_RUNNING && v->state != VM_STATE_PAUSED) ||
	    (!v->dry_run && (!v->have_vm || v->discard_vm ||
			     v->tearing_down)))
		return mvm_fail(err, -EINVAL, "cannot %s a checkpoint: the VM "
				"is %s (it must be Running or Paused)", doing,
				vm_state_name(v->state));
	return 0;
}

/*
 * "TMP/a/b" (b may be NULL) into buf (PATH_MAX). The directory's path
 * leaves CKPT_PATH_ROOM bytes and a and b are names: it always fits.
 */
static void in_tmp(const struct capture *c, const char *a, const char *b,
		   char *buf)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s%s%s", c->tmp, a, b ? "/" : "",
			 b ? b : "");

	if (n >= PATH_MAX)
		buf[0] = '\0'; /* cannot be: then no file of that name */
}

static int open_in_tmp(struct capture *c, const char *sub, const char *name,
		       struct mvm_err *err)
{
	char path[PATH_MAX];
	int fd;

	in_tmp(c, sub ? sub : name, sub ? name : NULL, path);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return mvm_fail(err, -errno, "checkpoint %s: cannot create "
				"%s: %s", c->name, path, strerror(errno));
	return fd;
}

/* A writable drive's file, opened to be copied: a regular file only. */
static int open_drive(const struct disk_config *d, struct mvm_err *err)
{
	int fd = open(d->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	int e;

	if (fd < 0)
		return mvm_fail(err, -EINVAL, "drive %s: cannot open %s: %s",
				d->id, d->path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		e = errno;
		close(fd);
		return mvm_fail(err, -e, "drive %s: %s: %s", d->id, d->path,
				strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return mvm_fail(err, -EINVAL, "drive %s: %s is %s: checkpoints "
				"keep the contents of regular files only",
				d->id, d->path, file_kind(st.st_mode));
	}
	return fd;
}

/* The directory and files to capture into, before the pause. */
static int prepare(struct capture *c, struct mvm_err *err)
{
	const struct vm_config *cfg = &c->v->vm.cfg;
	char disks[PATH_MAX];
	int ret = 0;

	snprintf(c->tmp, sizeof(c->tmp), "%s/.%s.tmp-XXXXXX",
		 c->v->checkpoint_dir, c->name);
	if (!mkdtemp(c->tmp)) {
		c->tmp[0] = '\0';
		return mvm_fail(err, -errno, "checkpoints dir '%s': cannot "
				"create a directory in it: %s",
				c->v->checkpoint_dir, strerror(errno));
	}
	in_tmp(c, CKPT_DISKS, NULL, disks);
	if (mkdir(disks, 0700) < 0)
		return mvm_fail(err, -errno, "checkpoint %s: %s: %s", c->name,
				disks, strerror(errno));
	c->mem_fd = open_in_tmp(c, NULL, CKPT_MEMORY, err);
	if (c->mem_fd < 0)
		return c->mem_fd;
	for (unsigned i = 0; !ret && i < cfg->nr_disks; i++) {
		struct disk_copy *d = &c->disks[c->nr_disks];

		if (cfg->disks[i].readonly)
			continue;
		d->disk = &cfg->disks[i];
		d->src = open_drive(d->disk, err);
		if (d->src < 0)
			return d->src;
		d->dst = open_in_tmp(c, CKPT_DISKS, d->disk->id, err);
		if (d->dst < 0) {
			close(d->src);
			return d->dst;
		}
		c->nr_disks++;
	}
	return 0;
}

static int copy_disk(struct capture *c, struct disk_copy *d,
		     struct mvm_err *err)
{
	struct stat st;
	char to[PATH_MAX];

	/* Its size now: the host may have grown it since the drive opened. */
	if (fstat(d->src, &st) < 0)
		return mvm_fail(err, -errno, "drive %s: %s: %s", d->disk->id,
				d->disk->path, strerror(errno));
	in_tmp(c, CKPT_DISKS, d->disk->id, to);
	return file_clone_or_copy(d->src, d->disk->path, d->dst, to,
				  (uint64_t)st.st_size, &d->reflinked, err);
}

/*
 * The paused VM into the files. The memory is a Full memory file; the
 * dirty page log is left alone, as a checkpoint is no link of a chain of
 * Diff snapshots: the next Diff still holds what changed since the last
 * snapshot.
 */
static int capture(struct capture *c, struct mvm_err *err)
{
	struct vmm *v = c->v;
	uint64_t bytes = 0;
	char state[PATH_MAX];
	int ret;

	ret = gm_save_full(&v->vm.mem, c->mem_fd, &bytes, err);
	if (ret)
		return mvm_wrap(err, ret, "checkpoint %s: memory: ", c->name);
	in_tmp(c, CKPT_STATE, NULL, state);
	ret = vmm_save_state_file(v, state, CKPT_MEMORY, SNAP_FULL, err);
	for (unsigned i = 0; !ret && i < c->nr_disks; i++)
		ret = copy_disk(c, &c->disks[i], err);
	return ret;
}

/* Paused, asked, captured, and running again if it ran. */
static int capture_paused(struct capture *c, struct mvm_err *err)
{
	struct vmm *v = c->v;
	bool was_running = v->state == VM_STATE_RUNNING;
	struct mvm_err rerr = { .msg = "" };
	int ret = 0;

	if (was_running)
		ret = vmm_pause(v, err);
	if (ret)
		return ret;
	/* A checkpoint is a save: the policy's snapshot_create. */
	ret = vmm_policy_ask_now(v, POLICY_OP_SNAPSHOT_CREATE, err);
	if (!ret) {
		vmm_must_transition(v, VM_EV_SNAPSHOT);
		ret = capture(c, err);
		vmm_must_transition(v, VM_EV_SNAPSHOT_DONE);
	}
	if (was_running && vmm_resume(v, &rerr))
		vmm_log(v, API_LOG_ERROR, "checkpoint", "resume: %s",
			rerr.msg);
	return ret;
}

static int sync_fd(int fd, const char *what, struct mvm_err *err)
{
	if (fsync(fd) < 0)
		return mvm_fail(err, -errno, "%s: fsync: %s", what,
				strerror(errno));
	return 0;
}

static int sync_path(const char *path, struct mvm_err *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret;

	if (fd < 0)
		return mvm_fail(err, -errno, "%s: %s", path, strerror(errno));
	ret = sync_fd(fd, path, err);
	close(fd);
	return ret;
}

/* Durable, then under its name: never a half checkpoint by that name. */
static int publish(struct capture *c, struct mvm_err *err)
{
	char path[PATH_MAX];
	int ret;

	ret = sync_fd(c->mem_fd, CKPT_MEMORY, err);
	for (unsigned i = 0; !ret && i < c->nr_disks; i++)
		ret = sync_fd(c->disks[i].dst, c->disks[i].disk->id, err);
	in_tmp(c, CKPT_DISKS, NULL, path);
	if (!ret)
		ret = sync_path(path, err);
	if (!ret)
		ret = sync_path(c->tmp, err);
	if (ret)
		return mvm_wrap(err, ret, "checkpoint %s: ", c->name);
	ckpt_path(c->v, c->name, NULL, path);
	if (renameat2(AT_FDCWD, c->tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0)
		return mvm_fail(err, errno == EEXIST ? -EINVAL : -errno,
				"checkpoint %s: cannot rename %s to %s: %s",
				c->name, c->tmp, path, strerror(errno));
	c->tmp[0] = '\0'; /* published: not ours to remove */
	/* Taken whatever this says: the rename is only not durable yet. */
	if (sync_path(c->v->checkpoint_dir, err))
		vmm_log(c->v, API_LOG_WARNING, "checkpoint", "%s", err->msg);
	return 0;
}

static void finish(struct capture *c)
{
	struct mvm_err err = { .msg = "" };

	if (c->mem_fd >= 0)
		close(c->mem_fd);
	for (unsigned i = 0; i < c->nr_disks; i++) {
		close(c->disks[i].src);
		close(c->disks[i].dst);
	}
	if (c->tmp[0] && ckpt_remove(c->tmp, c->name, &err))
		vmm_log(c->v, API_LOG_WARNING, "checkpoint", "%s", err.msg);
}

static int check_new(struct vmm *v, const char *name, struct mvm_err *err)
{
	char path[PATH_MAX];
	struct stat st;
	int ret = ckpt_check(v, name, err);

	if (!ret)
		ret = ckpt_check_vm(v, "take", err);
	if (ret)
		return ret;
	ckpt_path(v, name, NULL, path);
	if (lstat(path, &st) == 0 || errno != ENOENT)
		return mvm_fail(err, -EINVAL, "checkpoint %s exists in '%s': "
				"delete it first (DELETE /checkpoints/%s) or "
				"take another name", name, v->checkpoint_dir,
				name);
	return 0;
}

int vmm_checkpoint_create(struct vmm *v, const char *name,
			  struct vmm_checkpoint_info *out,
			  struct mvm_err *err)
{
	struct capture c = { .v = v, .name = name, .mem_fd = -1 };
	bool reflinked;
	int ret = check_new(v, name, err);

	memset(out, 0, sizeof(*out));
	if (ret || v->dry_run)
		return ret;
	ret = prepare(&c, err);
	if (!ret)
		ret = capture_paused(&c, err);
	if (!ret)
		ret = publish(&c, err);
	reflinked = c.nr_disks > 0;
	for (unsigned i = 0; i < c.nr_disks; i++)
		reflinked &= c.disks[i].reflinked;
	finish(&c);
	if (ret)
		return ret;
	ckpt_describe(v, name, out);
	out->reflinked = reflinked;
	vmm_log(v, API_LOG_INFO, "checkpoint", "checkpoint %s taken: %llu "
		"bytes (memory %llu, %u disk(s) %llu%s)", name,
		(unsigned long long)out->size_bytes,
		(unsigned long long)out->memory_bytes, out->disks,
		(unsigned long long)out->disk_bytes,
		reflinked ? ", reflinked" : "");
	return 0;
}
