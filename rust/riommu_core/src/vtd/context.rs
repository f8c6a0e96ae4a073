// SPDX-License-Identifier: GPL-2.0

//! Scalable-mode root and context entries (spec 9.2, 9.4).
//!
//! The root table (4 KiB, at [`super::regs::Rtaddr`]) has one 128-bit
//! [`RootEntry`] per bus. In scalable mode each root entry points to two
//! context tables: the lower one for devfn 0-127, the upper one for devfn
//! 128-255; each holds 128 256-bit [`SmContextEntry`]s. A context entry points
//! to the device's PASID directory ([`super::pasid`]).

use super::super::bitfield::bitfield;
use super::super::errno::Errno;
use super::{page_frame, PAGE_SHIFT, PASID_BITS, PASID_LIMIT};

/// Number of root entries (one per bus).
pub const ROOT_ENTRIES: usize = 256;
/// Size of a root entry in bytes.
pub const ROOT_ENTRY_SIZE: usize = 16;
/// Size of a scalable-mode context entry in bytes.
pub const SM_CONTEXT_ENTRY_SIZE: usize = 32;
/// Number of scalable-mode context entries in a 4 KiB context table.
pub const SM_CONTEXT_ENTRIES: usize = 128;
/// The first devfn served by the upper context table.
pub const UPPER_DEVFN_BASE: u8 = 128;

bitfield! {
    /// A scalable-mode root entry (spec 9.2).
    pub struct RootEntry([u64; 2]) {
        /// LP: lower context table present.
        lp, with_lp: 0, 0;
        /// LCTP: lower context table pointer bits 63:12 (devfn 0-127).
        lctp, with_lctp: 63, 12;
        /// UP: upper context table present.
        up, with_up: 64, 64;
        /// UCTP: upper context table pointer bits 63:12 (devfn 128-255).
        uctp, with_uctp: 127, 76;
    }
}

/// Which of a root entry's two context tables serves a devfn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextHalf {
    /// The lower context table (devfn 0-127, LCTP).
    Lower,
    /// The upper context table (devfn 128-255, UCTP).
    Upper,
}

/// Index of the root entry of `bus` in the root table.
pub const fn root_index(bus: u8) -> usize {
    bus as usize
}

/// The context table (lower or upper) and the entry index within it that
/// serve `devfn` in scalable mode.
pub const fn sm_context_slot(devfn: u8) -> (ContextHalf, usize) {
    if devfn < UPPER_DEVFN_BASE {
        (ContextHalf::Lower, devfn as usize)
    } else {
        (ContextHalf::Upper, (devfn - UPPER_DEVFN_BASE) as usize)
    }
}

/// Byte offset within its context table of the entry of `devfn`, with the
/// table it is in.
pub const fn sm_context_offset(devfn: u8) -> (ContextHalf, usize) {
    let (half, index) = sm_context_slot(devfn);
    (half, index * SM_CONTEXT_ENTRY_SIZE)
}

impl RootEntry {
    /// The context table pointer of `half` if that half is present.
    pub const fn context_table(&self, half: ContextHalf) -> Option<u64> {
        match half {
            ContextHalf::Lower if self.lp() != 0 => Some(self.lctp() << PAGE_SHIFT),
            ContextHalf::Upper if self.up() != 0 => Some(self.uctp() << PAGE_SHIFT),
            _ => None,
        }
    }

    /// A copy with `half` pointing to the (4 KiB aligned) context table at
    /// `table` and present; [`Errno::EINVAL`] if `table` is not aligned.
    pub fn with_context_table(self, half: ContextHalf, table: u64) -> Result<Self, Errno> {
        let frame = page_frame(table).ok_or(Errno::EINVAL)?;
        match half {
            ContextHalf::Lower => self.with_lctp(frame).and_then(|e| e.with_lp(1)),
            ContextHalf::Upper => self.with_uctp(frame).and_then(|e| e.with_up(1)),
        }
        .ok_or(Errno::EINVAL)
    }
}

