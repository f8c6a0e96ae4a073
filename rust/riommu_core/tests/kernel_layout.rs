// SPDX-License-Identifier: GPL-2.0

//! Includes the source files the way kernel crates do (`#[path]` modules in a
//! `riommu_core` module of another crate), so that a `crate::` path or a
//! missing sibling shows up here.

#![allow(unreachable_pub, dead_code)]

// The kernel names each file with `#[path]`; here the directory is named once.
#[path = "../src"]
mod riommu_core {
    pub mod errno;
    pub mod mockpt;
    pub mod pt;
    pub mod userdata;
}

use riommu_core::errno::Errno;
use riommu_core::mockpt::MockFormat;
use riommu_core::pt::{PageTable, Prot, TableMem};

/// Two tables of memory, enough for a 1 GiB leaf and a 2 MiB one.
struct Tiny {
    tables: [[u64; 512]; 2],
    used: usize,
}

impl TableMem for Tiny {
    fn alloc_table(&mut self) -> Result<u64, Errno> {
        if self.used == self.tables.len() {
            return Err(Errno::ENOMEM);
        }
        self.used += 1;
        Ok(self.used as u64 * 4096)
    }
    fn free_table(&mut self, _table: u64) {
        self.used -= 1;
    }
    fn read(&self, table: u64, index: usize) -> u64 {
        self.tables[table as usize / 4096 - 1][index]
    }
    fn write(&mut self, table: u64, index: usize, value: u64) {
        self.tables[table as usize / 4096 - 1][index] = value;
    }
}

#[test]
fn included_modules_work() {
    let mut mem = Box::new(Tiny {
        tables: [[0; 512]; 2],
        used: 0,
    });
    let mut pt = PageTable::<MockFormat>::new(&mut *mem).unwrap();
    let rw = Prot::READ_WRITE;
    assert_eq!(
        pt.map_pages(&mut *mem, 0, 0, 1 << 30, 1, rw),
        (1 << 30, Ok(()))
    );
    assert_eq!(
        pt.map_pages(&mut *mem, 1 << 30, 0, 1 << 21, 1, rw),
        (1 << 21, Ok(()))
    );
    assert_eq!(
        pt.map_pages(&mut *mem, 2 << 30, 0, 1 << 21, 1, rw),
        (0, Err(Errno::ENOMEM))
    );
    pt.destroy(&mut *mem);
    assert_eq!(mem.used, 0);
}
