/*
 * Host probe decision: a pure function from raw host facts to answers.
 * Nothing here touches the system, so every branch is unit-tested with
 * made-up facts (Intel with nested=N, AMD without NPT, PVM, no /dev/kvm...).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/nested.h"

/* The stable KVM API has always reported 12; anything else is not KVM. */
#define KVM_API_EXPECTED 12

enum virt_feat { FEAT_NONE, FEAT_VMX, FEAT_SVM };

__attribute__((format(printf, 3, 4)))
static void put(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, n, fmt, ap);
	va_end(ap);
}

#define SET_REASON(c, ...) put((c)->reason, sizeof((c)->reason), __VA_ARGS__)
#define SET_FIX(c, ...) put((c)->fix, sizeof((c)->fix), __VA_ARGS__)

int host_param_bool(const struct host_param *hp)
{
	if (!hp->present)
		return -1;
	if (!strcmp(hp->raw, "Y") || !strcmp(hp->raw, "y") ||
	    !strcmp(hp->raw, "1"))
		return 1;
	if (!strcmp(hp->raw, "N") || !strcmp(hp->raw, "n") ||
	    !strcmp(hp->raw, "0"))
		return 0;
	return -1;
}

const char *host_vendor_name(enum host_vendor v)
{
	switch (v) {
	case HOST_VENDOR_INTEL: return "intel";
	case HOST_VENDOR_AMD: return "amd";
	default: return "other";
	}
}

const char *host_kvm_kind_name(enum host_kvm_kind k)
{
	switch (k) {
	case HOST_KVM_HARDWARE: return "hardware";
	case HOST_KVM_SOFTWARE: return "software";
	case HOST_KVM_UNKNOWN: return "unknown";
	default: return "none";
	}
}

const char *host_kvm_module_name(enum host_kvm_module m)
{
	switch (m) {
	case HOST_KVM_MOD_INTEL: return "kvm_intel";
	case HOST_KVM_MOD_AMD: return "kvm_amd";
	case HOST_KVM_MOD_PVM: return "kvm_pvm";
	default: return NULL;
	}
}

const char *host_check_name(enum host_check_id id)
{
	static const char *const names[HOST_CHECK_COUNT] = {
		[HOST_CHECK_KVM_DEVICE] = "kvm_device",
		[HOST_CHECK_HARDWARE_KVM] = "hardware_kvm",
		[HOST_CHECK_CPUID_VIRT] = "cpuid_virt",
		[HOST_CHECK_NESTED_PARAM] = "nested_param",
		[HOST_CHECK_NESTED_STATE_SIZE] = "nested_state_size",
		[HOST_CHECK_EPT_NPT] = "ept_npt",
	};

	if ((unsigned)id >= HOST_CHECK_COUNT)
		return "unknown";
	return names[id];
}

enum host_vendor host_vendor_from_id(const char *id)
{
	if (!strcmp(id, "GenuineIntel"))
		return HOST_VENDOR_INTEL;
	/* Hygon parts are Zen derivatives driven by kvm_amd. */
	if (!strcmp(id, "AuthenticAMD") || !strcmp(id, "HygonGenuine"))
		return HOST_VENDOR_AMD;
	return HOST_VENDOR_OTHER;
}

/*
 * Which module drives /dev/kvm. kvm_pvm wins when present: only one vendor
 * module can be bound at a time, and a built-in kvm_intel/kvm_amd still
 * shows its sysfs directory after failing to initialise, which is exactly
 * the situation in which kvm_pvm gets loaded.
 */
static enum host_kvm_module module_of(const struct host_facts *f,
				      enum host_vendor v)
{
	if (f->mod_pvm)
		return HOST_KVM_MOD_PVM;
	if (f->mod_intel && (v == HOST_VENDOR_INTEL || !f->mod_amd))
		return HOST_KVM_MOD_INTEL;
	if (f->mod_amd)
		return HOST_KVM_MOD_AMD;
	return HOST_KVM_MOD_NONE;
}

/* Module the user should load on this CPU, for fixes. */
static const char *wanted_module(const struct host_probe *p)
{
	if (p->kvm_module == HOST_KVM_MOD_INTEL)
		return "kvm_intel";
	if (p->kvm_module == HOST_KVM_MOD_AMD)
		return "kvm_amd";
	return p->vendor == HOST_VENDOR_INTEL ? "kvm_intel" : "kvm_amd";
}

static enum virt_feat feature_of(const struct host_probe *p)
{
	if (p->kvm_module == HOST_KVM_MOD_INTEL)
		return FEAT_VMX;
	if (p->kvm_module == HOST_KVM_MOD_AMD)
		return FEAT_SVM;
	if (p->vendor == HOST_VENDOR_INTEL)
		return FEAT_VMX;
	if (p->vendor == HOST_VENDOR_AMD)
		return FEAT_SVM;
	return FEAT_NONE;
}

