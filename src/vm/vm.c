/*
 * VM lifecycle: validate, build (KVM VM, irqchip, memory, kernel, ACPI,
 * devices, vCPUs), start, stop, destroy. The order of construction is
 * written out here, in one place, rather than hidden in constructors.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "mvm/acpi.h"
#include "mvm/devices.h"
#include "mvm/e820.h"
#include "mvm/err.h"
#include "mvm/file.h"
#include "mvm/irq_routes.h"
#include "mvm/irqchip.h"
#include "mvm/layout.h"
#include "mvm/nested.h"
#include "mvm/vm_nested.h"
#include "mvm/pci.h"
#include "mvm/test_hooks.h"
#include "mvm/vcpu.h"
#include "mvm/virtio_dev.h"

#include "cpuid_async.h"
#include "dirty.h"
#include "hotplug.h"
#include "teardown.h"
#include "mvm/vm.h"

/* KVM on Intel needs three pages for the real-mode TSS and one for EPT's
 * identity map; put them just below the BIOS area at the top of 4 GiB. */
#define KVM_TSS_ADDR 0xfffbd000UL
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL

#define MVM_MAX_MEM_MIB \
	((LAYOUT_PCI_MMIO64 - (MEM_HOLE_END - MEM_HOLE_START)) >> 20)

int vm_open_kvm(struct mvm_err *err)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		return mvm_fail_host(err, -ENOENT,
				     "/dev/kvm: not found (is the kvm module "
				     "loaded, and virtualization enabled in "
				     "firmware?)");
	if (errno == EACCES || errno == EPERM)
		return mvm_fail_host(err, -errno,
				     "/dev/kvm: permission denied (run as root "
				     "or add the user to the kvm group)");
	return mvm_fail_host(err, -errno, "/dev/kvm: %s", strerror(errno));
}

int vm_host_max_vcpus(int kvm_fd)
{
	int n = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);

	if (n <= 0)
		n = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	return n > 0 ? n : 4; /* api.rst: assume 4 when neither is reported */
}

uint64_t vm_host_mem_mib(void)
{
	struct sysinfo si;

	if (sysinfo(&si) < 0)
		return 0;
	return (uint64_t)si.totalram * si.mem_unit >> 20;
}

/* Hotpluggable memory's sizes, and its region's place above this RAM. */
static int check_hotplug(const struct vm_config *cfg, struct mvm_err *err)
{
	enum vm_hotplug_field f;
	const char *why;
	char buf[192];

	if (!cfg->mem_hotplug.total_mib)
		return 0;
	why = vm_hotplug_problem(&cfg->mem_hotplug, cfg->mem_mib, &f, buf,
				 sizeof(buf));
	if (why)
		return mvm_fail(err, -EINVAL, "memory-hotplug: %s: %s",
				vm_hotplug_field_name(f), why);
	return 0;
}

/* Dynamic memory's rules against the machine as it is built. */
static int check_dynmem(const struct vm_config *cfg, struct mvm_err *err)
{
	enum vm_dynmem_field f;
	const char *why;
	char buf[256];

	if (!cfg->dynmem.enabled)
		return 0;
	why = vm_dynmem_problem(&cfg->dynmem, cfg->mem_mib, &cfg->balloon,
				&cfg->mem_hotplug, &f, buf, sizeof(buf));
	if (why)
		return mvm_fail(err, -EINVAL, "dynamic-memory: %s: %s",
				vm_dynmem_field_name(f), why);
	return 0;
}

