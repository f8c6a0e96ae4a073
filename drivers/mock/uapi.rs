// SPDX-License-Identifier: GPL-2.0

//! uAPI structures: the selftest data types riommu_mock shares with the C
//! mock (`drivers/iommu/iommufd/iommufd_test.h`), and the control device's
//! ioctls (`include/uapi/linux/riommu_mock.h`).
//!
//! Every value is taken from bindgen's output for those two headers
//! (`riommu::bindings::test`, see `rust/riommu/test_bindings_helper.h`);
//! the structs, which derive `FromBytes`/`IntoBytes` for user copies, are
//! asserted at compile time to have the C layout (the end of this file).

#![forbid(unsafe_code)]

use crate::riommu::{bindings::test, uapi_check::assert_same_layout, userdata::UserStruct};
use core::mem::{offset_of, size_of};
use kernel::{bindings, ioctl::_IO, prelude::*};
use zerocopy_derive::{Immutable, KnownLayout};

/// `IOMMU_HWPT_DATA_SELFTEST`.
pub const HWPT_DATA_SELFTEST: u32 = test::IOMMU_HWPT_DATA_SELFTEST;
/// `IOMMU_HWPT_DATA_NONE`.
pub const HWPT_DATA_NONE: u32 = bindings::iommu_hwpt_data_type_IOMMU_HWPT_DATA_NONE;
/// `IOMMU_HWPT_INVALIDATE_DATA_SELFTEST`.
pub const HWPT_INVALIDATE_DATA_SELFTEST: u32 = test::IOMMU_HWPT_INVALIDATE_DATA_SELFTEST;
/// `IOMMU_TEST_INVALIDATE_FLAG_ALL`.
pub const INVALIDATE_FLAG_ALL: u32 = test::IOMMU_TEST_INVALIDATE_FLAG_ALL;
/// `IOMMU_HW_INFO_TYPE_DEFAULT`.
pub const HW_INFO_TYPE_DEFAULT: u32 = bindings::iommu_hw_info_type_IOMMU_HW_INFO_TYPE_DEFAULT;
/// `IOMMU_HW_INFO_TYPE_RIOMMU_MOCK` (the C mock's selftest type value,
/// `IOMMU_HW_INFO_TYPE_SELFTEST`, asserted below).
pub const HW_INFO_TYPE_RIOMMU_MOCK: u32 = test::IOMMU_HW_INFO_TYPE_RIOMMU_MOCK;
/// `RIOMMU_MOCK_HW_INFO_REGVAL` (the C mock's `IOMMU_HW_INFO_SELFTEST_REGVAL`,
/// asserted below).
pub const HW_INFO_REGVAL: u32 = test::RIOMMU_MOCK_HW_INFO_REGVAL;
/// `MOCK_IOMMUPT_DEFAULT`: the default page table.
pub const PAGETABLE_DEFAULT: u32 = test::MOCK_IOMMUPT_DEFAULT;
/// `MOCK_IOMMUPT_HUGE`: huge pages only.
pub const PAGETABLE_HUGE: u32 = test::MOCK_IOMMUPT_HUGE;
/// `RIOMMU_MOCK_IOTLB_NUM`: number of IOTLB slots of a nested domain.
pub const IOTLB_NUM: usize = test::RIOMMU_MOCK_IOTLB_NUM as usize;
/// `RIOMMU_MOCK_IOTLB_ID_MAX`: highest IOTLB slot id.
pub const IOTLB_ID_MAX: u32 = test::RIOMMU_MOCK_IOTLB_ID_MAX;
/// `RIOMMU_MOCK_APERTURE_START`: first IOVA of the default paging aperture.
pub const APERTURE_START: u64 = test::RIOMMU_MOCK_APERTURE_START as u64;
/// `RIOMMU_MOCK_APERTURE_LAST`: last IOVA of the default paging aperture.
pub const APERTURE_LAST: u64 = test::RIOMMU_MOCK_APERTURE_LAST as u64;
/// `RIOMMU_MOCK_PASID_WIDTH`: PASID width of the mock IOMMU.
pub const PASID_WIDTH: u32 = test::RIOMMU_MOCK_PASID_WIDTH;

