/*
 * The CPU the guest sees as the machine's configuration shapes it: SMT's
 * two threads a core, and the bits CPU templates (Firecracker's static
 * ones by name, custom ones from PUT /cpu-config) fix. The check kernel
 * reads what it must find from its command line (threads=, cpuidwant=) and
 * reports PASS or FAIL for each.
 */
#include <cpuid.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "api_assert.h"
#include "api_client.h"
#include "harness.h"

#define GUEST_PASS ((0 << 1) | 1)

/* Boot the check kernel from a Firecracker config file; it must pass. */
static void boot_checked(const char *machine, const char *cpu_config,
			 const char *args, const char *expect)
{
	char text[4096], *cfg;
	struct mvm_result r;

	snprintf(text, sizeof(text),
		 "{\"boot-source\": {\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"%s\"}, \"machine-config\": %s%s%s}",
		 guest_path("mb_check"), args, machine,
		 cpu_config ? ", \"cpu-config\": " : "",
		 cpu_config ? cpu_config : "");
	cfg = temp_file("cpucfg", text, strlen(text));
	{
		const char *argv[] = { "--config-file", cfg, NULL };

		cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	}
	unlink(cfg);
	free(cfg);
	cr_assert_not(r.timed_out, "timed out; console:\n%s", r.out);
	cr_assert_eq(r.status, GUEST_PASS, "exited %d\nconsole:\n%s\n"
		     "stderr:\n%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "ALL OK"), "console:\n%s", r.out);
	cr_assert(strstr(r.out, expect), "no '%s' in the console:\n%s",
		  expect, r.out);
	mvm_result_free(&r);
}

Test(cpu_config, smt_gives_two_threads_a_core, .timeout = 60)
{
	boot_checked("{\"vcpu_count\": 4, \"mem_size_mib\": 64, "
		     "\"smt\": true}", NULL,
		     "mem=64 memtol=385 cpus=4 threads=2 tag=smt", "PASS cpuid-smt");
}

Test(cpu_config, without_smt_one_thread_a_core, .timeout = 60)
{
	boot_checked("{\"vcpu_count\": 4, \"mem_size_mib\": 64, "
		     "\"smt\": false}", NULL,
		     "mem=64 memtol=385 cpus=4 threads=1 tag=smt", "PASS cpuid-smt");
}

/* A config file's "cpu-config" is the template, as PUT /cpu-config's. */
Test(cpu_config, a_config_files_template_reaches_the_guest, .timeout = 60)
{
	boot_checked("{\"vcpu_count\": 2, \"mem_size_mib\": 64, "
		     "\"smt\": true}",
		     "{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": "
		     "\"0x0\", \"flags\": 0, \"modifiers\": [{\"register\": "
		     "\"eax\", \"bitmap\": \"0b1001\"}]}]}",
		     "mem=64 memtol=385 cpus=2 threads=2 tag=file "
		     "cpuidwant=0x1/0x0/a/0xf/0x9", "PASS cpuid-want");
}

/*
 * KVM's in-kernel LAPIC has TSC-deadline mode, but older KVMs (Linux 6.1's,
 * for one) leave it out of KVM_GET_SUPPORTED_CPUID: mvm adds it (leaf 1
 * ecx bit 24), or Linux runs its PIT through the boot to time the LAPIC.
 * Where the host's KVM lists it itself, this checks that mvm keeps it.
 */
Test(cpu_config, the_guest_sees_the_tsc_deadline_timer, .timeout = 60)
{
	boot_checked("{\"vcpu_count\": 1, \"mem_size_mib\": 64}", NULL,
		     "mem=64 memtol=385 cpus=1 tag=tscdl "
		     "cpuidwant=0x1/0x0/c/0x1000000/0x1000000",
		     "PASS cpuid-want");
}

/* Firecracker's rule: one vCPU, or an even number, with SMT. */
Test(cpu_config, smt_refuses_an_odd_vcpu_count, .timeout = 30)
{
	struct api_resp r;
	struct api_proc p;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	cr_assert_eq(api_call(p.sock, "PUT", "/machine-config",
			      "{\"vcpu_count\": 3, \"mem_size_mib\": 64, "
			      "\"smt\": true}", &r), 400, "%s", r.body);
	cr_assert(fault_has(&r, "must be 1 or an even number if SMT is "
			    "enabled"), "%s", r.body);
	cr_assert_eq(api_call(p.sock, "PUT", "/machine-config",
			      "{\"vcpu_count\": 1, \"mem_size_mib\": 64, "
			      "\"smt\": true}", &r), 204, "%s", r.body);
	cr_assert_eq(api_call(p.sock, "PATCH", "/machine-config",
			      "{\"vcpu_count\": 5}", &r), 400, "%s", r.body);
	cr_assert_eq(api_call(p.sock, "PATCH", "/machine-config",
			      "{\"vcpu_count\": 6}", &r), 204, "%s", r.body);
	api_proc_free(&p);
}

/* The host's vendor, as the guest's CPUID will name it. */
static bool host_is_amd(void)
{
	uint32_t a, b, c, d;

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
			 : "a"(0), "c"(0));
	(void)a;
	return b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163;
}

