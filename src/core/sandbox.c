/*
 * seccomp filters (see mvm/sandbox.h). Each kind's allow-list (in
 * sandbox_rules.c) is compiled with libseccomp once, at start, into a BPF
 * program kept in memory; installing it is then one seccomp() call, which
 * a forked child can make too (nothing it does may allocate).
 *
 * A call off a list traps (SIGSYS). The handler cannot call libseccomp to
 * name the call (it allocates), so every name was resolved beforehand.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/sandbox.h"
#include "sandbox_rules.h"

#define NAMES_MAX 512 /* above every x86-64 syscall number */

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
	const char *names[NAMES_MAX];
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
	if (si->si_syscall >= 0 && si->si_syscall < NAMES_MAX &&
	    sb.names[si->si_syscall])
		return sb.names[si->si_syscall];
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

/* ---- building the programs ---- */

static int add_rules(scmp_filter_ctx ctx, enum sandbox_kind kind)
{
	const char *const *list = sandbox_rules[kind];
	int ret;

	for (size_t i = 0; list[i]; i++) {
		int nr = seccomp_syscall_resolve_name(list[i]);

		/* A name this libseccomp does not know cannot be called here. */
		if (nr == __NR_SCMP_ERROR)
			continue;
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (ret)
			return ret;
	}
	/* The teardown process may signal mvm only, only with its report. */
	if (kind == SANDBOX_TEARDOWN)
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 2,
					SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)sb.mvm_pid),
					SCMP_A1(SCMP_CMP_EQ, SIGSYS));
	/* Only to add filters, which can only restrict further. */
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(seccomp), 1,
				SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER));
}

/* libseccomp 2.5 exports only to an fd: read the program back from one. */
static int export_prog(scmp_filter_ctx ctx, struct sock_fprog *prog)
{
	int fd = memfd_create("mvm-seccomp", MFD_CLOEXEC), ret = 0;
	off_t len;
	void *buf = NULL;

	if (fd < 0)
		return -errno;
	ret = seccomp_export_bpf(ctx, fd);
	if (ret)
		goto out;
	len = lseek(fd, 0, SEEK_END);
	buf = len > 0 ? malloc((size_t)len) : NULL;
	if (!buf) {
		ret = len > 0 ? -ENOMEM : -EINVAL;
		goto out;
	}
	if (pread(fd, buf, (size_t)len, 0) != len) {
		ret = -EIO;
		goto out;
	}
	prog->filter = buf;
	prog->len = (unsigned short)((size_t)len / sizeof(struct sock_filter));
	buf = NULL;
out:
	free(buf);
	close(fd);
	return ret;
}

static int build_prog(enum sandbox_kind kind, struct mvm_err *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	int ret;

	if (!ctx)
		return mvm_fail(err, -ENOMEM, "seccomp: out of memory");
	/* A 32-bit call (int 0x80) traps too, rather than killing unheard. */
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP);
	/* no_new_privs is set once by sandbox_init, for every thread. */
	if (!ret)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (!ret)
		ret = add_rules(ctx, kind);
	if (!ret)
		ret = export_prog(ctx, &sb.prog[kind]);
	seccomp_release(ctx);
	if (ret)
		return mvm_fail(err, ret < 0 ? ret : -EINVAL,
				"seccomp: building the %s filter: %s",
				kind_names[kind], strerror(ret < 0 ? -ret : EINVAL));
	return 0;
}

static void resolve_names(void)
{
	for (int nr = 0; nr < NAMES_MAX; nr++) {
		/* Kept for the process's life: the handler may need any. */
		sb.names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE,
								nr);
	}
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
	resolve_names();
	for (int k = 0; k < SANDBOX_KINDS && !ret; k++)
		ret = build_prog(k, err);
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