static bool dev_ok(const struct host_probe *p)
{
	return p->checks[HOST_CHECK_KVM_DEVICE].ok;
}

/* Advice when the CPU itself shows no VMX/SVM to the kernel. */
static void firmware_fix(const struct host_probe *p, struct host_check *c)
{
	const char *tech = feature_of(p) == FEAT_VMX ? "VT-x (VMX)" :
			   "AMD-V (SVM)";

	if (p->facts.host_hypervisor)
		SET_FIX(c, "this host is itself a virtual machine whose CPU "
			   "lacks %s: turn on nested virtualization in the "
			   "outer hypervisor", tech);
	else
		SET_FIX(c, "enable %s in the firmware setup, then load %s",
			tech, wanted_module(p));
}

static bool host_cpu_has_virt(const struct host_probe *p)
{
	switch (feature_of(p)) {
	case FEAT_VMX: return p->facts.host_vmx;
	case FEAT_SVM: return p->facts.host_svm;
	default: return p->facts.host_vmx || p->facts.host_svm;
	}
}

static void check_device(struct host_probe *p)
{
	const struct host_facts *f = &p->facts;
	struct host_check *c = &p->checks[HOST_CHECK_KVM_DEVICE];
	char buf[128];

	c->checked = true;
	switch (f->kvm_open_errno) {
	case 0:
		break;
	case ENOENT:
	case ENODEV:
	case ENXIO:
		if (f->kvm_open_errno == ENOENT)
			SET_REASON(c, "/dev/kvm does not exist");
		else
			SET_REASON(c, "/dev/kvm has no driver behind it (%s)",
				   strerror_r(f->kvm_open_errno, buf,
					      sizeof(buf)));
		if (p->kvm_module == HOST_KVM_MOD_NONE && !host_cpu_has_virt(p))
			firmware_fix(p, c);
		else if (p->kvm_module == HOST_KVM_MOD_NONE)
			SET_FIX(c, "load KVM for this CPU: modprobe %s",
				wanted_module(p));
		else if (f->kvm_open_errno == ENOENT)
			SET_FIX(c, "%s is loaded but the node is missing: "
				   "mknod /dev/kvm c 10 232 (or let udev "
				   "create it)",
				host_kvm_module_name(p->kvm_module));
		return;
	case EACCES:
	case EPERM:
		SET_REASON(c, "permission denied opening /dev/kvm");
		SET_FIX(c, "add the user to the kvm group (usermod -aG kvm "
			   "USER) and log in again, or run as root");
		return;
	default:
		SET_REASON(c, "cannot open /dev/kvm: %s",
			   strerror_r(f->kvm_open_errno, buf, sizeof(buf)));
		return;
	}
	if (f->kvm_api_errno) {
		SET_REASON(c, "/dev/kvm does not answer "
			      "KVM_GET_API_VERSION: %s",
			   strerror_r(f->kvm_api_errno, buf, sizeof(buf)));
		return;
	}
	if (f->kvm_api_version != KVM_API_EXPECTED) {
		SET_REASON(c, "KVM API version %d, expected %d",
			   f->kvm_api_version, KVM_API_EXPECTED);
		return;
	}
	c->ok = true;
	SET_REASON(c, "/dev/kvm opened, KVM API version %d",
		   f->kvm_api_version);
}

static void check_hardware(struct host_probe *p)
{
	struct host_check *c = &p->checks[HOST_CHECK_HARDWARE_KVM];

	c->checked = true;
	switch (p->kvm_module) {
	case HOST_KVM_MOD_INTEL:
	case HOST_KVM_MOD_AMD:
		c->ok = true;
		SET_REASON(c, "%s drives KVM on the CPU's %s",
			   host_kvm_module_name(p->kvm_module),
			   p->kvm_module == HOST_KVM_MOD_INTEL ? "VMX" : "SVM");
		return;
	case HOST_KVM_MOD_PVM:
		SET_REASON(c, "KVM is kvm_pvm, a software implementation that "
			      "uses no VMX/SVM and so has none to give guests");
		if (host_cpu_has_virt(p))
			SET_FIX(c, "unload kvm_pvm and load %s with nested=1 "
				   "(modprobe -r kvm_pvm; "
				   "modprobe %s nested=1)",
				wanted_module(p), wanted_module(p));
		else
			firmware_fix(p, c);
		return;
	default:
		break;
	}
	if (dev_ok(p)) {
		SET_REASON(c, "KVM answers but none of kvm_intel, kvm_amd, "
			      "kvm_pvm is listed under /sys/module");
		return;
	}
	SET_REASON(c, "no KVM vendor module is loaded");
	if (host_cpu_has_virt(p))
		SET_FIX(c, "modprobe %s", wanted_module(p));
	else
		firmware_fix(p, c);
}

