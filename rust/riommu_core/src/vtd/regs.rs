// SPDX-License-Identifier: GPL-2.0

//! The remapping hardware registers (spec chapter 11, "Register
//! Descriptions").
//!
//! Offsets are byte offsets from the register base address of a DRHD
//! ([`super::dmar::Drhd::register_base`]). Each offset constant says whether
//! the register is 32 or 64 bits wide; 64-bit registers may be accessed as
//! two 32-bit halves, low half first.
//!
//! The IOTLB registers and the fault recording registers live at offsets the
//! hardware reports ([`Ecap::iro`], [`Cap::fro`]); see [`iotlb_reg_offset`],
//! [`iva_reg_offset`] and [`fault_reg_offset`].

use super::super::bitfield::bitfield;
use super::super::errno::Errno;
use super::{page_frame, PAGE_SHIFT, PAGE_SIZE};

/// Version register, 32 bits (spec 11.4.1).
pub const VER_REG: usize = 0x00;
/// Capability register, 64 bits (spec 11.4.2).
pub const CAP_REG: usize = 0x08;
/// Extended capability register, 64 bits (spec 11.4.3).
pub const ECAP_REG: usize = 0x10;
/// Global command register, 32 bits (spec 11.4.4).
pub const GCMD_REG: usize = 0x18;
/// Global status register, 32 bits (spec 11.4.5).
pub const GSTS_REG: usize = 0x1c;
/// Root table address register, 64 bits (spec 11.4.6).
pub const RTADDR_REG: usize = 0x20;
/// Context command register, 64 bits (spec 11.4.7).
pub const CCMD_REG: usize = 0x28;
/// Fault status register, 32 bits (spec 11.4).
pub const FSTS_REG: usize = 0x34;
/// Fault event control register, 32 bits (spec 11.4).
pub const FECTL_REG: usize = 0x38;
/// Fault event data register, 32 bits (spec 11.4).
pub const FEDATA_REG: usize = 0x3c;
/// Fault event address register, 32 bits (spec 11.4).
pub const FEADDR_REG: usize = 0x40;
/// Fault event upper address register, 32 bits (spec 11.4).
pub const FEUADDR_REG: usize = 0x44;
/// Advanced fault log register, 64 bits (spec 11.4).
pub const AFLOG_REG: usize = 0x58;
/// Protected memory enable register, 32 bits (spec 11.4).
pub const PMEN_REG: usize = 0x64;
/// Protected low-memory base register, 32 bits (spec 11.4).
pub const PLMBASE_REG: usize = 0x68;
/// Protected low-memory limit register, 32 bits (spec 11.4).
pub const PLMLIMIT_REG: usize = 0x6c;
/// Protected high-memory base register, 64 bits (spec 11.4).
pub const PHMBASE_REG: usize = 0x70;
/// Protected high-memory limit register, 64 bits (spec 11.4).
pub const PHMLIMIT_REG: usize = 0x78;
/// Invalidation queue head register, 64 bits (spec 11.4).
pub const IQH_REG: usize = 0x80;
/// Invalidation queue tail register, 64 bits.
pub const IQT_REG: usize = 0x88;
/// Invalidation queue address register, 64 bits.
pub const IQA_REG: usize = 0x90;
/// Invalidation completion status register, 32 bits.
pub const ICS_REG: usize = 0x9c;
/// Invalidation event control register, 32 bits.
pub const IECTL_REG: usize = 0xa0;
/// Invalidation event data register, 32 bits.
pub const IEDATA_REG: usize = 0xa4;
/// Invalidation event address register, 32 bits.
pub const IEADDR_REG: usize = 0xa8;
/// Invalidation event upper address register, 32 bits.
pub const IEUADDR_REG: usize = 0xac;
/// Invalidation queue error record register, 64 bits.
pub const IQER_REG: usize = 0xb0;
/// Interrupt remapping table address register, 64 bits.
pub const IRTA_REG: usize = 0xb8;
/// Page request queue head register, 64 bits.
pub const PQH_REG: usize = 0xc0;
/// Page request queue tail register, 64 bits.
pub const PQT_REG: usize = 0xc8;
/// Page request queue address register, 64 bits.
pub const PQA_REG: usize = 0xd0;
/// Page request status register, 32 bits.
pub const PRS_REG: usize = 0xdc;
/// Page request event control register, 32 bits.
pub const PECTL_REG: usize = 0xe0;
/// Page request event data register, 32 bits.
pub const PEDATA_REG: usize = 0xe4;
/// Page request event address register, 32 bits.
pub const PEADDR_REG: usize = 0xe8;
/// Page request event upper address register, 32 bits.
pub const PEUADDR_REG: usize = 0xec;

/// Size of one fault recording register (128 bits).
pub const FRCD_REG_SIZE: usize = 16;
/// Offset within a fault recording register of its upper 32 bits (those
/// holding the F bit, written with [`Frcd::F_CLEAR`] to clear the fault).
pub const FRCD_HI_DWORD: usize = 12;
/// Offset of the IOTLB invalidate register from the IOTLB register block
/// ([`Ecap::iro`]); the invalidate address register is at offset 0.
pub const IOTLB_REG_FROM_IRO: usize = 8;
/// Size of the IOTLB register block (IVA and IOTLB registers).
pub const IOTLB_BLOCK_SIZE: usize = 16;
/// The register offset fields (IRO, FRO) count 16-byte units.
pub const REG_OFFSET_UNIT: usize = 16;

bitfield! {
    /// Version register (spec 11.4.1).
    pub struct Ver([u64; 1]) {
        /// Minor version number.
        min, with_min: 3, 0;
        /// Major version number.
        max, with_max: 7, 4;
    }
}

