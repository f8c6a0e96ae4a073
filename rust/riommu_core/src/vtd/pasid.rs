// SPDX-License-Identifier: GPL-2.0

//! Scalable-mode PASID directory and PASID table entries (spec 9.5, 9.6).
//!
//! A context entry points to a PASID directory of 64-bit [`PasidDirEntry`]s,
//! indexed by PASID bits 19:6 ([`dir_index`]); each points to a 4 KiB PASID
//! table of 64 512-bit [`PasidEntry`]s, indexed by PASID bits 5:0
//! ([`table_index`]). The PASID entry selects the translation: pass-through,
//! first stage only, second stage only or nested (PGTT).
//!
//! The constructors build present entries. The driver writes an entry that
//! the hardware may walk in this order: words 1 to 7, a write barrier, then
//! word 0 (which holds P), and then invalidates the PASID cache (spec
//! 6.5.3.3).

use super::super::bitfield::bitfield;
use super::super::errno::Errno;
use super::{page_frame, PAGE_SHIFT, PASID_LIMIT};

/// Size of a PASID directory entry in bytes.
pub const PASID_DIR_ENTRY_SIZE: usize = 8;
/// Size of a PASID table entry in bytes.
pub const PASID_ENTRY_SIZE: usize = 64;
/// log2 of the number of entries in a PASID table.
pub const PASID_TABLE_SHIFT: u32 = 6;
/// Number of entries in a (4 KiB) PASID table.
pub const PASID_TABLE_ENTRIES: usize = 1 << PASID_TABLE_SHIFT;
/// Mask of the PASID table index (PASID bits 5:0).
const TABLE_INDEX_MASK: u32 = (1 << PASID_TABLE_SHIFT) - 1;
/// Mask of the directory index once shifted (PASID bits 19:6).
const DIR_INDEX_MASK: u32 = (PASID_LIMIT >> PASID_TABLE_SHIFT) - 1;

/// Index of `pasid`'s entry in the PASID directory (PASID bits 19:6).
pub const fn dir_index(pasid: u32) -> usize {
    ((pasid >> PASID_TABLE_SHIFT) & DIR_INDEX_MASK) as usize
}

/// Index of `pasid`'s entry in its PASID table (PASID bits 5:0).
pub const fn table_index(pasid: u32) -> usize {
    (pasid & TABLE_INDEX_MASK) as usize
}

bitfield! {
    /// A scalable-mode PASID directory entry (spec 9.5).
    pub struct PasidDirEntry([u64; 1]) {
        /// P: present.
        p, with_p: 0, 0;
        /// FPD: fault processing disable.
        fpd, with_fpd: 1, 1;
        /// SMPTBLPTR: PASID table pointer bits 63:12.
        table_ptr, with_table_ptr: 63, 12;
    }
}

impl PasidDirEntry {
    /// A present directory entry pointing to the PASID table at `table`
    /// (4 KiB aligned); [`Errno::EINVAL`] if it is not aligned.
    pub fn new(table: u64) -> Result<Self, Errno> {
        let frame = page_frame(table).ok_or(Errno::EINVAL)?;
        Self::ZERO
            .with_table_ptr(frame)
            .and_then(|e| e.with_p(1))
            .ok_or(Errno::EINVAL)
    }

    /// The PASID table address if the entry is present.
    pub const fn table(&self) -> Option<u64> {
        if self.p() != 0 {
            Some(self.table_ptr() << PAGE_SHIFT)
        } else {
            None
        }
    }
}

