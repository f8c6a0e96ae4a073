// SPDX-License-Identifier: GPL-2.0

//! VT-d paging entries as [`Format`]s: the second-stage format (spec 9.8,
//! Linux `generic_pt/fmt/vtdss.h`) and the first-stage format, which is the
//! x86-64 4/5-level format (spec 9.7, Linux `generic_pt/fmt/x86_64.h`).
//!
//! Levels are numbered as in [`super::super::pt`]: level 0 holds 4 KiB
//! leaves, level 1 2 MiB, level 2 1 GiB; the spec's SL-PTE/PDE/PDPE/PML4E
//! are levels 0/1/2/3.

use super::super::bitfield::bitfield;
use super::super::pt::{level_size, Format, MemType, Prot};

/// [`Format::LEAF_LEVELS`] bit for 4 KiB leaves (level 0).
pub const LEAF_4K: u32 = 1 << 0;
/// [`Format::LEAF_LEVELS`] bit for 2 MiB leaves (level 1).
pub const LEAF_2M: u32 = 1 << 1;
/// [`Format::LEAF_LEVELS`] bit for 1 GiB leaves (level 2).
pub const LEAF_1G: u32 = 1 << 2;
/// 4 KiB, 2 MiB and 1 GiB leaves.
pub const LEAF_ALL: u32 = LEAF_4K | LEAF_2M | LEAF_1G;
/// The highest level that can hold a leaf in either format (1 GiB).
const MAX_LEAF_LEVEL: usize = 2;

bitfield! {
    /// A second-stage paging entry (spec 9.8). There is no present bit: an
    /// entry with neither R nor W (nor X) is not present.
    pub struct SsPte([u64; 1]) {
        /// R: read permission.
        r, with_r: 0, 0;
        /// W: write permission.
        w, with_w: 1, 1;
        /// X: execute permission (with PASID-entry SSEE).
        x, with_x: 2, 2;
        /// EMT: extended memory type (leaves, with EMTE).
        emt, with_emt: 5, 3;
        /// IPAT: ignore PAT (leaves).
        ipat, with_ipat: 6, 6;
        /// PS: page size; a leaf at levels 1 and 2.
        ps, with_ps: 7, 7;
        /// A: accessed (with SSADE).
        a, with_a: 8, 8;
        /// D: dirty, leaves only (with SSADE; Linux `DMA_SL_PTE_DIRTY_BIT`).
        d, with_d: 9, 9;
        /// SNP: snoop (leaves, ECAP.SC; QEMU treats it as reserved unless
        /// `snoop-control=on`).
        snp, with_snp: 11, 11;
        /// ADDR: address bits 51:12 of the page or next table.
        addr, with_addr: 51, 12;
    }
}

bitfield! {
    /// A first-stage paging entry (spec 9.7), the x86-64 format.
    pub struct FsPte([u64; 1]) {
        /// P: present.
        p, with_p: 0, 0;
        /// R/W: writable (every level must allow it for a write).
        rw, with_rw: 1, 1;
        /// U/S: user access; QEMU faults (reason 0x81) on any entry
        /// without it, as its devices make user requests only.
        us, with_us: 2, 2;
        /// PWT: page-level write-through.
        pwt, with_pwt: 3, 3;
        /// PCD: page-level cache disable.
        pcd, with_pcd: 4, 4;
        /// A: accessed (set by hardware).
        a, with_a: 5, 5;
        /// D: dirty, leaves only (set by hardware on write).
        d, with_d: 6, 6;
        /// PS: page size, a leaf at levels 1 and 2 (PAT at level 0).
        ps, with_ps: 7, 7;
        /// G: global (leaves).
        g, with_g: 8, 8;
        /// EA: extended accessed (with PASID-entry EAFE).
        ea, with_ea: 10, 10;
        /// ADDR: address bits 51:12 of the page or next table.
        addr, with_addr: 51, 12;
        /// XD: execute disable (with PASID-entry NXE).
        xd, with_xd: 63, 63;
    }
}

