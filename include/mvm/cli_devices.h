/*
 * Parsing of the device options of `mvm run`: --disk, --net, --balloon,
 * --memory-hotplug (--rng is a plain flag).
 * Pure functions over a vm_config, so they are unit-tested. Messages name
 * the option and the offending key or value.
 */
#ifndef MVM_CLI_DEVICES_H
#define MVM_CLI_DEVICES_H

#include "mvm/vm.h"

struct mvm_err;

/* --disk path=FILE[,id=ID][,readonly=on|off][,cache=none|writeback] */
int cli_add_disk(struct vm_config *cfg, const char *arg, struct mvm_err *err);
/* --pmem path=FILE[,id=ID][,root=on|off][,ro=on|off] (virtio-pmem) */
int cli_add_pmem(struct vm_config *cfg, const char *arg, struct mvm_err *err);
/* --net tap=NAME[,id=ID][,mac=MAC][,mac_spoofing=on|off] */
int cli_add_net(struct vm_config *cfg, const char *arg, struct mvm_err *err);
/*
 * --balloon amount_mib=N[,deflate_on_oom=on][,stats=S][,hinting=on]
 * [,reporting=on]: Firecracker's Balloon (the VM checks N against its RAM).
 */
int cli_add_balloon(struct vm_config *cfg, const char *arg,
		    struct mvm_err *err);
/* --memory-hotplug total=MiB[,slot=MiB][,block=MiB] (virtio-mem) */
int cli_set_hotplug(struct vm_config *cfg, const char *arg,
		    struct mvm_err *err);
/*
 * --dynamic-memory min=MiB,max=MiB[,buffer=PERCENT]: dynamic memory, its
 * own rules checked (and those against --memory by cli_dynmem_check, once
 * the whole command line is read); the balloon and hotpluggable memory
 * it needs are checked, or added, when the VM starts.
 */
int cli_set_dynmem(struct vm_config *cfg, const char *arg,
		   struct mvm_err *err);
int cli_dynmem_check(const struct vm_config *cfg, struct mvm_err *err);
/* --vsock cid=N,uds=PATH (virtio-vsock, Firecracker's hybrid vsock) */
int cli_set_vsock(struct vm_config *cfg, const char *arg,
		  struct mvm_err *err);
/* Free what cli_add_disk(), cli_add_pmem(), cli_set_vsock() allocated. */
void cli_free_devices(struct vm_config *cfg);

#define CLI_DEVICES_USAGE \
	"  --disk path=FILE[,id=ID][,readonly=on][,cache=none|writeback]\n" \
	"         [,bw=BYTES][,ops=N]\n" \
	"                    a virtio-blk disk (raw image or block device);\n" \
	"                    repeat for more (default ids disk0, disk1...);\n" \
	"                    at most BYTES and N requests a second\n" \
	"  --net tap=NAME[,id=ID][,mac=MAC][,mac_spoofing=on|off]\n" \
	"        [,rx_bw=BYTES][,rx_ops=N][,tx_bw=BYTES][,tx_ops=N]\n" \
	"                    a virtio-net NIC on a TAP interface; the MAC\n" \
	"                    defaults to one derived from the id; with\n" \
	"                    mac_spoofing=off (default) frames from other\n" \
	"                    source MACs are dropped; at most BYTES and N\n" \
	"                    frames a second each way\n" \
	"  --net user[,id=ID][,mac=MAC][,mtu=N][,hostfwd=RULE]...\n" \
	"                    the same NIC on user-mode NAT (libslirp, no\n" \
	"                    tap): MTU N offered to the guest (68-65520,\n" \
	"                    default 1500); RULE as QEMU's hostfwd\n" \
	"  --pmem path=FILE[,id=ID][,root=on][,ro=on]\n" \
	"                    a virtio-pmem device: FILE mapped into guest\n" \
	"                    memory (/dev/pmem0, ...; default ids pmem0,\n" \
	"                    pmem1...); root=on adds root=/dev/pmemN;\n" \
	"                    ro=on maps it read-only\n" \
	"  --vsock cid=N,uds=PATH\n" \
	"                    a virtio-vsock with guest CID N (3 or more):\n" \
	"                    host programs connect to PATH and send\n" \
	"                    \"CONNECT <port>\\n\"; the guest's connections\n" \
	"                    to the host's port P reach PATH_P\n" \
	"  --rng             a virtio-rng entropy device\n" \
	"  --balloon amount_mib=N[,deflate_on_oom=on][,stats=S]\n" \
	"            [,hinting=on][,reporting=on]\n" \
	"                    a virtio-balloon with a target of N MiB\n" \
	"                    (PATCH /balloon changes it); statistics every\n" \
	"                    S seconds, free page hinting and reporting\n" \
	"  --memory-hotplug total=MiB[,slot=MiB][,block=MiB]\n" \
	"                    hotpluggable memory (virtio-mem) above RAM,\n" \
	"                    none plugged at boot; resize it with PATCH\n" \
	"                    /hotplug/memory (--api-sock); slots default\n" \
	"                    to 128 MiB, blocks to 2 MiB\n" \
	"  --dynamic-memory min=MiB,max=MiB[,buffer=PERCENT]\n" \
	"                    dynamic memory: the guest gets what it uses\n" \
	"                    plus PERCENT (5-2000, default 20) between min\n" \
	"                    and max, from the balloon's statistics (mvm\n" \
	"                    adds a balloon, and hotpluggable memory up to\n" \
	"                    max, when they are not given)\n"

#endif
