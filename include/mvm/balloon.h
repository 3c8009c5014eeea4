/*
 * The virtio-balloon device of a running VM, as its owner sees it (the
 * API's /balloon endpoints, through the VMM): its target, what the driver
 * says it holds and its statistics, free page hinting runs. Loop thread,
 * like the device. Each returns -ENODEV (with a message) when the VM has
 * no balloon.
 */
#ifndef MVM_BALLOON_H
#define MVM_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include "mvm/dev_config.h"

struct dev_ctx;
struct mvm_err;

/* 4 KiB balloon pages (virtio 1.2, 5.5.6: PFNs are in 4 KiB units). */
#define BALLOON_PAGE_SHIFT 12
#define BALLOON_PAGES_PER_MIB 256u
/* amount_mib's largest value: num_pages is a u32. */
#define BALLOON_MAX_MIB (UINT32_MAX / BALLOON_PAGES_PER_MIB)

/* The statistics' tags (5.5.6.3): VIRTIO_BALLOON_S_SWAP_IN = 0 onwards. */
#define BALLOON_STAT_TAGS 16
/* Those dynamic memory reads: free, total and available memory, bytes. */
#define BALLOON_STAT_FREE 4
#define BALLOON_STAT_TOTAL 5
#define BALLOON_STAT_AVAIL 6

/* Free page hinting's command ids (5.5.6.4): 0 and 1, then the runs'. */
#define BALLOON_HINT_STOP 0
#define BALLOON_HINT_DONE 1

struct balloon_info {
	/* As configured; stats_interval_s as it is now. */
	struct balloon_config cfg;
	uint32_t target_pages; /* num_pages: the host's target */
	uint32_t actual_pages; /* actual: what the driver says it holds */
	/* The last value the driver sent of each tag present in stats_seen. */
	uint64_t stats[BALLOON_STAT_TAGS];
	uint32_t stats_seen;   /* bit per tag */
	uint64_t stats_rounds; /* buffers read since the device was made */
	/* Hinting: the host's last command id and the driver's. */
	uint32_t hint_host_cmd;
	uint32_t hint_guest_cmd;
	bool hint_guest_seen;  /* the driver has sent one */
};

int virtio_balloon_info(struct dev_ctx *ctx, struct balloon_info *out,
			struct mvm_err *err);
/*
 * A new target; the driver is told by a config change interrupt (once it
 * is live; before, it reads it when it starts). -EINVAL above
 * BALLOON_MAX_MIB (the caller checks it against the VM's RAM).
 */
int virtio_balloon_set_target(struct dev_ctx *ctx, uint32_t amount_mib,
			      struct mvm_err *err);
/*
 * A new statistics period, Firecracker's rule: only between non-zero
 * values (statistics are on or off for the device's life, -EINVAL
 * otherwise). The driver is asked for fresh statistics at once.
 */
int virtio_balloon_set_stats_interval(struct dev_ctx *ctx,
				      uint16_t interval_s,
				      struct mvm_err *err);
/*
 * A free page hinting run: a new command id the driver answers by hinting
 * its free pages, which go back to the host. With ack_on_stop, the device
 * answers the driver's STOP with DONE itself (the driver may then use the
 * pages again); otherwise virtio_balloon_hint_stop() does. -EINVAL when
 * hinting was not configured.
 */
int virtio_balloon_hint_start(struct dev_ctx *ctx, bool ack_on_stop,
			      struct mvm_err *err);
int virtio_balloon_hint_stop(struct dev_ctx *ctx, struct mvm_err *err);

#endif
