/*
 * --boot-timer: every VM this VMM builds gets the boot timer's register
 * (include/mvm/boot_timer.h), and the time its guest reports is logged in
 * Firecracker's words, which its tools search the log for.
 */
#include "mvm/boot_timer.h"
#include "mvm/err.h"
#include "mvm/vmm.h"

static void log_boot_time(struct vmm *v)
{
	uint64_t us, cpu_us;

	if (!boot_timer_take(&v->bt, &us, &cpu_us))
		return;
	vmm_log(v, API_LOG_INFO, "boot_timer", "Guest-boot-time = %6llu us "
		"%llu ms, %6llu CPU us %llu CPU ms", (unsigned long long)us,
		(unsigned long long)(us / 1000), (unsigned long long)cpu_us,
		(unsigned long long)(cpu_us / 1000));
}

static void on_boot_timer(void *arg)
{
	log_boot_time(arg);
}

int vmm_boot_timer_enable(struct vmm *v, struct mvm_err *err)
{
	int ret = boot_timer_init(&v->bt, err);

	if (ret)
		return ret;
	if (loop_watch_add(&v->loop, &v->bt_watch, v->bt.efd, on_boot_timer,
			   v))
		return mvm_fail(err, -EBUSY, "boot timer: cannot watch its "
				"eventfd");
	v->bt_watched = true;
	v->boot_timer = true;
	return 0;
}

void vmm_boot_timer_arm(struct vmm *v)
{
	if (v->boot_timer)
		boot_timer_arm(&v->bt);
}

int vmm_boot_timer_attach(struct vmm *v, struct mvm_err *err)
{
	return v->boot_timer ? boot_timer_attach(&v->bt, &v->vm.mmio, err) :
			       0;
}

void vmm_boot_timer_fini(struct vmm *v)
{
	/* A guest that wrote and stopped at once: its time is still due. */
	if (v->bt.efd >= 0)
		log_boot_time(v);
	if (v->bt_watched)
		loop_watch_cancel(&v->bt_watch);
	v->bt_watched = false;
	boot_timer_fini(&v->bt);
}
