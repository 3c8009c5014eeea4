/*
 * KVM's dirty log with mvm's own (src/vm/dirty.c) on a real VM built in
 * this process: the behaviour kernel ($MVM_GUESTS/mb_action, action=exit)
 * boots and ends. Every page whose bytes changed while it ran must be in
 * what vm_dirty_collect reports; the kernel's load, written by mvm
 * before any vCPU ran, comes from mvm's own log; a second collect
 * reports nothing.
 *
 * This needs /dev/kvm with a dirty log. Without it the tests fail saying
 * so: they are not skipped, since a skip reads as a pass.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/loop.h"
#include "mvm/mem_file.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"

#define RAM_MIB 32
#define PG GM_PAGE

static char kernel[4096];

static struct vm_config config(bool track)
{
	const char *dir = getenv("MVM_GUESTS");
	struct vm_config c = {
		.kernel = kernel,
		.cmdline = "action=exit",
		.cpus = 1,
		.mem_mib = RAM_MIB,
		.pages = GM_PAGES_TRANSPARENT,
		.console_in = -1,
		.console_out = -1,
		.track_dirty_pages = track,
	};

	cr_assert_not_null(dir, "MVM_GUESTS is not set");
	snprintf(kernel, sizeof(kernel), "%s/mb_action", dir);
	return c;
}

static bool bit(const unsigned long *bm, uint64_t page)
{
	return bm[page / 64] >> (page % 64) & 1;
}

static uint64_t count(const unsigned long *bm, uint64_t pages)
{
	uint64_t n = 0;

	for (uint64_t p = 0; p < pages; p++)
		n += bit(bm, p);
	return n;
}

static void free_bitmaps(unsigned long *b[MEM_MAX_REGIONS])
{
	for (int i = 0; i < MEM_MAX_REGIONS; i++)
		free(b[i]);
}

static bool quiesced(void *ctx)
{
	return vm_quiesced(ctx);
}

Test(vm_dirty, collect_reports_what_the_guest_and_mvm_wrote, .timeout = 60)
{
	const uint64_t pages = (uint64_t)RAM_MIB << 20 >> 12;
	struct vm_config c = config(true);
	struct mvm_err err = { .msg = "" };
	unsigned long *b[MEM_MAX_REGIONS];
	struct loop loop;
	struct vm *vm = calloc(1, sizeof(*vm));
	uint8_t *before = malloc((size_t)RAM_MIB << 20);
	uint64_t changed = 0, missed = 0, first_missed = 0;

	/* The vCPUs' kick signal, as the VMM sets it up. */
	cr_assert_eq(vcpu_signals_init(&err), 0, "%s", err.msg);
	cr_assert_eq(loop_init(&loop, 64, &err), 0, "%s", err.msg);
	cr_assert_eq(vm_create(vm, &c, &loop, &err), 0, "%s (these tests "
		     "need /dev/kvm and did not run)", err.msg);
	cr_assert_eq(vm->mem.nr, 1);
	/* Built, not run: mvm wrote the kernel at 1 MiB, the guest nothing. */
	cr_assert_eq(vm_dirty_collect(vm, b, &err), 0, "%s", err.msg);
	cr_assert(bit(b[0], 0x100000 / PG), "the kernel's load is not dirty");
	cr_assert_null(b[1]);
	free_bitmaps(b);
	memcpy(before, vm->mem.r[0].hva, (size_t)RAM_MIB << 20);

	cr_assert_eq(vm_start(vm, &err), 0, "%s", err.msg);
	while (!atomic_load(&vm->stopping))
		cr_assert_eq(loop_run(&loop), 0);
	cr_assert_eq(vm->stop_kind, VM_STOP_DEBUG_EXIT, "%s", vm->stop_msg);
	vm_quiesce(vm);
	if (!vm_quiesced(vm))
		loop_run_until(&loop, quiesced, vm, 10000);
	cr_assert(vm_quiesced(vm));

	cr_assert_eq(vm_dirty_collect(vm, b, &err), 0, "%s", err.msg);
	for (uint64_t p = 0; p < pages; p++) {
		if (!memcmp(before + p * PG, vm->mem.r[0].hva + p * PG, PG))
			continue;
		changed++;
		if (!bit(b[0], p) && !missed++)
			first_missed = p;
	}
	cr_assert_gt(changed, 0, "the guest wrote nothing?");
	cr_assert_eq(missed, 0, "%llu of %llu changed pages not reported, the "
		     "first at 0x%llx", (unsigned long long)missed,
		     (unsigned long long)changed,
		     (unsigned long long)(first_missed * PG));
	/*
	 * Pages written with the same bytes are dirty too, but few: the log
	 * is per 4 KiB page, though RAM is on 2 MiB pages (512 of 4 KiB).
	 */
	cr_assert_lt(count(b[0], pages), 512, "%llu dirty pages",
		     (unsigned long long)count(b[0], pages));
	free_bitmaps(b);
	/* Both logs start over at each collect. */
	cr_assert_eq(vm_dirty_collect(vm, b, &err), 0, "%s", err.msg);
	cr_assert_eq(count(b[0], pages), 0);
	free_bitmaps(b);
	vm_destroy(vm);
	loop_fini(&loop);
	free(before);
	free(vm);
}

