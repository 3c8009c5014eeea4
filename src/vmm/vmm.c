/*
 * The VMM controller: the process's state between boots. It owns the loop,
 * the signals (a signalfd on the loop), the console, the spec of the VM to
 * build and, once started, the VM. A VM is torn down only by vmm_run(),
 * between loop iterations, never from inside a loop callback: tearing down
 * cancels loop subscriptions, which must not happen while the loop (or the
 * HTTP server running inside it) is dispatching. The teardown is a state
 * (see teardown_begin), not a call that runs the loop until it is done.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "mvm/devices.h"
#include "mvm/clock.h"
#include "mvm/err.h"
#include "mvm/net.h"
#include "mvm/policy.h"
#include "mvm/vcpu.h"
#include "mvm/vm_state.h"
#include "mvm/vmm.h"
#include "mvm/vmm_migration.h"

#include "vmm_priv.h"

int vmm_transition(struct vmm *v, enum vm_event e, struct mvm_err *err)
{
	enum vm_state to;
	int ret = vm_state_next(v->state, e, &to, err);

	if (ret)
		return ret;
	if (to != v->state)
		vmm_log(v, API_LOG_DEBUG, "vmm", "state: %s -> %s (%s)",
			vm_state_name(v->state), vm_state_name(to),
			vm_event_name(e));
	v->state = to;
	return 0;
}

/* An internal event the table must allow: a refusal is mvm's own bug. */
void vmm_must_transition(struct vmm *v, enum vm_event e)
{
	struct mvm_err err = { .msg = "" };

	if (vmm_transition(v, e, &err))
		vmm_log(v, API_LOG_ERROR, "vmm", "lifecycle: %s", err.msg);
}

static void on_signal(void *arg)
{
	struct vmm *v = arg;
	struct signalfd_siginfo si;

	while (read(v->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		int signo = (int)si.ssi_signo;

		vmm_log(v, API_LOG_INFO, "vmm", "signal %d", signo);
		if (signo == SIGHUP)
			v->metrics.counts.sighup++;
		/*
		 * Remembered even when a VM takes the stop: if the VM was
		 * already stopping to reboot, its restart must not swallow it.
		 */
		if (!v->quit) {
			v->quit = true;
			v->quit_status = 128 + signo;
			snprintf(v->quit_msg, sizeof(v->quit_msg),
				 "terminated by signal %d (%s)", signo,
				 strsignal(signo));
		}
		if (v->have_vm && !v->discard_vm)
			vm_request_stop(&v->vm, VM_STOP_SIGNAL, 128 + signo,
					"%s", v->quit_msg);
		else
			loop_stop(&v->loop); /* no VM to stop: mvm ends */
	}
}

static int setup_signals(struct vmm *v, struct mvm_err *err)
{
	sigset_t set;
	int ret;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	/* Blocked before any thread exists, so every thread inherits it. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN); /* a client that hangs up is not fatal */
	v->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (v->sig_fd < 0)
		return mvm_fail(err, -errno, "signalfd: %s", strerror(errno));
	ret = loop_watch_add(&v->loop, &v->sig_watch, v->sig_fd, on_signal, v);
	if (ret)
		return mvm_fail(err, ret, "cannot watch signals");
	v->sig_watched = true;
	return 0;
}

int vmm_init(struct vmm *v, struct vm_spec *spec, struct mvm_err *err)
{
	int ret;

	memset(v, 0, sizeof(*v));
	v->spec = *spec;
	spec_init(spec); /* moved: the caller's copy owns nothing now */
	v->sig_fd = v->serial_fd = -1;
	v->metrics.fd = v->metrics.timer_fd = -1;
	v->dynmem.timer_fd = -1;
	v->bt.efd = -1;
	snprintf(v->id, sizeof(v->id), "anonymous-instance");

	ret = vmm_mmds_init(v, err);
	if (ret)
		return ret;
	ret = loop_init(&v->loop, 256, err);
	if (ret)
		return ret;
	v->loop_ready = true;
	ret = vcpu_signals_init(err);
	if (!ret)
		ret = setup_signals(v, err);
	if (!ret)
		ret = outq_init(&v->console_q, &v->loop, err);
	return ret;
}

void vmm_policy_facts(struct vmm *v, struct policy_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->vm_running = vm_state_booted(v->state);
	f->nested_exposed = v->spec.nested_virt;
	if (v->have_vm && !v->dry_run)
		vm_nested_facts(&v->vm, &f->l1_hypervisor_active,
				&f->l2_running);
	f->dynamic_memory_enabled = v->spec.dynmem.enabled;
	f->nics = v->spec.nr_nets;
	for (unsigned i = 0; i < v->spec.nr_nets; i++) {
		f->nics_mac_spoofing += v->spec.nets[i].mac_spoofing;
		/* NAT: nested guests reach out through L1's own stack. */
		f->nat |= v->spec.nets[i].user;
	}
}

/*
 * O_NONBLOCK: a FIFO with no reader must fail the open (ENXIO), not hang
 * the loop with every signal blocked. The flag then goes: the file is
 * ours alone, and the console queue needs writes that wait in io_uring.
 */
static int open_serial_out(const char *path, struct mvm_err *err)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK |
				    O_CLOEXEC | O_NOCTTY,
		      0600);

	if (fd < 0 && errno == ENXIO)
		return mvm_fail(err, -ENXIO, "serial_out_path '%s': a FIFO "
				"with no reader (start its reader first)",
				path);
	if (fd < 0)
		return mvm_fail(err, -errno, "serial_out_path: cannot open "
				"'%s': %s", path, strerror(errno));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

