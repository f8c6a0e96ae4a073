// SPDX-License-Identifier: GPL-2.0

//! Queued invalidation descriptors (spec 6.5.2).
//!
//! Every constructor returns a [`Descriptor`] of 256 bits whose upper 128
//! bits are zero; the driver copies [`Descriptor::as_128`] into a queue of
//! 128-bit descriptors (IQA.DW = 0) or all four words into a queue of
//! 256-bit ones (IQA.DW = 1). The PASID-based descriptors (PASID-cache,
//! PASID-based IOTLB and device-TLB) need a 256-bit queue: QEMU rejects them
//! in a 128-bit one ([`Descriptor::needs_256`]). In 256-bit mode QEMU also
//! requires words 2 and 3 to be zero.
//!
//! [`page_selective_am`] computes the address mask of a page-selective
//! invalidation that covers a range.

use super::super::bitfield::bitfield;
use super::super::errno::Errno;
use super::{is_page_aligned, PAGE_OFFSET_MASK, PAGE_SHIFT, PAGE_SIZE, PASID_LIMIT};

/// Descriptor type: context-cache invalidation.
pub const TYPE_CONTEXT_CACHE: u64 = 0x1;
/// Descriptor type: IOTLB invalidation.
pub const TYPE_IOTLB: u64 = 0x2;
/// Descriptor type: device-TLB invalidation.
pub const TYPE_DEV_TLB: u64 = 0x3;
/// Descriptor type: interrupt entry cache invalidation.
pub const TYPE_IEC: u64 = 0x4;
/// Descriptor type: invalidation wait.
pub const TYPE_WAIT: u64 = 0x5;
/// Descriptor type: PASID-based IOTLB invalidation.
pub const TYPE_PIOTLB: u64 = 0x6;
/// Descriptor type: PASID-cache invalidation.
pub const TYPE_PASID_CACHE: u64 = 0x7;
/// Descriptor type: PASID-based device-TLB invalidation.
pub const TYPE_PASID_DEV_TLB: u64 = 0x8;
/// Descriptor type: page group response.
pub const TYPE_PAGE_GROUP_RESPONSE: u64 = 0x9;

/// Size in bytes of a 128-bit descriptor.
pub const DESC_SIZE_128: usize = 16;
/// Size in bytes of a 256-bit descriptor.
pub const DESC_SIZE_256: usize = 32;

bitfield! {
    /// A queued invalidation descriptor, 256 bits. The type is split: bits
    /// 3:0 and 11:9 (spec 6.5.2).
    pub struct Descriptor([u64; 4]) {
        /// Type bits 3:0.
        type_lo, with_type_lo: 3, 0;
        /// Type bits 6:4, at bits 11:9.
        type_hi, with_type_hi: 11, 9;
    }
}

/// Width of [`Descriptor::type_lo`].
const TYPE_LO_BITS: u32 = 4;

impl Descriptor {
    /// The descriptor type (`TYPE_*`).
    pub const fn desc_type(&self) -> u64 {
        (self.type_hi() << TYPE_LO_BITS) | self.type_lo()
    }

    /// The low 128 bits, what a 128-bit queue holds.
    pub const fn as_128(&self) -> [u64; 2] {
        [self.0[0], self.0[1]]
    }

    /// Whether this descriptor type is valid only in a 256-bit queue
    /// (QEMU: PASID-cache, PASID-based IOTLB and device-TLB).
    pub const fn needs_256(&self) -> bool {
        matches!(
            self.desc_type(),
            TYPE_PIOTLB | TYPE_PASID_CACHE | TYPE_PASID_DEV_TLB
        )
    }

    /// A descriptor from its first two words.
    const fn from_128(words: [u64; 2]) -> Self {
        Descriptor([words[0], words[1], 0, 0])
    }
}

bitfield! {
    /// Context-cache invalidation descriptor (spec 6.5.2.1).
    pub struct CcDesc([u64; 2]) {
        /// Type, [`TYPE_CONTEXT_CACHE`].
        desc_type, with_desc_type: 3, 0;
        /// G: granularity (`CC_G_*`).
        g, with_g: 5, 4;
        /// DID: domain id.
        did, with_did: 31, 16;
        /// SID: source id (device granularity).
        sid, with_sid: 47, 32;
        /// FM: function mask (device granularity).
        fm, with_fm: 49, 48;
    }
}

/// Context-cache granularity: global.
pub const CC_G_GLOBAL: u64 = 1;
/// Context-cache granularity: domain-selective.
pub const CC_G_DOMAIN: u64 = 2;
/// Context-cache granularity: device-selective.
pub const CC_G_DEVICE: u64 = 3;

bitfield! {
    /// IOTLB invalidation descriptor (spec 6.5.2.3).
    pub struct IotlbDesc([u64; 2]) {
        /// Type, [`TYPE_IOTLB`].
        desc_type, with_desc_type: 3, 0;
        /// G: granularity (`IOTLB_G_*`).
        g, with_g: 5, 4;
        /// DW: drain writes (CAP.DWD).
        dw, with_dw: 6, 6;
        /// DR: drain reads (CAP.DRD).
        dr, with_dr: 7, 7;
        /// DID: domain id.
        did, with_did: 31, 16;
        /// AM: address mask, `2^AM` pages (at most CAP.MAMV).
        am, with_am: 69, 64;
        /// IH: invalidation hint, only leaf entries changed.
        ih, with_ih: 70, 70;
        /// ADDR: address bits 63:12.
        addr, with_addr: 127, 76;
    }
}

