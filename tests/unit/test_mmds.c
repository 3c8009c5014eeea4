/*
 * MMDS (src/net/mmds_*.c): the store (PUT, PATCH as RFC 7396, the size
 * limit), rendering (JSON, IMDS text, JSON pointers), V2 tokens (TTL
 * bounds, expiry on the store's clock) and the guest-facing HTTP server
 * fed bytes in any split, answering as Firecracker's does.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/mmds.h"

static struct json_object *parse(const char *s)
{
	struct json_object *o = json_tokener_parse(s);

	cr_assert(o || !strcmp(s, "null"), "bad test JSON: %s", s);
	return o;
}

static struct mmds *store(const char *json, size_t limit)
{
	struct mvm_err err = { .msg = "" };
	struct mmds *m = NULL;
	struct json_object *o;

	cr_assert_eq(mmds_new(&m, limit, &err), 0);
	if (json) {
		o = parse(json);
		cr_assert_eq(mmds_put(m, o, &err), 0, "%s", err.msg);
		json_object_put(o);
	}
	return m;
}

/* The store's contents as compact JSON. */
static char *dump(const struct mmds *m)
{
	char *out = NULL;
	size_t len;

	cr_assert_eq(mmds_render(m, "", true, &out, &len), 0);
	cr_assert_eq(strlen(out), len);
	return out;
}

static void expect_dump(const struct mmds *m, const char *want)
{
	char *got = dump(m);

	cr_assert_str_eq(got, want);
	free(got);
}

static int patch(struct mmds *m, const char *json, struct mvm_err *err)
{
	struct json_object *o = parse(json);
	int ret = mmds_patch(m, o, err);

	json_object_put(o);
	return ret;
}

Test(mmds_store, empty_store_is_null_and_patch_needs_a_put)
{
	struct mvm_err err = { .msg = "" };
	struct mmds *m = store(NULL, 1024);

	cr_assert_not(mmds_initialized(m));
	expect_dump(m, "null");
	cr_assert_eq(patch(m, "{\"a\":1}", &err), -ENODATA);
	cr_assert_str_eq(err.msg, MMDS_MSG_NOT_INIT);
	mmds_free(m);
}

Test(mmds_store, put_sorts_keys_and_replaces)
{
	struct mvm_err err = { .msg = "" };
	struct mmds *m = store("{\"b\":{\"z\":1,\"y\":[{\"q\":1,\"p\":2}]},"
			       "\"a\":\"x/y\"}", 1024);
	struct json_object *o;

	cr_assert(mmds_initialized(m));
	expect_dump(m, "{\"a\":\"x/y\",\"b\":{\"y\":[{\"p\":2,\"q\":1}],"
		    "\"z\":1}}");
	o = parse("\"just a string\"");
	cr_assert_eq(mmds_put(m, o, &err), 0);
	json_object_put(o);
	expect_dump(m, "\"just a string\"");
	mmds_free(m);
}

