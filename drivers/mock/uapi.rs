// SPDX-License-Identifier: GPL-2.0

//! uAPI structures: the selftest data types riommu_mock shares with the C
//! mock (`drivers/iommu/iommufd/iommufd_test.h`), and the control device's
//! ioctls (`include/uapi/linux/riommu_mock.h`).  Layouts must match the C
//! headers byte for byte.

#![forbid(unsafe_code)]

use crate::riommu::userdata::UserStruct;
use core::mem::{offset_of, size_of};
use kernel::{ioctl::_IO, prelude::*};
use zerocopy_derive::{Immutable, KnownLayout};

/// `IOMMU_HWPT_DATA_SELFTEST`.
pub const HWPT_DATA_SELFTEST: u32 = 0xdead;
/// `IOMMU_HWPT_DATA_NONE`.
pub const HWPT_DATA_NONE: u32 = 0;
/// `IOMMU_HWPT_INVALIDATE_DATA_SELFTEST`.
pub const HWPT_INVALIDATE_DATA_SELFTEST: u32 = 0xdeadbeef;
/// `IOMMU_TEST_INVALIDATE_FLAG_ALL`.
pub const INVALIDATE_FLAG_ALL: u32 = 1 << 0;
/// `IOMMU_HW_INFO_TYPE_DEFAULT`.
pub const HW_INFO_TYPE_DEFAULT: u32 = 0;
/// `IOMMU_HW_INFO_TYPE_RIOMMU_MOCK` (the C mock's selftest type value).
pub const HW_INFO_TYPE_RIOMMU_MOCK: u32 = 0xfeedbeef;
/// `RIOMMU_MOCK_HW_INFO_REGVAL`.
pub const HW_INFO_REGVAL: u32 = 0x52494f4d;
/// `MOCK_IOMMUPT_DEFAULT`: the default page table.
pub const PAGETABLE_DEFAULT: u32 = 0;
/// `MOCK_IOMMUPT_HUGE`: huge pages only.
pub const PAGETABLE_HUGE: u32 = 1;
/// Number of IOTLB slots of a nested domain.
pub const IOTLB_NUM: usize = 4;
/// Highest IOTLB slot id.
pub const IOTLB_ID_MAX: u32 = 3;
/// First IOVA of the default paging aperture.
pub const APERTURE_START: u64 = 1 << 24;
/// Last IOVA of the default paging aperture.
pub const APERTURE_LAST: u64 = (1 << 31) - 1;
/// PASID width of the mock IOMMU.
pub const PASID_WIDTH: u32 = 20;

/// Mock device flag: no dirty tracking.
pub const DEV_NO_DIRTY: u32 = 1 << 0;
/// Mock device flag: PASID capable.
pub const DEV_PASID: u32 = 1 << 2;

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

const TYPE: u32 = 0xB8;
const CMD_BASE: u32 = 0x40;

/// `RIOMMU_MOCK_DEV_ADD`
pub const DEV_ADD: u32 = _IO(TYPE, CMD_BASE);
/// `RIOMMU_MOCK_DEV_REMOVE`
pub const DEV_REMOVE: u32 = _IO(TYPE, CMD_BASE + 1);
/// `RIOMMU_MOCK_DEV_ATTACH`
pub const DEV_ATTACH: u32 = _IO(TYPE, CMD_BASE + 2);
/// `RIOMMU_MOCK_DEV_REPLACE`
pub const DEV_REPLACE: u32 = _IO(TYPE, CMD_BASE + 3);
/// `RIOMMU_MOCK_DEV_DETACH`
pub const DEV_DETACH: u32 = _IO(TYPE, CMD_BASE + 4);
/// `RIOMMU_MOCK_CHECK_MAP`
pub const CHECK_MAP: u32 = _IO(TYPE, CMD_BASE + 5);
/// `RIOMMU_MOCK_CHECK_IOTLB`
pub const CHECK_IOTLB: u32 = _IO(TYPE, CMD_BASE + 6);
/// `RIOMMU_MOCK_SET_DIRTY`
pub const SET_DIRTY: u32 = _IO(TYPE, CMD_BASE + 7);
/// `RIOMMU_MOCK_STATS`
pub const STATS: u32 = _IO(TYPE, CMD_BASE + 8);

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

/// `struct riommu_mock_dev_remove` and `struct riommu_mock_dev_detach`.
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
pub const VIOMMU_TYPE_SELFTEST: u32 = 0xdeadbeef;
/// `IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST`.
pub const VIOMMU_INVALIDATE_DATA_SELFTEST: u32 = 0xdeadbeef;
/// `IOMMU_VEVENTQ_TYPE_SELFTEST`.
pub const VEVENTQ_TYPE_SELFTEST: u32 = 0xbeefbeef;
/// `IOMMU_TEST_DEV_CACHE_DEFAULT`: initial value of a vDEVICE cache slot.
pub const DEV_CACHE_DEFAULT: u32 = 0xbaddad;
/// Number of cache slots per vDEVICE.
pub const DEV_CACHE_NUM: usize = 4;
/// Highest vDEVICE cache slot id.
pub const DEV_CACHE_ID_MAX: u32 = 3;

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
pub const TRIGGER_VEVENT: u32 = _IO(TYPE, CMD_BASE + 9);
/// `RIOMMU_MOCK_CHECK_VDEV_CACHE`
pub const CHECK_VDEV_CACHE: u32 = _IO(TYPE, CMD_BASE + 10);

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

/// The PASID the mock fails on purpose on a second attach.
pub const PASID_FAKE_ERROR: u32 = 1024;

/// `RIOMMU_MOCK_PASID_ATTACH`
pub const PASID_ATTACH: u32 = _IO(TYPE, CMD_BASE + 11);
/// `RIOMMU_MOCK_PASID_REPLACE`
pub const PASID_REPLACE: u32 = _IO(TYPE, CMD_BASE + 12);
/// `RIOMMU_MOCK_PASID_DETACH`
pub const PASID_DETACH: u32 = _IO(TYPE, CMD_BASE + 13);
/// `RIOMMU_MOCK_PASID_CHECK`
pub const PASID_CHECK: u32 = _IO(TYPE, CMD_BASE + 14);

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
pub const SVA_BIND: u32 = _IO(TYPE, CMD_BASE + 15);
/// `RIOMMU_MOCK_SVA_UNBIND`
pub const SVA_UNBIND: u32 = _IO(TYPE, CMD_BASE + 16);
/// `RIOMMU_MOCK_SVA_ACCESS`
pub const SVA_ACCESS: u32 = _IO(TYPE, CMD_BASE + 17);
/// `RIOMMU_MOCK_SVA_CHECK_INVAL`
pub const SVA_CHECK_INVAL: u32 = _IO(TYPE, CMD_BASE + 18);
/// `RIOMMU_MOCK_SVA_ACCESS_WRITE`
pub const SVA_ACCESS_WRITE: u32 = 1 << 0;
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
