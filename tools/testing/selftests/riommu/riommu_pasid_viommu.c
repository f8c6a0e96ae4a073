// SPDX-License-Identifier: GPL-2.0
/*
 * Differential tests of PASID attach and of the vIOMMU / vDEVICE / vEVENTQ
 * paths: every body runs against the kernel's C mock (IOMMU_TEST_CMD) and
 * riommu_mock (/dev/riommu-mock), which must give the same results.  The C
 * mock is the oracle for every expected errno.
 */
#include <poll.h>
#include <sys/mman.h>

#include "riommu_utils.h"

#include "kselftest_harness.h"

#define BE (&self->be)
#define FD (self->fd)
#define IS_RUST (variant->backend->kind == BACKEND_RUST_MOCK)
#define BAD_ID 0xfffff0u

/* --- PASID operations: be_pasid() of riommu_utils.h ---------------- */

static int pasid_check(struct backend *be, uint32_t dev, uint32_t pasid,
		       uint32_t hwpt)
{
	return be_pasid(be, BE_PASID_CHECK, dev, pasid, &hwpt);
}

/* --- vIOMMU side channels, per backend -------------------------------- */

/*
 * The cache slot of the device's vDEVICE holds @value (EINVAL if not):
 * riommu_mock's by-vDEVICE view of the device's slots.
 */
static int vdev_check_cache(struct backend *be, uint32_t idev_id,
			    uint32_t viommu_id, uint64_t virt_id,
			    uint32_t slot, uint32_t value)
{
	struct riommu_mock_check_vdev_cache cmd = {
		.size = sizeof(cmd),
		.iommufd = be->iommufd,
		.viommu_id = viommu_id,
		.cache_id = slot,
		.virt_id = virt_id,
		.cache = value,
	};

	/* The C mock has no by-vDEVICE view: its by-device check */
	if (be->ops->kind == BACKEND_C_MOCK)
		return be_dev_check_cache(be, 0, idev_id, slot, value);
	return ioctl(be->ctlfd, RIOMMU_MOCK_CHECK_VDEV_CACHE, &cmd);
}

/* --- plain iommufd helpers -------------------------------------------- */

static int hwpt_alloc(int fd, uint32_t dev, uint32_t pt, uint32_t flags,
		      uint32_t data_type, void *data, uint32_t len,
		      uint32_t *out)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = dev,
		.pt_id = pt,
		.data_type = data_type,
		.data_len = len,
		.data_uptr = (uintptr_t)data,
	};

	if (ioctl(fd, IOMMU_HWPT_ALLOC, &cmd))
		return -1;
	*out = cmd.out_hwpt_id;
	return 0;
}

static int nested_alloc(int fd, uint32_t dev, uint32_t pt, uint32_t flags,
			uint32_t iotlb, uint32_t *out)
{
	struct iommu_hwpt_selftest data = { .iotlb = iotlb };

	return hwpt_alloc(fd, dev, pt, flags, IOMMU_HWPT_DATA_SELFTEST, &data,
			  sizeof(data), out);
}

static int pv_viommu_invalidate(int fd, uint32_t viommu, void *entries,
			     uint32_t entry_len, uint32_t *num)
{
	struct iommu_hwpt_invalidate cmd = {
		.size = sizeof(cmd),
		.hwpt_id = viommu,
		.data_uptr = (uintptr_t)entries,
		.data_type = IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
		.entry_len = entry_len,
		.entry_num = *num,
	};
	int rc = ioctl(fd, IOMMU_HWPT_INVALIDATE, &cmd);

	*num = cmd.entry_num;
	return rc;
}

static int destroy(int fd, uint32_t id)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = id };

	return ioctl(fd, IOMMU_DESTROY, &cmd);
}

/* --- PASID -------------------------------------------------------------- */

FIXTURE(pasid) {
	int fd;
	struct backend be;
	uint32_t ioas;
	uint32_t dev, idev, hwpt;	/* a PASID-capable device */
	uint32_t a, b;			/* two PASID-capable paging HWPTs */
};

FIXTURE_VARIANT(pasid) {
	const struct backend_ops *backend;
};

FIXTURE_VARIANT_ADD(pasid, c_mock) {
	.backend = &c_mock_ops,
};

FIXTURE_VARIANT_ADD(pasid, rust_mock) {
	.backend = &rust_mock_ops,
};

FIXTURE_SETUP(pasid)
{
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, backend_open(&self->be, variant->backend, self->fd))
		TH_LOG("%s backend unavailable: %s", variant->backend->name,
		       strerror(errno));
	ASSERT_EQ(0, ioas_alloc(FD, &self->ioas));
	ASSERT_EQ(0, BE->ops->dev_add(BE, self->ioas, MOCK_FLAGS_DEVICE_PASID,
				      &self->dev, &self->idev, &self->hwpt));
	ASSERT_EQ(0, hwpt_alloc(FD, self->idev, self->ioas,
				IOMMU_HWPT_ALLOC_PASID, 0, NULL, 0, &self->a));
	ASSERT_EQ(0, hwpt_alloc(FD, self->idev, self->ioas,
				IOMMU_HWPT_ALLOC_PASID, 0, NULL, 0, &self->b));
	/* PASIDs need the RID on a PASID-compatible domain. */
	self->hwpt = self->a;
	ASSERT_EQ(0, BE->ops->replace(BE, self->dev, &self->hwpt));
}

FIXTURE_TEARDOWN(pasid)
{
	backend_close(&self->be);
	close(self->fd);
}

TEST_F(pasid, attach_check_detach)
{
	uint32_t pt = self->a;

	ASSERT_EQ(0, pasid_check(BE, self->dev, 100, 0));
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_ATTACH, self->dev, 100, &pt));
	ASSERT_EQ(self->a, pt);
	ASSERT_EQ(0, pasid_check(BE, self->dev, 100, self->a));
	ASSERT_EQ(-1, pasid_check(BE, self->dev, 100, self->b));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, pasid_check(BE, self->dev, 100, 0));
	ASSERT_EQ(EINVAL, errno);
	/* An attached HWPT cannot be destroyed. */
	ASSERT_EQ(-1, destroy(FD, self->a));
	ASSERT_EQ(EBUSY, errno);
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_DETACH, self->dev, 100, NULL));
	ASSERT_EQ(0, pasid_check(BE, self->dev, 100, 0));
	/* Detaching an unattached PASID is a no-op. */
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_DETACH, self->dev, 100, NULL));
}

/* The RID and the PASIDs must agree on PASID compatibility. */
TEST_F(pasid, rid_compat_rules)
{
	uint32_t plain, pt;

	ASSERT_EQ(0, hwpt_alloc(FD, self->idev, self->ioas, 0, 0, NULL, 0,
				&plain));
	/* RID on a non-PASID-compatible domain: PASID attach refused */
	pt = plain;
	ASSERT_EQ(0, BE->ops->replace(BE, self->dev, &pt));
	pt = self->b;
	ASSERT_EQ(-1, be_pasid(BE, BE_PASID_ATTACH, self->dev, 100, &pt));
	ASSERT_EQ(EINVAL, errno);
	/* Back on a compatible one: allowed, and then the RID cannot go back */
	pt = self->a;
	ASSERT_EQ(0, BE->ops->replace(BE, self->dev, &pt));
	pt = self->b;
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_ATTACH, self->dev, 100, &pt));
	pt = plain;
	ASSERT_EQ(-1, BE->ops->replace(BE, self->dev, &pt));
	ASSERT_EQ(EINVAL, errno);
	/* An IOAS is not a PASID target */
	pt = self->ioas;
	ASSERT_EQ(-1, be_pasid(BE, BE_PASID_ATTACH, self->dev, 101, &pt));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_DETACH, self->dev, 100, NULL));
	ASSERT_EQ(0, destroy(FD, plain));
}

