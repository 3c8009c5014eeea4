/*
 * The Linux x86 boot protocol, 64-bit entry (Documentation/x86/boot.rst):
 * the real-mode setup code is never run. mvm plays the part of the setup
 * code instead: it builds the zero page (struct boot_params) from the setup
 * header found in the image, loads the protected-mode kernel, and enters it
 * at load + 0x200 in long mode with RSI pointing at the zero page.
 */
#include <inttypes.h>
#include <string.h>

#include "mvm/boot.h"
#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/mem.h"

#include "loader.h"

/* Offsets in the image, which are also offsets in struct boot_params. */
#define BP_ACPI_RSDP_ADDR 0x070
#define BP_E820_ENTRIES 0x1e8
#define BP_HDR 0x1f1 /* the setup header starts here... */
#define BP_HDR_MAX_END 0x290 /* ...and can grow up to here */
#define BP_E820_TABLE 0x2d0
#define BP_E820_TABLE_MAX 128
#define BP_SIZE 0x1000

#define HDR_SETUP_SECTS 0x1f1
#define HDR_SYSSIZE 0x1f4
#define HDR_VID_MODE 0x1fa
#define HDR_JUMP 0x200
#define HDR_MAGIC 0x202
#define HDR_VERSION 0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS 0x211
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_RELOCATABLE 0x234
#define HDR_XLOADFLAGS 0x236
#define HDR_CMDLINE_SIZE 0x238
#define HDR_SETUP_DATA 0x250
#define HDR_PREF_ADDRESS 0x258
#define HDR_INIT_SIZE 0x260

#define HDRS_MAGIC 0x53726448 /* "HdrS" */
#define LOADED_HIGH 0x01
#define KEEP_SEGMENTS 0x40
#define XLF_KERNEL_64 0x01
#define LOADER_UNDEFINED 0xff
#define VID_MODE_NORMAL 0xffff

/* Oldest protocol with cmdline_size; 64-bit kernels all speak newer ones. */
#define PROTO_MIN 0x206
#define PROTO_INITRD_MAX 0x203
#define PROTO_PREF_ADDRESS 0x20a
#define PROTO_PAYLOAD 0x208
#define PROTO_XLOADFLAGS 0x20c
#define PROTO_RSDP 0x20e
#define OLD_INITRD_ADDR_MAX 0x37ffffffULL
#define ENTRY_64_OFFSET 0x200

/* What the loader learns from the setup header. */
struct bz_info {
	uint16_t version;
	uint64_t setup_size; /* bytes of real-mode code, boot sector included */
	uint64_t kernel_size; /* bytes of protected-mode kernel in the file */
	uint64_t load;
	uint64_t init_size; /* memory the kernel needs from load onwards */
	uint64_t initrd_ceil; /* exclusive */
	uint64_t cmdline_limit;
};

bool bzimage_probe(const uint8_t *img, uint64_t size)
{
	return size >= HDR_MAGIC + 4 && get_le32(img + HDR_MAGIC) == HDRS_MAGIC;
}

static int parse_sizes(const struct boot_input *in, struct bz_info *bz,
		       struct mvm_err *err)
{
	const uint8_t *img = in->kernel;
	uint64_t sects = img[HDR_SETUP_SECTS];

	if (sects == 0)
		sects = 4; /* the protocol's historical default */
	bz->setup_size = (sects + 1) * 512;
	if (bz->setup_size > in->kernel_size)
		return mvm_fail(err, -EINVAL,
				"kernel %s: truncated: setup code needs %" PRIu64 " bytes but the file has %zu",
				in->kernel_name, bz->setup_size, in->kernel_size);
	bz->kernel_size = (uint64_t)get_le32(img + HDR_SYSSIZE) * 16;
	if (bz->kernel_size == 0)
		return mvm_fail(err, -EINVAL,
				"kernel %s: the setup header gives no kernel size (syssize 0)",
				in->kernel_name);
	if (bz->kernel_size > in->kernel_size - bz->setup_size)
		return mvm_fail(err, -EINVAL,
				"kernel %s: truncated: syssize says %" PRIu64 " bytes of kernel after the setup code but the file has %" PRIu64,
				in->kernel_name, bz->kernel_size,
				in->kernel_size - bz->setup_size);
	return 0;
}

