/*
 * The vCPU state blob: encoder and (hostile-input) decoder. Layout in
 * include/mvm/vcpu_state.h. Pure: no KVM, so every malformed blob can be
 * tried in unit tests.
 */
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/nested.h"
#include "mvm/vcpu_state.h"

/* The payloads are these structs verbatim: a size change is a new format. */
_Static_assert(sizeof(struct kvm_sregs) == 312, "kvm_sregs");
_Static_assert(sizeof(struct kvm_regs) == 144, "kvm_regs");
_Static_assert(sizeof(struct kvm_fpu) == 416, "kvm_fpu");
_Static_assert(sizeof(struct kvm_xcrs) == 392, "kvm_xcrs");
_Static_assert(sizeof(struct kvm_lapic_state) == 1024, "kvm_lapic_state");
_Static_assert(sizeof(struct kvm_vcpu_events) == 64, "kvm_vcpu_events");
_Static_assert(sizeof(struct kvm_debugregs) == 128, "kvm_debugregs");
_Static_assert(sizeof(struct kvm_cpuid_entry2) == 40, "kvm_cpuid_entry2");
_Static_assert(sizeof(struct kvm_msr_entry) == 16, "kvm_msr_entry");
_Static_assert(sizeof(struct kvm_xsave) == 4096, "kvm_xsave");
_Static_assert(sizeof(struct kvm_nested_state) == 128, "kvm_nested_state");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "x86-64 only");

#define ALIGN8(x) (((x) + 7u) & ~(size_t)7u)
#define SECTION_HDR 8u
#define MAX_SECTIONS VCPU_STATE_TAG_MAX

static const char *tag_name(uint32_t tag)
{
	static const char *const names[] = {
		[VCPU_STATE_CPUID] = "cpuid", [VCPU_STATE_SREGS] = "sregs",
		[VCPU_STATE_MSRS] = "msrs", [VCPU_STATE_REGS] = "regs",
		[VCPU_STATE_FPU] = "fpu", [VCPU_STATE_XSAVE] = "xsave",
		[VCPU_STATE_XCRS] = "xcrs", [VCPU_STATE_LAPIC] = "lapic",
		[VCPU_STATE_EVENTS] = "events",
		[VCPU_STATE_MP_STATE] = "mp_state",
		[VCPU_STATE_DEBUGREGS] = "debugregs",
		[VCPU_STATE_NESTED] = "nested",
	};

	return tag >= 1 && tag <= VCPU_STATE_TAG_MAX ? names[tag] : "unknown";
}

void vcpu_state_free(struct vcpu_state *st)
{
	free(st->cpuid);
	free(st->msrs);
	free(st->xsave);
	free(st->nested);
	memset(st, 0, sizeof(*st));
}

/* ---- encoding ---------------------------------------------------------- */

struct section {
	uint32_t tag;
	const void *a; /* payload: a (alen bytes) then b (blen bytes) */
	size_t alen;
	const void *b;
	size_t blen;
};

static size_t collect(const struct vcpu_state *st, struct section *s,
		      uint32_t *counts)
{
	size_t n = 0;

	/* CPUID and MSRS lead with their count, padded to 8 bytes. */
	counts[0] = st->cpuid ? st->cpuid->nent : 0;
	counts[1] = 0;
	counts[2] = st->msrs ? st->msrs->nmsrs : 0;
	counts[3] = 0;
	s[n++] = (struct section){ VCPU_STATE_CPUID, &counts[0], 8,
				   st->cpuid ? st->cpuid->entries : NULL,
				   counts[0] * sizeof(struct kvm_cpuid_entry2) };
	s[n++] = (struct section){ VCPU_STATE_SREGS, &st->sregs,
				   sizeof(st->sregs), NULL, 0 };
	s[n++] = (struct section){ VCPU_STATE_MSRS, &counts[2], 8,
				   st->msrs ? st->msrs->entries : NULL,
				   counts[2] * sizeof(struct kvm_msr_entry) };
	s[n++] = (struct section){ VCPU_STATE_REGS, &st->regs,
				   sizeof(st->regs), NULL, 0 };
	if (st->have_fpu)
		s[n++] = (struct section){ VCPU_STATE_FPU, &st->fpu,
					   sizeof(st->fpu), NULL, 0 };
	if (st->xsave)
		s[n++] = (struct section){ VCPU_STATE_XSAVE, st->xsave,
					   st->xsave_len, NULL, 0 };
	if (st->have_xcrs)
		s[n++] = (struct section){ VCPU_STATE_XCRS, &st->xcrs,
					   sizeof(st->xcrs), NULL, 0 };
	s[n++] = (struct section){ VCPU_STATE_LAPIC, &st->lapic,
				   sizeof(st->lapic), NULL, 0 };
	s[n++] = (struct section){ VCPU_STATE_EVENTS, &st->events,
				   sizeof(st->events), NULL, 0 };
	s[n++] = (struct section){ VCPU_STATE_MP_STATE, &st->mp_state,
				   sizeof(st->mp_state), NULL, 0 };
	if (st->have_debugregs)
		s[n++] = (struct section){ VCPU_STATE_DEBUGREGS,
					   &st->debugregs,
					   sizeof(st->debugregs), NULL, 0 };
	if (st->nested)
		s[n++] = (struct section){ VCPU_STATE_NESTED, st->nested,
					   st->nested_len, NULL, 0 };
	return n;
}

