// SPDX-License-Identifier: GPL-2.0

//! Test helpers: a table memory, a fake user memory and a PRNG.

#![allow(dead_code)]

use std::ops::Range;

use riommu_core::errno::Errno;
use riommu_core::pt::{TableMem, ENTRIES_PER_TABLE, TABLE_SIZE};
use riommu_core::userdata::UserMem;

/// Table memory over a vector; table `i` is at address `(i + 1) * 4096`.
/// Addresses are never reused, so a use after free panics.
pub struct VecMem {
    tables: Vec<Option<Box<[u64; ENTRIES_PER_TABLE]>>>,
    live: usize,
    /// Number of allocations that still succeed; `None`: no limit.
    pub fail_after: Option<usize>,
    /// Allocations made so far.
    pub allocs: usize,
    /// Frees made so far.
    pub frees: usize,
    /// Break-before-make flushes asked for so far (`TableMem::break_flush`).
    pub break_flushes: usize,
}

impl VecMem {
    pub fn new() -> Self {
        VecMem {
            tables: Vec::new(),
            live: 0,
            fail_after: None,
            allocs: 0,
            frees: 0,
            break_flushes: 0,
        }
    }

    /// Number of tables currently allocated.
    pub fn live(&self) -> usize {
        self.live
    }

    fn slot(table: u64) -> usize {
        assert!(
            table != 0 && table % TABLE_SIZE == 0,
            "bad table {table:#x}"
        );
        (table / TABLE_SIZE - 1) as usize
    }

    fn get(&self, table: u64) -> &[u64; ENTRIES_PER_TABLE] {
        self.tables[Self::slot(table)]
            .as_deref()
            .unwrap_or_else(|| panic!("table {table:#x} is not allocated"))
    }
}

impl Drop for VecMem {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert_eq!(self.live, 0, "leaked tables");
        }
    }
}

impl TableMem for VecMem {
    fn alloc_table(&mut self) -> Result<u64, Errno> {
        if let Some(n) = self.fail_after.as_mut() {
            if *n == 0 {
                return Err(Errno::ENOMEM);
            }
            *n -= 1;
        }
        self.tables.push(Some(Box::new([0; ENTRIES_PER_TABLE])));
        self.live += 1;
        self.allocs += 1;
        Ok(self.tables.len() as u64 * TABLE_SIZE)
    }

    fn free_table(&mut self, table: u64) {
        let slot = Self::slot(table);
        assert!(
            self.tables[slot].take().is_some(),
            "double free of {table:#x}"
        );
        self.live -= 1;
        self.frees += 1;
    }

    fn read(&self, table: u64, index: usize) -> u64 {
        self.get(table)[index]
    }

    fn write(&mut self, table: u64, index: usize, value: u64) {
        let slot = Self::slot(table);
        self.tables[slot]
            .as_deref_mut()
            .unwrap_or_else(|| panic!("table {table:#x} is not allocated"))[index] = value;
    }

    fn break_flush(&mut self, _iova: u64, _size: u64) -> Result<(), Errno> {
        self.break_flushes += 1;
        Ok(())
    }
}

/// User memory over a byte vector, faulting in `fault` and past its end.
pub struct FakeUser {
    pub bytes: Vec<u8>,
    pub fault: Range<usize>,
}

impl FakeUser {
    pub fn new(bytes: Vec<u8>) -> Self {
        FakeUser { bytes, fault: 0..0 }
    }

    pub fn with_fault(bytes: Vec<u8>, fault: Range<usize>) -> Self {
        FakeUser { bytes, fault }
    }

    fn check(&self, offset: usize, len: usize) -> Result<Range<usize>, Errno> {
        let end = offset.checked_add(len).ok_or(Errno::EFAULT)?;
        if end > self.bytes.len()
            || (!self.fault.is_empty() && offset < self.fault.end && self.fault.start < end)
        {
            return Err(Errno::EFAULT);
        }
        Ok(offset..end)
    }
}

impl UserMem for FakeUser {
    fn copy_from(&self, offset: usize, dst: &mut [u8]) -> Result<(), Errno> {
        assert!(!dst.is_empty(), "empty copy");
        let range = self.check(offset, dst.len())?;
        dst.copy_from_slice(&self.bytes[range]);
        Ok(())
    }

    /// Scans in order, like `check_zeroed_user()`: a non-zero byte before
    /// the first faulting one gives `Ok(false)`.
    fn is_zeroed(&self, offset: usize, len: usize) -> Result<bool, Errno> {
        let end = offset.checked_add(len).ok_or(Errno::EFAULT)?;
        for i in offset..end {
            self.check(i, 1)?;
            if self.bytes[i] != 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// xorshift64* PRNG.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
}

/// A leaf found by [`walk_leaves`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FoundLeaf {
    pub iova: u64,
    pub size: u64,
    pub phys: u64,
    pub dirty: bool,
    pub prot: riommu_core::pt::Prot,
}

/// Walks a riommu_mock page table directly (not through `PageTable`),
/// returning its leaves in IOVA order and the number of reachable tables.
pub fn walk_leaves(mem: &VecMem, root: u64) -> (Vec<FoundLeaf>, usize) {
    use riommu_core::mockpt::{MockFormat, LEVELS};
    use riommu_core::pt::{level_size, Format};

    fn walk(
        mem: &VecMem,
        table: u64,
        level: usize,
        base: u64,
        out: &mut Vec<FoundLeaf>,
        tables: &mut usize,
    ) {
        *tables += 1;
        for index in 0..ENTRIES_PER_TABLE {
            let pte = mem.read(table, index);
            let iova = base + index as u64 * level_size(level);
            if !MockFormat::is_present(pte) {
                assert_eq!(pte, 0, "non-present entries are zero");
                continue;
            }
            if MockFormat::is_leaf(pte, level) {
                out.push(FoundLeaf {
                    iova,
                    size: level_size(level),
                    phys: MockFormat::leaf_phys(pte, level),
                    dirty: MockFormat::is_dirty(pte),
                    prot: MockFormat::prot(pte),
                });
            } else {
                walk(
                    mem,
                    MockFormat::table_addr(pte),
                    level - 1,
                    iova,
                    out,
                    tables,
                );
            }
        }
    }

    let mut out = Vec::new();
    let mut tables = 0;
    walk(mem, root, LEVELS - 1, 0, &mut out, &mut tables);
    (out, tables)
}