/// IOTLB granularity: global.
pub const IOTLB_G_GLOBAL: u64 = 1;
/// IOTLB granularity: domain-selective.
pub const IOTLB_G_DOMAIN: u64 = 2;
/// IOTLB granularity: page-selective within a domain.
pub const IOTLB_G_PAGE: u64 = 3;

bitfield! {
    /// PASID-based IOTLB invalidation descriptor (spec 6.5.2.4).
    pub struct PiotlbDesc([u64; 2]) {
        /// Type, [`TYPE_PIOTLB`].
        desc_type, with_desc_type: 3, 0;
        /// G: granularity (`PIOTLB_G_*`).
        g, with_g: 5, 4;
        /// DID: domain id.
        did, with_did: 31, 16;
        /// PASID.
        pasid, with_pasid: 51, 32;
        /// AM: address mask, `2^AM` pages.
        am, with_am: 69, 64;
        /// IH: invalidation hint, only leaf entries changed.
        ih, with_ih: 70, 70;
        /// ADDR: address bits 63:12.
        addr, with_addr: 127, 76;
    }
}

/// PASID-based IOTLB granularity: all (non-global) mappings of a PASID.
pub const PIOTLB_G_PASID: u64 = 2;
/// PASID-based IOTLB granularity: page-selective within a PASID.
pub const PIOTLB_G_PAGE: u64 = 3;

bitfield! {
    /// PASID-cache invalidation descriptor (spec 6.5.2.2).
    pub struct PcDesc([u64; 2]) {
        /// Type, [`TYPE_PASID_CACHE`].
        desc_type, with_desc_type: 3, 0;
        /// G: granularity (`PC_G_*`).
        g, with_g: 5, 4;
        /// DID: domain id.
        did, with_did: 31, 16;
        /// PASID.
        pasid, with_pasid: 51, 32;
    }
}

/// PASID-cache granularity: all PASIDs of a domain.
pub const PC_G_DOMAIN: u64 = 0;
/// PASID-cache granularity: one PASID of a domain.
pub const PC_G_PASID: u64 = 1;
/// PASID-cache granularity: global.
pub const PC_G_GLOBAL: u64 = 3;

bitfield! {
    /// Device-TLB invalidation descriptor (spec 6.5.2.5).
    pub struct DevTlbDesc([u64; 2]) {
        /// Type, [`TYPE_DEV_TLB`].
        desc_type, with_desc_type: 3, 0;
        /// PFSID bits 3:0 (ECAP.DIT, else zero).
        pfsid_lo, with_pfsid_lo: 15, 12;
        /// MIP: max invalidations pending (ATS invalidate queue depth).
        mip, with_mip: 20, 16;
        /// SID: source id of the device.
        sid, with_sid: 47, 32;
        /// PFSID bits 15:4 (ECAP.DIT, else zero).
        pfsid_hi, with_pfsid_hi: 63, 52;
        /// S: size; the range is encoded in ADDR's low bits.
        s, with_s: 64, 64;
        /// ADDR: address bits 63:12.
        addr, with_addr: 127, 76;
    }
}

bitfield! {
    /// PASID-based device-TLB invalidation descriptor (spec 6.5.2.6).
    pub struct PasidDevTlbDesc([u64; 2]) {
        /// Type, [`TYPE_PASID_DEV_TLB`].
        desc_type, with_desc_type: 3, 0;
        /// MIP: max invalidations pending.
        mip, with_mip: 8, 4;
        /// PFSID bits 3:0 (ECAP.DIT, else zero).
        pfsid_lo, with_pfsid_lo: 15, 12;
        /// SID: source id of the device.
        sid, with_sid: 31, 16;
        /// PASID.
        pasid, with_pasid: 51, 32;
        /// PFSID bits 15:4 (ECAP.DIT, else zero).
        pfsid_hi, with_pfsid_hi: 63, 52;
        /// G: global, also invalidate global mappings.
        g, with_g: 64, 64;
        /// S: size; the range is encoded in ADDR's low bits.
        s, with_s: 75, 75;
        /// ADDR: address bits 63:12.
        addr, with_addr: 127, 76;
    }
}

bitfield! {
    /// Interrupt entry cache invalidation descriptor (spec 6.5.2.7).
    pub struct IecDesc([u64; 2]) {
        /// Type, [`TYPE_IEC`].
        desc_type, with_desc_type: 3, 0;
        /// G: 0 global, 1 index-selective.
        g, with_g: 4, 4;
        /// IM: index mask, `2^IM` entries.
        im, with_im: 31, 27;
        /// IIDX: interrupt index.
        iidx, with_iidx: 47, 32;
    }
}

bitfield! {
    /// Invalidation wait descriptor (spec 6.5.2.8).
    pub struct WaitDesc([u64; 2]) {
        /// Type, [`TYPE_WAIT`].
        desc_type, with_desc_type: 3, 0;
        /// IF: interrupt on completion (ICS.IWC, invalidation event).
        intr, with_intr: 4, 4;
        /// SW: write the status data to the status address on completion.
        sw, with_sw: 5, 5;
        /// FN: fence, later descriptors wait for this one.
        fence, with_fence: 6, 6;
        /// PD: page-request drain (ECAP.PDS; QEMU treats it as reserved
        /// otherwise).
        pd, with_pd: 7, 7;
        /// Status data, 32 bits.
        status_data, with_status_data: 63, 32;
        /// Status address bits 63:2.
        status_addr, with_status_addr: 127, 66;
    }
}

