/*
 * One request to mvm's API over its UNIX socket (uds_http.h). The answer
 * is read whole (Connection: close), then its status line and head are
 * checked; what the server sends is input like any other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mvm/err.h"

#include "uds_http.h"

/* Far more than any answer of the API (GET /checkpoints of thousands). */
#define MAX_ANSWER (16u << 20)

static int connect_to(const char *sock, struct mvm_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, e;

	if (strlen(sock) >= sizeof(sa.sun_path))
		return mvm_fail(err, -ENAMETOOLONG, "--api-sock '%s': longer "
				"than %zu bytes", sock,
				sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mvm_fail(err, -errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		close(fd);
		return mvm_fail(err, -e, "cannot connect to the API at '%s': "
				"%s", sock, strerror(e));
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t n, const char *sock,
		    struct mvm_err *err)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return mvm_fail(err, w ? -errno : -EIO, "the API at "
					"'%s': write: %s", sock,
					w ? strerror(errno) : "no progress");
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, char **buf, size_t *len, const char *sock,
		    struct mvm_err *err)
{
	size_t cap = 4096;
	char *b = malloc(cap), *more;

	*len = 0;
	for (;;) {
		ssize_t n;

		if (!b)
			return mvm_fail(err, -ENOMEM, "out of memory");
		if (*len + 1 == cap) {
			if (cap >= MAX_ANSWER) {
				free(b);
				return mvm_fail(err, -EFBIG, "the API at '%s': "
						"an answer over %u bytes", sock,
						MAX_ANSWER);
			}
			more = realloc(b, cap * 2);
			if (!more)
				free(b);
			b = more;
			cap *= 2;
			continue;
		}
		n = read(fd, b + *len, cap - 1 - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(b);
			return mvm_fail(err, -errno, "the API at '%s': read: "
					"%s", sock, strerror(errno));
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	b[*len] = '\0';
	*buf = b;
	return 0;
}

/* Status, head and body out of the whole answer a (len bytes). */
static int parse(char *a, size_t len, struct uds_resp *r, const char *sock,
		 struct mvm_err *err)
{
	char *head_end = strstr(a, "\r\n\r\n"), *cl;
	size_t at, body_len;
	int status;

	if (sscanf(a, "HTTP/1.%*1[01] %3d", &status) != 1 || !head_end ||
	    status < 100 || status > 599)
		return mvm_fail(err, -EPROTO, "the API at '%s': no HTTP "
				"answer", sock);
	at = (size_t)(head_end + 4 - a);
	body_len = len - at;
	*head_end = '\0';
	cl = strcasestr(a, "\r\ncontent-length:");
	if (cl) {
		unsigned long long n = strtoull(cl + 17, NULL, 10);

		if (n > body_len)
			return mvm_fail(err, -EPROTO, "the API at '%s': the "
					"answer ended %zu bytes into a "
					"%llu-byte body", sock, body_len, n);
		body_len = (size_t)n;
	}
	r->status = status;
	r->len = body_len;
	r->body = malloc(body_len + 1);
	if (!r->body)
		return mvm_fail(err, -ENOMEM, "out of memory");
	memcpy(r->body, a + at, body_len);
	r->body[body_len] = '\0';
	return 0;
}

int uds_http(const char *sock, const char *method, const char *path,
	     const char *body, struct uds_resp *r, struct mvm_err *err)
{
	char *head = NULL, *answer = NULL;
	size_t len = 0;
	int fd, n, ret;

	memset(r, 0, sizeof(*r));
	fd = connect_to(sock, err);
	if (fd < 0)
		return fd;
	n = body ? asprintf(&head, "%s %s HTTP/1.1\r\nHost: localhost\r\n"
			    "Connection: close\r\nContent-Type: "
			    "application/json\r\nContent-Length: %zu\r\n\r\n",
			    method, path, strlen(body)) :
		   asprintf(&head, "%s %s HTTP/1.1\r\nHost: localhost\r\n"
			    "Connection: close\r\n\r\n", method, path);
	if (n < 0) {
		close(fd);
		return mvm_fail(err, -ENOMEM, "out of memory");
	}
	ret = send_all(fd, head, (size_t)n, sock, err);
	if (!ret && body)
		ret = send_all(fd, body, strlen(body), sock, err);
	if (ret) {
		/* A server may answer before it has read all (a 413). */
		if (!read_all(fd, &answer, &len, sock, NULL) &&
		    !parse(answer, len, r, sock, NULL))
			ret = 0;
	} else {
		ret = read_all(fd, &answer, &len, sock, err);
		if (!ret)
			ret = parse(answer, len, r, sock, err);
	}
	free(answer);
	free(head);
	close(fd);
	return ret;
}

void uds_resp_free(struct uds_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}
