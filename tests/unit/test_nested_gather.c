/*
 * The fact-gathering layer against a fake sysfs tree in a temp dir, and
 * once against the real host just to see that it runs.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/nested.h"

struct tree {
	char root[PATH_MAX];
};

static void mkpath(struct tree *t, const char *rel)
{
	char path[PATH_MAX * 2];
	char *p;

	snprintf(path, sizeof(path), "%s/%s", t->root, rel);
	for (p = path + strlen(t->root) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	mkdir(path, 0755);
}

static void put(struct tree *t, const char *rel, const char *text)
{
	char path[PATH_MAX * 2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->root, rel);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

static void tree_init(struct tree *t)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(t->root, sizeof(t->root), "%s/mvm-sysfs-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	cr_assert_not_null(mkdtemp(t->root));
}

static void tree_rm(struct tree *t)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->root);
	cr_assert_eq(system(cmd), 0);
}

Test(nested_gather, fake_intel_tree_without_kvm_device)
{
	struct tree t;
	struct host_facts f;
	struct mvm_err err;
	char dev[PATH_MAX + 16];

	tree_init(&t);
	mkpath(&t, "module/kvm/parameters");
	mkpath(&t, "module/kvm_intel/parameters");
	put(&t, "module/kvm_intel/parameters/nested", "N\n");
	put(&t, "module/kvm_intel/parameters/ept", "Y\n");
	snprintf(dev, sizeof(dev), "%s/no-such-kvm", t.root);

	cr_assert_eq(nested_facts_gather(&f, t.root, dev, &err), 0, "%s",
		     err.msg);
	cr_assert(f.mod_kvm);
	cr_assert(f.mod_intel);
	cr_assert_not(f.mod_amd);
	cr_assert_not(f.mod_pvm);
	cr_assert(f.intel_nested.present);
	cr_assert_str_eq(f.intel_nested.raw, "N");
	cr_assert_str_eq(f.intel_ept.raw, "Y");
	cr_assert_not(f.amd_nested.present);
	cr_assert_eq(f.kvm_open_errno, ENOENT);
	cr_assert_str_not_empty(f.vendor_id, "host CPUID gives a vendor");
	tree_rm(&t);
}

Test(nested_gather, fake_amd_tree_with_a_plain_file_as_kvm)
{
	struct tree t;
	struct host_probe p;
	struct mvm_err err;
	char dev[PATH_MAX + 16];

	tree_init(&t);
	mkpath(&t, "module/kvm_amd/parameters");
	put(&t, "module/kvm_amd/parameters/nested", "1\n");
	put(&t, "module/kvm_amd/parameters/npt", "0\n");
	put(&t, "kvm", "not a device\n");
	snprintf(dev, sizeof(dev), "%s/kvm", t.root);

	cr_assert_eq(nested_probe_host_at(&p, t.root, dev, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(p.facts.kvm_open_errno, 0);
	cr_assert_eq(p.facts.kvm_api_errno, ENOTTY);
	cr_assert_eq(p.kvm_module, HOST_KVM_MOD_AMD);
	cr_assert_not(p.checks[HOST_CHECK_KVM_DEVICE].ok);
	cr_assert(p.checks[HOST_CHECK_NESTED_PARAM].ok);
	cr_assert_not(p.checks[HOST_CHECK_EPT_NPT].ok);
	cr_assert_not(p.nested_supported);
	tree_rm(&t);
}

Test(nested_gather, fake_pvm_tree)
{
	struct tree t;
	struct host_facts f;
	char dev[PATH_MAX + 16];

	tree_init(&t);
	mkpath(&t, "module/kvm/parameters");
	mkpath(&t, "module/kvm_pvm/parameters");
	snprintf(dev, sizeof(dev), "%s/absent", t.root);
	cr_assert_eq(nested_facts_gather(&f, t.root, dev, NULL), 0);
	cr_assert(f.mod_pvm);
	cr_assert_not(f.amd_nested.present);
	tree_rm(&t);
}

Test(nested_gather, missing_sysfs_means_the_probe_cannot_run)
{
	struct tree t;
	struct host_probe p;
	struct mvm_err err;

	tree_init(&t);
	cr_assert_eq(nested_probe_host_at(&p, t.root, "/nonexistent", &err),
		     -ENOENT);
	cr_assert_not_null(strstr(err.msg, "/module"));
	tree_rm(&t);
}

Test(nested_gather, real_host_probe_runs)
{
	struct host_probe p;
	struct mvm_err err;

	/* Whatever this host is, the probe must run and explain itself. */
	cr_assert_eq(nested_probe_host(&p, &err), 0, "%s", err.msg);
	cr_assert_str_not_empty(p.checks[HOST_CHECK_KVM_DEVICE].reason);
	cr_assert_str_not_empty(p.stock_kernels_reason);
}
