/*
 * virtio-pmem (virtio 1.2, 5.19) without a guest: a request chain is a
 * FLUSH only with its 4-byte type 0 and room for the 4-byte answer; a
 * file's region is its size rounded up to 2 MiB; the device, on a fake VM
 * with a real KVM VM for its memory slot, maps the file where its config
 * space says (start, size), writes through the mapping reach the file,
 * bad files are refused naming the field, and its state comes back only
 * into a device of the same region.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/dev_config.h"
#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/virtio_dev.h"

#include "../../src/devices/virtio/pmem.h"
#include "fake_vm.h"

#define MIB (UINT64_C(1) << 20)

static int check(uint32_t type, uint32_t out_len, uint32_t in_len,
		 const char **why)
{
	uint8_t buf[8] = { 0 };
	struct iovec out = { .iov_base = buf, .iov_len = out_len };

	memcpy(buf, &type, sizeof(type));
	*why = NULL;
	return pmem_check_request(&out, out_len ? 1 : 0, out_len, in_len,
				  why);
}

Test(virtio_pmem, only_a_whole_flush_is_a_request)
{
	const char *why;

	cr_assert_eq(check(VIRTIO_PMEM_REQ_TYPE_FLUSH, 4, 4, &why), 0);
	cr_assert_null(why);
	cr_assert_eq(check(VIRTIO_PMEM_REQ_TYPE_FLUSH, 8, 8, &why), 0,
		     "longer buffers are fine");
	cr_assert_eq(check(1, 4, 4, &why), -EINVAL);
	cr_assert(strstr(why, "unknown request type"), "%s", why);
	cr_assert_eq(check(0xffffffff, 4, 4, &why), -EINVAL);
	cr_assert_eq(check(0, 3, 4, &why), -EINVAL);
	cr_assert(strstr(why, "4-byte type"), "%s", why);
	cr_assert_eq(check(0, 0, 4, &why), -EINVAL);
	cr_assert_eq(check(0, 4, 3, &why), -EINVAL);
	cr_assert(strstr(why, "answer"), "%s", why);
	cr_assert_eq(check(0, 4, 0, &why), -EINVAL);
}

Test(virtio_pmem, a_type_split_over_buffers_is_read_whole)
{
	uint32_t type = 1;
	struct iovec out[2] = {
		{ .iov_base = &type, .iov_len = 2 },
		{ .iov_base = (uint8_t *)&type + 2, .iov_len = 2 },
	};
	const char *why = NULL;

	cr_assert_eq(pmem_check_request(out, 2, 4, 4, &why), -EINVAL);
	type = 0;
	cr_assert_eq(pmem_check_request(out, 2, 4, 4, &why), 0);
	/* A chain whose out_len lies about its buffers is refused. */
	cr_assert_eq(pmem_check_request(out, 1, 4, 4, &why), -EINVAL);
}

Test(virtio_pmem, regions_are_whole_2mib)
{
	cr_assert_eq(pmem_region_size(0), 0, "an empty file has none");
	cr_assert_eq(pmem_region_size(1), 2 * MIB);
	cr_assert_eq(pmem_region_size(2 * MIB), 2 * MIB);
	cr_assert_eq(pmem_region_size(2 * MIB + 1), 4 * MIB);
	cr_assert_eq(pmem_region_size(UINT64_MAX), 0, "no wrap-around");
	cr_assert_eq(pmem_region_size(UINT64_MAX - 2 * MIB + 1), 0);
	cr_assert_eq(pmem_region_size(UINT64_MAX - 2 * MIB),
		     UINT64_MAX - 2 * MIB + 1, "the largest placeable");
}

/* ---- the device on a fake VM, with a KVM VM for its slot ----------- */

static struct fake_vm fvm;
static int kvm_fd = -1;
static char file[64];

static void kvm_vm(void)
{
	int vm;

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		cr_skip_test("not run: /dev/kvm cannot be opened (%s); the "
			     "device needs a KVM VM for its memory slot",
			     strerror(errno));
	vm = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	cr_assert_geq(vm, 0, "KVM_CREATE_VM: %s", strerror(errno));
	fvm.ctx.vm_fd = vm;
}

static void make_file(size_t len, mode_t mode)
{
	int fd;

	snprintf(file, sizeof(file), "/tmp/mvm-pmem-XXXXXX");
	fd = mkstemp(file);
	cr_assert_geq(fd, 0);
	for (size_t i = 0; i < len; i++) {
		uint8_t b = (uint8_t)(i * 7 + 1);

		cr_assert_eq(write(fd, &b, 1), 1);
	}
	close(fd);
	chmod(file, mode);
}

