// SPDX-License-Identifier: GPL-2.0

//! Tests of the generic I/O page table with the riommu_mock format.

// Test code: std is fine, and the helpers need not be reachable.
#![allow(unreachable_pub, clippy::std_instead_of_core)]

mod common;

use std::cell::Cell;

use common::{walk_leaves, FoundLeaf, Mock4k, MockEncoding, VecMem};
use riommu_core::errno::Errno;
use riommu_core::mockpt::{self, MockFormat};
use riommu_core::pt::{Format, Leaf, MemType, PageTable, Prot, TableMem};

type Pt = PageTable<Mock4k>;

const K4: u64 = 1 << 12;
const M2: u64 = 1 << 21;
const G1: u64 = 1 << 30;
const RW: Prot = Prot::READ_WRITE;

fn setup() -> (VecMem, Pt) {
    let mut mem = VecMem::new();
    let pt = Pt::new(&mut mem).unwrap();
    (mem, pt)
}

/// Checks the bookkeeping: the counter matches the memory and every table is
/// reachable from the root.
fn check_counts(mem: &VecMem, pt: &Pt) {
    assert_eq!(pt.table_count(), mem.live());
    let (_, reachable) = walk_leaves(mem, pt.root());
    assert_eq!(reachable, mem.live(), "unreachable tables");
}

fn finish(mut mem: VecMem, pt: Pt) {
    check_counts(&mem, &pt);
    pt.destroy(&mut mem);
    assert_eq!(mem.live(), 0);
    assert_eq!(mem.allocs, mem.frees);
}

#[test]
fn geometry() {
    assert_eq!(Pt::level_size(0), K4);
    assert_eq!(Pt::level_size(1), M2);
    assert_eq!(Pt::level_size(2), G1);
    assert_eq!(Pt::level_size(3), 1 << 39);
    assert_eq!(Pt::va_bits(), 39);
    assert_eq!(Pt::pgsize_bitmap(), K4 | M2 | G1);
    let (cache, mmio) = (Prot::IOMMU_CACHE, Prot::IOMMU_MMIO);
    assert_eq!(
        Prot::from_iommu_prot(Prot::IOMMU_READ | Prot::IOMMU_WRITE | cache),
        RW
    );
    assert_eq!(Prot::from_iommu_prot(1 | cache), Prot::READ);
    assert_eq!(Prot::from_iommu_prot(2 | cache), Prot::WRITE);
    // IOMMU_NOEXEC (bit 3) is ignored.
    assert_eq!(Prot::from_iommu_prot((1 << 3) | cache), Prot::NONE);
    assert_eq!(RW.to_iommu_prot(), 3 | cache);
    // The memory type: IOMMU_MMIO wins over IOMMU_CACHE, neither is
    // non-cacheable; and back.
    assert_eq!(
        Prot::from_iommu_prot(1),
        Prot::READ.with_mem(MemType::NonCached)
    );
    assert_eq!(
        Prot::from_iommu_prot(3 | mmio | cache),
        RW.with_mem(MemType::Mmio)
    );
    for p in [0, cache, mmio] {
        assert_eq!(Prot::from_iommu_prot(3 | p).to_iommu_prot(), 3 | p);
    }
}

#[test]
fn new_and_destroy_empty() {
    let (mem, pt) = setup();
    assert_eq!(pt.table_count(), 1);
    assert_eq!(pt.iova_to_phys(&mem, 0), 0);
    finish(mem, pt);
}

#[test]
fn new_without_memory() {
    let mut mem = VecMem::new();
    mem.fail_after = Some(0);
    assert_eq!(Pt::new(&mut mem).err(), Some(Errno::ENOMEM));
}

