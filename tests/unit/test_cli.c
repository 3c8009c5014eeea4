#include <criterion/criterion.h>
#include <fcntl.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mvm/cli.h"
#include "mvm/err.h"
#include "mvm/snapshot.h"

#include "snap_fixture.h"

#define ARGV(...) ((char *[]){ "run", __VA_ARGS__, NULL })
#define ARGC(a) ((int)(sizeof(a) / sizeof(a[0])) - 1)

static int parse(char **argv, int argc, struct vm_config *cfg,
		 struct mvm_err *err)
{
	return cli_parse_run(argc, argv, cfg, err);
}

Test(cli, defaults_and_all_options)
{
	char **a = ARGV("--kernel", "k", "--initrd", "i", "--cmdline", "x y",
			"--cpus", "4", "--memory", "512", "--on-reboot",
			"restart");
	struct vm_config c;
	struct mvm_err e;

	cr_assert_eq(parse(a, 13, &c, &e), 0, "%s", e.msg);
	cr_assert_str_eq(c.kernel, "k");
	cr_assert_str_eq(c.initrd, "i");
	cr_assert_str_eq(c.cmdline, "x y");
	cr_assert_eq(c.cpus, 4);
	cr_assert_eq(c.mem_mib, 512);
	cr_assert_eq(c.on_reboot, VM_ON_REBOOT_RESTART);

	a = ARGV("--kernel", "k");
	cr_assert_eq(parse(a, 3, &c, &e), 0);
	cr_assert_eq(c.cpus, MVM_DEFAULT_CPUS);
	cr_assert_eq(c.mem_mib, MVM_DEFAULT_MEM_MIB);
	cr_assert_str_eq(c.cmdline, "");
	cr_assert_null(c.initrd);
	cr_assert_eq(c.on_reboot, VM_ON_REBOOT_EXIT);
}

Test(cli, bad_values_name_the_option)
{
	struct vm_config c;
	struct mvm_err e;

	cr_assert_lt(parse(ARGV("--kernel", "k", "--cpus", "two"), 5, &c, &e), 0);
	cr_assert(strstr(e.msg, "--cpus"), "%s", e.msg);
	cr_assert_lt(parse(ARGV("--kernel", "k", "--memory", "-5"), 5, &c, &e), 0);
	cr_assert(strstr(e.msg, "--memory"), "%s", e.msg);
	cr_assert_lt(parse(ARGV("--kernel", "k", "--memory", "1x"), 5, &c, &e), 0);
	cr_assert_lt(parse(ARGV("--kernel", "k", "--memory",
				"99999999999999999999999"), 5, &c, &e), 0);
	cr_assert(strstr(e.msg, "--memory"), "%s", e.msg);
	cr_assert_lt(parse(ARGV("--kernel", "k", "--on-reboot", "x"), 5, &c, &e), 0);
	cr_assert(strstr(e.msg, "--on-reboot"), "%s", e.msg);
	cr_assert_lt(parse(ARGV("--kernel", "k", "--bogus"), 4, &c, &e), 0);
	cr_assert(strstr(e.msg, "--bogus"), "%s", e.msg);
	cr_assert_lt(parse(ARGV("--kernel", "k", "extra"), 4, &c, &e), 0);
	cr_assert(strstr(e.msg, "extra"), "%s", e.msg);
	cr_assert_lt(parse(ARGV("--cpus", "1"), 3, &c, &e), 0);
	cr_assert(strstr(e.msg, "--kernel"), "%s", e.msg);
	cr_assert_lt(parse(ARGV("--kernel"), 2, &c, &e), 0);
	cr_assert(strstr(e.msg, "--kernel"), "%s", e.msg);
}

Test(cli, help_is_not_an_error)
{
	struct vm_config c;

	cr_assert_eq(parse(ARGV("--help"), 2, &c, NULL), 1);
}

