/*
 * Stock Linux under mvm on a real KVM. The host running the tests may have
 * a KVM that cannot run stock kernels, so mvm boots the default guest
 * (Debian's cloud kernel, guest/) inside the lab (tests/lab), which has a
 * real one. Booting the lab costs more than any check, so it boots once,
 * in main() before criterion starts the tests (criterion's sandbox spawns
 * its workers badly after a long hook), and runs every case of
 * tests/lab/linux.lab.sh; each test then judges its case from that run's
 * log. If the lab cannot run, every test fails saying so: the lab is
 * installable wherever the tests run (lab-run installs QEMU, the guest
 * comes from Debian's archive).
 *
 * Environment (set by meson): MVM_BIN, MVM_BUILD_DIR, MVM_LAB_LINUX
 * (tests/lab/linux, which runs lab-run with linux.lab.sh), MVM_LAB
 * ("disabled" when the build was configured with -Dlab=disabled: nothing
 * runs, every test says so and skips).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab_once.h"

#define PROG "test_lab_linux"
/* main() names its log file here; the tests inherit it. */
#define LOG_ENV "MVM_LAB_LOG"
/* The lab may be slow (TCG, a loaded machine): lab-run's own limit. */
#define LAB_TIMEOUT "1500"

/* tests/lab/linux -B BUILD --mvm MVM --timeout T */
static void run_lab(void)
{
	const char *mvm = lab_env(PROG, "MVM_BIN");
	const char *build = lab_env(PROG, "MVM_BUILD_DIR");
	const char *wrapper = lab_env(PROG, "MVM_LAB_LINUX");
	char *argv[] = { (char *)wrapper, "-B", (char *)build, "--mvm",
			 (char *)mvm, "--timeout", LAB_TIMEOUT, NULL };

	lab_once_run(PROG, LOG_ENV, mvm && build && wrapper ? argv : NULL);
}

int main(int argc, char **argv)
{
	return lab_once_main(argc, argv, PROG, LOG_ENV, run_lab);
}

static char *read_log(void)
{
	return lab_once_log(LOG_ENV);
}

struct lab_case {
	char *log;        /* the whole log */
	const char *text; /* this case's lines, inside log */
	size_t len;
	int status;       /* mvm's exit status */
	double seconds;
	long epoch;       /* the lab's clock when the case ended */
};

/* With -Dlab=disabled: say plainly what this test did not check, skip. */
static void skip_if_disabled(const char *what)
{
	if (!lab_disabled())
		return;
	fprintf(stderr, "[NOTE] lab_linux NOT RUN: the build has -Dlab=disabled;"
		" %s went unchecked\n", what);
	cr_skip_test("-Dlab=disabled");
}

/*
 * Find case NAME in the lab's log, or fail the test saying plainly what
 * did not run and why.
 */
static void get_case(const char *name, struct lab_case *c)
{
	char begin[128], end[128];
	const char *b, *e, *st;
	int lab_status = -1;

	memset(c, 0, sizeof(*c));
	if (lab_disabled()) {
		char what[160];

		snprintf(what, sizeof(what), "the lab case %s", name);
		skip_if_disabled(what);
	}
	c->log = read_log();
	if (!c->log)
		cr_assert_fail("NOT RUN: %s: the lab's log is missing (lab-run "
			       "did not run; see the messages above)", name);
	st = strstr(c->log, "\nLAB-RUN-STATUS ");
	if (st)
		lab_status = atoi(st + 16);
	snprintf(begin, sizeof(begin), "CASE-BEGIN %s\n", name);
	snprintf(end, sizeof(end), "CASE-END %s status=", name);
	b = strstr(c->log, begin);
	e = b ? strstr(b, end) : NULL;
	if (!b || !e) {
		const char *tail = c->log + strlen(c->log);
		int lines = 0;

		/* Quote the end of the log: why the lab stopped short. */
		while (tail > c->log && lines < 12)
			if (*--tail == '\n')
				lines++;
		cr_assert_fail("NOT RUN: case %s: the lab %s (lab-run exit status %d: "
			"124 timed out, 125 lab crashed, 1 could not set up the "
			"lab or the guest, -1 not started); end of its log:\n%s",
			name, b ? "stopped during this case" :
			"never reached this case", lab_status, tail);
	}
	c->text = b;
	c->len = strchr(e, '\n') ? (size_t)(strchr(e, '\n') - b) : strlen(b);
	if (sscanf(e + strlen(end), "%d seconds=%lf epoch=%ld", &c->status,
		   &c->seconds, &c->epoch) != 3)
		cr_assert_fail("case %s: unreadable end line", name);
	cr_log_info("case %s: mvm exit status %d after %.1f s in the lab", name,
		    c->status, c->seconds);
}

