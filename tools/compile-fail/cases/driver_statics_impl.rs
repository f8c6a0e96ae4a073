// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error\[E0200\]: the trait .(.*::)?DriverStatics. requires an .unsafe impl. declaration
// why: a driver cannot implement DriverStatics itself (here, to borrow another driver's tables, which the glue would then read as its own): it is an unsafe trait, only declare_iommu_driver! implements it
// root: riommu::driver::declare_iommu_driver!(case::Other);

#![forbid(unsafe_code)]

use crate::riommu::{driver::DriverStatics, vtable::Statics};

minimal_driver! { driver: Other, paging: OtherDomain }
minimal_driver! { driver: Mine, paging: MyDomain }

impl DriverStatics for Mine {
    fn statics() -> &'static Statics {
        Other::statics()
    }
}
