/*
 * --disk, --net, --balloon, --memory-hotplug, --dynamic-memory and --vsock
 * parsing, and the MAC helpers behind --net: good values
 * land in the config, bad ones are refused with the option and key named.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "mvm/cli_devices.h"
#include "mvm/err.h"
#include "mvm/net.h"

static struct vm_config cfg;
static struct mvm_err err;

static void reset(void)
{
	memset(&cfg, 0, sizeof(cfg));
	memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
	cli_free_devices(&cfg);
}

TestSuite(cli_devices, .init = reset, .fini = teardown);

Test(cli_devices, disk_defaults)
{
	cr_assert_eq(cli_add_disk(&cfg, "path=/a.img", &err), 0, "%s",
		     err.msg);
	cr_assert_eq(cfg.nr_disks, 1);
	cr_assert_str_eq(cfg.disks[0].path, "/a.img");
	cr_assert_str_eq(cfg.disks[0].id, "disk0");
	cr_assert_not(cfg.disks[0].readonly);
	cr_assert_eq(cfg.disks[0].cache, DISK_CACHE_WRITEBACK);
	cr_assert_eq(cli_add_disk(&cfg, "path=/b.img", &err), 0);
	cr_assert_str_eq(cfg.disks[1].id, "disk1");
}

Test(cli_devices, disk_all_keys)
{
	cr_assert_eq(cli_add_disk(&cfg, "id=root,readonly=on,cache=none,"
				  "path=/dev/vdb", &err), 0, "%s", err.msg);
	cr_assert_str_eq(cfg.disks[0].id, "root");
	cr_assert_str_eq(cfg.disks[0].path, "/dev/vdb");
	cr_assert(cfg.disks[0].readonly);
	cr_assert_eq(cfg.disks[0].cache, DISK_CACHE_NONE);
	cr_assert_eq(cfg.disks[0].rl.bandwidth.size, 0, "no limit by default");
	cr_assert_eq(cli_add_disk(&cfg, "path=/a,bw=1048576,ops=100", &err),
		     0, "%s", err.msg);
	cr_assert_eq(cfg.disks[1].rl.bandwidth.size, 1048576);
	cr_assert_eq(cfg.disks[1].rl.bandwidth.refill_time_ms, 1000);
	cr_assert_eq(cfg.disks[1].rl.ops.size, 100);
	cr_assert_eq(cfg.disks[1].rl.ops.refill_time_ms, 1000);
	cr_assert_eq(cfg.disks[1].rl.ops.one_time_burst, 0);
}

static void bad_disk(const char *arg, const char *msg)
{
	cr_assert_lt(cli_add_disk(&cfg, arg, &err), 0, "%s accepted", arg);
	cr_assert(strstr(err.msg, msg), "'%s': message '%s' lacks '%s'", arg,
		  err.msg, msg);
}

Test(cli_devices, disk_errors_name_the_key)
{
	bad_disk("path=/a,colour=red", "--disk: unknown key 'colour'");
	bad_disk("readonly=on", "--disk: path=FILE is required");
	bad_disk("path=/a,path=/b", "--disk: key 'path' given twice");
	bad_disk("path=", "--disk: key 'path' has no value");
	bad_disk("path", "--disk: 'path' is not key=value");
	bad_disk("", "--disk: empty value");
	bad_disk("path=/a,readonly=1", "--disk: readonly: '1' is not on or off");
	bad_disk("path=/a,cache=unsafe", "--disk: cache: 'unsafe'");
	bad_disk("path=/a,id=a/b", "--disk: id: 'a/b' may only hold");
	bad_disk("path=/a,bw=-1", "--disk: bw: '-1' is not a whole number");
	bad_disk("path=/a,ops=9007199254740993", "--disk: ops: "
		 "9007199254740993 is too large (at most 9007199254740992)");
	bad_disk("path=/a,rx_bw=1", "--disk: unknown key 'rx_bw'");
	cr_assert_eq(cfg.nr_disks, 0);
	cr_assert_eq(cli_add_disk(&cfg, "path=/a,id=x", &err), 0);
	bad_disk("path=/b,id=x", "--disk: id 'x' is used twice");
}

Test(cli_devices, disk_limit)
{
	for (int i = 0; i < VM_MAX_DISKS; i++)
		cr_assert_eq(cli_add_disk(&cfg, "path=/a", &err), 0);
	bad_disk("path=/a", "at most");
}

Test(cli_devices, net_defaults_and_keys)
{
	uint8_t mac[6];

	cr_assert_eq(cli_add_net(&cfg, "tap=tap0", &err), 0, "%s", err.msg);
	cr_assert_str_eq(cfg.nets[0].tap, "tap0");
	cr_assert_str_eq(cfg.nets[0].id, "net0");
	cr_assert_not(cfg.nets[0].mac_set);
	cr_assert_not(cfg.nets[0].mac_spoofing, "spoofing is off by default");
	cr_assert_eq(cli_add_net(&cfg, "tap=tap1,id=lan,mac=52:54:00:AB:cd:"
				 "ef,mac_spoofing=on", &err), 0, "%s",
		     err.msg);
	cr_assert_str_eq(cfg.nets[1].id, "lan");
	cr_assert(cfg.nets[1].mac_set);
	cr_assert(cfg.nets[1].mac_spoofing);
	cr_assert_eq(cli_add_net(&cfg, "tap=tap2,rx_bw=1000,tx_ops=50,"
				 "tx_bw=0", &err), 0, "%s", err.msg);
	cr_assert_eq(cfg.nets[2].rx_rl.bandwidth.size, 1000);
	cr_assert_eq(cfg.nets[2].rx_rl.ops.size, 0);
	cr_assert_eq(cfg.nets[2].tx_rl.ops.size, 50);
	cr_assert_eq(cfg.nets[2].tx_rl.ops.refill_time_ms, 1000);
	cr_assert_eq(cfg.nets[2].tx_rl.bandwidth.size, 0, "0 is no limit");
	cr_assert_eq(cfg.nets[2].tx_rl.bandwidth.refill_time_ms, 0);
	cr_assert(net_mac_parse("52:54:00:ab:cd:ef", mac));
	cr_assert_arr_eq(cfg.nets[1].mac, mac, 6);
}

static void bad_net(const char *arg, const char *msg)
{
	cr_assert_lt(cli_add_net(&cfg, arg, &err), 0, "%s accepted", arg);
	cr_assert(strstr(err.msg, msg), "'%s': message '%s' lacks '%s'", arg,
		  err.msg, msg);
}

Test(cli_devices, net_errors_name_the_key)
{
	bad_net("tap=t0,vlan=3", "--net: unknown key 'vlan'");
	bad_net("id=x", "--net: tap=NAME or user is required");
	bad_net("tap=t0,mac=52:54:00:12:34", "--net: mac: '52:54:00:12:34'");
	bad_net("tap=t0,mac=03:00:00:00:00:01", "not a unicast MAC");
	bad_net("tap=t0,mac_spoofing=yes", "--net: mac_spoofing: 'yes'");
	bad_net("tap=t0,tx_bw=1k", "--net: tx_bw: '1k' is not a whole number");
	bad_net("tap=t0,bw=1", "--net: unknown key 'bw'");
	bad_net("tap=0123456789abcdef", "--net: tap: '0123456789abcdef' is "
		"longer than 15");
	cr_assert_eq(cli_add_net(&cfg, "tap=t0", &err), 0);
	bad_net("tap=t0", "--net: tap 't0' is used twice");
	bad_net("tap=t1,id=net0", "--net: id 'net0' is used twice");
}

Test(cli_devices, net_user_backend)
{
	cr_assert_eq(cli_add_net(&cfg, "user", &err), 0, "%s", err.msg);
	cr_assert(cfg.nets[0].user);
	cr_assert_str_eq(cfg.nets[0].tap, "");
	cr_assert_str_eq(cfg.nets[0].id, "net0");
	cr_assert_eq(cfg.nets[0].nr_hostfwd, 0);
	/* A second user NIC is fine: no tap to share. */
	cr_assert_eq(cli_add_net(&cfg, "user,id=nat,mac=52:54:00:00:00:02,"
				 "hostfwd=tcp:127.0.0.1:8080-:80,"
				 "hostfwd=udp::5353-10.0.2.15:53", &err), 0,
		     "%s", err.msg);
	cr_assert(cfg.nets[1].user);
	cr_assert_str_eq(cfg.nets[1].id, "nat");
	cr_assert(cfg.nets[1].mac_set);
	cr_assert_eq(cfg.nets[1].nr_hostfwd, 2);
	cr_assert_eq(cfg.nets[1].hostfwd[0].host_port, 8080);
	cr_assert_eq(cfg.nets[1].hostfwd[0].guest_port, 80);
	cr_assert(!cfg.nets[1].hostfwd[0].udp);
	cr_assert(cfg.nets[1].hostfwd[1].udp);
	cr_assert_eq(cfg.nets[1].hostfwd[1].host_port, 5353);
	cr_assert_eq(cfg.nets[0].mtu, 0, "the backend's default");
	cr_assert_eq(cli_add_net(&cfg, "user,id=m,mtu=9000", &err), 0, "%s",
		     err.msg);
	cr_assert_eq(cfg.nets[2].mtu, 9000);
}

