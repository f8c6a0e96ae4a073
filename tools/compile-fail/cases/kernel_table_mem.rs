// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error\[E0603\]: (unit )?struct .KernelTableMem. is private
// why: the table memory that reads and writes physical addresses is internal to the API: a driver cannot walk its own tables (or any address) through it
// root: riommu::driver::declare_iommu_driver!(case::Mine);

#![forbid(unsafe_code)]

use crate::riommu::pgtable::KernelTableMem;
use crate::riommu::pure::{mockpt::MockFormat, pt::PageTable};
use kernel::prelude::*;

minimal_driver! { driver: Mine, paging: MyDomain }

/// A page table outside `LockedPageTable`, on the kernel's table memory.
pub fn own_table() -> Result<PageTable<MockFormat>> {
    Ok(PageTable::new(&mut KernelTableMem)?)
}
