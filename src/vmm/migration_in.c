/*
 * The destination of a live migration (include/mvm/vmm_migration.h), on
 * the VMM's loop: listen, take one connection, and feed what arrives to
 * the migration layer's receiver, which checks every byte and puts the
 * pages into RAM made for them (hotpluggable memory's region too, as a
 * boot makes it), received there straight from the socket once their
 * range is checked (mig_rx_direct). HELLO is answered ACCEPT or ABORT (the CPU features,
 * the memory layout, nesting); STATE builds the VM paused
 * from the source's configuration and state, on that RAM, its disks not
 * locked yet; COMMIT (the source has released them) locks the disks and
 * runs the guest. Anything wrong discards what was received.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/clock.h"
#include "mvm/err.h"
#include "mvm/mem_file.h"
#include "mvm/nested.h"
#include "mvm/policy.h"
#include "mvm/snapshot.h"
#include "mvm/vm.h"
#include "mvm/vm_state.h"
#include "mvm/vmm.h"
#include "mvm/vmm_migration.h"

#include "migration_priv.h"
#include "vmm_priv.h"

#define IN_BUF (1u << 20)
#define IN_SLICE (16u << 20) /* read per turn of the loop */

enum in_phase { IN_LISTEN, IN_STREAM, IN_READY, IN_DONE };

struct mig_in {
	struct vmm *v;
	struct vmm_migration *m;
	struct vmm_migrate_in rq;
	struct mig_uri uri;
	int lfd, fd;
	struct loop_watch lwatch, watch;
	bool lwatching, watching;
	struct loop_op yield_op;
	bool yielding;
	enum in_phase phase;
	struct mig_rx rx;
	struct mig_hello hello;
	struct guest_mem gm; /* until the VM takes it */
	struct snap_file state;
	bool have_state, vm_built, nested_state_here, finishing;
	uint64_t paused_real;
	uint64_t pass_end_real; /* the last PASS_END's arrival */
	uint8_t *ibuf;
};

static void finish(struct mig_in *in, enum mig_status s, const char *msg);

/*
 * MVM_TEST_MIGRATION_KILL=hello|pages|state|commit: the destination dies
 * (SIGKILL) on that section, as a crashed or killed host would, so that
 * the tests can check that the source survives each phase.
 */
static void test_kill_at(const char *phase)
{
	const char *at = getenv("MVM_TEST_MIGRATION_KILL");

	if (at && !strcmp(at, phase))
		raise(SIGKILL);
}

/* Refuse: the source is told why, what came is discarded. */
static void refuse(struct mig_in *in, const char *msg)
{
	struct mvm_err ignored = { .msg = "" };

	if (in->fd >= 0 && !in->finishing)
		mig_send_small(in->fd, MIG_ABORT, msg, strnlen(msg,
			       MIG_REASON_MAX), &ignored);
	finish(in, MIG_STATUS_FAILED, msg);
}

static bool same_layout(const struct mig_hello *h, const struct guest_mem *gm)
{
	struct gm_file_region r[MEM_MAX_REGIONS];
	unsigned n = 0;

	gm_file_layout(gm, r, &n);
	if (n != h->nr_regions)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (r[i].gpa != h->regions[i].gpa ||
		    r[i].size != h->regions[i].size)
			return false;
	return true;
}

/*
 * The guest memory a boot of HELLO's machine would have: RAM, and the
 * hotpluggable memory's region above it (its sizes checked by the VM's
 * rules first: they come from the network), reserved and not populated.
 * The source's regions must be exactly these.
 */