/// `RIOMMU_MOCK_DEV_NO_DIRTY`: mock device flag, no dirty tracking.
pub const DEV_NO_DIRTY: u32 = test::riommu_mock_dev_flags_RIOMMU_MOCK_DEV_NO_DIRTY;
/// `RIOMMU_MOCK_DEV_PASID`: mock device flag, PASID capable.
pub const DEV_PASID: u32 = test::riommu_mock_dev_flags_RIOMMU_MOCK_DEV_PASID;

/// `struct iommu_hwpt_selftest`.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct HwptSelftest {
    /// Initial value of every IOTLB slot.
    pub iotlb: u32,
    /// `MOCK_IOMMUPT_*` (paging allocations only).
    pub pagetable_type: u32,
}

impl UserStruct for HwptSelftest {
    const TYPE: u32 = HWPT_DATA_SELFTEST;
    const MIN_LEN: usize = offset_of!(HwptSelftest, iotlb) + size_of::<u32>();
}

/// `struct iommu_hwpt_invalidate_selftest`.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct InvalidateSelftest {
    /// `IOMMU_TEST_INVALIDATE_FLAG_*`.
    pub flags: u32,
    /// Slot to invalidate (ignored with `FLAG_ALL`).
    pub iotlb_id: u32,
}

impl UserStruct for InvalidateSelftest {
    const TYPE: u32 = HWPT_INVALIDATE_DATA_SELFTEST;
    const MIN_LEN: usize = offset_of!(InvalidateSelftest, iotlb_id) + size_of::<u32>();
}

/// `struct iommu_test_hw_info`, reported by `IOMMU_GET_HW_INFO`.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct HwInfo {
    /// Always 0.
    pub flags: u32,
    /// [`HW_INFO_REGVAL`].
    pub test_reg: u32,
}

/// `_IO(RIOMMU_MOCK_TYPE, nr)`: the header's ioctl numbers are function-like
/// macros, which bindgen does not translate; their parts are bindings.
const fn mock_io(nr: u32) -> u32 {
    _IO(test::RIOMMU_MOCK_TYPE, nr)
}

/// `RIOMMU_MOCK_DEV_ADD`
pub const DEV_ADD: u32 = mock_io(test::RIOMMU_MOCK_CMD_DEV_ADD);
/// `RIOMMU_MOCK_DEV_REMOVE`
pub const DEV_REMOVE: u32 = mock_io(test::RIOMMU_MOCK_CMD_DEV_REMOVE);
/// `RIOMMU_MOCK_DEV_ATTACH`
pub const DEV_ATTACH: u32 = mock_io(test::RIOMMU_MOCK_CMD_DEV_ATTACH);
/// `RIOMMU_MOCK_DEV_REPLACE`
pub const DEV_REPLACE: u32 = mock_io(test::RIOMMU_MOCK_CMD_DEV_REPLACE);
/// `RIOMMU_MOCK_DEV_DETACH`
pub const DEV_DETACH: u32 = mock_io(test::RIOMMU_MOCK_CMD_DEV_DETACH);
/// `RIOMMU_MOCK_CHECK_MAP`
pub const CHECK_MAP: u32 = mock_io(test::RIOMMU_MOCK_CMD_CHECK_MAP);
/// `RIOMMU_MOCK_CHECK_IOTLB`
pub const CHECK_IOTLB: u32 = mock_io(test::RIOMMU_MOCK_CMD_CHECK_IOTLB);
/// `RIOMMU_MOCK_SET_DIRTY`
pub const SET_DIRTY: u32 = mock_io(test::RIOMMU_MOCK_CMD_SET_DIRTY);
/// `RIOMMU_MOCK_STATS`
pub const STATS: u32 = mock_io(test::RIOMMU_MOCK_CMD_STATS);

/// `struct riommu_mock_dev_add`.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[expect(missing_docs, reason = "fields: see include/uapi/linux/riommu_mock.h")]
pub struct DevAdd {
    pub size: u32,
    pub flags: u32,
    pub iommufd: i32,
    pub dev_flags: u32,
    pub pt_id: u32,
    pub out_dev_id: u32,
    pub out_idev_id: u32,
    pub reserved: u32,
}