/*
 * Bits every T2 variant fixes, as the guest must see them: leaf 1's
 * family/model/stepping, MONITOR, VMX and PDCM off; leaf 7's ERMS on
 * and AVX512F, RTM off; XSAVES off.
 */
#define T2_WANT_1_D "0x1/0x0/a/0x0fff3fff/0x000306f2,0x1/0x0/c/0x8028/0x0," \
		"0xd/0x1/a/0x8/0x0"
#define T2_WANT_7 ",0x7/0x0/b/0x10a00/0x200"

/* Leaf 7.0's EBX in KVM's supported table, or ~0 when it cannot be read. */
static uint32_t kvm_leaf7_ebx(void)
{
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[256];
	} t = { .c.nent = 256 };
	uint32_t ebx = ~0u;
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (kvm >= 0 && ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &t.c) == 0)
		for (unsigned i = 0; i < t.c.nent; i++)
			if (t.e[i].function == 7 && t.e[i].index == 0)
				ebx = t.e[i].ebx;
	if (kvm >= 0)
		close(kvm);
	return ebx;
}

/*
 * Whether this KVM gives the guest leaf 7 from the table mvm sets. Some
 * (PVM, a software KVM, for one) show the guest the host's own leaf 7, bits
 * outside KVM's supported set included, whatever the VMM sets: there no
 * template can clear a leaf 7 bit. Asked of the guest itself, with no
 * template: the host's bits KVM does not offer must be clear.
 */
static bool kvm_sets_leaf7(uint32_t *extra)
{
	unsigned a, b, c, d;
	char args[256], *cfg;
	struct mvm_result r;
	bool ok;

	__cpuid_count(7, 0, a, b, c, d);
	(void)a, (void)c, (void)d;
	*extra = b & ~kvm_leaf7_ebx();
	if (!*extra)
		return true;
	snprintf(args, sizeof(args), "mem=64 memtol=385 cpus=1 tag=leaf7 "
		 "cpuidwant=0x7/0x0/b/%#x/0x0", *extra);
	{
		char text[1024];

		snprintf(text, sizeof(text), "{\"boot-source\": "
			 "{\"kernel_image_path\": \"%s\", \"boot_args\": "
			 "\"%s\"}, \"machine-config\": {\"vcpu_count\": 1, "
			 "\"mem_size_mib\": 64}}", guest_path("mb_check"), args);
		cfg = temp_file("leaf7", text, strlen(text));
	}
	const char *argv[] = { "--config-file", cfg, NULL };

	cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	unlink(cfg);
	free(cfg);
	ok = r.status == GUEST_PASS && strstr(r.out, "PASS cpuid-want");
	mvm_result_free(&r);
	return ok;
}

static void boot_via_api(const char *const *puts, const char *boot_args,
			 const char *expect)
{
	char body[1024];
	struct api_resp r;
	struct api_proc p;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"%s\"}", guest_path("mb_check"), boot_args);
	cr_assert_eq(api_call(p.sock, "PUT", "/boot-source", body, &r), 204,
		     "%s", r.body);
	for (; *puts; puts += 2)
		cr_assert_eq(api_call(p.sock, "PUT", puts[0], puts[1], &r), 204,
			     "PUT %s %s: %d %s", puts[0], puts[1], r.status,
			     r.body);
	cr_assert_eq(api_call(p.sock, "PUT", "/actions",
			      "{\"action_type\": \"InstanceStart\"}", &r), 204,
		     "InstanceStart: %d %s\n%s", r.status, r.body, p.err);
	cr_assert(api_wait_out(&p, "ALL OK", 30) ||
		  api_wait_out(&p, "FAILED", 1), "console:\n%s", p.out);
	api_drain(&p, 0.2);
	cr_assert(strstr(p.out, "ALL OK"), "console:\n%s", p.out);
	cr_assert(strstr(p.out, expect), "no '%s' in:\n%s", expect, p.out);
	api_proc_free(&p);
}

