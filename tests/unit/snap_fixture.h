/*
 * A snapshot to encode in tests (and the fuzzer's seed): every field of
 * struct snap_file set, none to its zero value, the vCPUs' blobs made by
 * vcpu_state_encode itself. No test framework here, so that a plain
 * program can use it too: each function returns 0 or a negative errno.
 */
#ifndef MVM_TEST_SNAP_FIXTURE_H
#define MVM_TEST_SNAP_FIXTURE_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/snapshot.h"
#include "mvm/vcpu_state.h"

#define FIX_GIB (1ull << 30)
#define FIX_MIB (1ull << 20)
/* 2023-11-14T22:13:20.123456789Z */
#define FIX_TAKEN_NS 1700000000123456789ull

/* A minimal vCPU state vcpu_state_decode accepts; SVM nested state or
 * not (KVM's layout: a 128-byte header, then the VMCB page). */
static inline int fix_vcpu_blob(unsigned seed, bool nested, void **buf,
				size_t *len)
{
	struct vcpu_state st = { .have_fpu = true };
	int ret = -ENOMEM;

	st.cpuid = calloc(1, sizeof(*st.cpuid) +
				     sizeof(struct kvm_cpuid_entry2));
	st.msrs = calloc(1, sizeof(*st.msrs) + sizeof(struct kvm_msr_entry));
	if (!st.cpuid || !st.msrs)
		goto out;
	st.cpuid->nent = 1;
	st.cpuid->entries[0].function = seed;
	st.msrs->nmsrs = 1;
	st.msrs->entries[0] = (struct kvm_msr_entry){ .index = 0xc0000080,
						      .data = seed };
	st.regs.rip = 0x100000 + seed;
	st.mp_state.mp_state = KVM_MP_STATE_RUNNABLE;
	if (nested) {
		struct kvm_nested_state *ns = calloc(1, 128 + 4096);

		if (!ns)
			goto out;
		ns->format = KVM_STATE_NESTED_FORMAT_SVM;
		ns->flags = KVM_STATE_NESTED_GUEST_MODE |
			    KVM_STATE_NESTED_GIF_SET;
		ns->size = 128 + 4096;
		ns->hdr.svm.vmcb_pa = 0x12345000;
		st.nested = ns;
		st.nested_len = ns->size;
	}
	ret = vcpu_state_encode(&st, buf, len, NULL);
out:
	vcpu_state_free(&st);
	return ret;
}

static inline int fix_add_node(struct snap_file *s, const char *id,
			       uint32_t version, const void *data, size_t len)
{
	struct dev_state_node n = { .version = 0 };
	int ret = dev_state_node_set(&n, id, version, data, len, NULL);

	if (!ret)
		ret = dev_state_list_add(&s->state, &n, NULL);
	dev_state_node_free(&n);
	return ret;
}

static inline int fix_add_vcpu(struct snap_file *s, unsigned i, bool nested)
{
	char id[16];
	size_t len;
	void *blob;
	int ret = fix_vcpu_blob(i, nested, &blob, &len);

	if (ret)
		return ret;
	snprintf(id, sizeof(id), "vcpu%u", i);
	ret = fix_add_node(s, id, VCPU_STATE_VERSION, blob, len);
	free(blob);
	return ret;
}

/* len bytes (at most 256) of a pattern of its own. */
static inline int fix_add_device(struct snap_file *s, const char *id,
				 uint32_t version, size_t len)
{
	unsigned char data[256];

	for (size_t i = 0; i < len && i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + version);
	return fix_add_node(s, id, version, data, len);
}

static inline int fix_dup(const char *v, char **out)
{
	*out = strdup(v);
	return *out ? 0 : -ENOMEM;
}

/*
 * 2 vCPUs (vcpu0 with nested state), 3200 MiB in two regions around the
 * 32-bit hole, two drives, two NICs, devices whose ids need a node name
 * made for them. s is the caller's to free (snap_file_free), whatever
 * this returns.
 */
