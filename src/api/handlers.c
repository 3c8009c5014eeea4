/*
 * The endpoints. Phase rules are the router's; each handler parses its
 * body through the shared shapes and asks the VMM controller to act.
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "mvm/api.h"
#include "mvm/cpu_template.h"
#include "mvm/clock.h"
#include "mvm/err.h"
#include "mvm/nested.h"
#include "mvm/policy.h"
#include "mvm/vmm.h"

#include "handlers.h"
#include "json_in.h"

static struct shape_opts opts_of(const struct vmm *v)
{
	return (struct shape_opts){ .dry_run = v->dry_run };
}

/*
 * 400 for bad input, 409 for a policy refusal, 500 for host trouble: what
 * the failing code marked so (KVM, mvm_fail_host), or an errno no input
 * can cause.
 */
int api_status_of(int ret, const struct mvm_err *err)
{
	if (!ret)
		return 204;
	if (ret == -EPERM)
		return 409;
	if (err->host || ret == -ENOMEM || ret == -EMFILE || ret == -ENFILE ||
	    ret == -ENOSPC)
		return 500;
	return 400;
}

/* A phase refusal, in Firecracker's words. */
static int refuse(struct mvm_err *err, const char *msg)
{
	mvm_fail(err, -EINVAL, "%s", msg);
	return 400;
}

int h_get_instance(struct vmm *v, const struct api_request *q,
		   struct api_response *r, struct mvm_err *err)
{
	(void)q;
	(void)err;
	r->body = json_object_new_object();
	json_object_object_add(r->body, "app_name",
			       json_object_new_string("mvm"));
	json_object_object_add(r->body, "id", json_object_new_string(v->id));
	json_object_object_add(r->body, "state",
			       json_object_new_string(vm_state_name(v->state)));
	json_object_object_add(r->body, "vmm_version",
			       json_object_new_string(MVM_VERSION));
	return 200;
}

int h_get_version(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err)
{
	(void)v;
	(void)q;
	(void)err;
	/*
	 * The Firecracker API whose behaviour mvm matches, for clients that
	 * gate features on it; mvm's own version under its own name.
	 */
	r->body = json_object_new_object();
	json_object_object_add(r->body, "firecracker_version",
			       json_object_new_string(API_FIRECRACKER_VERSION));
	json_object_object_add(r->body, "mvm_version",
			       json_object_new_string(MVM_VERSION));
	return 200;
}

int h_get_vm_config(struct vmm *v, const struct api_request *q,
		    struct api_response *r, struct mvm_err *err)
{
	(void)q;
	(void)err;
	r->body = spec_export(&v->spec);
	return 200;
}

int h_get_machine(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err)
{
	(void)q;
	(void)err;
	r->body = spec_export_machine(&v->spec);
	return 200;
}

/*
 * After boot the machine is fixed. Flipping nesting is a policy question
 * with its own reason, which the client deserves to see; anything else
 * gets Firecracker's wording.
 */
static int machine_after_boot(struct vmm *v, const struct api_request *q,
			      struct mvm_err *err)
{
	struct policy_verdict verdict;
	struct policy_facts f;
	struct json_object *n;

	if (json_object_is_type(q->body, json_type_object) &&
	    json_object_object_get_ex(q->body, "nested_virt", &n)) {
		vmm_policy_facts(v, &f);
		policy_check(POLICY_OP_NESTED_TOGGLE, &f, &verdict);
		if (!verdict.allowed) {
			mvm_fail(err, -EPERM, "nested_virt: %s",
				 verdict.reason);
			return 400;
		}
	}
	return refuse(err, API_MSG_AFTER_BOOT);
}

int h_put_machine(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err)
{
	(void)r;
	if (vm_state_booted(v->state))
		return machine_after_boot(v, q, err);
	return api_status_of(shape_machine_config(&v->spec, q->body, "", false,
					      err), err);
}

int h_patch_machine(struct vmm *v, const struct api_request *q,
		    struct api_response *r, struct mvm_err *err)
{
	(void)r;
	/* Firecracker's answer to a PATCH that changes nothing. */
	if (json_object_is_type(q->body, json_type_object) &&
	    json_object_object_length(q->body) == 0)
		return refuse(err, "Empty PATCH request.");
	if (vm_state_booted(v->state))
		return machine_after_boot(v, q, err);
	return api_status_of(shape_machine_config(&v->spec, q->body, "", true,
					      err), err);
}

int h_put_boot_source(struct vmm *v, const struct api_request *q,
		      struct api_response *r, struct mvm_err *err)
{
	struct shape_opts o = opts_of(v);

	(void)r;
	return api_status_of(shape_boot_source(&v->spec, q->body, "", &o, err),
			 err);
}

