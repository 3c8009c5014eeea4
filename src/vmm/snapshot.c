/*
 * Snapshots (include/mvm/vmm_snapshot.h): the lifecycle's Snapshotting and
 * Restoring states, the policy's say, and the order of the work. Taking
 * one: vm_save_all's state and the guest's memory into two files. Loading
 * one: a VM built from the snapshot's configuration, its RAM the memory
 * file (mapped, or served by a page-fault handler), its state loaded with
 * vm_load_all. The formats are the snapshot layer's and the core's.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mvm/clock.h"
#include "mvm/err.h"
#include "mvm/mem_file.h"
#include "mvm/nested.h"
#include "mvm/policy.h"
#include "mvm/snapshot.h"
#include "mvm/vcpu_state.h"
#include "mvm/vm_state.h"
#include "mvm/vmm.h"
#include "mvm/vmm_snapshot.h"

#include "vmm_priv.h"

/*
 * Writing the memory file over the file a File-backed VM still reads its
 * untouched pages from (a snapshot's it was loaded from, a checkpoint's
 * it was reverted to) would change the guest's memory under it. The VM
 * holds that file open, so its inode cannot be another's meanwhile.
 */
static int check_not_backing(struct vmm *v, const char *path,
			     struct mvm_err *err)
{
	struct stat st, backing;

	if (!v->have_vm || v->vm.mem.backing != GM_BACKING_FILE ||
	    fstat(v->vm.mem.file_fd, &backing) < 0 || stat(path, &st) < 0)
		return 0;
	if (st.st_dev == backing.st_dev && st.st_ino == backing.st_ino)
		return mvm_fail(err, -EINVAL, "mem_file_path '%s' is the "
				"memory file this VM still reads its memory "
				"from (a snapshot's it was loaded from, or a "
				"checkpoint's it was reverted to): write to "
				"another file", path);
	return 0;
}

