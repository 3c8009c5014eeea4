/*
 * What both ends of a live migration share: the record GET /migration
 * shows, the URI and its socket address, the small replies the two send
 * each other, and cancel.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

#include "mvm/clock.h"
#include "mvm/err.h"
#include "mvm/vmm.h"
#include "mvm/vmm_migration.h"

#include "migration_priv.h"

const char *mig_status_name(enum mig_status s)
{
	static const char *const names[] = {
		[MIG_STATUS_NONE] = "none",
		[MIG_STATUS_SETUP] = "setup",
		[MIG_STATUS_ACTIVE] = "active",
		[MIG_STATUS_COMPLETED] = "completed",
		[MIG_STATUS_FAILED] = "failed",
		[MIG_STATUS_CANCELLED] = "cancelled",
	};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] :
								 "invalid";
}

struct vmm_migration *mig_get(struct vmm *v)
{
	if (!v->mig)
		v->mig = calloc(1, sizeof(*v->mig));
	return v->mig;
}

void mig_info_reset(struct vmm_migration *m, bool incoming)
{
	memset(&m->info, 0, sizeof(m->info));
	m->info.status = MIG_STATUS_SETUP;
	m->info.incoming = incoming;
	m->t_start_ns = mvm_mono_ns();
}

void mig_info_end(struct vmm_migration *m, enum mig_status s,
		  const char *error)
{
	m->info.status = s;
	m->info.total_ms = (mvm_mono_ns() - m->t_start_ns) / 1000000u;
	if (error)
		snprintf(m->info.error, sizeof(m->info.error), "%s", error);
}

void mig_parts_start(struct vmm_migration *m, uint64_t t_mono_ns)
{
	m->info.nr_parts = 0;
	m->t_part_ns = t_mono_ns;
}

void mig_part_add(struct vmm_migration *m, const char *name, uint64_t ns)
{
	if (m->info.nr_parts < MIG_PARTS_MAX)
		m->info.parts[m->info.nr_parts++] =
			(struct mig_downtime_part){ name, (ns + 500) / 1000 };
}

void mig_part(struct vmm_migration *m, const char *name)
{
	uint64_t now = mvm_mono_ns();

	mig_part_add(m, name, now - m->t_part_ns);
	m->t_part_ns = now;
}

void mig_parts_text(const struct vmm_migration *m, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < m->info.nr_parts && at < len; i++) {
		int n = snprintf(buf + at, len - at, "%s%s %.1f",
				 i ? ", " : "", m->info.parts[i].name,
				 (double)m->info.parts[i].us / 1000);

		if (n < 0)
			break;
		at += (size_t)n;
	}
}

static int parse_tcp(const char *rest, struct mig_uri *u,
		     struct mvm_err *err)
{
	const char *colon = strrchr(rest, ':');
	size_t hl;
	char *end;
	unsigned long port;

	if (!colon)
		return mvm_fail(err, -EINVAL, "uri 'tcp:%s': no port: use "
				"tcp:HOST:PORT", rest);
	hl = (size_t)(colon - rest);
	/* [v6 address]: brackets off for getaddrinfo. */
	if (hl >= 2 && rest[0] == '[' && rest[hl - 1] == ']') {
		rest++;
		hl -= 2;
	}
	if (!hl || hl >= sizeof(u->host))
		return mvm_fail(err, -EINVAL, "uri 'tcp:%s': the host is %s",
				rest, hl ? "too long" : "empty");
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || !port || port > 65535)
		return mvm_fail(err, -EINVAL, "uri: port '%s' is not 1-65535",
				colon + 1);
	memcpy(u->host, rest, hl);
	u->host[hl] = '\0';
	snprintf(u->port, sizeof(u->port), "%lu", port);
	u->tcp = true;
	return 0;
}

int mig_uri_parse(const char *uri, struct mig_uri *out, struct mvm_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!strncmp(uri, "unix:", 5)) {
		size_t n = strlen(uri + 5);

		if (!n || n >= sizeof(out->path))
			return mvm_fail(err, -EINVAL, "uri '%s': a UNIX socket "
					"path of 1-%zu bytes is needed", uri,
					sizeof(out->path) - 1);
		memcpy(out->path, uri + 5, n + 1);
		return 0;
	}
	if (!strncmp(uri, "tcp:", 4))
		return parse_tcp(uri + 4, out, err);
	return mvm_fail(err, -EINVAL, "uri '%s': use unix:PATH or "
			"tcp:HOST:PORT", uri);
}

