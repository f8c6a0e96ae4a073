/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * riommu_mock control device, /dev/riommu-mock.
 *
 * riommu_mock is a mock IOMMU driver written in Rust.  It registers an IOMMU
 * for its own bus ("riommu_mock"); the control device creates mock devices on
 * that bus, binds them to an iommufd context and drives them, so that the
 * iommufd uAPI (/dev/iommu) can be exercised against a Rust iommu_ops.
 *
 * Every ioctl takes one struct whose first __u32 is @size, the number of bytes
 * userspace passes.  A @size below the struct's first version gives EINVAL; a
 * larger @size is accepted when the bytes beyond what the kernel knows are
 * zero, otherwise E2BIG.  Reserved fields and unknown flags must be zero
 * (EOPNOTSUPP otherwise).  Output fields are written back only on success.
 *
 * Ids: @dev_id is a handle local to the control file descriptor that created
 * the device; @idev_id, @pt_id and @hwpt_id are iommufd object ids of the
 * iommufd context given by @iommufd.  Closing the control file removes every
 * mock device it created (detach, unbind, unregister).
 *
 * See Documentation/riommu-mock.rst.
 */
#ifndef _UAPI_LINUX_RIOMMU_MOCK_H
#define _UAPI_LINUX_RIOMMU_MOCK_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define RIOMMU_MOCK_TYPE 0xB8

enum {
	RIOMMU_MOCK_CMD_BASE = 0x40,
	RIOMMU_MOCK_CMD_DEV_ADD = RIOMMU_MOCK_CMD_BASE,
	RIOMMU_MOCK_CMD_DEV_REMOVE,
	RIOMMU_MOCK_CMD_DEV_ATTACH,
	RIOMMU_MOCK_CMD_DEV_REPLACE,
	RIOMMU_MOCK_CMD_DEV_DETACH,
	RIOMMU_MOCK_CMD_CHECK_MAP,
	RIOMMU_MOCK_CMD_CHECK_IOTLB,
	RIOMMU_MOCK_CMD_SET_DIRTY,
	RIOMMU_MOCK_CMD_STATS,
	RIOMMU_MOCK_CMD_TRIGGER_VEVENT,
	RIOMMU_MOCK_CMD_CHECK_VDEV_CACHE,
	RIOMMU_MOCK_CMD_PASID_ATTACH,
	RIOMMU_MOCK_CMD_PASID_REPLACE,
	RIOMMU_MOCK_CMD_PASID_DETACH,
	RIOMMU_MOCK_CMD_PASID_CHECK,
	RIOMMU_MOCK_CMD_SVA_BIND,
	RIOMMU_MOCK_CMD_SVA_UNBIND,
	RIOMMU_MOCK_CMD_SVA_ACCESS,
	RIOMMU_MOCK_CMD_SVA_CHECK_INVAL,
	RIOMMU_MOCK_CMD_CHECK_DEV_CACHE,
	RIOMMU_MOCK_CMD_DEV_TRIGGER_VEVENT,
	RIOMMU_MOCK_CMD_TRIGGER_IOPF,
};

/* Mock device flags, same meaning as the C mock's MOCK_FLAGS_DEVICE_* */
enum riommu_mock_dev_flags {
	RIOMMU_MOCK_DEV_NO_DIRTY = 1 << 0,
	RIOMMU_MOCK_DEV_PASID = 1 << 2,
};

/* The paging-domain geometry, identical to the C mock's default domain */
enum {
	RIOMMU_MOCK_APERTURE_START = 1UL << 24,
	RIOMMU_MOCK_APERTURE_LAST = (1UL << 31) - 1,
	RIOMMU_MOCK_PASID_WIDTH = 20,
};

/* The nested domain's IOTLB: 4 slots, like the C mock */
enum {
	RIOMMU_MOCK_IOTLB_ID_MAX = 3,
	RIOMMU_MOCK_IOTLB_NUM = 4,
};

