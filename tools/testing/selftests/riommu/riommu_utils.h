/* SPDX-License-Identifier: GPL-2.0 */
/*
 * riommu selftests: helpers shared by the differential test programs.
 *
 * A "backend" is one mock IOMMU driver plus the side channel used to drive
 * it.  Two backends exist:
 *
 *   c_mock     the kernel's own CONFIG_IOMMUFD_TEST mock (selftest.c), driven
 *              with IOMMU_TEST_CMD on the /dev/iommu file descriptor.  This is
 *              the oracle.
 *   rust_mock  riommu_mock.ko, driven through /dev/riommu-mock.
 *
 * Everything that is plain iommufd uAPI (IOAS_ALLOC, IOAS_MAP, HWPT_ALLOC,
 * HWPT_INVALIDATE, DESTROY, dirty tracking, GET_HW_INFO) is issued on
 * /dev/iommu in exactly the same way for both backends; only what the mock
 * drivers add (creating a device, replacing its domain, peeking at the page
 * table or the IOTLB, faking dirty bits) goes through struct backend_ops.
 *
 * Every helper returns 0 on success and -1 with errno set on failure, like
 * ioctl(2), so that tests can assert exact errno values.
 */
#ifndef __RIOMMU_UTILS_H
#define __RIOMMU_UTILS_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/riommu_mock.h>
#include "iommufd_test.h"	/* $(KSRC)/drivers/iommu/iommufd */
#include "kselftest_harness.h"	/* $(KSRC)/tools/testing/selftests */

#define RIOMMU_MOCK_DEV "/dev/riommu-mock"

#define PAGE_4K		0x1000UL
#define SZ_64K		0x10000UL
#define SZ_1M		0x100000UL
#define SZ_2M		0x200000UL

#define APERTURE_START	((uint64_t)MOCK_APERTURE_START)
#define APERTURE_LAST	((uint64_t)MOCK_APERTURE_LAST)

#define IOTLB_SLOTS	MOCK_NESTED_DOMAIN_IOTLB_NUM
#define IOTLB_ID_MAX	MOCK_NESTED_DOMAIN_IOTLB_ID_MAX

/* Device flags: identical values in both mocks (checked below) */
#define DEVF_NO_DIRTY	MOCK_FLAGS_DEVICE_NO_DIRTY
#define DEVF_PASID	MOCK_FLAGS_DEVICE_PASID

_Static_assert((long)MOCK_FLAGS_DEVICE_NO_DIRTY == (long)RIOMMU_MOCK_DEV_NO_DIRTY, "dev flag");
_Static_assert((long)MOCK_FLAGS_DEVICE_PASID == (long)RIOMMU_MOCK_DEV_PASID, "dev flag");
_Static_assert((long)MOCK_APERTURE_START == (long)RIOMMU_MOCK_APERTURE_START, "aperture");
_Static_assert((long)MOCK_APERTURE_LAST == (long)RIOMMU_MOCK_APERTURE_LAST, "aperture");
_Static_assert((long)MOCK_NESTED_DOMAIN_IOTLB_ID_MAX == (long)RIOMMU_MOCK_IOTLB_ID_MAX, "iotlb");
_Static_assert((long)MOCK_NESTED_DOMAIN_IOTLB_NUM == (long)RIOMMU_MOCK_IOTLB_NUM, "iotlb");
_Static_assert((long)MOCK_DEV_CACHE_ID_MAX == (long)RIOMMU_MOCK_DEV_CACHE_ID_MAX, "dev cache");
_Static_assert((long)MOCK_DEV_CACHE_NUM == (long)RIOMMU_MOCK_DEV_CACHE_NUM, "dev cache");
_Static_assert((long)IOMMU_TEST_DEV_CACHE_DEFAULT == (long)RIOMMU_MOCK_DEV_CACHE_DEFAULT, "dev cache");
/* IOMMU_GET_HW_INFO gives the same answer on both mocks */
_Static_assert(IOMMU_HW_INFO_TYPE_SELFTEST == IOMMU_HW_INFO_TYPE_RIOMMU_MOCK, "hw_info");
_Static_assert(IOMMU_HW_INFO_SELFTEST_REGVAL == RIOMMU_MOCK_HW_INFO_REGVAL, "hw_info");

#ifndef offsetofend
#define offsetofend(T, m) (offsetof(T, m) + sizeof(((T *)0)->m))
#endif
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Name of an errno value, "E?" when unknown */
static inline const char *ename(int e)
{
	const char *n = e ? strerrorname_np(e) : "0";

	return n ? n : "E?";
}

/* ---------------------------------------------------------------------- */
/* Backends                                                               */

enum backend_kind {
	BACKEND_C_MOCK,
	BACKEND_RUST_MOCK,
};

struct backend_ops;

struct backend {
	const struct backend_ops *ops;
	int iommufd;	/* the /dev/iommu fd every id below belongs to */
	int ctlfd;	/* /dev/riommu-mock for rust_mock, -1 for c_mock */
};