/* RFC 7396's own examples (appendix A), a few of them. */
Test(mmds_store, merge_patch_follows_rfc7396)
{
	static const char *const cases[][3] = {
		{ "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
		{ "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}" },
		{ "{\"a\":\"b\"}", "{\"a\":null}", "{}" },
		{ "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}",
		  "{\"b\":\"c\"}" },
		{ "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
		{ "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}" },
		{ "{\"a\":{\"b\":\"c\"}}",
		  "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}" },
		{ "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}" },
		{ "[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]" },
		{ "{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]" },
		{ "{\"e\":null}", "{\"a\":1}", "{\"a\":1,\"e\":null}" },
		{ "[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}" },
		{ "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}",
		  "{\"a\":{\"bb\":{}}}" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mvm_err err = { .msg = "" };
		struct mmds *m = store(cases[i][0], 1024);
		char *got;

		cr_assert_eq(patch(m, cases[i][1], &err), 0, "%s", err.msg);
		got = dump(m);
		cr_assert_str_eq(got, cases[i][2], "%s + %s", cases[i][0],
				 cases[i][1]);
		free(got);
		mmds_free(m);
	}
}

Test(mmds_store, limit_refuses_and_keeps_the_store)
{
	struct mvm_err err = { .msg = "" };
	/* {"k":"0123456789"} is 18 bytes of compact JSON. */
	struct mmds *m = store("{\"k\":\"0123456789\"}", 18);
	struct json_object *o;

	cr_assert_eq(patch(m, "{\"k\":\"01234567890\"}", &err), -EFBIG);
	cr_assert_str_eq(err.msg, MMDS_MSG_TOO_BIG);
	expect_dump(m, "{\"k\":\"0123456789\"}");
	o = parse("{\"k\":\"0123456789\", \"l\": 1}");
	cr_assert_eq(mmds_put(m, o, &err), -EFBIG);
	json_object_put(o);
	expect_dump(m, "{\"k\":\"0123456789\"}");
	/* The compact text counts, not the client's spacing. */
	o = parse("{ \"k\" :   \"abcdefghij\" }");
	cr_assert_eq(mmds_put(m, o, &err), 0, "%s", err.msg);
	json_object_put(o);
	mmds_set_limit(m, 17);
	cr_assert_eq(patch(m, "{}", &err), -EFBIG);
	mmds_free(m);
}

static char *render(const struct mmds *m, const char *path, bool json,
		    int want)
{
	char *out = NULL;
	size_t len;

	cr_assert_eq(mmds_render(m, path, json, &out, &len), want,
		     "render %s", path);
	return out;
}

static void expect_render(const struct mmds *m, const char *path, bool json,
			  const char *want)
{
	char *got = render(m, path, json, 0);

	cr_assert_str_eq(got, want, "render %s (%s)", path,
			 json ? "json" : "text");
	free(got);
}

#define DOC "{\"name\":{\"first\":\"John\",\"second\":\"Doe\"},\"age\":43," \
	    "\"phones\":{\"home\":{\"RO\":\"+40\",\"UK\":\"+44\"}," \
	    "\"mobile\":\"+442\"},\"list\":[\"a\",{\"b\":\"c\"}]," \
	    "\"we/ird~\":\"w\"}"

Test(mmds_render, text_lists_keys_objects_with_a_slash)
{
	struct mmds *m = store(DOC, 4096);

	expect_render(m, "/", false, "age\nlist\nname/\nphones/\nwe/ird~");
	expect_render(m, "", false, "age\nlist\nname/\nphones/\nwe/ird~");
	expect_render(m, "/phones", false, "home/\nmobile");
	expect_render(m, "/phones/", false, "home/\nmobile");
	expect_render(m, "/phones/home/UK", false, "+44");
	expect_render(m, "/name/first", false, "John");
	free(render(m, "/age", false, -ENOTSUP));
	free(render(m, "/list", false, -ENOTSUP));
	free(render(m, "/nope", false, -ENOENT));
	free(render(m, "/name/first/x", false, -ENOENT));
	free(render(m, "name", false, -ENOENT));
	mmds_free(m);
}

Test(mmds_render, json_and_pointers)
{
	struct mmds *m = store(DOC, 4096);

	expect_render(m, "/name", true,
		      "{\"first\":\"John\",\"second\":\"Doe\"}");
	expect_render(m, "/age", true, "43");
	expect_render(m, "/name/first", true, "\"John\"");
	expect_render(m, "/list/1/b", true, "\"c\"");
	expect_render(m, "/list/0", false, "a");
	expect_render(m, "/we~1ird~0", true, "\"w\"");
	free(render(m, "/list/01", true, -ENOENT));
	free(render(m, "/list/2", true, -ENOENT));
	free(render(m, "/list/-1", true, -ENOENT));
	free(render(m, "/list/99999999999999999999999", true, -ENOENT));
	mmds_free(m);
}

Test(mmds_render, imds_compat_gives_text_whatever_is_asked)
{
	struct mmds *m = store(DOC, 4096);

	mmds_set_imds_compat(m, true);
	expect_render(m, "/name", true, "first\nsecond");
	mmds_free(m);
}

static uint64_t fake_ms;

static uint64_t fake_clock(void)
{
	return fake_ms;
}

Test(mmds_token, ttl_bounds_and_expiry)
{
	struct mvm_err err = { .msg = "" };
	struct mmds *m = store(NULL, 16);
	char t1[MMDS_TOKEN_LEN + 1], t2[MMDS_TOKEN_LEN + 1];

	fake_ms = 1000;
	mmds_set_clock(m, fake_clock);
	cr_assert_eq(mmds_token_new(m, 0, t1, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "Invalid time to live value provided for "
			 "token: 0. Please provide a value between 1 and "
			 "21600.");
	cr_assert_eq(mmds_token_new(m, 21601, t1, &err), -EINVAL);
	cr_assert_eq(mmds_token_new(m, 1, t1, &err), 0);
	cr_assert_eq(mmds_token_new(m, 21600, t2, &err), 0);
	cr_assert_eq(strlen(t1), MMDS_TOKEN_LEN);
	cr_assert_str_neq(t1, t2, "two tokens must differ");
	cr_assert(mmds_token_valid(m, t1, strlen(t1)));
	fake_ms = 1999;
	cr_assert(mmds_token_valid(m, t1, strlen(t1)));
	fake_ms = 2000;
	cr_assert_not(mmds_token_valid(m, t1, strlen(t1)), "expired");
	cr_assert(mmds_token_valid(m, t2, strlen(t2)));
	/* A prefix, a changed byte, a longer string: all refused. */
	cr_assert_not(mmds_token_valid(m, t2, MMDS_TOKEN_LEN - 1));
	t2[3] ^= 1;
	cr_assert_not(mmds_token_valid(m, t2, MMDS_TOKEN_LEN));
	cr_assert_not(mmds_token_valid(m, "", 0));
	mmds_free(m);
}

Test(mmds_token, a_full_table_drops_the_nearest_expiry)
{
	struct mvm_err err = { .msg = "" };
	struct mmds *m = store(NULL, 16);
	char first[MMDS_TOKEN_LEN + 1], t[MMDS_TOKEN_LEN + 1];

	fake_ms = 0;
	mmds_set_clock(m, fake_clock);
	cr_assert_eq(mmds_token_new(m, 5, first, &err), 0);
	for (int i = 0; i < MMDS_TOKENS_MAX - 1; i++)
		cr_assert_eq(mmds_token_new(m, 100, t, &err), 0);
	cr_assert(mmds_token_valid(m, first, MMDS_TOKEN_LEN));
	cr_assert_eq(mmds_token_new(m, 100, t, &err), 0);
	cr_assert_not(mmds_token_valid(m, first, MMDS_TOKEN_LEN));
	cr_assert(mmds_token_valid(m, t, MMDS_TOKEN_LEN));
	mmds_free(m);
}

Test(mmds_ipv4, parse_and_link_local)
{
	uint32_t a;

	cr_assert(mmds_parse_ipv4("169.254.169.254", &a));
	cr_assert_eq(a, MMDS_DEFAULT_IPV4);
	cr_assert(mmds_ipv4_link_local(a));
	cr_assert(mmds_parse_ipv4("169.254.1.0", &a));
	cr_assert(mmds_ipv4_link_local(a));
	cr_assert(mmds_parse_ipv4("169.254.0.1", &a));
	cr_assert_not(mmds_ipv4_link_local(a));
	cr_assert(mmds_parse_ipv4("169.254.255.1", &a));
	cr_assert_not(mmds_ipv4_link_local(a));
	cr_assert(mmds_parse_ipv4("10.0.0.1", &a));
	cr_assert_not(mmds_ipv4_link_local(a));
	cr_assert_not(mmds_parse_ipv4("169.254.169", &a));
	cr_assert_not(mmds_parse_ipv4("169.254.169.256", &a));
	cr_assert_not(mmds_parse_ipv4("169.254.169.025", &a));
	cr_assert_not(mmds_parse_ipv4("169.254.169.1 ", &a));
	cr_assert_not(mmds_parse_ipv4("", &a));
}

/* The HTTP server: what went out, as one string. */
struct sink {
	char buf[16384];
	size_t len;
	unsigned answers;
};

static void to_sink(void *opaque, const void *buf, size_t len)
{
	struct sink *s = opaque;

	cr_assert_leq(s->len + len, sizeof(s->buf) - 1);
	memcpy(s->buf + s->len, buf, len);
	s->len += len;
	s->buf[s->len] = '\0';
	s->answers++;
}

/* Feed req to a new connection, split into pieces of step bytes. */
static int feed(struct mmds *m, struct sink *s, const char *req,
		size_t step)
{
	struct mmds_conn *c = mmds_conn_new(m, to_sink, s);
	size_t n = strlen(req);
	int ret = 0;

	cr_assert(c);
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < n && !ret; i += step)
		ret = mmds_conn_recv(c, req + i, n - i < step ? n - i : step);
	mmds_conn_free(c);
	return ret;
}

static void expect_answer(struct mmds *m, const char *req, const char *want)
{
	struct sink s;

	/* Whole, then a byte at a time: the same answer. */
	cr_assert_eq(feed(m, &s, req, strlen(req)), 0);
	cr_assert_str_eq(s.buf, want, "request: %s\ngot: %s", req, s.buf);
	cr_assert_eq(feed(m, &s, req, 1), 0);
	cr_assert_str_eq(s.buf, want, "request byte by byte: %s", req);
}

#define HEAD(ver, code, type, len) \
	"HTTP/" ver " " code " \r\nServer: Firecracker API\r\n" \
	"Connection: keep-alive\r\nContent-Type: " type "\r\n" \
	"Content-Length: " len "\r\n\r\n"

Test(mmds_http, get_text_and_json)
{
	struct mmds *m = store(DOC, 4096);

	expect_answer(m, "GET http://169.254.169.254/ HTTP/1.0\r\n\r\n",
		      HEAD("1.0", "200", "text/plain", "30")
		      "age\nlist\nname/\nphones/\nwe/ird~");
	expect_answer(m, "GET /name HTTP/1.1\r\nAccept: application/json"
		      "\r\n\r\n",
		      HEAD("1.1", "200", "application/json", "31")
		      "{\"first\":\"John\",\"second\":\"Doe\"}");
	expect_answer(m, "GET //phones///home/UK HTTP/1.1\r\nHost: x\r\n\r\n",
		      HEAD("1.1", "200", "text/plain", "3") "+44");
	/* Bare "\n" line ends work too, as in Firecracker's scan. */
	expect_answer(m, "GET /name/first HTTP/1.1\n\n",
		      HEAD("1.1", "200", "text/plain", "4") "John");
	mmds_free(m);
}

Test(mmds_http, errors_as_firecracker)
{
	struct mmds *m = store(DOC, 4096);

	expect_answer(m, "GET /nope HTTP/1.1\r\n\r\n",
		      HEAD("1.1", "404", "text/plain", "26")
		      "Resource not found: /nope.");
	expect_answer(m, "GET /age HTTP/1.1\r\n\r\n",
		      HEAD("1.1", "501", "text/plain", "57")
		      "Cannot retrieve value. The value has an unsupported "
		      "type.");
	expect_answer(m, "PATCH / HTTP/1.1\r\n\r\n",
		      "HTTP/1.1 405 \r\nServer: Firecracker API\r\n"
		      "Connection: keep-alive\r\nAllow: GET, PUT\r\n"
		      "Content-Type: text/plain\r\nContent-Length: 24\r\n\r\n"
		      "Not allowed HTTP method.");
	expect_answer(m, "BREW / HTTP/1.1\r\n\r\n",
		      HEAD("1.1", "501", "text/plain", "24")
		      "Unsupported HTTP method.");
	expect_answer(m, "GET / HTTP/2.0\r\n\r\n",
		      HEAD("1.1", "501", "text/plain", "25")
		      "Unsupported HTTP version.");
	expect_answer(m, "GET nothing HTTP/1.1\r\n\r\n",
		      HEAD("1.1", "400", "text/plain", "12") "Invalid URI.");
	expect_answer(m, "GET http://169.254.169.254 HTTP/1.1\r\n\r\n",
		      HEAD("1.1", "400", "text/plain", "12") "Invalid URI.");
	expect_answer(m, "GET\r\n\r\n",
		      HEAD("1.1", "400", "text/plain", "16")
		      "Invalid request.");
	expect_answer(m, "GET / HTTP/1.1\r\nno colon here\r\n\r\n",
		      HEAD("1.1", "400", "text/plain", "75")
		      "Invalid header. Reason: Header is incorrectly "
		      "formatted. Key: no colon here");
	expect_answer(m, "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
		      HEAD("1.1", "400", "text/plain", "67")
		      "Invalid header. Reason: Invalid value. "
		      "Key:Content-Length; Value:-1");
	expect_answer(m, "PUT /latest/api/token HTTP/1.1\r\n"
		      "X-Forwarded-For: 1.2.3.4\r\n"
		      "X-metadata-token-ttl-seconds: 60\r\n\r\n",
		      HEAD("1.1", "400", "text/plain", "69")
		      "Invalid header. Reason: Unsupported header name. "
		      "Key: X-Forwarded-For");
	expect_answer(m, "PUT /token HTTP/1.1\r\n"
		      "X-metadata-token-ttl-seconds: 60\r\n\r\n",
		      HEAD("1.1", "404", "text/plain", "27")
		      "Resource not found: /token.");
	expect_answer(m, "PUT /latest/api/token HTTP/1.1\r\n\r\n",
		      HEAD("1.1", "400", "text/plain", "152")
		      "Token time to live value not found. Use "
		      "`X-metadata-token-ttl-seconds` or "
		      "`X-aws-ec2-metadata-token-ttl-seconds` header to "
		      "specify the token's lifetime.");
	expect_answer(m, "PUT /latest/api/token HTTP/1.1\r\n"
		      "X-metadata-token-ttl-seconds: sixty\r\n\r\n",
		      HEAD("1.1", "400", "text/plain", "84")
		      "Invalid header. Reason: Invalid value. "
		      "Key:X-metadata-token-ttl-seconds; Value:sixty");
	expect_answer(m, "PUT /latest/api/token HTTP/1.1\r\n"
		      "X-metadata-token-ttl-seconds: 21601\r\n\r\n",
		      HEAD("1.1", "400", "text/plain", "97")
		      "Invalid time to live value provided for token: 21601. "
		      "Please provide a value between 1 and 21600.");
	mmds_free(m);
}

/* The token in an answer to PUT /latest/api/token. */
static void token_of(const struct sink *s, char *tok)
{
	const char *body = strstr(s->buf, "\r\n\r\n");

	cr_assert(body);
	cr_assert(strstr(s->buf, "HTTP/1.1 200 \r\n") == s->buf, "%s",
		  s->buf);
	cr_assert(strstr(s->buf, "X-metadata-token-ttl-seconds: 60\r\n"),
		  "the TTL header is echoed: %s", s->buf);
	cr_assert_eq(strlen(body + 4), MMDS_TOKEN_LEN);
	strcpy(tok, body + 4);
}

Test(mmds_http, v2_needs_a_token_v1_takes_both)
{
	struct mmds *m = store(DOC, 4096);
	char tok[MMDS_TOKEN_LEN + 1], req[512];
	struct sink s;

	mmds_set_version(m, MMDS_V2);
	expect_answer(m, "GET /name/first HTTP/1.1\r\n\r\n",
		      HEAD("1.1", "401", "text/plain", "113")
		      "No MMDS token provided. Use `X-metadata-token` or "
		      "`X-aws-ec2-metadata-token` header to specify the "
		      "session token.");
	expect_answer(m, "GET /name/first HTTP/1.1\r\nX-metadata-token: "
		      "bogus\r\n\r\n",
		      HEAD("1.1", "401", "text/plain", "21")
		      "MMDS token not valid.");
	cr_assert_eq(feed(m, &s, "PUT /latest/api/token HTTP/1.1\r\n"
			  "X-metadata-token-ttl-seconds: 60\r\n\r\n", 7), 0);
	token_of(&s, tok);
	snprintf(req, sizeof(req), "GET /name/first HTTP/1.1\r\n"
		 "x-AWS-ec2-metadata-token: %s\r\n\r\n", tok);
	expect_answer(m, req, HEAD("1.1", "200", "text/plain", "4") "John");
	mmds_set_version(m, MMDS_V1);
	expect_answer(m, "GET /name/first HTTP/1.1\r\n\r\n",
		      HEAD("1.1", "200", "text/plain", "4") "John");
	expect_answer(m, req, HEAD("1.1", "200", "text/plain", "4") "John");
	mmds_free(m);
}

Test(mmds_http, pipelined_requests_and_bodies_skipped)
{
	struct mmds *m = store(DOC, 4096);
	struct sink s;

	cr_assert_eq(feed(m, &s, "GET /name/first HTTP/1.1\r\n\r\n"
			  "PUT /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nGET /"
			  "GET /name/second HTTP/1.1\r\n\r\n", 3), 0);
	cr_assert_eq(s.answers, 3);
	cr_assert(strstr(s.buf, "John"));
	cr_assert(strstr(s.buf, "Resource not found: /x."));
	cr_assert(strstr(s.buf, "Doe"));
	mmds_free(m);
}

Test(mmds_http, too_long_a_request_is_413_and_the_end)
{
	struct mmds *m = store(DOC, 4096);
	char *req = malloc(MMDS_REQUEST_MAX + 64);
	struct sink s;

	strcpy(req, "GET /");
	memset(req + 5, 'a', MMDS_REQUEST_MAX);
	strcpy(req + 5 + MMDS_REQUEST_MAX, " HTTP/1.1\r\n\r\n");
	cr_assert_eq(feed(m, &s, req, 100), -EMSGSIZE);
	cr_assert_eq(s.answers, 1);
	cr_assert(strstr(s.buf, "HTTP/1.1 413 \r\n") == s.buf, "%s", s.buf);
	free(req);
	mmds_free(m);
}