static int create(bool readonly, struct mvm_err *err)
{
	struct pmem_config pc = { .id = "p0", .path = file,
				  .readonly = readonly };
	struct virtio_devs_config dc = { .pmems = &pc, .nr_pmems = 1,
					 .pmem_slot = 9 };

	fake_vm_init(&fvm, 0x100000, 1 << 20);
	kvm_vm();
	return virtio_create_devices(&fvm.ctx, &dc, err);
}

static void destroy(void)
{
	int vm = fvm.ctx.vm_fd;

	fake_vm_fini(&fvm);
	close(vm);
	close(kvm_fd);
	unlink(file);
}

static uint64_t cfg64(struct virtio_transport *t, uint32_t off)
{
	uint64_t v = 0;

	t->ops->config_read(t->dev, off, (uint8_t *)&v, sizeof(v));
	return v;
}

Test(virtio_pmem, the_file_is_mapped_where_config_space_says)
{
	struct mvm_err err = { .msg = "" };
	struct virtio_transport *t;
	struct pmem *p;
	uint8_t b = 0;
	int fd;

	make_file(4096 + 5, 0600);
	cr_assert_eq(create(false, &err), 0, "%s", err.msg);
	t = fvm.ctx.virtio_devs;
	cr_assert_eq(t->info.device_id, VIRTIO_ID_PMEM);
	cr_assert_eq(t->info.nr_queues, 1);
	cr_assert_eq(t->info.config_size, 16);
	cr_assert_eq(cfg64(t, 0), LAYOUT_PMEM, "start");
	cr_assert_eq(cfg64(t, 8), 2 * MIB, "size: the file's, rounded up");
	p = t->dev;
	cr_assert_eq(p->map[4096 + 4], (uint8_t)((4096 + 4) * 7 + 1),
		     "the file's bytes are the region's");
	p->map[100] = 0xab; /* a guest's store */
	fd = open(file, O_RDONLY);
	cr_assert_eq(pread(fd, &b, 1, 100), 1);
	close(fd);
	cr_assert_eq(b, 0xab, "shared: the store is the file's");
	destroy();
}

Test(virtio_pmem, bad_files_are_refused_naming_the_field)
{
	struct mvm_err err = { .msg = "" };

	make_file(0, 0600);
	cr_assert_eq(create(false, &err), -EINVAL);
	cr_assert(strstr(err.msg, "pmem p0: path_on_host") &&
		  strstr(err.msg, "empty"), "%s", err.msg);
	destroy();

	snprintf(file, sizeof(file), "/nonexistent/pmem");
	cr_assert_eq(create(false, &err), -ENOENT);
	cr_assert(strstr(err.msg, "path_on_host: cannot open"), "%s",
		  err.msg);
	destroy();
}

Test(virtio_pmem, a_read_only_file_is_refused_for_writing)
{
	struct mvm_err err = { .msg = "" };

	if (geteuid() == 0)
		cr_skip_test("not run: root opens any file for writing");
	make_file(4096, 0400);
	cr_assert_eq(create(false, &err), -EACCES);
	cr_assert(strstr(err.msg, "for writing"), "%s", err.msg);
	destroy();
}

Test(virtio_pmem, a_read_only_file_maps_read_only)
{
	struct mvm_err err = { .msg = "" };

	make_file(4096, 0400);
	cr_assert_eq(create(true, &err), 0, "%s", err.msg);
	cr_assert_eq(cfg64(fvm.ctx.virtio_devs, 8), 2 * MIB);
	destroy();
}

Test(virtio_pmem, state_comes_back_only_to_the_same_region)
{
	static uint8_t blob[65536];
	struct mvm_err err = { .msg = "" };
	struct {
		uint32_t magic, pad;
		uint64_t start, size;
	} *h;
	size_t n;

	make_file(3 * MIB, 0600);
	cr_assert_eq(create(false, &err), 0, "%s", err.msg);
	n = virtio_save(fvm.ctx.virtio_devs, blob, sizeof(blob));
	cr_assert_gt(n, sizeof(*h));
	h = (void *)(blob + n - sizeof(*h));
	cr_assert_eq(h->start, LAYOUT_PMEM, "the model's part is last");
	cr_assert_eq(h->size, 4 * MIB);
	cr_assert_eq(virtio_load(fvm.ctx.virtio_devs, blob, n), 0);
	h->size = 2 * MIB; /* the file shrank since */
	cr_assert_eq(virtio_load(fvm.ctx.virtio_devs, blob, n), -EINVAL);
	h->size = 4 * MIB;
	h->start += 2 * MIB;
	cr_assert_eq(virtio_load(fvm.ctx.virtio_devs, blob, n), -EINVAL);
	h->start -= 2 * MIB;
	h->magic ^= 1;
	cr_assert_eq(virtio_load(fvm.ctx.virtio_devs, blob, n), -EINVAL);
	h->magic ^= 1;
	cr_assert_eq(virtio_load(fvm.ctx.virtio_devs, blob, n - 1), -EINVAL);
	destroy();
}