/// `struct riommu_mock_dev_remove`, `struct riommu_mock_dev_detach` and
/// `struct riommu_mock_dev_trigger_vevent`.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[expect(missing_docs, reason = "fields: see include/uapi/linux/riommu_mock.h")]
pub struct DevRef {
    pub size: u32,
    pub dev_id: u32,
}

/// `struct riommu_mock_dev_attach`.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[expect(missing_docs, reason = "fields: see include/uapi/linux/riommu_mock.h")]
pub struct DevAttach {
    pub size: u32,
    pub dev_id: u32,
    pub pt_id: u32,
    pub reserved: u32,
}

/// `struct riommu_mock_check_map`.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[expect(missing_docs, reason = "fields: see include/uapi/linux/riommu_mock.h")]
pub struct CheckMap {
    pub size: u32,
    pub iommufd: i32,
    pub hwpt_id: u32,
    pub reserved: u32,
    pub iova: u64,
    pub length: u64,
    pub uptr: u64,
}

/// `struct riommu_mock_check_iotlb`.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[expect(missing_docs, reason = "fields: see include/uapi/linux/riommu_mock.h")]
pub struct CheckIotlb {
    pub size: u32,
    pub iommufd: i32,
    pub hwpt_id: u32,
    pub iotlb_id: u32,
    pub iotlb: u32,
    pub out_iotlb: u32,
}

/// `struct riommu_mock_set_dirty`.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[expect(missing_docs, reason = "fields: see include/uapi/linux/riommu_mock.h")]
pub struct SetDirty {
    pub size: u32,
    pub iommufd: i32,
    pub hwpt_id: u32,
    pub flags: u32,
    pub iova: u64,
    pub length: u64,
    pub page_size: u64,
    pub uptr: u64,
    pub out_nr_dirty: u64,
}

/// `struct riommu_mock_stats`.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[expect(missing_docs, reason = "fields: see include/uapi/linux/riommu_mock.h")]
pub struct Stats {
    pub size: u32,
    pub reserved: u32,
    pub out_devices: u64,
    pub out_paging_domains: u64,
    pub out_nested_domains: u64,
    pub out_table_bytes: u64,
    pub out_viommus: u64,
    pub out_sva_domains: u64,
    pub out_tables_released: u64,
}

/// `IOMMU_VIOMMU_TYPE_SELFTEST`.
pub const VIOMMU_TYPE_SELFTEST: u32 = test::IOMMU_VIOMMU_TYPE_SELFTEST;
/// `IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST`.
pub const VIOMMU_INVALIDATE_DATA_SELFTEST: u32 = test::IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST;
/// `IOMMU_VEVENTQ_TYPE_SELFTEST`.
pub const VEVENTQ_TYPE_SELFTEST: u32 = test::IOMMU_VEVENTQ_TYPE_SELFTEST;
/// `IOMMU_HW_QUEUE_TYPE_SELFTEST`.
pub const HW_QUEUE_TYPE_SELFTEST: u32 = test::IOMMU_HW_QUEUE_TYPE_SELFTEST;
/// `IOMMU_TEST_HW_QUEUE_MAX`: hardware queues per vIOMMU.
pub const HW_QUEUE_MAX: u32 = test::IOMMU_TEST_HW_QUEUE_MAX;
/// `RIOMMU_MOCK_DEV_CACHE_DEFAULT`: initial value of a device's cache slot.
pub const DEV_CACHE_DEFAULT: u32 = test::RIOMMU_MOCK_DEV_CACHE_DEFAULT;
/// `RIOMMU_MOCK_DEV_CACHE_NUM`: number of cache slots per device.
pub const DEV_CACHE_NUM: usize = test::RIOMMU_MOCK_DEV_CACHE_NUM as usize;
/// `RIOMMU_MOCK_DEV_CACHE_ID_MAX`: highest cache slot id.
pub const DEV_CACHE_ID_MAX: u32 = test::RIOMMU_MOCK_DEV_CACHE_ID_MAX;

/// `struct iommu_viommu_selftest`: optional `IOMMU_VIOMMU_ALLOC` data.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct ViommuSelftest {
    /// Input data, looped back.
    pub in_data: u32,
    /// `in_data`, written back.
    pub out_data: u32,
    /// mmap offset of the vIOMMU's two pages.
    pub out_mmap_offset: u64,
    /// mmap length of those pages.
    pub out_mmap_length: u64,
}