TEST_F(pasid, attach_twice)
{
	uint32_t pt = self->a;

	ASSERT_EQ(0, be_pasid(BE, BE_PASID_ATTACH, self->dev, 7, &pt));
	pt = self->b;
	ASSERT_EQ(-1, be_pasid(BE, BE_PASID_ATTACH, self->dev, 7, &pt));
	ASSERT_EQ(EBUSY, errno);
	ASSERT_EQ(0, pasid_check(BE, self->dev, 7, self->a));
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_DETACH, self->dev, 7, NULL));
}

TEST_F(pasid, replace)
{
	uint32_t pt = self->a;

	ASSERT_EQ(0, be_pasid(BE, BE_PASID_ATTACH, self->dev, 200, &pt));
	pt = self->b;
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_REPLACE, self->dev, 200, &pt));
	ASSERT_EQ(0, pasid_check(BE, self->dev, 200, self->b));
	/* Replacing with the same HWPT is fine too. */
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_REPLACE, self->dev, 200, &pt));
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_DETACH, self->dev, 200, NULL));
}

TEST_F(pasid, hwpt_without_pasid_flag)
{
	uint32_t plain, pt;

	ASSERT_EQ(0, hwpt_alloc(FD, self->idev, self->ioas, 0, 0, NULL, 0,
				&plain));
	pt = plain;
	ASSERT_EQ(-1, be_pasid(BE, BE_PASID_ATTACH, self->dev, 300, &pt));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(0, pasid_check(BE, self->dev, 300, 0));
}

TEST_F(pasid, beyond_width)
{
	uint32_t pt = self->a;

	ASSERT_EQ(-1, be_pasid(BE, BE_PASID_ATTACH, self->dev, 1u << MOCK_PASID_WIDTH,
			       &pt));
	ASSERT_EQ(EINVAL, errno);
	pt = self->a;
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_ATTACH, self->dev,
			      (1u << MOCK_PASID_WIDTH) - 1, &pt));
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_DETACH, self->dev,
			      (1u << MOCK_PASID_WIDTH) - 1, NULL));
}

TEST_F(pasid, device_without_pasid)
{
	uint32_t dev, idev, hwpt, pt = self->a;

	ASSERT_EQ(0, BE->ops->dev_add(BE, self->ioas, 0, &dev, &idev, &hwpt));
	ASSERT_EQ(-1, be_pasid(BE, BE_PASID_ATTACH, dev, 100, &pt));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(0, BE->ops->dev_remove(BE, dev));
}

/* The mock fails the second attach of PASID 1024: the core rolls back. */
TEST_F(pasid, replace_error_rolls_back)
{
	uint32_t pt = self->a;

	ASSERT_EQ(0, be_pasid(BE, BE_PASID_ATTACH, self->dev,
			      IOMMU_TEST_PASID_RESERVED, &pt));
	pt = self->b;
	ASSERT_EQ(-1, be_pasid(BE, BE_PASID_REPLACE, self->dev,
			       IOMMU_TEST_PASID_RESERVED, &pt));
	ASSERT_EQ(ENOMEM, errno);
	ASSERT_EQ(0, pasid_check(BE, self->dev, IOMMU_TEST_PASID_RESERVED,
				 self->a));
	pt = self->b;
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_REPLACE, self->dev,
			      IOMMU_TEST_PASID_RESERVED, &pt));
	ASSERT_EQ(0, pasid_check(BE, self->dev, IOMMU_TEST_PASID_RESERVED,
				 self->b));
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_DETACH, self->dev,
			      IOMMU_TEST_PASID_RESERVED, NULL));
}

TEST_F(pasid, nested_on_pasid)
{
	uint32_t parent, nested, pt;

	ASSERT_EQ(0, hwpt_alloc(FD, self->idev, self->ioas,
				IOMMU_HWPT_ALLOC_NEST_PARENT |
					IOMMU_HWPT_ALLOC_PASID,
				0, NULL, 0, &parent));
	ASSERT_EQ(0, nested_alloc(FD, self->idev, parent,
				  IOMMU_HWPT_ALLOC_PASID, 0x55, &nested));
	pt = nested;
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_ATTACH, self->dev, 400, &pt));
	ASSERT_EQ(0, pasid_check(BE, self->dev, 400, nested));
	pt = self->a;
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_REPLACE, self->dev, 400, &pt));
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_DETACH, self->dev, 400, NULL));
	ASSERT_EQ(0, destroy(FD, nested));
	ASSERT_EQ(0, destroy(FD, parent));
}

/*
 * Removing a device with PASIDs attached: riommu_mock detaches them first.
 * iommufd calls the C mock's equivalent (IOMMU_DESTROY of the selftest
 * device with attachments) a caller bug and WARNs, so that half is skipped.
 */
TEST_F(pasid, remove_with_pasids)
{
	uint32_t pt = self->a;

	if (!IS_RUST)
		SKIP(return, "the C mock WARNs on removing a device with PASIDs attached");
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_ATTACH, self->dev, 500, &pt));
	pt = self->b;
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_ATTACH, self->dev, 501, &pt));
	ASSERT_EQ(0, BE->ops->dev_remove(BE, self->dev));
	ASSERT_EQ(0, destroy(FD, self->a));
	ASSERT_EQ(0, destroy(FD, self->b));
}

/* --- I/O page faults ----------------------------------------------------- */

#define IOPF_GRPID	0x2
#define IOPF_PERM	(IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE)
#define IOPF_ADDR	0xdeadbeafull
#define PGF_SIZE	((ssize_t)sizeof(struct iommu_hwpt_pgfault))
#define RSP_SIZE	((ssize_t)sizeof(struct iommu_hwpt_page_response))

static int fault_alloc(int fd, uint32_t *id, int *ffd)
{
	struct iommu_fault_alloc cmd = { .size = sizeof(cmd) };

	if (ioctl(fd, IOMMU_FAULT_QUEUE_ALLOC, &cmd))
		return -1;
	*id = cmd.out_fault_id;
	*ffd = cmd.out_fault_fd;
	return 0;
}

/* A fault-capable HWPT (IOMMU_HWPT_FAULT_ID_VALID) on fault queue @fault */
static int fault_hwpt_alloc(int fd, uint32_t dev, uint32_t pt, uint32_t flags,
			    uint32_t fault, void *data, uint32_t len,
			    uint32_t *out)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags | IOMMU_HWPT_FAULT_ID_VALID,
		.dev_id = dev,
		.pt_id = pt,
		.data_type = data ? IOMMU_HWPT_DATA_SELFTEST : 0,
		.data_len = len,
		.data_uptr = (uintptr_t)data,
		.fault_id = fault,
	};

	if (ioctl(fd, IOMMU_HWPT_ALLOC, &cmd))
		return -1;
	*out = cmd.out_hwpt_id;
	return 0;
}

static ssize_t respond(int ffd, uint32_t cookie, uint32_t code)
{
	struct iommu_hwpt_page_response r = { .cookie = cookie, .code = code };

	return write(ffd, &r, sizeof(r));
}

/*
 * Trigger a page request on @pasid (0: the RID) of the fixture's device and
 * read its record from @ffd, checking every field.
 */