int vm_check_config(const struct vm_config *cfg, struct mvm_err *err)
{
	uint64_t host_mib = vm_host_mem_mib();
	int ret;

	if (!cfg->kernel || !*cfg->kernel)
		return mvm_fail(err, -EINVAL, "kernel: no kernel given "
				"(use --kernel FILE)");
	if (cfg->mem_mib == 0)
		return mvm_fail(err, -EINVAL, "memory: 0 MiB is not a valid "
				"memory size");
	if (cfg->mem_mib < 2)
		return mvm_fail(err, -EINVAL, "memory: %llu MiB is too small "
				"(at least 2 MiB)",
				(unsigned long long)cfg->mem_mib);
	if (host_mib && cfg->mem_mib > host_mib)
		/* The request's fault, not a failure of the host: -EINVAL. */
		return mvm_fail(err, -EINVAL, "memory: %llu MiB is more than "
				"this host has (%llu MiB)",
				(unsigned long long)cfg->mem_mib,
				(unsigned long long)host_mib);
	/* RAM above 4 GiB must end below the 64-bit PCI window. */
	if (cfg->mem_mib > MVM_MAX_MEM_MIB)
		return mvm_fail(err, -EINVAL, "memory: %llu MiB is more than "
				"mvm supports (%llu MiB)",
				(unsigned long long)cfg->mem_mib,
				(unsigned long long)MVM_MAX_MEM_MIB);
	if (cfg->cpus == 0)
		return mvm_fail(err, -EINVAL, "cpus: 0 is not a valid vCPU "
				"count");
	ret = check_hotplug(cfg, err);
	if (ret)
		return ret;
	if (strlen(cfg->cmdline) >= LAYOUT_CMDLINE_MAX)
		return mvm_fail(err, -E2BIG, "cmdline: %zu bytes is longer "
				"than mvm's limit of %llu", strlen(cfg->cmdline),
				LAYOUT_CMDLINE_MAX - 1);
	/* Firecracker's rule: the target is at most all of the RAM. */
	if (cfg->balloon.enabled && cfg->balloon.amount_mib > cfg->mem_mib)
		return mvm_fail(err, -EINVAL, "balloon: amount_mib %u is more "
				"than the VM's memory (%llu MiB)",
				cfg->balloon.amount_mib,
				(unsigned long long)cfg->mem_mib);
	return check_dynmem(cfg, err);
}

/*
 * Asking for nesting where the host cannot provide it refuses to start
 * with the probe's reason: it is never silently turned off.
 */
static int check_nested(const struct vm_config *cfg, struct mvm_err *err)
{
	return cfg->nested ? vm_check_nested_host(err) : 0;
}

/*
 * What a vCPU given the supported set reports back (KVM_GET_CPUID2): the
 * same set on a hardware KVM; wider where the guest's user mode runs
 * natively and sees the host's own CPUID (PVM), which a guest then uses.
 */
static int vcpu_cpuid(int kvm_fd, struct kvm_cpuid2 *c, struct mvm_err *err)
{
	int vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0), vcpu_fd = -1, ret = 0;

	if (vm_fd >= 0)
		vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	if (vcpu_fd < 0 || ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0 ||
	    ioctl(vcpu_fd, KVM_GET_CPUID2, c) < 0)
		ret = mvm_fail_host(err, -errno, "kvm: a probe vCPU's CPUID: "
				    "%s", strerror(errno));
	if (vcpu_fd >= 0)
		close(vcpu_fd);
	if (vm_fd >= 0)
		close(vm_fd);
	return ret;
}

int vm_host_cpuid(struct kvm_cpuid2 **out, struct mvm_err *err)
{
	int fd = vm_open_kvm(err), ret;

	*out = NULL;
	if (fd < 0)
		return fd;
	ret = vm_supported_cpuid(fd, out, err);
	if (!ret)
		ret = vcpu_cpuid(fd, *out, err);
	close(fd);
	if (ret) {
		free(*out);
		*out = NULL;
	}
	return ret;
}

bool vm_host_nested_state(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), r;

	if (fd < 0)
		return false;
	r = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NESTED_STATE);
	close(fd);
	return r > 0;
}

