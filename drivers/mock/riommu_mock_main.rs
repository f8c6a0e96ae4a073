// SPDX-License-Identifier: GPL-2.0

//! riommu_mock: a mock IOMMU driver in Rust, behaving like the kernel's C
//! selftest mock (`drivers/iommu/iommufd/selftest.c`), driven through
//! `/dev/iommu` and its control device `/dev/riommu-mock`.
//!
//! This file is the crate root: it pulls in the riommu abstractions (the only
//! code with `unsafe`) and the driver modules, which forbid `unsafe`.

#[path = "../../rust/riommu/mod.rs"]
pub mod riommu;

pub mod control;
pub mod mock;
pub mod uapi;

// The glue's tables for the driver (an `unsafe impl`, so here in the crate
// root: the driver modules forbid `unsafe`).
riommu::driver::declare_iommu_driver!(mock::MockDriver);

use kernel::{miscdevice::MiscDeviceRegistration, prelude::*};

module! {
    type: RiommuMockModule,
    name: "riommu_mock",
    authors: ["riommu developers"],
    description: "Mock IOMMU driver in Rust for iommufd selftests",
    license: "GPL",
    imports_ns: ["IOMMUFD"],
}

/// The module: the IOMMU instance and its control device.
#[pin_data]
pub struct RiommuMockModule {
    #[pin]
    misc: MiscDeviceRegistration<control::Control>,
    iommu: riommu::registration::IommuRegistration<mock::MockDriver>,
}

impl kernel::InPlaceModule for RiommuMockModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            iommu: mock::register()?,
            misc <- control::register(),
        })
    }
}
