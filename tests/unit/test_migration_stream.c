/*
 * The migration stream's pieces (include/mvm/migration.h): CRC32C, the
 * section header written and checked, HELLO encoded and decoded, each
 * hostile variant refused with a message naming what is wrong.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/migration.h"

#include "mig_fixture.h"

static uint64_t rand_state = 0x9e3779b97f4a7c15ull;

/* xorshift64: the same "random" bytes on every run. */
static uint8_t rnd(void)
{
	rand_state ^= rand_state << 13;
	rand_state ^= rand_state >> 7;
	rand_state ^= rand_state << 17;
	return (uint8_t)rand_state;
}

Test(mig_crc, known_vectors)
{
	uint8_t zeros[32] = { 0 }, ones[32];
	uint8_t *big = calloc(1, 8192);

	memset(ones, 0xff, sizeof(ones));
	cr_assert_eq(mig_crc32c(0, "123456789", 9), 0xE3069283u);
	cr_assert_eq(mig_crc32c_sw(0, "123456789", 9), 0xE3069283u);
	/* RFC 3720 (iSCSI), B.4: 32 bytes of zeros, of ones. */
	cr_assert_eq(mig_crc32c(0, zeros, 32), 0x8A9136AAu);
	cr_assert_eq(mig_crc32c(0, ones, 32), 0x62A8AB43u);
	cr_assert_eq(mig_crc32c(0, "", 0), 0);
	/* Continued: the CRC of a then b. */
	cr_assert_eq(mig_crc32c(mig_crc32c(0, "1234", 4), "56789", 5),
		     0xE3069283u);
	/* Long enough for the three-lane path: "123456789" at its end. */
	memcpy(big + 8192 - 9, "123456789", 9);
	cr_assert_eq(mig_crc32c(0, big, 8192), mig_crc32c_sw(0, big, 8192));
	cr_assert_eq(mig_crc32c(mig_crc32c(0, big, 8192 - 9),
				big + 8192 - 9, 9),
		     mig_crc32c_sw(0, big, 8192));
	free(big);
}

Test(mig_crc, hw_and_table_agree_on_random_data)
{
	size_t n = 1 << 16;
	uint8_t *b = malloc(n + 8);

	cr_assert_not_null(b);
	for (size_t i = 0; i < n + 8; i++)
		b[i] = rnd();
	if (!mig_crc32c_have_hw()) {
		fprintf(stderr, "[NOTE] migration_stream: this CPU has no "
			"SSE 4.2: the crc32 instruction path NOT RUN, only "
			"the table's\n");
		free(b);
		return;
	}
	/* Every alignment and every short length, and long runs. */
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len < 80; len++)
			cr_assert_eq(mig_crc32c_hw(7, b + off, len),
				     mig_crc32c_sw(7, b + off, len),
				     "off %zu len %zu", off, len);
	/* Around the three-lane blocks (3 KiB) of the instruction's path. */
	for (size_t len = 3 * 1024 - 9; len < 3 * 1024 + 9; len++)
		cr_assert_eq(mig_crc32c_hw(0, b + 5, len),
			     mig_crc32c_sw(0, b + 5, len), "len %zu", len);
	cr_assert_eq(mig_crc32c_hw(9, b + 1, 6 * 1024 + 16),
		     mig_crc32c_sw(9, b + 1, 6 * 1024 + 16));
	cr_assert_eq(mig_crc32c_hw(0, b + 3, n), mig_crc32c_sw(0, b + 3, n));
	cr_assert_eq(mig_crc32c(0, b, n), mig_crc32c_sw(0, b, n));
	free(b);
}

Test(mig_section, names)
{
	cr_assert_str_eq(mig_section_name(MIG_HELLO), "HELLO");
	cr_assert_str_eq(mig_section_name(MIG_PASS_END), "PASS_END");
	cr_assert_str_eq(mig_section_name(MIG_ABORT), "ABORT");
	cr_assert_str_eq(mig_section_name(0), "unknown");
	cr_assert_str_eq(mig_section_name(10), "unknown");
}

