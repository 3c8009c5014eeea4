/*
 * The main thread's life: block the process signals (they arrive through a
 * signalfd on the loop), build the VM, run the loop until the VM asks to
 * stop, and turn the reason into mvm's exit status. A guest reboot with
 * --on-reboot restart builds a fresh VM from the same config.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "mvm/cli.h"
#include "mvm/console.h"
#include "mvm/err.h"
#include "mvm/run.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"

struct run_ctx {
	struct loop loop;
	struct console console;
	struct vm *vm;
	int sig_fd;
	struct loop_watch sig_watch;
	int pending_signal; /* arrived while no VM existed */
};

static void stop_for_signal(struct vm *vm, int signo)
{
	vm_request_stop(vm, VM_STOP_SIGNAL, 128 + signo,
			"terminated by signal %d (%s)", signo, strsignal(signo));
}

static void on_signal(void *arg)
{
	struct run_ctx *rc = arg;
	struct signalfd_siginfo si;

	while (read(rc->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (rc->vm)
			stop_for_signal(rc->vm, (int)si.ssi_signo);
		else
			rc->pending_signal = (int)si.ssi_signo;
	}
}

static int setup_signals(struct run_ctx *rc, struct mvm_err *err)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	/* Blocked before any thread exists, so every thread inherits it. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (rc->sig_fd < 0)
		return mvm_fail(err, -errno, "signalfd: %s", strerror(errno));
	return loop_watch_add(&rc->loop, &rc->sig_watch, rc->sig_fd, on_signal,
			      rc);
}

static int stop_status(const struct vm *vm)
{
	switch (vm->stop_kind) {
	case VM_STOP_ERROR:
		return MVM_EXIT_GUEST_CRASHED;
	case VM_STOP_DEBUG_EXIT:
	case VM_STOP_SIGNAL:
		return vm->stop_status;
	default:
		return MVM_EXIT_OK;
	}
}

/* One boot of the VM. Returns the stop kind via *vm, or -errno. */
static int boot_once(struct run_ctx *rc, struct vm *vm,
		     const struct vm_config *cfg, struct mvm_err *err)
{
	int ret = vm_create(vm, cfg, &rc->loop, err);

	rc->vm = vm;
	if (!ret && rc->pending_signal)
		stop_for_signal(vm, rc->pending_signal);
	if (!ret)
		ret = console_attach(&rc->console, &rc->loop, vm);
	if (!ret)
		ret = vm_start(vm, err);
	if (!ret)
		ret = loop_run(&rc->loop);
	console_detach(&rc->console);
	return ret;
}

int run_vm(const struct vm_config *cfg)
{
	struct run_ctx rc = { .sig_fd = -1 };
	struct mvm_err err = { "" };
	struct vm vm;
	int status = MVM_EXIT_START_FAILED, ret;

	ret = loop_init(&rc.loop, 256, &err);
	if (!ret)
		ret = vcpu_signals_init(&err);
	if (!ret)
		ret = setup_signals(&rc, &err);
	if (ret) {
		fprintf(stderr, "mvm: %s\n", err.msg);
		goto out;
	}
	console_init(&rc.console, cfg->console_in);
	console_install_crash_restore(&rc.console);
	for (;;) {
		ret = boot_once(&rc, &vm, cfg, &err);
		if (ret) {
			vm_destroy(&vm);
			console_restore(&rc.console);
			fprintf(stderr, "mvm: %s\n", err.msg[0] ? err.msg :
				strerror(-ret));
			status = MVM_EXIT_START_FAILED;
			break;
		}
		vm_destroy(&vm);
		rc.vm = NULL;
		if (vm.stop_kind == VM_STOP_REBOOT &&
		    cfg->on_reboot == VM_ON_REBOOT_RESTART) {
			fprintf(stderr, "mvm: guest rebooted; restarting\n");
			continue;
		}
		console_restore(&rc.console);
		if (vm.stop_msg[0])
			fprintf(stderr, "mvm: %s\n", vm.stop_msg);
		status = stop_status(&vm);
		break;
	}
out:
	console_restore(&rc.console);
	if (rc.sig_fd >= 0) {
		loop_watch_cancel(&rc.sig_watch);
		close(rc.sig_fd);
	}
	loop_fini(&rc.loop);
	return status;
}

int run_main(int argc, char **argv)
{
	struct mvm_err err = { "" };
	struct vm_config cfg;
	int ret = cli_parse_run(argc, argv, &cfg, &err);

	if (ret == 1) {
		fputs(cli_run_usage, stdout);
		return MVM_EXIT_OK;
	}
	if (ret) {
		fprintf(stderr, "mvm: %s\n", err.msg);
		return MVM_EXIT_START_FAILED;
	}
	ret = vm_check_config(&cfg, &err);
	if (ret) {
		fprintf(stderr, "mvm: %s\n", err.msg);
		return MVM_EXIT_START_FAILED;
	}
	return run_vm(&cfg);
}
