// SPDX-License-Identifier: GPL-2.0
//! The guest's side of a virtual SMMUv3: its RAM, and the SMMUv3 structures
//! a guest driver writes there (Arm IHI 0070, "SMMUv3"): the user STE a VMM
//! hands to iommufd, the Context Descriptor, the stage 1 (VMSAv8-64, 4 KiB
//! granule) page tables, and the commands a guest puts on its command queue
//! that the VMM forwards through the vIOMMU.
//!
//! These encodings are written here, independently of riommu's own
//! (`riommu_core::smmuv3`), as a guest driver would write them: a shared
//! encoding bug would not cancel out.  They are the values
//! tools/testing/selftests/riommu_smmuv3/riommu_smmuv3_nested.c uses, which
//! the unit tests below check.

use std::io;
use std::ptr::NonNull;

/// The guest's page size (the stage 1 granule, and the IOAS mapping unit).
pub const PAGE: u64 = 0x1000;

/// Guest RAM: anonymous memory that the VMM maps into the IOAS (the guest
/// physical, or intermediate physical, address space).
///
/// The device reads and writes it by DMA at any time, so it is only ever
/// touched through volatile accesses of raw pointers, never through a Rust
/// reference (the contract of `VfioIommufd::vfio_dma_map`).
pub struct GuestRam {
    base: NonNull<u8>,
    len: usize,
}

