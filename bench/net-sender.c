/*
 * bench/net's host -> guest sender: numbered 60-byte frames into a tap
 * through an AF_PACKET socket, sendmmsg batches of 256, for SECONDS; then
 * an end marker every 2 ms until SIGTERM, when it prints
 *   first=<CLOCK_MONOTONIC seconds of the first send> sent=<N> markers=<M>
 * It backs off 1 ms whenever the tap drops frames (its queue to the VMM is
 * full), so it leaves the VMM the CPU. Written in C because a sender in
 * the script itself topped out near 600,000 frames a second, below what
 * the VMMs take.
 * usage: net-sender TAP DST_MAC SECONDS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256
#define FRAME 60
#define ETHERTYPE 0x88b5
#define CHECK_EVERY 8

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static unsigned long long dropped(const char *tap)
{
	char path[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/tx_dropped",
		 tap);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

int main(int argc, char **argv)
{
	static unsigned char buf[BATCH][FRAME];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_ll sa = { .sll_family = AF_PACKET };
	unsigned long long sent = 0, markers = 0, drops;
	unsigned mac[6], batches = 0;
	double first, end;
	int s;

	if (argc != 4 || sscanf(argv[2], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1],
				&mac[2], &mac[3], &mac[4], &mac[5]) != 6) {
		fprintf(stderr, "usage: net-sender TAP DST_MAC SECONDS\n");
		return 2;
	}
	signal(SIGTERM, on_term);
	s = socket(AF_PACKET, SOCK_RAW, htons(ETHERTYPE));
	sa.sll_protocol = htons(ETHERTYPE);
	sa.sll_ifindex = (int)if_nametoindex(argv[1]);
	if (s < 0 || !sa.sll_ifindex ||
	    bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("net-sender: socket on the tap");
		return 1;
	}
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		unsigned char *f = buf[i];

		memset(f, 0, FRAME);
		for (int k = 0; k < 6; k++)
			f[k] = (unsigned char)mac[k];
		memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
		f[12] = ETHERTYPE >> 8;
		f[13] = ETHERTYPE & 0xff;
		memcpy(f + 14, "mvmb", 4);
		iov[i].iov_base = f;
		iov[i].iov_len = FRAME;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	drops = dropped(argv[1]);
	first = now();
	end = first + atof(argv[3]);
	while (!stop && now() < end) {
		int n;

		for (int i = 0; i < BATCH; i++) {
			uint32_t seq = htonl((uint32_t)(sent + (unsigned)i));

			memcpy(buf[i] + 18, &seq, 4);
			buf[i][22] = 0;
		}
		n = sendmmsg(s, msgs, BATCH, 0);
		if (n > 0)
			sent += (unsigned)n;
		if (++batches % CHECK_EVERY == 0) {
			unsigned long long d = dropped(argv[1]);

			if (d != drops) {
				drops = d;
				usleep(1000);
			}
		}
	}
	while (!stop) {
		uint32_t seq = htonl((uint32_t)sent); /* as the guest expects */

		memcpy(buf[0] + 18, &seq, 4);
		buf[0][22] = 1;
		if (sendmmsg(s, msgs, 1, 0) == 1)
			markers++;
		usleep(2000);
	}
	printf("first=%.6f sent=%llu markers=%llu\n", first, sent, markers);
	return 0;
}
