// SPDX-License-Identifier: GPL-2.0
/*
 * riommu_nested: differential tests of nesting (and the paging, mapping,
 * dirty-tracking and hw_info paths it relies on) against two mock IOMMU
 * drivers plugged into iommufd:
 *
 *   nesting.c_mock     the kernel's CONFIG_IOMMUFD_TEST mock (the oracle)
 *   nesting.rust_mock  riommu_mock.ko via /dev/riommu-mock
 *
 * Every TEST_F(nesting, ...) body runs once per backend, with the same
 * expected values: expected errnos are those of the 7.3 C code
 * (hw_pagetable.c, device.c, io_pagetable.c, selftest.c).  A rust_mock
 * failure where c_mock passes is a disagreement, i.e. a riommu_mock bug.
 *
 * The rust_mock variant FAILS (it does not skip) when /dev/riommu-mock is
 * missing: the module is supposed to be loaded.
 *
 * FIXTURE(riommu_ctl) tests the /dev/riommu-mock control interface itself
 * (struct sizes, reserved fields, handles), which has no C counterpart.
 *
 * Both mocks have the same page geometry (a 2K base page, every power of
 * two up to 64G as a page size, 1M leaves for the huge page table type):
 * the "geometry" tests below check it, the others mostly use 4K multiples.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "riommu_utils.h"

#define DEFAULT_IOTLB	IOMMU_TEST_IOTLB_DEFAULT
#define BAD_ID		0xfffff0u

/* ---------------------------------------------------------------------- */

FIXTURE(nesting) {
	int fd;
	struct backend be;
	struct backend other;	/* the other driver, opened on demand */
	uint32_t ioas_id;
	uint32_t dev;		/* backend handle of the fixture's device */
	uint32_t idev_id;	/* its iommufd device id */
	uint32_t hwpt_id;	/* the auto domain it was attached to */
};

FIXTURE_VARIANT(nesting) {
	const struct backend_ops *backend;
};

FIXTURE_VARIANT_ADD(nesting, c_mock) {
	.backend = &c_mock_ops,
};

FIXTURE_VARIANT_ADD(nesting, rust_mock) {
	.backend = &rust_mock_ops,
};

FIXTURE_SETUP(nesting)
{
	self->other.ops = NULL;
	self->fd = iommufd_open();
	if (self->fd < 0)
		TH_LOG("open /dev/iommu: %s", ename(errno));
	ASSERT_LE(0, self->fd);

	if (backend_open(&self->be, variant->backend, self->fd)) {
		TH_LOG("%s: cannot open its control channel: %s%s",
		       variant->backend->name, ename(errno),
		       variant->backend->kind == BACKEND_RUST_MOCK ?
		       " (is riommu_mock.ko loaded? /dev/riommu-mock is required)" :
		       "");
		ASSERT_TRUE(0);
	}
	ASSERT_OK(ioas_alloc(self->fd, &self->ioas_id));
	ASSERT_OK(be_dev_add(&self->be, self->ioas_id, 0, &self->dev,
			     &self->idev_id, &self->hwpt_id));
	ASSERT_NE(0, self->idev_id);
	ASSERT_NE(0, self->hwpt_id);
}

FIXTURE_TEARDOWN(nesting)
{
	backend_close(&self->other);
	backend_close(&self->be);
	if (self->fd >= 0)
		close(self->fd);
}

/* Shorthands for the common objects */
#define FD		(self->fd)
#define BE		(&self->be)
#define NEW_PAGING(flags, out) \
	ASSERT_OK(hwpt_alloc_paging(FD, self->idev_id, self->ioas_id, (flags), (out)))
#define NEW_PARENT(out) NEW_PAGING(IOMMU_HWPT_ALLOC_NEST_PARENT, out)
#define NEW_NESTED(parent, val, out) \
	ASSERT_OK(hwpt_alloc_nested(FD, self->idev_id, (parent), 0, (val), (out)))
#define DESTROY(id) ASSERT_OK(iommufd_destroy(FD, (id)))

/* Selftest data of @len bytes (the first 8 are struct iommu_hwpt_selftest) */
static int nested_alloc_len(int fd, uint32_t idev, uint32_t parent,
			    uint32_t type, const void *data, uint32_t len,
			    uint32_t *out)
{
	return hwpt_alloc_raw(fd, idev, parent, 0, type, data, len, out);
}

/* ====================================================================== */
/* Paging HWPT allocation                                                 */

TEST_F(nesting, paging_alloc_plain)
{
	uint32_t hwpt, cur;

	NEW_PAGING(0, &hwpt);
	ASSERT_NE(0, hwpt);
	ASSERT_NE(self->hwpt_id, hwpt);

	/* Usable: attach the device to it and back */
	cur = hwpt;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	ASSERT_EQ(hwpt, cur);
	cur = self->ioas_id;
	ASSERT_OK(be_replace(BE, self->dev, &cur));

	DESTROY(hwpt);
	ASSERT_ERRNO(ENOENT, iommufd_destroy(FD, hwpt));
}

TEST_F(nesting, paging_alloc_nest_parent)
{
	uint32_t parent, nested, parent2;

	NEW_PARENT(&parent);
	NEW_NESTED(parent, DEFAULT_IOTLB, &nested);
	/* A parent may also track dirty pages */
	NEW_PAGING(IOMMU_HWPT_ALLOC_NEST_PARENT |
		   IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &parent2);
	DESTROY(nested);
	NEW_NESTED(parent2, DEFAULT_IOTLB, &nested);
	DESTROY(nested);
	DESTROY(parent2);
	DESTROY(parent);
}

