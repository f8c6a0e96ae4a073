// SPDX-License-Identifier: GPL-2.0

//! The riommu_mock page table's geometry, that of the kernel's C selftest
//! mock (generic_pt `amdv1` with `AMDV1_IOMMUFD_SELFTEST`): a 2 KiB granule,
//! contiguous leaves, 1 MiB entries at level 1, a 38-bit IOVA.

// Test code: std is fine, and the helpers need not be reachable.
#![allow(unreachable_pub, clippy::std_instead_of_core)]

mod common;

use common::{walk_leaves_of, VecMem};
use riommu_core::errno::Errno;
use riommu_core::mockpt::MockFormat;
use riommu_core::pt::{Format, PageTable, Prot, TableMem};

type Pt = PageTable<MockFormat>;

const K2: u64 = 1 << 11;
const K4: u64 = 1 << 12;
const K64: u64 = 1 << 16;
const M1: u64 = 1 << 20;
const M512: u64 = 1 << 29;
const RW: Prot = Prot::READ_WRITE;
/// The C mock's `MOCK_APERTURE_START`.
const APERTURE_START: u64 = 1 << 24;

fn setup() -> (VecMem, Pt) {
    let mut mem = VecMem::new();
    let pt = Pt::new(&mut mem).unwrap();
    (mem, pt)
}

fn finish(mut mem: VecMem, pt: Pt) {
    assert_eq!(pt.table_count(), mem.live());
    let (_, reachable) = walk_leaves_of::<MockFormat>(&mem, pt.root());
    assert_eq!(reachable, mem.live(), "unreachable tables");
    pt.destroy(&mut mem);
    assert_eq!(mem.live(), 0);
}

/// `(iova, size, dirty)` of every leaf.
fn leaves(mem: &VecMem, pt: &Pt) -> Vec<(u64, u64, bool)> {
    walk_leaves_of::<MockFormat>(mem, pt.root())
        .0
        .iter()
        .map(|l| (l.iova, l.size, l.dirty))
        .collect()
}

fn read(pt: &mut Pt, mem: &mut VecMem, iova: u64, size: u64, no_clear: bool) -> Vec<(u64, u64)> {
    let mut v = Vec::new();
    pt.read_and_clear_dirty(mem, iova, size, no_clear, |a, l| v.push((a, l)));
    v
}

#[test]
fn geometry_is_the_c_mocks() {
    assert_eq!(Pt::va_bits(), 38);
    let bitmap = Pt::pgsize_bitmap();
    // What iommufd sees as the IOVA alignment: MOCK_PAGE_SIZE.
    assert_eq!(1 << bitmap.trailing_zeros(), K2);
    // The huge variant's sizes are leaves too.
    assert_ne!(bitmap & M1, 0);
    assert_ne!(bitmap & K4, 0);
    // Largest: 64 GiB (128 GiB, half the IOVA space, is hidden as generic_pt
    // hides it).
    assert_eq!(63 - bitmap.leading_zeros(), 36);
    assert_eq!(bitmap.count_ones(), 36 - 11 + 1);
}

#[test]
fn maps_2k_pages() {
    let (mut mem, mut pt) = setup();
    // One 2 KiB page at an odd 2 KiB IOVA and physical address.
    let iova = APERTURE_START + 3 * K2;
    assert_eq!(
        pt.map_pages(&mut mem, iova, 0x9800, K2, 1, RW),
        (K2, Ok(()))
    );
    assert_eq!(pt.iova_to_phys(&mem, iova + 5), 0x9805);
    assert_eq!(pt.iova_to_phys(&mem, iova - 1), 0);
    assert_eq!(pt.iova_to_phys(&mem, iova + K2), 0);
    let leaf = pt.lookup(&mem, iova + 100).unwrap();
    assert_eq!((leaf.iova, leaf.size, leaf.level), (iova, K2, 0));
    // A level-0 table, a level-1 table and the root.
    assert_eq!(pt.table_count(), 3);
    // 1 KiB is not a page size; misaligned addresses are refused.
    let inval = (0, Err(Errno::EINVAL));
    assert_eq!(pt.map_pages(&mut mem, iova, 0, 1024, 1, RW), inval);
    assert_eq!(pt.map_pages(&mut mem, iova + 1024, 0, K2, 1, RW), inval);
    assert_eq!(pt.map_pages(&mut mem, 0, 0x400, K2, 1, RW), inval);
    // 2 KiB pages after each other: 512 of them fill one level-0 table.
    assert_eq!(
        pt.map_pages(&mut mem, 2 * APERTURE_START, 0, K2, 513, RW),
        (513 * K2, Ok(()))
    );
    assert_eq!(pt.iova_to_phys(&mem, 2 * APERTURE_START + M1), M1);
    assert_eq!(pt.unmap_pages(&mut mem, iova, K2, 1), K2);
    assert_eq!(pt.iova_to_phys(&mem, iova), 0);
    assert_eq!(
        pt.unmap_pages(&mut mem, 2 * APERTURE_START, K2, 513),
        513 * K2
    );
    finish(mem, pt);
}

