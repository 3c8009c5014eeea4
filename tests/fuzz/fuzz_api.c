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

/* A stuck connection ends the input after this, not the whole run. */
#define INPUT_DEADLINE_MS 2000

/* libFuzzer calls us with no context, so the VMM lives here. */
static struct vmm *fuzz_vmm;

struct conn {
	int fd;
	struct loop *loop;
	struct loop_watch watch;
	bool done;
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
		c->done = true;
		loop_stop(c->loop);
	}
}

static void on_deadline(void *ctx)
{
	struct conn *c = ctx;

	c->done = true;
	loop_stop(c->loop);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct mvm_err err = { "" };
	struct vm_spec spec;

	(void)argc;
	(void)argv;
	fuzz_vmm = calloc(1, sizeof(*fuzz_vmm));
	spec_init(&spec);
	if (!fuzz_vmm || vmm_init(fuzz_vmm, &spec, &err) ||
	    api_server_start(&fuzz_vmm->api, fuzz_vmm, &fuzz_vmm->loop, NULL,
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
	v->state = VMM_NOT_STARTED;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmm *v = fuzz_vmm;
	struct itimerspec its = {
		.it_value = { .tv_sec = INPUT_DEADLINE_MS / 1000,
			      .tv_nsec = (INPUT_DEADLINE_MS % 1000) * 1000000L },
	};
	struct loop_watch deadline;
	struct conn c = { .loop = &v->loop };
	int sv[2], tfd;
	size_t off = 0;

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
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	timerfd_settime(tfd, 0, &its, NULL);
	loop_watch_add(&v->loop, &c.watch, sv[1], on_client, &c);
	loop_watch_add(&v->loop, &deadline, tfd, on_deadline, &c);
	api_server_add_fd(v->api, sv[0]);
	while (!c.done)
		loop_run(&v->loop);
	loop_watch_cancel(&deadline);
	loop_watch_cancel(&c.watch);
	close(tfd);
	close(sv[1]);
	reset(v);
	return 0;
}