bitfield! {
    /// Capability register (spec 11.4.2).
    pub struct Cap([u64; 1]) {
        /// ND: number of domains supported, `2^(4 + 2 * ND)`.
        nd, with_nd: 2, 0;
        /// AFL: advanced fault logging supported.
        afl, with_afl: 3, 3;
        /// RWBF: required write-buffer flushing.
        rwbf, with_rwbf: 4, 4;
        /// PLMR: protected low-memory region supported.
        plmr, with_plmr: 5, 5;
        /// PHMR: protected high-memory region supported.
        phmr, with_phmr: 6, 6;
        /// CM: caching mode (non-present and erroneous entries may be
        /// cached: invalidate after making entries present too).
        cm, with_cm: 7, 7;
        /// SAGAW: supported adjusted guest address widths; bit `n` set:
        /// `n + 2`-level second-stage tables (bit 1: 39 bits, bit 2: 48
        /// bits, bit 3: 57 bits).
        sagaw, with_sagaw: 12, 8;
        /// MGAW: maximum guest address width minus one.
        mgaw, with_mgaw: 21, 16;
        /// ZLR: zero length reads supported.
        zlr, with_zlr: 22, 22;
        /// FRO: fault-recording register offset, in 16-byte units.
        fro, with_fro: 33, 24;
        /// SLLPS (rev 4: SSLPS): second-stage large pages; bit 0: 2 MiB,
        /// bit 1: 1 GiB.
        sllps, with_sllps: 37, 34;
        /// PSI: page-selective invalidation supported.
        psi, with_psi: 39, 39;
        /// NFR: number of fault recording registers minus one.
        nfr, with_nfr: 47, 40;
        /// MAMV: maximum address mask value of page-selective invalidations.
        mamv, with_mamv: 53, 48;
        /// DWD: write draining supported.
        dwd, with_dwd: 54, 54;
        /// DRD: read draining supported.
        drd, with_drd: 55, 55;
        /// FL1GP (rev 4: FS1GP): first-stage 1 GiB pages supported.
        fl1gp, with_fl1gp: 56, 56;
        /// PI: posted interrupts supported.
        pi, with_pi: 59, 59;
        /// FL5LP (rev 4: FS5LP): first-stage 5-level paging supported.
        fl5lp, with_fl5lp: 60, 60;
        /// ECMDS: enhanced command supported.
        ecmds, with_ecmds: 61, 61;
        /// ESIRTPS: enhanced set interrupt remap table pointer (SIRTP
        /// invalidates the interrupt entry cache).
        esirtps, with_esirtps: 62, 62;
        /// ESRTPS: enhanced set root table pointer (SRTP invalidates all
        /// translation caches).
        esrtps, with_esrtps: 63, 63;
    }
}

/// Lowest [`Cap::sagaw`]-encoded table depth (bit 0 means 2 levels).
const SAGAW_LEVEL_BASE: u32 = 2;
/// Shallowest second-stage table the spec defines (3 levels, 39 bits).
pub const SS_MIN_LEVELS: u32 = 3;
/// Deepest second-stage table the spec defines (5 levels, 57 bits).
pub const SS_MAX_LEVELS: u32 = 5;
/// [`Cap::nd`] encodes `2^(ND_BASE_SHIFT + 2 * ND)` domains.
const ND_BASE_SHIFT: u32 = 4;
/// Largest defined [`Cap::nd`] (7 is reserved).
const ND_MAX: u64 = 6;
/// [`Cap::sllps`] bit for 2 MiB pages.
pub const SLLPS_2M: u64 = 1 << 0;
/// [`Cap::sllps`] bit for 1 GiB pages.
pub const SLLPS_1G: u64 = 1 << 1;
/// Largest MMIO page the register set occupies without looking at IRO/FRO.
const MIN_REG_SIZE: usize = PAGE_SIZE as usize;

impl Cap {
    /// Whether second-stage tables of `levels` levels (3, 4 or 5) are
    /// supported (SAGAW).
    pub const fn sagaw_supports(&self, levels: u32) -> bool {
        if levels < SS_MIN_LEVELS || levels > SS_MAX_LEVELS {
            return false;
        }
        self.sagaw() & (1 << (levels - SAGAW_LEVEL_BASE)) != 0
    }

    /// The unit's adjusted guest address width, as levels of a table (3,
    /// 4 or 5), for the AW field of PASID entries that do not point to a
    /// second-stage table (pass-through, first stage): the C driver's
    /// `iommu->agaw` (`iommu_calculate_agaw()`, drivers/iommu/intel/iommu.c),
    /// the largest width of at most 57 bits (5 levels) that the stages the
    /// unit has all support.  A first stage supports 4 levels, and 5 with
    /// CAP.FL5LP; a second stage what SAGAW says; with both, their
    /// intersection (`__iommu_calculate_sagaw()`).  `None` if there is none.
    pub const fn agaw_levels(&self, ecap: &Ecap) -> Option<u32> {
        let fl = (1 << (4 - SAGAW_LEVEL_BASE))
            | if self.fl5lp() != 0 {
                1 << (SS_MAX_LEVELS - SAGAW_LEVEL_BASE)
            } else {
                0
            };
        let sl = self.sagaw();
        let sagaw = if ecap.smts() == 0 || ecap.flts() == 0 {
            sl
        } else if ecap.slts() == 0 {
            fl
        } else {
            fl & sl
        };
        let mut levels = SS_MAX_LEVELS;
        while levels >= SAGAW_LEVEL_BASE {
            if sagaw & (1 << (levels - SAGAW_LEVEL_BASE)) != 0 {
                return Some(levels);
            }
            levels -= 1;
        }
        None
    }

    /// The maximum guest address width in bits (MGAW + 1).
    pub const fn mgaw_bits(&self) -> u32 {
        self.mgaw() as u32 + 1
    }

    /// Number of domain ids; `None` for the reserved ND encoding 7.
    pub const fn num_domains(&self) -> Option<u32> {
        if self.nd() > ND_MAX {
            None
        } else {
            Some(1 << (ND_BASE_SHIFT + 2 * self.nd() as u32))
        }
    }

    /// Number of fault recording registers (NFR + 1).
    pub const fn num_fault_regs(&self) -> u32 {
        self.nfr() as u32 + 1
    }

    /// The second-stage leaf levels (as [`super::super::pt::Format::LEAF_LEVELS`]):
    /// 4 KiB always, 2 MiB and 1 GiB as SLLPS reports.
    pub const fn ss_leaf_levels(&self) -> u32 {
        let mut levels = 1;
        if self.sllps() & SLLPS_2M != 0 {
            levels |= 1 << 1;
        }
        if self.sllps() & SLLPS_1G != 0 {
            levels |= 1 << 2;
        }
        levels
    }

    /// The first-stage leaf levels: 4 KiB and 2 MiB always,
    /// 1 GiB if FL1GP.
    pub const fn fs_leaf_levels(&self) -> u32 {
        if self.fl1gp() != 0 {
            0b111
        } else {
            0b011
        }
    }
}