#[test]
fn map_unmap_4k() {
    let (mut mem, mut pt) = setup();
    assert_eq!(
        pt.map_pages(&mut mem, 0x1000, 0xabc_d000, K4, 1, RW),
        (K4, Ok(()))
    );
    assert_eq!(pt.table_count(), 3);
    assert_eq!(pt.iova_to_phys(&mem, 0x1000), 0xabc_d000);
    assert_eq!(pt.iova_to_phys(&mem, 0x1fff), 0xabc_dfff);
    assert_eq!(pt.iova_to_phys(&mem, 0x1123), 0xabc_d123);
    assert_eq!(pt.iova_to_phys(&mem, 0x0fff), 0);
    assert_eq!(pt.iova_to_phys(&mem, 0x2000), 0);
    assert_eq!(
        pt.lookup(&mem, 0x1234),
        Some(Leaf {
            iova: 0x1000,
            phys: 0xabc_d234,
            size: K4,
            level: 0,
            dirty: false
        })
    );
    let (leaves, _) = walk_leaves(&mem, pt.root());
    assert_eq!(
        leaves,
        [FoundLeaf {
            iova: 0x1000,
            size: K4,
            phys: 0xabc_d000,
            dirty: false,
            prot: RW
        }]
    );
    check_counts(&mem, &pt);

    assert_eq!(pt.unmap_pages(&mut mem, 0x1000, K4, 1), K4);
    assert_eq!(pt.iova_to_phys(&mem, 0x1000), 0);
    // Tables stay until destroy.
    assert_eq!(pt.table_count(), 3);
    assert_eq!(pt.unmap_pages(&mut mem, 0x1000, K4, 1), 0);
    finish(mem, pt);
}

#[test]
fn map_unmap_2m() {
    let (mut mem, mut pt) = setup();
    let iova = 3 * M2;
    let pa = 0x1_4060_0000;
    assert_eq!(
        pt.map_pages(&mut mem, iova, pa, M2, 2, Prot::READ),
        (2 * M2, Ok(()))
    );
    assert_eq!(pt.table_count(), 2);
    assert_eq!(pt.iova_to_phys(&mem, iova), pa);
    assert_eq!(pt.iova_to_phys(&mem, iova + 0x12_3456), pa + 0x12_3456);
    assert_eq!(pt.iova_to_phys(&mem, iova + M2 + 5), pa + M2 + 5);
    assert_eq!(pt.iova_to_phys(&mem, iova + 2 * M2), 0);
    assert_eq!(pt.iova_to_phys(&mem, iova - 1), 0);
    let leaf = pt.lookup(&mem, iova + M2 + 0x1000).unwrap();
    assert_eq!((leaf.iova, leaf.size, leaf.level), (iova + M2, M2, 1));
    let (leaves, _) = walk_leaves(&mem, pt.root());
    assert_eq!(leaves.len(), 2);
    assert!(leaves.iter().all(|l| l.prot == Prot::READ));

    assert_eq!(pt.unmap_pages(&mut mem, iova, M2, 2), 2 * M2);
    assert_eq!(pt.iova_to_phys(&mem, iova), 0);
    finish(mem, pt);
}

#[test]
fn map_unmap_1g() {
    let (mut mem, mut pt) = setup();
    let pa = 0x40_0000_0000;
    assert_eq!(
        pt.map_pages(&mut mem, 5 * G1, pa, G1, 1, Prot::WRITE),
        (G1, Ok(()))
    );
    assert_eq!(pt.table_count(), 1, "a 1G leaf lives in the root");
    assert_eq!(
        pt.iova_to_phys(&mem, 5 * G1 + 0x3fff_ffff),
        pa + 0x3fff_ffff
    );
    assert_eq!(pt.iova_to_phys(&mem, 6 * G1), 0);
    assert_eq!(pt.lookup(&mem, 5 * G1 + 7).unwrap().level, 2);
    assert_eq!(pt.unmap_pages(&mut mem, 5 * G1, G1, 1), G1);
    assert_eq!(pt.iova_to_phys(&mem, 5 * G1), 0);
    finish(mem, pt);
}

#[test]
fn top_of_iova_space() {
    let (mut mem, mut pt) = setup();
    let last = (1 << 39) - K4;
    assert_eq!(pt.map_pages(&mut mem, last, K4, K4, 1, RW), (K4, Ok(())));
    assert_eq!(pt.iova_to_phys(&mem, last + 0xfff), K4 + 0xfff);
    assert_eq!(pt.iova_to_phys(&mem, 1 << 39), 0);
    assert_eq!(pt.iova_to_phys(&mem, u64::MAX), 0);
    assert_eq!(
        pt.map_pages(&mut mem, 511 * G1, 0, G1, 1, RW).1,
        Err(Errno::EADDRINUSE)
    );
    assert_eq!(pt.unmap_pages(&mut mem, last, K4, 1), K4);
    assert_eq!(pt.map_pages(&mut mem, 511 * G1, 0, G1, 1, RW), (G1, Ok(())));
    assert_eq!(pt.unmap_pages(&mut mem, 511 * G1, G1, 1), G1);
    finish(mem, pt);
}

