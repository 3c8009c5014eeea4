/*
 * The source of a live migration (include/mvm/vmm_migration.h), on the
 * VMM's loop: connect, HELLO, pre-copy passes over KVM's dirty log while
 * the guest runs, then stop-and-copy, the disk handover and the end. One
 * send is in flight at a time, from a buffer the page batcher filled
 * (a copy: the guest writes its pages meanwhile). The destination's small
 * replies come through a watch on the same socket.
 *
 * Whatever fails before the destination says DONE leaves the guest here:
 * its disks are locked again and, if the migration paused it, it runs on.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mvm/clock.h"
#include "mvm/err.h"
#include "mvm/mem_file.h"
#include "mvm/nested.h"
#include "mvm/policy.h"
#include "mvm/vcpu_state.h"
#include "mvm/vm_state.h"
#include "mvm/vmm.h"
#include "mvm/vmm_migration.h"

#include "migration_priv.h"
#include "vmm_priv.h"

#define OUT_BUF (4u << 20)
/* The last pass goes from guest RAM itself: this much per sendmsg. */
#define OUT_IOV 1024u
#define OUT_ZC_BYTES (16u << 20)
#define MS 1000000ull

enum out_phase {
	OUT_CONNECT,  /* the connect is in flight */
	OUT_HELLO,    /* HELLO sent: ACCEPT awaited */
	OUT_PRECOPY,  /* passes while the guest runs */
	OUT_FINAL,    /* the guest paused: the last pass */
	OUT_READY,    /* STATE sent: READY awaited */
	OUT_DONE,     /* COMMIT sent: DONE awaited */
};

struct mig_out {
	struct vmm *v;
	struct vmm_migration *m;
	struct vmm_migrate_out rq;
	struct mig_uri uri;
	struct sockaddr_storage sa;
	socklen_t salen;
	int fd;
	enum out_phase phase;
	bool was_paused; /* Paused when asked: stays so after a failure */
	bool paused;     /* paused for stop-and-copy */
	bool released;   /* its disks are flushed and unlocked */
	bool src_nested_state, dst_nested_state;

	struct loop_op conn_op, send_op, timer_op, kill_op;
	bool connecting, sending, timing, killing;
	struct __kernel_timespec ts, kill_ts;
	struct loop_watch watch;
	bool watching;
	struct mig_reply reply;

	uint8_t *buf;        /* the page batcher's */
	uint8_t *big;        /* the STATE section, sent on its own */
	/* What is being sent: iov[0..niov), the part already sent cut. */
	struct iovec iov[OUT_IOV];
	struct msghdr msg;

	uint32_t pass;
	bool pass_end_sent;
	struct mig_tx_cursor cur;
	unsigned long *dirty[MEM_MAX_REGIONS];
	uint64_t pass_t0, pass_bytes0, rate_t0;
	double bw; /* bytes per ns: the best pass's */
	uint64_t t_pause, t_pause_real;
	uint64_t fill_ns; /* the last pass's batcher (its CRCs), in all */

	bool failing, finishing, vm_gone;
	bool abort_after_send; /* the destination is told once it is sent */
	enum mig_status fail_status;
	char fail_msg[512];
};

static void pump(struct mig_out *o);
static void maybe_finish(struct mig_out *o);

static void free_dirty(unsigned long *d[MEM_MAX_REGIONS])
{
	for (int i = 0; i < MEM_MAX_REGIONS; i++) {
		free(d[i]);
		d[i] = NULL;
	}
}

static bool host_nested_state(void)
{
	struct mvm_err err = { .msg = "" };
	struct host_probe p;

	return !nested_probe_host(&p, &err) && p.facts.cap_nested_state > 0;
}

/* Cancel an op in flight; its completion comes back -ECANCELED. */
static void cancel_op(struct loop *l, struct loop_op *op)
{
	struct io_uring_sqe *sqe = loop_sqe_wait(l);

	if (sqe) {
		io_uring_prep_cancel(sqe, op, 0);
		io_uring_sqe_set_data(sqe, NULL);
	}
}

