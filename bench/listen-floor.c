/*
 * listen-floor: the least a process can do before its API socket accepts:
 * start, bind a Unix socket at PATH, listen, then wait to be killed.
 * bench/api starts it beside mvm, so that the machine's own cost of
 * starting a process and making a socket (and its load) is measured in
 * the same runs as mvm's start -> socket.
 *
 *   listen-floor PATH
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (argc != 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: listen-floor PATH\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 16) < 0) {
		perror("listen-floor");
		return 2;
	}
	pause();
	return 0;
}