impl GuestRam {
    /// `pages` zeroed pages.
    pub fn new(pages: usize) -> io::Result<Self> {
        let len = pages * PAGE as usize;
        // SAFETY: a fresh private anonymous mapping; no existing memory is
        // affected.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            // mmap() never returns NULL on success without MAP_FIXED.
            base: NonNull::new(p.cast()).ok_or(io::ErrorKind::Other)?,
            len,
        })
    }

    /// The host virtual address of page `pg`, for `vfio_dma_map`.
    pub fn page_ptr(&self, pg: usize) -> *mut u8 {
        assert!((pg + 1) * PAGE as usize <= self.len);
        // SAFETY: in bounds of the mapping (asserted).
        unsafe { self.base.as_ptr().add(pg * PAGE as usize) }
    }

    /// Writes the 64-bit little-endian word `idx` of page `pg`.
    pub fn write_u64(&self, pg: usize, idx: usize, v: u64) {
        assert!(idx < PAGE as usize / 8);
        // SAFETY: in bounds and 8-byte aligned (page base plus 8 * idx);
        // volatile, as the device may access the page concurrently.
        unsafe {
            self.page_ptr(pg)
                .cast::<u64>()
                .add(idx)
                .write_volatile(v.to_le())
        }
    }

    /// A copy of page `pg`.
    pub fn page(&self, pg: usize) -> Vec<u8> {
        let p = self.page_ptr(pg);
        // SAFETY: in bounds; volatile byte reads of memory the device may
        // write.
        (0..PAGE as usize)
            .map(|i| unsafe { p.add(i).read_volatile() })
            .collect()
    }

    /// Fills the first `len` bytes of page `pg` with the pattern of `seed`.
    pub fn fill(&self, pg: usize, seed: u8, len: usize) {
        let p = self.page_ptr(pg);
        for (i, b) in pattern(seed, len).into_iter().enumerate() {
            // SAFETY: in bounds (len <= PAGE, checked by `pattern`).
            unsafe { p.add(i).write_volatile(b) };
        }
    }

    /// Zeroes page `pg`.
    pub fn zero(&self, pg: usize) {
        let p = self.page_ptr(pg);
        for i in 0..PAGE as usize {
            // SAFETY: in bounds.
            unsafe { p.add(i).write_volatile(0) };
        }
    }

    /// Orders the guest's table writes before what follows (a command, a
    /// DMA start): the SMMU reads them from memory.
    pub fn publish(&self) {
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for GuestRam {
    fn drop(&mut self) {
        // SAFETY: our own mapping, unmapped once; the VMM unmapped it from
        // the IOAS (or destroyed the IOAS) before dropping it.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// The DMA test pattern: `len` bytes from `seed`.
pub fn pattern(seed: u8, len: usize) -> Vec<u8> {
    assert!(len <= PAGE as usize);
    (0..len)
        .map(|i| seed.wrapping_add((i as u8).wrapping_mul(7)))
        .collect()
}

/// Stream Table Entry words 0 and 1 (§5.2), the part a VMM passes as
/// `iommu_hwpt_arm_smmuv3`.
pub mod ste {
    /// `V`: valid.
    pub const V: u64 = 1 << 0;
    /// `Config` (bits 3:1) = 0b101: stage 1 translate, stage 2 bypass (of
    /// the guest's view; the host's stage 2 nests under it).
    pub const CFG_S1_TRANS: u64 = 0b101 << 1;
    /// `S1ContextPtr`: bits 51:6 of the CD table's address.
    pub const S1_CONTEXT_PTR_MASK: u64 = ((1 << 52) - 1) & !((1 << 6) - 1);
    /// Word 1 `S1CIR` = WBRA: the CD table fetch is inner write-back.
    pub const S1CIR_WBRA: u64 = 1 << 2;
    /// Word 1 `S1COR` = WBRA.
    pub const S1COR_WBRA: u64 = 1 << 4;
    /// Word 1 `S1CSH` = inner shareable.
    pub const S1CSH_ISH: u64 = 3 << 6;

    /// A stage 1 STE whose one-entry CD table is at `cd_ipa`.
    pub fn s1_translate(cd_ipa: u64) -> [u64; 2] {
        [
            V | CFG_S1_TRANS | (cd_ipa & S1_CONTEXT_PTR_MASK),
            S1CIR_WBRA | S1COR_WBRA | S1CSH_ISH,
        ]
    }
}

/// Context Descriptor words 0, 1 and 3 (§5.4), for a 48-bit VA space with
/// a 4 KiB granule translated through TTB0.
pub mod cd {
    /// `T0SZ`: the VA size of TTB0's range, 64 - 48.
    pub const T0SZ_48: u64 = 64 - 48;
    /// `IR0` = WBRA: inner cacheability of the table walks.
    pub const IR0_WBRA: u64 = 1 << 8;
    /// `OR0` = WBRA.
    pub const OR0_WBRA: u64 = 1 << 10;
    /// `SH0` = inner shareable.
    pub const SH0_ISH: u64 = 3 << 12;
    /// `EPD1`: no walks through TTB1.
    pub const EPD1: u64 = 1 << 30;
    /// `V`: valid.
    pub const V: u64 = 1 << 31;
    /// `IPS` (bits 34:32): the intermediate physical address size.
    pub const IPS_SHIFT: u32 = 32;
    /// `AA64`: VMSAv8-64 tables.
    pub const AA64: u64 = 1 << 41;
    /// `R`: record faults.
    pub const R: u64 = 1 << 45;
    /// `A`: abort faulting transactions.
    pub const A: u64 = 1 << 46;
    /// `ASET`: the ASID is not shared with a PE.
    pub const ASET: u64 = 1 << 47;
    /// `ASID` (bits 63:48).
    pub const ASID_SHIFT: u32 = 48;
    /// `TTB0` (word 1): bits 51:4 of the table's address.
    pub const TTB0_MASK: u64 = ((1 << 52) - 1) & !((1 << 4) - 1);
    /// `MAIR0` (word 3): attribute 0 Normal non-cacheable, 1 Normal
    /// write-back RW-allocate, 2 Device-nGnRE, 3 Normal inner NC, outer WB.
    pub const MAIR: u64 = 0xf404ff44;
    /// The index of write-back memory in [`MAIR`].
    pub const MAIR_IDX_WB: u64 = 1;

    /// The CD of address space `asid` with stage 1 tables at `ttb0`;
    /// `oas` is `SMMU_IDR5.OAS`, which the guest reads from its vSMMU's
    /// `IDR5` (the host's, as `IOMMU_GET_HW_INFO` reports it).
    pub fn new(asid: u16, ttb0: u64, oas: u32) -> [u64; 4] {
        [
            T0SZ_48
                | IR0_WBRA
                | OR0_WBRA
                | SH0_ISH
                | EPD1
                | V
                | (u64::from(oas & 7) << IPS_SHIFT)
                | AA64
                | R
                | A
                | ASET
                | (u64::from(asid) << ASID_SHIFT),
            ttb0 & TTB0_MASK,
            0,
            MAIR,
        ]
    }
}

/// VMSAv8-64 stage 1 descriptors, 4 KiB granule, 48-bit VA (four levels).
pub mod pte {
    /// A table descriptor (levels 0-2): valid, table.
    pub const TABLE: u64 = 0b11;
    /// A page descriptor (level 3): valid, page.
    pub const PAGE: u64 = 0b11;
    /// `AttrIndx` (bits 4:2).
    pub const ATTR_IDX_SHIFT: u32 = 2;
    /// `AP[1]`: EL0 (the device's unprivileged accesses) allowed; `AP[2]`
    /// clear: writable.
    pub const AP_RW_EL0: u64 = 1 << 6;
    /// `SH` = inner shareable.
    pub const SH_ISH: u64 = 3 << 8;
    /// `AF`: accessed.
    pub const AF: u64 = 1 << 10;
    /// `nG`: not global (tagged with the ASID).
    pub const NG: u64 = 1 << 11;
    /// Output address bits 47:12.
    pub const OA_MASK: u64 = ((1 << 48) - 1) & !((1 << 12) - 1);

    /// The table descriptor of a next-level table at `ipa`.
    pub fn table(ipa: u64) -> u64 {
        (ipa & OA_MASK) | TABLE
    }

    /// A writable, write-back page descriptor of `ipa`.
    pub fn page(ipa: u64) -> u64 {
        (ipa & OA_MASK)
            | PAGE
            | (super::cd::MAIR_IDX_WB << ATTR_IDX_SHIFT)
            | AP_RW_EL0
            | SH_ISH
            | AF
            | NG
    }

    /// The index of `va` in the table of `level` (0-3).
    pub fn index(va: u64, level: u32) -> usize {
        ((va >> (39 - 9 * level)) & 511) as usize
    }
}

/// Commands (§4) a guest driver puts on its vSMMU's command queue, which
/// the VMM forwards with `IommufdVIommu::invalidate`.
pub mod cmd {
    /// `CMD_CFGI_STE` (§4.3.2): the host's business; the vIOMMU refuses it.
    pub const OP_CFGI_STE: u64 = 0x03;
    /// `CMD_CFGI_CD` (§4.3.4).
    pub const OP_CFGI_CD: u64 = 0x05;
    /// `CMD_TLBI_NH_VA` (§4.4.2).
    pub const OP_TLBI_NH_VA: u64 = 0x12;
    /// `SSID` (word 0 bits 31:12).
    pub const SSID_SHIFT: u32 = 12;
    /// `SID` (word 0 bits 63:32): the guest's (virtual) StreamID.
    pub const SID_SHIFT: u32 = 32;
    /// TLBI `ASID` (word 0 bits 63:48).
    pub const ASID_SHIFT: u32 = 48;
    /// `Leaf` (word 1 bit 0).
    pub const LEAF: u64 = 1;
    /// TLBI `Address` (word 1 bits 63:12).
    pub const ADDR_MASK: u64 = !((1 << 12) - 1);

    /// Invalidate the leaf entry of `va` in address space `asid`.
    pub fn tlbi_nh_va(asid: u16, va: u64) -> [u64; 2] {
        [
            OP_TLBI_NH_VA | (u64::from(asid) << ASID_SHIFT),
            (va & ADDR_MASK) | LEAF,
        ]
    }

    /// Invalidate the CD of substream `ssid` of stream `vsid` (only the CD:
    /// leaf).
    pub fn cfgi_cd(vsid: u32, ssid: u32) -> [u64; 2] {
        [
            OP_CFGI_CD
                | (u64::from(ssid & 0xf_ffff) << SSID_SHIFT)
                | (u64::from(vsid) << SID_SHIFT),
            LEAF,
        ]
    }

    /// Invalidate the STE of `vsid` (which a vIOMMU must refuse).
    pub fn cfgi_ste(vsid: u32) -> [u64; 2] {
        [OP_CFGI_STE | (u64::from(vsid) << SID_SHIFT), 0]
    }
}

/// Event records (§7.3) as a vEVENT carries them.
pub mod evt {
    /// `F_TRANSLATION`.
    pub const F_TRANSLATION: u64 = 0x10;
    /// The event type (word 0 bits 7:0).
    pub fn id(evt: &[u64; 4]) -> u64 {
        evt[0] & 0xff
    }
    /// The StreamID (word 0 bits 63:32): the virtual one in a vEVENT.
    pub fn sid(evt: &[u64; 4]) -> u64 {
        evt[0] >> 32
    }
    /// The input address (word 2).
    pub fn input_addr(evt: &[u64; 4]) -> u64 {
        evt[2]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The values of riommu_smmuv3_nested.c, which boot on QEMU and on the
    // C driver's SMMUv3 support.
    #[test]
    fn ste_matches_the_selftest() {
        let s = ste::s1_translate(0x8000_0000);
        assert_eq!(s[0], 1 | (5 << 1) | 0x8000_0000);
        assert_eq!(s[1], (1 << 2) | (1 << 4) | (3 << 6));
    }

    #[test]
    fn cd_matches_the_selftest() {
        let c = cd::new(0x77, 0x8000_1000, 5);
        assert_eq!(
            c[0],
            16 | (1 << 8)
                | (1 << 10)
                | (3 << 12)
                | (1 << 30)
                | (1 << 31)
                | (5 << 32)
                | (1 << 41)
                | (1 << 45)
                | (1 << 46)
                | (1 << 47)
                | (0x77 << 48)
        );
        assert_eq!(c[1], 0x8000_1000);
        assert_eq!(c[3], 0xf404ff44);
    }

    #[test]
    fn pte_matches_the_selftest() {
        assert_eq!(pte::table(0x8000_2000), 0x8000_2000 | 3);
        assert_eq!(
            pte::page(0x8000_5000),
            0x8000_5000 | 3 | (1 << 2) | (1 << 6) | (3 << 8) | (1 << 10) | (1 << 11)
        );
        let va = 0x1234_5678_0000u64;
        assert_eq!(pte::index(va, 0), ((va >> 39) & 511) as usize);
        assert_eq!(pte::index(va, 3), ((va >> 12) & 511) as usize);
    }

    #[test]
    fn commands() {
        assert_eq!(
            cmd::tlbi_nh_va(0x77, 0x1234_5678_1000),
            [0x12 | (0x77 << 48), 0x1234_5678_1001]
        );
        assert_eq!(cmd::cfgi_cd(0x42, 0), [0x05 | (0x42 << 32), 1]);
        assert_eq!(cmd::cfgi_ste(0x42), [0x03 | (0x42 << 32), 0]);
    }
}
