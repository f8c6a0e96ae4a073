// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error(\[E0451\])?: (fields? .*of struct .MapTarget. (is|are) private|cannot construct .MapTarget.*due to private fields)
// why: a MapTarget names memory the core asked to map: its fields are private, so a driver cannot make one for an address of its choosing (its constructor is an unsafe fn of the API's map_pages glue)
// root: riommu::driver::declare_iommu_driver!(case::Mine);

#![forbid(unsafe_code)]

use crate::riommu::iotlb::IotlbGather;
use crate::riommu::pgtable::{LockedPageTable, MapTarget};
use crate::riommu::pure::mockpt::MockFormat;
use kernel::prelude::*;

minimal_driver! { driver: Mine, paging: MyDomain }

/// Maps a page of memory the core never handed over, through a forged target.
pub fn map_anything(
    table: &LockedPageTable<MockFormat>,
    gather: &mut IotlbGather<'_>,
) -> (u64, Result) {
    let target = MapTarget {
        iova: 0,
        paddr: 0x8000_0000,
        pgsize: 0x1000,
        pgcount: 1,
    };
    table.map_pages(target, 3, gather)
}