/* Does the case have the line "NAME<sep> <text>" (whole line)? */
static bool has_line(const struct lab_case *c, const char *name, char sep,
		     const char *text)
{
	char want[1024];
	size_t wl;

	wl = (size_t)snprintf(want, sizeof(want), "\n%s%c %s\n", name, sep,
			      text);
	for (const char *p = c->text; p && p < c->text + c->len;
	     p = strchr(p + 1, '\n')) {
		if ((size_t)(c->text + c->len + 1 - p) >= wl &&
		    strncmp(p, want, wl) == 0)
			return true;
	}
	return false;
}

/* Lines of the case holding text anywhere in them (console: sep '|'). */
static int count_in(const struct lab_case *c, const char *name, char sep,
		    const char *text)
{
	char prefix[128];
	int n = 0;

	snprintf(prefix, sizeof(prefix), "\n%s%c ", name, sep);
	for (const char *p = strstr(c->text, prefix);
	     p && p < c->text + c->len; p = strstr(p + 1, prefix)) {
		const char *eol = strchr(p + 1, '\n');
		const char *hit = strstr(p, text);

		if (hit && (!eol || hit < eol))
			n++;
	}
	return n;
}

/* The rest of the first console line starting with text, or NULL. */
static const char *value_of(const struct lab_case *c, const char *name,
			    const char *text, char *buf, size_t len)
{
	char want[256];
	const char *p, *eol;

	snprintf(want, sizeof(want), "\n%s| %s", name, text);
	p = strstr(c->text, want);
	if (!p || p >= c->text + c->len)
		return NULL;
	p += strlen(want);
	eol = strchr(p, '\n');
	snprintf(buf, len, "%.*s", (int)(eol ? eol - p : (long)strlen(p)), p);
	return buf;
}

static void case_free(struct lab_case *c)
{
	free(c->log);
}

/*
 * A guest that prints its CPU count and command line (console=ttyS0 quiet
 * mvm.cmd=nproc mvm.case=NAME, then extra), then powers off.
 */
static void check_nproc_case(const char *name, int cpus, const char *extra)
{
	struct lab_case c;
	char want[256];

	get_case(name, &c);
	cr_expect(has_line(&c, name, '|', "MVM-GUEST-READY"),
		  "%s: the guest never reached /init's MVM-GUEST-READY", name);
	snprintf(want, sizeof(want), "NPROC=%d", cpus);
	cr_expect(has_line(&c, name, '|', want),
		  "%s: the guest did not print %s", name, want);
	snprintf(want, sizeof(want),
		 "CMDLINE=console=ttyS0 quiet mvm.cmd=nproc mvm.case=%s%s", name,
		 extra);
	cr_expect(has_line(&c, name, '|', want),
		  "%s: the guest did not read back its command line (%s)", name,
		  want);
	/* Linux's rtc_cmos found mvm's RTC, which keeps the lab's time. */
	if (!value_of(&c, name, "RTC=", want, sizeof(want))) {
		cr_expect_fail("%s: the guest printed no RTC= line", name);
	} else {
		/* "<driver> <device> <seconds>": "rtc_cmos rtc_cmos 17..." */
		const char *last = strrchr(want, ' ');
		long t = last ? atol(last + 1) : 0;

		cr_expect(!strncmp(want, "rtc_cmos ", 9),
			  "%s: the guest's rtc0 is \"%s\", not rtc_cmos", name,
			  want);
		cr_expect(t <= c.epoch + 2 && t >= c.epoch - (long)c.seconds - 5,
			  "%s: the guest's RTC read %ld, the lab's clock %ld at "
			  "the end of the %.0f s case", name, t, c.epoch,
			  c.seconds);
	}
	cr_expect_eq(count_in(&c, name, '|', "reboot: Power down"), 1,
		     "%s: the guest did not power off through ACPI", name);
	cr_expect_eq(count_in(&c, name, '!', ""), 0,
		     "%s: mvm printed messages on stderr", name);
	cr_expect_eq(c.status, 0, "%s: mvm exit status %d, not 0", name,
		     c.status);
	case_free(&c);
}

