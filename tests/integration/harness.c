#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

const char *mvm_bin(void)
{
	const char *p = getenv("MVM_BIN");

	return p ? p : "./mvm";
}

const char *guest_path(const char *name)
{
	static char buf[4096];
	const char *dir = getenv("MVM_GUESTS");

	snprintf(buf, sizeof(buf), "%s/%s", dir ? dir : ".", name);
	return buf;
}

int count_str(const char *hay, const char *needle)
{
	int n = 0;

	if (!hay)
		return 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

char *temp_file(const char *tag, const void *data, size_t len)
{
	char *path = malloc(256);
	int fd;

	if (!path)
		return NULL;
	snprintf(path, 256, "/tmp/mvm-test-%s-XXXXXX", tag);
	fd = mkstemp(path);
	if (fd < 0) {
		free(path);
		return NULL;
	}
	if (len && write(fd, data, len) != (ssize_t)len) {
		close(fd);
		unlink(path);
		free(path);
		return NULL;
	}
	close(fd);
	return path;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const char *d, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void child(const char *const *argv, const struct mvm_opts *o,
		  int in_fd, int out_fd, int err_fd)
{
	const char *args[64];
	int n = 0;

	dup2(in_fd, 0);
	/* A test that dies must not leave a guest running. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	dup2(out_fd, 1);
	dup2(err_fd, 2);
	if (o->child_setup)
		o->child_setup();
	args[n++] = mvm_bin();
	for (int i = 0; argv[i] && n < 63; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	execv(args[0], (char *const *)args);
	_exit(127);
}

int mvm_launch(const char *const *argv, const struct mvm_opts *o,
	       struct mvm_result *r)
{
	static const struct mvm_opts defaults;
	int in[2], out[2], err[2], wst = 0, kills = 0;
	struct buf bo = { 0 }, be = { 0 };
	double start, timeout;
	pid_t pid;

	if (!o)
		o = &defaults;
	timeout = o->timeout > 0 ? o->timeout : 20;
	memset(r, 0, sizeof(*r));
	if (pipe(in) || pipe(out) || pipe(err))
		return -1;
	start = now();
	pid = fork();
	if (pid == 0)
		child(argv, o, in[0], out[1], err[1]);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (!o->stdin_after) {
		if (o->stdin_data &&
		    write(in[1], o->stdin_data, strlen(o->stdin_data)) < 0)
			perror("write stdin");
		close(in[1]);
		in[1] = -1;
	}
	buf_add(&bo, "", 0);
	buf_add(&be, "", 0);

	for (int open_fds = 2; open_fds > 0;) {
		struct pollfd p[2] = { { out[0], POLLIN, 0 },
				       { err[0], POLLIN, 0 } };
		double left = timeout - (now() - start);
		char tmp[4096];

		if (left <= 0) {
			r->timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		if (poll(p, 2, (int)(left * 1000) + 1) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			ssize_t got;

			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			got = read(p[i].fd, tmp, sizeof(tmp));
			if (got <= 0) {
				close(p[i].fd);
				if (i == 0)
					out[0] = -1;
				else
					err[0] = -1;
				open_fds--;
				continue;
			}
			buf_add(i ? &be : &bo, tmp, (size_t)got);
		}
		/* Like a person, type only once the guest is listening. */
		if (in[1] >= 0 && strstr(bo.p, o->stdin_after)) {
			if (write(in[1], o->stdin_data, strlen(o->stdin_data)) < 0)
				perror("write stdin");
			close(in[1]);
			in[1] = -1;
		}
		if (o->kill_after_match && !kills &&
		    count_str(bo.p, o->kill_after_match) >=
			    (o->kill_after_count ? o->kill_after_count : 1)) {
			kill(pid, o->kill_after_match_signal);
			kills++;
		}
	}
	if (in[1] >= 0)
		close(in[1]);
	if (out[0] >= 0)
		close(out[0]);
	if (err[0] >= 0)
		close(err[0]);
	waitpid(pid, &wst, 0);
	r->seconds = now() - start;
	r->status = WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst);
	r->out = bo.p;
	r->err = be.p;
	return 0;
}

void mvm_result_free(struct mvm_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

int mvm_child_spawn(struct mvm_child *c, const char *const *argv,
		    const char *env, void (*setup)(void))
{
	int pin[2], pout[2], perr[2];

	memset(c, 0, sizeof(*c));
	if (pipe(pin) | pipe(pout) | pipe(perr))
		return -1;
	c->pid = fork();
	if (c->pid < 0)
		return -1;
	if (c->pid == 0) {
		char *args[32] = { (char *)mvm_bin() };

		for (int n = 1; argv[n - 1] && n < 31; n++)
			args[n] = (char *)argv[n - 1];
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		/* A test that fails an assertion ends without mvm_child_end:
		 * its mvm must not outlive it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (env)
			putenv((char *)env);
		if (setup)
			setup();
		execv(mvm_bin(), args);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	c->in = pin[1];
	c->out = pout[0];
	c->err = perr[0];
	return 0;
}

/* One read into buf; false at end of file. */
static bool child_read(int fd, char *buf, size_t *len, size_t cap)
{
	ssize_t n = read(fd, buf + *len, cap - 1 - *len);

	if (n > 0)
		*len += (size_t)n;
	buf[*len] = '\0';
	return n != 0;
}

bool mvm_child_wait(struct mvm_child *c, bool (*cond)(struct mvm_child *),
		    double seconds)
{
	double end = now() + seconds;

	while (!cond(c)) {
		struct pollfd p[2] = { { c->out, POLLIN, 0 },
				       { c->err, POLLIN, 0 } };
		bool open = true;

		if (now() > end)
			return false;
		if (poll(p, 2, 100) <= 0)
			continue;
		if ((p[0].revents & (POLLIN | POLLHUP)) &&
		    c->olen < sizeof(c->obuf) - 1)
			open &= child_read(c->out, c->obuf, &c->olen,
					   sizeof(c->obuf));
		if ((p[1].revents & (POLLIN | POLLHUP)) &&
		    c->elen < sizeof(c->ebuf) - 1)
			open &= child_read(c->err, c->ebuf, &c->elen,
					   sizeof(c->ebuf));
		if (!open)
			return cond(c);
	}
	return true;
}

int mvm_child_end(struct mvm_child *c)
{
	int status;

	if (waitpid(c->pid, &status, 0) != c->pid)
		return -1;
	close(c->in);
	close(c->out);
	close(c->err);
	return WIFEXITED(status) ? WEXITSTATUS(status)
				 : 128 + WTERMSIG(status);
}
