/*
 * The one interface every device implements, legacy and virtio alike, so
 * that the VM pauses, saves, loads and resumes all of them through one path
 * (include/mvm/vm_state.h) without knowing any: an ops table with -errno
 * returns, as kvmtool writes its devices, promising what Cloud Hypervisor's
 * Pausable and Snapshottable traits promise.
 *
 * Threads. A device has two sides. Its registers are served on vCPU
 * threads (bus handlers, under the device's own lock); its I/O, its timers
 * and its host-side inputs run on the event-loop thread. Every member of
 * struct device_ops runs on the event-loop thread, never two at once, and
 * (activate aside, which also runs before the vCPUs ever start) only while
 * every vCPU is parked outside KVM_RUN, with the instruction it exited in
 * finished (vm_pause_all): so no register access races them. No member
 * runs on a vCPU thread.
 *
 * State. A device saves itself into one state node: its id, a version of
 * its own layout, and bytes. The bytes may come back from a file or a
 * network peer, so load treats them as hostile: it checks the id, the
 * version, the length and every value before using any, and refuses with
 * -EINVAL and a message naming the device. Layouts are host-endian
 * (x86-64: little-endian) fixed-size fields; a change of layout is a new
 * version.
 */
#ifndef MVM_DEVICE_H
#define MVM_DEVICE_H

#include <stddef.h>
#include <stdint.h>

struct mvm_err;

/* Device ids: "serial0", "irqchip", "virtio-blk:disk0" (with its NUL). */
#define DEV_ID_MAX 96
/* No device's state comes near this; a vCPU's (XSAVE, nested) does not. */
#define DEV_STATE_MAX_LEN (4u << 20)
/* Nodes one VM may have: its devices and its vCPUs. */
#define DEV_STATE_MAX_NODES 512
/* Devices one VM may register (legacy, PCI host, irqchip, virtio). */
#define DEV_REGISTRY_MAX 64

/*
 * A named, versioned piece of state. data is malloc'd and owned by the
 * node (NULL when len is 0: a device without state saves an empty node,
 * and its load checks that the node is empty).
 */
struct dev_state_node {
	char id[DEV_ID_MAX];
	uint32_t version;
	void *data;
	size_t len;
};

/* The nodes of one VM: what a snapshot or a migration stream carries. */
struct dev_state_list {
	struct dev_state_node *node;
	unsigned nr, cap;
};

struct device;

struct device_ops {
	/*
	 * Loop thread; before the vCPUs first run, or with them parked. The
	 * device takes up the work its state calls for. Called once its
	 * state is in place: after the VM is built (nothing to do for a
	 * fresh device) and after a load, once every device of the VM has
	 * loaded, so that a refused load leaves nothing started. Still
	 * paused after a load: work that needs the guest waits for resume.
	 */
	int (*activate)(struct device *d, struct mvm_err *err);
	/*
	 * Loop thread, on a paused device, which stays paused. Back to the
	 * power-on state, as the hardware's reset line does (the RTC keeps
	 * its battery-backed CMOS; a PCI function keeps the BAR placement
	 * mvm, as firmware, gave it); a line the device drove is lowered.
	 */
	int (*reset)(struct device *d, struct mvm_err *err);
	/*
	 * Loop thread, once the vCPUs are parked. Quiesce: start no new
	 * work, wait (running the loop, loop_wait) until nothing the device
	 * submitted is in flight, and deliver every completion to the guest:
	 * used rings written, the interrupts sent. Until resume the device
	 * writes no guest memory and raises no interrupt. Input from the host
	 * side (console bytes, a Ctrl-Alt-Del, a new medium) still changes
	 * its state, and the interrupt it calls for is held where a save
	 * finds it (the UART's FIFO and IER, the MSI-X pending bits) and
	 * sent on resume. -ETIMEDOUT when its I/O does not finish; a device
	 * that fails to pause is left running, not half paused.
	 */
	int (*pause)(struct device *d, struct mvm_err *err);
	/*
	 * Loop thread, before the vCPUs go on: the interrupts held while
	 * paused go out, and buffers the guest made available meanwhile (or
	 * before a load) are served.
	 */
	int (*resume)(struct device *d, struct mvm_err *err);
	/*
	 * Loop thread, on a paused device, changing nothing: its state into
	 * *out, which the caller frees with dev_state_node_free.
	 */
	int (*save)(struct device *d, struct dev_state_node *out,
		    struct mvm_err *err);
	/*
	 * Loop thread, on a paused device: a fresh one (restore, migration)
	 * or this one in place. Hostile input is refused with -EINVAL (see
	 * above). It raises no interrupt and drives no IRQ line: the
	 * interrupt controllers' state (the irqchip device, each vCPU's LAPIC)
	 * comes from the same snapshot. Legacy devices and the irqchip check
	 * everything before changing anything; a refused virtio device may be
	 * left reset, so a refused load means the VM is discarded.
	 */
	int (*load)(struct device *d, const struct dev_state_node *in,
		    struct mvm_err *err);
};