Test(vm_dirty, collect_without_tracking_is_refused)
{
	struct vm_config c = config(false);
	struct mvm_err err = { .msg = "" };
	unsigned long *b[MEM_MAX_REGIONS];
	struct loop loop;
	struct vm *vm = calloc(1, sizeof(*vm));

	cr_assert_eq(loop_init(&loop, 64, &err), 0, "%s", err.msg);
	cr_assert_eq(vm_create(vm, &c, &loop, &err), 0, "%s (these tests "
		     "need /dev/kvm and did not run)", err.msg);
	cr_assert_eq(vm_dirty_collect(vm, b, &err), -EINVAL);
	cr_assert_not_null(strstr(err.msg, "not tracked"), "%s", err.msg);
	for (int i = 0; i < MEM_MAX_REGIONS; i++)
		cr_assert_null(b[i]);
	/* Turned on later, it works all the same. */
	cr_assert_eq(vm_dirty_start(vm, &err), 0, "%s", err.msg);
	cr_assert_eq(vm_dirty_collect(vm, b, &err), 0, "%s", err.msg);
	cr_assert_not_null(b[0]);
	free_bitmaps(b);
	vm_destroy(vm);
	loop_fini(&loop);
	free(vm);
}

/*
 * Hotpluggable memory's region is logged in KVM slots of its own (one
 * per slot_size_mib): what the guest wrote into it comes back in the
 * region's bitmap, from every slot at its place. bz_virtio's
 * test=virtio_mem plugs the 192 MiB asked from boot (two 128 MiB slots)
 * and writes a word into each of their pages.
 */
Test(vm_dirty, hotplug_slots_are_logged_into_their_region, .timeout = 60)
{
	const uint64_t pages = UINT64_C(256) << 20 >> 12;
	const uint64_t written = UINT64_C(192) << 20 >> 12;
	struct vm_config c = config(true);
	struct mvm_err err = { .msg = "" };
	unsigned long *b[MEM_MAX_REGIONS];
	struct loop loop;
	struct vm *vm = calloc(1, sizeof(*vm));

	snprintf(kernel, sizeof(kernel), "%s/virtio/bz_virtio",
		 getenv("MVM_GUESTS"));
	c.cmdline = "test=virtio_mem rounds=1 keep=1";
	c.mem_hotplug = (struct mem_hotplug_config){ .total_mib = 256,
		.slot_mib = 128, .block_mib = 2, .requested_mib = 192 };
	cr_assert_eq(vcpu_signals_init(&err), 0, "%s", err.msg);
	cr_assert_eq(loop_init(&loop, 64, &err), 0, "%s", err.msg);
	cr_assert_eq(vm_create(vm, &c, &loop, &err), 0, "%s (these tests "
		     "need /dev/kvm and did not run)", err.msg);
	cr_assert_eq(vm->mem.nr, 2);
	cr_assert(vm->mem.r[1].hotplug);
	cr_assert_eq(vm_start(vm, &err), 0, "%s", err.msg);
	while (!atomic_load(&vm->stopping))
		cr_assert_eq(loop_run(&loop), 0);
	/* ALL OK: the guest plugged, wrote and read back its blocks. */
	cr_assert_eq(vm->stop_kind, VM_STOP_DEBUG_EXIT, "%s", vm->stop_msg);
	cr_assert_eq(vm->stop_status, 1, "the guest failed a check");
	vm_quiesce(vm);
	if (!vm_quiesced(vm))
		loop_run_until(&loop, quiesced, vm, 10000);
	cr_assert_eq(vm_dirty_collect(vm, b, &err), 0, "%s", err.msg);
	cr_assert_not_null(b[1]);
	cr_assert_eq(count(b[1], written), written, "of the plugged pages "
		     "only %llu logged", (unsigned long long)count(b[1],
								     written));
	cr_assert_eq(count(b[1], pages), written, "pages never plugged "
		     "logged");
	free_bitmaps(b);
	vm_destroy(vm);
	loop_fini(&loop);
	free(vm);
}
