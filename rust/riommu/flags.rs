// SPDX-License-Identifier: GPL-2.0

//! Typed `IOMMU_HWPT_ALLOC_*` flags.

use kernel::{bindings, prelude::*};

/// The set of `IOMMU_HWPT_ALLOC_*` flags a driver's `domain_alloc_user` sees.
///
/// # Invariants
///
/// Only bits of [`AllocFlags::ALL`] are set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocFlags(u32);

impl AllocFlags {
    /// No flag.
    pub const NONE: Self = Self(0);
    /// `IOMMU_HWPT_ALLOC_NEST_PARENT`: the domain may be the parent of nested domains.
    pub const NEST_PARENT: Self =
        Self(bindings::iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_NEST_PARENT);
    /// `IOMMU_HWPT_ALLOC_DIRTY_TRACKING`: the domain must support dirty tracking.
    pub const DIRTY_TRACKING: Self =
        Self(bindings::iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_DIRTY_TRACKING);
    /// `IOMMU_HWPT_ALLOC_PASID`: the domain may be attached to a PASID.
    pub const PASID: Self = Self(bindings::iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_PASID);
    /// Every flag a driver can be handed.
    pub const ALL: Self = Self(Self::NEST_PARENT.0 | Self::DIRTY_TRACKING.0 | Self::PASID.0);

    /// Parses the raw flags the core passes; any other bit gives `EOPNOTSUPP`,
    /// before the driver sees the request.
    pub fn from_raw(raw: u32) -> Result<Self> {
        if raw & !Self::ALL.0 != 0 {
            return Err(EOPNOTSUPP);
        }
        // INVARIANT: checked above.
        Ok(Self(raw))
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// `self` without the flags of `other`.
    pub const fn without(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }
}

impl core::ops::BitOr for AllocFlags {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}