Test(lab_linux, the_lab_ran_every_case)
{
	char *log;

	skip_if_disabled("the lab run");
	log = read_log();
	cr_assert(log, "NOT RUN: no lab log (lab-run did not start)");
	cr_expect(strstr(log, "\nLAB-LINUX-DONE\n"),
		  "the lab script did not finish; see the log above");
	cr_expect(strstr(log, "\nLAB-RUN-STATUS 0\n"),
		  "lab-run did not end with status 0");
	free(log);
}

Test(lab_linux, bzimage_with_1_vcpu)
{
	check_nproc_case("smp1", 1, "");
}

Test(lab_linux, bzimage_with_2_vcpus)
{
	check_nproc_case("smp2", 2, "");
}

Test(lab_linux, bzimage_with_4_vcpus)
{
	check_nproc_case("smp4", 4, "");
}

Test(lab_linux, elf_vmlinux_through_pvh_with_2_vcpus)
{
	check_nproc_case("pvh", 2, "");
}

Test(lab_linux, bzimage_unpacked_by_mvm_with_nokaslr)
{
	struct lab_case c;

	check_nproc_case("unpacked", 2, " nokaslr");
	get_case("unpacked", &c);
	cr_expect_eq(count_in(&c, "unpacked", '#',
			      "kernel: bzImage, its vmlinux unpacked by mvm"), 1,
		  "unpacked: mvm's log does not say it unpacked the kernel");
	case_free(&c);
}

Test(lab_linux, reboot_with_on_reboot_restart_boots_again)
{
	struct lab_case c;

	get_case("restart", &c);
	cr_expect_geq(count_in(&c, "restart", '|', "MVM-GUEST-READY"), 2,
		      "the guest did not boot a second time after its reboot");
	cr_expect_geq(count_in(&c, "restart", '!',
			       "mvm: guest rebooted; restarting"), 1,
		      "mvm did not say it restarts the guest");
	/* The case stops mvm with SIGTERM once the second boot is seen. */
	cr_expect_eq(c.status, 128 + 15,
		     "mvm exit status %d: not 143 (SIGTERM while restarting)",
		     c.status);
	case_free(&c);
}

Test(lab_linux, guest_panic_ends_mvm_with_status_2)
{
	struct lab_case c;

	get_case("panic", &c);
	cr_expect(has_line(&c, "panic", '|', "MVM-GUEST-READY"),
		  "the guest never reached /init");
	cr_expect_eq(count_in(&c, "panic", '|',
			      "Kernel panic - not syncing: sysrq triggered "
			      "crash"), 1, "no panic text on the console");
	cr_expect(has_line(&c, "panic", '!',
			   "mvm: guest kernel panicked (reported through "
			   "pvpanic)"),
		  "mvm did not say the guest panicked");
	cr_expect_eq(count_in(&c, "panic", '!', ""), 1,
		     "mvm printed more than one line on stderr");
	cr_expect_eq(count_in(&c, "panic", '|', "MVM-GUEST-READY"), 1,
		     "the guest rebooted after its panic (panic=-1) and mvm "
		     "let it");
	cr_expect_eq(c.status, 2, "mvm exit status %d, not 2 (guest crash)",
		     c.status);
	case_free(&c);
}