int vm_check_nested_host(struct mvm_err *err)
{
	struct host_probe p;
	int ret;

	ret = nested_probe_host(&p, err);
	if (ret)
		return mvm_wrap(err, ret, "nested: cannot probe the host: ");
	if (p.nested_supported)
		return 0;
	for (int i = 0; i < HOST_CHECK_COUNT; i++) {
		const struct host_check *c = &p.checks[i];

		if (c->checked && !c->ok)
			return mvm_fail(err, -EOPNOTSUPP,
					"nested: this host cannot expose "
					"virtualization extensions: %s%s%s",
					c->reason, c->fix[0] ? "; fix: " : "",
					c->fix);
	}
	return mvm_fail(err, -EOPNOTSUPP, "nested: this host cannot expose "
			"virtualization extensions (see mvm host-check)");
}

static int check_cpus(struct vm *vm, struct mvm_err *err)
{
	int max = vm_host_max_vcpus(vm->kvm_fd);

	if ((int)vm->cfg.cpus > max)
		return mvm_fail(err, -EINVAL, "cpus: %u is more than KVM "
				"allows on this host (%d)", vm->cfg.cpus, max);
	if (vm->cfg.cpus > VM_MAX_VCPUS)
		return mvm_fail(err, -EINVAL, "cpus: %u is more than mvm "
				"supports (%d)", vm->cfg.cpus,
				VM_MAX_VCPUS);
	return 0;
}

static int kvm_ioctl_checked(int fd, unsigned long req, unsigned long arg,
			     const char *what, struct mvm_err *err)
{
	if (ioctl(fd, req, arg) < 0)
		return mvm_fail_host(err, -errno, "kvm: %s: %s", what,
				     strerror(errno));
	return 0;
}

/*
 * KVM's VM. The supported CPUID set is asked for on a short-lived thread
 * meanwhile (cpuid_async.c): vm_create joins it before reading it.
 */
static int create_kvm_vm(struct vm *vm, struct cpuid_async *cq,
			 struct mvm_err *err)
{
	int ret;

	vm->kvm_fd = vm_open_kvm(err);
	if (vm->kvm_fd < 0)
		return vm->kvm_fd;
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return mvm_fail_host(err, -ENOTSUP, "/dev/kvm: unsupported "
				     "API version");
	ret = check_cpus(vm, err);
	if (ret)
		return ret;
	cpuid_async_start(cq, vm->kvm_fd);
	vm->vcpu_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->vcpu_mmap_size <= 0)
		return mvm_fail_host(err, -errno, "kvm: "
				     "KVM_GET_VCPU_MMAP_SIZE: %s",
				     strerror(errno));
	/*
	 * KVM_CREATE_VM fails with EINTR when a signal is pending while it
	 * registers with the process's memory (mm_take_all_locks gives up):
	 * likelier the more mappings there are, as under ASan, and seen on a
	 * reboot. Nothing was made: ask again, as QEMU does.
	 */
	for (int tries = 0; tries < 100; tries++) {
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
		if (vm->vm_fd >= 0 || errno != EINTR)
			break;
	}
	if (vm->vm_fd < 0)
		return mvm_fail_host(err, -errno, "kvm: KVM_CREATE_VM: %s",
				     strerror(errno));
	/* The TSS and identity map matter on Intel only; PVM rejects them
	 * harmlessly, so failures are not fatal. */
	ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR);
	{
		__u64 idmap = KVM_IDENTITY_MAP_ADDR;
		ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	}
	return 0;
}

/*
 * The in-kernel LAPIC/IOAPIC/PIC and PIT. Created after the memory slots:
 * with an irqchip present every slot change waits for an SRCU grace period,
 * which costs milliseconds on some hosts; before it, slots are free.
 */
static int create_irqchip(struct vm *vm, struct mvm_err *err)
{
	/*
	 * Port 0x61 (PIT channel 2 gate and output) in the kernel too: guests
	 * time short waits and calibrate the TSC on it, and only the kernel's
	 * PIT knows channel 2's output without a round trip per read.
	 */
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int ret;

	ret = kvm_ioctl_checked(vm->vm_fd, KVM_CREATE_IRQCHIP, 0,
				"KVM_CREATE_IRQCHIP", err);
	if (ret)
		return ret;
	return kvm_ioctl_checked(vm->vm_fd, KVM_CREATE_PIT2,
				 (unsigned long)&pit, "KVM_CREATE_PIT2", err);
}