/*
 * IOMMU_GET_HW_INFO type and test_reg value reported by riommu_mock: the C
 * mock's (IOMMU_HW_INFO_TYPE_SELFTEST, IOMMU_HW_INFO_SELFTEST_REGVAL), so
 * that the same answer comes from either mock.  The sysfs node
 * /sys/class/iommu/riommu_mock tells the two apart.
 */
#define IOMMU_HW_INFO_TYPE_RIOMMU_MOCK 0xfeedbeef
#define RIOMMU_MOCK_HW_INFO_REGVAL 0xdeadbeef

/**
 * struct riommu_mock_dev_add - RIOMMU_MOCK_DEV_ADD
 * @size: sizeof(struct riommu_mock_dev_add)
 * @flags: must be 0
 * @iommufd: an open /dev/iommu file descriptor to bind the device to
 * @dev_flags: enum riommu_mock_dev_flags
 * @pt_id: in: an IOAS or HWPT id to attach the new device to, or 0 to leave
 *         it unattached; out: the HWPT it was attached to (0 if none)
 * @out_dev_id: handle of the mock device on this control fd
 * @out_idev_id: the iommufd device id (for IOMMU_HWPT_ALLOC etc.)
 * @__reserved: must be 0
 */
struct riommu_mock_dev_add {
	__u32 size;
	__u32 flags;
	__s32 iommufd;
	__u32 dev_flags;
	__u32 pt_id;
	__u32 out_dev_id;
	__u32 out_idev_id;
	__u32 __reserved;
};
#define RIOMMU_MOCK_DEV_ADD _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_DEV_ADD)

/**
 * struct riommu_mock_dev_remove - RIOMMU_MOCK_DEV_REMOVE
 * @size: sizeof(struct riommu_mock_dev_remove)
 * @dev_id: handle from RIOMMU_MOCK_DEV_ADD
 *
 * Detaches, unbinds and unregisters the device.
 */
struct riommu_mock_dev_remove {
	__u32 size;
	__u32 dev_id;
};
#define RIOMMU_MOCK_DEV_REMOVE _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_DEV_REMOVE)

/**
 * struct riommu_mock_dev_attach - RIOMMU_MOCK_DEV_ATTACH, RIOMMU_MOCK_DEV_REPLACE
 * @size: sizeof(struct riommu_mock_dev_attach)
 * @dev_id: handle from RIOMMU_MOCK_DEV_ADD
 * @pt_id: in: IOAS or HWPT id; out: the HWPT now attached
 * @__reserved: must be 0
 *
 * ATTACH is iommufd_device_attach() (EBUSY if already attached); REPLACE is
 * iommufd_device_replace() (EINVAL if not attached).  If @pt_id cannot be
 * written back (EFAULT), an ATTACH is undone; a REPLACE stays done (as the C
 * mock's IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE).
 */
struct riommu_mock_dev_attach {
	__u32 size;
	__u32 dev_id;
	__u32 pt_id;
	__u32 __reserved;
};
#define RIOMMU_MOCK_DEV_ATTACH _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_DEV_ATTACH)
#define RIOMMU_MOCK_DEV_REPLACE _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_DEV_REPLACE)

/**
 * struct riommu_mock_dev_detach - RIOMMU_MOCK_DEV_DETACH
 * @size: sizeof(struct riommu_mock_dev_detach)
 * @dev_id: handle from RIOMMU_MOCK_DEV_ADD
 *
 * ENOENT if the device is not attached.
 */
struct riommu_mock_dev_detach {
	__u32 size;
	__u32 dev_id;
};
#define RIOMMU_MOCK_DEV_DETACH _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_DEV_DETACH)

/**
 * struct riommu_mock_check_map - RIOMMU_MOCK_CHECK_MAP
 * @size: sizeof(struct riommu_mock_check_map)
 * @iommufd: the /dev/iommu fd that owns @hwpt_id
 * @hwpt_id: a paging HWPT allocated by riommu_mock
 * @__reserved: must be 0
 * @iova: first IOVA to check, page aligned
 * @length: bytes to check, a multiple of the page size
 * @uptr: user buffer whose pages must be the ones mapped at @iova
 *
 * Succeeds when every page of [@iova, @iova + @length) translates to the
 * physical page behind the same offset of @uptr.  EINVAL on a mismatch or an
 * unmapped IOVA, ENOENT when @hwpt_id is not a riommu_mock paging domain of
 * that iommufd context.
 */
