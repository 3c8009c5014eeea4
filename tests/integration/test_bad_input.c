/*
 * Every bad input gets one line on stderr naming the culprit and exit
 * status 1 (nothing ran), never a crash or a hang.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static void expect_refusal(const char *const *argv, const char *culprit,
			   const char *why)
{
	struct mvm_result r;

	cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	cr_assert_not(r.timed_out, "hung");
	cr_assert_eq(r.status, 1, "status %d; stderr: %s", r.status, r.err);
	cr_assert(strstr(r.err, culprit), "stderr does not name '%s': %s",
		  culprit, r.err);
	if (why)
		cr_assert(strstr(r.err, why), "stderr lacks '%s': %s", why,
			  r.err);
	cr_assert_eq(count_str(r.err, "\n"), 1, "not one line: %s", r.err);
	cr_assert_str_eq(r.out, "", "the guest ran: %s", r.out);
	mvm_result_free(&r);
}

#define RUN(...) ((const char *[]){ "run", __VA_ARGS__, NULL })

Test(bad_input, missing_kernel_file)
{
	expect_refusal(RUN("--kernel", "/nonexistent/vmlinuz"),
		       "/nonexistent/vmlinuz", "No such file");
}

Test(bad_input, kernel_is_a_directory)
{
	expect_refusal(RUN("--kernel", "/tmp"), "kernel /tmp",
		       "not a regular file");
}

Test(bad_input, empty_kernel)
{
	char *k = temp_file("empty", "", 0);

	expect_refusal(RUN("--kernel", k), k, "empty");
	unlink(k);
	free(k);
}

Test(bad_input, not_a_kernel)
{
	char junk[8192];
	char *k;

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 13 + 1);
	k = temp_file("junk", junk, sizeof(junk));
	expect_refusal(RUN("--kernel", k), k, "not a bootable kernel");
	unlink(k);
	free(k);
}

static char *truncated_copy(const char *src, size_t keep)
{
	char *buf = malloc(keep);
	FILE *f = fopen(src, "rb");
	size_t got;
	char *path;

	cr_assert_not_null(f, "cannot open %s", src);
	got = fread(buf, 1, keep, f);
	fclose(f);
	cr_assert_eq(got, keep, "%s is smaller than %zu", src, keep);
	path = temp_file("trunc", buf, keep);
	free(buf);
	return path;
}

Test(bad_input, truncated_bzimage)
{
	char *k = truncated_copy(guest_path("bz_check"), 1024);

	expect_refusal(RUN("--kernel", k), k, "truncated");
	unlink(k);
	free(k);
}

Test(bad_input, truncated_multiboot_elf)
{
	char *k = truncated_copy(guest_path("mb_check"), 200);

	expect_refusal(RUN("--kernel", k), k, NULL);
	unlink(k);
	free(k);
}

Test(bad_input, missing_initrd)
{
	expect_refusal(RUN("--kernel", guest_path("mb_check"), "--initrd",
			   "/nonexistent/initrd"),
		       "initrd /nonexistent/initrd", "No such file");
}

Test(bad_input, initrd_that_does_not_fit)
{
	static char big[40 << 20];
	char *i = temp_file("bigrd", big, sizeof(big));

	expect_refusal(RUN("--kernel", guest_path("mb_check"), "--initrd", i,
			   "--memory", "32"),
		       "initrd", "does not fit");
	expect_refusal(RUN("--kernel", guest_path("bz_check"), "--initrd", i,
			   "--memory", "32"),
		       "initrd", "does not fit");
	unlink(i);
	free(i);
}

Test(bad_input, memory_zero)
{
	expect_refusal(RUN("--kernel", guest_path("mb_check"), "--memory", "0"),
		       "memory", NULL);
}

Test(bad_input, memory_more_than_the_host)
{
	expect_refusal(RUN("--kernel", guest_path("mb_check"), "--memory",
			   "100000000"),
		       "memory", "more than this host has");
}

Test(bad_input, memory_not_a_number)
{
	expect_refusal(RUN("--kernel", guest_path("mb_check"), "--memory",
			   "lots"),
		       "--memory", NULL);
}

Test(bad_input, cpus_zero)
{
	expect_refusal(RUN("--kernel", guest_path("mb_check"), "--cpus", "0"),
		       "cpus", NULL);
}

/* One limit and one message, whatever the number. */
Test(bad_input, cpus_more_than_mvm_supports)
{
	const char *const many[] = { "255", "5000", "65000", "70000",
				     "99999999999999999999999" };

	for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++)
		expect_refusal(RUN("--kernel", guest_path("mb_check"),
				   "--cpus", many[i]),
			       "--cpus", "is too large (at most 254)");
}

Test(bad_input, cmdline_not_utf8)
{
	expect_refusal(RUN("--kernel", guest_path("mb_check"), "--cmdline",
			   "console=ttyS0 x=\xff\xfe"),
		       "--cmdline", "not valid UTF-8");
}

