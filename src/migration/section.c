/*
 * Sections: the header written and read, the payload's CRC checked, the
 * types' names and limits. A header is checked whole before anything of
 * its payload is read or any room is made for it, so a hostile length
 * never reaches an allocation.
 */
#include <errno.h>
#include <inttypes.h>

#include "mvm/err.h"
#include "mig_priv.h"

static const struct {
	const char *name;
	struct mig_limits len;
} types[] = {
	/* its fixed fields and nr_cpuid; mig_hello_decode checks the rest */
	[MIG_HELLO] = { "HELLO", { 36, MIG_HELLO_MAX } },
	[MIG_ACCEPT] = { "ACCEPT", { 4, 4 } },
	[MIG_PAGES] = { "PAGES", { MIG_PAGES_HDR,
				   MIG_PAGES_HDR +
					   MIG_PAGES_MAX * MIG_PAGE } },
	[MIG_PASS_END] = { "PASS_END", { 4, 4 } },
	[MIG_STATE] = { "STATE", { MIG_STATE_HDR, MIG_STATE_MAX } },
	[MIG_READY] = { "READY", { 0, 0 } },
	[MIG_COMMIT] = { "COMMIT", { 0, 0 } },
	[MIG_DONE] = { "DONE", { 8, 8 } },
	[MIG_ABORT] = { "ABORT", { 1, MIG_REASON_MAX } },
};

bool mig_type_limits(unsigned type, struct mig_limits *l)
{
	if (type < MIG_HELLO || type > MIG_ABORT)
		return false;
	*l = types[type].len;
	return true;
}

const char *mig_section_name(unsigned type)
{
	return type >= MIG_HELLO && type <= MIG_ABORT ? types[type].name :
							"unknown";
}

void mig_hdr_put(void *out, enum mig_section type, uint64_t len,
		 uint32_t crc)
{
	uint8_t *p = out;

	mig_put32(p, MIG_MAGIC);
	p[4] = (uint8_t)type;
	p[5] = (uint8_t)((unsigned)type >> 8);
	p[6] = p[7] = 0; /* flags */
	mig_put64(p + 8, len);
	mig_put32(p + 16, crc);
	mig_put32(p + 20, mig_crc32c(0, p, 20));
}

size_t mig_section_put(void *out, size_t cap, enum mig_section type,
		       const void *payload, size_t len)
{
	uint8_t *p = out;
	struct mig_limits l;

	if (!mig_type_limits(type, &l) || len < l.min || len > l.max ||
	    cap < MIG_HDR_SIZE || len > cap - MIG_HDR_SIZE)
		return 0;
	if (len && payload != p + MIG_HDR_SIZE)
		memmove(p + MIG_HDR_SIZE, payload, len);
	mig_hdr_put(p, type, len, mig_crc32c(0, p + MIG_HDR_SIZE, len));
	return MIG_HDR_SIZE + len;
}

size_t mig_state_head_put(void *out, uint64_t paused_realtime_ns,
			  const void *state, size_t len)
{
	uint8_t *p = out;
	uint32_t crc;

	if (len > MIG_STATE_MAX - MIG_STATE_HDR)
		return 0;
	mig_put64(p + MIG_HDR_SIZE, paused_realtime_ns);
	crc = mig_crc32c(0, p + MIG_HDR_SIZE, MIG_STATE_HDR);
	crc = mig_crc32c(crc, state, len);
	mig_hdr_put(p, MIG_STATE, MIG_STATE_HDR + len, crc);
	return MIG_HDR_SIZE + MIG_STATE_HDR;
}

int mig_hdr_decode(const void *in, struct mig_hdr *h, struct mvm_err *err)
{
	const uint8_t *p = in;
	struct mig_limits l;
	uint32_t hcrc;

	h->magic = mig_get32(p);
	h->type = (uint16_t)(p[4] | p[5] << 8);
	h->flags = (uint16_t)(p[6] | p[7] << 8);
	h->len = mig_get64(p + 8);
	h->crc = mig_get32(p + 16);
	h->hcrc = mig_get32(p + 20);
	if (h->magic != MIG_MAGIC)
		return mvm_fail(err, -EINVAL, "section header: magic 0x%08x, "
				"not MVMS (0x%08x)", h->magic, MIG_MAGIC);
	hcrc = mig_crc32c(0, p, 20);
	if (h->hcrc != hcrc)
		return mvm_fail(err, -EINVAL, "section header: its CRC says "
				"0x%08x, its bytes make 0x%08x", h->hcrc, hcrc);
	if (h->flags)
		return mvm_fail(err, -EINVAL, "section %s: flags 0x%04x, none "
				"are defined", mig_section_name(h->type),
				h->flags);
	if (!mig_type_limits(h->type, &l))
		return mvm_fail(err, -EINVAL, "section header: unknown type "
				"%u", h->type);
	if (h->len > l.max || h->len < l.min)
		return mvm_fail(err, -EINVAL, "section %s: length %" PRIu64
				" bytes, %s %" PRIu64,
				mig_section_name(h->type), h->len,
				l.min == l.max ? "it is always" :
				h->len > l.max ? "over its maximum" :
						 "under its minimum",
				h->len > l.max ? l.max : l.min);
	return 0;
}

int mig_payload_check(const struct mig_hdr *h, const void *payload,
		      struct mvm_err *err)
{
	uint32_t crc = mig_crc32c(0, payload, h->len);

	if (crc != h->crc)
		return mvm_fail(err, -EINVAL, "section %s: payload CRC "
				"0x%08x, the header says 0x%08x",
				mig_section_name(h->type), crc, h->crc);
	return 0;
}