Test(cli_devices, net_user_errors_name_the_key)
{
	bad_net("user,hostfwd=tcp::80", "--net: hostfwd 'tcp::80': expected");
	bad_net("user,hostfwd=sctp::80-:80", "protocol 'sctp'");
	bad_net("user,hostfwd=tcp::99999-:80", "bad host port '99999'");
	bad_net("user,tap=t0", "--net: tap: not with the user backend");
	bad_net("tap=t0,hostfwd=tcp::80-:80", "--net: hostfwd: only with the "
		"user backend");
	bad_net("user,mac=nope", "--net: mac: 'nope'");
	bad_net("user,port=3", "--net: unknown key 'port'");
	bad_net("user,id=a,id=b", "--net: key 'id' given twice");
	bad_net("users", "--net: 'users' is not key=value");
	bad_net("user,mtu=67", "--net: mtu: 67 is below 68");
	bad_net("user,mtu=65521", "--net: mtu: 65521 is too large");
	bad_net("user,mtu=big", "--net: mtu: 'big' is not a whole number");
	bad_net("tap=t0,mtu=9000", "--net: mtu: only with the user backend");
}

Test(cli_devices, mac_parse)
{
	uint8_t m[6];

	cr_assert(net_mac_parse("02:00:00:00:00:01", m));
	cr_assert_eq(m[0], 2);
	cr_assert_eq(m[5], 1);
	cr_assert_not(net_mac_parse("02:00:00:00:00:0g", m));
	cr_assert_not(net_mac_parse("02-00-00-00-00-01", m));
	cr_assert_not(net_mac_parse("02:00:00:00:00:01:", m));
	cr_assert_not(net_mac_parse("ff:ff:ff:ff:ff:ff", m));
	cr_assert_not(net_mac_parse(NULL, m));
}