bitfield! {
    /// A scalable-mode context entry (spec 9.4), 256 bits; bits 255:128 are
    /// reserved (QEMU faults on any of them set).
    pub struct SmContextEntry([u64; 4]) {
        /// P: present.
        p, with_p: 0, 0;
        /// FPD: fault processing disable.
        fpd, with_fpd: 1, 1;
        /// DTE: device-TLB (ATS translation requests) enable.
        dte, with_dte: 2, 2;
        /// PASIDE: requests with PASID enabled.
        paside, with_paside: 3, 3;
        /// PRE: page requests enabled.
        pre, with_pre: 4, 4;
        /// PDTS: PASID directory size, `2^(PDTS + 7)` entries.
        pdts, with_pdts: 11, 9;
        /// PASIDDIRPTR: PASID directory pointer bits 63:12.
        pasid_dir_ptr, with_pasid_dir_ptr: 63, 12;
        /// RID_PASID: the PASID of requests without PASID (ECAP.RPS, else
        /// must be 0).
        rid_pasid, with_rid_pasid: 83, 64;
        /// RID_PRIV: the privilege of requests without PASID (ECAP.RPRIVS).
        rid_priv, with_rid_priv: 84, 84;
    }
}

/// log2 of the number of PASID directory entries that PDTS 0 means.
const PDTS_BASE_SHIFT: u32 = 7;
/// Largest PDTS (2^14 directory entries cover all 20-bit PASIDs).
pub const PDTS_MAX: u64 = 7;
/// PASID bits resolved by a PASID table (the directory index starts above).
const PASID_TABLE_BITS: u32 = 6;

/// Number of PASID directory entries that a context entry's PDTS means.
pub const fn pasid_dir_entries(pdts: u64) -> u32 {
    let pdts = if pdts > PDTS_MAX { PDTS_MAX } else { pdts };
    1 << (PDTS_BASE_SHIFT + pdts as u32)
}

/// The smallest PDTS whose directory covers all PASIDs below
/// `2^pasid_bits` (e.g. [`super::regs::Ecap::pasid_bits`]); `pasid_bits` above
/// 20 is clamped to 20.
pub const fn pdts_for_pasid_bits(pasid_bits: u32) -> u64 {
    let bits = if pasid_bits > PASID_BITS {
        PASID_BITS
    } else {
        pasid_bits
    };
    let dir_bits = bits.saturating_sub(PASID_TABLE_BITS);
    dir_bits.saturating_sub(PDTS_BASE_SHIFT) as u64
}

/// The largest PDTS whose directory fits in `bytes` of memory (a PASID
/// directory entry is 8 bytes), so that the unit never reads past the
/// directory the driver allocated: Linux 7.3 sizes PDTS from its
/// allocation too (`intel_pasid_alloc_table()` sets `max_pasid` from the
/// directory's order, `context_pdts()` derives PDTS from it).  0 below the
/// smallest directory (128 entries), [`PDTS_MAX`] at most.
pub const fn pdts_for_dir_bytes(bytes: usize) -> u64 {
    let entries = bytes / super::pasid::PASID_DIR_ENTRY_SIZE;
    if entries >> PDTS_BASE_SHIFT == 0 {
        return 0;
    }
    let pdts = (usize::BITS - 1 - entries.leading_zeros()) - PDTS_BASE_SHIFT;
    if pdts as u64 > PDTS_MAX {
        PDTS_MAX
    } else {
        pdts as u64
    }
}

/// The options of a scalable-mode context entry besides its pointer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SmContextOptions {
    /// FPD: report no faults for this device.
    pub fault_disable: bool,
    /// DTE: allow ATS translation requests (ECAP.DT and device ATS).
    pub device_tlb: bool,
    /// PASIDE: allow requests with PASID.
    pub pasid_enable: bool,
    /// PRE: allow page requests (ECAP.PRS).
    pub page_request: bool,
    /// RID_PASID: the PASID of requests without PASID; 0 unless ECAP.RPS.
    pub rid_pasid: u32,
}