static int make_memory(struct mig_in *in, struct mvm_err *err)
{
	const struct mig_hello *h = &in->hello;
	enum vm_hotplug_field f;
	const char *why = NULL;
	char buf[192];
	int ret;

	if (h->flags & MIG_HELLO_HOTPLUG)
		why = vm_hotplug_problem(&h->hotplug, h->mem_mib, &f, buf,
					 sizeof(buf));
	if (why)
		return mvm_fail(err, -EINVAL, "migration: the source's "
				"memory-hotplug: %s: %s",
				vm_hotplug_field_name(f), why);
	ret = gm_alloc(&in->gm, h->mem_mib << 20, GM_PAGES_TRANSPARENT, err);
	if (!ret)
		ret = vm_hotplug_add(&in->gm, h->mem_mib, GM_PAGES_TRANSPARENT,
				     &h->hotplug, err);
	if (!ret && !same_layout(h, &in->gm))
		ret = mvm_fail(err, -EINVAL, "migration: the source's memory "
			       "layout (%u regions, %llu MiB and %llu MiB "
			       "hotpluggable) is not the one this mvm makes",
			       h->nr_regions, (unsigned long long)h->mem_mib,
			       (unsigned long long)h->hotplug.total_mib);
	return ret;
}

/* Can this host run the guest HELLO describes? RAM made for it if so. */
static int check_hello(struct mig_in *in, struct mvm_err *err)
{
	struct kvm_cpuid2 *sup = NULL;
	int ret = vm_host_cpuid(&sup, err);

	if (!ret)
		ret = mig_cpuid_check(in->hello.cpuid, sup, err);
	free(sup);
	if (!ret && (in->hello.flags & MIG_HELLO_NESTED))
		ret = vm_check_nested_host(err);
	if (!ret)
		ret = make_memory(in, err);
	return ret;
}

static void on_hello(struct mig_in *in)
{
	struct mvm_err err = { .msg = "" };
	uint8_t flags[4] = { 0 };

	test_kill_at("hello");
	if (mig_hello_decode(in->rx.payload, in->rx.payload_len, &in->hello,
			     &err) || check_hello(in, &err)) {
		refuse(in, err.msg);
		return;
	}
	in->nested_state_here = vm_host_nested_state();
	flags[0] = in->nested_state_here ? MIG_ACCEPT_NESTED_STATE : 0;
	if (mig_send_small(in->fd, MIG_ACCEPT, flags, 4, &err)) {
		finish(in, MIG_STATUS_FAILED, err.msg);
		return;
	}
	in->rx.gm = &in->gm;
	in->m->info.status = MIG_STATUS_ACTIVE;
	vmm_log(in->v, API_LOG_INFO, "migration", "from %s: %u vCPU(s), "
		"%llu MiB accepted", in->rq.uri, in->hello.vcpus,
		(unsigned long long)in->hello.mem_mib);
}

/* Does the state file fit the HELLO and this host, and the policy? */
static int check_state(struct mig_in *in, struct mvm_err *err)
{
	const struct snap_file *s = &in->state;
	const struct mem_hotplug_config *hp = &s->machine.mem_hotplug;
	struct policy_facts f;

	if (s->machine.mem_mib != in->hello.mem_mib ||
	    s->machine.cpus != in->hello.vcpus)
		return mvm_fail(err, -EINVAL, "migration: the state's machine "
				"(%u vCPUs, %llu MiB) is not the HELLO's",
				s->machine.cpus,
				(unsigned long long)s->machine.mem_mib);
	/* The memory was made for HELLO's hotplug sizes: the VM's must be. */
	if (hp->total_mib != in->hello.hotplug.total_mib ||
	    hp->slot_mib != in->hello.hotplug.slot_mib ||
	    hp->block_mib != in->hello.hotplug.block_mib)
		return mvm_fail(err, -EINVAL, "migration: the state's "
				"memory-hotplug (%llu MiB, slots of %llu, "
				"blocks of %llu) is not the HELLO's",
				(unsigned long long)hp->total_mib,
				(unsigned long long)hp->slot_mib,
				(unsigned long long)hp->block_mib);
	if (snap_file_has_nested(s) && !in->nested_state_here)
		return mvm_fail(err, -EINVAL, "migration: the vCPUs carry "
				"nested state, which this host's KVM cannot "
				"restore (KVM_CAP_NESTED_STATE is 0)");
	vmm_snapshot_facts(s, &f);
	f.vm_running = true;
	f.nested_state_override = (in->hello.flags & MIG_HELLO_NESTED_STATE) &&
				  in->nested_state_here;
	return vmm_policy_ask(in->v, POLICY_OP_LIVE_MIGRATION, &f, err);
}

