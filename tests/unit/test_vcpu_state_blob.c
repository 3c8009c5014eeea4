/*
 * The vCPU state blob on synthetic states: what is encoded decodes to the
 * same state, and every malformed blob (truncated, padded, reordered,
 * duplicated, oversized, from another version) is refused with a reason
 * instead of being read out of bounds.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/vcpu_state.h"

#define HDR VCPU_STATE_HEADER_SIZE

static void fill(void *p, size_t n, unsigned seed)
{
	unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 8));
}

/* A state with every section, an SVM nested state in guest mode. */
static void make_state(struct vcpu_state *st, bool nested, uint32_t xsave)
{
	memset(st, 0, sizeof(*st));
	st->cpuid = calloc(1, sizeof(*st->cpuid) +
				      3 * sizeof(struct kvm_cpuid_entry2));
	st->cpuid->nent = 3;
	fill(st->cpuid->entries, 3 * sizeof(struct kvm_cpuid_entry2), 1);
	fill(&st->sregs, sizeof(st->sregs), 2);
	st->msrs = calloc(1, sizeof(*st->msrs) +
				     4 * sizeof(struct kvm_msr_entry));
	st->msrs->nmsrs = 4;
	for (uint32_t i = 0; i < 4; i++)
		st->msrs->entries[i] = (struct kvm_msr_entry){
			.index = 0xc0000080 + i, .data = 0x1000ull * i + 5 };
	st->msrs->entries[3].index = 0xc0010117; /* VM_HSAVE_PA */
	fill(&st->regs, sizeof(st->regs), 3);
	st->have_fpu = true;
	fill(&st->fpu, sizeof(st->fpu), 4);
	if (xsave) {
		st->xsave = calloc(1, xsave);
		st->xsave_len = xsave;
		fill(st->xsave, xsave, 5);
	}
	st->have_xcrs = true;
	st->xcrs.nr_xcrs = 1;
	st->xcrs.xcrs[0].value = 7;
	fill(&st->lapic, sizeof(st->lapic), 6);
	fill(&st->events, sizeof(st->events), 7);
	st->mp_state.mp_state = KVM_MP_STATE_RUNNABLE;
	st->have_debugregs = true;
	fill(&st->debugregs, sizeof(st->debugregs), 8);
	if (nested) {
		struct kvm_nested_state *ns;
		uint32_t len = 128 + 4096;

		ns = calloc(1, len);
		ns->format = KVM_STATE_NESTED_FORMAT_SVM;
		ns->flags = KVM_STATE_NESTED_GUEST_MODE |
			    KVM_STATE_NESTED_GIF_SET;
		ns->size = len;
		ns->hdr.svm.vmcb_pa = 0x12345000;
		fill((char *)ns + 128, 4096, 9);
		st->nested = ns;
		st->nested_len = len;
	}
}

static void encode(const struct vcpu_state *st, unsigned char **buf,
		   size_t *len)
{
	struct mvm_err err = { .msg = "" };

	cr_assert_eq(vcpu_state_encode(st, (void **)buf, len, &err), 0, "%s",
		     err.msg);
}

static int decode(const void *buf, size_t len, struct mvm_err *err)
{
	struct vcpu_state st;
	int ret = vcpu_state_decode(buf, len, &st, err);

	vcpu_state_free(&st);
	return ret;
}