static int parse_header(const struct guest_mem *gm, const struct boot_input *in,
			struct bz_info *bz, struct mvm_err *err)
{
	const uint8_t *img = in->kernel;
	uint64_t low_end = gm_low_end(gm);
	uint64_t max;
	int ret;

	/* The setup header reaches at least 0x26c for any protocol we take. */
	if (in->kernel_size < BP_HDR_MAX_END)
		return mvm_fail(err, -EINVAL,
				"kernel %s: truncated: %zu bytes cannot hold a setup header",
				in->kernel_name, in->kernel_size);
	bz->version = get_le16(img + HDR_VERSION);
	if (bz->version < PROTO_MIN)
		return mvm_fail(err, -EINVAL,
				"kernel %s: boot protocol %u.%02u is too old; 2.06 or later is required",
				in->kernel_name, bz->version >> 8,
				bz->version & 0xff);
	if (bz->version < PROTO_XLOADFLAGS ||
	    !(get_le16(img + HDR_XLOADFLAGS) & XLF_KERNEL_64))
		return mvm_fail(err, -EINVAL,
				"kernel %s: not a 64-bit kernel (no XLF_KERNEL_64 in the boot protocol %u.%02u header)",
				in->kernel_name, bz->version >> 8,
				bz->version & 0xff);
	ret = parse_sizes(in, bz, err);
	if (ret)
		return ret;

	bz->load = LAYOUT_HIGH;
	if (img[HDR_RELOCATABLE] && bz->version >= PROTO_PREF_ADDRESS)
		bz->load = get_le64(img + HDR_PREF_ADDRESS);
	bz->init_size = get_le32(img + HDR_INIT_SIZE);
	if (bz->init_size < bz->kernel_size)
		bz->init_size = bz->kernel_size;
	if (bz->load < LAYOUT_HIGH || !gm_is_ram(gm, bz->load, bz->init_size))
		return mvm_fail(err, -ENOSPC,
				"kernel %s: needs %" PRIu64 " MiB of RAM at 0x%" PRIx64 " but the guest has %" PRIu64 " MiB",
				in->kernel_name, (bz->init_size + MIB - 1) / MIB,
				bz->load, gm->ram_size / MIB);

	max = bz->version >= PROTO_INITRD_MAX ?
		      get_le32(img + HDR_INITRD_ADDR_MAX) :
		      OLD_INITRD_ADDR_MAX;
	/* initrd_addr_max is the last byte the initrd may occupy. */
	bz->initrd_ceil = max + 1 < low_end ? max + 1 : low_end;
	bz->cmdline_limit = get_le32(img + HDR_CMDLINE_SIZE);
	return 0;
}

static void put_e820(uint8_t *bp, const struct e820_map *map)
{
	int nr = map->nr;

	if (nr > BP_E820_TABLE_MAX)
		nr = BP_E820_TABLE_MAX;
	if (nr < 0)
		nr = 0;
	bp[BP_E820_ENTRIES] = (uint8_t)nr;
	memcpy(bp + BP_E820_TABLE, map->e, nr * sizeof(struct e820_entry));
}

/* Build boot_params the way the real-mode setup code would have. */
static int put_zero_page(struct guest_mem *gm, const struct boot_input *in,
			 const struct bz_info *bz, uint64_t initrd_addr,
			 struct mvm_err *err)
{
	const uint8_t *img = in->kernel;
	uint64_t hdr_end = HDR_MAGIC + (uint64_t)img[HDR_JUMP + 1];
	uint8_t bp[BP_SIZE];