impl UserStruct for ViommuSelftest {
    const TYPE: u32 = VIOMMU_TYPE_SELFTEST;
    const MIN_LEN: usize = offset_of!(ViommuSelftest, out_data) + size_of::<u32>();
}

/// `struct iommu_viommu_invalidate_selftest`.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct ViommuInvalidateSelftest {
    /// `IOMMU_TEST_INVALIDATE_FLAG_*`.
    pub flags: u32,
    /// Virtual id of the vDEVICE.
    pub vdev_id: u32,
    /// Cache slot (ignored with `FLAG_ALL`).
    pub cache_id: u32,
}

impl UserStruct for ViommuInvalidateSelftest {
    const TYPE: u32 = VIOMMU_INVALIDATE_DATA_SELFTEST;
    const MIN_LEN: usize = size_of::<ViommuInvalidateSelftest>();
}

/// `struct iommu_viommu_event_selftest`.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct ViommuEventSelftest {
    /// Virtual id of the vDEVICE.
    pub virt_id: u32,
}

/// `RIOMMU_MOCK_TRIGGER_VEVENT`
pub const TRIGGER_VEVENT: u32 = mock_io(test::RIOMMU_MOCK_CMD_TRIGGER_VEVENT);
/// `RIOMMU_MOCK_CHECK_VDEV_CACHE`
pub const CHECK_VDEV_CACHE: u32 = mock_io(test::RIOMMU_MOCK_CMD_CHECK_VDEV_CACHE);

/// `struct riommu_mock_trigger_vevent`.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[expect(missing_docs, reason = "fields: see include/uapi/linux/riommu_mock.h")]
pub struct TriggerVevent {
    pub size: u32,
    pub iommufd: i32,
    pub viommu_id: u32,
    pub reserved: u32,
    pub virt_id: u64,
}

/// `struct riommu_mock_check_vdev_cache`.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[expect(missing_docs, reason = "fields: see include/uapi/linux/riommu_mock.h")]
pub struct CheckVdevCache {
    pub size: u32,
    pub iommufd: i32,
    pub viommu_id: u32,
    pub cache_id: u32,
    pub virt_id: u64,
    pub cache: u32,
    pub out_cache: u32,
}

/// `RIOMMU_MOCK_CHECK_DEV_CACHE`
pub const CHECK_DEV_CACHE: u32 = mock_io(test::RIOMMU_MOCK_CMD_CHECK_DEV_CACHE);
/// `RIOMMU_MOCK_DEV_TRIGGER_VEVENT` (its argument is a [`DevRef`]).
pub const DEV_TRIGGER_VEVENT: u32 = mock_io(test::RIOMMU_MOCK_CMD_DEV_TRIGGER_VEVENT);

/// `struct riommu_mock_check_dev_cache`.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[expect(missing_docs, reason = "fields: see include/uapi/linux/riommu_mock.h")]
pub struct CheckDevCache {
    pub size: u32,
    pub dev_id: u32,
    pub cache_id: u32,
    pub cache: u32,
    pub out_cache: u32,
    pub reserved: u32,
}

/// `RIOMMU_MOCK_TRIGGER_IOPF`
pub const TRIGGER_IOPF: u32 = mock_io(test::RIOMMU_MOCK_CMD_TRIGGER_IOPF);

/// `struct riommu_mock_trigger_iopf`.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[expect(missing_docs, reason = "fields: see include/uapi/linux/riommu_mock.h")]
pub struct TriggerIopf {
    pub size: u32,
    pub dev_id: u32,
    pub pasid: u32,
    pub grpid: u32,
    pub perm: u32,
    pub reserved: u32,
    pub addr: u64,
}

/// `RIOMMU_MOCK_PASID_FAKE_ERROR`: the PASID the mock fails on purpose on a
/// second attach.
pub const PASID_FAKE_ERROR: u32 = test::RIOMMU_MOCK_PASID_FAKE_ERROR;

