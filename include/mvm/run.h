/* `mvm run`: build the VM, run the event loop, map the stop to a status. */
#ifndef MVM_RUN_H
#define MVM_RUN_H

#include "mvm/vm.h"

/* Exit statuses of mvm (documented in the README). */
#define MVM_EXIT_OK 0
#define MVM_EXIT_START_FAILED 1 /* bad input or host problem: nothing ran */
#define MVM_EXIT_GUEST_CRASHED 2 /* triple fault, KVM error, unknown exit */

/* `mvm run ...`: returns mvm's exit status. Messages go to stderr. */
int run_main(int argc, char **argv);

#endif