/* The static template this host's vendor allows shapes the guest's CPU. */
Test(cpu_config, a_static_template_masks_the_guests_cpuid, .timeout = 60)
{
	const char *machine = host_is_amd() ?
		"{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"cpu_template\": "
		"\"T2A\"}" :
		"{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"cpu_template\": "
		"\"T2\"}";
	const char *const puts[] = { "/machine-config", machine, NULL };
	uint32_t extra;
	bool leaf7 = kvm_sets_leaf7(&extra);

	if (!leaf7)
		fprintf(stderr, "[NOTE] cpu_config: the template's leaf 7 "
			"bits NOT CHECKED: this KVM shows the guest the host's "
			"leaf 7 EBX bits (of %#x) that its supported table "
			"lacks, so it does not take leaf 7 from the VMM; "
			"leaves 1 and 0xD checked\n", extra);
	boot_via_api(puts, leaf7 ?
		     "mem=64 memtol=385 cpus=1 tag=t2 cpuidwant=" T2_WANT_1_D
		     T2_WANT_7 :
		     "mem=64 memtol=385 cpus=1 tag=t2 cpuidwant=" T2_WANT_1_D,
		     "PASS cpuid-want");
}

/* The other vendor's: taken at PUT, refused at InstanceStart, saying why. */
Test(cpu_config, the_other_vendors_template_is_refused_at_start,
     .timeout = 30)
{
	const char *wrong = host_is_amd() ? "C3" : "T2A";
	char body[256];
	struct api_resp r;
	struct api_proc p;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"action=hang\"}", guest_path("mb_action"));
	cr_assert_eq(api_call(p.sock, "PUT", "/boot-source", body, &r), 204);
	snprintf(body, sizeof(body), "{\"vcpu_count\": 1, \"mem_size_mib\": "
		 "32, \"cpu_template\": \"%s\"}", wrong);
	cr_assert_eq(api_call(p.sock, "PUT", "/machine-config", body, &r),
		     204, "%s", r.body);
	cr_assert_eq(api_call(p.sock, "GET", "/machine-config", NULL, &r),
		     200);
	cr_assert(strstr(r.body, wrong), "%s", r.body);
	cr_assert_eq(api_call(p.sock, "PUT", "/actions",
			      "{\"action_type\": \"InstanceStart\"}", &r), 400,
		     "%d %s", r.status, r.body);
	cr_assert(fault_has(&r, "CPU vendor mismatched"), "%s", r.body);
	cr_assert(fault_has(&r, wrong), "%s", r.body);
	/*
	 * Set right, the same VM starts: once the failed one is torn down,
	 * which mvm does behind the answer (and says so until it is done).
	 */
	cr_assert_eq(api_call(p.sock, "PATCH", "/machine-config",
			      "{\"cpu_template\": \"None\"}", &r), 204);
	cr_assert_eq(api_start_again(p.sock, &r), 204, "%d %s", r.status,
		     r.body);
	api_proc_free(&p);
}

/*
 * A custom template: its bits reach the guest (the stepping set to 5,
 * MONITOR cleared, leaf 7's ERMS set), it reads back in Firecracker's
 * format, and after boot it can no longer be changed.
 */
#define CUSTOM "{\"kvm_capabilities\": [\"!56\"], \"cpuid_modifiers\": [" \
	"{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0, " \
	"\"modifiers\": [{\"register\": \"eax\", \"bitmap\": " \
	"\"0bxxxxxxxxxxxxxxxxxxxxxxxxxxxx0101\"}, {\"register\": \"ecx\", " \
	"\"bitmap\": \"0bxxxxxxxxxxxxxxxxxxxxxxxxxxxx0xxx\"}]}, " \
	"{\"leaf\": \"0x7\", \"subleaf\": \"0x0\", \"flags\": 1, " \
	"\"modifiers\": [{\"register\": \"ebx\", \"bitmap\": " \
	"\"0bxxxxxxxxxxxxxxxxxxxxxx1xxxxxxxxx\"}]}], \"msr_modifiers\": []}"

Test(cpu_config, a_custom_template_masks_the_guests_cpuid, .timeout = 60)
{
	const char *const puts[] = {
		"/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 64}",
		"/cpu-config", CUSTOM, NULL };

	boot_via_api(puts, "mem=64 memtol=385 cpus=2 tag=custom cpuidwant="
		     "0x1/0x0/a/0xf/0x5,0x1/0x0/c/0x8/0x0,0x7/0x0/b/0x200/0x200",
		     "PASS cpuid-want");
}

