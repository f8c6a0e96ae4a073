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

/// The riommu_mock entry encoding with a 4 KiB granule, one-entry leaves,
/// `L` levels and leaves at the levels of `LEAF`, to exercise the generic
/// walker with other geometries than the mock's own.
pub struct MockEncoding<const L: usize, const LEAF: u32>;

/// [`MockEncoding`] with 4 KiB / 2 MiB / 1 GiB pages (the mock's geometry
/// before it took the C mock's 2 KiB one): the format of the generic
/// walker's tests.
pub type Mock4k =
    MockEncoding<{ riommu_core::mockpt::LEVELS }, { riommu_core::mockpt::LEAF_LEVELS }>;

impl<const L: usize, const LEAF: u32> riommu_core::pt::Format for MockEncoding<L, LEAF> {
    const LEVELS: usize = L;
    const LEAF_LEVELS: u32 = LEAF;
    fn is_present(pte: u64) -> bool {
        MockFormat::is_present(pte)
    }
    fn is_leaf(pte: u64, level: usize) -> bool {
        MockFormat::is_leaf(pte, level)
    }
    fn make_table(table: u64) -> u64 {
        MockFormat::make_table(table)
    }
    fn table_addr(pte: u64) -> u64 {
        MockFormat::table_addr(pte)
    }
    fn make_leaf(phys: u64, level: usize, prot: riommu_core::pt::Prot) -> u64 {
        MockFormat::make_leaf(phys, level, prot)
    }
    fn leaf_phys(pte: u64, level: usize) -> u64 {
        pte & riommu_core::mockpt::ADDR_MASK & !(riommu_core::pt::level_size(level) - 1)
    }
    fn is_dirty(pte: u64) -> bool {
        MockFormat::is_dirty(pte)
    }
    fn set_dirty(pte: u64) -> u64 {
        MockFormat::set_dirty(pte)
    }
    fn clear_dirty(pte: u64) -> u64 {
        MockFormat::clear_dirty(pte)
    }
}

use riommu_core::mockpt::MockFormat;
use riommu_core::pt::Format;

/// Walks a [`Mock4k`] page table directly (not through `PageTable`),
/// returning its leaves in IOVA order and the number of reachable tables.
pub fn walk_leaves(mem: &VecMem, root: u64) -> (Vec<FoundLeaf>, usize) {
    walk_leaves_of::<Mock4k>(mem, root)
}

/// Walks a page table of format `F` (with the mock's entry encoding)
/// directly, returning its leaves in IOVA order (a contiguous leaf once,
/// dirty if any of its entries is) and the number of reachable tables.
pub fn walk_leaves_of<F: Format>(mem: &VecMem, root: u64) -> (Vec<FoundLeaf>, usize) {
    fn walk<F: Format>(
        mem: &VecMem,
        table: u64,
        level: usize,
        base: u64,
        out: &mut Vec<FoundLeaf>,
        tables: &mut usize,
    ) {
        let entry = riommu_core::pt::PageTable::<F>::level_size(level);
        *tables += 1;
        let mut index = 0;
        while index < ENTRIES_PER_TABLE {
            let pte = mem.read(table, index);
            let iova = base + index as u64 * entry;
            if !F::is_present(pte) {
                assert_eq!(pte, 0, "non-present entries are zero");
                index += 1;
                continue;
            }
            if F::is_leaf(pte, level) {
                let n = 1usize << F::leaf_contig_lg2(pte, level);
                assert_eq!(index % n, 0, "contiguous leaf not aligned");
                let mut dirty = false;
                for i in index..index + n {
                    let e = mem.read(table, i);
                    assert_eq!(
                        F::clear_dirty(e),
                        F::clear_dirty(pte),
                        "entries of a contiguous leaf differ"
                    );
                    dirty |= F::is_dirty(e);
                }
                out.push(FoundLeaf {
                    iova,
                    size: entry * n as u64,
                    phys: F::leaf_phys(pte, level),
                    dirty,
                    prot: MockFormat::prot(pte),
                });
                index += n;
            } else {
                walk::<F>(mem, F::table_addr(pte), level - 1, iova, out, tables);
                index += 1;
            }
        }
    }

    let mut out = Vec::new();
    let mut tables = 0;
    walk::<F>(mem, root, F::LEVELS - 1, 0, &mut out, &mut tables);
    (out, tables)
}
