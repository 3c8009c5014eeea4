/*
 * boot-timer: run a VMM, time process start -> a marker on its output ->
 * its exit, and report its peak RSS. Built static and run inside the lab
 * by bench/boot-linux, whose busybox cannot time below a second.
 *
 *   boot-timer MARKER TIMEOUT_S LOG CMD [ARGS...]
 *
 * prints one line "ready_ms=R total_ms=T rss_kib=K status=S" (R is -1 when
 * the marker never came) and exits 0, or 1 on a timeout or bad usage. The
 * VMM's stdout and stderr go to LOG as well, for when a run goes wrong.
 *
 * The peak RSS comes from wait4() of the forked child: this program is
 * small and static, so the child's size before exec hardly counts, unlike
 * a child of a shell or an interpreter.
 */
#define _GNU_SOURCE /* pipe2, memmem */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	const char *marker;
	size_t mlen, keep = 0;
	char buf[4096 + 256];
	double t0, ready = -1, limit;
	int pipefd[2], log, status = 0, timed_out = 0;
	struct rusage ru;
	pid_t pid;

	if (argc < 5) {
		fprintf(stderr, "usage: boot-timer MARKER TIMEOUT_S LOG CMD "
				"[ARGS...]\n");
		return 1;
	}
	marker = argv[1];
	mlen = strlen(marker);
	limit = atof(argv[2]) * 1e3;
	if (mlen == 0 || mlen > 255 || limit <= 0) {
		fprintf(stderr, "boot-timer: bad marker or timeout\n");
		return 1;
	}
	log = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (log < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		perror("boot-timer");
		return 1;
	}

	t0 = now_ms();
	pid = fork();
	if (pid < 0) {
		perror("boot-timer: fork");
		return 1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null >= 0)
			dup2(null, 0);
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		execvp(argv[4], argv + 4);
		_exit(127);
	}
	close(pipefd[1]);

	for (;;) {
		double left = limit - (now_ms() - t0);
		struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
		ssize_t n;

		if (left <= 0) {
			kill(pid, SIGKILL);
			timed_out = 1;
			break;
		}
		if (poll(&p, 1, (int)left + 1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (!p.revents)
			continue;
		/* Keep the last mlen - 1 bytes: a marker may straddle reads. */
		n = read(pipefd[0], buf + keep, sizeof(buf) - keep - 1);
		if (n <= 0)
			break; /* EOF: the VMM (and anything it forked) is gone */
		if (write(log, buf + keep, (size_t)n) < 0) {
			/* the log is a convenience: timing goes on without it */
		}
		buf[keep + (size_t)n] = '\0';
		if (ready < 0 && memmem(buf, keep + (size_t)n, marker, mlen))
			ready = now_ms() - t0;
		keep += (size_t)n;
		if (keep >= mlen) {
			memmove(buf, buf + keep - (mlen - 1), mlen - 1);
			keep = mlen - 1;
		}
	}
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("boot-timer: wait4");
		return 1;
	}
	printf("ready_ms=%.1f total_ms=%.1f rss_kib=%ld status=%d\n", ready,
	       now_ms() - t0, ru.ru_maxrss,
	       WIFEXITED(status) ? WEXITSTATUS(status)
				 : 128 + WTERMSIG(status));
	if (timed_out)
		fprintf(stderr, "boot-timer: %s ran past %s s and was killed\n",
			argv[4], argv[2]);
	return timed_out;
}
