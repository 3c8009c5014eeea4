/*
 * uds-http: one HTTP/1.1 request over a UNIX socket, for lab scripts
 * (busybox has no client that speaks to a UNIX socket). Built static, so
 * it runs in the lab and in its guests without libraries.
 *
 *   uds-http SOCKET METHOD PATH [BODY]
 *
 * Prints "HTTP <status>" on the first line, then the response body.
 * Exit status 0 when a response arrived, 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static char resp[1 << 20];
	const char *body = argc > 4 ? argv[4] : NULL, *p;
	char head[1024];
	size_t got = 0;
	int fd, n, status;

	if (argc < 4 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: uds-http SOCKET METHOD PATH [BODY]\n");
		return 1;
	}
	strcpy(sa.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("uds-http: connect");
		return 1;
	}
	if (body)
		n = snprintf(head, sizeof(head),
			     "%s %s HTTP/1.1\r\nHost: localhost\r\n"
			     "Connection: close\r\n"
			     "Content-Type: application/json\r\n"
			     "Content-Length: %zu\r\n\r\n",
			     argv[2], argv[3], strlen(body));
	else
		n = snprintf(head, sizeof(head),
			     "%s %s HTTP/1.1\r\nHost: localhost\r\n"
			     "Connection: close\r\n\r\n", argv[2], argv[3]);
	if (n >= (int)sizeof(head) || write_all(fd, head, (size_t)n) ||
	    (body && write_all(fd, body, strlen(body)))) {
		perror("uds-http: write");
		return 1;
	}
	for (;;) {
		ssize_t r = read(fd, resp + got, sizeof(resp) - 1 - got);

		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == sizeof(resp) - 1)
			break;
	}
	resp[got] = '\0';
	close(fd);
	if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1) {
		fprintf(stderr, "uds-http: no HTTP response\n");
		return 1;
	}
	p = strstr(resp, "\r\n\r\n");
	printf("HTTP %d\n%s\n", status, p ? p + 4 : "");
	return 0;
}
