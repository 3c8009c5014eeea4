/*
 * What backs guest RAM (--huge-pages, the API's huge_pages): each choice
 * boots the checking kernel, 2M really takes hugetlbfs pages from the
 * host's pool, and a pool too small or a size that is no whole number of
 * huge pages is a clear error before the guest runs. The 2M tests need
 * root to grow the pool (/proc/sys/vm/nr_hugepages); they put it back.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define GUEST_PASS 1
#define POOL "/proc/sys/vm/nr_hugepages"

static long read_long(const char *path, const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!key) {
			v = atol(line);
			break;
		}
		if (!strncmp(line, key, strlen(key))) {
			v = atol(line + strlen(key));
			break;
		}
	}
	fclose(f);
	return v;
}

static bool write_pool(long pages)
{
	FILE *f = fopen(POOL, "w");
	bool ok;

	if (!f)
		return false;
	ok = fprintf(f, "%ld\n", pages) > 0;
	return fclose(f) == 0 && ok;
}

static long pool_before = -1;

/* Grow the pool by pages, or skip the test saying why. */
static void grow_pool(long pages)
{
	long free_pages;

	pool_before = read_long(POOL, NULL);
	if (pool_before < 0 || !write_pool(pool_before + pages)) {
		fprintf(stderr, "[NOTE] memory: 2M huge page test NOT RUN: "
			"cannot grow %s (%s); it needs root and hugetlbfs\n",
			POOL, strerror(errno));
		pool_before = -1;
		cr_skip_test("no hugetlbfs pool");
	}
	free_pages = read_long("/proc/meminfo", "HugePages_Free:");
	if (free_pages < pages) {
		fprintf(stderr, "[NOTE] memory: 2M huge page test NOT RUN: "
			"asked the pool for %ld more pages, %ld are free\n",
			pages, free_pages);
		cr_skip_test("the host gave too few huge pages");
	}
}

static void restore_pool(void)
{
	if (pool_before >= 0)
		write_pool(pool_before);
	pool_before = -1;
}

static void boot_checker(const char *pages)
{
	struct mvm_result r;
	int launched;
	const char *argv[] = { "run", "--kernel", guest_path("mb_check"),
			       "--cmdline", "mem=64 memtol=385 cpus=2 tag=hello",
			       "--cpus", "2", "--memory", "64",
			       "--huge-pages", pages, NULL };

	launched = mvm_launch(argv, NULL, &r);
	cr_assert_eq(launched, 0);
	cr_assert_eq(r.status, GUEST_PASS, "--huge-pages %s: exit %d\n"
		     "console:\n%s\nstderr:\n%s", pages, r.status, r.out, r.err);
	cr_assert(strstr(r.out, "ALL OK"), "console:\n%s", r.out);
	mvm_result_free(&r);
}

Test(memory, small_pages_boot_the_checking_kernel)
{
	boot_checker("none");
}

Test(memory, transparent_huge_pages_boot_the_checking_kernel)
{
	boot_checker("transparent");
}

/* Huge pages free and not promised to a mapping: what others can take. */
static long pool_available(void)
{
	return read_long("/proc/meminfo", "HugePages_Free:") -
	       read_long("/proc/meminfo", "HugePages_Rsvd:");
}

/* 64 MiB of guest RAM runs on 32 pages of the pool. */
static void check_pages_taken(void)
{
	int out[2];
	char buf[4096] = "";
	size_t len = 0;
	long before, during;
	pid_t pid;
	time_t end = time(NULL) + 20;

	before = pool_available();
	cr_assert_eq(pipe(out), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(out[1], 1);
		execl(mvm_bin(), mvm_bin(), "run", "--kernel",
		      guest_path("mb_action"), "--cmdline", "action=hang",
		      "--memory", "64", "--huge-pages", "2M", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	while (!strstr(buf, "hanging") && len < sizeof(buf) - 1 &&
	       time(NULL) < end) {
		ssize_t n = read(out[0], buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	during = pool_available();
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(out[0]);
	cr_assert(strstr(buf, "hanging"), "the guest never ran: %s", buf);
	/* Taken or reserved: each of the 32 pages of 64 MiB is the VM's. */
	cr_assert_eq(before - during, 32, "mvm took %ld huge pages from the "
		     "pool, not the 32 of its 64 MiB", before - during);
}

/* A VM larger than what is free in the pool does not start. */
static void check_pool_too_small(void)
{
	struct mvm_result r;
	char mem[32];
	long free_pages = pool_available();

	/* Four pages more than the pool has free. */
	snprintf(mem, sizeof(mem), "%ld", (free_pages + 4) * 2);
	const char *argv[] = { "run", "--kernel", guest_path("mb_action"),
			       "--cmdline", "action=poweroff", "--memory", mem,
			       "--huge-pages", "2M", NULL };

	cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	cr_assert_neq(r.status, 0, "mvm ran on a pool too small");
	cr_assert(strstr(r.err, "of 2 MiB huge pages"), "stderr: %s", r.err);
	cr_assert(strstr(r.err, "nr_hugepages"), "stderr: %s", r.err);
	cr_assert_eq(count_str(r.err, "\n"), 1, "one line: %s", r.err);
	mvm_result_free(&r);
}

/*
 * The host's pool is one for all tests, and criterion runs tests side by
 * side: every check that needs the pool runs here, one after another.
 */
Test(memory, hugetlbfs_2m_pages_from_the_hosts_pool, .fini = restore_pool)
{
	grow_pool(32);
	boot_checker("2M");
	check_pages_taken();
	check_pool_too_small();
}

Test(memory, odd_sizes_are_refused_for_2m_pages)
{
	struct mvm_result r;
	const char *argv[] = { "run", "--kernel", guest_path("mb_action"),
			       "--cmdline", "action=poweroff", "--memory", "33",
			       "--huge-pages", "2M", NULL };

	cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	cr_assert_neq(r.status, 0);
	cr_assert(strstr(r.err, "not a whole number of 2 MiB huge pages"),
		  "stderr: %s", r.err);
	mvm_result_free(&r);
}
