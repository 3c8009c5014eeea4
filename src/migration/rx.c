/*
 * The receiver: a stream of sections, cut anywhere by the network, back
 * into whole sections, checked and in order. The bytes come from another
 * host and are hostile: a header is read and checked whole (magic, its
 * CRC, type, length within the type's limits, order) before any of its
 * payload is taken, so a payload buffer never grows past a type's
 * maximum; a page range is checked against guest RAM before a byte of it
 * is written. Once anything is wrong, the stream is over.
 *
 * PAGES DATA go straight into guest RAM as they arrive, rather than
 * through a buffer: one copy fewer on most of what a migration moves;
 * none at all where the owner receives them there itself (mig_rx_direct).
 * Their CRC is checked at the section's end; a bad one fails the stream,
 * and the destination throws away its RAM with the rest.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "mvm/err.h"
#include "mig_priv.h"

/* What may come next. */
enum phase {
	/* the destination's receiver of the source's stream */
	WANT_HELLO,
	STREAMING,   /* PAGES, PASS_END, STATE */
	WANT_COMMIT,
	/* the source's receiver of the destination's answers */
	WANT_ACCEPT,
	WANT_READY,
	WANT_DONE,
	/* no more: rx->hdr.type ended it, or an error */
	ENDED,
	FAILED,
};

void mig_rx_init(struct mig_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
	rx->phase = WANT_HELLO;
}

void mig_rx_init_replies(struct mig_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
	rx->phase = WANT_ACCEPT;
	rx->replies = true;
}

void mig_rx_fini(struct mig_rx *rx)
{
	free(rx->buf);
	memset(rx, 0, sizeof(*rx));
}

static bool from_source(unsigned type)
{
	return type == MIG_HELLO || type == MIG_PAGES ||
	       type == MIG_PASS_END || type == MIG_STATE ||
	       type == MIG_COMMIT;
}

/* NULL if a section of this type may come now, else what was expected. */
static const char *expected(const struct mig_rx *rx, unsigned type)
{
	static const char *const want[] = {
		[WANT_HELLO] = "HELLO",
		[STREAMING] = "PAGES, PASS_END or STATE",
		[WANT_COMMIT] = "COMMIT",
		[WANT_ACCEPT] = "ACCEPT",
		[WANT_READY] = "READY",
		[WANT_DONE] = "DONE",
	};
	static const unsigned first[] = {
		[WANT_HELLO] = MIG_HELLO, [WANT_COMMIT] = MIG_COMMIT,
		[WANT_ACCEPT] = MIG_ACCEPT, [WANT_READY] = MIG_READY,
		[WANT_DONE] = MIG_DONE,
	};

	if (type == MIG_ABORT)
		return NULL;
	if (rx->phase == STREAMING)
		return type == MIG_PAGES || type == MIG_PASS_END ||
		       type == MIG_STATE ? NULL : want[STREAMING];
	return type == first[rx->phase] ? NULL : want[rx->phase];
}

/* A header is complete: is it one we take now? Room for its payload. */
static int start_section(struct mig_rx *rx, struct mvm_err *err)
{
	const char *name;
	const char *want;
	int ret = mig_hdr_decode(rx->head, &rx->hdr, err);

	if (ret)
		return ret;
	name = mig_section_name(rx->hdr.type);
	/* ABORT goes either way; every other type one way only. */
	if (rx->hdr.type != MIG_ABORT &&
	    rx->replies == from_source(rx->hdr.type))
		return mvm_fail(err, -EINVAL, "section %s: the %s's, it does "
				"not come from the %s", name,
				rx->replies ? "source" : "destination",
				rx->replies ? "destination" : "source");
	want = expected(rx, rx->hdr.type);
	if (want)
		return mvm_fail(err, -EINVAL, "section %s out of order: %s "
				"was expected", name, want);
	if ((rx->hdr.type == MIG_PAGES || rx->hdr.type == MIG_PASS_END) &&
	    !rx->gm)
		return mvm_fail(err, -EINVAL, "section %s before guest memory "
				"was set up for it", name);
	rx->got = 0;
	rx->crc = 0;
	/* PAGES go to guest RAM; others whole into buf, with a NUL after. */
	if (rx->hdr.type != MIG_PAGES && rx->hdr.len >= rx->buf_cap) {
		uint8_t *b = realloc(rx->buf, rx->hdr.len + 1);

		if (!b)
			return mvm_fail(err, -ENOMEM, "section %s: no memory "
					"for its %" PRIu64 " bytes", name,
					rx->hdr.len);
		rx->buf = b;
		rx->buf_cap = rx->hdr.len + 1;
	}
	return 0;
}

