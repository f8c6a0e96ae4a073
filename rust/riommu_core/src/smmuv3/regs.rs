// SPDX-License-Identifier: GPL-2.0

//! SMMUv3 programming interface registers (SMMUv3 architecture specification,
//! IHI 0070, chapter 6 "Memory map and registers").
//!
//! Offsets are from the base of register page 0; the registers that the
//! specification places in page 1 (the event and PRI queue indexes) are also
//! given at their page 1 offset. Each register with fields has a
//! `bitfield!` type over `[u64; 1]`: 32-bit registers use the low word, and
//! `from_raw`/`raw` convert from the value read and to the value written.
//!
//! Fixed encodings (the stream table format, cacheability, shareability,
//! output address sizes) are named constants next to the register they
//! belong to.

use super::super::bitfield::bitfield;

/// Size of one register page; page 1 starts at this offset from page 0.
pub const PAGE1_OFFSET: u64 = 0x1_0000;

/// `SMMU_IDR0`, features (§6.3.1).
pub const IDR0: u64 = 0x00;
/// `SMMU_IDR1`, table and queue sizes (§6.3.2).
pub const IDR1: u64 = 0x04;
/// `SMMU_IDR2`, VATOS (§6.3.3).
pub const IDR2: u64 = 0x08;
/// `SMMU_IDR3`, more features (§6.3.4).
pub const IDR3: u64 = 0x0c;
/// `SMMU_IDR4`, implementation defined (§6.3.5).
pub const IDR4: u64 = 0x10;
/// `SMMU_IDR5`, granules and address sizes (§6.3.6).
pub const IDR5: u64 = 0x14;
/// `SMMU_IIDR`, implementation identification.
pub const IIDR: u64 = 0x18;
/// `SMMU_AIDR`, architecture version.
pub const AIDR: u64 = 0x1c;
/// `SMMU_CR0`, global enables.
pub const CR0: u64 = 0x20;
/// `SMMU_CR0ACK`, the enables in effect (poll after writing `CR0`).
pub const CR0ACK: u64 = 0x24;
/// `SMMU_CR1`, table and queue memory attributes.
pub const CR1: u64 = 0x28;
/// `SMMU_CR2`, translation regime options.
pub const CR2: u64 = 0x2c;
/// `SMMU_STATUSR`.
pub const STATUSR: u64 = 0x40;
/// `SMMU_GBPA`, global bypass attributes (used while `CR0.SMMUEN == 0`).
pub const GBPA: u64 = 0x44;
/// `SMMU_AGBPA`, implementation defined bypass attributes.
pub const AGBPA: u64 = 0x48;
/// `SMMU_IRQ_CTRL`, interrupt enables.
pub const IRQ_CTRL: u64 = 0x50;
/// `SMMU_IRQ_CTRLACK`, the interrupt enables in effect.
pub const IRQ_CTRLACK: u64 = 0x54;
/// `SMMU_GERROR`, active global errors.
pub const GERROR: u64 = 0x60;
/// `SMMU_GERRORN`, acknowledged global errors.
pub const GERRORN: u64 = 0x64;
/// `SMMU_GERROR_IRQ_CFG0`, GERROR MSI address (64-bit).
pub const GERROR_IRQ_CFG0: u64 = 0x68;
/// `SMMU_GERROR_IRQ_CFG1`, GERROR MSI data.
pub const GERROR_IRQ_CFG1: u64 = 0x70;
/// `SMMU_GERROR_IRQ_CFG2`, GERROR MSI attributes.
pub const GERROR_IRQ_CFG2: u64 = 0x74;
/// `SMMU_STRTAB_BASE`, stream table base (64-bit).
pub const STRTAB_BASE: u64 = 0x80;
/// `SMMU_STRTAB_BASE_CFG`, stream table format.
pub const STRTAB_BASE_CFG: u64 = 0x88;
/// `SMMU_CMDQ_BASE`, command queue base (64-bit).
pub const CMDQ_BASE: u64 = 0x90;
/// `SMMU_CMDQ_PROD`, command queue producer index (written by software).
pub const CMDQ_PROD: u64 = 0x98;
/// `SMMU_CMDQ_CONS`, command queue consumer index and error.
pub const CMDQ_CONS: u64 = 0x9c;
/// `SMMU_EVENTQ_BASE`, event queue base (64-bit).
pub const EVTQ_BASE: u64 = 0xa0;
/// `SMMU_EVENTQ_PROD`, event queue producer index, page 0 alias offset.
pub const EVTQ_PROD: u64 = 0xa8;
/// `SMMU_EVENTQ_CONS`, event queue consumer index, page 0 alias offset.
pub const EVTQ_CONS: u64 = 0xac;
/// `SMMU_EVENTQ_PROD` at its architected place in page 1.
pub const EVTQ_PROD_PAGE1: u64 = PAGE1_OFFSET + EVTQ_PROD;
/// `SMMU_EVENTQ_CONS` at its architected place in page 1.
pub const EVTQ_CONS_PAGE1: u64 = PAGE1_OFFSET + EVTQ_CONS;
/// `SMMU_EVENTQ_IRQ_CFG0`, event queue MSI address (64-bit).
pub const EVTQ_IRQ_CFG0: u64 = 0xb0;
/// `SMMU_EVENTQ_IRQ_CFG1`, event queue MSI data.
pub const EVTQ_IRQ_CFG1: u64 = 0xb8;
/// `SMMU_EVENTQ_IRQ_CFG2`, event queue MSI attributes.
pub const EVTQ_IRQ_CFG2: u64 = 0xbc;
/// `SMMU_PRIQ_BASE`, PRI queue base (64-bit).
pub const PRIQ_BASE: u64 = 0xc0;
/// `SMMU_PRIQ_PROD`, page 0 alias offset.
pub const PRIQ_PROD: u64 = 0xc8;
/// `SMMU_PRIQ_CONS`, page 0 alias offset.
pub const PRIQ_CONS: u64 = 0xcc;
/// `SMMU_PRIQ_PROD` at its architected place in page 1.
pub const PRIQ_PROD_PAGE1: u64 = PAGE1_OFFSET + PRIQ_PROD;
/// `SMMU_PRIQ_CONS` at its architected place in page 1.
pub const PRIQ_CONS_PAGE1: u64 = PAGE1_OFFSET + PRIQ_CONS;
/// `SMMU_PRIQ_IRQ_CFG0`, PRI queue MSI address (64-bit).
pub const PRIQ_IRQ_CFG0: u64 = 0xd0;
/// `SMMU_PRIQ_IRQ_CFG1`, PRI queue MSI data.
pub const PRIQ_IRQ_CFG1: u64 = 0xd8;
/// `SMMU_PRIQ_IRQ_CFG2`, PRI queue MSI attributes.
pub const PRIQ_IRQ_CFG2: u64 = 0xdc;
/// Size of the register frame Linux maps for page 0 (`ARM_SMMU_REG_SZ`).
pub const REG_SZ: u64 = 0xe00;