/*
 * RAM a migration filled: it must be the machine's size, its hotpluggable
 * memory included (hotplug.c finds that region in it).
 */
static int adopt_memory(struct vm *vm, struct guest_mem *gm,
			struct mvm_err *err)
{
	uint64_t mib = vm->cfg.mem_mib + vm->cfg.mem_hotplug.total_mib;

	if (!gm || gm->ram_size != mib << 20)
		return mvm_fail(err, -EINVAL, "memory: %llu bytes received, "
				"the machine has %llu MiB and %llu MiB "
				"hotpluggable",
				gm ? (unsigned long long)gm->ram_size : 0ULL,
				(unsigned long long)vm->cfg.mem_mib,
				(unsigned long long)
					vm->cfg.mem_hotplug.total_mib);
	vm->mem = *gm;
	memset(gm, 0, sizeof(*gm));
	return 0;
}

/*
 * Guest RAM: fresh for a boot, or a snapshot's memory file for a restore
 * (mapped, or served by a page fault handler), whose regions must hold
 * the machine's memory size.
 */
static int alloc_memory(struct vm *vm, struct mvm_err *err)
{
	const struct vm_mem_source *src = vm->cfg.mem_source;
	uint64_t bytes = 0;

	if (!src || src->backend == VM_MEM_ANON)
		return gm_alloc(&vm->mem, vm->cfg.mem_mib << 20, vm->cfg.pages,
				err);
	if (src->backend == VM_MEM_ADOPT)
		return adopt_memory(vm, src->gm, err);
	for (unsigned i = 0; i < src->nr && i < MEM_MAX_REGIONS; i++)
		bytes += src->regions[i].size;
	/* Hotpluggable memory is one of them (hotplug.c finds it). */
	if (bytes != (vm->cfg.mem_mib + vm->cfg.mem_hotplug.total_mib) << 20)
		return mvm_fail(err, -EINVAL, "memory: the snapshot's regions "
				"hold %llu bytes, the machine %llu MiB and "
				"%llu MiB hotpluggable",
				(unsigned long long)bytes,
				(unsigned long long)vm->cfg.mem_mib,
				(unsigned long long)
					vm->cfg.mem_hotplug.total_mib);
	if (src->backend == VM_MEM_FILE)
		return gm_map_file(&vm->mem, src->regions, src->nr, src->path,
				   err);
	if (src->backend == VM_MEM_UFFD)
		return gm_map_uffd(&vm->mem, src->regions, src->nr, src->path,
				   err);
	return mvm_fail(err, -EINVAL, "memory: unknown backend %d",
			(int)src->backend);
}

static int setup_memory(struct vm *vm, struct mvm_err *err)
{
	int ret = alloc_memory(vm, err);

	if (!ret)
		ret = vm_hotplug_memory(vm, err);

	for (int i = 0; !ret && i < vm->mem.nr; i++)
		ret = vm_memslot_set(vm, i, 0, err);
	/* Before the irqchip exists, changing a slot's flags is free. */
	if (!ret && vm->cfg.track_dirty_pages)
		ret = vm_dirty_start(vm, err);
	return ret;
}

static int load_kernel(struct vm *vm, struct mvm_err *err)
{
	struct mapped_file kernel = { 0 }, initrd = { 0 };
	struct acpi_config acfg = { .nr_cpus = vm->cfg.cpus };
	struct e820_map map;
	struct boot_input in;
	uint64_t rsdp = 0;
	int ret;

	ret = file_map("kernel", vm->cfg.kernel, &kernel, err);
	if (ret)
		goto out;
	if (vm->cfg.initrd) {
		ret = file_map("initrd", vm->cfg.initrd, &initrd, err);
		if (ret)
			goto out;
	}
	e820_build(&map, &vm->mem);
	ret = acpi_build(&vm->mem, &acfg, &rsdp, err);
	if (ret)
		goto out;
	in = (struct boot_input){
		.kernel = kernel.data,
		.kernel_size = kernel.size,
		.kernel_name = vm->cfg.kernel,
		.initrd = initrd.data,
		.initrd_size = initrd.size,
		.initrd_name = vm->cfg.initrd,
		.cmdline = vm->cfg.cmdline,
		.e820 = &map,
		.rsdp = rsdp,
	};
	ret = boot_load(&vm->mem, &in, &vm->entry, err);
out:
	file_unmap(&initrd);
	file_unmap(&kernel);
	return ret;
}