/// Mask of the address bits 51:12 in both formats.
pub const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

/// IOVA bits a 4-level first-stage table can translate without leaving the
/// canonical lower half: IOVAs from `1 << 47` up are non-canonical (QEMU
/// fault reason 0x80) unless sign-extended, so a first-stage domain's
/// aperture is `[0, 1 << 47)`.
pub const FS_4LEVEL_CANONICAL_BITS: u32 = 47;
/// Same for 5-level first-stage tables.
pub const FS_5LEVEL_CANONICAL_BITS: u32 = 56;

/// Whether the entry of a table at `level` can be a leaf (`PS`) in either
/// format.
const fn leaf_capable(level: usize) -> bool {
    level != 0 && level <= MAX_LEAF_LEVEL
}

/// The second-stage format with `LEVELS` levels (3: 39-bit AW 1, 4: 48-bit
/// AW 2, 5: 57-bit AW 3; check [`super::regs::Cap::sagaw_supports`]) and
/// leaves at `LEAF_LEVELS` (a subset of [`LEAF_ALL`] that
/// [`super::regs::Cap::ss_leaf_levels`] allows).
///
/// Entries are as Linux `vtdss` builds them: tables are R|W, leaves R and/or
/// W with PS above level 0, and SNP for [`MemType::Snooped`] (a domain
/// made coherent by `enforce_cache_coherency`); X is never set. Dirty is the D bit,
/// which the hardware sets only with the PASID entry's SSADE.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VtdSecondStage<const LEVELS: usize, const LEAF_LEVELS: u32>;

/// 3-level (39-bit) second stage with 4 KiB, 2 MiB and 1 GiB leaves.
pub type VtdSs3 = VtdSecondStage<3, LEAF_ALL>;
/// 4-level (48-bit) second stage with 4 KiB, 2 MiB and 1 GiB leaves (QEMU's
/// SLLPS).
pub type VtdSs4 = VtdSecondStage<4, LEAF_ALL>;
/// 4-level second stage with 4 KiB and 2 MiB leaves.
pub type VtdSs4No1G = VtdSecondStage<4, { LEAF_4K | LEAF_2M }>;

impl<const LEVELS: usize, const LEAF_LEVELS: u32> VtdSecondStage<LEVELS, LEAF_LEVELS> {
    /// The permissions of the leaf `pte`.
    pub const fn prot(pte: u64) -> Prot {
        let e = SsPte([pte]);
        Prot {
            read: e.r() != 0,
            write: e.w() != 0,
            mem: if e.snp() != 0 {
                MemType::Snooped
            } else {
                MemType::Cached
            },
        }
    }
}

/// R, W and X of a second-stage entry: any set makes it present.
const SS_PRESENT_MASK: u64 = 0b111;
/// SNP of a second-stage entry.
const SNP_BIT: u64 = 1 << 11;

impl<const LEVELS: usize, const LEAF_LEVELS: u32> Format for VtdSecondStage<LEVELS, LEAF_LEVELS> {
    const LEVELS: usize = LEVELS;
    const LEAF_LEVELS: u32 = LEAF_LEVELS;

    fn is_present(pte: u64) -> bool {
        pte & SS_PRESENT_MASK != 0
    }

    fn is_leaf(pte: u64, level: usize) -> bool {
        Self::is_present(pte) && (level == 0 || (leaf_capable(level) && SsPte([pte]).ps() != 0))
    }

    fn make_table(table: u64) -> u64 {
        (table & ADDR_MASK) | R_BIT | W_BIT
    }

    fn table_addr(pte: u64) -> u64 {
        pte & ADDR_MASK
    }

    fn make_leaf(phys: u64, level: usize, prot: Prot) -> u64 {
        let mut pte = phys & ADDR_MASK;
        if prot.read {
            pte |= R_BIT;
        }
        if prot.write {
            pte |= W_BIT;
        }
        if level != 0 {
            pte |= PS_BIT;
        }
        if matches!(prot.mem, MemType::Snooped) {
            pte |= SNP_BIT;
        }
        pte
    }

