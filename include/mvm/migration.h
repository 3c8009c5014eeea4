/*
 * Live migration's stream format (the migration layer): pure, no sockets,
 * no KVM. Every message is a section, a 24-byte header then `len` bytes
 * of payload, all little-endian:
 *
 *   u32 magic  MIG_MAGIC ("MVMS" in memory order)
 *   u16 type   enum mig_section
 *   u16 flags  0 (anything else is refused)
 *   u64 len    payload bytes, within the type's limits (below)
 *   u32 crc    CRC32C of the payload
 *   u32 hcrc   CRC32C of the header's first 20 bytes
 *
 * Types, direction, payload (length):
 *   HELLO     src->dst  struct mig_hello, mig_hello_encode (<= 1 MiB)
 *   ACCEPT    dst->src  u32 flags: MIG_ACCEPT_NESTED_STATE (4)
 *   PAGES     src->dst  u64 gpa, u32 npages, u32 kind, then npages * 4 KiB
 *                       of data (MIG_PAGES_DATA) or nothing (MIG_PAGES_ZERO:
 *                       the destination zeroes them); 1..MIG_PAGES_MAX
 *                       pages, gpa 4 KiB-aligned, all in one region of RAM
 *   PASS_END  src->dst  u32 pass: 1, 2, ... (4)
 *   STATE     src->dst  u64 paused_realtime_ns, then the snapshot layer's
 *                       state file, its mem-file absent (<= 64 MiB)
 *   READY     dst->src  nothing
 *   COMMIT    src->dst  nothing
 *   DONE      dst->src  u64 downtime_ns, the destination's measure (8)
 *   ABORT     either    the reason: UTF-8 without NUL (1..1024); the end
 *
 * src->dst: HELLO, (PAGES | PASS_END)*, STATE, COMMIT; dst->src: ACCEPT,
 * READY, DONE; an ABORT may replace any of them and ends the stream.
 * Anything else out of order is a stream error.
 */
#ifndef MVM_MIGRATION_H
#define MVM_MIGRATION_H

#include <linux/kvm.h> /* struct kvm_cpuid2 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mvm/dev_config.h"
#include "mvm/mem.h"
#include "mvm/mem_file.h"

struct mvm_err;

#define MIG_MAGIC 0x534d564du
#define MIG_VERSION 1u
#define MIG_HDR_SIZE 24u
#define MIG_PAGE 4096u
#define MIG_PAGES_MAX 256u
#define MIG_PAGES_HDR 16u
#define MIG_STATE_MAX (64u << 20)
#define MIG_HELLO_MAX (1u << 20)
#define MIG_REASON_MAX 1024u
#define MIG_ACCEPT_NESTED_STATE 1u
/* The largest PAGES section: a buffer this big always takes one. */
#define MIG_PAGES_SECTION_MAX \
	(MIG_HDR_SIZE + MIG_PAGES_HDR + MIG_PAGES_MAX * MIG_PAGE)
/* STATE's fixed part before the state file: u64 paused_realtime_ns. */
#define MIG_STATE_HDR 8u

enum mig_section { MIG_HELLO = 1, MIG_ACCEPT, MIG_PAGES, MIG_PASS_END,
		   MIG_STATE, MIG_READY, MIG_COMMIT, MIG_DONE, MIG_ABORT };
enum mig_pages_kind { MIG_PAGES_DATA = 0, MIG_PAGES_ZERO = 1 };

struct mig_hdr {
	uint32_t magic;
	uint16_t type;
	uint16_t flags;
	uint64_t len;
	uint32_t crc;
	uint32_t hcrc;
};

/* "HELLO", "ACCEPT", ...; "unknown" for any other number. */
const char *mig_section_name(unsigned type);

/*
 * CRC32C (Castagnoli; init ~0, final ~0: crc32c("123456789") is
 * 0xE3069283). crc = 0 to start; passing the last result on continues
 * it: mig_crc32c(mig_crc32c(0, a, n), b, m) is the CRC of a then b. With
 * SSE 4.2's crc32 instruction where the CPU has it, a table otherwise.
 */