/* Tell the destination why (between two sections only), then hang up. */
static void hang_up(struct mig_out *o, bool tell)
{
	struct mvm_err ignored = { .msg = "" };

	if (tell && o->phase != OUT_CONNECT && o->fd >= 0)
		mig_send_small(o->fd, MIG_ABORT, o->fail_msg,
			       strlen(o->fail_msg), &ignored);
	if (o->fd >= 0)
		shutdown(o->fd, SHUT_RDWR);
}

static void on_kill(struct loop_op *op, int res, unsigned flags)
{
	struct mig_out *o = (struct mig_out *)((char *)op -
					       offsetof(struct mig_out, kill_op));

	(void)flags;
	o->killing = false;
	if (res == -ETIME)
		hang_up(o, false); /* the send did not end: cut it */
	maybe_finish(o);
}

/* At most 2 s for the send in flight to end, so the ABORT can follow. */
static void arm_kill(struct mig_out *o)
{
	struct io_uring_sqe *sqe = loop_sqe(&o->v->loop);

	if (!sqe) {
		hang_up(o, false);
		return;
	}
	o->kill_ts.tv_sec = 2;
	io_uring_prep_timeout(sqe, &o->kill_ts, 0, 0);
	loop_prep(&o->v->loop, sqe, &o->kill_op);
	o->killing = true;
	o->abort_after_send = true;
}

/* The migration fails (or is cancelled): the guest stays here. */
static void fail(struct mig_out *o, enum mig_status s, const char *fmt, ...)
{
	va_list ap;

	if (o->failing)
		return;
	o->failing = true;
	o->fail_status = s;
	va_start(ap, fmt);
	vsnprintf(o->fail_msg, sizeof(o->fail_msg), fmt, ap);
	va_end(ap);
	if (o->sending)
		arm_kill(o);
	else
		hang_up(o, true);
	if (o->connecting)
		cancel_op(&o->v->loop, &o->conn_op);
	if (o->timing)
		cancel_op(&o->v->loop, &o->timer_op);
	maybe_finish(o);
}

static void fail_err(struct mig_out *o, const struct mvm_err *err)
{
	fail(o, MIG_STATUS_FAILED, "%s", err->msg);
}

/* Send o->msg's iovecs (one at a time on the socket). */
static void send_iov(struct mig_out *o)
{
	struct io_uring_sqe *sqe = loop_sqe(&o->v->loop);

	if (!sqe) {
		fail(o, MIG_STATUS_FAILED, "migration: io_uring is full");
		return;
	}
	io_uring_prep_sendmsg(sqe, o->fd, &o->msg, MSG_NOSIGNAL);
	loop_prep(&o->v->loop, sqe, &o->send_op);
	o->sending = true;
}

/* A short send: what is left of the iovecs. False when nothing is. */
static bool advance(struct msghdr *m, size_t n)
{
	while (m->msg_iovlen && n >= m->msg_iov->iov_len) {
		n -= m->msg_iov->iov_len;
		m->msg_iov++;
		m->msg_iovlen--;
	}
	if (m->msg_iovlen) {
		m->msg_iov->iov_base = (char *)m->msg_iov->iov_base + n;
		m->msg_iov->iov_len -= n;
	}
	return m->msg_iovlen > 0;
}

/*
 * Send o->msg: true when all of it went at once. While the guest stands
 * still (the last pass, the state) it goes straight to the socket as far
 * as the socket has room, rather than through the ring and a turn of the
 * loop, which API requests may take first: the downtime has no turn of
 * it to wait for. The rest, and any error, go through the ring as in the
 * passes before (on_sent says what went wrong).
 */