bitfield! {
    /// A scalable-mode PASID table entry (spec 9.6), 512 bits. Words 3 to 7
    /// are reserved or unused here.
    pub struct PasidEntry([u64; 8]) {
        /// P: present.
        p, with_p: 0, 0;
        /// FPD: fault processing disable.
        fpd, with_fpd: 1, 1;
        /// AW: second-stage address width ([`AW_39`], [`AW_48`], [`AW_57`]);
        /// QEMU also bounds first-stage IOVAs with it.
        aw, with_aw: 4, 2;
        /// SSEE (SLEE): second-stage execute enable.
        ssee, with_ssee: 5, 5;
        /// PGTT: PASID granular translation type (`PGTT_*`).
        pgtt, with_pgtt: 8, 6;
        /// SSADE (SLADE): second-stage accessed/dirty enable.
        ssade, with_ssade: 9, 9;
        /// SSPTPTR: second-stage page table pointer bits 63:12.
        ssptptr, with_ssptptr: 63, 12;
        /// DID: domain id.
        did, with_did: 79, 64;
        /// PWSNP: page-walk snoop.
        pwsnp, with_pwsnp: 87, 87;
        /// PGSNP: page snoop (force snooping of the DMA itself).
        pgsnp, with_pgsnp: 88, 88;
        /// CD: cache disable.
        cd, with_cd: 89, 89;
        /// EMTE: extended memory type enable.
        emte, with_emte: 90, 90;
        /// EMT: extended memory type.
        emt, with_emt: 93, 91;
        /// PWT: page-level write-through.
        pwt, with_pwt: 94, 94;
        /// PCD: page-level cache disable.
        pcd, with_pcd: 95, 95;
        /// PAT: page attribute table.
        pat, with_pat: 127, 96;
        /// SRE: supervisor requests enable.
        sre, with_sre: 128, 128;
        /// ERE: execute requests enable.
        ere, with_ere: 129, 129;
        /// FLPM (FSPM): first-stage paging mode ([`FLPM_4_LEVEL`],
        /// [`FLPM_5_LEVEL`]).
        flpm, with_flpm: 131, 130;
        /// WPE: write protect enable (supervisor writes honour R/W).
        wpe, with_wpe: 132, 132;
        /// NXE: no-execute enable.
        nxe, with_nxe: 133, 133;
        /// SMEP: supervisor mode execute prevention.
        smep, with_smep: 134, 134;
        /// EAFE: extended accessed flag enable.
        eafe, with_eafe: 135, 135;
        /// FSPTPTR (FLPTPTR): first-stage page table pointer bits 63:12.
        fsptptr, with_fsptptr: 191, 140;
    }
}

/// PGTT: first-stage translation only.
pub const PGTT_FIRST_STAGE: u64 = 0b001;
/// PGTT: second-stage translation only.
pub const PGTT_SECOND_STAGE: u64 = 0b010;
/// PGTT: nested (first stage on top of second stage).
pub const PGTT_NESTED: u64 = 0b011;
/// PGTT: pass-through (no translation).
pub const PGTT_PASS_THROUGH: u64 = 0b100;

/// AW: 39-bit, 3-level second-stage table.
pub const AW_39: u64 = 1;
/// AW: 48-bit, 4-level second-stage table.
pub const AW_48: u64 = 2;
/// AW: 57-bit, 5-level second-stage table.
pub const AW_57: u64 = 3;

/// FLPM: 4-level first-stage paging (48-bit IOVA).
pub const FLPM_4_LEVEL: u64 = 0;
/// FLPM: 5-level first-stage paging (57-bit IOVA, CAP.FL5LP).
pub const FLPM_5_LEVEL: u64 = 1;

/// Address width in bits of a 4-level table.
pub const WIDTH_4_LEVEL: u32 = 48;
/// Address width in bits of a 5-level table.
pub const WIDTH_5_LEVEL: u32 = 57;

/// The AW encoding of a second-stage table of `levels` levels (3, 4, 5).
pub const fn aw_for_levels(levels: u32) -> Option<u64> {
    match levels {
        3 => Some(AW_39),
        4 => Some(AW_48),
        5 => Some(AW_57),
        _ => None,
    }
}

/// The AW encoding of an address width of `bits` (39, 48, 57).
pub const fn aw_for_width(bits: u32) -> Option<u64> {
    match bits {
        39 => Some(AW_39),
        48 => Some(AW_48),
        57 => Some(AW_57),
        _ => None,
    }
}