static void __trigger_read(struct __test_metadata *_metadata,
			   FIXTURE_DATA(pasid) *self, int ffd, uint32_t pasid,
			   struct iommu_hwpt_pgfault *f)
{
	memset(f, 0xa5, sizeof(*f));
	ASSERT_EQ(0, be_trigger_iopf(BE, self->dev, self->idev, pasid,
				     IOPF_GRPID, IOPF_PERM, IOPF_ADDR));
	ASSERT_EQ(PGF_SIZE, read(ffd, f, sizeof(*f)));
	EXPECT_EQ(IOMMU_PGFAULT_FLAGS_LAST_PAGE |
			  (pasid ? IOMMU_PGFAULT_FLAGS_PASID_VALID : 0),
		  f->flags);
	EXPECT_EQ(self->idev, f->dev_id);
	EXPECT_EQ(pasid, f->pasid);
	EXPECT_EQ(IOPF_GRPID, f->grpid);
	EXPECT_EQ(IOPF_PERM, f->perm);
	EXPECT_EQ(IOPF_ADDR, f->addr);
	EXPECT_EQ(0, f->length);
}

#define trigger_read(ffd, pasid, f) \
	__trigger_read(_metadata, self, ffd, pasid, f)

/*
 * A page request on the RID and on a PASID of a fault-capable HWPT reaches
 * its fault queue with the fields given; page responses and the core's
 * errnos for bad ones; requests nothing listens to; requests pending when
 * their HWPT is detached (iommufd answers them itself).
 */
TEST_F(pasid, iopf)
{
	struct iommu_hwpt_page_response two[2];
	struct iommu_hwpt_pgfault f, g;
	uint32_t fault_id, fhwpt, pt;
	int ffd;

	ASSERT_EQ(0, fault_alloc(FD, &fault_id, &ffd));
	ASSERT_EQ(0, fault_hwpt_alloc(FD, self->idev, self->ioas,
				      IOMMU_HWPT_ALLOC_PASID, fault_id, NULL, 0,
				      &fhwpt));

	/* Nothing fault capable attached: accepted, nothing queued */
	ASSERT_EQ(0, be_trigger_iopf(BE, self->dev, self->idev, 0, IOPF_GRPID,
				     IOPF_PERM, IOPF_ADDR));
	ASSERT_EQ(0, read(ffd, &f, sizeof(f)));

	/* The RID */
	pt = fhwpt;
	ASSERT_EQ(0, BE->ops->replace(BE, self->dev, &pt));
	trigger_read(ffd, 0, &f);
	/* Nothing more queued */
	ASSERT_EQ(0, read(ffd, &g, sizeof(g)));

	/* Bad responses, all refused by iommufd */
	ASSERT_EQ(-1, write(ffd, &two[0], RSP_SIZE - 1));
	EXPECT_EQ(ESPIPE, errno);
	ASSERT_EQ(-1, respond(ffd, f.cookie, 2));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, respond(ffd, f.cookie + 1, IOMMUFD_PAGE_RESP_SUCCESS));
	EXPECT_EQ(EINVAL, errno);
	/* A good one, then a bad one: the good one counts */
	two[0] = (struct iommu_hwpt_page_response){ .cookie = f.cookie };
	two[1] = (struct iommu_hwpt_page_response){ .cookie = f.cookie };
	ASSERT_EQ(RSP_SIZE, write(ffd, two, sizeof(two)));
	/* Answered already */
	ASSERT_EQ(-1, respond(ffd, f.cookie, IOMMUFD_PAGE_RESP_SUCCESS));
	EXPECT_EQ(EINVAL, errno);

	/* A read too small for the record */
	ASSERT_EQ(0, be_trigger_iopf(BE, self->dev, self->idev, 0, IOPF_GRPID,
				     IOPF_PERM, IOPF_ADDR));
	ASSERT_EQ(-1, read(ffd, &f, PGF_SIZE - 8));
	EXPECT_EQ(ESPIPE, errno);
	ASSERT_EQ(PGF_SIZE, read(ffd, &f, sizeof(f)));
	ASSERT_EQ(RSP_SIZE, respond(ffd, f.cookie, IOMMUFD_PAGE_RESP_INVALID));

	/* A PASID, with the RID on the same HWPT */
	pt = fhwpt;
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_ATTACH, self->dev, 100, &pt));
	trigger_read(ffd, 100, &f);
	ASSERT_EQ(RSP_SIZE, respond(ffd, f.cookie, IOMMUFD_PAGE_RESP_SUCCESS));
	/* A PASID nothing is attached to: answered by the core, not queued */
	ASSERT_EQ(0, be_trigger_iopf(BE, self->dev, self->idev, 101,
				     IOPF_GRPID, IOPF_PERM, IOPF_ADDR));
	ASSERT_EQ(0, read(ffd, &g, sizeof(g)));

	/* Read but unanswered when its PASID is detached: answered for us */
	trigger_read(ffd, 100, &f);
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_DETACH, self->dev, 100, NULL));
	ASSERT_EQ(-1, respond(ffd, f.cookie, IOMMUFD_PAGE_RESP_SUCCESS));
	EXPECT_EQ(EINVAL, errno);
	/* The PASID again, on a HWPT without a fault queue: not queued */
	pt = self->b;
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_ATTACH, self->dev, 100, &pt));
	ASSERT_EQ(0, be_trigger_iopf(BE, self->dev, self->idev, 100,
				     IOPF_GRPID, IOPF_PERM, IOPF_ADDR));
	ASSERT_EQ(0, read(ffd, &g, sizeof(g)));
	/* and replaced by the fault-capable one */
	pt = fhwpt;
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_REPLACE, self->dev, 100, &pt));
	trigger_read(ffd, 100, &f);
	ASSERT_EQ(RSP_SIZE, respond(ffd, f.cookie, IOMMUFD_PAGE_RESP_SUCCESS));
	ASSERT_EQ(0, be_pasid(BE, BE_PASID_DETACH, self->dev, 100, NULL));

	/* Queued, unread, when the RID is replaced: dropped from the queue */
	ASSERT_EQ(0, be_trigger_iopf(BE, self->dev, self->idev, 0, IOPF_GRPID,
				     IOPF_PERM, IOPF_ADDR));
	pt = self->a;
	ASSERT_EQ(0, BE->ops->replace(BE, self->dev, &pt));
	ASSERT_EQ(0, read(ffd, &g, sizeof(g)));
	ASSERT_EQ(0, be_trigger_iopf(BE, self->dev, self->idev, 0, IOPF_GRPID,
				     IOPF_PERM, IOPF_ADDR));
	ASSERT_EQ(0, read(ffd, &g, sizeof(g)));

	/* Left pending on the RID for the teardown to answer */
	pt = fhwpt;
	ASSERT_EQ(0, BE->ops->replace(BE, self->dev, &pt));
	trigger_read(ffd, 0, &f);
	ASSERT_EQ(0, be_trigger_iopf(BE, self->dev, self->idev, 0, IOPF_GRPID,
				     IOPF_PERM, IOPF_ADDR));
	close(ffd);
}

/* A fault-capable nested HWPT on the RID */
TEST_F(pasid, iopf_nested)
{
	struct iommu_hwpt_selftest data = { .iotlb = 0x33 };
	uint32_t fault_id, parent, nested, pt;
	struct iommu_hwpt_pgfault f;
	int ffd;

	ASSERT_EQ(0, fault_alloc(FD, &fault_id, &ffd));
	ASSERT_EQ(0, hwpt_alloc(FD, self->idev, self->ioas,
				IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0,
				&parent));
	/* A NEST_PARENT cannot take a fault queue */
	ASSERT_EQ(-1, fault_hwpt_alloc(FD, self->idev, self->ioas,
				       IOMMU_HWPT_ALLOC_NEST_PARENT, fault_id,
				       NULL, 0, &pt));
	EXPECT_EQ(EOPNOTSUPP, errno);
	ASSERT_EQ(0, fault_hwpt_alloc(FD, self->idev, parent, 0, fault_id,
				      &data, sizeof(data), &nested));
	pt = nested;
	ASSERT_EQ(0, BE->ops->replace(BE, self->dev, &pt));
	trigger_read(ffd, 0, &f);
	ASSERT_EQ(RSP_SIZE, respond(ffd, f.cookie, IOMMUFD_PAGE_RESP_SUCCESS));
	pt = self->a;
	ASSERT_EQ(0, BE->ops->replace(BE, self->dev, &pt));
	ASSERT_EQ(0, destroy(FD, nested));
	ASSERT_EQ(0, destroy(FD, parent));
	close(ffd);
}

