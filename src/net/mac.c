/* MAC addresses: parsing, stable generation from an id, the spoof filter. */
#include <string.h>

#include "mvm/net.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool net_mac_parse(const char *s, uint8_t mac[NET_MAC_LEN])
{
	uint8_t m[NET_MAC_LEN];

	if (!s || strlen(s) != 17)
		return false;
	for (int i = 0; i < NET_MAC_LEN; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return false;
		m[i] = (uint8_t)(hi << 4 | lo);
	}
	/* A NIC's own address is unicast (I/G bit clear). */
	if (m[0] & 1)
		return false;
	memcpy(mac, m, sizeof(m));
	return true;
}

void net_mac_from_id(const char *id, uint8_t mac[NET_MAC_LEN])
{
	/* FNV-1a, 64-bit: fixed, documented, and spreads short ids well. */
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const char *p = id; *p; p++) {
		h ^= (uint8_t)*p;
		h *= 0x100000001b3ULL;
	}
	for (int i = 0; i < NET_MAC_LEN; i++)
		mac[i] = (uint8_t)(h >> (8 * i));
	/* Locally administered (bit 1) unicast (bit 0 clear). */
	mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02);
}

bool net_tx_allowed(const uint8_t nic_mac[NET_MAC_LEN], bool spoofing,
		    const uint8_t *frame, uint32_t frame_len)
{
	if (spoofing)
		return true;
	if (frame_len < NET_ETH_HLEN)
		return false;
	return memcmp(frame + NET_MAC_LEN, nic_mac, NET_MAC_LEN) == 0;
}
