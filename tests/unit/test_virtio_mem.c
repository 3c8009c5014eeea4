/*
 * virtio-mem (virtio 1.2, 5.15) without a guest: the request engine
 * answers every request as the spec says (ERROR for hostile ranges,
 * NACK beyond requested_size, BUSY when memory cannot go back) and gives
 * unplugged blocks back; the device shows its region in config space,
 * takes a new requested size, and its state comes back in a fresh device
 * of the same region while a foreign or inconsistent blob is refused.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/dev_config.h"
#include "mvm/err.h"
#include "mvm/virtio_dev.h"

#include "../../src/devices/virtio/virtio_mem.h"
#include "fake_vm.h"

#define MIB (UINT64_C(1) << 20)
#define BASE (UINT64_C(4) << 30)
#define BLOCK (2 * MIB)
#define NBLK 64 /* a 128 MiB region */

/* What the engine gave back, and whether to refuse. */
static uint64_t gone_gpa, gone_len;
static unsigned gone_calls;
static bool refuse_discard;

static int fake_discard(void *arg, uint64_t gpa, uint64_t len)
{
	(void)arg;
	if (refuse_discard)
		return -EIO;
	gone_gpa = gpa;
	gone_len = len;
	gone_calls++;
	return 0;
}

static struct vmem_blocks blocks(uint64_t requested)
{
	struct vmem_blocks b;

	cr_assert_eq(vmem_blocks_init(&b, BASE, NBLK * BLOCK, BLOCK), 0);
	b.requested = requested;
	gone_calls = 0;
	refuse_discard = false;
	return b;
}

static uint16_t req(struct vmem_blocks *b, uint16_t type, uint64_t addr,
		    uint16_t nb, uint16_t *state)
{
	struct vmem_req rq = { .type = type, .addr = addr, .nb_blocks = nb };
	uint16_t st = 0xffff;
	uint16_t r = vmem_request(b, &rq, &st, fake_discard, NULL, NULL);

	if (state)
		*state = st;
	return r;
}