Test(mig_section, header_round_trip_and_wire_layout)
{
	uint8_t b[64];
	struct mig_hdr h;
	struct mvm_err err = { .msg = "" };
	uint32_t pass = 0x01020304;

	cr_assert_eq(mig_section_put(b, sizeof(b), MIG_PASS_END, &pass, 4),
		     MIG_HDR_SIZE + 4);
	/* Little-endian, "MVMS" in memory order. */
	cr_assert_eq(memcmp(b, "MVMS", 4), 0);
	cr_assert_eq(b[4], MIG_PASS_END);
	cr_assert_eq(b[5] | b[6] | b[7], 0);
	cr_assert_eq(b[8], 4);
	cr_assert_eq(b[24], 4);
	cr_assert_eq(mig_hdr_decode(b, &h, &err), 0, "%s", err.msg);
	cr_assert_eq(h.magic, MIG_MAGIC);
	cr_assert_eq(h.type, MIG_PASS_END);
	cr_assert_eq(h.flags, 0);
	cr_assert_eq(h.len, 4);
	cr_assert_eq(h.crc, mig_crc32c(0, &pass, 4));
	cr_assert_eq(h.hcrc, mig_crc32c(0, b, 20));
	cr_assert_eq(mig_payload_check(&h, b + MIG_HDR_SIZE, &err), 0);
	b[MIG_HDR_SIZE + 2] ^= 0x40;
	cr_assert_eq(mig_payload_check(&h, b + MIG_HDR_SIZE, &err), -EINVAL);
	cr_assert(strstr(err.msg, "PASS_END: payload CRC"), "%s", err.msg);
}

Test(mig_section, put_refuses_what_does_not_fit_or_no_receiver_takes)
{
	uint8_t b[MIG_HDR_SIZE + 8] = { 0 }, reason[MIG_REASON_MAX + 1];

	memset(reason, 'x', sizeof(reason));
	cr_assert_eq(mig_section_put(b, MIG_HDR_SIZE + 3, MIG_PASS_END, b,
				     4), 0, "does not fit");
	cr_assert_eq(mig_section_put(b, 10, MIG_READY, NULL, 0), 0);
	cr_assert_eq(mig_section_put(b, sizeof(b), MIG_READY, NULL, 0),
		     MIG_HDR_SIZE);
	cr_assert_eq(mig_section_put(b, sizeof(b), 0, NULL, 0), 0);
	cr_assert_eq(mig_section_put(b, sizeof(b), 10, NULL, 0), 0);
	cr_assert_eq(mig_section_put(b, sizeof(b), MIG_PASS_END, b, 3), 0);
	cr_assert_eq(mig_section_put(b, sizeof(b), MIG_ABORT, b, 0), 0);
	{
		uint8_t *big = malloc(MIG_HDR_SIZE + sizeof(reason));

		cr_assert_eq(mig_section_put(big, MIG_HDR_SIZE +
					     sizeof(reason), MIG_ABORT,
					     reason, sizeof(reason)), 0);
		cr_assert_eq(mig_section_put(big, MIG_HDR_SIZE +
					     sizeof(reason), MIG_ABORT,
					     reason, MIG_REASON_MAX),
			     MIG_HDR_SIZE + MIG_REASON_MAX);
		free(big);
	}
}