/* The VM of the state, on the RAM received, paused, disks unlocked. */
static int build(struct mig_in *in, struct mvm_err *err)
{
	struct vm_mem_source src = { .backend = VM_MEM_ADOPT, .gm = &in->gm };
	struct vm_load_opts opts = { .clock_realtime = true };
	struct vm_config cfg = in->state.machine;
	struct vmm_snapshot_load rq = { .nr_overrides = in->rq.nr_overrides };
	int ret;

	memcpy(rq.overrides, in->rq.overrides, sizeof(rq.overrides));
	cfg.mem_source = &src;
	cfg.track_dirty_pages = in->state.track_dirty_pages;
	for (unsigned i = 0; i < cfg.nr_disks; i++)
		cfg.disks[i].unlocked = true;
	ret = vmm_net_overrides_apply(&cfg, &rq, err);
	if (!ret)
		ret = vmm_build_vm(in->v, &cfg, err);
	if (ret)
		return ret;
	in->vm_built = true;
	in->v->vm.cfg.mem_source = NULL;
	mig_part(in->m, "build");
	ret = vm_pause_all(&in->v->vm, err);
	if (!ret)
		ret = vm_load_all_opts(&in->v->vm, &in->state.state, &opts,
				       err);
	mig_part(in->m, "load");
	return ret;
}

/*
 * The downtime's first spans, on the realtime clock from the source's
 * pause: the last pass's pages (to its PASS_END), then the STATE.
 */
static void state_parts(struct mig_in *in)
{
	uint64_t now = mvm_real_ns(), end = in->pass_end_real;

	if (end < in->paused_real)
		end = in->paused_real;
	if (now < end)
		now = end;
	mig_parts_start(in->m, mvm_mono_ns());
	mig_part_add(in->m, "final_pages", end - in->paused_real);
	mig_part_add(in->m, "state_in", now - end);
}

static void on_state(struct mig_in *in)
{
	struct mvm_err err = { .msg = "" };
	int ret;

	test_kill_at("state");
	if (in->rx.payload_len < 8) {
		refuse(in, "migration: STATE is shorter than its timestamp");
		return;
	}
	in->paused_real = mig_le64_get(in->rx.payload);
	state_parts(in);
	ret = snap_file_decode(in->rx.payload + 8, in->rx.payload_len - 8,
			       &in->state, &err);
	in->have_state = !ret;
	mig_part(in->m, "decode");
	if (!ret)
		ret = check_state(in, &err);
	mig_part(in->m, "check");
	if (!ret)
		ret = build(in, &err);
	if (!ret)
		ret = mig_send_small(in->fd, MIG_READY, NULL, 0, &err);
	mig_part(in->m, "ready");
	if (ret) {
		refuse(in, err.msg);
		return;
	}
	in->phase = IN_READY;
}

