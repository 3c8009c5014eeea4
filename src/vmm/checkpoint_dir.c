/*
 * The checkpoints' directory (include/mvm/vmm_checkpoint.h): where it is,
 * the names in it, what each checkpoint there holds and weighs, listing
 * and removing them. Taking and applying one are checkpoint.c's and
 * checkpoint_apply.c's.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/file.h"
#include "mvm/snapshot.h"
#include "mvm/vm_config.h"
#include "mvm/vmm.h"
#include "mvm/vmm_checkpoint.h"

#include "checkpoint_priv.h"

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int vmm_checkpoint_name_check(const char *name, struct mvm_err *err)
{
	size_t n = strnlen(name, VMM_CHECKPOINT_NAME_MAX + 1);

	if (n == 0 || n > VMM_CHECKPOINT_NAME_MAX)
		return mvm_fail(err, -EINVAL, "checkpoint name '%.64s%s': must "
				"be 1 to %d characters", name,
				n > VMM_CHECKPOINT_NAME_MAX ? "..." : "",
				VMM_CHECKPOINT_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		if (!name_char(name[i]))
			return mvm_fail(err, -EINVAL, "checkpoint name: may "
					"contain only letters, digits, '.', "
					"'_' and '-'");
	if (name[0] == '.')
		return mvm_fail(err, -EINVAL, "checkpoint name '%s': must not "
				"start with '.'", name);
	if (!strcmp(name, "config"))
		return mvm_fail(err, -EINVAL, "checkpoint name 'config': taken "
				"by PUT /checkpoints/config");
	return 0;
}

int vmm_checkpoint_config(struct vmm *v, const char *dir,
			  struct mvm_err *err)
{
	char real[PATH_MAX], *keep;
	struct stat st;

	if (!realpath(dir, real) || stat(real, &st) < 0)
		return mvm_fail(err, -EINVAL, "checkpoints dir '%s': %s", dir,
				strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return mvm_fail(err, -EINVAL, "checkpoints dir '%s' is not a "
				"directory (%s)", dir, S_ISREG(st.st_mode) ?
				"a regular file" : file_kind(st.st_mode));
	if (access(real, W_OK | X_OK) < 0)
		return mvm_fail(err, -EINVAL, "checkpoints dir '%s' is not "
				"writable: %s", dir, strerror(errno));
	if (strlen(real) >= PATH_MAX - CKPT_PATH_ROOM)
		return mvm_fail(err, -EINVAL, "checkpoints dir '%.64s...': its "
				"path is longer than %d bytes", dir,
				PATH_MAX - CKPT_PATH_ROOM - 1);
	keep = strdup(real);
	if (!keep)
		return mvm_fail(err, -ENOMEM, "out of memory");
	free(v->checkpoint_dir);
	v->checkpoint_dir = keep;
	vmm_log(v, API_LOG_INFO, "checkpoint", "checkpoints are kept in '%s'",
		keep);
	return 0;
}

int ckpt_check(const struct vmm *v, const char *name, struct mvm_err *err)
{
	if (!v->checkpoint_dir)
		return mvm_fail(err, -EINVAL, "no checkpoint directory is set: "
				"set one first (PUT /checkpoints/config "
				"{\"dir\": PATH})");
	return name ? vmm_checkpoint_name_check(name, err) : 0;
}

void ckpt_path(const struct vmm *v, const char *a, const char *b, char *buf)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s%s%s", v->checkpoint_dir, a,
			 b ? "/" : "", b ? b : "");

	if (n >= PATH_MAX)
		buf[0] = '\0'; /* cannot be: then no file of that name */
}

static uint64_t allocated_at(int dfd, const char *name, bool *is_reg)
{
	struct stat st;

	*is_reg = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		  S_ISREG(st.st_mode);
	return *is_reg ? (uint64_t)st.st_blocks * 512 : 0;
}