struct backend_ops {
	const char *name;
	enum backend_kind kind;
	/* What IOMMU_GET_HW_INFO reports for this backend's devices */
	uint32_t hw_info_type;
	uint32_t hw_info_regval;

	int (*open)(struct backend *self);
	void (*close)(struct backend *self);
	/*
	 * Create a mock device, bind it to self->iommufd and attach it to
	 * @pt_id (IOAS or HWPT).  @dev_handle: what dev_remove/replace take;
	 * @idev_id: the iommufd device id; @hwpt_id: the HWPT attached to.
	 */
	int (*dev_add)(struct backend *self, uint32_t pt_id, uint32_t dev_flags,
		       uint32_t *dev_handle, uint32_t *idev_id,
		       uint32_t *hwpt_id);
	int (*dev_remove)(struct backend *self, uint32_t dev_handle);
	/* iommufd_device_replace(); *pt_id is updated to the HWPT attached */
	int (*replace)(struct backend *self, uint32_t dev_handle,
		       uint32_t *pt_id);
	/* Every page of [iova, iova + len) translates to the page of buf */
	int (*check_map)(struct backend *self, uint32_t hwpt_id, uint64_t iova,
			 uint64_t len, const void *buf);
	/* IOTLB slot @slot of nested @hwpt_id holds @value (EINVAL if not) */
	int (*check_iotlb)(struct backend *self, uint32_t hwpt_id,
			   uint32_t slot, uint32_t value);
	/* Optional (NULL if the backend cannot): read a slot's value */
	int (*read_iotlb)(struct backend *self, uint32_t hwpt_id,
			  uint32_t slot, uint32_t *value);
	/* Mark dirty the PTE under every set bit of @bitmap */
	int (*set_dirty)(struct backend *self, uint32_t hwpt_id, uint64_t iova,
			 uint64_t length, uint64_t page_size,
			 const void *bitmap, uint64_t *nr_dirty);
};

/* --- c_mock: IOMMU_TEST_CMD ------------------------------------------- */

static int cmock_open(struct backend *self)
{
	self->ctlfd = -1;
	return 0;
}

static void cmock_close(struct backend *self)
{
}

static int cmock_dev_add(struct backend *self, uint32_t pt_id,
			 uint32_t dev_flags, uint32_t *dev_handle,
			 uint32_t *idev_id, uint32_t *hwpt_id)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
		.id = pt_id,
		.mock_domain_flags = { .dev_flags = dev_flags },
	};

	if (ioctl(self->iommufd, IOMMU_TEST_CMD, &cmd))
		return -1;
	if (dev_handle)
		*dev_handle = cmd.mock_domain_flags.out_stdev_id;
	if (idev_id)
		*idev_id = cmd.mock_domain_flags.out_idev_id;
	if (hwpt_id)
		*hwpt_id = cmd.mock_domain_flags.out_hwpt_id;
	return 0;
}

static int cmock_dev_remove(struct backend *self, uint32_t dev_handle)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = dev_handle };

	return ioctl(self->iommufd, IOMMU_DESTROY, &cmd);
}

static int cmock_replace(struct backend *self, uint32_t dev_handle,
			 uint32_t *pt_id)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
		.id = dev_handle,
		.mock_domain_replace = { .pt_id = *pt_id },
	};

	if (ioctl(self->iommufd, IOMMU_TEST_CMD, &cmd))
		return -1;
	*pt_id = cmd.mock_domain_replace.pt_id;
	return 0;
}

static int cmock_check_map(struct backend *self, uint32_t hwpt_id,
			   uint64_t iova, uint64_t len, const void *buf)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MD_CHECK_MAP,
		.id = hwpt_id,
		.check_map = { .iova = iova, .length = len,
			       .uptr = (uintptr_t)buf },
	};

	return ioctl(self->iommufd, IOMMU_TEST_CMD, &cmd);
}

static int cmock_check_iotlb(struct backend *self, uint32_t hwpt_id,
			     uint32_t slot, uint32_t value)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MD_CHECK_IOTLB,
		.id = hwpt_id,
		.check_iotlb = { .id = slot, .iotlb = value },
	};

	return ioctl(self->iommufd, IOMMU_TEST_CMD, &cmd);
}

static int cmock_set_dirty(struct backend *self, uint32_t hwpt_id,
			   uint64_t iova, uint64_t length, uint64_t page_size,
			   const void *bitmap, uint64_t *nr_dirty)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_DIRTY,
		.id = hwpt_id,
		.dirty = { .iova = iova, .length = length,
			   .page_size = page_size,
			   .uptr = (uintptr_t)bitmap },
	};

	if (ioctl(self->iommufd, IOMMU_TEST_CMD, &cmd))
		return -1;
	if (nr_dirty)
		*nr_dirty = cmd.dirty.out_nr_dirty;
	return 0;
}

