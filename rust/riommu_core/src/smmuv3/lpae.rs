// SPDX-License-Identifier: GPL-2.0

//! AArch64 (VMSAv8-64) translation table descriptors with the 4 KiB granule,
//! as the SMMU walks them for stage 1 (CD `TTB0`) and stage 2 (STE `S2TTB`).
//!
//! Both formats have four levels and a 48-bit input: [`super::super::pt`]
//! level 3 is the architecture's level 0 (the root, tables only), pt level 2
//! (architecture level 1) holds 1 GiB blocks, pt level 1 (architecture level
//! 2) 2 MiB blocks and pt level 0 (architecture level 3) 4 KiB pages. Output
//! addresses are at most 48 bits (bits 47:12 of a descriptor).
//!
//! Leaves are normal write-back inner shareable memory with the access flag
//! set: stage 1 through `MAIR` index [`MAIR_IDX_CACHE`] of [`MAIR`], with
//! `nG` (ASID tagged) and unprivileged access; stage 2 with `MemAttr`
//! [`S2_MEMATTR_OIWB`]. Stage 1 cannot express write-only: a write-only
//! mapping is read-write, as in Linux's io-pgtable-arm.
//!
//! # Dirty state
//!
//! `HD = false` (the default, and what QEMU needs: it has no HTTU and
//! reports C_BAD_CD for a CD with `HA`/`HD`): writable leaves are plainly
//! writable and the dirty state is the software bit [`PTE_SW_DIRTY`]
//! (bit 55, one of the bits 58:55 the architecture leaves to software). The
//! SMMU never sets it, so a driver using these formats must not advertise
//! dirty tracking.
//!
//! `HD = true`: the architecture's hardware dirty state, for a CD with
//! `HA`/`HD` (or an STE with `S2HA`/`S2HD`) on an SMMU with
//! `IDR0.HTTU == 2`. Writable leaves carry [`PTE_DBM`] and start
//! writable-clean, which the SMMU turns into writable-dirty on the first
//! write: stage 1 clean is `AP[2] == 1` (read-only) and dirty `AP[2] == 0`;
//! stage 2 clean is `S2AP[1] == 0` and dirty `S2AP[1] == 1`. A leaf without
//! `DBM` (read-only) is never dirty and [`Format::set_dirty`] leaves it as it
//! is.

use super::super::pt::{level_size, Format, MemType, Prot};
use super::regs::oas_field;