void ckpt_sizes(const char *dir, struct vmm_checkpoint_info *info)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int disks;
	struct dirent *e;
	bool reg;
	DIR *d;

	info->size_bytes = info->memory_bytes = info->disk_bytes = 0;
	info->disks = 0;
	if (dfd < 0)
		return;
	info->memory_bytes = allocated_at(dfd, CKPT_MEMORY, &reg);
	info->size_bytes = allocated_at(dfd, CKPT_STATE, &reg);
	disks = openat(dfd, CKPT_DISKS, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		       O_CLOEXEC);
	close(dfd);
	d = disks >= 0 ? fdopendir(disks) : NULL;
	if (!d && disks >= 0)
		close(disks);
	while (d && (e = readdir(d))) {
		uint64_t b = allocated_at(dirfd(d), e->d_name, &reg);

		info->disk_bytes += b;
		info->disks += reg;
	}
	if (d)
		closedir(d);
	info->size_bytes += info->memory_bytes + info->disk_bytes;
}

/* ---- listing ---------------------------------------------------------- */

void ckpt_describe(const struct vmm *v, const char *name,
		   struct vmm_checkpoint_info *info)
{
	struct mvm_err err = { .msg = "" };
	char path[PATH_MAX];
	struct snap_file s;

	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", name);
	ckpt_path(v, name, CKPT_STATE, path);
	if (snap_file_read(path, &s, &err) == 0) {
		info->created_ns = s.created_ns;
		info->vcpus = s.machine.cpus;
		info->mem_mib = s.machine.mem_mib;
		snap_file_free(&s);
	} else {
		snprintf(info->problem, sizeof(info->problem), "%s", err.msg);
	}
	ckpt_path(v, name, NULL, path);
	ckpt_sizes(path, info);
}

static int by_creation(const void *a, const void *b)
{
	const struct vmm_checkpoint_info *x = a, *y = b;

	if (x->created_ns != y->created_ns)
		return x->created_ns < y->created_ns ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* An entry of the directory that is a checkpoint's: a valid name, a dir. */
static bool is_checkpoint(DIR *d, const char *name)
{
	struct stat st;

	return vmm_checkpoint_name_check(name, NULL) == 0 &&
	       fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(st.st_mode);
}

int vmm_checkpoint_list(struct vmm *v, struct vmm_checkpoint_info **out,
			unsigned *n, struct mvm_err *err)
{
	struct vmm_checkpoint_info *all = NULL, *more;
	unsigned nr = 0, cap = 0;
	struct dirent *e;
	DIR *d;
	int ret = ckpt_check(v, NULL, err);

	*out = NULL;
	*n = 0;
	if (ret)
		return ret;
	d = opendir(v->checkpoint_dir);
	if (!d)
		return mvm_fail(err, -EINVAL, "checkpoints dir '%s': %s",
				v->checkpoint_dir, strerror(errno));
	while ((e = readdir(d))) {
		if (!is_checkpoint(d, e->d_name))
			continue;
		if (nr == cap) {
			cap = cap ? cap * 2 : 16;
			more = realloc(all, cap * sizeof(*all));
			if (!more) {
				free(all);
				closedir(d);
				return mvm_fail(err, -ENOMEM, "out of memory");
			}
			all = more;
		}
		ckpt_describe(v, e->d_name, &all[nr++]);
	}
	closedir(d);
	if (nr) /* qsort's array may not be NULL, even for none */
		qsort(all, nr, sizeof(*all), by_creation);
	*out = all;
	*n = nr;
	return 0;
}

/* ---- removing ---------------------------------------------------------- */

/* A drive id as the API takes them: 1-63 of [A-Za-z0-9_-]. */
static bool drive_id_like(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= VM_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char(s[i]) || s[i] == '.')
			return false;
	return true;
}

static bool dot_or_dotdot(const char *s)
{
	return !strcmp(s, ".") || !strcmp(s, "..");
}

static int odd(const char *what, const char *entry, struct mvm_err *err)
{
	return mvm_fail(err, -EINVAL, "checkpoint %s holds '%s', which no "
			"checkpoint does: nothing removed (remove it by hand)",
			what, entry);
}

