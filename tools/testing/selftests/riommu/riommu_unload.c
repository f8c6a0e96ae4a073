// SPDX-License-Identifier: GPL-2.0
/*
 * riommu_mock must refuse to unload while anything of it is alive: an open
 * control file, a mock device, a domain (iommufd HWPTs can outlive the
 * devices), a vIOMMU or a vDEVICE.  delete_module() then fails with
 * EWOULDBLOCK and the module stays.  (The load/unload soak test unloads it
 * for real; here nothing is ever unloaded.)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/riommu_mock.h>

#include "kselftest_harness.h"

static int try_unload(void)
{
	return syscall(__NR_delete_module, "riommu_mock", O_NONBLOCK);
}

static int mock_loaded(void)
{
	return access("/sys/module/riommu_mock", F_OK) == 0;
}

FIXTURE(unload) {
	int fd, cfd;
	uint32_t ioas, dev, idev;
};

FIXTURE_SETUP(unload)
{
	struct iommu_ioas_alloc ia = { .size = sizeof(ia) };
	struct riommu_mock_dev_add da = { .size = sizeof(da) };

	ASSERT_TRUE(mock_loaded());
	self->fd = open("/dev/iommu", O_RDWR);
	self->cfd = open("/dev/riommu-mock", O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_LE(0, self->cfd);
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_ALLOC, &ia));
	self->ioas = ia.out_ioas_id;
	da.iommufd = self->fd;
	da.pt_id = self->ioas;
	ASSERT_EQ(0, ioctl(self->cfd, RIOMMU_MOCK_DEV_ADD, &da));
	self->dev = da.out_dev_id;
	self->idev = da.out_idev_id;
}

FIXTURE_TEARDOWN(unload)
{
	if (self->cfd >= 0)
		close(self->cfd);
	close(self->fd);
}

static void remove_dev(struct __test_metadata *_metadata, int cfd, uint32_t dev)
{
	struct riommu_mock_dev_remove r = { .size = sizeof(r), .dev_id = dev };

	ASSERT_EQ(0, ioctl(cfd, RIOMMU_MOCK_DEV_REMOVE, &r));
}

TEST_F(unload, refused_with_open_file_and_device)
{
	struct iommu_hwpt_alloc ha = {
		.size = sizeof(ha), .dev_id = self->idev, .pt_id = self->ioas,
	};

	ASSERT_EQ(-1, try_unload());
	ASSERT_EQ(EWOULDBLOCK, errno);
	ASSERT_TRUE(mock_loaded());
	/* The device still works after the refusal. */
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, &ha));
}

/* A HWPT outliving its device and the control file pins the module. */
TEST_F(unload, refused_with_only_a_domain_left)
{
	struct iommu_hwpt_alloc ha = {
		.size = sizeof(ha),
		.flags = IOMMU_HWPT_ALLOC_NEST_PARENT,
		.dev_id = self->idev,
		.pt_id = self->ioas,
	};
	struct iommu_destroy d = { .size = sizeof(d) };

	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, &ha));
	remove_dev(_metadata, self->cfd, self->dev);
	close(self->cfd);
	self->cfd = -1;
	ASSERT_EQ(-1, try_unload());
	ASSERT_EQ(EWOULDBLOCK, errno);
	ASSERT_TRUE(mock_loaded());
	/* The domain is intact and can still be destroyed. */
	d.id = ha.out_hwpt_id;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_DESTROY, &d));
}

/* So does a vIOMMU with a vDEVICE's driver data. */
TEST_F(unload, refused_with_viommu_left)
{
	struct iommu_hwpt_alloc ha = {
		.size = sizeof(ha),
		.flags = IOMMU_HWPT_ALLOC_NEST_PARENT,
		.dev_id = self->idev,
		.pt_id = self->ioas,
	};
	struct iommu_viommu_alloc va = {
		.size = sizeof(va),
		.type = 0xdeadbeef, /* IOMMU_VIOMMU_TYPE_SELFTEST */
	};
	struct iommu_destroy d = { .size = sizeof(d) };

	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, &ha));
	va.dev_id = self->idev;
	va.hwpt_id = ha.out_hwpt_id;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_VIOMMU_ALLOC, &va));
	d.id = ha.out_hwpt_id;
	/* The parent is busy while the vIOMMU holds it. */
	ASSERT_EQ(-1, ioctl(self->fd, IOMMU_DESTROY, &d));
	ASSERT_EQ(EBUSY, errno);
	remove_dev(_metadata, self->cfd, self->dev);
	close(self->cfd);
	self->cfd = -1;
	ASSERT_EQ(-1, try_unload());
	ASSERT_EQ(EWOULDBLOCK, errno);
	d.id = va.out_viommu_id;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_DESTROY, &d));
	d.id = ha.out_hwpt_id;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_DESTROY, &d));
}

TEST_HARNESS_MAIN
