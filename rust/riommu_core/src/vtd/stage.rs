// SPDX-License-Identifier: GPL-2.0

//! Which translation stage a paging domain uses, and the geometry of a
//! second-stage table, from CAP/ECAP and the allocation flags.
//!
//! The rules are those of Linux 7.3's `intel_iommu_domain_alloc_paging_flags()`:
//! a domain is first-stage when the flags allow it (nothing but
//! `IOMMU_HWPT_ALLOC_PASID`) and the unit translates with a first stage in
//! scalable mode; otherwise it is second-stage, which a nesting parent
//! (`IOMMU_HWPT_ALLOC_NEST_PARENT`, needs nesting) and dirty tracking
//! (`IOMMU_HWPT_ALLOC_DIRTY_TRACKING`, needs ECAP.SLADS) always are.
//! Every refusal is [`Errno::EOPNOTSUPP`].

use super::super::errno::Errno;
use super::nested::IOMMU_HWPT_ALLOC_PASID;
use super::pasid::{aw_for_levels, WIDTH_4_LEVEL};
use super::regs::{Cap, Ecap};

// Copies of `include/uapi/linux/iommufd.h`, since riommu_core cannot use
// `kernel::bindings`; every module build asserts them equal to bindgen's
// (`rust/riommu/uapi_check.rs`).
/// `IOMMU_HWPT_ALLOC_NEST_PARENT`.
pub const IOMMU_HWPT_ALLOC_NEST_PARENT: u32 = 1 << 0;
/// `IOMMU_HWPT_ALLOC_DIRTY_TRACKING`.
pub const IOMMU_HWPT_ALLOC_DIRTY_TRACKING: u32 = 1 << 1;

/// Levels of the one second-stage table shape this crate's driver builds.
pub const SS_LEVELS: u32 = 4;

/// The translation stage of a paging domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// First stage (PGTT 001): x86-64 style tables, canonical IOVAs.
    First,
    /// Second stage (PGTT 010), or the second half of a nested entry.
    Second,
}

/// What the unit, as the driver treats it, can translate with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stages {
    /// First-stage paging domains: scalable mode and ECAP.FLTS.
    pub first: bool,
    /// Second-stage paging domains: scalable mode, ECAP.SLTS, and a 4-level
    /// table that SAGAW supports and MGAW needs (more than 39 bits).
    pub second: bool,
    /// Nesting parents and nested domains: scalable mode and ECAP.NEST, or
    /// the driver was told to build nested entries anyway (`forced`).
    pub nesting: bool,
    /// Whether `nesting` is there only because the driver was told so.
    pub forced: bool,
    /// Second-stage dirty tracking: ECAP.SLADS.
    pub dirty: bool,
}

impl Stages {
    /// The stages of a unit with `cap` and `ecap`.  `force_nesting` makes
    /// nesting available on a scalable-mode unit with a second stage that
    /// does not report ECAP.NEST (QEMU), for checks of the nested PASID
    /// entry's encoding: DMA through such an entry faults.
    pub const fn of(cap: Cap, ecap: Ecap, force_nesting: bool) -> Self {
        let sm = ecap.smts() != 0;
        let second = sm && ecap.slts() != 0 && ss_geometry(cap).is_some();
        let hw_nest = sm && ecap.nest() != 0 && second;
        let nesting = hw_nest || (force_nesting && second);
        Stages {
            first: sm && ecap.flts() != 0,
            second,
            nesting,
            forced: nesting && !hw_nest,
            dirty: second && ecap.slads() != 0,
        }
    }

    /// Whether paging domains of any kind can be made.
    pub const fn any(&self) -> bool {
        self.first || self.second
    }

    /// The stage of a paging domain allocated with `flags`
    /// (`IOMMU_HWPT_ALLOC_*`), in Linux 7.3's order: first stage when the
    /// flags allow it and the unit has one, else second stage.
    pub const fn for_flags(&self, flags: u32) -> Result<Stage, Errno> {
        if flags & !IOMMU_HWPT_ALLOC_PASID == 0 && self.first {
            return Ok(Stage::First);
        }
        let known =
            IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_ALLOC_PASID;
        if flags & !known != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        if (flags & IOMMU_HWPT_ALLOC_NEST_PARENT != 0 && !self.nesting)
            || (flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING != 0 && !self.dirty)
            || !self.second
        {
            return Err(Errno::EOPNOTSUPP);
        }
        Ok(Stage::Second)
    }
}

/// The shape of a second-stage table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SsGeometry {
    /// The PASID entry's AW encoding.
    pub aw: u64,
    /// IOVA bits the domain may use: `min(48, MGAW)`.
    pub va_bits: u32,
}