	/* The jump at 0x200 skips exactly the header: its byte sizes it. */
	if (hdr_end > BP_HDR_MAX_END)
		hdr_end = BP_HDR_MAX_END;
	memset(bp, 0, sizeof(bp));
	memcpy(bp + BP_HDR, img + BP_HDR, hdr_end - BP_HDR);

	put_le16(bp + HDR_VID_MODE, VID_MODE_NORMAL);
	bp[HDR_TYPE_OF_LOADER] = LOADER_UNDEFINED;
	/* The kernel is where it wants to be; segments are ours to set. */
	bp[HDR_LOADFLAGS] = (bp[HDR_LOADFLAGS] | LOADED_HIGH) & ~KEEP_SEGMENTS;
	put_le32(bp + HDR_CMD_LINE_PTR, (uint32_t)LAYOUT_CMDLINE);
	put_le64(bp + HDR_SETUP_DATA, 0);
	/* Whatever the image had there is not ours to pass on. */
	put_le32(bp + HDR_RAMDISK_IMAGE, in->initrd ? (uint32_t)initrd_addr : 0);
	put_le32(bp + HDR_RAMDISK_SIZE,
		 in->initrd ? (uint32_t)in->initrd_size : 0);
	if (bz->version >= PROTO_RSDP)
		put_le64(bp + BP_ACPI_RSDP_ADDR, in->rsdp);
	if (in->e820)
		put_e820(bp, in->e820);
	if (gm_write(gm, LAYOUT_ZERO_PAGE, bp, sizeof(bp)))
		return mvm_fail(err, -EFAULT,
				"kernel %s: guest RAM does not cover the zero page at 0x%llx",
				in->kernel_name, LAYOUT_ZERO_PAGE);
	return 0;
}

int boot_load_bzimage(struct guest_mem *gm, const struct boot_input *in,
		      struct boot_entry *out, struct mvm_err *err)
{
	struct bz_info bz = { 0 };
	uint64_t initrd_addr = 0;
	uint64_t kernel_end;
	int ret;

	if (!bzimage_probe(in->kernel, in->kernel_size))
		return -ENOEXEC;
	ret = parse_header(gm, in, &bz, err);
	if (ret)
		return ret;
	ret = boot_put_cmdline(gm, in->cmdline, bz.cmdline_limit, err);
	if (ret)
		return ret;

	memset(out, 0, sizeof(*out));
	out->format = BOOT_FMT_BZIMAGE;
	out->rip = bz.load + ENTRY_64_OFFSET;
	kernel_end = bz.load + bz.init_size;
	/* parse_header proved [load, kernel_end) is RAM. */
	if (bz.version >= PROTO_PAYLOAD &&
	    bzimage_unpack_wanted(in->cmdline) &&
	    bzimage_unpack(gm, in, bz.setup_size, bz.load, kernel_end,
			   &out->rip) == 0)
		out->format = BOOT_FMT_BZIMAGE_UNPACKED;
	else
		gm_write(gm, bz.load, in->kernel + bz.setup_size,
			 bz.kernel_size);
	if (in->initrd) {
		/* ramdisk_size is 32 bits wide; ext_ramdisk_size is not used. */
		if (in->initrd_size > UINT32_MAX)
			return mvm_fail(err, -EFBIG,
					"initrd %s: %zu MiB is larger than the 4 GiB the boot protocol can describe",
					in->initrd_name, in->initrd_size >> 20);
		ret = boot_put_initrd(gm, in, kernel_end, bz.initrd_ceil,
				      &initrd_addr, err);
		if (ret)
			return ret;
	}
	ret = put_zero_page(gm, in, &bz, initrd_addr, err);
	if (ret)
		return ret;

	out->mode = BOOT_MODE_LONG64;
	out->rsp = LAYOUT_STACK_TOP;
	out->rsi = LAYOUT_ZERO_PAGE;
	return 0;
}