#[test]
fn map_crossing_tables() {
    let (mut mem, mut pt) = setup();
    let iova = 0x1ff000;
    let pa = 0x8000_0000;
    assert_eq!(
        pt.map_pages(&mut mem, iova, pa, K4, 1000, RW),
        (1000 * K4, Ok(()))
    );
    // root + one level-1 table + three level-0 tables (0-2M, 2-4M, 4-6M).
    assert_eq!(pt.table_count(), 5);
    for i in 0..1000 {
        assert_eq!(pt.iova_to_phys(&mem, iova + i * K4), pa + i * K4);
    }
    assert_eq!(pt.iova_to_phys(&mem, iova - K4), 0);
    assert_eq!(pt.iova_to_phys(&mem, iova + 1000 * K4), 0);
    check_counts(&mem, &pt);

    // Crossing a 1G boundary: new level-1 table too.
    let iova = G1 - 2 * K4;
    assert_eq!(pt.map_pages(&mut mem, iova, 0, K4, 4, RW), (4 * K4, Ok(())));
    for i in 0..4 {
        assert_eq!(pt.iova_to_phys(&mem, iova + i * K4), i * K4);
    }
    // A level-0 table below 1G, a level-1 and a level-0 table above.
    assert_eq!(pt.table_count(), 8);

    assert_eq!(pt.unmap_pages(&mut mem, 0x1ff000, K4, 1000), 1000 * K4);
    assert_eq!(pt.unmap_pages(&mut mem, iova, K4, 4), 4 * K4);
    let (leaves, _) = walk_leaves(&mem, pt.root());
    assert!(leaves.is_empty());
    finish(mem, pt);
}

/// Counts the accesses to a table memory.
struct CountingMem {
    inner: VecMem,
    reads: Cell<usize>,
    writes: usize,
}

impl TableMem for CountingMem {
    fn alloc_table(&mut self) -> Result<u64, Errno> {
        self.inner.alloc_table()
    }
    fn free_table(&mut self, table: u64) {
        self.inner.free_table(table)
    }
    fn read(&self, table: u64, index: usize) -> u64 {
        self.reads.set(self.reads.get() + 1);
        self.inner.read(table, index)
    }
    fn write(&mut self, table: u64, index: usize, value: u64) {
        self.writes += 1;
        self.inner.write(table, index, value)
    }
}

#[test]
fn map_walks_once_per_leaf_table() {
    let mut mem = CountingMem {
        inner: VecMem::new(),
        reads: Cell::new(0),
        writes: 0,
    };
    let mut pt = Pt::new(&mut mem).unwrap();
    // 1024 pages over three level-0 tables: 3 walks of 2 reads each.
    let iova = 0x1ff000;
    assert_eq!(
        pt.map_pages(&mut mem, iova, 0, K4, 1024, RW),
        (1024 * K4, Ok(()))
    );
    assert_eq!(mem.reads.get(), 1024 + 3 * 2);
    // 1024 leaves + 3 level-0 table entries + 1 level-1 entry.
    assert_eq!(mem.writes, 1024 + 3 + 1);

    mem.reads.set(0);
    mem.writes = 0;
    assert_eq!(pt.unmap_pages(&mut mem, iova, K4, 1024), 1024 * K4);
    assert_eq!(mem.writes, 1024);
    // One walk (3 reads) per leaf table plus one read per leaf.
    assert_eq!(mem.reads.get(), 1024 + 3 * 3);

    mem.reads.set(0);
    assert_eq!(
        pt.map_pages(&mut mem, 0x40_0000, 0, K4, 1, RW),
        (K4, Ok(()))
    );
    assert_eq!(mem.reads.get(), 3, "a single page map is a 3-read walk");
    pt.destroy(&mut mem);
}