static void assert_same(const struct vcpu_state *a, const struct vcpu_state *b)
{
	cr_assert_eq(a->cpuid->nent, b->cpuid->nent);
	cr_assert_arr_eq(a->cpuid->entries, b->cpuid->entries,
			 a->cpuid->nent * sizeof(struct kvm_cpuid_entry2));
	cr_assert_arr_eq(&a->sregs, &b->sregs, sizeof(a->sregs));
	cr_assert_eq(a->msrs->nmsrs, b->msrs->nmsrs);
	cr_assert_arr_eq(a->msrs->entries, b->msrs->entries,
			 a->msrs->nmsrs * sizeof(struct kvm_msr_entry));
	cr_assert_arr_eq(&a->regs, &b->regs, sizeof(a->regs));
	cr_assert_eq(a->have_fpu, b->have_fpu);
	cr_assert_arr_eq(&a->fpu, &b->fpu, sizeof(a->fpu));
	cr_assert_eq(a->xsave_len, b->xsave_len);
	if (a->xsave)
		cr_assert_arr_eq(a->xsave, b->xsave, a->xsave_len);
	cr_assert_eq(a->have_xcrs, b->have_xcrs);
	if (a->have_xcrs)
		cr_assert_arr_eq(&a->xcrs, &b->xcrs, sizeof(a->xcrs));
	cr_assert_arr_eq(&a->lapic, &b->lapic, sizeof(a->lapic));
	cr_assert_arr_eq(&a->events, &b->events, sizeof(a->events));
	cr_assert_eq(a->mp_state.mp_state, b->mp_state.mp_state);
	cr_assert_eq(a->have_debugregs, b->have_debugregs);
	if (a->have_debugregs)
		cr_assert_arr_eq(&a->debugregs, &b->debugregs,
				 sizeof(a->debugregs));
	cr_assert_eq(a->nested_len, b->nested_len);
	if (a->nested)
		cr_assert_arr_eq(a->nested, b->nested, a->nested_len);
}

Test(vcpu_state_blob, round_trip_with_nested_state)
{
	struct vcpu_state a, b;
	struct mvm_err err = { .msg = "" };
	unsigned char *buf;
	size_t len;

	make_state(&a, true, 4096);
	encode(&a, &buf, &len);
	cr_assert_eq(len % 8, 0);
	cr_assert_eq(memcmp(buf, "MVMVCPU", 8), 0);
	cr_assert_eq(vcpu_state_decode(buf, len, &b, &err), 0, "%s", err.msg);
	assert_same(&a, &b);
	vcpu_state_free(&a);
	vcpu_state_free(&b);
	free(buf);
}

Test(vcpu_state_blob, round_trip_minimal_and_big_xsave)
{
	struct vcpu_state a, b;
	struct mvm_err err = { .msg = "" };
	unsigned char *buf;
	size_t len;

	/* No nested state, no XSAVE (FPU only), no XCRs or debug regs. */
	make_state(&a, false, 0);
	a.have_xcrs = a.have_debugregs = false;
	encode(&a, &buf, &len);
	cr_assert_eq(vcpu_state_decode(buf, len, &b, &err), 0, "%s", err.msg);
	assert_same(&a, &b);
	cr_assert_null(b.nested);
	cr_assert_null(b.xsave);
	vcpu_state_free(&a);
	vcpu_state_free(&b);
	free(buf);

	/* An AMX-sized XSAVE area (KVM_CAP_XSAVE2 > 4096). */
	make_state(&a, true, 11008);
	encode(&a, &buf, &len);
	cr_assert_eq(vcpu_state_decode(buf, len, &b, &err), 0, "%s", err.msg);
	assert_same(&a, &b);
	vcpu_state_free(&a);
	vcpu_state_free(&b);
	free(buf);
}

Test(vcpu_state_blob, every_truncation_is_refused)
{
	struct vcpu_state a;
	struct mvm_err err;
	unsigned char *buf, *copy;
	size_t len;

	make_state(&a, true, 4096);
	encode(&a, &buf, &len);
	for (size_t n = 0; n < len; n++) {
		/* A fresh allocation of n bytes, so ASan sees any overrun. */
		copy = malloc(n ? n : 1);
		memcpy(copy, buf, n);
		err.msg[0] = '\0';
		cr_assert_lt(decode(copy, n, &err), 0, "%zu bytes", n);
		cr_assert_str_not_empty(err.msg);
		free(copy);
	}
	vcpu_state_free(&a);
	free(buf);
}

