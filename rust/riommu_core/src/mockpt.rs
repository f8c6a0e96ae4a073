// SPDX-License-Identifier: GPL-2.0

//! The page table entry format of riommu_mock.
//!
//! The geometry is that of the kernel's C selftest mock (generic_pt's
//! `amdv1` format built with `AMDV1_IOMMUFD_SELFTEST`, set up by
//! `mock_domain_alloc_pgtable()` with `starting_level = 2`): a 2 KiB granule
//! (`PT_GRANULE_LG2SZ = 11`), tables of 4 KiB with 512 entries, three levels
//! translating a 38-bit IOVA. Entries map 2 KiB at level 0, 1 MiB at level 1
//! and 512 MiB at level 2, and every level holds leaves; a leaf may also span
//! `2^n` consecutive entries of its table, `n` up to 8 (AMDv1's contiguous
//! "page size" encoding), so every power of two from 2 KiB to 64 GiB is a
//! page size ([`super::pt::PageTable::pgsize_bitmap`], as the C mock's
//! `domain->pgsize_bitmap`).
//!
//! An entry is (our own encoding, not AMDv1's bits):
//!
//! | bits    | meaning                                                   |
//! |---------|-----------------------------------------------------------|
//! | 0       | present                                                   |
//! | 1       | readable                                                  |
//! | 2       | writable                                                  |
//! | 6       | dirty (leaves: of this entry)                             |
//! | 7       | leaf ("page size") at levels 1 and 2                      |
//! | 11..=51 | address of the page (leaf) or next table                  |
//! | 52..=55 | leaves: log2 of the number of entries the leaf spans      |
//!
//! Every entry of a contiguous leaf holds the address of the whole leaf;
//! the leaf is dirty if any entry is. Addresses have 52 bits, as physical
//! addresses on x86_64 and arm64, so that any table page round-trips through
//! its entry (`TrustedFormat`); the C mock's output is one bit narrower
//! (`hw_max_oasz_lg2 = 51`), which no test can tell. Table entries are present, readable and
//! writable (the leaf alone decides the permissions); every other bit is zero.

use super::pt::{granule_level_shift, Format, MemType, Prot};

/// Present.
pub const PRESENT: u64 = 1 << 0;
/// Readable by DMA.
pub const READABLE: u64 = 1 << 1;
/// Writable by DMA.
pub const WRITABLE: u64 = 1 << 2;
/// Dirty: written by DMA since the bit was last cleared.
pub const DIRTY: u64 = 1 << 6;
/// Leaf ("page size") at levels 1 and 2; level 0 present entries are leaves.
pub const LEAF: u64 = 1 << 7;
/// log2 of the granule (the C mock's `MOCK_PAGE_SIZE`, 2 KiB).
pub const GRANULE_SHIFT: u32 = 11;
/// Lowest address bit.
pub const ADDR_SHIFT: u32 = GRANULE_SHIFT;
/// Highest address bit.
pub const ADDR_LAST_BIT: u32 = 51;
/// Address bits 11..=51.
pub const ADDR_MASK: u64 = ((1 << (ADDR_LAST_BIT + 1)) - 1) & !((1 << ADDR_SHIFT) - 1);
/// Lowest bit of a leaf's number of entries (log2).
pub const CONTIG_SHIFT: u32 = 52;
/// A leaf's number of entries (log2), bits 52..=55.
pub const CONTIG_MASK: u64 = 0xf << CONTIG_SHIFT;

/// Number of levels.
pub const LEVELS: usize = 3;
/// Leaves at levels 0, 1 and 2.
pub const LEAF_LEVELS: u32 = 0b111;
/// Leaves of up to 2^8 entries.
pub const CONTIG_MAX_LG2: u32 = 8;

/// The riommu_mock PTE format (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MockFormat;