static const struct backend_ops c_mock_ops = {
	.name = "c_mock",
	.kind = BACKEND_C_MOCK,
	.hw_info_type = IOMMU_HW_INFO_TYPE_SELFTEST,
	.hw_info_regval = IOMMU_HW_INFO_SELFTEST_REGVAL,
	.open = cmock_open,
	.close = cmock_close,
	.dev_add = cmock_dev_add,
	.dev_remove = cmock_dev_remove,
	.replace = cmock_replace,
	.check_map = cmock_check_map,
	.check_iotlb = cmock_check_iotlb,
	.read_iotlb = NULL,
	.set_dirty = cmock_set_dirty,
};

/* --- rust_mock: /dev/riommu-mock --------------------------------------- */

static int rmock_open(struct backend *self)
{
	self->ctlfd = open(RIOMMU_MOCK_DEV, O_RDWR | O_CLOEXEC);
	return self->ctlfd < 0 ? -1 : 0;
}

static void rmock_close(struct backend *self)
{
	if (self->ctlfd >= 0)
		close(self->ctlfd);
	self->ctlfd = -1;
}

static int rmock_dev_add(struct backend *self, uint32_t pt_id,
			 uint32_t dev_flags, uint32_t *dev_handle,
			 uint32_t *idev_id, uint32_t *hwpt_id)
{
	struct riommu_mock_dev_add cmd = {
		.size = sizeof(cmd),
		.iommufd = self->iommufd,
		.dev_flags = dev_flags,
		.pt_id = pt_id,
	};

	if (ioctl(self->ctlfd, RIOMMU_MOCK_DEV_ADD, &cmd))
		return -1;
	if (dev_handle)
		*dev_handle = cmd.out_dev_id;
	if (idev_id)
		*idev_id = cmd.out_idev_id;
	if (hwpt_id)
		*hwpt_id = cmd.pt_id;
	return 0;
}

static int rmock_dev_remove(struct backend *self, uint32_t dev_handle)
{
	struct riommu_mock_dev_remove cmd = {
		.size = sizeof(cmd),
		.dev_id = dev_handle,
	};

	return ioctl(self->ctlfd, RIOMMU_MOCK_DEV_REMOVE, &cmd);
}

static int rmock_replace(struct backend *self, uint32_t dev_handle,
			 uint32_t *pt_id)
{
	struct riommu_mock_dev_attach cmd = {
		.size = sizeof(cmd),
		.dev_id = dev_handle,
		.pt_id = *pt_id,
	};

	if (ioctl(self->ctlfd, RIOMMU_MOCK_DEV_REPLACE, &cmd))
		return -1;
	*pt_id = cmd.pt_id;
	return 0;
}

static int rmock_check_map(struct backend *self, uint32_t hwpt_id,
			   uint64_t iova, uint64_t len, const void *buf)
{
	struct riommu_mock_check_map cmd = {
		.size = sizeof(cmd),
		.iommufd = self->iommufd,
		.hwpt_id = hwpt_id,
		.iova = iova,
		.length = len,
		.uptr = (uintptr_t)buf,
	};

	return ioctl(self->ctlfd, RIOMMU_MOCK_CHECK_MAP, &cmd);
}

static int rmock_iotlb(struct backend *self, uint32_t hwpt_id, uint32_t slot,
		       uint32_t value, uint32_t *out)
{
	struct riommu_mock_check_iotlb cmd = {
		.size = sizeof(cmd),
		.iommufd = self->iommufd,
		.hwpt_id = hwpt_id,
		.iotlb_id = slot,
		.iotlb = value,
	};
	int rc;

	rc = ioctl(self->ctlfd, RIOMMU_MOCK_CHECK_IOTLB, &cmd);
	if (out)
		*out = cmd.out_iotlb;
	return rc;
}

static int rmock_check_iotlb(struct backend *self, uint32_t hwpt_id,
			     uint32_t slot, uint32_t value)
{
	return rmock_iotlb(self, hwpt_id, slot, value, NULL);
}

static int rmock_read_iotlb(struct backend *self, uint32_t hwpt_id,
			    uint32_t slot, uint32_t *value)
{
	int rc, e;

	*value = 0;
	/* A mismatch gives EINVAL but still reports the slot */
	rc = rmock_iotlb(self, hwpt_id, slot, 0, value);
	e = errno;
	if (rc && e == EINVAL && slot <= IOTLB_ID_MAX)
		return 0;
	errno = e;
	return rc;
}

static int rmock_set_dirty(struct backend *self, uint32_t hwpt_id,
			   uint64_t iova, uint64_t length, uint64_t page_size,
			   const void *bitmap, uint64_t *nr_dirty)
{
	struct riommu_mock_set_dirty cmd = {
		.size = sizeof(cmd),
		.iommufd = self->iommufd,
		.hwpt_id = hwpt_id,
		.iova = iova,
		.length = length,
		.page_size = page_size,
		.uptr = (uintptr_t)bitmap,
	};

	if (ioctl(self->ctlfd, RIOMMU_MOCK_SET_DIRTY, &cmd))
		return -1;
	if (nr_dirty)
		*nr_dirty = cmd.out_nr_dirty;
	return 0;
}