int vmm_serial_set(struct vmm *v, struct vm_spec *src, struct mvm_err *err)
{
	int fd = -1;

	if (src->serial_out_path && !v->dry_run) {
		fd = open_serial_out(src->serial_out_path, err);
		if (fd < 0)
			return fd;
	}
	if (v->serial_fd >= 0)
		close(v->serial_fd);
	v->serial_fd = fd;
	if (src != &v->spec) {
		free(v->spec.serial_out_path);
		v->spec.serial_out_path = src->serial_out_path;
		src->serial_out_path = NULL;
		v->spec.serial_set = true;
	}
	return 0;
}

/*
 * A start failed: the VM is torn down as a stopped one is, by vmm_run once
 * the loop yields, or by vmm_fini when no loop runs any more.
 */
void vmm_discard_vm(struct vmm *v)
{
	v->discard_vm = true;
	if (v->in_loop)
		loop_stop(&v->loop);
}

int vmm_policy_ask(struct vmm *v, enum policy_op op,
		   const struct policy_facts *f, struct mvm_err *err)
{
	struct policy_verdict verdict;

	policy_check(op, f, &verdict);
	if (!verdict.allowed)
		return mvm_fail(err, -EPERM, "%s", verdict.reason);
	if (verdict.warning)
		vmm_log(v, API_LOG_WARNING, "vmm", "%s", verdict.reason);
	return 0;
}

static int check_start_policy(struct vmm *v, struct mvm_err *err)
{
	struct policy_facts f;

	vmm_policy_facts(v, &f);
	f.vm_running = false; /* the question is whether it may start */
	return vmm_policy_ask(v, POLICY_OP_START, &f, err);
}

/*
 * Firecracker takes a multicast guest_mac, and so does mvm; but Linux
 * gives such a NIC a random address instead, and the source-MAC check
 * then drops its every frame: say so where the user will look.
 */
static void warn_multicast_macs(struct vmm *v)
{
	for (unsigned i = 0; i < v->spec.nr_nets; i++) {
		const struct spec_net *n = &v->spec.nets[i];
		const uint8_t *m = n->guest_mac;

		if (!n->guest_mac_set || !(m[0] & 1) || n->mac_spoofing)
			continue;
		vmm_log(v, API_LOG_WARNING, "vmm", "network interface '%s': "
			"guest_mac %02x:%02x:%02x:%02x:%02x:%02x is a "
			"multicast address: Linux gives the NIC a random one "
			"instead, whose frames are dropped unless "
			"mac_spoofing is on", n->id, m[0], m[1], m[2], m[3],
			m[4], m[5]);
	}
}

int vmm_start_vm(struct vmm *v, struct mvm_err *err)
{
	int ret;

	if (v->have_vm)
		return mvm_fail(err, -EBUSY, "a VM is still being torn down; "
				"try again");
	ret = check_start_policy(v, err);
	if (!ret)
		warn_multicast_macs(v);
	if (!ret)
		ret = vmm_transition(v, VM_EV_START, err);
	if (ret)
		return ret;
	ret = vmm_build_vm(v, NULL, err);
	vmm_must_transition(v, ret ? VM_EV_START_FAILED : VM_EV_STARTED);
	return ret;
}