/// Descriptor bit 0: valid.
pub const PTE_VALID: u64 = 1 << 0;
/// Descriptor bits 1:0.
pub const PTE_TYPE_MASK: u64 = 0b11;
/// Bits 1:0 of a block descriptor (architecture levels 1 and 2).
pub const PTE_TYPE_BLOCK: u64 = 0b01;
/// Bits 1:0 of a table descriptor, and of a page descriptor (level 3).
pub const PTE_TYPE_TABLE: u64 = 0b11;
/// Bits 1:0 of a page descriptor at architecture level 3.
pub const PTE_TYPE_PAGE: u64 = 0b11;
/// Low bit of stage 1 `AttrIndx` (bits 4:2) and stage 2 `MemAttr` (5:2).
pub const PTE_ATTR_SHIFT: u32 = 2;
/// Stage 1 `AP[1]`: unprivileged (EL0) access allowed.
pub const PTE_AP_UNPRIV: u64 = 1 << 6;
/// Stage 1 `AP[2]`: read-only.
pub const PTE_AP_RDONLY: u64 = 1 << 7;
/// Stage 2 `S2AP[0]`: reads allowed.
pub const PTE_S2AP_READ: u64 = 1 << 6;
/// Stage 2 `S2AP[1]`: writes allowed.
pub const PTE_S2AP_WRITE: u64 = 1 << 7;
/// Low bit of `SH` (bits 9:8).
pub const PTE_SH_SHIFT: u32 = 8;
/// `SH` inner shareable.
pub const PTE_SH_IS: u64 = 3 << PTE_SH_SHIFT;
/// `SH` outer shareable.
pub const PTE_SH_OS: u64 = 2 << PTE_SH_SHIFT;
/// `SH` (bits 9:8).
pub const PTE_SH_MASK: u64 = 3 << PTE_SH_SHIFT;
/// Stage 1 `AttrIndx` (bits 4:2).
pub const PTE_ATTRINDX_MASK: u64 = 0b111 << PTE_ATTR_SHIFT;
/// Stage 2 `MemAttr` (bits 5:2).
pub const PTE_MEMATTR_MASK: u64 = 0b1111 << PTE_ATTR_SHIFT;
/// `AF`: access flag (else an access flag fault, unless `AFFD`).
pub const PTE_AF: u64 = 1 << 10;
/// Stage 1 `nG`: not global (tagged with the ASID).
pub const PTE_NG: u64 = 1 << 11;
/// `DBM`: dirty bit modifier (hardware dirty state).
pub const PTE_DBM: u64 = 1 << 51;
/// Execute-never: stage 1 `PXN`/`UXN`, stage 2 `XN[1:0]` (bits 54:53).
pub const PTE_XN: u64 = 3 << 53;
/// Software dirty bit of the `HD = false` formats (reserved for software).
pub const PTE_SW_DIRTY: u64 = 1 << 55;
/// Lowest output address bit.
pub const PTE_ADDR_SHIFT: u32 = 12;
/// Number of output address bits a descriptor holds here.
pub const PTE_OA_BITS: u32 = 48;
/// Output address bits 47:12.
pub const PTE_ADDR_MASK: u64 = ((1 << PTE_OA_BITS) - 1) & !((1 << PTE_ADDR_SHIFT) - 1);

/// `MAIR` attribute: normal non-cacheable.
pub const MAIR_ATTR_NC: u64 = 0x44;
/// `MAIR` attribute: normal write-back, read/write allocate.
pub const MAIR_ATTR_WBRWA: u64 = 0xff;
/// `MAIR` attribute: Device-nGnRE.
pub const MAIR_ATTR_DEVICE: u64 = 0x04;
/// `MAIR` attribute: inner non-cacheable, outer write-back.
pub const MAIR_ATTR_INC_OWBRWA: u64 = 0xf4;
/// Bits per `MAIR` attribute.
const MAIR_ATTR_BITS: u32 = 8;
/// `MAIR` index of [`MAIR_ATTR_NC`].
pub const MAIR_IDX_NC: u64 = 0;
/// `MAIR` index of [`MAIR_ATTR_WBRWA`], used by the leaves.
pub const MAIR_IDX_CACHE: u64 = 1;
/// `MAIR` index of [`MAIR_ATTR_DEVICE`].
pub const MAIR_IDX_DEVICE: u64 = 2;
/// `MAIR` index of [`MAIR_ATTR_INC_OWBRWA`].
pub const MAIR_IDX_INC_OCACHE: u64 = 3;
/// The `MAIR` for [`super::cd::CdCfg::mair`] (the layout of Linux's
/// io-pgtable-arm).
pub const MAIR: u64 = (MAIR_ATTR_NC << (MAIR_IDX_NC as u32 * MAIR_ATTR_BITS))
    | (MAIR_ATTR_WBRWA << (MAIR_IDX_CACHE as u32 * MAIR_ATTR_BITS))
    | (MAIR_ATTR_DEVICE << (MAIR_IDX_DEVICE as u32 * MAIR_ATTR_BITS))
    | (MAIR_ATTR_INC_OWBRWA << (MAIR_IDX_INC_OCACHE as u32 * MAIR_ATTR_BITS));