#[test]
fn overlapping_maps() {
    let (mut mem, mut pt) = setup();
    // Leaf over leaf.
    assert_eq!(
        pt.map_pages(&mut mem, 0x5000, 0x1000, K4, 1, RW),
        (K4, Ok(()))
    );
    assert_eq!(
        pt.map_pages(&mut mem, 0x5000, 0x2000, K4, 1, RW),
        (0, Err(Errno::EADDRINUSE))
    );
    assert_eq!(pt.iova_to_phys(&mem, 0x5000), 0x1000, "unchanged");
    // Part way: the pages before the conflict stay mapped.
    assert_eq!(
        pt.map_pages(&mut mem, 0x3000, 0x10_0000, K4, 4, RW),
        (2 * K4, Err(Errno::EADDRINUSE))
    );
    assert_eq!(pt.iova_to_phys(&mem, 0x3000), 0x10_0000);
    assert_eq!(pt.iova_to_phys(&mem, 0x4000), 0x10_1000);
    assert_eq!(pt.iova_to_phys(&mem, 0x5000), 0x1000);
    assert_eq!(pt.iova_to_phys(&mem, 0x6000), 0);

    // A huge leaf over a table with entries.
    assert_eq!(
        pt.map_pages(&mut mem, 0, 0, M2, 1, RW),
        (0, Err(Errno::EADDRINUSE))
    );
    assert_eq!(
        pt.map_pages(&mut mem, 0, 0, G1, 1, RW),
        (0, Err(Errno::EADDRINUSE))
    );
    assert_eq!(pt.iova_to_phys(&mem, 0x5000), 0x1000, "unchanged");
    check_counts(&mem, &pt);

    // A 2M leaf, then a 4K page and a 2M leaf into it, and a 1G over it.
    assert_eq!(pt.map_pages(&mut mem, 4 * M2, 0, M2, 1, RW), (M2, Ok(())));
    assert_eq!(
        pt.map_pages(&mut mem, 4 * M2 + 0x3000, 0, K4, 1, RW),
        (0, Err(Errno::EADDRINUSE))
    );
    assert_eq!(
        pt.map_pages(&mut mem, 3 * M2, 0, M2, 2, RW),
        (M2, Err(Errno::EADDRINUSE))
    );
    assert_eq!(
        pt.map_pages(&mut mem, 0, 0, G1, 1, RW),
        (0, Err(Errno::EADDRINUSE))
    );

    // 2M and 4K inside a 1G leaf.
    assert_eq!(pt.map_pages(&mut mem, G1, 0, G1, 1, RW), (G1, Ok(())));
    assert_eq!(
        pt.map_pages(&mut mem, G1 + 7 * M2, 0, M2, 1, RW),
        (0, Err(Errno::EADDRINUSE))
    );
    assert_eq!(
        pt.map_pages(&mut mem, G1 + 0x1000, 0, K4, 1, RW),
        (0, Err(Errno::EADDRINUSE))
    );
    // 4K pages running into the 1G leaf.
    assert_eq!(
        pt.map_pages(&mut mem, G1 - 2 * K4, 0, K4, 4, RW),
        (2 * K4, Err(Errno::EADDRINUSE))
    );
    check_counts(&mem, &pt);
    finish(mem, pt);
}

#[test]
fn empty_tables_are_replaced_by_huge_leaves() {
    let (mut mem, mut pt) = setup();
    assert_eq!(pt.map_pages(&mut mem, 0x1000, 0, K4, 1, RW), (K4, Ok(())));
    assert_eq!(pt.table_count(), 3);
    assert_eq!(pt.unmap_pages(&mut mem, 0x1000, K4, 1), K4);
    // The level-0 table is empty: a 2M leaf replaces (and frees) it.
    assert_eq!(
        pt.map_pages(&mut mem, 0, 0x20_0000, M2, 1, RW),
        (M2, Ok(()))
    );
    assert_eq!(pt.table_count(), 2);
    assert_eq!(pt.iova_to_phys(&mem, 0x1000), 0x20_1000);
    check_counts(&mem, &pt);
    assert_eq!(pt.unmap_pages(&mut mem, 0, M2, 1), M2);

    // A 1G leaf replaces a level-1 table and the empty tables below it.
    assert_eq!(
        pt.map_pages(&mut mem, 0x1ff000, 0, K4, 2, RW),
        (2 * K4, Ok(()))
    );
    assert_eq!(pt.table_count(), 4);
    assert_eq!(pt.unmap_pages(&mut mem, 0x1ff000, K4, 2), 2 * K4);
    assert_eq!(pt.map_pages(&mut mem, 0, 0, G1, 1, RW), (G1, Ok(())));
    assert_eq!(pt.table_count(), 1);
    check_counts(&mem, &pt);
    finish(mem, pt);
}