    fn leaf_phys(pte: u64, level: usize) -> u64 {
        pte & ADDR_MASK & !(level_size(level) - 1)
    }

    fn is_dirty(pte: u64) -> bool {
        SsPte([pte]).d() != 0
    }

    fn set_dirty(pte: u64) -> u64 {
        pte | SS_D_BIT
    }

    fn clear_dirty(pte: u64) -> u64 {
        pte & !SS_D_BIT
    }
}

/// R (second stage) / P (first stage) position.
const R_BIT: u64 = 1 << 0;
/// W (second stage) / R/W (first stage) position.
const W_BIT: u64 = 1 << 1;
/// PS position, both formats.
const PS_BIT: u64 = 1 << 7;
/// D of a second-stage entry.
const SS_D_BIT: u64 = 1 << 9;
/// P of a first-stage entry.
const FS_P_BIT: u64 = 1 << 0;
/// U/S of a first-stage entry.
const FS_US_BIT: u64 = 1 << 2;
/// A of a first-stage entry.
const FS_A_BIT: u64 = 1 << 5;
/// D of a first-stage entry.
const FS_D_BIT: u64 = 1 << 6;

/// The first-stage format with `LEVELS` levels (4, or 5 with CAP.FL5LP) and
/// leaves at `LEAF_LEVELS` (4 KiB and 2 MiB always, 1 GiB with CAP.FL1GP:
/// [`super::regs::Cap::fs_leaf_levels`]).
///
/// Entries are as Linux `x86_64` builds them for an IOMMU: tables are
/// P|R/W|U/S|A; leaves are P|U/S|A, plus R/W if writable, plus PS above
/// level 0. A first-stage leaf is always readable: a write-only [`Prot`]
/// maps read-write. Unlike Linux, leaves are made with D clear (the
/// hardware sets it on the first write), so that [`Format::is_dirty`]
/// reports DMA writes.
///
/// A 4-level table's [`super::super::pt::PageTable::va_bits`] is 48, but
/// only `[0, 1 << 47)` is canonical ([`FS_4LEVEL_CANONICAL_BITS`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VtdFirstStage<const LEVELS: usize = 4, const LEAF_LEVELS: u32 = LEAF_ALL>;

/// 4-level first stage with 4 KiB, 2 MiB and 1 GiB leaves (QEMU `fs1gp=on`).
pub type VtdFs4 = VtdFirstStage<4, LEAF_ALL>;
/// 4-level first stage without 1 GiB leaves (no CAP.FL1GP).
pub type VtdFs4No1G = VtdFirstStage<4, { LEAF_4K | LEAF_2M }>;

impl<const LEVELS: usize, const LEAF_LEVELS: u32> VtdFirstStage<LEVELS, LEAF_LEVELS> {
    /// The permissions of the leaf `pte`.
    pub const fn prot(pte: u64) -> Prot {
        let e = FsPte([pte]);
        Prot {
            read: e.p() != 0,
            write: e.p() != 0 && e.rw() != 0,
            // No memory type in first-stage entries (PAT bits unused).
            mem: MemType::Cached,
        }
    }
}

impl<const LEVELS: usize, const LEAF_LEVELS: u32> Format for VtdFirstStage<LEVELS, LEAF_LEVELS> {
    const LEVELS: usize = LEVELS;
    const LEAF_LEVELS: u32 = LEAF_LEVELS;

    fn is_present(pte: u64) -> bool {
        FsPte([pte]).p() != 0
    }

    fn is_leaf(pte: u64, level: usize) -> bool {
        Self::is_present(pte) && (level == 0 || (leaf_capable(level) && FsPte([pte]).ps() != 0))
    }

    fn make_table(table: u64) -> u64 {
        (table & ADDR_MASK) | FS_P_BIT | W_BIT | FS_US_BIT | FS_A_BIT
    }

