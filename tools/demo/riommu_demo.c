// SPDX-License-Identifier: GPL-2.0
/*
 * riommu_demo: walk through nesting on riommu_mock, the Rust mock IOMMU
 * driver, using only the real uAPI (/dev/iommu) plus riommu_mock's control
 * device (/dev/riommu-mock).  Each step prints what it does and what the
 * kernel answered; the first failure ends the demo with a non-zero status
 * and the errno name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/riommu_mock.h>
/* IOMMU_HWPT_DATA_SELFTEST & co: riommu_mock takes the C mock's formats */
#include "iommufd_test.h"

#define RIOMMU_MOCK_DEV_NAME "/dev/riommu-mock"
#define IOTLB_VALUE 0xbadbeef
#define SLOT 1

static int step_no;

static void step(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("[%2d] ", ++step_no);
	vprintf(fmt, ap);
	printf(" ... ");
	fflush(stdout);
	va_end(ap);
}

static void ok(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("ok");
	if (fmt && *fmt) {
		printf(": ");
		vprintf(fmt, ap);
	}
	printf("\n");
	va_end(ap);
}

static void __attribute__((noreturn)) fail_errno(const char *what)
{
	int e = errno;
	const char *name = strerrorname_np(e);

	printf("FAILED\n");
	fprintf(stderr, "riommu_demo: %s failed: %s (%s)\n", what,
		name ? name : "E?", strerror(e));
	exit(1);
}

static void __attribute__((noreturn)) fail(const char *fmt, ...)
{
	va_list ap;

	printf("FAILED\n");
	va_start(ap, fmt);
	fprintf(stderr, "riommu_demo: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* The value of each IOTLB slot of @hwpt, as riommu_mock reports it */
static void read_iotlb(int ctl, int iommufd, uint32_t hwpt,
		       uint32_t slots[RIOMMU_MOCK_IOTLB_NUM])
{
	unsigned int i;

	for (i = 0; i != RIOMMU_MOCK_IOTLB_NUM; i++) {
		struct riommu_mock_check_iotlb cmd = {
			.size = sizeof(cmd),
			.iommufd = iommufd,
			.hwpt_id = hwpt,
			.iotlb_id = i,
			.iotlb = 0,
		};

		/*
		 * EINVAL only says the slot is not 0; out_iotlb is filled in
		 * either way.
		 */
		if (ioctl(ctl, RIOMMU_MOCK_CHECK_IOTLB, &cmd) &&
		    errno != EINVAL)
			fail_errno("RIOMMU_MOCK_CHECK_IOTLB");
		slots[i] = cmd.out_iotlb;
	}
}

static void print_slots(const char *when, const uint32_t *s)
{
	printf("     IOTLB %s: slot0=0x%x slot1=0x%x slot2=0x%x slot3=0x%x\n",
	       when, s[0], s[1], s[2], s[3]);
}

static void destroy(int fd, uint32_t id, const char *what)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = id };

	step("Destroy the %s (id %u)", what, id);
	if (ioctl(fd, IOMMU_DESTROY, &cmd))
		fail_errno("IOMMU_DESTROY");
	ok(NULL);
}

