/*
 * The fake VM of the device fuzzers (fuzz_vm.h). The network backend is a
 * datagram socket pair instead of a TAP: frames keep their boundaries, and
 * the fuzzer feeds and drains the other end. tap_open() and tap_adopt()
 * are defined here, so the linker takes these rather than the real ones.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mvm/device.h"
#include "mvm/err.h"
#include "mvm/net.h"
#include "mvm/pci.h"
#include "mvm/vm_config.h"

#include "fuzz_vm.h"

/* Provided by src/devices/virtio (devices.h is internal to it). */
int blk_create(struct dev_ctx *ctx, const struct disk_config *cfg,
	       unsigned cpus, struct mvm_err *err);
int net_create(struct dev_ctx *ctx, const struct net_config *cfg,
	       struct mvm_err *err);
int rng_create(struct dev_ctx *ctx, const struct rate_limiter *rl,
	       struct mvm_err *err);
int pmem_create(struct dev_ctx *ctx, const struct pmem_config *cfg,
		uint64_t gpa, uint64_t limit, uint32_t slot, uint64_t *size,
		struct mvm_err *err);
int virtio_mem_create(struct dev_ctx *ctx, const struct mem_hotplug_config *cfg,
		      uint64_t gpa, struct mvm_err *err);
int balloon_create(struct dev_ctx *ctx, const struct balloon_config *cfg,
		   struct mvm_err *err);
int vsock_create(struct dev_ctx *ctx, const struct vsock_config *cfg,
		 struct mvm_err *err);

/* The balloon with every queue: statistics, hinting, reporting. */
static const struct balloon_config fuzz_balloon = {
	.enabled = true, .amount_mib = 1, .deflate_on_oom = true,
	.stats_interval_s = 1, .free_page_hinting = true,
	.free_page_reporting = true,
};

#define CC_DFSELECT 0x00
#define CC_DF 0x04
#define CC_GFSELECT 0x08
#define CC_GF 0x0c
#define CC_STATUS 0x14
#define CC_Q_SELECT 0x16
#define CC_Q_SIZE 0x18
#define CC_Q_ENABLE 0x1c
#define CC_Q_DESC 0x20
#define CC_Q_DRIVER 0x28
#define CC_Q_DEVICE 0x30
#define NOTIFY_OFF 0x3000
#define NOTIFY_MULT 4

#define BLK_FUZZ_SECTOR 512

static int peer_fd = -1; /* the fuzzer's end of the net backend */
static uint64_t bar_window; /* where the host places the first BAR */

static int sock_set_offload(struct net_backend *b, unsigned offloads)
{
	(void)b;
	(void)offloads;
	return 0;
}

static void sock_close(struct net_backend *b)
{
	close(b->fd);
	free(b);
}

static const struct net_backend_ops sock_ops = {
	.set_offload = sock_set_offload,
	.close = sock_close,
};

int tap_open(const char *name, struct net_backend **out, struct mvm_err *err)
{
	struct net_backend *b = calloc(1, sizeof(*b));
	int sv[2];

	if (!b || socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			     0, sv)) {
		free(b);
		return mvm_fail(err, -ENOMEM, "socketpair");
	}
	b->ops = &sock_ops;
	b->fd = sv[0];
	b->offloads = true; /* so the TSO paths are offered too */
	snprintf(b->name, sizeof(b->name), "%s", name);
	peer_fd = sv[1];
	*out = b;
	return 0;
}

int tap_adopt(const char *name, int fd, struct net_backend **out,
	      struct mvm_err *err)
{
	(void)fd;
	return tap_open(name, out, err);
}

struct fuzz_vm *fuzz_vm_get(void)
{
	static struct fuzz_vm f;
	static bool made;
	struct mvm_err err;

	if (made)
		return &f;
	f.peer = -1;
	for (int i = 0; i < 4; i++)
		f.vsock_clients[i] = -1;
	bus_init(&f.pio);
	bus_init(&f.mmio);
	if (loop_init(&f.loop, 256, &err))
		abort();
	/*
	 * No KVM: its ioctls fail and the devices go on without them.
	 * irq_line and request_stop stay NULL: virtio devices interrupt
	 * through MSI-X and never stop the VM.
	 */
	f.ctx = (struct dev_ctx){
		.mem = &f.mem,
		.loop = &f.loop,
		.pio = &f.pio,
		.mmio = &f.mmio,
		.vm_fd = -1,
	};
	f.ram = calloc(1, FUZZ_RAM_SIZE);
	if (!f.ram || gm_add_host(&f.mem, 0, f.ram, FUZZ_RAM_SIZE) ||
	    pci_create(&f.ctx, &err))
		abort();
	bar_window = f.ctx.pci->mmio32_next;
	made = true;
	return &f;
}