/// Stage 2 `MemAttr`: normal, inner and outer write-back.
pub const S2_MEMATTR_OIWB: u64 = 0xf;
/// Stage 2 `MemAttr`: normal, inner and outer non-cacheable.
pub const S2_MEMATTR_NC: u64 = 0x5;
/// Stage 2 `MemAttr`: Device-nGnRE.
pub const S2_MEMATTR_DEV: u64 = 0x1;

/// The memory attribute and shareability bits of a leaf of type `mem`, as
/// Linux's `arm_lpae_prot_to_pte()`: stage 1 through `AttrIndx` into
/// [`MAIR`] (`IOMMU_MMIO` Device, `IOMMU_CACHE` write-back, else
/// non-cacheable), stage 2 through `MemAttr`; inner shareable for cached
/// memory, outer shareable otherwise.
const fn mem_bits(mem: MemType, stage2: bool) -> u64 {
    let attr = match (mem, stage2) {
        (MemType::Cached | MemType::Snooped, false) => MAIR_IDX_CACHE,
        (MemType::NonCached, false) => MAIR_IDX_NC,
        (MemType::Mmio, false) => MAIR_IDX_DEVICE,
        (MemType::Cached | MemType::Snooped, true) => S2_MEMATTR_OIWB,
        (MemType::NonCached, true) => S2_MEMATTR_NC,
        (MemType::Mmio, true) => S2_MEMATTR_DEV,
    };
    let sh = match mem {
        MemType::Cached | MemType::Snooped => PTE_SH_IS,
        MemType::NonCached | MemType::Mmio => PTE_SH_OS,
    };
    (attr << PTE_ATTR_SHIFT) | sh
}

/// The memory type of the leaf `pte` (what [`mem_bits`] wrote).
const fn mem_of(pte: u64, stage2: bool) -> MemType {
    let attr = if stage2 {
        (pte & PTE_MEMATTR_MASK) >> PTE_ATTR_SHIFT
    } else {
        (pte & PTE_ATTRINDX_MASK) >> PTE_ATTR_SHIFT
    };
    match (attr, stage2) {
        (MAIR_IDX_NC, false) | (S2_MEMATTR_NC, true) => MemType::NonCached,
        (MAIR_IDX_DEVICE, false) | (S2_MEMATTR_DEV, true) => MemType::Mmio,
        _ => MemType::Cached,
    }
}

/// Number of levels of both formats.
pub const LEVELS: usize = 4;
/// Leaves at pt levels 0 (4 KiB), 1 (2 MiB) and 2 (1 GiB).
pub const LEAF_LEVELS: u32 = 0b111;
/// The input size the four levels resolve.
pub const MAX_INPUT_BITS: u32 = 48;
/// The smallest input size whose walk starts at architecture level 0 (with
/// fewer bits the walk would start lower, and the root would not be the
/// pt level 3 table).
pub const MIN_INPUT_BITS: u32 = 40;
/// The number of `T0SZ` bits the input size is subtracted from.
const T0SZ_BASE: u32 = 64;

/// The size fields shared by a CD's `TCR` and an STE's `VTCR` for a walk of
/// these tables: `(T0SZ, IPS/PS)` for an `input_bits` input (40 to 48, the
/// four-level walk from level 0) and an output of `oas_bits` (an
/// `IDR5.OAS` size).  `None` if either is out of range.
pub const fn size_fields(input_bits: u32, oas_bits: u32) -> Option<(u64, u64)> {
    if input_bits < MIN_INPUT_BITS || input_bits > MAX_INPUT_BITS {
        return None;
    }
    match oas_field(oas_bits) {
        Some(ps) => Some(((T0SZ_BASE - input_bits) as u64, ps)),
        None => None,
    }
}

/// Whether `pte` is a valid descriptor.
const fn present(pte: u64) -> bool {
    pte & PTE_VALID != 0
}

/// Whether `pte` at pt `level` is a leaf (a page, or a block above level 0).
const fn leaf(pte: u64, level: usize) -> bool {
    present(pte) && (level == 0 || pte & PTE_TYPE_MASK == PTE_TYPE_BLOCK)
}

