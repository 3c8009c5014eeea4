/*
 * The terminal side of the serial console: raw mode when stdin is a tty
 * (restored on every exit path), the Ctrl-A escape (Ctrl-A x quits, Ctrl-A
 * Ctrl-A sends a literal Ctrl-A, as in QEMU), and feeding input to the UART
 * from the event loop.
 */
#ifndef MVM_CONSOLE_H
#define MVM_CONSOLE_H

#include <stdbool.h>
#include <termios.h>

#include "mvm/loop.h"

struct vm;

struct console {
	int in_fd;
	bool raw;
	bool escape; /* the previous byte was Ctrl-A */
	bool eof;
	struct termios saved;
	struct loop_watch watch;
	struct vm *vm; /* the VM receiving input; changes across restarts */
};

/* Put a tty into raw mode (no-op for pipes and files). */
void console_init(struct console *c, int in_fd);
void console_restore(struct console *c);
/* Start feeding in_fd to vm's UART from loop l. */
int console_attach(struct console *c, struct loop *l, struct vm *vm);
void console_detach(struct console *c);

/* Restore the terminal if a fatal signal kills mvm (async-signal-safe). */
void console_install_crash_restore(struct console *c);

/* Restore the terminal from a signal handler about to end mvm. */
void console_crash_restore(void);

#endif
