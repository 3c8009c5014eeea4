/*
 * Snapshot state files (include/mvm/snapshot.h): what is encoded decodes
 * to the same snapshot, field by field; every malformed file (truncated,
 * foreign, of another version, with a property of the wrong length, a
 * string without its NUL, a vCPU missing, a device twice, a layout that
 * cannot be mapped) is refused with a message naming what is wrong,
 * never read out of bounds; files are replaced whole; dtc reads them.
 */
#include <criterion/criterion.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/snapshot.h"
#include "mvm/vcpu_state.h"

#include "snap_fixture.h"

#define GIB FIX_GIB
#define MIB FIX_MIB
#define TAKEN_NS FIX_TAKEN_NS

static void make_snap(struct snap_file *s)
{
	cr_assert_eq(fix_make_snap(s), 0);
}

static void add_vcpu(struct snap_file *s, unsigned i, bool nested)
{
	cr_assert_eq(fix_add_vcpu(s, i, nested), 0);
}

static void *encode(const struct snap_file *s, size_t *len)
{
	struct mvm_err err = { .msg = "" };
	void *buf;

	cr_assert_eq(snap_file_encode(s, &buf, len, &err), 0, "%s", err.msg);
	return buf;
}

static void assert_same_state(const struct dev_state_list *a,
			      const struct dev_state_list *b)
{
	cr_assert_eq(a->nr, b->nr);
	for (unsigned i = 0; i < a->nr; i++) {
		const struct dev_state_node *x = &a->node[i];
		const struct dev_state_node *y = dev_state_list_find(b, x->id);

		cr_assert_not_null(y, "%s lost", x->id);
		cr_assert_eq(x->version, y->version, "%s", x->id);
		cr_assert_eq(x->len, y->len, "%s", x->id);
		if (x->len)
			cr_assert_arr_eq(x->data, y->data, x->len, "%s", x->id);
	}
}

/* Equal strings, or both absent. */
static void assert_same_str(const char *a, const char *b)
{
	if (!a || !b)
		cr_assert_eq(a, b, "%s vs %s", a ? a : "(none)",
			     b ? b : "(none)");
	else
		cr_assert_str_eq(a, b);
}

static void assert_same(const struct snap_file *a, const struct snap_file *b)
{
	const struct vm_config *x = &a->machine, *y = &b->machine;

	cr_assert_eq(b->format_version, SNAP_FORMAT_VERSION);
	cr_assert_str_eq(a->mvm_version, b->mvm_version);
	cr_assert_eq(a->created_ns, b->created_ns);
	cr_assert_eq(a->type, b->type);
	assert_same_str(a->mem_file, b->mem_file);
	assert_same_str(x->kernel, y->kernel);
	assert_same_str(x->initrd, y->initrd);
	assert_same_str(x->cmdline, y->cmdline);
	cr_assert_eq(x->cpus, y->cpus);
	cr_assert_eq(x->mem_mib, y->mem_mib);
	cr_assert_eq(x->pages, y->pages);
	cr_assert_eq(x->on_reboot, y->on_reboot);
	cr_assert_eq(x->nested, y->nested);
	cr_assert_eq(x->rng, y->rng);
	if (x->rng)
		cr_assert_arr_eq(&x->rng_rl, &y->rng_rl, sizeof(x->rng_rl));
	cr_assert_eq(x->balloon.enabled, y->balloon.enabled);
	cr_assert_eq(x->balloon.amount_mib, y->balloon.amount_mib);
	cr_assert_eq(x->balloon.deflate_on_oom, y->balloon.deflate_on_oom);
	cr_assert_eq(x->balloon.stats_interval_s, y->balloon.stats_interval_s);
	cr_assert_eq(x->balloon.free_page_hinting,
		     y->balloon.free_page_hinting);
	cr_assert_eq(x->balloon.free_page_reporting,
		     y->balloon.free_page_reporting);
	cr_assert_eq(a->track_dirty_pages, b->track_dirty_pages);
	cr_assert_eq(y->console_in, -1);
	cr_assert_eq(y->console_out, -1);
	cr_assert_null(y->console_q);
	cr_assert_null(y->cmos);
	cr_assert_eq(x->nr_disks, y->nr_disks);
	for (unsigned i = 0; i < x->nr_disks; i++) {
		cr_assert_str_eq(x->disks[i].id, y->disks[i].id);
		cr_assert_str_eq(x->disks[i].path, y->disks[i].path);
		cr_assert_eq(x->disks[i].readonly, y->disks[i].readonly);
		cr_assert_eq(x->disks[i].cache, y->disks[i].cache);
		cr_assert_arr_eq(&x->disks[i].rl, &y->disks[i].rl,
				 sizeof(x->disks[i].rl));
	}
	cr_assert_eq(x->nr_nets, y->nr_nets);
	for (unsigned i = 0; i < x->nr_nets; i++) {
		cr_assert_str_eq(x->nets[i].id, y->nets[i].id);
		cr_assert_str_eq(x->nets[i].tap, y->nets[i].tap);
		cr_assert_arr_eq(x->nets[i].mac, y->nets[i].mac, 6);
		cr_assert_eq(x->nets[i].mac_set, y->nets[i].mac_set);
		cr_assert_eq(x->nets[i].mac_spoofing, y->nets[i].mac_spoofing);
		cr_assert_arr_eq(&x->nets[i].rx_rl, &y->nets[i].rx_rl,
				 sizeof(x->nets[i].rx_rl));
		cr_assert_arr_eq(&x->nets[i].tx_rl, &y->nets[i].tx_rl,
				 sizeof(x->nets[i].tx_rl));
		cr_assert_eq(x->nets[i].user, y->nets[i].user);
		cr_assert_eq(x->nets[i].nr_hostfwd, y->nets[i].nr_hostfwd);
		cr_assert_eq(x->nets[i].mtu, y->nets[i].mtu);
		for (unsigned k = 0; k < x->nets[i].nr_hostfwd; k++) {
			const struct slirp_net_hostfwd *f = &x->nets[i].hostfwd[k],
				*g = &y->nets[i].hostfwd[k];

			cr_assert(f->udp == g->udp &&
				  f->host_addr.s_addr == g->host_addr.s_addr &&
				  f->host_port == g->host_port &&
				  f->guest_addr.s_addr == g->guest_addr.s_addr &&
				  f->guest_port == g->guest_port,
				  "nic %u hostfwd %u differs", i, k);
		}
		cr_assert_eq(x->nets[i].mmds_ipv4, y->nets[i].mmds_ipv4);
		cr_assert_null(y->nets[i].mmds, "the store is not kept");
		cr_assert_not(y->nets[i].tap_given);
		cr_assert_eq(y->nets[i].tap_fd, -1);
	}
	cr_assert_eq(x->nr_pmems, y->nr_pmems);
	for (unsigned i = 0; i < x->nr_pmems; i++) {
		cr_assert_str_eq(x->pmems[i].id, y->pmems[i].id);
		cr_assert_str_eq(x->pmems[i].path, y->pmems[i].path);
		cr_assert_eq(x->pmems[i].readonly, y->pmems[i].readonly);
		cr_assert_eq(x->pmems[i].root, y->pmems[i].root);
	}
	cr_assert_eq(x->vsock.guest_cid, y->vsock.guest_cid);
	if (x->vsock.guest_cid) {
		cr_assert_str_eq(x->vsock.id, y->vsock.id);
		cr_assert_str_eq(x->vsock.uds_path, y->vsock.uds_path);
	}
	cr_assert_eq(x->mmds.set, y->mmds.set);
	if (x->mmds.set) {
		cr_assert_eq(x->mmds.version, y->mmds.version);
		cr_assert_eq(x->mmds.imds_compat, y->mmds.imds_compat);
		cr_assert_eq(x->mmds.ipv4, y->mmds.ipv4);
	}
	cr_assert_eq(a->nr_regions, b->nr_regions);
	cr_assert_arr_eq(a->regions, b->regions,
			 a->nr_regions * sizeof(a->regions[0]));
	assert_same_state(&a->state, &b->state);
}