typedef int (*device_shaper)(struct vm_spec *s, struct json_object *o,
			     const char *path, const char *id_from_path,
			     const struct shape_opts *opt,
			     struct mvm_err *err);

/*
 * A device's PUT: shaped into a scratch spec first, so that a refusal
 * leaves no half-made device in the VM's.
 */
static int put_device(struct vmm *v, const struct api_request *q,
		      device_shaper shape, struct mvm_err *err)
{
	struct shape_opts o = opts_of(v);
	struct vm_spec scratch;
	int ret;

	spec_init(&scratch);
	ret = shape(&scratch, q->body, "", q->id, &o, err);
	spec_free(&scratch);
	if (!ret)
		ret = shape(&v->spec, q->body, "", q->id, &o, err);
	return api_status_of(ret, err);
}

int h_put_drive(struct vmm *v, const struct api_request *q,
		struct api_response *r, struct mvm_err *err)
{
	(void)r;
	return put_device(v, q, shape_drive, err);
}

int h_patch_drive(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err)
{
	struct shape_opts o = opts_of(v);
	struct spec_limiter rl;
	char *path;
	int ret;

	(void)r;
	ret = shape_drive_patch(&v->spec, q->body, q->id, &o, &path, &rl,
				err);
	/* Firecracker refuses it too: a virtio drive has nothing else. */
	if (!ret && !path && !rl.set)
		ret = mvm_fail(err, -EINVAL, "drive %s: nothing to patch: give "
			       "path_on_host or rate_limiter", q->id);
	if (!ret)
		ret = vmm_drive_patch(v, q->id, path, &rl, err);
	return api_status_of(ret, err);
}

int h_put_vsock(struct vmm *v, const struct api_request *q,
		struct api_response *r, struct mvm_err *err)
{
	struct vm_spec scratch;
	int ret;

	(void)r;
	/* The device's socket is bound at boot; it cannot change after. */
	if (vm_state_booted(v->state)) {
		mvm_fail(err, -EBUSY, "vsock: %s", API_MSG_AFTER_BOOT);
		return 409;
	}
	spec_init(&scratch);
	ret = shape_vsock(&scratch, q->body, "", err);
	spec_free(&scratch);
	if (!ret)
		ret = shape_vsock(&v->spec, q->body, "", err);
	return api_status_of(ret, err);
}

int h_put_pmem(struct vmm *v, const struct api_request *q,
	       struct api_response *r, struct mvm_err *err)
{
	(void)r;
	return put_device(v, q, shape_pmem, err);
}

/*
 * Firecracker's PATCH changes only the flushes' rate limiter; mvm has
 * none, so a valid request (the id, no limit) changes nothing.
 */
int h_patch_pmem(struct vmm *v, const struct api_request *q,
		 struct api_response *r, struct mvm_err *err)
{
	(void)r;
	return api_status_of(shape_pmem_patch(&v->spec, q->body, q->id, err),
			     err);
}

int h_put_net(struct vmm *v, const struct api_request *q,
	      struct api_response *r, struct mvm_err *err)
{
	struct vm_spec scratch;
	int ret;

	(void)r;
	spec_init(&scratch);
	ret = shape_net(&scratch, q->body, "", q->id, err);
	spec_free(&scratch);
	if (!ret)
		ret = shape_net(&v->spec, q->body, "", q->id, err);
	return api_status_of(ret, err);
}

int h_patch_net(struct vmm *v, const struct api_request *q,
		struct api_response *r, struct mvm_err *err)
{
	struct spec_limiter rx, tx;
	int ret;

	(void)r;
	ret = shape_net_patch(&v->spec, q->body, q->id, &rx, &tx, err);
	if (!ret)
		ret = vmm_net_patch(v, q->id, &rx, &tx, err);
	return api_status_of(ret, err);
}

int h_patch_vm(struct vmm *v, const struct api_request *q,
	       struct api_response *r, struct mvm_err *err)
{
	static const char *const known[] = { "state", NULL };
	static const char *const states[] = { "Paused", "Resumed", NULL };
	uint64_t start = mvm_mono_ns();
	struct jr j;
	int st, ret;

	(void)r;
	ret = jr_open(&j, q->body, "", known, err);
	if (!ret)
		ret = jr_enum(&j, "state", true, states, &st);
	if (ret < 0)
		return api_status_of(ret, err);
	ret = st == 0 ? vmm_pause(v, err) : vmm_resume(v, err);
	if (!ret)
		vmm_latency_api(v, st == 0 ? VMM_LAT_PAUSE_VM :
				VMM_LAT_RESUME_VM, start);
	return api_status_of(ret, err);
}