/* --- vIOMMU ------------------------------------------------------------- */

FIXTURE(viommu) {
	int fd;
	struct backend be;
	uint32_t ioas, dev, idev, hwpt, parent, viommu;
};

FIXTURE_VARIANT(viommu) {
	const struct backend_ops *backend;
};

FIXTURE_VARIANT_ADD(viommu, c_mock) {
	.backend = &c_mock_ops,
};

FIXTURE_VARIANT_ADD(viommu, rust_mock) {
	.backend = &rust_mock_ops,
};

FIXTURE_SETUP(viommu)
{
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, backend_open(&self->be, variant->backend, self->fd))
		TH_LOG("%s backend unavailable: %s", variant->backend->name,
		       strerror(errno));
	ASSERT_EQ(0, ioas_alloc(FD, &self->ioas));
	ASSERT_EQ(0, BE->ops->dev_add(BE, self->ioas, 0, &self->dev,
				      &self->idev, &self->hwpt));
	ASSERT_EQ(0, hwpt_alloc(FD, self->idev, self->ioas,
				IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0,
				&self->parent));
	ASSERT_EQ(0, viommu_alloc(FD, self->idev, self->parent,
				  IOMMU_VIOMMU_TYPE_SELFTEST, NULL, 0,
				  &self->viommu));
}

FIXTURE_TEARDOWN(viommu)
{
	backend_close(&self->be);
	close(self->fd);
}

/*
 * A fault-capable nested HWPT on the vIOMMU (upstream's
 * viommu_alloc_nested_iopf): the fault id is checked, the RID attaches
 * once the device has a vDEVICE, and a page request reaches the queue.
 */
TEST_F(viommu, nested_iopf)
{
	struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
	struct iommu_hwpt_pgfault f;
	uint32_t fault_id, nested, vdev, pt;
	int ffd;

	ASSERT_EQ(0, fault_alloc(FD, &fault_id, &ffd));
	ASSERT_EQ(-1, fault_hwpt_alloc(FD, self->idev, self->viommu, 0,
				       UINT32_MAX, &data, sizeof(data),
				       &nested));
	EXPECT_EQ(ENOENT, errno);
	ASSERT_EQ(-1, fault_hwpt_alloc(FD, self->idev, self->viommu, 1u << 31,
				       fault_id, &data, sizeof(data), &nested));
	EXPECT_EQ(EOPNOTSUPP, errno);
	ASSERT_EQ(0, fault_hwpt_alloc(FD, self->idev, self->viommu, 0,
				      fault_id, &data, sizeof(data), &nested));
	/* A vDEVICE first */
	pt = nested;
	ASSERT_EQ(-1, BE->ops->replace(BE, self->dev, &pt));
	EXPECT_EQ(ENOENT, errno);
	ASSERT_EQ(0, vdevice_alloc(FD, self->viommu, self->idev, 0x99, &vdev));
	pt = nested;
	ASSERT_EQ(0, BE->ops->replace(BE, self->dev, &pt));
	ASSERT_EQ(-1, destroy(FD, nested));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, be_trigger_iopf(BE, self->dev, self->idev, 0, IOPF_GRPID,
				     IOPF_PERM, IOPF_ADDR));
	ASSERT_EQ(PGF_SIZE, read(ffd, &f, sizeof(f)));
	EXPECT_EQ(IOMMU_PGFAULT_FLAGS_LAST_PAGE, f.flags);
	EXPECT_EQ(self->idev, f.dev_id);
	EXPECT_EQ(IOPF_ADDR, f.addr);
	ASSERT_EQ(RSP_SIZE, respond(ffd, f.cookie, IOMMUFD_PAGE_RESP_SUCCESS));
	pt = self->ioas;
	ASSERT_EQ(0, BE->ops->replace(BE, self->dev, &pt));
	ASSERT_EQ(0, destroy(FD, nested));
	close(ffd);
	ASSERT_EQ(0, destroy(FD, fault_id));
}

TEST_F(viommu, alloc_loopback_data)
{
	struct iommu_viommu_selftest data = { .in_data = 0xfacecafe };
	uint32_t v, *page;

	ASSERT_EQ(0, viommu_alloc(FD, self->idev, self->parent,
				  IOMMU_VIOMMU_TYPE_SELFTEST, &data,
				  sizeof(data), &v));
	ASSERT_EQ(data.in_data, data.out_data);
	ASSERT_EQ(2 * PAGE_4K, data.out_mmap_length);
	page = mmap(NULL, data.out_mmap_length, PROT_READ, MAP_SHARED, FD,
		    data.out_mmap_offset);
	ASSERT_NE(MAP_FAILED, page);
	ASSERT_EQ(data.in_data, page[0]);
	ASSERT_EQ(0, page[1]);
	munmap(page, data.out_mmap_length);
	ASSERT_EQ(0, destroy(FD, v));
}

TEST_F(viommu, alloc_errors)
{
	struct iommu_viommu_selftest data = { .in_data = 1 };
	uint32_t plain, v;

	/* Unknown type */
	ASSERT_EQ(-1, viommu_alloc(FD, self->idev, self->parent, 0x1234, NULL,
				   0, &v));
	ASSERT_EQ(EOPNOTSUPP, errno);
	/* Parent without NEST_PARENT */
	ASSERT_EQ(0, hwpt_alloc(FD, self->idev, self->ioas, 0, 0, NULL, 0,
				&plain));
	ASSERT_EQ(-1, viommu_alloc(FD, self->idev, plain,
				   IOMMU_VIOMMU_TYPE_SELFTEST, NULL, 0, &v));
	ASSERT_EQ(EINVAL, errno);
	/* Data shorter than its first version */
	ASSERT_EQ(-1, viommu_alloc(FD, self->idev, self->parent,
				   IOMMU_VIOMMU_TYPE_SELFTEST, &data, 4, &v));
	ASSERT_EQ(EINVAL, errno);
	/* Data longer than the struct */
	ASSERT_EQ(-1, viommu_alloc(FD, self->idev, self->parent,
				   IOMMU_VIOMMU_TYPE_SELFTEST, &data,
				   sizeof(data) + 8, &v));
	ASSERT_EQ(EINVAL, errno);
	/* Faulting data */
	ASSERT_EQ(-1, viommu_alloc(FD, self->idev, self->parent,
				   IOMMU_VIOMMU_TYPE_SELFTEST, (void *)8,
				   sizeof(data), &v));
	ASSERT_EQ(EFAULT, errno);
}

