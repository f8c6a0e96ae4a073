// SPDX-License-Identifier: GPL-2.0

//! The iommufd VT-d stage-1 uAPI (`include/uapi/linux/iommufd.h`): the
//! nested domain data `struct iommu_hwpt_vtd_s1` and the invalidation entries
//! `struct iommu_hwpt_vtd_s1_invalidate`, and their validation with the
//! errnos of Linux 7.3 `drivers/iommu/intel/nested.c` and `pasid.c`.
//!
//! Linux 7.3 checks a stage-1 config only when a device is attached
//! (`intel_pasid_setup_nested()`); [`check_vtd_s1_attach`] is that check.
//! [`check_vtd_s1`] adds, for use at allocation, what Linux lets through:
//! unknown flags, a non-zero `__reserved` and an unaligned `pgtbl_addr`
//! (which Linux silently truncates).

use super::super::errno::Errno;
use super::pasid::{FirstStage, WIDTH_4_LEVEL, WIDTH_5_LEVEL};
use super::qi::{
    page_selective_am, page_selective_am_within, PageRange, PiotlbGranularity, DEV_TLB_ALL_ORDER,
};
use super::regs::{Cap, Ecap};
use super::{is_page_aligned, PAGE_OFFSET_MASK};
use core::mem::offset_of;

// Copies of `include/uapi/linux/iommufd.h`, since riommu_core cannot use
// `kernel::bindings`; every module build asserts them equal to bindgen's
// (`rust/riommu/uapi_check.rs`).
/// `IOMMU_HWPT_DATA_VTD_S1`: the `data_type` of a VT-d nested domain.
pub const IOMMU_HWPT_DATA_VTD_S1: u32 = 1;
/// `IOMMU_HWPT_INVALIDATE_DATA_VTD_S1`: the `data_type` of VT-d stage-1
/// invalidation entries.
pub const IOMMU_HWPT_INVALIDATE_DATA_VTD_S1: u32 = 0;
/// `IOMMU_HWPT_ALLOC_PASID`: the only allocation flag a VT-d nested domain
/// accepts.
pub const IOMMU_HWPT_ALLOC_PASID: u32 = 1 << 3;

/// `IOMMU_VTD_S1_SRE`: supervisor requests.
pub const IOMMU_VTD_S1_SRE: u64 = 1 << 0;
/// `IOMMU_VTD_S1_EAFE`: extended access flag.
pub const IOMMU_VTD_S1_EAFE: u64 = 1 << 1;
/// `IOMMU_VTD_S1_WPE`: write protect (effective with SRE only).
pub const IOMMU_VTD_S1_WPE: u64 = 1 << 2;
/// All `iommu_hwpt_vtd_s1_flags`.
pub const IOMMU_VTD_S1_FLAGS: u64 = IOMMU_VTD_S1_SRE | IOMMU_VTD_S1_EAFE | IOMMU_VTD_S1_WPE;

/// `IOMMU_VTD_INV_FLAGS_LEAF`: only leaf entries changed.
pub const IOMMU_VTD_INV_FLAGS_LEAF: u32 = 1 << 0;

/// `struct iommu_hwpt_vtd_s1`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct IommuHwptVtdS1 {
    /// Combination of `IOMMU_VTD_S1_*`.
    pub flags: u64,
    /// The stage-1 page table base (a guest physical address).
    pub pgtbl_addr: u64,
    /// The stage-1 address width, 48 or 57.
    pub addr_width: u32,
    /// Must be 0.
    pub __reserved: u32,
}

/// `struct iommu_hwpt_vtd_s1_invalidate`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct IommuHwptVtdS1Invalidate {
    /// Start of the range, 4 KiB aligned.
    pub addr: u64,
    /// Number of 4 KiB pages; `u64::MAX` (with `addr` 0) means everything.
    pub npages: u64,
    /// Combination of `IOMMU_VTD_INV_FLAGS_*`.
    pub flags: u32,
    /// Must be 0.
    pub __reserved: u32,
}