static bool send_go(struct mig_out *o)
{
	while (o->phase == OUT_FINAL || o->phase == OUT_READY) {
		ssize_t n = sendmsg(o->fd, &o->msg, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		o->m->info.transferred_bytes += (uint64_t)n;
		if (!advance(&o->msg, (size_t)n))
			return true;
	}
	send_iov(o);
	return false;
}

static bool send_bytes(struct mig_out *o, const uint8_t *p, size_t len)
{
	o->iov[0] = (struct iovec){ (void *)p, len };
	o->msg = (struct msghdr){ .msg_iov = o->iov, .msg_iovlen = 1 };
	return send_go(o);
}

/* The STATE section is gone: READY is awaited. */
static void state_sent(struct mig_out *o)
{
	free(o->big);
	o->big = NULL;
	mig_part(o->m, "state_send");
}

static void on_sent(struct loop_op *op, int res, unsigned flags)
{
	struct mig_out *o = (struct mig_out *)((char *)op -
					       offsetof(struct mig_out, send_op));

	(void)flags;
	o->sending = false;
	if (o->failing) {
		bool rest = res > 0 && advance(&o->msg, (size_t)res);

		/* The section's end first (the kill timer bounds it)... */
		if (rest && o->killing) {
			send_iov(o);
			return;
		}
		/* ...then, between sections, the destination is told why. */
		hang_up(o, o->abort_after_send && res > 0 && !rest);
		if (o->killing)
			cancel_op(&o->v->loop, &o->kill_op);
		maybe_finish(o);
		return;
	}
	if (res <= 0) {
		fail(o, MIG_STATUS_FAILED, "migration: sending to %s: %s",
		     o->rq.uri, res ? strerror(-res) : "connection closed");
		return;
	}
	o->m->info.transferred_bytes += (uint64_t)res;
	if (advance(&o->msg, (size_t)res)) {
		send_iov(o);
		return;
	}
	if (o->phase == OUT_READY)
		state_sent(o);
	free(o->big); /* HELLO's */
	o->big = NULL;
	pump(o);
}

static void on_timer(struct loop_op *op, int res, unsigned flags)
{
	struct mig_out *o = (struct mig_out *)((char *)op -
					       offsetof(struct mig_out, timer_op));

	(void)res;
	(void)flags;
	o->timing = false;
	if (o->failing)
		maybe_finish(o);
	else
		pump(o);
}

/* max_bandwidth_mbps: wait until the bytes sent so far are due. */
static bool throttled(struct mig_out *o)
{
	uint64_t due, now = mvm_mono_ns();
	struct io_uring_sqe *sqe;

	if (!o->rq.max_bandwidth_mbps)
		return false;
	due = o->rate_t0 + o->m->info.transferred_bytes * 8000u /
				   o->rq.max_bandwidth_mbps;
	if (due <= now)
		return false;
	sqe = loop_sqe(&o->v->loop);
	if (!sqe)
		return false;
	o->ts.tv_sec = (long long)((due - now) / 1000000000u);
	o->ts.tv_nsec = (long long)((due - now) % 1000000000u);
	io_uring_prep_timeout(sqe, &o->ts, 0, 0);
	loop_prep(&o->v->loop, sqe, &o->timer_op);
	o->timing = true;
	return true;
}

static void policy_facts(struct mig_out *o, struct policy_facts *f)
{
	vmm_policy_facts(o->v, f);
	f->nested_state_override = o->rq.allow_nested_state &&
				   o->src_nested_state &&
				   o->dst_nested_state;
}

/*
 * live_migration, asked of the policy; a refusal despite
 * allow_nested_state says which host cannot carry nested state.
 */
static int ask_policy(struct mig_out *o, struct mvm_err *err)
{
	struct policy_facts f;
	int ret;

	policy_facts(o, &f);
	ret = vmm_policy_ask(o->v, POLICY_OP_LIVE_MIGRATION, &f, err);
	if (ret != -EPERM || !o->rq.allow_nested_state)
		return ret;
	return mvm_wrap(err, ret, "allow_nested_state cannot apply: %s's KVM "
			"cannot save and restore nested state "
			"(KVM_CAP_NESTED_STATE); ", !o->src_nested_state ?
			"this host" : "the destination host");
}

static void start_pass(struct mig_out *o)
{
	o->pass++;
	o->m->info.iterations = o->pass;
	memset(&o->cur, 0, sizeof(o->cur));
	o->pass_end_sent = false;
	o->pass_t0 = mvm_mono_ns();
	o->pass_bytes0 = o->m->info.transferred_bytes;
}

/* The pages dirtied since the last collect, ORed into o->dirty. */
static int collect(struct mig_out *o, struct mvm_err *err)
{
	unsigned long *d[MEM_MAX_REGIONS];
	const struct guest_mem *gm = &o->v->vm.mem;
	int ret = vm_dirty_collect(&o->v->vm, d, err);

	if (ret)
		return ret;
	for (int i = 0; i < gm->nr; i++) {
		size_t words = gm_dirty_bitmap_bytes(gm->r[i].size) /
			       sizeof(long);

		if (!o->dirty[i]) {
			o->dirty[i] = d[i];
			d[i] = NULL;
			continue;
		}
		for (size_t w = 0; w < words; w++)
			o->dirty[i][w] |= d[i][w];
	}
	free_dirty(d);
	return 0;
}

/* Stop-and-copy: pause, ask the policy again, the last pass. */
static void stop_and_copy(struct mig_out *o)
{
	struct mvm_err err = { .msg = "" };
	int ret = 0;

	/* Downtime counts from the request to stop, its own time too. */
	o->t_pause = mvm_mono_ns();
	o->t_pause_real = mvm_real_ns();
	mig_parts_start(o->m, o->t_pause);
	if (!o->was_paused)
		ret = vm_pause_all(&o->v->vm, &err);
	if (ret) {
		fail_err(o, &err);
		return;
	}
	o->paused = !o->was_paused;
	mig_part(o->m, "pause");
	/* L1 may have begun hosting guests during pre-copy. */
	ret = ask_policy(o, &err);
	mig_part(o->m, "policy");
	if (!ret)
		ret = collect(o, &err);
	if (ret) {
		fail_err(o, &err);
		return;
	}
	mig_part(o->m, "dirty_sync");
	o->fill_ns = 0;
	o->phase = OUT_FINAL;
	start_pass(o);
	pump(o);
}

/* A pre-copy pass is over: another, or stop-and-copy? */
static void precopy_pass_done(struct mig_out *o)
{
	struct vmm_migration_info *in = &o->m->info;
	uint64_t dt = mvm_mono_ns() - o->pass_t0;
	uint64_t sent = in->transferred_bytes - o->pass_bytes0;
	struct mvm_err err = { .msg = "" };
	double est;

	if (dt && sent && (double)sent / (double)dt > o->bw)
		o->bw = (double)sent / (double)dt;
	free_dirty(o->dirty);
	if (collect(o, &err)) {
		fail_err(o, &err);
		return;
	}
	in->remaining_bytes = mig_dirty_count(&o->v->vm.mem, o->dirty) *
			      MIG_PAGE;
	in->dirty_rate_mbps = dt ? in->remaining_bytes * 8000u / dt : 0;
	est = o->bw > 0 ? (double)in->remaining_bytes / o->bw : 0;
	vmm_log(o->v, API_LOG_DEBUG, "migration", "pass %u: %llu bytes in "
		"%.1f ms; %llu bytes dirty meanwhile (%.1f ms to send)",
		o->pass, (unsigned long long)sent, (double)dt / MS,
		(unsigned long long)in->remaining_bytes, est / MS);
	/* Another pass while it would shrink the downtime. */
	if (mig_switchover(in->remaining_bytes, sent, (uint64_t)est,
			   o->rq.max_downtime_ms * MS)) {
		stop_and_copy(o);
		return;
	}
	start_pass(o);
	pump(o);
}

/* The state, after the last pages: vm_save_all's, as a state file. */
static void send_state(struct mig_out *o)
{
	struct mvm_err err = { .msg = "" };
	uint8_t *payload;
	void *fdt = NULL;
	size_t len = 0, n;
	int ret;

	/* The last pages' time: the batcher's (CRCs), then the sends'. */
	mig_part_add(o->m, "last_pages_crc", o->fill_ns);
	o->m->t_part_ns += o->fill_ns;
	mig_part(o->m, "last_pages_send");
	ret = vmm_state_encode(o->v, &fdt, &len, &err);
	if (ret) {
		fail_err(o, &err);
		return;
	}
	payload = malloc(8 + len);
	o->big = malloc(MIG_HDR_SIZE + 8 + len);
	if (!payload || !o->big) {
		free(payload);
		free(fdt);
		fail(o, MIG_STATUS_FAILED, "migration: out of memory");
		return;
	}
	mig_le64(payload, o->t_pause_real);
	memcpy(payload + 8, fdt, len);
	free(fdt);
	n = mig_section_put(o->big, MIG_HDR_SIZE + 8 + len, MIG_STATE,
			    payload, 8 + len);
	free(payload);
	mig_part(o->m, "state_save");
	o->m->info.remaining_bytes = 0;
	o->phase = OUT_READY;
	if (send_bytes(o, o->big, n))
		state_sent(o);
}

/*
 * The pass's next send, or its end. True when the send went at once
 * (send_go) and the next may follow.
 */
static bool pump_step(struct mig_out *o)
{
	struct mig_tx_stats st = { 0 };
	uint8_t p[4];
	size_t n;

	if (o->failing || o->sending || o->timing ||
	    (o->phase != OUT_PRECOPY && o->phase != OUT_FINAL))
		return false;
	if (throttled(o))
		return false;
	if (!o->cur.done && o->phase == OUT_FINAL) {
		/* Paused: straight from guest RAM, no copy. */
		unsigned niov = 0;
		uint64_t t = mvm_mono_ns();

		n = mig_tx_fill_iov(&o->v->vm.mem, o->dirty, &o->cur, o->buf,
				    OUT_BUF, o->iov, OUT_IOV, &niov,
				    OUT_ZC_BYTES, &st);
		o->fill_ns += mvm_mono_ns() - t;
		if (n) {
			o->msg = (struct msghdr){ .msg_iov = o->iov,
						  .msg_iovlen = niov };
			return send_go(o);
		}
	}
	if (!o->cur.done) {
		n = mig_tx_fill(&o->v->vm.mem, o->pass == 1 ? NULL : o->dirty,
				&o->cur, o->buf, OUT_BUF, &st);
		if (n)
			return send_bytes(o, o->buf, n);
		if (!o->cur.done) {
			fail(o, MIG_STATUS_FAILED, "migration: the page "
			     "batcher made no progress");
			return false;
		}
	}
	if (!o->pass_end_sent) {
		mig_le32(p, o->pass);
		n = mig_section_put(o->buf, OUT_BUF, MIG_PASS_END, p, 4);
		o->pass_end_sent = true;
		return send_bytes(o, o->buf, n);
	}
	if (o->phase == OUT_FINAL)
		send_state(o);
	else
		precopy_pass_done(o);
	return false;
}

static void pump(struct mig_out *o)
{
	while (pump_step(o))
		;
}

static void start_precopy(struct mig_out *o)
{
	struct mvm_err err = { .msg = "" };

	/* Pass 1 sends everything: what was logged before does not count. */
	free_dirty(o->dirty);
	if (collect(o, &err)) {
		fail_err(o, &err);
		return;
	}
	free_dirty(o->dirty);
	o->m->info.status = MIG_STATUS_ACTIVE;
	o->phase = OUT_PRECOPY;
	o->rate_t0 = mvm_mono_ns();
	start_pass(o);
	pump(o);
}

/* Disks flushed and unlocked, then COMMIT: the destination runs it. */
static void handover(struct mig_out *o)
{
	struct mvm_err err = { .msg = "" };

	mig_part(o->m, "wait_ready");
	if (vm_disks_handover(&o->v->vm, true, &err)) {
		fail_err(o, &err);
		return;
	}
	o->released = true;
	mig_part(o->m, "disks");
	if (mig_send_small(o->fd, MIG_COMMIT, NULL, 0, &err)) {
		fail_err(o, &err);
		return;
	}
	o->phase = OUT_DONE;
}

static void complete(struct mig_out *o, const uint8_t *payload)
{
	struct vmm *v = o->v;
	uint64_t down = mvm_mono_ns() - o->t_pause;
	char parts[512];

	mig_part(o->m, "wait_done");
	mig_parts_text(o->m, parts, sizeof(parts));
	o->m->info.downtime_ms = (down + MS / 2) / MS;
	vmm_log(v, API_LOG_INFO, "migration", "completed to %s: downtime "
		"%.1f ms here, %.1f ms by the destination; %u pass(es), "
		"%llu bytes; downtime parts (ms): %s", o->rq.uri,
		(double)down / MS, (double)mig_le64_get(payload) / MS, o->pass,
		(unsigned long long)o->m->info.transferred_bytes, parts);
	mig_info_end(o->m, MIG_STATUS_COMPLETED, NULL);
	o->vm_gone = true; /* no resume, no disks back: it lives there now */
	o->finishing = true;
	if (o->watching)
		loop_watch_cancel(&o->watch);
	o->watching = false;
	vm_request_stop(&v->vm, VM_STOP_MIGRATED, MVM_EXIT_OK,
			"migrated to %s", o->rq.uri);
	mig_out_free(v, true);
}

static void on_reply(struct mig_out *o, const struct mig_hdr *h,
		     const uint8_t *payload)
{
	if (h->type == MIG_ABORT) {
		fail(o, MIG_STATUS_FAILED, "the destination refused: %.*s",
		     (int)h->len, (const char *)payload);
	} else if (h->type == MIG_ACCEPT && o->phase == OUT_HELLO) {
		o->dst_nested_state = payload[0] & MIG_ACCEPT_NESTED_STATE;
		start_precopy(o);
	} else if (h->type == MIG_READY && o->phase == OUT_READY &&
		   !o->sending) {
		handover(o);
	} else if (h->type == MIG_DONE && o->phase == OUT_DONE) {
		complete(o, payload);
	} else {
		fail(o, MIG_STATUS_FAILED, "migration: the destination sent "
		     "%s out of turn", mig_section_name(h->type));
	}
}

static void on_readable(void *ctx)
{
	static const unsigned allowed[] = { MIG_ACCEPT, MIG_READY, MIG_DONE,
					    MIG_ABORT, 0 };
	struct mig_out *o = ctx;
	struct vmm_migration *m = o->m;
	struct mvm_err err = { .msg = "" };
	int ret;

	while (!o->failing && !o->finishing) {
		ret = mig_reply_read(o->fd, &o->reply, allowed, &err);
		if (ret <= 0) {
			if (ret < 0)
				fail_err(o, &err);
			return;
		}
		on_reply(o, &o->reply.hdr, o->reply.buf + MIG_HDR_SIZE);
		if (m->out != o)
			return; /* it ended: o is gone */
		mig_reply_consume(&o->reply);
	}
}

static int send_hello(struct mig_out *o, struct mvm_err *err)
{
	struct mig_hello h = { .version = MIG_VERSION };
	const struct vm *vm = &o->v->vm;
	void *buf = NULL;
	size_t len = 0;
	unsigned nr = 0, dropped;
	int ret;

	h.vcpus = vm->cfg.cpus;
	h.mem_mib = vm->cfg.mem_mib;
	h.src_realtime_ns = mvm_real_ns();
	h.flags = (vm->cfg.nested ? MIG_HELLO_NESTED : 0) |
		  (o->rq.allow_nested_state ? MIG_HELLO_NESTED_STATE : 0);
	/* Its region is among the regions: the destination makes it too. */
	if (vm->cfg.mem_hotplug.total_mib) {
		h.flags |= MIG_HELLO_HOTPLUG;
		h.hotplug = vm->cfg.mem_hotplug;
		h.hotplug.requested_mib = 0; /* the device's state has it */
	}
	gm_file_layout(&vm->mem, h.regions, &nr);
	h.nr_regions = nr;
	ret = vcpu_get_cpuid(vm->vcpus[0], &h.cpuid, err);
	if (!ret && (dropped = mig_cpuid_unique(h.cpuid)))
		vmm_log(o->v, API_LOG_WARNING, "migration", "vCPU 0's CPUID "
			"gives %u (function, index) twice: the first of each "
			"goes, as KVM finds it", dropped);
	if (!ret)
		ret = mig_hello_encode(&h, &buf, &len, err);
	mig_hello_free(&h);
	if (ret)
		return ret;
	o->big = malloc(MIG_HDR_SIZE + len);
	if (!o->big) {
		free(buf);
		return mvm_fail(err, -ENOMEM, "out of memory");
	}
	mig_section_put(o->big, MIG_HDR_SIZE + len, MIG_HELLO, buf, len);
	free(buf);
	send_bytes(o, o->big, MIG_HDR_SIZE + len);
	return 0;
}

static void on_connected(struct loop_op *op, int res, unsigned flags)
{
	struct mig_out *o = (struct mig_out *)((char *)op -
					       offsetof(struct mig_out, conn_op));
	struct mvm_err err = { .msg = "" };

	(void)flags;
	o->connecting = false;
	if (o->failing) {
		maybe_finish(o);
		return;
	}
	if (res < 0) {
		fail(o, MIG_STATUS_FAILED, "migration: connect to %s: %s",
		     o->rq.uri, strerror(-res));
		return;
	}
	o->phase = OUT_HELLO;
	if (loop_watch_add(&o->v->loop, &o->watch, o->fd, on_readable, o)) {
		fail(o, MIG_STATUS_FAILED, "migration: cannot watch the "
		     "connection");
		return;
	}
	/* Not while a pause runs the loop for the devices (loop_hold). */
	o->watch.holdable = true;
	o->watching = true;
	if (send_hello(o, &err))
		fail_err(o, &err);
}

/* Back to where it was: disks locked again, the guest running on. */
static void restore_source(struct mig_out *o)
{
	struct vmm *v = o->v;
	struct mvm_err err = { .msg = "" };
	bool disks = true;

	if (o->released && vm_disks_handover(&v->vm, false, &err)) {
		/* Another process has them: the guest must not run. */
		disks = false;
		snprintf(o->fail_msg + strlen(o->fail_msg),
			 sizeof(o->fail_msg) - strlen(o->fail_msg),
			 "; the disks could not be taken back (%s): the VM "
			 "stays paused", err.msg);
	}
	vmm_must_transition(v, VM_EV_MIGRATE_OUT_FAILED);
	if (o->was_paused || !disks)
		return;
	if (o->paused) {
		if (vmm_resume(v, &err))
			vmm_log(v, API_LOG_ERROR, "migration", "resume: %s",
				err.msg);
	} else {
		vmm_must_transition(v, VM_EV_RESUME); /* it never stopped */
	}
}

static void maybe_finish(struct mig_out *o)
{
	struct vmm *v = o->v;

	if (o->finishing || o->connecting || o->sending || o->timing ||
	    o->killing)
		return;
	o->finishing = true;
	if (o->watching)
		loop_watch_cancel(&o->watch);
	o->watching = false;
	if (!o->vm_gone)
		restore_source(o);
	mig_info_end(o->m, o->fail_status, o->fail_msg);
	vmm_log(v, API_LOG_ERROR, "migration", "%s: %s",
		mig_status_name(o->fail_status), o->fail_msg);
	mig_out_free(v, true);
}

void mig_out_free(struct vmm *v, bool later)
{
	struct mig_out *o = v->mig ? v->mig->out : NULL;

	if (!o)
		return;
	if (o->watching)
		loop_watch_cancel(&o->watch);
	if (o->fd >= 0)
		close(o->fd);
	free_dirty(o->dirty);
	free(o->buf);
	free(o->big);
	if (later)
		mig_free_later(v, o);
	else
		free(o);
	v->mig->out = NULL;
}

bool mig_out_busy(struct vmm *v)
{
	struct mig_out *o = v->mig ? v->mig->out : NULL;

	return o && (o->connecting || o->sending || o->timing || o->killing);
}

void mig_out_stop(struct vmm *v)
{
	struct mig_out *o = v->mig ? v->mig->out : NULL;

	if (!o)
		return;
	o->failing = o->finishing = true; /* nothing more is started */
	if (o->fd >= 0)
		shutdown(o->fd, SHUT_RDWR);
	if (o->connecting)
		cancel_op(&o->v->loop, &o->conn_op);
	if (o->timing)
		cancel_op(&o->v->loop, &o->timer_op);
	if (o->killing)
		cancel_op(&o->v->loop, &o->kill_op);
}

int mig_out_cancel(struct vmm *v, struct mvm_err *err)
{
	struct mig_out *o = v->mig->out;

	if (o->phase == OUT_DONE)
		return mvm_fail(err, -EPERM, "too late to cancel: the "
				"destination has been told to run the guest");
	fail(o, MIG_STATUS_CANCELLED, "cancelled (DELETE /migration)");
	return 0;
}

/* The VM stops while it migrates (a power-off, a signal): abandon it. */
void vmm_migration_vm_gone(struct vmm *v)
{
	struct mig_out *o = v->mig ? v->mig->out : NULL;

	if (!o)
		return;
	/*
	 * The stop (a reboot, a power-off, a signal) takes the VM from where
	 * it stood before the migration: its state first, at once, as the
	 * teardown's transition comes right after; the rest once nothing is
	 * in flight.
	 */
	o->vm_gone = true;
	vmm_must_transition(v, VM_EV_MIGRATE_OUT_FAILED);
	if (!o->was_paused)
		vmm_must_transition(v, VM_EV_RESUME);
	fail(o, MIG_STATUS_FAILED, "the VM stopped while migrating");
}

static int check_request(struct vmm *v, const struct vmm_migrate_out *rq,
			 struct mig_uri *uri, struct mvm_err *err)
{
	enum vm_state to;

	if (v->mig && (v->mig->out || v->mig->in))
		return mvm_fail(err, -EBUSY, "a migration is in progress "
				"already");
	if (vm_state_next(v->state, VM_EV_MIGRATE_OUT, &to, err))
		return mvm_fail(err, -EINVAL, "cannot migrate: the VM is %s",
				vm_state_name(v->state));
	if (!rq->max_downtime_ms)
		return mvm_fail(err, -EINVAL, "max_downtime_ms must be at "
				"least 1");
	return mig_uri_parse(rq->uri, uri, err);
}

static int connect_start(struct mig_out *o, struct mvm_err *err)
{
	struct io_uring_sqe *sqe;
	int ret = mig_sockaddr(&o->uri, &o->sa, &o->salen, err);

	if (ret)
		return ret;
	o->fd = socket(o->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (o->fd < 0)
		return mvm_fail(err, -errno, "migration: socket: %s",
				strerror(errno));
	sqe = loop_sqe(&o->v->loop);
	if (!sqe)
		return mvm_fail(err, -EBUSY, "migration: io_uring is full");
	io_uring_prep_connect(sqe, o->fd, (struct sockaddr *)&o->sa,
			      o->salen);
	loop_prep(&o->v->loop, sqe, &o->conn_op);
	o->connecting = true;
	return 0;
}

static struct mig_out *out_new(struct vmm *v, const struct vmm_migrate_out *rq)
{
	struct mig_out *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->buf = malloc(OUT_BUF);
	if (!o->buf) {
		free(o);
		return NULL;
	}
	o->v = v;
	o->rq = *rq;
	o->fd = -1;
	o->conn_op.done = on_connected;
	o->send_op.done = on_sent;
	o->timer_op.done = on_timer;
	o->kill_op.done = on_kill;
	o->was_paused = v->state == VM_STATE_PAUSED;
	return o;
}

/* The VMM's own writes and KVM's, logged from now on. */
static int track_dirty(struct vmm *v, struct mvm_err *err)
{
	if (gm_dirty_tracking(&v->vm.mem))
		return 0;
	return vm_dirty_start(&v->vm, err);
}

int vmm_migrate_out(struct vmm *v, const struct vmm_migrate_out *rq,
		    struct mvm_err *err)
{
	struct mig_uri uri;
	struct mig_out *o;
	int ret = check_request(v, rq, &uri, err);

	if (ret || v->dry_run)
		return ret;
	if (!mig_get(v) || !(o = out_new(v, rq)))
		return mvm_fail(err, -ENOMEM, "out of memory");
	o->m = v->mig;
	o->uri = uri;
	o->src_nested_state = rq->allow_nested_state && host_nested_state();
	o->dst_nested_state = o->src_nested_state; /* until it answers */
	ret = ask_policy(o, err);
	if (!ret)
		ret = track_dirty(v, err);
	if (!ret)
		ret = connect_start(o, err);
	if (ret) {
		if (o->fd >= 0)
			close(o->fd);
		free(o->buf);
		free(o);
		return ret;
	}
	v->mig->out = o;
	mig_info_reset(v->mig, false);
	vmm_must_transition(v, VM_EV_MIGRATE_OUT);
	vmm_log(v, API_LOG_INFO, "migration", "to %s: started", rq->uri);
	return 0;
}