Test(cli_devices, generated_mac_is_stable_local_unicast)
{
	uint8_t a[6], b[6], c[6];

	net_mac_from_id("net0", a);
	net_mac_from_id("net0", b);
	net_mac_from_id("net1", c);
	cr_assert_arr_eq(a, b, 6);
	cr_assert_arr_neq(a, c, 6);
	cr_assert_eq(a[0] & 3, 2, "locally administered unicast");
	cr_assert_eq(c[0] & 3, 2);
}

Test(cli_devices, spoof_filter)
{
	uint8_t nic[6] = { 2, 0, 0, 0, 0, 1 };
	uint8_t frame[14] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			      2, 0, 0, 0, 0, 1, 0x88, 0xb5 };

	cr_assert(net_tx_allowed(nic, false, frame, sizeof(frame)));
	frame[11] = 2;
	cr_assert_not(net_tx_allowed(nic, false, frame, sizeof(frame)));
	cr_assert(net_tx_allowed(nic, true, frame, sizeof(frame)));
	cr_assert_not(net_tx_allowed(nic, false, frame, 10), "runt frame");
}

Test(cli_devices, memory_hotplug_defaults_and_keys)
{
	cr_assert_eq(cli_set_hotplug(&cfg, "total=1024", &err), 0, "%s",
		     err.msg);
	cr_assert_eq(cfg.mem_hotplug.total_mib, 1024);
	cr_assert_eq(cfg.mem_hotplug.slot_mib, 128);
	cr_assert_eq(cfg.mem_hotplug.block_mib, 2);
	cr_assert_eq(cli_set_hotplug(&cfg, "block=8,slot=256,total=512", &err),
		     0, "%s", err.msg);
	cr_assert_eq(cfg.mem_hotplug.total_mib, 512);
	cr_assert_eq(cfg.mem_hotplug.slot_mib, 256);
	cr_assert_eq(cfg.mem_hotplug.block_mib, 8);
}

static void bad_hotplug(const char *arg, const char *msg)
{
	struct mem_hotplug_config before = cfg.mem_hotplug;

	cr_assert_lt(cli_set_hotplug(&cfg, arg, &err), 0, "%s accepted", arg);
	cr_assert(strstr(err.msg, msg), "'%s': message '%s' lacks '%s'", arg,
		  err.msg, msg);
	cr_assert_eq(memcmp(&before, &cfg.mem_hotplug, sizeof(before)), 0,
		     "a refusal changed the config");
}

