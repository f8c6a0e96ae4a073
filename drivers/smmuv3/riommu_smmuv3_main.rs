// SPDX-License-Identifier: GPL-2.0

//! riommu_smmuv3: an Arm SMMUv3 driver in Rust, for QEMU virt's emulated
//! SMMUv3 (`-M virt,iommu=smmuv3 -global arm-smmuv3.stage=nested`), plugged
//! into iommufd: identity, blocked, stage 1 and stage 2 paging domains, and
//! a vSMMU (`IOMMU_VIOMMU_TYPE_ARM_SMMUV3`) with nested domains.
//!
//! This file is the crate root: it pulls in the riommu abstractions (the only
//! code with `unsafe`) and registers the platform driver.  The driver modules
//! forbid `unsafe`.  Each uses only those listed before it:
//!
//! - [`regs`]: the registers;
//! - [`smmu`]: one SMMU's hardware: queues, stream table, ASIDs and VMIDs,
//!   events (it knows nothing of iommufd);
//! - [`instance`]: the driver type and what the iommu core keeps per SMMU:
//!   the hardware, and the *vmasters* whose stage 1 events go to a vIOMMU;
//! - [`paging`]: masters (devices) and paging domains;
//! - [`vsmmu`]: the vSMMU and nested domains;
//! - [`iommu`]: the `iommu_ops` (the `Driver` impl), identity and blocked
//!   domains;
//! - [`bind`]: the platform driver of `arm,smmu-v3` device-tree nodes, which
//!   registers the SMMU with the iommu core, its interrupts and the debugfs
//!   file.
//!
//! Module parameter `allow_unsafe_viommu` (default off): offer the vSMMU
//! where Linux would not (see [`vsmmu`]); it taints the kernel.
//!
//! `Documentation/smmuv3.rst` describes the driver and its tests; the
//! C driver (`arm_smmu_v3.ko`) binds to the same node, so load one or the
//! other.

#[path = "../../rust/riommu/mod.rs"]
pub mod riommu;

pub mod bind;
pub mod instance;
pub mod iommu;
pub mod paging;
pub mod regs;
pub mod smmu;
pub mod vsmmu;

// The glue's tables for the driver (an `unsafe impl`, so here in the crate
// root: the driver modules forbid `unsafe`).
riommu::driver::declare_iommu_driver!(instance::SmmuDriver);

use kernel::{prelude::*, ThisModule};

module! {
    type: SmmuModule,
    name: "riommu_smmuv3",
    authors: ["riommu developers"],
    description: "Arm SMMUv3 IOMMU driver in Rust (iommufd, nested translation)",
    license: "GPL",
    imports_ns: ["IOMMUFD"],
    params: {
        allow_unsafe_viommu: bool {
            default: false,
            description: "Offer the vSMMU for devices whose DMA the SMMU cannot force write-back cacheable (no IORT CANWBS, no S2FWB), as on QEMU virt: a guest's non-cacheable stage 1 could then make DMA non-coherent behind VFIO's back. Taints the kernel",
        },
    },
}

/// The module: the platform driver ([`bind`]).
#[pin_data]
pub struct SmmuModule {
    #[pin]
    drv: kernel::driver::Registration<riommu::platform::NoUnbindAdapter<bind::SmmuPlatform>>,
}

impl kernel::InPlaceModule for SmmuModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        if module_parameters::allow_unsafe_viommu.value() {
            pr_warn!("allow_unsafe_viommu: vSMMUs without CANWBS or S2FWB; tainting the kernel\n");
            riommu::hw::taint_user();
        }
        try_pin_init!(Self {
            drv <- kernel::driver::Registration::new(c"riommu_smmuv3", module),
        })
    }
}
