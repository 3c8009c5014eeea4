/*
 * libFuzzer target: a migration stream (include/mvm/migration.h) into the
 * receiver, as the destination's owner drives it: on HELLO it decodes the
 * HELLO (mig_hello_decode), checks its CPUID and sets up guest RAM of the
 * HELLO's layout (here small, from a pool; a layout past the pool ends
 * the input, as a host short of memory would answer ABORT); PAGES land
 * there; on STATE the state file goes to snap_file_decode.
 *
 * The input's first byte says how to feed the rest:
 *   bits 0-5  the size of the pieces the stream comes in (0: all at once);
 *             an odd size: pages are received in place where the
 *             receiver offers it (mig_rx_direct), as the owner does
 *   bit 6     the source's receiver of the answers (mig_rx_init_replies)
 *   bit 7     set each section's CRCs right before feeding, so that
 *             mutations get past them to what the sections say
 * What must hold: nothing crashes or leaks; a feed consumes no more than
 * it is given, all of it unless it stops at an event; a place offered
 * for pages lies inside guest RAM, room and all; a HELLO that
 * decodes encodes back to the same bytes; after COMMIT, ABORT or DONE, or
 * an error, the receiver takes nothing more.
 */
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mvm/err.h"
#include "mvm/mem.h"
#include "mvm/migration.h"
#include "mvm/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define POOL (2u << 20)
#define STEP_MASK 0x3fu
#define REPLIES 0x40u
#define FIX_CRCS 0x80u

static uint8_t *pool;
static size_t pool_dirty; /* bytes of pool the last input may have set */

/* The host's KVM, for the CPUID check: the guest's own, less AVX-512. */
static void cpuid_check(const struct kvm_cpuid2 *guest)
{
	size_t sz = sizeof(*guest) + guest->nent * sizeof(guest->entries[0]);
	struct kvm_cpuid2 *host = malloc(sz);
	struct mvm_err err;

	if (!host)
		return;
	memcpy(host, guest, sz);
	for (uint32_t i = 0; i < host->nent; i++)
		if (host->entries[i].function == 7)
			host->entries[i].ebx &= ~(1u << 16);
	mig_cpuid_check(guest, host, &err);
	free(host);
}

/* RAM of the HELLO's layout out of the pool; false if it does not fit. */
static bool setup_ram(struct guest_mem *gm, const struct mig_hello *h)
{
	size_t off = 0;

	memset(gm, 0, sizeof(*gm));
	for (unsigned i = 0; i < h->nr_regions; i++) {
		if (h->regions[i].size > POOL - off)
			return false;
		gm_add_host(gm, h->regions[i].gpa, pool + off,
			    h->regions[i].size);
		off += h->regions[i].size;
	}
	pool_dirty = off;
	return true;
}

/* HELLO: decoded, encoded back to the same bytes, checked, RAM set up. */
static bool on_hello(struct mig_rx *rx, struct guest_mem *gm)
{
	struct mig_hello h;
	struct mvm_err err;
	size_t len;
	void *again;
	bool ok;

	if (mig_hello_decode(rx->payload, rx->payload_len, &h, &err))
		return false;
	if (mig_hello_encode(&h, &again, &len, &err)) {
		fprintf(stderr, "HELLO decoded, but does not encode: %s\n",
			err.msg);
		abort();
	}
	if (len != rx->payload_len || memcmp(again, rx->payload, len)) {
		fprintf(stderr, "HELLO decoded, encodes to other bytes\n");
		abort();
	}
	free(again);
	cpuid_check(h.cpuid);
	ok = setup_ram(gm, &h);
	mig_hello_free(&h);
	rx->gm = ok ? gm : NULL;
	return ok;
}

static void on_state(const struct mig_rx *rx)
{
	struct snap_file s;
	struct mvm_err err;

	if (rx->payload_len < MIG_STATE_HDR) {
		fprintf(stderr, "STATE of %zu bytes\n", rx->payload_len);
		abort();
	}
	if (!snap_file_decode(rx->payload + MIG_STATE_HDR,
			      rx->payload_len - MIG_STATE_HDR, &s, &err))
		snap_file_free(&s);
}