/// The address and type bits of a leaf at pt `level`.
const fn leaf_base(phys: u64, level: usize) -> u64 {
    let ty = if level == 0 {
        PTE_TYPE_PAGE
    } else {
        PTE_TYPE_BLOCK
    };
    (phys & PTE_ADDR_MASK) | ty | PTE_AF
}

/// The output address of the leaf `pte` at pt `level`.
fn leaf_addr(pte: u64, level: usize) -> u64 {
    pte & PTE_ADDR_MASK & !(level_size(level) - 1)
}

/// The stage 1 format; `HD` selects the dirty state convention (see the
/// module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stage1Lpae<const HD: bool = false>;

/// The stage 2 format; `HD` selects the dirty state convention (see the
/// module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stage2Lpae<const HD: bool = false>;

impl<const HD: bool> Stage1Lpae<HD> {
    /// The permissions of the leaf `pte` (writable-clean counts as writable).
    pub const fn prot(pte: u64) -> Prot {
        let writable = pte & PTE_AP_RDONLY == 0 || (HD && pte & PTE_DBM != 0);
        Prot {
            read: true,
            write: writable,
            mem: mem_of(pte, false),
        }
    }
}

impl<const HD: bool> Format for Stage1Lpae<HD> {
    const BREAK_BEFORE_MAKE: bool = true;
    const LEVELS: usize = LEVELS;
    const LEAF_LEVELS: u32 = LEAF_LEVELS;

    fn is_present(pte: u64) -> bool {
        present(pte)
    }

    fn is_leaf(pte: u64, level: usize) -> bool {
        leaf(pte, level)
    }

    fn make_table(table: u64) -> u64 {
        (table & PTE_ADDR_MASK) | PTE_TYPE_TABLE
    }

    fn table_addr(pte: u64) -> u64 {
        pte & PTE_ADDR_MASK
    }

    fn make_leaf(phys: u64, level: usize, prot: Prot) -> u64 {
        let mut pte = leaf_base(phys, level) | PTE_NG | PTE_AP_UNPRIV | mem_bits(prot.mem, false);
        if !prot.write {
            pte |= PTE_AP_RDONLY;
        } else if HD {
            pte |= PTE_DBM | PTE_AP_RDONLY;
        }
        pte
    }

    fn leaf_phys(pte: u64, level: usize) -> u64 {
        leaf_addr(pte, level)
    }

    fn is_dirty(pte: u64) -> bool {
        if HD {
            pte & (PTE_DBM | PTE_AP_RDONLY) == PTE_DBM
        } else {
            pte & PTE_SW_DIRTY != 0
        }
    }

    fn set_dirty(pte: u64) -> u64 {
        if !HD {
            pte | PTE_SW_DIRTY
        } else if pte & PTE_DBM != 0 {
            pte & !PTE_AP_RDONLY
        } else {
            pte
        }
    }

    fn clear_dirty(pte: u64) -> u64 {
        if !HD {
            pte & !PTE_SW_DIRTY
        } else if pte & PTE_DBM != 0 {
            pte | PTE_AP_RDONLY
        } else {
            pte
        }
    }
}

impl<const HD: bool> Stage2Lpae<HD> {
    /// The permissions of the leaf `pte` (writable-clean counts as writable).
    pub const fn prot(pte: u64) -> Prot {
        Prot {
            read: pte & PTE_S2AP_READ != 0,
            write: pte & PTE_S2AP_WRITE != 0 || (HD && pte & PTE_DBM != 0),
            mem: mem_of(pte, true),
        }
    }
}

impl<const HD: bool> Format for Stage2Lpae<HD> {
    const BREAK_BEFORE_MAKE: bool = true;
    const LEVELS: usize = LEVELS;
    const LEAF_LEVELS: u32 = LEAF_LEVELS;

    fn is_present(pte: u64) -> bool {
        present(pte)
    }

