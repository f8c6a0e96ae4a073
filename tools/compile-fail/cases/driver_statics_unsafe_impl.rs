// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error: implementation of an .unsafe. trait
// why: nor with an `unsafe impl`: driver modules forbid unsafe code, so DriverStatics comes only from declare_iommu_driver! in the crate root
// root: riommu::driver::declare_iommu_driver!(case::Other);

#![forbid(unsafe_code)]

use crate::riommu::{driver::DriverStatics, vtable::Statics};

minimal_driver! { driver: Other, paging: OtherDomain }
minimal_driver! { driver: Mine, paging: MyDomain }

// SAFETY: (none holds: these are `Other`'s tables).
unsafe impl DriverStatics for Mine {
    fn statics() -> &'static Statics {
        Other::statics()
    }
}
