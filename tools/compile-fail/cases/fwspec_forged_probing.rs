// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error\[E0451\]: field .dev. of struct .(.*::)?ProbingDevice. is private
// why: nor can a driver make a ProbingDevice out of a &Device to get one
// root: riommu::driver::declare_iommu_driver!(case::Mine);

#![forbid(unsafe_code)]

use crate::riommu::{device::ProbingDevice, platform::fwspec_ids};
use kernel::{device::Device, prelude::*};

minimal_driver! { driver: Mine, paging: MyDomain }

/// The StreamIDs of `dev`, read when attaching it.
pub fn stream_ids(dev: &Device) -> Result<KVec<u32>> {
    fwspec_ids(&ProbingDevice { dev })
}