Test(cli, config_checks_name_the_culprit)
{
	struct vm_config c = { .kernel = "k", .cmdline = "", .cpus = 1,
			       .mem_mib = 0 };
	struct mvm_err e;

	cr_assert_lt(vm_check_config(&c, &e), 0);
	cr_assert(strstr(e.msg, "memory"), "%s", e.msg);
	c.mem_mib = 1ULL << 40;
	cr_assert_lt(vm_check_config(&c, &e), 0);
	cr_assert(strstr(e.msg, "more than this host has"), "%s", e.msg);
	c.mem_mib = 64;
	c.cpus = 0;
	cr_assert_lt(vm_check_config(&c, &e), 0);
	cr_assert(strstr(e.msg, "cpus"), "%s", e.msg);
	c.cpus = 1;
	cr_assert_eq(vm_check_config(&c, &e), 0);
}

/* --dynamic-memory is held to --memory wherever either comes. */
Test(cli, dynamic_memory_option)
{
	struct vm_config c;
	struct mvm_err e;

	cr_assert_eq(parse(ARGV("--kernel", "k", "--dynamic-memory",
				"min=256,max=1024,buffer=50", "--memory",
				"512"), 7, &c, &e), 0, "%s", e.msg);
	cr_assert(c.dynmem.enabled);
	cr_assert_eq(c.dynmem.min_mib, 256);
	cr_assert_eq(c.dynmem.max_mib, 1024);
	cr_assert_eq(c.dynmem.buffer_percent, 50);
	cr_assert_lt(parse(ARGV("--kernel", "k", "--dynamic-memory",
				"min=256,max=1024"), 5, &c, &e), 0);
	cr_assert(strstr(e.msg, "--dynamic-memory: min: 256 MiB is more than "
			 "the boot memory (mem_size_mib 128)"), "%s", e.msg);
	cr_assert_lt(parse(ARGV("--kernel", "k", "--dynamic-memory",
				"min=64,max=128", "--dynamic-memory",
				"min=64,max=256"), 7, &c, &e), 0);
	cr_assert(strstr(e.msg, "--dynamic-memory: given twice"), "%s",
		  e.msg);
	cr_assert_eq(parse(ARGV("--kernel", "k"), 3, &c, &e), 0);
	cr_assert_not(c.dynmem.enabled);
}

/* The VM's own check: what the VMM did not add must be there. */
Test(cli, config_check_holds_dynamic_memory_to_the_machine)
{
	struct vm_config c = {
		.kernel = "k", .cmdline = "", .cpus = 1, .mem_mib = 64,
		.dynmem = { .enabled = true, .min_mib = 32, .max_mib = 64,
			    .buffer_percent = 20 },
	};
	struct mvm_err e;

	cr_assert_lt(vm_check_config(&c, &e), 0);
	cr_assert(strstr(e.msg, "dynamic-memory: balloon: dynamic memory "
			 "needs a balloon"), "%s", e.msg);
	c.balloon = (struct balloon_config){ .enabled = true,
					     .stats_interval_s = 1 };
	cr_assert_eq(vm_check_config(&c, &e), 0, "%s", e.msg);
	c.dynmem.max_mib = 512;
	cr_assert_lt(vm_check_config(&c, &e), 0);
	cr_assert(strstr(e.msg, "dynamic-memory: max_mib: 512 MiB is beyond "
			 "the boot memory"), "%s", e.msg);
	c.mem_hotplug = (struct mem_hotplug_config){
		.total_mib = 512, .slot_mib = 128, .block_mib = 2 };
	cr_assert_eq(vm_check_config(&c, &e), 0, "%s", e.msg);
}

/* ---- mvm snapshot, mvm --describe-snapshot ----------------------------- */

#define SNAP_ARGV(...) ((char *[]){ __VA_ARGS__, NULL })

struct run {
	int status;
	char *out, *err;
};