Test(vcpu_state_blob, header_checks)
{
	struct vcpu_state a;
	struct mvm_err err;
	unsigned char *buf;
	size_t len;
	uint32_t v;

	make_state(&a, false, 4096);
	encode(&a, &buf, &len);

	buf[0] ^= 1;
	cr_assert_eq(decode(buf, len, &err), -EINVAL);
	cr_assert_not_null(strstr(err.msg, "bad magic"), "%s", err.msg);
	buf[0] ^= 1;

	v = 2;
	memcpy(buf + 8, &v, 4);
	cr_assert_eq(decode(buf, len, &err), -EPROTONOSUPPORT);
	cr_assert_not_null(strstr(err.msg, "version 2"), "%s", err.msg);
	v = VCPU_STATE_VERSION;
	memcpy(buf + 8, &v, 4);

	v = (uint32_t)len + 8; /* total size disagrees with the buffer */
	memcpy(buf + 16, &v, 4);
	cr_assert_eq(decode(buf, len, &err), -EINVAL);
	v = (uint32_t)len;
	memcpy(buf + 16, &v, 4);

	v = 1000; /* section count */
	memcpy(buf + 20, &v, 4);
	cr_assert_eq(decode(buf, len, &err), -EINVAL);
	v = 1; /* fewer sections than present: trailing bytes */
	memcpy(buf + 20, &v, 4);
	cr_assert_eq(decode(buf, len, &err), -EINVAL);

	cr_assert_eq(decode(NULL, 0, &err), -EINVAL);
	vcpu_state_free(&a);
	free(buf);
}

/* Offset of the first section with this tag, or 0. */
static size_t find(const unsigned char *buf, size_t len, uint32_t tag)
{
	size_t off = HDR;

	while (off + 8 <= len) {
		uint32_t t, l;

		memcpy(&t, buf + off, 4);
		memcpy(&l, buf + off + 4, 4);
		if (t == tag)
			return off;
		off += 8 + ((l + 7u) & ~7u);
	}
	return 0;
}

Test(vcpu_state_blob, section_checks)
{
	struct vcpu_state a;
	struct mvm_err err;
	unsigned char *buf;
	size_t len, off;
	uint32_t v, saved;

	make_state(&a, true, 4096);
	encode(&a, &buf, &len);

	/* Unknown tag: a section mvm could not restore. */
	off = find(buf, len, VCPU_STATE_DEBUGREGS);
	cr_assert_neq(off, 0);
	v = 99;
	memcpy(buf + off, &v, 4);
	cr_assert_eq(decode(buf, len, &err), -EINVAL);
	cr_assert_not_null(strstr(err.msg, "unknown section tag 99"), "%s",
			   err.msg);
	/* The same section twice. */
	v = VCPU_STATE_REGS;
	memcpy(buf + off, &v, 4);
	cr_assert_eq(decode(buf, len, &err), -EINVAL);
	v = VCPU_STATE_DEBUGREGS;
	memcpy(buf + off, &v, 4);

	/* A fixed-size section of the wrong size. */
	off = find(buf, len, VCPU_STATE_SREGS);
	memcpy(&saved, buf + off + 4, 4);
	v = saved - 8;
	memcpy(buf + off + 4, &v, 4);
	cr_assert_eq(decode(buf, len, &err), -EINVAL);
	v = 0xfffffff0; /* runs far past the end */
	memcpy(buf + off + 4, &v, 4);
	cr_assert_eq(decode(buf, len, &err), -EINVAL);
	memcpy(buf + off + 4, &saved, 4);

	/* CPUID count larger than KVM's maximum, and one that lies. */
	off = find(buf, len, VCPU_STATE_CPUID);
	v = VCPU_STATE_MAX_CPUID + 1;
	memcpy(buf + off + 8, &v, 4);
	cr_assert_eq(decode(buf, len, &err), -EINVAL);
	v = 4;
	memcpy(buf + off + 8, &v, 4);
	cr_assert_eq(decode(buf, len, &err), -EINVAL);
	v = 3;
	memcpy(buf + off + 8, &v, 4);

	/* Duplicate MSR. */
	off = find(buf, len, VCPU_STATE_MSRS);
	memcpy(buf + off + 16 + 16, buf + off + 16, 4);
	cr_assert_eq(decode(buf, len, &err), -EINVAL);
	cr_assert_not_null(strstr(err.msg, "twice"), "%s", err.msg);
	v = 0xc0000081;
	memcpy(buf + off + 16 + 16, &v, 4);

	/* Nested state whose own size field disagrees with the section. */
	off = find(buf, len, VCPU_STATE_NESTED);
	memcpy(&saved, buf + off + 8 + 4, 4); /* kvm_nested_state.size */
	v = saved - 4096;
	memcpy(buf + off + 8 + 4, &v, 4);
	cr_assert_eq(decode(buf, len, &err), -EINVAL);
	/* Nested state KVM would never write (run pending, no guest mode). */
	memcpy(buf + off + 8 + 4, &saved, 4);
	{
		uint16_t flags = KVM_STATE_NESTED_RUN_PENDING;

		memcpy(buf + off + 8, &flags, 2);
		cr_assert_eq(decode(buf, len, &err), -EINVAL);
		cr_assert_not_null(strstr(err.msg, "nested state"), "%s",
				   err.msg);
	}
	vcpu_state_free(&a);
	free(buf);
}

