/*
 * Firecracker's boot timer (--boot-timer): a guest's init writes the byte
 * 123 at BOOT_TIMER_MMIO once it has booted, and the VMM logs how long that
 * took since the VM was started, in wall and in CPU time. The register is
 * served on a vCPU thread; the time is handed to the loop thread through
 * an eventfd, as the log is the loop's.
 */
#ifndef MVM_BOOT_TIMER_H
#define MVM_BOOT_TIMER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct bus;
struct mvm_err;

/* Firecracker's address on x86-64 and its value; a 4 KiB page. */
#define BOOT_TIMER_MMIO 0xd0000000ULL
#define BOOT_TIMER_LEN 0x1000ULL
#define BOOT_TIMER_MAGIC 123

struct boot_timer {
	int efd;                   /* readable once the guest has written */
	uint64_t start_ns;         /* CLOCK_MONOTONIC at the start */
	uint64_t start_cpu_ns;     /* this process's CPU time then */
	atomic_bool fired;         /* the first write only counts */
	_Atomic uint64_t us, cpu_us; /* what it took, once fired */
};

/* Make the eventfd (its owner watches efd). -errno with a message. */
int boot_timer_init(struct boot_timer *bt, struct mvm_err *err);
void boot_timer_fini(struct boot_timer *bt);
/* A VM starts now (InstanceStart, a reboot, a load): time from here. */
void boot_timer_arm(struct boot_timer *bt);
/* Serve the register on a VM's mmio bus (its VM being just built). */
int boot_timer_attach(struct boot_timer *bt, struct bus *mmio,
		      struct mvm_err *err);
/* Loop thread, efd readable: the times, or false when nothing came. */
bool boot_timer_take(struct boot_timer *bt, uint64_t *us, uint64_t *cpu_us);

#endif