impl SmContextEntry {
    /// A present context entry pointing to the PASID directory at
    /// `pasid_dir` (4 KiB aligned) of `2^(pdts + 7)` entries.
    ///
    /// [`Errno::EINVAL`] if `pasid_dir` is not aligned, `pdts` is above
    /// [`PDTS_MAX`] or `opts.rid_pasid` is not a 20-bit PASID.
    pub fn new(pasid_dir: u64, pdts: u64, opts: SmContextOptions) -> Result<Self, Errno> {
        let frame = page_frame(pasid_dir).ok_or(Errno::EINVAL)?;
        if pdts > PDTS_MAX || opts.rid_pasid >= PASID_LIMIT {
            return Err(Errno::EINVAL);
        }
        Self::build(frame, pdts, opts).ok_or(Errno::EINVAL)
    }

    fn build(frame: u64, pdts: u64, opts: SmContextOptions) -> Option<Self> {
        Self::ZERO
            .with_pasid_dir_ptr(frame)?
            .with_pdts(pdts)?
            .with_fpd(u64::from(opts.fault_disable))?
            .with_dte(u64::from(opts.device_tlb))?
            .with_paside(u64::from(opts.pasid_enable))?
            .with_pre(u64::from(opts.page_request))?
            .with_rid_pasid(u64::from(opts.rid_pasid))?
            .with_p(1)
    }

    /// The PASID directory address.
    pub const fn pasid_dir(&self) -> u64 {
        self.pasid_dir_ptr() << PAGE_SHIFT
    }