/* fn's exit status and what it printed on each stream. */
static struct run run(int (*fn)(int, char **, FILE *, FILE *), int argc,
		      char **argv)
{
	struct run r;
	size_t n;
	FILE *out = open_memstream(&r.out, &n);
	FILE *err = open_memstream(&r.err, &n);

	r.status = fn(argc, argv, out, err);
	fclose(out);
	fclose(err);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* Status 1 and exactly one line on stderr, holding each of want. */
static void one_line_error(struct run *r, const char *a, const char *b)
{
	cr_assert_eq(r->status, 1, "status %d", r->status);
	cr_assert_str_empty(r->out, "%s", r->out);
	cr_assert(strchr(r->err, '\n') == r->err + strlen(r->err) - 1,
		  "not one line: %s", r->err);
	cr_assert(strstr(r->err, a), "no \"%s\" in %s", a, r->err);
	cr_assert(!b || strstr(r->err, b), "no \"%s\" in %s", b, r->err);
	run_free(r);
}

struct tmp {
	char dir[256], snap[300], other[300];
};

static void tmp_new(struct tmp *t)
{
	const char *d = getenv("TMPDIR");
	struct mvm_err err = { .msg = "" };
	struct snap_file s;

	snprintf(t->dir, sizeof(t->dir), "%s/mvm-cli-XXXXXX",
		 d && *d ? d : "/tmp");
	cr_assert_not_null(mkdtemp(t->dir));
	snprintf(t->snap, sizeof(t->snap), "%s/vm.snap", t->dir);
	snprintf(t->other, sizeof(t->other), "%s/other", t->dir);
	cr_assert_eq(fix_make_snap(&s), 0);
	cr_assert_eq(snap_file_write(t->snap, &s, &err), 0, "%s", err.msg);
	snap_file_free(&s);
}

static void tmp_rm(struct tmp *t)
{
	unlink(t->snap);
	unlink(t->other);
	cr_assert_eq(rmdir(t->dir), 0);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

Test(cli, snapshot_usage)
{
	struct run r = run(cli_snapshot, 1, SNAP_ARGV("snapshot"));

	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "mvm snapshot inspect FILE"), "%s", r.err);
	run_free(&r);
	r = run(cli_snapshot, 2, SNAP_ARGV("snapshot", "--help"));
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "mvm snapshot merge BASE_MEM DIFF_MEM"), "%s",
		  r.out);
	run_free(&r);
	r = run(cli_snapshot, 2, SNAP_ARGV("snapshot", "restore"));
	one_line_error(&r, "unknown action 'restore'", NULL);
	r = run(cli_snapshot, 2, SNAP_ARGV("snapshot", "inspect"));
	one_line_error(&r, "mvm snapshot inspect: needs FILE", NULL);
	r = run(cli_snapshot, 4, SNAP_ARGV("snapshot", "inspect", "a", "b"));
	one_line_error(&r, "unexpected argument 'b'", NULL);
	r = run(cli_snapshot, 3, SNAP_ARGV("snapshot", "merge", "a"));
	one_line_error(&r, "needs BASE_MEM DIFF_MEM", NULL);
}

Test(cli, snapshot_inspect)
{
	struct tmp t;
	struct run r;

	tmp_new(&t);
	r = run(cli_snapshot, 3, SNAP_ARGV("snapshot", "inspect", t.snap));
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_empty(r.err);
	cr_assert(strstr(r.out, "type: Diff\n"), "%s", r.out);
	cr_assert(strstr(r.out, "taken: 2023-11-14T22:13:20.123456789Z\n"),
		  "%s", r.out);
	cr_assert(strstr(r.out, "vcpus: 2, nested state present\n"), "%s",
		  r.out);
	cr_assert(strstr(r.out, "\"kvmclock\" version 1, 48 bytes\n"), "%s",
		  r.out);
	run_free(&r);

	/* The one line names the file and what is wrong with it. */
	write_file(t.other, "\x7f" "ELF", 4);
	r = run(cli_snapshot, 3, SNAP_ARGV("snapshot", "inspect", t.other));
	one_line_error(&r, t.other, ": snapshot: not an mvm snapshot state "
		       "file");
	r = run(cli_snapshot, 3, SNAP_ARGV("snapshot", "inspect", t.dir));
	one_line_error(&r, t.dir, "a directory");
	unlink(t.other);
	r = run(cli_snapshot, 3, SNAP_ARGV("snapshot", "inspect", t.other));
	one_line_error(&r, t.other, "No such file");
	tmp_rm(&t);
}

