// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error\[E0061\]: this method takes 1 argument but 2 arguments were supplied
// expect: PhysPages
// why: userspace can mmap only pages the vIOMMU owns: alloc_mmap takes a PhysPages, not a physical address and a length (of memory the driver may free, or does not own)
// root: riommu::driver::declare_iommu_driver!(case::Mine);

#![forbid(unsafe_code)]

use crate::riommu::viommu::ViommuCore;
use kernel::prelude::*;

minimal_driver! { driver: Mine, paging: MyDomain }

/// In `viommu_init`: shares a page with userspace.
pub fn share(core: &ViommuCore<'_>) -> Result<usize> {
    core.alloc_mmap(0x1000, 4096)
}