struct riommu_mock_check_map {
	__u32 size;
	__s32 iommufd;
	__u32 hwpt_id;
	__u32 __reserved;
	__aligned_u64 iova;
	__aligned_u64 length;
	__aligned_u64 uptr;
};
#define RIOMMU_MOCK_CHECK_MAP _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_CHECK_MAP)

/**
 * struct riommu_mock_check_iotlb - RIOMMU_MOCK_CHECK_IOTLB
 * @size: sizeof(struct riommu_mock_check_iotlb)
 * @iommufd: the /dev/iommu fd that owns @hwpt_id
 * @hwpt_id: a nested HWPT allocated by riommu_mock
 * @iotlb_id: slot, 0..RIOMMU_MOCK_IOTLB_ID_MAX
 * @iotlb: expected value
 * @out_iotlb: the slot's value, written back in every case but a bad
 *             @hwpt_id or @iotlb_id
 *
 * EINVAL when the slot does not hold @iotlb (as IOMMU_TEST_OP_MD_CHECK_IOTLB)
 * or @iotlb_id is out of range.
 */
struct riommu_mock_check_iotlb {
	__u32 size;
	__s32 iommufd;
	__u32 hwpt_id;
	__u32 iotlb_id;
	__u32 iotlb;
	__u32 out_iotlb;
};
#define RIOMMU_MOCK_CHECK_IOTLB _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_CHECK_IOTLB)

/**
 * struct riommu_mock_set_dirty - RIOMMU_MOCK_SET_DIRTY
 * @size: sizeof(struct riommu_mock_set_dirty)
 * @iommufd: the /dev/iommu fd that owns @hwpt_id
 * @hwpt_id: a riommu_mock paging HWPT with dirty tracking enabled
 * @flags: must be 0
 * @iova: IOVA of bit 0 of the bitmap
 * @length: bytes covered by the bitmap
 * @page_size: bytes per bit
 * @uptr: bitmap; every set bit marks the mapped PTE at that IOVA dirty
 * @out_nr_dirty: number of bits found set
 *
 * Same semantics as IOMMU_TEST_OP_DIRTY.
 */
struct riommu_mock_set_dirty {
	__u32 size;
	__s32 iommufd;
	__u32 hwpt_id;
	__u32 flags;
	__aligned_u64 iova;
	__aligned_u64 length;
	__aligned_u64 page_size;
	__aligned_u64 uptr;
	__aligned_u64 out_nr_dirty;
};
#define RIOMMU_MOCK_SET_DIRTY _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_SET_DIRTY)

/**
 * struct riommu_mock_stats - RIOMMU_MOCK_STATS
 * @size: sizeof(struct riommu_mock_stats)
 * @__reserved: must be 0
 * @out_devices: live mock devices (all control fds)
 * @out_paging_domains: live paging domains
 * @out_nested_domains: live nested domains
 * @out_table_bytes: bytes held by page-table nodes of all paging domains
 * @out_viommus: live vIOMMUs
 * @out_sva_domains: live SVA domains
 * @out_tables_released: page-table pages (all riommu_mock domains, since
 *                       load) that a map or unmap unlinked and that were
 *                       released after the IOTLB sync that followed it
 *
 * Object counts for leak checks and the benchmark.
 */
struct riommu_mock_stats {
	__u32 size;
	__u32 __reserved;
	__aligned_u64 out_devices;
	__aligned_u64 out_paging_domains;
	__aligned_u64 out_nested_domains;
	__aligned_u64 out_table_bytes;
	__aligned_u64 out_viommus;
	__aligned_u64 out_sva_domains;
	__aligned_u64 out_tables_released;
};
#define RIOMMU_MOCK_STATS _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_STATS)

