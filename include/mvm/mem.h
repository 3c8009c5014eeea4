/*
 * Guest physical memory: regions of anonymous memory in this process (on
 * huge pages where the host has them), registered with KVM. Every access
 * to guest memory made on behalf of the guest goes through gm_ptr(), which
 * refuses ranges that are not wholly inside one region, so hostile guest
 * addresses can never reach host memory.
 */
#ifndef MVM_MEM_H
#define MVM_MEM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mvm_err;

/* x86 layout: RAM below the 32-bit hole, then the rest above 4 GiB. */
#define MEM_HOLE_START 0xC0000000ULL /* PCI MMIO, IOAPIC, LAPIC live here */
#define MEM_HOLE_END 0x100000000ULL
#define MEM_MAX_REGIONS 8

struct mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
	void *map_base; /* the whole mapping; NULL when the caller owns it */
	uint64_t map_len;
	/* Restored RAM: where the region's bytes are in the memory file. */
	uint64_t file_off;
	/*
	 * The pages the VMM itself touched through gm_ptr() since the last
	 * gm_dirty_take(), a bit per 4 KiB page (mvm/mem_file.h); NULL while
	 * dirty pages are not tracked.
	 */
	atomic_ulong *dirty;
	/*
	 * The virtio-mem device's region (gm_add_hotplug): guest memory the
	 * devices may reach, but not RAM at boot (e820 and the loaders skip
	 * it); the guest learns of it from the device alone.
	 */
	bool hotplug;
	/* The host page backing the region: 0 for 4 KiB, else its size. */
	uint64_t page_size;
	/*
	 * RAM shared with a file (a memfd, hugetlbfs): shared_fd, and where
	 * the region starts in it; discarding punches a hole there. Private
	 * memory (anonymous, or a file mapped private) has shared false.
	 */
	bool shared;
	int shared_fd;
	uint64_t shared_off;
};

/* What backs guest RAM: fresh memory, or a snapshot's memory file. */
enum gm_backing {
	GM_BACKING_ANON, /* gm_alloc, gm_add_host */
	GM_BACKING_FILE, /* gm_map_file: the file, mapped private */
	GM_BACKING_UFFD, /* gm_map_uffd: a page fault handler fills it */
};

struct guest_mem {
	struct mem_region r[MEM_MAX_REGIONS];
	int nr;
	uint64_t ram_size; /* total bytes of RAM over all regions */
	enum gm_backing backing;
	/*
	 * Kept open as long as the regions exist (gm_free closes them):
	 * GM_BACKING_FILE: the memory file, whose holes a Full snapshot
	 * need not read; GM_BACKING_UFFD: the userfaultfd and the socket to
	 * the handler, which sees mvm is gone when the socket closes.
	 */
	int file_fd;
	int uffd;
	int uffd_sock;
};

/* What backs guest RAM (Firecracker's machine-config huge_pages). */
enum gm_pages {
	GM_PAGES_TRANSPARENT, /* THP where the host has them: the default */
	GM_PAGES_SMALL,       /* 4 KiB pages only ("None") */
	GM_PAGES_HUGE_2M,     /* hugetlbfs 2 MiB pages, reserved up front */
};

/* Their names in enum order, NULL-terminated: the API's and the CLI's. */
extern const char *const gm_pages_names[];

/*
 * Allocate ram_bytes of RAM laid out around the 32-bit hole, backed as
 * pages says. GM_PAGES_TRANSPARENT: above the first 2 MiB, and only for
 * 128 MiB of RAM or more (smaller guests get 4 KiB pages throughout).
 * GM_PAGES_HUGE_2M needs a whole number of 2 MiB pages and enough free
 * ones in the host's pool, or fails here with why.
 */
int gm_alloc(struct guest_mem *gm, uint64_t ram_bytes, enum gm_pages pages,
	     struct mvm_err *err);
/*
 * Add the virtio-mem device's region: size bytes at gpa (both 2 MiB
 * multiples) of anonymous memory, reserved but never populated up front
 * (MAP_NORESERVE): a block's pages come when the guest first touches it
 * and go back with gm_discard. Transparent huge pages unless pages says
 * GM_PAGES_SMALL (hugetlbfs RAM is not reserved for it: what the guest
 * never plugs must cost nothing).
 */
int gm_add_hotplug(struct guest_mem *gm, uint64_t gpa, uint64_t size,
		   enum gm_pages pages, struct mvm_err *err);
/* Add a region backed by caller-provided host memory (tests, fuzzers). */
int gm_add_host(struct guest_mem *gm, uint64_t gpa, void *hva, uint64_t size);
void gm_free(struct guest_mem *gm);

/* Host pointer for [gpa, gpa+len) or NULL if any byte is outside RAM. */
void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
bool gm_is_ram(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
/*
 * With dirty pages tracked, mark [gpa, gpa+len) as written by the VMM
 * now. gm_ptr() marks when the pointer is taken, which is before the
 * write: a write through a pointer kept for later (a ring's, a request's
 * buffer filled by an I/O that completes later) must be marked again
 * once done, or a collect between the two would miss it for good. Bytes
 * outside RAM are ignored; without tracking it does nothing.
 */
void gm_mark_written(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src,
	     uint64_t len);
int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len);

/*
 * Give the host back the RAM under [gpa, gpa+len) (a balloon's inflated
 * pages, a guest's reported free ranges, virtio-mem's unplugged blocks):
 * its RSS drops, and the guest reads zeros there afterwards (RAM restored
 * from a memory file: the file's bytes). gpa and len are 4 KiB-aligned,
 * the range inside one region (the hotplug region is one). Private RAM is
 * madvise(MADV_DONTNEED)'d, shared RAM punched (fallocate); on 2 MiB huge
 * pages only the whole huge pages inside the range go back, the rest
 * stays as it was. Caller-owned regions (gm_add_host) are zeroed. With
 * dirty pages tracked, what went back is marked: a Diff must carry the
 * change. 0, or -EINVAL naming the range, or -errno.
 */
int gm_discard(const struct guest_mem *gm, uint64_t gpa, uint64_t len,
	       struct mvm_err *err);

/* Highest RAM address below 4 GiB (exclusive end of low RAM). */
uint64_t gm_low_end(const struct guest_mem *gm);

#endif