static void put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

int vcpu_state_encode(const struct vcpu_state *st, void **buf, size_t *len,
		      struct mvm_err *err)
{
	struct section s[MAX_SECTIONS];
	uint32_t counts[4];
	size_t n = collect(st, s, counts), total = VCPU_STATE_HEADER_SIZE;
	unsigned char *out, *p;

	*buf = NULL;
	*len = 0;
	if (!st->cpuid || !st->msrs)
		return mvm_fail(err, -EINVAL, "vcpu state: nothing saved");
	for (size_t i = 0; i < n; i++)
		total += SECTION_HDR + ALIGN8(s[i].alen + s[i].blen);
	if (total > UINT32_MAX)
		return mvm_fail(err, -E2BIG, "vcpu state: too large");
	out = calloc(1, total);
	if (!out)
		return mvm_fail(err, -ENOMEM, "vcpu state: out of memory");
	memcpy(out, VCPU_STATE_MAGIC, 8);
	put32(out + 8, VCPU_STATE_VERSION);
	put32(out + 12, VCPU_STATE_HEADER_SIZE);
	put32(out + 16, (uint32_t)total);
	put32(out + 20, (uint32_t)n);
	p = out + VCPU_STATE_HEADER_SIZE;
	for (size_t i = 0; i < n; i++) {
		size_t plen = s[i].alen + s[i].blen;

		put32(p, s[i].tag);
		put32(p + 4, (uint32_t)plen);
		memcpy(p + SECTION_HDR, s[i].a, s[i].alen);
		if (s[i].blen)
			memcpy(p + SECTION_HDR + s[i].alen, s[i].b, s[i].blen);
		p += SECTION_HDR + ALIGN8(plen);
	}
	*buf = out;
	*len = total;
	return 0;
}

/* ---- decoding ---------------------------------------------------------- */

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static int want_len(uint32_t tag, uint32_t got, size_t want,
		    struct mvm_err *err)
{
	if (got != want)
		return mvm_fail(err, -EINVAL, "vcpu state: %s section is %u "
				"bytes, not %zu", tag_name(tag), got, want);
	return 0;
}

/* A count-led section: u32 n, u32 0, n entries of esize bytes. */
static int counted(uint32_t tag, const unsigned char *p, uint32_t len,
		   size_t esize, uint32_t max, uint32_t *n,
		   struct mvm_err *err)
{
	if (len < 8)
		return mvm_fail(err, -EINVAL, "vcpu state: %s section is "
				"shorter than its count", tag_name(tag));
	*n = get32(p);
	if (get32(p + 4) != 0)
		return mvm_fail(err, -EINVAL, "vcpu state: %s padding is not "
				"zero", tag_name(tag));
	if (*n > max)
		return mvm_fail(err, -EINVAL, "vcpu state: %u %s entries, more "
				"than %u", *n, tag_name(tag), max);
	return want_len(tag, len, 8 + (size_t)*n * esize, err);
}

static int take_cpuid(struct vcpu_state *st, const unsigned char *p,
		      uint32_t len, struct mvm_err *err)
{
	uint32_t n;
	int ret = counted(VCPU_STATE_CPUID, p, len,
			  sizeof(struct kvm_cpuid_entry2),
			  VCPU_STATE_MAX_CPUID, &n, err);

	if (ret)
		return ret;
	st->cpuid = calloc(1, sizeof(*st->cpuid) +
				      n * sizeof(struct kvm_cpuid_entry2));
	if (!st->cpuid)
		return mvm_fail(err, -ENOMEM, "vcpu state: out of memory");
	st->cpuid->nent = n;
	memcpy(st->cpuid->entries, p + 8, n * sizeof(struct kvm_cpuid_entry2));
	return 0;
}