static const struct backend_ops rust_mock_ops = {
	.name = "rust_mock",
	.kind = BACKEND_RUST_MOCK,
	.hw_info_type = IOMMU_HW_INFO_TYPE_RIOMMU_MOCK,
	.hw_info_regval = RIOMMU_MOCK_HW_INFO_REGVAL,
	.open = rmock_open,
	.close = rmock_close,
	.dev_add = rmock_dev_add,
	.dev_remove = rmock_dev_remove,
	.replace = rmock_replace,
	.check_map = rmock_check_map,
	.check_iotlb = rmock_check_iotlb,
	.read_iotlb = rmock_read_iotlb,
	.set_dirty = rmock_set_dirty,
};

static inline const struct backend_ops *
backend_other(const struct backend_ops *ops)
{
	return ops->kind == BACKEND_C_MOCK ? &rust_mock_ops : &c_mock_ops;
}

static inline int backend_open(struct backend *be,
			       const struct backend_ops *ops, int iommufd)
{
	be->ops = ops;
	be->iommufd = iommufd;
	be->ctlfd = -1;
	return ops->open(be);
}

static inline void backend_close(struct backend *be)
{
	if (be->ops)
		be->ops->close(be);
	be->ops = NULL;
}

/* Shorthands: be_xxx(be, ...) */
#define be_dev_add(be, pt, fl, dev, idev, hwpt) \
	((be)->ops->dev_add((be), (pt), (fl), (dev), (idev), (hwpt)))
#define be_dev_remove(be, dev) ((be)->ops->dev_remove((be), (dev)))
#define be_replace(be, dev, ptp) ((be)->ops->replace((be), (dev), (ptp)))
#define be_check_map(be, hwpt, iova, len, buf) \
	((be)->ops->check_map((be), (hwpt), (iova), (len), (buf)))
#define be_check_iotlb(be, hwpt, slot, val) \
	((be)->ops->check_iotlb((be), (hwpt), (slot), (val)))
#define be_set_dirty(be, hwpt, iova, len, psz, bm, nr) \
	((be)->ops->set_dirty((be), (hwpt), (iova), (len), (psz), (bm), (nr)))

/* ---------------------------------------------------------------------- */
/* Plain iommufd uAPI (identical for both backends)                       */

static inline int iommufd_open(void)
{
	return open("/dev/iommu", O_RDWR | O_CLOEXEC);
}

static inline int ioas_alloc(int fd, uint32_t *ioas_id)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };

	if (ioctl(fd, IOMMU_IOAS_ALLOC, &cmd))
		return -1;
	*ioas_id = cmd.out_ioas_id;
	return 0;
}

static inline int ioas_map_fixed(int fd, uint32_t ioas_id, const void *buf,
				 uint64_t length, uint64_t iova)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas_id,
		.user_va = (uintptr_t)buf,
		.length = length,
		.iova = iova,
	};

	return ioctl(fd, IOMMU_IOAS_MAP, &cmd);
}

static inline int ioas_unmap(int fd, uint32_t ioas_id, uint64_t iova,
			     uint64_t length)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.iova = iova,
		.length = length,
	};

	return ioctl(fd, IOMMU_IOAS_UNMAP, &cmd);
}

static inline int iommufd_destroy(int fd, uint32_t id)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = id };

	return ioctl(fd, IOMMU_DESTROY, &cmd);
}

static inline int hwpt_alloc_raw(int fd, uint32_t idev_id, uint32_t pt_id,
				 uint32_t flags, uint32_t data_type,
				 const void *data, uint32_t data_len,
				 uint32_t *out_hwpt_id)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = idev_id,
		.pt_id = pt_id,
		.data_type = data_type,
		.data_len = data_len,
		.data_uptr = (uintptr_t)data,
	};

	if (ioctl(fd, IOMMU_HWPT_ALLOC, &cmd))
		return -1;
	if (out_hwpt_id)
		*out_hwpt_id = cmd.out_hwpt_id;
	return 0;
}

/* A paging HWPT on an IOAS, no driver data */
static inline int hwpt_alloc_paging(int fd, uint32_t idev_id, uint32_t ioas_id,
				    uint32_t flags, uint32_t *out)
{
	return hwpt_alloc_raw(fd, idev_id, ioas_id, flags,
			      IOMMU_HWPT_DATA_NONE, NULL, 0, out);
}

/* A nested HWPT with IOMMU_HWPT_DATA_SELFTEST data */
static inline int hwpt_alloc_nested(int fd, uint32_t idev_id, uint32_t parent,
				    uint32_t flags, uint32_t iotlb,
				    uint32_t *out)
{
	struct iommu_hwpt_selftest data = { .iotlb = iotlb };

	return hwpt_alloc_raw(fd, idev_id, parent, flags,
			      IOMMU_HWPT_DATA_SELFTEST, &data, sizeof(data),
			      out);
}

/*
 * IOMMU_HWPT_INVALIDATE; *entry_num is in/out (the kernel writes back how
 * many entries it handled, also on failure).
 */
