/*
 * libFuzzer target for the API's request path: the input is the raw byte
 * stream a client sends on one connection. It goes through the real
 * server (libmicrohttpd on mvm's event loop, the router, the JSON shapes,
 * the handlers) of a VMM in dry-run mode, which validates and records
 * everything but touches no KVM and writes no file. Each input gets a
 * fresh spec, so both the pre-boot and the post-boot rules are reached.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "mvm/api.h"
#include "mvm/err.h"
#include "mvm/loop.h"
#include "mvm/vmm.h"

/*
 * A client that sent part of a request and half-closed gets no answer, and
 * libmicrohttpd only notices the half-close at its idle timeout; so after
 * a short quiet spell the client closes for good, which it does notice.
 */
#define QUIET_MS 5
#define INPUT_DEADLINE_MS 2000

/* libFuzzer calls us with no context, so the VMM lives here. */
static struct vmm *fuzz_vmm;
static struct api_server *fuzz_api;

struct conn {
	int fd;
	struct vmm *v;
	struct loop_watch watch;
	bool watched;
	bool eof;           /* the server closed its end */
	int tfd;
	struct loop_watch tick;
	unsigned ticks;
	bool hung_up;       /* we closed our end */
};

static void on_client(void *ctx)
{
	struct conn *c = ctx;
	char buf[4096];
	ssize_t n;

	/* Drain the responses; EOF means the server closed its end. */
	while ((n = read(c->fd, buf, sizeof(buf))) > 0)
		;
	if (n == 0 || (n < 0 && errno != EAGAIN)) {
		c->eof = true;
		loop_stop(&c->v->loop);
	}
}

/* Every millisecond: hang up after a quiet spell, stop once served. */
static void on_tick(void *ctx)
{
	struct conn *c = ctx;
	uint64_t n;

	if (read(c->tfd, &n, sizeof(n)) > 0)
		c->ticks += (unsigned)n;
	if ((c->eof || c->hung_up) && !api_server_connections(fuzz_api))
		loop_stop(&c->v->loop);
	else if (!c->hung_up && c->ticks >= QUIET_MS)
		c->hung_up = true; /* the caller closes the fd */
	if (c->hung_up || c->ticks >= INPUT_DEADLINE_MS)
		loop_stop(&c->v->loop);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct mvm_err err = { .msg = "" };
	struct vm_spec spec;

	(void)argc;
	(void)argv;
	fuzz_vmm = calloc(1, sizeof(*fuzz_vmm));
	spec_init(&spec);
	if (!fuzz_vmm || vmm_init(fuzz_vmm, &spec, &err) ||
	    api_server_start(&fuzz_api, fuzz_vmm, &fuzz_vmm->loop, NULL,
			     &err)) {
		fprintf(stderr, "fuzz_api: set-up failed: %s\n", err.msg);
		exit(1);
	}
	fuzz_vmm->dry_run = true;
	return 0;
}

/* Back to a VMM that has never been configured. */
static void reset(struct vmm *v)
{
	spec_free(&v->spec);
	spec_init(&v->spec);
	v->state = VM_STATE_NOT_STARTED;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmm *v = fuzz_vmm;
	struct itimerspec its = {
		.it_value = { .tv_nsec = 1000000L },
		.it_interval = { .tv_nsec = 1000000L },
	};
	struct conn c = { .v = v };
	size_t off = 0;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv) < 0)
		abort();
	c.fd = sv[1];
	/* The socket buffer holds any input libFuzzer gives (-max_len). */
	while (off < size) {
		ssize_t n = write(sv[1], data + off, size - off);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	shutdown(sv[1], SHUT_WR);
	c.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	timerfd_settime(c.tfd, 0, &its, NULL);
	loop_watch_add(&v->loop, &c.watch, sv[1], on_client, &c);
	c.watched = true;
	loop_watch_add(&v->loop, &c.tick, c.tfd, on_tick, &c);
	api_server_add_fd(fuzz_api, sv[0]);
	while (api_server_connections(fuzz_api) && c.ticks < INPUT_DEADLINE_MS) {
		loop_run(&v->loop);
		if (c.hung_up && c.watched) {
			loop_watch_cancel(&c.watch);
			c.watched = false;
			close(sv[1]);
		}
	}
	loop_watch_cancel(&c.tick);
	if (c.watched) {
		loop_watch_cancel(&c.watch);
		close(sv[1]);
	}
	close(c.tfd);
	reset(v);
	return 0;
}
