/*
 * MMDS's guest-facing HTTP server, pure: bytes of one TCP connection in,
 * answers out through a callback. Requests are read as Firecracker's
 * endpoint reads them: up to the blank line that ends the headers, at
 * most MMDS_REQUEST_MAX bytes (a longer one is answered 413 and the
 * connection is done), then answered at once; a body is skipped. The
 * answers' statuses, headers and words are Firecracker's (micro_http's
 * status line has no reason phrase, so neither has this one).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mvm/err.h"
#include "mvm/mmds.h"

#define TOKEN_PATH "/latest/api/token"

struct mmds_conn {
	struct mmds *m;
	mmds_send_fn *send;
	void *opaque;
	uint64_t skip;   /* bytes of the last request's body still to drop */
	bool done;       /* a request was too long: nothing more is read */
	size_t len;
	char buf[MMDS_REQUEST_MAX];
};

/* A slice of the request buffer. */
struct span {
	const char *p;
	size_t n;
};

struct request {
	bool http10;
	struct span method, uri;
	bool accept_json;
	struct span token, ttl, ttl_name, xff_name;
	struct span bad_length; /* a Content-Length that is no number */
	uint64_t content_length;
};

struct answer {
	int status;
	bool json;
	bool allow;           /* 405: Allow: GET, PUT */
	struct span ttl_name; /* the token's TTL header, echoed */
	struct span ttl;
	const char *body;
	size_t body_len;
};

struct mmds_conn *mmds_conn_new(struct mmds *m, mmds_send_fn *send,
				void *opaque)
{
	struct mmds_conn *c = calloc(1, sizeof(*c));

	if (c) {
		c->m = m;
		c->send = send;
		c->opaque = opaque;
	}
	return c;
}

void mmds_conn_free(struct mmds_conn *c)
{
	free(c);
}

static bool is(struct span s, const char *lit)
{
	return s.n == strlen(lit) && !memcmp(s.p, lit, s.n);
}

static bool is_nocase(struct span s, const char *lit)
{
	return s.n == strlen(lit) && !strncasecmp(s.p, lit, s.n);
}

static struct span trim(const char *p, size_t n)
{
	while (n && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	return (struct span){ p, n };
}

/* Decimal digits only, at most max. */
static bool parse_uint(struct span s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s.n)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s.p[i] - '0');
		if (v > max)
			return false;
	}
	*out = v;
	return true;
}

/* One answer, in one piece, through the callback. */
static void send_answer(struct mmds_conn *c, bool http10,
			const struct answer *a)
{
	char head[512];
	int n;
	char *all;

	n = snprintf(head, sizeof(head),
		     "HTTP/1.%c %d \r\nServer: Firecracker API\r\n"
		     "Connection: keep-alive\r\n%s"
		     "Content-Type: %s\r\nContent-Length: %zu\r\n",
		     http10 ? '0' : '1', a->status,
		     a->allow ? "Allow: GET, PUT\r\n" : "",
		     a->json ? "application/json" : "text/plain",
		     a->body_len);
	if (a->ttl_name.n && a->ttl_name.n + a->ttl.n + 8 <
			     sizeof(head) - (size_t)n)
		n += snprintf(head + n, sizeof(head) - (size_t)n,
			      "%.*s: %.*s\r\n", (int)a->ttl_name.n,
			      a->ttl_name.p, (int)a->ttl.n, a->ttl.p);
	n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
	all = malloc((size_t)n + a->body_len);
	if (!all) {
		/* No memory for the body: the head alone still answers. */
		c->send(c->opaque, head, (size_t)n);
		return;
	}
	memcpy(all, head, (size_t)n);
	memcpy(all + n, a->body, a->body_len);
	c->send(c->opaque, all, (size_t)n + a->body_len);
	free(all);
}

static void send_text(struct mmds_conn *c, bool http10, int status,
		      const char *text)
{
	struct answer a = { .status = status, .body = text,
			    .body_len = strlen(text),
			    .allow = status == 405 };

	send_answer(c, http10, &a);
}

