// SPDX-License-Identifier: GPL-2.0

//! Compile-time proof that riommu's hand-written uAPI equals the kernel's.
//!
//! `rust/riommu_core` is `no_std` and also a host crate (`cargo test`), so it
//! cannot use `kernel::bindings`: it keeps its own copies of the iommufd uAPI
//! values and layouts it needs (`include/uapi/linux/iommufd.h`, and
//! `IOMMU_READ`/`IOMMU_WRITE` of `include/linux/iommu.h`).  Every module
//! build compiles riommu_core (`pure`) and this module, which asserts each
//! of those copies against bindgen's output for the kernel being built
//! against (`kernel::bindings`, generated from the same headers as the C
//! drivers use): a value that differs, or a struct whose size, alignment or
//! a field's offset differs, fails the build, on x86 and arm64 alike.
//!
//! Driver code uses the bindings directly where it can; the structs a driver
//! crate defines itself (to derive `FromBytes`/`IntoBytes` for user data)
//! are checked next to their definitions with [`assert_same_layout!`].

use super::pure::{pt::Prot, smmuv3::uapi as smmu, vtd::nested, vtd::stage};
use core::mem::{offset_of, size_of};
use kernel::bindings;

/// Asserts at compile time that the `#[repr(C)]` struct `$ours` has the
/// size, alignment and field offsets of `$c`, the bindgen struct of the
/// same uAPI struct.  List every field of `$ours` after the `;`;
/// `ours: theirs` maps a field whose name differs (`reserved: __reserved`).
/// (The `;` also keeps rustfmt from spreading the list one field a line.)
///
/// ```ignore
/// assert_same_layout!(HwptSelftest, test::iommu_hwpt_selftest; iotlb, pagetable_type);
/// ```
macro_rules! assert_same_layout {
    ($ours:ty, $c:ty; $($f:ident $(: $cf:ident)?),* $(,)?) => {
        const _: () = assert!(::core::mem::size_of::<$ours>() == ::core::mem::size_of::<$c>());
        const _: () = assert!(::core::mem::align_of::<$ours>() == ::core::mem::align_of::<$c>());
        $($crate::riommu::uapi_check::assert_same_layout!(@field $ours, $c, $f $(: $cf)?);)*
    };
    (@field $ours:ty, $c:ty, $f:ident) => {
        const _: () =
            assert!(::core::mem::offset_of!($ours, $f) == ::core::mem::offset_of!($c, $f));
    };
    (@field $ours:ty, $c:ty, $f:ident: $cf:ident) => {
        const _: () =
            assert!(::core::mem::offset_of!($ours, $f) == ::core::mem::offset_of!($c, $cf));
    };
}
pub(crate) use assert_same_layout;

// `include/linux/iommu.h`: the `prot` of `iommu_map()` (riommu_core's `Prot`).
const _: () = assert!(Prot::IOMMU_READ as u32 == bindings::IOMMU_READ);
const _: () = assert!(Prot::IOMMU_WRITE as u32 == bindings::IOMMU_WRITE);
const _: () = assert!(Prot::IOMMU_CACHE as u32 == bindings::IOMMU_CACHE);
const _: () = assert!(Prot::IOMMU_MMIO as u32 == bindings::IOMMU_MMIO);

// VT-d (`riommu_core::vtd`): allocation flags, data types, stage-1 flags.
const _: () = assert!(
    stage::IOMMU_HWPT_ALLOC_NEST_PARENT
        == bindings::iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_NEST_PARENT
);
const _: () = assert!(
    stage::IOMMU_HWPT_ALLOC_DIRTY_TRACKING
        == bindings::iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_DIRTY_TRACKING
);
const _: () = assert!(
    nested::IOMMU_HWPT_ALLOC_PASID == bindings::iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_PASID
);
const _: () = assert!(
    nested::IOMMU_HWPT_DATA_VTD_S1 == bindings::iommu_hwpt_data_type_IOMMU_HWPT_DATA_VTD_S1
);
const _: () = assert!(
    nested::IOMMU_HWPT_INVALIDATE_DATA_VTD_S1
        == bindings::iommu_hwpt_invalidate_data_type_IOMMU_HWPT_INVALIDATE_DATA_VTD_S1
);
const _: () =
    assert!(nested::IOMMU_VTD_S1_SRE == bindings::iommu_hwpt_vtd_s1_flags_IOMMU_VTD_S1_SRE as u64);
const _: () = assert!(
    nested::IOMMU_VTD_S1_EAFE == bindings::iommu_hwpt_vtd_s1_flags_IOMMU_VTD_S1_EAFE as u64
);
const _: () =
    assert!(nested::IOMMU_VTD_S1_WPE == bindings::iommu_hwpt_vtd_s1_flags_IOMMU_VTD_S1_WPE as u64);
