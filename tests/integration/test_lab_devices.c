/*
 * mvm's virtio devices under real Linux drivers. The host running the
 * tests may have a KVM that cannot run stock kernels, so the default guest
 * runs under mvm inside the lab (tests/lab), which has a real one:
 * tests/lab/devices boots the lab once and runs devices.lab.sh there,
 * which prints one "ok - ..." or "not ok - ..." line per check. It boots
 * once, in main() before criterion starts the tests (as test_lab_linux.c
 * does), and each test then asserts its part of the checks by name, so a
 * check that silently stopped running fails too. If the lab cannot run,
 * every test fails saying NOT RUN and why.
 *
 * Environment (set by meson): MVM_BIN, MVM_BUILD_DIR, MVM_LAB_DEVICES (the
 * tests/lab/devices script), MVM_LAB ("disabled" when the build was
 * configured with -Dlab=disabled: nothing runs, every test says so and
 * skips). MVM_LAB_TIMEOUT=SECONDS replaces the lab's time budget (900 s)
 * on a host too busy for it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* main() names its log file here; the tests inherit it. */
#define LOG_ENV "MVM_LAB_DEVICES_LOG"

static bool lab_disabled(void)
{
	const char *mode = getenv("MVM_LAB");

	return mode && !strcmp(mode, "disabled");
}

static const char *env_or_null(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v) {
		fprintf(stderr, "test_lab_devices: %s is not set (run through "
				"meson test)\n", name);
		return NULL;
	}
	return v;
}

/*
 * Run tests/lab/devices, copying its output to our stdout and to the log
 * as it comes, and end the log with "LAB-RUN-STATUS <its exit status>".
 */
static void run_lab(void)
{
	const char *mvm = env_or_null("MVM_BIN");
	const char *build = env_or_null("MVM_BUILD_DIR");
	const char *script = env_or_null("MVM_LAB_DEVICES");
	const char *tmo = getenv("MVM_LAB_TIMEOUT");
	char dir[4096], path[4096 + 64], buf[4096];
	int pipefd[2], status = -1, fd;
	FILE *log;
	pid_t pid;
	ssize_t n;

	if (!build)
		return;
	snprintf(dir, sizeof(dir), "%s/lab", build);
	mkdir(build, 0755);
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/test_lab_devices.XXXXXX", dir);
	fd = mkstemp(path);
	log = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!log) {
		fprintf(stderr, "test_lab_devices: cannot write %s: %s\n", path,
			strerror(errno));
		return;
	}
	setenv(LOG_ENV, path, 1);
	if (!mvm || !script || pipe2(pipefd, O_CLOEXEC) < 0) {
		fprintf(log, "LAB-RUN-STATUS -1\n");
		fclose(log);
		return;
	}
	printf("test_lab_devices: booting the lab once for every test (%s "
	       "-B %s --mvm %s)\n", script, build, mvm);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		if (tmo && *tmo)
			execl(script, script, "-B", build, "--mvm", mvm,
			      "--timeout", tmo, (char *)NULL);
		else
			execl(script, script, "-B", build, "--mvm", mvm,
			      (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", script, strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	while (pid > 0 && (n = read(pipefd[0], buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		/* Flushed as it comes: a slow lab is watched while it runs. */
		fwrite(buf, 1, (size_t)n, stdout);
		fflush(stdout);
		fwrite(buf, 1, (size_t)n, log);
		fflush(log);
	}
	close(pipefd[0]);
	if (pid > 0 && waitpid(pid, &status, 0) == pid)
		status = WIFEXITED(status) ? WEXITSTATUS(status)
					   : 128 + WTERMSIG(status);
	fprintf(log, "\nLAB-RUN-STATUS %d\n", status);
	fclose(log);
}

/* Only a run of the tests needs the lab: not --help, not --list. */
static bool runs_tests(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--list") || !strcmp(argv[i], "-l"))
			return false;
	return true;
}