/// log2 of the alignment of a wait descriptor's status address.
const STATUS_ADDR_SHIFT: u32 = 2;
/// Width of the (PASID-based) device-TLB descriptors' PFSID low part.
const PFSID_LO_BITS: u32 = 4;
/// Mask of the PFSID low part.
const PFSID_LO_MASK: u16 = (1 << PFSID_LO_BITS) - 1;
/// The ATS invalidate queue depth that MIP encodes as 0.
pub const ATS_MAX_QUEUE_DEPTH: u32 = 32;
/// Largest address mask: one that covers the 2^63 bytes below or above bit
/// 63 (an AM of 52 or more can not be naturally aligned).
pub const MAX_AM: u32 = 63 - PAGE_SHIFT;
/// The device-TLB size order (log2 of pages) that means "everything".
pub const DEV_TLB_ALL_ORDER: u32 = 64 - PAGE_SHIFT;

/// Read/write draining of an IOTLB invalidation (set what CAP.DRD/DWD
/// allow, as Linux does).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drain {
    /// DR: drain reads.
    pub read: bool,
    /// DW: drain writes.
    pub write: bool,
}

/// A page-selective range: `2^am` pages from `addr` (aligned to the range).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRange {
    /// The first address, aligned to `PAGE_SIZE << am`.
    pub addr: u64,
    /// The address mask: `2^am` pages.
    pub am: u32,
    /// IH: only leaf entries changed, the paging-structure caches may be kept.
    pub ih: bool,
}

impl PageRange {
    /// Checks the alignment and the mask; [`Errno::EINVAL`] if `addr` is not
    /// aligned to `2^am` pages or `am` is above [`MAX_AM`].
    fn check(&self) -> Result<(), Errno> {
        if self.am > MAX_AM || self.addr & ((PAGE_SIZE << self.am) - 1) != 0 {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }
}

/// Granularity of a context-cache invalidation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CcGranularity {
    /// All context entries.
    Global,
    /// The context entries of domain `did` (legacy mode DID; in scalable
    /// mode Linux uses it with the PASID-table DID).
    Domain {
        /// Domain id.
        did: u16,
    },
    /// The context entries of the devices `sid` (with function mask `fm`).
    Device {
        /// Domain id.
        did: u16,
        /// Source id.
        sid: u16,
        /// Function mask (0-3): the low `fm` function bits are ignored.
        fm: u8,
    },
}

/// Granularity of an IOTLB invalidation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IotlbGranularity {
    /// All domains.
    Global,
    /// Domain `did`.
    Domain {
        /// Domain id.
        did: u16,
    },
    /// A page range of domain `did` (CAP.PSI).
    Page {
        /// Domain id.
        did: u16,
        /// The range.
        range: PageRange,
    },
}

/// Granularity of a PASID-cache invalidation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PcGranularity {
    /// All PASID entries of domain `did`.
    Domain {
        /// Domain id.
        did: u16,
    },
    /// The PASID entry of `pasid` in domain `did`.
    Pasid {
        /// Domain id.
        did: u16,
        /// PASID.
        pasid: u32,
    },
    /// All PASID entries.
    Global,
}

/// What a PASID-based IOTLB invalidation covers within a DID and PASID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PiotlbGranularity {
    /// All (non-global) mappings of the PASID.
    Pasid,
    /// A page range.
    Page(PageRange),
}

/// The device whose device-TLB is invalidated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DevTlbTarget {
    /// Source id of the device.
    pub sid: u16,
    /// Source id of its physical function; only with ECAP.DIT (Linux sets
    /// it then), else 0.
    pub pfsid: u16,
    /// The device's ATS invalidate queue depth (1-32, Linux
    /// `pci_ats_queue_depth()`), or 0 for "unknown"; 32 is encoded as 0.
    pub queue_depth: u32,
}

impl DevTlbTarget {
    /// The MIP encoding of the queue depth.
    fn mip(&self) -> Option<u64> {
        match self.queue_depth {
            ATS_MAX_QUEUE_DEPTH => Some(0),
            d if d < ATS_MAX_QUEUE_DEPTH => Some(u64::from(d)),
            _ => None,
        }
    }

    /// PFSID split into its low 4 and high 12 bits.
    fn pfsid_parts(&self) -> (u64, u64) {
        (
            u64::from(self.pfsid & PFSID_LO_MASK),
            u64::from(self.pfsid >> PFSID_LO_BITS),
        )
    }
}

/// The ADDR field (bits 63:12, shifted down) and S bit that make a
/// device-TLB invalidation cover `2^order` pages from `addr` (spec 6.5.2.5):
/// with S, the lowest clear ADDR bit at position `12 + n` means `2^(n+1)`
/// pages. `order` at or above [`DEV_TLB_ALL_ORDER`] means everything
/// (ADDR 0x7FFF_FFFF_FFFF_F). [`Errno::EINVAL`] if `addr` is not aligned to
/// the range.
pub const fn dev_tlb_addr(addr: u64, order: u32) -> Result<(u64, bool), Errno> {
    if order == 0 {
        if !is_page_aligned(addr) {
            return Err(Errno::EINVAL);
        }
        return Ok((addr >> PAGE_SHIFT, false));
    }
    if order >= DEV_TLB_ALL_ORDER {
        return Ok(((u64::MAX >> 1) >> PAGE_SHIFT, true));
    }
    if addr & ((PAGE_SIZE << order) - 1) != 0 {
        return Err(Errno::EINVAL);
    }
    // Set the address bits below the size bit: 12 .. 12 + order - 2.
    let ones = (1u64 << (PAGE_SHIFT + order - 1)) - 1;
    Ok(((addr | ones) >> PAGE_SHIFT, true))
}

