// SPDX-License-Identifier: GPL-2.0

//! Arm SMMUv3 hardware formats and the hitless STE/CD update algorithm.
//!
//! Everything here is pure data layout and arithmetic, checked against the
//! SMMUv3 architecture specification (Arm IHI 0070), what Linux 7.3's
//! `arm-smmu-v3` driver programs, and what QEMU's emulated SMMUv3
//! (`-M virt,iommu=smmuv3`) decodes:
//!
//! - [`regs`]: register offsets and fields, stream table and queue helpers;
//! - [`ste`]: the 512-bit stream table entry;
//! - [`cd`]: the 512-bit context descriptor and CD tables;
//! - [`cmdq`]: the 128-bit commands, encoded and decoded;
//! - [`tlbi`]: the TLB invalidations by address (range or per page) that
//!   cover an unmapped range;
//! - [`event`]: the 256-bit event records;
//! - [`lpae`]: the AArch64 4 KiB-granule stage 1 and stage 2 descriptors as
//!   [`super::pt::Format`]s, and the CD/STE translation controls they need;
//! - [`hitless`]: which STE/CD bits the SMMU uses, and the write sequence
//!   that changes a live entry without the SMMU ever seeing a mixture;
//! - [`uapi`]: the iommufd vSMMU rules (nested STE, invalidation commands).

/// The union of the fields set by `setters` of the all-zero `$ty`, each set
/// to all ones: the field masks as `[u64; N]`, usable in constants.
macro_rules! field_mask {
    ($ty:ident: $($set:ident),+ $(,)?) => {{
        let mut acc = $ty::ZERO;
        $(
            acc = {
                let mut v = u64::MAX;
                loop {
                    if let Some(e) = acc.$set(v) {
                        break e;
                    }
                    v >>= 1;
                }
            };
        )+
        acc.0
    }};
}

pub mod cd;
pub mod cmdq;
pub mod event;
pub mod hitless;
pub mod lpae;
pub mod regs;
pub mod ste;
pub mod tlbi;
pub mod uapi;
