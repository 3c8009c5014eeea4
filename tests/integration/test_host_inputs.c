/*
 * Host inputs and clients that used to freeze or crash mvm: a console
 * reader that stops reading, FIFOs named as input or output files, a
 * process out of file descriptors with clients still connecting, a kernel
 * image truncated while mvm reads it, requests served while a VM is torn
 * down, and a host failure reported as the client's fault.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "api_client.h"
#include "harness.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* mvm with the given fds as stdout and stderr; argv excludes the binary. */
static pid_t spawn(const char *const *argv, int out_fd, int err_fd)
{
	const char *args[32];
	int n = 0;
	pid_t pid;

	args[n++] = mvm_bin();
	for (int i = 0; argv[i] && n < 31; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 0);
		dup2(out_fd, 1);
		dup2(err_fd, 2);
		/* Only what mvm opens itself shows in its /proc/PID/fd. */
		close_range(3, ~0u, 0);
		execv(args[0], (char *const *)args);
		_exit(127);
	}
	return pid;
}

/* Exit status (128+signal if killed), or -1 if still running after s. */
static int wait_exit(pid_t pid, double s)
{
	double t0 = now_s();
	int st;

	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now_s() - t0 > s)
			return -1;
		usleep(10000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void kill_wait(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static char *slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = 0;
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = 0;
	return buf;
}

static bool wait_socket(const char *sock, pid_t pid)
{
	for (int i = 0; i < 1000; i++) {
		int fd = api_connect(sock);

		if (fd >= 0) {
			close(fd);
			return true;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return false;
		usleep(10000);
	}
	return false;
}

/* utime + stime of a process, in seconds. */
static double cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void set_nofile(pid_t pid, rlim_t soft)
{
	struct rlimit rl;

	cr_assert_eq(prlimit(pid, RLIMIT_NOFILE, NULL, &rl), 0);
	rl.rlim_cur = soft;
	cr_assert_eq(prlimit(pid, RLIMIT_NOFILE, &rl, NULL), 0);
}

static int put(const char *sock, const char *path, const char *body,
	       struct api_resp *r)
{
	return api_call(sock, "PUT", path, body, r);
}

/* The serial.dropped_bytes of the metrics file's lines, summed. */
static unsigned long long dropped_bytes(const char *metrics)
{
	unsigned long long sum = 0;
	FILE *f = fopen(metrics, "r");
	char line[16384];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		struct json_object *o = json_tokener_parse(line), *s, *d;

		if (o && json_object_object_get_ex(o, "serial", &s) &&
		    json_object_object_get_ex(s, "dropped_bytes", &d))
			sum += (unsigned long long)json_object_get_uint64(d);
		json_object_put(o);
	}
	fclose(f);
	return sum;
}

/*
 * stdout a pipe nobody reads (`mvm | less`, a stalled log shipper): the
 * guest runs on, the vCPU can still be paused, the API answers, the lost
 * bytes are counted, and SIGTERM ends mvm at once.
 */
Test(host_inputs, stalled_stdout_blocks_nothing, .timeout = 150)
{
	char dir[] = "/tmp/mvm-stall-XXXXXX", sock[128], metrics[128];
	char boot[512], mcfg[256], body[256];
	const char *argv[] = { "--api-sock", sock, NULL };
	struct api_resp *r = malloc(sizeof(*r));
	int out[2], err_fd;
	unsigned long long dropped = 0;
	double t0;
	pid_t pid;

	cr_assert(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/api.sock", dir);
	snprintf(metrics, sizeof(metrics), "%s/metrics", dir);
	cr_assert_eq(pipe(out), 0);
	/* The smallest pipe: it fills within the guest's first second. */
	fcntl(out[1], F_SETPIPE_SZ, 4096);
	err_fd = open(dir, O_TMPFILE | O_RDWR, 0600);
	pid = spawn(argv, out[1], err_fd);
	close(out[1]);
	cr_assert(wait_socket(sock, pid), "mvm did not serve its socket");
	snprintf(boot, sizeof(boot), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"action=flood\"}", guest_path("mb_action"));
	snprintf(mcfg, sizeof(mcfg), "{\"vcpu_count\": 1, \"mem_size_mib\": "
		 "32}");
	snprintf(body, sizeof(body), "{\"metrics_path\": \"%s\"}", metrics);
	cr_assert_eq(put(sock, "/boot-source", boot, r), 204, "%s", r->body);
	cr_assert_eq(put(sock, "/machine-config", mcfg, r), 204, "%s", r->body);
	cr_assert_eq(put(sock, "/metrics", body, r), 204, "%s", r->body);
	cr_assert_eq(put(sock, "/actions", "{\"action_type\": "
			 "\"InstanceStart\"}", r), 204, "%s", r->body);

	/* The pipe is full: from here every console byte has to wait. */
	for (int n = 0, i = 0; i < 300 && n < 4096; i++) {
		usleep(50000);
		cr_assert_eq(ioctl(out[0], FIONREAD, &n), 0);
	}
	/* A paused vCPU is one outside KVM_RUN: not stuck in a write. */
	t0 = now_s();
	cr_assert_eq(api_call(sock, "PATCH", "/vm", "{\"state\": \"Paused\"}",
			      r), 204, "%s", r->body);
	cr_assert_eq(api_call(sock, "PATCH", "/vm", "{\"state\": "
			      "\"Resumed\"}", r), 204, "%s", r->body);
	cr_assert_eq(api_call(sock, "GET", "/", NULL, r), 200);
	cr_assert_lt(now_s() - t0, 5.0, "the API took %.1f s",
		     now_s() - t0);
	/* The guest keeps printing; what does not fit is counted. */
	for (int i = 0; i < 120 && !dropped; i++) {
		sleep(1);
		cr_assert_eq(put(sock, "/actions", "{\"action_type\": "
				 "\"FlushMetrics\"}", r), 204, "%s", r->body);
		dropped = dropped_bytes(metrics);
	}
	cr_assert_gt(dropped, 0, "no serial.dropped_bytes in %s",
		     slurp(metrics));

	t0 = now_s();
	kill(pid, SIGTERM);
	cr_assert_eq(wait_exit(pid, 5), 143, "mvm did not end on SIGTERM "
		     "within 5 s");
	cr_assert_lt(now_s() - t0, 3.0);
	close(out[0]);
	close(err_fd);
	unlink(metrics);
	unlink(sock);
	rmdir(dir);
	free(r);
}

static char *make_fifo(const char *tag)
{
	static char path[3][128];
	static int n;
	char *p = path[n++ % 3];

	snprintf(p, sizeof(path[0]), "/tmp/mvm-fifo-%s-%d", tag, (int)getpid());
	unlink(p);
	cr_assert_eq(mkfifo(p, 0600), 0);
	return p;
}

static void refused_quickly(const char *const *argv, const char *fifo)
{
	struct mvm_opts o = { .timeout = 10 };
	struct mvm_result r;

	cr_assert_eq(mvm_launch(argv, &o, &r), 0);
	cr_assert(!r.timed_out, "mvm hung on the FIFO %s", fifo);
	cr_assert_neq(r.status, 0);
	cr_assert_lt(r.seconds, 3.0);
	cr_assert(strstr(r.err, fifo) && strstr(r.err, "FIFO"),
		  "the message names neither the path nor why: %s", r.err);
	cr_assert_eq(count_str(r.err, "\n"), 1, "not one line: %s", r.err);
	mvm_result_free(&r);
}

Test(host_inputs, fifo_as_kernel_or_initrd_is_refused, .timeout = 60)
{
	char *fifo = make_fifo("kernel");
	const char *as_kernel[] = { "run", "--kernel", fifo, "--memory", "32",
				    NULL };
	const char *as_initrd[] = { "run", "--kernel", guest_path("mb_action"),
				    "--initrd", fifo, "--cmdline",
				    "action=exit", "--memory", "32", NULL };

	refused_quickly(as_kernel, fifo);
	refused_quickly(as_initrd, fifo);
	unlink(fifo);
}

/* A disk image or a config file that is a FIFO: refused at once. */
Test(host_inputs, fifo_as_disk_or_config_file_is_refused, .timeout = 60)
{
	char *fifo = make_fifo("disk"), disk[160];
	const char *as_disk[] = { "run", "--kernel", guest_path("mb_action"),
				  "--cmdline", "action=exit", "--memory", "32",
				  "--disk", disk, NULL };
	const char *as_ro_disk[] = { "run", "--kernel",
				     guest_path("mb_action"), "--cmdline",
				     "action=exit", "--memory", "32", "--disk",
				     NULL, NULL };
	const char *as_config[] = { "--config-file", fifo, NULL };
	char ro[180];

	snprintf(disk, sizeof(disk), "path=%s", fifo);
	snprintf(ro, sizeof(ro), "path=%s,readonly=on", fifo);
	as_ro_disk[8] = ro;
	refused_quickly(as_disk, fifo);
	refused_quickly(as_ro_disk, fifo);
	refused_quickly(as_config, fifo);
	unlink(fifo);
}

/* PUT /serial with a FIFO nobody reads: 400, and the API goes on. */
Test(host_inputs, fifo_as_serial_out_is_refused, .timeout = 60)
{
	char *fifo = make_fifo("serial"), body[256];
	struct api_resp *r = malloc(sizeof(*r));
	struct api_proc p;
	double t0;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	snprintf(body, sizeof(body), "{\"serial_out_path\": \"%s\"}", fifo);
	t0 = now_s();
	cr_assert_eq(put(p.sock, "/serial", body, r), 400, "%s", r->body);
	cr_assert_lt(now_s() - t0, 3.0);
	cr_assert(fault_has(r, fifo) && fault_has(r, "FIFO"), "%s", r->body);
	cr_assert_eq(api_call(p.sock, "GET", "/", NULL, r), 200);
	cr_assert_eq(api_stop(&p), 143);
	api_proc_free(&p);
	unlink(fifo);
	free(r);
}

/* The same from a config file: a one-line error, a non-zero exit. */
Test(host_inputs, fifo_as_serial_out_in_config_file, .timeout = 60)
{
	char *fifo = make_fifo("cfg"), cfg[1024], *path;
	const char *argv[] = { "--config-file", NULL, NULL };

	snprintf(cfg, sizeof(cfg), "{\"boot-source\": {\"kernel_image_path\": "
		 "\"%s\", \"boot_args\": \"action=exit\"}, \"serial\": "
		 "{\"serial_out_path\": \"%s\"}}", guest_path("mb_action"),
		 fifo);
	path = temp_file("cfg", cfg, strlen(cfg));
	argv[1] = path;
	refused_quickly(argv, fifo);
	unlink(path);
	free(path);
	unlink(fifo);
}

/*
 * Out of fds with clients still connecting: mvm neither spins nor stops
 * answering. Once the flood is gone, requests and SIGTERM work.
 */
#define FLOOD 64

Test(host_inputs, emfile_backs_off, .timeout = 90)
{
	struct api_resp *r = malloc(sizeof(*r));
	int flood[FLOOD], status = -1;
	struct api_proc p;
	double c0, c1;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	/*
	 * The socket accepts before the HTTP server has opened its own fds
	 * (they come while the first requests wait in the backlog): count
	 * them once it answers.
	 */
	cr_assert_eq(api_call(p.sock, "GET", "/", NULL, r), 200);
	set_nofile(p.pid, (rlim_t)proc_fd_count(p.pid) + 3);
	for (int i = 0; i < FLOOD; i++)
		flood[i] = api_connect(p.sock);
	usleep(300000);
	c0 = cpu_s(p.pid);
	sleep(1);
	c1 = cpu_s(p.pid);
	cr_assert_lt(c1 - c0, 0.3, "mvm used %.2f s of CPU in 1 s at its fd "
		     "limit", c1 - c0);
	for (int i = 0; i < FLOOD; i++)
		if (flood[i] >= 0)
			close(flood[i]);
	for (int i = 0; i < 50 && status != 200; i++) {
		status = api_call(p.sock, "GET", "/", NULL, r);
		if (status != 200)
			usleep(100000);
	}
	cr_assert_eq(status, 200, "no answer once the clients left");
	cr_assert_eq(api_stop(&p), 143);
	api_proc_free(&p);
	free(r);
}

/* A host failure (here: no fd left for KVM) is a 500, not a 400. */
Test(host_inputs, host_failure_is_500, .timeout = 60)
{
	char boot[512];
	struct api_resp *r = malloc(sizeof(*r));
	struct api_proc p;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	snprintf(boot, sizeof(boot), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"action=exit\"}", guest_path("mb_action"));
	cr_assert_eq(put(p.sock, "/boot-source", boot, r), 204, "%s", r->body);
	/* The request's own connection takes the last fd. */
	set_nofile(p.pid, (rlim_t)proc_fd_count(p.pid) + 1);
	cr_assert_eq(put(p.sock, "/actions", "{\"action_type\": "
			 "\"InstanceStart\"}", r), 500, "%s", r->body);
	cr_assert(fault_has(r, "Too many open files"), "%s", r->body);
	api_stop(&p);
	api_proc_free(&p);
	free(r);
}

/* Whether pid has path open or mapped right now. */
static bool has_open(pid_t pid, const char *path)
{
	char dir[64], link[384], target[512];
	bool found = false;
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	while (d && !found && (e = readdir(d))) {
		ssize_t n;

		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		found = n > 0 && (target[n] = 0, !strcmp(target, path));
	}
	if (d)
		closedir(d);
	if (!found) {
		snprintf(dir, sizeof(dir), "/proc/%d/maps", (int)pid);
		found = strstr(slurp(dir), path) != NULL;
	}
	return found;
}

/*
 * An initrd truncated while mvm loads it: an error naming it, never a
 * crash (a mapped file would raise SIGBUS). The truncation has to land
 * while the file is in use, so a large sparse file is cut as soon as mvm
 * is seen holding it; a try that cuts too late just boots.
 */
Test(host_inputs, initrd_truncated_while_loading, .timeout = 150)
{
	char path[] = "/tmp/mvm-big-initrd-XXXXXX";
	const char *argv[] = { "run", "--kernel", guest_path("mb_action"),
			       "--initrd", path, "--cmdline", "action=exit",
			       "--memory", "512", NULL };
	int hits = 0;

	for (int attempt = 0; attempt < 8 && hits < 2; attempt++) {
		int fd = mkstemp(path), err_fd, status;
		char err[4096];
		bool cut = false;
		ssize_t n;
		pid_t pid;

		cr_assert_geq(fd, 0);
		cr_assert_eq(ftruncate(fd, 256 << 20), 0);
		close(fd); /* a child must not inherit it: has_open() */
		err_fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
		pid = spawn(argv, err_fd, err_fd);
		for (double t0 = now_s(); !cut && now_s() - t0 < 20;) {
			if (waitpid(pid, &status, WNOHANG) == pid) {
				pid = 0;
				break;
			}
			cut = has_open(pid, path);
		}
		cr_assert(pid, "mvm ended before it opened the initrd");
		cr_assert_eq(truncate(path, 4096), 0);
		status = wait_exit(pid, 20);
		if (status < 0)
			kill_wait(pid);
		cr_assert_geq(status, 0, "mvm hung");
		cr_assert_lt(status, 128, "mvm was killed by signal %d",
			     status - 128);
		n = pread(err_fd, err, sizeof(err) - 1, 0);
		err[n > 0 ? n : 0] = 0;
		if (strstr(err, "shrank")) {
			cr_assert(strstr(err, path), "%s", err);
			hits++;
		}
		close(err_fd);
		unlink(path);
		strcpy(path + strlen(path) - 6, "XXXXXX");
	}
	cr_assert_gt(hits, 0, "no try cut the file while mvm read it");
}

/*
 * Requests served while a VM is being torn down see a whole VM or none:
 * a guest that reboots again and again under --on-reboot restart, with
 * a virtio device whose teardown waits on the loop, and a client asking
 * GET /vm/nested all the while.
 */
struct hammer {
	const char *sock;
	atomic_bool stop;
	atomic_int ok, bad;
	char first_bad[512];
};

static void *hammer(void *arg)
{
	struct hammer *h = arg;
	struct api_resp *r = malloc(sizeof(*r));
	int fd = -1;

	while (!atomic_load(&h->stop)) {
		if (fd < 0)
			fd = api_connect(h->sock);
		if (fd < 0)
			break;
		if (api_do_raw(fd, "GET", "/vm/nested", NULL, r)) {
			close(fd);
			fd = -1;
			continue;
		}
		if (r->status == 200) {
			atomic_fetch_add(&h->ok, 1);
		} else if (atomic_fetch_add(&h->bad, 1) == 0) {
			snprintf(h->first_bad, sizeof(h->first_bad), "%d %.400s",
				 r->status, r->body);
		}
		if (r->closed) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	free(r);
	return NULL;
}

Test(host_inputs, requests_during_teardown, .timeout = 120)
{
	const char *extra[] = { "run", "--kernel", guest_path("mb_action"),
				"--cmdline", "action=boot then=reset",
				"--memory", "32", "--on-reboot", "restart",
				"--rng", NULL };
	struct hammer h = { 0 };
	struct api_proc p;
	pthread_t t;

	cr_assert_eq(api_spawn(&p, extra), 0);
	h.sock = p.sock;
	pthread_create(&t, NULL, hammer, &h);
	for (int i = 0; i < 600 && count_str(p.out, "booted") < 12; i++)
		api_drain(&p, 0.05);
	atomic_store(&h.stop, true);
	pthread_join(t, NULL);
	cr_assert_geq(count_str(p.out, "booted"), 12, "%s", p.err);
	cr_assert_gt(atomic_load(&h.ok), 0);
	cr_assert_eq(atomic_load(&h.bad), 0, "%d of %d answers failed; first: "
		     "%s", atomic_load(&h.bad),
		     atomic_load(&h.bad) + atomic_load(&h.ok), h.first_bad);
	api_stop(&p);
	api_proc_free(&p);
}
