/*
 * udp-echo ADDR PORT: answer each "mvm-nat-ping" datagram with
 * "mvm-nat-pong", printing "ping from A.B.C.D:P" for each, until killed.
 * Built static for the lab (tests/lab/nested-nat), whose busybox nc has
 * no UDP.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (argc != 3 || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
		fprintf(stderr, "usage: udp-echo ADDR PORT\n");
		return 2;
	}
	a.sin_port = htons((unsigned short)atoi(argv[2]));
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("udp-echo: bind");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		char buf[64], ip[INET_ADDRSTRLEN];
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0,
				     (struct sockaddr *)&from, &fl);

		if (n != 12 || memcmp(buf, "mvm-nat-ping", 12))
			continue;
		inet_ntop(AF_INET, &from.sin_addr, ip, sizeof(ip));
		printf("ping from %s:%u\n", ip, ntohs(from.sin_port));
		sendto(fd, "mvm-nat-pong", 12, 0, (struct sockaddr *)&from, fl);
	}
}