#[test]
fn invalid_maps() {
    let (mut mem, mut pt) = setup();
    let inval = (0, Err(Errno::EINVAL));
    // Misaligned iova or paddr.
    assert_eq!(pt.map_pages(&mut mem, 0x1001, 0, K4, 1, RW), inval);
    assert_eq!(pt.map_pages(&mut mem, 0x1000, 0x10, K4, 1, RW), inval);
    assert_eq!(pt.map_pages(&mut mem, K4, 0, M2, 1, RW), inval);
    assert_eq!(pt.map_pages(&mut mem, 0, K4, M2, 1, RW), inval);
    assert_eq!(pt.map_pages(&mut mem, M2, 0, G1, 1, RW), inval);
    // Page sizes not in the bitmap.
    for pgsize in [0, 1, 2 * K4, 4 * M2, 1 << 39, u64::MAX] {
        assert_eq!(
            pt.map_pages(&mut mem, 0, 0, pgsize, 1, RW),
            inval,
            "{pgsize:#x}"
        );
    }
    // No pages, no permission.
    assert_eq!(pt.map_pages(&mut mem, 0, 0, K4, 0, RW), inval);
    assert_eq!(pt.map_pages(&mut mem, 0, 0, K4, 1, Prot::NONE), inval);
    // Beyond the 39-bit IOVA space, and wrapping.
    assert_eq!(pt.map_pages(&mut mem, 1 << 39, 0, K4, 1, RW), inval);
    assert_eq!(pt.map_pages(&mut mem, (1 << 39) - K4, 0, K4, 2, RW), inval);
    assert_eq!(pt.map_pages(&mut mem, 511 * G1, 0, G1, 2, RW), inval);
    assert_eq!(
        pt.map_pages(&mut mem, u64::MAX - 0xfff, 0, K4, 1, RW),
        inval
    );
    assert_eq!(pt.map_pages(&mut mem, 0, 0, K4, u64::MAX, RW), inval);
    assert_eq!(pt.map_pages(&mut mem, 0, 0, G1, 1 << 40, RW), inval);
    // Output addresses the format cannot hold.
    let erange = (0, Err(Errno::ERANGE));
    assert_eq!(pt.map_pages(&mut mem, 0, 1 << 52, K4, 1, RW), erange);
    assert_eq!(pt.map_pages(&mut mem, 0, (1 << 52) - K4, K4, 2, RW), erange);
    assert_eq!(
        pt.map_pages(&mut mem, 0, u64::MAX - 0xfff, K4, 2, RW),
        erange
    );
    // The highest page is fine.
    assert_eq!(
        pt.map_pages(&mut mem, 0, (1 << 52) - K4, K4, 1, RW),
        (K4, Ok(()))
    );
    assert_eq!(pt.iova_to_phys(&mem, 0xfff), (1 << 52) - 1);
    assert_eq!(pt.unmap_pages(&mut mem, 0, K4, 1), K4);
    check_counts(&mem, &pt);
    finish(mem, pt);
}

#[test]
fn enomem_mid_map() {
    let (mut mem, mut pt) = setup();
    // The first walk takes two tables; the next level-0 table fails.
    mem.fail_after = Some(2);
    assert_eq!(
        pt.map_pages(&mut mem, 0x1fe000, 0x7000_0000, K4, 1000, RW),
        (2 * K4, Err(Errno::ENOMEM))
    );
    check_counts(&mem, &pt);
    assert_eq!(pt.iova_to_phys(&mem, 0x1fe000), 0x7000_0000);
    assert_eq!(pt.iova_to_phys(&mem, 0x1ff000), 0x7000_1000);
    assert_eq!(pt.iova_to_phys(&mem, 0x200000), 0);
    // Failing on the first walk maps nothing.
    mem.fail_after = Some(0);
    assert_eq!(
        pt.map_pages(&mut mem, G1, 0, K4, 1, RW),
        (0, Err(Errno::ENOMEM))
    );
    // Failing on the level-0 table after the level-1 one was linked.
    mem.fail_after = Some(1);
    assert_eq!(
        pt.map_pages(&mut mem, G1, 0, K4, 1, RW),
        (0, Err(Errno::ENOMEM))
    );
    check_counts(&mem, &pt);
    assert_eq!(pt.table_count(), 4);
    // With memory again, the rest maps.
    mem.fail_after = None;
    assert_eq!(
        pt.map_pages(&mut mem, 0x200000, 0x7000_2000, K4, 998, RW),
        (998 * K4, Ok(()))
    );
    assert_eq!(pt.map_pages(&mut mem, G1, 0, K4, 1, RW), (K4, Ok(())));
    for i in 0..1000 {
        assert_eq!(
            pt.iova_to_phys(&mem, 0x1fe000 + i * K4),
            0x7000_0000 + i * K4
        );
    }
    check_counts(&mem, &pt);
    assert_eq!(pt.unmap_pages(&mut mem, 0x1fe000, K4, 1000), 1000 * K4);
    finish(mem, pt);
}