/* PAGES' own header is in: where its pages go, checked whole. */
static int start_pages(struct mig_rx *rx, struct mvm_err *err)
{
	uint64_t gpa = mig_get64(rx->pages_head);
	uint32_t npages = mig_get32(rx->pages_head + 8);
	uint32_t kind = mig_get32(rx->pages_head + 12);
	uint64_t size = (uint64_t)npages * MIG_PAGE;
	uint64_t want;

	if (kind != MIG_PAGES_DATA && kind != MIG_PAGES_ZERO)
		return mvm_fail(err, -EINVAL, "section PAGES: kind %u, neither "
				"DATA (0) nor ZERO (1)", kind);
	if (npages < 1 || npages > MIG_PAGES_MAX)
		return mvm_fail(err, -EINVAL, "section PAGES: %u pages (1 to "
				"%u allowed)", npages, MIG_PAGES_MAX);
	if (gpa % MIG_PAGE)
		return mvm_fail(err, -EINVAL, "section PAGES: gpa 0x%" PRIx64
				" is not 4 KiB-aligned", gpa);
	want = MIG_PAGES_HDR + (kind == MIG_PAGES_DATA ? size : 0);
	if (rx->hdr.len != want)
		return mvm_fail(err, -EINVAL, "section PAGES: length %" PRIu64
				" bytes, %u %s pages make %" PRIu64,
				rx->hdr.len, npages,
				kind == MIG_PAGES_DATA ? "DATA" : "ZERO", want);
	rx->dst = gm_ptr(rx->gm, gpa, size);
	if (!rx->dst)
		return mvm_fail(err, -EINVAL, "section PAGES: gpa 0x%" PRIx64
				" + %u pages is not inside one region of guest "
				"RAM", gpa, npages);
	return 0;
}

/* n bytes of a PAGES payload: its header, then data into guest RAM. */
static int take_pages(struct mig_rx *rx, const uint8_t *p, size_t n,
		      struct mvm_err *err)
{
	uint8_t *to;

	rx->crc = mig_crc32c(rx->crc, p, n);
	if (rx->got < MIG_PAGES_HDR) {
		size_t k = MIG_PAGES_HDR - rx->got < n ?
				   MIG_PAGES_HDR - rx->got : n;
		int ret;

		memcpy(rx->pages_head + rx->got, p, k);
		rx->got += k;
		p += k;
		n -= k;
		if (rx->got < MIG_PAGES_HDR)
			return 0;
		ret = start_pages(rx, err);
		if (ret)
			return ret;
	}
	/*
	 * start_pages checked the length: n fits in what dst has left. Bytes
	 * received in place (mig_rx_direct) are there already.
	 */
	to = rx->dst + (rx->got - MIG_PAGES_HDR);
	if (n && p != to)
		memcpy(to, p, n);
	rx->got += n;
	return 0;
}

static int take(struct mig_rx *rx, const uint8_t *p, size_t n,
		struct mvm_err *err)
{
	if (rx->hdr.type == MIG_PAGES)
		return take_pages(rx, p, n, err);
	if (n)
		memcpy(rx->buf + rx->got, p, n);
	rx->got += n;
	return 0;
}

/* Well-formed UTF-8 (no overlong forms, surrogates or values past
 * U+10FFFF) without NUL: a reason the owner can show as it is. */