/* ---- the snapshot case --------------------------------------------- */

/* The value of the case's line "CASE: KEY=VALUE", or NULL. */
static const char *case_fact(const struct lab_case *c, const char *name,
			     const char *key, char *buf, size_t len)
{
	char want[128];
	const char *p, *eol;

	snprintf(want, sizeof(want), "\n%s: %s=", name, key);
	p = strstr(c->text, want);
	if (!p || p >= c->text + c->len) {
		snprintf(buf, len, "(none)");
		return NULL;
	}
	p += strlen(want);
	eol = strchr(p, '\n');
	snprintf(buf, len, "%.*s", (int)(eol ? eol - p : (long)strlen(p)), p);
	return buf;
}

static const char *snap_fact(const struct lab_case *c, const char *key,
			     char *buf, size_t len)
{
	return case_fact(c, "snapshot", key, buf, len);
}

static void expect_fact(const struct lab_case *c, const char *key,
			const char *want)
{
	char got[256];

	snap_fact(c, key, got, sizeof(got));
	cr_expect_str_eq(got, want, "snapshot: %s is \"%s\", not \"%s\"", key,
			 got, want);
}

static long snap_num(const struct lab_case *c, const char *key)
{
	char v[64];

	if (!snap_fact(c, key, v, sizeof(v)))
		cr_assert_fail("snapshot: no %s fact in the lab's log", key);
	return atol(v);
}

#define MAX_WORK 256

/* The workload's complete lines on one mvm's console. */
struct work_lines {
	unsigned nr;
	long pid[MAX_WORK];
	long n[MAX_WORK];
};

/*
 * "WORK pid=P n=N sum=<32 hex digits>" ending a console line of mvm X
 * ("snap-X| "), wherever the line starts (the shell's prompt may come
 * first); a line the pause cut short is left out.
 */
static void work_of(const struct lab_case *c, char x, struct work_lines *w)
{
	char prefix[16];

	memset(w, 0, sizeof(*w));
	snprintf(prefix, sizeof(prefix), "\nsnap-%c| ", x);
	for (const char *p = strstr(c->text, prefix);
	     p && p < c->text + c->len && w->nr < MAX_WORK;
	     p = strstr(p + 1, prefix)) {
		const char *eol = strchr(p + 1, '\n');
		const char *hit = strstr(p + 1, "WORK pid=");
		char sum[33];
		int used = 0;

		if (!hit || (eol && hit > eol))
			continue;
		if (sscanf(hit, "WORK pid=%ld n=%ld sum=%32[0-9a-f]%n",
			   &w->pid[w->nr], &w->n[w->nr], sum, &used) == 3 &&
		    strlen(sum) == 32 && (hit[used] == '\n' || !hit[used]))
			w->nr++;
	}
}

/*
 * The loaded guest went on where its snapshot stood: the same process,
 * its count one past the snapshot's last complete line (two, when the
 * pause cut a line short: its end came from the new mvm), then one at a
 * time; every line's MD5 that of the file as the lab computes it.
 */
static void expect_goes_on(const struct lab_case *c, const char *name,
			   char x, long last, long pid)
{
	struct work_lines w;
	char key[16], sums[64], want[64];

	work_of(c, x, &w);
	cr_assert_geq(w.nr, 2, "snap-%c: %u workload lines after the load",
		      x, w.nr);
	cr_expect(w.n[0] == last + 1 || w.n[0] == last + 2, "snap-%c: the "
		  "count went on from %ld, not from the snapshot's %ld "
		  "(restarted, or another instant)", x, w.n[0], last);
	for (unsigned i = 0; i < w.nr; i++) {
		cr_expect_eq(w.pid[i], pid, "snap-%c: the workload's PID is %ld"
			     ", not %ld: another process", x, w.pid[i], pid);
		cr_expect(!i || w.n[i] == w.n[i - 1] + 1, "snap-%c: the count "
			  "went from %ld to %ld", x, i ? w.n[i - 1] : 0,
			  w.n[i]);
	}
	snprintf(key, sizeof(key), "sums-%c", x);
	case_fact(c, name, key, sums, sizeof(sums));
	snprintf(want, sizeof(want), "%u/%u", w.nr, w.nr);
	cr_expect_str_eq(sums, want, "snap-%c: lines whose MD5 matches the "
			 "file: %s, of the %u read here", x, sums, w.nr);
}