/*
 * Every entry of the disks directory a drive's copy; with unlink, each
 * removed, and the directory with them.
 */
static int walk_disks(int top, const char *what, bool unlink,
		      struct mvm_err *err)
{
	int fd = openat(top, CKPT_DISKS, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			O_CLOEXEC);
	struct dirent *e;
	struct stat st;
	int ret = 0;
	DIR *d;

	if (fd < 0 || !(d = fdopendir(fd))) {
		ret = mvm_fail(err, -EINVAL, "checkpoint %s: %s: %s", what,
			       CKPT_DISKS, strerror(errno));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	while (!ret && (e = readdir(d))) {
		if (dot_or_dotdot(e->d_name))
			continue;
		if (!drive_id_like(e->d_name) ||
		    fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			ret = odd(what, e->d_name, err);
		else if (unlink && unlinkat(fd, e->d_name, 0) < 0)
			ret = mvm_fail(err, -errno, "checkpoint %s: %s/%s: %s",
				       what, CKPT_DISKS, e->d_name,
				       strerror(errno));
	}
	closedir(d);
	if (!ret && unlink && unlinkat(top, CKPT_DISKS, AT_REMOVEDIR) < 0)
		ret = mvm_fail(err, -errno, "checkpoint %s: %s: %s", what,
			       CKPT_DISKS, strerror(errno));
	return ret;
}

/* The directory's own entries: what a checkpoint holds, and no more. */
static int walk_top(int top, const char *what, bool unlink,
		    struct mvm_err *err)
{
	int fd = dup(top), ret = 0;
	struct dirent *e;
	struct stat st;
	DIR *d;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return mvm_fail(err, -errno, "checkpoint %s: %s", what,
				strerror(errno));
	}
	rewinddir(d); /* the offset is top's, where the last walk left it */
	while (!ret && (e = readdir(d))) {
		const char *n = e->d_name;
		bool file = !strcmp(n, CKPT_STATE) || !strcmp(n, CKPT_MEMORY);

		if (dot_or_dotdot(n))
			continue;
		if (fstatat(top, n, &st, AT_SYMLINK_NOFOLLOW) < 0)
			ret = odd(what, n, err);
		else if (file && S_ISREG(st.st_mode))
			ret = unlink && unlinkat(top, n, 0) < 0 ?
				mvm_fail(err, -errno, "checkpoint %s: %s: %s",
					 what, n, strerror(errno)) : 0;
		else if (!strcmp(n, CKPT_DISKS) && S_ISDIR(st.st_mode))
			ret = walk_disks(top, what, unlink, err);
		else
			ret = odd(what, n, err);
	}
	closedir(d);
	return ret;
}

int ckpt_remove(const char *path, const char *what, struct mvm_err *err)
{
	int top = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int ret;

	if (top < 0)
		return mvm_fail(err, -EINVAL, "checkpoint %s: %s", what,
				strerror(errno));
	/* Looked at whole first: an odd one is left as it is. */
	ret = walk_top(top, what, false, err);
	if (!ret)
		ret = walk_top(top, what, true, err);
	close(top);
	if (!ret && rmdir(path) < 0)
		ret = mvm_fail(err, -errno, "checkpoint %s: %s", what,
			       strerror(errno));
	return ret;
}

int vmm_checkpoint_delete(struct vmm *v, const char *name,
			  struct mvm_err *err)
{
	char path[PATH_MAX];
	struct stat st;
	int ret = ckpt_check(v, name, err);

	if (ret)
		return ret;
	ckpt_path(v, name, NULL, path);
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return mvm_fail(err, -EINVAL, "no checkpoint %s in '%s'", name,
				v->checkpoint_dir);
	if (v->dry_run)
		return 0;
	ret = ckpt_remove(path, name, err);
	if (!ret)
		vmm_log(v, API_LOG_INFO, "checkpoint", "checkpoint %s deleted",
			name);
	return ret;
}