static int make_blk(struct fuzz_vm *f, uint64_t size, struct mvm_err *err)
{
	struct disk_config cfg = { .id = "fz0" };
	char path[64];
	int fd = memfd_create("fuzz-disk", MFD_CLOEXEC), ret;

	if (fd < 0 || ftruncate(fd, (off_t)size)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	cfg.path = path;
	ret = blk_create(&f->ctx, &cfg, 1, err);
	close(fd); /* the device opened its own */
	return ret;
}

/* virtio-mem over its region, with `blocks` (mod 3) of 2 MiB asked. */
static int make_mem(struct fuzz_vm *f, uint64_t blocks, struct mvm_err *err)
{
	struct mem_hotplug_config cfg = { .total_mib = FUZZ_HOTPLUG_MIB,
					  .slot_mib = 128, .block_mib = 2,
					  .requested_mib = blocks % 3 * 2 };

	if (!f->hotplug) {
		f->hotplug = calloc(1, (size_t)FUZZ_HOTPLUG_MIB << 20);
		if (!f->hotplug ||
		    gm_add_host(&f->mem, FUZZ_HOTPLUG_GPA, f->hotplug,
				(uint64_t)FUZZ_HOTPLUG_MIB << 20))
			abort();
	}
	return virtio_mem_create(&f->ctx, &cfg, FUZZ_HOTPLUG_GPA, err);
}

/*
 * virtio-pmem over a memfd of 4 KiB (a 2 MiB region). Its memory slot
 * needs a KVM VM: one is made for the first device and kept, as each
 * device deletes its slot when destroyed.
 */
static int make_pmem(struct fuzz_vm *f, struct mvm_err *err)
{
	struct pmem_config cfg = { .id = "fz0" };
	int fd = memfd_create("fuzz-pmem", MFD_CLOEXEC), ret;
	uint64_t size;

	if (f->ctx.vm_fd < 0) {
		int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);

		f->ctx.vm_fd = kvm < 0 ? -1 : ioctl(kvm, KVM_CREATE_VM, 0);
		if (f->ctx.vm_fd < 0) {
			fprintf(stderr, "fuzz_pmem needs /dev/kvm for the "
				"device's memory slot\n");
			abort();
		}
	}
	if (fd < 0 || ftruncate(fd, 4096)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	{
		char path[64];

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		cfg.path = path;
		ret = pmem_create(&f->ctx, &cfg, 1ULL << 32, 1ULL << 33, 0,
				  &size, err);
	}
	close(fd); /* the device opened its own */
	return ret;
}

/*
 * virtio-vsock, CID 3, its socket in a directory of this process's (made
 * once), and a listener on "<socket>_5000", the host's port 5000, for
 * the guest's connections; the fuzzer accepts and closes them (op 2).
 */
static char vsock_path[96];
static int vsock_port_fd = -1;

static int make_vsock(struct fuzz_vm *f, struct mvm_err *err)
{
	struct vsock_config cfg = { .id = "fz0", .guest_cid = 3 };

	if (!vsock_path[0]) {
		char dir[] = "/tmp/mvm-fuzz-vsock-XXXXXX";
		struct sockaddr_un a = { .sun_family = AF_UNIX };

		if (!mkdtemp(dir))
			abort();
		snprintf(vsock_path, sizeof(vsock_path), "%s/v", dir);
		snprintf(a.sun_path, sizeof(a.sun_path), "%s_5000",
			 vsock_path);
		vsock_port_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (vsock_port_fd < 0 ||
		    bind(vsock_port_fd, (struct sockaddr *)&a, sizeof(a)) ||
		    listen(vsock_port_fd, 4))
			abort();
	}
	for (int i = 0; i < 4; i++)
		f->vsock_clients[i] = -1;
	cfg.uds_path = vsock_path;
	return vsock_create(&f->ctx, &cfg, err);
}

/* A host program: connects to the device's socket, writes len bytes
 * (a CONNECT line, or not); the oldest of four goes. */
static void vsock_client(struct fuzz_vm *f, const uint8_t *p, size_t len)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", vsock_path);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* A full backlog or socket: as a busy host's would be. */
	}
	if (f->vsock_clients[3] >= 0)
		close(f->vsock_clients[3]);
	memmove(f->vsock_clients + 1, f->vsock_clients,
		3 * sizeof(f->vsock_clients[0]));
	f->vsock_clients[0] = fd;
}