/// Adds `from_raw`/`raw` to a 32-bit register type.
macro_rules! reg32 {
    ($name:ident) => {
        impl $name {
            /// The register with the 32-bit value `v` (as read from the SMMU).
            pub const fn from_raw(v: u32) -> Self {
                Self([v as u64])
            }

            /// The 32-bit value to write to the SMMU.
            pub const fn raw(self) -> u32 {
                self.0[0] as u32
            }
        }
    };
}

/// Adds `from_raw`/`raw` to a 64-bit register type.
macro_rules! reg64 {
    ($name:ident) => {
        impl $name {
            /// The register with the 64-bit value `v`.
            pub const fn from_raw(v: u64) -> Self {
                Self([v])
            }

            /// The 64-bit value to write to the SMMU.
            pub const fn raw(self) -> u64 {
                self.0[0]
            }
        }
    };
}

bitfield! {
    /// `SMMU_IDR0` (§6.3.1).
    pub struct Idr0([u64; 1]) {
        /// S2P: stage 2 translation supported.
        s2p, with_s2p: 0, 0;
        /// S1P: stage 1 translation supported.
        s1p, with_s1p: 1, 1;
        /// TTF: translation table formats ([`IDR0_TTF_AARCH64`] bit).
        ttf, with_ttf: 3, 2;
        /// COHACC: coherent access to tables, queues and MSIs.
        cohacc, with_cohacc: 4, 4;
        /// BTM: broadcast TLB maintenance.
        btm, with_btm: 5, 5;
        /// HTTU: hardware table updates ([`IDR0_HTTU_ACCESS`],
        /// [`IDR0_HTTU_ACCESS_DIRTY`]).
        httu, with_httu: 7, 6;
        /// HYP: EL2 stage 1 contexts (`STE.STRW == EL2`).
        hyp, with_hyp: 9, 9;
        /// ATS: PCIe ATS supported.
        ats, with_ats: 10, 10;
        /// ASID16: 16-bit ASIDs (else 8).
        asid16, with_asid16: 12, 12;
        /// MSI: MSIs supported (queues, GERROR, CMD_SYNC completion).
        msi, with_msi: 13, 13;
        /// SEV: the SMMU sends WFE wake-up events (CMD_SYNC `CS == SEV`).
        sev, with_sev: 14, 14;
        /// PRI: PCIe PRI supported.
        pri, with_pri: 16, 16;
        /// VMID16: 16-bit VMIDs (else 8).
        vmid16, with_vmid16: 18, 18;
        /// CD2L: two-level context descriptor tables.
        cd2l, with_cd2l: 19, 19;
        /// TTENDIAN: table endianness ([`IDR0_TTENDIAN_MIXED`], ...).
        ttendian, with_ttendian: 22, 21;
        /// STALL_MODEL ([`IDR0_STALL_MODEL_STALL`], ...).
        stall_model, with_stall_model: 25, 24;
        /// TERM_MODEL: 1 if terminated transactions always abort.
        term_model, with_term_model: 26, 26;
        /// ST_LEVEL: stream table formats ([`IDR0_ST_LVL_2LVL`]).
        st_lvl, with_st_lvl: 28, 27;
    }
}
reg32!(Idr0);

impl Idr0 {
    /// Nested (stage 1 and stage 2) translation: both S1P and S2P.
    pub const fn nested(self) -> bool {
        self.s1p() != 0 && self.s2p() != 0
    }

    /// Whether the AArch64 table format is supported.
    pub const fn aarch64_tables(self) -> bool {
        self.ttf() & IDR0_TTF_AARCH64 != 0
    }

    /// Whether two-level stream tables are supported.
    pub const fn two_level_strtab(self) -> bool {
        self.st_lvl() == IDR0_ST_LVL_2LVL
    }

    /// Whether stalling faults are supported (`STALL_MODEL` 0b00 or 0b10).
    pub const fn stalls(self) -> bool {
        matches!(
            self.stall_model(),
            IDR0_STALL_MODEL_STALL | IDR0_STALL_MODEL_FORCE
        )
    }

    /// Number of ASID bits: 16 or 8.
    pub const fn asid_bits(self) -> u32 {
        if self.asid16() != 0 {
            ASID_BITS_16
        } else {
            ASID_BITS_8
        }
    }

    /// Number of VMID bits: 16 or 8.
    pub const fn vmid_bits(self) -> u32 {
        if self.vmid16() != 0 {
            ASID_BITS_16
        } else {
            ASID_BITS_8
        }
    }
}