#[test]
fn contiguous_leaves() {
    let (mut mem, mut pt) = setup();
    // A 4 KiB page (what iommufd maps with huge pages off): two entries.
    assert_eq!(
        pt.map_pages(&mut mem, APERTURE_START, 0x5000, K4, 1, RW),
        (K4, Ok(()))
    );
    assert_eq!(leaves(&mem, &pt), vec![(APERTURE_START, K4, false)]);
    let leaf = pt.lookup(&mem, APERTURE_START + K2 + 7).unwrap();
    assert_eq!(
        (leaf.iova, leaf.size, leaf.phys),
        (APERTURE_START, K4, 0x5807)
    );
    // A 2 KiB map over its second half is in use: nothing written.
    assert_eq!(
        pt.map_pages(&mut mem, APERTURE_START + K2, 0, K2, 1, RW),
        (0, Err(Errno::EADDRINUSE))
    );
    // A 64 KiB leaf whose last entry is taken is refused whole.
    let base = APERTURE_START + M1;
    assert_eq!(
        pt.map_pages(&mut mem, base + K64 - K2, 0, K2, 1, RW),
        (K2, Ok(()))
    );
    assert_eq!(
        pt.map_pages(&mut mem, base, 0, K64, 1, RW),
        (0, Err(Errno::EADDRINUSE))
    );
    assert_eq!(pt.iova_to_phys(&mem, base), 0);
    assert_eq!(pt.unmap_pages(&mut mem, base + K64 - K2, K2, 1), K2);
    assert_eq!(
        pt.map_pages(&mut mem, base, K64, K64, 2, RW),
        (2 * K64, Ok(()))
    );
    assert_eq!(pt.iova_to_phys(&mem, base + K64 + 0x1234), 2 * K64 + 0x1234);
    // Unmapping from the middle of a leaf removes nothing; from its start
    // it removes the whole leaf, whatever the page size asked.
    assert_eq!(pt.unmap_pages(&mut mem, base + K4, K4, 1), 0);
    assert_eq!(pt.unmap_pages(&mut mem, base, K2, 64), 2 * K64);
    assert_eq!(pt.unmap_pages(&mut mem, APERTURE_START, K2, 1), 0);
    assert_eq!(pt.unmap_pages(&mut mem, APERTURE_START, K4, 1), K4);
    assert!(leaves(&mem, &pt).is_empty());
    // A 256 MiB leaf at level 1 replaces the (empty) level-0 tables below.
    let before = pt.table_count();
    assert_eq!(
        pt.map_pages(&mut mem, 0, 0, 256 * M1, 1, RW),
        (256 * M1, Ok(()))
    );
    assert!(pt.table_count() < before);
    assert_eq!(leaves(&mem, &pt), vec![(0, 256 * M1, false)]);
    assert_eq!(pt.unmap_pages(&mut mem, 0, 256 * M1, 1), 256 * M1);
    finish(mem, pt);
}

#[test]
fn huge_leaves_are_1m() {
    let (mut mem, mut pt) = setup();
    // 2 MiB of 1 MiB leaves: two level-1 entries (the C mock's huge domain).
    assert_eq!(
        pt.map_pages(&mut mem, APERTURE_START, 0x20_0000, M1, 2, RW),
        (2 * M1, Ok(()))
    );
    assert_eq!(
        leaves(&mem, &pt),
        vec![
            (APERTURE_START, M1, false),
            (APERTURE_START + M1, M1, false)
        ]
    );
    let leaf = pt.lookup(&mem, APERTURE_START + M1 + 5).unwrap();
    assert_eq!((leaf.level, leaf.size, leaf.phys), (1, M1, 0x30_0005));
    // And 512 MiB ones at level 2.
    assert_eq!(pt.map_pages(&mut mem, M512, 0, M512, 1, RW), (M512, Ok(())));
    assert_eq!(pt.lookup(&mem, M512 + 1).unwrap().level, 2);
    finish(mem, pt);
}