/* The host's side of vsock: read what came, close the guest's. */
static void vsock_drain(struct fuzz_vm *f)
{
	uint8_t buf[4096];
	int c;

	for (int i = 0; i < 4; i++)
		while (f->vsock_clients[i] >= 0 &&
		       recv(f->vsock_clients[i], buf, sizeof(buf),
			    MSG_DONTWAIT) > 0)
			;
	while ((c = accept(vsock_port_fd, NULL, NULL)) >= 0) {
		(void)!recv(c, buf, sizeof(buf), MSG_DONTWAIT);
		close(c);
	}
}

int fuzz_dev_create(struct fuzz_vm *f, enum fuzz_dev kind, uint64_t size)
{
	struct net_config net = { .id = "fz0", .tap = "fz0" };
	/* No limits: what a guest does, not when the tokens come back. */
	struct rate_limiter no_limit = { .bandwidth.size = 0 };
	struct mvm_err err;
	int ret;

	switch (kind) {
	case FUZZ_RNG:
		ret = rng_create(&f->ctx, &no_limit, &err);
		break;
	case FUZZ_BLK:
		ret = make_blk(f, size, &err);
		break;
	case FUZZ_MEM:
		ret = make_mem(f, size, &err);
		break;
	case FUZZ_BALLOON:
		ret = balloon_create(&f->ctx, &fuzz_balloon, &err);
		break;
	case FUZZ_PMEM:
		ret = make_pmem(f, &err);
		break;
	case FUZZ_VSOCK:
		ret = make_vsock(f, &err);
		break;
	default:
		ret = net_create(&f->ctx, &net, &err);
		f->peer = peer_fd;
		break;
	}
	if (ret)
		return -1;
	f->t = f->ctx.virtio_devs;
	f->bar = f->t->pci.bar[0].at;
	return f->t->pci.bar[0].mapped ? 0 : -1;
}

static bool quiesced(void *ctx)
{
	return ((struct dev_ctx *)ctx)->busy == 0;
}

void fuzz_dev_destroy(struct fuzz_vm *f)
{
	/*
	 * As a VM's teardown: the devices stop and the loop completes their
	 * I/O; one that never does is a hang, which -timeout reports.
	 */
	virtio_stop_devices(&f->ctx);
	while (!quiesced(&f->ctx)) {
		int ret = loop_run_until(&f->loop, quiesced, &f->ctx, 1000);

		if (ret < 0 && ret != -ETIMEDOUT)
			abort();
	}
	virtio_destroy_devices(&f->ctx);
	/* The host's BAR allocator only moves on: every input starts over. */
	f->ctx.pci->mmio32_next = bar_window;
	f->t = NULL;
	if (f->peer >= 0)
		close(f->peer);
	f->peer = peer_fd = -1;
	for (int i = 0; i < 4; i++) {
		if (f->vsock_clients[i] >= 0)
			close(f->vsock_clients[i]);
		f->vsock_clients[i] = -1;
	}
	memset(f->ram, 0, FUZZ_RAM_SIZE);
	if (f->hotplug)
		memset(f->hotplug, 0, (size_t)FUZZ_HOTPLUG_MIB << 20);
	fuzz_used_forget_all();
}

uint32_t fuzz_bar_read(struct fuzz_vm *f, uint64_t off, uint32_t len)
{
	uint8_t d[8] = { 0 };

	bus_dispatch(&f->mmio, f->bar + off, d, len, false);
	return len == 1 ? d[0] : len == 2 ? pci_get16(d) : pci_get32(d);
}

void fuzz_bar_write(struct fuzz_vm *f, uint64_t off, uint32_t len,
		    uint64_t v)
{
	uint8_t d[8];

	pci_put32(d, (uint32_t)v);
	pci_put32(d + 4, (uint32_t)(v >> 32));
	bus_dispatch(&f->mmio, f->bar + off, d, len, true);
}

