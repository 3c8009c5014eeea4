/*
 * The migration fuzzer's seeds, made by the stream's own code so that
 * they follow the format as it changes:
 *   OUT-stream   a whole stream: HELLO, a first pass and a dirty pass of
 *                PAGES (DATA and ZERO) from mig_tx_fill, PASS_END after
 *                each, STATE (the unit tests' state file), COMMIT
 *   OUT-replies  the destination's answers: ACCEPT, READY, DONE
 * Each starts with fuzz_migration's mode byte: CRCs set right, fed whole.
 *   seed-migration OUT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/migration.h"
#include "mvm/snapshot.h"

#include "mig_fixture.h"
#include "snap_fixture.h"

#define MODE_STREAM 0x80
#define MODE_REPLIES 0xc0

static uint8_t ram[1 << 20];

/* One pass of gm's pages (dirty: NULL for the first), then PASS_END. */
static int put_pass(struct fix_stream *s, const struct guest_mem *gm,
		    unsigned long *const dirty[], uint32_t pass)
{
	struct mig_tx_cursor c = { 0 };
	int ret = 0;

	while (!ret && !c.done) {
		ret = fix_stream_room(s, MIG_PAGES_SECTION_MAX);
		if (!ret)
			s->len += mig_tx_fill(gm, dirty, &c, s->b + s->len,
					      MIG_PAGES_SECTION_MAX, NULL);
	}
	return ret ? ret : fix_stream_put_u32(s, MIG_PASS_END, pass);
}

static int put_state(struct fix_stream *s)
{
	struct snap_file f;
	void *buf = NULL;
	uint8_t *payload = NULL;
	size_t len = 0;
	int ret = fix_make_snap(&f);

	/* A migration's state file names no memory file. */
	free(f.mem_file);
	f.mem_file = NULL;
	if (!ret)
		ret = snap_file_encode(&f, &buf, &len, NULL);
	if (!ret)
		payload = malloc(MIG_STATE_HDR + len);
	if (!ret && !payload)
		ret = -ENOMEM;
	if (!ret) {
		memcpy(payload, &(uint64_t){ 1700000000123456789ull }, 8);
		memcpy(payload + MIG_STATE_HDR, buf, len);
		ret = fix_stream_put(s, MIG_STATE, payload,
				     MIG_STATE_HDR + len);
	}
	free(payload);
	free(buf);
	snap_file_free(&f);
	return ret;
}

/* [0, 512 KiB) and [1 MiB, 1.5 MiB): two pages of data, one zeroed. */
static int stream(struct fix_stream *s)
{
	struct guest_mem gm = { .nr = 0 };
	unsigned long bm0[128 / 64] = { 0 }, bm1[128 / 64] = { 0 };
	unsigned long *const dirty[] = { bm0, bm1 };
	uint8_t mode = MODE_STREAM;
	int ret;

	gm_add_host(&gm, 0, ram, 512 << 10);
	gm_add_host(&gm, 1 << 20, ram + (512 << 10), 512 << 10);
	fix_mig_fill_page(ram + 3 * FIX_MIG_PAGE, 3, 0);
	fix_mig_fill_page(ram + (512 << 10), 128, 0);
	ret = fix_stream_room(s, 1);
	if (ret)
		return ret;
	s->b[s->len++] = mode;
	ret = fix_stream_hello(s, &gm);
	if (!ret)
		ret = put_pass(s, &gm, NULL, 1);
	/* The guest zeroed page 3 and wrote page 4. */
	memset(ram + 3 * FIX_MIG_PAGE, 0, FIX_MIG_PAGE);
	fix_mig_fill_page(ram + 4 * FIX_MIG_PAGE, 4, 1);
	bm0[0] = 3ul << 3;
	if (!ret)
		ret = put_pass(s, &gm, dirty, 2);
	if (!ret)
		ret = put_state(s);
	if (!ret)
		ret = fix_stream_put(s, MIG_COMMIT, NULL, 0);
	return ret;
}

static int replies(struct fix_stream *s)
{
	int ret = fix_stream_room(s, 1);

	if (ret)
		return ret;
	s->b[s->len++] = MODE_REPLIES;
	ret = fix_stream_put_u32(s, MIG_ACCEPT, MIG_ACCEPT_NESTED_STATE);
	if (!ret)
		ret = fix_stream_put(s, MIG_READY, NULL, 0);
	if (!ret)
		ret = fix_stream_put(s, MIG_DONE, "\x40\x42\x0f\0\0\0\0\0", 8);
	return ret;
}

static int write_file(const char *out, const char *suffix,
		      const struct fix_stream *s)
{
	char path[4096];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s-%s", out, suffix);
	f = fopen(path, "wb");
	if (!f)
		return -errno;
	ok = fwrite(s->b, 1, s->len, f) == s->len;
	return fclose(f) || !ok ? -EIO : 0;
}

int main(int argc, char **argv)
{
	struct fix_stream a = { 0 }, b = { 0 };
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: seed-migration OUT\n");
		return 2;
	}
	ret = stream(&a);
	if (!ret)
		ret = write_file(argv[1], "stream", &a);
	if (!ret)
		ret = replies(&b);
	if (!ret)
		ret = write_file(argv[1], "replies", &b);
	free(a.b);
	free(b.b);
	if (ret) {
		fprintf(stderr, "seed-migration: %s\n", strerror(-ret));
		return 1;
	}
	return 0;
}
