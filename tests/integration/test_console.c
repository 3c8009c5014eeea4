/*
 * The console on a real terminal: raw mode while the guest runs (a key
 * reaches the guest without Enter), Ctrl-A x quits, and the terminal's
 * settings are restored however mvm ends.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

struct pty_run {
	int master;
	int slave;
	pid_t pid;
	struct termios before; /* the terminal as mvm found it */
	char out[65536];
	size_t len;
};

static void pty_start(struct pty_run *p, const char *action)
{
	char cmdline[64];

	snprintf(cmdline, sizeof(cmdline), "action=%s", action);
	cr_assert_eq(openpty(&p->master, &p->slave, NULL, NULL, NULL), 0);
	/*
	 * Before the fork: read after it, the settings may already be the
	 * raw ones mvm set (a loaded host runs the child first), and the
	 * check that mvm restored them would compare raw with cooked.
	 */
	cr_assert_eq(tcgetattr(p->slave, &p->before), 0);
	/*
	 * An empty string, not only a zero length: pty_wait_for() searches
	 * out, and a pty_run reused on the stack still holds the last run's
	 * text, so "echo ready" would be found before this mvm said it and
	 * keys typed while the terminal is still cooked (mvm slow to start,
	 * as under ASan) would be flushed when mvm makes it raw.
	 */
	p->len = 0;
	p->out[0] = '\0';
	p->pid = fork();
	if (p->pid == 0) {
		setsid();
		ioctl(p->slave, TIOCSCTTY, 0);
		dup2(p->slave, 0);
		dup2(p->slave, 1);
		dup2(p->slave, 2);
		execl(mvm_bin(), mvm_bin(), "run", "--kernel",
		      guest_path("mb_action"), "--cmdline", cmdline,
		      "--memory", "32", (char *)NULL);
		_exit(127);
	}
}

/* Read console output until text appears (or the timeout passes). */
static bool pty_wait_for(struct pty_run *p, const char *text, int ms)
{
	struct pollfd pfd = { p->master, POLLIN, 0 };

	while (!strstr(p->out, text)) {
		ssize_t n;

		if (poll(&pfd, 1, ms) <= 0)
			return false;
		n = read(p->master, p->out + p->len, sizeof(p->out) - p->len - 1);
		if (n <= 0)
			return false;
		p->len += (size_t)n;
		p->out[p->len] = 0;
	}
	return true;
}

static int pty_wait_exit(struct pty_run *p)
{
	int st = 0;

	for (int i = 0; i < 200; i++) {
		if (waitpid(p->pid, &st, WNOHANG) == p->pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		pty_wait_for(p, "\x01never", 50);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &st, 0);
	return -1;
}

static bool same_termios(const struct termios *a, const struct termios *b)
{
	return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag &&
	       a->c_lflag == b->c_lflag && a->c_cflag == b->c_cflag;
}

Test(console, raw_mode_and_ctrl_a_x_quits_and_restores_the_terminal)
{
	struct pty_run p;
	struct termios during, after;

	pty_start(&p, "echo");
	cr_assert(pty_wait_for(&p, "echo ready", 10000), "output: %s", p.out);
	cr_assert_eq(tcgetattr(p.slave, &during), 0);
	cr_assert_eq(during.c_lflag & (ICANON | ECHO), 0, "not raw");
	/* No newline: only raw mode delivers this byte at once. */
	cr_assert_eq(write(p.master, "Z", 1), 1);
	cr_assert(pty_wait_for(&p, "Z", 10000), "key not echoed: %s", p.out);
	cr_assert_eq(write(p.master, "\x01x", 2), 2);
	cr_assert_eq(pty_wait_exit(&p), 0, "output: %s", p.out);
	cr_assert_eq(tcgetattr(p.slave, &after), 0);
	cr_assert(same_termios(&p.before, &after), "terminal not restored");
	close(p.master);
	close(p.slave);
}

/*
 * Keys typed one by one, faster than the loop takes them in: each wakes
 * the loop's poll, and one read can take in the bytes of several wakeups.
 * A read on such a stale wakeup must not block (stdin stays a blocking
 * fd), or Ctrl-A x right after a burst of typing goes unheard.
 */
Test(console, ctrl_a_x_right_after_a_burst_of_keys_quits)
{
	/* A race: several runs, so that a loop that blocks is caught. */
	for (int run = 0; run < 4; run++) {
		struct pty_run p;

		pty_start(&p, "echo");
		cr_assert(pty_wait_for(&p, "echo ready", 10000), "output: %s",
			  p.out);
		for (int round = 0; round < 20; round++) {
			for (int i = 0; i < 50; i++)
				cr_assert_eq(write(p.master, "k", 1), 1);
			cr_assert_eq(write(p.master, "\n", 1), 1);
			usleep(2000);
		}
		cr_assert_eq(write(p.master, "\x01", 1), 1);
		cr_assert_eq(write(p.master, "x", 1), 1);
		cr_assert_eq(pty_wait_exit(&p), 0, "run %d: mvm did not quit "
			     "on Ctrl-A x after a burst of keys; output: %.300s",
			     run, p.len > 300 ? p.out + p.len - 300 : p.out);
		close(p.master);
		close(p.slave);
	}
}

Test(console, terminal_restored_after_a_guest_crash)
{
	struct pty_run p;
	struct termios after;

	pty_start(&p, "triple");
	cr_assert_eq(pty_wait_exit(&p), 2, "output: %s", p.out);
	cr_assert_eq(tcgetattr(p.slave, &after), 0);
	cr_assert(same_termios(&p.before, &after), "terminal not restored");
	close(p.master);
	close(p.slave);
}

Test(console, terminal_restored_after_sigterm)
{
	struct pty_run p;
	struct termios after;

	pty_start(&p, "hang");
	cr_assert(pty_wait_for(&p, "hanging", 10000), "output: %s", p.out);
	kill(p.pid, SIGTERM);
	cr_assert_eq(pty_wait_exit(&p), 128 + SIGTERM, "output: %s", p.out);
	cr_assert_eq(tcgetattr(p.slave, &after), 0);
	cr_assert(same_termios(&p.before, &after), "terminal not restored");
	close(p.master);
	close(p.slave);
}