/// `IDR0.TTF` bit for the AArch64 table format.
pub const IDR0_TTF_AARCH64: u64 = 0b10;
/// `IDR0.HTTU`: hardware access flag updates.
pub const IDR0_HTTU_ACCESS: u64 = 1;
/// `IDR0.HTTU`: hardware access flag and dirty state updates.
pub const IDR0_HTTU_ACCESS_DIRTY: u64 = 2;
/// `IDR0.TTENDIAN`: mixed endian tables.
pub const IDR0_TTENDIAN_MIXED: u64 = 0;
/// `IDR0.TTENDIAN`: little endian tables only.
pub const IDR0_TTENDIAN_LE: u64 = 2;
/// `IDR0.TTENDIAN`: big endian tables only.
pub const IDR0_TTENDIAN_BE: u64 = 3;
/// `IDR0.STALL_MODEL`: stall and terminate models both supported.
pub const IDR0_STALL_MODEL_STALL: u64 = 0;
/// `IDR0.STALL_MODEL`: stall not supported.
pub const IDR0_STALL_MODEL_NONE: u64 = 1;
/// `IDR0.STALL_MODEL`: stall forced.
pub const IDR0_STALL_MODEL_FORCE: u64 = 2;
/// `IDR0.ST_LEVEL`: linear stream table only.
pub const IDR0_ST_LVL_LINEAR: u64 = 0;
/// `IDR0.ST_LEVEL`: linear and two-level stream tables.
pub const IDR0_ST_LVL_2LVL: u64 = 1;
/// ASIDs/VMIDs are 16 bits when `IDR0.ASID16`/`VMID16` is set.
pub const ASID_BITS_16: u32 = 16;
/// ASIDs/VMIDs are 8 bits otherwise.
pub const ASID_BITS_8: u32 = 8;

bitfield! {
    /// `SMMU_IDR1` (§6.3.2).
    pub struct Idr1([u64; 1]) {
        /// SIDSIZE: number of StreamID bits.
        sidsize, with_sidsize: 5, 0;
        /// SSIDSIZE: number of SubstreamID bits (0: no substreams).
        ssidsize, with_ssidsize: 10, 6;
        /// PRIQS: log2 of the maximum PRI queue entries.
        priqs, with_priqs: 15, 11;
        /// EVENTQS: log2 of the maximum event queue entries.
        evtqs, with_evtqs: 20, 16;
        /// CMDQS: log2 of the maximum command queue entries.
        cmdqs, with_cmdqs: 25, 21;
        /// ATTR_PERMS_OVR: STE permission overrides supported.
        attr_perms_ovr, with_attr_perms_ovr: 26, 26;
        /// ATTR_TYPES_OVR: STE memory type/shareability overrides (SHCFG...).
        attr_types_ovr, with_attr_types_ovr: 27, 27;
        /// REL: table and queue bases are relative (embedded implementation).
        rel, with_rel: 28, 28;
        /// QUEUES_PRESET: queue bases are fixed.
        queues_preset, with_queues_preset: 29, 29;
        /// TABLES_PRESET: table bases are fixed.
        tables_preset, with_tables_preset: 30, 30;
    }
}
reg32!(Idr1);

bitfield! {
    /// `SMMU_IDR3` (§6.3.4).
    pub struct Idr3([u64; 1]) {
        /// HAD: hierarchical attribute disables (`CD.HAD0/1`).
        had, with_had: 2, 2;
        /// XNX: stage 2 execute-never extension.
        xnx, with_xnx: 4, 4;
        /// MPAM supported.
        mpam, with_mpam: 7, 7;
        /// FWB: stage 2 forced write-back (`STE.S2FWB`).
        fwb, with_fwb: 8, 8;
        /// STT: small translation tables.
        stt, with_stt: 9, 9;
        /// RIL: range-based TLB invalidation (TLBI `NUM`/`SCALE`/`TG`/`TTL`).
        ril, with_ril: 10, 10;
        /// BBML: break-before-make level ([`IDR3_BBML2`]).
        bbml, with_bbml: 12, 11;
    }
}
reg32!(Idr3);

/// `IDR3.BBML` value for break-before-make level 2.
pub const IDR3_BBML2: u64 = 2;

bitfield! {
    /// `SMMU_IDR5` (§6.3.6).
    pub struct Idr5([u64; 1]) {
        /// OAS: output address size (see [`oas_bits`]).
        oas, with_oas: 2, 0;
        /// GRAN4K: 4 KiB translation granule supported.
        gran4k, with_gran4k: 4, 4;
        /// GRAN16K: 16 KiB translation granule supported.
        gran16k, with_gran16k: 5, 5;
        /// GRAN64K: 64 KiB translation granule supported.
        gran64k, with_gran64k: 6, 6;
        /// DS: 52-bit addresses with 4/16 KiB granules (TLBI SCALE bit 5...).
        ds, with_ds: 7, 7;
        /// VAX: virtual address extension ([`IDR5_VAX_52_BIT`]).
        vax, with_vax: 11, 10;
        /// STALL_MAX: maximum outstanding stalled transactions.
        stall_max, with_stall_max: 31, 16;
    }
}
reg32!(Idr5);

/// `IDR5.VAX`: 52-bit virtual addresses.
pub const IDR5_VAX_52_BIT: u64 = 1;

/// Output address sizes in bits, indexed by the `IDR5.OAS` / `CD.IPS` /
/// `STE.S2PS` encoding (0b000 .. 0b110).
pub const ADDR_SIZE_BITS: [u32; 7] = [32, 36, 40, 42, 44, 48, 52];

/// The number of bits of an `OAS`/`IPS`/`S2PS` encoding, `None` if reserved.
pub const fn oas_bits(field: u64) -> Option<u32> {
    if field < ADDR_SIZE_BITS.len() as u64 {
        Some(ADDR_SIZE_BITS[field as usize])
    } else {
        None
    }
}