static uint64_t offered(struct fuzz_vm *f)
{
	fuzz_bar_write(f, CC_DFSELECT, 4, 0);
	uint64_t lo = fuzz_bar_read(f, CC_DF, 4);
	fuzz_bar_write(f, CC_DFSELECT, 4, 1);
	return lo | (uint64_t)fuzz_bar_read(f, CC_DF, 4) << 32;
}

uint64_t fuzz_driver_up(struct fuzz_vm *f, uint64_t want, uint16_t nq,
			uint16_t qsize)
{
	uint64_t feat = (want & offered(f)) | VIRTIO_BIT(VIRTIO_F_VERSION_1);

	fuzz_bar_write(f, CC_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE |
		       VIRTIO_STATUS_DRIVER);
	fuzz_bar_write(f, CC_GFSELECT, 4, 0);
	fuzz_bar_write(f, CC_GF, 4, (uint32_t)feat);
	fuzz_bar_write(f, CC_GFSELECT, 4, 1);
	fuzz_bar_write(f, CC_GF, 4, (uint32_t)(feat >> 32));
	fuzz_bar_write(f, CC_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE |
		       VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	for (uint16_t i = 0; i < nq; i++) {
		uint64_t base = (uint64_t)i * FUZZ_QUEUE_GAP;

		fuzz_bar_write(f, CC_Q_SELECT, 2, i);
		fuzz_bar_write(f, CC_Q_SIZE, 2, qsize);
		fuzz_bar_write(f, CC_Q_DESC, 8, base + FUZZ_DESC);
		fuzz_bar_write(f, CC_Q_DRIVER, 8, base + FUZZ_AVAIL);
		fuzz_bar_write(f, CC_Q_DEVICE, 8, base + FUZZ_USED);
		fuzz_bar_write(f, CC_Q_ENABLE, 2, 1);
	}
	fuzz_bar_write(f, CC_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE |
		       VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		       VIRTIO_STATUS_DRIVER_OK);
	fuzz_run(f); /* DRIVER_OK reaches the device through the loop */
	return feat;
}

void fuzz_kick(struct fuzz_vm *f, unsigned q)
{
	fuzz_bar_write(f, NOTIFY_OFF + NOTIFY_MULT * q, 2, q);
}

static void stop_done(struct loop_op *op, int res, unsigned flags)
{
	struct fuzz_vm *f = fuzz_vm_get();

	(void)op;
	(void)res;
	(void)flags;
	loop_stop(&f->loop);
}

void fuzz_run(struct fuzz_vm *f)
{
	static struct loop_op stop = { .done = stop_done };

	/*
	 * A NOP completes after what is ready now, so each round runs the
	 * kicks and completions already due, and a device that never goes
	 * idle shows up as a hang that libFuzzer's -timeout reports.
	 */
	for (int round = 0; round < 4; round++) {
		struct io_uring_sqe *sqe = loop_sqe(&f->loop);

		if (!sqe)
			abort();
		io_uring_prep_nop(sqe);
		loop_prep(&f->loop, sqe, &stop);
		if (loop_run(&f->loop) < 0)
			abort();
	}
}

uint8_t *fuzz_host(struct fuzz_vm *f, uint64_t gpa, uint64_t len)
{
	const uint64_t hp = (uint64_t)FUZZ_HOTPLUG_MIB << 20;

	if (gpa < FUZZ_RAM_SIZE && len <= FUZZ_RAM_SIZE - gpa)
		return f->ram + gpa;
	if (f->hotplug && gpa >= FUZZ_HOTPLUG_GPA &&
	    gpa - FUZZ_HOTPLUG_GPA < hp && len <= hp - (gpa - FUZZ_HOTPLUG_GPA))
		return f->hotplug + (gpa - FUZZ_HOTPLUG_GPA);
	return NULL;
}

void fuzz_ram_write(struct fuzz_vm *f, uint64_t gpa, const uint8_t *p,
		    size_t n)
{
	if (gpa >= FUZZ_RAM_SIZE)
		return;
	if (n > FUZZ_RAM_SIZE - gpa)
		n = FUZZ_RAM_SIZE - gpa;
	memcpy(f->ram + gpa, p, n);
}

/* Input reader: reads past the end give zeroes, never fail. */
struct in {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct in *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)in->p[0] << (8 * i);
	return v;
}

