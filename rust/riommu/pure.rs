// SPDX-License-Identifier: GPL-2.0

//! The pure, host-tested logic of `rust/riommu_core`, compiled into the module.

#[path = "../riommu_core/src/bitfield.rs"]
pub mod bitfield;
#[path = "../riommu_core/src/errno.rs"]
pub mod errno;
#[path = "../riommu_core/src/mockpt.rs"]
pub mod mockpt;
#[path = "../riommu_core/src/pt.rs"]
pub mod pt;
#[path = "../riommu_core/src/smmuv3/mod.rs"]
pub mod smmuv3;
#[path = "../riommu_core/src/userdata.rs"]
pub mod userdata;
#[path = "../riommu_core/src/vtd/mod.rs"]
pub mod vtd;

use kernel::error::Error;

impl From<errno::Errno> for Error {
    fn from(e: errno::Errno) -> Error {
        Error::from_errno(-e.0)
    }
}