/// Checks a PASID.
const fn check_pasid(pasid: u32) -> Result<u64, Errno> {
    if pasid >= PASID_LIMIT {
        Err(Errno::EINVAL)
    } else {
        Ok(pasid as u64)
    }
}

impl Descriptor {
    /// A context-cache invalidation (spec 6.5.2.1). [`Errno::EINVAL`] if the
    /// function mask is above 3.
    pub fn context_cache(gran: CcGranularity) -> Result<Self, Errno> {
        let d = CcDesc::ZERO.with_desc_type(TYPE_CONTEXT_CACHE);
        let d = match gran {
            CcGranularity::Global => d.and_then(|d| d.with_g(CC_G_GLOBAL)),
            CcGranularity::Domain { did } => d
                .and_then(|d| d.with_g(CC_G_DOMAIN))
                .and_then(|d| d.with_did(u64::from(did))),
            CcGranularity::Device { did, sid, fm } => d
                .and_then(|d| d.with_g(CC_G_DEVICE))
                .and_then(|d| d.with_did(u64::from(did)))
                .and_then(|d| d.with_sid(u64::from(sid)))
                .and_then(|d| d.with_fm(u64::from(fm))),
        };
        d.map(|d| Self::from_128(d.0)).ok_or(Errno::EINVAL)
    }

    /// An IOTLB invalidation (spec 6.5.2.3). [`Errno::EINVAL`] if a page
    /// range is not aligned to its size or its mask is above [`MAX_AM`]
    /// (the hardware also requires `am <= CAP.MAMV`).
    pub fn iotlb(gran: IotlbGranularity, drain: Drain) -> Result<Self, Errno> {
        let d = IotlbDesc::ZERO
            .with_desc_type(TYPE_IOTLB)
            .and_then(|d| d.with_dr(u64::from(drain.read)))
            .and_then(|d| d.with_dw(u64::from(drain.write)));
        let d = match gran {
            IotlbGranularity::Global => d.and_then(|d| d.with_g(IOTLB_G_GLOBAL)),
            IotlbGranularity::Domain { did } => d
                .and_then(|d| d.with_g(IOTLB_G_DOMAIN))
                .and_then(|d| d.with_did(u64::from(did))),
            IotlbGranularity::Page { did, range } => {
                range.check()?;
                d.and_then(|d| d.with_g(IOTLB_G_PAGE))
                    .and_then(|d| d.with_did(u64::from(did)))
                    .and_then(|d| d.with_addr(range.addr >> PAGE_SHIFT))
                    .and_then(|d| d.with_am(u64::from(range.am)))
                    .and_then(|d| d.with_ih(u64::from(range.ih)))
            }
        };
        d.map(|d| Self::from_128(d.0)).ok_or(Errno::EINVAL)
    }

    /// A PASID-based IOTLB invalidation of `pasid` in domain `did` (spec
    /// 6.5.2.4), what first-stage and nested domains use. [`Errno::EINVAL`]
    /// if `pasid` is not a 20-bit PASID or a page range is not aligned or
    /// its mask is above [`MAX_AM`].
    pub fn piotlb(did: u16, pasid: u32, gran: PiotlbGranularity) -> Result<Self, Errno> {
        let pasid = check_pasid(pasid)?;
        let d = PiotlbDesc::ZERO
            .with_desc_type(TYPE_PIOTLB)
            .and_then(|d| d.with_did(u64::from(did)))
            .and_then(|d| d.with_pasid(pasid));
        let d = match gran {
            PiotlbGranularity::Pasid => d.and_then(|d| d.with_g(PIOTLB_G_PASID)),
            PiotlbGranularity::Page(range) => {
                range.check()?;
                d.and_then(|d| d.with_g(PIOTLB_G_PAGE))
                    .and_then(|d| d.with_addr(range.addr >> PAGE_SHIFT))
                    .and_then(|d| d.with_am(u64::from(range.am)))
                    .and_then(|d| d.with_ih(u64::from(range.ih)))
            }
        };
        d.map(|d| Self::from_128(d.0)).ok_or(Errno::EINVAL)
    }

    /// A PASID-cache invalidation (spec 6.5.2.2). [`Errno::EINVAL`] if the
    /// PASID is not a 20-bit PASID.
    pub fn pasid_cache(gran: PcGranularity) -> Result<Self, Errno> {
        let d = PcDesc::ZERO.with_desc_type(TYPE_PASID_CACHE);
        let d = match gran {
            PcGranularity::Domain { did } => d
                .and_then(|d| d.with_g(PC_G_DOMAIN))
                .and_then(|d| d.with_did(u64::from(did))),
            PcGranularity::Pasid { did, pasid } => {
                let pasid = check_pasid(pasid)?;
                d.and_then(|d| d.with_g(PC_G_PASID))
                    .and_then(|d| d.with_did(u64::from(did)))
                    .and_then(|d| d.with_pasid(pasid))
            }
            PcGranularity::Global => d.and_then(|d| d.with_g(PC_G_GLOBAL)),
        };
        d.map(|d| Self::from_128(d.0)).ok_or(Errno::EINVAL)
    }