/// `RIOMMU_MOCK_PASID_ATTACH`
pub const PASID_ATTACH: u32 = mock_io(test::RIOMMU_MOCK_CMD_PASID_ATTACH);
/// `RIOMMU_MOCK_PASID_REPLACE`
pub const PASID_REPLACE: u32 = mock_io(test::RIOMMU_MOCK_CMD_PASID_REPLACE);
/// `RIOMMU_MOCK_PASID_DETACH`
pub const PASID_DETACH: u32 = mock_io(test::RIOMMU_MOCK_CMD_PASID_DETACH);
/// `RIOMMU_MOCK_PASID_CHECK`
pub const PASID_CHECK: u32 = mock_io(test::RIOMMU_MOCK_CMD_PASID_CHECK);

/// `struct riommu_mock_pasid`.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[expect(missing_docs, reason = "fields: see include/uapi/linux/riommu_mock.h")]
pub struct Pasid {
    pub size: u32,
    pub dev_id: u32,
    pub pasid: u32,
    pub pt_id: u32,
}

/// `RIOMMU_MOCK_SVA_BIND`
pub const SVA_BIND: u32 = mock_io(test::RIOMMU_MOCK_CMD_SVA_BIND);
/// `RIOMMU_MOCK_SVA_UNBIND`
pub const SVA_UNBIND: u32 = mock_io(test::RIOMMU_MOCK_CMD_SVA_UNBIND);
/// `RIOMMU_MOCK_SVA_ACCESS`
pub const SVA_ACCESS: u32 = mock_io(test::RIOMMU_MOCK_CMD_SVA_ACCESS);
/// `RIOMMU_MOCK_SVA_CHECK_INVAL`
pub const SVA_CHECK_INVAL: u32 = mock_io(test::RIOMMU_MOCK_CMD_SVA_CHECK_INVAL);
/// `RIOMMU_MOCK_SVA_ACCESS_WRITE`
pub const SVA_ACCESS_WRITE: u32 = test::RIOMMU_MOCK_SVA_ACCESS_WRITE;
/// Largest `RIOMMU_MOCK_SVA_ACCESS` length.
pub const SVA_ACCESS_MAX: u64 = 1 << 20;

/// `struct riommu_mock_sva_bind`.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[expect(missing_docs, reason = "fields: see include/uapi/linux/riommu_mock.h")]
pub struct SvaBind {
    pub size: u32,
    pub dev_id: u32,
    pub bond_id: u32,
    pub out_pasid: u32,
}

/// `struct riommu_mock_sva_access`.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[expect(missing_docs, reason = "fields: see include/uapi/linux/riommu_mock.h")]
pub struct SvaAccess {
    pub size: u32,
    pub dev_id: u32,
    pub pasid: u32,
    pub flags: u32,
    pub addr: u64,
    pub length: u64,
    pub uptr: u64,
}

/// `struct riommu_mock_sva_check_inval`.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[expect(missing_docs, reason = "fields: see include/uapi/linux/riommu_mock.h")]
pub struct SvaCheckInval {
    pub size: u32,
    pub dev_id: u32,
    pub pasid: u32,
    pub reserved: u32,
    pub start: u64,
    pub length: u64,
    pub out_count: u64,
}