impl MockFormat {
    /// The permissions of the leaf `pte`.
    pub const fn prot(pte: u64) -> Prot {
        Prot {
            read: pte & READABLE != 0,
            write: pte & WRITABLE != 0,
            // The mock's entries have no memory type.
            mem: MemType::Cached,
        }
    }

    /// log2 of the size of the leaf `pte` found at `level`.
    const fn leaf_shift(pte: u64, level: usize) -> u32 {
        granule_level_shift(GRANULE_SHIFT, level) + ((pte & CONTIG_MASK) >> CONTIG_SHIFT) as u32
    }
}

impl Format for MockFormat {
    const GRANULE_SHIFT: u32 = GRANULE_SHIFT;
    const LEVELS: usize = LEVELS;
    const LEAF_LEVELS: u32 = LEAF_LEVELS;
    const CONTIG_MAX_LG2: u32 = CONTIG_MAX_LG2;

    fn is_present(pte: u64) -> bool {
        pte & PRESENT != 0
    }

    fn is_leaf(pte: u64, level: usize) -> bool {
        pte & PRESENT != 0 && (level == 0 || pte & LEAF != 0)
    }

    fn make_table(table: u64) -> u64 {
        (table & ADDR_MASK) | PRESENT | READABLE | WRITABLE
    }

    fn table_addr(pte: u64) -> u64 {
        pte & ADDR_MASK
    }

    fn make_leaf(phys: u64, level: usize, prot: Prot) -> u64 {
        Self::make_contig_leaf(phys, level, 0, prot)
    }

    fn make_contig_leaf(phys: u64, level: usize, contig_lg2: u32, prot: Prot) -> u64 {
        let mut pte =
            (phys & ADDR_MASK) | PRESENT | ((u64::from(contig_lg2) << CONTIG_SHIFT) & CONTIG_MASK);
        if prot.read {
            pte |= READABLE;
        }
        if prot.write {
            pte |= WRITABLE;
        }
        if level != 0 {
            pte |= LEAF;
        }
        pte
    }

    fn leaf_contig_lg2(pte: u64, _level: usize) -> u32 {
        ((pte & CONTIG_MASK) >> CONTIG_SHIFT) as u32
    }

    fn leaf_phys(pte: u64, level: usize) -> u64 {
        let shift = Self::leaf_shift(pte, level);
        pte & ADDR_MASK & !((1u64 << shift) - 1)
    }

    fn is_dirty(pte: u64) -> bool {
        pte & DIRTY != 0
    }

    fn set_dirty(pte: u64) -> u64 {
        pte | DIRTY
    }

    fn clear_dirty(pte: u64) -> u64 {
        pte & !DIRTY
    }
}

#[cfg(test)]
mod tests {
    use super::super::pt::PageTable;
    use super::*;

    type Pt = PageTable<MockFormat>;

    #[test]
    fn constants() {
        assert_eq!(ADDR_MASK, 0x000f_ffff_ffff_f800);
        assert_eq!(Pt::va_bits(), 38);
        assert_eq!(Pt::level_size(0), 2048);
        assert_eq!(Pt::level_size(1), 1 << 20);
        assert_eq!(Pt::level_size(2), 1 << 29);
        // generic_pt's get_info() for the C mock: every power of two from
        // 2 KiB (bit 11) to 64 GiB (bit 36), below half the 38-bit space.
        assert_eq!(Pt::pgsize_bitmap(), ((1u64 << 37) - 1) & !((1 << 11) - 1));
    }