static void send_fmt(struct mmds_conn *c, bool http10, int status,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void send_fmt(struct mmds_conn *c, bool http10, int status,
		     const char *fmt, ...)
{
	char msg[MMDS_REQUEST_MAX + 128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	send_text(c, http10, status, msg);
}

/* One header line: the ones MMDS reads, the rest ignored. */
static int header(struct request *r, const char *p, size_t n)
{
	const char *colon = memchr(p, ':', n);
	struct span name, value;

	if (!colon)
		return -EINVAL;
	name = trim(p, (size_t)(colon - p));
	value = trim(colon + 1, n - (size_t)(colon - p) - 1);
	if (is_nocase(name, "accept")) {
		/* micro_http: exactly these two; anything else is ignored. */
		if (is(value, "application/json"))
			r->accept_json = true;
		else if (is(value, "text/plain"))
			r->accept_json = false;
	} else if (is_nocase(name, "x-metadata-token") ||
		   is_nocase(name, "x-aws-ec2-metadata-token")) {
		r->token = value;
	} else if (is_nocase(name, "x-metadata-token-ttl-seconds") ||
		   is_nocase(name, "x-aws-ec2-metadata-token-ttl-seconds")) {
		r->ttl = value;
		r->ttl_name = name;
	} else if (is_nocase(name, "x-forwarded-for")) {
		r->xff_name = name;
	} else if (is_nocase(name, "content-length")) {
		if (!parse_uint(value, UINT32_MAX, &r->content_length)) {
			r->bad_length = value;
			return -ERANGE;
		}
	}
	return 0;
}

/* The next line of [*p, end): its length without "\r\n" or "\n". */
static size_t next_line(const char **p, const char *end, const char **line)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n;

	if (!nl)
		nl = end;
	*line = *p;
	n = (size_t)(nl - *p);
	*p = nl < end ? nl + 1 : end;
	if (n && (*line)[n - 1] == '\r')
		n--;
	return n;
}

/* "GET /path HTTP/1.1": three words, one space apart. */
static int request_line(struct request *r, const char *p, size_t n,
			struct span *version)
{
	const char *sp1 = memchr(p, ' ', n), *sp2;

	if (!sp1)
		return -EINVAL;
	sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - p));
	if (!sp2 || memchr(sp2 + 1, ' ', n - (size_t)(sp2 + 1 - p)))
		return -EINVAL;
	r->method = (struct span){ p, (size_t)(sp1 - p) };
	r->uri = (struct span){ sp1 + 1, (size_t)(sp2 - sp1 - 1) };
	*version = (struct span){ sp2 + 1, n - (size_t)(sp2 + 1 - p) };
	if (!r->method.n || !r->uri.n)
		return -EINVAL;
	return 0;
}

/*
 * The absolute path of the URI, "//" collapsed as Firecracker does, into
 * out (at least uri.n + 1 bytes); "" when there is none.
 */
static void abs_path(struct span uri, char *out)
{
	const char *p = uri.p, *end = uri.p + uri.n;
	size_t o = 0;

	if (uri.n >= 7 && !strncasecmp(p, "http://", 7)) {
		p += 7;
		while (p < end && *p != '/')
			p++; /* the host */
	}
	if (p == end || *p != '/') {
		out[0] = '\0';
		return;
	}
	for (; p < end; p++)
		if (!(*p == '/' && o && out[o - 1] == '/'))
			out[o++] = *p;
	out[o] = '\0';
}

static void answer_get(struct mmds_conn *c, const struct request *r,
		       const char *path)
{
	struct answer a = { .status = 200 };
	char *body = NULL;
	size_t len = 0;
	int ret;

	if (mmds_version(c->m) == MMDS_V2) {
		if (!r->token.p) {
			send_text(c, r->http10, 401, "No MMDS token provided. "
				  "Use `X-metadata-token` or "
				  "`X-aws-ec2-metadata-token` header to "
				  "specify the session token.");
			return;
		}
		if (!mmds_token_valid(c->m, r->token.p, r->token.n)) {
			send_text(c, r->http10, 401, "MMDS token not valid.");
			return;
		}
	}
	ret = mmds_render(c->m, path, r->accept_json, &body, &len);
	if (ret == -ENOENT) {
		send_fmt(c, r->http10, 404, "Resource not found: %s.", path);
		return;
	}
	if (ret == -ENOTSUP) {
		send_text(c, r->http10, 501, "Cannot retrieve value. The "
			  "value has an unsupported type.");
		return;
	}
	if (ret) {
		send_text(c, r->http10, 500, "Out of memory.");
		return;
	}
	a.json = r->accept_json && !mmds_imds_compat(c->m);
	a.body = body;
	a.body_len = len;
	send_answer(c, r->http10, &a);
	free(body);
}