#[test]
fn dirty_granularity() {
    let (mut mem, mut pt) = setup();
    // Two 4 KiB leaves, one 1 MiB leaf.
    assert_eq!(
        pt.map_pages(&mut mem, APERTURE_START, 0, K4, 2, RW),
        (2 * K4, Ok(()))
    );
    let huge = APERTURE_START + 2 * M1;
    assert_eq!(pt.map_pages(&mut mem, huge, 0, M1, 1, RW), (M1, Ok(())));
    // Dirtying the second 2 KiB of a 4 KiB leaf dirties the leaf.
    assert!(pt.set_dirty(&mut mem, APERTURE_START + K2));
    assert!(pt.lookup(&mem, APERTURE_START).unwrap().dirty);
    assert!(!pt.lookup(&mem, APERTURE_START + K4).unwrap().dirty);
    assert!(pt.set_dirty(&mut mem, huge + 64 * K4));
    let all = vec![(APERTURE_START, K4), (huge, M1)];
    assert_eq!(read(&mut pt, &mut mem, 0, 1 << 38, true), all);
    // Read in part: reported and cleared whole.
    assert_eq!(
        read(&mut pt, &mut mem, huge + K2, K2, false),
        vec![(huge, M1)]
    );
    assert_eq!(read(&mut pt, &mut mem, huge, M1, false), vec![]);
    // Both entries of the 4 KiB leaf dirty: one leaf, cleared whole.
    assert!(pt.set_dirty(&mut mem, APERTURE_START));
    assert_eq!(
        read(&mut pt, &mut mem, APERTURE_START, 2 * K4, false),
        vec![(APERTURE_START, K4)]
    );
    assert!(leaves(&mem, &pt).iter().all(|l| !l.2));
    // Nothing mapped there.
    assert!(!pt.set_dirty(&mut mem, APERTURE_START + 2 * K4));
    finish(mem, pt);
}

#[test]
fn iova_space_limits() {
    let (mut mem, mut pt) = setup();
    let end = 1u64 << 38;
    // The last 2 KiB page of the (huge domain's) aperture.
    assert_eq!(pt.map_pages(&mut mem, end - K2, 0, K2, 1, RW), (K2, Ok(())));
    assert_eq!(pt.iova_to_phys(&mem, end - 1), K2 - 1);
    let inval = (0, Err(Errno::EINVAL));
    assert_eq!(pt.map_pages(&mut mem, end, 0, K2, 1, RW), inval);
    assert_eq!(pt.map_pages(&mut mem, end - K2, 0, K2, 2, RW), inval);
    // 128 GiB (half the space) is no page size.
    assert_eq!(pt.map_pages(&mut mem, 0, 0, 1 << 37, 1, RW), inval);
    assert_eq!(pt.iova_to_phys(&mem, end), 0);
    // 52-bit output addresses.
    assert_eq!(
        pt.map_pages(&mut mem, 0, 1 << 52, K2, 1, RW),
        (0, Err(Errno::ERANGE))
    );
    assert_eq!(pt.unmap_pages(&mut mem, end - K2, K2, 1), K2);
    finish(mem, pt);
}

#[test]
fn table_memory_is_4k_pages() {
    // Tables stay 4 KiB of 512 entries with a 2 KiB granule.
    let (mut mem, mut pt) = setup();
    assert_eq!(pt.map_pages(&mut mem, M1, 0x800, K2, 1, RW), (K2, Ok(())));
    let l1 = mem.read(pt.root(), 0);
    let l0 = mem.read(l1 & riommu_core::mockpt::ADDR_MASK, 1);
    let leaf = mem.read(l0 & riommu_core::mockpt::ADDR_MASK, 0);
    assert_eq!(leaf, MockFormat::make_leaf(0x800, 0, RW));
    finish(mem, pt);
}