/* Each whole section's CRCs made right, as far as the bytes go. */
static void fix_crcs(uint8_t *b, size_t n)
{
	for (size_t off = 0; n - off >= MIG_HDR_SIZE;) {
		uint8_t *h = b + off;
		uint64_t len;
		uint32_t crc;
		bool whole;

		memcpy(&len, h + 8, 8);
		whole = len <= n - off - MIG_HDR_SIZE;
		if (whole) {
			crc = mig_crc32c(0, h + MIG_HDR_SIZE, len);
			memcpy(h + 16, &crc, 4);
		}
		crc = mig_crc32c(0, h, 20);
		memcpy(h + 20, &crc, 4);
		if (!whole)
			break;
		off += MIG_HDR_SIZE + len;
	}
}

/* What an event asks of the owner; false: the owner stops here. */
static bool on_event(struct mig_rx *rx, enum mig_rx_event ev,
		     struct guest_mem *gm)
{
	if (!rx->payload || rx->payload[rx->payload_len] != 0) {
		fprintf(stderr, "event %d without its NUL-ended payload\n",
			ev);
		abort();
	}
	switch (ev) {
	case MIG_RX_HELLO:
		return on_hello(rx, gm);
	case MIG_RX_STATE:
		on_state(rx);
		return true;
	case MIG_RX_PASS_END:
	case MIG_RX_ACCEPT:
	case MIG_RX_READY:
		return true;
	default: /* COMMIT, ABORT, DONE: the end */
		return false;
	}
}

/*
 * Where the next piece is fed from: a place mig_rx_direct offers, which
 * must lie inside gm's RAM with its room, the piece copied there (cut to
 * the room) when asked; else where it is.
 */
static const uint8_t *in_place(const struct mig_rx *rx,
			       const struct guest_mem *gm, const uint8_t *p,
			       size_t *piece, bool use)
{
	size_t room;
	uint8_t *to = mig_rx_direct(rx, &room);
	bool inside = false;

	if (!to)
		return p;
	for (int i = 0; i < gm->nr; i++)
		inside |= to >= gm->r[i].hva && room <= gm->r[i].size &&
			  (size_t)(to - gm->r[i].hva) <= gm->r[i].size - room;
	if (!inside || !room) {
		fprintf(stderr, "a place of %zu bytes outside guest RAM\n",
			room);
		abort();
	}
	if (!use)
		return p;
	if (*piece > room)
		*piece = room;
	memmove(to, p, *piece);
	return to;
}

static void run(const uint8_t *b, size_t n, size_t step, bool replies)
{
	struct guest_mem gm = { .nr = 0 };
	struct mig_rx rx;
	struct mvm_err err;
	enum mig_rx_event ev;
	size_t off = 0;

	replies ? mig_rx_init_replies(&rx) : mig_rx_init(&rx);
	while (off < n) {
		size_t piece = step && n - off > step ? step : n - off;
		const uint8_t *from = in_place(&rx, &gm, b + off, &piece,
					       step & 1);
		ssize_t got = mig_rx_feed(&rx, from, piece, &ev, &err);

		if (got < 0) {
			if (mig_rx_feed(&rx, b, n, &ev, &err) >= 0) {
				fprintf(stderr, "input taken after an error\n");
				abort();
			}
			break;
		}
		if ((size_t)got > piece ||
		    (ev == MIG_RX_NONE && (size_t)got != piece)) {
			fprintf(stderr, "fed %zu, consumed %zd, event %d\n",
				piece, got, ev);
			abort();
		}
		off += (size_t)got;
		if (rx.bytes != off) {
			fprintf(stderr, "bytes %llu, consumed %zu\n",
				(unsigned long long)rx.bytes, off);
			abort();
		}
		if (ev != MIG_RX_NONE && !on_event(&rx, ev, &gm)) {
			bool ended = ev == MIG_RX_COMMIT ||
				     ev == MIG_RX_ABORT || ev == MIG_RX_DONE;

			if (ended && mig_rx_feed(&rx, b, n, &ev, &err) >= 0) {
				fprintf(stderr, "input taken after the end\n");
				abort();
			}
			break;
		}
	}
	mig_rx_fini(&rx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *b;

	if (!pool) {
		pool = mmap(NULL, POOL, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (pool == MAP_FAILED)
			abort();
	}
	if (size < 1)
		return 0;
	/* A copy of the stream's own size: ASan sees any read past it. */
	b = malloc(size - 1 ? size - 1 : 1);
	if (!b)
		return 0;
	memcpy(b, data + 1, size - 1);
	if (data[0] & FIX_CRCS)
		fix_crcs(b, size - 1);
	memset(pool, 0, pool_dirty);
	pool_dirty = 0;
	run(b, size - 1, data[0] & STEP_MASK, data[0] & REPLIES);
	free(b);
	return 0;
}