Test(cli, describe_snapshot_prints_the_format_version)
{
	struct mvm_err err = { .msg = "" };
	struct snap_file s;
	struct tmp t;
	struct run r;
	size_t len;
	void *buf;

	tmp_new(&t);
	r = run(cli_describe_snapshot, 3,
		SNAP_ARGV("mvm", "--describe-snapshot", t.snap));
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "v1\nDiff snapshot taken 2023-11-14T22:13:20Z "
			 "by mvm 0.1.0: 2 vCPUs, 3200 MiB, 8 state nodes, "
			 "nested state present\n");
	run_free(&r);

	/* A file of another format version says which. */
	cr_assert_eq(fix_make_snap(&s), 0);
	cr_assert_eq(snap_file_encode(&s, &buf, &len, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(fdt_setprop_inplace_u32(buf, 0, "format-version", 2), 0);
	write_file(t.other, buf, len);
	free(buf);
	snap_file_free(&s);
	r = run(cli_describe_snapshot, 3,
		SNAP_ARGV("mvm", "--describe-snapshot", t.other));
	one_line_error(&r, t.other, "snapshot: format version 2, this mvm "
		       "reads 1");
	r = run(cli_describe_snapshot, 2,
		SNAP_ARGV("mvm", "--describe-snapshot"));
	one_line_error(&r, "needs the state file", NULL);
	r = run(cli_describe_snapshot, 4,
		SNAP_ARGV("mvm", "--describe-snapshot", t.snap, "x"));
	one_line_error(&r, "takes one state file", NULL);
	tmp_rm(&t);
}

Test(cli, snapshot_merge)
{
	static const char page[4096] = { [0 ... 4095] = 'd' };
	char back[4096];
	struct tmp t;
	struct run r;
	int fd;

	tmp_new(&t);
	/* base: 4 pages of 'b'; diff: page 2 only, the rest holes. */
	fd = open(t.other, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 4 * 4096), 0);
	cr_assert_eq(pwrite(fd, page, 4096, 2 * 4096), 4096);
	close(fd);
	memset(back, 'b', sizeof(back));
	fd = open(t.snap, O_WRONLY | O_TRUNC);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(write(fd, back, 4096), 4096);
	close(fd);
	r = run(cli_snapshot, 4, SNAP_ARGV("snapshot", "merge", t.snap,
					   t.other));
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_empty(r.err);
	run_free(&r);
	fd = open(t.snap, O_RDONLY);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(read(fd, back, 4096), 4096);
		cr_assert_eq(back[0], i == 2 ? 'd' : 'b', "page %d", i);
		cr_assert_eq(back[4095], i == 2 ? 'd' : 'b', "page %d", i);
	}
	close(fd);

	/* Another size: refused, naming both. */
	fd = open(t.other, O_WRONLY);
	cr_assert_eq(ftruncate(fd, 4096), 0);
	close(fd);
	r = run(cli_snapshot, 4, SNAP_ARGV("snapshot", "merge", t.snap,
					   t.other));
	one_line_error(&r, t.other, "not a Diff of that base");
	tmp_rm(&t);
}

/* ---- mvm checkpoint ---------------------------------------------------- */