static inline int fix_make_snap(struct snap_file *s)
{
	struct vm_config *m = &s->machine;
	char *kernel, *initrd, *cmdline;
	int ret;

	memset(s, 0, sizeof(*s));
	s->format_version = SNAP_FORMAT_VERSION;
	strcpy(s->mvm_version, "0.1.0");
	s->created_ns = FIX_TAKEN_NS;
	s->type = SNAP_DIFF;
	m->cpus = 2;
	m->mem_mib = 3200;
	m->pages = GM_PAGES_HUGE_2M;
	m->on_reboot = VM_ON_REBOOT_RESTART;
	m->nested = true;
	m->rng = true;
	m->rng_rl.bandwidth = (struct token_bucket){ 4096, 0, 100 };
	m->balloon = (struct balloon_config){
		.enabled = true, .amount_mib = 512, .deflate_on_oom = true,
		.stats_interval_s = 5, .free_page_hinting = true,
	};
	m->console_in = m->console_out = -1;
	s->track_dirty_pages = true;
	ret = fix_dup("vm.mem", &s->mem_file);
	if (!ret && !(ret = fix_dup("/boot/vmlinux", &kernel)))
		m->kernel = kernel;
	if (!ret && !(ret = fix_dup("/boot/initrd.img", &initrd)))
		m->initrd = initrd;
	if (!ret && !(ret = fix_dup("console=ttyS0 root=/dev/vda rw",
				    &cmdline)))
		m->cmdline = cmdline;
	if (ret)
		return ret;
	strcpy(m->disks[0].id, "rootfs");
	m->disks[0].cache = DISK_CACHE_WRITEBACK;
	m->disks[0].rl = (struct rate_limiter){ { 1 << 20, 1 << 21, 1000 },
						{ 100, 0, 10 } };
	strcpy(m->disks[1].id, "data:1");
	m->disks[1].readonly = true;
	m->disks[1].cache = DISK_CACHE_NONE;
	m->nr_disks = 2;
	if (fix_dup("/img/root.ext4", &m->disks[0].path) ||
	    fix_dup("/img/data.img", &m->disks[1].path))
		return -ENOMEM;
	m->nr_nets = 2;
	strcpy(m->nets[0].id, "eth0");
	strcpy(m->nets[0].tap, "tap0");
	memcpy(m->nets[0].mac, "\x02\xaa\xbb\xcc\xdd\x01", 6);
	m->nets[0].mac_set = true;
	m->nets[0].tx_rl.ops = (struct token_bucket){ 50, 10, 1000 };
	m->nets[0].rx_rl.bandwidth = (struct token_bucket){ 1, 2, 3 };
	strcpy(m->nets[1].id, "eth1");
	strcpy(m->nets[1].tap, "tap-long-name15");
	memcpy(m->nets[1].mac, "\x06\x00\x00\x00\x00\x07", 6);
	m->nets[1].mac_spoofing = true;
	m->nets[0].tap_fd = m->nets[1].tap_fd = -1;
	/* A user-mode NAT NIC: no tap, its hostfwd rules. */
	strcpy(m->nets[2].id, "nat0");
	memcpy(m->nets[2].mac, "\x06\x00\x00\x00\x00\x08", 6);
	m->nets[2].user = true;
	m->nets[2].tap_fd = -1;
	m->nets[2].nr_hostfwd = 2;
	m->nets[2].mtu = 9000; /* written as it is: not the default */
	m->nets[2].hostfwd[0] = (struct slirp_net_hostfwd){
		.host_addr.s_addr = htonl(0x7f000001), .host_port = 8080,
		.guest_port = 80 };
	m->nets[2].hostfwd[1] = (struct slirp_net_hostfwd){
		.udp = true, .host_port = 5353,
		.guest_addr.s_addr = htonl(0x0a00020f), .guest_port = 53 };
	m->nr_nets = 3;
	s->nr_regions = 2;
	s->regions[0] = (struct gm_file_region){ 0, 3 * FIX_GIB, 0 };
	s->regions[1] = (struct gm_file_region){ 4 * FIX_GIB, 128 * FIX_MIB,
						 3 * FIX_GIB };
	if ((ret = fix_add_vcpu(s, 0, true)) ||
	    (ret = fix_add_vcpu(s, 1, false)) ||
	    (ret = fix_add_device(s, "serial0", 1, 16)) ||
	    (ret = fix_add_device(s, "irqchip", 2, 200)) ||
	    (ret = fix_add_device(s, "virtio-blk:disk0", 1, 100)) ||
	    /* Its node name comes out as the one above's: "@3" added. */
	    (ret = fix_add_device(s, "virtio-blk,disk0", 1, 3)) ||
	    (ret = fix_add_device(s, "pvpanic", 1, 0)))
		return ret;
	return fix_add_device(s, "kvmclock", 1, 48);
}

#endif