Test(mig_section, payload_in_place_is_kept)
{
	uint8_t b[MIG_HDR_SIZE + 8];
	struct mig_hdr h;

	memcpy(b + MIG_HDR_SIZE, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	cr_assert_eq(mig_section_put(b, sizeof(b), MIG_DONE, b + MIG_HDR_SIZE,
				     8), sizeof(b));
	cr_assert_eq(mig_hdr_decode(b, &h, NULL), 0);
	cr_assert_eq(memcmp(b + MIG_HDR_SIZE,
			    "\x01\x02\x03\x04\x05\x06\x07\x08", 8), 0);
	cr_assert_eq(mig_payload_check(&h, b + MIG_HDR_SIZE, NULL), 0);
}

Test(mig_section, state_head_sums_the_state_sent_after_it)
{
	static const char state[] = "a state file";
	uint8_t b[MIG_HDR_SIZE + MIG_STATE_HDR + sizeof(state)];
	struct mig_hdr h;

	cr_assert_eq(mig_state_head_put(b, 0x1122334455667788ull, state,
					sizeof(state)),
		     MIG_HDR_SIZE + MIG_STATE_HDR);
	memcpy(b + MIG_HDR_SIZE + MIG_STATE_HDR, state, sizeof(state));
	cr_assert_eq(mig_hdr_decode(b, &h, NULL), 0);
	cr_assert_eq(h.type, MIG_STATE);
	cr_assert_eq(h.len, MIG_STATE_HDR + sizeof(state));
	cr_assert_eq(mig_payload_check(&h, b + MIG_HDR_SIZE, NULL), 0);
	cr_assert_eq(b[MIG_HDR_SIZE], 0x88);
	cr_assert_eq(mig_state_head_put(b, 0, state, MIG_STATE_MAX), 0);
}

/* A valid header of type with len, its hcrc made right after a change. */
static void make_hdr(uint8_t *b, unsigned type, uint64_t len)
{
	mig_hdr_put(b, (enum mig_section)type, len, 0);
}

static void reseal(uint8_t *b)
{
	uint32_t c = mig_crc32c(0, b, 20);

	memcpy(b + 20, &c, 4);
}

static void assert_hdr_refused(const uint8_t *b, const char *what)
{
	struct mig_hdr h;
	struct mvm_err err = { .msg = "" };

	cr_assert_eq(mig_hdr_decode(b, &h, &err), -EINVAL, "accepted: %s",
		     what);
	cr_assert(strstr(err.msg, what), "message \"%s\" lacks \"%s\"",
		  err.msg, what);
}

Test(mig_section, header_corruptions_are_refused_by_name)
{
	uint8_t b[MIG_HDR_SIZE];

	make_hdr(b, MIG_PAGES, MIG_PAGES_HDR);
	cr_assert_eq(mig_hdr_decode(b, &(struct mig_hdr){ 0 }, NULL), 0);
	b[0] = 'X';
	reseal(b);
	assert_hdr_refused(b, "magic 0x534d5658");

	make_hdr(b, MIG_PAGES, MIG_PAGES_HDR);
	b[21] ^= 1;
	assert_hdr_refused(b, "section header: its CRC");
	make_hdr(b, MIG_PAGES, MIG_PAGES_HDR);
	b[9] ^= 1; /* the length, under the hcrc */
	assert_hdr_refused(b, "its bytes make");

	make_hdr(b, MIG_PAGES, MIG_PAGES_HDR);
	b[7] = 0x80;
	reseal(b);
	assert_hdr_refused(b, "section PAGES: flags 0x8000");

	make_hdr(b, 0, 0);
	assert_hdr_refused(b, "unknown type 0");
	make_hdr(b, 10, 0);
	assert_hdr_refused(b, "unknown type 10");
	make_hdr(b, 0x109, 0); /* ABORT's low byte */
	assert_hdr_refused(b, "unknown type 265");

	make_hdr(b, MIG_PAGES, MIG_PAGES_HDR + MIG_PAGES_MAX * MIG_PAGE + 1);
	assert_hdr_refused(b, "section PAGES: length 1048593 bytes, over its "
			      "maximum 1048592");
	make_hdr(b, MIG_PAGES, MIG_PAGES_HDR - 1);
	assert_hdr_refused(b, "under its minimum 16");
	make_hdr(b, MIG_STATE, (uint64_t)MIG_STATE_MAX + 1);
	assert_hdr_refused(b, "section STATE: length");
	make_hdr(b, MIG_HELLO, (uint64_t)MIG_HELLO_MAX + 1);
	assert_hdr_refused(b, "section HELLO: length");
	make_hdr(b, MIG_HELLO, UINT64_MAX);
	assert_hdr_refused(b, "over its maximum");
	make_hdr(b, MIG_PASS_END, 5);
	assert_hdr_refused(b, "section PASS_END: length 5 bytes, it is always "
			      "4");
	make_hdr(b, MIG_COMMIT, 1);
	assert_hdr_refused(b, "section COMMIT: length 1 bytes, it is always "
			      "0");
	make_hdr(b, MIG_ABORT, 0);
	assert_hdr_refused(b, "section ABORT: length 0 bytes, under its "
			      "minimum 1");
	make_hdr(b, MIG_ABORT, MIG_REASON_MAX + 1);
	assert_hdr_refused(b, "section ABORT: length 1025");
}

/* ---- HELLO -------------------------------------------------------- */

static struct guest_mem two_regions(void)
{
	struct guest_mem gm = { .nr = 0 };

	/* Only the layout matters: no RAM behind it. */
	gm.r[0] = (struct mem_region){ .gpa = 0, .size = 3ull << 30 };
	gm.r[1] = (struct mem_region){ .gpa = 1ull << 32, .size = 1ull << 30 };
	gm.nr = 2;
	return gm;
}

static void encode_fixture(void **buf, size_t *len)
{
	struct guest_mem gm = two_regions();
	struct mig_hello h;
	struct mvm_err err = { .msg = "" };

	cr_assert_eq(fix_mig_hello(&h, &gm, 4), 0);
	cr_assert_eq(mig_hello_encode(&h, buf, len, &err), 0, "%s", err.msg);
	mig_hello_free(&h);
}

Test(mig_hello, round_trip)
{
	struct guest_mem gm = two_regions();
	struct mig_hello h, back;
	struct mvm_err err = { .msg = "" };
	size_t len;
	void *buf;

	cr_assert_eq(fix_mig_hello(&h, &gm, 4), 0);
	h.flags = MIG_HELLO_NESTED | MIG_HELLO_NESTED_STATE;
	h.version = 77; /* encode writes its own */
	cr_assert_eq(mig_hello_encode(&h, &buf, &len, &err), 0, "%s", err.msg);
	cr_assert_eq(len, 32 + 2 * 16 + 4 + h.cpuid->nent * 28);
	cr_assert_eq(mig_hello_decode(buf, len, &back, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(back.version, MIG_VERSION);
	cr_assert_eq(back.flags, h.flags);
	cr_assert_eq(back.vcpus, 4);
	cr_assert_eq(back.mem_mib, 4096);
	cr_assert_eq(back.src_realtime_ns, h.src_realtime_ns);
	cr_assert_eq(back.nr_regions, 2);
	cr_assert_eq(back.regions[1].gpa, 1ull << 32);
	cr_assert_eq(back.regions[1].size, 1ull << 30);
	cr_assert_eq(back.regions[1].offset, 0);
	cr_assert_eq(back.cpuid->nent, h.cpuid->nent);
	cr_assert_eq(memcmp(back.cpuid->entries, h.cpuid->entries,
			    h.cpuid->nent * sizeof(h.cpuid->entries[0])), 0);
	mig_hello_free(&back);
	cr_assert_null(back.cpuid);
	mig_hello_free(&h);
	free(buf);
}

Test(mig_hello, every_truncation_is_refused)
{
	struct mig_hello h;
	struct mvm_err err;
	size_t len;
	uint8_t *buf;

	encode_fixture((void **)&buf, &len);
	for (size_t n = 0; n < len; n++) {
		/* A copy of its own size, so that ASan sees any overread. */
		uint8_t *cut = malloc(n ? n : 1);

		memcpy(cut, buf, n);
		err.msg[0] = 0;
		cr_assert_eq(mig_hello_decode(cut, n, &h, &err), -EINVAL,
			     "%zu of %zu bytes decoded", n, len);
		cr_assert(!strncmp(err.msg, "HELLO: ", 7), "%s", err.msg);
		cr_assert_null(h.cpuid);
		free(cut);
	}
	/* And one byte too many. */
	buf = realloc(buf, len + 1);
	cr_assert_eq(mig_hello_decode(buf, len + 1, &h, &err), -EINVAL);
	cr_assert(strstr(err.msg, "bytes, its counts"), "%s", err.msg);
	free(buf);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* The fixture's HELLO, changed by edit, must be refused naming what. */
static void assert_hello_refused(void (*edit)(uint8_t *b), const char *what)
{
	struct mig_hello h;
	struct mvm_err err = { .msg = "" };
	size_t len;
	uint8_t *buf;

	encode_fixture((void **)&buf, &len);
	edit(buf);
	cr_assert_eq(mig_hello_decode(buf, len, &h, &err), -EINVAL,
		     "accepted: %s", what);
	cr_assert(strstr(err.msg, what), "message \"%s\" lacks \"%s\"",
		  err.msg, what);
	cr_assert_null(h.cpuid);
	free(buf);
}

/* Offsets in the fixture: 2 regions, so the CPUID count is at 64. */
#define AT_NR_CPUID 64
#define AT_ENTRY(i) (68 + 28 * (i))

static void bad_version(uint8_t *b) { put32(b, 2); }
static void bad_flags(uint8_t *b) { put32(b + 4, 8); }
static void no_vcpus(uint8_t *b) { put32(b + 8, 0); }
static void many_vcpus(uint8_t *b) { put32(b + 8, 255); }
static void no_regions(uint8_t *b) { put32(b + 12, 0); }
static void many_regions(uint8_t *b) { put32(b + 12, 9); }
static void huge_region_count(uint8_t *b) { put32(b + 12, 0xffffffff); }
static void one_region_fewer(uint8_t *b) { put32(b + 12, 1); }
static void mem_mib_off(uint8_t *b) { put64(b + 16, 4095); }
static void mem_mib_huge(uint8_t *b) { put64(b + 16, UINT64_MAX); }
static void unaligned_region(uint8_t *b)
{
	put64(b + 32 + 16, (1ull << 32) + 1);
}

static void overlapping(uint8_t *b) { put64(b + 32 + 16, 1ull << 20); }
static void in_the_hole(uint8_t *b) { put64(b + 32 + 16, 0xc0000000ull); }
static void empty_region(uint8_t *b) { put64(b + 32 + 8, 0); }
static void wrapping_region(uint8_t *b)
{
	put64(b + 32 + 24, UINT64_MAX - 4095);
}

static void no_cpuid(uint8_t *b) { put32(b + AT_NR_CPUID, 0); }
static void many_cpuid(uint8_t *b) { put32(b + AT_NR_CPUID, 257); }
static void one_more_cpuid(uint8_t *b) { put32(b + AT_NR_CPUID, 10); }
static void twice_leaf_7_1(uint8_t *b)
{
	/* Entry 2 is 7.0: make it a second 7.1 (entry 3). */
	put32(b + AT_ENTRY(2) + 4, 1);
}

Test(mig_hello, hostile_fields_are_refused_by_name)
{
	assert_hello_refused(bad_version, "HELLO: stream version 2, this mvm "
					  "speaks 1");
	assert_hello_refused(bad_flags, "HELLO: unknown flags 0x8");
	assert_hello_refused(no_vcpus, "HELLO: 0 vCPUs");
	assert_hello_refused(many_vcpus, "HELLO: 255 vCPUs");
	assert_hello_refused(no_regions, "HELLO: 0 memory regions");
	assert_hello_refused(many_regions, "HELLO: 9 memory regions");
	assert_hello_refused(huge_region_count, "HELLO: 4294967295 memory");
	assert_hello_refused(one_region_fewer, "CPUID entries");
	assert_hello_refused(mem_mib_off, "the regions hold 4294967296 bytes, "
					  "mem_mib says 4095 MiB");
	assert_hello_refused(mem_mib_huge, "mem_mib says");
	assert_hello_refused(unaligned_region, "HELLO: memory layout: region "
					       "1: gpa 0x100000001 is not "
					       "4 KiB-aligned");
	assert_hello_refused(overlapping, "region 1: gpa 0x100000 overlaps");
	assert_hello_refused(in_the_hole, "32-bit hole");
	assert_hello_refused(empty_region, "region 0: size 0x0 is empty");
	assert_hello_refused(wrapping_region, "region 1: size");
	assert_hello_refused(no_cpuid, "HELLO: 0 CPUID entries");
	assert_hello_refused(many_cpuid, "HELLO: 257 CPUID entries");
	assert_hello_refused(one_more_cpuid, "its counts (2 regions, 10 CPUID "
					     "entries) make");
	assert_hello_refused(twice_leaf_7_1, "CPUID leaf 0x7.1 comes twice "
					     "(entries 2 and 3)");
}

Test(mig_hello, encode_refuses_what_decode_would)
{
	struct guest_mem gm = two_regions();
	struct mig_hello h;
	struct mvm_err err = { .msg = "" };
	size_t len = 0;
	void *buf = NULL;
	struct kvm_cpuid2 *c;

	cr_assert_eq(fix_mig_hello(&h, &gm, 0), 0);
	cr_assert_eq(mig_hello_encode(&h, &buf, &len, &err), -EINVAL);
	cr_assert(strstr(err.msg, "0 vCPUs"), "%s", err.msg);
	cr_assert_null(buf);
	h.vcpus = 1;
	h.nr_regions = 9;
	cr_assert_eq(mig_hello_encode(&h, &buf, &len, &err), -EINVAL);
	h.nr_regions = 2;
	c = h.cpuid;
	h.cpuid = NULL;
	cr_assert_eq(mig_hello_encode(&h, &buf, &len, &err), -EINVAL);
	cr_assert(strstr(err.msg, "0 CPUID entries"), "%s", err.msg);
	h.cpuid = c;
	c->nent = 300;
	cr_assert_eq(mig_hello_encode(&h, &buf, &len, &err), -EINVAL);
	c->nent = 1;
	cr_assert_eq(mig_hello_encode(&h, &buf, &len, &err), 0, "%s",
		     err.msg);
	free(buf);
	mig_hello_free(&h);
}

/* ---- HELLO with hotpluggable memory -------------------------------- */

/* The two regions of RAM and a 256 MiB hotplug region at 5 GiB. */
static void hotplug_hello(struct mig_hello *h)
{
	struct guest_mem gm = two_regions();

	gm.r[2] = (struct mem_region){ .gpa = 5ull << 30, .size = 256 << 20 };
	gm.nr = 3;
	cr_assert_eq(fix_mig_hello(h, &gm, 2), 0);
	h->mem_mib = 4096; /* RAM alone: the region is hotplug's */
	h->flags |= MIG_HELLO_HOTPLUG;
	h->hotplug = (struct mem_hotplug_config){ .total_mib = 256,
						  .slot_mib = 128,
						  .block_mib = 2 };
}

Test(mig_hello, hotplug_sizes_round_trip)
{
	struct mig_hello h, back;
	struct mvm_err err = { .msg = "" };
	size_t len;
	void *buf;

	hotplug_hello(&h);
	cr_assert_eq(mig_hello_encode(&h, &buf, &len, &err), 0, "%s", err.msg);
	cr_assert_eq(len, 32 + 3 * 16 + 4 + h.cpuid->nent * 28 + 24);
	cr_assert_eq(mig_hello_decode(buf, len, &back, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(back.flags, MIG_HELLO_NESTED | MIG_HELLO_HOTPLUG);
	cr_assert_eq(back.mem_mib, 4096);
	cr_assert_eq(back.nr_regions, 3);
	cr_assert_eq(back.regions[2].gpa, 5ull << 30);
	cr_assert_eq(back.hotplug.total_mib, 256);
	cr_assert_eq(back.hotplug.slot_mib, 128);
	cr_assert_eq(back.hotplug.block_mib, 2);
	cr_assert_eq(back.hotplug.requested_mib, 0);
	mig_hello_free(&back);
	/* Cut before its sizes, or one byte longer: refused. */
	cr_assert_eq(mig_hello_decode(buf, len - 8, &back, &err), -EINVAL);
	cr_assert(strstr(err.msg, "CPUID entries, hotplug sizes) make"), "%s",
		  err.msg);
	mig_hello_free(&h);
	free(buf);
}

/* Without the flag the region's bytes are not accounted for, and so on. */
Test(mig_hello, hotplug_sizes_must_match_the_regions)
{
	struct mig_hello h, back;
	struct mvm_err err = { .msg = "" };
	size_t len = 0;
	void *buf = NULL;

	hotplug_hello(&h);
	h.flags &= ~MIG_HELLO_HOTPLUG;
	cr_assert_eq(mig_hello_encode(&h, &buf, &len, &err), -EINVAL);
	cr_assert(strstr(err.msg, "the regions hold 4563402752 bytes, mem_mib "
			 "says 4096 MiB"), "%s", err.msg);
	h.flags |= MIG_HELLO_HOTPLUG;
	h.hotplug.total_mib = 128;
	cr_assert_eq(mig_hello_encode(&h, &buf, &len, &err), -EINVAL);
	cr_assert(strstr(err.msg, "mem_mib and hotplug_total_mib say 4096 and "
			 "128 MiB"), "%s", err.msg);
	h.hotplug.total_mib = 0;
	cr_assert_eq(mig_hello_encode(&h, &buf, &len, &err), -EINVAL);
	cr_assert(strstr(err.msg, "HELLO: hotpluggable memory of 0 MiB"), "%s",
		  err.msg);
	/* A hostile total that would wrap the sum of MiB. */
	h.hotplug.total_mib = UINT64_MAX - 4095;
	cr_assert_eq(mig_hello_encode(&h, &buf, &len, &err), -EINVAL);
	cr_assert(strstr(err.msg, "the regions hold"), "%s", err.msg);
	cr_assert_null(buf);
	h.hotplug.total_mib = 256;
	cr_assert_eq(mig_hello_encode(&h, &buf, &len, &err), 0, "%s", err.msg);
	/* The last u64 on the wire is block_mib: decode reads it back. */
	put64((uint8_t *)buf + len - 8, 4);
	cr_assert_eq(mig_hello_decode(buf, len, &back, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(back.hotplug.block_mib, 4);
	mig_hello_free(&back);
	mig_hello_free(&h);
	free(buf);
}