Test(cli, checkpoint_arguments)
{
	struct run r = run(cli_checkpoint, 1, SNAP_ARGV("checkpoint"));

	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "mvm checkpoint create|apply|delete"), "%s",
		  r.err);
	run_free(&r);
	r = run(cli_checkpoint, 2, SNAP_ARGV("checkpoint", "--help"));
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "mvm checkpoint list --api-sock PATH"), "%s",
		  r.out);
	run_free(&r);
	r = run(cli_checkpoint, 2, SNAP_ARGV("checkpoint", "revert"));
	one_line_error(&r, "unknown action 'revert'", NULL);
	r = run(cli_checkpoint, 3, SNAP_ARGV("checkpoint", "create", "a"));
	one_line_error(&r, "mvm checkpoint create: needs --api-sock PATH",
		       NULL);
	r = run(cli_checkpoint, 4, SNAP_ARGV("checkpoint", "apply",
					     "--api-sock", "s"));
	one_line_error(&r, "mvm checkpoint apply: needs NAME", NULL);
	r = run(cli_checkpoint, 3, SNAP_ARGV("checkpoint", "delete",
					     "--api-sock"));
	one_line_error(&r, "--api-sock needs the socket's path", NULL);
	r = run(cli_checkpoint, 5, SNAP_ARGV("checkpoint", "list",
					     "--api-sock=s", "a", "b"));
	one_line_error(&r, "mvm checkpoint list: unexpected argument 'a'",
		       NULL);
	r = run(cli_checkpoint, 5, SNAP_ARGV("checkpoint", "create",
					     "--api-sock=s", "a", "b"));
	one_line_error(&r, "unexpected argument 'b'", NULL);
	r = run(cli_checkpoint, 4, SNAP_ARGV("checkpoint", "create",
					     "--api-sock=s", "--force"));
	one_line_error(&r, "unknown option '--force'", NULL);
	r = run(cli_checkpoint, 3, SNAP_ARGV("checkpoint", "config",
					     "--api-sock=s"));
	one_line_error(&r, "mvm checkpoint config: needs DIR", NULL);
	/* The name's rule, before any request: a path it would break. */
	r = run(cli_checkpoint, 4, SNAP_ARGV("checkpoint", "create",
					     "--api-sock=s", "a/b"));
	one_line_error(&r, "may contain only letters", NULL);
	r = run(cli_checkpoint, 4, SNAP_ARGV("checkpoint", "apply",
					     "--api-sock=s", ".hidden"));
	one_line_error(&r, "must not start with '.'", NULL);
	r = run(cli_checkpoint, 4, SNAP_ARGV("checkpoint", "delete",
					     "--api-sock=s", "config"));
	one_line_error(&r, "'config'", NULL);
	/* Nobody serves the socket: one line naming it. */
	r = run(cli_checkpoint, 4, SNAP_ARGV("checkpoint", "create",
					     "--api-sock=/nonexistent/api.sock",
					     "a"));
	one_line_error(&r, "cannot connect to the API at "
		       "'/nonexistent/api.sock'", NULL);
}

/*
 * A stand-in for mvm's API at path: n connections, each answered by the
 * request line it came with: a 201 with JSON for PUT /checkpoints/a, a
 * 204 for DELETE, a 400 fault for the rest. The request lines are written
 * to fd log, one a line.
 */
static pid_t fake_api(const char *path, int n, int log)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	pid_t pid;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	cr_assert_eq(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(ls, 4), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid) {
		close(ls);
		return pid;
	}
	alarm(20); /* never outlives a test that failed half way */
	for (int i = 0; i < n; i++) {
		static const char created[] = "{\"name\": \"a\"}";
		static const char fault[] =
			"{\"fault_message\": \"no checkpoint b in x\"}";
		char req[4096] = "", a[256];
		int c = accept(ls, NULL, NULL);
		ssize_t got = c < 0 ? -1 : read(c, req, sizeof(req) - 1);

		if (got <= 0)
			_exit(1);
		if (!strncmp(req, "PUT /checkpoints/a ", 19))
			snprintf(a, sizeof(a), "HTTP/1.1 201 Created\r\n"
				 "Content-Length: %zu\r\n\r\n%s",
				 strlen(created), created);
		else if (!strncmp(req, "DELETE ", 7))
			snprintf(a, sizeof(a), "HTTP/1.1 204 No Content\r\n"
				 "\r\n");
		else
			snprintf(a, sizeof(a), "HTTP/1.1 400 Bad Request\r\n"
				 "Content-Length: %zu\r\n\r\n%s",
				 strlen(fault), fault);
		req[strcspn(req, "\r")] = '\n';
		if (write(log, req, strcspn(req, "\n") + 1) < 0 ||
		    write(c, a, strlen(a)) < 0)
			_exit(1);
		close(c);
	}
	_exit(0);
}