/// The `OAS`/`IPS`/`S2PS` encoding of an address size of exactly `bits`.
pub const fn oas_field(bits: u32) -> Option<u64> {
    let mut i = 0;
    while i < ADDR_SIZE_BITS.len() {
        if ADDR_SIZE_BITS[i] == bits {
            return Some(i as u64);
        }
        i += 1;
    }
    None
}

bitfield! {
    /// `SMMU_CR0`, global enables (§6.3).
    pub struct Cr0([u64; 1]) {
        /// SMMUEN: translation enabled (else `GBPA` applies).
        smmuen, with_smmuen: 0, 0;
        /// PRIQEN: PRI queue enabled.
        priqen, with_priqen: 1, 1;
        /// EVENTQEN: event queue enabled.
        evtqen, with_evtqen: 2, 2;
        /// CMDQEN: command queue processing enabled.
        cmdqen, with_cmdqen: 3, 3;
        /// ATSCHK: ATS translated transactions are checked against the STE.
        atschk, with_atschk: 4, 4;
        /// VMW: VMID wildcard.
        vmw, with_vmw: 8, 6;
    }
}
reg32!(Cr0);

bitfield! {
    /// `SMMU_CR1`, memory attributes of table walks and queue accesses (§6.3).
    pub struct Cr1([u64; 1]) {
        /// QUEUE_IC: queue inner cacheability ([`CR1_CACHE_WB`], ...).
        queue_ic, with_queue_ic: 1, 0;
        /// QUEUE_OC: queue outer cacheability.
        queue_oc, with_queue_oc: 3, 2;
        /// QUEUE_SH: queue shareability ([`SH_ISH`], ...).
        queue_sh, with_queue_sh: 5, 4;
        /// TABLE_IC: table inner cacheability.
        table_ic, with_table_ic: 7, 6;
        /// TABLE_OC: table outer cacheability.
        table_oc, with_table_oc: 9, 8;
        /// TABLE_SH: table shareability.
        table_sh, with_table_sh: 11, 10;
    }
}
reg32!(Cr1);

/// `CR1` cacheability: non-cacheable.
pub const CR1_CACHE_NC: u64 = 0;
/// `CR1` cacheability: write-back cacheable.
pub const CR1_CACHE_WB: u64 = 1;
/// `CR1` cacheability: write-through cacheable.
pub const CR1_CACHE_WT: u64 = 2;
/// Shareability encoding (CR1, CMD_SYNC MSH, MSI attributes): non-shareable.
pub const SH_NSH: u64 = 0;
/// Shareability encoding: outer shareable.
pub const SH_OSH: u64 = 2;
/// Shareability encoding: inner shareable.
pub const SH_ISH: u64 = 3;
/// MSI / CMD_SYNC memory attribute: Device-nGnRE.
pub const MEMATTR_DEVICE_NGNRE: u64 = 0x1;
/// MSI / CMD_SYNC memory attribute: inner and outer write-back cacheable.
pub const MEMATTR_OIWB: u64 = 0xf;

bitfield! {
    /// `SMMU_CR2` (§6.3).
    pub struct Cr2([u64; 1]) {
        /// E2H: EL2 contexts use the EL2-E2H regime (ASID tagged).
        e2h, with_e2h: 0, 0;
        /// RECINVSID: record C_BAD_STREAMID for out of range StreamIDs.
        recinvsid, with_recinvsid: 1, 1;
        /// PTM: private TLB maintenance (ignore broadcast TLBIs).
        ptm, with_ptm: 2, 2;
    }
}
reg32!(Cr2);

bitfield! {
    /// `SMMU_GBPA`, attributes of the global bypass used while
    /// `CR0.SMMUEN == 0` (§6.3).
    pub struct Gbpa([u64; 1]) {
        /// MemAttr override.
        memattr, with_memattr: 3, 0;
        /// MTCFG: use MemAttr instead of the incoming type.
        mtcfg, with_mtcfg: 4, 4;
        /// ALLOCCFG: allocation hints override.
        alloccfg, with_alloccfg: 11, 8;
        /// SHCFG: shareability override ([`GBPA_SHCFG_INCOMING`]).
        shcfg, with_shcfg: 13, 12;
        /// PRIVCFG: privilege override.
        privcfg, with_privcfg: 17, 16;
        /// INSTCFG: instruction/data override.
        instcfg, with_instcfg: 19, 18;
        /// ABORT: abort all incoming transactions (else bypass them).
        abort, with_abort: 20, 20;
        /// UPDATE: write 1 with the new value; the SMMU clears it when done.
        update, with_update: 31, 31;
    }
}
reg32!(Gbpa);

/// `GBPA.SHCFG` (and `STE.SHCFG`): use the incoming shareability.
pub const GBPA_SHCFG_INCOMING: u64 = 1;

bitfield! {
    /// `SMMU_IRQ_CTRL` and `SMMU_IRQ_CTRLACK` (§6.3).
    pub struct IrqCtrl([u64; 1]) {
        /// GERROR_IRQEN: global error interrupt enabled.
        gerror_irqen, with_gerror_irqen: 0, 0;
        /// PRIQ_IRQEN: PRI queue interrupt enabled.
        priq_irqen, with_priq_irqen: 1, 1;
        /// EVENTQ_IRQEN: event queue interrupt enabled.
        evtq_irqen, with_evtq_irqen: 2, 2;
    }
}
reg32!(IrqCtrl);

