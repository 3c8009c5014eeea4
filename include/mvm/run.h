/*
 * The command line front end's entry points (src/cli), one per command of
 * main.c; each returns mvm's exit status (MVM_EXIT_*, mvm/vmm.h) and
 * writes its messages to stderr.
 */
#ifndef MVM_RUN_H
#define MVM_RUN_H

/* `mvm run ...`. */
int run_main(int argc, char **argv);
/* `mvm [FLAGS]`: the API form, Firecracker's flags (src/cli/fc_flags.c). */
int vmm_main(int argc, char **argv);
/* `mvm host-check [--json]`: argv[0] is the command name. */
int mvm_cmd_host_check(int argc, char **argv);
/* `mvm nested enable|disable --config FILE [--yes]`; argv[0] = "nested". */
int mvm_cmd_nested(int argc, char **argv);

/* `mvm snapshot inspect|merge ...`; argv[0] = "snapshot". */
int mvm_cmd_snapshot(int argc, char **argv);
/* `mvm --describe-snapshot FILE`; argv[0] = "mvm". */
int mvm_cmd_describe_snapshot(int argc, char **argv);
/* `mvm checkpoint ACTION --api-sock PATH [NAME]`; argv[0] = "checkpoint". */
int mvm_cmd_checkpoint(int argc, char **argv);

#endif
