/*
 * MMDS, Firecracker's metadata service: a JSON data store the API fills
 * (PUT, PATCH as a JSON merge patch) and the guest reads over HTTP, V2's
 * session tokens, and the guest-facing HTTP server as a pure byte-stream
 * parser and responder (no sockets, no KVM): whatever carries the guest's
 * TCP connection feeds mmds_conn_recv() and sends what the callback gives.
 *
 * The store belongs to the VMM, which hands it down to the NICs that
 * serve it; everything here runs on the main thread's loop, so the store
 * takes no lock.
 */
#ifndef MVM_MMDS_H
#define MVM_MMDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct mvm_err;

enum mmds_version { MMDS_V1, MMDS_V2 };

/* 169.254.169.254, host order: the address when the config names none. */
#define MMDS_DEFAULT_IPV4 0xa9fea9feu
/* The store's size limit when nobody sets one: the API's payload limit. */
#define MMDS_DEFAULT_LIMIT (64 * 1024)

/* V2 tokens' time to live, seconds (Firecracker's bounds). */
#define MMDS_TTL_MIN 1
#define MMDS_TTL_MAX 21600
/* A token as text: 32 random bytes in base64, and a NUL. */
#define MMDS_TOKEN_LEN 44
/* Live tokens kept; a new one past that replaces the nearest expiry. */
#define MMDS_TOKENS_MAX 256

/* The largest request (line and headers) a guest connection may send. */
#define MMDS_REQUEST_MAX 2500

/* Firecracker's messages, the API's and the guest's. */
#define MMDS_MSG_TOO_BIG "The MMDS patch request doesn't fit."
#define MMDS_MSG_NOT_INIT "The MMDS data store is not initialized."

struct mmds;

/* A store with nothing in it (GET: null), V1, limit bytes of JSON. */
int mmds_new(struct mmds **out, size_t limit, struct mvm_err *err);
void mmds_free(struct mmds *m);

void mmds_set_limit(struct mmds *m, size_t limit);
size_t mmds_limit(const struct mmds *m);
void mmds_set_version(struct mmds *m, enum mmds_version v);
enum mmds_version mmds_version(const struct mmds *m);
void mmds_set_imds_compat(struct mmds *m, bool on);
bool mmds_imds_compat(const struct mmds *m);

/*
 * Replace the contents with a copy of value (borrowed). -EFBIG when its
 * compact JSON is longer than the limit (the store is unchanged).
 */
int mmds_put(struct mmds *m, struct json_object *value, struct mvm_err *err);
/*
 * Apply patch (borrowed) as an RFC 7396 merge patch: null removes a key,
 * objects merge, anything else replaces. -ENODATA before any PUT,
 * -EFBIG when the result would pass the limit (the store is unchanged).
 */
int mmds_patch(struct mmds *m, struct json_object *patch,
	       struct mvm_err *err);
/* Whether a PUT has filled the store. */
bool mmds_initialized(const struct mmds *m);
/* The contents (NULL before any PUT), borrowed: keys sorted. */
struct json_object *mmds_data(const struct mmds *m);

/*
 * The value at path ("/a/b", a JSON pointer; a trailing '/' allowed) as
 * the guest sees it: compact JSON when json, else IMDS text (an object's
 * keys one a line, objects' with a trailing '/'; a string raw). *out is
 * malloc'd, *len long, NUL-terminated. -ENOENT: no such value;
 * -ENOTSUP: IMDS text of a value that is neither object nor string.
 */
int mmds_render(const struct mmds *m, const char *path, bool json,
		char **out, size_t *len);

/*
 * V2 sessions. A token is a random secret from getrandom; the store keeps
 * each one's expiry on the monotonic clock. -EINVAL for a TTL out of
 * 1..21600 (message in err), -EIO when the kernel gives no randomness.
 */
int mmds_token_new(struct mmds *m, uint32_t ttl_s,
		   char out[MMDS_TOKEN_LEN + 1], struct mvm_err *err);
bool mmds_token_valid(struct mmds *m, const char *token, size_t len);
/* The clock tokens expire on, ms (tests move it; NULL: CLOCK_MONOTONIC). */
void mmds_set_clock(struct mmds *m, uint64_t (*now_ms)(void));

/*
 * One guest TCP connection to the service. Bytes of requests go in by
 * mmds_conn_recv() in any split; each complete request's answer goes out
 * through send at once. 0, or -EMSGSIZE after a request too long for
 * MMDS_REQUEST_MAX was answered 413: the carrier closes the connection.
 */
typedef void mmds_send_fn(void *opaque, const void *buf, size_t len);
struct mmds_conn;

struct mmds_conn *mmds_conn_new(struct mmds *m, mmds_send_fn *send,
				void *opaque);
int mmds_conn_recv(struct mmds_conn *c, const void *buf, size_t len);
void mmds_conn_free(struct mmds_conn *c);

/* "169.254.169.254" into *ipv4 (host order), dotted quad, strictly. */
bool mmds_parse_ipv4(const char *s, uint32_t *ipv4);
/* Firecracker's rule: 169.254.1.0 to 169.254.254.255. */
bool mmds_ipv4_link_local(uint32_t ipv4);

#endif