// The layouts of the structs above are the C headers', field for field: the
// selftest structs of `iommufd_test.h` and the control device's of
// `riommu_mock.h`, as bindgen lays them out (`rust/riommu/uapi_check.rs`).
assert_same_layout!(HwptSelftest, test::iommu_hwpt_selftest; iotlb, pagetable_type);
assert_same_layout!(InvalidateSelftest, test::iommu_hwpt_invalidate_selftest; flags, iotlb_id);
assert_same_layout!(HwInfo, test::iommu_test_hw_info; flags, test_reg);
assert_same_layout!(ViommuSelftest, test::iommu_viommu_selftest;
    in_data, out_data, out_mmap_offset, out_mmap_length
);
assert_same_layout!(ViommuInvalidateSelftest, test::iommu_viommu_invalidate_selftest;
    flags, vdev_id, cache_id
);
assert_same_layout!(ViommuEventSelftest, test::iommu_viommu_event_selftest; virt_id);
assert_same_layout!(DevAdd, test::riommu_mock_dev_add;
    size, flags, iommufd, dev_flags, pt_id, out_dev_id, out_idev_id, reserved: __reserved
);
assert_same_layout!(DevRef, test::riommu_mock_dev_remove; size, dev_id);
assert_same_layout!(DevRef, test::riommu_mock_dev_detach; size, dev_id);
assert_same_layout!(DevAttach, test::riommu_mock_dev_attach;
    size, dev_id, pt_id, reserved: __reserved
);
assert_same_layout!(CheckMap, test::riommu_mock_check_map;
    size, iommufd, hwpt_id, reserved: __reserved, iova, length, uptr
);
assert_same_layout!(CheckIotlb, test::riommu_mock_check_iotlb;
    size, iommufd, hwpt_id, iotlb_id, iotlb, out_iotlb
);
assert_same_layout!(SetDirty, test::riommu_mock_set_dirty;
    size, iommufd, hwpt_id, flags, iova, length, page_size, uptr, out_nr_dirty
);
assert_same_layout!(Stats, test::riommu_mock_stats;
    size, reserved: __reserved, out_devices, out_paging_domains, out_nested_domains,
    out_table_bytes, out_viommus, out_sva_domains, out_tables_released
);
assert_same_layout!(TriggerVevent, test::riommu_mock_trigger_vevent;
    size, iommufd, viommu_id, reserved: __reserved, virt_id
);
assert_same_layout!(CheckVdevCache, test::riommu_mock_check_vdev_cache;
    size, iommufd, viommu_id, cache_id, virt_id, cache, out_cache
);
assert_same_layout!(CheckDevCache, test::riommu_mock_check_dev_cache;
    size, dev_id, cache_id, cache, out_cache, reserved: __reserved
);
assert_same_layout!(DevRef, test::riommu_mock_dev_trigger_vevent; size, dev_id);
assert_same_layout!(TriggerIopf, test::riommu_mock_trigger_iopf;
    size, dev_id, pasid, grpid, perm, reserved: __reserved, addr
);
assert_same_layout!(Pasid, test::riommu_mock_pasid; size, dev_id, pasid, pt_id);
assert_same_layout!(SvaBind, test::riommu_mock_sva_bind; size, dev_id, bond_id, out_pasid);
assert_same_layout!(SvaAccess, test::riommu_mock_sva_access;
    size, dev_id, pasid, flags, addr, length, uptr
);
assert_same_layout!(SvaCheckInval, test::riommu_mock_sva_check_inval;
    size, dev_id, pasid, reserved: __reserved, start, length, out_count
);

// Where `riommu_mock.h` says a value is the C mock's, it is: the
// differential suites run the same test bodies on both mocks.
const _: () = assert!(HW_INFO_TYPE_RIOMMU_MOCK == test::IOMMU_HW_INFO_TYPE_SELFTEST);
const _: () = assert!(HW_INFO_REGVAL == test::IOMMU_HW_INFO_SELFTEST_REGVAL);
const _: () = assert!(DEV_NO_DIRTY == test::MOCK_FLAGS_DEVICE_NO_DIRTY);
const _: () = assert!(DEV_PASID == test::MOCK_FLAGS_DEVICE_PASID);
const _: () = assert!(APERTURE_START == test::MOCK_APERTURE_START as u64);
const _: () = assert!(APERTURE_LAST == test::MOCK_APERTURE_LAST as u64);
const _: () = assert!(PASID_WIDTH == test::MOCK_PASID_WIDTH);
const _: () = assert!(IOTLB_NUM == test::MOCK_NESTED_DOMAIN_IOTLB_NUM as usize);
const _: () = assert!(IOTLB_ID_MAX == test::MOCK_NESTED_DOMAIN_IOTLB_ID_MAX);
const _: () = assert!(DEV_CACHE_NUM == test::MOCK_DEV_CACHE_NUM as usize);
const _: () = assert!(DEV_CACHE_ID_MAX == test::MOCK_DEV_CACHE_ID_MAX);
const _: () = assert!(DEV_CACHE_DEFAULT == test::IOMMU_TEST_DEV_CACHE_DEFAULT);
const _: () = assert!(PASID_FAKE_ERROR == test::IOMMU_TEST_PASID_RESERVED);