TEST_F(viommu, vdevice_alloc_and_duplicates)
{
	uint32_t vdev, vdev2, dev2, idev2, hwpt2;

	ASSERT_EQ(0, vdevice_alloc(FD, self->viommu, self->idev, 0x99, &vdev));
	/* The same device twice */
	ASSERT_EQ(-1, vdevice_alloc(FD, self->viommu, self->idev, 0x98, &vdev2));
	ASSERT_EQ(EEXIST, errno);
	/* The same virtual id for another device */
	ASSERT_EQ(0, BE->ops->dev_add(BE, self->ioas, 0, &dev2, &idev2, &hwpt2));
	ASSERT_EQ(-1, vdevice_alloc(FD, self->viommu, idev2, 0x99, &vdev2));
	ASSERT_EQ(EEXIST, errno);
	ASSERT_EQ(0, vdevice_alloc(FD, self->viommu, idev2, 0x98, &vdev2));
	/* A vIOMMU with vDEVICEs is busy */
	ASSERT_EQ(-1, destroy(FD, self->viommu));
	ASSERT_EQ(EBUSY, errno);
	ASSERT_EQ(0, destroy(FD, vdev2));
	ASSERT_EQ(0, destroy(FD, vdev));
	ASSERT_EQ(-1, destroy(FD, vdev));
	ASSERT_EQ(ENOENT, errno);
	ASSERT_EQ(0, BE->ops->dev_remove(BE, dev2));
	ASSERT_EQ(0, destroy(FD, self->viommu));
}

TEST_F(viommu, nested_on_viommu)
{
	uint32_t vdev, nested, pt;

	ASSERT_EQ(0, nested_alloc(FD, self->idev, self->viommu, 0, 0x77,
				  &nested));
	ASSERT_EQ(0, BE->ops->check_iotlb(BE, nested, 3, 0x77));
	/* Attaching needs a vDEVICE of the device on that vIOMMU. */
	pt = nested;
	ASSERT_EQ(-1, BE->ops->replace(BE, self->dev, &pt));
	ASSERT_EQ(ENOENT, errno);
	ASSERT_EQ(0, vdevice_alloc(FD, self->viommu, self->idev, 0x5, &vdev));
	pt = nested;
	ASSERT_EQ(0, BE->ops->replace(BE, self->dev, &pt));
	ASSERT_EQ(nested, pt);
	/* Busy while the nested HWPT holds it */
	ASSERT_EQ(-1, destroy(FD, self->viommu));
	ASSERT_EQ(EBUSY, errno);
	pt = self->parent;
	ASSERT_EQ(0, BE->ops->replace(BE, self->dev, &pt));
	ASSERT_EQ(0, destroy(FD, nested));
	ASSERT_EQ(0, destroy(FD, vdev));
	ASSERT_EQ(0, destroy(FD, self->viommu));
}

/*
 * Hardware queues (IOMMU_HW_QUEUE_ALLOC): the core's checks, then the
 * mock's (mock_hw_queue_init_phys()): indexes below IOMMU_TEST_HW_QUEUE_MAX,
 * one queue per index, queue i > 0 only after queue i - 1, on which it
 * depends until it is destroyed.
 */
TEST_F(viommu, hw_queue)
{
	const uint32_t ty = IOMMU_HW_QUEUE_TYPE_SELFTEST;
	uint64_t iova = APERTURE_START, iova2 = APERTURE_START + PAGE_4K;
	uint32_t q0, q1, q, v2, p2;
	uint8_t *buf = alloc_buf(2 * PAGE_4K);

	ASSERT_NE(NULL, buf);
	/* Core: type DEFAULT, zero length, overflow, not a vIOMMU */
	ASSERT_ERRNO(EOPNOTSUPP, hw_queue_alloc(FD, self->viommu,
						IOMMU_HW_QUEUE_TYPE_DEFAULT, 0,
						iova, PAGE_4K, &q));
	ASSERT_ERRNO(EINVAL, hw_queue_alloc(FD, self->viommu, ty, 0, iova, 0,
					    &q));
	ASSERT_ERRNO(EOVERFLOW, hw_queue_alloc(FD, self->viommu, ty, 0,
					       ~(uint64_t)0, PAGE_4K, &q));
	ASSERT_ERRNO(ENOENT, hw_queue_alloc(FD, self->ioas, ty, 0, iova,
					    PAGE_4K, &q));
	/* Driver: a type it does not offer */
	ASSERT_ERRNO(EOPNOTSUPP, hw_queue_alloc(FD, self->viommu, 0x1234, 0,
						iova, PAGE_4K, &q));
	/* Core: nothing mapped at the IOVA */
	ASSERT_ERRNO(ENOENT, hw_queue_alloc(FD, self->viommu, ty, 0, iova,
					    PAGE_4K, &q));
	ASSERT_OK(ioas_map_fixed(FD, self->ioas, buf, PAGE_4K, iova));
	ASSERT_OK(ioas_map_fixed(FD, self->ioas, buf + PAGE_4K, PAGE_4K,
				 iova2));
	/* Index 1 before 0; index MAX and beyond */
	ASSERT_ERRNO(EIO, hw_queue_alloc(FD, self->viommu, ty, 1, iova,
					 PAGE_4K, &q));
	ASSERT_ERRNO(EINVAL, hw_queue_alloc(FD, self->viommu, ty,
					    IOMMU_TEST_HW_QUEUE_MAX, iova,
					    PAGE_4K, &q));
	ASSERT_ERRNO(EINVAL, hw_queue_alloc(FD, self->viommu, ty, ~0u, iova,
					    PAGE_4K, &q));
	ASSERT_OK(hw_queue_alloc(FD, self->viommu, ty, 0, iova, PAGE_4K, &q0));
	/* One queue per index */
	ASSERT_ERRNO(EEXIST, hw_queue_alloc(FD, self->viommu, ty, 0, iova2,
					    PAGE_4K, &q));
	/* The queue's page is pinned, the other is not */
	ASSERT_ERRNO(EBUSY, ioas_unmap(FD, self->ioas, iova, PAGE_4K));
	ASSERT_OK(ioas_unmap(FD, self->ioas, iova2, PAGE_4K));
	/* Index 1, unaligned, within the first page */
	ASSERT_OK(hw_queue_alloc(FD, self->viommu, ty, 1, iova + PAGE_4K / 2,
				 PAGE_4K / 2, &q1));
	ASSERT_ERRNO(EEXIST, hw_queue_alloc(FD, self->viommu, ty, 1, iova,
					    PAGE_4K, &q));
	/* Queue 1 depends on queue 0; both hold the vIOMMU */
	ASSERT_ERRNO(EBUSY, destroy(FD, q0));
	ASSERT_ERRNO(EBUSY, destroy(FD, self->viommu));
	ASSERT_OK(destroy(FD, q1));
	ASSERT_ERRNO(ENOENT, destroy(FD, q1));
	ASSERT_ERRNO(EBUSY, destroy(FD, self->viommu));
	ASSERT_OK(destroy(FD, q0));
	ASSERT_OK(ioas_unmap(FD, self->ioas, iova, PAGE_4K));
	/* Nothing mapped any more */
	ASSERT_ERRNO(ENOENT, hw_queue_alloc(FD, self->viommu, ty, 0, iova,
					    PAGE_4K, &q));
	ASSERT_OK(destroy(FD, self->viommu));

	/*
	 * A second vIOMMU: its queues are its own; leave both queues for
	 * closing the file to tear down, dependency first.
	 */
	ASSERT_OK(ioas_map_fixed(FD, self->ioas, buf, PAGE_4K, iova));
	ASSERT_OK(hwpt_alloc(FD, self->idev, self->ioas,
			     IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0, &p2));
	ASSERT_OK(viommu_alloc(FD, self->idev, p2, IOMMU_VIOMMU_TYPE_SELFTEST,
			       NULL, 0, &v2));
	ASSERT_ERRNO(EIO, hw_queue_alloc(FD, v2, ty, 1, iova, PAGE_4K, &q));
	ASSERT_OK(hw_queue_alloc(FD, v2, ty, 0, iova, PAGE_4K, &q0));
	ASSERT_OK(hw_queue_alloc(FD, v2, ty, 1, iova, PAGE_4K, &q1));
	/*
	 * 7.3's C mock never records a queue's index (mock_hw_queue->index
	 * stays 0), so destroying queue 1 empties slot 0 and leaves slot 1
	 * taken: a queue 1 made again gets EEXIST.  riommu_mock frees the
	 * index it was given, as the C mock means to.
	 */
	if (IS_RUST) {
		ASSERT_OK(destroy(FD, q1));
		ASSERT_OK(hw_queue_alloc(FD, v2, ty, 1, iova, PAGE_4K, &q1));
		ASSERT_ERRNO(EBUSY, destroy(FD, q0));
	}
	munmap(buf, 2 * PAGE_4K);
}