Test(snapshot_file, round_trip_of_every_field)
{
	struct snap_file a, b;
	struct mvm_err err = { .msg = "" };
	size_t len;
	void *buf;

	make_snap(&a);
	buf = encode(&a, &len);
	cr_assert_eq(snap_file_decode(buf, len, &b, &err), 0, "%s", err.msg);
	assert_same(&a, &b);
	cr_assert(snap_file_has_nested(&b));
	/* The vCPUs come first, in order, as vm_save_all lists them. */
	cr_assert_str_eq(b.state.node[0].id, "vcpu0");
	cr_assert_str_eq(b.state.node[1].id, "vcpu1");
	snap_file_free(&b);
	free(buf);

	/* The other values: Full, no initrd or memory file, no devices of
	 * the VM's configuration, one region, an empty command line. */
	a.type = SNAP_FULL;
	free(a.mem_file);
	a.mem_file = NULL;
	free((char *)a.machine.initrd);
	a.machine.initrd = NULL;
	free((char *)a.machine.cmdline);
	a.machine.cmdline = strdup("");
	a.machine.pages = GM_PAGES_SMALL;
	a.machine.on_reboot = VM_ON_REBOOT_EXIT;
	a.machine.nested = a.machine.rng = a.track_dirty_pages = false;
	memset(&a.machine.balloon, 0, sizeof(a.machine.balloon)); /* none */
	free(a.machine.disks[0].path);
	free(a.machine.disks[1].path);
	a.machine.nr_disks = a.machine.nr_nets = 0;
	a.machine.mem_mib = 256;
	a.nr_regions = 1;
	a.regions[0].size = 256 * MIB;
	dev_state_list_free(&a.state);
	add_vcpu(&a, 1, false);
	add_vcpu(&a, 0, false);
	buf = encode(&a, &len);
	cr_assert_eq(snap_file_decode(buf, len, &b, &err), 0, "%s", err.msg);
	assert_same(&a, &b);
	cr_assert_null(b.mem_file);
	cr_assert_null(b.machine.initrd);
	cr_assert_str_eq(b.machine.cmdline, "");
	cr_assert_not(snap_file_has_nested(&b));
	cr_assert_not(b.machine.balloon.enabled);
	snap_file_free(&b);
	snap_file_free(&a);
	free(buf);
}

/*
 * pmem devices come back with their files (not their contents, which are
 * the files'); a snapshot without the node has none.
 */
Test(snapshot_file, pmem_devices_round_trip)
{
	struct snap_file a, b;
	struct mvm_err err = { .msg = "" };
	size_t len;
	void *buf;

	make_snap(&a);
	a.machine.pmems[0] = (struct pmem_config){ .id = "p0",
		.path = strdup("/srv/root.img"), .root = true,
		.readonly = true };
	a.machine.pmems[1] = (struct pmem_config){ .id = "p1",
		.path = strdup("/srv/data.img") };
	a.machine.nr_pmems = 2;
	buf = encode(&a, &len);
	cr_assert_eq(snap_file_decode(buf, len, &b, &err), 0, "%s", err.msg);
	assert_same(&a, &b);
	cr_assert_eq(b.machine.nr_pmems, 2);
	snap_file_free(&b);
	free(buf);

	/* Two of one id would not load back: refused, naming it. */
	snprintf(a.machine.pmems[1].id, sizeof(a.machine.pmems[1].id), "p0");
	cr_assert_neq(snap_file_encode(&a, &buf, &len, &err), 0);
	cr_assert(strstr(err.msg, "pmem id \"p0\" appears twice"), "%s",
		  err.msg);
	snap_file_free(&a);
}

/* SMT and the CPU template travel with the machine; an old file has none. */
Test(snapshot_file, smt_and_the_cpu_template_round_trip)
{
	static struct snap_file a, b;
	struct mvm_err err = { .msg = "" };
	struct cpu_template *t = &a.machine.cpu_custom;
	size_t len;
	void *buf;

	make_snap(&a);
	buf = encode(&a, &len);
	cr_assert_eq(snap_file_decode(buf, len, &b, &err), 0, "%s", err.msg);
	cr_assert_not(b.machine.smt);
	cr_assert_eq(b.machine.cpu_template, CPU_STATIC_NONE);
	cr_assert_not(b.machine.cpu_custom_set);
	snap_file_free(&b);
	free(buf);

	a.machine.smt = true;
	a.machine.cpu_template = CPU_STATIC_T2CL;
	a.machine.cpu_custom_set = true;
	t->cpuid[0] = (struct cpuid_modifier){ 7, 0, 1, CPU_REG_EBX, 0x200,
					       0x200 };
	t->cpuid[1] = (struct cpuid_modifier){ 0x80000001, 0, 0, CPU_REG_EDX,
					       0xffffffff, 0x12345678 };
	t->nr_cpuid = 2;
	t->msrs[0] = (struct msr_modifier){ 0x10a, 0xffffffff00000001ULL,
					    0x8000000000000001ULL };
	t->nr_msrs = 1;
	t->caps[0] = (struct kvm_cap_modifier){ 56, true };
	t->nr_caps = 1;
	buf = encode(&a, &len);
	cr_assert_eq(snap_file_decode(buf, len, &b, &err), 0, "%s", err.msg);
	assert_same(&a, &b);
	cr_assert(b.machine.smt);
	cr_assert_eq(b.machine.cpu_template, CPU_STATIC_T2CL);
	cr_assert(b.machine.cpu_custom_set);
	cr_assert_eq(memcmp(&a.machine.cpu_custom, &b.machine.cpu_custom,
			    sizeof(*t)), 0);
	snap_file_free(&a);
	snap_file_free(&b);
	free(buf);
}

/*
 * The vsock device comes back with its CID and socket (not its
 * connections); a snapshot without the node has none.
 */