static struct vm *ctx_vm(struct dev_ctx *ctx)
{
	return (struct vm *)((char *)ctx - offsetof(struct vm, dev_ctx));
}

/* A legacy IRQ line: an IOAPIC pin and the PIC input of that number. */
static int dev_irq_line(struct dev_ctx *ctx, unsigned irq, int level)
{
	struct kvm_irq_level l = { .irq = irq, .level = level };

	return ioctl(ctx_vm(ctx)->vm_fd, KVM_IRQ_LINE, &l) < 0 ? -errno : 0;
}

static void dev_request_stop(struct dev_ctx *ctx, enum vm_stop_kind kind,
			     int status, const char *msg)
{
	if (msg)
		vm_request_stop(ctx_vm(ctx), kind, status, "%s", msg);
	else
		vm_request_stop(ctx_vm(ctx), kind, status, NULL);
}

/*
 * The devices the teardown waits for have all quiesced: stop the loop, so
 * that the VM's owner, which runs it until then, looks again.
 */
static void dev_quiesced(struct dev_ctx *ctx)
{
	loop_stop(ctx->loop);
}

/* What the devices see of the VM: complete once KVM's VM and RAM exist. */
static void fill_dev_ctx(struct vm *vm)
{
	struct dev_ctx *c = &vm->dev_ctx;

	c->mem = &vm->mem;
	c->loop = vm->loop;
	c->pio = &vm->pio;
	c->mmio = &vm->mmio;
	c->vm_fd = vm->vm_fd;
	c->irq_line = dev_irq_line;
	c->request_stop = dev_request_stop;
	c->quiesced = dev_quiesced;
}

/*
 * The registry (include/mvm/device.h) in the order the devices were
 * built, which is the order they pause in: the legacy devices, the PCI
 * host, the virtio devices, and the irqchip last, so that it is paused
 * (and saved, and loaded) after every device that drives its lines.
 */
static int register_devices(struct vm *vm, struct mvm_err *err)
{
	const struct {
		const char *id;
		const struct device_ops *ops;
		void *opaque;
	} legacy[] = {
		{ "serial0", &serial_device_ops, vm->serial },
		{ "debug-exit", &dev_stateless_ops, NULL },
		{ "pvpanic", &dev_stateless_ops, NULL },
		{ "pm", &pm_device_ops, vm->pm },
		{ "i8042", &i8042_device_ops, vm->i8042 },
		{ "rtc", &rtc_device_ops, vm->rtc },
		{ "pci-host", &pci_host_device_ops, vm->dev_ctx.pci },
	};
	struct dev_registry *r = &vm->devices;
	struct virtio_transport *t, *virtio[DEV_REGISTRY_MAX];
	unsigned n = 0;
	int ret = 0;

	for (size_t i = 0; !ret && i < sizeof(legacy) / sizeof(legacy[0]); i++)
		ret = dev_register(r, legacy[i].id, legacy[i].ops,
				   legacy[i].opaque, err);
	/* The context lists the newest first. */
	for (t = vm->dev_ctx.virtio_devs; t && n < DEV_REGISTRY_MAX;
	     t = t->next)
		virtio[n++] = t;
	while (!ret && n--) {
		char id[DEV_ID_MAX];

		virtio_device_id(virtio[n], id, sizeof(id));
		ret = dev_register(r, id, &virtio_device_ops, virtio[n], err);
	}
	if (!ret)
		ret = dev_register(r, "irqchip", &irqchip_device_ops,
				   vm->irqchip, err);
	/* Fresh devices have nothing to take up; the contract says when. */
	return ret ? ret : dev_activate_all(r, err);
}