/*
 * The command typed on the console was answered, and the guest's clock
 * (clock_realtime) read the lab's time, not the time of the snapshot.
 */
static void expect_answer_and_clock(const struct lab_case *c,
				    const char *case_name, char x)
{
	long before = 0, guest = 0, after = 0;
	char key[16], v[128], name[8];

	snprintf(name, sizeof(name), "snap-%c", x);
	cr_expect_eq(count_in(c, name, '|', "ANSWER-42 CLOCK="), 1,
		     "%s: the guest did not answer on its console", name);
	snprintf(key, sizeof(key), "clock-%c", x);
	if (!case_fact(c, case_name, key, v, sizeof(v)) ||
	    sscanf(v, "lab-before=%ld guest=%ld lab-after=%ld", &before,
		   &guest, &after) != 3) {
		cr_expect_fail("%s: no clock reading (%s)", name, v);
		return;
	}
	cr_expect(guest >= before - 2 && guest <= after + 2, "%s: the "
		  "guest's clock read %ld, the lab's %ld..%ld", name, guest,
		  before, after);
	/* The jump of its clock was announced (KVM_KVMCLOCK_CTRL). */
	cr_expect_eq(count_in(c, name, '|', "soft lockup"), 0,
		     "%s: the guest saw a soft lockup after the load", name);
	cr_expect_eq(count_in(c, name, '|', "self-detected stall"), 0,
		     "%s: the guest saw an RCU stall after the load", name);
	cr_expect_eq(count_in(c, name, '!', ""), 0, "%s: mvm printed "
		     "messages on stderr", name);
	cr_expect_eq(count_in(c, name, '|', "reboot: Power down"), 1,
		     "%s: the loaded guest did not power off", name);
}

/* The first mvm: booted, worked, two snapshots, killed. */
static long snap_first_mvm(const struct lab_case *c)
{
	struct work_lines w;

	expect_fact(c, "config", "204 204 204");
	expect_fact(c, "pause-full", "204");
	expect_fact(c, "create-full", "204");
	expect_fact(c, "resume", "204");
	expect_fact(c, "pause-diff", "204");
	expect_fact(c, "create-diff", "204");
	expect_fact(c, "exit-a", "143");
	work_of(c, 'a', &w);
	cr_assert_geq(w.nr, 5, "snap-a: %u workload lines before the kill",
		      w.nr);
	cr_assert_geq(snap_num(c, "diff-last"), snap_num(c, "full-last") + 2,
		      "the Diff was taken too soon after the Full");
	return w.pid[0];
}

Test(lab_linux, snapshot_full_loads_in_a_new_mvm_and_goes_on)
{
	struct lab_case c;
	char took[32], loaded[32];
	long pid;

	get_case("snapshot", &c);
	pid = snap_first_mvm(&c);
	expect_fact(&c, "load-full", "204");
	expect_goes_on(&c, "snapshot", 'b', snap_num(&c, "full-last"), pid);
	expect_answer_and_clock(&c, "snapshot", 'b');
	expect_fact(&c, "exit-b", "0");
	snap_fact(&c, "create-full-seconds", took, sizeof(took));
	snap_fact(&c, "load-full-seconds", loaded, sizeof(loaded));
	cr_log_info("snapshot: Full taken in %s s, loaded in %s s", took,
		    loaded);
	case_free(&c);
}