bitfield! {
    /// `SMMU_GERROR` and `SMMU_GERRORN`: a global error is active while
    /// its bits differ in the two registers (§6.3).
    pub struct Gerror([u64; 1]) {
        /// CMDQ_ERR: command queue error, see `CMDQ_CONS.ERR`.
        cmdq_err, with_cmdq_err: 0, 0;
        /// EVENTQ_ABT_ERR: an event queue write aborted.
        evtq_abt_err, with_evtq_abt_err: 2, 2;
        /// PRIQ_ABT_ERR: a PRI queue write aborted.
        priq_abt_err, with_priq_abt_err: 3, 3;
        /// MSI_CMDQ_ABT_ERR: a CMD_SYNC MSI write aborted.
        msi_cmdq_abt_err, with_msi_cmdq_abt_err: 4, 4;
        /// MSI_EVENTQ_ABT_ERR: an event queue MSI write aborted.
        msi_evtq_abt_err, with_msi_evtq_abt_err: 5, 5;
        /// MSI_PRIQ_ABT_ERR: a PRI queue MSI write aborted.
        msi_priq_abt_err, with_msi_priq_abt_err: 6, 6;
        /// MSI_GERROR_ABT_ERR: a GERROR MSI write aborted.
        msi_gerror_abt_err, with_msi_gerror_abt_err: 7, 7;
        /// SFM_ERR: the SMMU entered service failure mode.
        sfm_err, with_sfm_err: 8, 8;
    }
}
reg32!(Gerror);

/// All error bits of `SMMU_GERROR`.
pub const GERROR_ERR_MASK: u32 = 0x1fd;

impl Gerror {
    /// The errors that are active: set in `GERROR`, not yet acknowledged in
    /// `GERRORN` (acknowledge by writing `GERROR`'s value to `GERRORN`).
    pub const fn active(gerror: u32, gerrorn: u32) -> Gerror {
        Gerror::from_raw((gerror ^ gerrorn) & GERROR_ERR_MASK)
    }
}

bitfield! {
    /// `SMMU_STRTAB_BASE` (§6.3).
    pub struct StrtabBase([u64; 1]) {
        /// ADDR: stream table base address bits 51:6.
        addr, with_addr: 51, 6;
        /// RA: read-allocate hint.
        ra, with_ra: 62, 62;
    }
}
reg64!(StrtabBase);

/// Low bit of the address fields that hold an address's bits 51:6.
pub const ADDR_SHIFT_64B: u32 = 6;
/// Low bit of the queue base address field (bits 51:5).
pub const ADDR_SHIFT_32B: u32 = 5;

impl StrtabBase {
    /// A base register for the (suitably aligned) stream table at `addr`,
    /// read-allocate; `None` if `addr` has bits outside 51:6.
    pub const fn new(addr: u64) -> Option<Self> {
        if addr & ((1 << ADDR_SHIFT_64B) - 1) != 0 {
            return None;
        }
        match Self::ZERO.with_addr(addr >> ADDR_SHIFT_64B) {
            Some(r) => r.with_ra(1),
            None => None,
        }
    }
}

bitfield! {
    /// `SMMU_STRTAB_BASE_CFG` (§6.3).
    pub struct StrtabBaseCfg([u64; 1]) {
        /// LOG2SIZE: log2 of the number of StreamIDs the table covers.
        log2size, with_log2size: 5, 0;
        /// SPLIT: StreamID bits resolved by the level 2 tables.
        split, with_split: 10, 6;
        /// FMT: [`STRTAB_FMT_LINEAR`] or [`STRTAB_FMT_2LVL`].
        fmt, with_fmt: 17, 16;
    }
}
reg32!(StrtabBaseCfg);

/// `STRTAB_BASE_CFG.FMT`: linear stream table.
pub const STRTAB_FMT_LINEAR: u64 = 0;
/// `STRTAB_BASE_CFG.FMT`: two-level stream table.
pub const STRTAB_FMT_2LVL: u64 = 1;
/// The split Linux uses: 256 STEs (one PCI bus, 16 KiB) per level 2 table.
pub const STRTAB_SPLIT: u32 = 8;
/// Size of a stream table entry in bytes.
pub const STE_SIZE: u64 = 64;
/// Size of a level 1 stream table descriptor in bytes.
pub const STRTAB_L1_DESC_SIZE: u64 = 8;

bitfield! {
    /// Level 1 stream table descriptor (§5.1).
    pub struct StrtabL1Desc([u64; 1]) {
        /// Span: `log2(STEs) + 1` of the level 2 table (0: invalid).
        span, with_span: 4, 0;
        /// L2Ptr: level 2 table address bits 51:6.
        l2ptr, with_l2ptr: 51, 6;
    }
}
reg64!(StrtabL1Desc);

impl StrtabL1Desc {
    /// A descriptor for a level 2 table of `1 << split` STEs at `l2_addr`;
    /// `None` if the address is misaligned or too wide, or `split` is too big.
    pub const fn new(l2_addr: u64, split: u32) -> Option<Self> {
        if l2_addr & ((1 << ADDR_SHIFT_64B) - 1) != 0 {
            return None;
        }
        match Self::ZERO.with_span(split as u64 + 1) {
            Some(d) => d.with_l2ptr(l2_addr >> ADDR_SHIFT_64B),
            None => None,
        }
    }

    /// The level 2 table address.
    pub const fn l2_addr(self) -> u64 {
        self.l2ptr() << ADDR_SHIFT_64B
    }
}

/// Byte offset of the STE of `sid` in a linear stream table.
pub const fn strtab_linear_offset(sid: u32) -> u64 {
    sid as u64 * STE_SIZE
}

/// Index of the level 1 descriptor of `sid` in a two-level stream table.
pub const fn strtab_l1_index(sid: u32, split: u32) -> u32 {
    if split >= u32::BITS {
        0
    } else {
        sid >> split
    }
}

/// Index of the STE of `sid` in its level 2 table.
pub const fn strtab_l2_index(sid: u32, split: u32) -> u32 {
    if split >= u32::BITS {
        sid
    } else {
        sid & ((1 << split) - 1)
    }
}