static bool utf8_text(const uint8_t *p, size_t n)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };

	for (size_t i = 0; i < n;) {
		uint8_t c = p[i];
		unsigned len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 :
					      (c & 0xf0) == 0xe0 ? 3 :
					      (c & 0xf8) == 0xf0 ? 4 : 0;
		uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1fu :
					     len == 3 ? c & 0x0fu : c & 0x07u;

		if (!c || !len || n - i < len)
			return false;
		for (unsigned k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3fu);
		}
		if (cp < min[len] || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

/* A PAGES section is whole and its CRC right: count it, zero a range. */
static void end_pages(struct mig_rx *rx)
{
	uint32_t npages = mig_get32(rx->pages_head + 8);

	if (mig_get32(rx->pages_head + 12) == MIG_PAGES_ZERO) {
		memset(rx->dst, 0, (size_t)npages * MIG_PAGE);
		rx->pages_zero += npages;
	} else {
		rx->pages_data += npages;
	}
}

/* A section is whole: check its CRC, act on it, say what happened. */
static int end_section(struct mig_rx *rx, enum mig_rx_event *ev,
		       struct mvm_err *err)
{
	const uint8_t *b = rx->buf;
	int ret;

	if (rx->hdr.type == MIG_PAGES) {
		if (rx->crc != rx->hdr.crc)
			return mvm_fail(err, -EINVAL, "section PAGES: payload "
					"CRC 0x%08x, the header says 0x%08x",
					rx->crc, rx->hdr.crc);
		end_pages(rx);
		return 0;
	}
	ret = mig_payload_check(&rx->hdr, rx->buf, err);
	if (ret)
		return ret;
	rx->payload = rx->hdr.len ? b : (const uint8_t *)"";
	rx->payload_len = rx->hdr.len;
	if (rx->hdr.len)
		rx->buf[rx->hdr.len] = 0;
	switch (rx->hdr.type) {
	case MIG_HELLO:
		rx->phase = STREAMING;
		*ev = MIG_RX_HELLO;
		break;
	case MIG_PASS_END:
		if (mig_get32(b) != rx->passes + 1)
			return mvm_fail(err, -EINVAL, "section PASS_END: pass "
					"%u, %u was expected", mig_get32(b),
					rx->passes + 1);
		rx->passes++;
		*ev = MIG_RX_PASS_END;
		break;
	case MIG_STATE:
		rx->paused_realtime_ns = mig_get64(b);
		rx->phase = WANT_COMMIT;
		*ev = MIG_RX_STATE;
		break;
	case MIG_COMMIT:
		rx->phase = ENDED;
		*ev = MIG_RX_COMMIT;
		break;
	case MIG_ABORT:
		if (!utf8_text(b, rx->hdr.len))
			return mvm_fail(err, -EINVAL, "section ABORT: the "
					"reason is not UTF-8 text without NUL");
		rx->phase = ENDED;
		*ev = MIG_RX_ABORT;
		break;
	case MIG_ACCEPT:
		rx->accept_flags = mig_get32(b);
		if (rx->accept_flags & ~MIG_ACCEPT_NESTED_STATE)
			return mvm_fail(err, -EINVAL, "section ACCEPT: unknown "
					"flags 0x%x", rx->accept_flags &
					~MIG_ACCEPT_NESTED_STATE);
		rx->phase = WANT_READY;
		*ev = MIG_RX_ACCEPT;
		break;
	case MIG_READY:
		rx->phase = WANT_DONE;
		*ev = MIG_RX_READY;
		break;
	case MIG_DONE:
		rx->downtime_ns = mig_get64(b);
		rx->phase = ENDED;
		*ev = MIG_RX_DONE;
		break;
	}
	return 0;
}

/* Bytes of the header, then of the payload; a section's end is acted on. */
static int step(struct mig_rx *rx, const uint8_t *data, size_t len,
		size_t *used, enum mig_rx_event *ev, struct mvm_err *err)
{
	size_t n;
	int ret;

	if (rx->head_got < MIG_HDR_SIZE) {
		n = MIG_HDR_SIZE - rx->head_got < len - *used ?
			    MIG_HDR_SIZE - rx->head_got : len - *used;
		memcpy(rx->head + rx->head_got, data + *used, n);
		rx->head_got += n;
		*used += n;
		rx->bytes += n;
		if (rx->head_got < MIG_HDR_SIZE)
			return 0;
		ret = start_section(rx, err);
		if (ret)
			return ret;
	}
	n = rx->hdr.len - rx->got < len - *used ?
		    (size_t)(rx->hdr.len - rx->got) : len - *used;
	ret = take(rx, data + *used, n, err);
	*used += n;
	rx->bytes += n;
	if (ret || rx->got < rx->hdr.len)
		return ret;
	ret = end_section(rx, ev, err);
	if (ret)
		return ret;
	rx->head_got = 0;
	rx->at = rx->bytes;
	return 0;
}

uint8_t *mig_rx_direct(const struct mig_rx *rx, size_t *room)
{
	*room = 0;
	if (rx->phase == FAILED || rx->phase == ENDED)
		return NULL;
	if (rx->head_got < MIG_HDR_SIZE) {
		*room = MIG_HDR_SIZE - rx->head_got;
		return NULL;
	}
	if (rx->hdr.type == MIG_PAGES && rx->got < MIG_PAGES_HDR) {
		*room = MIG_PAGES_HDR - rx->got;
		return NULL;
	}
	*room = (size_t)(rx->hdr.len - rx->got);
	/* Past PAGES' own header, start_pages has checked the range. */
	if (rx->hdr.type != MIG_PAGES || !*room)
		return NULL;
	return rx->dst + (rx->got - MIG_PAGES_HDR);
}

ssize_t mig_rx_feed(struct mig_rx *rx, const void *data, size_t len,
		    enum mig_rx_event *ev, struct mvm_err *err)
{
	size_t used = 0;
	int ret = 0;

	*ev = MIG_RX_NONE;
	rx->payload = NULL;
	rx->payload_len = 0;
	if (rx->phase == FAILED)
		return mvm_fail(err, -EINVAL, "migration stream: refused after "
				"an error at byte %" PRIu64, rx->at);
	if (rx->phase == ENDED)
		return mvm_fail(err, -EINVAL, "migration stream: it ended with "
				"%s", mig_section_name(rx->hdr.type));
	while (*ev == MIG_RX_NONE && !ret && used < len)
		ret = step(rx, data, len, &used, ev, err);
	if (ret) {
		rx->phase = FAILED;
		*ev = MIG_RX_NONE;
		rx->payload = NULL;
		rx->payload_len = 0;
		return mvm_wrap(err, ret, "migration stream at byte %" PRIu64
				": ", rx->at);
	}
	return (ssize_t)used;
}