int main(int argc, char **argv)
{
	struct criterion_test_set *tests = criterion_initialize();
	const char *path;
	int ret = 0;

	if (criterion_handle_args(argc, argv, true)) {
		if (runs_tests(argc, argv) && !lab_disabled())
			run_lab();
		ret = !criterion_run_all_tests(tests);
	}
	criterion_finalize(tests);
	/* meson keeps only the end of long outputs: keep the whole log. */
	path = getenv(LOG_ENV);
	if (path) {
		char last[4096 + 64];

		snprintf(last, sizeof(last), "%s/lab/test_lab_devices.last.log",
			 getenv("MVM_BUILD_DIR"));
		if (rename(path, last) == 0)
			printf("test_lab_devices: the lab's whole log is in %s\n",
			       last);
		else
			unlink(path);
	}
	return ret;
}

/* The whole log, NUL-terminated (caller frees), or NULL. */
static char *read_log(void)
{
	const char *path = getenv(LOG_ENV);
	char *data = NULL;
	size_t len = 0, cap = 0;
	FILE *f;

	if (!path)
		return NULL;
	f = fopen(path, "r");
	if (!f)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			char *p = realloc(data, cap + 65536);

			if (!p)
				break;
			data = p;
			cap += 65536;
		}
		size_t got = fread(data + len, 1, cap - len - 1, f);

		if (got == 0)
			break;
		len += got;
	}
	fclose(f);
	if (data)
		data[len] = '\0';
	return data;
}

/* Does the log have the whole line "<prefix><desc>"? */
static bool has_line(const char *log, const char *prefix, const char *desc)
{
	size_t pl = strlen(prefix), dl = strlen(desc);

	for (const char *p = log; (p = strstr(p, prefix)); p++) {
		if ((p == log || p[-1] == '\n') && !strncmp(p + pl, desc, dl) &&
		    (p[pl + dl] == '\n' || p[pl + dl] == '\r' || !p[pl + dl]))
			return true;
	}
	return false;
}

/* The log's last lines, where the reason a lab stopped short shows. */
static const char *log_tail(const char *log, int lines)
{
	const char *tail = log + strlen(log);

	while (tail > log && lines > 0)
		if (*--tail == '\n')
			lines--;
	return tail;
}

/*
 * Assert that every check in want[] ran in the lab and passed; fail with
 * NOT RUN and the reason when the lab did not get to them.
 */
static void expect_checks(const char *area, const char *const *want,
			  size_t n)
{
	char *log;
	const char *st;
	int lab_status = -1;
	bool finished;

	if (lab_disabled()) {
		fprintf(stderr, "[NOTE] lab_devices NOT RUN: the build has "
			"-Dlab=disabled; %s under real Linux drivers went "
			"unchecked\n", area);
		cr_skip_test("-Dlab=disabled");
	}
	log = read_log();
	cr_assert(log, "NOT RUN: %s: no lab log (tests/lab/devices did not "
		  "start; see the messages above)", area);
	st = strstr(log, "\nLAB-RUN-STATUS ");
	if (st)
		lab_status = atoi(st + 16);
	finished = strstr(log, " passed, ") && strstr(log, " failed\n");
	for (size_t i = 0; i < n; i++) {
		if (has_line(log, "ok - ", want[i]))
			continue;
		if (has_line(log, "not ok - ", want[i])) {
			cr_expect_fail("%s: failed: %s", area, want[i]);
			continue;
		}
		if (!finished)
			cr_assert_fail("NOT RUN: %s: the lab stopped before "
				"\"%s\" (exit status %d: 124 timed out, 125 lab "
				"crashed, 2 bad setup, 127 could not start, -1 "
				"not started); end of its log:\n%s", area, want[i], lab_status,
				log_tail(log, 15));
		cr_expect_fail("%s: the check \"%s\" never ran", area, want[i]);
	}
	free(log);
}

#define EXPECT(area, list) \
	expect_checks(area, list, sizeof(list) / sizeof(list[0]))