/*
 * vIOMMU (IOMMU_VIOMMU_TYPE_SELFTEST): each mock device carries 4 cache
 * slots, which vIOMMU invalidations reach through the device's vDEVICE
 */
enum {
	RIOMMU_MOCK_DEV_CACHE_ID_MAX = 3,
	RIOMMU_MOCK_DEV_CACHE_NUM = 4,
	RIOMMU_MOCK_DEV_CACHE_DEFAULT = 0xbaddad,
};

/**
 * struct riommu_mock_trigger_vevent - RIOMMU_MOCK_TRIGGER_VEVENT
 * @size: sizeof(struct riommu_mock_trigger_vevent)
 * @iommufd: the /dev/iommu fd that owns @viommu_id
 * @viommu_id: a riommu_mock vIOMMU (IOMMU_VIOMMU_TYPE_SELFTEST)
 * @__reserved: must be 0
 * @virt_id: a vDEVICE's virtual id on that vIOMMU
 *
 * Makes the mock report an IOMMU_VEVENTQ_TYPE_SELFTEST event
 * (struct iommu_viommu_event_selftest { virt_id }) for the vDEVICE, as the
 * C mock's IOMMU_TEST_OP_TRIGGER_VEVENT does for a device.  ENOENT when the
 * vIOMMU or the vDEVICE does not exist; EOPNOTSUPP without a vEVENTQ of that
 * type; ENOMEM (event lost, overflow recorded) when it cannot be queued.
 */
struct riommu_mock_trigger_vevent {
	__u32 size;
	__s32 iommufd;
	__u32 viommu_id;
	__u32 __reserved;
	__aligned_u64 virt_id;
};
#define RIOMMU_MOCK_TRIGGER_VEVENT _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_TRIGGER_VEVENT)

/**
 * struct riommu_mock_check_vdev_cache - RIOMMU_MOCK_CHECK_VDEV_CACHE
 * @size: sizeof(struct riommu_mock_check_vdev_cache)
 * @iommufd: the /dev/iommu fd that owns @viommu_id
 * @viommu_id: a riommu_mock vIOMMU
 * @cache_id: slot, 0..RIOMMU_MOCK_DEV_CACHE_ID_MAX
 * @virt_id: the vDEVICE's virtual id
 * @cache: expected value
 * @out_cache: the slot's value
 *
 * Like IOMMU_TEST_OP_DEV_CHECK_CACHE, reaching the device's cache slots
 * through its vDEVICE: EINVAL when the slot does not hold @cache or
 * @cache_id is out of range, ENOENT when the vIOMMU or vDEVICE does not
 * exist.
 */
struct riommu_mock_check_vdev_cache {
	__u32 size;
	__s32 iommufd;
	__u32 viommu_id;
	__u32 cache_id;
	__aligned_u64 virt_id;
	__u32 cache;
	__u32 out_cache;
};
#define RIOMMU_MOCK_CHECK_VDEV_CACHE _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_CHECK_VDEV_CACHE)

/*
 * A PASID the mock fails on purpose: the second attach/replace of a non-
 * blocking domain to it fails with ENOMEM (the C mock's
 * IOMMU_TEST_PASID_RESERVED), to exercise the core's rollback.
 */
#define RIOMMU_MOCK_PASID_FAKE_ERROR 1024

/**
 * struct riommu_mock_pasid - RIOMMU_MOCK_PASID_{ATTACH,REPLACE,DETACH,CHECK}
 * @size: sizeof(struct riommu_mock_pasid)
 * @dev_id: handle from RIOMMU_MOCK_DEV_ADD (a RIOMMU_MOCK_DEV_PASID device)
 * @pasid: the PASID (not 0, the RID)
 * @pt_id: ATTACH, REPLACE: in: IOAS or HWPT (allocated with
 *         IOMMU_HWPT_ALLOC_PASID), out: the HWPT attached.  DETACH: ignored.
 *         CHECK: the HWPT expected on @pasid, or 0 for "none"
 *
 * As IOMMU_TEST_OP_PASID_*: the errnos of iommufd_device_attach/replace for
 * PASIDs (EINVAL for a HWPT without the PASID flag, a PASID beyond the
 * device's width or a device without PASID support).  CHECK gives EINVAL on
 * a mismatch and ENOENT for an unknown @pt_id.
 */