/*
 * An MSR modifier reaches the guest: IA32_MISC_ENABLE's fast-strings bit
 * (0), which KVM keeps for every vCPU on both vendors, cleared and then
 * set, and read back each time (whatever KVM's default, one of the two
 * differs from it).
 */
Test(cpu_config, a_custom_template_sets_an_msr, .timeout = 60)
{
	const char *const clear[] = {
		"/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64}",
		"/cpu-config", "{\"msr_modifiers\": [{\"addr\": \"0x1a0\", "
		"\"bitmap\": \"0b0\"}]}", NULL };
	const char *const set[] = {
		"/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64}",
		"/cpu-config", "{\"msr_modifiers\": [{\"addr\": \"0x1a0\", "
		"\"bitmap\": \"0b1\"}]}", NULL };

	boot_via_api(clear, "mem=64 memtol=385 cpus=1 tag=msr "
		     "msrwant=0x1a0/0x1/0x0", "PASS msr-want");
	boot_via_api(set, "mem=64 memtol=385 cpus=1 tag=msr "
		     "msrwant=0x1a0/0x1/0x1", "PASS msr-want");
}

Test(cpu_config, a_custom_template_reads_back_and_is_pre_boot_only,
     .timeout = 30)
{
	char body[256];
	struct api_resp r;
	struct api_proc p;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	cr_assert_eq(api_call(p.sock, "GET", "/vm/config", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"cpu-config\":null"), "%s", r.body);
	cr_assert_eq(api_call(p.sock, "PUT", "/cpu-config", CUSTOM, &r), 204,
		     "%s", r.body);
	cr_assert_eq(api_call(p.sock, "GET", "/vm/config", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"kvm_capabilities\":[\"!56\"]"), "%s",
		  r.body);
	cr_assert(strstr(r.body, "{\"leaf\":\"0x7\",\"subleaf\":\"0x0\","
			 "\"flags\":1,\"modifiers\":[{\"register\":\"ebx\","
			 "\"bitmap\":\"0bxxxxxxxxxxxxxxxxxxxxxx1xxxxxxxxx\"}]}"),
		  "%s", r.body);
	/* A custom template is no static one: machine-config names none. */
	cr_assert_eq(api_call(p.sock, "GET", "/machine-config", NULL, &r),
		     200);
	cr_assert_null(strstr(r.body, "cpu_template"), "%s", r.body);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"action=hang\"}", guest_path("mb_action"));
	cr_assert_eq(api_call(p.sock, "PUT", "/boot-source", body, &r), 204);
	cr_assert_eq(api_call(p.sock, "PUT", "/machine-config",
			      "{\"vcpu_count\": 1, \"mem_size_mib\": 32}", &r),
		     204);
	cr_assert_eq(api_call(p.sock, "PUT", "/actions",
			      "{\"action_type\": \"InstanceStart\"}", &r), 204,
		     "%d %s", r.status, r.body);
	cr_assert_eq(api_call(p.sock, "PUT", "/cpu-config", CUSTOM, &r), 400,
		     "%d %s", r.status, r.body);
	cr_assert(fault_has(&r, "not supported after starting"), "%s",
		  r.body);
	api_proc_free(&p);
}