static inline int hwpt_invalidate(int fd, uint32_t hwpt_id, uint32_t data_type,
				  const void *entries, uint32_t entry_len,
				  uint32_t *entry_num)
{
	struct iommu_hwpt_invalidate cmd = {
		.size = sizeof(cmd),
		.hwpt_id = hwpt_id,
		.data_uptr = (uintptr_t)entries,
		.data_type = data_type,
		.entry_len = entry_len,
		.entry_num = *entry_num,
	};
	int rc, e;

	rc = ioctl(fd, IOMMU_HWPT_INVALIDATE, &cmd);
	e = errno;
	*entry_num = cmd.entry_num;
	errno = e;
	return rc;
}

/* Invalidate with selftest entries */
static inline int hwpt_inv_selftest(int fd, uint32_t hwpt_id,
				    const struct iommu_hwpt_invalidate_selftest *inv,
				    uint32_t *entry_num)
{
	return hwpt_invalidate(fd, hwpt_id, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
			       inv, sizeof(*inv), entry_num);
}

static inline int hwpt_set_dirty_tracking(int fd, uint32_t hwpt_id,
					  uint32_t flags)
{
	struct iommu_hwpt_set_dirty_tracking cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.hwpt_id = hwpt_id,
	};

	return ioctl(fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &cmd);
}

static inline int hwpt_get_dirty_bitmap(int fd, uint32_t hwpt_id,
					uint64_t iova, uint64_t length,
					uint64_t page_size, void *bitmap,
					uint32_t flags)
{
	struct iommu_hwpt_get_dirty_bitmap cmd = {
		.size = sizeof(cmd),
		.hwpt_id = hwpt_id,
		.flags = flags,
		.iova = iova,
		.length = length,
		.page_size = page_size,
		.data = (uintptr_t)bitmap,
	};

	return ioctl(fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd);
}

