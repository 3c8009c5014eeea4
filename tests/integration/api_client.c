#include <criterion/criterion.h>
#include <json-c/json.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api_client.h"
#include "harness.h"
#include "openapi_check.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void add(char **buf, size_t *len, const char *d, size_t n)
{
	*buf = realloc(*buf, *len + n + 1);
	memcpy(*buf + *len, d, n);
	*len += n;
	(*buf)[*len] = '\0';
}

int api_connect(const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int spawn_args(struct api_proc *p, const char **args);

static int make_dir(struct api_proc *p)
{
	memset(p, 0, sizeof(*p));
	p->status = -1;
	snprintf(p->dir, sizeof(p->dir), "/tmp/mvm-api-XXXXXX");
	if (!mkdtemp(p->dir))
		return -1;
	snprintf(p->sock, sizeof(p->sock), "%s/api.sock", p->dir);
	return 0;
}

int api_spawn(struct api_proc *p, const char *const *extra)
{
	const char *args[64];
	int n = 0;

	if (make_dir(p))
		return -1;
	args[n++] = mvm_bin();
	if (extra && extra[0] && !strcmp(extra[0], "run")) {
		for (int i = 0; extra[i] && n < 60; i++)
			args[n++] = extra[i];
		args[n++] = "--api-sock";
		args[n++] = p->sock;
	} else {
		args[n++] = "--api-sock";
		args[n++] = p->sock;
		for (int i = 0; extra && extra[i] && n < 62; i++)
			args[n++] = extra[i];
	}
	args[n] = NULL;
	return spawn_args(p, args);
}

int api_spawn_argv(struct api_proc *p, const char *const *argv)
{
	const char *args[64];
	int n = 0;

	if (make_dir(p))
		return -1;
	args[n++] = mvm_bin();
	for (int i = 0; argv[i] && n < 63; i++)
		args[n++] = strcmp(argv[i], API_SOCK_HERE) ? argv[i] : p->sock;
	args[n] = NULL;
	return spawn_args(p, args);
}

static int spawn_args(struct api_proc *p, const char **args)
{
	int in[2], out[2], err[2];
	double t0;

	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) ||
	    pipe2(err, O_CLOEXEC))
		return -1;
	p->pid = fork();
	if (p->pid == 0) {
		/* Freed memory scribbled on would make RSS useless as a
		 * measure of what mvm keeps. */
		unsetenv("MALLOC_PERTURB_");
		/* A test that dies must not leave a guest running. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(args[0], (char *const *)args);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	p->in_fd = in[1];
	p->out_fd = out[0];
	p->err_fd = err[0];
	fcntl(p->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(p->err_fd, F_SETFL, O_NONBLOCK);
	add(&p->out, &p->out_len, "", 0);
	add(&p->err, &p->err_len, "", 0);
	t0 = now_s();
	while (now_s() - t0 < 10) {
		int fd = api_connect(p->sock);

		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (waitpid(p->pid, &p->status, WNOHANG) == p->pid) {
			api_drain(p, 0.1);
			fprintf(stderr, "mvm exited early: %s\n", p->err);
			p->status = WIFEXITED(p->status) ?
					    WEXITSTATUS(p->status) : 128;
			return -1;
		}
		usleep(1000);
	}
	fprintf(stderr, "mvm's API socket never accepted\n");
	return -1;
}

static bool read_some(struct api_proc *p, double seconds)
{
	struct pollfd fds[2] = { { p->out_fd, POLLIN, 0 },
				 { p->err_fd, POLLIN, 0 } };
	char tmp[4096];
	bool got = false;

	if (poll(fds, 2, (int)(seconds * 1000)) <= 0)
		return false;
	for (int i = 0; i < 2; i++) {
		ssize_t n;

		if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP)))
			continue;
		n = read(fds[i].fd, tmp, sizeof(tmp));
		if (n <= 0)
			continue;
		if (i == 0)
			add(&p->out, &p->out_len, tmp, (size_t)n);
		else
			add(&p->err, &p->err_len, tmp, (size_t)n);
		got = true;
	}
	return got;
}

bool api_wait_out(struct api_proc *p, const char *needle, double seconds)
{
	double t0 = now_s();

	while (!strstr(p->out, needle)) {
		double left = seconds - (now_s() - t0);

		if (left <= 0)
			return false;
		if (!read_some(p, left > 0.05 ? 0.05 : left))
			usleep(1000);
	}
	return true;
}

void api_drain(struct api_proc *p, double seconds)
{
	double t0 = now_s();

	while (now_s() - t0 < seconds)
		if (!read_some(p, 0.01))
			usleep(1000);
}

int api_wait_exit(struct api_proc *p, double seconds)
{
	double t0 = now_s();
	int wst;

	if (p->status >= 0 || p->pid <= 0)
		return p->status;
	while (waitpid(p->pid, &wst, WNOHANG) == 0) {
		if (now_s() - t0 > seconds) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &wst, 0);
			break;
		}
		read_some(p, 0.01);
	}
	api_drain(p, 0.05);
	p->status = WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst);
	return p->status;
}

int api_stop(struct api_proc *p)
{
	if (p->status < 0 && p->pid > 0)
		kill(p->pid, SIGTERM);
	return api_wait_exit(p, 10);
}

void api_proc_free(struct api_proc *p)
{
	if (p->status < 0)
		api_stop(p);
	close(p->in_fd);
	close(p->out_fd);
	close(p->err_fd);
	free(p->out);
	free(p->err);
	p->out = p->err = NULL;
	unlink(p->sock);
	rmdir(p->dir);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static const char *find_header(const char *head, const char *name)
{
	size_t n = strlen(name);

	for (const char *l = strstr(head, "\r\n"); l; l = strstr(l, "\r\n")) {
		l += 2;
		if (!strncasecmp(l, name, n) && l[n] == ':')
			return l + n + 1 + strspn(l + n + 1, " ");
	}
	return NULL;
}

int api_read_resp(int fd, struct api_resp *r)
{
	char head[8192];
	size_t len = 0, want = 0;
	const char *end, *h;
	bool has_len = false;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t n;

		if (len + 1 >= sizeof(head) || poll(&pfd, 1, 15000) <= 0)
			return -1;
		n = recv(fd, head + len, sizeof(head) - 1 - len, 0);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		head[len] = '\0';
		end = strstr(head, "\r\n\r\n");
		if (end)
			break;
	}
	if (sscanf(head, "HTTP/1.%*d %d", &r->status) != 1)
		return -1;
	h = find_header(head, "Content-Length");
	if (h) {
		want = strtoul(h, NULL, 10);
		has_len = true;
	}
	h = find_header(head, "Connection");
	r->closed = h && !strncasecmp(h, "close", 5);
	h = find_header(head, "Allow");
	if (h)
		snprintf(r->allow, sizeof(r->allow), "%.*s",
			 (int)strcspn(h, "\r"), h);
	end += 4;
	r->body_len = len - (size_t)(end - head);
	memcpy(r->body, end, r->body_len);
	if (!has_len && r->status != 204 && r->status != 304) {
		want = sizeof(r->body) - 1; /* until the server closes */
		r->closed = true;
	}
	while (r->body_len < want && r->body_len < sizeof(r->body) - 1) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&pfd, 1, 15000) <= 0)
			return -1;
		n = recv(fd, r->body + r->body_len,
			 sizeof(r->body) - 1 - r->body_len, 0);
		if (n <= 0)
			break;
		r->body_len += (size_t)n;
	}
	r->body[r->body_len] = '\0';
	return has_len && r->body_len != want ? -1 : 0;
}