Test(vcpu_state_blob, required_sections_and_padding)
{
	struct vcpu_state a;
	struct mvm_err err;
	unsigned char *buf;
	size_t len, off;
	uint32_t v;

	/* Neither FPU nor XSAVE: nothing to restore the FPU from. */
	make_state(&a, false, 0);
	a.have_fpu = false;
	encode(&a, &buf, &len);
	cr_assert_eq(decode(buf, len, &err), -EINVAL);
	cr_assert_not_null(strstr(err.msg, "neither an fpu nor an xsave"),
			   "%s", err.msg);
	free(buf);
	vcpu_state_free(&a);

	/* Padding must be zero: MP_STATE is 4 bytes plus 4 of padding. */
	make_state(&a, false, 4096);
	encode(&a, &buf, &len);
	off = find(buf, len, VCPU_STATE_MP_STATE);
	buf[off + 8 + 5] = 1;
	cr_assert_eq(decode(buf, len, &err), -EINVAL);
	cr_assert_not_null(strstr(err.msg, "padding"), "%s", err.msg);
	buf[off + 8 + 5] = 0;
	/* An mp_state that is no KVM state. */
	v = 1000;
	memcpy(buf + off + 8, &v, 4);
	cr_assert_eq(decode(buf, len, &err), -EINVAL);
	free(buf);
	vcpu_state_free(&a);

	/* An XSAVE area of odd size. */
	make_state(&a, false, 4096 + 32);
	encode(&a, &buf, &len);
	cr_assert_eq(decode(buf, len, &err), -EINVAL);
	cr_assert_not_null(strstr(err.msg, "XSAVE"), "%s", err.msg);
	free(buf);
	vcpu_state_free(&a);
}

Test(vcpu_state_blob, missing_required_section)
{
	struct vcpu_state a;
	struct mvm_err err;
	unsigned char *buf;
	size_t len, off, next;
	uint32_t l, n;

	make_state(&a, false, 4096);
	encode(&a, &buf, &len);
	/* Cut the LAPIC section out and fix up the header. */
	off = find(buf, len, VCPU_STATE_LAPIC);
	memcpy(&l, buf + off + 4, 4);
	next = off + 8 + ((l + 7u) & ~7u);
	memmove(buf + off, buf + next, len - next);
	len -= next - off;
	n = (uint32_t)len;
	memcpy(buf + 16, &n, 4);
	memcpy(&n, buf + 20, 4);
	n--;
	memcpy(buf + 20, &n, 4);
	cr_assert_eq(decode(buf, len, &err), -EINVAL);
	cr_assert_not_null(strstr(err.msg, "no lapic section"), "%s", err.msg);
	free(buf);
	vcpu_state_free(&a);
}

Test(vcpu_state_blob, random_garbage_never_crashes)
{
	struct vcpu_state a;
	struct mvm_err err;
	unsigned char *buf;
	size_t len;

	make_state(&a, true, 4096);
	encode(&a, &buf, &len);
	srand(1234);
	/* Flip bytes past the header: any outcome but a crash is fine. */
	for (int i = 0; i < 20000; i++) {
		size_t at = HDR + (size_t)rand() % (len - HDR);
		unsigned char old = buf[at];

		buf[at] = (unsigned char)rand();
		decode(buf, len, &err);
		buf[at] = old;
	}
	cr_assert_eq(decode(buf, len, &err), 0, "%s", err.msg);
	vcpu_state_free(&a);
	free(buf);
}