struct riommu_mock_pasid {
	__u32 size;
	__u32 dev_id;
	__u32 pasid;
	__u32 pt_id;
};
#define RIOMMU_MOCK_PASID_ATTACH _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_PASID_ATTACH)
#define RIOMMU_MOCK_PASID_REPLACE _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_PASID_REPLACE)
#define RIOMMU_MOCK_PASID_DETACH _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_PASID_DETACH)
#define RIOMMU_MOCK_PASID_CHECK _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_PASID_CHECK)

/**
 * struct riommu_mock_sva_bind - RIOMMU_MOCK_SVA_BIND, RIOMMU_MOCK_SVA_UNBIND
 * @size: sizeof(struct riommu_mock_sva_bind)
 * @dev_id: BIND: handle of a RIOMMU_MOCK_DEV_PASID device
 * @bond_id: BIND: out, a handle of the bond on this control fd; UNBIND: in
 * @out_pasid: BIND: the PASID of the calling process's mm
 *
 * BIND shares the calling process's address space (its mm, not the calling
 * thread) with the device through iommu_sva_bind_device(); the mm's PASID is
 * the same for every device bound to it.  UNBIND drops the bond; closing the
 * control fd drops all of its bonds.  The bond belongs to the mm: it keeps
 * working after the binding thread exits; once the process exits, device
 * accesses fail with ESRCH.  See Documentation/riommu-mock.rst.
 */
struct riommu_mock_sva_bind {
	__u32 size;
	__u32 dev_id;
	__u32 bond_id;
	__u32 out_pasid;
};
#define RIOMMU_MOCK_SVA_BIND _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_SVA_BIND)
#define RIOMMU_MOCK_SVA_UNBIND _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_SVA_UNBIND)

#define RIOMMU_MOCK_SVA_ACCESS_WRITE (1 << 0)

/**
 * struct riommu_mock_sva_access - RIOMMU_MOCK_SVA_ACCESS
 * @size: sizeof(struct riommu_mock_sva_access)
 * @dev_id: the device
 * @pasid: a PASID with an SVA domain attached on that device
 * @flags: RIOMMU_MOCK_SVA_ACCESS_WRITE to write, else read
 * @addr: virtual address in the bound mm ("the device's DMA address")
 * @length: bytes, at most 1 MiB
 * @uptr: the caller's buffer: the source of a write, the destination of a
 *        read
 *
 * A "device access" through the PASID: reads or writes the bound mm on
 * behalf of the device.  ENOENT without an SVA domain on @pasid, ESRCH once
 * the mm is gone, EFAULT for an unmapped @addr.
 */
struct riommu_mock_sva_access {
	__u32 size;
	__u32 dev_id;
	__u32 pasid;
	__u32 flags;
	__aligned_u64 addr;
	__aligned_u64 length;
	__aligned_u64 uptr;
};
#define RIOMMU_MOCK_SVA_ACCESS _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_SVA_ACCESS)

/**
 * struct riommu_mock_sva_check_inval - RIOMMU_MOCK_SVA_CHECK_INVAL
 * @size: sizeof(struct riommu_mock_sva_check_inval)
 * @dev_id: the device
 * @pasid: a PASID with an SVA domain attached on that device
 * @start: start of the range
 * @length: length of the range
 * @out_count: invalidations recorded so far for that domain
 *
 * Succeeds when one of the last invalidations the mock's "IOTLB" recorded
 * for the domain (from its MMU notifier) covers [@start, @start + @length);
 * ENOENT otherwise (and without an SVA domain on @pasid).
 */