Test(lab_linux, snapshot_diff_merged_onto_its_full_goes_on_from_the_diff)
{
	struct lab_case c;
	char v[128];
	long pid, full = 0, diff = 0;

	get_case("snapshot", &c);
	pid = snap_first_mvm(&c);
	/* The Diff holds what changed, not the guest's RAM. */
	if (!snap_fact(&c, "mem-kib", v, sizeof(v)) ||
	    sscanf(v, "full:%ld diff:%ld", &full, &diff) != 2)
		cr_expect_fail("snapshot: no memory file sizes (%s)", v);
	cr_expect(diff > 0 && diff * 4 < full, "snapshot: the Diff's memory "
		  "file holds %ld KiB, the Full's %ld KiB", diff, full);
	snap_fact(&c, "merge", v, sizeof(v));
	cr_expect(!strncmp(v, "0 ", 2), "mvm snapshot merge: %s", v);
	expect_fact(&c, "load-diff", "204");
	expect_goes_on(&c, "snapshot", 'c', snap_num(&c, "diff-last"), pid);
	expect_answer_and_clock(&c, "snapshot", 'c');
	cr_expect_eq(c.status, 0, "snap-c: mvm exit status %d, not 0",
		     c.status);
	case_free(&c);
}

Test(lab_linux, snapshot_of_a_guest_without_nesting_has_no_nested_state)
{
	struct lab_case c;

	get_case("snapshot", &c);
	cr_expect(has_line(&c, "snap-inspect", '|', "type: Full"),
		  "mvm snapshot inspect did not read the Full");
	cr_expect_eq(count_in(&c, "snap-inspect", '|',
			      "nested virtualization off"), 1,
		     "the snapshot's machine has nesting on");
	/* KVM hands out a header even then; a host that cannot nest must
	 * still be able to load this snapshot. */
	cr_expect(has_line(&c, "snap-inspect", '|',
			   "vcpus: 2, nested state none"),
		  "a guest without VMX/SVM got nested state in its snapshot");
	case_free(&c);
}

/* ---- the migration case -------------------------------------------- */

static long mig_num(const struct lab_case *c, const char *key)
{
	char v[64];

	if (!case_fact(c, "migration", key, v, sizeof(v)))
		cr_assert_fail("migration: no %s fact in the lab's log", key);
	return atol(v);
}

static void expect_mig(const struct lab_case *c, const char *key,
		       const char *want)
{
	char got[512];

	case_fact(c, "migration", key, got, sizeof(got));
	cr_expect_str_eq(got, want, "migration: %s is \"%s\", not \"%s\"",
			 key, got, want);
}

Test(lab_linux, migration_moves_a_working_linux_guest_and_its_disk)
{
	struct lab_case c;
	struct work_lines w;
	char got[512];
	long last;

	get_case("migration", &c);
	expect_mig(&c, "config", "204 204 204 204");
	expect_mig(&c, "migrate", "204");
	/* The source's VM lives elsewhere now: mvm ends with 0. */
	expect_mig(&c, "exit-m", "0");
	case_fact(&c, "migration", "get-n", got, sizeof(got));
	cr_expect(strstr(got, "\"state\":\"completed\"") &&
		  strstr(got, "\"direction\":\"incoming\""),
		  "the destination's GET /migration: %s", got);
	work_of(&c, 'm', &w);
	cr_assert_geq(w.nr, 3, "snap-m: %u workload lines before", w.nr);
	last = mig_num(&c, "source-last");
	expect_goes_on(&c, "migration", 'n', last, w.pid[0]);
	expect_answer_and_clock(&c, "migration", 'n');
	/* Its disk is the source's, written on by the destination. */
	case_fact(&c, "migration", "disk", got, sizeof(got));
	cr_expect(!strncmp(got, "DISK-", 5) && atol(got + 5) > last,
		  "the disk holds '%s', the source's last count was %ld", got,
		  last);
	cr_expect_eq(c.status, 0, "snap-n: mvm exit status %d, not 0",
		     c.status);
	case_fact(&c, "migration", "migrate-seconds", got, sizeof(got));
	cr_log_info("migration: %s s from the request to the source's end; "
		    "destination: %s", got, "see get-n");
	case_free(&c);
}