    /// A device-TLB invalidation of `2^order` pages from `addr` (spec
    /// 6.5.2.5); `order` at or above [`DEV_TLB_ALL_ORDER`] invalidates
    /// everything. [`Errno::EINVAL`] if `addr` is not aligned to the range or
    /// the queue depth is above 32.
    pub fn dev_tlb(target: DevTlbTarget, addr: u64, order: u32) -> Result<Self, Errno> {
        let mip = target.mip().ok_or(Errno::EINVAL)?;
        let (addr, s) = dev_tlb_addr(addr, order)?;
        let (pfsid_lo, pfsid_hi) = target.pfsid_parts();
        DevTlbDesc::ZERO
            .with_desc_type(TYPE_DEV_TLB)
            .and_then(|d| d.with_sid(u64::from(target.sid)))
            .and_then(|d| d.with_mip(mip))
            .and_then(|d| d.with_pfsid_lo(pfsid_lo))
            .and_then(|d| d.with_pfsid_hi(pfsid_hi))
            .and_then(|d| d.with_addr(addr))
            .and_then(|d| d.with_s(u64::from(s)))
            .map(|d| Self::from_128(d.0))
            .ok_or(Errno::EINVAL)
    }

    /// A PASID-based device-TLB invalidation of `2^order` pages from `addr`
    /// for `pasid` (spec 6.5.2.6); `global` also covers global mappings.
    /// [`Errno::EINVAL`] as [`Descriptor::dev_tlb`], or if `pasid` is not a
    /// 20-bit PASID.
    pub fn pasid_dev_tlb(
        target: DevTlbTarget,
        pasid: u32,
        addr: u64,
        order: u32,
        global: bool,
    ) -> Result<Self, Errno> {
        let pasid = check_pasid(pasid)?;
        let mip = target.mip().ok_or(Errno::EINVAL)?;
        let (addr, s) = dev_tlb_addr(addr, order)?;
        let (pfsid_lo, pfsid_hi) = target.pfsid_parts();
        PasidDevTlbDesc::ZERO
            .with_desc_type(TYPE_PASID_DEV_TLB)
            .and_then(|d| d.with_sid(u64::from(target.sid)))
            .and_then(|d| d.with_pasid(pasid))
            .and_then(|d| d.with_mip(mip))
            .and_then(|d| d.with_pfsid_lo(pfsid_lo))
            .and_then(|d| d.with_pfsid_hi(pfsid_hi))
            .and_then(|d| d.with_addr(addr))
            .and_then(|d| d.with_s(u64::from(s)))
            .and_then(|d| d.with_g(u64::from(global)))
            .map(|d| Self::from_128(d.0))
            .ok_or(Errno::EINVAL)
    }

    /// A global interrupt entry cache invalidation (spec 6.5.2.7).
    pub fn iec_global() -> Self {
        let d = IecDesc([TYPE_IEC, 0]);
        Self::from_128(d.0)
    }

    /// An invalidation wait (spec 6.5.2.8): on completion of the preceding
    /// descriptors, write `status` (data to a 4-byte aligned address) if
    /// given, interrupt if `interrupt`; `fence` holds back later
    /// descriptors, `page_drain` drains page requests (ECAP.PDS).
    ///
    /// [`Errno::EINVAL`] if the status address is not 4-byte aligned, or the
    /// descriptor would do nothing (no status, interrupt nor fence, which
    /// QEMU rejects).
    pub fn wait(
        status: Option<(u64, u32)>,
        interrupt: bool,
        fence: bool,
        page_drain: bool,
    ) -> Result<Self, Errno> {
        if status.is_none() && !interrupt && !fence {
            return Err(Errno::EINVAL);
        }
        let mut d = WaitDesc::ZERO
            .with_desc_type(TYPE_WAIT)
            .and_then(|d| d.with_intr(u64::from(interrupt)))
            .and_then(|d| d.with_fence(u64::from(fence)))
            .and_then(|d| d.with_pd(u64::from(page_drain)));
        if let Some((addr, data)) = status {
            if addr & ((1 << STATUS_ADDR_SHIFT) - 1) != 0 {
                return Err(Errno::EINVAL);
            }
            d = d
                .and_then(|d| d.with_sw(1))
                .and_then(|d| d.with_status_data(u64::from(data)))
                .and_then(|d| d.with_status_addr(addr >> STATUS_ADDR_SHIFT));
        }
        d.map(|d| Self::from_128(d.0)).ok_or(Errno::EINVAL)
    }
}

/// The page-selective range that covers `npages` 4 KiB pages from `addr`:
/// the smallest naturally aligned power-of-two block of pages containing
/// them, as `(aligned address, AM)` (what Linux
/// `calculate_psi_aligned_address()` computes).
///
/// `addr`'s page offset is ignored. `npages == 0` is treated as one page (an
/// over-invalidation). `None` means "use a PASID-selective (or
/// domain-selective) invalidation": `npages == u64::MAX` (the iommufd "all"
/// encoding), a range that wraps past 2^64, or one whose block would be
/// 2^64 bytes.
pub fn page_selective_am(addr: u64, npages: u64) -> Option<(u64, u32)> {
    if npages == u64::MAX {
        return None;
    }
    let start = addr & !PAGE_OFFSET_MASK;
    let npages = if npages == 0 { 1 } else { npages };
    let len = npages.checked_mul(PAGE_SIZE)?;
    let last = start.checked_add(len - 1)?;
    // The block size is the bit length of the highest bit where the first
    // and last addresses differ.
    let block_shift = u64::BITS - (start ^ last).leading_zeros();
    if block_shift <= PAGE_SHIFT {
        return Some((start, 0));
    }
    if block_shift >= u64::BITS {
        return None;
    }
    let aligned = start & !((1u64 << block_shift) - 1);
    Some((aligned, block_shift - PAGE_SHIFT))
}

