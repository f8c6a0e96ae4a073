// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error\[E0080\]: evaluation panicked: riommu: a paging domain implements both dirty-tracking operations or neither
// why: a paging domain implements both dirty-tracking operations or neither (the driver's tables would otherwise offer dirty tracking that half works)
// root: riommu::driver::declare_iommu_driver!(case::Mine);

#![forbid(unsafe_code)]

use kernel::prelude::*;

minimal_driver! {
    driver: Mine,
    paging: MyDomain,
    paging_ops: {
        fn set_dirty_tracking(&self, _enable: bool) -> Result {
            Ok(())
        }
    }
}