bitfield! {
    /// Extended capability register (spec 11.4.3).
    pub struct Ecap([u64; 1]) {
        /// C: page-walk coherency (legacy mode).
        c, with_c: 0, 0;
        /// QI: queued invalidation supported.
        qi, with_qi: 1, 1;
        /// DT: device-TLBs (ATS) supported.
        dt, with_dt: 2, 2;
        /// IR: interrupt remapping supported.
        ir, with_ir: 3, 3;
        /// EIM: extended (x2APIC) interrupt mode supported.
        eim, with_eim: 4, 4;
        /// PT: pass-through supported.
        pt, with_pt: 6, 6;
        /// SC: snoop control supported.
        sc, with_sc: 7, 7;
        /// IRO: IOTLB register offset, in 16-byte units.
        iro, with_iro: 17, 8;
        /// MHMV: maximum handle mask value (interrupt entry cache).
        mhmv, with_mhmv: 23, 20;
        /// MTS: memory type supported.
        mts, with_mts: 25, 25;
        /// NEST: nested translation supported.
        nest, with_nest: 26, 26;
        /// PRS: page requests supported.
        prs, with_prs: 29, 29;
        /// ERS: execute requests supported.
        ers, with_ers: 30, 30;
        /// SRS: supervisor requests supported.
        srs, with_srs: 31, 31;
        /// NWFS: no-write flag supported.
        nwfs, with_nwfs: 33, 33;
        /// EAFS: extended accessed flag supported.
        eafs, with_eafs: 34, 34;
        /// PSS: PASID size supported, minus one (PASIDs have PSS + 1 bits).
        pss, with_pss: 39, 35;
        /// PASID: PASIDs supported.
        pasid, with_pasid: 40, 40;
        /// DIT: device-TLB invalidation throttling (PFSID fields are used).
        dit, with_dit: 41, 41;
        /// PDS: page-request drain supported.
        pds, with_pds: 42, 42;
        /// SMTS: scalable-mode translation supported.
        smts, with_smts: 43, 43;
        /// VCS: virtual command supported.
        vcs, with_vcs: 44, 44;
        /// SLADS (rev 4: SSADS): second-stage accessed/dirty supported.
        slads, with_slads: 45, 45;
        /// SLTS (rev 4: SSTS): second-stage translation supported.
        slts, with_slts: 46, 46;
        /// FLTS (rev 4: FSTS): first-stage translation supported.
        flts, with_flts: 47, 47;
        /// SMPWCS: scalable-mode page-walk coherency supported.
        smpwcs, with_smpwcs: 48, 48;
        /// RPS: RID_PASID supported.
        rps, with_rps: 49, 49;
        /// PMS: performance monitoring supported.
        pms, with_pms: 51, 51;
        /// ADMS: abort DMA mode supported.
        adms, with_adms: 52, 52;
        /// RPRIVS: RID_PRIV supported.
        rprivs, with_rprivs: 53, 53;
    }
}

impl Ecap {
    /// Number of PASID bits supported (PSS + 1), 0 if PASIDs are not.
    pub const fn pasid_bits(&self) -> u32 {
        if self.pasid() == 0 {
            0
        } else {
            self.pss() as u32 + 1
        }
    }
}

/// Offset of the invalidate address register (IVA), the first register of
/// the IOTLB register block at [`Ecap::iro`].
pub const fn iva_reg_offset(ecap: Ecap) -> usize {
    ecap.iro() as usize * REG_OFFSET_UNIT
}

/// Offset of the IOTLB invalidate register.
pub const fn iotlb_reg_offset(ecap: Ecap) -> usize {
    iva_reg_offset(ecap) + IOTLB_REG_FROM_IRO
}

/// The most fault recording registers a unit can have ([`Cap::nfr`] is 8
/// bits wide and counts them minus one).
pub const MAX_FAULT_REGS: usize = 256;

/// Offset of the first fault recording register ([`Cap::fro`]).
pub const fn fault_regs_base(cap: Cap) -> usize {
    cap.fro() as usize * REG_OFFSET_UNIT
}

/// Offset of fault recording register `index`; `None` if `index` is not
/// below [`Cap::num_fault_regs`].
pub const fn fault_reg_offset(cap: Cap, index: u32) -> Option<usize> {
    if index >= cap.num_fault_regs() {
        None
    } else {
        Some(fault_regs_base(cap) + index as usize * FRCD_REG_SIZE)
    }
}

/// The size of MMIO to map for the whole register set: the larger of one
/// page and the end of the IOTLB and fault recording registers, rounded up
/// to 4 KiB (what Linux `map_iommu()` does).
pub const fn required_mmio_size(cap: Cap, ecap: Ecap) -> usize {
    let iotlb_end = iva_reg_offset(ecap) + IOTLB_BLOCK_SIZE;
    let frcd_end = fault_regs_base(cap) + cap.num_fault_regs() as usize * FRCD_REG_SIZE;
    let end = if iotlb_end > frcd_end {
        iotlb_end
    } else {
        frcd_end
    };
    let page = PAGE_SIZE as usize;
    let size = end.div_ceil(page) * page;
    if size < MIN_REG_SIZE {
        MIN_REG_SIZE
    } else {
        size
    }
}

bitfield! {
    /// Global command register (spec 11.4.4); write-only, 32 bits.
    ///
    /// Write it as [`Gsts::persistent_command`] with one bit changed: the
    /// hardware acts on every bit written.
    pub struct Gcmd([u64; 1]) {
        /// CFI: compatibility format interrupts allowed.
        cfi, with_cfi: 23, 23;
        /// SIRTP: set interrupt remapping table pointer (one-shot).
        sirtp, with_sirtp: 24, 24;
        /// IRE: interrupt remapping enable.
        ire, with_ire: 25, 25;
        /// QIE: queued invalidation enable.
        qie, with_qie: 26, 26;
        /// WBF: write buffer flush (one-shot).
        wbf, with_wbf: 27, 27;
        /// EAFL: enable advanced fault logging.
        eafl, with_eafl: 28, 28;
        /// SFL: set fault log (one-shot).
        sfl, with_sfl: 29, 29;
        /// SRTP: set root table pointer (one-shot).
        srtp, with_srtp: 30, 30;
        /// TE: translation enable.
        te, with_te: 31, 31;
    }
}