/// [`page_selective_am`], also falling back (`None`) when the mask exceeds
/// `mamv` (CAP.MAMV; QEMU reports 18 and computes `1 << am` in an `int`, so
/// larger masks must not reach it).
pub fn page_selective_am_within(addr: u64, npages: u64, mamv: u32) -> Option<(u64, u32)> {
    page_selective_am(addr, npages).filter(|&(_, am)| am <= mamv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_cache_like_linux() {
        // qi_flush_context(): FM << 48 | SID << 32 | DID << 16 | G << 4 | 1.
        let d = Descriptor::context_cache(CcGranularity::Device {
            did: 0x1234,
            sid: 0x0318,
            fm: 2,
        })
        .unwrap();
        assert_eq!(
            d.0,
            [
                (2 << 48) | (0x0318 << 32) | (0x1234 << 16) | (3 << 4) | 1,
                0,
                0,
                0
            ]
        );
        assert_eq!(
            Descriptor::context_cache(CcGranularity::Global).unwrap().0,
            [0x11, 0, 0, 0]
        );
        assert_eq!(
            Descriptor::context_cache(CcGranularity::Domain { did: 7 })
                .unwrap()
                .0,
            [(7 << 16) | 0x21, 0, 0, 0]
        );
        assert_eq!(
            Descriptor::context_cache(CcGranularity::Device {
                did: 0,
                sid: 0,
                fm: 4
            }),
            Err(Errno::EINVAL)
        );
        // QEMU's reserved mask for cc descriptors.
        let d = Descriptor::context_cache(CcGranularity::Device {
            did: 0xffff,
            sid: 0xffff,
            fm: 3,
        })
        .unwrap();
        assert_eq!(d.0[0] & 0xfffc_0000_0000_f1c0, 0);
        assert_eq!(d.desc_type(), TYPE_CONTEXT_CACHE);
        assert!(!d.needs_256());
    }

    #[test]
    fn iotlb_like_linux() {
        // qi_desc_iotlb(): DID << 16 | DR << 7 | DW << 6 | G << 4 | 2;
        // qw1 = ADDR | IH << 6 | AM.
        let range = PageRange {
            addr: 0x1234_0000,
            am: 4,
            ih: true,
        };
        let d = Descriptor::iotlb(
            IotlbGranularity::Page { did: 3, range },
            Drain {
                read: true,
                write: true,
            },
        )
        .unwrap();
        assert_eq!(
            d.0,
            [
                (3 << 16) | (1 << 7) | (1 << 6) | (3 << 4) | 2,
                0x1234_0000 | (1 << 6) | 4,
                0,
                0
            ]
        );
        let d = Descriptor::iotlb(IotlbGranularity::Domain { did: 9 }, Drain::default()).unwrap();
        assert_eq!(d.0, [(9 << 16) | (2 << 4) | 2, 0, 0, 0]);
        let d = Descriptor::iotlb(IotlbGranularity::Global, Drain::default()).unwrap();
        assert_eq!(d.as_128(), [0x12, 0]);
        let misaligned = PageRange {
            addr: 0x1000,
            am: 1,
            ih: false,
        };
        assert_eq!(
            Descriptor::iotlb(
                IotlbGranularity::Page {
                    did: 0,
                    range: misaligned
                },
                Drain::default()
            ),
            Err(Errno::EINVAL)
        );
        let too_big = PageRange {
            addr: 0,
            am: MAX_AM + 1,
            ih: false,
        };
        assert_eq!(
            Descriptor::iotlb(
                IotlbGranularity::Page {
                    did: 0,
                    range: too_big
                },
                Drain::default()
            ),
            Err(Errno::EINVAL)
        );
        // QEMU's reserved masks.
        assert_eq!(d.0[0] & 0xffff_ffff_0000_f100, 0);
    }

    #[test]
    fn piotlb_like_linux() {
        // qi_desc_piotlb(): PASID << 32 | DID << 16 | G(3) << 4 | 6;
        // qw1 = ADDR | IH << 6 | AM.
        let range = PageRange {
            addr: 0x20_0000,
            am: 9,
            ih: false,
        };
        let d = Descriptor::piotlb(5, 0x1_2345, PiotlbGranularity::Page(range)).unwrap();
        assert_eq!(
            d.0,
            [
                (0x1_2345 << 32) | (5 << 16) | (3 << 4) | 6,
                0x20_0000 | 9,
                0,
                0
            ]
        );
        assert!(d.needs_256());
        // qi_desc_piotlb_all(): G(2), qw1 = 0.
        let d = Descriptor::piotlb(5, 0, PiotlbGranularity::Pasid).unwrap();
        assert_eq!(d.0, [(5 << 16) | (2 << 4) | 6, 0, 0, 0]);
        assert_eq!(
            Descriptor::piotlb(5, PASID_LIMIT, PiotlbGranularity::Pasid),
            Err(Errno::EINVAL)
        );
        let d = Descriptor::piotlb(0xffff, 0xf_ffff, PiotlbGranularity::Page(range)).unwrap();
        assert_eq!(d.0[0] & 0xfff0_0000_0000_f1c0, 0);
        assert_eq!(d.0[1] & 0xf80, 0);
    }

    #[test]
    fn pasid_cache_like_linux() {
        // qi_flush_pasid_cache(): PASID << 32 | DID << 16 | G << 4 | 7.
        let d = Descriptor::pasid_cache(PcGranularity::Pasid { did: 2, pasid: 9 }).unwrap();
        assert_eq!(d.0, [(9 << 32) | (2 << 16) | (1 << 4) | 7, 0, 0, 0]);
        let d = Descriptor::pasid_cache(PcGranularity::Domain { did: 2 }).unwrap();
        assert_eq!(d.0[0], (2 << 16) | 7);
        let d = Descriptor::pasid_cache(PcGranularity::Global).unwrap();
        assert_eq!(d.0[0], (3 << 4) | 7);
        assert!(d.needs_256());
        assert_eq!(
            Descriptor::pasid_cache(PcGranularity::Pasid {
                did: 2,
                pasid: u32::MAX
            }),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn dev_tlb_like_linux() {
        // qi_desc_dev_iotlb(sid, pfsid, qdep, addr, mask).
        let linux = |sid: u64, pfsid: u64, qdep: u64, mut addr: u64, mask: u32| {
            let qw1 = if mask != 0 {
                addr |= (1u64 << (12 + mask - 1)) - 1;
                (addr & !0xfff) | 1
            } else {
                addr & !0xfff
            };
            let qdep = if qdep >= 32 { 0 } else { qdep };
            let qw0 = (sid << 32)
                | ((qdep & 0x1f) << 16)
                | 3
                | ((pfsid & 0xf) << 12)
                | (((pfsid >> 4) & 0xfff) << 52);
            [qw0, qw1, 0, 0]
        };
        let t = DevTlbTarget {
            sid: 0x0210,
            pfsid: 0x0208,
            queue_depth: 32,
        };
        for (addr, order) in [
            (0x1000u64, 0u32),
            (0x2000, 1),
            (0x4000, 2),
            (0x40_0000, 10),
            (0, 20),
        ] {
            let d = Descriptor::dev_tlb(t, addr, order).unwrap();
            assert_eq!(
                d.0,
                linux(0x210, 0x208, 32, addr, order),
                "{addr:#x} {order}"
            );
        }
        let t = DevTlbTarget {
            queue_depth: 5,
            pfsid: 0,
            ..t
        };
        assert_eq!(
            Descriptor::dev_tlb(t, 0x1000, 0).unwrap().0,
            linux(0x210, 0, 5, 0x1000, 0)
        );
        // 8 KiB at 0x2000: ADDR bit 12 clear, S set.
        assert_eq!(dev_tlb_addr(0x2000, 1), Ok((2, true)));
        // 16 KiB at 0x4000: bit 12 set, bit 13 clear.
        assert_eq!(dev_tlb_addr(0x4000, 2), Ok((5, true)));
        assert_eq!(dev_tlb_addr(0x2000, 2), Err(Errno::EINVAL));
        assert_eq!(dev_tlb_addr(0x2001, 0), Err(Errno::EINVAL));
        assert_eq!(dev_tlb_addr(0, 52), Ok((0x7_ffff_ffff_ffff, true)));
        assert_eq!(
            dev_tlb_addr(0x1234_5000, 60),
            Ok((0x7_ffff_ffff_ffff, true))
        );
        let bad = DevTlbTarget {
            queue_depth: 33,
            ..t
        };
        assert_eq!(Descriptor::dev_tlb(bad, 0, 0), Err(Errno::EINVAL));
    }

    #[test]
    fn pasid_dev_tlb_like_linux() {
        // qi_desc_dev_iotlb_pasid(): PASID << 32 | SID << 16 | QDEP << 4 | 8 |
        // PFSID; qw1: addr with low ones, S at bit 11.
        let t = DevTlbTarget {
            sid: 0x0108,
            pfsid: 0x0105,
            queue_depth: 8,
        };
        let d = Descriptor::pasid_dev_tlb(t, 0x33, 0x10_0000, 8, false).unwrap();
        let pfsid = ((0x0105u64 & 0xf) << 12) | (((0x0105u64 >> 4) & 0xfff) << 52);
        assert_eq!(d.0[0], (0x33 << 32) | (0x0108 << 16) | (8 << 4) | 8 | pfsid);
        assert_eq!(d.0[1], (0x10_0000 | 0x7_f000) | (1 << 11));
        // The "everything" encoding of Linux: size order 52.
        let d = Descriptor::pasid_dev_tlb(t, 0x33, 0, DEV_TLB_ALL_ORDER, true).unwrap();
        assert_eq!(d.0[1], 0x7fff_ffff_ffff_f000 | (1 << 11) | 1);
        let d = Descriptor::pasid_dev_tlb(t, 0x33, 0x5000, 0, false).unwrap();
        assert_eq!(d.0[1], 0x5000);
        assert!(d.needs_256());
        assert_eq!(
            Descriptor::pasid_dev_tlb(t, PASID_LIMIT, 0, 0, false),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn wait_like_linux() {
        // qi_submit_sync(): STATUS_DATA(QI_DONE=2) << 32 | SW | 5; qw1 =
        // status address.
        let d = Descriptor::wait(Some((0xffff_8880_1234_5678, 2)), false, false, false).unwrap();
        assert_eq!(d.0, [(2 << 32) | (1 << 5) | 5, 0xffff_8880_1234_5678, 0, 0]);
        let d = Descriptor::wait(Some((0x1000, 1)), true, true, true).unwrap();
        assert_eq!(
            d.0[0],
            (1 << 32) | (1 << 7) | (1 << 6) | (1 << 5) | (1 << 4) | 5
        );
        let d = Descriptor::wait(None, false, true, false).unwrap();
        assert_eq!(d.0, [(1 << 6) | 5, 0, 0, 0]);
        assert_eq!(
            Descriptor::wait(Some((0x1002, 1)), false, false, false),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            Descriptor::wait(None, false, false, false),
            Err(Errno::EINVAL)
        );
        // QEMU: reserved bits 8, 31:12 of qw0 and 1:0 of qw1.
        let d =
            Descriptor::wait(Some((0xffff_ffff_ffff_fffc, u32::MAX)), true, true, false).unwrap();
        assert_eq!(d.0[0] & 0xffff_f100, 0);
        assert_eq!(d.0[1] & 3, 0);
    }

    #[test]
    fn iec_and_types() {
        assert_eq!(Descriptor::iec_global().0, [4, 0, 0, 0]);
        let d = Descriptor([0xe05, 0, 0, 0]);
        assert_eq!(d.desc_type(), 0x75);
        assert_eq!(
            Descriptor([TYPE_PAGE_GROUP_RESPONSE, 0, 0, 0]).desc_type(),
            9
        );
        let iec = IecDesc::ZERO
            .with_desc_type(TYPE_IEC)
            .and_then(|d| d.with_g(1))
            .and_then(|d| d.with_im(3))
            .and_then(|d| d.with_iidx(0x40))
            .unwrap();
        // Linux QI_IEC_SELECTIVE | QI_IEC_IM(3) | QI_IEC_IIDX(0x40).
        assert_eq!(iec.0[0], (1 << 4) | (3 << 27) | (0x40 << 32) | 4);
    }

    /// The smallest naturally aligned block of `2^am` pages containing the
    /// range, by search.
    fn brute_force(addr: u64, npages: u64) -> Option<(u64, u32)> {
        let start = addr & !0xfff;
        let npages = npages.max(1);
        let last = start.checked_add(npages.checked_mul(4096)? - 1)?;
        (0..52).find_map(|am| {
            let size = 1u64 << (am + 12);
            let base = start & !(size - 1);
            (last - base < size).then_some((base, am))
        })
    }

    #[test]
    fn psi_am_exact_cases() {
        assert_eq!(page_selective_am(0x1000, 1), Some((0x1000, 0)));
        assert_eq!(page_selective_am(0x1234, 1), Some((0x1000, 0)));
        assert_eq!(page_selective_am(0x1000, 0), Some((0x1000, 0)));
        assert_eq!(page_selective_am(0x0, 2), Some((0x0, 1)));
        // Two pages straddling an 8 KiB boundary need 16 KiB.
        assert_eq!(page_selective_am(0x1000, 2), Some((0x0, 2)));
        assert_eq!(page_selective_am(0x20_0000, 512), Some((0x20_0000, 9)));
        // One page past a 2 MiB block: 0x200000..0x400fff crosses 4 MiB.
        assert_eq!(page_selective_am(0x20_0000, 513), Some((0x0, 11)));
        assert_eq!(page_selective_am(0x0, 513), Some((0x0, 10)));
        // Straddling 2^47 needs the whole 2^48.
        assert_eq!(page_selective_am((1 << 47) - 0x1000, 2), Some((0, 36)));
        assert_eq!(page_selective_am(0, 1 << 51), Some((0, 51)));
        assert_eq!(page_selective_am(0, 1 << 52), None);
        assert_eq!(page_selective_am(1 << 63, 1 << 51), Some((1 << 63, 51)));
        assert_eq!(page_selective_am(!0xfff, 1), Some((!0xfff, 0)));
        assert_eq!(page_selective_am(!0xfff, 2), None);
        assert_eq!(page_selective_am(0, u64::MAX), None);
        assert_eq!(page_selective_am(0x1000, u64::MAX - 1), None);
        assert_eq!(page_selective_am(0, 1 << 60), None);
        assert_eq!(
            page_selective_am_within(0x20_0000, 512, 18),
            Some((0x20_0000, 9))
        );
        assert_eq!(page_selective_am_within(0, 1 << 18, 18), Some((0, 18)));
        assert_eq!(page_selective_am_within(0, (1 << 18) + 1, 18), None);
        assert_eq!(page_selective_am_within(0, u64::MAX, 63), None);
    }

    #[test]
    fn psi_am_random_against_brute_force() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..20000 {
            let r = next();
            let addr = match i % 4 {
                0 => r,
                1 => r & ((1 << 48) - 1),
                2 => (r & 0xffff) << 12,
                _ => r & !0xfff,
            };
            let npages = match i % 5 {
                0 => next() % 16,
                1 => next() % 4096,
                2 => 1 << (next() % 53),
                3 => next() >> (next() % 64),
                _ => next(),
            };
            let got = page_selective_am(addr, npages);
            if npages == u64::MAX {
                assert_eq!(got, None);
                continue;
            }
            assert_eq!(
                got,
                brute_force(addr, npages),
                "addr {addr:#x} npages {npages:#x}"
            );
            if let Some((base, am)) = got {
                let size = 1u64 << (am + 12);
                assert_eq!(base & (size - 1), 0);
                // The descriptor accepts it.
                let range = PageRange {
                    addr: base,
                    am,
                    ih: false,
                };
                assert!(Descriptor::piotlb(1, 1, PiotlbGranularity::Page(range)).is_ok());
            }
        }
    }
}
