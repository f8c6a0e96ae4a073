// SPDX-License-Identifier: GPL-2.0

//! The page table entry format of riommu_mock.
//!
//! Three levels translate a 39-bit IOVA; leaves may be 4 KiB (level 0),
//! 2 MiB (level 1) or 1 GiB (level 2). An entry is:
//!
//! | bits   | meaning                                             |
//! |--------|-----------------------------------------------------|
//! | 0      | present                                             |
//! | 1      | readable                                            |
//! | 2      | writable                                            |
//! | 6      | dirty (leaves)                                      |
//! | 7      | leaf ("page size") at levels 1 and 2                |
//! | 12..=51| address of the page (leaf) or next table            |
//!
//! Table entries are present, readable and writable (the leaf alone decides
//! the permissions); every other bit is zero.

use super::pt::{level_size, Format, MemType, Prot};

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
/// Lowest address bit.
pub const ADDR_SHIFT: u32 = 12;
/// Highest address bit.
pub const ADDR_LAST_BIT: u32 = 51;
/// Address bits 12..=51.
pub const ADDR_MASK: u64 = ((1 << (ADDR_LAST_BIT + 1)) - 1) & !((1 << ADDR_SHIFT) - 1);

/// Number of levels.
pub const LEVELS: usize = 3;
/// Leaves at levels 0, 1 and 2.
pub const LEAF_LEVELS: u32 = 0b111;

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
}

impl Format for MockFormat {
    const LEVELS: usize = LEVELS;
    const LEAF_LEVELS: u32 = LEAF_LEVELS;

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
        let mut pte = (phys & ADDR_MASK) | PRESENT;
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

    fn leaf_phys(pte: u64, level: usize) -> u64 {
        pte & ADDR_MASK & !(level_size(level) - 1)
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

    #[test]
    fn constants() {
        assert_eq!(ADDR_MASK, 0x000f_ffff_ffff_f000);
        assert_eq!(PageTable::<MockFormat>::va_bits(), 39);
        assert_eq!(
            PageTable::<MockFormat>::pgsize_bitmap(),
            (1 << 12) | (1 << 21) | (1 << 30)
        );
    }

    #[test]
    fn leaf_encoding() {
        let pte = MockFormat::make_leaf(0x1234_5000, 0, Prot::READ_WRITE);
        assert_eq!(pte, 0x1234_5000 | 0b111);
        assert!(MockFormat::is_present(pte));
        assert!(MockFormat::is_leaf(pte, 0));
        assert_eq!(MockFormat::leaf_phys(pte, 0), 0x1234_5000);
        assert_eq!(MockFormat::prot(pte), Prot::READ_WRITE);

        let pte = MockFormat::make_leaf(0x4020_0000, 1, Prot::READ);
        assert_eq!(pte, 0x4020_0000 | LEAF | READABLE | PRESENT);
        assert!(MockFormat::is_leaf(pte, 1));
        assert_eq!(MockFormat::leaf_phys(pte, 1), 0x4020_0000);
        assert_eq!(MockFormat::prot(pte), Prot::READ);

        let pte = MockFormat::make_leaf(0x8_4000_0000, 2, Prot::WRITE);
        assert_eq!(pte, 0x8_4000_0000 | LEAF | WRITABLE | PRESENT);
        assert!(MockFormat::is_leaf(pte, 2));
        assert_eq!(MockFormat::leaf_phys(pte, 2), 0x8_4000_0000);
        assert_eq!(MockFormat::prot(pte), Prot::WRITE);

        // The highest representable page; bits above 51 are dropped.
        let top = ADDR_MASK;
        let pte = MockFormat::make_leaf(top, 0, Prot::READ);
        assert_eq!(MockFormat::leaf_phys(pte, 0), top);
        let pte = MockFormat::make_leaf(1 << 52, 0, Prot::READ);
        assert_eq!(MockFormat::leaf_phys(pte, 0), 0);
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
        let pte = MockFormat::make_leaf(0x20_0000, 1, Prot::READ_WRITE);
        assert!(!MockFormat::is_dirty(pte));
        let dirty = MockFormat::set_dirty(pte);
        assert_eq!(dirty, pte | DIRTY);
        assert!(MockFormat::is_dirty(dirty));
        assert_eq!(MockFormat::leaf_phys(dirty, 1), 0x20_0000);
        assert_eq!(MockFormat::clear_dirty(dirty), pte);
        assert_eq!(MockFormat::clear_dirty(pte), pte);
    }
}