/// The options of a first-stage translation (PGTT 001, or the first-stage
/// half of a nested one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FirstStage {
    /// FSPTPTR: the root of the first-stage table (4 KiB aligned).
    pub table: u64,
    /// FLPM: 5-level paging (needs CAP.FL5LP), else 4-level.
    pub five_level: bool,
    /// SRE: allow supervisor requests (needs ECAP.SRS).
    pub sre: bool,
    /// WPE: write protect supervisor requests.
    pub wpe: bool,
    /// EAFE: extended accessed flag (needs ECAP.EAFS).
    pub eafe: bool,
}

/// The options of a second-stage translation (PGTT 010, or the second-stage
/// half of a nested one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SecondStage {
    /// SSPTPTR: the root of the second-stage table (4 KiB aligned).
    pub table: u64,
    /// AW: the table's address width ([`AW_39`], [`AW_48`], [`AW_57`]).
    pub aw: u64,
    /// SSADE: hardware sets A/D bits (dirty tracking, ECAP.SLADS).
    pub ssade: bool,
    /// SSEE: honour the X bit (execute requests).
    pub ssee: bool,
}

/// Settings common to every PGTT.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Common {
    /// DID: the domain id.
    pub did: u16,
    /// PWSNP: snoop the page walks (ECAP.SMPWCS; Linux sets it unless the
    /// tables are not coherent).
    pub pwsnp: bool,
    /// PGSNP: snoop the DMA accesses (force coherency, ECAP.SC).
    pub pgsnp: bool,
    /// FPD: report no faults for this PASID.
    pub fault_disable: bool,
}

impl PasidEntry {
    /// The common part of every present entry.
    fn base(pgtt: u64, common: Common) -> Option<Self> {
        Self::ZERO
            .with_pgtt(pgtt)?
            .with_did(u64::from(common.did))?
            .with_pwsnp(u64::from(common.pwsnp))?
            .with_pgsnp(u64::from(common.pgsnp))?
            .with_fpd(u64::from(common.fault_disable))?
            .with_p(1)
    }

    /// Sets the first-stage fields.
    fn first(self, fs: &FirstStage) -> Option<Self> {
        let frame = page_frame(fs.table)?;
        let flpm = if fs.five_level {
            FLPM_5_LEVEL
        } else {
            FLPM_4_LEVEL
        };
        self.with_fsptptr(frame)?
            .with_flpm(flpm)?
            .with_sre(u64::from(fs.sre))?
            .with_wpe(u64::from(fs.wpe))?
            .with_eafe(u64::from(fs.eafe))
    }

    /// Sets the second-stage fields.
    fn second(self, ss: &SecondStage) -> Option<Self> {
        if ss.aw < AW_39 || ss.aw > AW_57 {
            return None;
        }
        let frame = page_frame(ss.table)?;
        self.with_ssptptr(frame)?
            .with_aw(ss.aw)?
            .with_ssade(u64::from(ss.ssade))?
            .with_ssee(u64::from(ss.ssee))
    }

    /// A pass-through entry (PGTT 100): DMA uses untranslated addresses.
    ///
    /// `aw` is recorded as Linux does (the IOMMU's AGAW); QEMU ignores it.
    /// [`Errno::EINVAL`] if `aw` is not a valid AW encoding.
    pub fn pass_through(aw: u64, common: Common) -> Result<Self, Errno> {
        if !(AW_39..=AW_57).contains(&aw) {
            return Err(Errno::EINVAL);
        }
        Self::base(PGTT_PASS_THROUGH, common)
            .and_then(|e| e.with_aw(aw))
            .ok_or(Errno::EINVAL)
    }

    /// A first-stage only entry (PGTT 001).
    ///
    /// `aw` is the address width field, set as Linux does (to the IOMMU's
    /// AGAW): QEMU checks first-stage IOVAs for canonicality against
    /// `min(30 + 9 * AW, MGAW)` bits, so it must be [`AW_48`] for 4-level
    /// tables there (0 would limit IOVAs to 30 bits).
    ///
    /// [`Errno::EINVAL`] if the table is not 4 KiB aligned or `aw` is not a
    /// valid AW encoding.
    pub fn first_stage(fs: &FirstStage, aw: u64, common: Common) -> Result<Self, Errno> {
        if !(AW_39..=AW_57).contains(&aw) {
            return Err(Errno::EINVAL);
        }
        Self::base(PGTT_FIRST_STAGE, common)
            .and_then(|e| e.first(fs))
            .and_then(|e| e.with_aw(aw))
            .ok_or(Errno::EINVAL)
    }