static inline int get_hw_info(int fd, uint32_t idev_id, void *data,
			      uint32_t data_len, struct iommu_hw_info *out)
{
	struct iommu_hw_info cmd = {
		.size = sizeof(cmd),
		.dev_id = idev_id,
		.data_len = data_len,
		.data_uptr = (uintptr_t)data,
	};

	if (out && out->flags) {
		cmd.flags = out->flags;
		cmd.in_data_type = out->in_data_type;
	}
	if (ioctl(fd, IOMMU_GET_HW_INFO, &cmd))
		return -1;
	if (out)
		*out = cmd;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Memory                                                                 */

/* A copy of @len bytes of @src on a read-only page (kernel writes fail) */
static inline void *ro_copy(const void *src, size_t len)
{
	void *p = mmap(NULL, PAGE_4K, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, src, len);
	if (mprotect(p, PAGE_4K, PROT_READ)) {
		munmap(p, PAGE_4K);
		return NULL;
	}
	return p;
}

static inline int ioctl_ro(int fd, unsigned long cmd, const void *arg, size_t len)
{
	void *p = ro_copy(arg, len);
	int rc, e;

	if (!p)
		return -1;
	rc = ioctl(fd, cmd, p);
	e = errno;
	munmap(p, PAGE_4K);
	errno = e;
	return rc;
}

/* @len bytes of anonymous memory, populated, or NULL */
static inline void *alloc_buf(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* @len bytes aligned to @align (a power of two), or NULL */
static inline void *alloc_buf_aligned(size_t len, size_t align)
{
	uint8_t *p = mmap(NULL, len + align, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (uint8_t *)(((uintptr_t)p + align - 1) & ~(align - 1));
	if (a != p)
		munmap(p, a - p);
	if (p + align != a)
		munmap(a + len, (p + align) - a);
	madvise(a, len, MADV_HUGEPAGE);	/* best effort */
	memset(a, 0x5a, len);
	return a;
}

/* One readable/writable page followed by one PROT_NONE page, or NULL */
static inline uint8_t *alloc_guarded_page(void)
{
	uint8_t *p = mmap(NULL, 2 * PAGE_4K, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (mprotect(p + PAGE_4K, PAGE_4K, PROT_NONE)) {
		munmap(p, 2 * PAGE_4K);
		return NULL;
	}
	memset(p, 0, PAGE_4K);
	return p;
}

/* An address that faults on access: a PROT_NONE page (leaked on purpose) */
static inline void *fault_addr(void)
{
	void *p = mmap(NULL, PAGE_4K, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* ---------------------------------------------------------------------- */
/* Assertions                                                             */

/* @expr (returning 0 / -1+errno) must succeed */
#define ASSERT_OK(expr)                                                      \
	do {                                                                 \
		long __rc;                                                   \
		int __e;                                                     \
		errno = 0;                                                   \
		__rc = (long)(expr);                                         \
		__e = errno;                                                 \
		if (__rc)                                                    \
			TH_LOG("%s: expected success, got %ld/%s", #expr,   \
			       __rc, ename(__e));                            \
		ASSERT_EQ(0, __rc);                                          \
	} while (0)

/* @expr must fail with exactly errno @want */
#define ASSERT_ERRNO(want, expr)                                             \
	do {                                                                 \
		long __rc;                                                   \
		int __e;                                                     \
		errno = 0;                                                   \
		__rc = (long)(expr);                                         \
		__e = errno;                                                 \
		if (__rc != -1 || __e != (want))                             \
			TH_LOG("%s: expected %s, got %s", #expr,             \
			       ename(want),                                  \
			       __rc == -1 ? ename(__e) : "success");         \
		ASSERT_EQ(-1, __rc);                                         \
		ASSERT_EQ((want), __e);                                      \
	} while (0)

/* Like ASSERT_ERRNO(), but the test goes on (and fails at the end) */
#define EXPECT_ERRNO(want, expr)                                             \
	do {                                                                 \
		long __rc;                                                   \
		int __e;                                                     \
		errno = 0;                                                   \
		__rc = (long)(expr);                                         \
		__e = errno;                                                 \
		if (__rc != -1 || __e != (want))                             \
			TH_LOG("%s: expected %s, got %s", #expr,             \
			       ename(want),                                  \
			       __rc == -1 ? ename(__e) : "success");         \
		EXPECT_EQ(-1, __rc);                                         \
		EXPECT_EQ((want), __e);                                      \
	} while (0)

/* IOTLB slot @slot of nested @hwpt on backend @be must hold @val */
#define ASSERT_IOTLB(be, hwpt, slot, val)                                    \
	do {                                                                 \
		uint32_t __v = 0;                                            \
		if (be_check_iotlb((be), (hwpt), (slot), (val))) {           \
			int __e = errno;                                     \
			if ((be)->ops->read_iotlb &&                         \
			    !(be)->ops->read_iotlb((be), (hwpt), (slot),     \
						   &__v))                    \
				TH_LOG("hwpt %u slot %u: want 0x%x, holds 0x%x", \
				       (hwpt), (slot), (uint32_t)(val), __v); \
			else                                                 \
				TH_LOG("hwpt %u slot %u: want 0x%x: %s",     \
				       (hwpt), (slot), (uint32_t)(val),      \
				       ename(__e));                          \
			ASSERT_TRUE(0);                                      \
		}                                                            \
	} while (0)

/* All four IOTLB slots of @hwpt hold v0..v3 */
#define ASSERT_IOTLB4(be, hwpt, v0, v1, v2, v3)                              \
	do {                                                                 \
		ASSERT_IOTLB(be, hwpt, 0, v0);                               \
		ASSERT_IOTLB(be, hwpt, 1, v1);                               \
		ASSERT_IOTLB(be, hwpt, 2, v2);                               \
		ASSERT_IOTLB(be, hwpt, 3, v3);                               \
	} while (0)

#define ASSERT_IOTLB_ALL(be, hwpt, v) ASSERT_IOTLB4(be, hwpt, v, v, v, v)

/* ---------------------------------------------------------------------- */
/* vIOMMU, vDEVICE, vEVENTQ, PASID and stats helpers (reliability tests)  */

/* IOMMU_VIOMMU_ALLOC of IOMMU_VIOMMU_TYPE_SELFTEST; @data may be NULL */
static inline int viommu_alloc(int fd, uint32_t idev_id, uint32_t hwpt_id,
			       uint32_t type, void *data, uint32_t data_len,
			       uint32_t *out)
{
	struct iommu_viommu_alloc cmd = {
		.size = sizeof(cmd),
		.type = type,
		.dev_id = idev_id,
		.hwpt_id = hwpt_id,
		.data_len = data_len,
		.data_uptr = (uintptr_t)data,
	};

	if (ioctl(fd, IOMMU_VIOMMU_ALLOC, &cmd))
		return -1;
	if (out)
		*out = cmd.out_viommu_id;
	return 0;
}

static inline int vdevice_alloc(int fd, uint32_t viommu_id, uint32_t idev_id,
				uint64_t virt_id, uint32_t *out)
{
	struct iommu_vdevice_alloc cmd = {
		.size = sizeof(cmd),
		.viommu_id = viommu_id,
		.dev_id = idev_id,
		.virt_id = virt_id,
	};

	if (ioctl(fd, IOMMU_VDEVICE_ALLOC, &cmd))
		return -1;
	if (out)
		*out = cmd.out_vdevice_id;
	return 0;
}

/* IOMMU_HW_QUEUE_ALLOC of the guest queue at @iova (an IOVA of the parent) */
static inline int hw_queue_alloc(int fd, uint32_t viommu_id, uint32_t type,
				 uint32_t index, uint64_t iova, uint64_t length,
				 uint32_t *out)
{
	struct iommu_hw_queue_alloc cmd = {
		.size = sizeof(cmd),
		.viommu_id = viommu_id,
		.type = type,
		.index = index,
		.nesting_parent_iova = iova,
		.length = length,
	};

	if (ioctl(fd, IOMMU_HW_QUEUE_ALLOC, &cmd))
		return -1;
	if (out)
		*out = cmd.out_hw_queue_id;
	return 0;
}

/* IOMMU_VEVENTQ_ALLOC; *out_fd is the event queue file (close it) */
static inline int veventq_alloc(int fd, uint32_t viommu_id, uint32_t type,
				uint32_t depth, uint32_t *out_id, int *out_fd)
{
	struct iommu_veventq_alloc cmd = {
		.size = sizeof(cmd),
		.viommu_id = viommu_id,
		.type = type,
		.veventq_depth = depth,
	};

	if (ioctl(fd, IOMMU_VEVENTQ_ALLOC, &cmd))
		return -1;
	if (out_id)
		*out_id = cmd.out_veventq_id;
	if (out_fd)
		*out_fd = cmd.out_veventq_fd;
	else
		close(cmd.out_veventq_fd);
	return 0;
}

/* IOMMU_HWPT_INVALIDATE on a vIOMMU id with selftest entries */
static inline int viommu_inv_selftest(int fd, uint32_t viommu_id,
				const struct iommu_viommu_invalidate_selftest *inv,
				uint32_t *entry_num)
{
	return hwpt_invalidate(fd, viommu_id,
			       IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, inv,
			       sizeof(*inv), entry_num);
}

/*
 * Make the backend's mock report a selftest vEVENT for the device.
 * c_mock: IOMMU_TEST_OP_TRIGGER_VEVENT on @idev_id (the device must be
 * attached to a nested HWPT of the vIOMMU; the event carries the vDEVICE id
 * recorded at that attach).  rust_mock: RIOMMU_MOCK_TRIGGER_VEVENT on
 * @viommu_id/@virt_id.
 */
static inline int be_trigger_vevent(struct backend *be, uint32_t idev_id,
				    uint32_t viommu_id, uint64_t virt_id)
{
	if (be->ops->kind == BACKEND_C_MOCK) {
		struct iommu_test_cmd cmd = {
			.size = sizeof(cmd),
			.op = IOMMU_TEST_OP_TRIGGER_VEVENT,
			.trigger_vevent = { .dev_id = idev_id },
		};

		return ioctl(be->iommufd, IOMMU_TEST_CMD, &cmd);
	} else {
		struct riommu_mock_trigger_vevent cmd = {
			.size = sizeof(cmd),
			.iommufd = be->iommufd,
			.viommu_id = viommu_id,
			.virt_id = virt_id,
		};

		return ioctl(be->ctlfd, RIOMMU_MOCK_TRIGGER_VEVENT, &cmd);
	}
}

/*
 * The device's cache slot @slot holds @value: 0, or -1 with EINVAL on a
 * mismatch or a bad @slot, ENOENT for an unknown device.  c_mock:
 * IOMMU_TEST_OP_DEV_CHECK_CACHE on @idev_id; rust_mock:
 * RIOMMU_MOCK_CHECK_DEV_CACHE on @dev_handle.
 */
static inline int be_dev_check_cache(struct backend *be, uint32_t dev_handle,
				     uint32_t idev_id, uint32_t slot,
				     uint32_t value)
{
	if (be->ops->kind == BACKEND_C_MOCK) {
		struct iommu_test_cmd cmd = {
			.size = sizeof(cmd),
			.op = IOMMU_TEST_OP_DEV_CHECK_CACHE,
			.id = idev_id,
			.check_dev_cache = { .id = slot, .cache = value },
		};

		return ioctl(be->iommufd, IOMMU_TEST_CMD, &cmd);
	} else {
		struct riommu_mock_check_dev_cache cmd = {
			.size = sizeof(cmd),
			.dev_id = dev_handle,
			.cache_id = slot,
			.cache = value,
		};

		return ioctl(be->ctlfd, RIOMMU_MOCK_CHECK_DEV_CACHE, &cmd);
	}
}

/*
 * Make the backend's mock report a selftest vEVENT for the device, by
 * device (the C mock's own way): for the vIOMMU of the nested HWPT the RID
 * is attached to, with the virtual id recorded at that attach.  c_mock:
 * IOMMU_TEST_OP_TRIGGER_VEVENT on @idev_id; rust_mock:
 * RIOMMU_MOCK_DEV_TRIGGER_VEVENT on @dev_handle.
 */
static inline int be_dev_trigger_vevent(struct backend *be,
					uint32_t dev_handle, uint32_t idev_id)
{
	struct riommu_mock_dev_trigger_vevent cmd = {
		.size = sizeof(cmd),
		.dev_id = dev_handle,
	};

	if (be->ops->kind == BACKEND_C_MOCK)
		return be_trigger_vevent(be, idev_id, 0, 0);
	return ioctl(be->ctlfd, RIOMMU_MOCK_DEV_TRIGGER_VEVENT, &cmd);
}

/*
 * Make the backend's mock report a last-page page request of the device
 * (iommu_report_device_fault()).  c_mock: IOMMU_TEST_OP_TRIGGER_IOPF on
 * @idev_id; rust_mock: RIOMMU_MOCK_TRIGGER_IOPF on @dev_handle.  @pasid 0:
 * the RID.  Both succeed whether or not a fault queue takes the request.
 */
static inline int be_trigger_iopf(struct backend *be, uint32_t dev_handle,
				  uint32_t idev_id, uint32_t pasid,
				  uint32_t grpid, uint32_t perm, uint64_t addr)
{
	if (be->ops->kind == BACKEND_C_MOCK) {
		struct iommu_test_cmd cmd = {
			.size = sizeof(cmd),
			.op = IOMMU_TEST_OP_TRIGGER_IOPF,
			.trigger_iopf = {
				.dev_id = idev_id,
				.pasid = pasid,
				.grpid = grpid,
				.perm = perm,
				.addr = addr,
			},
		};

		return ioctl(be->iommufd, IOMMU_TEST_CMD, &cmd);
	} else {
		struct riommu_mock_trigger_iopf cmd = {
			.size = sizeof(cmd),
			.dev_id = dev_handle,
			.pasid = pasid,
			.grpid = grpid,
			.perm = perm,
			.addr = addr,
		};

		return ioctl(be->ctlfd, RIOMMU_MOCK_TRIGGER_IOPF, &cmd);
	}
}

enum be_pasid_op {
	BE_PASID_ATTACH,
	BE_PASID_REPLACE,
	BE_PASID_DETACH,
	BE_PASID_CHECK,
};

/*
 * PASID attach/replace/detach/check of device @dev_handle.  ATTACH and
 * REPLACE update *@pt_id to the HWPT attached; CHECK compares with *@pt_id
 * (0: nothing attached).  DETACH ignores @pt_id (may be NULL).
 */
static inline int be_pasid(struct backend *be, enum be_pasid_op op,
			   uint32_t dev_handle, uint32_t pasid, uint32_t *pt_id)
{
	static const uint32_t c_ops[] = {
		[BE_PASID_ATTACH] = IOMMU_TEST_OP_PASID_ATTACH,
		[BE_PASID_REPLACE] = IOMMU_TEST_OP_PASID_REPLACE,
		[BE_PASID_DETACH] = IOMMU_TEST_OP_PASID_DETACH,
		[BE_PASID_CHECK] = IOMMU_TEST_OP_PASID_CHECK_HWPT,
	};
	static const unsigned long r_ops[] = {
		[BE_PASID_ATTACH] = RIOMMU_MOCK_PASID_ATTACH,
		[BE_PASID_REPLACE] = RIOMMU_MOCK_PASID_REPLACE,
		[BE_PASID_DETACH] = RIOMMU_MOCK_PASID_DETACH,
		[BE_PASID_CHECK] = RIOMMU_MOCK_PASID_CHECK,
	};
	uint32_t pt = pt_id ? *pt_id : 0;

	if (be->ops->kind == BACKEND_C_MOCK) {
		struct iommu_test_cmd cmd = {
			.size = sizeof(cmd),
			.op = c_ops[op],
			.id = dev_handle,
		};

		/* pasid_attach, pasid_replace and pasid_check share a layout */
		cmd.pasid_attach.pasid = pasid;
		cmd.pasid_attach.pt_id = pt;
		if (ioctl(be->iommufd, IOMMU_TEST_CMD, &cmd))
			return -1;
		if (pt_id && (op == BE_PASID_ATTACH || op == BE_PASID_REPLACE))
			*pt_id = cmd.pasid_attach.pt_id;
		return 0;
	} else {
		struct riommu_mock_pasid cmd = {
			.size = sizeof(cmd),
			.dev_id = dev_handle,
			.pasid = pasid,
			.pt_id = pt,
		};

		if (ioctl(be->ctlfd, r_ops[op], &cmd))
			return -1;
		if (pt_id && (op == BE_PASID_ATTACH || op == BE_PASID_REPLACE))
			*pt_id = cmd.pt_id;
		return 0;
	}
}

/* RIOMMU_MOCK_STATS on control fd @ctl */
static inline int rmock_stats(int ctl, struct riommu_mock_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return ioctl(ctl, RIOMMU_MOCK_STATS, st);
}

/*
 * RIOMMU_MOCK_STATS through a control fd of its own (opened and closed
 * here), so it works for either backend's tests as long as the module is
 * loaded.
 */
static inline int riommu_stats(struct riommu_mock_stats *st)
{
	int ctl = open(RIOMMU_MOCK_DEV, O_RDWR | O_CLOEXEC);
	int rc, e;

	if (ctl < 0)
		return -1;
	rc = rmock_stats(ctl, st);
	e = errno;
	close(ctl);
	errno = e;
	return rc;
}

/*
 * /sys/module/riommu_mock/refcnt: every device, domain, vIOMMU, vDEVICE and
 * open control file holds one reference on the module.  -1 if unreadable.
 */
static inline long riommu_module_refcnt(void)
{
	char buf[32] = "";
	ssize_t n;
	int fd = open("/sys/module/riommu_mock/refcnt", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}

#endif /* __RIOMMU_UTILS_H */