    fn is_leaf(pte: u64, level: usize) -> bool {
        leaf(pte, level)
    }

    fn make_table(table: u64) -> u64 {
        (table & PTE_ADDR_MASK) | PTE_TYPE_TABLE
    }

    fn table_addr(pte: u64) -> u64 {
        pte & PTE_ADDR_MASK
    }

    fn make_leaf(phys: u64, level: usize, prot: Prot) -> u64 {
        let mut pte = leaf_base(phys, level) | mem_bits(prot.mem, true);
        if prot.read {
            pte |= PTE_S2AP_READ;
        }
        if prot.write {
            pte |= if HD { PTE_DBM } else { PTE_S2AP_WRITE };
        }
        pte
    }

    fn leaf_phys(pte: u64, level: usize) -> u64 {
        leaf_addr(pte, level)
    }

    fn is_dirty(pte: u64) -> bool {
        if HD {
            pte & (PTE_DBM | PTE_S2AP_WRITE) == PTE_DBM | PTE_S2AP_WRITE
        } else {
            pte & PTE_SW_DIRTY != 0
        }
    }

    fn set_dirty(pte: u64) -> u64 {
        if !HD {
            pte | PTE_SW_DIRTY
        } else if pte & PTE_DBM != 0 {
            pte | PTE_S2AP_WRITE
        } else {
            pte
        }
    }

