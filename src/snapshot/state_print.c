/*
 * `mvm snapshot inspect`: a state file for a person. Its strings came
 * from a file, so control characters are printed escaped, never sent to
 * the terminal as they are.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "mvm/snapshot.h"
#include "mvm/vcpu_state.h"

#include "state_fdt.h"

static void put_str(FILE *out, const char *s)
{
	if (!s) {
		fputs("(none)", out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (isprint(c))
			fputc(c, out);
		else
			fprintf(out, "\\x%02x", c);
	}
	fputc('"', out);
}

/* MMDS's configuration and the NICs that serve it; never its data. */
static void print_mmds(FILE *out, const struct vm_config *m)
{
	uint32_t a = m->mmds.ipv4;

	fprintf(out, "  MMDS %s at %u.%u.%u.%u%s on", m->mmds.version ==
		MMDS_V2 ? "V2" : "V1", a >> 24, a >> 16 & 0xff, a >> 8 & 0xff,
		a & 0xff, m->mmds.imds_compat ? " (IMDS compatible)" : "");
	for (unsigned i = 0; i < m->nr_nets; i++) {
		if (!m->nets[i].mmds_ipv4)
			continue;
		fputc(' ', out);
		put_str(out, m->nets[i].id);
	}
	fputs(" (its data store is not kept)\n", out);
}

/* created_ns as UTC ISO-8601, to the nanosecond. */
static void put_time(FILE *out, uint64_t ns)
{
	time_t sec = (time_t)(ns / 1000000000u);
	struct tm tm;
	char buf[64];

	if (!gmtime_r(&sec, &tm) ||
	    !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm)) {
		fprintf(out, "%" PRIu64 " ns since the epoch", ns);
		return;
	}
	fprintf(out, "%s.%09" PRIu64 "Z", buf, ns % 1000000000u);
}

static void put_machine(const struct snap_file *s, FILE *out)
{
	const struct vm_config *m = &s->machine;

	fprintf(out, "machine: %u vCPUs, %" PRIu64 " MiB, huge pages %s, "
		"nested virtualization %s, entropy device %s, dirty page "
		"tracking %s, on reboot %s\n", m->cpus, m->mem_mib,
		gm_pages_names[m->pages], m->nested ? "on" : "off",
		m->rng ? "yes" : "no", s->track_dirty_pages ? "on" : "off",
		snap_on_reboot_names[m->on_reboot]);
	if (m->smt)
		fputs("  smt: two threads a core\n", out);
	if (m->cpu_template != CPU_STATIC_NONE)
		fprintf(out, "  cpu template %s\n",
			cpu_static_names[m->cpu_template]);
	if (m->cpu_custom_set)
		fprintf(out, "  custom cpu template: %u CPUID, %u MSR, %u KVM "
			"capability modifier(s)\n", m->cpu_custom.nr_cpuid,
			m->cpu_custom.nr_msrs, m->cpu_custom.nr_caps);
	if (m->mem_hotplug.total_mib)
		fprintf(out, "  memory hotplug: %" PRIu64 " MiB in slots of %"
			PRIu64 " MiB, blocks of %" PRIu64 " MiB, %" PRIu64
			" MiB requested at boot\n", m->mem_hotplug.total_mib,
			m->mem_hotplug.slot_mib, m->mem_hotplug.block_mib,
			m->mem_hotplug.requested_mib);
	fputs("  kernel  ", out);
	put_str(out, m->kernel);
	fputs("\n  initrd  ", out);
	put_str(out, m->initrd);
	fputs("\n  cmdline ", out);
	put_str(out, m->cmdline);
	fputc('\n', out);
	for (unsigned i = 0; i < m->nr_disks; i++) {
		const struct disk_config *d = &m->disks[i];

		fputs("  drive ", out);
		put_str(out, d->id);
		fputc(' ', out);
		put_str(out, d->path);
		fprintf(out, " %s, cache %s\n",
			d->readonly ? "read-only" : "read-write",
			snap_cache_names[d->cache]);
	}
	for (unsigned i = 0; i < m->nr_nets; i++) {
		const struct net_config *n = &m->nets[i];

		fputs("  network interface ", out);
		put_str(out, n->id);
		if (n->user) {
			fprintf(out, " user-mode NAT, MTU %u, %u hostfwd "
				"rule%s", n->mtu ? n->mtu : NET_USER_MTU_DEFAULT,
				n->nr_hostfwd, n->nr_hostfwd == 1 ? "" : "s");
		} else {
			fputs(" tap ", out);
			put_str(out, n->tap);
		}
		fprintf(out, " mac %02x:%02x:%02x:%02x:%02x:%02x (%s), MAC "
			"spoofing %s\n", n->mac[0], n->mac[1], n->mac[2],
			n->mac[3], n->mac[4], n->mac[5],
			n->mac_set ? "set" : "generated",
			n->mac_spoofing ? "allowed" : "refused");
	}
	for (unsigned i = 0; i < m->nr_pmems; i++) {
		const struct pmem_config *p = &m->pmems[i];

		fputs("  pmem ", out);
		put_str(out, p->id);
		fputc(' ', out);
		put_str(out, p->path);
		fprintf(out, " %s%s (its contents are the file's)\n",
			p->readonly ? "read-only" : "read-write",
			p->root ? ", root device" : "");
	}
	if (m->balloon.enabled)
		fprintf(out, "  balloon %u MiB, deflate on OOM %s, statistics "
			"every %u s, free page hinting %s, reporting %s\n",
			m->balloon.amount_mib,
			m->balloon.deflate_on_oom ? "on" : "off",
			m->balloon.stats_interval_s,
			m->balloon.free_page_hinting ? "on" : "off",
			m->balloon.free_page_reporting ? "on" : "off");
	if (m->vsock.guest_cid) {
		fputs("  vsock ", out);
		put_str(out, m->vsock.id);
		fprintf(out, " guest CID %u, socket ", m->vsock.guest_cid);
		put_str(out, m->vsock.uds_path);
		fputs(" (connections are not kept)\n", out);
	}
	if (m->mmds.set)
		print_mmds(out, m);
	if (m->dynmem.enabled)
		fprintf(out, "  dynamic memory %" PRIu64 "-%" PRIu64 " MiB, "
			"buffer %u%%\n", m->dynmem.min_mib, m->dynmem.max_mib,
			m->dynmem.buffer_percent);
}