    /// A second-stage only entry (PGTT 010).
    ///
    /// [`Errno::EINVAL`] if the table is not 4 KiB aligned or `ss.aw` is not
    /// a valid AW encoding.
    pub fn second_stage(ss: &SecondStage, common: Common) -> Result<Self, Errno> {
        Self::base(PGTT_SECOND_STAGE, common)
            .and_then(|e| e.second(ss))
            .ok_or(Errno::EINVAL)
    }

    /// A nested entry (PGTT 011): the first-stage table translates IOVAs to
    /// guest physical addresses, which the second stage translates (AW is
    /// the second stage's).
    ///
    /// [`Errno::EINVAL`] if a table is not 4 KiB aligned or `ss.aw` is not a
    /// valid AW encoding.
    pub fn nested(fs: &FirstStage, ss: &SecondStage, common: Common) -> Result<Self, Errno> {
        Self::base(PGTT_NESTED, common)
            .and_then(|e| e.first(fs))
            .and_then(|e| e.second(ss))
            .ok_or(Errno::EINVAL)
    }

    /// A non-present entry with FPD set, which blocks DMA of the PASID
    /// without reporting faults (Linux `pasid_clear_entry_with_fpd()`).
    pub const fn blocked() -> Self {
        let mut words = [0; 8];
        words[0] = 1 << FPD_BIT;
        PasidEntry(words)
    }

    /// Whether the entry is present.
    pub const fn is_present(&self) -> bool {
        self.p() != 0
    }

    /// The first-stage table address.
    pub const fn first_stage_table(&self) -> u64 {
        self.fsptptr() << PAGE_SHIFT
    }

    /// The second-stage table address.
    pub const fn second_stage_table(&self) -> u64 {
        self.ssptptr() << PAGE_SHIFT
    }
}