Test(snapshot_file, the_vsock_device_round_trips)
{
	struct snap_file a, b;
	struct mvm_err err = { .msg = "" };
	size_t len;
	void *buf;

	make_snap(&a);
	buf = encode(&a, &len);
	cr_assert_eq(snap_file_decode(buf, len, &b, &err), 0, "%s", err.msg);
	cr_assert_eq(b.machine.vsock.guest_cid, 0, "none without the node");
	snap_file_free(&b);
	free(buf);
	a.machine.vsock = (struct vsock_config){ .id = "v0", .guest_cid = 42,
		.uds_path = strdup("/run/v.sock") };
	buf = encode(&a, &len);
	cr_assert_eq(snap_file_decode(buf, len, &b, &err), 0, "%s", err.msg);
	assert_same(&a, &b);
	snap_file_free(&b);
	free(buf);
	/* No socket: it would not load back. */
	free(a.machine.vsock.uds_path);
	a.machine.vsock.uds_path = NULL;
	cr_assert_neq(snap_file_encode(&a, &buf, &len, &err), 0);
	cr_assert(strstr(err.msg, "vsock"), "%s", err.msg);
	snap_file_free(&a);
}

/*
 * MMDS's configuration comes back, and which NICs serve it (at its
 * address); never a store. A snapshot without the node has none.
 */
Test(snapshot_file, the_mmds_config_round_trips)
{
	struct snap_file a, b;
	struct mvm_err err = { .msg = "" };
	size_t len;
	void *buf;

	make_snap(&a);
	cr_assert_geq(a.machine.nr_nets, 2, "the test wants two NICs");
	buf = encode(&a, &len);
	cr_assert_eq(snap_file_decode(buf, len, &b, &err), 0, "%s", err.msg);
	cr_assert_not(b.machine.mmds.set, "none without the node");
	for (unsigned i = 0; i < b.machine.nr_nets; i++)
		cr_assert_eq(b.machine.nets[i].mmds_ipv4, 0);
	snap_file_free(&b);
	free(buf);
	a.machine.mmds = (struct vm_mmds_config){ .set = true,
		.version = MMDS_V2, .imds_compat = true, .ipv4 = 0xa9fe0102 };
	a.machine.nets[1].mmds_ipv4 = 0xa9fe0102;
	buf = encode(&a, &len);
	cr_assert_eq(snap_file_decode(buf, len, &b, &err), 0, "%s", err.msg);
	assert_same(&a, &b);
	cr_assert_eq(b.machine.nets[0].mmds_ipv4, 0, "nic 0 serves none");
	cr_assert_eq(b.machine.nets[1].mmds_ipv4, 0xa9fe0102);
	snap_file_free(&b);
	free(buf);
	/* V1 and no IMDS compatibility too. */
	a.machine.mmds.version = MMDS_V1;
	a.machine.mmds.imds_compat = false;
	buf = encode(&a, &len);
	cr_assert_eq(snap_file_decode(buf, len, &b, &err), 0, "%s", err.msg);
	assert_same(&a, &b);
	snap_file_free(&b);
	free(buf);
	snap_file_free(&a);
}

Test(snapshot_file, a_misaligned_buffer_decodes_too)
{
	struct snap_file a, b;
	struct mvm_err err = { .msg = "" };
	size_t len;
	void *buf = (make_snap(&a), encode(&a, &len));
	char *odd = malloc(len + 1);

	memcpy(odd + 1, buf, len);
	cr_assert_eq(snap_file_decode(odd + 1, len, &b, &err), 0, "%s",
		     err.msg);
	assert_same(&a, &b);
	snap_file_free(&a);
	snap_file_free(&b);
	free(odd);
	free(buf);
}

/* ---- refusals ---------------------------------------------------------- */

/* decode refuses len bytes of buf (a copy of exactly that size, so that
 * ASan sees any read past it) with a message holding want. */
static void refuse(const void *buf, size_t len, const char *want)
{
	struct snap_file s;
	struct mvm_err err = { .msg = "" };
	void *copy = malloc(len ? len : 1);
	int ret;

	memcpy(copy, buf, len);
	ret = snap_file_decode(copy, len, &s, &err);
	cr_assert_eq(ret, -EINVAL, "%zu bytes: %d (%s), wanted \"%s\"", len,
		     ret, err.msg, want);
	cr_assert(!strncmp(err.msg, "snapshot: ", 10), "%s", err.msg);
	cr_assert(strstr(err.msg, want), "\"%s\" does not say \"%s\"",
		  err.msg, want);
	/* Nothing left for the caller to free. */
	cr_assert_null(s.mem_file);
	cr_assert_null(s.machine.kernel);
	cr_assert_eq(s.state.nr, 0);
	free(copy);
}

/* A valid file in a buffer with room to change it (libfdt's rw calls). */
struct tree {
	struct snap_file s;
	char fdt[256 << 10];
};

static struct tree *tree_new(void)
{
	struct tree *t = malloc(sizeof(*t));
	size_t len;
	void *buf;

	make_snap(&t->s);
	buf = encode(&t->s, &len);
	cr_assert_eq(fdt_open_into(buf, t->fdt, sizeof(t->fdt)), 0);
	free(buf);
	return t;
}

static int node(struct tree *t, const char *path)
{
	int n = fdt_path_offset(t->fdt, path);

	cr_assert_geq(n, 0, "%s: %s", path, fdt_strerror(n));
	return n;
}

static void set(struct tree *t, const char *path, const char *prop,
		const void *val, int len)
{
	int r = fdt_setprop(t->fdt, node(t, path), prop, val, len);

	cr_assert_eq(r, 0, "%s %s: %s", path, prop, fdt_strerror(r));
}

static void set_u32(struct tree *t, const char *path, const char *prop,
		    uint32_t v)
{
	fdt32_t be = cpu_to_fdt32(v);

	set(t, path, prop, &be, 4);
}

static void set_u64(struct tree *t, const char *path, const char *prop,
		    uint64_t v)
{
	fdt64_t be = cpu_to_fdt64(v);

	set(t, path, prop, &be, 8);
}

static void set_str(struct tree *t, const char *path, const char *prop,
		    const char *v)
{
	set(t, path, prop, v, (int)strlen(v) + 1);
}

static void del_prop(struct tree *t, const char *path, const char *prop)
{
	cr_assert_eq(fdt_delprop(t->fdt, node(t, path), prop), 0);
}

static void del_node(struct tree *t, const char *path)
{
	cr_assert_eq(fdt_del_node(t->fdt, node(t, path)), 0);
}

static void add_subnode(struct tree *t, const char *path, const char *name)
{
	cr_assert_geq(fdt_add_subnode(t->fdt, node(t, path), name), 0);
}

/* The changed tree must be refused with want; t is freed. */
static void tree_refused(struct tree *t, const char *want)
{
	cr_assert_eq(fdt_pack(t->fdt), 0);
	refuse(t->fdt, fdt_totalsize(t->fdt), want);
	snap_file_free(&t->s);
	free(t);
}

Test(snapshot_file, every_truncation_is_refused)
{
	struct snap_file a;
	size_t len;
	char want[64];
	void *buf = (make_snap(&a), encode(&a, &len));

	for (size_t n = 0; n < len; n++) {
		if (n < 4)
			refuse(buf, n, "not an mvm snapshot state file");
		else if (n < sizeof(struct fdt_header))
			refuse(buf, n, "truncated: ");
		else {
			snprintf(want, sizeof(want), "truncated: %zu of %zu "
				 "bytes", n, len);
			refuse(buf, n, want);
		}
	}
	snap_file_free(&a);
	free(buf);
}