static bool is_regular(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The guest's memory into mem_path: all of it, or what changed. */
static int save_memory(struct vmm *v, const struct vmm_snapshot_create *rq,
		       struct mvm_err *err)
{
	unsigned long *dirty[MEM_MAX_REGIONS] = { NULL };
	uint64_t bytes = 0;
	int fd, ret = 0;

	/*
	 * A new file, not the old one truncated: ext4 writes a truncated
	 * and rewritten file back on close (auto_da_alloc), seconds per GiB.
	 * What is not a regular file (a device, a FIFO) is left for the
	 * save to refuse.
	 */
	if (is_regular(rq->mem_path) && unlink(rq->mem_path) < 0)
		return mvm_fail(err, -EINVAL, "mem_file_path '%s': %s",
				rq->mem_path, strerror(errno));
	fd = open(rq->mem_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return mvm_fail(err, -EINVAL, "mem_file_path '%s': %s",
				rq->mem_path, strerror(errno));
	/* Either kind starts the next Diff's count from this snapshot. */
	if (v->vm.cfg.track_dirty_pages)
		ret = vm_dirty_collect(&v->vm, dirty, err);
	if (!ret && rq->type == SNAP_DIFF)
		ret = gm_save_diff(&v->vm.mem, fd, dirty, &bytes, err);
	else if (!ret)
		ret = gm_save_full(&v->vm.mem, fd, &bytes, err);
	for (int i = 0; i < MEM_MAX_REGIONS; i++)
		free(dirty[i]);
	if (close(fd) < 0 && !ret)
		ret = mvm_fail(err, -EIO, "mem_file_path '%s': %s",
			       rq->mem_path, strerror(errno));
	if (ret)
		return mvm_wrap(err, ret, "snapshot: ");
	vmm_log(v, API_LOG_INFO, "snapshot", "memory: %llu bytes of data "
		"in '%s'", (unsigned long long)bytes, rq->mem_path);
	return 0;
}

/* The paused VM's state file, in s (its state list to free). */
static int state_fill(struct vmm *v, struct snap_file *s,
		      const char *mem_file, enum snap_type type,
		      struct mvm_err *err)
{
	unsigned nr = 0;

	memset(s, 0, sizeof(*s));
	s->format_version = SNAP_FORMAT_VERSION;
	snprintf(s->mvm_version, sizeof(s->mvm_version), "%s", MVM_VERSION);
	s->created_ns = mvm_real_ns();
	s->type = type;
	s->mem_file = (char *)mem_file; /* borrowed: s is not freed */
	s->machine = v->vm.cfg;
	s->machine.mem_source = NULL;
	s->track_dirty_pages = v->vm.cfg.track_dirty_pages;
	gm_file_layout(&v->vm.mem, s->regions, &nr);
	s->nr_regions = nr;
	return vm_save_all(&v->vm, &s->state, err);
}

int vmm_state_encode(struct vmm *v, void **buf, size_t *len,
		     struct mvm_err *err)
{
	struct snap_file s;
	int ret = state_fill(v, &s, NULL, SNAP_FULL, err);

	if (!ret)
		ret = snap_file_encode(&s, buf, len, err);
	dev_state_list_free(&s.state);
	return ret;
}

int vmm_save_state_file(struct vmm *v, const char *path,
			const char *mem_file, enum snap_type type,
			struct mvm_err *err)
{
	struct snap_file s;
	int ret = state_fill(v, &s, mem_file, type, err);

	if (!ret)
		ret = snap_file_write(path, &s, err);
	dev_state_list_free(&s.state);
	return ret;
}

int vmm_policy_ask_now(struct vmm *v, enum policy_op op, struct mvm_err *err)
{
	struct policy_facts f;

	vmm_policy_facts(v, &f);
	return vmm_policy_ask(v, op, &f, err);
}

/* The policy, with allow_nested_state where this host can carry it. */
static int ask_create(struct vmm *v, const struct vmm_snapshot_create *rq,
		      struct mvm_err *err)
{
	struct policy_facts f;

	int ret;

	vmm_policy_facts(v, &f);
	f.nested_state_override = rq->allow_nested_state &&
				  vm_host_nested_state();
	ret = vmm_policy_ask(v, POLICY_OP_SNAPSHOT_CREATE, &f, err);
	if (ret == -EPERM && rq->allow_nested_state)
		mvm_wrap(err, ret, "allow_nested_state cannot apply: this "
			 "host's KVM cannot save and restore nested state "
			 "(KVM_CAP_NESTED_STATE); ");
	return ret;
}

int vmm_snapshot_create(struct vmm *v, const struct vmm_snapshot_create *rq,
			struct mvm_err *err)
{
	uint64_t start = mvm_mono_ns();
	enum vm_state to;
	int ret;

	if (vm_state_next(v->state, VM_EV_SNAPSHOT, &to, err))
		return mvm_fail(err, -EINVAL, "cannot snapshot: the VM is %s "
				"(pause it first: PATCH /vm {\"state\": "
				"\"Paused\"})", vm_state_name(v->state));
	if (rq->type == SNAP_DIFF && !(v->dry_run ? v->spec.track_dirty_pages :
				       v->vm.cfg.track_dirty_pages))
		return mvm_fail(err, -EINVAL, "snapshot_type Diff needs dirty "
				"page tracking: set track_dirty_pages in "
				"machine-config (or in snapshot/load)");
	if (v->dry_run)
		return 0; /* validated; no VM, no file is written */
	ret = check_not_backing(v, rq->mem_path, err);
	if (!ret)
		ret = ask_create(v, rq, err);
	if (ret)
		return ret;
	vmm_must_transition(v, VM_EV_SNAPSHOT);
	ret = save_memory(v, rq, err);
	if (!ret)
		ret = vmm_save_state_file(v, rq->state_path, rq->mem_path,
					  rq->type, err);
	vmm_must_transition(v, VM_EV_SNAPSHOT_DONE);
	if (!ret)
		vmm_latency_vmm(v, rq->type == SNAP_DIFF ?
				   VMM_LAT_DIFF_CREATE_SNAPSHOT :
				   VMM_LAT_FULL_CREATE_SNAPSHOT, start);
	if (!ret)
		vmm_log(v, API_LOG_INFO, "snapshot", "%s snapshot taken: '%s'",
			rq->type == SNAP_DIFF ? "Diff" : "Full",
			rq->state_path);
	return ret;
}

/* ---- load ---------------------------------------------------------- */

/* Firecracker's rule: a snapshot loads into an mvm nobody configured. */
const char *vmm_spec_configured(const struct vm_spec *s)
{
	if (s->boot_source_set)
		return "boot-source";
	if (s->nr_drives)
		return "a drive";
	if (s->nr_nets)
		return "a network interface";
	if (s->nr_pmems)
		return "a pmem device";
	if (s->entropy_set)
		return "entropy";
	if (s->balloon.enabled)
		return "a balloon";
	if (s->vsock.guest_cid)
		return "vsock";
	if (s->mem_hotplug.total_mib)
		return "memory-hotplug";
	if (s->dynmem.enabled)
		return "dynamic-memory";
	if (s->vcpu_count != MVM_DEFAULT_CPUS ||
	    s->mem_size_mib != MVM_DEFAULT_MEM_MIB || s->nested_virt ||
	    s->huge_pages != GM_PAGES_TRANSPARENT || s->track_dirty_pages)
		return "machine-config";
	return NULL;
}

/* One node's part: a vCPU's nested state says whether L1 was hosting. */
static void add_vcpu_facts(const struct dev_state_node *n,
			   struct policy_facts *f)
{
	struct mvm_err err = { .msg = "" };
	struct vcpu_state st = { .cpuid = NULL };
	struct nested_state_facts nf;

	if (strncmp(n->id, "vcpu", 4))
		return;
	if (!vcpu_state_decode(n->data, n->len, &st, &err) && st.nested) {
		uint64_t efer = st.sregs.efer;

		if (nested_state_parse(st.nested, st.nested_len, &efer, &nf,
				       &err))
			nf.l1_hypervisor_active = nf.l2_running = false;
		f->l1_hypervisor_active |= nf.l1_hypervisor_active;
		f->l2_running |= nf.l2_running;
	}
	vcpu_state_free(&st);
}

/*
 * What the snapshot's vCPUs were doing with nesting when it was taken:
 * the policy's facts for loading it, as the running VM's are for taking
 * one. A vCPU blob that does not decode was refused by the reader.
 */
void vmm_snapshot_facts(const struct snap_file *s, struct policy_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->nested_exposed = s->machine.nested;
	f->nics = s->machine.nr_nets;
	for (unsigned i = 0; i < s->machine.nr_nets; i++)
		f->nics_mac_spoofing += s->machine.nets[i].mac_spoofing;
	for (unsigned i = 0; i < s->state.nr; i++)
		add_vcpu_facts(&s->state.node[i], f);
}

/* Can this host and this mvm take s at all? */
static int check_loadable(struct vmm *v, const struct snap_file *s,
			  bool allow_nested_state, struct mvm_err *err)
{
	struct policy_facts f;

	/* The reader checked the file's own sense (its regions hold its
	 * RAM); what is left is whether this host and the policy take it. */
	if ((s->machine.nested || snap_file_has_nested(s)) &&
	    vm_check_nested_host(err)) {
		char why[sizeof(err->msg)];

		snprintf(why, sizeof(why), "%s", err->msg);
		return mvm_fail(err, -EINVAL, "snapshot: taken with nested "
				"virtualization exposed%s, which this host "
				"cannot restore: %s",
				snap_file_has_nested(s) ? " (its vCPUs carry "
				"nested state)" : "", why);
	}
	vmm_snapshot_facts(s, &f);
	f.vm_running = true;
	/* Nesting is possible here (checked above): so is its state. */
	f.nested_state_override = allow_nested_state &&
				  vm_host_nested_state();
	return vmm_policy_ask(v, POLICY_OP_SNAPSHOT_LOAD, &f, err);
}

int vmm_net_overrides_apply(struct vm_config *cfg,
			    const struct vmm_snapshot_load *rq,
			    struct mvm_err *err)
{
	for (unsigned i = 0; i < rq->nr_overrides; i++) {
		const struct vmm_net_override *o = &rq->overrides[i];
		struct net_config *n = NULL;

		for (unsigned j = 0; j < cfg->nr_nets && !n; j++)
			if (!strcmp(cfg->nets[j].id, o->iface_id))
				n = &cfg->nets[j];
		if (!n)
			return mvm_fail(err, -EINVAL, "network_overrides[%u]: "
					"the snapshot has no network interface "
					"'%s'", i, o->iface_id);
		if (n->user)
			return mvm_fail(err, -EINVAL, "network_overrides[%u]: "
					"'%s' uses the user backend (NAT), "
					"which has no tap to change", i,
					o->iface_id);
		snprintf(n->tap, sizeof(n->tap), "%s", o->host_dev_name);
	}
	if (!rq->vsock_uds_path)
		return 0;
	if (!cfg->vsock.guest_cid)
		return mvm_fail(err, -EINVAL, "vsock_override: the snapshot "
				"has no vsock device");
	/* Lent: the device copies it, the spec takes its own. */
	cfg->vsock.uds_path = (char *)rq->vsock_uds_path;
	return 0;
}

/*
 * The spec takes the snapshot's machine, so that GET /vm/config shows
 * it and PATCH /drives finds its drives; the logger, metrics and serial
 * settings made before the load stay.
 */
int vmm_take_machine(struct vmm *v, const struct vm_config *cfg,
		     struct mvm_err *err)
{
	struct vm_spec m;
	int ret = spec_from_config(&m, cfg, err);

	if (ret)
		return ret;
	m.track_dirty_pages = cfg->track_dirty_pages;
	spec_take_machine(&v->spec, &m);
	spec_free(&m);
	/* The snapshot's strings that cfg borrowed go with it. */
	vmm_config_rebind(v);
	return 0;
}

/* A File backend's memory file must hold every region of the snapshot. */
static int check_memory_file(const struct vmm_snapshot_load *rq,
			     const struct snap_file *s, struct mvm_err *err)
{
	struct stat st;

	if (rq->backend != VM_MEM_FILE)
		return 0;
	if (stat(rq->backend_path, &st) < 0)
		return mvm_fail(err, -EINVAL, "mem_backend.backend_path '%s': "
				"%s", rq->backend_path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return mvm_fail(err, -EINVAL, "mem_backend.backend_path '%s': "
				"not a regular file", rq->backend_path);
	if (gm_file_layout_check(s->regions, s->nr_regions,
				 (uint64_t)st.st_size, err))
		return mvm_wrap(err, -EINVAL, "mem_backend.backend_path '%s' "
				"is not this snapshot's memory file (%llu "
				"bytes): ", rq->backend_path,
				(unsigned long long)st.st_size);
	return 0;
}

/* In the Restoring state: build the VM parked, then load its state. */
static int restore(struct vmm *v, const struct snap_file *s,
		   const struct vmm_snapshot_load *rq, struct mvm_err *err)
{
	struct vm_mem_source src = {
		.backend = rq->backend,
		.path = rq->backend_path,
		.regions = s->regions,
		.nr = s->nr_regions,
	};
	struct vm_load_opts opts = { .clock_realtime = rq->clock_realtime };
	struct vm_config cfg = s->machine;
	int ret;

	cfg.mem_source = &src;
	cfg.track_dirty_pages = rq->track_dirty_pages;
	ret = vmm_net_overrides_apply(&cfg, rq, err);
	if (!ret)
		ret = check_memory_file(rq, s, err);
	if (ret)
		return ret;
	ret = vmm_build_vm(v, &cfg, err);
	if (ret)
		return ret;
	v->vm.cfg.mem_source = NULL; /* src is gone when this returns */
	ret = vm_pause_all(&v->vm, err);
	if (!ret)
		ret = vm_load_all_opts(&v->vm, &s->state, &opts, err);
	if (!ret)
		ret = vmm_take_machine(v, &v->vm.cfg, err);
	if (ret) {
		vmm_discard_vm(v);
		return ret;
	}
	return 0;
}

int vmm_snapshot_load(struct vmm *v, const struct vmm_snapshot_load *rq,
		      struct mvm_err *err)
{
	const char *what = vmm_spec_configured(&v->spec);
	uint64_t start = mvm_mono_ns();
	struct snap_file s;
	int ret;

	if (v->state != VM_STATE_NOT_STARTED || v->have_vm)
		return mvm_fail(err, -EINVAL, "snapshot/load: a VM has been "
				"started in this mvm; load a snapshot into a "
				"new one");
	if (what)
		return mvm_fail(err, -EINVAL, "snapshot/load: %s is configured "
				"already; a snapshot loads into an mvm with "
				"nothing configured but its logger, metrics "
				"and serial output", what);
	/* Its messages name the file; a missing one is bad input too. */
	if (v->dry_run)
		return 0; /* validated; no file is read */
	ret = snap_file_read(rq->state_path, &s, err);
	if (ret)
		return ret == -ENOMEM ? ret : mvm_wrap(err, -EINVAL,
						       "snapshot_path: ");
	ret = check_loadable(v, &s, rq->allow_nested_state, err);
	if (!ret)
		ret = vmm_transition(v, VM_EV_RESTORE, err);
	if (ret) {
		snap_file_free(&s);
		return ret;
	}
	ret = restore(v, &s, rq, err);
	snap_file_free(&s);
	vmm_must_transition(v, ret ? VM_EV_RESTORE_FAILED :
				     VM_EV_RESTORE_DONE);
	if (ret)
		return ret;
	vmm_latency_vmm(v, VMM_LAT_LOAD_SNAPSHOT, start);
	vmm_log(v, API_LOG_INFO, "snapshot", "snapshot loaded: '%s'",
		rq->state_path);
	return rq->resume_vm ? vmm_resume(v, err) : 0;
}
