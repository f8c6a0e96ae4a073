// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error\[E0080\]: .*a break-before-make format maps with map_pages_bbm
// why: an LPAE table (Format::BREAK_BEFORE_MAKE) cannot be mapped without the driver's flush between clearing a table entry and writing the block that replaces it: LockedPageTable::map_pages is a build error for it, map_pages_bbm takes the flush
// root: riommu::driver::declare_iommu_driver!(case::Mine);

#![forbid(unsafe_code)]

use crate::riommu::iotlb::IotlbGather;
use crate::riommu::pgtable::{LockedPageTable, MapTarget};
use crate::riommu::pure::smmuv3::lpae::Stage1Lpae;
use kernel::prelude::*;

minimal_driver! { driver: Mine, paging: MyDomain }

/// Maps a 2 MiB block with no break-before-make flush.
pub fn map_block(
    table: &LockedPageTable<Stage1Lpae<false>>,
    target: MapTarget<'_>,
    gather: &mut IotlbGather<'_>,
) -> (u64, Result) {
    table.map_pages(target, 3, gather)
}
