// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error\[E0277\]: the trait bound .Passthrough: (.*::)?TrustedFormat. is not satisfied
// why: LockedPageTable takes only the API's trusted formats: a driver's own Format (whose table_addr may return any address) cannot drive the kernel's table memory
// root: riommu::driver::declare_iommu_driver!(case::Mine);

#![forbid(unsafe_code)]

use crate::riommu::pgtable::LockedPageTable;
use crate::riommu::pure::pt::{Format, Prot};

minimal_driver! { driver: Mine, paging: MyDomain }

/// A format whose table pointers are whatever the entry says.
pub struct Passthrough;

impl Format for Passthrough {
    const LEVELS: usize = 2;
    const LEAF_LEVELS: u32 = 0b1;

    fn is_present(pte: u64) -> bool {
        pte != 0
    }
    fn is_leaf(_pte: u64, level: usize) -> bool {
        level == 0
    }
    fn make_table(table: u64) -> u64 {
        table
    }
    fn table_addr(pte: u64) -> u64 {
        pte
    }
    fn make_leaf(phys: u64, _level: usize, _prot: Prot) -> u64 {
        phys | 1
    }
    fn leaf_phys(pte: u64, _level: usize) -> u64 {
        pte & !0xfff
    }
    fn is_dirty(_pte: u64) -> bool {
        false
    }
    fn set_dirty(pte: u64) -> u64 {
        pte
    }
    fn clear_dirty(pte: u64) -> u64 {
        pte
    }
}

/// A paging domain's table in that format.
pub struct Tables {
    table: LockedPageTable<Passthrough>,
}