    /// Whether the entry is present.
    pub const fn is_present(&self) -> bool {
        self.p() != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_entry_halves() {
        let e = RootEntry::ZERO
            .with_context_table(ContextHalf::Lower, 0x1000)
            .unwrap()
            .with_context_table(ContextHalf::Upper, 0xabc_d000)
            .unwrap();
        assert_eq!(e.0, [0x1001, 0xabc_d001]);
        assert_eq!(e.context_table(ContextHalf::Lower), Some(0x1000));
        assert_eq!(e.context_table(ContextHalf::Upper), Some(0xabc_d000));
        assert_eq!(RootEntry::ZERO.context_table(ContextHalf::Upper), None);
        assert_eq!(
            RootEntry::ZERO.with_context_table(ContextHalf::Lower, 0x1800),
            Err(Errno::EINVAL)
        );
        // Bits 11:1 of both halves stay zero (QEMU checks them reserved).
        assert_eq!(e.0[0] & 0xffe, 0);
        assert_eq!(e.0[1] & 0xffe, 0);
    }

    #[test]
    fn context_slots() {
        assert_eq!(root_index(0x12), 0x12);
        assert_eq!(sm_context_slot(0), (ContextHalf::Lower, 0));
        assert_eq!(sm_context_slot(127), (ContextHalf::Lower, 127));
        assert_eq!(sm_context_slot(128), (ContextHalf::Upper, 0));
        assert_eq!(sm_context_slot(255), (ContextHalf::Upper, 127));
        // 00:03.0 -> devfn 0x18, lower table, byte 0x300.
        assert_eq!(sm_context_offset(0x18), (ContextHalf::Lower, 0x300));
        assert_eq!(sm_context_offset(0x90), (ContextHalf::Upper, 0x200));
        assert_eq!(SM_CONTEXT_ENTRIES * SM_CONTEXT_ENTRY_SIZE, 4096);
        assert_eq!(ROOT_ENTRIES * ROOT_ENTRY_SIZE, 4096);
        // Every devfn gets a distinct (half, index).
        let mut seen = [[false; SM_CONTEXT_ENTRIES]; 2];
        for devfn in 0..=255u8 {
            let (half, index) = sm_context_slot(devfn);
            let h = usize::from(half == ContextHalf::Upper);
            assert!(!seen[h][index]);
            seen[h][index] = true;
        }
    }

    #[test]
    fn sm_context_entry_like_linux() {
        // Linux context_entry_set_pasid_table(): lo = dir | PDTS << 9, RID_PASID
        // 0, DTE/PASIDE/PRE as supported, fault enable, present.
        let opts = SmContextOptions {
            device_tlb: true,
            pasid_enable: true,
            page_request: true,
            ..Default::default()
        };
        let e = SmContextEntry::new(0x7654_3000, 7, opts).unwrap();
        assert_eq!(
            e.0,
            [
                0x7654_3000 | (7 << 9) | (1 << 4) | (1 << 3) | (1 << 2) | 1,
                0,
                0,
                0
            ]
        );
        assert!(e.is_present());
        assert_eq!(e.pasid_dir(), 0x7654_3000);
        let plain = SmContextEntry::new(0x1000, 0, SmContextOptions::default()).unwrap();
        assert_eq!(plain.0, [0x1001, 0, 0, 0]);
        let odd = SmContextOptions {
            fault_disable: true,
            rid_pasid: 0xf_ffff,
            ..Default::default()
        };
        let e = SmContextEntry::new(0x1000, 1, odd).unwrap();
        assert_eq!(e.0, [0x1000 | (1 << 9) | 2 | 1, 0xf_ffff, 0, 0]);
        assert_eq!(e.with_rid_priv(1).unwrap().0[1], 0x1f_ffff);
        // QEMU's reserved masks: bits 8:5 of word 0, 63:21 of word 1.
        assert_eq!(e.0[0] & 0x1e0, 0);
        assert_eq!(e.0[1] & 0xffff_ffff_ffe0_0000, 0);
        assert_eq!(
            SmContextEntry::new(0x1800, 0, SmContextOptions::default()),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            SmContextEntry::new(0x1000, 8, SmContextOptions::default()),
            Err(Errno::EINVAL)
        );
        let bad = SmContextOptions {
            rid_pasid: PASID_LIMIT,
            ..Default::default()
        };
        assert_eq!(SmContextEntry::new(0x1000, 0, bad), Err(Errno::EINVAL));
    }

    #[test]
    fn pdts() {
        assert_eq!(pasid_dir_entries(0), 128);
        assert_eq!(pasid_dir_entries(7), 1 << 14);
        assert_eq!(pasid_dir_entries(9), 1 << 14);
        // QEMU x-pasid-mode: PSS 7, 8-bit PASIDs, 4 directory entries.
        // One 4 KiB page: 512 entries, PDTS 2; never past the allocation.
        assert_eq!(pdts_for_dir_bytes(4096), 2);
        assert_eq!(pasid_dir_entries(pdts_for_dir_bytes(4096)), 512);
        assert_eq!(pdts_for_dir_bytes(1024), 0);
        assert_eq!(pdts_for_dir_bytes(1023), 0);
        assert_eq!(pdts_for_dir_bytes(0), 0);
        assert_eq!(pdts_for_dir_bytes(6000), 2);
        assert_eq!(pdts_for_dir_bytes(128 * 1024), 7);
        assert_eq!(pdts_for_dir_bytes(1 << 30), 7);
        for bytes in [1024usize, 2048, 4096, 8192, 65536, 131072] {
            let entries = pasid_dir_entries(pdts_for_dir_bytes(bytes)) as usize;
            assert_eq!(entries * 8, bytes);
        }
        assert_eq!(pdts_for_pasid_bits(8), 0);
        assert_eq!(pdts_for_pasid_bits(13), 0);
        assert_eq!(pdts_for_pasid_bits(14), 1);
        assert_eq!(pdts_for_pasid_bits(20), 7);
        assert_eq!(pdts_for_pasid_bits(31), 7);
        assert_eq!(pdts_for_pasid_bits(0), 0);
        for bits in 0..=20 {
            let pdts = pdts_for_pasid_bits(bits);
            // Covers every PASID below 2^bits ...
            assert!(u64::from(pasid_dir_entries(pdts)) << 6 >= 1u64 << bits);
            // ... and is the smallest that does.
            if pdts > 0 {
                assert!(u64::from(pasid_dir_entries(pdts - 1)) << 6 < 1u64 << bits);
            }
        }
    }
}