/// The second-stage table shape for `cap`: 4 levels when SAGAW has them
/// and MGAW is over 39 bits (Linux `compute_vasz_lg2_ss()` picks the same
/// for such a unit), IOVAs limited to MGAW.  `None` otherwise: this driver
/// builds no 3- or 5-level second-stage tables.
pub const fn ss_geometry(cap: Cap) -> Option<SsGeometry> {
    let mgaw = cap.mgaw_bits();
    if mgaw <= 39 || !cap.sagaw_supports(SS_LEVELS) {
        return None;
    }
    let Some(aw) = aw_for_levels(SS_LEVELS) else {
        return None;
    };
    Some(SsGeometry {
        aw,
        va_bits: if mgaw < WIDTH_4_LEVEL {
            mgaw
        } else {
            WIDTH_4_LEVEL
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vtd::pasid::AW_48;

    /// QEMU 10's intel-iommu with `x-scalable-mode=on,x-pasid-mode=on`
    /// (no `x-flts`), as riommu_vtd printed it: second stage only.
    const QEMU_SS_CAP: u64 = 0x00d2_008c_222f_0606;
    const QEMU_SS_ECAP: u64 = 0x0000_4900_80f0_0f4a;
    /// The same with SLTS cleared and FLTS set, as `x-flts=on` makes it:
    /// first stage only.
    const QEMU_FS_ECAP: u64 = 0x0000_8900_80f0_0f4a;

    #[test]
    fn qemu_second_stage_unit() {
        let s = Stages::of(Cap([QEMU_SS_CAP]), Ecap([QEMU_SS_ECAP]), false);
        assert_eq!(
            s,
            Stages {
                first: false,
                second: true,
                nesting: false,
                forced: false,
                dirty: false
            }
        );
        assert_eq!(s.for_flags(0), Ok(Stage::Second));
        assert_eq!(s.for_flags(IOMMU_HWPT_ALLOC_PASID), Ok(Stage::Second));
        assert_eq!(
            s.for_flags(IOMMU_HWPT_ALLOC_NEST_PARENT),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(
            s.for_flags(IOMMU_HWPT_ALLOC_DIRTY_TRACKING),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(
            ss_geometry(Cap([QEMU_SS_CAP])),
            Some(SsGeometry {
                aw: AW_48,
                va_bits: 48
            })
        );
    }

    #[test]
    fn forced_nesting_needs_a_second_stage() {
        let s = Stages::of(Cap([QEMU_SS_CAP]), Ecap([QEMU_SS_ECAP]), true);
        assert!(s.nesting && s.forced);
        assert_eq!(s.for_flags(IOMMU_HWPT_ALLOC_NEST_PARENT), Ok(Stage::Second));
        // First stage only: nothing to nest on, forced or not.
        let f = Stages::of(Cap([QEMU_SS_CAP]), Ecap([QEMU_FS_ECAP]), true);
        assert!(!f.nesting && !f.forced && f.first && !f.second);
        assert_eq!(f.for_flags(0), Ok(Stage::First));
        assert_eq!(
            f.for_flags(IOMMU_HWPT_ALLOC_NEST_PARENT),
            Err(Errno::EOPNOTSUPP)
        );
    }

    #[test]
    fn hardware_nesting_is_not_forced() {
        let ecap = Ecap([QEMU_SS_ECAP]).with_nest(1).unwrap();
        let s = Stages::of(Cap([QEMU_SS_CAP]), ecap, true);
        assert!(s.nesting && !s.forced);
    }

    #[test]
    fn first_stage_preferred_when_flags_allow() {
        let both = Ecap([QEMU_SS_ECAP]).with_flts(1).unwrap();
        let s = Stages::of(Cap([QEMU_SS_CAP]), both, false);
        assert_eq!(s.for_flags(0), Ok(Stage::First));
        assert_eq!(s.for_flags(IOMMU_HWPT_ALLOC_PASID), Ok(Stage::First));
        // Unknown flags: refused by the second-stage check.
        assert_eq!(s.for_flags(1 << 7), Err(Errno::EOPNOTSUPP));
        let dirty = both.with_slads(1).unwrap();
        let s = Stages::of(Cap([QEMU_SS_CAP]), dirty, false);
        assert_eq!(
            s.for_flags(IOMMU_HWPT_ALLOC_DIRTY_TRACKING),
            Ok(Stage::Second)
        );
    }

    #[test]
    fn legacy_or_small_units_have_no_second_stage() {
        let no_sm = Ecap([QEMU_SS_ECAP]).with_smts(0).unwrap();
        let s = Stages::of(Cap([QEMU_SS_CAP]), no_sm, true);
        assert!(!s.any() && !s.nesting);
        assert_eq!(s.for_flags(0), Err(Errno::EOPNOTSUPP));
        // SAGAW without 4 levels (only 3: bit 1).
        let cap3 = Cap([QEMU_SS_CAP]).with_sagaw(0b00010).unwrap();
        assert_eq!(ss_geometry(cap3), None);
        assert!(!Stages::of(cap3, Ecap([QEMU_SS_ECAP]), false).second);
        // MGAW 39 bits: no 4-level table.
        let narrow = Cap([QEMU_SS_CAP]).with_mgaw(38).unwrap();
        assert_eq!(ss_geometry(narrow), None);
        // MGAW 46 bits: 4 levels, IOVAs limited to 46 bits.
        let mid = Cap([QEMU_SS_CAP]).with_mgaw(45).unwrap();
        assert_eq!(ss_geometry(mid).map(|g| g.va_bits), Some(46));
    }
}