/// Reads a native-endian `u64` at `at` of `b` (in bounds by construction).
fn ne_u64(b: &[u8; UAPI_SIZE], at: usize) -> u64 {
    let mut w = [0; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_ne_bytes(w)
}

/// Reads a native-endian `u32` at `at` of `b` (in bounds by construction).
fn ne_u32(b: &[u8; UAPI_SIZE], at: usize) -> u32 {
    let mut w = [0; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_ne_bytes(w)
}

/// Size of both uAPI structs, which is also their minimum user size
/// (`offsetofend(__reserved)`).  The kernel build asserts the structs'
/// layouts against the kernel's (`rust/riommu/uapi_check.rs`).
pub const UAPI_SIZE: usize = core::mem::size_of::<IommuHwptVtdS1>();
/// Offset of the second `u64` of both structs.
const SECOND_U64: usize = offset_of!(IommuHwptVtdS1, pgtbl_addr);
/// Offset of the first `u32` of both structs.
const FIRST_U32: usize = offset_of!(IommuHwptVtdS1, addr_width);
/// Offset of `__reserved` in both structs.
const RESERVED_U32: usize = offset_of!(IommuHwptVtdS1, __reserved);

// The invalidation entry has the same shape.
const _: () = assert!(core::mem::size_of::<IommuHwptVtdS1Invalidate>() == UAPI_SIZE);
const _: () = assert!(offset_of!(IommuHwptVtdS1Invalidate, npages) == SECOND_U64);
const _: () = assert!(offset_of!(IommuHwptVtdS1Invalidate, flags) == FIRST_U32);
const _: () = assert!(offset_of!(IommuHwptVtdS1Invalidate, __reserved) == RESERVED_U32);

impl IommuHwptVtdS1 {
    /// The struct from the bytes the kernel copied from user space.
    pub fn from_ne_bytes(b: &[u8; UAPI_SIZE]) -> Self {
        IommuHwptVtdS1 {
            flags: ne_u64(b, 0),
            pgtbl_addr: ne_u64(b, SECOND_U64),
            addr_width: ne_u32(b, FIRST_U32),
            __reserved: ne_u32(b, RESERVED_U32),
        }
    }
}

impl IommuHwptVtdS1Invalidate {
    /// The struct from the bytes the kernel copied from user space.
    pub fn from_ne_bytes(b: &[u8; UAPI_SIZE]) -> Self {
        IommuHwptVtdS1Invalidate {
            addr: ne_u64(b, 0),
            npages: ne_u64(b, SECOND_U64),
            flags: ne_u32(b, FIRST_U32),
            __reserved: ne_u32(b, RESERVED_U32),
        }
    }
}

/// Whether the IOMMU can nest (Linux `nested_supported()`: scalable mode
/// and ECAP.NEST).
pub const fn nested_supported(ecap: Ecap) -> bool {
    ecap.smts() != 0 && ecap.nest() != 0
}

/// The checks of Linux `intel_iommu_domain_alloc_nested()` that do not need
/// the parent domain: [`Errno::EOPNOTSUPP`] if the IOMMU cannot nest, an
/// allocation flag other than `IOMMU_HWPT_ALLOC_PASID` is set, or the data
/// type is not `IOMMU_HWPT_DATA_VTD_S1`.
///
/// The driver then checks the parent (a second-stage paging domain allocated
/// with `IOMMU_HWPT_ALLOC_NEST_PARENT`, else [`Errno::EINVAL`]) and copies the
/// data (`iommu_copy_struct_from_user()` up to `__reserved`).
pub const fn check_nested_alloc(ecap: Ecap, alloc_flags: u32, data_type: u32) -> Result<(), Errno> {
    check_nested_alloc_for(nested_supported(ecap), alloc_flags, data_type)
}

/// [`check_nested_alloc`] for a unit that the driver treats as able to nest
/// when `nesting` is true (see [`super::stage::Stages::nesting`]).
pub const fn check_nested_alloc_for(
    nesting: bool,
    alloc_flags: u32,
    data_type: u32,
) -> Result<(), Errno> {
    if !nesting || alloc_flags & !IOMMU_HWPT_ALLOC_PASID != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if data_type != IOMMU_HWPT_DATA_VTD_S1 {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(())
}

/// Linux 7.3's check of a stage-1 config when it is attached
/// (`intel_pasid_setup_nested()`), all [`Errno::EINVAL`]:
/// `addr_width` other than 48 or 57, 57 without CAP.FL5LP, SRE without
/// ECAP.SRS, EAFE without ECAP.EAFS.
///
/// Returns the first-stage half of the nested PASID entry, as Linux builds
/// it: the table pointer truncated to 4 KiB, WPE only with SRE.
pub fn check_vtd_s1_attach(s1: &IommuHwptVtdS1, cap: Cap, ecap: Ecap) -> Result<FirstStage, Errno> {
    let five_level = match s1.addr_width {
        WIDTH_4_LEVEL => false,
        WIDTH_5_LEVEL if cap.fl5lp() != 0 => true,
        _ => return Err(Errno::EINVAL),
    };
    let sre = s1.flags & IOMMU_VTD_S1_SRE != 0;
    let eafe = s1.flags & IOMMU_VTD_S1_EAFE != 0;
    if (sre && ecap.srs() == 0) || (eafe && ecap.eafs() == 0) {
        return Err(Errno::EINVAL);
    }
    Ok(FirstStage {
        table: s1.pgtbl_addr & !PAGE_OFFSET_MASK,
        five_level,
        sre,
        wpe: sre && s1.flags & IOMMU_VTD_S1_WPE != 0,
        eafe,
    })
}

/// Full validation of a stage-1 config, for allocation time:
///
/// - [`Errno::EOPNOTSUPP`]: a flag other than SRE, EAFE, WPE, or a non-zero
///   `__reserved` (as `intel_nested_cache_invalidate_user()` treats the
///   same faults in an invalidation entry; Linux 7.3 ignores both here);
/// - [`Errno::EINVAL`]: `pgtbl_addr` not 4 KiB aligned (Linux truncates
///   it), then everything [`check_vtd_s1_attach`] refuses.
pub fn check_vtd_s1(s1: &IommuHwptVtdS1, cap: Cap, ecap: Ecap) -> Result<FirstStage, Errno> {
    if s1.flags & !IOMMU_VTD_S1_FLAGS != 0 || s1.__reserved != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if !is_page_aligned(s1.pgtbl_addr) {
        return Err(Errno::EINVAL);
    }
    check_vtd_s1_attach(s1, cap, ecap)
}

/// The check of an invalidation array's type in Linux
/// `intel_nested_cache_invalidate_user()`: [`Errno::EINVAL`] unless it is
/// `IOMMU_HWPT_INVALIDATE_DATA_VTD_S1`.
pub const fn check_invalidate_type(data_type: u32) -> Result<(), Errno> {
    if data_type != IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 {
        Err(Errno::EINVAL)
    } else {
        Ok(())
    }
}

/// A validated stage-1 invalidation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S1Invalidation {
    /// Everything cached for the domain (`addr` 0, `npages` `u64::MAX`).
    All {
        /// `IOMMU_VTD_INV_FLAGS_LEAF`.
        leaf: bool,
    },
    /// `npages` pages from `addr`.
    Range {
        /// Start, 4 KiB aligned.
        addr: u64,
        /// Number of pages (0 is passed through; see
        /// [`super::qi::page_selective_am`]).
        npages: u64,
        /// `IOMMU_VTD_INV_FLAGS_LEAF`: the invalidation hint.
        leaf: bool,
    },
}

/// Validates one invalidation entry as Linux 7.3
/// `intel_nested_cache_invalidate_user()` does:
///
/// - [`Errno::EOPNOTSUPP`]: a flag other than `IOMMU_VTD_INV_FLAGS_LEAF`, or
///   a non-zero `__reserved`;
/// - [`Errno::EINVAL`]: `addr` not 4 KiB aligned, or `npages` `u64::MAX`
///   with a non-zero `addr`.
///
/// The driver stops at the first failing entry and reports the number of
/// entries processed before it.
pub const fn check_vtd_s1_invalidate(
    e: &IommuHwptVtdS1Invalidate,
) -> Result<S1Invalidation, Errno> {
    if e.flags & !IOMMU_VTD_INV_FLAGS_LEAF != 0 || e.__reserved != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if !is_page_aligned(e.addr) || (e.npages == u64::MAX && e.addr != 0) {
        return Err(Errno::EINVAL);
    }
    let leaf = e.flags & IOMMU_VTD_INV_FLAGS_LEAF != 0;
    if e.npages == u64::MAX {
        Ok(S1Invalidation::All { leaf })
    } else {
        Ok(S1Invalidation::Range {
            addr: e.addr,
            npages: e.npages,
            leaf,
        })
    }
}

impl S1Invalidation {
    /// The PASID-based IOTLB invalidation that covers it: page-selective
    /// when the covering block's mask is at most `mamv` (CAP.MAMV), else
    /// the whole PASID.
    pub fn piotlb(&self, mamv: u32) -> PiotlbGranularity {
        match *self {
            S1Invalidation::All { .. } => PiotlbGranularity::Pasid,
            S1Invalidation::Range { addr, npages, leaf } => {
                match page_selective_am_within(addr, npages, mamv) {
                    Some((addr, am)) => PiotlbGranularity::Page(PageRange { addr, am, ih: leaf }),
                    None => PiotlbGranularity::Pasid,
                }
            }
        }
    }

    /// The `(addr, order)` of the device-TLB invalidation that covers it
    /// ([`super::qi::Descriptor::dev_tlb`]); everything is
    /// [`DEV_TLB_ALL_ORDER`].
    pub fn dev_tlb(&self) -> (u64, u32) {
        match *self {
            S1Invalidation::All { .. } => (0, DEV_TLB_ALL_ORDER),
            S1Invalidation::Range { addr, npages, .. } => {
                page_selective_am(addr, npages).unwrap_or((0, DEV_TLB_ALL_ORDER))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CAP/ECAP of a nesting-capable IOMMU (the host side).
    fn caps(fl5lp: bool, srs: bool, eafs: bool) -> (Cap, Ecap) {
        let cap = Cap([u64::from(fl5lp) << 60]);
        let ecap = Ecap([(1 << 43) | (1 << 26) | (u64::from(srs) << 31) | (u64::from(eafs) << 34)]);
        (cap, ecap)
    }

    fn s1(flags: u64, pgtbl_addr: u64, addr_width: u32) -> IommuHwptVtdS1 {
        IommuHwptVtdS1 {
            flags,
            pgtbl_addr,
            addr_width,
            __reserved: 0,
        }
    }

    #[test]
    fn alloc_checks() {
        let (_, ecap) = caps(false, false, false);
        assert_eq!(check_nested_alloc(ecap, 0, IOMMU_HWPT_DATA_VTD_S1), Ok(()));
        assert_eq!(
            check_nested_alloc(ecap, IOMMU_HWPT_ALLOC_PASID, IOMMU_HWPT_DATA_VTD_S1),
            Ok(())
        );
        assert_eq!(
            check_nested_alloc(ecap, 1, IOMMU_HWPT_DATA_VTD_S1),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(check_nested_alloc(ecap, 0, 2), Err(Errno::EOPNOTSUPP));
        // QEMU x-flts=on: SMTS without NEST.
        let qemu = Ecap([(1 << 43) | (1 << 47)]);
        assert!(!nested_supported(qemu));
        assert_eq!(
            check_nested_alloc(qemu, 0, IOMMU_HWPT_DATA_VTD_S1),
            Err(Errno::EOPNOTSUPP)
        );
        // A unit the driver was told to treat as nesting.
        assert_eq!(
            check_nested_alloc_for(true, 0, IOMMU_HWPT_DATA_VTD_S1),
            Ok(())
        );
        assert_eq!(
            check_nested_alloc_for(false, 0, IOMMU_HWPT_DATA_VTD_S1),
            Err(Errno::EOPNOTSUPP)
        );
        // NEST without SMTS is not enough either.
        assert_eq!(
            check_nested_alloc(Ecap([1 << 26]), 0, IOMMU_HWPT_DATA_VTD_S1),
            Err(Errno::EOPNOTSUPP)
        );
    }

    #[test]
    fn s1_config_accepted() {
        let (cap, ecap) = caps(true, true, true);
        let fs = check_vtd_s1(&s1(IOMMU_VTD_S1_FLAGS, 0x12_3000, 57), cap, ecap).unwrap();
        assert_eq!(
            fs,
            FirstStage {
                table: 0x12_3000,
                five_level: true,
                sre: true,
                wpe: true,
                eafe: true,
            }
        );
        let (cap, ecap) = caps(false, false, false);
        let fs = check_vtd_s1(&s1(0, 0x1000, 48), cap, ecap).unwrap();
        assert_eq!(
            fs,
            FirstStage {
                table: 0x1000,
                ..Default::default()
            }
        );
        // WPE without SRE is ignored, as pasid_pte_config_nested() does.
        let fs = check_vtd_s1(&s1(IOMMU_VTD_S1_WPE, 0x1000, 48), cap, ecap).unwrap();
        assert!(!fs.wpe);
    }

    #[test]
    fn s1_config_refused_like_linux() {
        let (cap, ecap) = caps(false, false, false);
        for width in [0, 39, 47, 49, 56, 57, 64] {
            assert_eq!(
                check_vtd_s1_attach(&s1(0, 0x1000, width), cap, ecap),
                Err(Errno::EINVAL),
                "width {width}"
            );
        }
        assert_eq!(
            check_vtd_s1_attach(&s1(IOMMU_VTD_S1_SRE, 0x1000, 48), cap, ecap),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            check_vtd_s1_attach(&s1(IOMMU_VTD_S1_EAFE, 0x1000, 48), cap, ecap),
            Err(Errno::EINVAL)
        );
        // Linux 7.3 lets these through at attach time ...
        let lax = check_vtd_s1_attach(&s1(1 << 7, 0x1234, 48), cap, ecap).unwrap();
        assert_eq!(lax.table, 0x1000);
        let mut reserved = s1(0, 0x1000, 48);
        reserved.__reserved = 1;
        assert!(check_vtd_s1_attach(&reserved, cap, ecap).is_ok());
        // ... which the full check refuses.
        assert_eq!(
            check_vtd_s1(&s1(1 << 3, 0x1000, 48), cap, ecap),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(check_vtd_s1(&reserved, cap, ecap), Err(Errno::EOPNOTSUPP));
        assert_eq!(
            check_vtd_s1(&s1(0, 0x1234, 48), cap, ecap),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            check_vtd_s1(&s1(0, 0x1000, 57), cap, ecap),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            check_vtd_s1(&s1(IOMMU_VTD_S1_EAFE, 0x1000, 48), cap, ecap),
            Err(Errno::EINVAL)
        );
        // Unknown flags are reported before a bad width.
        assert_eq!(
            check_vtd_s1(&s1(1 << 63, 0x1001, 7), cap, ecap),
            Err(Errno::EOPNOTSUPP)
        );
    }

    fn inv(addr: u64, npages: u64, flags: u32, reserved: u32) -> IommuHwptVtdS1Invalidate {
        IommuHwptVtdS1Invalidate {
            addr,
            npages,
            flags,
            __reserved: reserved,
        }
    }

    #[test]
    fn invalidate_entries_like_linux() {
        assert_eq!(
            check_invalidate_type(IOMMU_HWPT_INVALIDATE_DATA_VTD_S1),
            Ok(())
        );
        assert_eq!(check_invalidate_type(1), Err(Errno::EINVAL));
        assert_eq!(
            check_vtd_s1_invalidate(&inv(0, u64::MAX, 0, 0)),
            Ok(S1Invalidation::All { leaf: false })
        );
        assert_eq!(
            check_vtd_s1_invalidate(&inv(0x2000, 3, IOMMU_VTD_INV_FLAGS_LEAF, 0)),
            Ok(S1Invalidation::Range {
                addr: 0x2000,
                npages: 3,
                leaf: true
            })
        );
        assert_eq!(
            check_vtd_s1_invalidate(&inv(0, 1, 2, 0)),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(
            check_vtd_s1_invalidate(&inv(0, 1, 0, 1)),
            Err(Errno::EOPNOTSUPP)
        );
        // Flags are checked before the address.
        assert_eq!(
            check_vtd_s1_invalidate(&inv(0x1001, 1, 4, 0)),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(
            check_vtd_s1_invalidate(&inv(0x1001, 1, 0, 0)),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            check_vtd_s1_invalidate(&inv(0x1000, u64::MAX, 0, 0)),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn invalidation_to_descriptors() {
        let all = S1Invalidation::All { leaf: true };
        assert_eq!(all.piotlb(18), PiotlbGranularity::Pasid);
        assert_eq!(all.dev_tlb(), (0, DEV_TLB_ALL_ORDER));
        let r = S1Invalidation::Range {
            addr: 0x1000,
            npages: 2,
            leaf: true,
        };
        assert_eq!(
            r.piotlb(18),
            PiotlbGranularity::Page(PageRange {
                addr: 0,
                am: 2,
                ih: true
            })
        );
        assert_eq!(r.dev_tlb(), (0, 2));
        let big = S1Invalidation::Range {
            addr: 0,
            npages: 1 << 19,
            leaf: false,
        };
        assert_eq!(big.piotlb(18), PiotlbGranularity::Pasid);
        assert_eq!(big.dev_tlb(), (0, 19));
        let wraps = S1Invalidation::Range {
            addr: 0xffff_ffff_ffff_f000,
            npages: 2,
            leaf: false,
        };
        assert_eq!(wraps.piotlb(63), PiotlbGranularity::Pasid);
        assert_eq!(wraps.dev_tlb(), (0, DEV_TLB_ALL_ORDER));
    }

    #[test]
    fn from_bytes() {
        let mut b = [0u8; UAPI_SIZE];
        b[0..8].copy_from_slice(&5u64.to_ne_bytes());
        b[8..16].copy_from_slice(&0x1000u64.to_ne_bytes());
        b[16..20].copy_from_slice(&48u32.to_ne_bytes());
        b[20..24].copy_from_slice(&9u32.to_ne_bytes());
        assert_eq!(
            IommuHwptVtdS1::from_ne_bytes(&b),
            IommuHwptVtdS1 {
                flags: 5,
                pgtbl_addr: 0x1000,
                addr_width: 48,
                __reserved: 9
            }
        );
        assert_eq!(
            IommuHwptVtdS1Invalidate::from_ne_bytes(&b),
            IommuHwptVtdS1Invalidate {
                addr: 5,
                npages: 0x1000,
                flags: 48,
                __reserved: 9
            }
        );
    }
}
