/*
 * Test hooks: code that exists only in builds made with the tests
 * (-Dtests=true defines MVM_TEST_HOOKS; src/test_hooks/), driven by
 * MVM_TEST_* environment variables, so that integration tests can make mvm
 * do what no user can ask for. A build without the tests compiles these
 * calls to nothing, and the variables are ignored.
 *
 *   MVM_TEST_STATE_ROUNDTRIP=N  N times, half a second apart once the VM
 *       runs (with nesting exposed: once the guest runs a hypervisor),
 *       pause the VM (vm_pause_all) and save every vCPU's state, encode
 *       it, decode it and restore it in place; one line per vCPU on stderr
 *       ("mvm: test: vcpu 0 state round trip: ..."). The vCPUs only: a
 *       PIT tick raised between a LAPIC's save and its restore is lost,
 *       and a guest whose tick is a one-shot PIT stops ticking. For such
 *       guests (the lab's nested L2 at times) use the next one, which
 *       reloads the irqchip as well.
 *   MVM_TEST_VM_ROUNDTRIP=N  the same timer, for the whole VM: pause it,
 *       save every device and vCPU (vm_save_all), load it all back in
 *       place (vm_load_all), save again, compare the devices' nodes and
 *       resume; one line each time ("mvm: test: vm state round trip: 12
 *       nodes, ... devices identical after load").
 *   MVM_TEST_SECCOMP_VIOLATE=KIND  (src/core/sandbox_test_hook.c)
 */
#ifndef MVM_TEST_HOOKS_H
#define MVM_TEST_HOOKS_H

struct vm;
struct mvm_err;

#ifdef MVM_TEST_HOOKS
/* The VM's vCPUs run: start what the environment asks for (loop thread). */
int test_hooks_vm_started(struct vm *vm, struct mvm_err *err);
/* The VM is going: stop before its vCPUs do. */
void test_hooks_vm_stopping(struct vm *vm);
#else
static inline int test_hooks_vm_started(struct vm *vm, struct mvm_err *err)
{
	(void)vm;
	(void)err;
	return 0;
}
static inline void test_hooks_vm_stopping(struct vm *vm)
{
	(void)vm;
}
#endif

#endif
