/*
 * Firecracker's Pmem (PUT /pmem/{id} before boot, the config file's
 * "pmem" list) and PartialPmem (PATCH /pmem/{id} after boot).
 *
 * Rate limiting of a pmem's flushes is not implemented: a rate_limiter
 * that would limit (a bucket with a size) is refused naming the field,
 * here, whatever the shared limiter parser accepts for other devices.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mvm/api.h"
#include "mvm/err.h"

#include "json_in.h"
#include "shapes.h"

static int no_limiter(struct jr *r)
{
	struct spec_limiter l = { 0 };
	int ret = shape_limiter(r, "rate_limiter", &l);

	if (ret < 0)
		return ret;
	if (l.rl.bandwidth.size || l.rl.ops.size)
		return jr_fail(r, "rate_limiter", -ENOTSUP, "pmem rate "
			       "limiting is not supported by mvm yet (omit "
			       "it)");
	return 0;
}

static int id_of(struct jr *r, const char *id_from_path, const char **id)
{
	int ret = jr_str(r, "id", true, id);

	if (ret >= 0)
		ret = shape_check_id(r, "id", *id);
	if (ret >= 0 && id_from_path && strcmp(*id, id_from_path))
		ret = jr_fail(r, "id", -EINVAL, "'%s' does not match the id "
			      "in the path ('%.64s')", *id, id_from_path);
	return ret < 0 ? ret : 0;
}

/* A file the guest can see: mapped, it needs at least one byte. */
static int check_backing(struct jr *r, const char *file, bool writable,
			 const struct shape_opts *opt)
{
	struct stat st;
	int ret = shape_check_file(r, "path_on_host", file, writable, false,
				   opt);

	if (ret || (opt && opt->dry_run))
		return ret;
	if (stat(file, &st) < 0)
		return jr_fail(r, "path_on_host", -errno, "cannot stat '%s': "
			       "%s", file, strerror(errno));
	if (st.st_size == 0)
		return jr_fail(r, "path_on_host", -EINVAL, "'%s' is empty: a "
			       "pmem device needs at least one byte", file);
	return 0;
}

static struct spec_pmem *find_pmem(struct vm_spec *s, const char *id)
{
	for (unsigned i = 0; i < s->nr_pmems; i++)
		if (!strcmp(s->pmems[i].id, id))
			return &s->pmems[i];
	return NULL;
}

/* Firecracker's rule: one root device, a drive or a pmem. */
static int check_root(struct jr *r, const struct vm_spec *s,
		      const struct spec_pmem *self)
{
	for (unsigned i = 0; i < s->nr_drives; i++)
		if (s->drives[i].is_root_device)
			return jr_fail(r, "root_device", -EEXIST, "drive '%s' "
				       "is already the root device",
				       s->drives[i].id);
	for (unsigned i = 0; i < s->nr_pmems; i++)
		if (s->pmems[i].root_device && &s->pmems[i] != self)
			return jr_fail(r, "root_device", -EEXIST, "pmem '%s' "
				       "is already the root device",
				       s->pmems[i].id);
	return 0;
}

int shape_pmem(struct vm_spec *s, struct json_object *o, const char *path,
	       const char *id_from_path, const struct shape_opts *opt,
	       struct mvm_err *err)
{
	static const char *const known[] = { "id", "path_on_host",
		"root_device", "read_only", "rate_limiter", NULL };
	const char *id = NULL, *file = NULL;
	struct spec_pmem n = { 0 }, *cur;
	struct jr r;
	int ret;

	ret = jr_open(&r, o, path, known, err);
	if (!ret)
		ret = id_of(&r, id_from_path, &id);
	if (!ret)
		ret = jr_str(&r, "path_on_host", true, &file);
	if (ret >= 0)
		ret = jr_bool(&r, "root_device", false, &n.root_device);
	if (ret >= 0)
		ret = jr_bool(&r, "read_only", false, &n.read_only);
	if (ret >= 0)
		ret = no_limiter(&r);
	if (ret < 0)
		return ret;
	ret = check_backing(&r, file, !n.read_only, opt);
	if (ret)
		return ret;
	cur = find_pmem(s, id);
	if (n.root_device) {
		ret = check_root(&r, s, cur);
		if (ret)
			return ret;
	}
	if (!cur && s->nr_pmems >= VM_MAX_PMEMS)
		return jr_fail(&r, NULL, -ENOSPC, "mvm supports at most %d "
			       "pmem devices", VM_MAX_PMEMS);
	snprintf(n.id, sizeof(n.id), "%s", id);
	n.path_on_host = strdup(file);
	if (!n.path_on_host)
		return mvm_fail(err, -ENOMEM, "out of memory");
	if (cur)
		free(cur->path_on_host);
	else
		cur = &s->pmems[s->nr_pmems++];
	*cur = n;
	return 0;
}

int shape_pmem_patch(const struct vm_spec *s, struct json_object *o,
		     const char *id_from_path, struct mvm_err *err)
{
	static const char *const known[] = { "id", "rate_limiter", NULL };
	const char *id = NULL;
	bool found = false;
	struct jr r;
	int ret;

	ret = jr_open(&r, o, "", known, err);
	if (!ret)
		ret = id_of(&r, id_from_path, &id);
	if (ret)
		return ret;
	for (unsigned i = 0; i < s->nr_pmems; i++)
		found |= !strcmp(s->pmems[i].id, id);
	if (!found)
		return jr_fail(&r, "id", -ENOENT, "no pmem device '%s' is "
			       "configured", id);
	return no_limiter(&r);
}