/* Bad input is refused naming the field; an MSR KVM lacks, at start. */
Test(cpu_config, bad_templates_are_refused_by_name, .timeout = 30)
{
	static const char *const bad[][2] = {
		{ "{\"cpuid_modifiers\": [{\"leaf\": \"one\", \"subleaf\": "
		  "\"0x0\", \"flags\": 0, \"modifiers\": []}]}",
		  "cpuid_modifiers[0].leaf: \\\"one\\\" is not a 32-bit number" },
		{ "{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": "
		  "\"0x0\", \"flags\": 0, \"modifiers\": [{\"register\": "
		  "\"esp\", \"bitmap\": \"0b1\"}]}]}",
		  "cpuid_modifiers[0].modifiers[0].register: \\\"esp\\\"" },
		{ "{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": "
		  "\"0x0\", \"flags\": 0, \"modifiers\": [{\"register\": "
		  "\"eax\", \"bitmap\": \"0b10x2\"}]}]}",
		  "bitmap: \\\"0b10x2\\\": '2' is not 0, 1 or x" },
		{ "{\"msr_modifiers\": [{\"addr\": \"0x10a\", \"bitmap\": "
		  "\"0b1xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		  "xxxxxxxxxxx\"}]}",
		  "msr_modifiers[0].bitmap: \\\"0b1xxx" },
		{ "{\"kvm_capabilities\": [\"x1\"]}",
		  "kvm_capabilities[0]: \\\"x1\\\" is not a KVM capability" },
		{ "{\"vcpu_features\": []}", "vcpu_features: an aarch64" },
		{ "{\"cpuid\": []}", "cpuid" },
	};
	char body[256];
	struct api_resp r;
	struct api_proc p;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(api_call(p.sock, "PUT", "/cpu-config", bad[i][0],
				      &r), 400, "%s: %d %s", bad[i][0],
			     r.status, r.body);
		cr_assert(fault_has(&r, bad[i][1]), "%s: %s", bad[i][0],
			  r.body);
	}
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"action=hang\"}", guest_path("mb_action"));
	cr_assert_eq(api_call(p.sock, "PUT", "/boot-source", body, &r), 204);
	cr_assert_eq(api_call(p.sock, "PUT", "/cpu-config",
			      "{\"msr_modifiers\": [{\"addr\": \"0x4b564dff\","
			      " \"bitmap\": \"0b1\"}]}", &r), 204, "%s",
		     r.body);
	cr_assert_eq(api_call(p.sock, "PUT", "/actions",
			      "{\"action_type\": \"InstanceStart\"}", &r), 400,
		     "%d %s", r.status, r.body);
	cr_assert(fault_has(&r, "MSR 0x4b564dff"), "%s", r.body);
	api_proc_free(&p);
}

/*
 * A snapshot keeps SMT and the template with the machine: the VM loaded
 * from it says both in GET /vm/config, and it runs.
 */
Test(cpu_config, a_snapshot_keeps_smt_and_the_template, .timeout = 60)
{
	char body[768], dir[] = "/tmp/mvm-cpucfg-XXXXXX", state[64], mem[64];
	struct api_resp r;
	struct api_proc a, b;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(mem, sizeof(mem), "%s/mem", dir);
	cr_assert_eq(api_spawn(&a, NULL), 0);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"action=echo\"}", guest_path("mb_action"));
	cr_assert_eq(api_call(a.sock, "PUT", "/boot-source", body, &r), 204);
	cr_assert_eq(api_call(a.sock, "PUT", "/machine-config",
			      "{\"vcpu_count\": 2, \"mem_size_mib\": 32, "
			      "\"smt\": true}", &r), 204, "%s", r.body);
	cr_assert_eq(api_call(a.sock, "PUT", "/cpu-config", CUSTOM, &r), 204,
		     "%s", r.body);
	cr_assert_eq(api_call(a.sock, "PUT", "/actions",
			      "{\"action_type\": \"InstanceStart\"}", &r), 204,
		     "%s", r.body);
	cr_assert(api_wait_out(&a, "echo ready", 10), "%s", a.out);
	cr_assert_eq(api_call(a.sock, "PATCH", "/vm",
			      "{\"state\": \"Paused\"}", &r), 204);
	snprintf(body, sizeof(body), "{\"snapshot_type\": \"Full\", "
		 "\"snapshot_path\": \"%s\", \"mem_file_path\": \"%s\"}", state,
		 mem);
	cr_assert_eq(api_call(a.sock, "PUT", "/snapshot/create", body, &r),
		     204, "%s", r.body);
	api_proc_free(&a);

	cr_assert_eq(api_spawn(&b, NULL), 0);
	snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\", "
		 "\"mem_backend\": {\"backend_type\": \"File\", "
		 "\"backend_path\": \"%s\"}, \"resume_vm\": true}", state, mem);
	cr_assert_eq(api_call(b.sock, "PUT", "/snapshot/load", body, &r), 204,
		     "%s\n%s", r.body, b.err);
	cr_assert_eq(api_call(b.sock, "GET", "/", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"state\":\"Running\""), "%s", r.body);
	cr_assert_eq(api_call(b.sock, "GET", "/vm/config", NULL, &r), 200);
	cr_assert(strstr(r.body, "\"smt\":true"), "%s", r.body);
	cr_assert(strstr(r.body, "\"bitmap\":\"0bxxxxxxxxxxxxxxxxxxxxxx1xxxxxxxxx"
			 "\""), "%s", r.body);
	cr_assert(strstr(r.body, "\"kvm_capabilities\":[\"!56\"]"), "%s",
		  r.body);
	api_proc_free(&b);
	unlink(state);
	unlink(mem);
	rmdir(dir);
}