#[test]
fn unmap_stops_at_holes() {
    let (mut mem, mut pt) = setup();
    assert_eq!(pt.map_pages(&mut mem, 0, 0, K4, 4, RW), (4 * K4, Ok(())));
    assert_eq!(
        pt.map_pages(&mut mem, 6 * K4, 0, K4, 2, RW),
        (2 * K4, Ok(()))
    );
    assert_eq!(pt.unmap_pages(&mut mem, 0, K4, 8), 4 * K4);
    assert_eq!(pt.iova_to_phys(&mem, 6 * K4), 0);
    assert!(pt.lookup(&mem, 6 * K4).is_some());
    // Starting at a hole unmaps nothing.
    assert_eq!(pt.unmap_pages(&mut mem, 5 * K4, K4, 3), 0);
    assert!(pt.lookup(&mem, 6 * K4).is_some());
    // Holes at higher levels (no table at all).
    assert_eq!(pt.unmap_pages(&mut mem, 3 * G1, K4, 3), 0);
    assert_eq!(pt.unmap_pages(&mut mem, 5 * M2, M2, 3), 0);
    assert_eq!(pt.unmap_pages(&mut mem, 6 * K4, K4, 2), 2 * K4);
    finish(mem, pt);
}

#[test]
fn unmap_invalid() {
    let (mut mem, mut pt) = setup();
    assert_eq!(pt.map_pages(&mut mem, 0, 0, K4, 4, RW), (4 * K4, Ok(())));
    assert_eq!(pt.unmap_pages(&mut mem, 0x800, K4, 1), 0);
    assert_eq!(pt.unmap_pages(&mut mem, 0, 0, 1), 0);
    assert_eq!(pt.unmap_pages(&mut mem, 0, 2 * K4, 1), 0);
    assert_eq!(pt.unmap_pages(&mut mem, 0, K4, 0), 0);
    assert_eq!(pt.unmap_pages(&mut mem, 0, K4, u64::MAX), 0);
    assert_eq!(pt.unmap_pages(&mut mem, u64::MAX - 0xfff, K4, 1), 0);
    assert_eq!(pt.unmap_pages(&mut mem, (1 << 39) - K4, K4, 2), 0);
    assert_eq!(pt.unmap_pages(&mut mem, 0, K4, 4), 4 * K4);
    finish(mem, pt);
}

