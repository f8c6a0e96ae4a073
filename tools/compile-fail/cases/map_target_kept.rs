// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error(\[E0621\])?: .*(explicit lifetime required|lifetime may not live long enough|borrowed data escapes)
// why: a MapTarget lives only as long as the core's map_pages call: a driver that kept it to map later, after the core unmapped the range and its caller freed the memory, would let a device reach freed memory
// root: riommu::driver::declare_iommu_driver!(case::Mine);

#![forbid(unsafe_code)]

use crate::riommu::pgtable::MapTarget;

minimal_driver! { driver: Mine, paging: MyDomain }

/// Keeps the target of a map call, to map it some other time.
pub fn keep(slot: &mut Option<MapTarget<'static>>, target: MapTarget<'_>) {
    *slot = Some(target);
}