bitfield! {
    /// Global status register (spec 11.4.5); read-only, 32 bits. Each bit
    /// reports the state of the [`Gcmd`] bit at the same position.
    pub struct Gsts([u64; 1]) {
        /// CFIS: compatibility format interrupt status.
        cfis, with_cfis: 23, 23;
        /// IRTPS: interrupt remapping table pointer status.
        irtps, with_irtps: 24, 24;
        /// IRES: interrupt remapping enable status.
        ires, with_ires: 25, 25;
        /// QIES: queued invalidation enable status.
        qies, with_qies: 26, 26;
        /// WBFS: write buffer flush status.
        wbfs, with_wbfs: 27, 27;
        /// AFLS: advanced fault logging status.
        afls, with_afls: 28, 28;
        /// FLS: fault log status.
        fls, with_fls: 29, 29;
        /// RTPS: root table pointer status.
        rtps, with_rtps: 30, 30;
        /// TES: translation enable status.
        tes, with_tes: 31, 31;
    }
}

/// The one-shot command bits (SRTP, SFL, WBF, SIRTP) that must not be
/// re-issued when a [`Gcmd`] value is derived from [`Gsts`] (spec 11.4.4:
/// software masks the status with `0x96FF_FFFF`).
pub const GCMD_ONE_SHOT_MASK: u32 = (1 << 30) | (1 << 29) | (1 << 27) | (1 << 24);

impl Gcmd {
    /// The register value.
    pub const fn from_raw(value: u32) -> Self {
        Gcmd([value as u64])
    }

    /// The 32-bit value to write.
    pub const fn raw(self) -> u32 {
        self.0[0] as u32
    }
}

impl Gsts {
    /// The register value read.
    pub const fn from_raw(value: u32) -> Self {
        Gsts([value as u64])
    }

    /// The 32-bit value.
    pub const fn raw(self) -> u32 {
        self.0[0] as u32
    }

    /// The command that keeps the current persistent state (TE, EAFL, QIE,
    /// IRE, CFI) and issues no one-shot command; set or clear one bit of it
    /// and write it to [`GCMD_REG`] (spec 11.4.4).
    pub const fn persistent_command(self) -> Gcmd {
        Gcmd::from_raw(self.raw() & !GCMD_ONE_SHOT_MASK)
    }
}

bitfield! {
    /// Root table address register (spec 11.4.6).
    pub struct Rtaddr([u64; 1]) {
        /// TTM: translation table mode ([`TTM_LEGACY`], [`TTM_SCALABLE`],
        /// [`TTM_ABORT_DMA`]).
        ttm, with_ttm: 11, 10;
        /// RTA: root table address bits 63:12.
        rta, with_rta: 63, 12;
    }
}

/// [`Rtaddr::ttm`]: legacy mode (root and context entries of 128 bits).
pub const TTM_LEGACY: u64 = 0;
/// [`Rtaddr::ttm`]: scalable mode.
pub const TTM_SCALABLE: u64 = 1;
/// [`Rtaddr::ttm`]: abort-DMA mode (ECAP.ADMS).
pub const TTM_ABORT_DMA: u64 = 3;

impl Rtaddr {
    /// RTADDR for a scalable-mode root table at `root` (4 KiB aligned);
    /// [`Errno::EINVAL`] if it is not aligned.
    pub fn scalable(root: u64) -> Result<Self, Errno> {
        let frame = page_frame(root).ok_or(Errno::EINVAL)?;
        Self::ZERO
            .with_ttm(TTM_SCALABLE)
            .and_then(|r| r.with_rta(frame))
            .ok_or(Errno::EINVAL)
    }

    /// The root table address.
    pub const fn root(&self) -> u64 {
        self.rta() << PAGE_SHIFT
    }
}

bitfield! {
    /// Context command register (spec 11.4.7), register-based context-cache
    /// invalidation (without queued invalidation).
    pub struct Ccmd([u64; 1]) {
        /// DID: domain id (domain and device granularity).
        did, with_did: 15, 0;
        /// SID: source id (device granularity).
        sid, with_sid: 31, 16;
        /// FM: function mask (device granularity).
        fm, with_fm: 33, 32;
        /// CAIG: actual granularity the hardware performed.
        caig, with_caig: 60, 59;
        /// CIRG: requested granularity (1 global, 2 domain, 3 device).
        cirg, with_cirg: 62, 61;
        /// ICC: invalidate context cache; hardware clears it when done.
        icc, with_icc: 63, 63;
    }
}

bitfield! {
    /// IOTLB invalidate register (spec 11.4.8.1), at [`iotlb_reg_offset`].
    pub struct IotlbReg([u64; 1]) {
        /// DID: domain id.
        did, with_did: 47, 32;
        /// DW: drain writes.
        dw, with_dw: 48, 48;
        /// DR: drain reads.
        dr, with_dr: 49, 49;
        /// IAIG: actual granularity the hardware performed.
        iaig, with_iaig: 58, 57;
        /// IIRG: requested granularity (1 global, 2 domain, 3 page).
        iirg, with_iirg: 61, 60;
        /// IVT: invalidate IOTLB; hardware clears it when done.
        ivt, with_ivt: 63, 63;
    }
}

bitfield! {
    /// Invalidate address register (spec 11.4.8.2), at [`iva_reg_offset`].
    pub struct Iva([u64; 1]) {
        /// AM: address mask, the invalidation covers `2^AM` pages.
        am, with_am: 5, 0;
        /// IH: invalidation hint (only leaf entries changed).
        ih, with_ih: 6, 6;
        /// ADDR: page address bits 63:12.
        addr, with_addr: 63, 12;
    }
}

bitfield! {
    /// Fault status register (spec 11.4), 32 bits; the status bits are
    /// write-1-to-clear.
    pub struct Fsts([u64; 1]) {
        /// PFO: primary fault overflow.
        pfo, with_pfo: 0, 0;
        /// PPF: primary pending fault (some fault recording register has F
        /// set).
        ppf, with_ppf: 1, 1;
        /// AFO: advanced fault overflow.
        afo, with_afo: 2, 2;
        /// APF: advanced pending fault.
        apf, with_apf: 3, 3;
        /// IQE: invalidation queue error.
        iqe, with_iqe: 4, 4;
        /// ICE: invalidation completion error.
        ice, with_ice: 5, 5;
        /// ITE: invalidation time-out error.
        ite, with_ite: 6, 6;
        /// FRI: index of the first fault recording register with a fault.
        fri, with_fri: 15, 8;
    }
}

impl Fsts {
    /// The register value read.
    pub const fn from_raw(value: u32) -> Self {
        Fsts([value as u64])
    }

    /// The 32-bit value.
    pub const fn raw(self) -> u32 {
        self.0[0] as u32
    }
}