uint32_t mig_crc32c(uint32_t crc, const void *buf, size_t len);
/* The table's way, on any CPU (tests compare the two). */
uint32_t mig_crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* Whether this CPU has SSE 4.2; mig_crc32c_hw may be called only then. */
bool mig_crc32c_have_hw(void);
uint32_t mig_crc32c_hw(uint32_t crc, const void *buf, size_t len);

/*
 * A whole section (header + payload) into out: its size, or 0 if it does
 * not fit in cap, or if type and len are not a section a receiver takes
 * (an unknown type, len outside the type's limits: a bug of the caller).
 * The payload may already be at out + MIG_HDR_SIZE (it is moved, not
 * copied over itself).
 */
size_t mig_section_put(void *out, size_t cap, enum mig_section type,
		       const void *payload, size_t len);
/*
 * Just the header (MIG_HDR_SIZE bytes) of a section whose payload, of
 * len bytes and CRC32C crc, the caller sends after it.
 */
void mig_hdr_put(void *out, enum mig_section type, uint64_t len,
		 uint32_t crc);
/*
 * The first MIG_HDR_SIZE + MIG_STATE_HDR bytes of a STATE section whose
 * state file (len bytes) the caller sends right after them, without a
 * copy: returns their number, or 0 when the payload would be over
 * MIG_STATE_MAX.
 */
size_t mig_state_head_put(void *out, uint64_t paused_realtime_ns,
			  const void *state, size_t len);
/*
 * Header bytes (MIG_HDR_SIZE) -> h, checked in order: magic, hcrc, flags
 * 0, a known type, len within the type's limits. -EINVAL naming the
 * section type (once known) and what is wrong.
 */
int mig_hdr_decode(const void *in, struct mig_hdr *h, struct mvm_err *err);
/* The payload's CRC32C against h->crc: 0 or -EINVAL. */
int mig_payload_check(const struct mig_hdr *h, const void *payload,
		      struct mvm_err *err);

/*
 * HELLO payload: u32 version, u32 flags, u32 vcpus, u32 nr_regions,
 * u64 mem_mib, u64 src_realtime_ns, nr_regions x {u64 gpa, u64 size},
 * u32 nr_cpuid, nr_cpuid x {u32 function, index, flags, eax, ebx, ecx,
 * edx}; then, with MIG_HELLO_HOTPLUG only, u64 hotplug_total_mib,
 * hotplug_slot_mib, hotplug_block_mib (the machine's memory-hotplug: its
 * region is one of the regions, above RAM, so that the destination can
 * make the same memory before any page comes).
 */
#define MIG_HELLO_NESTED 1u       /* nesting is exposed to the guest */
#define MIG_HELLO_NESTED_STATE 2u /* the vCPUs will carry nested state
				     (allow_nested_state used) */
#define MIG_HELLO_HOTPLUG 4u      /* hotpluggable memory (virtio-mem) */
#define MIG_HELLO_CPUID_MAX 256u
struct mig_hello {
	uint32_t version, flags, vcpus;
	uint64_t mem_mib, src_realtime_ns;
	struct gm_file_region regions[MEM_MAX_REGIONS]; /* offset unused (0) */
	unsigned nr_regions;
	struct kvm_cpuid2 *cpuid; /* the guest's CPUID (vCPU 0's); owned,
				     malloc'd */
	/*
	 * MIG_HELLO_HOTPLUG: the sizes of the machine's hotpluggable memory
	 * (requested_mib is not sent: the device's state says it). Their
	 * rules are the VM's (vm_hotplug_problem): the destination checks.
	 */
	struct mem_hotplug_config hotplug;
};
/*
 * h into a new buffer (*buf, *len; the caller frees *buf). MIG_VERSION is
 * written whatever h->version says. What is written is decoded back
 * first: mvm never sends a HELLO it would refuse.
 */
int mig_hello_encode(const struct mig_hello *h, void **buf, size_t *len,
		     struct mvm_err *err);
/*
 * Hostile: version == MIG_VERSION, only known flags, vcpus
 * 1..VM_MAX_VCPUS, regions as gm_file_layout_check has them (packed in
 * that order) with sizes summing to mem_mib MiB plus hotplug.total_mib
 * (non-zero with MIG_HELLO_HOTPLUG, 0 without), nr_cpuid
 * 1..MIG_HELLO_CPUID_MAX without two entries for one (function, index),
 * exact length. -EINVAL "HELLO: <what>"; h is filled only on success (on
 * failure it is left empty: nothing to free).
 */