/* One entry of a VM's registry: the device is the opaque's owner's. */
struct device {
	char id[DEV_ID_MAX];
	const struct device_ops *ops;
	void *opaque;
};

/*
 * A VM's devices in the order they were built: they pause in this order
 * and resume in reverse. The registry owns no device (the VM destroys
 * them as before); it only reaches them.
 */
struct dev_registry {
	struct device dev[DEV_REGISTRY_MAX];
	unsigned nr;
	unsigned paused; /* dev[0..paused) are paused */
};

/* Add a device: -EINVAL (id empty or too long), -EEXIST, -ENOSPC. */
int dev_register(struct dev_registry *r, const char *id,
		 const struct device_ops *ops, void *opaque,
		 struct mvm_err *err);
struct device *dev_find(struct dev_registry *r, const char *id);

/* Each device in order; the first failure is returned, naming it. */
int dev_activate_all(struct dev_registry *r, struct mvm_err *err);
/* Pause each in order; on a failure, those paused resume. */
int dev_pause_all(struct dev_registry *r, struct mvm_err *err);
/* Resume the paused ones, last first; every one, whatever fails. */
int dev_resume_all(struct dev_registry *r, struct mvm_err *err);
/* Append one node per device to out (freed by the caller on failure too). */
int dev_save_all(struct dev_registry *r, struct dev_state_list *out,
		 struct mvm_err *err);
/* Each device loads its node from in (by id); a missing node is -EINVAL. */
int dev_load_all(struct dev_registry *r, const struct dev_state_list *in,
		 struct mvm_err *err);

/* A node holding a copy of len bytes of data (-ENOMEM, -EINVAL). */
int dev_state_node_set(struct dev_state_node *n, const char *id,
		       uint32_t version, const void *data, size_t len,
		       struct mvm_err *err);
void dev_state_node_free(struct dev_state_node *n);
/*
 * What every load checks first: in is d's (its id NUL-terminated and d's),
 * of this version, min to max bytes long, with data for them. -EINVAL
 * with a message naming d otherwise.
 */
int dev_state_check(const struct device *d, const struct dev_state_node *in,
		    uint32_t version, size_t min, size_t max,
		    struct mvm_err *err);
/* For loads that find a value wrong: "ID: state: WHAT" and -EINVAL. */
int dev_state_bad(const struct device *d, struct mvm_err *err,
		  const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Move *n (emptied) to the end of l: -ENOSPC past DEV_STATE_MAX_NODES. */
int dev_state_list_add(struct dev_state_list *l, struct dev_state_node *n,
		       struct mvm_err *err);
/* The node named id, or NULL. */
const struct dev_state_node *dev_state_list_find(
	const struct dev_state_list *l, const char *id);
/*
 * A list fit to load: at most DEV_STATE_MAX_NODES nodes, each id
 * NUL-terminated and unique, each length within DEV_STATE_MAX_LEN.
 */
int dev_state_list_check(const struct dev_state_list *l,
			 struct mvm_err *err);
void dev_state_list_free(struct dev_state_list *l);

/* For devices that have nothing to do in a member. */
int dev_nop(struct device *d, struct mvm_err *err);
/* Save and load of a device without state: an empty node. */
int dev_save_empty(struct device *d, struct dev_state_node *out,
		   struct mvm_err *err);
int dev_load_empty(struct device *d, const struct dev_state_node *in,
		   struct mvm_err *err);
/*
 * The whole interface of a device with no state and nothing in flight
 * (debug-exit, pvpanic: a port that reads a constant and ends the VM when
 * written): every member a no-op, an empty node saved and loaded.
 */
extern const struct device_ops dev_stateless_ops;

#endif
