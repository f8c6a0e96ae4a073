// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error\[E0080\]: evaluation panicked: riommu: a dirty-tracking paging domain needs set_dirty_tracking and read_and_clear_dirty
// why: a paging domain type without the dirty-tracking operations cannot be allocated as a dirty-tracking domain (a const assertion, evaluated when new_paging_dirty is instantiated: it takes code generation)
// root: riommu::driver::declare_iommu_driver!(case::Mine);

#![forbid(unsafe_code)]

use crate::riommu::domain::DomainBox;
use kernel::prelude::*;

minimal_driver! { driver: Mine, paging: MyDomain }

/// A domain that tracks dirty pages, it says.
pub fn alloc_dirty() -> Result<DomainBox<MyDomain>> {
    DomainBox::new_paging_dirty(MyDomain::CONFIG, true, MyDomain::init())
}