/*
 * IOMMU_HW_QUEUE_ALLOC whose answer cannot be written back (the command in a
 * read-only page): the driver's hw_queue_init_phys has succeeded, then
 * iommufd_ucmd_respond() fails with EFAULT and iommufd_fops_ioctl() aborts
 * the queue with iommufd_object_abort_and_destroy(), which calls the
 * queue's destroy before freeing it.  Nothing of the queue may be left: its
 * index is free again, the queue it depended on can be destroyed, its
 * pages are unpinned and the vIOMMU's users drop back.
 */
static int hw_queue_alloc_ro(int fd, uint32_t viommu_id, uint32_t index,
			     uint64_t iova)
{
	struct iommu_hw_queue_alloc cmd = {
		.size = sizeof(cmd),
		.viommu_id = viommu_id,
		.type = IOMMU_HW_QUEUE_TYPE_SELFTEST,
		.index = index,
		.nesting_parent_iova = iova,
		.length = PAGE_4K,
	};

	return ioctl_ro(fd, IOMMU_HW_QUEUE_ALLOC, &cmd, sizeof(cmd));
}

TEST_F(viommu, hw_queue_respond_fault)
{
	const uint32_t ty = IOMMU_HW_QUEUE_TYPE_SELFTEST;
	uint64_t iova = APERTURE_START;
	uint8_t *buf = alloc_buf(PAGE_4K);
	uint32_t q0, q1;

	ASSERT_NE(NULL, buf);
	ASSERT_OK(ioas_map_fixed(FD, self->ioas, buf, PAGE_4K, iova));
	/* Queue 0 aborted after its init: index 0 free, nothing pinned */
	ASSERT_ERRNO(EFAULT, hw_queue_alloc_ro(FD, self->viommu, 0, iova));
	ASSERT_OK(ioas_unmap(FD, self->ioas, iova, PAGE_4K));
	ASSERT_OK(ioas_map_fixed(FD, self->ioas, buf, PAGE_4K, iova));
	ASSERT_OK(hw_queue_alloc(FD, self->viommu, ty, 0, iova, PAGE_4K, &q0));
	/* Queue 1 aborted after it took its dependency on queue 0 */
	ASSERT_ERRNO(EFAULT, hw_queue_alloc_ro(FD, self->viommu, 1, iova));
	ASSERT_OK(destroy(FD, q0));
	ASSERT_OK(ioas_unmap(FD, self->ioas, iova, PAGE_4K));
	/*
	 * 7.3's C mock clears slot 0 for any queue (mock_hw_queue->index
	 * stays 0), so its aborted queue 1 leaves slot 1 taken; riommu_mock
	 * frees index 1 again.
	 */
	if (IS_RUST) {
		ASSERT_OK(ioas_map_fixed(FD, self->ioas, buf, PAGE_4K, iova));
		ASSERT_OK(hw_queue_alloc(FD, self->viommu, ty, 0, iova,
					 PAGE_4K, &q0));
		ASSERT_OK(hw_queue_alloc(FD, self->viommu, ty, 1, iova,
					 PAGE_4K, &q1));
		ASSERT_OK(destroy(FD, q1));
		ASSERT_OK(destroy(FD, q0));
		ASSERT_OK(ioas_unmap(FD, self->ioas, iova, PAGE_4K));
	}
	/* No queue is left holding the vIOMMU */
	ASSERT_OK(destroy(FD, self->viommu));
	munmap(buf, PAGE_4K);
}

TEST_F(viommu, invalidate)
{
	struct iommu_viommu_invalidate_selftest inv[3];
	struct iommu_hwpt_invalidate bad_type = {
		.size = sizeof(bad_type),
		.data_type = IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST_INVALID,
		.entry_len = sizeof(inv[0]),
		.entry_num = 0,
	};
	uint32_t ext[2][4] = { { 0, 0x11, 0, 0 }, { 0, 0x11, 1, 7 } };
	uint32_t vdev, num;
	int i;

	ASSERT_EQ(0, vdevice_alloc(FD, self->viommu, self->idev, 0x11, &vdev));
	for (i = 0; i < MOCK_DEV_CACHE_NUM; i++) {
		ASSERT_EQ(0, vdev_check_cache(BE, self->idev, self->viommu, 0x11,
					      i, IOMMU_TEST_DEV_CACHE_DEFAULT));
	}
	/* entry_num 0 with the right type: a type probe */
	num = 0;
	ASSERT_EQ(0, pv_viommu_invalidate(FD, self->viommu, inv, sizeof(inv[0]),
				       &num));
	ASSERT_EQ(0, num);
	/* One slot */
	inv[0] = (struct iommu_viommu_invalidate_selftest){ .vdev_id = 0x11,
							    .cache_id = 1 };
	num = 1;
	ASSERT_EQ(0, pv_viommu_invalidate(FD, self->viommu, inv, sizeof(inv[0]),
				       &num));
	ASSERT_EQ(1, num);
	ASSERT_EQ(0, vdev_check_cache(BE, self->idev, self->viommu, 0x11, 1, 0));
	ASSERT_EQ(0, vdev_check_cache(BE, self->idev, self->viommu, 0x11, 2,
				      IOMMU_TEST_DEV_CACHE_DEFAULT));
	/* A bad vdev_id in the middle */
	inv[0] = (struct iommu_viommu_invalidate_selftest){ .vdev_id = 0x11,
							    .cache_id = 2 };
	inv[1] = (struct iommu_viommu_invalidate_selftest){ .vdev_id = 0x12 };
	inv[2] = (struct iommu_viommu_invalidate_selftest){ .vdev_id = 0x11,
							    .cache_id = 3 };
	num = 3;
	ASSERT_EQ(-1, pv_viommu_invalidate(FD, self->viommu, inv, sizeof(inv[0]),
					&num));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(1, num);
	ASSERT_EQ(0, vdev_check_cache(BE, self->idev, self->viommu, 0x11, 2, 0));
	ASSERT_EQ(0, vdev_check_cache(BE, self->idev, self->viommu, 0x11, 3,
				      IOMMU_TEST_DEV_CACHE_DEFAULT));
	/* Bad flags, bad cache id */
	inv[0] = (struct iommu_viommu_invalidate_selftest){ .flags = 0x80,
							    .vdev_id = 0x11 };
	num = 1;
	ASSERT_EQ(-1, pv_viommu_invalidate(FD, self->viommu, inv, sizeof(inv[0]),
					&num));
	ASSERT_EQ(EOPNOTSUPP, errno);
	ASSERT_EQ(0, num);
	inv[0] = (struct iommu_viommu_invalidate_selftest){ .vdev_id = 0x11,
							    .cache_id = 4 };
	num = 1;
	ASSERT_EQ(-1, pv_viommu_invalidate(FD, self->viommu, inv, sizeof(inv[0]),
					&num));
	ASSERT_EQ(EINVAL, errno);
	/* A wrong type with entry_num 0 is refused */
	bad_type.hwpt_id = self->viommu;
	bad_type.data_uptr = (uintptr_t)inv;
	ASSERT_EQ(-1, ioctl(FD, IOMMU_HWPT_INVALIDATE, &bad_type));
	ASSERT_EQ(EINVAL, errno);
	/* The ALL flag: cache_id is still range-checked first (EINVAL) */
	inv[0] = (struct iommu_viommu_invalidate_selftest){
		.flags = IOMMU_TEST_INVALIDATE_FLAG_ALL, .vdev_id = 0x11,
		.cache_id = 9 };
	num = 1;
	ASSERT_EQ(-1, pv_viommu_invalidate(FD, self->viommu, inv,
					   sizeof(inv[0]), &num));
	ASSERT_EQ(EINVAL, errno);
	inv[0].cache_id = 0;
	num = 1;
	ASSERT_EQ(0, pv_viommu_invalidate(FD, self->viommu, inv, sizeof(inv[0]),
				       &num));
	for (i = 0; i < MOCK_DEV_CACHE_NUM; i++) {
		ASSERT_EQ(0, vdev_check_cache(BE, self->idev, self->viommu, 0x11,
					      i, 0));
	}
	/* entry_len longer, zero tail: accepted; non-zero tail: E2BIG */
	num = 1;
	ASSERT_EQ(0, pv_viommu_invalidate(FD, self->viommu, ext, sizeof(ext[0]),
					  &num));
	num = 2;
	ASSERT_EQ(-1, pv_viommu_invalidate(FD, self->viommu, ext,
					   sizeof(ext[0]), &num));
	ASSERT_EQ(E2BIG, errno);
	ASSERT_EQ(0, num);
	ASSERT_EQ(0, destroy(FD, vdev));
}