void vmm_config_rebind(struct vmm *v)
{
	struct vm_config *c = &v->vm.cfg;
	const struct vm_spec *s = &v->spec;

	c->kernel = s->kernel_image_path;
	c->initrd = s->initrd_path;
	/* A loaded VM's spec holds its whole command line as boot_args. */
	c->cmdline = s->cmdline ? s->cmdline : s->boot_args ? s->boot_args : "";
	for (unsigned i = 0; i < c->nr_disks; i++)
		for (unsigned j = 0; j < s->nr_drives; j++)
			if (!strcmp(c->disks[i].id, s->drives[j].id))
				c->disks[i].path = s->drives[j].path_on_host;
	for (unsigned i = 0; i < c->nr_pmems; i++)
		for (unsigned j = 0; j < s->nr_pmems; j++)
			if (!strcmp(c->pmems[i].id, s->pmems[j].id))
				c->pmems[i].path = s->pmems[j].path_on_host;
	/* A loaded VM's socket path was the snapshot's or the override's. */
	if (c->vsock.guest_cid)
		c->vsock.uds_path = s->vsock.uds_path;
}

/*
 * The NICs' taps are the VMM's, attached at the first start and held until
 * mvm ends: a tap mvm created goes away with its last fd, and the host's
 * addresses and routes on it with it, so a rebooting guest's next VM must
 * get the same ones. Each NIC borrows its tap (net_config.tap_fd).
 */
static int attach_taps(struct vmm *v, struct vm_config *cfg,
		       struct mvm_err *err)
{
	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		if (i >= v->nr_taps && cfg->nets[i].user) {
			v->tap_fds[v->nr_taps++] = -1; /* NAT: no tap */
		} else if (i >= v->nr_taps) {
			int fd = tap_attach(cfg->nets[i].tap, err);

			if (fd < 0)
				return mvm_wrap(err, fd, "net %s: ",
						cfg->nets[i].id);
			v->tap_fds[v->nr_taps++] = fd;
		}
		if (cfg->nets[i].user)
			continue;
		cfg->nets[i].tap_given = true;
		cfg->nets[i].tap_fd = v->tap_fds[i];
	}
	return 0;
}

/*
 * The NICs PUT /mmds/config named get the VMM's store to serve (lent:
 * it outlives every VM), and the address.
 */
static void lend_mmds(struct vmm *v, struct vm_config *cfg)
{
	const struct spec_mmds *m = &v->spec.mmds;

	for (unsigned i = 0; m->set && i < cfg->nr_nets; i++)
		for (unsigned j = 0; j < m->nr_ifaces; j++)
			if (!strcmp(cfg->nets[i].id, m->ifaces[j])) {
				cfg->nets[i].mmds = v->mmds;
				cfg->nets[i].mmds_ipv4 = m->ipv4;
			}
}

static void release_taps(struct vmm *v)
{
	for (unsigned i = 0; i < v->nr_taps; i++)
		if (v->tap_fds[i] >= 0)
			close(v->tap_fds[i]);
	v->nr_taps = 0;
}

/*
 * vmm_start_vm's work, in the Starting state, from the spec; or a
 * snapshot load's, in the Restoring state, from the snapshot's
 * configuration (from), its vCPUs left parked.
 */
int vmm_build_vm(struct vmm *v, const struct vm_config *from,
		 struct mvm_err *err)
{
	struct vm_config cfg;
	int out_fd, ret = 0;

	v->metrics.final_flushed = false;
	vmm_boot_timer_arm(v);
	out_fd = v->serial_fd >= 0 ? v->serial_fd : v->spec.console_out;
	if (from) {
		cfg = *from;
		cfg.console_in = v->spec.console_in;
		cfg.console_out = out_fd;
	} else {
		ret = spec_to_config(&v->spec, &cfg, out_fd, err);
		if (!ret)
			vmm_dynmem_complete(v, &cfg);
	}
	if (!ret)
		ret = vm_check_config(&cfg, err);
	if (!ret && !v->dry_run)
		ret = attach_taps(v, &cfg, err);
	if (ret)
		return ret;
	lend_mmds(v, &cfg);
	if (!v->dry_run) {
		outq_set_fd(&v->console_q, out_fd);
		cfg.console_q = &v->console_q;
	}
	cfg.cmos = v->cmos_kept ? &v->cmos : NULL;
	if (v->dry_run)
		return 0;
	if (!v->console_ready) {
		/* Raw mode only now: before boot, Ctrl-C must still work. */
		console_init(&v->console, v->spec.console_in);
		console_install_crash_restore(&v->console);
		v->console_ready = true;
	}
	v->have_vm = true;
	ret = vm_create(&v->vm, &cfg, &v->loop, err);
	if (!ret)
		ret = vmm_boot_timer_attach(v, err);
	if (!ret)
		ret = console_attach(&v->console, &v->loop, &v->vm);
	if (!ret)
		ret = from ? vm_start_paused(&v->vm, err) :
			     vm_start(&v->vm, err);
	if (!ret)
		ret = vmm_dynmem_start(v, err);
	if (ret) {
		vmm_discard_vm(v);
		release_taps(v); /* the next start may name other taps */
		return ret;
	}
	vmm_log(v, API_LOG_INFO, "vmm", "VM started: %u vCPU(s), %llu MiB",
		cfg.cpus, (unsigned long long)cfg.mem_mib);
	if (!from) /* a restored or migrated VM's kernel runs already */
		vmm_log(v, API_LOG_INFO, "vmm", "kernel: %s",
			boot_format_name(v->vm.entry.format));
	return 0;
}

