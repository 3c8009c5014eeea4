/*
 * Legacy platform devices, each a bus handler on the VM's device context:
 * the 8250 UART, the i8042 (reset line), the ACPI PM1a block, the 0xCF9
 * reset port, the isa-debug-exit and pvpanic ports and the CMOS RTC.
 */
#ifndef MVM_DEVICES_H
#define MVM_DEVICES_H

#include <stddef.h>
#include <stdint.h>

struct dev_ctx;
struct device_ops;
struct mvm_err;
struct serial;
struct outq;

/*
 * Each device's side of include/mvm/device.h; the opaque is the device's
 * struct. debug-exit and pvpanic have none: they are dev_stateless_ops.
 */
extern const struct device_ops serial_device_ops;
extern const struct device_ops pm_device_ops;
extern const struct device_ops i8042_device_ops;
extern const struct device_ops rtc_device_ops;

/* The UART's output goes to q (NULL: nowhere). */
int serial_create(struct dev_ctx *ctx, uint16_t port, unsigned irq,
		  struct outq *q, struct serial **out, struct mvm_err *err);
void serial_destroy(struct serial *s);
/* Queue bytes for the guest to read; returns how many were taken. */
size_t serial_rx_push(struct serial *s, const uint8_t *buf, size_t len);
size_t serial_rx_room(struct serial *s);
/*
 * What the guest did with the UART since it was made, for the metrics
 * (Firecracker's uart group): receive-buffer reads, bytes sent, accesses
 * of a width the UART has not, and IRQ line changes KVM refused.
 */
struct serial_counts {
	uint64_t read_count, write_count;
	uint64_t missed_read_count, missed_write_count;
	uint64_t error_count;
};
void serial_counts(struct serial *s, struct serial_counts *c);

int debug_exit_create(struct dev_ctx *ctx, struct mvm_err *err);
/* The pvpanic port: a guest panic ends the VM as a crash. */
int pvpanic_create(struct dev_ctx *ctx, struct mvm_err *err);
struct pm;
/* The ACPI PM1a block and the 0xCF9 reset port. */
int pm_create(struct dev_ctx *ctx, struct pm **out, struct mvm_err *err);
void pm_destroy(struct pm *pm);
struct i8042;
int i8042_create(struct dev_ctx *ctx, struct i8042 **out,
		 struct mvm_err *err);
void i8042_destroy(struct i8042 *k);
/*
 * The controller's side of the metrics (Firecracker's i8042 group): port
 * reads and writes it served, accesses of a width or port it has not,
 * resets the guest asked for, IRQ line changes KVM refused.
 */
struct i8042_counts {
	uint64_t read_count, write_count;
	uint64_t missed_read_count, missed_write_count;
	uint64_t reset_count, error_count;
};
void i8042_counts(struct i8042 *k, struct i8042_counts *c);
/*
 * Press and release Ctrl-Alt-Del on the keyboard behind the i8042 (what
 * SendCtrlAltDel does): the scancodes go to its output queue with IRQ 1.
 * -EBUSY if the queue has no room for the whole sequence.
 */
int i8042_send_ctrl_alt_del(struct i8042 *k);
struct rtc;
struct rtc_cmos;
/* The MC146818 CMOS RTC at 0x70/0x71, on the host's wall clock. */
/* From cmos (a VM's CMOS kept over a reboot), NULL: the power-on state. */
int rtc_create(struct dev_ctx *ctx, const struct rtc_cmos *cmos,
	       struct rtc **out, struct mvm_err *err);
/* The CMOS as it stands, to carry over a reboot. */
void rtc_save(struct rtc *rtc, struct rtc_cmos *out);
void rtc_destroy(struct rtc *rtc);

#endif