static int take_msrs(struct vcpu_state *st, const unsigned char *p,
		     uint32_t len, struct mvm_err *err)
{
	uint32_t n;
	int ret = counted(VCPU_STATE_MSRS, p, len,
			  sizeof(struct kvm_msr_entry), VCPU_STATE_MAX_MSRS,
			  &n, err);

	if (ret)
		return ret;
	st->msrs = calloc(1, sizeof(*st->msrs) +
				     n * sizeof(struct kvm_msr_entry));
	if (!st->msrs)
		return mvm_fail(err, -ENOMEM, "vcpu state: out of memory");
	st->msrs->nmsrs = n;
	memcpy(st->msrs->entries, p + 8, n * sizeof(struct kvm_msr_entry));
	/* One index twice would make the restore order decide: refuse. */
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = i + 1; j < n; j++)
			if (st->msrs->entries[i].index ==
			    st->msrs->entries[j].index)
				return mvm_fail(err, -EINVAL, "vcpu state: MSR "
						"0x%x appears twice",
						st->msrs->entries[i].index);
	return 0;
}

static int take_copy(uint32_t tag, void **dst, uint32_t *dst_len,
		     const unsigned char *p, uint32_t len,
		     struct mvm_err *err)
{
	*dst = malloc(len);
	if (!*dst)
		return mvm_fail(err, -ENOMEM, "vcpu state: out of memory");
	memcpy(*dst, p, len);
	*dst_len = len;
	(void)tag;
	return 0;
}

static int take_section(struct vcpu_state *st, uint32_t tag,
			const unsigned char *p, uint32_t len,
			struct mvm_err *err)
{
	int ret;

	switch (tag) {
	case VCPU_STATE_CPUID:
		return take_cpuid(st, p, len, err);
	case VCPU_STATE_MSRS:
		return take_msrs(st, p, len, err);
	case VCPU_STATE_SREGS:
		ret = want_len(tag, len, sizeof(st->sregs), err);
		if (!ret)
			memcpy(&st->sregs, p, len);
		return ret;
	case VCPU_STATE_REGS:
		ret = want_len(tag, len, sizeof(st->regs), err);
		if (!ret)
			memcpy(&st->regs, p, len);
		return ret;
	case VCPU_STATE_FPU:
		ret = want_len(tag, len, sizeof(st->fpu), err);
		if (!ret) {
			memcpy(&st->fpu, p, len);
			st->have_fpu = true;
		}
		return ret;
	case VCPU_STATE_XSAVE:
		if (len < sizeof(struct kvm_xsave) ||
		    len > VCPU_STATE_MAX_XSAVE || len % 64)
			return mvm_fail(err, -EINVAL, "vcpu state: XSAVE area "
					"of %u bytes (want 4096 to %u, a "
					"multiple of 64)", len,
					VCPU_STATE_MAX_XSAVE);
		return take_copy(tag, &st->xsave, &st->xsave_len, p, len, err);
	case VCPU_STATE_XCRS:
		ret = want_len(tag, len, sizeof(st->xcrs), err);
		if (ret)
			return ret;
		memcpy(&st->xcrs, p, len);
		if (st->xcrs.nr_xcrs > KVM_MAX_XCRS)
			return mvm_fail(err, -EINVAL, "vcpu state: %u XCRs, "
					"more than %d", st->xcrs.nr_xcrs,
					KVM_MAX_XCRS);
		st->have_xcrs = true;
		return 0;
	case VCPU_STATE_LAPIC:
		ret = want_len(tag, len, sizeof(st->lapic), err);
		if (!ret)
			memcpy(&st->lapic, p, len);
		return ret;
	case VCPU_STATE_EVENTS:
		ret = want_len(tag, len, sizeof(st->events), err);
		if (!ret)
			memcpy(&st->events, p, len);
		return ret;
	case VCPU_STATE_MP_STATE:
		ret = want_len(tag, len, sizeof(st->mp_state), err);
		if (ret)
			return ret;
		memcpy(&st->mp_state, p, len);
		/* KVM_MP_STATE_* runs 0..9 today; leave room, refuse junk. */
		if (st->mp_state.mp_state > 64)
			return mvm_fail(err, -EINVAL, "vcpu state: mp_state %u "
					"is not a KVM state",
					st->mp_state.mp_state);
		return 0;
	case VCPU_STATE_DEBUGREGS:
		ret = want_len(tag, len, sizeof(st->debugregs), err);
		if (!ret) {
			memcpy(&st->debugregs, p, len);
			st->have_debugregs = true;
		}
		return ret;
	case VCPU_STATE_NESTED: {
		struct nested_state_facts f;

		if (len > VCPU_STATE_MAX_NESTED)
			return mvm_fail(err, -EINVAL, "vcpu state: nested state "
					"of %u bytes, more than %u", len,
					VCPU_STATE_MAX_NESTED);
		ret = nested_state_parse(p, len, NULL, &f, err);
		if (ret)
			return mvm_wrap(err, ret, "vcpu state: ");
		if (f.size != len)
			return mvm_fail(err, -EINVAL, "vcpu state: nested state "
					"says %u bytes, section has %u", f.size,
					len);
		return take_copy(tag, &st->nested, &st->nested_len, p, len,
				 err);
	}
	default:
		/* A section mvm cannot restore must not be dropped silently. */
		return mvm_fail(err, -EINVAL, "vcpu state: unknown section "
				"tag %u", tag);
	}
}