Test(snapshot_file, trailing_bytes_are_refused)
{
	struct snap_file a;
	size_t len;
	void *buf = (make_snap(&a), encode(&a, &len));
	char *more = calloc(1, len + 8);

	memcpy(more, buf, len);
	refuse(more, len + 8, "but its FDT header says");
	snap_file_free(&a);
	free(more);
	free(buf);
}

Test(snapshot_file, a_damaged_fdt_header_is_refused)
{
	struct snap_file a, b;
	struct mvm_err err;
	size_t len;
	unsigned char *buf = (make_snap(&a), encode(&a, &len));

	/* Each field that matters, by name. */
	buf[0] ^= 0x10; /* magic */
	refuse(buf, len, "not an mvm snapshot state file");
	buf[0] ^= 0x10;
	buf[5] ^= 0x01; /* totalsize: now 64 KiB off */
	refuse(buf, len, "bytes");
	buf[5] ^= 0x01;
	buf[11] ^= 0x04; /* off_dt_struct */
	refuse(buf, len, "corrupt FDT");
	buf[11] ^= 0x04;
	buf[27] ^= 0x40; /* last_comp_version: 16 becomes 80 */
	refuse(buf, len, "corrupt FDT");
	buf[27] ^= 0x40;
	/* Every bit of it: refused with a reason, or harmless (a newer
	 * version that says it reads as 16, the boot CPU's id, the unused
	 * reserve map moved onto other zeros) and then the same snapshot;
	 * never read past the buffer (ASan), never leaked. */
	for (size_t i = 0; i < sizeof(struct fdt_header) * 8; i++) {
		buf[i / 8] ^= (unsigned char)(1u << (i % 8));
		err.msg[0] = '\0';
		if (snap_file_decode(buf, len, &b, &err))
			cr_assert(strstr(err.msg, "snapshot: "), "%s", err.msg);
		else
			assert_same(&a, &b);
		snap_file_free(&b);
		buf[i / 8] ^= (unsigned char)(1u << (i % 8));
	}
	snap_file_free(&a);
	free(buf);
}

Test(snapshot_file, any_flipped_byte_is_refused_or_harmless)
{
	struct snap_file a, b;
	struct mvm_err err;
	size_t len;
	unsigned char *buf = (make_snap(&a), encode(&a, &len));

	for (size_t i = 0; i < len; i++) {
		buf[i] ^= 0xff;
		err.msg[0] = '\0';
		if (snap_file_decode(buf, len, &b, &err))
			cr_assert(strstr(err.msg, "snapshot: "), "byte %zu: "
				  "%s", i, err.msg);
		snap_file_free(&b);
		buf[i] ^= 0xff;
	}
	snap_file_free(&a);
	free(buf);
}