int main(void)
{
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	struct riommu_mock_dev_add add = { .size = sizeof(add) };
	struct iommu_hwpt_alloc parent = { .size = sizeof(parent) };
	struct iommu_hwpt_selftest data = { .iotlb = IOTLB_VALUE };
	struct iommu_hwpt_alloc nested = { .size = sizeof(nested) };
	struct riommu_mock_dev_attach at = { .size = sizeof(at) };
	struct iommu_hwpt_invalidate_selftest inv = { .iotlb_id = SLOT };
	struct iommu_hwpt_invalidate invcmd = { .size = sizeof(invcmd) };
	struct riommu_mock_dev_remove rm = { .size = sizeof(rm) };
	struct iommu_test_hw_info info_data = {};
	struct iommu_hw_info info = { .size = sizeof(info) };
	uint32_t before[RIOMMU_MOCK_IOTLB_NUM], after[RIOMMU_MOCK_IOTLB_NUM];
	unsigned int i;
	int fd, ctl;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("riommu demo: nested translation on riommu_mock, the Rust mock IOMMU driver\n");

	step("Open /dev/iommu (iommufd)");
	fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		fail_errno("open /dev/iommu");
	ok("fd %d", fd);

	step("Allocate an IO address space (IOAS)");
	if (ioctl(fd, IOMMU_IOAS_ALLOC, &ioas))
		fail_errno("IOMMU_IOAS_ALLOC");
	ok("IOAS id %u", ioas.out_ioas_id);

	step("Open the riommu_mock control device " RIOMMU_MOCK_DEV_NAME);
	ctl = open(RIOMMU_MOCK_DEV_NAME, O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		fail_errno("open " RIOMMU_MOCK_DEV_NAME
			   " (is riommu_mock.ko loaded?)");
	ok("fd %d", ctl);

	step("Add a mock device behind riommu_mock and bind it to iommufd");
	add.iommufd = fd;
	add.pt_id = 0;		/* attach later */
	if (ioctl(ctl, RIOMMU_MOCK_DEV_ADD, &add))
		fail_errno("RIOMMU_MOCK_DEV_ADD");
	ok("device handle %u, iommufd device id %u", add.out_dev_id,
	   add.out_idev_id);

	step("Ask iommufd what IOMMU the device sits behind (IOMMU_GET_HW_INFO)");
	info.dev_id = add.out_idev_id;
	info.data_len = sizeof(info_data);
	info.data_uptr = (uintptr_t)&info_data;
	if (ioctl(fd, IOMMU_GET_HW_INFO, &info))
		fail_errno("IOMMU_GET_HW_INFO");
	if (info.out_data_type != IOMMU_HW_INFO_TYPE_RIOMMU_MOCK)
		fail("unexpected hw_info type 0x%x, expected 0x%x",
		     info.out_data_type, IOMMU_HW_INFO_TYPE_RIOMMU_MOCK);
	ok("type 0x%x, %u bytes of data, register 0x%x, max PASID bits %u",
	   info.out_data_type, info.data_len, info_data.test_reg,
	   info.out_max_pasid_log2);

	step("Allocate a stage-2 paging HWPT that can be a nesting parent");
	parent.flags = IOMMU_HWPT_ALLOC_NEST_PARENT;
	parent.dev_id = add.out_idev_id;
	parent.pt_id = ioas.out_ioas_id;
	if (ioctl(fd, IOMMU_HWPT_ALLOC, &parent))
		fail_errno("IOMMU_HWPT_ALLOC (NEST_PARENT)");
	ok("paging HWPT id %u", parent.out_hwpt_id);

	step("Allocate a nested (stage-1) HWPT on it, selftest data iotlb=0x%x",
	     IOTLB_VALUE);
	nested.dev_id = add.out_idev_id;
	nested.pt_id = parent.out_hwpt_id;
	nested.data_type = IOMMU_HWPT_DATA_SELFTEST;
	nested.data_len = sizeof(data);
	nested.data_uptr = (uintptr_t)&data;
	if (ioctl(fd, IOMMU_HWPT_ALLOC, &nested))
		fail_errno("IOMMU_HWPT_ALLOC (nested)");
	ok("nested HWPT id %u", nested.out_hwpt_id);

	step("Attach the device to the nested HWPT");
	at.dev_id = add.out_dev_id;
	at.pt_id = nested.out_hwpt_id;
	if (ioctl(ctl, RIOMMU_MOCK_DEV_ATTACH, &at))
		fail_errno("RIOMMU_MOCK_DEV_ATTACH");
	if (at.pt_id != nested.out_hwpt_id)
		fail("attached to HWPT %u instead of %u", at.pt_id,
		     nested.out_hwpt_id);
	ok("attached to HWPT %u", at.pt_id);

	step("Read the nested domain's IOTLB");
	read_iotlb(ctl, fd, nested.out_hwpt_id, before);
	for (i = 0; i != RIOMMU_MOCK_IOTLB_NUM; i++)
		if (before[i] != IOTLB_VALUE)
			fail("slot %u holds 0x%x, expected 0x%x", i, before[i],
			     IOTLB_VALUE);
	ok(NULL);
	print_slots("before", before);

	step("Invalidate IOTLB slot %u (IOMMU_HWPT_INVALIDATE, selftest format)",
	     SLOT);
	invcmd.hwpt_id = nested.out_hwpt_id;
	invcmd.data_uptr = (uintptr_t)&inv;
	invcmd.data_type = IOMMU_HWPT_INVALIDATE_DATA_SELFTEST;
	invcmd.entry_len = sizeof(inv);
	invcmd.entry_num = 1;
	if (ioctl(fd, IOMMU_HWPT_INVALIDATE, &invcmd))
		fail_errno("IOMMU_HWPT_INVALIDATE");
	if (invcmd.entry_num != 1)
		fail("the kernel handled %u entries, expected 1",
		     invcmd.entry_num);
	ok("%u entry handled", invcmd.entry_num);

	step("Read the nested domain's IOTLB again");
	read_iotlb(ctl, fd, nested.out_hwpt_id, after);
	for (i = 0; i != RIOMMU_MOCK_IOTLB_NUM; i++) {
		uint32_t want = i == SLOT ? 0 : IOTLB_VALUE;

		if (after[i] != want)
			fail("slot %u holds 0x%x, expected 0x%x", i, after[i],
			     want);
	}
	ok("only slot %u was cleared", SLOT);
	print_slots("before", before);
	print_slots("after ", after);

	step("Replace the nested HWPT with the paging HWPT");
	at.pt_id = parent.out_hwpt_id;
	if (ioctl(ctl, RIOMMU_MOCK_DEV_REPLACE, &at))
		fail_errno("RIOMMU_MOCK_DEV_REPLACE");
	if (at.pt_id != parent.out_hwpt_id)
		fail("attached to HWPT %u instead of %u", at.pt_id,
		     parent.out_hwpt_id);
	ok("device now on paging HWPT %u", at.pt_id);

	destroy(fd, nested.out_hwpt_id, "nested HWPT");

	step("Remove the mock device");
	rm.dev_id = add.out_dev_id;
	if (ioctl(ctl, RIOMMU_MOCK_DEV_REMOVE, &rm))
		fail_errno("RIOMMU_MOCK_DEV_REMOVE");
	ok(NULL);

	destroy(fd, parent.out_hwpt_id, "paging HWPT");
	destroy(fd, ioas.out_ioas_id, "IOAS");

	step("Close the file descriptors");
	if (close(ctl) || close(fd))
		fail_errno("close");
	ok(NULL);

	printf("riommu demo: all %d steps succeeded\n", step_no);
	return 0;
}