int api_do_raw(int fd, const char *method, const char *path,
	       const char *body, struct api_resp *r)
{
	char head[512];
	int n;

	if (body)
		n = snprintf(head, sizeof(head),
			     "%s %s HTTP/1.1\r\nHost: localhost\r\n"
			     "Accept: application/json\r\n"
			     "Content-Type: application/json\r\n"
			     "Content-Length: %zu\r\n\r\n",
			     method, path, strlen(body));
	else
		n = snprintf(head, sizeof(head),
			     "%s %s HTTP/1.1\r\nHost: localhost\r\n"
			     "Accept: application/json\r\n\r\n",
			     method, path);
	if (write_all(fd, head, (size_t)n))
		return -1;
	/* A server refusing the body (413) may hang up before it is all
	 * sent; its answer is still there to read. */
	if (body)
		write_all(fd, body, strlen(body));
	return api_read_resp(fd, r);
}

int api_do(int fd, const char *method, const char *path, const char *body,
	   struct api_resp *r)
{
	char why[512];
	int ret = api_do_raw(fd, method, path, body, r);

	if (ret)
		return ret;
	cr_expect(openapi_check(method, path, r->status, r->body, why,
				sizeof(why)),
		  "%s %s -> %d does not match api/openapi.yaml: %s\nbody: %s",
		  method, path, r->status, why, r->body);
	return 0;
}

int api_call(const char *sock, const char *method, const char *path,
	     const char *body, struct api_resp *r)
{
	int fd = api_connect(sock), ret;

	if (fd < 0)
		return -1;
	ret = api_do(fd, method, path, body, r);
	close(fd);
	return ret ? -1 : r->status;
}

int api_raw(const char *sock, const char *bytes, size_t len,
	    struct api_resp *r)
{
	int fd = api_connect(sock), ret;

	if (fd < 0)
		return -1;
	ret = write_all(fd, bytes, len);
	if (!ret)
		ret = api_read_resp(fd, r);
	close(fd);
	return ret ? -1 : r->status;
}

int proc_fd_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

long proc_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

bool fault_has(const struct api_resp *r, const char *text)
{
	return strstr(r->body, "\"fault_message\"") && strstr(r->body, text);
}

uint64_t api_get_u64(struct api_proc *p, const char *path, const char *key)
{
	struct api_resp r;
	struct json_object *o, *v;
	uint64_t n;

	cr_assert_eq(api_call(p->sock, "GET", path, NULL, &r), 200, "%s %s",
		     path, r.body);
	o = json_tokener_parse(r.body);
	cr_assert_not_null(o, "%s", r.body);
	cr_assert(json_object_object_get_ex(o, key, &v), "%s", r.body);
	n = json_object_get_uint64(v);
	json_object_put(o);
	return n;
}
