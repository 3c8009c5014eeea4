/*
 * nested_state_file STATE MEM: writes a snapshot as a host that can nest
 * takes one of a guest hypervisor (nested_virt on, its vCPU carrying
 * KVM's SVM nested state), for tests on hosts that cannot take one: a
 * state file (the encoder's own, vCPU blob from tests/unit/snap_fixture.h)
 * and its memory file, 32 MiB, sparse. Exit status 0, or 1 with a message.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "snap_fixture.h"

#define MEM_MIB 32u

static int make(struct snap_file *s, const char *mem)
{
	struct vm_config *m = &s->machine;
	char *kernel, *cmdline;
	int ret;

	memset(s, 0, sizeof(*s));
	s->format_version = SNAP_FORMAT_VERSION;
	strcpy(s->mvm_version, "0.1.0");
	s->created_ns = FIX_TAKEN_NS;
	s->type = SNAP_FULL;
	m->cpus = 1;
	m->mem_mib = MEM_MIB;
	m->nested = true;
	m->console_in = m->console_out = -1;
	s->nr_regions = 1;
	s->regions[0] = (struct gm_file_region){ 0, MEM_MIB * FIX_MIB, 0 };
	ret = fix_dup(mem, &s->mem_file);
	if (!ret && !(ret = fix_dup("vmlinux", &kernel)))
		m->kernel = kernel;
	if (!ret && !(ret = fix_dup("console=ttyS0", &cmdline)))
		m->cmdline = cmdline;
	if (!ret)
		ret = fix_add_vcpu(s, 0, true);
	if (!ret)
		ret = fix_add_device(s, "kvmclock", 1, 48);
	return ret;
}

int main(int argc, char **argv)
{
	struct mvm_err err = { .msg = "" };
	struct snap_file s;
	int ret, fd;

	if (argc != 3) {
		fprintf(stderr, "usage: nested_state_file STATE MEM\n");
		return 1;
	}
	ret = make(&s, argv[2]);
	if (ret)
		snprintf(err.msg, sizeof(err.msg), "fixture: %s",
			 strerror(-ret));
	else
		ret = snap_file_write(argv[1], &s, &err);
	snap_file_free(&s);
	if (ret) {
		fprintf(stderr, "nested_state_file: %s\n", err.msg);
		return 1;
	}
	fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)MEM_MIB * FIX_MIB) < 0) {
		perror(argv[2]);
		return 1;
	}
	close(fd);
	return 0;
}