static uint64_t want_features(uint8_t w)
{
	uint64_t f = 0;

	if (w & 1)
		f |= VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	if (w & 2)
		f |= VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	if (w & 4)
		f |= VIRTIO_BIT(15); /* net MRG_RXBUF */
	if (w & 8)
		f |= VIRTIO_BIT(1) | VIRTIO_BIT(7) | VIRTIO_BIT(8); /* GUEST_* */
	if (w & 16)
		f |= VIRTIO_BIT(0) | VIRTIO_BIT(11) | VIRTIO_BIT(12); /* HOST_* */
	if (w & 32) /* blk: flush, discard, write zeroes, MQ */
		f |= VIRTIO_BIT(9) | VIRTIO_BIT(12) | VIRTIO_BIT(13) |
		     VIRTIO_BIT(14);
	if (w & 64) /* the rest: everything offered */
		f |= ~0ULL;
	return f;
}

/* Frames the device sent: read and dropped, so its writes never block. */
static void drain_peer(struct fuzz_vm *f)
{
	uint8_t frame[2048];

	if (f->t && f->t->info.device_id == VIRTIO_ID_VSOCK)
		vsock_drain(f);
	while (f->peer >= 0 && recv(f->peer, frame, sizeof(frame), 0) >= 0)
		;
}

static void frame_in(struct fuzz_vm *f, struct in *in)
{
	size_t len = (size_t)take(in, 2) % 2048;

	if (len > in->n)
		len = in->n;
	if (f->t && f->t->info.device_id == VIRTIO_ID_VSOCK)
		vsock_client(f, in->p, len);
	else if (f->peer >= 0 && send(f->peer, in->p, len, MSG_DONTWAIT) < 0) {
		/* A full socket drops the frame, as a busy TAP would. */
	}
	in->p += len;
	in->n -= len;
}

/* PCI config space of the device through ports 0xCF8/0xCFC. */
static void cfg_write(struct fuzz_vm *f, uint8_t reg, uint32_t len,
		      uint32_t v)
{
	uint8_t a[4], d[4];

	pci_put32(a, 0x80000000u | f->t->pci.slot << 11 | (reg & 0xfcu));
	bus_dispatch(&f->pio, 0xcf8, a, 4, true);
	pci_put32(d, v);
	bus_dispatch(&f->pio, 0xcfc + (reg & 3u & (4 - len)), d, len,
		     true);
}

static uint32_t width(uint8_t sel)
{
	static const uint32_t w[4] = { 1, 2, 4, 8 };

	return w[sel & 3];
}

/*
 * The device's lifecycle in the middle of the guest's traffic, as a
 * snapshot or a migration takes it: pause (nothing in flight), save,
 * then either resume, or load a state back and resume. The state loaded
 * is the one saved, which must load and save again to the same bytes, or
 * that state with input bytes xored into it: hostile, as a state file or
 * a migration stream is. Returns false when the device refused a load and
 * was left reset (a VM would then be discarded: so is this input's run).
 */
static bool lifecycle(struct fuzz_vm *f, struct in *in)
{
	struct device d = { .ops = &virtio_device_ops, .opaque = f->t };
	struct dev_state_node n = { 0 }, again = { 0 };
	struct mvm_err err;
	uint8_t how = (uint8_t)take(in, 1);
	bool ok = true;

	virtio_device_id(f->t, d.id, sizeof(d.id));
	if (d.ops->pause(&d, &err))
		return true; /* I/O that did not finish: left running */
	if (d.ops->save(&d, &n, &err))
		abort(); /* a paused device always saves */
	if (how & 1) {
		unsigned flips = (unsigned)take(in, 1) % 8;

		for (unsigned i = 0; i < flips && n.len; i++) {
			size_t at = (size_t)take(in, 2) % n.len;

			((uint8_t *)n.data)[at] ^= (uint8_t)take(in, 1);
		}
		ok = !d.ops->load(&d, &n, &err);
	} else if (how & 2) {
		/* Its own state must load; live again only once activated. */
		if (d.ops->load(&d, &n, &err) || d.ops->activate(&d, &err) ||
		    d.ops->save(&d, &again, &err)) {
			fprintf(stderr, "%s: its own state: %s\n", d.id,
				err.msg);
			abort();
		}
		if (again.len != n.len || memcmp(again.data, n.data, n.len)) {
			fprintf(stderr, "%s: saved %zu bytes, after its load %zu",
				d.id, n.len, again.len);
			for (size_t i = 0; i < n.len && i < again.len; i++)
				if (((uint8_t *)n.data)[i] !=
				    ((uint8_t *)again.data)[i])
					fprintf(stderr, "; byte %zu %02x->%02x",
						i, ((uint8_t *)n.data)[i],
						((uint8_t *)again.data)[i]);
			fprintf(stderr, "\n");
			abort(); /* and save again unchanged */
		}
		dev_state_node_free(&again);
	}
	dev_state_node_free(&n);
	if (ok && (how & 1) && d.ops->activate(&d, &err))
		ok = false;
	if (ok)
		d.ops->resume(&d, &err);
	return ok;
}

