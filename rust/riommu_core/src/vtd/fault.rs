// SPDX-License-Identifier: GPL-2.0

//! Primary fault records and fault reasons (spec chapter 7, 11.4).
//!
//! The fault interrupt handler reads FSTS; while PPF is set it reads the
//! fault recording registers from index FRI on ([`next_fault_index`]),
//! decodes each with F set ([`Fault::decode`]), clears it by writing
//! [`super::regs::Frcd::F_CLEAR`] to its upper dword, and finally clears
//! FSTS.PFO/PPF by writing them back.

use super::regs::Frcd;
use super::PAGE_SHIFT;

/// The kind of request that faulted (FRCD T1 and T2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessType {
    /// A DMA write (T1 = 0, T2 = 0).
    Write,
    /// A page request (T1 = 0, T2 = 1).
    PageRequest,
    /// A DMA read (T1 = 1, T2 = 0).
    Read,
    /// An AtomicOp (T1 = 1, T2 = 1).
    AtomicOp,
}

/// A decoded primary fault record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The requester id of the faulting device.
    pub source_id: u16,
    /// The faulting page address (FI); for interrupt remapping faults, bits
    /// 63:48 hold the interrupt index.
    pub address: u64,
    /// FR: the fault reason ([`reason_str`]).
    pub reason: u8,
    /// What the request was.
    pub access: AccessType,
    /// The PASID of the request, if it had one (PP).
    pub pasid: Option<u32>,
    /// PRIV: supervisor privilege was requested.
    pub privileged: bool,
    /// EXE: execute permission was requested.
    pub execute: bool,
    /// AT: address type (0 untranslated, 1 translation request, 2
    /// translated).
    pub address_type: u8,
}

/// Bits of the source id holding the devfn.
const DEVFN_BITS: u32 = 8;
/// Bits of the devfn holding the function.
const FUNCTION_BITS: u32 = 3;
/// Mask of the function number.
const FUNCTION_MASK: u8 = (1 << FUNCTION_BITS) - 1;

impl Fault {
    /// Decodes the fault recording register `(lo, hi)` (the two 64-bit
    /// halves at [`super::regs::fault_reg_offset`] and 8 bytes above);
    /// `None` if its F bit is clear (nothing recorded).
    pub const fn decode(lo: u64, hi: u64) -> Option<Fault> {
        let r = Frcd([lo, hi]);
        if r.f() == 0 {
            return None;
        }
        let access = match (r.t1(), r.t2()) {
            (0, 0) => AccessType::Write,
            (0, _) => AccessType::PageRequest,
            (_, 0) => AccessType::Read,
            _ => AccessType::AtomicOp,
        };
        Some(Fault {
            source_id: r.sid() as u16,
            address: r.fi() << PAGE_SHIFT,
            reason: r.fr() as u8,
            access,
            pasid: if r.pp() != 0 {
                Some(r.pv() as u32)
            } else {
                None
            },
            privileged: r.privilege() != 0,
            execute: r.exe() != 0,
            address_type: r.at() as u8,
        })
    }

    /// The bus of the faulting device.
    pub const fn bus(&self) -> u8 {
        (self.source_id >> DEVFN_BITS) as u8
    }

    /// The devfn of the faulting device.
    pub const fn devfn(&self) -> u8 {
        self.source_id as u8
    }

    /// The PCI device (slot) number of the faulting device.
    pub const fn device(&self) -> u8 {
        self.devfn() >> FUNCTION_BITS
    }

    /// The PCI function number of the faulting device.
    pub const fn function(&self) -> u8 {
        self.devfn() & FUNCTION_MASK
    }

    /// Whether the request was a write (Linux prints "DMA Write" for T1 = 0).
    pub const fn is_write(&self) -> bool {
        matches!(self.access, AccessType::Write)
    }

    /// The class of the fault reason.
    pub const fn kind(&self) -> FaultKind {
        reason_kind(self.reason)
    }
}

/// The index of the fault recording register after `index`, wrapping at
/// `num_fault_regs` ([`super::regs::Cap::num_fault_regs`], at least 1).
pub const fn next_fault_index(index: u32, num_fault_regs: u32) -> u32 {
    let next = index.saturating_add(1);
    if next >= num_fault_regs {
        0
    } else {
        next
    }
}

