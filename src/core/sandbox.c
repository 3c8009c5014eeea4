/*
 * seccomp filters (see mvm/sandbox.h). Each kind's allow-list (in
 * sandbox_rules.c) is compiled with libseccomp when mvm is built
 * (sandbox_gen.c), into a BPF program kept in mvm; installing it is one
 * seccomp() call, which a forked child can make too (nothing it does may
 * allocate). Only the teardown program is copied at start, to hold mvm's
 * pid.
 *
 * A call off a list traps (SIGSYS). The handler names the call from a
 * table generated with the programs.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/sandbox.h"
#include "sandbox_rules.h"

/* si_code of a seccomp trap; glibc's headers name it only for the kernel's. */
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif

static const char *kind_names[SANDBOX_KINDS] = {
	[SANDBOX_MAIN] = "the main (event loop) thread",
	[SANDBOX_VCPU] = "a vCPU thread",
	[SANDBOX_TEARDOWN] = "the teardown process",
};

static struct {
	bool enabled;
	struct sock_fprog prog[SANDBOX_KINDS];
	void (*exit_hook)(void);
	int test_kind; /* -1, or the kind whose entry makes a forbidden call */
	pid_t mvm_pid; /* where a helper process's report goes */
} sb = { .test_kind = -1 };

/* Read by the SIGSYS handler: which list stopped this thread. */
static __thread int my_kind = -1;

/* ---- the report, from the signal handler: no stdio, no malloc ---- */

static size_t put_str(char *buf, size_t at, size_t size, const char *s)
{
	while (*s && at + 1 < size)
		buf[at++] = *s++;
	buf[at] = '\0';
	return at;
}

static size_t put_num(char *buf, size_t at, size_t size, long v)
{
	char tmp[24];
	int n = 0;
	unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

	do
		tmp[n++] = (char)('0' + u % 10);
	while ((u /= 10) && n < (int)sizeof(tmp) - 1);
	if (v < 0)
		tmp[n++] = '-';
	while (n > 0 && at + 1 < size)
		buf[at++] = tmp[--n];
	buf[at] = '\0';
	return at;
}

static const char *call_name(const siginfo_t *si)
{
	if (si->si_arch != AUDIT_ARCH_X86_64)
		return "a call of another architecture's ABI";
	if (si->si_syscall >= 0 && si->si_syscall < SANDBOX_NAMES_MAX &&
	    sandbox_call_names[si->si_syscall])
		return sandbox_call_names[si->si_syscall];
	return "an unnamed call";
}

static size_t report_call(char *line, size_t size, const siginfo_t *si)
{
	size_t n = 0;

	n = put_str(line, n, size, "mvm: seccomp: ");
	n = put_str(line, n, size,
		    my_kind >= 0 ? kind_names[my_kind] : "an unfiltered thread");
	n = put_str(line, n, size, " made a forbidden system call: ");
	n = put_str(line, n, size, call_name(si));
	n = put_str(line, n, size, " (");
	n = put_num(line, n, size, si->si_syscall);
	n = put_str(line, n, size, "); mvm ends (status ");
	n = put_num(line, n, size, MVM_EXIT_SECCOMP);
	return put_str(line, n, size, ")\n");
}

/*
 * A helper process's report, sent by its handler with kill(): the helper
 * named the call on stderr; mvm itself ends as for its own threads.
 */
static size_t report_helper(char *line, size_t size)
{
	size_t n = put_str(line, 0, size,
			   "mvm: seccomp: a helper process was stopped by its filter (the line above names the call); mvm ends (status ");

	n = put_num(line, n, size, MVM_EXIT_SECCOMP);
	return put_str(line, n, size, ")\n");
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char line[256];
	size_t n;
	ssize_t w;

	(void)sig;
	(void)uc;
	if (si->si_code == SYS_SECCOMP)
		n = report_call(line, sizeof(line), si);
	else
		n = report_helper(line, sizeof(line));
	w = write(STDERR_FILENO, line, n);
	(void)w; /* nothing is left to do about a failed report */
	if (my_kind == SANDBOX_TEARDOWN && si->si_code == SYS_SECCOMP) {
		/* It owns no terminal; mvm must end, not only this helper. */
		kill(sb.mvm_pid, SIGSYS);
		_exit(MVM_EXIT_SECCOMP);
	}
	if (sb.exit_hook)
		sb.exit_hook();
	_exit(MVM_EXIT_SECCOMP);
}

/* ---- the programs ---- */

/*
 * The programs as compiled, the teardown one copied with mvm's pid in
 * place of the placeholder its kill rule was compiled against.
 */
static int load_progs(struct mvm_err *err)
{
	const struct sock_fprog *td = &sandbox_progs[SANDBOX_TEARDOWN];
	struct sock_filter *copy;

	for (int k = 0; k < SANDBOX_KINDS; k++)
		sb.prog[k] = sandbox_progs[k];
	copy = malloc(td->len * sizeof(*copy));
	if (!copy)
		return mvm_fail(err, -ENOMEM, "seccomp: out of memory");
	memcpy(copy, td->filter, td->len * sizeof(*copy));
	copy[sandbox_teardown_pid_at].k = (__u32)sb.mvm_pid;
	sb.prog[SANDBOX_TEARDOWN].filter = copy;
	return 0;
}

static int install_handler(struct mvm_err *err)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys,
				.sa_flags = SA_SIGINFO };
	sigset_t set;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return mvm_fail(err, -errno, "sigaction SIGSYS: %s",
				strerror(errno));
	/* A blocked SIGSYS would kill without the report. */
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	return 0;
}

int sandbox_init(bool enabled, struct mvm_err *err)
{
	int ret = 0;

	sb.enabled = enabled;
	if (!enabled)
		return 0;
	sb.test_kind = sandbox_test_kind();
	sb.mvm_pid = getpid();
	ret = load_progs(err);
	if (!ret)
		ret = install_handler(err);
	/* Required to filter without CAP_SYS_ADMIN; inherited by all. */
	if (!ret && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		ret = mvm_fail(err, -errno, "prctl(PR_SET_NO_NEW_PRIVS): %s",
			       strerror(errno));
	if (ret)
		sb.enabled = false;
	return ret;
}

int sandbox_enter_forked(enum sandbox_kind kind)
{
	if (!sb.enabled)
		return 0;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &sb.prog[kind]) < 0)
		return -errno;
	my_kind = (int)kind;
	if (sb.test_kind == (int)kind)
		sandbox_test_violate();
	return 0;
}

int sandbox_enter(enum sandbox_kind kind, struct mvm_err *err)
{
	int ret = sandbox_enter_forked(kind);

	if (ret)
		return mvm_fail(err, ret, "seccomp: installing the %s filter: %s",
				kind_names[kind], strerror(-ret));
	return 0;
}

void sandbox_set_exit_hook(void (*fn)(void))
{
	sb.exit_hook = fn;
}

int sandbox_start(bool enabled, void (*exit_hook)(void), struct mvm_err *err)
{
	int ret = sandbox_init(enabled, err);

	if (ret || !enabled)
		return ret;
	sandbox_set_exit_hook(exit_hook);
	return sandbox_enter(SANDBOX_MAIN, err);
}