int mig_hello_decode(const void *buf, size_t len, struct mig_hello *h,
		     struct mvm_err *err);
/* Free what h owns and zero it. Safe on a zeroed h. */
void mig_hello_free(struct mig_hello *h);

/*
 * Drop the later entries of a (function, index) given twice: KVM's own
 * lookup finds the first, so the guest sees that one. Returns how many
 * went. (A vCPU's table can hold such repeats; HELLO refuses them.)
 */
unsigned mig_cpuid_unique(struct kvm_cpuid2 *c);

/*
 * The guest's CPU features that `supported` (KVM_GET_SUPPORTED_CPUID)
 * lacks, over the feature leaves (1: ecx edx; 7.0: ebx ecx edx; 7.1: eax;
 * 0xd.1: eax; 0x80000001: ecx edx; 0x80000007: edx; 0x80000008: ebx):
 * 0, or -EINVAL "the guest uses CPU features this host's KVM cannot
 * provide: avx512f, sha_ni, leaf 0x7.0 ebx bit 30" (known names from a
 * table; others as leaf/reg/bit). Not checked: bits KVM provides
 * regardless of its list (hypervisor, x2apic, tsc_deadline_timer), the
 * ones that follow the guest's own CR4 (osxsave, ospke), mvm's topology
 * (ht), and nesting's (vmx, svm: the nested checks are separate).
 */
int mig_cpuid_check(const struct kvm_cpuid2 *guest,
		    const struct kvm_cpuid2 *supported, struct mvm_err *err);

/*
 * The receiver: bytes in, events out. The destination's (mig_rx_init)
 * takes the source's stream and applies PAGES into gm; the source's
 * (mig_rx_init_replies) takes the destination's answers.
 */
enum mig_rx_event { MIG_RX_NONE, MIG_RX_HELLO, MIG_RX_PASS_END,
		    MIG_RX_STATE, MIG_RX_COMMIT, MIG_RX_ABORT,
		    /* the destination's answers (mig_rx_init_replies) */
		    MIG_RX_ACCEPT, MIG_RX_READY, MIG_RX_DONE };
struct mig_rx {
	struct guest_mem *gm; /* set by the owner after HELLO (NULL before:
				 PAGES then is an error) */
	/* progress, for GET /migration */
	uint64_t bytes, pages_data, pages_zero;
	uint32_t passes;
	/*
	 * The last event's payload (HELLO, STATE, ABORT; ACCEPT, DONE):
	 * valid until the next mig_rx_feed, and followed by a NUL byte not
	 * counted in payload_len (an ABORT's reason is a C string).
	 */
	const uint8_t *payload;
	size_t payload_len;
	/* STATE: its first field (the state file is payload + 8) */
	uint64_t paused_realtime_ns;
	/* ACCEPT's flags; DONE's downtime */
	uint32_t accept_flags;
	uint64_t downtime_ns;

	/* private (rx.c) */
	int phase;            /* what may come next */
	bool replies;         /* the source's receiver */
	bool stopped;         /* an error, COMMIT, ABORT or DONE: no more */
	uint8_t head[MIG_HDR_SIZE]; /* the header being read */
	size_t head_got;
	struct mig_hdr hdr;   /* its decoded form, once head_got is full */
	uint64_t at;          /* the section's offset in the stream */
	uint64_t got;         /* payload bytes of it received */
	uint8_t pages_head[MIG_PAGES_HDR];
	uint8_t *dst;         /* PAGES DATA: where in gm the data goes */
	uint32_t crc;         /* PAGES: the CRC so far */
	uint8_t *buf;         /* other payloads, whole */
	size_t buf_cap;
};
/* The destination's receiver of the source's stream. */
void mig_rx_init(struct mig_rx *rx);
/* The source's receiver of the destination's ACCEPT, READY, DONE. */
void mig_rx_init_replies(struct mig_rx *rx);
void mig_rx_fini(struct mig_rx *rx);
/*
 * Consume up to len bytes: returns how many were consumed (>= 0) and
 * *ev; stops right after a section that is an event other than NONE
 * (PAGES are applied into gm here and produce no event; a DATA section's
 * bytes go into gm as they come and its CRC is checked at its end: on a
 * mismatch the stream fails and RAM holds bytes the owner must discard,
 * as it does after any stream error). -EINVAL on a bad stream (the
 * message names the section type, its offset in the stream and what is
 * wrong). After an error, or after COMMIT, ABORT or DONE, every call
 * fails.
 */