#[test]
fn unmap_with_smaller_pgsize() {
    let (mut mem, mut pt) = setup();
    assert_eq!(pt.map_pages(&mut mem, M2, 0, M2, 1, RW), (M2, Ok(())));
    // The 2M leaf is larger than the range: nothing is unmapped.
    assert_eq!(pt.unmap_pages(&mut mem, M2, K4, 1), 0);
    assert_eq!(pt.unmap_pages(&mut mem, M2, K4, 511), 0);
    // The range does not start at the leaf.
    assert_eq!(pt.unmap_pages(&mut mem, M2 + K4, K4, 511), 0);
    assert_eq!(pt.iova_to_phys(&mem, M2), M2 - M2);
    assert!(pt.lookup(&mem, M2).is_some());
    // 512 4K pages over a 2M leaf remove the leaf whole.
    assert_eq!(pt.unmap_pages(&mut mem, M2, K4, 512), M2);
    assert!(pt.lookup(&mem, M2).is_none());
    // A range longer than the leaf stops at the hole after it.
    assert_eq!(pt.map_pages(&mut mem, M2, 0, M2, 1, RW), (M2, Ok(())));
    assert_eq!(pt.unmap_pages(&mut mem, M2, K4, 1024), M2);

    // Mixed leaves: 4K pages in [0, 2M) and a 2M leaf at [2M, 4M).
    assert_eq!(pt.map_pages(&mut mem, 0, 0, K4, 512, RW), (M2, Ok(())));
    assert_eq!(pt.map_pages(&mut mem, M2, 0, M2, 1, RW), (M2, Ok(())));
    assert_eq!(pt.unmap_pages(&mut mem, 0, K4, 1024), 2 * M2);
    let (leaves, _) = walk_leaves(&mem, pt.root());
    assert!(leaves.is_empty());
    // The same with a 2M page size: 4K leaves are removed too.
    assert_eq!(pt.map_pages(&mut mem, 0, 0, K4, 512, RW), (M2, Ok(())));
    assert_eq!(pt.map_pages(&mut mem, M2, 0, M2, 1, RW), (M2, Ok(())));
    assert_eq!(pt.unmap_pages(&mut mem, 0, M2, 2), 2 * M2);
    // A 1G leaf through 2M pages.
    assert_eq!(pt.map_pages(&mut mem, G1, 0, G1, 1, RW), (G1, Ok(())));
    assert_eq!(pt.unmap_pages(&mut mem, G1, M2, 511), 0);
    assert_eq!(pt.unmap_pages(&mut mem, G1, M2, 512), G1);
    let (leaves, _) = walk_leaves(&mem, pt.root());
    assert!(leaves.is_empty());
    finish(mem, pt);
}

#[test]
fn dirty_tracking() {
    let (mut mem, mut pt) = setup();
    assert_eq!(
        pt.map_pages(&mut mem, 0x1ff000, 0, K4, 3, RW),
        (3 * K4, Ok(()))
    );
    assert_eq!(pt.map_pages(&mut mem, 2 * M2, 0, M2, 1, RW), (M2, Ok(())));
    assert_eq!(pt.map_pages(&mut mem, G1, 0, G1, 1, RW), (G1, Ok(())));

    let read = |pt: &mut Pt, mem: &mut VecMem, iova: u64, size: u64, no_clear: bool| {
        let mut v = Vec::new();
        pt.read_and_clear_dirty(mem, iova, size, no_clear, |a, l| v.push((a, l)));
        v
    };
    assert!(read(&mut pt, &mut mem, 0, 1 << 39, false).is_empty());
    assert!(!pt.set_dirty(&mut mem, 0x1fe000));
    assert!(!pt.set_dirty(&mut mem, 1 << 39));
    assert!(pt.set_dirty(&mut mem, 0x1ff123));
    assert!(pt.set_dirty(&mut mem, 0x201000));
    assert!(pt.set_dirty(&mut mem, 2 * M2 + 0x5000));
    assert!(pt.set_dirty(&mut mem, G1 + 12345));
    assert!(pt.lookup(&mem, 0x1ff000).unwrap().dirty);
    assert!(!pt.lookup(&mem, 0x200000).unwrap().dirty);
    // The dirty bit does not change the translation.
    assert_eq!(pt.iova_to_phys(&mem, 2 * M2 + 0x5000), 0x5000);

    let all = vec![(0x1ff000, K4), (0x201000, K4), (2 * M2, M2), (G1, G1)];
    assert_eq!(read(&mut pt, &mut mem, 0, 1 << 39, true), all);
    assert_eq!(read(&mut pt, &mut mem, 0, u64::MAX, true), all, "clipped");
    // Leaves partly in the range are reported whole (as generic_pt).
    assert_eq!(
        read(&mut pt, &mut mem, 0x1ff800, 2 * M2 + 0x800 - 0x1ff800, true),
        vec![(0x1ff000, K4), (0x201000, K4), (2 * M2, M2)]
    );
    assert_eq!(read(&mut pt, &mut mem, 0x200000, K4, true), vec![]);
    assert_eq!(read(&mut pt, &mut mem, 0x200000, 0, true), vec![]);
    assert_eq!(read(&mut pt, &mut mem, 1 << 39, 1 << 20, true), vec![]);
    // Now clear part: the 2M leaf is cleared whole even if read in part.
    assert_eq!(
        read(&mut pt, &mut mem, 2 * M2 + K4, K4, false),
        vec![(2 * M2, M2)]
    );
    assert!(!pt.lookup(&mem, 2 * M2).unwrap().dirty);
    assert_eq!(
        read(&mut pt, &mut mem, 0, 1 << 39, false),
        vec![(0x1ff000, K4), (0x201000, K4), (G1, G1)]
    );
    assert!(read(&mut pt, &mut mem, 0, 1 << 39, false).is_empty());
    let (leaves, _) = walk_leaves(&mem, pt.root());
    assert!(leaves.iter().all(|l| !l.dirty));
    assert!(leaves.iter().all(|l| l.prot == RW));
    finish(mem, pt);
}