Test(cli, checkpoint_asks_the_api_and_says_what_it_answered)
{
	char dir[] = "/tmp/mvm-cli-ck-XXXXXX", sock[64], arg[80], log[4096];
	int pipefd[2], status;
	ssize_t n;
	pid_t pid;
	struct run r;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/api.sock", dir);
	snprintf(arg, sizeof(arg), "--api-sock=%s", sock);
	cr_assert_eq(pipe(pipefd), 0);
	pid = fake_api(sock, 4, pipefd[1]);
	close(pipefd[1]);

	r = run(cli_checkpoint, 4, SNAP_ARGV("checkpoint", "create", arg,
					     "a"));
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "\"name\":\"a\""), "%s", r.out);
	cr_assert_str_empty(r.err);
	run_free(&r);
	r = run(cli_checkpoint, 4, SNAP_ARGV("checkpoint", "apply", arg, "b"));
	one_line_error(&r, "mvm checkpoint apply: 400: no checkpoint b in x",
		       NULL);
	r = run(cli_checkpoint, 4, SNAP_ARGV("checkpoint", "delete", arg,
					     "a"));
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_empty(r.out); /* 204: nothing to print */
	run_free(&r);
	r = run(cli_checkpoint, 4, SNAP_ARGV("checkpoint", "config", arg,
					     "/some dir"));
	one_line_error(&r, "400", NULL);

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	n = read(pipefd[0], log, sizeof(log) - 1);
	cr_assert_gt(n, 0);
	log[n] = '\0';
	close(pipefd[0]);
	cr_assert_str_eq(log, "PUT /checkpoints/a HTTP/1.1\n"
			 "PUT /checkpoints/b/apply HTTP/1.1\n"
			 "DELETE /checkpoints/a HTTP/1.1\n"
			 "PUT /checkpoints/config HTTP/1.1\n");
	unlink(sock);
	rmdir(dir);
}

/* ---- the API form's flags, Firecracker's --------------------------------- */

#define FC_ARGV(...) ((char *[]){ "mvm", __VA_ARGS__, NULL })

static int fc(char **argv, struct cli_fc_opts *o, struct mvm_err *e)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	e->msg[0] = '\0';
	return cli_parse_fc(argc, argv, o, e);
}

Test(cli_fc, every_flag_in_any_order)
{
	char **a = FC_ARGV("--show-log-origin", "--metrics-path", "m",
			   "--start-time-us", "12", "--level", "debug",
			   "--id", "vm-1", "--enable-pci", "--boot-timer",
			   "--api-sock=s", "--log-path", "l", "--show-level",
			   "--module", "api", "--start-time-cpu-us", "3",
			   "--parent-cpu-time-us", "4",
			   "--http-api-max-payload-size", "100",
			   "--mmds-size-limit=2048", "--metadata", "md.json",
			   "--no-seccomp");
	struct cli_fc_opts o;
	struct mvm_err e;

	cr_assert_eq(fc(a, &o, &e), 0, "%s", e.msg);
	cr_assert_str_eq(o.api.api_sock, "s");
	cr_assert_not(o.default_sock);
	cr_assert_str_eq(o.id, "vm-1");
	cr_assert(o.logger && o.show_level && o.show_origin);
	cr_assert_eq(o.level, API_LOG_DEBUG);
	cr_assert_str_eq(o.log_path, "l");
	cr_assert_str_eq(o.module, "api");
	cr_assert_str_eq(o.metrics_path, "m");
	cr_assert(o.boot_timer && o.api.no_seccomp);
	cr_assert(o.max_payload_set);
	cr_assert_eq(o.max_payload, 100);
	cr_assert(o.mmds_limit_set);
	cr_assert_eq(o.mmds_limit, 2048);
	cr_assert_str_eq(o.metadata, "md.json");
	cr_assert(o.start_us_set && o.start_cpu_us_set);
	cr_assert_eq(o.start_us, 12);
	cr_assert_eq(o.start_cpu_us, 3);
	cr_assert_eq(o.parent_cpu_us, 4);
}

Test(cli_fc, no_flags_serve_the_default_socket)
{
	struct cli_fc_opts o;
	struct mvm_err e;

	cr_assert_eq(fc(FC_ARGV(NULL), &o, &e), 0, "%s", e.msg);
	cr_assert_str_eq(o.api.api_sock, CLI_DEFAULT_API_SOCK);
	cr_assert(o.default_sock);
	cr_assert_not(o.logger);
	cr_assert_eq(fc(FC_ARGV("--id", "x"), &o, &e), 0, "%s", e.msg);
	cr_assert(o.default_sock);
	/* mvm's own forms keep running without an API. */
	cr_assert_eq(fc(FC_ARGV("--config-file", "c"), &o, &e), 0);
	cr_assert_null(o.api.api_sock);
	/* --no-api drops --api-sock, as Firecracker ignores it. */
	cr_assert_eq(fc(FC_ARGV("--api-sock", "s", "--no-api",
				"--config-file", "c"), &o, &e), 0);
	cr_assert_null(o.api.api_sock);
	cr_assert(o.no_api);
}

