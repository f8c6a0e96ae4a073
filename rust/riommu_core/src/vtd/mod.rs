// SPDX-License-Identifier: GPL-2.0

//! Hardware formats of Intel VT-d (the "Intel Virtualization Technology for
//! Directed I/O Architecture Specification", rev 4.x/5.0), scalable mode.
//!
//! Everything here is a pure encoding or decoding of a format the hardware
//! (or QEMU's emulated `intel-iommu`) reads or writes; the driver does the
//! MMIO, the memory allocation and the ordering (barriers, invalidations).
//!
//! - [`alias`]: the requester ids a PCI device's DMA may carry (Linux's
//!   `pci_for_each_dma_alias()`);
//! - [`dmar`]: the ACPI DMAR table (spec chapter 8);
//! - [`regs`]: the remapping unit's registers (spec chapter 11);
//! - [`context`]: scalable-mode root and context entries (spec 9.2, 9.4);
//! - [`pasid`]: PASID directory and PASID table entries (spec 9.5, 9.6);
//! - [`pte`]: first- and second-stage paging entries as
//!   [`Format`](super::pt::Format)s (spec 9.7, 9.8);
//! - [`qi`]: queued invalidation descriptors (spec 6.5.2);
//! - [`fault`]: fault recording registers and fault reasons (spec chapter 7);
//! - [`scope`]: which unit translates a PCI device, which RMRRs name it;
//! - [`inval`]: the invalidation sequences after a PASID entry changes and
//!   for stage-1 invalidation requests;
//! - [`nested`]: validation of the iommufd VT-d stage-1 uAPI structs;
//! - [`update`]: the write and invalidation order of PASID and context
//!   entry updates, and the fetch model that checks it.
//!
//! Section numbers are those of spec rev 3.x/4.x (chapter 6 invalidation,
//! 7 faults, 8 ACPI, 9 translation structures, 11 registers); fields are
//! named as in the spec, with the pre-4.0 "first-level"/"second-level" names
//! where Linux still uses them (`FLTS`, `SLLPS`, ...).

pub mod alias;
pub mod context;
pub mod dmar;
pub mod fault;
pub mod inval;
pub mod nested;
pub mod pasid;
pub mod pte;
pub mod qi;
pub mod regs;
pub mod scope;
pub mod stage;
pub mod update;

/// log2 of the VT-d page size: every table and page-granular address is
/// 4 KiB aligned, whatever the CPU page size (spec chapter 3).
pub const PAGE_SHIFT: u32 = 12;

/// The VT-d page size, 4 KiB (spec chapter 3).
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;

/// Mask of the offset within a 4 KiB page.
pub const PAGE_OFFSET_MASK: u64 = PAGE_SIZE - 1;

/// Width of a PASID (PASIDs are 20 bits).
pub const PASID_BITS: u32 = 20;

/// One past the largest PASID.
pub const PASID_LIMIT: u32 = 1 << PASID_BITS;

/// The PASID that requests without PASID use in scalable mode when the
/// context entry's RID_PASID is 0 (Linux `IOMMU_NO_PASID`, QEMU `PASID_0`).
pub const RID_PASID_DEFAULT: u32 = 0;

/// Whether `addr` is 4 KiB aligned.
pub const fn is_page_aligned(addr: u64) -> bool {
    addr & PAGE_OFFSET_MASK == 0
}

/// The page frame (bits 63:12) of a 4 KiB aligned address, as stored in the
/// 52-bit pointer fields of VT-d structures; `None` if `addr` is not aligned.
pub const fn page_frame(addr: u64) -> Option<u64> {
    if is_page_aligned(addr) {
        Some(addr >> PAGE_SHIFT)
    } else {
        None
    }
}

/// PCI requester id (source id) of `bus`/`devfn`: bus in bits 15:8, devfn in
/// 7:0.
pub const fn source_id(bus: u8, devfn: u8) -> u16 {
    ((bus as u16) << 8) | devfn as u16
}

/// The `devfn` of PCI device `device` (0-31), function `function` (0-7);
/// `None` if either is out of range.
pub const fn devfn(device: u8, function: u8) -> Option<u8> {
    if device >= 32 || function >= 8 {
        None
    } else {
        Some((device << 3) | function)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(PAGE_SIZE, 4096);
        assert!(is_page_aligned(0x1000));
        assert!(!is_page_aligned(0x1001));
        assert_eq!(page_frame(0x1234_5000), Some(0x12345));
        assert_eq!(page_frame(0x1234_5008), None);
        assert_eq!(source_id(0x12, 0x34), 0x1234);
        assert_eq!(devfn(31, 7), Some(0xff));
        assert_eq!(devfn(3, 2), Some(0x1a));
        assert_eq!(devfn(32, 0), None);
        assert_eq!(devfn(0, 8), None);
        assert_eq!(PASID_LIMIT, 0x10_0000);
    }
}
