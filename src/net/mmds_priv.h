/* The MMDS store's fields, shared by its files in src/net only. */
#ifndef MVM_NET_MMDS_PRIV_H
#define MVM_NET_MMDS_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mvm/mmds.h"

struct mmds_token {
	char text[MMDS_TOKEN_LEN + 1]; /* "" when the slot is free */
	uint64_t expiry_ms;            /* on m->now_ms's clock */
};

struct mmds {
	struct json_object *data; /* NULL: JSON null, as before any PUT */
	bool initialized;         /* a PUT has filled it */
	size_t limit;             /* bytes of compact JSON */
	enum mmds_version version;
	bool imds_compat;
	uint64_t (*now_ms)(void);
	struct mmds_token tokens[MMDS_TOKENS_MAX];
};

#endif