bitfield! {
    /// Event control register, 32 bits: the layout of the fault event
    /// (FECTL, spec 11.4), invalidation event (IECTL) and page request
    /// event (PECTL) control registers.
    pub struct EventCtl([u64; 1]) {
        /// IP: interrupt pending (read-only).
        ip, with_ip: 30, 30;
        /// IM: interrupt mask.
        im, with_im: 31, 31;
    }
}

impl EventCtl {
    /// The register value read.
    pub const fn from_raw(value: u32) -> Self {
        EventCtl([value as u64])
    }

    /// The 32-bit value.
    pub const fn raw(self) -> u32 {
        self.0[0] as u32
    }
}

bitfield! {
    /// Invalidation queue address register (spec 11.4).
    pub struct Iqa([u64; 1]) {
        /// QS: queue size, `2^QS` 4 KiB pages.
        qs, with_qs: 2, 0;
        /// DW: descriptor width, 1 for 256-bit descriptors (scalable mode;
        /// required for PASID-based descriptors).
        dw, with_dw: 11, 11;
        /// IQA: queue base address bits 63:12 (aligned to the queue size).
        iqa, with_iqa: 63, 12;
    }
}

/// Largest [`Iqa::qs`].
pub const IQA_QS_MAX: u64 = 7;
/// log2 of a 128-bit descriptor's size.
pub const DESC_SHIFT_128: u32 = 4;
/// log2 of a 256-bit descriptor's size.
pub const DESC_SHIFT_256: u32 = 5;

impl Iqa {
    /// IQA for a queue of `2^qs` pages at `base` with 256-bit descriptors if
    /// `dw256`. [`Errno::EINVAL`] if `qs` is above [`IQA_QS_MAX`] or `base` is
    /// not aligned to the queue size.
    pub fn new(base: u64, qs: u64, dw256: bool) -> Result<Self, Errno> {
        if qs > IQA_QS_MAX || base & ((PAGE_SIZE << qs) - 1) != 0 {
            return Err(Errno::EINVAL);
        }
        Self::ZERO
            .with_qs(qs)
            .and_then(|r| r.with_dw(u64::from(dw256)))
            .and_then(|r| r.with_iqa(base >> PAGE_SHIFT))
            .ok_or(Errno::EINVAL)
    }

    /// Number of descriptors the queue holds: `2^(QS + 8)` of 128 bits or
    /// `2^(QS + 7)` of 256 bits.
    pub const fn entries(&self) -> u32 {
        let bytes = (PAGE_SIZE as u32) << self.qs();
        bytes >> desc_shift(self.dw() != 0)
    }
}

/// log2 of the descriptor size: [`DESC_SHIFT_256`] if `dw256`, else
/// [`DESC_SHIFT_128`].
pub const fn desc_shift(dw256: bool) -> u32 {
    if dw256 {
        DESC_SHIFT_256
    } else {
        DESC_SHIFT_128
    }
}

/// The IQT (or IQH) register value of descriptor `index`: its byte offset in
/// the queue (bits 18:4; with 256-bit descriptors bit 4 is zero).
pub const fn queue_reg_value(index: u32, dw256: bool) -> u64 {
    (index as u64) << desc_shift(dw256)
}

/// The descriptor index in an IQH (or IQT) value.
pub const fn queue_index(reg: u64, dw256: bool) -> u32 {
    ((reg & IQ_OFFSET_MASK) >> desc_shift(dw256)) as u32
}

/// Bits 18:4 of IQH/IQT: the queue offset.
pub const IQ_OFFSET_MASK: u64 = 0x7_fff0;

/// How many descriptors software may write at `tail` of a queue of
/// `entries` whose hardware head is `head` without overwriting one the
/// hardware has not fetched yet: one slot stays empty, since `head ==
/// tail` means an empty queue (spec 6.5.2, Linux `qi_submit_sync()`'s
/// `space` computation).  0 for an inconsistent input (`entries` 0 or an
/// index outside the queue).
pub const fn queue_free(head: u32, tail: u32, entries: u32) -> u32 {
    if entries == 0 || head >= entries || tail >= entries {
        return 0;
    }
    (head + entries - tail - 1) % entries
}

bitfield! {
    /// Invalidation completion status register, 32 bits.
    pub struct Ics([u64; 1]) {
        /// IWC: an invalidation wait descriptor with IF completed
        /// (write-1-to-clear).
        iwc, with_iwc: 0, 0;
    }
}

bitfield! {
    /// Invalidation queue error record register.
    pub struct Iqer([u64; 1]) {
        /// IQEI: invalidation queue error info (an `IQEI_*` value), valid
        /// with FSTS.IQE.
        iqei, with_iqei: 3, 0;
        /// ITESID: source id of the device-TLB invalidation that timed out,
        /// valid with FSTS.ITE.
        itesid, with_itesid: 47, 32;
        /// ICESID: source id of the invalid completion, valid with FSTS.ICE.
        icesid, with_icesid: 63, 48;
    }
}

/// [`Iqer::iqei`]: no information.
pub const IQEI_NO_INFO: u64 = 0;
/// [`Iqer::iqei`]: tail pointer beyond the queue size.
pub const IQEI_INVALID_TAIL: u64 = 1;
/// [`Iqer::iqei`]: error fetching a descriptor.
pub const IQEI_FETCH_ERROR: u64 = 2;
/// [`Iqer::iqei`]: invalid descriptor type.
pub const IQEI_INVALID_TYPE: u64 = 3;
/// [`Iqer::iqei`]: reserved field set in a descriptor.
pub const IQEI_RESERVED_SET: u64 = 4;
/// [`Iqer::iqei`]: 256-bit-only descriptor in a 128-bit queue.
pub const IQEI_INVALID_WIDTH: u64 = 5;
/// [`Iqer::iqei`]: tail not 256-bit aligned with 256-bit descriptors.
pub const IQEI_TAIL_MISALIGNED: u64 = 6;
/// [`Iqer::iqei`]: descriptor not valid for the translation table mode.
pub const IQEI_INVALID_TTM: u64 = 7;

bitfield! {
    /// Interrupt remapping table address register.
    pub struct Irta([u64; 1]) {
        /// S: table size, `2^(S + 1)` entries.
        s, with_s: 3, 0;
        /// EIME: extended interrupt mode (x2APIC) enable.
        eime, with_eime: 11, 11;
        /// IRTA: table address bits 63:12.
        irta, with_irta: 63, 12;
    }
}

bitfield! {
    /// Protected memory enable register, 32 bits.
    pub struct Pmen([u64; 1]) {
        /// PRS: protected region status.
        prs, with_prs: 0, 0;
        /// EPM: enable protected memory.
        epm, with_epm: 31, 31;
    }
}