/// The class of a fault reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// A legacy-mode DMA remapping fault (reasons 0x1-0xE).
    LegacyDma,
    /// An interrupt remapping fault (reasons 0x20-0x29).
    InterruptRemap,
    /// A scalable-mode DMA remapping fault (reasons 0x30 and up).
    ScalableDma,
    /// A reason this module does not know.
    Unknown,
}

/// First legacy DMA remapping reason.
const LEGACY_FIRST: u8 = 0x01;
/// Last legacy DMA remapping reason.
const LEGACY_LAST: u8 = 0x0e;
/// First interrupt remapping reason.
const IR_FIRST: u8 = 0x20;
/// Last interrupt remapping reason.
const IR_LAST: u8 = 0x29;
/// First scalable-mode reason.
const SM_FIRST: u8 = 0x30;

/// The class of fault reason `code`: known codes only.
pub const fn reason_kind(code: u8) -> FaultKind {
    if reason_known(code) {
        if code >= LEGACY_FIRST && code <= LEGACY_LAST {
            FaultKind::LegacyDma
        } else if code >= IR_FIRST && code <= IR_LAST {
            FaultKind::InterruptRemap
        } else if code >= SM_FIRST {
            FaultKind::ScalableDma
        } else {
            FaultKind::Unknown
        }
    } else {
        FaultKind::Unknown
    }
}

/// Whether [`reason_str`] knows `code`.
pub const fn reason_known(code: u8) -> bool {
    reason_lookup(code).is_some()
}

/// What fault reason `code` means (spec chapter 7, "Address Translation Faults"), or
/// `"unknown fault reason"`.
///
/// Covers the legacy reasons, the interrupt remapping reasons and the
/// scalable-mode reasons Linux and QEMU name (QEMU's `VTDFaultReason`:
/// 0x1-0xe, 0x20-0x26, 0x31, 0x47, 0x50, 0x51, 0x58, 0x59, 0x5b, 0x70-0x73,
/// 0x80, 0x81, 0x85, 0x87, 0x91).
pub const fn reason_str(code: u8) -> &'static str {
    match reason_lookup(code) {
        Some(s) => s,
        None => "unknown fault reason",
    }
}