/* The source has let go of the disks: take them, run the guest. */
static void on_commit(struct mig_in *in)
{
	struct vmm *v = in->v;
	struct mvm_err err = { .msg = "" };
	uint8_t down[8];
	char parts[512];
	uint64_t ns;

	test_kill_at("commit");
	mig_part(in->m, "wait_commit");
	if (vm_disks_handover(&v->vm, false, &err) ||
	    vmm_take_machine(v, &v->vm.cfg, &err)) {
		refuse(in, err.msg);
		return;
	}
	mig_part(in->m, "disks");
	if (vm_resume_all(&v->vm, &err))
		vmm_log(v, API_LOG_ERROR, "migration", "resume: %s", err.msg);
	mig_part(in->m, "resume");
	mig_parts_text(in->m, parts, sizeof(parts));
	vmm_must_transition(v, VM_EV_MIGRATE_IN_DONE);
	ns = mvm_real_ns() - in->paused_real;
	in->m->info.downtime_ms = (ns + 500000) / 1000000;
	mig_le64(down, ns);
	if (mig_send_small(in->fd, MIG_DONE, down, 8, &err))
		vmm_log(v, API_LOG_WARNING, "migration", "%s (the guest runs "
			"here)", err.msg);
	in->phase = IN_DONE;
	vmm_log(v, API_LOG_INFO, "migration", "from %s: running; downtime "
		"%.1f ms; its parts (ms): %s", in->rq.uri, (double)ns / 1e6,
		parts);
	finish(in, MIG_STATUS_COMPLETED, NULL);
}

static void on_event(struct mig_in *in, enum mig_rx_event ev)
{
	switch (ev) {
	case MIG_RX_HELLO:
		on_hello(in);
		break;
	case MIG_RX_PASS_END:
		in->pass_end_real = mvm_real_ns();
		test_kill_at("pages");
		in->m->info.iterations = in->rx.passes;
		break;
	case MIG_RX_STATE:
		on_state(in);
		break;
	case MIG_RX_COMMIT:
		on_commit(in);
		break;
	case MIG_RX_ABORT: {
		char msg[MIG_REASON_MAX + 64];

		snprintf(msg, sizeof(msg), "the source aborted: %.*s",
			 (int)in->rx.payload_len,
			 (const char *)in->rx.payload);
		finish(in, MIG_STATUS_FAILED, msg);
		break;
	}
	default:
		break;
	}
}

/* Bytes from the source through the receiver; false once it ended. */
static bool feed(struct mig_in *in, const uint8_t *p, size_t n)
{
	struct vmm_migration *m = in->m;
	struct mvm_err err = { .msg = "" };

	while (n) {
		enum mig_rx_event ev = MIG_RX_NONE;
		ssize_t used = mig_rx_feed(&in->rx, p, n, &ev, &err);

		if (used < 0) {
			refuse(in, err.msg);
			return false;
		}
		p += used;
		n -= (size_t)used;
		m->info.transferred_bytes += (uint64_t)used;
		if (ev != MIG_RX_NONE)
			on_event(in, ev);
		if (m->in != in)
			return false; /* it ended: in is gone */
	}
	return true;
}

static void on_data(void *ctx);

static void on_yield(struct loop_op *op, int res, unsigned flags)
{
	struct mig_in *in = (struct mig_in *)((char *)op -
					      offsetof(struct mig_in,
						       yield_op));

	(void)res;
	(void)flags;
	in->yielding = false;
	if (in->finishing)
		finish(in, in->m->info.status, NULL);
	else
		on_data(in);
}

/* A slice read: the rest after the loop's other work (the API's). */
static void yield(struct mig_in *in)
{
	struct io_uring_sqe *sqe = loop_sqe(&in->v->loop);

	if (!sqe)
		return; /* the watch fires again as more arrives */
	io_uring_prep_nop(sqe);
	loop_prep(&in->v->loop, sqe, &in->yield_op);
	in->yielding = true;
}

static void on_data(void *ctx)
{
	struct mig_in *in = ctx;
	struct vmm_migration *m = in->m;
	size_t total = 0;

	while (!in->yielding && !in->finishing) {
		size_t room;
		uint8_t *to = mig_rx_direct(&in->rx, &room);
		ssize_t n;

		/* Pages into guest RAM; anything else up to its end. */
		if (!to)
			to = in->ibuf;
		if (!room || (to == in->ibuf && room > IN_BUF))
			room = IN_BUF;
		n = recv(in->fd, to, room, MSG_DONTWAIT);

		if (n == 0) {
			finish(in, MIG_STATUS_FAILED, "migration: the source "
			       "closed the connection");
			return;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN)
				finish(in, MIG_STATUS_FAILED, strerror(errno));
			return;
		}
		if (!feed(in, to, (size_t)n) || m->in != in)
			return;
		total += (size_t)n;
		if (total >= IN_SLICE) {
			yield(in);
			return;
		}
	}
}