int vmm_pause(struct vmm *v, struct mvm_err *err)
{
	/* Asked first, moved only once the vCPUs have parked. */
	uint64_t start = mvm_mono_ns();
	enum vm_state to;
	int ret = vm_state_next(v->state, VM_EV_PAUSE, &to, err);

	if (ret || to == v->state)
		return ret;
	/* The devices too: a paused VM is one a snapshot may be taken of. */
	if (v->have_vm && !v->dry_run)
		ret = vm_pause_all(&v->vm, err);
	if (ret)
		return ret;
	vmm_must_transition(v, VM_EV_PAUSE);
	vmm_latency_vmm(v, VMM_LAT_PAUSE_VM, start);
	vmm_log(v, API_LOG_INFO, "vmm", "VM paused");
	return 0;
}

int vmm_resume(struct vmm *v, struct mvm_err *err)
{
	uint64_t start = mvm_mono_ns();
	bool was_paused = v->state == VM_STATE_PAUSED;
	int ret = vmm_transition(v, VM_EV_RESUME, err);

	if (ret || !was_paused)
		return ret;
	/* Running again whatever a device says; what it said is logged. */
	if (v->have_vm && !v->dry_run && vm_resume_all(&v->vm, err))
		vmm_log(v, API_LOG_ERROR, "vmm", "resume: %s", err->msg);
	vmm_latency_vmm(v, VMM_LAT_RESUME_VM, start);
	vmm_log(v, API_LOG_INFO, "vmm", "VM resumed");
	return 0;
}

int vmm_send_ctrl_alt_del(struct vmm *v, struct mvm_err *err)
{
	int ret;

	if (!v->have_vm || v->dry_run || !v->vm.i8042)
		return 0;
	ret = i8042_send_ctrl_alt_del(v->vm.i8042);
	if (ret)
		return mvm_fail(err, ret, "the i8042 output queue is full (the "
				"guest is not reading its keyboard)");
	vmm_log(v, API_LOG_INFO, "vmm", "sent Ctrl-Alt-Del");
	return 0;
}

/* A PATCH's limiter into the spec's: the buckets it gave replace theirs. */
static void merge_limiter(struct spec_limiter *dst,
			  const struct spec_limiter *src)
{
	if (!src->set)
		return;
	dst->set = true;
	if (src->bandwidth_set) {
		dst->bandwidth_set = true;
		dst->rl.bandwidth = src->rl.bandwidth;
	}
	if (src->ops_set) {
		dst->ops_set = true;
		dst->rl.ops = src->rl.ops;
	}
}

/* The buckets a PATCH gave, for the device (NULL: keep yours). */
static const struct token_bucket *bw_of(const struct spec_limiter *l)
{
	return l->set && l->bandwidth_set ? &l->rl.bandwidth : NULL;
}

static const struct token_bucket *ops_of(const struct spec_limiter *l)
{
	return l->set && l->ops_set ? &l->rl.ops : NULL;
}