Test(virtio_mem, hostile_ranges_are_errors)
{
	struct vmem_blocks b = blocks(NBLK);
	const struct {
		uint64_t addr;
		uint16_t nb;
	} bad[] = {
		{ BASE + 4096, 1 },              /* unaligned */
		{ BASE - BLOCK, 1 },             /* below */
		{ BASE + NBLK * BLOCK, 1 },      /* past the end */
		{ BASE + (NBLK - 1) * BLOCK, 2 }, /* straddling the end */
		{ BASE, 0 },                     /* no blocks */
		{ BASE, NBLK + 1 },              /* more than there are */
		{ UINT64_MAX - BLOCK + 1, 0xffff }, /* wraps around 2^64 */
		{ 0, 1 },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		for (uint16_t t = 0; t <= VIRTIO_MEM_REQ_STATE; t++) {
			if (t == VIRTIO_MEM_REQ_UNPLUG_ALL)
				continue;
			cr_assert_eq(req(&b, t, bad[i].addr, bad[i].nb, NULL),
				     VIRTIO_MEM_RESP_ERROR, "type %u case %zu",
				     t, i);
		}
	cr_assert_eq(req(&b, 4, BASE, 1, NULL), VIRTIO_MEM_RESP_ERROR);
	cr_assert_eq(req(&b, 0xffff, BASE, 1, NULL), VIRTIO_MEM_RESP_ERROR);
	cr_assert_eq(b.plugged, 0, "nothing changed");
	cr_assert_eq(gone_calls, 0);
	vmem_blocks_fini(&b);
}

Test(virtio_mem, plug_up_to_requested_then_nack)
{
	struct vmem_blocks b = blocks(4);
	uint16_t st;

	cr_assert_eq(req(&b, VIRTIO_MEM_REQ_PLUG, BASE, 3, NULL),
		     VIRTIO_MEM_RESP_ACK);
	cr_assert_eq(b.plugged, 3);
	/* Below requested: a plugged block is an error, not a NACK. */
	cr_assert_eq(req(&b, VIRTIO_MEM_REQ_PLUG, BASE + 2 * BLOCK, 1, NULL),
		     VIRTIO_MEM_RESP_ERROR);
	cr_assert_eq(req(&b, VIRTIO_MEM_REQ_PLUG, BASE + 5 * BLOCK, 2, NULL),
		     VIRTIO_MEM_RESP_NACK, "3 + 2 > 4");
	cr_assert_eq(req(&b, VIRTIO_MEM_REQ_PLUG, BASE + 9 * BLOCK, 1, NULL),
		     VIRTIO_MEM_RESP_ACK);
	cr_assert_eq(req(&b, VIRTIO_MEM_REQ_PLUG, BASE + 10 * BLOCK, 1, NULL),
		     VIRTIO_MEM_RESP_NACK);
	cr_assert_eq(req(&b, VIRTIO_MEM_REQ_STATE, BASE, 3, &st),
		     VIRTIO_MEM_RESP_ACK);
	cr_assert_eq(st, VIRTIO_MEM_STATE_PLUGGED);
	cr_assert_eq(req(&b, VIRTIO_MEM_REQ_STATE, BASE + 2 * BLOCK, 2, &st),
		     VIRTIO_MEM_RESP_ACK);
	cr_assert_eq(st, VIRTIO_MEM_STATE_MIXED);
	cr_assert_eq(req(&b, VIRTIO_MEM_REQ_STATE, BASE + 3 * BLOCK, 6, &st),
		     VIRTIO_MEM_RESP_ACK);
	cr_assert_eq(st, VIRTIO_MEM_STATE_UNPLUGGED);
	cr_assert(vmem_plugged(&b, 9) && !vmem_plugged(&b, 8));
	cr_assert_eq(gone_calls, 0, "a plug gives nothing back");
	vmem_blocks_fini(&b);
}

Test(virtio_mem, unplug_gives_memory_back)
{
	struct vmem_blocks b = blocks(8);

	cr_assert_eq(req(&b, VIRTIO_MEM_REQ_PLUG, BASE, 8, NULL),
		     VIRTIO_MEM_RESP_ACK);
	cr_assert_eq(req(&b, VIRTIO_MEM_REQ_UNPLUG, BASE + 2 * BLOCK, 3, NULL),
		     VIRTIO_MEM_RESP_ACK);
	cr_assert_eq(gone_gpa, BASE + 2 * BLOCK);
	cr_assert_eq(gone_len, 3 * BLOCK);
	cr_assert_eq(b.plugged, 5);
	/* Partly unplugged already: refused, nothing given back. */
	gone_calls = 0;
	cr_assert_eq(req(&b, VIRTIO_MEM_REQ_UNPLUG, BASE + BLOCK, 2, NULL),
		     VIRTIO_MEM_RESP_ERROR);
	cr_assert_eq(gone_calls, 0);
	/* The host cannot take it back: BUSY, and the blocks stay. */
	refuse_discard = true;
	cr_assert_eq(req(&b, VIRTIO_MEM_REQ_UNPLUG, BASE, 1, NULL),
		     VIRTIO_MEM_RESP_BUSY);
	cr_assert_eq(b.plugged, 5);
	cr_assert(vmem_plugged(&b, 0));
	vmem_blocks_fini(&b);
}

Test(virtio_mem, unplug_all_empties_the_region_run_by_run)
{
	struct vmem_blocks b = blocks(NBLK);

	cr_assert_eq(req(&b, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0, NULL),
		     VIRTIO_MEM_RESP_ACK, "nothing plugged: ACK");
	cr_assert_eq(gone_calls, 0);
	req(&b, VIRTIO_MEM_REQ_PLUG, BASE, 2, NULL);
	req(&b, VIRTIO_MEM_REQ_PLUG, BASE + 10 * BLOCK, 3, NULL);
	req(&b, VIRTIO_MEM_REQ_PLUG, BASE + (NBLK - 1) * BLOCK, 1, NULL);
	refuse_discard = true;
	cr_assert_eq(req(&b, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0, NULL),
		     VIRTIO_MEM_RESP_BUSY);
	cr_assert_eq(b.plugged, 6);
	refuse_discard = false;
	/* The request's other fields are ignored. */
	cr_assert_eq(req(&b, VIRTIO_MEM_REQ_UNPLUG_ALL, 12345, 0, NULL),
		     VIRTIO_MEM_RESP_ACK);
	cr_assert_eq(gone_calls, 3, "one discard per run");
	cr_assert_eq(gone_gpa, BASE + (NBLK - 1) * BLOCK);
	cr_assert_eq(b.plugged, 0);
	vmem_blocks_fini(&b);
}

Test(virtio_mem, bad_shapes_are_refused)
{
	struct vmem_blocks b;

	cr_assert_eq(vmem_blocks_init(&b, BASE, 3 * MIB, BLOCK), -EINVAL);
	cr_assert_eq(vmem_blocks_init(&b, BASE + MIB, 4 * MIB, BLOCK),
		     -EINVAL);
	cr_assert_eq(vmem_blocks_init(&b, BASE, 12 * MIB, 3 * MIB), -EINVAL);
	cr_assert_eq(vmem_blocks_init(&b, BASE, 0, BLOCK), -EINVAL);
}

/* ---- the device on a fake VM -------------------------------------- */

static struct fake_vm fvm;
static uint8_t *region;

static struct virtio_transport *create(uint64_t total_mib,
				       uint64_t block_mib)
{
	struct mem_hotplug_config h = { .total_mib = total_mib,
					.slot_mib = 128,
					.block_mib = block_mib };
	struct virtio_devs_config dc = { .mem_hotplug = &h,
					 .mem_hotplug_gpa = BASE };
	struct mvm_err err;

	fake_vm_init(&fvm, 0x100000, 1 << 20);
	region = calloc(1, total_mib * MIB);
	cr_assert_not_null(region);
	cr_assert_eq(gm_add_host(&fvm.mem, BASE, region, total_mib * MIB), 0);
	cr_assert_eq(virtio_create_devices(&fvm.ctx, &dc, &err), 0, "%s",
		     err.msg);
	cr_assert_not_null(fvm.ctx.virtio_devs);
	return fvm.ctx.virtio_devs;
}

static void destroy(void)
{
	fake_vm_fini(&fvm);
	free(region);
}

static uint64_t cfg64(struct virtio_transport *t, uint32_t off)
{
	uint64_t v = 0;

	t->ops->config_read(t->dev, off, (uint8_t *)&v, sizeof(v));
	return v;
}

Test(virtio_mem, config_space_and_resize)
{
	struct virtio_transport *t = create(128, 4);
	struct virtio_mem_status st;
	struct mvm_err err;

	cr_assert_eq(t->info.device_id, VIRTIO_ID_MEM);
	cr_assert(t->offered & VIRTIO_BIT(VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE));
	cr_assert_eq(cfg64(t, 0), 4 * MIB, "block_size");
	cr_assert_eq(cfg64(t, 16), BASE, "addr");
	cr_assert_eq(cfg64(t, 24), 128 * MIB, "region_size");
	cr_assert_eq(cfg64(t, 32), 128 * MIB, "usable_region_size");
	cr_assert_eq(cfg64(t, 40), 0, "plugged_size");
	cr_assert_eq(cfg64(t, 48), 0, "requested_size");
	cr_assert_eq(virtio_mem_resize(&fvm.ctx, 64 * MIB, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(cfg64(t, 48), 64 * MIB);
	cr_assert_eq(virtio_mem_resize(&fvm.ctx, 130 * MIB, &err), -EINVAL);
	cr_assert_eq(virtio_mem_resize(&fvm.ctx, 2 * MIB, &err), -EINVAL,
		     "half a block");
	cr_assert_eq(cfg64(t, 48), 64 * MIB, "a refusal changes nothing");
	cr_assert_eq(virtio_mem_status(&fvm.ctx, &st, &err), 0);
	cr_assert_eq(st.requested, 64 * MIB);
	cr_assert_eq(st.region_size, 128 * MIB);
	destroy();
}

Test(virtio_mem, no_device_is_enoent)
{
	struct virtio_devs_config dc = { .rng = true };
	struct virtio_mem_status st;
	struct mvm_err err;

	fake_vm_init(&fvm, 0x100000, 1 << 20);
	cr_assert_eq(virtio_create_devices(&fvm.ctx, &dc, &err), 0);
	cr_assert_eq(virtio_mem_resize(&fvm.ctx, 0, &err), -ENOENT);
	cr_assert(strstr(err.msg, "no virtio-mem device"), "%s", err.msg);
	cr_assert_eq(virtio_mem_status(&fvm.ctx, &st, &err), -ENOENT);
	fake_vm_fini(&fvm);
}

/* The model's own part of a blob: after the transport's. */
static struct vmem *model(struct virtio_transport *t)
{
	return t->dev;
}

Test(virtio_mem, state_comes_back_and_bad_blobs_are_refused)
{
	static uint8_t blob[65536];
	struct virtio_transport *t = create(128, 2);
	struct vmem *m = model(t);
	struct mvm_err err;
	struct vmem_saved_head {
		uint32_t magic, pad;
		uint64_t addr, block_size, nr, usable, plugged, requested;
	} *h;
	size_t n, dev_off;

	cr_assert_eq(virtio_mem_resize(&fvm.ctx, 16 * MIB, &err), 0);
	cr_assert_eq(req(&m->b, VIRTIO_MEM_REQ_PLUG, BASE + 4 * BLOCK, 5,
			 NULL), VIRTIO_MEM_RESP_ACK);
	n = virtio_save(t, blob, sizeof(blob));
	cr_assert_gt(n, 0);
	dev_off = n - sizeof(*h) - sizeof(unsigned long);
	h = (struct vmem_saved_head *)(blob + dev_off);
	cr_assert_eq(h->plugged, 5, "the model's part is last");
	destroy();

	t = create(128, 2);
	cr_assert_eq(virtio_load(t, blob, n), 0);
	m = model(t);
	cr_assert_eq(m->b.plugged, 5);
	cr_assert(vmem_plugged(&m->b, 4) && vmem_plugged(&m->b, 8) &&
		  !vmem_plugged(&m->b, 9));
	cr_assert_eq(cfg64(t, 40), 10 * MIB, "plugged_size");
	cr_assert_eq(cfg64(t, 48), 16 * MIB, "requested_size");
	destroy();

	/* Another region: the guest's blocks would not be where it left. */
	t = create(256, 2);
	cr_assert_eq(virtio_load(t, blob, n), -EINVAL);
	destroy();

	/* Counts that disagree with the bitmap, a stray bit, a cut blob. */
	t = create(128, 2);
	h->plugged = 6;
	cr_assert_eq(virtio_load(t, blob, n), -EINVAL);
	h->plugged = 5;
	h->requested = 65;
	cr_assert_eq(virtio_load(t, blob, n), -EINVAL);
	h->requested = 8;
	h->usable = 8;
	cr_assert_eq(virtio_load(t, blob, n), -EINVAL, "plugged past usable");
	h->usable = 64;
	cr_assert_eq(virtio_load(t, blob, n - 1), -EINVAL);
	cr_assert_eq(model(t)->b.plugged, 0, "refused: nothing taken");
	destroy();
}

Test(virtio_mem, a_bit_past_the_last_block_is_refused)
{
	static uint8_t blob[65536];
	struct virtio_transport *t = create(200, 2); /* 100 blocks */
	unsigned long *bm;
	size_t n;

	n = virtio_save(t, blob, sizeof(blob));
	cr_assert_gt(n, 0);
	destroy();
	/* Two words of bitmap, the last one with 36 bits of no block. */
	bm = (unsigned long *)(blob + n - 2 * sizeof(unsigned long));
	t = create(200, 2);
	cr_assert_eq(virtio_load(t, blob, n), 0);
	/* Counted as plugged, so that only where the bit is refuses it. */
	bm[1] |= 1UL << 40;
	memcpy(blob + n - 2 * sizeof(unsigned long) - 16, &(uint64_t){ 1 }, 8);
	cr_assert_eq(virtio_load(t, blob, n), -EINVAL);
	bm[1] = 1UL << 35; /* block 99, the last one: fine */
	cr_assert_eq(virtio_load(t, blob, n), 0);
	cr_assert(vmem_plugged(&model(t)->b, 99));
	destroy();
}
