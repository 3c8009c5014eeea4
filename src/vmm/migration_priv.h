/* What the VMM's migration files share (src/vmm/migration*.c). */
#ifndef MVM_MIGRATION_PRIV_H
#define MVM_MIGRATION_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mvm/migration.h"
#include "mvm/snapshot.h"
#include "mvm/vmm_migration.h"

struct mig_out;
struct mig_in;

/* The one migration of this mvm, in or out (vmm->mig). */
struct vmm_migration {
	struct vmm_migration_info info;
	uint64_t t_start_ns; /* CLOCK_MONOTONIC */
	uint64_t t_part_ns;  /* the downtime's last mark (mig_part) */
	struct mig_out *out;
	struct mig_in *in;
	/* An incoming VM's state file: its strings are the VM's config's. */
	struct snap_file state;
	unsigned pending_frees; /* mig_free_later's, not done yet */
};

/* Little-endian fields of the sections' payloads. */
static inline void mig_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void mig_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t mig_le64_get(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* v->mig, made on first use; NULL when out of memory. */
struct vmm_migration *mig_get(struct vmm *v);
/* A new migration's record: status, clock and counters reset. */
void mig_info_reset(struct vmm_migration *m, bool incoming);
/* Ended: status, total time and (for a failure) the error kept. */
void mig_info_end(struct vmm_migration *m, enum mig_status s,
		  const char *error);

/* The downtime's spans (info.parts): the first from t_mono_ns on. */
void mig_parts_start(struct vmm_migration *m, uint64_t t_mono_ns);
/* A span of ns named name (a literal), not from the clock. */
void mig_part_add(struct vmm_migration *m, const char *name, uint64_t ns);
/* The span from the last mark to now, named name; now is the new mark. */
void mig_part(struct vmm_migration *m, const char *name);
/* "pause 0.1, sync 2.3, ..." (ms) for the log. */
void mig_parts_text(const struct vmm_migration *m, char *buf, size_t len);

/* The socket address of u; a TCP name is resolved (numeric port). */
int mig_sockaddr(const struct mig_uri *u, struct sockaddr_storage *sa,
		 socklen_t *len, struct mvm_err *err);
/*
 * A small section (a reply, an ABORT) written whole on a connected
 * socket, waiting up to a second for room: the peer reads continuously.
 */
int mig_send_small(int fd, enum mig_section type, const void *payload,
		   size_t len, struct mvm_err *err);
/* Read from fd into buf until a whole reply section is there (small). */
struct mig_reply {
	uint8_t buf[MIG_HDR_SIZE + MIG_REASON_MAX];
	size_t len;
	struct mig_hdr hdr;
};
/*
 * 1 with a whole section in r (r->hdr, payload after the header), 0 when
 * more must come, or -errno (-EPIPE: the peer closed) with a message.
 * Types the peer must not send are refused before their payload.
 */
int mig_reply_read(int fd, struct mig_reply *r, const unsigned *allowed,
		   struct mvm_err *err);
/* Drop the whole section r holds, keeping what follows it. */
void mig_reply_consume(struct mig_reply *r);

/*
 * Free p once the loop has finished the callback that is running: a
 * migration ends inside its own watch's callback, and the loop touches
 * the watch (which p holds) when that returns.
 */
void mig_free_later(struct vmm *v, void *p);

/*
 * migration_out.c and migration_in.c, for cancel and teardown; later:
 * from a loop callback (mig_free_later), else at once (mvm's end).
 */
int mig_out_cancel(struct vmm *v, struct mvm_err *err);
void mig_out_free(struct vmm *v, bool later);
int mig_in_cancel(struct vmm *v, struct mvm_err *err);
void mig_in_free(struct vmm *v, bool later);
/* At mvm's end: anything of theirs still in flight on the loop? */
bool mig_out_busy(struct vmm *v);
bool mig_in_busy(struct vmm *v);
/* Hang up an outgoing migration's socket, so its ops complete. */
void mig_out_stop(struct vmm *v);

#endif