ssize_t mig_rx_feed(struct mig_rx *rx, const void *data, size_t len,
		    enum mig_rx_event *ev, struct mvm_err *err);
/*
 * Where the stream's next bytes may be received in place, without a
 * copy: inside a PAGES DATA section whose own header is in and checked
 * (its range inside guest RAM), the rest of its pages; NULL anywhere
 * else. *room is how many bytes complete what the receiver is in now
 * (a header, PAGES' own header, a payload; 0 once the stream is over),
 * so that the owner reads no further than where the next place begins.
 * Bytes received at the place returned are then fed from there
 * (mig_rx_feed(rx, place, n, ...), n <= *room): they are checked and
 * counted as any others, their CRC at the section's end; on a bad one
 * RAM holds them and the owner discards it, as after any stream error.
 */
uint8_t *mig_rx_direct(const struct mig_rx *rx, size_t *room);

/*
 * The source's page batcher. dirty[i] (region i's bitmap, bit per 4 KiB
 * page as in mem_file.h) or, when dirty is NULL (the first pass), every
 * page of every region that is present (gm_pages_present, as the Full
 * save does) and not all zero. Appends PAGES sections (runs of
 * consecutive pages, <= MIG_PAGES_MAX each; DATA copied into buf and
 * CRC'd from the copy: the guest may write meanwhile; in later passes an
 * all-zero dirty run goes as ZERO) to buf from cursor c, until the next
 * section would not fit or the pages are done (c->done). A run is cut to
 * what still fits, so any cap >= MIG_HDR_SIZE + MIG_PAGES_HDR + MIG_PAGE
 * progresses; MIG_PAGES_SECTION_MAX fills whole sections. Returns the
 * bytes appended; adds to *st (NULL: not counted). Clears nothing.
 */
struct mig_tx_cursor {
	int region;
	uint64_t page;
	bool done;
};
struct mig_tx_stats {
	uint64_t pages_data, pages_zero, pages_skipped;
};
size_t mig_tx_fill(const struct guest_mem *gm, unsigned long *const dirty[],
		   struct mig_tx_cursor *c, void *buf, size_t cap,
		   struct mig_tx_stats *st);
/*
 * The same without copying, for a guest that stands still (the last
 * pass, the VM paused): the sections' headers go into hbuf (hcap bytes),
 * iov (iovcap entries, at least 2; *niov used) points at them and at the
 * pages in guest RAM, whose CRC is taken there. At most max_bytes (at
 * least MIG_PAGES_SECTION_MAX to make progress) are described; returns
 * how many. The RAM must not change until they are sent.
 */
struct iovec;
size_t mig_tx_fill_iov(const struct guest_mem *gm,
		       unsigned long *const dirty[], struct mig_tx_cursor *c,
		       void *hbuf, size_t hcap, struct iovec *iov,
		       unsigned iovcap, unsigned *niov, size_t max_bytes,
		       struct mig_tx_stats *st);

/*
 * The source's switchover: stop the guest for the last pass now, with
 * left dirty bytes after a pass that sent sent bytes, est_ns the time
 * they would take? Not while est_ns is over max_downtime_ns. Within it,
 * another pass pays while it shrinks them (the guest dirtied them while
 * this pass went, so a shorter pass leaves fewer still, and the downtime
 * is the last pass): passes go on while each halves what is left, down
 * to MIG_CONVERGED_BYTES. That is a log2 of RAM's pages more at most; a
 * guest that dirties as fast as the link sends stops at the first pass
 * that fits.
 */
#define MIG_CONVERGED_BYTES (256u << 10)
bool mig_switchover(uint64_t left, uint64_t sent, uint64_t est_ns,
		    uint64_t max_downtime_ns);

/* How many bits are set over gm's regions' bitmaps (their pages only). */
uint64_t mig_dirty_count(const struct guest_mem *gm,
			 unsigned long *const dirty[]);

#endif
