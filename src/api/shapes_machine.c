/*
 * Shapes of the boot source and the machine configuration. Values mvm
 * cannot honour are refused by name rather than accepted and ignored.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/api.h"
#include "mvm/cpu_template.h"
#include "mvm/err.h"
#include "mvm/layout.h"

#include "json_in.h"
#include "shapes.h"

/* vm_check_config's floor: the boot structures need 2 MiB. */
#define SPEC_MIN_MEM_MIB 2

int shape_check_file(struct jr *r, const char *key, const char *path,
		     bool want_write, bool allow_blockdev,
		     const struct shape_opts *opt)
{
	struct stat st;
	int fd;

	if (!*path)
		return jr_fail(r, key, -EINVAL, "must not be empty");
	if (opt && opt->dry_run)
		return 0;
	/* O_NONBLOCK: a FIFO given by mistake must not hang the loop. */
	fd = open(path, (want_write ? O_RDWR : O_RDONLY) | O_NONBLOCK |
			O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return jr_fail(r, key, -errno, "cannot open '%s': %s", path,
			       strerror(errno));
	if (fstat(fd, &st) < 0) {
		int e = errno;

		close(fd);
		return jr_fail(r, key, -e, "cannot stat '%s': %s", path,
			       strerror(e));
	}
	close(fd);
	if (S_ISREG(st.st_mode) || (allow_blockdev && S_ISBLK(st.st_mode)))
		return 0;
	return jr_fail(r, key, -EINVAL, "'%s' is not a regular file%s", path,
		       allow_blockdev ? " or a block device" : "");
}

int shape_boot_source(struct vm_spec *s, struct json_object *o,
		      const char *path, const struct shape_opts *opt,
		      struct mvm_err *err)
{
	static const char *const known[] = { "kernel_image_path", "boot_args",
					     "initrd_path", NULL };
	const char *kernel = NULL, *args = NULL, *initrd = NULL;
	char *k2 = NULL, *a2 = NULL, *i2 = NULL;
	struct jr r;
	int ret;

	ret = jr_open(&r, o, path, known, err);
	if (!ret)
		ret = jr_str(&r, "kernel_image_path", true, &kernel);
	if (ret >= 0)
		ret = jr_str(&r, "boot_args", false, &args);
	if (ret >= 0)
		ret = jr_str(&r, "initrd_path", false, &initrd);
	if (ret < 0)
		return ret;
	ret = shape_check_file(&r, "kernel_image_path", kernel, false, false,
			       opt);
	if (!ret && initrd)
		ret = shape_check_file(&r, "initrd_path", initrd, false, false,
				       opt);
	if (ret)
		return ret;
	/* Room for root= that a root drive may add is checked at start. */
	if (args && strlen(args) >= LAYOUT_CMDLINE_MAX)
		return jr_fail(&r, "boot_args", -E2BIG, "%zu bytes is longer "
			       "than mvm's limit of %llu", strlen(args),
			       LAYOUT_CMDLINE_MAX - 1);
	k2 = strdup(kernel);
	a2 = args ? strdup(args) : NULL;
	i2 = initrd ? strdup(initrd) : NULL;
	if (!k2 || (args && !a2) || (initrd && !i2)) {
		free(k2);
		free(a2);
		free(i2);
		return mvm_fail(err, -ENOMEM, "out of memory");
	}
	free(s->kernel_image_path);
	free(s->boot_args);
	free(s->initrd_path);
	s->kernel_image_path = k2;
	s->boot_args = a2;
	s->initrd_path = i2;
	s->boot_source_set = true;
	return 0;
}

int shape_machine_config(struct vm_spec *s, struct json_object *o,
			 const char *path, bool patch, struct mvm_err *err)
{
	static const char *const known[] = {
		"vcpu_count", "mem_size_mib", "smt", "track_dirty_pages",
		"huge_pages", "cpu_template", "nested_virt", NULL };
	/* Firecracker's names, in enum cpu_static_template's order. */
	static const char *const templates[] = { "None", "C3", "T2", "T2S",
						 "T2CL", "T2A", "V1N1", NULL };
	uint64_t vcpus = s->vcpu_count, mem = s->mem_size_mib;
	bool smt = patch ? s->smt : false;
	bool nested = patch ? s->nested_virt : false;
	bool dirty = patch ? s->track_dirty_pages : false;
	int hp = patch ? (int)s->huge_pages : GM_PAGES_TRANSPARENT, tmpl = -1;
	struct jr r;
	int ret;

	ret = jr_open(&r, o, path, known, err);
	if (!ret)
		ret = jr_u64(&r, "vcpu_count", !patch, 1, VM_MAX_VCPUS,
			     &vcpus);
	/*
	 * As Firecracker: any size is taken here, and one this host or mvm
	 * cannot give is refused at InstanceStart, saying why (the host's
	 * memory may change meanwhile).
	 */
	if (ret >= 0)
		ret = jr_u64(&r, "mem_size_mib", !patch, SPEC_MIN_MEM_MIB,
			     UINT32_MAX, &mem);
	if (ret >= 0)
		ret = jr_bool(&r, "smt", false, &smt);
	if (ret >= 0)
		ret = jr_bool(&r, "track_dirty_pages", false, &dirty);
	if (ret >= 0)
		ret = jr_enum(&r, "huge_pages", false, gm_pages_names,
			      &hp);
	if (ret >= 0)
		ret = jr_enum(&r, "cpu_template", false, templates, &tmpl);
	if (ret >= 0)
		ret = jr_bool(&r, "nested_virt", false, &nested);
	if (ret < 0)
		return ret;
	/* Firecracker's rule and words: SMT pairs vCPUs into cores. */
	if (smt && vcpus > 1 && vcpus % 2)
		return jr_fail(&r, "vcpu_count", -EINVAL, "%llu with smt: The "
			       "number of vCPUs must be greater than 0, less "
			       "than %u and must be 1 or an even number if SMT "
			       "is enabled.", (unsigned long long)vcpus,
			       VM_MAX_VCPUS + 1);
	if (hp == GM_PAGES_HUGE_2M && mem % 2)
		return jr_fail(&r, "mem_size_mib", -EINVAL, "%llu MiB is not a "
			       "whole number of 2 MiB huge pages (huge_pages "
			       "\"2M\")", (unsigned long long)mem);
	if (tmpl == CPU_STATIC_COUNT)
		return jr_fail(&r, "cpu_template", -EINVAL, "\"V1N1\" is an "
			       "aarch64 template; this is an x86 host");
	s->vcpu_count = (unsigned)vcpus;
	s->mem_size_mib = mem;
	s->huge_pages = (enum gm_pages)hp;
	s->nested_virt = nested;
	s->smt = smt;
	/*
	 * As Firecracker: a template named here replaces any template, a
	 * custom one (PUT /cpu-config) included; "None" clears them.
	 */
	if (tmpl >= 0) {
		s->cpu_template = (enum cpu_static_template)tmpl;
		s->cpu_custom_set = false;
	}
	s->track_dirty_pages = dirty;
	return 0;
}