static void answer_put(struct mmds_conn *c, const struct request *r,
		       const char *path)
{
	struct mvm_err err = { .msg = "" };
	char token[MMDS_TOKEN_LEN + 1];
	struct answer a = { .status = 200 };
	uint64_t ttl;

	if (r->xff_name.p) {
		send_fmt(c, r->http10, 400, "Invalid header. Reason: "
			 "Unsupported header name. Key: %.*s",
			 (int)r->xff_name.n, r->xff_name.p);
		return;
	}
	if (strcmp(path, TOKEN_PATH)) {
		send_fmt(c, r->http10, 404, "Resource not found: %s.", path);
		return;
	}
	if (!r->ttl.p) {
		send_text(c, r->http10, 400, "Token time to live value not "
			  "found. Use `X-metadata-token-ttl-seconds` or "
			  "`X-aws-ec2-metadata-token-ttl-seconds` header to "
			  "specify the token's lifetime.");
		return;
	}
	if (!parse_uint(r->ttl, UINT32_MAX, &ttl)) {
		send_fmt(c, r->http10, 400, "Invalid header. Reason: Invalid "
			 "value. Key:%.*s; Value:%.*s", (int)r->ttl_name.n,
			 r->ttl_name.p, (int)r->ttl.n, r->ttl.p);
		return;
	}
	if (mmds_token_new(c->m, (uint32_t)ttl, token, &err)) {
		send_text(c, r->http10, err.host ? 500 : 400, err.msg);
		return;
	}
	a.body = token;
	a.body_len = strlen(token);
	a.ttl_name = r->ttl_name;
	a.ttl = r->ttl;
	send_answer(c, r->http10, &a);
}

/* One whole request, [p, p + n), ending with its blank line. */
static void answer(struct mmds_conn *c, const char *p, size_t n)
{
	const char *end = p + n, *line;
	struct request r = { 0 };
	struct span version;
	char path[MMDS_REQUEST_MAX + 1];
	size_t len;
	int ret;

	len = next_line(&p, end, &line);
	if (request_line(&r, line, len, &version)) {
		send_text(c, false, 400, "Invalid request.");
		return;
	}
	r.http10 = is(version, "HTTP/1.0");
	while (p < end) {
		len = next_line(&p, end, &line);
		if (!len)
			break;
		ret = header(&r, line, len);
		if (ret == -EINVAL) {
			send_fmt(c, r.http10, 400, "Invalid header. Reason: "
				 "Header is incorrectly formatted. Key: %.*s",
				 (int)len, line);
			return;
		}
		if (ret) {
			send_fmt(c, r.http10, 400, "Invalid header. Reason: "
				 "Invalid value. Key:Content-Length; "
				 "Value:%.*s", (int)r.bad_length.n,
				 r.bad_length.p);
			return;
		}
	}
	c->skip = r.content_length;
	if (!is(version, "HTTP/1.0") && !is(version, "HTTP/1.1")) {
		send_text(c, false, 501, "Unsupported HTTP version.");
		return;
	}
	abs_path(r.uri, path);
	if (is(r.method, "GET") || is(r.method, "PUT")) {
		if (!path[0])
			send_text(c, r.http10, 400, "Invalid URI.");
		else if (is(r.method, "GET"))
			answer_get(c, &r, path);
		else
			answer_put(c, &r, path);
	} else if (is(r.method, "PATCH") || is(r.method, "POST") ||
		   is(r.method, "DELETE") || is(r.method, "HEAD")) {
		send_text(c, r.http10, 405, "Not allowed HTTP method.");
	} else {
		send_text(c, r.http10, 501, "Unsupported HTTP method.");
	}
}

/* Where the headers' blank line ends, or 0 (Firecracker's scan). */
static size_t request_end(const char *b, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (b[i] != '\n')
			continue;
		if (b[i + 1] == '\n')
			return i + 2;
		if (i + 2 < n && b[i + 1] == '\r' && b[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Answer every whole request in the buffer; keep the rest. */
static void drain(struct mmds_conn *c)
{
	size_t end, drop;

	for (;;) {
		if (c->skip && c->len) {
			drop = c->skip < c->len ? (size_t)c->skip : c->len;
			memmove(c->buf, c->buf + drop, c->len - drop);
			c->len -= drop;
			c->skip -= drop;
		}
		if (c->skip)
			return;
		end = request_end(c->buf, c->len);
		if (!end)
			return;
		answer(c, c->buf, end);
		memmove(c->buf, c->buf + end, c->len - end);
		c->len -= end;
	}
}

int mmds_conn_recv(struct mmds_conn *c, const void *buf, size_t len)
{
	const char *p = buf;
	size_t take;

	while (len && !c->done) {
		if (c->skip && !c->len) {
			take = c->skip < len ? (size_t)c->skip : len;
			c->skip -= take;
			p += take;
			len -= take;
			continue;
		}
		take = sizeof(c->buf) - c->len;
		if (take > len)
			take = len;
		memcpy(c->buf + c->len, p, take);
		c->len += take;
		p += take;
		len -= take;
		drain(c);
		if (c->len == sizeof(c->buf)) {
			send_fmt(c, false, 413, "Request too large: more "
				 "than %d bytes of request line and headers.",
				 MMDS_REQUEST_MAX);
			c->done = true;
		}
	}
	return c->done ? -EMSGSIZE : 0;
}