/// Bit position of FPD in word 0 of a PASID entry.
const FPD_BIT: u32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    /// The words Linux's pasid.h setters produce, replayed: each setter is
    /// `pasid_set_bits(&pe->val[w], mask, bits)`.
    fn set(pe: &mut [u64; 8], w: usize, mask: u64, bits: u64) {
        pe[w] = (pe[w] & !mask) | bits;
    }

    const VTD_PAGE_MASK: u64 = !0xfff;

    #[test]
    fn indexes() {
        assert_eq!(dir_index(0), 0);
        assert_eq!(table_index(0), 0);
        assert_eq!(dir_index(63), 0);
        assert_eq!(table_index(63), 63);
        assert_eq!(dir_index(64), 1);
        assert_eq!(table_index(64), 0);
        assert_eq!(dir_index(0xf_ffff), 0x3fff);
        assert_eq!(table_index(0xf_ffff), 0x3f);
        // Bits above 19 are ignored, like QEMU's VTD_PASID_DIR_INDEX.
        assert_eq!(dir_index(0x10_0040), 1);
        assert_eq!(PASID_TABLE_ENTRIES * PASID_ENTRY_SIZE, 4096);
    }

    #[test]
    fn dir_entry() {
        let e = PasidDirEntry::new(0x5_6000).unwrap();
        assert_eq!(e.0[0], 0x5_6001);
        assert_eq!(e.table(), Some(0x5_6000));
        assert_eq!(PasidDirEntry([0x5_6002]).table(), None);
        assert_eq!(PasidDirEntry([0x5_6002]).fpd(), 1);
        assert_eq!(PasidDirEntry::new(0x5_6080), Err(Errno::EINVAL));
    }

    #[test]
    fn first_stage_matches_linux() {
        // pasid_pte_config_first_level(iommu, pte, fsptptr, did, flags) with
        // FL5LP | PAGE_SNOOP | PWSNP, agaw 2.
        let mut want = [0u64; 8];
        let fsptptr = 0x1_2345_6000u64;
        set(&mut want, 2, VTD_PAGE_MASK, fsptptr);
        set(&mut want, 2, 0b1100, 1 << 2); // flpm 1
        set(&mut want, 1, 1 << 24, 1 << 24); // pgsnp
        set(&mut want, 1, 0xffff, 42); // did
        set(&mut want, 0, 0b11100, 2 << 2); // aw
        set(&mut want, 1, 1 << 23, 1 << 23); // pwsnp
        set(&mut want, 0, 0b1_1100_0000, 1 << 6); // pgtt FL only
        set(&mut want, 0, 1, 1); // present
        let fs = FirstStage {
            table: fsptptr,
            five_level: true,
            ..Default::default()
        };
        let common = Common {
            did: 42,
            pwsnp: true,
            pgsnp: true,
            fault_disable: false,
        };
        let e = PasidEntry::first_stage(&fs, AW_48, common).unwrap();
        assert_eq!(e.0, want);
        assert_eq!(e.first_stage_table(), fsptptr);
        assert!(e.is_present());

        // The plain 4-level entry QEMU x-flts=on accepts: PGTT 1, FSPM 0,
        // AW 2, DID in word 1.
        let fs = FirstStage {
            table: 0x3000,
            ..Default::default()
        };
        let e = PasidEntry::first_stage(
            &fs,
            AW_48,
            Common {
                did: 1,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(e.0, [(1 << 6) | (2 << 2) | 1, 1, 0x3000, 0, 0, 0, 0, 0]);
        // QEMU's readers: PGTT = val[0] bits 8:6, FSPM = val[2] bits 3:2,
        // FSPTPFN = val[2] bits 63:12, DID = val[1] bits 15:0.
        assert_eq!((e.0[0] >> 6) & 7, PGTT_FIRST_STAGE);
        assert_eq!((e.0[2] >> 2) & 3, FLPM_4_LEVEL);
        assert_eq!(e.0[2] >> 12, 3);
        assert_eq!(e.0[1] & 0xffff, 1);
    }

    #[test]
    fn first_stage_flags() {
        let fs = FirstStage {
            table: 0x3000,
            five_level: false,
            sre: true,
            wpe: true,
            eafe: true,
        };
        let e = PasidEntry::first_stage(&fs, AW_48, Common::default()).unwrap();
        // SRE bit 128, WPE bit 132, EAFE bit 135 (Linux pasid_set_sre/wpe/eafe).
        assert_eq!(e.0[2], 0x3000 | 1 | (1 << 4) | (1 << 7));
        assert_eq!((e.sre(), e.wpe(), e.eafe(), e.flpm()), (1, 1, 1, 0));
        let bad = FirstStage {
            table: 0x3008,
            ..Default::default()
        };
        assert_eq!(
            PasidEntry::first_stage(&bad, AW_48, Common::default()),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            PasidEntry::first_stage(&fs, 0, Common::default()),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn second_stage_matches_linux() {
        // pasid_pte_config_second_level(): did, slptr, aw, pgtt SL,
        // fault enable, page snoop, ssade, present.
        let mut want = [0u64; 8];
        set(&mut want, 1, 0xffff, 0xbeef);
        set(&mut want, 0, VTD_PAGE_MASK, 0x42_0000);
        set(&mut want, 0, 0b11100, 3 << 2);
        set(&mut want, 0, 0b1_1100_0000, 2 << 6);
        set(&mut want, 0, 1 << 1, 0);
        set(&mut want, 1, 1 << 23, 1 << 23);
        set(&mut want, 0, 1 << 9, 1 << 9);
        set(&mut want, 0, 1, 1);
        let ss = SecondStage {
            table: 0x42_0000,
            aw: AW_57,
            ssade: true,
            ssee: false,
        };
        let common = Common {
            did: 0xbeef,
            pwsnp: true,
            ..Default::default()
        };
        let e = PasidEntry::second_stage(&ss, common).unwrap();
        assert_eq!(e.0, want);
        assert_eq!(e.second_stage_table(), 0x42_0000);
        assert_eq!(e.with_ssee(1).unwrap().0[0], want[0] | (1 << 5));
        for aw in [0, 4, 7] {
            let ss = SecondStage { aw, ..ss };
            assert_eq!(PasidEntry::second_stage(&ss, common), Err(Errno::EINVAL));
        }
        let ss = SecondStage {
            table: 0x42_0010,
            ..ss
        };
        assert_eq!(PasidEntry::second_stage(&ss, common), Err(Errno::EINVAL));
    }

    #[test]
    fn pass_through_matches_linux() {
        // pasid_pte_config_pass_through(): did, aw, pgtt PT, fault enable,
        // page snoop = smpwc, present.
        let e = PasidEntry::pass_through(
            AW_48,
            Common {
                did: 2,
                pwsnp: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            e.0,
            [(4 << 6) | (2 << 2) | 1, 2 | (1 << 23), 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            PasidEntry::pass_through(0, Common::default()),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn nested_matches_linux() {
        // pasid_pte_config_nested() with addr_width 57, SRE|WPE|EAFE, force
        // snooping, dirty tracking, 4-level s2.
        let mut want = [0u64; 8];
        set(&mut want, 2, 0b1100, 1 << 2);
        set(&mut want, 2, VTD_PAGE_MASK, 0x9_9000);
        set(&mut want, 2, 1, 1);
        set(&mut want, 2, 1 << 4, 1 << 4);
        set(&mut want, 2, 1 << 7, 1 << 7);
        set(&mut want, 1, 1 << 24, 1 << 24);
        set(&mut want, 0, VTD_PAGE_MASK, 0x7_7000);
        set(&mut want, 0, 1 << 1, 0);
        set(&mut want, 1, 0xffff, 5);
        set(&mut want, 0, 0b11100, 2 << 2);
        set(&mut want, 1, 1 << 23, 1 << 23);
        set(&mut want, 0, 1 << 9, 1 << 9);
        set(&mut want, 0, 0b1_1100_0000, 3 << 6);
        set(&mut want, 0, 1, 1);
        let fs = FirstStage {
            table: 0x9_9000,
            five_level: true,
            sre: true,
            wpe: true,
            eafe: true,
        };
        let ss = SecondStage {
            table: 0x7_7000,
            aw: AW_48,
            ssade: true,
            ssee: false,
        };
        let common = Common {
            did: 5,
            pwsnp: true,
            pgsnp: true,
            fault_disable: false,
        };
        let e = PasidEntry::nested(&fs, &ss, common).unwrap();
        assert_eq!(e.0, want);
        assert_eq!(e.pgtt(), PGTT_NESTED);
    }

    #[test]
    fn blocked_and_fields() {
        assert_eq!(PasidEntry::blocked().0, [2, 0, 0, 0, 0, 0, 0, 0]);
        assert!(!PasidEntry::blocked().is_present());
        let e = PasidEntry::ZERO
            .with_emt(7)
            .and_then(|e| e.with_emte(1))
            .and_then(|e| e.with_cd(1))
            .and_then(|e| e.with_pwt(1))
            .and_then(|e| e.with_pcd(1))
            .and_then(|e| e.with_pat(0xffff_ffff))
            .and_then(|e| e.with_ere(1))
            .and_then(|e| e.with_nxe(1))
            .and_then(|e| e.with_smep(1))
            .unwrap();
        assert_eq!(e.0[1], 0xffff_ffff_fe00_0000);
        assert_eq!(e.0[2], 2 | (1 << 5) | (1 << 6));
        assert_eq!(aw_for_levels(3), Some(AW_39));
        assert_eq!(aw_for_levels(4), Some(AW_48));
        assert_eq!(aw_for_levels(5), Some(AW_57));
        assert_eq!(aw_for_levels(6), None);
        assert_eq!(aw_for_width(48), Some(AW_48));
        assert_eq!(aw_for_width(57), Some(AW_57));
        assert_eq!(aw_for_width(39), Some(AW_39));
        assert_eq!(aw_for_width(40), None);
    }
}