/* Every cache slot of the device (@dev/@idev) holds @value */
#define ASSERT_DEV_CACHE_ALL(dev, idev, value)                               \
	do {                                                                 \
		unsigned int __i;                                            \
		for (__i = 0; __i < MOCK_DEV_CACHE_NUM; __i++)               \
			ASSERT_OK(be_dev_check_cache(BE, (dev), (idev), __i, \
						     (value)));              \
	} while (0)

/*
 * The cache slots belong to the device (C: struct mock_dev's cache[]):
 * IOMMU_TEST_OP_DEV_CHECK_CACHE and RIOMMU_MOCK_CHECK_DEV_CACHE read them by
 * device; vIOMMU invalidations reach them through the device's vDEVICE; they
 * outlive the vDEVICE.
 */
TEST_F(viommu, dev_cache)
{
	struct iommu_viommu_invalidate_selftest inv = {};
	uint32_t vdev, vdev2, dev2, idev2, hwpt2, dev3, idev3, hwpt3, num;

	/* A fresh device, no vDEVICE: every slot at the default */
	ASSERT_DEV_CACHE_ALL(self->dev, self->idev,
			     IOMMU_TEST_DEV_CACHE_DEFAULT);
	/* A mismatch, bad slots, an unknown device */
	ASSERT_ERRNO(EINVAL, be_dev_check_cache(BE, self->dev, self->idev, 0,
						0));
	ASSERT_ERRNO(EINVAL, be_dev_check_cache(BE, self->dev, self->idev,
						MOCK_DEV_CACHE_ID_MAX + 1,
						IOMMU_TEST_DEV_CACHE_DEFAULT));
	ASSERT_ERRNO(EINVAL, be_dev_check_cache(BE, self->dev, self->idev,
						0xffffffffu,
						IOMMU_TEST_DEV_CACHE_DEFAULT));
	ASSERT_ERRNO(ENOENT, be_dev_check_cache(BE, BAD_ID, BAD_ID, 0,
						IOMMU_TEST_DEV_CACHE_DEFAULT));

	/* An invalidation through the vDEVICE clears the device's slot */
	ASSERT_OK(vdevice_alloc(FD, self->viommu, self->idev, 0x21, &vdev));
	ASSERT_DEV_CACHE_ALL(self->dev, self->idev,
			     IOMMU_TEST_DEV_CACHE_DEFAULT);
	inv = (struct iommu_viommu_invalidate_selftest){ .vdev_id = 0x21,
							 .cache_id = 2 };
	num = 1;
	ASSERT_OK(viommu_inv_selftest(FD, self->viommu, &inv, &num));
	ASSERT_EQ(1, num);
	ASSERT_OK(be_dev_check_cache(BE, self->dev, self->idev, 2, 0));
	ASSERT_ERRNO(EINVAL, be_dev_check_cache(BE, self->dev, self->idev, 2,
						IOMMU_TEST_DEV_CACHE_DEFAULT));
	ASSERT_OK(be_dev_check_cache(BE, self->dev, self->idev, 0,
				     IOMMU_TEST_DEV_CACHE_DEFAULT));
	ASSERT_OK(be_dev_check_cache(BE, self->dev, self->idev, 1,
				     IOMMU_TEST_DEV_CACHE_DEFAULT));
	ASSERT_OK(be_dev_check_cache(BE, self->dev, self->idev, 3,
				     IOMMU_TEST_DEV_CACHE_DEFAULT));
	/* riommu_mock's by-vDEVICE view sees the same slots */
	ASSERT_OK(vdev_check_cache(BE, self->idev, self->viommu, 0x21, 2, 0));

	/* FLAG_ALL on another device's vDEVICE: only that device's slots */
	ASSERT_OK(BE->ops->dev_add(BE, self->ioas, 0, &dev2, &idev2, &hwpt2));
	ASSERT_OK(vdevice_alloc(FD, self->viommu, idev2, 0x22, &vdev2));
	inv = (struct iommu_viommu_invalidate_selftest){
		.flags = IOMMU_TEST_INVALIDATE_FLAG_ALL, .vdev_id = 0x22 };
	num = 1;
	ASSERT_OK(viommu_inv_selftest(FD, self->viommu, &inv, &num));
	ASSERT_DEV_CACHE_ALL(dev2, idev2, 0);
	ASSERT_OK(be_dev_check_cache(BE, self->dev, self->idev, 1,
				     IOMMU_TEST_DEV_CACHE_DEFAULT));
	ASSERT_OK(be_dev_check_cache(BE, self->dev, self->idev, 2, 0));

	/* The slots outlive the vDEVICE and are not reset by a new one */
	ASSERT_OK(destroy(FD, vdev));
	ASSERT_OK(be_dev_check_cache(BE, self->dev, self->idev, 2, 0));
	ASSERT_OK(be_dev_check_cache(BE, self->dev, self->idev, 3,
				     IOMMU_TEST_DEV_CACHE_DEFAULT));
	ASSERT_OK(vdevice_alloc(FD, self->viommu, self->idev, 0x23, &vdev));
	ASSERT_OK(be_dev_check_cache(BE, self->dev, self->idev, 2, 0));
	ASSERT_OK(vdev_check_cache(BE, self->idev, self->viommu, 0x23, 2, 0));
	/* The old virtual id is gone: the invalidation fails, nothing moves */
	inv = (struct iommu_viommu_invalidate_selftest){ .vdev_id = 0x21,
							 .cache_id = 3 };
	num = 1;
	ASSERT_ERRNO(EINVAL, viommu_inv_selftest(FD, self->viommu, &inv,
						 &num));
	ASSERT_EQ(0, num);
	ASSERT_OK(be_dev_check_cache(BE, self->dev, self->idev, 3,
				     IOMMU_TEST_DEV_CACHE_DEFAULT));

	/* A device made later starts at the default; a removed one is gone */
	ASSERT_OK(BE->ops->dev_add(BE, self->ioas, 0, &dev3, &idev3, &hwpt3));
	ASSERT_DEV_CACHE_ALL(dev3, idev3, IOMMU_TEST_DEV_CACHE_DEFAULT);
	ASSERT_OK(BE->ops->dev_remove(BE, dev3));
	ASSERT_ERRNO(ENOENT, be_dev_check_cache(BE, dev3, idev3, 0,
						IOMMU_TEST_DEV_CACHE_DEFAULT));

	ASSERT_OK(destroy(FD, vdev2));
	ASSERT_OK(destroy(FD, vdev));
	ASSERT_OK(BE->ops->dev_remove(BE, dev2));
}