int vmm_drive_patch(struct vmm *v, const char *id, char *path,
		    const struct spec_limiter *rl, struct mvm_err *err)
{
	struct spec_drive *d = NULL;
	int ret = 0;

	for (unsigned i = 0; i < v->spec.nr_drives && !d; i++)
		if (!strcmp(v->spec.drives[i].id, id))
			d = &v->spec.drives[i];
	if (!d)
		ret = mvm_fail(err, -ENOENT, "no drive '%s' is configured", id);
	if (!ret && path && v->have_vm)
		ret = vm_drive_swap(&v->vm, id, path, err);
	/* After the swap, which found the disk: this cannot fail then. */
	if (!ret && (bw_of(rl) || ops_of(rl)) && v->have_vm)
		ret = vm_drive_rate_limit(&v->vm, id, bw_of(rl), ops_of(rl),
					  err);
	if (ret) {
		free(path);
		return ret;
	}
	if (path) {
		free(d->path_on_host);
		d->path_on_host = path;
		if (v->have_vm)
			vmm_config_rebind(v); /* it borrowed the old path */
	}
	merge_limiter(&d->rate_limiter, rl);
	return 0;
}

int vmm_net_patch(struct vmm *v, const char *id,
		  const struct spec_limiter *rx, const struct spec_limiter *tx,
		  struct mvm_err *err)
{
	struct spec_net *n = NULL;
	int ret = 0;