/* TUNSETIFF says EINVAL for an interface that exists and is no tap. */
Test(bad_input, net_on_an_interface_that_is_no_tap)
{
	if (access("/dev/net/tun", R_OK | W_OK) != 0)
		cr_skip_test("no /dev/net/tun here: not run");
	expect_refusal(RUN("--kernel", guest_path("mb_check"), "--net",
			   "tap=lo"),
		       "tap lo", "lo is an existing interface that is not a "
		       "tap device");
}

Test(bad_input, host_check_unknown_option)
{
	expect_refusal((const char *[]){ "host-check", "--bogus", NULL },
		       "--bogus", "mvm host-check: unknown option");
}

Test(bad_input, cmdline_too_long_for_mvm)
{
	static char cl[70000];

	memset(cl, 'a', sizeof(cl) - 1);
	expect_refusal(RUN("--kernel", guest_path("mb_check"), "--cmdline", cl),
		       "cmdline", "limit");
}

Test(bad_input, cmdline_too_long_for_the_bzimage)
{
	static char cl[5000];

	/* bz_check declares a cmdline_size of 2048, as Linux does. */
	memset(cl, 'b', sizeof(cl) - 1);
	expect_refusal(RUN("--kernel", guest_path("bz_check"), "--cmdline", cl),
		       "cmdline", "limit");
}

Test(bad_input, unknown_option_and_command)
{
	expect_refusal(RUN("--kernel", "x", "--frobnicate"), "--frobnicate",
		       NULL);
	expect_refusal((const char *[]){ "fly", NULL }, "fly", NULL);
}

static void hide_dev_kvm(void)
{
	/* A private mount namespace where /dev is an empty tmpfs. */
	if (unshare(CLONE_NEWNS) == 0 &&
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)
		mount("tmpfs", "/dev", "tmpfs", 0, "size=64k");
}

Test(bad_input, dev_kvm_missing)
{
	struct mvm_opts o = { .child_setup = hide_dev_kvm };
	struct mvm_result r;
	const char *argv[] = { "run", "--kernel", guest_path("mb_check"),
			       NULL };

	if (geteuid() != 0) {
		cr_skip_test("needs root for a mount namespace: not run");
	}
	cr_assert_eq(mvm_launch(argv, &o, &r), 0);
	cr_assert_eq(r.status, 1, "status %d: %s", r.status, r.err);
	cr_assert(strstr(r.err, "/dev/kvm: not found"), "%s", r.err);
	mvm_result_free(&r);
}

static void become_nobody(void)
{
	if (setgid(65534) || setuid(65534))
		_exit(99);
}

/*
 * Whether user nobody can run the mvm binary and read the kernel: a build
 * tree under a directory closed to other users (mktemp -d gives 0700)
 * makes the case meaningless, so it says so instead of failing on exec.
 */
static bool nobody_reaches(const char *kernel)
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		_exit(access(mvm_bin(), X_OK) == 0 &&
		      access(kernel, R_OK) == 0 ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return false;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

Test(bad_input, dev_kvm_not_permitted)
{
	struct mvm_opts o = { .child_setup = become_nobody };
	struct mvm_result r;
	char *k;
	FILE *src = fopen(guest_path("mb_check"), "rb");
	static char buf[1 << 20];
	size_t n;

	cr_assert_not_null(src);
	n = fread(buf, 1, sizeof(buf), src);
	fclose(src);
	k = temp_file("nobody", buf, n);
	chmod(k, 0644);
	if (geteuid() != 0 || access("/dev/kvm", R_OK | W_OK) != 0) {
		unlink(k);
		free(k);
		cr_skip_test("needs root to drop to an unprivileged user: not run");
	}
	/* Only meaningful when /dev/kvm is closed to other users. */
	if (faccessat(AT_FDCWD, "/dev/kvm", R_OK | W_OK, AT_EACCESS) == 0) {
		struct stat st;

		stat("/dev/kvm", &st);
		if (st.st_mode & 0006) {
			unlink(k);
			free(k);
			cr_skip_test("/dev/kvm is open to every user here: not run");
		}
	}
	if (!nobody_reaches(k)) {
		fprintf(stderr, "dev_kvm_not_permitted: not run: user nobody "
				"cannot run %s (a parent directory is closed "
				"to other users)\n", mvm_bin());
		unlink(k);
		free(k);
		cr_skip_test("user nobody cannot run mvm here: not run");
	}
	const char *argv[] = { "run", "--kernel", k, NULL };
	cr_assert_eq(mvm_launch(argv, &o, &r), 0);
	cr_assert_eq(r.status, 1, "status %d: %s", r.status, r.err);
	cr_assert(strstr(r.err, "/dev/kvm: permission denied"), "%s", r.err);
	unlink(k);
	free(k);
	mvm_result_free(&r);
}