Test(cli_devices, memory_hotplug_errors_name_the_key)
{
	bad_hotplug("slot=256", "--memory-hotplug: total=MiB is required");
	bad_hotplug("total=256,size=3", "--memory-hotplug: unknown key 'size'");
	bad_hotplug("total=x", "--memory-hotplug: total: 'x' is not a whole");
	bad_hotplug("total=-1", "--memory-hotplug: total: '-1' is not");
	bad_hotplug("total=4294967296", "--memory-hotplug: total: 4294967296 "
		    "is too large");
	bad_hotplug("total=200", "--memory-hotplug: total: must be a positive "
		    "whole number of slots (128 MiB)");
	bad_hotplug("total=256,slot=100", "--memory-hotplug: slot: must be at "
		    "least 128 MiB");
	bad_hotplug("total=256,block=3", "--memory-hotplug: block: must be a "
		    "power of two");
	bad_hotplug("total=256,total=512", "key 'total' given twice");
}

Test(cli_devices, balloon_keys)
{
	cr_assert_eq(cli_add_balloon(&cfg, "amount_mib=64", &err), 0, "%s",
		     err.msg);
	cr_assert(cfg.balloon.enabled);
	cr_assert_eq(cfg.balloon.amount_mib, 64);
	cr_assert_not(cfg.balloon.deflate_on_oom);
	cr_assert_eq(cfg.balloon.stats_interval_s, 0);
	cr_assert_not(cfg.balloon.free_page_hinting);
	cr_assert_not(cfg.balloon.free_page_reporting);
	reset();
	cr_assert_eq(cli_add_balloon(&cfg, "reporting=on,stats=5,hinting=on,"
				     "deflate_on_oom=on,amount_mib=0", &err),
		     0, "%s", err.msg);
	cr_assert_eq(cfg.balloon.amount_mib, 0);
	cr_assert(cfg.balloon.deflate_on_oom);
	cr_assert_eq(cfg.balloon.stats_interval_s, 5);
	cr_assert(cfg.balloon.free_page_hinting);
	cr_assert(cfg.balloon.free_page_reporting);
}

static void bad_balloon(const char *arg, const char *msg)
{
	reset();
	cr_assert_lt(cli_add_balloon(&cfg, arg, &err), 0, "%s accepted", arg);
	cr_assert(strstr(err.msg, msg), "'%s': message '%s' lacks '%s'", arg,
		  err.msg, msg);
	cr_assert_not(cfg.balloon.enabled, "'%s' left a balloon", arg);
}

Test(cli_devices, balloon_errors_name_the_key)
{
	bad_balloon("deflate_on_oom=on", "--balloon: amount_mib=N is required");
	bad_balloon("amount_mib=-1", "--balloon: amount_mib: '-1' is not a "
		    "whole number");
	bad_balloon("amount_mib=16777216", "--balloon: amount_mib: 16777216 "
		    "is too large (at most 16777215)");
	bad_balloon("amount_mib=1,stats=65536", "--balloon: stats: 65536 is "
		    "too large");
	bad_balloon("amount_mib=1,stats=1s", "--balloon: stats: '1s'");
	bad_balloon("amount_mib=1,hinting=yes", "--balloon: hinting: 'yes' "
		    "is not on or off");
	bad_balloon("amount_mib=1,size=3", "--balloon: unknown key 'size'");
	bad_balloon("amount_mib=1,amount_mib=2", "key 'amount_mib' given "
		    "twice");
	bad_balloon("amount_mib=", "--balloon: key 'amount_mib' has no value");
	bad_balloon("", "--balloon: empty value");
	reset();
	cr_assert_eq(cli_add_balloon(&cfg, "amount_mib=1", &err), 0);
	cr_assert_lt(cli_add_balloon(&cfg, "amount_mib=2", &err), 0);
	cr_assert(strstr(err.msg, "--balloon: given twice"), "%s", err.msg);
	cr_assert_eq(cfg.balloon.amount_mib, 1);
}

Test(cli_devices, dynamic_memory_keys)
{
	cr_assert_eq(cli_set_dynmem(&cfg, "min=64,max=1024", &err), 0, "%s",
		     err.msg);
	cr_assert(cfg.dynmem.enabled);
	cr_assert_eq(cfg.dynmem.min_mib, 64);
	cr_assert_eq(cfg.dynmem.max_mib, 1024);
	cr_assert_eq(cfg.dynmem.buffer_percent, 20, "Hyper-V's default");
	reset();
	cr_assert_eq(cli_set_dynmem(&cfg, "buffer=2000,max=64,min=64", &err),
		     0, "%s", err.msg);
	cr_assert_eq(cfg.dynmem.buffer_percent, 2000);
}