    fn table_addr(pte: u64) -> u64 {
        pte & ADDR_MASK
    }

    fn make_leaf(phys: u64, level: usize, prot: Prot) -> u64 {
        let mut pte = (phys & ADDR_MASK) | FS_P_BIT | FS_US_BIT | FS_A_BIT;
        if prot.write {
            pte |= W_BIT;
        }
        if level != 0 {
            pte |= PS_BIT;
        }
        pte
    }

    fn leaf_phys(pte: u64, level: usize) -> u64 {
        pte & ADDR_MASK & !(level_size(level) - 1)
    }

    fn is_dirty(pte: u64) -> bool {
        FsPte([pte]).d() != 0
    }

    fn set_dirty(pte: u64) -> u64 {
        pte | FS_D_BIT
    }

    fn clear_dirty(pte: u64) -> u64 {
        pte & !FS_D_BIT
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::errno::Errno;
    use super::super::super::pt::{PageTable, TableMem, ENTRIES_PER_TABLE, TABLE_SIZE};
    use super::*;

    /// Table memory over a vector; table `i` is at `(i + 1) * 4096`.
    struct Mem {
        tables: Vec<Option<Box<[u64; ENTRIES_PER_TABLE]>>>,
    }

    impl Mem {
        fn new() -> Self {
            Mem { tables: Vec::new() }
        }
        fn slot(table: u64) -> usize {
            assert!(table != 0 && table % TABLE_SIZE == 0);
            (table / TABLE_SIZE - 1) as usize
        }
        fn live(&self) -> usize {
            self.tables.iter().filter(|t| t.is_some()).count()
        }
    }

    impl TableMem for Mem {
        fn alloc_table(&mut self) -> Result<u64, Errno> {
            self.tables.push(Some(Box::new([0; ENTRIES_PER_TABLE])));
            Ok(self.tables.len() as u64 * TABLE_SIZE)
        }
        fn free_table(&mut self, table: u64) {
            assert!(self.tables[Self::slot(table)].take().is_some());
        }
        fn read(&self, table: u64, index: usize) -> u64 {
            self.tables[Self::slot(table)].as_ref().unwrap()[index]
        }
        fn write(&mut self, table: u64, index: usize, value: u64) {
            self.tables[Self::slot(table)].as_mut().unwrap()[index] = value;
        }
    }

    #[test]
    fn constants_match_bitfields() {
        let ss = |e: Option<SsPte>| e.unwrap().0[0];
        let fs = |e: Option<FsPte>| e.unwrap().0[0];
        assert_eq!(ss(SsPte::ZERO.with_r(1)), R_BIT);
        assert_eq!(ss(SsPte::ZERO.with_w(1)), W_BIT);
        assert_eq!(ss(SsPte::ZERO.with_ps(1)), PS_BIT);
        assert_eq!(ss(SsPte::ZERO.with_d(1)), SS_D_BIT);
        assert_eq!(ss(SsPte::ZERO.with_snp(1)), SNP_BIT);
        assert_eq!(
            SS_PRESENT_MASK,
            ss(SsPte::ZERO.with_r(1)) | ss(SsPte::ZERO.with_w(1)) | ss(SsPte::ZERO.with_x(1))
        );
        assert_eq!(ss(SsPte::ZERO.with_addr((1 << 40) - 1)), ADDR_MASK);
        assert_eq!(fs(FsPte::ZERO.with_p(1)), FS_P_BIT);
        assert_eq!(fs(FsPte::ZERO.with_rw(1)), W_BIT);
        assert_eq!(fs(FsPte::ZERO.with_us(1)), FS_US_BIT);
        assert_eq!(fs(FsPte::ZERO.with_a(1)), FS_A_BIT);
        assert_eq!(fs(FsPte::ZERO.with_d(1)), FS_D_BIT);
        assert_eq!(fs(FsPte::ZERO.with_ps(1)), PS_BIT);
        assert_eq!(fs(FsPte::ZERO.with_addr((1 << 40) - 1)), ADDR_MASK);
        assert_eq!(ADDR_MASK, 0x000f_ffff_ffff_f000);
    }

    #[test]
    fn second_stage_encodings() {
        type F = VtdSs4;
        // Linux vtdss: table = R|W|OA.
        assert_eq!(F::make_table(0x1234_5000), 0x1234_5003);
        assert_eq!(F::table_addr(0x1234_5003), 0x1234_5000);
        assert_eq!(F::make_leaf(0xabc_d000, 0, Prot::READ), 0xabc_d001);
        assert_eq!(F::make_leaf(0xabc_d000, 0, Prot::WRITE), 0xabc_d002);
        assert_eq!(F::make_leaf(0xabc_d000, 0, Prot::READ_WRITE), 0xabc_d003);
        assert_eq!(F::make_leaf(0x4020_0000, 1, Prot::READ_WRITE), 0x4020_0083);
        assert_eq!(F::make_leaf(0x8000_0000, 2, Prot::READ), 0x8000_0081);
        assert_eq!(
            F::make_leaf(0xf_ffff_ffff_f000, 0, Prot::READ),
            0xf_ffff_ffff_f001
        );
        // Address bits above 51 are dropped (the page table then reports
        // ERANGE through leaf_phys).
        assert_eq!(F::make_leaf(1 << 52, 0, Prot::READ), 1);
        assert!(!F::is_present(0));
        assert!(!F::is_present(0x1000 | (1 << 7) | (1 << 9)));
        assert!(F::is_present(0x1000 | 4));
        assert!(F::is_leaf(0x1001, 0));
        assert!(!F::is_leaf(0x1003, 1));
        assert!(F::is_leaf(0x1083, 1));
        assert!(F::is_leaf(0x1083, 2));
        assert!(!F::is_leaf(0x1083, 3));
        assert_eq!(F::leaf_phys(0x4020_0083, 1), 0x4020_0000);
        assert_eq!(F::leaf_phys(0x4020_1083, 1), 0x4020_0000);
        assert_eq!(F::prot(0x1002), Prot::WRITE);
        // D is bit 9 (DMA_SL_PTE_DIRTY_BIT).
        assert_eq!(F::set_dirty(0x1003), 0x1203);
        assert!(F::is_dirty(0x1203));
        assert_eq!(F::clear_dirty(0x1203), 0x1003);
        // SNP (bit 11) for a force-snooped domain's leaves, and back.
        let snooped = Prot::READ_WRITE.with_mem(MemType::Snooped);
        assert_eq!(F::make_leaf(0x1000, 0, snooped), 0x1803);
        assert_eq!(F::prot(0x1803), snooped);
        assert_eq!(F::make_leaf(0x20_0000, 1, Prot::READ_WRITE), 0x20_0083);
        assert_eq!(F::prot(0x1003), Prot::READ_WRITE);
        assert_eq!(SsPte([0x1003]).addr(), 1);
        let e = SsPte::ZERO
            .with_x(1)
            .and_then(|e| e.with_emt(6))
            .and_then(|e| e.with_ipat(1))
            .and_then(|e| e.with_a(1))
            .unwrap();
        assert_eq!(e.0[0], 4 | (6 << 3) | (1 << 6) | (1 << 8));
        assert_eq!(<VtdSs3 as Format>::LEVELS, 3);
        assert_eq!(<VtdSs4No1G as Format>::LEAF_LEVELS, 0b011);
    }

    #[test]
    fn first_stage_encodings() {
        type F = VtdFs4;
        // Linux x86_64: table = P|RW|U|A|OA.
        assert_eq!(F::make_table(0x1234_5000), 0x1234_5027);
        assert_eq!(F::table_addr(0x1234_5027), 0x1234_5000);
        // Leaves: P|U|A, RW if writable, PS above level 0; D clear.
        assert_eq!(F::make_leaf(0xabc_d000, 0, Prot::READ), 0xabc_d025);
        assert_eq!(F::make_leaf(0xabc_d000, 0, Prot::READ_WRITE), 0xabc_d027);
        assert_eq!(F::make_leaf(0xabc_d000, 0, Prot::WRITE), 0xabc_d027);
        assert_eq!(F::make_leaf(0x4020_0000, 1, Prot::READ), 0x4020_00a5);
        assert_eq!(F::make_leaf(0x8000_0000, 2, Prot::READ_WRITE), 0x8000_00a7);
        assert!(!F::is_present(0x1026));
        assert!(F::is_leaf(0x1025, 0));
        assert!(F::is_leaf(0x10a5, 0));
        assert!(!F::is_leaf(0x1027, 1));
        assert!(F::is_leaf(0x10a7, 2));
        assert!(!F::is_leaf(0x10a7, 3));
        assert_eq!(F::prot(0x1025), Prot::READ);
        assert_eq!(F::prot(0x1027), Prot::READ_WRITE);
        assert_eq!(F::prot(0x1026), Prot::NONE);
        assert_eq!(F::set_dirty(0x1027), 0x1067);
        assert!(F::is_dirty(0x1067));
        assert_eq!(F::clear_dirty(0x1067), 0x1027);
        // QEMU's first-stage reserved masks for aw 48: bits 51:48 of every
        // level, PS in a PML4E, bits 20:13 of a 2 MiB and 29:13 of a 1 GiB
        // leaf; none of our encodings set them for 48-bit addresses.
        let haw: u64 = (1 << 48) - 1;
        let upper_ignored = 0xfff0_0000_0000_0000u64;
        let rsvd = !(haw | upper_ignored);
        assert_eq!(F::make_table(0xffff_ffff_f000) & rsvd, 0);
        assert_eq!(F::make_table(0xffff_ffff_f000) & 0x80, 0);
        assert_eq!(
            F::make_leaf(0xffff_ffe0_0000, 1, Prot::READ_WRITE) & (rsvd | 0x1f_e000),
            0
        );
        assert_eq!(
            F::make_leaf(0xffff_c000_0000, 2, Prot::READ_WRITE) & (rsvd | 0x3fff_e000),
            0
        );
        let e = FsPte::ZERO
            .with_pwt(1)
            .and_then(|e| e.with_pcd(1))
            .and_then(|e| e.with_g(1))
            .and_then(|e| e.with_ea(1))
            .and_then(|e| e.with_xd(1))
            .unwrap();
        assert_eq!(
            e.0[0],
            (1 << 3) | (1 << 4) | (1 << 8) | (1 << 10) | (1 << 63)
        );
        assert_eq!(<VtdFirstStage as Format>::LEVELS, 4);
        assert_eq!(<VtdFirstStage as Format>::LEAF_LEVELS, LEAF_ALL);
        assert_eq!(<VtdFs4No1G as Format>::LEAF_LEVELS, 0b011);
    }

    /// Maps, looks up, dirties and unmaps through `PageTable<F>`, and checks
    /// the raw entries of the walk.
    fn round_trip<F: Format>(expect_leaf: impl Fn(u64, usize, Prot) -> u64) {
        let mut mem = Mem::new();
        let mut pt = PageTable::<F>::new(&mut mem).unwrap();
        let rw = Prot::READ_WRITE;
        let gib = 1u64 << 30;
        let mib2 = 1u64 << 21;
        assert_eq!(
            pt.map_pages(&mut mem, 0x1000, 0x8_0000_1000, 4096, 3, Prot::READ),
            (3 * 4096, Ok(()))
        );
        assert_eq!(
            pt.map_pages(&mut mem, 4 * mib2, 0x9_0000_0000, mib2, 2, rw),
            (2 * mib2, Ok(()))
        );
        assert_eq!(
            pt.map_pages(&mut mem, 3 * gib, 0x40_0000_0000, gib, 1, rw),
            (gib, Ok(()))
        );
        // Walk by hand: level 3 -> 2 -> 1 -> 0 for IOVA 0x2000.
        let top = F::LEVELS - 1;
        let mut table = pt.root();
        for level in (1..=top).rev() {
            let pte = mem.read(table, 0);
            assert!(F::is_present(pte) && !F::is_leaf(pte, level));
            assert_eq!(pte, F::make_table(F::table_addr(pte)));
            table = F::table_addr(pte);
        }
        assert_eq!(
            mem.read(table, 2),
            expect_leaf(0x8_0000_2000, 0, Prot::READ)
        );
        let leaf = pt.lookup(&mem, 0x2abc).unwrap();
        assert_eq!(
            (leaf.phys, leaf.size, leaf.level, leaf.dirty),
            (0x8_0000_2abc, 4096, 0, false)
        );
        let leaf = pt.lookup(&mem, 5 * mib2 + 0x1234).unwrap();
        assert_eq!((leaf.phys, leaf.size, leaf.level), (0x9_0020_1234, mib2, 1));
        let leaf = pt.lookup(&mem, 3 * gib + 0x12_3456).unwrap();
        assert_eq!((leaf.phys, leaf.size, leaf.level), (0x40_0012_3456, gib, 2));
        assert_eq!(pt.iova_to_phys(&mem, 0), 0);
        // Dirty tracking round trip.
        assert!(pt.set_dirty(&mut mem, 4 * mib2));
        let mut dirty = Vec::new();
        pt.read_and_clear_dirty(&mut mem, 0, 4 * gib, false, |iova, len| {
            dirty.push((iova, len))
        });
        assert_eq!(dirty, vec![(4 * mib2, mib2)]);
        assert!(!pt.lookup(&mem, 4 * mib2).unwrap().dirty);
        assert_eq!(pt.unmap_pages(&mut mem, 0x1000, 4096, 3), 3 * 4096);
        assert_eq!(pt.unmap_pages(&mut mem, 4 * mib2, mib2, 2), 2 * mib2);
        assert_eq!(pt.unmap_pages(&mut mem, 3 * gib, gib, 1), gib);
        assert_eq!(pt.iova_to_phys(&mem, 3 * gib), 0);
        pt.destroy(&mut mem);
        assert_eq!(mem.live(), 0);
    }

    #[test]
    fn second_stage_page_table_round_trip() {
        round_trip::<VtdSs4>(<VtdSs4 as Format>::make_leaf);
        assert_eq!(PageTable::<VtdSs4>::va_bits(), 48);
        assert_eq!(PageTable::<VtdSs3>::va_bits(), 39);
        assert_eq!(
            PageTable::<VtdSs4>::pgsize_bitmap(),
            (1 << 12) | (1 << 21) | (1 << 30)
        );
        assert_eq!(
            PageTable::<VtdSs4No1G>::pgsize_bitmap(),
            (1 << 12) | (1 << 21)
        );
    }

    #[test]
    fn first_stage_page_table_round_trip() {
        round_trip::<VtdFs4>(<VtdFs4 as Format>::make_leaf);
        assert_eq!(PageTable::<VtdFs4>::va_bits(), 48);
        assert_eq!(PageTable::<VtdFirstStage<5>>::va_bits(), 57);
    }

    #[test]
    fn unsupported_leaf_sizes_are_refused() {
        let mut mem = Mem::new();
        let mut pt = PageTable::<VtdFs4No1G>::new(&mut mem).unwrap();
        assert_eq!(
            pt.map_pages(&mut mem, 1 << 30, 1 << 30, 1 << 30, 1, Prot::READ),
            (0, Err(Errno::EINVAL))
        );
        assert_eq!(
            pt.map_pages(&mut mem, 1 << 30, 1 << 52, 4096, 1, Prot::READ),
            (0, Err(Errno::ERANGE))
        );
        pt.destroy(&mut mem);
    }
}