bitfield! {
    /// `SMMU_CMDQ_BASE`, `SMMU_EVENTQ_BASE`, `SMMU_PRIQ_BASE` (§6.3).
    pub struct QueueBase([u64; 1]) {
        /// LOG2SIZE: log2 of the number of entries.
        log2size, with_log2size: 4, 0;
        /// ADDR: queue base address bits 51:5.
        addr, with_addr: 51, 5;
        /// RA (command queue) / WA (event and PRI queues): allocate hint.
        alloc_hint, with_alloc_hint: 62, 62;
    }
}
reg64!(QueueBase);

impl QueueBase {
    /// A base register for a queue of `1 << log2size` entries at `addr`
    /// (aligned to the queue size, at least 32 bytes), with the allocation
    /// hint; `None` if a value does not fit or `addr` is misaligned.
    pub const fn new(addr: u64, log2size: u32) -> Option<Self> {
        if addr & ((1 << ADDR_SHIFT_32B) - 1) != 0 {
            return None;
        }
        let base = match Self::ZERO.with_addr(addr >> ADDR_SHIFT_32B) {
            Some(b) => b,
            None => return None,
        };
        match base.with_log2size(log2size as u64) {
            Some(b) => b.with_alloc_hint(1),
            None => None,
        }
    }
}

/// Size of a command queue entry in bytes.
pub const CMDQ_ENT_SIZE: u64 = 16;
/// Size of an event queue entry in bytes.
pub const EVTQ_ENT_SIZE: u64 = 32;
/// Size of a PRI queue entry in bytes.
pub const PRIQ_ENT_SIZE: u64 = 16;
/// The largest `LOG2SIZE` a queue base can hold (5-bit field).
pub const QUEUE_MAX_LOG2SIZE: u32 = 19;

bitfield! {
    /// `SMMU_CMDQ_CONS`: consumer index (see [`QueueGeometry`]) and error.
    pub struct CmdqCons([u64; 1]) {
        /// ERR: the command error of the command at the consumer index
        /// ([`CERROR_ILL`], ...), valid while `GERROR.CMDQ_ERR` is active.
        err, with_err: 30, 24;
    }
}
reg32!(CmdqCons);

/// Command error: none.
pub const CERROR_NONE: u64 = 0;
/// Command error: illegal command (bad opcode, reserved field set...).
pub const CERROR_ILL: u64 = 1;
/// Command error: abort when reading the command.
pub const CERROR_ABT: u64 = 2;
/// Command error: ATC invalidation timed out before a CMD_SYNC.
pub const CERROR_ATC_INV_SYNC: u64 = 3;

bitfield! {
    /// `SMMU_EVENTQ_PROD` / `SMMU_PRIQ_PROD` flags; the index is in the low
    /// bits (see [`QueueGeometry`]).
    pub struct QueueProdFlags([u64; 1]) {
        /// OVFLG: the queue overflowed (toggles on each overflow).
        ovflg, with_ovflg: 31, 31;
    }
}
reg32!(QueueProdFlags);

bitfield! {
    /// `SMMU_EVENTQ_CONS` / `SMMU_PRIQ_CONS` flags.
    pub struct QueueConsFlags([u64; 1]) {
        /// OVACKFLG: software's acknowledgement of `OVFLG` (copy it here).
        ovackflg, with_ovackflg: 31, 31;
    }
}
reg32!(QueueConsFlags);

/// The index arithmetic of a circular queue of `1 << log2size` entries.
///
/// A `PROD`/`CONS` value holds the entry index in bits `log2size - 1:0` and
/// the wrap bit at bit `log2size`; other bits (`CMDQ_CONS.ERR`, `OVFLG`...)
/// are ignored here. The queue is empty when the indexes and wrap bits are
/// equal, full when the indexes are equal and the wrap bits differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueGeometry {
    log2size: u32,
}

impl QueueGeometry {
    /// A queue of `1 << log2size` entries; `None` above
    /// [`QUEUE_MAX_LOG2SIZE`].
    pub const fn new(log2size: u32) -> Option<Self> {
        if log2size > QUEUE_MAX_LOG2SIZE {
            None
        } else {
            Some(Self { log2size })
        }
    }

    /// log2 of the number of entries.
    pub const fn log2size(self) -> u32 {
        self.log2size
    }

    /// Number of entries.
    pub const fn entries(self) -> u32 {
        1 << self.log2size
    }

    /// Mask of the index bits.
    const fn index_mask(self) -> u32 {
        self.entries() - 1
    }

    /// Mask of the index and wrap bits.
    const fn wrap_index_mask(self) -> u32 {
        (self.entries() << 1) - 1
    }

    /// The entry index of `p`.
    pub const fn index(self, p: u32) -> u32 {
        p & self.index_mask()
    }

    /// The wrap bit of `p`.
    pub const fn wrap(self, p: u32) -> bool {
        p & self.entries() != 0
    }

    /// `p` advanced by `n` entries (index and wrap bits only).
    pub const fn advance(self, p: u32, n: u32) -> u32 {
        p.wrapping_add(n) & self.wrap_index_mask()
    }

    /// Number of entries between `cons` and `prod` (written, not consumed).
    pub const fn used(self, prod: u32, cons: u32) -> u32 {
        prod.wrapping_sub(cons) & self.wrap_index_mask()
    }

    /// Number of free entries.
    pub const fn space(self, prod: u32, cons: u32) -> u32 {
        self.entries() - self.used(prod, cons)
    }

    /// Whether the queue is empty.
    pub const fn is_empty(self, prod: u32, cons: u32) -> bool {
        self.used(prod, cons) == 0
    }