	for (unsigned i = 0; i < v->spec.nr_nets && !n; i++)
		if (!strcmp(v->spec.nets[i].id, id))
			n = &v->spec.nets[i];
	if (!n)
		return mvm_fail(err, -ENOENT, "no network interface '%s' is "
				"configured", id);
	if ((bw_of(rx) || ops_of(rx) || bw_of(tx) || ops_of(tx)) &&
	    v->have_vm)
		ret = vm_net_rate_limit(&v->vm, id, bw_of(rx), ops_of(rx),
					bw_of(tx), ops_of(tx), err);
	if (ret)
		return ret;
	merge_limiter(&n->rx_rate_limiter, rx);
	merge_limiter(&n->tx_rate_limiter, tx);
	return 0;
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

/* The VM asked to stop: Shutting down, or Rebooting to restart it. */
static void vm_stopping(struct vmm *v)
{
	struct mvm_err err = { .msg = "" };
	bool restart = v->vm.stop_kind == VM_STOP_REBOOT &&
		       v->spec.on_reboot == VM_ON_REBOOT_RESTART && !v->quit;

	/* The VM's counters die with it: write their last interval first. */
	if (v->metrics.fd >= 0) {
		vmm_metrics_flush(v, &err);
		v->metrics.final_flushed = true;
	}
	/* A reboot keeps the CMOS, time offset and all, as a PC's does. */
	v->cmos_kept = v->vm.stop_kind == VM_STOP_REBOOT && v->vm.rtc;
	if (v->cmos_kept)
		rtc_save(v->vm.rtc, &v->cmos);
	if (v->vm.stop_kind == VM_STOP_MIGRATED &&
	    v->state == VM_STATE_MIGRATING_OUT)
		vmm_must_transition(v, VM_EV_MIGRATE_OUT_DONE);
	else
		vmm_must_transition(v, restart ? VM_EV_REBOOT : VM_EV_STOP);
}

/*
 * The stopped VM's devices have quiesced: free it, then restart it or say
 * how mvm ends. -1: go on.
 */
static int vm_stopped(struct vmm *v)
{
	struct mvm_err err = { .msg = "" };
	bool restart = v->state == VM_STATE_REBOOTING;
	int ret;

	if (restart) {
		/* The previous reboot's teardown, if it is still going. */
		vm_teardown_wait(&v->teardown_pid);
		v->teardown_pid = vm_destroy_async(&v->vm);
	} else {
		vm_destroy(&v->vm);
		/* A migrated VM is Destroyed already (migrate_out_done). */
		if (v->state == VM_STATE_SHUTTING_DOWN)
			vmm_must_transition(v, VM_EV_STOPPED);
		/* mvm ends: what the guest said last goes out first. */
		outq_drain(&v->console_q, OUTQ_DRAIN_MS);
	}
	v->have_vm = false;
	if (v->vm.stop_kind == VM_STOP_REBOOT &&
	    v->spec.on_reboot == VM_ON_REBOOT_RESTART && v->quit) {
		/* A signal came while the guest was rebooting: it wins. */
		console_restore(&v->console);
		fprintf(stderr, "mvm: %s\n", v->quit_msg);
		return v->quit_status;
	}
	if (restart) {
		fprintf(stderr, "mvm: guest rebooted; restarting\n");
		ret = vmm_start_vm(v, &err);
		if (!ret)
			return -1;
		console_restore(&v->console);
		fprintf(stderr, "mvm: %s\n", err.msg[0] ? err.msg :
			strerror(-ret));
		return MVM_EXIT_START_FAILED;
	}
	console_restore(&v->console);
	vmm_log(v, API_LOG_INFO, "vmm", "VM stopped: %s",
		v->vm.stop_msg[0] ? v->vm.stop_msg : "the guest ended it");
	if (v->vm.stop_msg[0])
		fprintf(stderr, "mvm: %s\n", v->vm.stop_msg);
	return stop_status(&v->vm);
}

/*
 * A VM's teardown is a state, entered between two runs of vmm_run's loop
 * once the VM has stopped (the VMM is then Shutting down, or Rebooting) or
 * its start failed: the vCPUs end and every device is asked to stop its
 * I/O (vm_quiesce). The same loop then goes on serving the devices'
 * completions, with the API's requests held, until the last device has
 * quiesced and the VM stops the loop (vm_quiesced); only then is the VM
 * freed (teardown_end). No other loop runs meanwhile.
 */
static void teardown_begin(struct vmm *v)
{
	/* No request may see the VM half torn down. */
	loop_hold(&v->loop);
	vmm_dynmem_stop(v);
	vmm_migration_vm_gone(v);
	console_detach(&v->console);
	if (!v->discard_vm)
		vm_stopping(v);
	vm_quiesce(&v->vm);
	v->tearing_down = true;
}

/* The VM's devices have quiesced: free it. -1, or mvm's exit status. */
static int teardown_end(struct vmm *v)
{
	int ret = -1;

	v->tearing_down = false;
	if (v->discard_vm) {
		vm_destroy(&v->vm);
		v->have_vm = v->discard_vm = false;
	} else {
		ret = vm_stopped(v);
	}
	loop_release(&v->loop);
	return ret;
}

/* What stopped vmm_run's loop, acted on. -1: run the loop on. */
static int vmm_step(struct vmm *v)
{
	int ret;

	if (v->have_vm && !v->tearing_down &&
	    (v->discard_vm || atomic_load(&v->vm.stopping)))
		teardown_begin(v);
	if (v->tearing_down) {
		if (!vm_quiesced(&v->vm))
			return -1; /* the loop completes their I/O meanwhile */
		ret = teardown_end(v);
		if (ret >= 0)
			return ret;
	}
	if (v->quit) {
		console_restore(&v->console);
		if (v->quit_msg[0])
			fprintf(stderr, "mvm: %s\n", v->quit_msg);
		return v->quit_status;
	}
	return -1;
}

int vmm_run(struct vmm *v)
{
	for (;;) {
		int ret;

		v->in_loop = true;
		ret = loop_run(&v->loop);
		v->in_loop = false;
		if (ret < 0) {
			console_restore(&v->console);
			fprintf(stderr, "mvm: event loop: %s\n", strerror(-ret));
			return MVM_EXIT_START_FAILED;
		}
		ret = vmm_step(v);
		if (ret >= 0)
			return ret;
	}
}

void vmm_fini(struct vmm *v)
{
	/* The front end has stopped its API already: nobody can ask. */
	if (v->loop_ready)
		vmm_metrics_fini(v);
	vmm_dynmem_stop(v);
	if (v->have_vm) {
		/*
		 * vmm_run is over, or never ran (a start failed before it):
		 * the teardown waits for the devices here, on the same loop.
		 */
		if (!v->tearing_down) {
			console_detach(&v->console);
			vm_quiesce(&v->vm);
		}
		while (!vm_quiesced(&v->vm) && loop_run(&v->loop) == 0)
			;
		vm_destroy(&v->vm);
		v->have_vm = false;
	}
	vmm_migration_fini(v);
	/* mvm ends only once every VM it made is gone. */
	vm_teardown_wait(&v->teardown_pid);
	release_taps(v);
	if (v->loop_ready)
		outq_fini(&v->console_q); /* before serial_fd closes */
	console_restore(&v->console);
	if (v->sig_watched)
		loop_watch_cancel(&v->sig_watch);
	if (v->sig_fd >= 0)
		close(v->sig_fd);
	if (v->serial_fd >= 0)
		close(v->serial_fd);
	vmm_boot_timer_fini(v); /* logs a time still due */
	vmm_log_fini(v);
	if (v->loop_ready)
		loop_fini(&v->loop);
	spec_free(&v->spec);
	vmm_mmds_fini(v);
	free(v->checkpoint_dir);
	v->checkpoint_dir = NULL;
	v->sig_fd = v->serial_fd = -1;
	v->loop_ready = false;
}
