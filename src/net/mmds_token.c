/*
 * MMDS V2's session tokens. A token is 32 bytes from getrandom, in
 * base64; the store keeps each live one with its expiry on the monotonic
 * clock, so a token proves nothing but that this store issued it and it
 * has not expired. (Firecracker seals the expiry into the token instead;
 * a table needs no cipher, and a bounded one no more memory than that.)
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "mvm/clock.h"
#include "mvm/err.h"
#include "mvm/mmds.h"

#include "mmds_priv.h"

#define SECRET_LEN 32
_Static_assert((SECRET_LEN + 2) / 3 * 4 == MMDS_TOKEN_LEN,
	       "MMDS_TOKEN_LEN is the base64 of the secret");

static uint64_t now(const struct mmds *m)
{
	return m->now_ms ? m->now_ms() : mvm_mono_ms();
}

void mmds_set_clock(struct mmds *m, uint64_t (*now_ms)(void))
{
	m->now_ms = now_ms;
}

static void base64(const uint8_t *in, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				"abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | in[i + 1] << 8 | in[i + 2];

		out[o++] = a[v >> 18];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 |
			     (i + 1 < n ? in[i + 1] << 8 : 0);

		out[o++] = a[v >> 18];
		out[o++] = a[v >> 12 & 63];
		out[o++] = i + 1 < n ? a[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

/* A free or expired slot, else the one expiring first. */
static struct mmds_token *slot(struct mmds *m, uint64_t t)
{
	struct mmds_token *best = &m->tokens[0];

	for (unsigned i = 0; i < MMDS_TOKENS_MAX; i++) {
		struct mmds_token *k = &m->tokens[i];

		if (!k->text[0] || k->expiry_ms <= t)
			return k;
		if (k->expiry_ms < best->expiry_ms)
			best = k;
	}
	return best;
}

int mmds_token_new(struct mmds *m, uint32_t ttl_s,
		   char out[MMDS_TOKEN_LEN + 1], struct mvm_err *err)
{
	uint8_t secret[SECRET_LEN];
	struct mmds_token *k;
	uint64_t t = now(m);
	ssize_t got;

	if (ttl_s < MMDS_TTL_MIN || ttl_s > MMDS_TTL_MAX)
		return mvm_fail(err, -EINVAL, "Invalid time to live value "
				"provided for token: %u. Please provide a "
				"value between %u and %u.", ttl_s,
				MMDS_TTL_MIN, MMDS_TTL_MAX);
	got = getrandom(secret, sizeof(secret), 0);
	if (got != (ssize_t)sizeof(secret))
		return mvm_fail_host(err, -EIO, "mmds: getrandom gave no "
				     "token secret");
	k = slot(m, t);
	base64(secret, sizeof(secret), k->text);
	k->expiry_ms = t + (uint64_t)ttl_s * 1000;
	memcpy(out, k->text, sizeof(k->text));
	explicit_bzero(secret, sizeof(secret));
	return 0;
}

/* Equal, in a time that does not tell where the first difference is. */
static bool same(const char *a, const char *b, size_t n)
{
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return !d;
}

bool mmds_token_valid(struct mmds *m, const char *token, size_t len)
{
	uint64_t t = now(m);
	bool ok = false;

	if (len != MMDS_TOKEN_LEN)
		return false;
	for (unsigned i = 0; i < MMDS_TOKENS_MAX; i++) {
		const struct mmds_token *k = &m->tokens[i];

		if (k->text[0] && k->expiry_ms > t &&
		    same(k->text, token, MMDS_TOKEN_LEN))
			ok = true;
	}
	return ok;
}