Test(lab_devices, the_lab_ran_every_check)
{
	char *log;

	if (lab_disabled()) {
		fprintf(stderr, "[NOTE] lab_devices NOT RUN: the build has "
			"-Dlab=disabled; the lab run went unchecked\n");
		cr_skip_test("-Dlab=disabled");
	}
	log = read_log();
	cr_assert(log, "NOT RUN: no lab log (tests/lab/devices did not start)");
	if (!strstr(log, " passed, ") || !strstr(log, " failed\n"))
		cr_assert_fail("NOT RUN: the lab script did not finish; end of "
			       "its log:\n%s", log_tail(log, 15));
	cr_expect(strstr(log, " passed, 0 failed\n"), "the lab script did not "
		  "end with \"N passed, 0 failed\"; end of its log:\n%s",
		  log_tail(log, 15));
	cr_expect_null(strstr(log, "\nnot ok - "), "a lab check failed (see "
		       "the log above)");
	cr_expect(strstr(log, "\nLAB-RUN-STATUS 0\n"), "tests/lab/devices did "
		  "not end with status 0");
	free(log);
}

Test(lab_devices, disks_keep_their_files_across_a_reboot)
{
	static const char *const want[] = {
		"L2 booted with the disks, NICs and rng attached",
		"L2 sees vda, vdb, vdc and vdd",
		"vda and vdb are 64 MiB and writable",
		"vda: mkfs.ext2 and mount",
		"vdb: mkfs.ext2 and mount",
		"vda and vdb: files written (checksums printed)",
		"sync returned",
		"mvm restarted L2 after its reboot (--on-reboot restart)",
		"vda mounts again after the reboot",
		"vdb mounts again after the reboot",
		"vda's file after the reboot: checksum matches",
		"vdb's file after the reboot: checksum matches",
		"L2's second boot ended cleanly; mvm exited 0",
		"vda's image, mounted in the lab: the file's checksum matches",
		"vdb's image, mounted in the lab: the file's checksum matches",
	};

	EXPECT("disks", want);
}

Test(lab_devices, a_readonly_disk_mounts_read_only)
{
	static const char *const want[] = {
		"the lab made the read-only disk's filesystem (loop mount)",
		"vdc (readonly=on) is a read-only disk",
		"vdc mounts read-only",
		"vdc's file reads back as the lab wrote it",
		"vdc: writing a file fails",
		"vdc: writing the block device fails",
		"vdc's image is unchanged",
	};

	EXPECT("read-only disk", want);
}

Test(lab_devices, net_pings_and_moves_100_mib_each_way)
{
	static const char *const want[] = {
		"eth0 is up",
		"eth0 has its address",
		"L2 pings the lab's end of the tap",
		"100 MiB from the lab to L2: all bytes",
		"100 MiB from the lab to L2: checksum matches",
		"100 MiB from L2 to the lab: all bytes",
		"100 MiB from L2 to the lab: checksum matches",
	};

	EXPECT("network", want);
}

Test(lab_devices, a_macvlan_gets_out_only_with_mac_spoofing_on)
{
	static const char *const want[] = {
		"macvlan with its own MAC behind mac_spoofing=off: no ping",
		"macvlan with its own MAC behind mac_spoofing=on: ping",
		"mac_spoofing=off: the NIC's own MAC still gets through",
		"mac_spoofing=off: the lab never heard from the macvlan's MAC",
		"mac_spoofing=on: the lab heard from the macvlan's MAC on its "
		"tap",
		"mac_spoofing=off: mvm says it dropped the macvlan's frames",
		"mac_spoofing=on: mvm dropped nothing",
	};

	EXPECT("mac spoofing", want);
}

Test(lab_devices, hwrng_gives_data)
{
	static const char *const want[] = {
		"hwrng: virtio_rng is the current source",
		"hwrng: two reads of 64 bytes",
		"hwrng: data, not zeros, and not the same twice",
	};

	EXPECT("entropy", want);
}
