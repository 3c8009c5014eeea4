/*
 * When the source stops the guest for its last pass
 * (include/mvm/migration.h, mig_switchover). The downtime is that pass:
 * its pages are the ones the guest dirtied while the pass before went.
 * Stopping at the first pass whose leftovers fit the limit carries a
 * guest's whole working set in the downtime; a guest that writes slower
 * than the link sends leaves fewer pages after each shorter pass, so
 * passes go on while they halve what is left.
 */
#include "mig_priv.h"

bool mig_switchover(uint64_t left, uint64_t sent, uint64_t est_ns,
		    uint64_t max_downtime_ns)
{
	if (!left)
		return true;
	if (est_ns > max_downtime_ns)
		return false;
	return left <= MIG_CONVERGED_BYTES || left > sent / 2;
}