TEST_F(nesting, paging_alloc_dirty_tracking)
{
	uint32_t hwpt, cur;

	NEW_PAGING(IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &hwpt);
	ASSERT_OK(hwpt_set_dirty_tracking(FD, hwpt,
					  IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	ASSERT_OK(hwpt_set_dirty_tracking(FD, hwpt, 0));
	/* A dirty-capable device can be attached to it */
	cur = hwpt;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	cur = self->ioas_id;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	DESTROY(hwpt);
}

TEST_F(nesting, paging_alloc_dirty_no_dirty_dev)
{
	uint32_t dev2, idev2, hwpt2, hwpt;

	ASSERT_OK(be_dev_add(BE, self->ioas_id, DEVF_NO_DIRTY, &dev2, &idev2,
			     &hwpt2));
	/* The core refuses: the device lacks IOMMU_CAP_DIRTY_TRACKING */
	ASSERT_ERRNO(EOPNOTSUPP, hwpt_alloc_paging(FD, idev2, self->ioas_id,
				IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &hwpt));
	ASSERT_ERRNO(EOPNOTSUPP, hwpt_alloc_paging(FD, idev2, self->ioas_id,
				IOMMU_HWPT_ALLOC_DIRTY_TRACKING |
				IOMMU_HWPT_ALLOC_NEST_PARENT, &hwpt));
	/* Without the flag it works */
	ASSERT_OK(hwpt_alloc_paging(FD, idev2, self->ioas_id, 0, &hwpt));
	DESTROY(hwpt);
	ASSERT_OK(be_dev_remove(BE, dev2));
}

TEST_F(nesting, paging_alloc_pasid)
{
	uint32_t dev2, idev2, hwpt2, hwpt, parent, nested, cur;

	ASSERT_OK(be_dev_add(BE, self->ioas_id, DEVF_PASID, &dev2, &idev2,
			     &hwpt2));
	ASSERT_OK(hwpt_alloc_paging(FD, idev2, self->ioas_id,
				    IOMMU_HWPT_ALLOC_PASID, &hwpt));
	ASSERT_OK(hwpt_alloc_paging(FD, idev2, self->ioas_id,
				    IOMMU_HWPT_ALLOC_PASID |
				    IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_OK(hwpt_alloc_nested(FD, idev2, parent, IOMMU_HWPT_ALLOC_PASID,
				    DEFAULT_IOTLB, &nested));
	ASSERT_IOTLB_ALL(BE, nested, DEFAULT_IOTLB);

	/* The PASID device can use the PASID-capable domains */
	cur = hwpt;
	ASSERT_OK(be_replace(BE, dev2, &cur));
	cur = nested;
	ASSERT_OK(be_replace(BE, dev2, &cur));
	ASSERT_EQ(nested, cur);
	ASSERT_OK(be_dev_remove(BE, dev2));

	DESTROY(nested);
	DESTROY(parent);
	DESTROY(hwpt);
}

TEST_F(nesting, paging_alloc_bad_flags)
{
	uint32_t hwpt;

	ASSERT_ERRNO(EOPNOTSUPP, hwpt_alloc_paging(FD, self->idev_id,
				self->ioas_id, 1u << 31, &hwpt));
	ASSERT_ERRNO(EOPNOTSUPP, hwpt_alloc_paging(FD, self->idev_id,
				self->ioas_id, 1u << 4, &hwpt));
	ASSERT_ERRNO(EOPNOTSUPP, hwpt_alloc_paging(FD, self->idev_id,
				self->ioas_id, IOMMU_HWPT_ALLOC_NEST_PARENT |
				(1u << 9), &hwpt));
	/* A fault queue and NEST_PARENT are exclusive */
	ASSERT_ERRNO(EOPNOTSUPP, hwpt_alloc_paging(FD, self->idev_id,
				self->ioas_id, IOMMU_HWPT_FAULT_ID_VALID |
				IOMMU_HWPT_ALLOC_NEST_PARENT, &hwpt));
}

TEST_F(nesting, paging_alloc_bad_args)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.dev_id = self->idev_id,
		.pt_id = self->ioas_id,
		.__reserved = 1,
	};
	uint32_t data[2] = {};
	uint32_t hwpt;

	ASSERT_ERRNO(EOPNOTSUPP, ioctl(FD, IOMMU_HWPT_ALLOC, &cmd));
	/* DATA_NONE with a length */
	ASSERT_ERRNO(EINVAL, hwpt_alloc_raw(FD, self->idev_id, self->ioas_id,
			0, IOMMU_HWPT_DATA_NONE, data, sizeof(data), &hwpt));
	/* Bad device */
	ASSERT_ERRNO(ENOENT, hwpt_alloc_paging(FD, BAD_ID, self->ioas_id, 0,
					       &hwpt));
	ASSERT_ERRNO(ENOENT, hwpt_alloc_paging(FD, self->ioas_id,
					       self->ioas_id, 0, &hwpt));
	/* Bad pt_id: missing, or an object that is no IOAS/HWPT/vIOMMU */
	ASSERT_ERRNO(EINVAL, hwpt_alloc_paging(FD, self->idev_id, BAD_ID, 0,
					       &hwpt));
	ASSERT_ERRNO(EINVAL, hwpt_alloc_paging(FD, self->idev_id,
					       self->idev_id, 0, &hwpt));
}

/* ====================================================================== */
/* Nested HWPT allocation                                                 */

TEST_F(nesting, nested_alloc)
{
	uint32_t parent, n1, n2, n3;

	NEW_PARENT(&parent);
	NEW_NESTED(parent, DEFAULT_IOTLB, &n1);
	NEW_NESTED(parent, 0x12345678, &n2);
	NEW_NESTED(parent, 0, &n3);
	ASSERT_NE(n1, n2);

	/* Every slot starts at the given value, per domain */
	ASSERT_IOTLB_ALL(BE, n1, DEFAULT_IOTLB);
	ASSERT_IOTLB_ALL(BE, n2, 0x12345678);
	ASSERT_IOTLB_ALL(BE, n3, 0);

	/* The check itself: a wrong value or slot is EINVAL */
	ASSERT_ERRNO(EINVAL, be_check_iotlb(BE, n1, 0, 0x12345678));
	ASSERT_ERRNO(EINVAL, be_check_iotlb(BE, n1, IOTLB_ID_MAX + 1,
					    DEFAULT_IOTLB));

	DESTROY(n3);
	DESTROY(n2);
	DESTROY(n1);
	DESTROY(parent);
}

TEST_F(nesting, nested_alloc_min_len)
{
	struct iommu_hwpt_selftest data = { .iotlb = 0xabcd0001,
					    .pagetable_type = 0 };
	uint32_t parent, nested, len;

	NEW_PARENT(&parent);
	/* offsetofend(iotlb) is enough */
	ASSERT_OK(nested_alloc_len(FD, self->idev_id, parent,
				   IOMMU_HWPT_DATA_SELFTEST, &data,
				   offsetofend(struct iommu_hwpt_selftest, iotlb),
				   &nested));
	ASSERT_IOTLB_ALL(BE, nested, 0xabcd0001);
	DESTROY(nested);

	/* Below it is EINVAL */
	for (len = 1; len < offsetofend(struct iommu_hwpt_selftest, iotlb);
	     len++)
		ASSERT_ERRNO(EINVAL, nested_alloc_len(FD, self->idev_id, parent,
				IOMMU_HWPT_DATA_SELFTEST, &data, len, &nested));
	DESTROY(parent);
}

TEST_F(nesting, nested_alloc_bad_data_type)
{
	struct iommu_hwpt_selftest data = { .iotlb = DEFAULT_IOTLB };
	uint32_t parent, nested;

	NEW_PARENT(&parent);
	ASSERT_ERRNO(EOPNOTSUPP, nested_alloc_len(FD, self->idev_id, parent,
			0xbeef, &data, sizeof(data), &nested));
	ASSERT_ERRNO(EOPNOTSUPP, nested_alloc_len(FD, self->idev_id, parent,
			IOMMU_HWPT_DATA_VTD_S1, &data, sizeof(data), &nested));
	ASSERT_ERRNO(EOPNOTSUPP, nested_alloc_len(FD, self->idev_id, parent,
			IOMMU_HWPT_DATA_ARM_SMMUV3, &data, sizeof(data),
			&nested));
	/* No data at all: a nested domain needs some */
	ASSERT_ERRNO(EOPNOTSUPP, nested_alloc_len(FD, self->idev_id, parent,
			IOMMU_HWPT_DATA_NONE, NULL, 0, &nested));
	DESTROY(parent);
}

TEST_F(nesting, nested_alloc_data_len_zero)
{
	struct iommu_hwpt_selftest data = { .iotlb = DEFAULT_IOTLB };
	uint32_t parent, nested;

	NEW_PARENT(&parent);
	ASSERT_ERRNO(EINVAL, nested_alloc_len(FD, self->idev_id, parent,
			IOMMU_HWPT_DATA_SELFTEST, &data, 0, &nested));
	ASSERT_ERRNO(EINVAL, nested_alloc_len(FD, self->idev_id, parent,
			IOMMU_HWPT_DATA_SELFTEST, NULL, 0, &nested));
	DESTROY(parent);
}

TEST_F(nesting, nested_alloc_data_too_long)
{
	uint8_t buf[64] = {};
	struct iommu_hwpt_selftest *data = (void *)buf;
	uint32_t parent, nested;

	data->iotlb = DEFAULT_IOTLB;
	NEW_PARENT(&parent);
	/* In 7.3 any length above the struct is EINVAL, zero tail or not */
	ASSERT_ERRNO(EINVAL, nested_alloc_len(FD, self->idev_id, parent,
			IOMMU_HWPT_DATA_SELFTEST, buf, sizeof(*data) + 4,
			&nested));
	ASSERT_ERRNO(EINVAL, nested_alloc_len(FD, self->idev_id, parent,
			IOMMU_HWPT_DATA_SELFTEST, buf, sizeof(buf), &nested));
	buf[sizeof(*data) + 1] = 0xff;
	ASSERT_ERRNO(EINVAL, nested_alloc_len(FD, self->idev_id, parent,
			IOMMU_HWPT_DATA_SELFTEST, buf, sizeof(*data) + 4,
			&nested));
	ASSERT_ERRNO(EINVAL, nested_alloc_len(FD, self->idev_id, parent,
			IOMMU_HWPT_DATA_SELFTEST, buf, 0xffffffffu, &nested));
	/* The exact size still works */
	ASSERT_OK(nested_alloc_len(FD, self->idev_id, parent,
			IOMMU_HWPT_DATA_SELFTEST, buf, sizeof(*data), &nested));
	DESTROY(nested);
	DESTROY(parent);
}

TEST_F(nesting, nested_alloc_data_efault)
{
	struct iommu_hwpt_selftest *straddle;
	uint32_t parent, nested;
	uint8_t *page;
	void *bad;

	bad = fault_addr();
	ASSERT_NE(NULL, bad);
	page = alloc_guarded_page();
	ASSERT_NE(NULL, page);
	NEW_PARENT(&parent);

	ASSERT_ERRNO(EFAULT, nested_alloc_len(FD, self->idev_id, parent,
			IOMMU_HWPT_DATA_SELFTEST, bad,
			sizeof(struct iommu_hwpt_selftest), &nested));
	ASSERT_ERRNO(EFAULT, nested_alloc_len(FD, self->idev_id, parent,
			IOMMU_HWPT_DATA_SELFTEST, bad, 4, &nested));
	/* iotlb readable, pagetable_type on the PROT_NONE page */
	straddle = (void *)(page + PAGE_4K - 4);
	straddle->iotlb = DEFAULT_IOTLB;
	ASSERT_ERRNO(EFAULT, nested_alloc_len(FD, self->idev_id, parent,
			IOMMU_HWPT_DATA_SELFTEST, straddle, sizeof(*straddle),
			&nested));
	DESTROY(parent);
}

TEST_F(nesting, nested_alloc_data_null)
{
	uint32_t parent, nested;

	NEW_PARENT(&parent);
	ASSERT_ERRNO(EFAULT, nested_alloc_len(FD, self->idev_id, parent,
			IOMMU_HWPT_DATA_SELFTEST, NULL,
			sizeof(struct iommu_hwpt_selftest), &nested));
	DESTROY(parent);
}

TEST_F(nesting, nested_alloc_parent_not_nest_parent)
{
	uint32_t plain, dirty, nested;

	NEW_PAGING(0, &plain);
	NEW_PAGING(IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &dirty);
	ASSERT_ERRNO(EINVAL, hwpt_alloc_nested(FD, self->idev_id, plain, 0,
					       DEFAULT_IOTLB, &nested));
	ASSERT_ERRNO(EINVAL, hwpt_alloc_nested(FD, self->idev_id, dirty, 0,
					       DEFAULT_IOTLB, &nested));
	/* Nor the automatic domain */
	ASSERT_ERRNO(EINVAL, hwpt_alloc_nested(FD, self->idev_id,
					       self->hwpt_id, 0,
					       DEFAULT_IOTLB, &nested));
	DESTROY(dirty);
	DESTROY(plain);
}

/*
 * pt_id = an IOAS with selftest data: this is a *paging* allocation with
 * driver data; the C mock accepts IOMMU_HWPT_DATA_SELFTEST there
 * (pagetable_type 0 = default format, unknown types EOPNOTSUPP).
 */
TEST_F(nesting, nested_alloc_parent_ioas)
{
	struct iommu_hwpt_selftest data = { .iotlb = DEFAULT_IOTLB };
	struct iommu_hwpt_invalidate_selftest inv = { .iotlb_id = 0 };
	uint32_t hwpt, num, nested;
	void *buf;

	buf = alloc_buf(PAGE_4K);
	ASSERT_NE(NULL, buf);
	ASSERT_OK(ioas_map_fixed(FD, self->ioas_id, buf, PAGE_4K,
				 APERTURE_START));

	ASSERT_OK(nested_alloc_len(FD, self->idev_id, self->ioas_id,
				   IOMMU_HWPT_DATA_SELFTEST, &data,
				   sizeof(data), &hwpt));
	/* It is a paging domain of the IOAS ... */
	ASSERT_OK(be_check_map(BE, hwpt, APERTURE_START, PAGE_4K, buf));
	/* ... not a nested one */
	ASSERT_ERRNO(ENOENT, be_check_iotlb(BE, hwpt, 0, DEFAULT_IOTLB));
	num = 1;
	ASSERT_ERRNO(EINVAL, hwpt_inv_selftest(FD, hwpt, &inv, &num));
	ASSERT_EQ(0, num);
	ASSERT_ERRNO(EINVAL, hwpt_alloc_nested(FD, self->idev_id, hwpt, 0,
					       DEFAULT_IOTLB, &nested));
	DESTROY(hwpt);

	/* Unknown page table format */
	data.pagetable_type = 99;
	ASSERT_ERRNO(EOPNOTSUPP, nested_alloc_len(FD, self->idev_id,
			self->ioas_id, IOMMU_HWPT_DATA_SELFTEST, &data,
			sizeof(data), &hwpt));
	/* Paging data type the driver does not know */
	data.pagetable_type = 0;
	ASSERT_ERRNO(EOPNOTSUPP, nested_alloc_len(FD, self->idev_id,
			self->ioas_id, 0xbeef, &data, sizeof(data), &hwpt));
}

TEST_F(nesting, nested_alloc_parent_nested)
{
	uint32_t parent, nested, nested2;

	NEW_PARENT(&parent);
	NEW_NESTED(parent, DEFAULT_IOTLB, &nested);
	ASSERT_ERRNO(EINVAL, hwpt_alloc_nested(FD, self->idev_id, nested, 0,
					       DEFAULT_IOTLB, &nested2));
	DESTROY(nested);
	DESTROY(parent);
}

/* Open the other driver's backend on the same iommufd, or SKIP/FAIL */
#define OPEN_OTHER()                                                         \
	do {                                                                 \
		const struct backend_ops *__o = backend_other(BE->ops);      \
		if (backend_open(&self->other, __o, FD)) {                   \
			int __e = errno;                                     \
			self->other.ops = NULL;                              \
			if (__o->kind == BACKEND_RUST_MOCK && __e == ENOENT) \
				SKIP(return, "%s absent: no second driver "  \
				     "to cross-check against",               \
				     RIOMMU_MOCK_DEV);                       \
			TH_LOG("cannot open %s backend: %s", __o->name,      \
			       ename(__e));                                  \
			ASSERT_TRUE(0);                                      \
		}                                                            \
	} while (0)

TEST_F(nesting, nested_alloc_parent_foreign)
{
	uint32_t ioas2, odev, oidev, ohwpt, oparent, parent, nested, cur;

	OPEN_OTHER();
	ASSERT_OK(ioas_alloc(FD, &ioas2));
	ASSERT_OK(be_dev_add(&self->other, ioas2, 0, &odev, &oidev, &ohwpt));
	ASSERT_OK(hwpt_alloc_paging(FD, oidev, self->ioas_id,
				    IOMMU_HWPT_ALLOC_NEST_PARENT, &oparent));
	NEW_PARENT(&parent);

	/* Our device, the other driver's parent */
	ASSERT_ERRNO(EINVAL, hwpt_alloc_nested(FD, self->idev_id, oparent, 0,
					       DEFAULT_IOTLB, &nested));
	/* The other driver's device, our parent */
	ASSERT_ERRNO(EINVAL, hwpt_alloc_nested(FD, oidev, parent, 0,
					       DEFAULT_IOTLB, &nested));
	/*
	 * Attaching a device to the other driver's domain is refused
	 * (__iommu_attach_group: domain_iommu_ops_compatible()).  Replace is
	 * deliberately not tried: 7.3's iommu_replace_group_handle() lacks
	 * that check, and the C mock would then treat a riommu device as its
	 * own struct mock_dev.
	 */
	ASSERT_ERRNO(EINVAL, be_dev_add(BE, oparent, 0, &cur, NULL, NULL));
	/* Each driver nests on its own parent */
	ASSERT_OK(hwpt_alloc_nested(FD, oidev, oparent, 0, DEFAULT_IOTLB,
				    &nested));
	DESTROY(nested);
	NEW_NESTED(parent, DEFAULT_IOTLB, &nested);
	DESTROY(nested);

	ASSERT_OK(be_dev_remove(&self->other, odev));
	DESTROY(oparent);
	DESTROY(parent);
}

/* The backend's check ops only know their own driver's HWPTs */
TEST_F(nesting, foreign_hwpt_check_ops)
{
	uint32_t ioas2, odev, oidev, ohwpt, oparent, onested, odirty;
	uint64_t bitmap = 1, nr;
	uint8_t *buf;

	OPEN_OTHER();
	buf = alloc_buf(PAGE_4K);
	ASSERT_NE(NULL, buf);
	ASSERT_OK(ioas_map_fixed(FD, self->ioas_id, buf, PAGE_4K,
				 APERTURE_START));
	ASSERT_OK(ioas_alloc(FD, &ioas2));
	ASSERT_OK(be_dev_add(&self->other, ioas2, 0, &odev, &oidev, &ohwpt));
	ASSERT_OK(hwpt_alloc_paging(FD, oidev, self->ioas_id,
				    IOMMU_HWPT_ALLOC_NEST_PARENT, &oparent));
	ASSERT_OK(hwpt_alloc_nested(FD, oidev, oparent, 0, 7, &onested));
	ASSERT_OK(hwpt_alloc_paging(FD, oidev, self->ioas_id,
				    IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &odirty));
	ASSERT_OK(hwpt_set_dirty_tracking(FD, odirty,
					  IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	/* The other driver sees its own objects ... */
	ASSERT_OK(be_check_map(&self->other, oparent, APERTURE_START, PAGE_4K,
			       buf));
	ASSERT_OK(be_check_iotlb(&self->other, onested, 0, 7));
	/*
	 * ... ours refuses them with EINVAL: a HWPT of the right type, wrong
	 * driver.  Both mocks find the id in iommufd's object table and check
	 * the domain's driver (the C mock's get_md_pagetable(), riommu_mock's
	 * IommufdCtx::with_hwpt()).
	 */
	EXPECT_ERRNO(EINVAL, be_check_map(BE, oparent, APERTURE_START,
					  PAGE_4K, buf));
	EXPECT_ERRNO(EINVAL, be_check_iotlb(BE, onested, 0, 7));
	EXPECT_ERRNO(EINVAL, be_set_dirty(BE, odirty, APERTURE_START, PAGE_4K,
					  PAGE_4K, &bitmap, &nr));

	DESTROY(odirty);
	DESTROY(onested);
	DESTROY(oparent);
	ASSERT_OK(be_dev_remove(&self->other, odev));
	DESTROY(ioas2);
}

TEST_F(nesting, nested_alloc_bad_flags)
{
	uint32_t parent, nested;

	NEW_PARENT(&parent);
	ASSERT_ERRNO(EOPNOTSUPP, hwpt_alloc_nested(FD, self->idev_id, parent,
				1u << 31, DEFAULT_IOTLB, &nested));
	ASSERT_ERRNO(EOPNOTSUPP, hwpt_alloc_nested(FD, self->idev_id, parent,
				IOMMU_HWPT_ALLOC_NEST_PARENT, DEFAULT_IOTLB,
				&nested));
	ASSERT_ERRNO(EOPNOTSUPP, hwpt_alloc_nested(FD, self->idev_id, parent,
				IOMMU_HWPT_ALLOC_DIRTY_TRACKING, DEFAULT_IOTLB,
				&nested));
	/* PASID is the one flag a nested domain accepts */
	ASSERT_OK(hwpt_alloc_nested(FD, self->idev_id, parent,
				    IOMMU_HWPT_ALLOC_PASID, 0x5a5a, &nested));
	ASSERT_IOTLB_ALL(BE, nested, 0x5a5a);
	DESTROY(nested);
	DESTROY(parent);
}

TEST_F(nesting, nested_alloc_bad_ids)
{
	uint32_t parent, nested;

	NEW_PARENT(&parent);
	ASSERT_ERRNO(EINVAL, hwpt_alloc_nested(FD, self->idev_id, BAD_ID, 0,
					       DEFAULT_IOTLB, &nested));
	ASSERT_ERRNO(EINVAL, hwpt_alloc_nested(FD, self->idev_id,
					       self->idev_id, 0,
					       DEFAULT_IOTLB, &nested));
	ASSERT_ERRNO(ENOENT, hwpt_alloc_nested(FD, BAD_ID, parent, 0,
					       DEFAULT_IOTLB, &nested));
	ASSERT_ERRNO(ENOENT, hwpt_alloc_nested(FD, parent, parent, 0,
					       DEFAULT_IOTLB, &nested));
	DESTROY(parent);
}

/* ====================================================================== */
/* Invalidation                                                           */

#define D DEFAULT_IOTLB

/* A parent and one nested HWPT with all slots at DEFAULT_IOTLB */
#define NESTED_PAIR(parent, nested)                                          \
	do {                                                                 \
		NEW_PARENT(parent);                                          \
		NEW_NESTED(*(parent), D, nested);                            \
		ASSERT_IOTLB_ALL(BE, *(nested), D);                          \
	} while (0)

TEST_F(nesting, invalidate_one)
{
	struct iommu_hwpt_invalidate_selftest inv = { .iotlb_id = 1 };
	uint32_t parent, nested, num;

	NESTED_PAIR(&parent, &nested);
	num = 1;
	ASSERT_OK(hwpt_inv_selftest(FD, nested, &inv, &num));
	ASSERT_EQ(1, num);
	ASSERT_IOTLB4(BE, nested, D, 0, D, D);
	/* Again: idempotent */
	num = 1;
	ASSERT_OK(hwpt_inv_selftest(FD, nested, &inv, &num));
	ASSERT_EQ(1, num);
	ASSERT_IOTLB4(BE, nested, D, 0, D, D);
	DESTROY(nested);
	DESTROY(parent);
}

TEST_F(nesting, invalidate_several)
{
	struct iommu_hwpt_invalidate_selftest inv[3] = {
		{ .iotlb_id = 0 }, { .iotlb_id = 2 }, { .iotlb_id = 3 },
	};
	uint32_t parent, nested, other, num;

	NESTED_PAIR(&parent, &nested);
	NEW_NESTED(parent, D, &other);
	num = 3;
	ASSERT_OK(hwpt_inv_selftest(FD, nested, inv, &num));
	ASSERT_EQ(3, num);
	ASSERT_IOTLB4(BE, nested, 0, D, 0, 0);
	/* A sibling under the same parent is untouched */
	ASSERT_IOTLB_ALL(BE, other, D);
	DESTROY(other);
	DESTROY(nested);
	DESTROY(parent);
}

TEST_F(nesting, invalidate_all)
{
	struct iommu_hwpt_invalidate_selftest inv = {
		.flags = IOMMU_TEST_INVALIDATE_FLAG_ALL,
	};
	uint32_t parent, nested, n2, num;

	NESTED_PAIR(&parent, &nested);
	num = 1;
	ASSERT_OK(hwpt_inv_selftest(FD, nested, &inv, &num));
	ASSERT_EQ(1, num);
	ASSERT_IOTLB_ALL(BE, nested, 0);

	/* ALL ignores a valid iotlb_id ... */
	NEW_NESTED(parent, D, &n2);
	inv.iotlb_id = IOTLB_ID_MAX;
	num = 1;
	ASSERT_OK(hwpt_inv_selftest(FD, n2, &inv, &num));
	ASSERT_EQ(1, num);
	ASSERT_IOTLB_ALL(BE, n2, 0);
	DESTROY(n2);

	/* ... but an out-of-range one is still EINVAL */
	NEW_NESTED(parent, D, &n2);
	inv.iotlb_id = IOTLB_ID_MAX + 1;
	num = 1;
	ASSERT_ERRNO(EINVAL, hwpt_inv_selftest(FD, n2, &inv, &num));
	ASSERT_EQ(0, num);
	ASSERT_IOTLB_ALL(BE, n2, D);
	DESTROY(n2);
	DESTROY(nested);
	DESTROY(parent);
}

TEST_F(nesting, invalidate_bad_iotlb_id_middle)
{
	struct iommu_hwpt_invalidate_selftest inv[3] = {
		{ .iotlb_id = 0 },
		{ .iotlb_id = IOTLB_ID_MAX + 1 },
		{ .iotlb_id = 2 },
	};
	uint32_t parent, nested, num;

	NESTED_PAIR(&parent, &nested);
	num = 3;
	ASSERT_ERRNO(EINVAL, hwpt_inv_selftest(FD, nested, inv, &num));
	ASSERT_EQ(1, num);
	ASSERT_IOTLB4(BE, nested, 0, D, D, D);

	/* Bad first entry: nothing done */
	inv[0].iotlb_id = 0xffffffff;
	inv[1].iotlb_id = 1;
	num = 3;
	ASSERT_ERRNO(EINVAL, hwpt_inv_selftest(FD, nested, inv, &num));
	ASSERT_EQ(0, num);
	ASSERT_IOTLB4(BE, nested, 0, D, D, D);
	DESTROY(nested);
	DESTROY(parent);
}

TEST_F(nesting, invalidate_bad_flags_middle)
{
	struct iommu_hwpt_invalidate_selftest inv[4] = {
		{ .iotlb_id = 0 },
		{ .iotlb_id = 1 },
		{ .flags = 1u << 1, .iotlb_id = 2 },
		{ .iotlb_id = 3 },
	};
	uint32_t parent, nested, num;

	NESTED_PAIR(&parent, &nested);
	num = 4;
	ASSERT_ERRNO(EOPNOTSUPP, hwpt_inv_selftest(FD, nested, inv, &num));
	ASSERT_EQ(2, num);
	ASSERT_IOTLB4(BE, nested, 0, 0, D, D);

	/* Unknown flag together with ALL, first entry */
	inv[0].flags = IOMMU_TEST_INVALIDATE_FLAG_ALL | (1u << 31);
	num = 4;
	ASSERT_ERRNO(EOPNOTSUPP, hwpt_inv_selftest(FD, nested, inv, &num));
	ASSERT_EQ(0, num);
	ASSERT_IOTLB4(BE, nested, 0, 0, D, D);
	DESTROY(nested);
	DESTROY(parent);
}

TEST_F(nesting, invalidate_entry_len_short)
{
	struct iommu_hwpt_invalidate_selftest inv[2] = {
		{ .iotlb_id = 1 }, { .iotlb_id = 2 },
	};
	uint32_t parent, nested, num, len;

	NESTED_PAIR(&parent, &nested);
	/* Anything below offsetofend(iotlb_id) = the whole struct */
	for (len = 1; len < sizeof(inv[0]); len++) {
		num = 2;
		ASSERT_ERRNO(EINVAL, hwpt_invalidate(FD, nested,
				IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, inv, len,
				&num));
		ASSERT_EQ(0, num);
	}
	ASSERT_IOTLB_ALL(BE, nested, D);
	DESTROY(nested);
	DESTROY(parent);
}

TEST_F(nesting, invalidate_entry_len_long)
{
	/* Entries of 16 bytes: struct iommu_hwpt_invalidate_selftest + tail */
	uint32_t ent[2][4] = {
		{ 0, 1, 0, 0 },
		{ 0, 2, 0, 0 },
	};
	uint8_t *big;
	uint32_t parent, nested, num;

	NESTED_PAIR(&parent, &nested);
	/* Zero tail: 7.3 still refuses anything longer (EINVAL) */
	num = 2;
	ASSERT_ERRNO(EINVAL, hwpt_invalidate(FD, nested,
			IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, ent,
			sizeof(ent[0]), &num));
	ASSERT_EQ(0, num);
	num = 1;
	ASSERT_ERRNO(EINVAL, hwpt_invalidate(FD, nested,
			IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, ent, 12, &num));
	ASSERT_EQ(0, num);
	/* Non-zero tail */
	ent[0][2] = 0xdead;
	num = 2;
	ASSERT_ERRNO(EINVAL, hwpt_invalidate(FD, nested,
			IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, ent,
			sizeof(ent[0]), &num));
	ASSERT_EQ(0, num);
	/* Above PAGE_SIZE: rejected by the core before the driver */
	big = alloc_buf(2 * PAGE_4K);
	ASSERT_NE(NULL, big);
	memset(big, 0, 2 * PAGE_4K);
	num = 1;
	ASSERT_ERRNO(EINVAL, hwpt_invalidate(FD, nested,
			IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, big, PAGE_4K + 1,
			&num));
	ASSERT_EQ(0, num);
	ASSERT_IOTLB_ALL(BE, nested, D);
	DESTROY(nested);
	DESTROY(parent);
}

TEST_F(nesting, invalidate_entry_len_zero)
{
	struct iommu_hwpt_invalidate_selftest inv = { .iotlb_id = 1 };
	uint32_t parent, nested, num;

	NESTED_PAIR(&parent, &nested);
	num = 1;
	ASSERT_ERRNO(EINVAL, hwpt_invalidate(FD, nested,
			IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, &inv, 0, &num));
	ASSERT_EQ(0, num);
	ASSERT_IOTLB_ALL(BE, nested, D);
	DESTROY(nested);
	DESTROY(parent);
}

TEST_F(nesting, invalidate_entry_num_zero)
{
	struct iommu_hwpt_invalidate_selftest inv = { .iotlb_id = 1 };
	uint32_t parent, nested, num;

	NESTED_PAIR(&parent, &nested);
	/* A zero-length array probes the data type */
	num = 0;
	ASSERT_OK(hwpt_inv_selftest(FD, nested, &inv, &num));
	ASSERT_EQ(0, num);
	num = 0;
	ASSERT_OK(hwpt_invalidate(FD, nested,
				  IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, NULL, 0,
				  &num));
	ASSERT_EQ(0, num);
	/* ... and the probe fails for a type the driver does not take */
	num = 0;
	ASSERT_ERRNO(EINVAL, hwpt_invalidate(FD, nested,
			IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID, &inv,
			sizeof(inv), &num));
	ASSERT_EQ(0, num);
	ASSERT_IOTLB_ALL(BE, nested, D);
	DESTROY(nested);
	DESTROY(parent);
}

TEST_F(nesting, invalidate_bad_data_type)
{
	struct iommu_hwpt_invalidate_selftest inv = { .iotlb_id = 1 };
	uint32_t parent, nested, num;

	NESTED_PAIR(&parent, &nested);
	num = 1;
	ASSERT_ERRNO(EINVAL, hwpt_invalidate(FD, nested,
			IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID, &inv,
			sizeof(inv), &num));
	ASSERT_EQ(0, num);
	num = 1;
	ASSERT_ERRNO(EINVAL, hwpt_invalidate(FD, nested,
			IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, &inv, sizeof(inv),
			&num));
	ASSERT_EQ(0, num);
	ASSERT_IOTLB_ALL(BE, nested, D);
	DESTROY(nested);
	DESTROY(parent);
}

TEST_F(nesting, invalidate_huge_entry_num)
{
	struct iommu_hwpt_invalidate_selftest inv = { .iotlb_id = 1 };
	uint32_t parent, nested, num;

	NESTED_PAIR(&parent, &nested);
	num = (1u << 19) + 1;
	ASSERT_ERRNO(EINVAL, hwpt_inv_selftest(FD, nested, &inv, &num));
	ASSERT_EQ(0, num);
	num = 0xffffffff;
	ASSERT_ERRNO(EINVAL, hwpt_inv_selftest(FD, nested, &inv, &num));
	ASSERT_EQ(0, num);
	ASSERT_IOTLB_ALL(BE, nested, D);
	DESTROY(nested);
	DESTROY(parent);
}

TEST_F(nesting, invalidate_null_uptr)
{
	uint32_t parent, nested, num;

	NESTED_PAIR(&parent, &nested);
	num = 1;
	ASSERT_ERRNO(EINVAL, hwpt_invalidate(FD, nested,
			IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, NULL,
			sizeof(struct iommu_hwpt_invalidate_selftest), &num));
	ASSERT_EQ(0, num);
	ASSERT_IOTLB_ALL(BE, nested, D);
	DESTROY(nested);
	DESTROY(parent);
}

TEST_F(nesting, invalidate_efault)
{
	struct iommu_hwpt_invalidate_selftest *inv;
	uint32_t parent, nested, num;
	uint8_t *page;
	void *bad;

	bad = fault_addr();
	ASSERT_NE(NULL, bad);
	page = alloc_guarded_page();
	ASSERT_NE(NULL, page);
	NESTED_PAIR(&parent, &nested);

	num = 1;
	ASSERT_ERRNO(EFAULT, hwpt_invalidate(FD, nested,
			IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, bad,
			sizeof(*inv), &num));
	ASSERT_EQ(0, num);
	ASSERT_IOTLB_ALL(BE, nested, D);

	/* Entry 0 is the last one of a page, entry 1 faults */
	inv = (void *)(page + PAGE_4K - sizeof(*inv));
	inv->flags = 0;
	inv->iotlb_id = 2;
	num = 2;
	ASSERT_ERRNO(EFAULT, hwpt_inv_selftest(FD, nested, inv, &num));
	ASSERT_EQ(1, num);
	ASSERT_IOTLB4(BE, nested, D, D, 0, D);
	DESTROY(nested);
	DESTROY(parent);
}

TEST_F(nesting, invalidate_not_nested)
{
	struct iommu_hwpt_invalidate_selftest inv = { .iotlb_id = 1 };
	struct iommu_hwpt_invalidate raw = {
		.size = sizeof(raw),
		.data_uptr = (uintptr_t)&inv,
		.data_type = IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
		.entry_len = sizeof(inv),
		.entry_num = 1,
		.__reserved = 1,
	};
	uint32_t parent, nested, num;

	NESTED_PAIR(&parent, &nested);
	/* A paging HWPT has nothing to invalidate this way */
	num = 1;
	ASSERT_ERRNO(EINVAL, hwpt_inv_selftest(FD, parent, &inv, &num));
	ASSERT_EQ(0, num);
	num = 1;
	ASSERT_ERRNO(EINVAL, hwpt_inv_selftest(FD, self->hwpt_id, &inv, &num));
	ASSERT_EQ(0, num);
	/* Nor an IOAS or a device */
	num = 1;
	ASSERT_ERRNO(EINVAL, hwpt_inv_selftest(FD, self->ioas_id, &inv, &num));
	ASSERT_EQ(0, num);
	num = 1;
	ASSERT_ERRNO(EINVAL, hwpt_inv_selftest(FD, self->idev_id, &inv, &num));
	ASSERT_EQ(0, num);
	/* Missing object */
	num = 1;
	ASSERT_ERRNO(ENOENT, hwpt_inv_selftest(FD, BAD_ID, &inv, &num));
	ASSERT_EQ(0, num);
	/* Reserved field */
	raw.hwpt_id = nested;
	ASSERT_ERRNO(EOPNOTSUPP, ioctl(FD, IOMMU_HWPT_INVALIDATE, &raw));
	ASSERT_EQ(0, raw.entry_num);
	ASSERT_IOTLB_ALL(BE, nested, D);
	DESTROY(nested);
	DESTROY(parent);
}

#undef D

/* ====================================================================== */
/* Attach and replace                                                     */

TEST_F(nesting, replace_paging_nested_paging)
{
	uint32_t parent, nested, cur;

	NEW_PARENT(&parent);
	NEW_NESTED(parent, DEFAULT_IOTLB, &nested);

	cur = parent;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	ASSERT_EQ(parent, cur);
	/* The automatic domain went away with its last user */
	ASSERT_ERRNO(ENOENT, iommufd_destroy(FD, self->hwpt_id));

	cur = nested;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	ASSERT_EQ(nested, cur);
	ASSERT_IOTLB_ALL(BE, nested, DEFAULT_IOTLB);

	cur = parent;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	ASSERT_EQ(parent, cur);

	cur = nested;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	ASSERT_EQ(nested, cur);

	/* And back to the IOAS: a new automatic domain */
	cur = self->ioas_id;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	ASSERT_NE(self->ioas_id, cur);
	ASSERT_NE(parent, cur);
	ASSERT_NE(nested, cur);
	DESTROY(nested);
	DESTROY(parent);
}

TEST_F(nesting, replace_to_ioas)
{
	uint32_t parent, cur, auto_id;
	void *buf;

	buf = alloc_buf(4 * PAGE_4K);
	ASSERT_NE(NULL, buf);
	ASSERT_OK(ioas_map_fixed(FD, self->ioas_id, buf, 4 * PAGE_4K,
				 APERTURE_START + SZ_1M));
	NEW_PARENT(&parent);
	cur = parent;
	ASSERT_OK(be_replace(BE, self->dev, &cur));

	cur = self->ioas_id;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	auto_id = cur;
	/* The automatic domain is a real paging domain of the IOAS */
	ASSERT_OK(be_check_map(BE, auto_id, APERTURE_START + SZ_1M,
			       4 * PAGE_4K, buf));
	/* Replacing with the IOAS again reuses it */
	cur = self->ioas_id;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	ASSERT_EQ(auto_id, cur);
	/* Replacing with the current HWPT is a no-op */
	cur = auto_id;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	ASSERT_EQ(auto_id, cur);
	ASSERT_ERRNO(EBUSY, iommufd_destroy(FD, auto_id));
	DESTROY(parent);
}

TEST_F(nesting, replace_nested_other_ioas)
{
	uint32_t ioas2, parent2, nested2, cur;
	void *buf;

	buf = alloc_buf(2 * PAGE_4K);
	ASSERT_NE(NULL, buf);
	ASSERT_OK(ioas_alloc(FD, &ioas2));
	ASSERT_OK(hwpt_alloc_paging(FD, self->idev_id, ioas2,
				    IOMMU_HWPT_ALLOC_NEST_PARENT, &parent2));
	NEW_NESTED(parent2, 0x1111, &nested2);

	/* From the automatic domain of IOAS 1 to a nested one on IOAS 2 */
	cur = nested2;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	ASSERT_EQ(nested2, cur);
	ASSERT_OK(ioas_map_fixed(FD, ioas2, buf, 2 * PAGE_4K,
				 APERTURE_START));
	ASSERT_OK(be_check_map(BE, parent2, APERTURE_START, 2 * PAGE_4K, buf));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(FD, ioas2));

	/* And back to IOAS 1 */
	cur = self->ioas_id;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	DESTROY(nested2);
	DESTROY(parent2);
	DESTROY(ioas2);
}

TEST_F(nesting, attach_dirty_no_dirty_dev)
{
	uint32_t dirty, dparent, nested, dev2, idev2, hwpt2, cur;

	NEW_PAGING(IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &dirty);
	NEW_PAGING(IOMMU_HWPT_ALLOC_DIRTY_TRACKING |
		   IOMMU_HWPT_ALLOC_NEST_PARENT, &dparent);
	NEW_NESTED(dparent, DEFAULT_IOTLB, &nested);

	/* A NO_DIRTY device cannot attach to a dirty-tracking domain */
	ASSERT_ERRNO(EINVAL, be_dev_add(BE, dirty, DEVF_NO_DIRTY, &dev2,
					&idev2, &hwpt2));
	ASSERT_OK(be_dev_add(BE, self->ioas_id, DEVF_NO_DIRTY, &dev2, &idev2,
			     &hwpt2));
	cur = dirty;
	ASSERT_ERRNO(EINVAL, be_replace(BE, dev2, &cur));
	cur = dparent;
	ASSERT_ERRNO(EINVAL, be_replace(BE, dev2, &cur));
	/* The nested domain itself has no dirty ops: accepted */
	cur = nested;
	ASSERT_OK(be_replace(BE, dev2, &cur));
	ASSERT_OK(be_dev_remove(BE, dev2));

	DESTROY(nested);
	DESTROY(dparent);
	DESTROY(dirty);
}

TEST_F(nesting, replace_bad_args)
{
	uint32_t dev2, idev2, hwpt2, cur;

	cur = BAD_ID;
	ASSERT_ERRNO(ENOENT, be_replace(BE, self->dev, &cur));
	cur = self->idev_id;
	ASSERT_ERRNO(EINVAL, be_replace(BE, self->dev, &cur));
	cur = self->ioas_id;
	ASSERT_ERRNO(ENOENT, be_replace(BE, BAD_ID, &cur));

	ASSERT_OK(be_dev_add(BE, self->ioas_id, 0, &dev2, &idev2, &hwpt2));
	/* Two devices share the IOAS's automatic domain */
	ASSERT_EQ(self->hwpt_id, hwpt2);
	ASSERT_OK(be_dev_remove(BE, dev2));
	cur = self->ioas_id;
	ASSERT_ERRNO(ENOENT, be_replace(BE, dev2, &cur));
	ASSERT_ERRNO(ENOENT, be_dev_remove(BE, dev2));
	/* The removed device's iommufd id is gone */
	ASSERT_ERRNO(ENOENT, hwpt_alloc_paging(FD, idev2, self->ioas_id, 0,
					       &hwpt2));
}

TEST_F(nesting, dev_add_attach_targets)
{
	uint32_t parent, nested, dev2, idev2, hwpt2, dev3, idev3, hwpt3;

	NEW_PARENT(&parent);
	NEW_NESTED(parent, 0x77, &nested);

	ASSERT_OK(be_dev_add(BE, parent, 0, &dev2, &idev2, &hwpt2));
	ASSERT_EQ(parent, hwpt2);
	ASSERT_OK(be_dev_add(BE, nested, 0, &dev3, &idev3, &hwpt3));
	ASSERT_EQ(nested, hwpt3);
	ASSERT_NE(idev2, idev3);
	ASSERT_NE(dev2, dev3);
	ASSERT_ERRNO(EBUSY, iommufd_destroy(FD, nested));
	ASSERT_OK(be_dev_remove(BE, dev3));
	ASSERT_OK(be_dev_remove(BE, dev2));

	/* Bad targets and device flags */
	ASSERT_ERRNO(ENOENT, be_dev_add(BE, BAD_ID, 0, &dev2, &idev2, &hwpt2));
	ASSERT_ERRNO(EINVAL, be_dev_add(BE, self->idev_id, 0, &dev2, &idev2,
					&hwpt2));
	ASSERT_ERRNO(EINVAL, be_dev_add(BE, self->ioas_id, 1u << 1, &dev2,
					&idev2, &hwpt2));
	ASSERT_ERRNO(EINVAL, be_dev_add(BE, self->ioas_id, 1u << 31, &dev2,
					&idev2, &hwpt2));
	DESTROY(nested);
	DESTROY(parent);
}

/* ====================================================================== */
/* IOAS map / unmap                                                       */

TEST_F(nesting, map_check_sizes)
{
	static const uint64_t sizes[] = {
		PAGE_4K, 2 * PAGE_4K, 3 * PAGE_4K, SZ_64K, SZ_1M + PAGE_4K,
	};
	uint64_t iova[ARRAY_LEN(sizes)];
	uint32_t parent;
	uint8_t *buf;
	size_t off = 0;
	unsigned int i;

	buf = alloc_buf(4 * SZ_1M);
	ASSERT_NE(NULL, buf);
	NEW_PARENT(&parent);

	for (i = 0; i != ARRAY_LEN(sizes); i++) {
		iova[i] = APERTURE_START + i * 2 * SZ_2M + (i % 2) * PAGE_4K;
		ASSERT_OK(ioas_map_fixed(FD, self->ioas_id, buf + off,
					 sizes[i], iova[i]));
		/* Both domains of the IOAS see it */
		ASSERT_OK(be_check_map(BE, self->hwpt_id, iova[i], sizes[i],
				       buf + off));
		ASSERT_OK(be_check_map(BE, parent, iova[i], sizes[i],
				       buf + off));
		/* Against the wrong pages it fails */
		ASSERT_ERRNO(EINVAL, be_check_map(BE, self->hwpt_id, iova[i],
						  sizes[i], buf + off + PAGE_4K));
		off += sizes[i];
	}
	/* Not mapped */
	ASSERT_ERRNO(EINVAL, be_check_map(BE, self->hwpt_id,
					  APERTURE_START + SZ_2M, PAGE_4K, buf));

	/* Unmap the second one: only it disappears */
	ASSERT_OK(ioas_unmap(FD, self->ioas_id, iova[1], sizes[1]));
	ASSERT_ERRNO(EINVAL, be_check_map(BE, self->hwpt_id, iova[1],
					  sizes[1], buf + sizes[0]));
	ASSERT_ERRNO(EINVAL, be_check_map(BE, parent, iova[1], sizes[1],
					  buf + sizes[0]));
	ASSERT_OK(be_check_map(BE, self->hwpt_id, iova[0], sizes[0], buf));
	ASSERT_OK(be_check_map(BE, parent, iova[2], sizes[2],
			       buf + sizes[0] + sizes[1]));

	/* Unmap everything */
	ASSERT_OK(ioas_unmap(FD, self->ioas_id, 0, UINT64_MAX));
	ASSERT_ERRNO(EINVAL, be_check_map(BE, self->hwpt_id, iova[0],
					  sizes[0], buf));
	ASSERT_ERRNO(EINVAL, be_check_map(BE, parent, iova[4], sizes[4],
					  buf + off - sizes[4]));
	/* check_map is for paging HWPTs only */
	ASSERT_ERRNO(ENOENT, be_check_map(BE, self->ioas_id, iova[0],
					  PAGE_4K, buf));
	DESTROY(parent);
}

/* 2M-aligned 2M pages (MAP_HUGETLB): the domains use 2M leaves */
TEST_F(nesting, map_hugepage_2m)
{
	const uint64_t iova = APERTURE_START + 4 * SZ_2M;
	uint32_t parent;
	uint8_t *buf;

	buf = mmap(NULL, 2 * SZ_2M, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE,
		   -1, 0);
	if (buf == MAP_FAILED)
		SKIP(return, "no 2M hugetlb pages (mmap MAP_HUGETLB: %s; "
		     "set /proc/sys/vm/nr_hugepages)", ename(errno));
	ASSERT_EQ(0, (uintptr_t)buf % SZ_2M);
	memset(buf, 0xa5, 2 * SZ_2M);
	NEW_PARENT(&parent);

	ASSERT_OK(ioas_map_fixed(FD, self->ioas_id, buf, 2 * SZ_2M, iova));
	ASSERT_OK(be_check_map(BE, self->hwpt_id, iova, 2 * SZ_2M, buf));
	ASSERT_OK(be_check_map(BE, parent, iova, 2 * SZ_2M, buf));
	ASSERT_OK(be_check_map(BE, parent, iova + SZ_2M + 5 * PAGE_4K,
			       PAGE_4K, buf + SZ_2M + 5 * PAGE_4K));
	ASSERT_ERRNO(EINVAL, be_check_map(BE, parent, iova, SZ_2M,
					  buf + SZ_2M));

	/* The same huge page at a 4K-but-not-2M-aligned IOVA */
	ASSERT_OK(ioas_map_fixed(FD, self->ioas_id, buf, SZ_2M,
				 iova + 4 * SZ_2M + PAGE_4K));
	ASSERT_OK(be_check_map(BE, parent, iova + 4 * SZ_2M + PAGE_4K, SZ_2M,
			       buf));

	ASSERT_OK(ioas_unmap(FD, self->ioas_id, iova, 2 * SZ_2M));
	ASSERT_ERRNO(EINVAL, be_check_map(BE, parent, iova, SZ_2M, buf));
	ASSERT_ERRNO(EINVAL, be_check_map(BE, self->hwpt_id, iova + SZ_2M,
					  PAGE_4K, buf + SZ_2M));
	ASSERT_OK(be_check_map(BE, parent, iova + 4 * SZ_2M + PAGE_4K, SZ_2M,
			       buf));
	DESTROY(parent);
	munmap(buf, 2 * SZ_2M);
}

/* A large 2M-aligned anonymous buffer (THP if the kernel has it) */
TEST_F(nesting, map_large_buffer)
{
	const uint64_t len = 4 * SZ_2M;
	const uint64_t iova = APERTURE_START + 32 * SZ_2M;
	uint32_t parent;
	uint8_t *buf;

	buf = alloc_buf_aligned(len, SZ_2M);
	ASSERT_NE(NULL, buf);
	NEW_PARENT(&parent);
	ASSERT_OK(ioas_map_fixed(FD, self->ioas_id, buf, len, iova));
	ASSERT_OK(be_check_map(BE, self->hwpt_id, iova, len, buf));
	ASSERT_OK(be_check_map(BE, parent, iova, len, buf));
	ASSERT_OK(ioas_unmap(FD, self->ioas_id, iova, len));
	ASSERT_ERRNO(EINVAL, be_check_map(BE, parent, iova + len - PAGE_4K,
					  PAGE_4K, buf + len - PAGE_4K));
	DESTROY(parent);
}

TEST_F(nesting, map_outside_aperture)
{
	uint8_t *buf;

	buf = alloc_buf(2 * PAGE_4K);
	ASSERT_NE(NULL, buf);
	/* The attached domain's aperture is reserved around in the IOAS */
	ASSERT_ERRNO(EINVAL, ioas_map_fixed(FD, self->ioas_id, buf, PAGE_4K,
					    0));
	ASSERT_ERRNO(EINVAL, ioas_map_fixed(FD, self->ioas_id, buf, PAGE_4K,
					    APERTURE_START - PAGE_4K));
	ASSERT_ERRNO(EINVAL, ioas_map_fixed(FD, self->ioas_id, buf,
					    2 * PAGE_4K,
					    APERTURE_START - PAGE_4K));
	ASSERT_ERRNO(EINVAL, ioas_map_fixed(FD, self->ioas_id, buf, PAGE_4K,
					    APERTURE_LAST + 1));
	ASSERT_ERRNO(EINVAL, ioas_map_fixed(FD, self->ioas_id, buf,
					    2 * PAGE_4K,
					    APERTURE_LAST + 1 - PAGE_4K));
	/* The edges themselves are fine */
	ASSERT_OK(ioas_map_fixed(FD, self->ioas_id, buf, PAGE_4K,
				 APERTURE_START));
	ASSERT_OK(ioas_map_fixed(FD, self->ioas_id, buf + PAGE_4K, PAGE_4K,
				 APERTURE_LAST + 1 - PAGE_4K));
	ASSERT_OK(be_check_map(BE, self->hwpt_id, APERTURE_START, PAGE_4K,
			       buf));
	ASSERT_OK(be_check_map(BE, self->hwpt_id, APERTURE_LAST + 1 - PAGE_4K,
			       PAGE_4K, buf + PAGE_4K));
	/* Mapping over an existing mapping */
	ASSERT_ERRNO(EEXIST, ioas_map_fixed(FD, self->ioas_id, buf, PAGE_4K,
					    APERTURE_START));
}

TEST_F(nesting, map_before_domain)
{
	uint32_t ioas2, hwpt, parent, nested, cur, dev2, idev2, hwpt2;
	uint8_t *buf;

	buf = alloc_buf(8 * PAGE_4K);
	ASSERT_NE(NULL, buf);
	ASSERT_OK(ioas_alloc(FD, &ioas2));

	/* Map first, outside the mock aperture: no domain can join */
	ASSERT_OK(ioas_map_fixed(FD, ioas2, buf, PAGE_4K, PAGE_4K));
	ASSERT_ERRNO(EADDRINUSE, hwpt_alloc_paging(FD, self->idev_id, ioas2,
				IOMMU_HWPT_ALLOC_NEST_PARENT, &hwpt));
	ASSERT_ERRNO(EADDRINUSE, be_dev_add(BE, ioas2, 0, &dev2, &idev2,
					    &hwpt2));
	ASSERT_OK(ioas_unmap(FD, ioas2, PAGE_4K, PAGE_4K));

	/* Map inside, then create the domain: it is filled on creation */
	ASSERT_OK(ioas_map_fixed(FD, ioas2, buf, 8 * PAGE_4K,
				 APERTURE_START + SZ_64K));
	ASSERT_OK(hwpt_alloc_paging(FD, self->idev_id, ioas2,
				    IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_OK(be_check_map(BE, parent, APERTURE_START + SZ_64K,
			       8 * PAGE_4K, buf));
	NEW_NESTED(parent, 0x42, &nested);
	cur = nested;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	ASSERT_OK(ioas_unmap(FD, ioas2, APERTURE_START + SZ_64K, 8 * PAGE_4K));
	ASSERT_ERRNO(EINVAL, be_check_map(BE, parent, APERTURE_START + SZ_64K,
					  PAGE_4K, buf));
	cur = self->ioas_id;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	DESTROY(nested);
	DESTROY(parent);
	DESTROY(ioas2);
}

/* ====================================================================== */
/* Destroy while in use                                                   */

TEST_F(nesting, destroy_parent_with_child)
{
	uint32_t parent, nested;

	NEW_PARENT(&parent);
	NEW_NESTED(parent, DEFAULT_IOTLB, &nested);
	ASSERT_ERRNO(EBUSY, iommufd_destroy(FD, parent));
	/* The failed destroy changed nothing */
	ASSERT_IOTLB_ALL(BE, nested, DEFAULT_IOTLB);
	DESTROY(nested);
	DESTROY(parent);
	ASSERT_ERRNO(ENOENT, iommufd_destroy(FD, parent));
}

TEST_F(nesting, destroy_attached_hwpt)
{
	uint32_t parent, nested, cur;

	/* The automatic domain, attached */
	ASSERT_ERRNO(EBUSY, iommufd_destroy(FD, self->hwpt_id));

	NEW_PARENT(&parent);
	cur = parent;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(FD, parent));

	NEW_NESTED(parent, DEFAULT_IOTLB, &nested);
	cur = nested;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(FD, nested));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(FD, parent));

	cur = self->ioas_id;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	DESTROY(nested);
	DESTROY(parent);
}

TEST_F(nesting, destroy_ioas_in_use)
{
	uint32_t parent;

	NEW_PARENT(&parent);
	ASSERT_ERRNO(EBUSY, iommufd_destroy(FD, self->ioas_id));
	ASSERT_OK(be_dev_remove(BE, self->dev));
	/* The automatic domain died with the device, the parent remains */
	ASSERT_ERRNO(ENOENT, iommufd_destroy(FD, self->hwpt_id));
	ASSERT_ERRNO(EBUSY, iommufd_destroy(FD, self->ioas_id));
	DESTROY(parent);
	DESTROY(self->ioas_id);
	ASSERT_ERRNO(ENOENT, iommufd_destroy(FD, self->ioas_id));
}

TEST_F(nesting, dev_remove_while_nested)
{
	uint32_t parent, nested, cur;

	NEW_PARENT(&parent);
	NEW_NESTED(parent, DEFAULT_IOTLB, &nested);
	cur = nested;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	/* Removing the device detaches it from the nested domain */
	ASSERT_OK(be_dev_remove(BE, self->dev));
	DESTROY(nested);
	DESTROY(parent);
	DESTROY(self->ioas_id);
}

/* ====================================================================== */
/* Dirty tracking                                                         */

#define DIRTY_PAGES 64
#define DIRTY_IOVA (APERTURE_START + 64 * SZ_2M)

/*
 * A dirty-tracking HWPT with the device attached and DIRTY_PAGES 4K pages
 * mapped with one IOAS_MAP each, so that every page is its own 4K leaf in
 * both drivers (a physically contiguous run could otherwise become one
 * larger leaf in the C mock, which supports every power of two size).
 */
#define DIRTY_SETUP(hwpt, buf)                                               \
	do {                                                                 \
		uint32_t __cur;                                              \
		unsigned int __i;                                            \
		NEW_PAGING(IOMMU_HWPT_ALLOC_DIRTY_TRACKING, hwpt);           \
		__cur = *(hwpt);                                             \
		ASSERT_OK(be_replace(BE, self->dev, &__cur));                \
		*(buf) = alloc_buf(DIRTY_PAGES * PAGE_4K);                   \
		ASSERT_NE(NULL, *(buf));                                     \
		for (__i = 0; __i != DIRTY_PAGES; __i++)                     \
			ASSERT_OK(ioas_map_fixed(FD, self->ioas_id,          \
						 *(buf) + __i * PAGE_4K,     \
						 PAGE_4K,                    \
						 DIRTY_IOVA + __i * PAGE_4K)); \
	} while (0)

static uint64_t bits_even(void)
{
	return 0x5555555555555555ull;
}

TEST_F(nesting, dirty_bitmap)
{
	uint64_t bitmap, nr = 0;
	uint32_t hwpt;
	uint8_t *buf;

	_Static_assert(DIRTY_PAGES == 64, "one u64 bitmap");
	DIRTY_SETUP(&hwpt, &buf);
	ASSERT_OK(hwpt_set_dirty_tracking(FD, hwpt,
					  IOMMU_HWPT_DIRTY_TRACKING_ENABLE));

	/* Nothing dirty yet (GET_DIRTY_BITMAP only sets bits: start at 0) */
	bitmap = 0;
	ASSERT_OK(hwpt_get_dirty_bitmap(FD, hwpt, DIRTY_IOVA,
					DIRTY_PAGES * PAGE_4K, PAGE_4K,
					&bitmap, 0));
	ASSERT_EQ(0, bitmap);

	/* Dirty every even page */
	bitmap = bits_even();
	ASSERT_OK(be_set_dirty(BE, hwpt, DIRTY_IOVA, DIRTY_PAGES * PAGE_4K,
			       PAGE_4K, &bitmap, &nr));
	ASSERT_EQ(DIRTY_PAGES / 2, nr);

	bitmap = 0;
	ASSERT_OK(hwpt_get_dirty_bitmap(FD, hwpt, DIRTY_IOVA,
					DIRTY_PAGES * PAGE_4K, PAGE_4K,
					&bitmap, 0));
	ASSERT_EQ(bits_even(), bitmap);
	/* Read and cleared: nothing the second time */
	bitmap = 0;
	ASSERT_OK(hwpt_get_dirty_bitmap(FD, hwpt, DIRTY_IOVA,
					DIRTY_PAGES * PAGE_4K, PAGE_4K,
					&bitmap, 0));
	ASSERT_EQ(0, bitmap);

	/* A single page, read through a sub-range */
	bitmap = 1ull << 3;
	ASSERT_OK(be_set_dirty(BE, hwpt, DIRTY_IOVA, DIRTY_PAGES * PAGE_4K,
			       PAGE_4K, &bitmap, &nr));
	ASSERT_EQ(1, nr);
	bitmap = 0;
	ASSERT_OK(hwpt_get_dirty_bitmap(FD, hwpt, DIRTY_IOVA + 2 * PAGE_4K,
					4 * PAGE_4K, PAGE_4K, &bitmap, 0));
	ASSERT_EQ(1ull << 1, bitmap);
	bitmap = 0;
	ASSERT_OK(hwpt_get_dirty_bitmap(FD, hwpt, DIRTY_IOVA,
					DIRTY_PAGES * PAGE_4K, PAGE_4K,
					&bitmap, 0));
	ASSERT_EQ(0, bitmap);
}

TEST_F(nesting, dirty_bitmap_no_clear)
{
	uint64_t bitmap, nr = 0;
	uint32_t hwpt;
	uint8_t *buf;

	DIRTY_SETUP(&hwpt, &buf);
	ASSERT_OK(hwpt_set_dirty_tracking(FD, hwpt,
					  IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	bitmap = bits_even();
	ASSERT_OK(be_set_dirty(BE, hwpt, DIRTY_IOVA, DIRTY_PAGES * PAGE_4K,
			       PAGE_4K, &bitmap, &nr));
	ASSERT_EQ(DIRTY_PAGES / 2, nr);

	/* NO_CLEAR reads leave the bits set */
	bitmap = 0;
	ASSERT_OK(hwpt_get_dirty_bitmap(FD, hwpt, DIRTY_IOVA,
					DIRTY_PAGES * PAGE_4K, PAGE_4K, &bitmap,
					IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
	ASSERT_EQ(bits_even(), bitmap);
	bitmap = 0;
	ASSERT_OK(hwpt_get_dirty_bitmap(FD, hwpt, DIRTY_IOVA,
					DIRTY_PAGES * PAGE_4K, PAGE_4K, &bitmap,
					IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
	ASSERT_EQ(bits_even(), bitmap);
	/* A clearing read still sees them, then they are gone */
	bitmap = 0;
	ASSERT_OK(hwpt_get_dirty_bitmap(FD, hwpt, DIRTY_IOVA,
					DIRTY_PAGES * PAGE_4K, PAGE_4K,
					&bitmap, 0));
	ASSERT_EQ(bits_even(), bitmap);
	bitmap = 0;
	ASSERT_OK(hwpt_get_dirty_bitmap(FD, hwpt, DIRTY_IOVA,
					DIRTY_PAGES * PAGE_4K, PAGE_4K, &bitmap,
					IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
	ASSERT_EQ(0, bitmap);
}

TEST_F(nesting, dirty_enable_clears)
{
	uint64_t bitmap, nr = 0;
	uint32_t hwpt;
	uint8_t *buf;

	DIRTY_SETUP(&hwpt, &buf);
	/* Faking dirty bits needs tracking enabled */
	bitmap = ~0ull;
	ASSERT_ERRNO(EINVAL, be_set_dirty(BE, hwpt, DIRTY_IOVA,
					  DIRTY_PAGES * PAGE_4K, PAGE_4K,
					  &bitmap, &nr));
	ASSERT_OK(hwpt_set_dirty_tracking(FD, hwpt,
					  IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	/* Enabling twice is fine */
	ASSERT_OK(hwpt_set_dirty_tracking(FD, hwpt,
					  IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	ASSERT_OK(be_set_dirty(BE, hwpt, DIRTY_IOVA, DIRTY_PAGES * PAGE_4K,
			       PAGE_4K, &bitmap, &nr));
	ASSERT_EQ(DIRTY_PAGES, nr);

	/* Disable: faking is refused again */
	ASSERT_OK(hwpt_set_dirty_tracking(FD, hwpt, 0));
	ASSERT_ERRNO(EINVAL, be_set_dirty(BE, hwpt, DIRTY_IOVA,
					  DIRTY_PAGES * PAGE_4K, PAGE_4K,
					  &bitmap, &nr));
	/* Re-enable: the core clears the stale dirty state first */
	ASSERT_OK(hwpt_set_dirty_tracking(FD, hwpt,
					  IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	bitmap = 0;
	ASSERT_OK(hwpt_get_dirty_bitmap(FD, hwpt, DIRTY_IOVA,
					DIRTY_PAGES * PAGE_4K, PAGE_4K,
					&bitmap, 0));
	ASSERT_EQ(0, bitmap);
}

TEST_F(nesting, dirty_errors)
{
	uint32_t plain, dirty, parent, nested;
	uint64_t bitmap = 1, nr;

	NEW_PAGING(0, &plain);
	NEW_PAGING(IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &dirty);
	NEW_PARENT(&parent);
	NEW_NESTED(parent, DEFAULT_IOTLB, &nested);

	/* A domain without dirty ops */
	ASSERT_ERRNO(EOPNOTSUPP, hwpt_set_dirty_tracking(FD, plain,
				IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	ASSERT_ERRNO(EOPNOTSUPP, hwpt_get_dirty_bitmap(FD, plain,
				APERTURE_START, PAGE_4K, PAGE_4K, &bitmap, 0));
	/* Not a paging HWPT */
	ASSERT_ERRNO(ENOENT, hwpt_set_dirty_tracking(FD, nested,
				IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	ASSERT_ERRNO(ENOENT, hwpt_set_dirty_tracking(FD, self->ioas_id,
				IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	/* Bad flags */
	ASSERT_ERRNO(EOPNOTSUPP, hwpt_set_dirty_tracking(FD, dirty, 1u << 1));
	ASSERT_ERRNO(EOPNOTSUPP, hwpt_get_dirty_bitmap(FD, dirty,
				APERTURE_START, PAGE_4K, PAGE_4K, &bitmap,
				1u << 1));
	/* Bad ranges */
	ASSERT_ERRNO(EINVAL, hwpt_get_dirty_bitmap(FD, dirty, APERTURE_START,
						   0, PAGE_4K, &bitmap, 0));
	ASSERT_ERRNO(EINVAL, hwpt_get_dirty_bitmap(FD, dirty,
						   APERTURE_START + 512,
						   PAGE_4K, PAGE_4K, &bitmap,
						   0));
	ASSERT_ERRNO(EINVAL, hwpt_get_dirty_bitmap(FD, dirty, APERTURE_START,
						   PAGE_4K, 0, &bitmap, 0));

	/* The backend's fake-dirty op */
	ASSERT_OK(hwpt_set_dirty_tracking(FD, dirty,
					  IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	ASSERT_ERRNO(EINVAL, be_set_dirty(BE, dirty, APERTURE_START, PAGE_4K,
					  0, &bitmap, &nr));
	ASSERT_ERRNO(EINVAL, be_set_dirty(BE, dirty, APERTURE_START, 0,
					  PAGE_4K, &bitmap, &nr));
	ASSERT_ERRNO(EINVAL, be_set_dirty(BE, dirty, APERTURE_START, PAGE_4K,
					  PAGE_4K, NULL, &nr));
	ASSERT_ERRNO(EINVAL, be_set_dirty(BE, plain, APERTURE_START, PAGE_4K,
					  PAGE_4K, &bitmap, &nr));

	DESTROY(nested);
	DESTROY(parent);
	DESTROY(dirty);
	DESTROY(plain);
}

/* A 2M leaf is dirty as a whole */
TEST_F(nesting, dirty_bitmap_huge)
{
	const uint64_t iova = APERTURE_START + 8 * SZ_2M;
	uint64_t bitmap[SZ_2M / PAGE_4K / 64], nr = 0, setbm = 0;
	uint32_t hwpt, cur;
	unsigned int i;
	uint8_t *buf;

	buf = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE,
		   -1, 0);
	if (buf == MAP_FAILED)
		SKIP(return, "no 2M hugetlb pages (mmap MAP_HUGETLB: %s; "
		     "set /proc/sys/vm/nr_hugepages)", ename(errno));
	NEW_PAGING(IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &hwpt);
	cur = hwpt;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	ASSERT_OK(ioas_map_fixed(FD, self->ioas_id, buf, SZ_2M, iova));
	ASSERT_OK(be_check_map(BE, hwpt, iova, SZ_2M, buf));
	ASSERT_OK(hwpt_set_dirty_tracking(FD, hwpt,
					  IOMMU_HWPT_DIRTY_TRACKING_ENABLE));

	/* Dirty one 4K page in the middle ... */
	setbm = 1ull << 5;
	ASSERT_OK(be_set_dirty(BE, hwpt, iova + 64 * PAGE_4K, 64 * PAGE_4K,
			       PAGE_4K, &setbm, &nr));
	ASSERT_EQ(1, nr);
	/* ... and the whole 2M leaf reads dirty */
	memset(bitmap, 0, sizeof(bitmap));
	ASSERT_OK(hwpt_get_dirty_bitmap(FD, hwpt, iova, SZ_2M, PAGE_4K,
					bitmap, 0));
	for (i = 0; i != ARRAY_LEN(bitmap); i++)
		ASSERT_EQ(~0ull, bitmap[i]);
	memset(bitmap, 0, sizeof(bitmap));
	ASSERT_OK(hwpt_get_dirty_bitmap(FD, hwpt, iova, SZ_2M, PAGE_4K,
					bitmap, 0));
	for (i = 0; i != ARRAY_LEN(bitmap); i++)
		ASSERT_EQ(0, bitmap[i]);
	munmap(buf, SZ_2M);
}

/* ====================================================================== */
/* Page geometry: 2K base pages, contiguous leaves, 1M huge leaves        */

#define PAGE_2K 0x800UL

static int ioas_iova_alignment(int fd, uint32_t ioas_id, uint64_t *align)
{
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
	};
	int rc;

	rc = ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &cmd);
	/* No room for the ranges: EMSGSIZE, with the alignment filled in */
	if (rc && errno != EMSGSIZE)
		return rc;
	*align = cmd.out_iova_alignment;
	return 0;
}

/* The attached default domain's smallest page is 2K */
TEST_F(nesting, geometry_iova_alignment_2k)
{
	uint64_t align = 0;
	uint8_t *buf;

	ASSERT_OK(ioas_iova_alignment(FD, self->ioas_id, &align));
	ASSERT_EQ(PAGE_2K, align);

	buf = alloc_buf(2 * PAGE_4K);
	ASSERT_NE(NULL, buf);
	/* 2K of a page, at a 2K-but-not-4K-aligned IOVA */
	ASSERT_OK(ioas_map_fixed(FD, self->ioas_id, buf + PAGE_2K, PAGE_2K,
				 APERTURE_START + 3 * PAGE_2K));
	ASSERT_OK(be_check_map(BE, self->hwpt_id, APERTURE_START + 3 * PAGE_2K,
			       PAGE_2K, buf + PAGE_2K));
	ASSERT_ERRNO(EINVAL, be_check_map(BE, self->hwpt_id,
					  APERTURE_START + 2 * PAGE_2K,
					  PAGE_2K, buf));
	/* check_map steps by 2K: a 1K offset is misaligned */
	ASSERT_ERRNO(EINVAL, be_check_map(BE, self->hwpt_id,
					  APERTURE_START + 3 * PAGE_2K + 1024,
					  1024, buf + PAGE_2K + 1024));
	/* 1K is below the alignment */
	ASSERT_ERRNO(EINVAL, ioas_map_fixed(FD, self->ioas_id, buf, 1024,
					    APERTURE_START + SZ_1M));
	ASSERT_OK(ioas_unmap(FD, self->ioas_id, APERTURE_START + 3 * PAGE_2K,
			     PAGE_2K));
}

/* A 4K mapping is one leaf of two 2K entries: dirty as a whole */
TEST_F(nesting, geometry_dirty_4k_leaf_2k_bits)
{
	uint64_t bitmap, nr = 0;
	uint32_t hwpt;
	uint8_t *buf;

	DIRTY_SETUP(&hwpt, &buf);
	ASSERT_OK(hwpt_set_dirty_tracking(FD, hwpt,
					  IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	/* The second 2K of page 1, the first 2K of page 4 */
	bitmap = (1ull << 3) | (1ull << 8);
	ASSERT_OK(be_set_dirty(BE, hwpt, DIRTY_IOVA, 32 * PAGE_4K, PAGE_2K,
			       &bitmap, &nr));
	ASSERT_EQ(2, nr);
	bitmap = 0;
	ASSERT_OK(hwpt_get_dirty_bitmap(FD, hwpt, DIRTY_IOVA, 32 * PAGE_4K,
					PAGE_2K, &bitmap, 0));
	ASSERT_EQ((3ull << 2) | (3ull << 8), bitmap);
	bitmap = 0;
	ASSERT_OK(hwpt_get_dirty_bitmap(FD, hwpt, DIRTY_IOVA, 32 * PAGE_4K,
					PAGE_2K, &bitmap, 0));
	ASSERT_EQ(0, bitmap);
}

/* The huge page table type: 1M leaves, PAGE_SIZE alignment, no aperture */
TEST_F(nesting, geometry_huge_1m_leaves)
{
	struct iommu_hwpt_selftest data = { .pagetable_type = 1 };
	const uint64_t iova = APERTURE_START + 8 * SZ_2M;
	uint64_t bitmap[SZ_2M / PAGE_4K / 64], nr = 0, setbm, align = 0;
	uint32_t hwpt, cur, ioas2;
	unsigned int i;
	uint8_t *buf;

	buf = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE,
		   -1, 0);
	if (buf == MAP_FAILED)
		SKIP(return, "no 2M hugetlb pages (mmap MAP_HUGETLB: %s; "
		     "set /proc/sys/vm/nr_hugepages)", ename(errno));
	/* A fresh IOAS, so that only the huge domain sets its alignment */
	ASSERT_OK(ioas_alloc(FD, &ioas2));
	ASSERT_OK(hwpt_alloc_raw(FD, self->idev_id, ioas2,
				 IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
				 IOMMU_HWPT_DATA_SELFTEST, &data, sizeof(data),
				 &hwpt));
	cur = hwpt;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	ASSERT_OK(ioas_iova_alignment(FD, ioas2, &align));
	ASSERT_EQ(PAGE_4K, align);
	/* Below the default aperture: fine here */
	ASSERT_OK(ioas_map_fixed(FD, ioas2, buf, PAGE_4K, PAGE_4K));
	ASSERT_OK(be_check_map(BE, hwpt, PAGE_4K, PAGE_4K, buf));
	/* check_map steps by PAGE_SIZE here: 2K offsets are misaligned */
	ASSERT_ERRNO(EINVAL, be_check_map(BE, hwpt, PAGE_4K + PAGE_2K,
					  PAGE_2K, buf + PAGE_2K));
	ASSERT_OK(ioas_unmap(FD, ioas2, PAGE_4K, PAGE_4K));

	ASSERT_OK(ioas_map_fixed(FD, ioas2, buf, SZ_2M, iova));
	ASSERT_OK(be_check_map(BE, hwpt, iova, SZ_2M, buf));
	ASSERT_OK(hwpt_set_dirty_tracking(FD, hwpt,
					  IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	/* One 2K in the second 1M leaf: that leaf, not the first, is dirty */
	setbm = 1ull << 5;
	ASSERT_OK(be_set_dirty(BE, hwpt, iova + SZ_1M + 64 * PAGE_2K,
			       64 * PAGE_2K, PAGE_2K, &setbm, &nr));
	ASSERT_EQ(1, nr);
	memset(bitmap, 0, sizeof(bitmap));
	ASSERT_OK(hwpt_get_dirty_bitmap(FD, hwpt, iova, SZ_2M, PAGE_4K,
					bitmap, 0));
	for (i = 0; i != ARRAY_LEN(bitmap); i++)
		ASSERT_EQ(i < ARRAY_LEN(bitmap) / 2 ? 0 : ~0ull, bitmap[i]);
	ASSERT_OK(ioas_unmap(FD, ioas2, iova, SZ_2M));
	/* (The fixture's automatic domain went with the first replace.) */
	cur = self->ioas_id;
	ASSERT_OK(be_replace(BE, self->dev, &cur));
	DESTROY(hwpt);
	DESTROY(ioas2);
	munmap(buf, SZ_2M);
}

/* ====================================================================== */
/* IOMMU_GET_HW_INFO                                                      */

TEST_F(nesting, hw_info)
{
	struct iommu_test_hw_info data;
	struct iommu_hw_info info;
	uint32_t dev2, idev2, hwpt2, dev3, idev3, hwpt3;
	uint8_t big[32];
	unsigned int i;

	memset(&data, 0xff, sizeof(data));
	memset(&info, 0, sizeof(info));
	ASSERT_OK(get_hw_info(FD, self->idev_id, &data, sizeof(data), &info));
	ASSERT_EQ(BE->ops->hw_info_type, info.out_data_type);
	ASSERT_EQ(sizeof(data), info.data_len);
	ASSERT_EQ(0, data.flags);
	ASSERT_EQ(BE->ops->hw_info_regval, data.test_reg);
	ASSERT_NE(0, data.test_reg);
	/* Both mocks give the C mock's answer (mock_domain_hw_info()) */
	ASSERT_EQ(IOMMU_HW_INFO_TYPE_SELFTEST, info.out_data_type);
	ASSERT_EQ(IOMMU_HW_INFO_SELFTEST_REGVAL, data.test_reg);
	ASSERT_EQ(IOMMU_HW_CAP_DIRTY_TRACKING,
		  info.out_capabilities & IOMMU_HW_CAP_DIRTY_TRACKING);
	ASSERT_EQ(0, info.out_max_pasid_log2);

	/* A bigger buffer: the tail is zeroed, data_len is the real size */
	memset(big, 0xff, sizeof(big));
	memset(&info, 0, sizeof(info));
	ASSERT_OK(get_hw_info(FD, self->idev_id, big, sizeof(big), &info));
	ASSERT_EQ(sizeof(data), info.data_len);
	for (i = sizeof(data); i != sizeof(big); i++)
		ASSERT_EQ(0, big[i]);
	/* A smaller one: truncated */
	memset(big, 0xee, sizeof(big));
	memset(&info, 0, sizeof(info));
	ASSERT_OK(get_hw_info(FD, self->idev_id, big, 4, &info));
	ASSERT_EQ(sizeof(data), info.data_len);
	ASSERT_EQ(0xee, big[4]);
	/* No buffer: just the type and the size */
	memset(&info, 0, sizeof(info));
	ASSERT_OK(get_hw_info(FD, self->idev_id, NULL, 0, &info));
	ASSERT_EQ(BE->ops->hw_info_type, info.out_data_type);
	ASSERT_EQ(sizeof(data), info.data_len);

	/* Device flags show up in the capabilities */
	ASSERT_OK(be_dev_add(BE, self->ioas_id, DEVF_NO_DIRTY, &dev2, &idev2,
			     &hwpt2));
	memset(&info, 0, sizeof(info));
	ASSERT_OK(get_hw_info(FD, idev2, &data, sizeof(data), &info));
	ASSERT_EQ(0, info.out_capabilities & IOMMU_HW_CAP_DIRTY_TRACKING);
	ASSERT_OK(be_dev_add(BE, self->ioas_id, DEVF_PASID, &dev3, &idev3,
			     &hwpt3));
	memset(&info, 0, sizeof(info));
	ASSERT_OK(get_hw_info(FD, idev3, &data, sizeof(data), &info));
	ASSERT_EQ(MOCK_PASID_WIDTH, info.out_max_pasid_log2);
	ASSERT_EQ(RIOMMU_MOCK_PASID_WIDTH, info.out_max_pasid_log2);
	ASSERT_OK(be_dev_remove(BE, dev3));
	ASSERT_OK(be_dev_remove(BE, dev2));
}

TEST_F(nesting, hw_info_bad)
{
	struct iommu_test_hw_info data;
	struct iommu_hw_info cmd = {
		.size = sizeof(cmd),
		.dev_id = self->idev_id,
		.data_len = sizeof(data),
		.data_uptr = (uintptr_t)&data,
	};
	struct iommu_hw_info info;

	ASSERT_ERRNO(ENOENT, get_hw_info(FD, BAD_ID, &data, sizeof(data),
					 NULL));
	ASSERT_ERRNO(ENOENT, get_hw_info(FD, self->ioas_id, &data,
					 sizeof(data), NULL));
	cmd.__reserved[1] = 1;
	ASSERT_ERRNO(EOPNOTSUPP, ioctl(FD, IOMMU_GET_HW_INFO, &cmd));
	cmd.__reserved[1] = 0;
	cmd.flags = 1u << 5;
	ASSERT_ERRNO(EOPNOTSUPP, ioctl(FD, IOMMU_GET_HW_INFO, &cmd));
	ASSERT_ERRNO(EFAULT, get_hw_info(FD, self->idev_id, fault_addr(),
					 sizeof(data), NULL));

	/* Asking for a type: the driver's own works, others do not */
	memset(&info, 0, sizeof(info));
	info.flags = IOMMU_HW_INFO_FLAG_INPUT_TYPE;
	info.in_data_type = BE->ops->hw_info_type;
	ASSERT_OK(get_hw_info(FD, self->idev_id, &data, sizeof(data), &info));
	ASSERT_EQ(BE->ops->hw_info_type, info.out_data_type);
	ASSERT_EQ(BE->ops->hw_info_regval, data.test_reg);
	memset(&info, 0, sizeof(info));
	info.flags = IOMMU_HW_INFO_FLAG_INPUT_TYPE;
	info.in_data_type = IOMMU_HW_INFO_TYPE_INTEL_VTD;
	ASSERT_ERRNO(EOPNOTSUPP, get_hw_info(FD, self->idev_id, &data,
					     sizeof(data), &info));
	/* DEFAULT through INPUT_TYPE is the same as not asking */
	memset(&info, 0, sizeof(info));
	info.flags = IOMMU_HW_INFO_FLAG_INPUT_TYPE;
	info.in_data_type = IOMMU_HW_INFO_TYPE_DEFAULT;
	ASSERT_OK(get_hw_info(FD, self->idev_id, &data, sizeof(data), &info));
	ASSERT_EQ(BE->ops->hw_info_type, info.out_data_type);
}

/* ====================================================================== */
/* Concurrency                                                            */

#define NR_THREADS 4
#define NR_ITERS 1000

struct nest_thread {
	pthread_t thread;
	struct backend *be;
	int fd;
	uint32_t idev_id;
	uint32_t parent;
	unsigned int idx;
	/* results */
	uint32_t last_nested;
	uint32_t last_value;
	unsigned int last_slot;
	int failed;
	char why[256];
};

static uint32_t thread_value(unsigned int idx, unsigned int iter)
{
	return 0x10000000u * (idx + 1) + iter + 1;
}

static void *nest_thread_fn(void *arg)
{
	struct nest_thread *t = arg;
	unsigned int i, s;

	for (i = 0; i != NR_ITERS; i++) {
		uint32_t val = thread_value(t->idx, i), nested, num = 1;
		struct iommu_hwpt_invalidate_selftest inv = {
			.iotlb_id = i % IOTLB_SLOTS,
		};

		if (hwpt_alloc_nested(t->fd, t->idev_id, t->parent, 0, val,
				      &nested)) {
			snprintf(t->why, sizeof(t->why),
				 "iter %u: alloc nested: %s", i, ename(errno));
			goto fail;
		}
		if (hwpt_inv_selftest(t->fd, nested, &inv, &num) || num != 1) {
			snprintf(t->why, sizeof(t->why),
				 "iter %u: invalidate: %s num %u", i,
				 ename(errno), num);
			goto fail;
		}
		for (s = 0; s != IOTLB_SLOTS; s++) {
			uint32_t want = s == inv.iotlb_id ? 0 : val;

			if (t->be->ops->check_iotlb(t->be, nested, s, want)) {
				int e = errno;
				uint32_t v[IOTLB_SLOTS] = {}, k;

				for (k = 0; t->be->ops->read_iotlb &&
					    k != IOTLB_SLOTS; k++)
					t->be->ops->read_iotlb(t->be, nested,
							       k, &v[k]);
				snprintf(t->why, sizeof(t->why),
					 "iter %u: hwpt %u (iotlb 0x%x, "
					 "invalidated slot %u): slot %u != 0x%x: "
					 "%s; slots now 0x%x 0x%x 0x%x 0x%x",
					 i, nested, val, inv.iotlb_id, s, want,
					 ename(e), v[0], v[1], v[2], v[3]);
				goto fail;
			}
		}
		if (i + 1 == NR_ITERS) {
			t->last_nested = nested;
			t->last_value = val;
			t->last_slot = inv.iotlb_id;
		} else if (iommufd_destroy(t->fd, nested)) {
			snprintf(t->why, sizeof(t->why), "iter %u: destroy: %s",
				 i, ename(errno));
			goto fail;
		}
	}
	return NULL;
fail:
	t->failed = 1;
	return NULL;
}

TEST_F_TIMEOUT(nesting, threads_nested_invalidate, 120)
{
	struct nest_thread t[NR_THREADS];
	uint32_t parent;
	unsigned int i, s;

	NEW_PARENT(&parent);
	memset(t, 0, sizeof(t));
	for (i = 0; i != NR_THREADS; i++) {
		t[i].be = BE;
		t[i].fd = FD;
		t[i].idev_id = self->idev_id;
		t[i].parent = parent;
		t[i].idx = i;
		ASSERT_EQ(0, pthread_create(&t[i].thread, NULL, nest_thread_fn,
					    &t[i]));
	}
	for (i = 0; i != NR_THREADS; i++)
		ASSERT_EQ(0, pthread_join(t[i].thread, NULL));
	for (i = 0; i != NR_THREADS; i++) {
		if (t[i].failed)
			TH_LOG("thread %u: %s", i, t[i].why);
		ASSERT_EQ(0, t[i].failed);
	}
	/* Each thread's last domain kept its own values */
	for (i = 0; i != NR_THREADS; i++) {
		for (s = 0; s != IOTLB_SLOTS; s++)
			ASSERT_IOTLB(BE, t[i].last_nested, s,
				     s == t[i].last_slot ? 0 : t[i].last_value);
	}
	ASSERT_ERRNO(EBUSY, iommufd_destroy(FD, parent));
	for (i = 0; i != NR_THREADS; i++)
		DESTROY(t[i].last_nested);
	DESTROY(parent);
}

/* ====================================================================== */
/* /dev/riommu-mock control interface (no C counterpart)                  */

FIXTURE(riommu_ctl) {
	int fd;
	int ctl;
	uint32_t ioas_id;
};

FIXTURE_SETUP(riommu_ctl)
{
	self->ctl = -1;
	self->fd = iommufd_open();
	ASSERT_LE(0, self->fd);
	self->ctl = open(RIOMMU_MOCK_DEV, O_RDWR | O_CLOEXEC);
	if (self->ctl < 0)
		TH_LOG("open %s: %s (is riommu_mock.ko loaded?)",
		       RIOMMU_MOCK_DEV, ename(errno));
	ASSERT_LE(0, self->ctl);
	ASSERT_OK(ioas_alloc(self->fd, &self->ioas_id));
}

FIXTURE_TEARDOWN(riommu_ctl)
{
	if (self->ctl >= 0)
		close(self->ctl);
	if (self->fd >= 0)
		close(self->fd);
}

/* Room for a struct plus a tail, for size tests */
union ctl_buf {
	struct riommu_mock_dev_add add;
	struct riommu_mock_dev_remove remove;
	struct riommu_mock_dev_attach attach;
	struct riommu_mock_dev_detach detach;
	struct riommu_mock_check_map check_map;
	struct riommu_mock_check_iotlb check_iotlb;
	struct riommu_mock_set_dirty set_dirty;
	struct riommu_mock_stats stats;
	uint8_t bytes[256];
};

static const struct {
	const char *name;
	unsigned long cmd;
	uint32_t size;	/* the size of the struct's first version */
	uint32_t full;	/* sizeof the struct now */
} ctl_ioctls[] = {
#define CTL(c, s) { #c, c, sizeof(struct s), sizeof(struct s) }
#define CTL_V1(c, s, last) { #c, c, offsetofend(struct s, last), sizeof(struct s) }
	CTL(RIOMMU_MOCK_DEV_ADD, riommu_mock_dev_add),
	CTL(RIOMMU_MOCK_DEV_REMOVE, riommu_mock_dev_remove),
	CTL(RIOMMU_MOCK_DEV_ATTACH, riommu_mock_dev_attach),
	CTL(RIOMMU_MOCK_DEV_REPLACE, riommu_mock_dev_attach),
	CTL(RIOMMU_MOCK_DEV_DETACH, riommu_mock_dev_detach),
	CTL(RIOMMU_MOCK_CHECK_MAP, riommu_mock_check_map),
	CTL(RIOMMU_MOCK_CHECK_IOTLB, riommu_mock_check_iotlb),
	CTL(RIOMMU_MOCK_SET_DIRTY, riommu_mock_set_dirty),
	/* extended with out_viommus and out_sva_domains */
	CTL_V1(RIOMMU_MOCK_STATS, riommu_mock_stats, out_table_bytes),
	CTL(RIOMMU_MOCK_TRIGGER_VEVENT, riommu_mock_trigger_vevent),
	CTL(RIOMMU_MOCK_CHECK_VDEV_CACHE, riommu_mock_check_vdev_cache),
	CTL(RIOMMU_MOCK_PASID_ATTACH, riommu_mock_pasid),
	CTL(RIOMMU_MOCK_PASID_REPLACE, riommu_mock_pasid),
	CTL(RIOMMU_MOCK_PASID_DETACH, riommu_mock_pasid),
	CTL(RIOMMU_MOCK_PASID_CHECK, riommu_mock_pasid),
	CTL(RIOMMU_MOCK_SVA_BIND, riommu_mock_sva_bind),
	CTL(RIOMMU_MOCK_SVA_UNBIND, riommu_mock_sva_bind),
	CTL(RIOMMU_MOCK_SVA_ACCESS, riommu_mock_sva_access),
	CTL(RIOMMU_MOCK_SVA_CHECK_INVAL, riommu_mock_sva_check_inval),
	CTL(RIOMMU_MOCK_CHECK_DEV_CACHE, riommu_mock_check_dev_cache),
	CTL(RIOMMU_MOCK_DEV_TRIGGER_VEVENT, riommu_mock_dev_trigger_vevent),
#undef CTL_V1
#undef CTL
};

static int ctl_dev_add(int ctl, int iommufd, uint32_t pt_id, uint32_t flags,
		       struct riommu_mock_dev_add *out)
{
	struct riommu_mock_dev_add cmd = {
		.size = sizeof(cmd),
		.iommufd = iommufd,
		.dev_flags = flags,
		.pt_id = pt_id,
	};
	int rc = ioctl(ctl, RIOMMU_MOCK_DEV_ADD, &cmd);

	if (!rc && out)
		*out = cmd;
	return rc;
}

static int ctl_stats(int ctl, struct riommu_mock_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return ioctl(ctl, RIOMMU_MOCK_STATS, st);
}

/* ioctl(@cmd, @b) must fail with @want; logs which command otherwise */
static bool ctl_expect(struct __test_metadata *_metadata, int ctl,
		       const char *name, unsigned long cmd, void *b,
		       uint32_t size, int want)
{
	int rc, e;

	errno = 0;
	rc = ioctl(ctl, cmd, b);
	e = errno;
	if (rc == -1 && e == want)
		return true;
	TH_LOG("%s with size %u: expected %s, got %s", name, size, ename(want),
	       rc == -1 ? ename(e) : "success");
	return false;
}

TEST_F(riommu_ctl, bad_size)
{
	union ctl_buf b;
	unsigned int i;

	for (i = 0; i != ARRAY_LEN(ctl_ioctls); i++) {
		const uint32_t sz = ctl_ioctls[i].size;
		const uint32_t small[] = { 0, 4, sz - 4 };
		unsigned int j;

		for (j = 0; j != ARRAY_LEN(small); j++) {
			memset(&b, 0, sizeof(b));
			b.add.size = small[j];
			ASSERT_TRUE(ctl_expect(_metadata, self->ctl,
					       ctl_ioctls[i].name,
					       ctl_ioctls[i].cmd, &b,
					       small[j], EINVAL));
		}
		/* Larger with a non-zero tail */
		memset(&b, 0, sizeof(b));
		b.add.size = ctl_ioctls[i].full + 8;
		b.bytes[ctl_ioctls[i].full + 3] = 1;
		ASSERT_TRUE(ctl_expect(_metadata, self->ctl, ctl_ioctls[i].name,
				       ctl_ioctls[i].cmd, &b,
				       ctl_ioctls[i].full + 8, E2BIG));
	}
	/* An unknown command */
	memset(&b, 0, sizeof(b));
	b.add.size = sizeof(b.add);
	ASSERT_ERRNO(ENOTTY, ioctl(self->ctl, _IO(RIOMMU_MOCK_TYPE, 0x7f), &b));
	/* A faulting argument */
	ASSERT_ERRNO(EFAULT, ioctl(self->ctl, RIOMMU_MOCK_STATS, fault_addr()));
}

TEST_F(riommu_ctl, larger_zero_tail)
{
	union ctl_buf b;

	memset(&b, 0, sizeof(b));
	b.add.size = sizeof(b.add) + 16;
	b.add.iommufd = self->fd;
	b.add.pt_id = self->ioas_id;
	ASSERT_OK(ioctl(self->ctl, RIOMMU_MOCK_DEV_ADD, &b));
	ASSERT_NE(0, b.add.out_idev_id);
	ASSERT_NE(0, b.add.pt_id);

	memset(&b.stats, 0, sizeof(b.stats) + 16);
	b.stats.size = sizeof(b.stats) + 16;
	ASSERT_OK(ioctl(self->ctl, RIOMMU_MOCK_STATS, &b));
	ASSERT_LE(1, b.stats.out_devices);
}

TEST_F(riommu_ctl, reserved_and_flags)
{
	struct riommu_mock_dev_add add = {
		.size = sizeof(add),
		.iommufd = self->fd,
		.pt_id = self->ioas_id,
	};
	struct riommu_mock_stats st = { .size = sizeof(st), .__reserved = 1 };
	struct riommu_mock_dev_attach at;
	struct riommu_mock_check_map cm;
	struct riommu_mock_set_dirty sd;

	add.__reserved = 1;
	ASSERT_ERRNO(EOPNOTSUPP, ioctl(self->ctl, RIOMMU_MOCK_DEV_ADD, &add));
	add.__reserved = 0;
	add.flags = 1;
	ASSERT_ERRNO(EOPNOTSUPP, ioctl(self->ctl, RIOMMU_MOCK_DEV_ADD, &add));
	add.flags = 0;
	ASSERT_OK(ioctl(self->ctl, RIOMMU_MOCK_DEV_ADD, &add));

	ASSERT_ERRNO(EOPNOTSUPP, ioctl(self->ctl, RIOMMU_MOCK_STATS, &st));

	at = (struct riommu_mock_dev_attach){ .size = sizeof(at),
		.dev_id = add.out_dev_id, .pt_id = self->ioas_id,
		.__reserved = 1 };
	ASSERT_ERRNO(EOPNOTSUPP, ioctl(self->ctl, RIOMMU_MOCK_DEV_REPLACE,
				       &at));
	cm = (struct riommu_mock_check_map){ .size = sizeof(cm),
		.iommufd = self->fd, .hwpt_id = add.pt_id, .__reserved = 1,
		.iova = APERTURE_START, .length = PAGE_4K,
		.uptr = (uintptr_t)&cm };
	ASSERT_ERRNO(EOPNOTSUPP, ioctl(self->ctl, RIOMMU_MOCK_CHECK_MAP, &cm));
	sd = (struct riommu_mock_set_dirty){ .size = sizeof(sd),
		.iommufd = self->fd, .hwpt_id = add.pt_id, .flags = 1,
		.iova = APERTURE_START, .length = PAGE_4K,
		.page_size = PAGE_4K, .uptr = (uintptr_t)&sd };
	ASSERT_ERRNO(EOPNOTSUPP, ioctl(self->ctl, RIOMMU_MOCK_SET_DIRTY, &sd));
}

TEST_F(riommu_ctl, bad_dev_flags)
{
	ASSERT_ERRNO(EINVAL, ctl_dev_add(self->ctl, self->fd, self->ioas_id,
					 1u << 1, NULL));
	ASSERT_ERRNO(EINVAL, ctl_dev_add(self->ctl, self->fd, self->ioas_id,
					 1u << 31, NULL));
	ASSERT_OK(ctl_dev_add(self->ctl, self->fd, self->ioas_id,
			      RIOMMU_MOCK_DEV_NO_DIRTY | RIOMMU_MOCK_DEV_PASID,
			      NULL));
}

TEST_F(riommu_ctl, bad_iommufd)
{
	int nullfd;

	ASSERT_ERRNO(EBADF, ctl_dev_add(self->ctl, -1, self->ioas_id, 0,
					NULL));
	ASSERT_ERRNO(EBADF, ctl_dev_add(self->ctl, 1000000, self->ioas_id, 0,
					NULL));
	/* An open file that is no iommufd (iommufd_ctx_from_fd: EBADFD) */
	nullfd = open("/dev/null", O_RDWR);
	ASSERT_LE(0, nullfd);
	ASSERT_ERRNO(EBADFD, ctl_dev_add(self->ctl, nullfd, self->ioas_id, 0,
					 NULL));
	close(nullfd);
}

TEST_F(riommu_ctl, bad_dev_handle)
{
	struct riommu_mock_dev_remove rm = { .size = sizeof(rm) };
	struct riommu_mock_dev_attach at = { .size = sizeof(at),
					     .pt_id = self->ioas_id };
	struct riommu_mock_dev_detach dt = { .size = sizeof(dt) };
	struct riommu_mock_dev_add add;
	int ctl2;

	rm.dev_id = BAD_ID;
	ASSERT_ERRNO(ENOENT, ioctl(self->ctl, RIOMMU_MOCK_DEV_REMOVE, &rm));
	rm.dev_id = 0;
	ASSERT_ERRNO(ENOENT, ioctl(self->ctl, RIOMMU_MOCK_DEV_REMOVE, &rm));
	at.dev_id = BAD_ID;
	ASSERT_ERRNO(ENOENT, ioctl(self->ctl, RIOMMU_MOCK_DEV_ATTACH, &at));
	ASSERT_ERRNO(ENOENT, ioctl(self->ctl, RIOMMU_MOCK_DEV_REPLACE, &at));
	dt.dev_id = BAD_ID;
	ASSERT_ERRNO(ENOENT, ioctl(self->ctl, RIOMMU_MOCK_DEV_DETACH, &dt));

	/* Handles are local to the control fd */
	ASSERT_OK(ctl_dev_add(self->ctl, self->fd, self->ioas_id, 0, &add));
	ctl2 = open(RIOMMU_MOCK_DEV, O_RDWR);
	ASSERT_LE(0, ctl2);
	rm.dev_id = add.out_dev_id;
	ASSERT_ERRNO(ENOENT, ioctl(ctl2, RIOMMU_MOCK_DEV_REMOVE, &rm));
	close(ctl2);
	/* Removing twice */
	ASSERT_OK(ioctl(self->ctl, RIOMMU_MOCK_DEV_REMOVE, &rm));
	ASSERT_ERRNO(ENOENT, ioctl(self->ctl, RIOMMU_MOCK_DEV_REMOVE, &rm));
}

TEST_F(riommu_ctl, attach_detach)
{
	struct riommu_mock_dev_attach at = { .size = sizeof(at) };
	struct riommu_mock_dev_detach dt = { .size = sizeof(dt) };
	struct riommu_mock_dev_add add;
	uint32_t hwpt;

	/* pt_id 0: added but not attached */
	ASSERT_OK(ctl_dev_add(self->ctl, self->fd, 0, 0, &add));
	ASSERT_EQ(0, add.pt_id);
	ASSERT_NE(0, add.out_idev_id);
	dt.dev_id = at.dev_id = add.out_dev_id;
	ASSERT_ERRNO(ENOENT, ioctl(self->ctl, RIOMMU_MOCK_DEV_DETACH, &dt));
	/* Replace needs an attached device (iommufd_device_replace) */
	at.pt_id = self->ioas_id;
	ASSERT_ERRNO(EINVAL, ioctl(self->ctl, RIOMMU_MOCK_DEV_REPLACE, &at));

	/* The unattached device can still allocate HWPTs */
	ASSERT_OK(hwpt_alloc_paging(self->fd, add.out_idev_id, self->ioas_id,
				    IOMMU_HWPT_ALLOC_NEST_PARENT, &hwpt));
	at.pt_id = hwpt;
	ASSERT_OK(ioctl(self->ctl, RIOMMU_MOCK_DEV_ATTACH, &at));
	ASSERT_EQ(hwpt, at.pt_id);
	/*
	 * Attach when attached: iommufd_device_attach() says EBUSY (the
	 * device is already in the group's device_array).
	 */
	at.pt_id = self->ioas_id;
	ASSERT_ERRNO(EBUSY, ioctl(self->ctl, RIOMMU_MOCK_DEV_ATTACH, &at));
	at.pt_id = hwpt;
	ASSERT_ERRNO(EBUSY, ioctl(self->ctl, RIOMMU_MOCK_DEV_ATTACH, &at));
	at.pt_id = self->ioas_id;
	ASSERT_OK(ioctl(self->ctl, RIOMMU_MOCK_DEV_REPLACE, &at));
	ASSERT_NE(hwpt, at.pt_id);
	ASSERT_OK(ioctl(self->ctl, RIOMMU_MOCK_DEV_DETACH, &dt));
	ASSERT_ERRNO(ENOENT, ioctl(self->ctl, RIOMMU_MOCK_DEV_DETACH, &dt));
	ASSERT_OK(iommufd_destroy(self->fd, hwpt));
}

TEST_F(riommu_ctl, check_ops_bad_ids)
{
	struct riommu_mock_check_iotlb ci = { .size = sizeof(ci),
					      .iommufd = self->fd };
	struct riommu_mock_check_map cm = { .size = sizeof(cm),
					    .iommufd = self->fd };
	struct riommu_mock_dev_add add;
	uint32_t parent, nested;
	uint8_t *buf;

	buf = alloc_buf(PAGE_4K);
	ASSERT_NE(NULL, buf);
	ASSERT_OK(ctl_dev_add(self->ctl, self->fd, self->ioas_id, 0, &add));
	ASSERT_OK(hwpt_alloc_paging(self->fd, add.out_idev_id, self->ioas_id,
				    IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_OK(hwpt_alloc_nested(self->fd, add.out_idev_id, parent, 0, 7,
				    &nested));

	/* CHECK_IOTLB */
	ci.hwpt_id = nested;
	ci.iotlb_id = 2;
	ci.iotlb = 8;
	ASSERT_ERRNO(EINVAL, ioctl(self->ctl, RIOMMU_MOCK_CHECK_IOTLB, &ci));
	ASSERT_EQ(7, ci.out_iotlb);
	ci.iotlb = 7;
	ci.out_iotlb = 0;
	ASSERT_OK(ioctl(self->ctl, RIOMMU_MOCK_CHECK_IOTLB, &ci));
	ASSERT_EQ(7, ci.out_iotlb);
	ci.iotlb_id = RIOMMU_MOCK_IOTLB_ID_MAX + 1;
	ASSERT_ERRNO(EINVAL, ioctl(self->ctl, RIOMMU_MOCK_CHECK_IOTLB, &ci));
	ci.iotlb_id = 0;
	ci.hwpt_id = BAD_ID;
	ASSERT_ERRNO(ENOENT, ioctl(self->ctl, RIOMMU_MOCK_CHECK_IOTLB, &ci));
	ci.hwpt_id = nested;
	ci.iommufd = -1;
	ASSERT_ERRNO(EBADF, ioctl(self->ctl, RIOMMU_MOCK_CHECK_IOTLB, &ci));

	/* CHECK_MAP */
	ASSERT_OK(ioas_map_fixed(self->fd, self->ioas_id, buf, PAGE_4K,
				 APERTURE_START));
	cm.hwpt_id = parent;
	cm.iova = APERTURE_START;
	cm.length = PAGE_4K;
	cm.uptr = (uintptr_t)buf;
	ASSERT_OK(ioctl(self->ctl, RIOMMU_MOCK_CHECK_MAP, &cm));
	cm.hwpt_id = nested;
	ASSERT_ERRNO(ENOENT, ioctl(self->ctl, RIOMMU_MOCK_CHECK_MAP, &cm));
	cm.hwpt_id = BAD_ID;
	ASSERT_ERRNO(ENOENT, ioctl(self->ctl, RIOMMU_MOCK_CHECK_MAP, &cm));
	cm.hwpt_id = parent;
	cm.iova = APERTURE_START + 1;
	ASSERT_ERRNO(EINVAL, ioctl(self->ctl, RIOMMU_MOCK_CHECK_MAP, &cm));

	ASSERT_OK(iommufd_destroy(self->fd, nested));
	ASSERT_OK(iommufd_destroy(self->fd, parent));
}

TEST_F(riommu_ctl, close_removes_devices)
{
	struct riommu_mock_stats before, mid, after;
	struct riommu_mock_dev_add a1, a2;
	uint32_t hwpt;
	int ctl2;

	ctl2 = open(RIOMMU_MOCK_DEV, O_RDWR);
	ASSERT_LE(0, ctl2);
	ASSERT_OK(ctl_stats(self->ctl, &before));
	ASSERT_OK(ctl_dev_add(ctl2, self->fd, self->ioas_id, 0, &a1));
	ASSERT_OK(ctl_dev_add(ctl2, self->fd, 0, RIOMMU_MOCK_DEV_PASID, &a2));
	ASSERT_OK(ctl_stats(self->ctl, &mid));
	ASSERT_EQ(before.out_devices + 2, mid.out_devices);
	/* Stats are global: any control fd sees them */
	ASSERT_LE(before.out_paging_domains + 1, mid.out_paging_domains);

	close(ctl2);
	ASSERT_OK(ctl_stats(self->ctl, &after));
	ASSERT_EQ(before.out_devices, after.out_devices);
	/* The auto domain died with its only device */
	ASSERT_EQ(before.out_paging_domains, after.out_paging_domains);
	ASSERT_ERRNO(ENOENT, hwpt_alloc_paging(self->fd, a1.out_idev_id,
					       self->ioas_id, 0, &hwpt));
	ASSERT_ERRNO(ENOENT, hwpt_alloc_paging(self->fd, a2.out_idev_id,
					       self->ioas_id, 0, &hwpt));
}

TEST_F(riommu_ctl, stats_no_leak)
{
	struct riommu_mock_stats before, mid, after;
	struct riommu_mock_dev_add add;
	uint32_t ioas, parent, nested[3], dirty;
	uint64_t bitmap = ~0ull;
	unsigned int i;
	uint8_t *buf;
	int fd, ctl;

	buf = alloc_buf(SZ_1M);
	ASSERT_NE(NULL, buf);
	ASSERT_OK(ctl_stats(self->ctl, &before));

	fd = iommufd_open();
	ASSERT_LE(0, fd);
	ctl = open(RIOMMU_MOCK_DEV, O_RDWR);
	ASSERT_LE(0, ctl);
	ASSERT_OK(ioas_alloc(fd, &ioas));
	ASSERT_OK(ioas_map_fixed(fd, ioas, buf, SZ_1M, APERTURE_START));
	ASSERT_OK(ctl_dev_add(ctl, fd, ioas, 0, &add));
	ASSERT_OK(hwpt_alloc_paging(fd, add.out_idev_id, ioas,
				    IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	ASSERT_OK(hwpt_alloc_paging(fd, add.out_idev_id, ioas,
				    IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &dirty));
	ASSERT_OK(hwpt_set_dirty_tracking(fd, dirty,
					  IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	ASSERT_OK(hwpt_get_dirty_bitmap(fd, dirty, APERTURE_START, 64 * PAGE_4K,
					PAGE_4K, &bitmap, 0));
	for (i = 0; i != ARRAY_LEN(nested); i++)
		ASSERT_OK(hwpt_alloc_nested(fd, add.out_idev_id, parent, 0, i,
					    &nested[i]));
	ASSERT_OK(ctl_stats(self->ctl, &mid));
	ASSERT_EQ(before.out_devices + 1, mid.out_devices);
	ASSERT_EQ(before.out_paging_domains + 3, mid.out_paging_domains);
	ASSERT_EQ(before.out_nested_domains + 3, mid.out_nested_domains);
	ASSERT_LT(before.out_table_bytes, mid.out_table_bytes);

	/* Tear down by closing only */
	close(ctl);
	close(fd);
	ASSERT_OK(ctl_stats(self->ctl, &after));
	ASSERT_EQ(before.out_devices, after.out_devices);
	ASSERT_EQ(before.out_paging_domains, after.out_paging_domains);
	ASSERT_EQ(before.out_nested_domains, after.out_nested_domains);
	ASSERT_EQ(before.out_table_bytes, after.out_table_bytes);
}

TEST_HARNESS_MAIN