int h_put_actions(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err)
{
	static const char *const known[] = { "action_type", NULL };
	static const char *const actions[] = { "FlushMetrics", "InstanceStart",
					       "SendCtrlAltDel", NULL };
	bool booted = vm_state_booted(v->state);
	struct jr j;
	int act, ret;

	(void)r;
	ret = jr_open(&j, q->body, "", known, err);
	if (!ret)
		ret = jr_enum(&j, "action_type", true, actions, &act);
	if (ret < 0)
		return api_status_of(ret, err);
	switch (act) {
	case 1: /* InstanceStart */
		if (booted)
			return refuse(err, API_MSG_AFTER_BOOT);
		return api_status_of(vmm_start_vm(v, err), err);
	case 2: /* SendCtrlAltDel */
		if (!booted)
			return refuse(err, API_MSG_BEFORE_BOOT);
		return api_status_of(vmm_send_ctrl_alt_del(v, err), err);
	default: /* FlushMetrics */
		if (!booted)
			return refuse(err, API_MSG_BEFORE_BOOT);
		return api_status_of(vmm_metrics_flush(v, err), err);
	}
}

/*
 * Settings that open an output parse into a scratch spec first, so a file
 * that cannot be opened leaves the current settings as they were.
 */
typedef int (*shape_fn)(struct vm_spec *s, struct json_object *o,
			const char *path, struct mvm_err *err);
typedef int (*set_fn)(struct vmm *v, struct vm_spec *src,
		      struct mvm_err *err);

static int scratch_then_set(struct vmm *v, struct json_object *body,
			    shape_fn shape, set_fn set, struct mvm_err *err)
{
	struct vm_spec tmp;
	int ret;

	spec_init(&tmp);
	ret = shape(&tmp, body, "", err);
	if (!ret)
		ret = set(v, &tmp, err);
	spec_free(&tmp);
	return api_status_of(ret, err);
}

int h_put_logger(struct vmm *v, const struct api_request *q,
		 struct api_response *r, struct mvm_err *err)
{
	(void)r;
	return scratch_then_set(v, q->body, shape_logger, vmm_logger_set, err);
}

int h_put_metrics(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err)
{
	(void)r;
	return scratch_then_set(v, q->body, shape_metrics, vmm_metrics_set,
				err);
}

int h_put_serial(struct vmm *v, const struct api_request *q,
		 struct api_response *r, struct mvm_err *err)
{
	(void)r;
	return scratch_then_set(v, q->body, shape_serial, vmm_serial_set, err);
}

int h_put_entropy(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err)
{
	(void)r;
	return api_status_of(shape_entropy(&v->spec, q->body, "", err), err);
}

/*
 * Firecracker's custom template: parsed whole before it replaces whatever
 * template was set (a static one by name included, as there).
 */
int h_put_cpu_config(struct vmm *v, const struct api_request *q,
		     struct api_response *r, struct mvm_err *err)
{
	struct cpu_template *t = malloc(sizeof(*t));
	int ret;

	(void)r;
	if (!t)
		return api_status_of(mvm_fail(err, -ENOMEM, "out of memory"),
				     err);
	ret = shape_cpu_config(t, q->body, "", err);
	if (!ret) {
		v->spec.cpu_custom = *t;
		v->spec.cpu_custom_set = true;
		v->spec.cpu_template = CPU_STATIC_NONE;
	}
	free(t);
	return api_status_of(ret, err);
}

static bool dynmem_on(const struct vmm *v)
{
	return v->have_vm ? v->vm.cfg.dynmem.enabled : v->spec.dynmem.enabled;
}

/*
 * With dynamic memory on, its entry says whether the controller is
 * frozen: exactly when the policy refuses dynamic_memory.
 */
static void add_frozen(struct json_object *list)
{
	struct json_object *ops, *o, *allowed;

	if (!json_object_object_get_ex(list, "ops", &ops))
		return;
	o = json_object_array_get_idx(ops, POLICY_OP_DYNAMIC_MEMORY);
	if (o && json_object_object_get_ex(o, "allowed", &allowed))
		json_object_object_add(o, "frozen", json_object_new_boolean(
				       !json_object_get_boolean(allowed)));
}

int h_get_policy(struct vmm *v, const struct api_request *q,
		 struct api_response *r, struct mvm_err *err)
{
	struct policy_facts f;

	(void)q;
	vmm_policy_facts(v, &f);
	if (policy_list_json(&f, &r->body, err))
		return 500;
	if (dynmem_on(v))
		add_frozen(r->body);
	return 200;
}

/* The nesting facts are queried from the vCPUs now, not cached. */
int h_get_nested(struct vmm *v, const struct api_request *q,
		 struct api_response *r, struct mvm_err *err)
{
	(void)q;
	return vmm_nested_json(v, &r->body, err) ? 500 : 200;
}
