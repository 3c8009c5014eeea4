/*
 * What the migration layer's files share and nothing else sees: the
 * limits of each section type and little-endian access to the wire.
 */
#ifndef MVM_MIGRATION_MIG_PRIV_H
#define MVM_MIGRATION_MIG_PRIV_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

#include "mvm/migration.h"

/* The payload lengths a section type may have: min..max bytes. */
struct mig_limits {
	uint64_t min, max;
};

/* Of a known type (1..MIG_ABORT); false for any other. */
bool mig_type_limits(unsigned type, struct mig_limits *l);

static inline uint32_t mig_get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t mig_get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline uint8_t *mig_put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
	return p + sizeof(v);
}

static inline uint8_t *mig_put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
	return p + sizeof(v);
}

#endif