bitfield! {
    /// A fault recording register (spec 11.4), 128 bits; word 0 is at
    /// [`fault_reg_offset`], word 1 eight bytes above.
    pub struct Frcd([u64; 2]) {
        /// FI: fault information, the page address of the faulting request
        /// (bits 63:12).
        fi, with_fi: 63, 12;
        /// SID: source id of the faulting request.
        sid, with_sid: 79, 64;
        /// T2: type bit 2 (with [`Frcd::t1`]: see
        /// [`super::fault::AccessType`]).
        t2, with_t2: 92, 92;
        /// PRIV: privileged (supervisor) mode requested.
        privilege, with_privilege: 93, 93;
        /// EXE: execute permission requested.
        exe, with_exe: 94, 94;
        /// PP: PASID present.
        pp, with_pp: 95, 95;
        /// FR: fault reason (see [`super::fault::reason_str`]).
        fr, with_fr: 103, 96;
        /// PV: PASID value, valid with PP.
        pv, with_pv: 123, 104;
        /// AT: address type of the request (0 untranslated, 1 translation
        /// request, 2 translated).
        at, with_at: 125, 124;
        /// T1: type bit 1, 0 for a write request, 1 for a read or AtomicOp.
        t1, with_t1: 126, 126;
        /// F: fault recorded; write 1 (in the upper dword) to clear.
        f, with_f: 127, 127;
    }
}

impl Frcd {
    /// The value to write at [`FRCD_HI_DWORD`] of a fault recording
    /// register to clear its F bit (bit 127, bit 31 of the upper dword).
    pub const F_CLEAR: u32 = 1 << 31;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CAP as QEMU 10 builds it with `aw-bits=48`, `x-flts=on`, `fs1gp=on`,
    /// `dma-drain=on` (`vtd_cap_init()`): FRO 0x220, NFR 0, ND 6, MAMV 18,
    /// PSI, SLLPS 2M|1G, ESRTPS, MGAW 47, DRD|DWD, SAGAW 39|48, FS1GP.
    const QEMU_CAP: u64 = (0x220 << 20)
        | 6
        | (18 << 48)
        | (1 << 39)
        | (3 << 34)
        | (1 << 63)
        | (47 << 16)
        | (3 << 54)
        | (0x6 << 8)
        | (1 << 56);

    /// ECAP of QEMU with `x-scalable-mode=on,x-flts=on,x-pasid-mode=on` and
    /// interrupt remapping (no EIM), device-iotlb off, pt on: QI, IRO 0xf0,
    /// IR, MHMV 15, PT, SMTS, FSTS, PASID, PSS 7.
    const QEMU_ECAP: u64 = (1 << 1)
        | (0xf0 << 4)
        | (1 << 3)
        | (15 << 20)
        | (1 << 6)
        | (1 << 43)
        | (1 << 47)
        | (1 << 40)
        | (7 << 35);

    #[test]
    fn queue_free_space() {
        // Empty: all but one slot.
        assert_eq!(queue_free(0, 0, 128), 127);
        assert_eq!(queue_free(37, 37, 128), 127);
        // Hardware is behind: the unfetched descriptors are not free.
        assert_eq!(queue_free(10, 20, 128), 117);
        assert_eq!(queue_free(20, 10, 128), 9);
        // Full: the tail is right behind the head.
        assert_eq!(queue_free(11, 10, 128), 0);
        assert_eq!(queue_free(0, 127, 128), 0);
        // Every pair: free + pending + 1 == entries.
        for h in 0..8 {
            for t in 0..8 {
                let pending = (t + 8 - h) % 8;
                assert_eq!(queue_free(h, t, 8) + pending + 1, 8);
            }
        }
        assert_eq!(queue_free(0, 0, 0), 0);
        assert_eq!(queue_free(128, 0, 128), 0);
        assert_eq!(queue_free(0, 128, 128), 0);
    }
    #[test]
    fn qemu_cap_decodes() {
        let cap = Cap([QEMU_CAP]);
        assert_eq!(cap.nd(), 6);
        assert_eq!(cap.num_domains(), Some(1 << 16));
        assert_eq!(cap.fro(), 0x22);
        assert_eq!(cap.num_fault_regs(), 1);
        assert_eq!(fault_regs_base(cap), 0x220);
        assert_eq!(fault_reg_offset(cap, 0), Some(0x220));
        assert_eq!(fault_reg_offset(cap, 1), None);
        assert_eq!(cap.mgaw_bits(), 48);
        assert!(cap.sagaw_supports(3));
        assert!(cap.sagaw_supports(4));
        assert!(!cap.sagaw_supports(5));
        assert!(!cap.sagaw_supports(2));
        assert!(!cap.sagaw_supports(6));
        assert_eq!(cap.mamv(), 18);
        assert_eq!(cap.psi(), 1);
        assert_eq!(cap.ss_leaf_levels(), 0b111);
        assert_eq!(cap.fs_leaf_levels(), 0b111);
        assert_eq!(cap.fl5lp(), 0);
        assert_eq!(cap.esrtps(), 1);
        assert_eq!(cap.cm(), 0);
        assert_eq!((cap.dwd(), cap.drd()), (1, 1));
    }

    #[test]
    fn qemu_ecap_decodes() {
        let ecap = Ecap([QEMU_ECAP]);
        assert_eq!(ecap.qi(), 1);
        assert_eq!(ecap.iro(), 0xf);
        assert_eq!(iva_reg_offset(ecap), 0xf0);
        assert_eq!(iotlb_reg_offset(ecap), 0xf8);
        assert_eq!(ecap.smts(), 1);
        assert_eq!(ecap.flts(), 1);
        assert_eq!(ecap.slts(), 0);
        assert_eq!(ecap.nest(), 0);
        assert_eq!(ecap.srs(), 0);
        assert_eq!(ecap.pasid_bits(), 8);
        assert_eq!(ecap.mhmv(), 15);
        assert_eq!(ecap.pt(), 1);
        assert_eq!(required_mmio_size(Cap([QEMU_CAP]), ecap), 0x1000);
    }

    /// A field getter of [`Cap`].
    type CapGetter = fn(&Cap) -> u64;
    /// A field getter of [`Ecap`].
    type EcapGetter = fn(&Ecap) -> u64;

