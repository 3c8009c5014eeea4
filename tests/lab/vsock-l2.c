/*
 * vsock's two ends for the lab (tests/lab/devices.lab.sh), one static
 * program, as busybox has no vsock: in L2 over AF_VSOCK, in the lab over
 * mvm's Unix sockets (Firecracker's hybrid vsock).
 *   vsock-l2 cid                      L2's CID, from /dev/vsock
 *   vsock-l2 listen PORT              L2: echo one connection on PORT
 *   vsock-l2 connect CID PORT MSG     L2: send MSG, print the answer
 *   vsock-l2 uds-echo PATH            the lab: echo every connection
 *   vsock-l2 uds-connect PATH PORT MSG  the lab: "CONNECT PORT", check
 *                                     "OK ", send MSG, print the answer
 * A connection's sender shuts its write side after MSG; the echo sends
 * everything back and closes; the answer is printed on one line.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int die(const char *what)
{
	fprintf(stderr, "vsock-l2: %s: %s\n", what, strerror(errno));
	return 1;
}

static void echo(int c)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(c, buf, sizeof(buf))) > 0)
		if (write(c, buf, (size_t)n) != n)
			break;
	close(c);
}

/* Send msg, end our side, print what comes back until EOF. */
static int talk(int fd, const char *msg)
{
	char buf[4096];
	size_t got = 0;
	ssize_t n;

	if (write(fd, msg, strlen(msg)) != (ssize_t)strlen(msg))
		return die("write");
	shutdown(fd, SHUT_WR);
	while (got < sizeof(buf) - 1 &&
	       (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	printf("%s\n", buf);
	return 0;
}

static int uds(const char *path, bool listening)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0 || strlen(path) >= sizeof(a.sun_path))
		return -1;
	strcpy(a.sun_path, path);
	if (listening) {
		unlink(path);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
		    listen(fd, 8))
			return -1;
	} else if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		return -1;
	}
	return fd;
}

/* The hybrid vsock's handshake: CONNECT, then "OK <port>\n". */
static int uds_connect(const char *path, const char *port, const char *msg)
{
	char line[64];
	size_t got = 0;
	int fd = uds(path, false);

	if (fd < 0)
		return die(path);
	dprintf(fd, "CONNECT %s\n", port);
	while (got < sizeof(line) - 1 && read(fd, line + got, 1) == 1)
		if (line[got++] == '\n')
			break;
	line[got] = '\0';
	if (strncmp(line, "OK ", 3)) {
		fprintf(stderr, "vsock-l2: CONNECT %s: answered '%s'\n", port,
			line);
		return 1;
	}
	return talk(fd, msg);
}

static int vsock(unsigned cid, unsigned port, bool listening)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = cid,
				 .svm_port = port };
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (listening) {
		a.svm_cid = VMADDR_CID_ANY;
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
		    listen(fd, 8))
			return -1;
	} else if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	int fd;

	if (!strcmp(cmd, "cid") && argc == 2) {
		unsigned cid = 0;

		fd = open("/dev/vsock", O_RDONLY);
		if (fd < 0 || ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid))
			return die("/dev/vsock");
		printf("%u\n", cid);
		return 0;
	}
	if (!strcmp(cmd, "listen") && argc == 3) {
		fd = vsock(0, (unsigned)atoi(argv[2]), true);
		if (fd < 0)
			return die("listen");
		echo(accept(fd, NULL, NULL));
		return 0;
	}
	if (!strcmp(cmd, "connect") && argc == 5) {
		fd = vsock((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]),
			   false);
		return fd < 0 ? die("connect") : talk(fd, argv[4]);
	}
	if (!strcmp(cmd, "uds-echo") && argc == 3) {
		int c;

		fd = uds(argv[2], true);
		if (fd < 0)
			return die(argv[2]);
		while ((c = accept(fd, NULL, NULL)) >= 0)
			echo(c);
		return die("accept");
	}
	if (!strcmp(cmd, "uds-connect") && argc == 5)
		return uds_connect(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: vsock-l2 cid | listen PORT | connect CID PORT "
		"MSG | uds-echo PATH | uds-connect PATH PORT MSG\n");
	return 2;
}