static void fc_bad(char **argv, const char *want)
{
	struct cli_fc_opts o;
	struct mvm_err e;

	cr_assert_lt(fc(argv, &o, &e), 0, "accepted, wanted '%s'", want);
	cr_assert(strstr(e.msg, want), "want '%s' in '%s'", want, e.msg);
	cr_assert_null(strchr(e.msg, '\n'), "not one line: %s", e.msg);
}

Test(cli_fc, bad_values_name_the_flag_and_the_value)
{
	char id65[66];

	memset(id65, 'a', 65);
	id65[65] = '\0';
	fc_bad(FC_ARGV("--id", "a_b"), "--id: 'a_b'");
	fc_bad(FC_ARGV("--id", ""), "--id: ''");
	fc_bad(FC_ARGV("--id", id65), "must be 1 to 64");
	fc_bad(FC_ARGV("--level", "Loud"), "--level: 'Loud'");
	fc_bad(FC_ARGV("--http-api-max-payload-size", "x1"),
	       "--http-api-max-payload-size: 'x1'");
	fc_bad(FC_ARGV("--http-api-max-payload-size", "99999999999"),
	       "--http-api-max-payload-size: 99999999999 is too large");
	fc_bad(FC_ARGV("--start-time-us", "-1"), "--start-time-us: '-1'");
	fc_bad(FC_ARGV("--start-time-cpu-us", "1.5"),
	       "--start-time-cpu-us: '1.5'");
	fc_bad(FC_ARGV("--parent-cpu-time-us", ""), "--parent-cpu-time-us");
	fc_bad(FC_ARGV("--no-api"), "--no-api needs --config-file");
	fc_bad(FC_ARGV("--id", "a", "--id", "b"), "--id: given more than");
	fc_bad(FC_ARGV("--boot-timer=yes"), "--boot-timer takes no value");
	fc_bad(FC_ARGV("--api-sock"), "--api-sock needs a value");
	fc_bad(FC_ARGV("--log-path", ""), "--log-path: the value must not");
	fc_bad(FC_ARGV("--module", "a\nb"), "--module: the value");
	fc_bad(FC_ARGV("--metadata", ""), "--metadata: the value must not");
	fc_bad(FC_ARGV("--mmds-size-limit", "ten"), "--mmds-size-limit: 'ten'");
	fc_bad(FC_ARGV("--mmds-size-limit", "99999999999"),
	       "--mmds-size-limit: 99999999999 is too large");
	fc_bad(FC_ARGV("--seccomp-filter", "f"), "custom seccomp filters");
	fc_bad(FC_ARGV("--frobnicate"), "unknown argument '--frobnicate'");
	fc_bad(FC_ARGV("--incoming", "unix:x", "--config-file", "c"),
	       "--incoming cannot be combined");
}

Test(cli_fc, levels_take_any_case)
{
	const struct {
		const char *s;
		enum api_log_level l;
	} t[] = { { "Error", API_LOG_ERROR }, { "warning", API_LOG_WARNING },
		  { "WARN", API_LOG_WARNING }, { "info", API_LOG_INFO },
		  { "Trace", API_LOG_TRACE }, { "off", API_LOG_OFF } };
	struct cli_fc_opts o;
	struct mvm_err e;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cr_assert_eq(fc(FC_ARGV("--level", (char *)t[i].s), &o, &e), 0,
			     "%s", e.msg);
		cr_assert_eq(o.level, t[i].l, "%s", t[i].s);
	}
}

Test(cli_fc, the_flags_main_routes)
{
	cr_assert(cli_fc_flag("--api-sock"));
	cr_assert(cli_fc_flag("--id=x"));
	cr_assert(cli_fc_flag("--no-api"));
	cr_assert(cli_fc_flag("--enable-pci"));
	cr_assert_not(cli_fc_flag("run"));
	cr_assert_not(cli_fc_flag("--idx"));
	cr_assert_not(cli_fc_flag("--api-socket"));
}