/// The text of a known reason.
const fn reason_lookup(code: u8) -> Option<&'static str> {
    Some(match code {
        // Legacy mode (spec chapter 7: "LRT", "LCT", "LSL", "LGN" conditions).
        0x01 => "root entry not present",
        0x02 => "context entry not present",
        0x03 => "invalid context entry programming",
        0x04 => "address beyond the guest address width",
        0x05 => "no write permission",
        0x06 => "no read permission",
        0x07 => "cannot access a second-level paging entry",
        0x08 => "cannot access the root entry (bad root table address)",
        0x09 => "cannot access the context entry (bad context table pointer)",
        0x0a => "reserved field set in a root entry",
        0x0b => "reserved field set in a context entry",
        0x0c => "reserved field set in a second-level paging entry",
        0x0d => "request blocked by the context entry's translation type",
        0x0e => "output address in the interrupt address range",
        // Interrupt remapping (spec chapter 5).
        0x20 => "reserved field set in a remappable interrupt request",
        0x21 => "interrupt index beyond the remapping table",
        0x22 => "interrupt remapping table entry not present",
        0x23 => "cannot access the interrupt remapping table",
        0x24 => "reserved field set in an interrupt remapping table entry",
        0x25 => "compatibility format interrupt blocked",
        0x26 => "interrupt blocked by source-id verification",
        0x27 => "cannot access a posted interrupt descriptor",
        0x28 => "reserved field set in a posted interrupt descriptor",
        0x29 => "interrupt request without PASID is invalid",
        // Root table address (scalable mode, "RTA").
        0x30 => "invalid root table address",
        0x31 => "translation table mode is legacy for a request with PASID",
        0x32 => "translation table mode is legacy for a page request",
        // Scalable-mode root table ("SRT").
        0x38 => "cannot access a scalable-mode root entry",
        0x39 => "scalable-mode root entry not present",
        0x3a => "reserved field set in a scalable-mode root entry",
        // Scalable-mode context table ("SCT").
        0x40 => "cannot access a scalable-mode context entry",
        0x41 => "scalable-mode context entry not present",
        0x42 => "reserved field set in a scalable-mode context entry",
        0x43 => "invalid scalable-mode context entry programming",
        0x44 => "translation request with DTE clear in the context entry",
        0x45 => "request with PASID and PASIDE clear in the context entry",
        0x46 => "PASID beyond the PASID directory size of the context entry",
        0x47 => "page request with PRE clear in the context entry",
        0x48 => "bad RID_PASID in the context entry",
        // PASID directory ("SPD").
        0x50 => "cannot access a PASID directory entry",
        0x51 => "PASID directory entry not present",
        0x52 => "reserved field set in a PASID directory entry",
        // PASID table ("SPT").
        0x58 => "cannot access a PASID table entry",
        0x59 => "PASID table entry not present",
        0x5a => "reserved field set in a PASID table entry",
        0x5b => "invalid PASID table entry programming",
        0x5c => "execute request with ERE clear in the PASID entry",
        0x5d => "supervisor request with SRE clear in the PASID entry",
        // First stage ("SFL"/"SFS").
        0x70 => "cannot access a first-stage paging entry",
        0x71 => "first-stage paging entry not present",
        0x72 => "reserved field set in a first-stage paging entry",
        0x73 => "cannot access the first-stage root (bad FSPTPTR)",
        0x74 => "first-stage entry address beyond the guest address width (nested)",
        0x75 => "no read permission in the nested walk of the first-stage root",
        0x76 => "no read permission in the nested walk of a first-stage entry",
        0x77 => "no write permission in the nested walk of a first-stage entry",
        // Second stage ("SSL"/"SSS").
        0x78 => "cannot access a second-stage paging entry",
        0x79 => "no read/write permission in a second-stage paging entry",
        0x7a => "reserved field set in a second-stage paging entry",
        0x7b => "cannot access the second-stage root (bad SSPTPTR)",
        0x7c => "second-stage A/D update needed with non-snooped paging structures",
        // General scalable-mode ("SGN").
        0x80 => "non-canonical first-stage input address",
        0x81 => "user request to a supervisor-only first-stage page",
        0x82 => "no execute permission",
        0x83 => "input address beyond the address width",
        0x84 => "second-stage output address beyond the host address width",
        0x85 => "no write permission",
        0x86 => "no read permission",
        0x87 => "output address in the interrupt address range",
        // First-stage A/D updates.
        0x90 => "first-stage A/D update needed with non-snooped paging structures",
        0x91 => "first-stage A/D update failed",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// QEMU `vtd_report_frcd_fault()` encoding: `lo = FI(addr)`,
    /// `hi = SID | FR << 32 | PV << 40 | PP << 31 | (!is_write) << 62 | F`.
    fn qemu_frcd(sid: u16, fault: u8, addr: u64, is_write: bool, pasid: Option<u32>) -> (u64, u64) {
        let lo = addr & !0xfff;
        let mut hi = u64::from(sid) | (u64::from(fault) << 32) | (1 << 63);
        if let Some(p) = pasid {
            hi |= ((u64::from(p) & 0xffff) << 40) | (1 << 31);
        }
        if !is_write {
            hi |= 1 << 62;
        }
        (lo, hi)
    }

    #[test]
    fn decode_qemu_records() {
        let (lo, hi) = qemu_frcd(0x0018, 0x71, 0xdead_beef, false, None);
        let f = Fault::decode(lo, hi).unwrap();
        assert_eq!(f.source_id, 0x0018);
        assert_eq!((f.bus(), f.device(), f.function()), (0, 3, 0));
        assert_eq!(f.address, 0xdead_b000);
        assert_eq!(f.reason, 0x71);
        assert_eq!(f.access, AccessType::Read);
        assert!(!f.is_write());
        assert_eq!(f.pasid, None);
        assert_eq!(f.kind(), FaultKind::ScalableDma);
        assert_eq!(reason_str(f.reason), "first-stage paging entry not present");

        let (lo, hi) = qemu_frcd(0x0a13, 0x85, 0x7f_ffff_f000, true, Some(0x42));
        let f = Fault::decode(lo, hi).unwrap();
        assert_eq!(
            (f.bus(), f.devfn(), f.device(), f.function()),
            (0x0a, 0x13, 2, 3)
        );
        assert_eq!(f.access, AccessType::Write);
        assert!(f.is_write());
        assert_eq!(f.pasid, Some(0x42));
        assert_eq!(f.address, 0x7f_ffff_f000);
        assert!(!f.privileged && !f.execute);
        assert_eq!(f.address_type, 0);

        assert_eq!(Fault::decode(lo, hi & !(1 << 63)), None);
    }

    #[test]
    fn decode_all_fields() {
        let hi = 0xffff
            | (1 << (92 - 64))
            | (1 << (93 - 64))
            | (1 << (94 - 64))
            | (1 << (95 - 64))
            | (0x5b << 32)
            | (0xf_ffff << 40)
            | (2 << 60)
            | (1 << 62)
            | (1 << 63);
        let f = Fault::decode(u64::MAX, hi).unwrap();
        assert_eq!(f.source_id, 0xffff);
        assert_eq!(f.address, !0xfff);
        assert_eq!(f.reason, 0x5b);
        assert_eq!(f.pasid, Some(0xf_ffff));
        assert_eq!(f.access, AccessType::AtomicOp);
        assert!(f.privileged && f.execute);
        assert_eq!(f.address_type, 2);
        let page = Fault::decode(0, (1 << (92 - 64)) | (1 << 63)).unwrap();
        assert_eq!(page.access, AccessType::PageRequest);
        assert_eq!(page.pasid, None);
    }

    #[test]
    fn every_qemu_reason_is_named() {
        // hw/i386/intel_iommu_internal.h VTDFaultReason (QEMU 10).
        let qemu = [
            0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
            0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x31, 0x47, 0x50, 0x51, 0x58, 0x59, 0x5b,
            0x70, 0x71, 0x72, 0x73, 0x80, 0x81, 0x85, 0x87, 0x91,
        ];
        for code in qemu {
            assert!(reason_known(code), "{code:#x}");
            assert_ne!(reason_kind(code), FaultKind::Unknown, "{code:#x}");
        }
        // And every one Linux's tables name.
        for code in (0x01..=0x0d).chain(0x20..=0x26).chain([
            0x30, 0x31, 0x32, 0x38, 0x39, 0x3a, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
            0x48, 0x50, 0x51, 0x52, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x70, 0x71, 0x72, 0x73,
            0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x80, 0x81, 0x82, 0x83, 0x84,
            0x85, 0x86, 0x87, 0x90,
        ]) {
            assert!(reason_known(code), "{code:#x}");
        }
    }

    #[test]
    fn reason_kinds_and_unknowns() {
        assert_eq!(reason_kind(0x05), FaultKind::LegacyDma);
        assert_eq!(reason_kind(0x22), FaultKind::InterruptRemap);
        assert_eq!(reason_kind(0x59), FaultKind::ScalableDma);
        for code in [
            0x00, 0x0f, 0x1f, 0x2a, 0x33, 0x3b, 0x49, 0x60, 0x88, 0x92, 0xff,
        ] {
            assert_eq!(reason_kind(code), FaultKind::Unknown, "{code:#x}");
            assert_eq!(reason_str(code), "unknown fault reason");
        }
        // Every code has some text.
        for code in 0..=255u8 {
            assert!(!reason_str(code).is_empty());
        }
    }

    #[test]
    fn fault_index_wraps() {
        assert_eq!(next_fault_index(0, 1), 0);
        assert_eq!(next_fault_index(0, 4), 1);
        assert_eq!(next_fault_index(3, 4), 0);
        assert_eq!(next_fault_index(255, 256), 0);
        assert_eq!(next_fault_index(u32::MAX, 4), 0);
    }
}