static void check_cpuid(struct host_probe *p)
{
	const struct host_facts *f = &p->facts;
	struct host_check *c = &p->checks[HOST_CHECK_CPUID_VIRT];
	enum virt_feat feat = feature_of(p);
	const char *name = feat == FEAT_VMX ? "VMX (CPUID 1 ECX bit 5)" :
			   "SVM (CPUID 0x80000001 ECX bit 2)";
	char buf[128];
	bool have;

	if (!dev_ok(p)) {
		SET_REASON(c, "not checked: KVM is not usable");
		return;
	}
	c->checked = true;
	if (f->cpuid_errno) {
		SET_REASON(c, "KVM_GET_SUPPORTED_CPUID failed: %s",
			   strerror_r(f->cpuid_errno, buf, sizeof(buf)));
		return;
	}
	if (feat == FEAT_NONE) {
		/* Nesting is only offered on vendors it was designed for. */
		SET_REASON(c, "unknown CPU vendor \"%s\"; KVM offers %s",
			   p->facts.vendor_id, f->sup_vmx ? "VMX" :
			   f->sup_svm ? "SVM" : "neither VMX nor SVM");
		return;
	}
	have = feat == FEAT_VMX ? f->sup_vmx : f->sup_svm;
	if (have) {
		c->ok = true;
		SET_REASON(c, "KVM_GET_SUPPORTED_CPUID offers %s", name);
		return;
	}
	SET_REASON(c, "KVM_GET_SUPPORTED_CPUID does not offer %s", name);
	if (p->kvm_kind == HOST_KVM_HARDWARE &&
	    host_param_bool(feat == FEAT_VMX ? &f->intel_nested :
			    &f->amd_nested) == 0)
		SET_FIX(c, "turn on the %s nested parameter (see nested_param)",
			wanted_module(p));
}

static void check_param(struct host_probe *p)
{
	const struct host_facts *f = &p->facts;
	struct host_check *c = &p->checks[HOST_CHECK_NESTED_PARAM];
	const struct host_param *hp;
	const char *mod = wanted_module(p);
	int v;

	c->checked = true;
	if (p->kvm_module == HOST_KVM_MOD_PVM) {
		SET_REASON(c, "kvm_pvm has no nested parameter: a software "
			      "KVM cannot host guest hypervisors");
		return;
	}
	if (p->kvm_module == HOST_KVM_MOD_NONE) {
		SET_REASON(c, "neither kvm_intel nor kvm_amd is loaded");
		if (p->vendor != HOST_VENDOR_OTHER)
			SET_FIX(c, "modprobe %s nested=1", mod);
		return;
	}
	hp = p->kvm_module == HOST_KVM_MOD_INTEL ? &f->intel_nested :
	     &f->amd_nested;
	v = host_param_bool(hp);
	if (v == 1) {
		c->ok = true;
		SET_REASON(c, "%s nested=%s", mod, hp->raw);
		return;
	}
	if (!hp->present)
		SET_REASON(c, "%s has no nested parameter (kernel too old?)",
			   mod);
	else if (v == 0)
		SET_REASON(c, "%s is loaded with nested=%s", mod, hp->raw);
	else
		SET_REASON(c, "%s nested=\"%s\" is not understood", mod,
			   hp->raw);
	SET_FIX(c, "load %s with nested=1: echo 'options %s nested=1' > "
		   "/etc/modprobe.d/kvm.conf and reload the module "
		   "(modprobe -r %s; modprobe %s) with no VMs running",
		mod, mod, mod, mod);
}

static void check_state_size(struct host_probe *p)
{
	const struct host_facts *f = &p->facts;
	struct host_check *c = &p->checks[HOST_CHECK_NESTED_STATE_SIZE];

	if (!dev_ok(p)) {
		SET_REASON(c, "not checked: KVM is not usable");
		return;
	}
	c->checked = true;
	if (f->cap_nested_state > 0) {
		c->ok = true;
		SET_REASON(c, "KVM_CAP_NESTED_STATE: up to %d bytes",
			   f->cap_nested_state);
		return;
	}
	/*
	 * Without it a guest hypervisor's state cannot be read, so nobody
	 * could tell whether L1 hosts guests, nor save or migrate the VM.
	 */
	SET_REASON(c, "KVM_CAP_NESTED_STATE is 0: KVM cannot hand out a "
		      "guest hypervisor's state");
	if (p->kvm_kind == HOST_KVM_HARDWARE)
		SET_FIX(c, "use a newer kernel (Linux 4.19+ for kvm_intel, "
			   "5.8+ for kvm_amd)");
}