const _: () = assert!(
    nested::IOMMU_VTD_INV_FLAGS_LEAF
        == bindings::iommu_hwpt_vtd_s1_invalidate_flags_IOMMU_VTD_INV_FLAGS_LEAF
);
// `struct iommu_hwpt_vtd_s1` and `struct iommu_hwpt_vtd_s1_invalidate`
// (riommu_core reads both from bytes at its structs' offsets).
assert_same_layout!(nested::IommuHwptVtdS1, bindings::iommu_hwpt_vtd_s1;
    flags, pgtbl_addr, addr_width, __reserved
);
assert_same_layout!(nested::IommuHwptVtdS1Invalidate, bindings::iommu_hwpt_vtd_s1_invalidate;
    addr, npages, flags, __reserved
);
const _: () = assert!(nested::UAPI_SIZE == size_of::<bindings::iommu_hwpt_vtd_s1>());
const _: () = assert!(nested::UAPI_SIZE == size_of::<bindings::iommu_hwpt_vtd_s1_invalidate>());

// SMMUv3 (`riommu_core::smmuv3::uapi`): type values and flags.
const _: () = assert!(
    smmu::IOMMU_HWPT_DATA_ARM_SMMUV3 == bindings::iommu_hwpt_data_type_IOMMU_HWPT_DATA_ARM_SMMUV3
);
const _: () = assert!(
    smmu::IOMMU_VIOMMU_TYPE_ARM_SMMUV3 == bindings::iommu_viommu_type_IOMMU_VIOMMU_TYPE_ARM_SMMUV3
);
const _: () = assert!(
    smmu::IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3
        == bindings::iommu_hwpt_invalidate_data_type_IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3
);
const _: () = assert!(
    smmu::IOMMU_HW_INFO_TYPE_ARM_SMMUV3
        == bindings::iommu_hw_info_type_IOMMU_HW_INFO_TYPE_ARM_SMMUV3
);
const _: () = assert!(
    smmu::IOMMU_VEVENTQ_TYPE_ARM_SMMUV3
        == bindings::iommu_veventq_type_IOMMU_VEVENTQ_TYPE_ARM_SMMUV3
);
const _: () = assert!(smmu::IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI == bindings::iommu_hw_info_arm_smmuv3_flags_IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI);
// Its structs are byte arrays of known size: `struct iommu_hwpt_arm_smmuv3`
// and `struct iommu_viommu_arm_smmuv3_invalidate` are two words at offset 0,
// `struct iommu_vevent_arm_smmuv3` four.
const _: () = assert!(smmu::HWPT_ARM_SMMUV3_SIZE == size_of::<bindings::iommu_hwpt_arm_smmuv3>());
const _: () = assert!(offset_of!(bindings::iommu_hwpt_arm_smmuv3, ste) == 0);
const _: () = assert!(
    smmu::VIOMMU_INVALIDATE_ARM_SMMUV3_SIZE
        == size_of::<bindings::iommu_viommu_arm_smmuv3_invalidate>()
);
const _: () = assert!(offset_of!(bindings::iommu_viommu_arm_smmuv3_invalidate, cmd) == 0);
const _: () =
    assert!(smmu::VEVENT_ARM_SMMUV3_SIZE == size_of::<bindings::iommu_vevent_arm_smmuv3>());
const _: () = assert!(offset_of!(bindings::iommu_vevent_arm_smmuv3, evt) == 0);
// `struct iommu_hw_info_arm_smmuv3`, which `HwInfo::to_bytes` writes as
// `__u32`s at these indices.
const _: () =
    assert!(smmu::HW_INFO_ARM_SMMUV3_SIZE == size_of::<bindings::iommu_hw_info_arm_smmuv3>());
const _: () = assert!(
    smmu::HW_INFO_FLAGS * size_of::<u32>() == offset_of!(bindings::iommu_hw_info_arm_smmuv3, flags)
);
const _: () = assert!(
    smmu::HW_INFO_IDR * size_of::<u32>() == offset_of!(bindings::iommu_hw_info_arm_smmuv3, idr)
);
const _: () = assert!(
    smmu::HW_INFO_IIDR * size_of::<u32>() == offset_of!(bindings::iommu_hw_info_arm_smmuv3, iidr)
);
const _: () = assert!(
    smmu::HW_INFO_AIDR * size_of::<u32>() == offset_of!(bindings::iommu_hw_info_arm_smmuv3, aidr)
);