/* The virtio devices: the devices layer sees their part of the config. */
static int create_virtio(struct vm *vm, struct mvm_err *err)
{
	struct virtio_devs_config c = {
		.rng = vm->cfg.rng,
		.rng_rl = vm->cfg.rng_rl,
		.balloon = &vm->cfg.balloon,
		.disks = vm->cfg.disks,
		.nr_disks = vm->cfg.nr_disks,
		.cpus = vm->cfg.cpus,
		.nets = vm->cfg.nets,
		.nr_nets = vm->cfg.nr_nets,
		.mem_hotplug = &vm->cfg.mem_hotplug,
		.mem_hotplug_gpa = vm_hotplug_gpa(
			vm->cfg.mem_mib, vm->cfg.mem_hotplug.block_mib),
		.pmems = vm->cfg.pmems,
		.nr_pmems = vm->cfg.nr_pmems,
		.pmem_slot = vm_hotplug_slots_end(&vm->cfg.mem_hotplug),
		.vsock = &vm->cfg.vsock,
	};

	return virtio_create_devices(&vm->dev_ctx, &c, err);
}

static int create_devices(struct vm *vm, struct mvm_err *err)
{
	struct dev_ctx *dc = &vm->dev_ctx;
	int ret;

	fill_dev_ctx(vm);
	ret = serial_create(dc, PORT_COM1, IRQ_COM1, vm->cfg.console_q,
			    &vm->serial, err);
	if (!ret)
		ret = debug_exit_create(dc, err);
	if (!ret)
		ret = pvpanic_create(dc, err);
	if (!ret)
		ret = pm_create(dc, &vm->pm, err);
	if (!ret)
		ret = i8042_create(dc, &vm->i8042, err);
	if (!ret)
		ret = rtc_create(dc, vm->cfg.cmos, &vm->rtc, err);
	if (!ret)
		ret = irq_routes_create(dc, err);
	if (!ret)
		ret = pci_create(dc, err);
	if (!ret)
		ret = create_virtio(vm, err);
	if (!ret)
		ret = irqchip_create(dc, &vm->irqchip, err);
	return ret ? ret : register_devices(vm, err);
}

static void vcpu_request_stop(struct vcpu_ctx *ctx, enum vm_stop_kind kind,
			      int status, const char *msg)
{
	struct vm *vm = (struct vm *)((char *)ctx -
				      offsetof(struct vm, vcpu_ctx));

	if (msg)
		vm_request_stop(vm, kind, status, "%s", msg);
	else
		vm_request_stop(vm, kind, status, NULL);
}

/* What the vCPUs see of the VM: complete once KVM's VM and buses exist. */
static void fill_vcpu_ctx(struct vm *vm)
{
	struct vcpu_ctx *c = &vm->vcpu_ctx;

	c->kvm_fd = vm->kvm_fd;
	c->vm_fd = vm->vm_fd;
	c->vcpu_mmap_size = vm->vcpu_mmap_size;
	c->supported_cpuid = vm->supported_cpuid;
	c->nr_cpus = vm->cfg.cpus;
	c->nested = vm->cfg.nested;
	c->smt = vm->cfg.smt;
	c->tmpl = vm->cpu_tmpl_on ? &vm->cpu_tmpl : NULL;
	c->pio = &vm->pio;
	c->mmio = &vm->mmio;
	c->exits = vm->metrics.exits;
	c->pio_unclaimed = &vm->metrics.pio_unclaimed;
	c->mmio_unclaimed = &vm->metrics.mmio_unclaimed;
	c->stopping = &vm->stopping;
	c->request_stop = vcpu_request_stop;
}

/*
 * The CPU template in force: the custom one, or the static one by name,
 * which must be for this host's vendor (Firecracker refuses a T2A on Intel
 * and the others on AMD at InstanceStart, as here).
 */