static void bad_dynmem(const char *arg, const char *msg)
{
	reset();
	cr_assert_lt(cli_set_dynmem(&cfg, arg, &err), 0, "%s accepted", arg);
	cr_assert(strstr(err.msg, msg), "'%s': message '%s' lacks '%s'", arg,
		  err.msg, msg);
	cr_assert_not(cfg.dynmem.enabled, "'%s' turned it on", arg);
}

Test(cli_devices, dynamic_memory_errors_name_the_key)
{
	bad_dynmem("min=64", "--dynamic-memory: min=MiB and max=MiB are "
		   "required");
	bad_dynmem("max=64", "required");
	bad_dynmem("min=64,max=128,buffer=4", "--dynamic-memory: buffer: 4 is "
		   "not from 5 to 2000 percent");
	bad_dynmem("min=64,max=128,buffer=2001", "buffer: 2001");
	bad_dynmem("min=16,max=128", "--dynamic-memory: min: 16 MiB is less "
		   "than 32 MiB");
	bad_dynmem("min=256,max=128", "--dynamic-memory: min: 256 MiB is more "
		   "than max_mib (128 MiB)");
	bad_dynmem("min=x,max=128", "--dynamic-memory: min: 'x' is not a "
		   "whole number");
	bad_dynmem("min=64,max=4294967296", "--dynamic-memory: max: "
		   "4294967296 is too large");
	bad_dynmem("min=64,max=128,size=3", "--dynamic-memory: unknown key "
		   "'size'");
	bad_dynmem("min=64,min=65,max=128", "key 'min' given twice");
	bad_dynmem("", "--dynamic-memory: empty value");
}

/* Against --memory, once the whole command line is read. */
Test(cli_devices, dynamic_memory_holds_the_boot_memory_between_min_and_max)
{
	cr_assert_eq(cli_set_dynmem(&cfg, "min=256,max=1024", &err), 0);
	cfg.mem_mib = 512;
	cr_assert_eq(cli_dynmem_check(&cfg, &err), 0, "%s", err.msg);
	cfg.mem_mib = 128;
	cr_assert_lt(cli_dynmem_check(&cfg, &err), 0);
	cr_assert(strstr(err.msg, "--dynamic-memory: min: 256 MiB is more "
			 "than the boot memory"), "%s", err.msg);
	cfg.mem_mib = 2048;
	cr_assert_lt(cli_dynmem_check(&cfg, &err), 0);
	cr_assert(strstr(err.msg, "--dynamic-memory: max: 1024 MiB is less "
			 "than the boot memory"), "%s", err.msg);
	reset();
	cfg.mem_mib = 1;
	cr_assert_eq(cli_dynmem_check(&cfg, &err), 0, "off: nothing to hold");
}

Test(cli_devices, vsock_keys)
{
	cr_assert_eq(cli_set_vsock(&cfg, "cid=3,uds=/run/v.sock", &err), 0,
		     "%s", err.msg);
	cr_assert_eq(cfg.vsock.guest_cid, 3);
	cr_assert_str_eq(cfg.vsock.uds_path, "/run/v.sock");
	cr_assert_str_eq(cfg.vsock.id, "vsock");
	cr_assert_lt(cli_set_vsock(&cfg, "cid=4,uds=/x", &err), 0);
	cr_assert(strstr(err.msg, "--vsock: given twice"), "%s", err.msg);
	cr_assert_eq(cfg.vsock.guest_cid, 3, "the first stays");
}

static void bad_vsock(const char *arg, const char *want)
{
	reset();
	cr_assert_lt(cli_set_vsock(&cfg, arg, &err), 0, "%s", arg);
	cr_assert(strstr(err.msg, want), "%s: '%s', want '%s'", arg, err.msg,
		  want);
	cr_assert_eq(cfg.vsock.guest_cid, 0, "%s: nothing set", arg);
}

Test(cli_devices, vsock_errors_name_the_key)
{
	bad_vsock("uds=/x", "--vsock: cid=N is required, 3 or more");
	bad_vsock("cid=2,uds=/x", "--vsock: cid=N is required, 3 or more");
	bad_vsock("cid=4294967295,uds=/x", "--vsock: cid: 4294967295 is too "
		  "large");
	bad_vsock("cid=x,uds=/x", "--vsock: cid: 'x' is not a whole number");
	bad_vsock("cid=3", "--vsock: uds=PATH is required");
	bad_vsock("cid=3,uds=/x,port=1", "--vsock: unknown key 'port'");
	bad_vsock("cid=3,uds=/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  "--vsock: uds: '/aaa");
}