static void play_op(struct fuzz_vm *f, struct in *in, unsigned nq)
{
	uint8_t op = (uint8_t)take(in, 1);
	uint64_t off, len;

	if (op >= 0xf8) { /* rare, so the guest's traffic stays the bulk */
		if (!lifecycle(f, in))
			in->n = 0; /* refused: the VM is discarded */
		return;
	}
	switch (op % 8) {
	case 0: /* guest RAM */
		off = take(in, 2);
		len = take(in, 1);
		if (len > in->n)
			len = in->n;
		fuzz_ram_write(f, off, in->p, len);
		in->p += len;
		in->n -= len;
		break;
	case 1:
		fuzz_kick(f, (unsigned)take(in, 1) % nq);
		break;
	case 2:
		drain_peer(f);
		fuzz_run(f);
		break;
	case 3:
		frame_in(f, in);
		break;
	case 4: /* BAR 0: common config, ISR, device config, notify, MSI-X */
		off = take(in, 2) % 0x8000;
		len = width((uint8_t)(op >> 3));
		fuzz_bar_write(f, off, (uint32_t)len, take(in, 8));
		break;
	case 5:
		off = take(in, 2) % 0x8000;
		fuzz_bar_read(f, off, width((uint8_t)(op >> 3)));
		break;
	case 6:
		off = take(in, 1);
		len = width((uint8_t)(op >> 3)) & 7;
		cfg_write(f, (uint8_t)off, len > 4 ? 4 : (uint32_t)len,
			  (uint32_t)take(in, 4));
		break;
	default: { /* publish n more avail entries of queue q */
		unsigned q = (unsigned)take(in, 1) % nq;
		uint8_t *idx = f->ram + (uint64_t)q * FUZZ_QUEUE_GAP +
			       FUZZ_AVAIL + 2;
		uint16_t v = (uint16_t)(idx[0] | idx[1] << 8);

		v = (uint16_t)(v + take(in, 1) % (FUZZ_QMAX + 1));
		idx[0] = (uint8_t)v;
		idx[1] = (uint8_t)(v >> 8);
		fuzz_kick(f, q);
		break;
	}
	}
}

int fuzz_one(enum fuzz_dev kind, const uint8_t *data, size_t size)
{
	struct fuzz_vm *f = fuzz_vm_get();
	struct in in = { data, size };
	uint16_t qsize = (uint16_t)(1u << (take(&in, 1) % 7));
	uint64_t want = want_features((uint8_t)take(&in, 1));
	uint8_t size_byte = (uint8_t)take(&in, 1);
	uint64_t dev_size = kind == FUZZ_MEM ? size_byte :
			    BLK_FUZZ_SECTOR * (1 + (uint64_t)size_byte);
	bool up = take(&in, 1) & 1;
	size_t image = (size_t)take(&in, 2);
	unsigned nq = kind == FUZZ_NET ? 2 : kind == FUZZ_BALLOON ? 5 :
		      kind == FUZZ_VSOCK ? 3 : 1;

	if (fuzz_dev_create(f, kind, dev_size))
		abort(); /* the fake VM always has room for one device */
	if (image > in.n)
		image = in.n;
	fuzz_ram_write(f, 0, in.p, image);
	in.p += image;
	in.n -= image;
	if (up) {
		fuzz_driver_up(f, want, (uint16_t)nq, qsize);
		for (unsigned q = 0; q < nq; q++)
			fuzz_kick(f, q);
	}
	while (in.n)
		play_op(f, &in, nq);
	drain_peer(f);
	fuzz_run(f);
	fuzz_dev_destroy(f);
	return 0;
}