static int resolve_cpu_template(struct vm *vm, struct mvm_err *err)
{
	const struct vm_config *cfg = &vm->cfg;
	int ret;

	if (cfg->cpu_custom_set) {
		vm->cpu_tmpl = cfg->cpu_custom;
	} else if (cfg->cpu_template != CPU_STATIC_NONE) {
		ret = cpu_static_template(cfg->cpu_template,
					  vcpu_cpuid_vendor(vm->supported_cpuid),
					  &vm->cpu_tmpl, err);
		if (ret)
			return ret;
	} else {
		return 0;
	}
	vm->cpu_tmpl_on = true;
	return cpu_template_check_caps(&vm->cpu_tmpl, vm->kvm_fd, err);
}

static int create_vcpus(struct vm *vm, struct mvm_err *err)
{
	int ret;

	fill_vcpu_ctx(vm);

	vm->vcpus = calloc(vm->cfg.cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return mvm_fail(err, -ENOMEM, "out of memory");
	for (unsigned i = 0; i < vm->cfg.cpus; i++) {
		ret = vcpu_create(&vm->vcpu_ctx, i, &vm->vcpus[i], err);
		if (ret)
			return ret;
		vm->nr_vcpus++;
		ret = vcpu_set_cpuid(vm->vcpus[i], err);
		if (ret)
			return ret;
		ret = vcpu_set_lapic_lints(vm->vcpus[i], err);
		if (ret)
			return ret;
	}
	/* A restored VM's registers come from its snapshot. */
	if (vm->cfg.mem_source)
		return 0;
	/* Only the boot vCPU gets registers: APs wait for INIT/SIPI. */
	return vcpu_set_boot_regs(vm->vcpus[0], &vm->entry, err);
}

static void stop_wake(void *ctx)
{
	struct vm *vm = ctx;
	uint64_t v;

	if (read(vm->stop_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	if (atomic_load(&vm->stopping))
		loop_stop(vm->loop);
}

int vm_create(struct vm *vm, const struct vm_config *cfg, struct loop *loop,
	      struct mvm_err *err)
{
	struct cpuid_async cq = { .running = false };
	int ret, jret;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = *cfg;
	vm->kvm_fd = vm->vm_fd = vm->stop_efd = -1;
	vm->loop = loop;
	pthread_mutex_init(&vm->stop_lock, NULL);
	bus_init(&vm->pio);
	bus_init(&vm->mmio);

	/* cfg passed vm_check_config() (the VMM checks it before the taps). */
	ret = check_nested(cfg, err);
	if (!ret)
		ret = create_kvm_vm(vm, &cq, err);
	if (!ret)
		ret = setup_memory(vm, err);
	if (!ret)
		ret = create_irqchip(vm, err);
	/* A snapshot's RAM holds the kernel and tables it was booted with. */
	if (!ret && !cfg->mem_source)
		ret = load_kernel(vm, err);
	/* Whatever failed above, the CPUID thread ends here. */
	jret = cpuid_async_join(&cq, ret == 0, &vm->supported_cpuid, err);
	if (!ret)
		ret = jret;
	if (!ret)
		ret = resolve_cpu_template(vm, err);
	if (!ret)
		ret = create_devices(vm, err);
	if (!ret)
		ret = create_vcpus(vm, err);
	if (!ret)
		ret = vm_nested_init(vm, err);
	if (ret)
		return ret;

	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0)
		return mvm_fail(err, -errno, "eventfd: %s", strerror(errno));
	return loop_watch_add(loop, &vm->stop_watch, vm->stop_efd, stop_wake,
			      vm);
}

int vm_start(struct vm *vm, struct mvm_err *err)
{
	int ret = 0;

	for (unsigned i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = vcpu_start(vm->vcpus[i], err);
	if (!ret)
		ret = vm_nested_monitor_start(vm, err);
	return ret ? ret : test_hooks_vm_started(vm, err);
}

int vm_start_paused(struct vm *vm, struct mvm_err *err)
{
	int ret = 0;

	/* All threads start at once; then each is waited for. */
	for (unsigned i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = vcpu_start_paused(vm->vcpus[i], err);
	for (unsigned i = 0; !ret && i < vm->nr_vcpus; i++)
		if (vcpu_pause(vm->vcpus[i]))
			ret = mvm_fail(err, -ESRCH, "vcpu %u: its thread ended "
				       "as it started", i);
	if (ret)
		return ret;
	vm->paused = true;
	ret = vm_nested_monitor_start(vm, err);
	return ret ? ret : test_hooks_vm_started(vm, err);
}

void vm_request_stop(struct vm *vm, enum vm_stop_kind kind, int status,
		     const char *fmt, ...)
{
	uint64_t one = 1;
	va_list ap;

	pthread_mutex_lock(&vm->stop_lock);
	if (!atomic_load(&vm->stopping)) {
		vm->stop_kind = kind;
		vm->stop_status = status;
		if (fmt) {
			va_start(ap, fmt);
			vsnprintf(vm->stop_msg, sizeof(vm->stop_msg), fmt, ap);
			va_end(ap);
		}
		atomic_store(&vm->stopping, true);
	}
	pthread_mutex_unlock(&vm->stop_lock);
	if (vm->stop_efd >= 0 && write(vm->stop_efd, &one, sizeof(one)) < 0) {
		/* The counter cannot overflow with our writes; nothing to do. */
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(vm->vcpus[i]);
}

int vm_pause(struct vm *vm)
{
	int ret = 0;

	/* All kicked first: they park in parallel, each on its own CPU. */
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_pause_ask(vm->vcpus[i]);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		ret = vcpu_pause_wait(vm->vcpus[i]) ? -ESRCH : ret;
	if (ret) {
		vm_resume(vm);
		return ret;
	}
	vm->paused = true;
	return 0;
}

void vm_resume(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_resume(vm->vcpus[i]);
	vm->paused = false;
}

void vm_quiesce(struct vm *vm)
{
	if (vm->quiescing)
		return;
	vm->quiescing = true;
	atomic_store(&vm->stopping, true);
	/* The monitor asks vCPUs questions: silence it before they go. */
	test_hooks_vm_stopping(vm);
	vm_nested_monitor_stop(vm);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_join(vm->vcpus[i]);
	/* Devices finish their in-flight I/O while guest memory still exists. */
	virtio_stop_devices(&vm->dev_ctx);
}

bool vm_quiesced(const struct vm *vm)
{
	return vm->quiescing && vm->dev_ctx.busy == 0;
}

static pid_t destroy(struct vm *vm, bool teardown_in_child)
{
	pid_t teardown;

	vm_quiesce(vm);
	vm_nested_fini(vm);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_destroy(vm->vcpus[i]);
	free(vm->vcpus);
	vm->vcpus = NULL;
	vm->nr_vcpus = 0;
	virtio_destroy_devices(&vm->dev_ctx);
	pci_destroy(&vm->dev_ctx);
	irq_routes_destroy(&vm->dev_ctx);
	if (vm->stop_efd >= 0) {
		loop_watch_cancel(&vm->stop_watch);
		close(vm->stop_efd);
	}
	vm->devices.nr = vm->devices.paused = 0; /* they go now */
	irqchip_destroy(vm->irqchip);
	vm->irqchip = NULL;
	if (vm->i8042)
		i8042_destroy(vm->i8042);
	pm_destroy(vm->pm);
	rtc_destroy(vm->rtc);
	vm->rtc = NULL;
	if (vm->serial)
		serial_destroy(vm->serial);
	gm_free(&vm->mem);
	bus_fini(&vm->pio);
	bus_fini(&vm->mmio);
	free(vm->supported_cpuid);
	teardown = vm_fd_release(vm->vm_fd, teardown_in_child);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	pthread_mutex_destroy(&vm->stop_lock);
	vm->vm_fd = vm->kvm_fd = vm->stop_efd = -1;
	return teardown;
}

void vm_destroy(struct vm *vm)
{
	destroy(vm, false);
}

pid_t vm_destroy_async(struct vm *vm)
{
	return destroy(vm, true);
}