    fn clear_dirty(pte: u64) -> u64 {
        if !HD {
            pte & !PTE_SW_DIRTY
        } else if pte & PTE_DBM != 0 {
            pte & !PTE_S2AP_WRITE
        } else {
            pte
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::errno::Errno;
    use super::super::super::pt::{PageTable, TableMem};
    use super::*;

    /// Table memory over a vector; table `i` lives at `(i + 1) * 4 KiB`.
    /// It records each break-before-make flush with the number of
    /// non-zero entries at level-1 index 0 of the first level-1 table seen
    /// (the entry a 2 MiB leaf at IOVA 0 replaces), or fails them.
    #[derive(Default)]
    struct Mem {
        tables: Vec<Option<[u64; 512]>>,
        flushes: Vec<(u64, u64, u64)>,
        fail_flush: bool,
    }

    impl TableMem for Mem {
        fn alloc_table(&mut self) -> Result<u64, Errno> {
            self.tables.push(Some([0; 512]));
            Ok(self.tables.len() as u64 * 4096)
        }
        fn free_table(&mut self, table: u64) {
            self.tables[table as usize / 4096 - 1] = None;
        }
        fn read(&self, table: u64, index: usize) -> u64 {
            self.tables[table as usize / 4096 - 1].unwrap()[index]
        }
        fn write(&mut self, table: u64, index: usize, value: u64) {
            self.tables[table as usize / 4096 - 1].as_mut().unwrap()[index] = value;
        }
        fn break_flush(&mut self, iova: u64, size: u64) -> Result<(), Errno> {
            // Table 3 is the level-1 table of IOVA 0 (root, level 2, level 1).
            let entry = self.tables[2].unwrap()[0];
            self.flushes.push((iova, size, entry));
            if self.fail_flush {
                Err(Errno::EIO)
            } else {
                Ok(())
            }
        }
    }

    /// A 2 MiB block over an empty level-0 table: the table entry is
    /// cleared, the walk caches flushed (`break_flush`, entry zero at that
    /// moment), then the block written and the table freed; a failing flush
    /// restores the table entry and frees nothing.
    #[test]
    fn block_over_table_breaks_before_make() {
        for stage2 in [false, true] {
            let mut mem = Mem::default();
            let rw = Prot::READ_WRITE;
            let (done, r) = if stage2 {
                let mut t = PageTable::<Stage2Lpae<false>>::new(&mut mem).unwrap();
                let r = t.map_pages(&mut mem, 0x1000, 0x8000_1000, 0x1000, 1, rw);
                assert_eq!(t.unmap_pages(&mut mem, 0x1000, 0x1000, 1), 0x1000);
                assert!(mem.flushes.is_empty());
                assert_eq!(r, (0x1000, Ok(())));
                let table = mem.tables[2].unwrap()[0];
                mem.fail_flush = true;
                assert_eq!(
                    t.map_pages(&mut mem, 0, 0x8000_0000, 0x20_0000, 1, rw),
                    (0, Err(Errno::EIO))
                );
                assert_eq!(mem.tables[2].unwrap()[0], table);
                assert!(mem.tables[3].is_some());
                mem.fail_flush = false;
                let r = t.map_pages(&mut mem, 0, 0x8000_0000, 0x20_0000, 1, rw);
                assert_eq!(t.iova_to_phys(&mem, 0x1234), 0x8000_1234);
                t.free_all(&mut mem);
                r
            } else {
                let mut t = PageTable::<Stage1Lpae<false>>::new(&mut mem).unwrap();
                let r = t.map_pages(&mut mem, 0x1000, 0x8000_1000, 0x1000, 1, rw);
                assert_eq!(t.unmap_pages(&mut mem, 0x1000, 0x1000, 1), 0x1000);
                assert_eq!(r, (0x1000, Ok(())));
                let r = t.map_pages(&mut mem, 0, 0x8000_0000, 0x20_0000, 1, rw);
                assert_eq!(t.iova_to_phys(&mem, 0x1234), 0x8000_1234);
                t.free_all(&mut mem);
                r
            };
            assert_eq!((done, r), (0x20_0000, Ok(())));
            let last = *mem.flushes.last().unwrap();
            assert_eq!(last, (0, 0x20_0000, 0), "stage2 {stage2}");
        }
    }

    #[test]
    fn leaves_match_linux_io_pgtable_arm() {
        // arm_lpae_prot_to_pte(IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE) plus
        // the type bits, for a page at level 3 and a 2 MiB block.
        let s1_rw = PTE_NG | PTE_AP_UNPRIV | 1 << 2 | 3 << 8 | PTE_AF;
        assert_eq!(
            Stage1Lpae::<false>::make_leaf(0x1234_5000, 0, Prot::READ_WRITE),
            0x1234_5000 | s1_rw | 0b11
        );
        assert_eq!(
            Stage1Lpae::<false>::make_leaf(0x4020_0000, 1, Prot::READ),
            0x4020_0000 | s1_rw | PTE_AP_RDONLY | 0b01
        );
        // With IO_PGTABLE_QUIRK_ARM_HD a writable leaf is DBM, and Linux's
        // iopte_set_writeable_clean() sets AP_RDONLY.
        assert_eq!(
            Stage1Lpae::<true>::make_leaf(0x1000, 0, Prot::READ_WRITE),
            0x1000 | s1_rw | PTE_DBM | PTE_AP_RDONLY | 0b11
        );
        let s2_rw = 3 << 6 | 0xf << 2 | 3 << 8 | PTE_AF;
        assert_eq!(
            Stage2Lpae::<false>::make_leaf(0x8000_0000, 2, Prot::READ_WRITE),
            0x8000_0000 | s2_rw | 0b01
        );
        assert_eq!(
            Stage2Lpae::<false>::make_leaf(0x8000_0000, 0, Prot::WRITE),
            0x8000_0000 | (s2_rw & !PTE_S2AP_READ) | 0b11
        );
        assert_eq!(Stage1Lpae::<false>::make_table(0x7000), 0x7003);
        assert_eq!(MAIR, 0xf404_ff44);
        // Write-only is read-write at stage 1.
        assert_eq!(
            Stage1Lpae::<false>::prot(Stage1Lpae::<false>::make_leaf(0, 0, Prot::WRITE)),
            Prot::READ_WRITE
        );
        assert_eq!(
            Stage2Lpae::<false>::prot(Stage2Lpae::<false>::make_leaf(0, 0, Prot::WRITE)),
            Prot::WRITE
        );
    }

    #[test]
    fn memory_types_match_linux_io_pgtable_arm() {
        // arm_lpae_prot_to_pte() with IOMMU_MMIO, and with neither
        // IOMMU_MMIO nor IOMMU_CACHE: stage 1 AttrIndx 2 (Device) or 0
        // (non-cacheable), stage 2 MemAttr 0x1 or 0x5, outer shareable.
        // (Linux gives an IOMMU_MMIO | IOMMU_CACHE leaf SH_IS; shareability
        // does not apply to Device memory, which is outer shareable.)
        let rw = |mem| Prot::READ_WRITE.with_mem(mem);
        let s1 = PTE_NG | PTE_AP_UNPRIV | PTE_AF | 2 << 8 | 0b11;
        assert_eq!(
            Stage1Lpae::<false>::make_leaf(0x1000, 0, rw(MemType::Mmio)),
            0x1000 | s1 | 2 << 2
        );
        assert_eq!(
            Stage1Lpae::<false>::make_leaf(0x1000, 0, rw(MemType::NonCached)),
            0x1000 | s1
        );
        let s2 = 3 << 6 | PTE_AF | 2 << 8 | 0b11;
        assert_eq!(
            Stage2Lpae::<false>::make_leaf(0x1000, 0, rw(MemType::Mmio)),
            0x1000 | s2 | 0x1 << 2
        );
        assert_eq!(
            Stage2Lpae::<false>::make_leaf(0x1000, 0, rw(MemType::NonCached)),
            0x1000 | s2 | 0x5 << 2
        );
        // Read back from the leaves, for both stages and all types.
        for mem in [MemType::Cached, MemType::NonCached, MemType::Mmio] {
            for level in 0..3 {
                let p = Prot::READ.with_mem(mem);
                let l1 = Stage1Lpae::<false>::make_leaf(level_size(level), level, p);
                let l2 = Stage2Lpae::<true>::make_leaf(level_size(level), level, p);
                assert_eq!(Stage1Lpae::<false>::prot(l1), p);
                assert_eq!(Stage2Lpae::<true>::prot(l2), p);
                assert_eq!(Stage1Lpae::<false>::leaf_phys(l1, level), level_size(level));
            }
        }
    }

    #[test]
    fn leaf_and_table_classification() {
        type F = Stage2Lpae;
        let block = F::make_leaf(1 << 30, 2, Prot::READ);
        let table = F::make_table(0x5000);
        assert!(F::is_leaf(block, 2) && F::is_leaf(block, 1));
        assert!(!F::is_leaf(table, 2) && F::is_present(table));
        // At level 0 every present entry is a leaf (a page: type 0b11).
        assert!(F::is_leaf(table, 0));
        assert!(!F::is_present(0) && !F::is_leaf(0, 0));
        assert_eq!(F::leaf_phys(block, 2), 1 << 30);
        assert_eq!(F::table_addr(table), 0x5000);
        // Bits above 47 and attribute bits never leak into addresses.
        assert_eq!(F::leaf_phys(block | PTE_DBM | PTE_XN, 2), 1 << 30);
    }

    /// The [`Format`] dirty contract: a new leaf is clean, set/clear round
    /// trip, and read-only leaves of the HD formats never get dirty.
    fn dirty_contract<F: Format>(hw_readonly_stays_clean: bool) {
        for level in 0..3 {
            for prot in [Prot::READ, Prot::WRITE, Prot::READ_WRITE] {
                let pte = F::make_leaf(level_size(level) * 3, level, prot);
                assert!(!F::is_dirty(pte));
                let dirty = F::set_dirty(pte);
                let can_dirty = prot.write || !hw_readonly_stays_clean;
                assert_eq!(F::is_dirty(dirty), can_dirty);
                assert_eq!(F::clear_dirty(dirty), pte);
                assert_eq!(F::leaf_phys(dirty, level), level_size(level) * 3);
                assert!(F::is_leaf(dirty, level));
            }
        }
    }

    #[test]
    fn dirty_state_conventions() {
        dirty_contract::<Stage1Lpae<false>>(false);
        dirty_contract::<Stage2Lpae<false>>(false);
        dirty_contract::<Stage1Lpae<true>>(true);
        dirty_contract::<Stage2Lpae<true>>(true);
        // HD stage 1: clean = DBM + AP[2]; the SMMU clears AP[2] on a write.
        let clean = Stage1Lpae::<true>::make_leaf(0, 0, Prot::READ_WRITE);
        assert!(!Stage1Lpae::<true>::is_dirty(clean));
        assert!(Stage1Lpae::<true>::is_dirty(clean & !PTE_AP_RDONLY));
        // HD stage 2: clean = DBM, S2AP[1] clear; the SMMU sets S2AP[1].
        let clean = Stage2Lpae::<true>::make_leaf(0, 0, Prot::READ_WRITE);
        assert_eq!(clean & PTE_S2AP_WRITE, 0);
        assert!(Stage2Lpae::<true>::is_dirty(clean | PTE_S2AP_WRITE));
        assert_eq!(Stage2Lpae::<true>::prot(clean), Prot::READ_WRITE);
        // Software bit formats.
        let pte = Stage1Lpae::<false>::make_leaf(0, 0, Prot::READ_WRITE);
        assert_eq!(Stage1Lpae::<false>::set_dirty(pte), pte | PTE_SW_DIRTY);
    }

    fn page_table_works<F: Format>() {
        let mut mem = Mem::default();
        let mut pt = PageTable::<F>::new(&mut mem).unwrap();
        assert_eq!(PageTable::<F>::va_bits(), 48);
        assert_eq!(
            PageTable::<F>::pgsize_bitmap(),
            (1 << 12) | (1 << 21) | (1 << 30)
        );
        let rw = Prot::READ_WRITE;
        assert_eq!(
            pt.map_pages(&mut mem, 0x7f_c000_0000, 0x40_0000_0000, 1 << 30, 1, rw),
            (1 << 30, Ok(()))
        );
        assert_eq!(
            pt.map_pages(&mut mem, 0x1000, 0xabc_d000, 1 << 12, 3, rw),
            (3 << 12, Ok(()))
        );
        // The top-level entry points to a table with the table type.
        let root_pte = mem.read(pt.root(), 0);
        assert_eq!(root_pte & PTE_TYPE_MASK, PTE_TYPE_TABLE);
        let leaf = pt.lookup(&mem, 0x7f_c000_1234).unwrap();
        assert_eq!(leaf.phys, 0x40_0000_1234);
        assert_eq!(leaf.level, 2);
        assert_eq!(pt.iova_to_phys(&mem, 0x2008), 0xabc_e008);
        // An output address above 47 bits does not fit a descriptor.
        assert_eq!(
            pt.map_pages(&mut mem, 0x10_0000, 1 << 48, 1 << 12, 1, rw),
            (0, Err(Errno::ERANGE))
        );
        assert!(pt.set_dirty(&mut mem, 0x2000));
        let mut seen = Vec::new();
        pt.read_and_clear_dirty(&mut mem, 0, 1 << 40, false, |a, l| seen.push((a, l)));
        assert_eq!(seen, [(0x2000, 0x1000)]);
        assert_eq!(pt.unmap_pages(&mut mem, 0x1000, 1 << 12, 3), 3 << 12);
        pt.destroy(&mut mem);
        assert!(mem.tables.iter().all(Option::is_none));
    }

    #[test]
    fn page_tables_map_unmap_and_track_dirt() {
        page_table_works::<Stage1Lpae<false>>();
        page_table_works::<Stage1Lpae<true>>();
        page_table_works::<Stage2Lpae<false>>();
        page_table_works::<Stage2Lpae<true>>();
    }
}