static void check_paging(struct host_probe *p)
{
	const struct host_facts *f = &p->facts;
	struct host_check *c = &p->checks[HOST_CHECK_EPT_NPT];
	const struct host_param *hp;
	const char *mod = wanted_module(p);
	const char *pname;
	int v;

	c->checked = true;
	if (p->kvm_module == HOST_KVM_MOD_PVM) {
		SET_REASON(c, "kvm_pvm has no ept or npt parameter: a "
			      "software KVM offers no two-dimensional paging "
			      "to nested guests");
		return;
	}
	if (p->kvm_module == HOST_KVM_MOD_NONE) {
		SET_REASON(c, "neither kvm_intel nor kvm_amd is loaded");
		return;
	}
	if (p->kvm_module == HOST_KVM_MOD_INTEL) {
		hp = &f->intel_ept;
		pname = "ept";
	} else {
		hp = &f->amd_npt;
		pname = "npt";
	}
	v = host_param_bool(hp);
	if (v == 1) {
		c->ok = true;
		SET_REASON(c, "%s %s=%s", mod, pname, hp->raw);
		return;
	}
	/*
	 * Nesting without two-dimensional paging falls back to shadowing
	 * shadow page tables, too slow to be worth offering.
	 */
	if (!hp->present)
		SET_REASON(c, "%s has no %s parameter", mod, pname);
	else
		SET_REASON(c, "%s %s=%s: no two-dimensional paging", mod,
			   pname, hp->raw);
	SET_FIX(c, "load %s with %s=1 (echo 'options %s %s=1' >> "
		   "/etc/modprobe.d/kvm.conf, reload the module); the CPU "
		   "must support %s", mod, pname, mod, pname,
		p->kvm_module == HOST_KVM_MOD_INTEL ? "EPT" : "NPT");
}

static void decide_stock(struct host_probe *p)
{
	const struct host_check *dev = &p->checks[HOST_CHECK_KVM_DEVICE];
	const struct host_check *hw = &p->checks[HOST_CHECK_HARDWARE_KVM];

	if (!dev->ok) {
		put(p->stock_kernels_reason, sizeof(p->stock_kernels_reason),
		    "KVM is not usable: %s", dev->reason);
		put(p->stock_kernels_fix, sizeof(p->stock_kernels_fix), "%s",
		    dev->fix);
		return;
	}
	if (p->kvm_kind == HOST_KVM_SOFTWARE) {
		put(p->stock_kernels_reason, sizeof(p->stock_kernels_reason),
		    "kvm_pvm runs only guest kernels built for PVM; "
		    "unmodified kernels need hardware KVM");
		put(p->stock_kernels_fix, sizeof(p->stock_kernels_fix), "%s",
		    hw->fix);
		return;
	}
	if (p->kvm_kind != HOST_KVM_HARDWARE) {
		put(p->stock_kernels_reason, sizeof(p->stock_kernels_reason),
		    "unknown KVM implementation: %s", hw->reason);
		return;
	}
	/* Stock kernels expect a LAPIC and IOAPIC that keep time in-kernel. */
	if (p->facts.cap_irqchip <= 0) {
		put(p->stock_kernels_reason, sizeof(p->stock_kernels_reason),
		    "KVM has no in-kernel irqchip (KVM_CAP_IRQCHIP)");
		return;
	}
	p->stock_kernels = true;
	put(p->stock_kernels_reason, sizeof(p->stock_kernels_reason),
	    "hardware KVM (%s) with an in-kernel irqchip",
	    host_kvm_module_name(p->kvm_module));
}

void nested_probe_decide(const struct host_facts *f, struct host_probe *p)
{
	int i;

	memset(p, 0, sizeof(*p));
	p->facts = *f;
	/* Tests hand in unterminated ids too; never read past the array. */
	p->facts.vendor_id[sizeof(p->facts.vendor_id) - 1] = '\0';
	p->vendor = host_vendor_from_id(p->facts.vendor_id);
	p->kvm_module = module_of(f, p->vendor);

	check_device(p);
	switch (p->kvm_module) {
	case HOST_KVM_MOD_INTEL:
	case HOST_KVM_MOD_AMD:
		p->kvm_kind = HOST_KVM_HARDWARE;
		break;
	case HOST_KVM_MOD_PVM:
		p->kvm_kind = HOST_KVM_SOFTWARE;
		break;
	default:
		p->kvm_kind = dev_ok(p) ? HOST_KVM_UNKNOWN : HOST_KVM_NONE;
		break;
	}
	check_hardware(p);
	check_cpuid(p);
	check_param(p);
	check_state_size(p);
	check_paging(p);

	p->nested_supported = p->vendor != HOST_VENDOR_OTHER;
	for (i = 0; i < HOST_CHECK_COUNT; i++)
		if (!p->checks[i].ok)
			p->nested_supported = false;
	decide_stock(p);
}