Test(snapshot_file, foreign_files_are_refused)
{
	static const unsigned char elf[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
	static const unsigned char zeros[4096];
	char fdt[256];

	refuse(elf, sizeof(elf), "not an mvm snapshot state file");
	refuse(zeros, sizeof(zeros), "not an mvm snapshot state file");
	refuse("{\"snapshot\": 1}", 15, "not an mvm snapshot state file");
	/* A device tree, but a machine's, not a snapshot. */
	cr_assert_eq(fdt_create_empty_tree(fdt, sizeof(fdt)), 0);
	cr_assert_eq(fdt_setprop_string(fdt, 0, "model", "a board"), 0);
	cr_assert_eq(fdt_pack(fdt), 0);
	refuse(fdt, fdt_totalsize(fdt), "an FDT, but not an mvm snapshot");
}

Test(snapshot_file, wrong_magic_is_refused)
{
	struct tree *t = tree_new();

	set_str(t, "/", "magic", "mvm-snapshoT");
	tree_refused(t, "an FDT, but not an mvm snapshot");
	t = tree_new();
	set(t, "/", "magic", "mvm-snapshot", 12); /* without its NUL */
	tree_refused(t, "an FDT, but not an mvm snapshot");
	t = tree_new();
	del_prop(t, "/", "magic");
	tree_refused(t, "an FDT, but not an mvm snapshot");
}

Test(snapshot_file, other_format_versions_are_refused)
{
	struct tree *t = tree_new();

	set_u32(t, "/", "format-version", 2);
	tree_refused(t, "snapshot: format version 2, this mvm reads 1");
	t = tree_new();
	set_u32(t, "/", "format-version", 7);
	tree_refused(t, "snapshot: format version 7, this mvm reads 1");
	t = tree_new();
	set_u32(t, "/", "format-version", 0);
	tree_refused(t, "format version 0, this mvm reads 1");
}

Test(snapshot_file, a_bad_cpu_template_is_refused)
{
	static const uint8_t five[5], regs[24] = { [15] = 9 };
	struct tree *t = tree_new();

	set_str(t, "/machine", "cpu-template", "T3");
	tree_refused(t, "cpu-template \"T3\" is none of None, C3");
	t = tree_new();
	add_subnode(t, "/machine", "cpu-config");
	set(t, "/machine/cpu-config", "cpuid", five, 5);
	tree_refused(t, "cpuid is 5 bytes, not whole entries of 24");
	t = tree_new();
	add_subnode(t, "/machine", "cpu-config");
	set(t, "/machine/cpu-config", "cpuid", regs, 24);
	tree_refused(t, "cpuid[0] names register 9");
	t = tree_new();
	add_subnode(t, "/machine", "cpu-config");
	set(t, "/machine/cpu-config", "cpuid", regs, 0);
	tree_refused(t, "no msrs");
}

Test(snapshot_file, top_level_values_are_checked)
{
	struct tree *t = tree_new();

	set_str(t, "/", "snapshot-type", "Incremental");
	tree_refused(t, "snapshot-type \"Incremental\" is none of Full, Diff");
	t = tree_new();
	set_u32(t, "/", "created-ns", 5);
	tree_refused(t, "created-ns is 4 bytes, not 8");
	t = tree_new();
	set_str(t, "/", "mvm-version", "0123456789012345678901234567890123");
	tree_refused(t, "mvm-version is 34 characters, at most 31");
	t = tree_new();
	del_prop(t, "/", "created-ns");
	tree_refused(t, "no created-ns");
	t = tree_new();
	del_node(t, "/machine");
	tree_refused(t, "no machine node");
	t = tree_new();
	del_node(t, "/devices");
	tree_refused(t, "no devices node");
	t = tree_new();
	del_node(t, "/memory");
	tree_refused(t, "no memory node");
}

Test(snapshot_file, a_garbage_vcpu_blob_is_refused)
{
	static const unsigned char junk[64] = "MVMVCPU";
	struct tree *t = tree_new();

	set(t, "/vcpus/cpu@1", "state", junk, sizeof(junk));
	tree_refused(t, "vcpus/cpu@1: vcpu state: ");
	t = tree_new();
	set(t, "/vcpus/cpu@0", "state", "", 0);
	tree_refused(t, "vcpus/cpu@0: vcpu state: 0 bytes");
	t = tree_new();
	set_u32(t, "/vcpus/cpu@0", "version", 2);
	tree_refused(t, "vcpus/cpu@0: version 2, this mvm reads 1");
}

Test(snapshot_file, vcpu_nodes_must_match_the_vcpu_count)
{
	struct tree *t = tree_new();

	del_node(t, "/vcpus/cpu@1");
	tree_refused(t, "vcpus: no cpu@1 (vcpu-count is 2)");
	t = tree_new();
	add_subnode(t, "/vcpus", "cpu@2");
	tree_refused(t, "vcpus/cpu@2: not a node of vcpu-count 2");
	t = tree_new();
	add_subnode(t, "/vcpus", "cpu@01");
	tree_refused(t, "vcpus/cpu@01: not a node of vcpu-count 2");
	t = tree_new();
	set_u32(t, "/machine", "vcpu-count", 3);
	tree_refused(t, "vcpus: no cpu@2 (vcpu-count is 3)");
	t = tree_new();
	set_u32(t, "/machine", "vcpu-count", 0);
	tree_refused(t, "machine: vcpu-count 0 (want 1 to 254)");
	t = tree_new();
	set_u32(t, "/machine", "vcpu-count", 255);
	tree_refused(t, "machine: vcpu-count 255 (want 1 to 254)");
}

Test(snapshot_file, duplicate_device_ids_are_refused)
{
	struct tree *t = tree_new();

	set_str(t, "/devices/irqchip", "id", "serial0");
	tree_refused(t, "devices/irqchip: device id \"serial0\" appears "
		     "twice");
	t = tree_new();
	set_str(t, "/devices/serial0", "id", "vcpu1");
	tree_refused(t, "devices/serial0: id \"vcpu1\" is a vCPU's");
	t = tree_new();
	set_str(t, "/machine/drives/data,1", "id", "rootfs");
	tree_refused(t, "drive id \"rootfs\" appears twice");
	t = tree_new();
	set_str(t, "/machine/network-interfaces/eth1", "id", "eth0");
	tree_refused(t, "network interface id \"eth0\" appears twice");
}

Test(snapshot_file, region_layout_errors_are_refused)
{
	struct tree *t = tree_new();

	/* 128 MiB from 3 GiB - 1 MiB: into the 32-bit hole. */
	set_u64(t, "/memory/region@1", "gpa", 3 * GIB - MIB);
	tree_refused(t, "memory layout: region 1: gpa 0xbff00000 "
		     "overlaps the 32-bit hole");
	t = tree_new();
	set_u64(t, "/memory/region@1", "size", 128 * MIB + 512);
	tree_refused(t, "memory layout: region 1: size 0x8000200 is not "
		     "a multiple of 4 KiB");
	t = tree_new();
	set_u64(t, "/memory/region@1", "offset", 3 * GIB - 4096);
	tree_refused(t, "memory layout: region 1: offset 0xbffff000 "
		     "overlaps region 0 in the file");
	t = tree_new();
	set_u64(t, "/memory/region@1", "gpa", 0);
	tree_refused(t, "memory layout: region 1: gpa 0x0 overlaps or "
		     "comes before");
	t = tree_new();
	set_u64(t, "/memory/region@1", "gpa", UINT64_MAX - 4095);
	tree_refused(t, "runs past the end of the address space");
	t = tree_new();
	set_u64(t, "/machine", "mem-size-mib", 3300);
	tree_refused(t, "memory: the regions hold 3355443200 bytes, but "
		     "machine mem-size-mib is 3300 MiB");
	t = tree_new();
	del_node(t, "/memory/region@1");
	del_node(t, "/memory/region@0");
	tree_refused(t, "memory layout: 0 regions (1 to 8 allowed)");
	t = tree_new();
	del_node(t, "/memory/region@0");
	tree_refused(t, "memory/region@1: not region@0");
	/* Nine regions, in order (a new node goes before its siblings). */
	t = tree_new();
	del_node(t, "/memory/region@1");
	del_node(t, "/memory/region@0");
	for (unsigned i = 9; i-- > 0;) {
		char name[32];

		snprintf(name, sizeof(name), "region@%u", i);
		add_subnode(t, "/memory", name);
		snprintf(name, sizeof(name), "/memory/region@%u", i);
		set_u64(t, name, "gpa", i * 16 * MIB);
		set_u64(t, name, "size", 16 * MIB);
		set_u64(t, name, "offset", i * 16 * MIB);
	}
	tree_refused(t, "memory: more than 8 regions");
}

Test(snapshot_file, odd_property_lengths_are_refused)
{
	static const char big[5000] = { [0 ... 4998] = 'k' };
	char id[200];
	struct tree *t = tree_new();

	set(t, "/machine", "vcpu-count", "\0\0\2", 3);
	tree_refused(t, "machine: vcpu-count is 3 bytes, not 4");
	t = tree_new();
	set_u32(t, "/machine", "mem-size-mib", 3200);
	tree_refused(t, "machine: mem-size-mib is 4 bytes, not 8");
	t = tree_new();
	set(t, "/machine/network-interfaces/eth0", "guest-mac", "\2\0\0\0\1",
	    5);
	tree_refused(t, "network-interfaces/eth0: guest-mac is 5 bytes");
	t = tree_new();
	set(t, "/machine/network-interfaces/eth0", "guest-mac",
	    "\2\0\0\0\1\2\3", 7);
	tree_refused(t, "network-interfaces/eth0: guest-mac is 7 bytes, at "
		     "most 6");
	t = tree_new();
	set_str(t, "/machine", "kernel", big);
	tree_refused(t, "machine: kernel is 4999 characters, at most 4095");
	t = tree_new();
	set_str(t, "/machine/network-interfaces/eth0", "host-dev-name",
		"tap-sixteen-char");
	tree_refused(t, "host-dev-name is 16 characters, at most 15");
	t = tree_new();
	memset(id, 'd', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	set_str(t, "/devices/serial0", "id", id);
	tree_refused(t, "devices/serial0: id is 199 characters, at most 95");
	t = tree_new();
	set_u64(t, "/machine", "nested-virt", 1);
	tree_refused(t, "machine: nested-virt is 8 bytes, not 4");
	t = tree_new();
	set_u32(t, "/machine", "entropy", 2);
	tree_refused(t, "machine: entropy is 2, not 0 or 1");
	t = tree_new();
	set_u64(t, "/machine", "mem-size-mib", 1);
	tree_refused(t, "machine: mem-size-mib 1 (want 2 to");
	t = tree_new();
	set_u64(t, "/machine", "mem-size-mib", 3201);
	tree_refused(t, "mem-size-mib 3201 is not a whole number of 2 MiB "
		     "huge pages");
	t = tree_new();
	set_str(t, "/machine", "huge-pages", "1G");
	tree_refused(t, "huge-pages \"1G\" is none of Transparent, None, 2M");
	t = tree_new();
	set_str(t, "/machine/drives/rootfs", "cache", "Unsafe");
	tree_refused(t, "cache \"Unsafe\" is none of Writeback, None");
	t = tree_new();
	set_str(t, "/machine", "on-reboot", "halt\x1b[2J");
	tree_refused(t, "on-reboot \"halt?[2J\" is none of exit, restart");
	t = tree_new();
	set_u32(t, "/machine/balloon", "amount-mib", 3201);
	tree_refused(t, "machine/balloon: amount-mib 3201 is more than the "
		     "machine's memory");
	t = tree_new();
	set_u32(t, "/machine/balloon", "free-page-reporting", 2);
	tree_refused(t, "machine/balloon: free-page-reporting is 2, not 0 or "
		     "1");
	t = tree_new();
	set_u32(t, "/machine/balloon", "stats-polling-interval-s", 65536);
	tree_refused(t, "stats-polling-interval-s 65536 (at most 65535)");
	t = tree_new();
	set_u64(t, "/machine/balloon", "amount-mib", 1);
	tree_refused(t, "machine/balloon: amount-mib is 8 bytes, not 4");
}

Test(snapshot_file, strings_without_their_nul_are_refused)
{
	struct tree *t = tree_new();

	set(t, "/machine", "kernel", "/boot/vmlinux", 13);
	tree_refused(t, "machine: kernel is not a string");
	t = tree_new();
	set(t, "/machine", "cmdline", "a\0b", 4);
	tree_refused(t, "machine: cmdline is not a string");
	t = tree_new();
	set(t, "/devices/serial0", "id", "serial0", 7);
	tree_refused(t, "devices/serial0: id is not a string");
	t = tree_new();
	set(t, "/machine/drives/rootfs", "path", "", 0);
	tree_refused(t, "drives/rootfs: path is not a string");
	t = tree_new();
	set_str(t, "/machine/drives/rootfs", "path", "");
	tree_refused(t, "drives/rootfs: path is empty");
	t = tree_new();
	set_str(t, "/machine", "initrd", "");
	tree_refused(t, "machine: initrd is empty");
}

Test(snapshot_file, too_many_drives_are_refused)
{
	struct tree *t = tree_new();

	for (unsigned i = 0; i < 15; i++) {
		char name[16], path[48];

		snprintf(name, sizeof(name), "d%u", i);
		add_subnode(t, "/machine/drives", name);
		snprintf(path, sizeof(path), "/machine/drives/d%u", i);
		set_str(t, path, "id", name);
		set_str(t, path, "path", "/img/d");
		set_u32(t, path, "read-only", 0);
		set_str(t, path, "cache", "None");
	}
	tree_refused(t, "machine/drives: more than 16");
}

/* ---- encoding refusals ------------------------------------------------- */

Test(snapshot_file, encode_refuses_what_would_not_load)
{
	struct mvm_err err = { .msg = "" };
	struct snap_file a;
	size_t len;
	void *buf;

	make_snap(&a);
	add_vcpu(&a, 2, false);
	cr_assert_eq(snap_file_encode(&a, &buf, &len, &err), -EINVAL);
	cr_assert(strstr(err.msg, "state node vcpu2 is past vcpu-count 2"),
		  "%s", err.msg);
	cr_assert_null(buf);
	snap_file_free(&a);

	make_snap(&a);
	a.machine.cpus = 3;
	cr_assert_eq(snap_file_encode(&a, &buf, &len, &err), -EINVAL);
	cr_assert(strstr(err.msg, "no state for vcpu2"), "%s", err.msg);
	snap_file_free(&a);

	/* Found by reading the result back: a region into the hole. */
	make_snap(&a);
	a.regions[1].gpa = 2 * GIB;
	cr_assert_eq(snap_file_encode(&a, &buf, &len, &err), -EINVAL);
	cr_assert(strstr(err.msg, "would not load back: snapshot: memory "
			 "layout: region 1"), "%s", err.msg);
	cr_assert_null(buf);
	cr_assert_eq(len, 0);
	snap_file_free(&a);

	/* A limiter the API would have refused. */
	make_snap(&a);
	a.machine.disks[0].rl.bandwidth.refill_time_ms = RL_REFILL_MS_MAX + 1;
	cr_assert_eq(snap_file_encode(&a, &buf, &len, &err), -EINVAL);
	cr_assert(strstr(err.msg, "/rate-limiter: bandwidth-refill-time-ms "
			 "is 1099511627777, at most 1099511627776"), "%s",
		  err.msg);
	snap_file_free(&a);
}

/* ---- files ------------------------------------------------------------- */

struct dir {
	char path[256];
};

static void dir_new(struct dir *d)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(d->path, sizeof(d->path), "%s/mvm-snap-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	cr_assert_not_null(mkdtemp(d->path));
}

static void dir_rm(struct dir *d)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	cr_assert_eq(system(cmd), 0);
}

static char *in_dir(const struct dir *d, const char *name)
{
	char *p;

	cr_assert_geq(asprintf(&p, "%s/%s", d->path, name), 0);
	return p;
}

Test(snapshot_file, write_then_read)
{
	struct mvm_err err = { .msg = "" };
	struct snap_file a, b;
	struct dir d;
	char *path, *tmp;

	dir_new(&d);
	path = in_dir(&d, "vm.snap");
	tmp = in_dir(&d, "vm.snap.tmp");
	make_snap(&a);
	cr_assert_eq(snap_file_write(path, &a, &err), 0, "%s", err.msg);
	cr_assert_neq(access(tmp, F_OK), 0, "the temporary file is left");
	cr_assert_eq(snap_file_read(path, &b, &err), 0, "%s", err.msg);
	assert_same(&a, &b);
	snap_file_free(&b);

	/* Replaced whole: a stale temporary file is no obstacle, and the
	 * new state is what reads back. */
	fclose(fopen(tmp, "w"));
	a.created_ns++;
	cr_assert_eq(snap_file_write(path, &a, &err), 0, "%s", err.msg);
	cr_assert_eq(snap_file_read(path, &b, &err), 0, "%s", err.msg);
	cr_assert_eq(b.created_ns, TAKEN_NS + 1);
	snap_file_free(&b);

	/* A write that fails leaves the file as it was. */
	a.machine.cpus = 3;
	cr_assert_lt(snap_file_write(path, &a, &err), 0);
	cr_assert_neq(access(tmp, F_OK), 0);
	cr_assert_eq(snap_file_read(path, &b, &err), 0, "%s", err.msg);
	cr_assert_eq(b.machine.cpus, 2);
	snap_file_free(&b);
	snap_file_free(&a);
	free(path);
	free(tmp);
	dir_rm(&d);
}

Test(snapshot_file, read_and_write_errors_name_the_file)
{
	struct mvm_err err = { .msg = "" };
	struct snap_file a, b;
	struct dir d;
	char *path, *missing, *big;
	FILE *f;

	dir_new(&d);
	path = in_dir(&d, "junk.snap");
	missing = in_dir(&d, "no/such/dir/vm.snap");
	big = in_dir(&d, "big.snap");

	cr_assert_eq(snap_file_read(missing, &b, &err), -ENOENT);
	cr_assert(strstr(err.msg, missing), "%s", err.msg);
	cr_assert_eq(snap_file_read(d.path, &b, &err), -EINVAL);
	cr_assert(strstr(err.msg, "a directory, not a snapshot state file"),
		  "%s", err.msg);
	f = fopen(path, "w");
	fputs("not a snapshot\n", f);
	fclose(f);
	cr_assert_eq(snap_file_read(path, &b, &err), -EINVAL);
	cr_assert(strstr(err.msg, path), "%s", err.msg);
	cr_assert(strstr(err.msg, ": snapshot: not an mvm snapshot state "
			 "file"), "%s", err.msg);
	/* Past 1 GiB, refused before anything is read (a sparse file). */
	f = fopen(big, "w");
	cr_assert_eq(ftruncate(fileno(f), (1 << 30) + 1), 0);
	fclose(f);
	cr_assert_eq(snap_file_read(big, &b, &err), -EFBIG);
	cr_assert(strstr(err.msg, "more than a state file's"), "%s", err.msg);

	make_snap(&a);
	cr_assert_eq(snap_file_write(missing, &a, &err), -ENOENT);
	cr_assert(strstr(err.msg, "no/such/dir/vm.snap.tmp"), "%s", err.msg);
	snap_file_free(&a);
	free(path);
	free(missing);
	free(big);
	dir_rm(&d);
}

/* ---- what a person sees ------------------------------------------------ */

static char *printed(const struct snap_file *s)
{
	char *text;
	size_t size;
	FILE *f = open_memstream(&text, &size);

	snap_file_print(s, f);
	fclose(f);
	return text;
}

Test(snapshot_file, print_says_what_is_in_it)
{
	static const char *const want[] = {
		"format version 1, written by mvm \"0.1.0\"\n",
		"type: Diff\n",
		"taken: 2023-11-14T22:13:20.123456789Z\n",
		"memory file: \"vm.mem\"\n",
		"machine: 2 vCPUs, 3200 MiB, huge pages 2M, nested "
		"virtualization on, entropy device yes, dirty page tracking "
		"on, on reboot restart\n",
		"  cmdline \"console=ttyS0 root=/dev/vda rw\"\n",
		"  drive \"data:1\" \"/img/data.img\" read-only, cache None\n",
		"  network interface \"eth0\" tap \"tap0\" mac "
		"02:aa:bb:cc:dd:01 (set), MAC spoofing refused\n",
		"  balloon 512 MiB, deflate on OOM on, statistics every 5 s, "
		"free page hinting on, reporting off\n",
		"vcpus: 2, nested state present\n",
		"  vcpu1 ",
		"devices: 6\n",
		"  \"virtio-blk:disk0\" version 1, 100 bytes\n",
		"  \"pvpanic\" version 1, 0 bytes\n",
		"memory: 2 regions\n",
		"  region 1: gpa 0x100000000, 128 MiB, at 0xc0000000 in the "
		"memory file\n",
	};
	struct snap_file a;
	char *text;

	make_snap(&a);
	text = printed(&a);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert(strstr(text, want[i]), "no \"%s\" in:\n%s", want[i],
			  text);
	cr_assert_null(strstr(text, "smt"), "%s", text);
	cr_assert_null(strstr(text, "cpu template"), "%s", text);
	free(text);
	a.machine.smt = true;
	a.machine.cpu_template = CPU_STATIC_T2A;
	a.machine.cpu_custom_set = true;
	a.machine.cpu_custom.nr_cpuid = 3;
	a.machine.cpu_custom.nr_msrs = 1;
	text = printed(&a);
	cr_assert(strstr(text, "  smt: two threads a core\n  cpu template "
			 "T2A\n  custom cpu template: 3 CPUID, 1 MSR, 0 KVM "
			 "capability modifier(s)\n"), "%s", text);
	free(text);

	/* What came from a file reaches no terminal as it is. */
	free((char *)a.machine.cmdline);
	a.machine.cmdline = strdup("quiet\x1b[2J\"x\"");
	text = printed(&a);
	cr_assert(strstr(text, "cmdline \"quiet\\x1b[2J\\\"x\\\"\""), "%s",
		  text);
	cr_assert_null(strchr(text, '\x1b'));
	free(text);
	snap_file_free(&a);
}

/* 3200 MiB of RAM: hotpluggable memory goes at 5 GiB, the third region. */
static void add_hotplug(struct snap_file *s)
{
	s->machine.mem_hotplug = (struct mem_hotplug_config){
		.total_mib = 1024, .slot_mib = 256, .block_mib = 4,
		.requested_mib = 64 };
	s->regions[2] = (struct gm_file_region){ 5 * GIB, GIB,
						 3 * GIB + 128 * MIB };
	s->nr_regions = 3;
}

static void refused_hotplug(struct snap_file *s, const char *want)
{
	struct mvm_err err = { .msg = "" };
	size_t len;
	void *buf;

	cr_assert_lt(snap_file_encode(s, &buf, &len, &err), 0, "accepted");
	cr_assert(strstr(err.msg, want), "want '%s': %s", want, err.msg);
}

Test(snapshot_file, memory_hotplug_round_trips_and_is_checked)
{
	struct snap_file a, b;
	struct mvm_err err = { .msg = "" };
	size_t len;
	void *buf;
	char *text;

	make_snap(&a);
	add_hotplug(&a);
	buf = encode(&a, &len);
	cr_assert_eq(snap_file_decode(buf, len, &b, &err), 0, "%s", err.msg);
	cr_assert_eq(memcmp(&a.machine.mem_hotplug, &b.machine.mem_hotplug,
			    sizeof(a.machine.mem_hotplug)), 0);
	cr_assert_eq(b.nr_regions, 3);
	snap_file_free(&b);
	free(buf);
	text = printed(&a);
	cr_assert(strstr(text, "  memory hotplug: 1024 MiB in slots of 256 "
			 "MiB, blocks of 4 MiB, 64 MiB requested at boot\n"),
		  "%s", text);
	free(text);

	/* Sizes a new VM's would be refused, and RAM without the region. */
	a.machine.mem_hotplug.requested_mib = 6;
	refused_hotplug(&a, "machine/memory-hotplug: requested_size_mib must "
			"be a whole number of blocks");
	a.machine.mem_hotplug.requested_mib = 64;
	a.machine.mem_hotplug.slot_mib = 100;
	refused_hotplug(&a, "slot_size_mib must be at least 128 MiB");
	a.machine.mem_hotplug.slot_mib = 256;
	a.nr_regions = 2;
	refused_hotplug(&a, "memory: the regions hold");
	/* Without hotpluggable memory, the third region is one too many. */
	a.nr_regions = 3;
	a.machine.mem_hotplug.total_mib = 0;
	refused_hotplug(&a, "memory: the regions hold");
	snap_file_free(&a);
}

/* Dynamic memory's settings travel; its rules hold against the machine. */
Test(snapshot_file, dynamic_memory_round_trips_and_is_checked)
{
	struct snap_file a, b;
	struct mvm_err err = { .msg = "" };
	size_t len;
	void *buf;
	char *text;

	make_snap(&a);
	add_hotplug(&a);
	a.machine.dynmem = (struct dynmem_config){ .enabled = true,
		.min_mib = 1024, .max_mib = 4224, .buffer_percent = 35 };
	buf = encode(&a, &len);
	cr_assert_eq(snap_file_decode(buf, len, &b, &err), 0, "%s", err.msg);
	cr_assert_eq(memcmp(&a.machine.dynmem, &b.machine.dynmem,
			    sizeof(a.machine.dynmem)), 0);
	snap_file_free(&b);
	free(buf);
	text = printed(&a);
	cr_assert(strstr(text, "  dynamic memory 1024-4224 MiB, buffer 35%\n"),
		  "%s", text);
	free(text);

	a.machine.dynmem.max_mib = 4226;
	refused_hotplug(&a, "machine/dynamic-memory: max_mib 4226 MiB is "
			"beyond the boot memory (3200 MiB)");
	a.machine.dynmem.max_mib = 4224;
	a.machine.dynmem.buffer_percent = 3;
	refused_hotplug(&a, "machine/dynamic-memory: buffer_percent 3 is not "
			"from 5 to 2000");
	a.machine.dynmem.buffer_percent = 35;
	a.machine.balloon.stats_interval_s = 0;
	refused_hotplug(&a, "machine/dynamic-memory: balloon "
			"stats_polling_interval_s is 0");
	/* Off: no node at all, and nothing printed. */
	a.machine.balloon.stats_interval_s = 5;
	a.machine.dynmem = (struct dynmem_config){ .min_mib = 1 };
	buf = encode(&a, &len);
	cr_assert_eq(snap_file_decode(buf, len, &b, &err), 0, "%s", err.msg);
	cr_assert_not(b.machine.dynmem.enabled);
	cr_assert_eq(b.machine.dynmem.min_mib, 0);
	snap_file_free(&b);
	free(buf);
	snap_file_free(&a);
}

/* ---- dtc -------------------------------------------------------------- */

/* dtc's output for a file snap_file_write wrote: the nodes are there. */
Test(snapshot_file, dtc_prints_a_state_file)
{
	static const char *const want[] = {
		"\tmagic = \"mvm-snapshot\";\n",
		"\tformat-version = <0x01>;\n",
		"\tmachine {\n",
		"\t\tdrives {\n",
		"\t\t\tdata,1 {\n",
		"\t\tnetwork-interfaces {\n",
		"\tvcpus {\n",
		"\t\tcpu@0 {\n",
		"\t\tcpu@1 {\n",
		"\tdevices {\n",
		"\t\tvirtio-blk,disk0 {\n",
		"\t\tvirtio-blk,disk0@3 {\n",
		"\t\tkvmclock {\n",
		"\tmemory {\n",
		"\t\tregion@1 {\n",
	};
	struct mvm_err err = { .msg = "" };
	char cmd[600], line[512], *text = NULL;
	struct snap_file a;
	struct dir d;
	size_t size = 0;
	char *path;
	FILE *p, *out;
	int status;

	if (system("command -v dtc >/dev/null 2>&1"))
		cr_assert_fail("dtc is not installed: this test needs it (package "
			"device-tree-compiler, scripts/install-deps.sh)");
	dir_new(&d);
	path = in_dir(&d, "vm.snap");
	make_snap(&a);
	cr_assert_eq(snap_file_write(path, &a, &err), 0, "%s", err.msg);
	snprintf(cmd, sizeof(cmd), "dtc -q -I dtb -O dts '%s'", path);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	out = open_memstream(&text, &size);
	while (fgets(line, sizeof(line), p))
		fputs(line, out);
	fclose(out);
	status = pclose(p);
	cr_assert_eq(status, 0, "dtc exited with %d:\n%s", status, text);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert(strstr(text, want[i]), "no \"%s\" in:\n%s", want[i],
			  text);
	free(text);
	snap_file_free(&a);
	free(path);
	dir_rm(&d);
}

/* Big-endian u32 into a raw tree. */
static void put32(uint8_t *b, size_t off, uint32_t v)
{
	b[off] = (uint8_t)(v >> 24);
	b[off + 1] = (uint8_t)(v >> 16);
	b[off + 2] = (uint8_t)(v >> 8);
	b[off + 3] = (uint8_t)v;
}

/*
 * libfdt 1.6.1 never returns from fdt_check_full() on a property of
 * length 0xfffffff4 (it steps back onto the same tag): the walk before
 * it refuses the tree at once. The criterion timeout is the loop's sign.
 */
Test(snapshot_file, a_negative_property_length_is_refused_not_looped_on,
     .timeout = 10)
{
	uint8_t b[128] = { 0 };
	const size_t rsv = 40, st = 56, strs = 96;
	struct mvm_err err = { .msg = "" };
	struct snap_file s;

	put32(b, 0, 0xd00dfeed);
	put32(b, 4, sizeof(b));
	put32(b, 8, st);
	put32(b, 12, strs);
	put32(b, 16, rsv);
	put32(b, 20, 17);
	put32(b, 24, 16);
	put32(b, 32, (uint32_t)(sizeof(b) - strs));
	put32(b, 36, (uint32_t)(strs - st));
	put32(b, st, 1);              /* FDT_BEGIN_NODE "" */
	put32(b, st + 8, 3);          /* FDT_PROP */
	put32(b, st + 12, 0xfffffff4); /* its length: -12 */
	put32(b, st + 16, 0);
	cr_assert_eq(snap_file_decode(b, sizeof(b), &s, &err), -EINVAL);
	cr_assert(strstr(err.msg, "bad tag or length"), "%s", err.msg);
}

/* A hostile machine/mmds, or a NIC that names MMDS without one. */
Test(snapshot_file, a_bad_mmds_config_is_refused)
{
	struct tree *t = tree_new();

	set_u32(t, "/machine/network-interfaces/eth1", "mmds", 1);
	tree_refused(t, "machine/network-interfaces/eth1: serves MMDS, but "
		     "the machine has no mmds node");

	t = tree_new();
	set_u32(t, "/machine/network-interfaces/eth1", "mmds", 2);
	tree_refused(t, "mmds");

	t = tree_new();
	add_subnode(t, "/machine", "mmds");
	set_str(t, "/machine/mmds", "version", "V3");
	set_u32(t, "/machine/mmds", "ipv4-address", 0xa9fea9fe);
	set_u32(t, "/machine/mmds", "imds-compat", 0);
	tree_refused(t, "machine/mmds");

	t = tree_new();
	add_subnode(t, "/machine", "mmds");
	set_str(t, "/machine/mmds", "version", "V2");
	set_u32(t, "/machine/mmds", "ipv4-address", 0x0a000001);
	set_u32(t, "/machine/mmds", "imds-compat", 0);
	tree_refused(t, "machine/mmds: ipv4-address 10.0.0.1 is not "
		     "link-local");

	t = tree_new();
	add_subnode(t, "/machine", "mmds");
	set_str(t, "/machine/mmds", "version", "V2");
	set_u32(t, "/machine/mmds", "imds-compat", 0);
	tree_refused(t, "ipv4-address");
}