static void on_accept(void *ctx)
{
	struct mig_in *in = ctx;
	int fd = accept4(in->lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return; /* spurious, or the peer left already */
	in->fd = fd;
	loop_watch_cancel(&in->lwatch);
	in->lwatching = false;
	close(in->lfd);
	in->lfd = -1;
	if (!in->uri.tcp)
		unlink(in->uri.path);
	in->phase = IN_STREAM;
	/* The migration's total runs from the source's connection. */
	in->m->t_start_ns = mvm_mono_ns();
	if (loop_watch_add(&in->v->loop, &in->watch, fd, on_data, in)) {
		finish(in, MIG_STATUS_FAILED, "migration: cannot watch the "
		       "connection");
		return;
	}
	in->watch.holdable = true;
	in->watching = true;
	vmm_log(in->v, API_LOG_INFO, "migration", "connection on %s",
		in->rq.uri);
}

/* Ended, one way or the other: what was received goes, unless it ran. */
static void finish(struct mig_in *in, enum mig_status s, const char *msg)
{
	struct vmm *v = in->v;

	if (!in->finishing) {
		in->finishing = true;
		mig_info_end(in->m, s, msg);
		if (s != MIG_STATUS_COMPLETED) {
			vmm_log(v, API_LOG_ERROR, "migration", "%s: %s",
				mig_status_name(s), msg ? msg : "");
			if (in->vm_built)
				vmm_discard_vm(v);
			vmm_must_transition(v, VM_EV_MIGRATE_IN_FAILED);
			if (v->incoming_cli) {
				/* mvm --incoming: nothing else to do. */
				v->quit = true;
				v->quit_status = MVM_EXIT_START_FAILED;
				snprintf(v->quit_msg, sizeof(v->quit_msg),
					 "incoming migration %s: %s",
					 mig_status_name(s), msg ? msg : "");
				loop_stop(&v->loop);
			}
		}
	}
	if (in->yielding)
		return; /* on_yield comes back here */
	mig_in_free(v, true);
}

void mig_in_free(struct vmm *v, bool later)
{
	struct mig_in *in = v->mig ? v->mig->in : NULL;

	if (!in)
		return;
	if (in->watching)
		loop_watch_cancel(&in->watch);
	if (in->lwatching)
		loop_watch_cancel(&in->lwatch);
	if (in->fd >= 0)
		close(in->fd);
	if (in->lfd >= 0) {
		close(in->lfd);
		if (!in->uri.tcp)
			unlink(in->uri.path);
	}
	mig_rx_fini(&in->rx);
	mig_hello_free(&in->hello);
	gm_free(&in->gm); /* empty once the VM took it */
	/* The VM borrows the state's strings until its teardown: kept. */
	if (in->have_state) {
		snap_file_free(&v->mig->state);
		v->mig->state = in->state;
	}
	free(in->ibuf);
	if (later)
		mig_free_later(v, in);
	else
		free(in);
	v->mig->in = NULL;
}

bool mig_in_busy(struct vmm *v)
{
	struct mig_in *in = v->mig ? v->mig->in : NULL;

	return in && in->yielding;
}

int mig_in_cancel(struct vmm *v, struct mvm_err *err)
{
	struct mig_in *in = v->mig->in;

	if (in->phase == IN_DONE)
		return mvm_fail(err, -EPERM, "too late to cancel: the guest "
				"runs here");
	refuse(in, "cancelled (DELETE /migration on the destination)");
	in = v->mig->in;
	if (in)
		in->m->info.status = MIG_STATUS_CANCELLED;
	else
		v->mig->info.status = MIG_STATUS_CANCELLED;
	return 0;
}

static int listen_unix(struct mig_in *in, const struct sockaddr_storage *sa,
		       socklen_t len, struct mvm_err *err)
{
	struct stat st;

	/* A socket left by an mvm that died; nothing else is replaced. */
	if (lstat(in->uri.path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return mvm_fail(err, -EEXIST, "uri: '%s' exists and "
					"is not a socket", in->uri.path);
		unlink(in->uri.path);
	}
	if (bind(in->lfd, (const struct sockaddr *)sa, len) < 0)
		return mvm_fail(err, -errno, "uri: bind '%s': %s",
				in->uri.path, strerror(errno));
	return 0;
}

static int listen_start(struct mig_in *in, struct mvm_err *err)
{
	struct sockaddr_storage sa;
	socklen_t len;
	int one = 1, ret = mig_sockaddr(&in->uri, &sa, &len, err);

	if (ret)
		return ret;
	in->lfd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (in->lfd < 0)
		return mvm_fail(err, -errno, "migration: socket: %s",
				strerror(errno));
	if (!in->uri.tcp) {
		ret = listen_unix(in, &sa, len, err);
	} else {
		setsockopt(in->lfd, SOL_SOCKET, SO_REUSEADDR, &one,
			   sizeof(one));
		if (bind(in->lfd, (struct sockaddr *)&sa, len) < 0)
			ret = mvm_fail(err, -errno, "uri: bind %s:%s: %s",
				       in->uri.host, in->uri.port,
				       strerror(errno));
	}
	if (!ret && listen(in->lfd, 1) < 0)
		ret = mvm_fail(err, -errno, "uri: listen: %s",
			       strerror(errno));
	if (!ret && loop_watch_add(&in->v->loop, &in->lwatch, in->lfd,
				   on_accept, in))
		ret = mvm_fail(err, -EIO, "migration: cannot watch '%s'",
			       in->rq.uri);
	if (!ret)
		in->lwatching = true;
	return ret;
}

static int check_incoming(struct vmm *v, const struct vmm_migrate_in *rq,
			  struct mig_uri *uri, struct mvm_err *err)
{
	const char *what = vmm_spec_configured(&v->spec);

	if (v->mig && (v->mig->out || v->mig->in))
		return mvm_fail(err, -EBUSY, "a migration is in progress "
				"already");
	if (v->state != VM_STATE_NOT_STARTED || v->have_vm)
		return mvm_fail(err, -EINVAL, "migration/incoming: a VM has "
				"been started in this mvm; receive into a new "
				"one");
	if (what)
		return mvm_fail(err, -EINVAL, "migration/incoming: %s is "
				"configured already; a migration comes into an "
				"mvm with nothing configured but its logger, "
				"metrics and serial output", what);
	return mig_uri_parse(rq->uri, uri, err);
}

int vmm_migrate_in(struct vmm *v, const struct vmm_migrate_in *rq,
		   struct mvm_err *err)
{
	struct mig_uri uri;
	struct mig_in *in;
	int ret = check_incoming(v, rq, &uri, err);

	if (ret || v->dry_run)
		return ret;
	if (!mig_get(v) || !(in = calloc(1, sizeof(*in))))
		return mvm_fail(err, -ENOMEM, "out of memory");
	in->v = v;
	in->m = v->mig;
	in->rq = *rq;
	in->uri = uri;
	in->lfd = in->fd = -1;
	in->yield_op.done = on_yield;
	mig_rx_init(&in->rx);
	in->ibuf = malloc(IN_BUF);
	ret = in->ibuf ? listen_start(in, err) :
			 mvm_fail(err, -ENOMEM, "out of memory");
	v->mig->in = in;
	if (ret) {
		mig_in_free(v, false);
		return ret;
	}
	mig_info_reset(v->mig, true);
	vmm_must_transition(v, VM_EV_MIGRATE_IN);
	vmm_log(v, API_LOG_INFO, "migration", "waiting on %s", rq->uri);
	return 0;
}
