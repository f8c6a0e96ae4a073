// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error\[E0515\]: cannot return value referencing temporary value
// why: an IOMMU instance is reference counted and may go with its registration: code outside a callback gets a counted reference (an Arc), never a &'static that would outlive it
// root: riommu::driver::declare_iommu_driver!(case::Mine);

#![forbid(unsafe_code)]

use crate::riommu::{driver::DriverStatics, registration::Instance};

minimal_driver! { driver: Mine, paging: MyDomain }

/// Keeps the instance forever.
pub fn keep() -> Option<&'static Instance<Mine>> {
    Mine::instance().as_deref()
}