    #[test]
    fn agaw_is_linux_iommu_calculate_agaw() {
        // QEMU 10.0's units (riommu_vtd's boot log): the first-stage one
        // (x-flts=on: FLTS, no SLTS) and the second-stage one (SLTS, SAGAW
        // 39 and 48 bits).  Both give 48 bits, 4 levels.
        let fs = (Cap([0x01d2_008c_222f_0606]), Ecap([0x0000_8900_00f0_0f4a]));
        let ss = (Cap([0x00d2_008c_222f_0606]), Ecap([0x0000_4900_80f0_0f4a]));
        assert_eq!(fs.0.agaw_levels(&fs.1), Some(4));
        assert_eq!(ss.0.agaw_levels(&ss.1), Some(4));
        let sagaw = |c: Cap, v| c.with_sagaw(v).unwrap();
        // Second stage only: the largest SAGAW width.
        assert_eq!(sagaw(ss.0, 0b0010).agaw_levels(&ss.1), Some(3));
        assert_eq!(sagaw(ss.0, 0b1110).agaw_levels(&ss.1), Some(5));
        assert_eq!(sagaw(ss.0, 0).agaw_levels(&ss.1), None);
        // First stage only: 4 levels, 5 with FL5LP; SAGAW does not matter.
        assert_eq!(sagaw(fs.0, 0b0010).agaw_levels(&fs.1), Some(4));
        let fl5 = fs.0.with_fl5lp(1).unwrap();
        assert_eq!(fl5.agaw_levels(&fs.1), Some(5));
        // Both stages: the intersection.
        let both = fs.1.with_slts(1).unwrap();
        assert_eq!(sagaw(fl5, 0b0010).agaw_levels(&both), None);
        assert_eq!(sagaw(fl5, 0b0110).agaw_levels(&both), Some(4));
        assert_eq!(sagaw(fl5, 0b1110).agaw_levels(&both), Some(5));
        // Not scalable mode: SAGAW.
        let legacy = both.with_smts(0).unwrap();
        assert_eq!(sagaw(fl5, 0b0010).agaw_levels(&legacy), Some(3));
    }

    #[test]
    fn single_bit_fields_sit_where_linux_puts_them() {
        // (getter result on a register with only that bit set) per
        // drivers/iommu/intel/iommu.h cap_*/ecap_* macros.
        let cap_bits: [(u32, CapGetter); 17] = [
            (3, Cap::afl),
            (4, Cap::rwbf),
            (5, Cap::plmr),
            (6, Cap::phmr),
            (7, Cap::cm),
            (22, Cap::zlr),
            (39, Cap::psi),
            (54, Cap::dwd),
            (55, Cap::drd),
            (56, Cap::fl1gp),
            (59, Cap::pi),
            (60, Cap::fl5lp),
            (61, Cap::ecmds),
            (62, Cap::esirtps),
            (63, Cap::esrtps),
            (34, |c: &Cap| c.sllps() & SLLPS_2M),
            (35, |c: &Cap| (c.sllps() & SLLPS_1G) >> 1),
        ];
        for (bit, get) in cap_bits {
            assert_eq!(get(&Cap([1 << bit])), 1, "cap bit {bit}");
            assert_eq!(get(&Cap([!(1u64 << bit)])), 0, "cap bit {bit}");
        }
        let ecap_bits: [(u32, EcapGetter); 25] = [
            (0, Ecap::c),
            (1, Ecap::qi),
            (2, Ecap::dt),
            (3, Ecap::ir),
            (4, Ecap::eim),
            (6, Ecap::pt),
            (7, Ecap::sc),
            (25, Ecap::mts),
            (26, Ecap::nest),
            (29, Ecap::prs),
            (30, Ecap::ers),
            (31, Ecap::srs),
            (33, Ecap::nwfs),
            (34, Ecap::eafs),
            (40, Ecap::pasid),
            (41, Ecap::dit),
            (42, Ecap::pds),
            (43, Ecap::smts),
            (44, Ecap::vcs),
            (45, Ecap::slads),
            (46, Ecap::slts),
            (47, Ecap::flts),
            (48, Ecap::smpwcs),
            (49, Ecap::rps),
            (51, Ecap::pms),
        ];
        for (bit, get) in ecap_bits {
            assert_eq!(get(&Ecap([1 << bit])), 1, "ecap bit {bit}");
            assert_eq!(get(&Ecap([!(1u64 << bit)])), 0, "ecap bit {bit}");
        }
        assert_eq!(Ecap([0x1f << 35]).pss(), 0x1f);
        assert_eq!(Ecap([0xf << 20]).mhmv(), 0xf);
        assert_eq!(Cap([0x3f << 48]).mamv(), 0x3f);
        assert_eq!(Cap([0xff << 40]).num_fault_regs(), 256);
        assert_eq!(Cap([u64::MAX]).num_fault_regs() as usize, MAX_FAULT_REGS);
        assert_eq!(Cap([0x1f << 8]).sagaw(), 0x1f);
        assert_eq!(Cap([7]).num_domains(), None);
        assert_eq!(Cap([0]).num_domains(), Some(16));
        assert_eq!(Ecap([0]).pasid_bits(), 0);
    }

    #[test]
    fn gcmd_gsts_bits() {
        let all = Gcmd::ZERO
            .with_te(1)
            .and_then(|g| g.with_srtp(1))
            .and_then(|g| g.with_sfl(1))
            .and_then(|g| g.with_eafl(1))
            .and_then(|g| g.with_wbf(1))
            .and_then(|g| g.with_qie(1))
            .and_then(|g| g.with_ire(1))
            .and_then(|g| g.with_sirtp(1))
            .and_then(|g| g.with_cfi(1))
            .unwrap();
        assert_eq!(all.raw(), 0xff80_0000);
        assert_eq!(Gcmd::ZERO.with_te(1).unwrap().raw(), 1 << 31);
        assert_eq!(Gcmd::ZERO.with_qie(1).unwrap().raw(), 1 << 26);
        assert_eq!(Gcmd::ZERO.with_ire(1).unwrap().raw(), 1 << 25);
        assert_eq!(Gcmd::ZERO.with_sirtp(1).unwrap().raw(), 1 << 24);
        let gsts = Gsts::from_raw(0xffff_ffff);
        assert_eq!(gsts.persistent_command().raw(), 0x96ff_ffff);
        assert_eq!((gsts.tes(), gsts.rtps(), gsts.qies()), (1, 1, 1));
        let gsts = Gsts::from_raw((1 << 31) | (1 << 30) | (1 << 26));
        let cmd = gsts.persistent_command();
        assert_eq!(cmd.te(), 1);
        assert_eq!(cmd.srtp(), 0);
        assert_eq!(cmd.qie(), 1);
        assert_eq!(cmd.with_te(0).unwrap().raw(), 1 << 26);
    }