struct riommu_mock_sva_check_inval {
	__u32 size;
	__u32 dev_id;
	__u32 pasid;
	__u32 __reserved;
	__aligned_u64 start;
	__aligned_u64 length;
	__aligned_u64 out_count;
};
#define RIOMMU_MOCK_SVA_CHECK_INVAL _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_SVA_CHECK_INVAL)

/**
 * struct riommu_mock_check_dev_cache - RIOMMU_MOCK_CHECK_DEV_CACHE
 * @size: sizeof(struct riommu_mock_check_dev_cache)
 * @dev_id: handle from RIOMMU_MOCK_DEV_ADD
 * @cache_id: slot, 0..RIOMMU_MOCK_DEV_CACHE_ID_MAX
 * @cache: expected value
 * @out_cache: the slot's value
 *
 * As IOMMU_TEST_OP_DEV_CHECK_CACHE: the device's cache slots, set to
 * RIOMMU_MOCK_DEV_CACHE_DEFAULT when the device is created and cleared by
 * vIOMMU invalidations through the device's vDEVICE.  EINVAL when the slot
 * does not hold @cache or @cache_id is out of range; ENOENT for an unknown
 * @dev_id.
 */
struct riommu_mock_check_dev_cache {
	__u32 size;
	__u32 dev_id;
	__u32 cache_id;
	__u32 cache;
	__u32 out_cache;
	__u32 __reserved;
};
#define RIOMMU_MOCK_CHECK_DEV_CACHE _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_CHECK_DEV_CACHE)

/**
 * struct riommu_mock_dev_trigger_vevent - RIOMMU_MOCK_DEV_TRIGGER_VEVENT
 * @size: sizeof(struct riommu_mock_dev_trigger_vevent)
 * @dev_id: handle from RIOMMU_MOCK_DEV_ADD
 *
 * As IOMMU_TEST_OP_TRIGGER_VEVENT: reports an IOMMU_VEVENTQ_TYPE_SELFTEST
 * event (struct iommu_viommu_event_selftest { virt_id }) for the device's
 * vDEVICE on its vIOMMU.  As in the C mock, "its vIOMMU" and the virt_id are
 * those recorded when the device's RID was attached to a nested HWPT of a
 * vIOMMU (an attach to a domain of another vIOMMU, or of none, updates
 * them).  ENOENT when the device has no such vDEVICE (not attached to a
 * nested HWPT of a vIOMMU, or virt_id 0) or @dev_id is unknown; the errnos
 * of iommufd_viommu_report_event() otherwise (EOPNOTSUPP without a vEVENTQ
 * of that type).
 */
struct riommu_mock_dev_trigger_vevent {
	__u32 size;
	__u32 dev_id;
};
#define RIOMMU_MOCK_DEV_TRIGGER_VEVENT _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_DEV_TRIGGER_VEVENT)

/**
 * struct riommu_mock_trigger_iopf - RIOMMU_MOCK_TRIGGER_IOPF
 * @size: sizeof(struct riommu_mock_trigger_iopf)
 * @dev_id: handle from RIOMMU_MOCK_DEV_ADD
 * @pasid: the PASID of the faulting access (0: none)
 * @grpid: the page request group id
 * @perm: IOMMU_PGFAULT_PERM_* of the access
 * @__reserved: must be 0
 * @addr: the faulting address
 *
 * As IOMMU_TEST_OP_TRIGGER_IOPF: reports a last-page page request for the
 * device through iommu_report_device_fault(), which delivers it to the
 * fault queue of the fault-capable HWPT attached to @dev_id (or @pasid).
 * Userspace answers it with a page response on that queue.
 */
struct riommu_mock_trigger_iopf {
	__u32 size;
	__u32 dev_id;
	__u32 pasid;
	__u32 grpid;
	__u32 perm;
	__u32 __reserved;
	__aligned_u64 addr;
};
#define RIOMMU_MOCK_TRIGGER_IOPF _IO(RIOMMU_MOCK_TYPE, RIOMMU_MOCK_CMD_TRIGGER_IOPF)

#endif /* _UAPI_LINUX_RIOMMU_MOCK_H */
