#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "mvm/console.h"
#include "mvm/devices.h"
#include "mvm/vm.h"

#define CTRL_A 0x01

void console_init(struct console *c, int in_fd)
{
	struct termios t;

	memset(c, 0, sizeof(*c));
	c->in_fd = in_fd;
	if (in_fd < 0 || !isatty(in_fd) || tcgetattr(in_fd, &c->saved) < 0)
		return;
	t = c->saved;
	cfmakeraw(&t);
	/* Keep output post-processing so host-side messages stay readable. */
	t.c_oflag |= OPOST | ONLCR;
	if (tcsetattr(in_fd, TCSAFLUSH, &t) == 0)
		c->raw = true;
}

void console_restore(struct console *c)
{
	if (c->raw)
		tcsetattr(c->in_fd, TCSAFLUSH, &c->saved);
	c->raw = false;
}

/* Filter the escape sequence; returns bytes left in buf for the guest. */
static size_t filter_escape(struct console *c, uint8_t *buf, size_t n)
{
	size_t out = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t b = buf[i];

		if (c->escape) {
			c->escape = false;
			if (b == 'x' || b == 'X') {
				vm_request_stop(c->vm, VM_STOP_QUIT, 0,
						"terminated by Ctrl-A x");
				return out;
			}
			if (b != CTRL_A)
				continue; /* unknown escape: swallow it */
		} else if (b == CTRL_A) {
			c->escape = true;
			continue;
		}
		buf[out++] = b;
	}
	return out;
}

/*
 * Whether a read of fd would return at once. stdin stays blocking (its
 * open file is shared with the shell that started mvm), and a multishot
 * poll can post several readiness events for bytes that one read takes
 * in; a read on such a stale event would block the whole loop until the
 * next keystroke. Regular files and hung-up pipes count as readable, so
 * the read that follows sees their EOF.
 */
static bool input_ready(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

static void console_readable(void *ctx)
{
	struct console *c = ctx;
	uint8_t buf[256];
	size_t room, n;
	ssize_t got;

	/* Drain what is there: a paste may be more than one read. */
	while (c->vm && !c->eof && input_ready(c->in_fd)) {
		room = serial_rx_room(c->vm->serial);
		if (room == 0)
			return; /* guest not reading: leave input in the fd */
		got = read(c->in_fd, buf,
			   room < sizeof(buf) ? room : sizeof(buf));
		if (got <= 0) {
			if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
				c->eof = true; /* stdin closed: the guest runs on */
				loop_watch_cancel(&c->watch);
			}
			return;
		}
		n = c->raw ? filter_escape(c, buf, (size_t)got) : (size_t)got;
		serial_rx_push(c->vm->serial, buf, n);
		if (atomic_load(&c->vm->stopping))
			return; /* Ctrl-A x: the rest is not the guest's */
	}
}

int console_attach(struct console *c, struct loop *l, struct vm *vm)
{
	c->vm = vm;
	if (c->in_fd < 0 || c->eof)
		return 0;
	return loop_watch_add(l, &c->watch, c->in_fd, console_readable, c);
}

void console_detach(struct console *c)
{
	if (c->in_fd >= 0 && !c->eof)
		loop_watch_cancel(&c->watch);
	c->vm = NULL;
}

/* A signal handler can reach no struct: this one pointer is the exception. */
static struct console *crash_console;

void console_crash_restore(void)
{
	if (crash_console && crash_console->raw)
		tcsetattr(crash_console->in_fd, TCSANOW, &crash_console->saved);
}

static void crash_handler(int sig)
{
	console_crash_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

void console_install_crash_restore(struct console *c)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
	struct sigaction sa = { .sa_handler = crash_handler };

	crash_console = c;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}