    /// Whether the queue is full.
    pub const fn is_full(self, prod: u32, cons: u32) -> bool {
        self.used(prod, cons) == self.entries()
    }

    /// Byte offset of the entry at `p` in a queue of `entry_size` bytes each.
    pub const fn entry_offset(self, p: u32, entry_size: u64) -> u64 {
        self.index(p) as u64 * entry_size
    }
}

/// Why this driver cannot drive an SMMU, from its ID registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsupported {
    /// `IDR1.TABLES_PRESET`, `QUEUES_PRESET` or `REL`: an embedded
    /// implementation with fixed tables or queues, which Linux refuses too
    /// (`arm_smmu_device_hw_probe()`: "embedded implementation not
    /// supported").
    Embedded,
    /// `IDR0.TTENDIAN` offers no table endianness of this CPU's (Linux:
    /// "unknown/unsupported TT endianness!").
    TableEndianness,
    /// `IDR0.STALL_MODEL` = forced stalls: a faulting transaction stalls
    /// until software resumes or terminates it (`CMD_RESUME`), which this
    /// driver never does, so a fault would hang the device.  Linux handles
    /// stalls (`ARM_SMMU_FEAT_STALL_FORCE`, I/O page faults); this driver
    /// only drives SMMUs where a fault terminates.
    ForcedStalls,
}

impl Unsupported {
    /// What to tell the user.
    pub const fn reason(self) -> &'static str {
        match self {
            Self::Embedded => "embedded implementation (IDR1 TABLES_PRESET/QUEUES_PRESET/REL)",
            Self::TableEndianness => "no table endianness of this CPU's (IDR0.TTENDIAN)",
            Self::ForcedStalls => "forced stall model (IDR0.STALL_MODEL), stalls are not handled",
        }
    }
}