#[test]
fn destroy_frees_everything() {
    let (mut mem, mut pt) = setup();
    for slot in 0..8 {
        let base = slot * G1 + slot * 3 * M2;
        assert_eq!(
            pt.map_pages(&mut mem, base + 0x1f0000, 0, K4, 700, RW).1,
            Ok(())
        );
        assert_eq!(
            pt.map_pages(&mut mem, base + 8 * M2, 0, M2, 5, RW).1,
            Ok(())
        );
    }
    assert_eq!(pt.map_pages(&mut mem, 100 * G1, 0, G1, 3, RW).1, Ok(()));
    assert!(pt.table_count() > 20);
    finish(mem, pt);
}

/// The riommu_mock encoding with five levels and leaves at levels 0 and 1,
/// to exercise other geometries.
type FiveLevels = MockEncoding<5, 0b11>;

#[test]
fn five_levels() {
    type P5 = PageTable<FiveLevels>;
    assert_eq!(P5::va_bits(), 57);
    assert_eq!(P5::pgsize_bitmap(), K4 | M2);
    let mut mem = VecMem::new();
    let mut pt = P5::new(&mut mem).unwrap();
    let top = (1 << 57) - 2 * K4;
    assert_eq!(
        pt.map_pages(&mut mem, top, 0x3000, K4, 2, RW),
        (2 * K4, Ok(()))
    );
    assert_eq!(pt.table_count(), 5);
    assert_eq!(pt.iova_to_phys(&mem, top + K4 + 1), 0x4001);
    assert_eq!(
        pt.map_pages(&mut mem, 0, 0, G1, 1, RW),
        (0, Err(Errno::EINVAL))
    );
    assert_eq!(pt.map_pages(&mut mem, 1 << 56, 0, M2, 1, RW), (M2, Ok(())));
    assert_eq!(
        pt.map_pages(&mut mem, top, 0, K4, 3, RW),
        (0, Err(Errno::EINVAL))
    );
    assert!(pt.set_dirty(&mut mem, (1 << 56) + 5));
    let mut got = Vec::new();
    pt.read_and_clear_dirty(&mut mem, 0, u64::MAX, false, |a, l| got.push((a, l)));
    assert_eq!(got, vec![(1 << 56, M2)]);
    assert_eq!(pt.unmap_pages(&mut mem, top, K4, 2), 2 * K4);
    assert_eq!(pt.unmap_pages(&mut mem, 1 << 56, K4, 512), M2);
    assert_eq!(pt.table_count(), mem.live());
    pt.destroy(&mut mem);
    assert_eq!(mem.live(), 0);
}

#[test]
fn mock_constants_used_by_tables() {
    let (mut mem, mut pt) = setup();
    assert_eq!(
        pt.map_pages(&mut mem, M2, 0x1234_5000, K4, 1, Prot::READ),
        (K4, Ok(()))
    );
    let top = mem.read(pt.root(), 0);
    assert_eq!(
        top & 0xfff,
        mockpt::PRESENT | mockpt::READABLE | mockpt::WRITABLE
    );
    let l1 = mem.read(MockFormat::table_addr(top), 1);
    let leaf = mem.read(MockFormat::table_addr(l1), 0);
    assert_eq!(leaf, 0x1234_5000 | mockpt::PRESENT | mockpt::READABLE);
    assert!(pt.set_dirty(&mut mem, M2));
    assert_eq!(
        mem.read(MockFormat::table_addr(l1), 0),
        leaf | mockpt::DIRTY
    );
    finish(mem, pt);
}
