// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error\[E0308\]: mismatched types
// expect: expected .&ProbingDevice<'_>., found .&Device.
// why: the firmware ids change under the core's probe lock: fwspec_ids takes a ProbingDevice (only given during probe and of_xlate), not any &Device
// root: riommu::driver::declare_iommu_driver!(case::Mine);

#![forbid(unsafe_code)]

use crate::riommu::platform::fwspec_ids;
use kernel::{device::Device, prelude::*};

minimal_driver! { driver: Mine, paging: MyDomain }

/// The StreamIDs of `dev`, read when attaching it.
pub fn stream_ids(dev: &Device) -> Result<KVec<u32>> {
    fwspec_ids(dev)
}
