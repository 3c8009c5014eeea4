/*
 * hostfwd rules as QEMU writes them: [tcp|udp]:[HOSTADDR]:HOSTPORT-
 * [GUESTADDR]:GUESTPORT. Text from the command line, an API body or a
 * config file: every part is checked, and a message names the bad one.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/slirp_net.h"

/* An IPv4 address, or "" for 0.0.0.0. */
static bool parse_addr(const char *s, size_t n, struct in_addr *a)
{
	char buf[INET_ADDRSTRLEN];

	if (!n) {
		a->s_addr = 0;
		return true;
	}
	if (n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = 0;
	return inet_pton(AF_INET, buf, a) == 1;
}

/* A port, 1-65535, in decimal digits only. */
static bool parse_port(const char *s, size_t n, uint16_t *port)
{
	unsigned v = 0;

	if (!n || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (!v || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* "ADDR:PORT" of length n; which names it in a message. */
static int parse_end(const char *rule, const char *s, size_t n,
		     const char *which, struct in_addr *a, uint16_t *port,
		     struct mvm_err *err)
{
	const char *colon = memchr(s, ':', n);

	if (!colon)
		return mvm_fail(err, -EINVAL, "hostfwd '%s': the %s side needs "
				"ADDR:PORT (the address may be empty)", rule,
				which);
	if (!parse_addr(s, (size_t)(colon - s), a))
		return mvm_fail(err, -EINVAL, "hostfwd '%s': bad %s address "
				"'%.*s'", rule, which, (int)(colon - s), s);
	if (!parse_port(colon + 1, n - (size_t)(colon + 1 - s), port))
		return mvm_fail(err, -EINVAL, "hostfwd '%s': bad %s port "
				"'%.*s' (1 to 65535)", rule, which,
				(int)(n - (size_t)(colon + 1 - s)), colon + 1);
	return 0;
}

int slirp_net_hostfwd_parse(const char *s, struct slirp_net_hostfwd *fwd,
			    struct mvm_err *err)
{
	const char *p = s, *colon, *dash;
	int ret;

	memset(fwd, 0, sizeof(*fwd));
	if (strlen(s) >= SLIRP_NET_HOSTFWD_STR)
		return mvm_fail(err, -EINVAL, "hostfwd '%.60s': too long", s);
	/* The protocol comes first, always, and may be empty (tcp). */
	colon = strchr(p, ':');
	if (!colon)
		return mvm_fail(err, -EINVAL, "hostfwd '%s': expected "
				"[tcp|udp]:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT",
				s);
	if (colon - p == 3 && !strncmp(p, "udp", 3))
		fwd->udp = true;
	else if (colon != p && (colon - p != 3 || strncmp(p, "tcp", 3)))
		return mvm_fail(err, -EINVAL, "hostfwd '%s': protocol '%.*s': "
				"tcp or udp", s, (int)(colon - p), p);
	p = colon + 1;
	dash = strchr(p, '-');
	if (!dash)
		return mvm_fail(err, -EINVAL, "hostfwd '%s': expected "
				"[tcp|udp]:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT",
				s);
	ret = parse_end(s, p, (size_t)(dash - p), "host", &fwd->host_addr,
			&fwd->host_port, err);
	if (!ret)
		ret = parse_end(s, dash + 1, strlen(dash + 1), "guest",
				&fwd->guest_addr, &fwd->guest_port, err);
	return ret;
}

void slirp_net_hostfwd_format(const struct slirp_net_hostfwd *fwd,
			      char buf[SLIRP_NET_HOSTFWD_STR])
{
	char h[INET_ADDRSTRLEN] = "", g[INET_ADDRSTRLEN] = "";

	if (fwd->host_addr.s_addr)
		inet_ntop(AF_INET, &fwd->host_addr, h, sizeof(h));
	if (fwd->guest_addr.s_addr)
		inet_ntop(AF_INET, &fwd->guest_addr, g, sizeof(g));
	snprintf(buf, SLIRP_NET_HOSTFWD_STR, "%s:%s:%u-%s:%u",
		 fwd->udp ? "udp" : "tcp", h, fwd->host_port, g,
		 fwd->guest_port);
}
