// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error\[E0133\]: call to unsafe function .*Statics::new.* is unsafe
// why: a driver cannot build a driver's C tables itself (for another driver type than its own, say): Statics::new is an unsafe fn, called only by declare_iommu_driver!
// root: riommu::driver::declare_iommu_driver!(case::Mine);

#![forbid(unsafe_code)]

use crate::riommu::vtable::Statics;

minimal_driver! { driver: Mine, paging: MyDomain }

/// A second copy of the tables, which the glue would not recognise.
pub static TABLES: Statics = Statics::new::<Mine>(&raw const TABLES);