int mig_sockaddr(const struct mig_uri *u, struct sockaddr_storage *sa,
		 socklen_t *len, struct mvm_err *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	int ret;

	memset(sa, 0, sizeof(*sa));
	if (!u->tcp) {
		struct sockaddr_un *un = (struct sockaddr_un *)sa;

		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, u->path, strlen(u->path) + 1);
		*len = sizeof(*un);
		return 0;
	}
	ret = getaddrinfo(u->host, u->port, &hints, &ai);
	if (ret || !ai)
		return mvm_fail(err, -EINVAL, "uri: host '%s': %s", u->host,
				ret ? gai_strerror(ret) : "no address");
	memcpy(sa, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

int mig_send_small(int fd, enum mig_section type, const void *payload,
		   size_t len, struct mvm_err *err)
{
	uint8_t buf[MIG_HDR_SIZE + MIG_REASON_MAX];
	size_t n = mig_section_put(buf, sizeof(buf), type, payload, len);
	size_t off = 0;

	if (!n)
		return mvm_fail(err, -EINVAL, "migration: %s: too long",
				mig_section_name(type));
	while (off < n) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		ssize_t w = send(fd, buf + off, n - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return mvm_fail(err, -errno, "migration: sending %s: "
					"%s", mig_section_name(type),
					strerror(errno));
		if (poll(&p, 1, 1000) <= 0)
			return mvm_fail(err, -ETIMEDOUT, "migration: sending "
					"%s: the peer reads nothing",
					mig_section_name(type));
	}
	return 0;
}

static bool allowed_type(const unsigned *allowed, unsigned type)
{
	for (; *allowed; allowed++)
		if (*allowed == type)
			return true;
	return false;
}

static int reply_complete(struct mig_reply *r, const unsigned *allowed,
			  struct mvm_err *err)
{
	int ret;

	if (r->len < MIG_HDR_SIZE)
		return 0;
	ret = mig_hdr_decode(r->buf, &r->hdr, err);
	if (ret)
		return ret;
	if (!allowed_type(allowed, r->hdr.type) ||
	    r->hdr.len > MIG_REASON_MAX)
		return mvm_fail(err, -EPROTO, "migration: the peer sent %s "
				"(%llu bytes) where it may not",
				mig_section_name(r->hdr.type),
				(unsigned long long)r->hdr.len);
	if (r->len < MIG_HDR_SIZE + r->hdr.len)
		return 0;
	ret = mig_payload_check(&r->hdr, r->buf + MIG_HDR_SIZE, err);
	return ret ? ret : 1;
}

int mig_reply_read(int fd, struct mig_reply *r, const unsigned *allowed,
		   struct mvm_err *err)
{
	for (;;) {
		int ret = reply_complete(r, allowed, err);
		ssize_t n;

		if (ret)
			return ret;
		n = recv(fd, r->buf + r->len, sizeof(r->buf) - r->len,
			 MSG_DONTWAIT);
		if (n == 0)
			return mvm_fail(err, -EPIPE, "migration: the peer "
					"closed the connection");
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return mvm_fail(err, -errno, "migration: %s",
					strerror(errno));
		r->len += (size_t)n;
	}
}

void mig_reply_consume(struct mig_reply *r)
{
	size_t n = MIG_HDR_SIZE + r->hdr.len;

	memmove(r->buf, r->buf + n, r->len - n);
	r->len -= n;
}

struct free_later {
	struct loop_op op;
	void *p;
	unsigned *pending;
};

static void freed(struct loop_op *op, int res, unsigned flags)
{
	struct free_later *f = (struct free_later *)op;

	(void)res;
	(void)flags;
	(*f->pending)--;
	free(f->p);
	free(f);
}

void mig_free_later(struct vmm *v, void *p)
{
	struct free_later *f = malloc(sizeof(*f));
	struct io_uring_sqe *sqe = f ? loop_sqe(&v->loop) : NULL;

	if (!sqe) {
		/* Kept rather than freed under a loop that may touch it. */
		free(f);
		return;
	}
	f->op.done = freed;
	f->p = p;
	f->pending = &v->mig->pending_frees;
	v->mig->pending_frees++;
	io_uring_prep_nop(sqe);
	loop_prep(&v->loop, sqe, &f->op);
}

int vmm_migrate_cancel(struct vmm *v, struct mvm_err *err)
{
	if (v->mig && v->mig->out)
		return mig_out_cancel(v, err);
	if (v->mig && v->mig->in)
		return mig_in_cancel(v, err);
	return mvm_fail(err, -EINVAL, "no migration is in progress");
}

void vmm_migration_info(struct vmm *v, struct vmm_migration_info *out)
{
	memset(out, 0, sizeof(*out));
	if (!v->mig)
		return;
	*out = v->mig->info;
	if (out->status == MIG_STATUS_SETUP || out->status == MIG_STATUS_ACTIVE)
		out->total_ms = (mvm_mono_ns() - v->mig->t_start_ns) / 1000000u;
}

static bool settled(void *ctx)
{
	struct vmm *v = ctx;

	return !v->mig->pending_frees && !mig_out_busy(v) && !mig_in_busy(v);
}

void vmm_migration_fini(struct vmm *v)
{
	if (!v->mig)
		return;
	/* What is still in flight completes first (2 s at most). */
	mig_out_stop(v);
	if (v->loop_ready)
		loop_run_until(&v->loop, settled, v, 2000);
	mig_out_free(v, false);
	mig_in_free(v, false);
	snap_file_free(&v->mig->state);
	free(v->mig);
	v->mig = NULL;
}
