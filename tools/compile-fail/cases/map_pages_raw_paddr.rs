// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error\[E0061\]: this method takes 3 arguments but 6 arguments were supplied
// why: a page table maps only what the core's map_pages call named (a MapTarget, which only the glue makes): a driver cannot put a physical address of its choosing into a leaf, which would let a device DMA to any memory
// root: riommu::driver::declare_iommu_driver!(case::Mine);

#![forbid(unsafe_code)]

use crate::riommu::iotlb::IotlbGather;
use crate::riommu::pgtable::LockedPageTable;
use crate::riommu::pure::mockpt::MockFormat;
use kernel::prelude::*;

minimal_driver! { driver: Mine, paging: MyDomain }

/// Maps a page of memory the core never handed over.
pub fn map_anything(
    table: &LockedPageTable<MockFormat>,
    gather: &mut IotlbGather<'_>,
) -> (u64, Result) {
    table.map_pages(0, 0x8000_0000, 0x1000, 1, 3, gather)
}