/* Read one selftest vEVENT from @qfd: its virt_id, or -1 */
static long read_one_vevent(int qfd)
{
	uint32_t buf[16];
	ssize_t n = read(qfd, buf, sizeof(buf));

	/* header {flags, sequence} + {virt_id} */
	if (n != 12 || buf[0] != 0)
		return -1;
	return buf[2];
}

/*
 * TRIGGER_VEVENT by device, the C mock's way: the event goes to the vIOMMU
 * of the nested HWPT the RID is attached to, with the virtual id recorded
 * at that attach; ENOENT otherwise.
 */
TEST_F(viommu, dev_trigger_vevent)
{
	uint32_t vdev, nested, pt, qid, dev2, idev2, hwpt2, vdev2;
	struct pollfd pfd = { .events = POLLIN };
	int qfd;

	/* Unknown device; no vDEVICE; a vDEVICE but the RID not nested */
	ASSERT_ERRNO(ENOENT, be_dev_trigger_vevent(BE, BAD_ID, BAD_ID));
	ASSERT_ERRNO(ENOENT, be_dev_trigger_vevent(BE, self->dev, self->idev));
	ASSERT_OK(veventq_alloc(FD, self->viommu, IOMMU_VEVENTQ_TYPE_SELFTEST,
				4, &qid, &qfd));
	ASSERT_OK(vdevice_alloc(FD, self->viommu, self->idev, 0x42, &vdev));
	ASSERT_ERRNO(ENOENT, be_dev_trigger_vevent(BE, self->dev, self->idev));

	/* Attached to a nested HWPT of the vIOMMU: reported */
	ASSERT_OK(hwpt_alloc_nested(FD, self->idev, self->viommu, 0, 0,
				    &nested));
	pt = nested;
	ASSERT_OK(BE->ops->replace(BE, self->dev, &pt));
	ASSERT_OK(be_dev_trigger_vevent(BE, self->dev, self->idev));
	ASSERT_EQ(0x42, read_one_vevent(qfd));

	/* Back on the parent (another domain, no vIOMMU): ENOENT again */
	pt = self->parent;
	ASSERT_OK(BE->ops->replace(BE, self->dev, &pt));
	ASSERT_ERRNO(ENOENT, be_dev_trigger_vevent(BE, self->dev, self->idev));
	pfd.fd = qfd;
	ASSERT_EQ(0, poll(&pfd, 1, 0));

	/* No vEVENTQ of the type: the core's EOPNOTSUPP */
	pt = nested;
	ASSERT_OK(BE->ops->replace(BE, self->dev, &pt));
	close(qfd);
	ASSERT_OK(destroy(FD, qid));
	ASSERT_ERRNO(EOPNOTSUPP,
		     be_dev_trigger_vevent(BE, self->dev, self->idev));
	pt = self->parent;
	ASSERT_OK(BE->ops->replace(BE, self->dev, &pt));

	/* Virtual id 0 counts as none in the C mock (ENOENT) */
	ASSERT_OK(BE->ops->dev_add(BE, self->ioas, 0, &dev2, &idev2, &hwpt2));
	ASSERT_OK(vdevice_alloc(FD, self->viommu, idev2, 0, &vdev2));
	ASSERT_OK(veventq_alloc(FD, self->viommu, IOMMU_VEVENTQ_TYPE_SELFTEST,
				4, &qid, &qfd));
	pt = nested;
	ASSERT_OK(BE->ops->replace(BE, dev2, &pt));
	ASSERT_ERRNO(ENOENT, be_dev_trigger_vevent(BE, dev2, idev2));
	/* The other device, attached again, still reports its own id */
	pt = nested;
	ASSERT_OK(BE->ops->replace(BE, self->dev, &pt));
	ASSERT_OK(be_dev_trigger_vevent(BE, self->dev, self->idev));
	ASSERT_EQ(0x42, read_one_vevent(qfd));

	pt = self->parent;
	ASSERT_OK(BE->ops->replace(BE, dev2, &pt));
	pt = self->parent;
	ASSERT_OK(BE->ops->replace(BE, self->dev, &pt));
	close(qfd);
	ASSERT_OK(destroy(FD, qid));
	ASSERT_OK(destroy(FD, nested));
	ASSERT_OK(destroy(FD, vdev2));
	ASSERT_OK(destroy(FD, vdev));
	ASSERT_OK(BE->ops->dev_remove(BE, dev2));
}

TEST_F(viommu, vevent)
{
	struct iommu_veventq_alloc eq = {
		.size = sizeof(eq),
		.type = IOMMU_VEVENTQ_TYPE_SELFTEST,
		.veventq_depth = 2,
	};
	uint32_t vdev, nested, pt, buf[16];
	ssize_t n;
	int i;

	ASSERT_EQ(0, vdevice_alloc(FD, self->viommu, self->idev, 0x42, &vdev));
	ASSERT_EQ(0, nested_alloc(FD, self->idev, self->viommu, 0, 0, &nested));
	pt = nested;
	ASSERT_EQ(0, BE->ops->replace(BE, self->dev, &pt));
	/* No vEVENTQ yet */
	ASSERT_EQ(-1, be_trigger_vevent(BE, self->idev, self->viommu, 0x42));
	ASSERT_EQ(EOPNOTSUPP, errno);
	eq.viommu_id = self->viommu;
	ASSERT_EQ(0, ioctl(FD, IOMMU_VEVENTQ_ALLOC, &eq));
	ASSERT_EQ(0, be_trigger_vevent(BE, self->idev, self->viommu, 0x42));
	n = read(eq.out_veventq_fd, buf, sizeof(buf));
	ASSERT_EQ(12, n);	/* header {flags, sequence} + {virt_id} */
	ASSERT_EQ(0, buf[0]);
	ASSERT_EQ(0, buf[1]);
	ASSERT_EQ(0x42, buf[2]);
	/* Overflow: depth 2, three events: two events and a lost-events mark */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, be_trigger_vevent(BE, self->idev, self->viommu, 0x42));
	}
	n = read(eq.out_veventq_fd, buf, sizeof(buf));
	ASSERT_EQ(12 + 12 + 8, n);
	ASSERT_EQ(0, buf[0]);
	ASSERT_EQ(1, buf[1]);
	ASSERT_EQ(0, buf[3]);
	ASSERT_EQ(2, buf[4]);
	ASSERT_EQ(IOMMU_VEVENTQ_FLAG_LOST_EVENTS, buf[6]);
	close(eq.out_veventq_fd);
	pt = self->parent;
	ASSERT_EQ(0, BE->ops->replace(BE, self->dev, &pt));
	ASSERT_EQ(0, destroy(FD, eq.out_veventq_id));
	ASSERT_EQ(0, destroy(FD, nested));
	ASSERT_EQ(0, destroy(FD, vdev));
}

TEST_F(viommu, teardown_by_close)
{
	uint32_t vdev, nested, pt;

	/* Leave everything alive: closing the files must tear it all down. */
	ASSERT_EQ(0, vdevice_alloc(FD, self->viommu, self->idev, 0x3, &vdev));
	ASSERT_EQ(0, nested_alloc(FD, self->idev, self->viommu, 0, 1, &nested));
	pt = nested;
	ASSERT_EQ(0, BE->ops->replace(BE, self->dev, &pt));
}

TEST_HARNESS_MAIN