/// Checks what `arm_smmu_device_hw_probe()` checks of `IDR0` and `IDR1`
/// before using an SMMU, plus what this driver does not implement.
pub const fn check_idrs(idr0: Idr0, idr1: Idr1) -> Result<(), Unsupported> {
    if idr1.tables_preset() != 0 || idr1.queues_preset() != 0 || idr1.rel() != 0 {
        return Err(Unsupported::Embedded);
    }
    let native = if cfg!(target_endian = "big") {
        IDR0_TTENDIAN_BE
    } else {
        IDR0_TTENDIAN_LE
    };
    let tt = idr0.ttendian();
    if tt != IDR0_TTENDIAN_MIXED && tt != native {
        return Err(Unsupported::TableEndianness);
    }
    if idr0.stall_model() == IDR0_STALL_MODEL_FORCE {
        return Err(Unsupported::ForcedStalls);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_idrs_refuses_what_linux_and_we_cannot_drive() {
        let qemu = Idr0::from_raw(0x0d44_101b);
        assert_eq!(check_idrs(qemu, Idr1::ZERO), Ok(()));
        for b in [28, 29, 30] {
            assert_eq!(
                check_idrs(qemu, Idr1::from_raw(1 << b)),
                Err(Unsupported::Embedded),
                "IDR1 bit {b}"
            );
        }
        let tt = |v| qemu.with_ttendian(v).unwrap();
        assert_eq!(check_idrs(tt(IDR0_TTENDIAN_MIXED), Idr1::ZERO), Ok(()));
        assert_eq!(check_idrs(tt(IDR0_TTENDIAN_LE), Idr1::ZERO), Ok(()));
        assert_eq!(
            check_idrs(tt(IDR0_TTENDIAN_BE), Idr1::ZERO),
            Err(Unsupported::TableEndianness)
        );
        // 0b01 is reserved.
        assert_eq!(
            check_idrs(tt(1), Idr1::ZERO),
            Err(Unsupported::TableEndianness)
        );
        let stall = |v| qemu.with_stall_model(v).unwrap();
        assert_eq!(check_idrs(stall(IDR0_STALL_MODEL_NONE), Idr1::ZERO), Ok(()));
        assert_eq!(
            check_idrs(stall(IDR0_STALL_MODEL_STALL), Idr1::ZERO),
            Ok(())
        );
        assert_eq!(
            check_idrs(stall(IDR0_STALL_MODEL_FORCE), Idr1::ZERO),
            Err(Unsupported::ForcedStalls)
        );
    }

    #[test]
    fn idr0_of_qemu_nested() {
        // QEMU virt `arm-smmuv3.stage=nested` (hw/arm/smmuv3.c
        // smmuv3_init_id_regs): S1P, S2P, TTF=AArch64, COHACC, ASID16,
        // VMID16, TTENDIAN=LE, STALL_MODEL=1, TERM_MODEL, ST_LEVEL=2lvl.
        let idr0 = Idr0::ZERO
            .with_s1p(1)
            .and_then(|r| r.with_s2p(1))
            .and_then(|r| r.with_ttf(IDR0_TTF_AARCH64))
            .and_then(|r| r.with_cohacc(1))
            .and_then(|r| r.with_asid16(1))
            .and_then(|r| r.with_vmid16(1))
            .and_then(|r| r.with_ttendian(IDR0_TTENDIAN_LE))
            .and_then(|r| r.with_stall_model(IDR0_STALL_MODEL_NONE))
            .and_then(|r| r.with_term_model(1))
            .and_then(|r| r.with_st_lvl(IDR0_ST_LVL_2LVL))
            .unwrap();
        assert_eq!(idr0.raw(), 0x0d44_101b);
        let back = Idr0::from_raw(idr0.raw());
        assert!(back.nested() && back.aarch64_tables() && back.two_level_strtab());
        assert!(!back.stalls());
        assert_eq!(back.asid_bits(), 16);
        assert_eq!(back.vmid_bits(), 16);
        assert!(!Idr0::from_raw(0b10).nested());
        assert_eq!(Idr0::ZERO.asid_bits(), 8);
    }

    #[test]
    fn register_layouts_match_linux() {
        // Values of the Linux 7.3 arm-smmu-v3.h masks.
        assert_eq!(Idr1::ZERO.with_cmdqs(0x1f).unwrap().raw(), 0x03e0_0000);
        assert_eq!(Idr1::ZERO.with_evtqs(0x1f).unwrap().raw(), 0x001f_0000);
        assert_eq!(Idr1::ZERO.with_ssidsize(0x1f).unwrap().raw(), 0x7c0);
        assert_eq!(Idr1::ZERO.with_tables_preset(1).unwrap().raw(), 1 << 30);
        assert_eq!(Idr3::ZERO.with_ril(1).unwrap().raw(), 1 << 10);
        assert_eq!(Idr3::ZERO.with_bbml(3).unwrap().raw(), 0x1800);
        assert_eq!(Idr5::ZERO.with_vax(3).unwrap().raw(), 0xc00);
        assert_eq!(
            Idr5::ZERO.with_stall_max(0xffff).unwrap().raw(),
            0xffff_0000
        );
        assert_eq!(Cr1::ZERO.with_table_sh(3).unwrap().raw(), 0xc00);
        assert_eq!(Cr2::ZERO.with_ptm(1).unwrap().raw(), 4);
        assert_eq!(Gbpa::ZERO.with_abort(1).unwrap().raw(), 1 << 20);
        assert_eq!(Gbpa::ZERO.with_update(1).unwrap().raw(), 1 << 31);
        // QEMU's GBPA reset value 0x1000 is SHCFG = incoming.
        assert_eq!(Gbpa::from_raw(0x1000).shcfg(), GBPA_SHCFG_INCOMING);
        assert_eq!(StrtabBaseCfg::ZERO.with_fmt(3).unwrap().raw(), 0x3_0000);
        assert_eq!(StrtabBaseCfg::ZERO.with_split(0x1f).unwrap().raw(), 0x7c0);
        assert_eq!(CmdqCons::ZERO.with_err(0x7f).unwrap().raw(), 0x7f00_0000);
        let all = Gerror::ZERO
            .with_cmdq_err(1)
            .and_then(|g| g.with_evtq_abt_err(1))
            .and_then(|g| g.with_priq_abt_err(1))
            .and_then(|g| g.with_msi_cmdq_abt_err(1))
            .and_then(|g| g.with_msi_evtq_abt_err(1))
            .and_then(|g| g.with_msi_priq_abt_err(1))
            .and_then(|g| g.with_msi_gerror_abt_err(1))
            .and_then(|g| g.with_sfm_err(1))
            .unwrap();
        assert_eq!(all.raw(), GERROR_ERR_MASK);
        assert_eq!(Gerror::active(0x101, 0x100).raw(), 1);
        assert_eq!(EVTQ_PROD_PAGE1, 0x100a8);
        assert_eq!(PRIQ_CONS_PAGE1, 0x100cc);
    }

    #[test]
    fn bases_and_descriptors() {
        let b = StrtabBase::new(0x8_1234_5640).unwrap();
        assert_eq!(b.raw(), 0x8_1234_5640 | 1 << 62);
        assert!(StrtabBase::new(0x20).is_none());
        assert!(StrtabBase::new(1 << 52).is_none());
        let q = QueueBase::new(0x4000_0000, 19).unwrap();
        assert_eq!(q.raw(), 0x4000_0000 | 19 | 1 << 62);
        assert_eq!(q.log2size(), 19);
        assert!(QueueBase::new(0x10, 3).is_none());
        assert!(QueueBase::new(0x20, 32).is_none());
        let d = StrtabL1Desc::new(0x1234_4000, STRTAB_SPLIT).unwrap();
        assert_eq!(d.raw(), 0x1234_4000 | 9);
        assert_eq!(d.l2_addr(), 0x1234_4000);
        assert!(StrtabL1Desc::new(0x1234_4008, STRTAB_SPLIT).is_none());
        assert_eq!(strtab_linear_offset(3), 192);
        assert_eq!(strtab_l1_index(0x1234, 8), 0x12);
        assert_eq!(strtab_l2_index(0x1234, 8), 0x34);
        assert_eq!(strtab_l1_index(0x1234, 32), 0);
        assert_eq!(strtab_l2_index(0x1234, 32), 0x1234);
    }

    #[test]
    fn address_sizes() {
        for (field, bits) in ADDR_SIZE_BITS.iter().enumerate() {
            assert_eq!(oas_bits(field as u64), Some(*bits));
            assert_eq!(oas_field(*bits), Some(field as u64));
        }
        assert_eq!(oas_bits(7), None);
        assert_eq!(oas_field(47), None);
        assert_eq!(Idr5::from_raw(0x74).oas(), 4);
    }

    #[test]
    fn queue_geometry() {
        let q = QueueGeometry::new(2).unwrap();
        assert!(QueueGeometry::new(QUEUE_MAX_LOG2SIZE + 1).is_none());
        assert_eq!(q.entries(), 4);
        assert!(q.is_empty(0, 0));
        let mut prod = 0;
        for i in 0..4 {
            assert_eq!(q.space(prod, 0), 4 - i);
            prod = q.advance(prod, 1);
        }
        assert_eq!(prod, 0b100);
        assert!(q.is_full(prod, 0));
        assert!(q.wrap(prod) && q.index(prod) == 0);
        // Wrapping twice comes back to 0; other register bits are ignored.
        let prod = q.advance(prod, 4);
        assert_eq!(prod, 0);
        assert!(q.is_empty(prod | 0x7f00_0000, 0));
        assert_eq!(q.used(1, 0b111), 2);
        assert_eq!(q.entry_offset(0b110, CMDQ_ENT_SIZE), 32);
    }
}