    #[test]
    fn leaf_encoding() {
        let pte = MockFormat::make_leaf(0x1234_5800, 0, Prot::READ_WRITE);
        assert_eq!(pte, 0x1234_5800 | 0b111);
        assert!(MockFormat::is_present(pte));
        assert!(MockFormat::is_leaf(pte, 0));
        assert_eq!(MockFormat::leaf_phys(pte, 0), 0x1234_5800);
        assert_eq!(MockFormat::leaf_contig_lg2(pte, 0), 0);
        assert_eq!(MockFormat::prot(pte), Prot::READ_WRITE);

        let pte = MockFormat::make_leaf(0x4010_0000, 1, Prot::READ);
        assert_eq!(pte, 0x4010_0000 | LEAF | READABLE | PRESENT);
        assert!(MockFormat::is_leaf(pte, 1));
        assert_eq!(MockFormat::leaf_phys(pte, 1), 0x4010_0000);
        assert_eq!(MockFormat::prot(pte), Prot::READ);

        let pte = MockFormat::make_leaf(0x8_6000_0000, 2, Prot::WRITE);
        assert_eq!(pte, 0x8_6000_0000 | LEAF | WRITABLE | PRESENT);
        assert!(MockFormat::is_leaf(pte, 2));
        assert_eq!(MockFormat::leaf_phys(pte, 2), 0x8_6000_0000);
        assert_eq!(MockFormat::prot(pte), Prot::WRITE);

        // The highest representable page; bits above 51 are dropped.
        let top = ADDR_MASK;
        let pte = MockFormat::make_leaf(top, 0, Prot::READ);
        assert_eq!(MockFormat::leaf_phys(pte, 0), top);
        let pte = MockFormat::make_leaf(1 << 52, 0, Prot::READ);
        assert_eq!(MockFormat::leaf_phys(pte, 0), 0);
    }

    #[test]
    fn contig_encoding() {
        // A 4 KiB leaf: two 2 KiB entries.
        let pte = MockFormat::make_contig_leaf(0x1000, 0, 1, Prot::READ_WRITE);
        assert_eq!(pte, 0x1000 | (1 << CONTIG_SHIFT) | 0b111);
        assert_eq!(MockFormat::leaf_contig_lg2(pte, 0), 1);
        assert_eq!(MockFormat::leaf_phys(pte, 0), 0x1000);
        // 256 MiB at level 1, the largest there.
        let pte = MockFormat::make_contig_leaf(0x3000_0000, 1, 8, Prot::READ);
        assert_eq!(MockFormat::leaf_contig_lg2(pte, 1), 8);
        assert_eq!(MockFormat::leaf_phys(pte, 1), 0x3000_0000);
        assert!(MockFormat::is_leaf(pte, 1));
        // The dirty bit is independent of the size.
        let d = MockFormat::set_dirty(pte);
        assert_eq!(MockFormat::leaf_contig_lg2(d, 1), 8);
        assert_eq!(MockFormat::clear_dirty(d), pte);
    }

    #[test]
    fn table_encoding() {
        let pte = MockFormat::make_table(0x7000);
        assert_eq!(pte, 0x7000 | PRESENT | READABLE | WRITABLE);
        assert!(MockFormat::is_present(pte));
        assert!(!MockFormat::is_leaf(pte, 1));
        assert!(!MockFormat::is_leaf(pte, 2));
        assert_eq!(MockFormat::table_addr(pte), 0x7000);
        assert!(!MockFormat::is_dirty(pte));
    }

    #[test]
    fn empty_entry() {
        assert!(!MockFormat::is_present(0));
        for level in 0..LEVELS {
            assert!(!MockFormat::is_leaf(0, level));
            // The leaf bit alone is not present.
            assert!(!MockFormat::is_leaf(LEAF, level));
        }
    }

    #[test]
    fn dirty_bit() {
        let pte = MockFormat::make_leaf(0x10_0000, 1, Prot::READ_WRITE);
        assert!(!MockFormat::is_dirty(pte));
        let dirty = MockFormat::set_dirty(pte);
        assert_eq!(dirty, pte | DIRTY);
        assert!(MockFormat::is_dirty(dirty));
        assert_eq!(MockFormat::leaf_phys(dirty, 1), 0x10_0000);
        assert_eq!(MockFormat::clear_dirty(dirty), pte);
        assert_eq!(MockFormat::clear_dirty(pte), pte);
    }
}