static int check_header(const unsigned char *p, size_t len, uint32_t *count,
			struct mvm_err *err)
{
	uint32_t version, hsize, total;

	if (!p || len < VCPU_STATE_HEADER_SIZE)
		return mvm_fail(err, -EINVAL, "vcpu state: %zu bytes, shorter "
				"than the header", len);
	if (memcmp(p, VCPU_STATE_MAGIC, 8))
		return mvm_fail(err, -EINVAL, "vcpu state: not a vCPU state "
				"blob (bad magic)");
	version = get32(p + 8);
	hsize = get32(p + 12);
	total = get32(p + 16);
	*count = get32(p + 20);
	if (version != VCPU_STATE_VERSION)
		return mvm_fail(err, -EPROTONOSUPPORT, "vcpu state: version "
				"%u, mvm reads version %u", version,
				VCPU_STATE_VERSION);
	if (hsize != VCPU_STATE_HEADER_SIZE)
		return mvm_fail(err, -EINVAL, "vcpu state: header size %u, "
				"not %u", hsize, VCPU_STATE_HEADER_SIZE);
	if (total != len)
		return mvm_fail(err, -EINVAL, "vcpu state: header says %u "
				"bytes, blob has %zu", total, len);
	if (*count > MAX_SECTIONS)
		return mvm_fail(err, -EINVAL, "vcpu state: %u sections, more "
				"than %d", *count, MAX_SECTIONS);
	return 0;
}

static int check_complete(const struct vcpu_state *st, unsigned seen,
			  struct mvm_err *err)
{
	static const uint32_t required[] = {
		VCPU_STATE_CPUID, VCPU_STATE_SREGS, VCPU_STATE_MSRS,
		VCPU_STATE_REGS, VCPU_STATE_LAPIC, VCPU_STATE_EVENTS,
		VCPU_STATE_MP_STATE,
	};

	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!(seen & (1u << required[i])))
			return mvm_fail(err, -EINVAL, "vcpu state: no %s "
					"section", tag_name(required[i]));
	if (!st->have_fpu && !st->xsave)
		return mvm_fail(err, -EINVAL, "vcpu state: neither an fpu nor "
				"an xsave section");
	return 0;
}

int vcpu_state_decode(const void *buf, size_t len, struct vcpu_state *st,
		      struct mvm_err *err)
{
	const unsigned char *p = buf;
	size_t off = VCPU_STATE_HEADER_SIZE;
	unsigned seen = 0;
	uint32_t count = 0;
	int ret;

	memset(st, 0, sizeof(*st));
	ret = check_header(p, len, &count, err);
	if (ret)
		return ret;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t tag, plen;

		if (len - off < SECTION_HDR)
			return mvm_fail(err, -EINVAL, "vcpu state: section %u "
					"header runs past the end", i);
		tag = get32(p + off);
		plen = get32(p + off + 4);
		if (ALIGN8((size_t)plen) > len - off - SECTION_HDR)
			return mvm_fail(err, -EINVAL, "vcpu state: %s section "
					"of %u bytes runs past the end",
					tag_name(tag), plen);
		if (tag >= 1 && tag <= VCPU_STATE_TAG_MAX &&
		    (seen & (1u << tag)))
			return mvm_fail(err, -EINVAL, "vcpu state: %s section "
					"appears twice", tag_name(tag));
		ret = take_section(st, tag, p + off + SECTION_HDR, plen, err);
		if (ret)
			return ret;
		seen |= 1u << tag;
		for (size_t k = plen; k < ALIGN8((size_t)plen); k++)
			if (p[off + SECTION_HDR + k])
				return mvm_fail(err, -EINVAL, "vcpu state: %s "
						"padding is not zero",
						tag_name(tag));
		off += SECTION_HDR + ALIGN8((size_t)plen);
	}
	if (off != len)
		return mvm_fail(err, -EINVAL, "vcpu state: %zu bytes after the "
				"last section", len - off);
	return check_complete(st, seen, err);
}