    #[test]
    fn rtaddr_scalable() {
        let r = Rtaddr::scalable(0x1234_5000).unwrap();
        assert_eq!(r.0[0], 0x1234_5000 | (1 << 10));
        assert_eq!(r.root(), 0x1234_5000);
        assert_eq!(r.ttm(), TTM_SCALABLE);
        assert_eq!(Rtaddr::scalable(0x1234_5800), Err(Errno::EINVAL));
        assert_eq!(Rtaddr([0xc00]).ttm(), TTM_ABORT_DMA);
    }

    #[test]
    fn iqa_and_queue_offsets() {
        // Linux __dmar_enable_qi(): 8 KiB queue, QS=1, DW=1.
        let iqa = Iqa::new(0x8_2000, 1, true).unwrap();
        assert_eq!(iqa.0[0], 0x8_2000 | (1 << 11) | 1);
        assert_eq!(iqa.entries(), 256);
        let iqa = Iqa::new(0x8_1000, 0, false).unwrap();
        assert_eq!(iqa.0[0], 0x8_1000);
        assert_eq!(iqa.entries(), 256);
        assert_eq!(Iqa::new(0x8_1000, 1, true), Err(Errno::EINVAL));
        assert_eq!(Iqa::new(0x8_0000, 8, true), Err(Errno::EINVAL));
        assert_eq!(Iqa::new(0x8_0000, 7, false).unwrap().entries(), 1 << 15);
        assert_eq!(queue_reg_value(3, true), 0x60);
        assert_eq!(queue_reg_value(3, false), 0x30);
        assert_eq!(queue_index(0x60, true), 3);
        assert_eq!(queue_index(0x30, false), 3);
        assert_eq!(queue_index(0xfff8_0060, true), 3);
    }

    #[test]
    fn fsts_ctl_ics_bits() {
        let f = Fsts::from_raw(0x0000_2a73);
        assert_eq!(
            (f.pfo(), f.ppf(), f.iqe(), f.ice(), f.ite()),
            (1, 1, 1, 1, 1)
        );
        assert_eq!((f.afo(), f.apf()), (0, 0));
        assert_eq!(f.fri(), 0x2a);
        assert_eq!(EventCtl::ZERO.with_im(1).unwrap().raw(), 1 << 31);
        assert_eq!(EventCtl::from_raw(1 << 30).ip(), 1);
        assert_eq!(Ics([1]).iwc(), 1);
        let iqer = Iqer([0x1234_5678_0000_0004]);
        assert_eq!(iqer.iqei(), IQEI_RESERVED_SET);
        assert_eq!(iqer.itesid(), 0x5678);
        assert_eq!(iqer.icesid(), 0x1234);
    }

    #[test]
    fn frcd_fields_match_linux_and_qemu() {
        // QEMU vtd_report_frcd_fault(): lo = FI(addr); hi = SID | FR << 32 |
        // PV << 40 | PP << 31 | T << 62 (read) | F << 63.
        let lo = 0xdead_b000u64;
        let hi = 0x0110 | (0x71 << 32) | (0x5 << 40) | (1 << 31) | (1 << 62) | (1 << 63);
        let r = Frcd([lo, hi]);
        assert_eq!(r.fi() << 12, 0xdead_b000);
        assert_eq!(r.sid(), 0x0110);
        assert_eq!(r.fr(), 0x71);
        assert_eq!(r.pv(), 5);
        assert_eq!(r.pp(), 1);
        assert_eq!(r.t1(), 1);
        assert_eq!(r.f(), 1);
        assert_eq!((r.t2(), r.privilege(), r.exe(), r.at()), (0, 0, 0, 0));
        // Linux dmar_fault(): the upper dword (offset 12) holds F in bit 31,
        // T in 30, the reason in 7:0 and the PASID in 27:8.
        let upper = (hi >> 32) as u32;
        assert_eq!(upper & Frcd::F_CLEAR, Frcd::F_CLEAR);
        assert_eq!((upper >> 30) & 1, 1);
        assert_eq!(upper & 0xff, 0x71);
        assert_eq!((upper >> 8) & 0xfffff, 5);
        assert_eq!(Frcd([0, 1 << (92 - 64)]).t2(), 1);
        assert_eq!(Frcd([0, 1 << (93 - 64)]).privilege(), 1);
        assert_eq!(Frcd([0, 1 << (94 - 64)]).exe(), 1);
        assert_eq!(Frcd([0, 3 << (124 - 64)]).at(), 3);
    }

    #[test]
    fn ccmd_iotlb_iva() {
        let c = Ccmd::ZERO
            .with_icc(1)
            .and_then(|c| c.with_cirg(3))
            .and_then(|c| c.with_fm(2))
            .and_then(|c| c.with_sid(0x0108))
            .and_then(|c| c.with_did(7))
            .unwrap();
        // Linux DMA_CCMD_ICC | DMA_CCMD_DEVICE_INVL | FM | SID | DID.
        assert_eq!(
            c.0[0],
            (1 << 63) | (3 << 61) | (2 << 32) | (0x0108 << 16) | 7
        );
        let t = IotlbReg::ZERO
            .with_ivt(1)
            .and_then(|t| t.with_iirg(2))
            .and_then(|t| t.with_dr(1))
            .and_then(|t| t.with_dw(1))
            .and_then(|t| t.with_did(9))
            .unwrap();
        assert_eq!(
            t.0[0],
            (1 << 63) | (2 << 60) | (1 << 49) | (1 << 48) | (9 << 32)
        );
        let v = Iva::ZERO
            .with_addr(0x12345)
            .and_then(|v| v.with_ih(1))
            .and_then(|v| v.with_am(9))
            .unwrap();
        assert_eq!(v.0[0], 0x1234_5000 | (1 << 6) | 9);
    }

    #[test]
    fn misc_registers() {
        assert_eq!(Ver([0x10]).max(), 1);
        assert_eq!(Ver([0x10]).min(), 0);
        let i = Irta([0xabc_d000 | (1 << 11) | 0xf]);
        assert_eq!((i.s(), i.eime(), i.irta()), (0xf, 1, 0xabcd));
        assert_eq!(Pmen([1 << 31 | 1]).epm(), 1);
        assert_eq!(Pmen([1]).prs(), 1);
    }
}