/* Each vCPU's node, and whether it carries a nested guest's state. */
static void put_vcpus(const struct snap_file *s, FILE *out)
{
	fprintf(out, "vcpus: %u, nested state %s\n", s->machine.cpus,
		snap_file_has_nested(s) ? "present" : "none");
	for (unsigned i = 0; i < s->state.nr; i++) {
		const struct dev_state_node *n = &s->state.node[i];
		unsigned v;

		if (snap_vcpu_id(n->id, &v))
			fprintf(out, "  %-24s version %u, %zu bytes\n", n->id,
				n->version, n->len);
	}
}

static void put_devices(const struct snap_file *s, FILE *out)
{
	unsigned nr = 0, v;

	for (unsigned i = 0; i < s->state.nr; i++)
		nr += !snap_vcpu_id(s->state.node[i].id, &v);
	fprintf(out, "devices: %u\n", nr);
	for (unsigned i = 0; i < s->state.nr; i++) {
		const struct dev_state_node *n = &s->state.node[i];

		if (snap_vcpu_id(n->id, &v))
			continue;
		fputs("  ", out);
		put_str(out, n->id);
		fprintf(out, " version %u, %zu bytes\n", n->version, n->len);
	}
}

static void put_memory(const struct snap_file *s, FILE *out)
{
	fprintf(out, "memory: %u regions\n", s->nr_regions);
	for (unsigned i = 0; i < s->nr_regions; i++) {
		const struct gm_file_region *r = &s->regions[i];

		bool mib = !(r->size & ((1u << 20) - 1));

		fprintf(out, "  region %u: gpa 0x%" PRIx64 ", %" PRIu64
			" %s, at 0x%" PRIx64 " in the memory file\n", i,
			r->gpa, r->size >> (mib ? 20 : 10), mib ? "MiB" : "KiB",
			r->offset);
	}
}

void snap_file_print(const struct snap_file *s, FILE *out)
{
	fprintf(out, "snapshot state file, format version %u, written by "
		"mvm ", s->format_version);
	put_str(out, s->mvm_version);
	fprintf(out, "\ntype: %s\ntaken: ", snap_type_names[s->type]);
	put_time(out, s->created_ns);
	fputs("\nmemory file: ", out);
	put_str(out, s->mem_file);
	fputc('\n', out);
	put_machine(s, out);
	put_vcpus(s, out);
	put_devices(s, out);
	put_memory(s, out);
}
