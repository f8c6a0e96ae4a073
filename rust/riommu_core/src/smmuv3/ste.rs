// SPDX-License-Identifier: GPL-2.0

//! The stream table entry (SMMUv3 §5.2 "Stream Table Entry").
//!
//! An STE is 64 bytes, eight 64-bit little-endian words; [`Ste`] names each
//! field by its absolute bit range (word 1 bit 0 is STE bit 64). The
//! constructors set only the fields that the SMMU uses in the configuration
//! they build (see [`super::hitless::ste_used_bits`]), which keeps every
//! transition between them as cheap as the hitless update allows.

use super::super::bitfield::bitfield;
use super::super::errno::Errno;
use super::lpae::size_fields;

/// Number of 64-bit words in an STE.
pub const STE_QWORDS: usize = 8;

bitfield! {
    /// A stream table entry (§5.2).
    pub struct Ste([u64; 8]) {
        /// V: the entry is valid (else C_BAD_STE for its traffic).
        v, with_v: 0, 0;
        /// Config: [`CONFIG_ABORT`], [`CONFIG_BYPASS`], [`CONFIG_S1_TRANS`],
        /// [`CONFIG_S2_TRANS`] or [`CONFIG_NESTED`].
        config, with_config: 3, 1;
        /// S1Fmt: CD table format ([`S1Fmt`]).
        s1fmt, with_s1fmt: 5, 4;
        /// S1ContextPtr: CD table address bits 51:6.
        s1ctxptr, with_s1ctxptr: 51, 6;
        /// S1CDMax: log2 of the number of CDs (0: one CD, no substreams).
        s1cdmax, with_s1cdmax: 63, 59;
        /// S1DSS: stage 1 behaviour of transactions without a SubstreamID
        /// ([`S1Dss`]).
        s1dss, with_s1dss: 65, 64;
        /// S1CIR: CD table inner cacheability ([`CACHE_WBRA`], ...).
        s1cir, with_s1cir: 67, 66;
        /// S1COR: CD table outer cacheability.
        s1cor, with_s1cor: 69, 68;
        /// S1CSH: CD table shareability.
        s1csh, with_s1csh: 71, 70;
        /// MEV: merge similar fault events.
        mev, with_mev: 83, 83;
        /// S2FWB: stage 2 forced write-back.
        s2fwb, with_s2fwb: 89, 89;
        /// S1STALLD: stage 1 stall disable.
        s1stalld, with_s1stalld: 91, 91;
        /// EATS: PCIe ATS ([`Eats`]).
        eats, with_eats: 93, 92;
        /// STRW: StreamWorld ([`Strw`]).
        strw, with_strw: 95, 94;
        /// MemAttr: memory type override (with MTCFG).
        memattr, with_memattr: 99, 96;
        /// MTCFG: use MemAttr instead of the incoming memory type.
        mtcfg, with_mtcfg: 100, 100;
        /// ALLOCCFG: allocation hints override.
        alloccfg, with_alloccfg: 104, 101;
        /// SHCFG: shareability override ([`Shcfg`]).
        shcfg, with_shcfg: 109, 108;
        /// NSCFG: security override.
        nscfg, with_nscfg: 111, 110;
        /// PRIVCFG: privilege override.
        privcfg, with_privcfg: 113, 112;
        /// INSTCFG: instruction/data override.
        instcfg, with_instcfg: 115, 114;
        /// S2VMID: the VMID (also tags stage-1-only NS-EL1 TLB entries).
        s2vmid, with_s2vmid: 143, 128;
        /// S2T0SZ: stage 2 input size is `64 - S2T0SZ` bits.
        s2t0sz, with_s2t0sz: 165, 160;
        /// S2SL0: stage 2 starting level ([`S2SL0_LEVEL0_4K`], ...).
        s2sl0, with_s2sl0: 167, 166;
        /// S2IR0: stage 2 table walk inner cacheability.
        s2ir0, with_s2ir0: 169, 168;
        /// S2OR0: stage 2 table walk outer cacheability.
        s2or0, with_s2or0: 171, 170;
        /// S2SH0: stage 2 table walk shareability.
        s2sh0, with_s2sh0: 173, 172;
        /// S2TG: stage 2 granule ([`S2TG_4K`], ...).
        s2tg, with_s2tg: 175, 174;
        /// S2PS: stage 2 output size (`IDR5.OAS` encoding).
        s2ps, with_s2ps: 178, 176;
        /// S2AA64: stage 2 tables are AArch64 (must be 1 for QEMU).
        s2aa64, with_s2aa64: 179, 179;
        /// S2ENDI: stage 2 tables are big endian.
        s2endi, with_s2endi: 180, 180;
        /// S2AFFD: stage 2 access flag fault disable.
        s2affd, with_s2affd: 181, 181;
        /// S2PTW: protected table walk (stage 1 walks to device memory fault).
        s2ptw, with_s2ptw: 182, 182;
        /// S2HD: stage 2 hardware dirty state update.
        s2hd, with_s2hd: 183, 183;
        /// S2HA: stage 2 hardware access flag update.
        s2ha, with_s2ha: 184, 184;
        /// S2S: stage 2 faults stall.
        s2s, with_s2s: 185, 185;
        /// S2R: stage 2 faults are recorded.
        s2r, with_s2r: 186, 186;
        /// S2TTB: stage 2 table address bits 51:4.
        s2ttb, with_s2ttb: 243, 196;
    }
}

/// `Config`: abort all traffic, silently (no event).
pub const CONFIG_ABORT: u64 = 0b000;
/// `Config`: bypass both stages.
pub const CONFIG_BYPASS: u64 = 0b100;
/// `Config`: stage 1 translates, stage 2 bypassed.
pub const CONFIG_S1_TRANS: u64 = 0b101;
/// `Config`: stage 1 bypassed, stage 2 translates.
pub const CONFIG_S2_TRANS: u64 = 0b110;
/// `Config`: both stages translate (nested).
pub const CONFIG_NESTED: u64 = 0b111;
/// `Config` bit set when stage 1 translates.
pub const CONFIG_S1_BIT: u64 = 0b001;
/// `Config` bit set when stage 2 translates.
pub const CONFIG_S2_BIT: u64 = 0b010;
/// `Config` bit set for every non-abort configuration (0b001..0b011 are
/// reserved and abort too).
pub const CONFIG_ENABLE_BIT: u64 = 0b100;

/// Cacheability of CD table fetches and stage 2 walks: non-cacheable.
pub const CACHE_NC: u64 = 0;
/// Cacheability: write-back, read and write allocate.
pub const CACHE_WBRA: u64 = 1;
/// Cacheability: write-through, read allocate.
pub const CACHE_WT: u64 = 2;
/// Cacheability: write-back, read allocate, no write allocate.
pub const CACHE_WB: u64 = 3;
/// Shareability: non-shareable.
pub const SH_NSH: u64 = 0;
/// Shareability: outer shareable.
pub const SH_OSH: u64 = 2;
/// Shareability: inner shareable.
pub const SH_ISH: u64 = 3;

/// `S2TG`: 4 KiB granule.
pub const S2TG_4K: u64 = 0;
/// `S2TG`: 64 KiB granule.
pub const S2TG_64K: u64 = 1;
/// `S2TG`: 16 KiB granule.
pub const S2TG_16K: u64 = 2;
/// `S2SL0` with a 4 KiB granule: the walk starts at level 2.
pub const S2SL0_LEVEL2_4K: u64 = 0;
/// `S2SL0` with a 4 KiB granule: the walk starts at level 1.
pub const S2SL0_LEVEL1_4K: u64 = 1;
/// `S2SL0` with a 4 KiB granule: the walk starts at level 0.
pub const S2SL0_LEVEL0_4K: u64 = 2;

/// Largest `S1CDMax`: SubstreamIDs are at most 20 bits.
pub const MAX_S1CDMAX: u32 = 20;
/// Low bit of the S1ContextPtr field (a 64-byte aligned address).
const S1CTXPTR_SHIFT: u32 = 6;
/// Low bit of the S2TTB field (a 16-byte aligned address).
const S2TTB_SHIFT: u32 = 4;

/// CD table format (`S1Fmt`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S1Fmt {
    /// A linear table of `1 << S1CDMax` CDs.
    Linear,
    /// Two levels, 4 KiB level 2 tables (64 CDs each).
    TwoLevel4K,
    /// Two levels, 64 KiB level 2 tables (1024 CDs each).
    TwoLevel64K,
}

impl S1Fmt {
    /// The field encoding.
    pub const fn bits(self) -> u64 {
        match self {
            S1Fmt::Linear => 0,
            S1Fmt::TwoLevel4K => 1,
            S1Fmt::TwoLevel64K => 2,
        }
    }
}

/// Stage 1 behaviour of transactions without a SubstreamID (`S1DSS`),
/// meaningful when `S1CDMax != 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S1Dss {
    /// Terminate them (and report C_BAD_SUBSTREAMID).
    Terminate,
    /// Bypass stage 1 for them.
    Bypass,
    /// Translate them with CD 0 (which then cannot be used with a SubstreamID).
    Ssid0,
}

impl S1Dss {
    /// The field encoding.
    pub const fn bits(self) -> u64 {
        match self {
            S1Dss::Terminate => 0,
            S1Dss::Bypass => 1,
            S1Dss::Ssid0 => 2,
        }
    }
}

/// `S1DSS` value [`S1Dss::Bypass`].
pub const S1DSS_BYPASS: u64 = S1Dss::Bypass.bits();

/// PCIe ATS handling (`EATS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eats {
    /// ATS translation requests are aborted.
    Abort,
    /// Full ATS: translation requests are translated by all stages.
    Trans,
    /// Split-stage ATS (stage 1 only; translated traffic checked by stage 2).
    S1Chk,
}

impl Eats {
    /// The field encoding.
    pub const fn bits(self) -> u64 {
        match self {
            Eats::Abort => 0,
            Eats::Trans => 1,
            Eats::S1Chk => 2,
        }
    }
}

/// `EATS` value [`Eats::Trans`].
pub const EATS_TRANS: u64 = Eats::Trans.bits();
/// `EATS` value [`Eats::S1Chk`].
pub const EATS_S1CHK: u64 = Eats::S1Chk.bits();

/// StreamWorld (`STRW`): the translation regime of stage 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strw {
    /// Non-secure EL1 (VMID tagged).
    NsEl1,
    /// EL2 (`CR2.E2H` selects EL2-E2H, ASID tagged).
    El2,
}

impl Strw {
    /// The field encoding.
    pub const fn bits(self) -> u64 {
        match self {
            Strw::NsEl1 => 0,
            Strw::El2 => 2,
        }
    }
}

/// Shareability override (`SHCFG`), effective with `IDR1.ATTR_TYPES_OVR`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shcfg {
    /// Non-shareable.
    NonShareable,
    /// Use the incoming shareability.
    Incoming,
    /// Outer shareable.
    Outer,
    /// Inner shareable.
    Inner,
}

impl Shcfg {
    /// The field encoding.
    pub const fn bits(self) -> u64 {
        match self {
            Shcfg::NonShareable => 0,
            Shcfg::Incoming => 1,
            Shcfg::Outer => 2,
            Shcfg::Inner => 3,
        }
    }
}

/// Options of a translating STE that are neither stage 1 nor stage 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamOpts {
    /// ATS handling.
    pub eats: Eats,
    /// Shareability override; written where the SMMU uses it (stage 2
    /// translates, or stage 1 bypasses with [`S1Dss::Bypass`]).
    pub shcfg: Shcfg,
    /// Merge similar fault events.
    pub mev: bool,
}

impl StreamOpts {
    /// No ATS, no override (`SHCFG == 0`), no event merging.
    pub const DEFAULT: StreamOpts = StreamOpts {
        eats: Eats::Abort,
        shcfg: Shcfg::NonShareable,
        mev: false,
    };
}

/// The stage 1 part of a translating STE: where the CD table is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct S1Cfg {
    /// Address of the CD table (64-byte aligned, below 2^52).
    pub cd_table: u64,
    /// CD table format.
    pub fmt: S1Fmt,
    /// log2 of the number of CDs (at most [`MAX_S1CDMAX`]).
    pub cdmax: u32,
    /// Handling of transactions without a SubstreamID.
    pub dss: S1Dss,
    /// CD table inner cacheability ([`CACHE_WBRA`], ...).
    pub cir: u64,
    /// CD table outer cacheability.
    pub cor: u64,
    /// CD table shareability ([`SH_ISH`], ...).
    pub csh: u64,
    /// Disable stalls of stage 1 faults (must be false where
    /// `IDR0.STALL_MODEL` has no stalls: QEMU reports C_BAD_STE).
    pub stalld: bool,
    /// StreamWorld.
    pub strw: Strw,
}

impl S1Cfg {
    /// A single linear CD at `cd_table` (`S1CDMax == 0`), fetched write-back
    /// inner shareable, NS-EL1, no stall disable.
    pub const fn single(cd_table: u64) -> S1Cfg {
        S1Cfg {
            cd_table,
            fmt: S1Fmt::Linear,
            cdmax: 0,
            dss: S1Dss::Ssid0,
            cir: CACHE_WBRA,
            cor: CACHE_WBRA,
            csh: SH_ISH,
            stalld: false,
            strw: Strw::NsEl1,
        }
    }
}

/// The `VTCR`-like stage 2 controls of an STE (`S2T0SZ` ... `S2PS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct S2Vtcr {
    /// Input size is `64 - t0sz` bits.
    pub t0sz: u64,
    /// Starting level ([`S2SL0_LEVEL0_4K`], ...).
    pub sl0: u64,
    /// Table walk inner cacheability.
    pub ir0: u64,
    /// Table walk outer cacheability.
    pub or0: u64,
    /// Table walk shareability.
    pub sh0: u64,
    /// Granule ([`S2TG_4K`], ...).
    pub tg: u64,
    /// Output size (`IDR5.OAS` encoding).
    pub ps: u64,
}

impl S2Vtcr {
    /// STE stage 2 controls of a [`super::lpae::Stage2Lpae`] table for an `ias_bits` IPA space (40 to 48, the
    /// four-level walk from level 0, `S2SL0 == 2`) and an output of
    /// `oas_bits` (an `IDR5.OAS` size).
    ///
    /// [`Errno::EINVAL`] if a size is out of range or the IPA space is larger
    /// than the output size: QEMU (whose OAS is 44) reports C_BAD_STE for a
    /// `S2T0SZ` below `64 - OAS`, so use `ias_bits <= 44` there.
    pub const fn for_lpae(ias_bits: u32, oas_bits: u32) -> Result<S2Vtcr, Errno> {
        if ias_bits > oas_bits {
            return Err(Errno::EINVAL);
        }
        let Some((t0sz, ps)) = size_fields(ias_bits, oas_bits) else {
            return Err(Errno::EINVAL);
        };
        Ok(S2Vtcr {
            t0sz,
            sl0: S2SL0_LEVEL0_4K,
            ir0: CACHE_WBRA,
            or0: CACHE_WBRA,
            sh0: SH_ISH,
            tg: S2TG_4K,
            ps,
        })
    }
}

/// The stage 2 part of a translating STE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct S2Cfg {
    /// The VMID.
    pub vmid: u16,
    /// Translation controls.
    pub vtcr: S2Vtcr,
    /// Stage 2 table address (16-byte aligned, below 2^52).
    pub ttb: u64,
    /// Access flag fault disable.
    pub affd: bool,
    /// Protected table walk.
    pub ptw: bool,
    /// Stall on faults (QEMU has no stalls: C_BAD_STE).
    pub stall: bool,
    /// Record faults.
    pub record: bool,
    /// Forced write-back (`IDR3.FWB`).
    pub fwb: bool,
    /// Hardware access flag update.
    pub ha: bool,
    /// Hardware dirty state update.
    pub hd: bool,
}

impl S2Cfg {
    /// The stage 2 of a [`super::lpae::Stage2Lpae`] table at `ttb`: 4 KiB
    /// granule, walk from level 0, an `ias_bits` IPA space (40 to 48, at
    /// most `oas_bits`), an `oas_bits` output (an `IDR5.OAS` size: 44 on
    /// QEMU), cacheable walks, faults recorded, no stall, protected table
    /// walks, no FWB, no hardware access/dirty updates.
    ///
    /// [`Errno::EINVAL`] if a size is out of range.
    pub const fn stage2_4k(
        vmid: u16,
        ttb: u64,
        ias_bits: u32,
        oas_bits: u32,
    ) -> Result<S2Cfg, Errno> {
        let vtcr = match S2Vtcr::for_lpae(ias_bits, oas_bits) {
            Ok(vtcr) => vtcr,
            Err(e) => return Err(e),
        };
        Ok(S2Cfg {
            vmid,
            vtcr,
            ttb,
            affd: false,
            ptw: true,
            stall: false,
            record: true,
            fwb: false,
            ha: false,
            hd: false,
        })
    }
}

impl Ste {
    /// The all-zero, non-valid STE.
    pub const INVALID: Ste = Ste::ZERO;

    /// A valid STE that aborts all traffic without recording events.
    pub const fn abort() -> Ste {
        // Config 0 (abort) is the zero value: only V is set.
        match Ste::ZERO.with_v(1) {
            Some(ste) => ste,
            None => Ste::ZERO,
        }
    }

    /// A valid STE that bypasses translation, with shareability override
    /// `shcfg` (Linux uses [`Shcfg::Incoming`] when `IDR1.ATTR_TYPES_OVR`,
    /// else leaves 0).
    pub fn bypass(shcfg: Shcfg) -> Ste {
        let ste = Self::header(CONFIG_BYPASS).and_then(|s| s.with_shcfg(shcfg.bits()));
        // The fields are constant and fit.
        ste.unwrap_or(Ste::ZERO)
    }

    /// A valid STE whose stage 1 translates with the CD table of `s1`.
    /// The S2VMID is 0 (Linux keeps VMID 0 for stage-1-only NS-EL1 STEs).
    ///
    /// [`Errno::EINVAL`] if an address is misaligned or too wide, or a value
    /// does not fit its field.
    pub fn s1(s1: &S1Cfg, opts: &StreamOpts) -> Result<Ste, Errno> {
        Self::header(CONFIG_S1_TRANS)
            .and_then(|s| s.put_s1(s1))
            .and_then(|s| s.put_opts(opts, s1.dss == S1Dss::Bypass))
            .ok_or(Errno::EINVAL)
    }

    /// A valid STE whose stage 2 translates with `s2`.
    ///
    /// [`Errno::EINVAL`] if an address is misaligned or too wide, or a value
    /// does not fit its field.
    pub fn s2(s2: &S2Cfg, opts: &StreamOpts) -> Result<Ste, Errno> {
        Self::header(CONFIG_S2_TRANS)
            .and_then(|s| s.put_s2(s2))
            .and_then(|s| s.put_opts(opts, true))
            .ok_or(Errno::EINVAL)
    }

    /// A valid STE where stage 1 (CD table of `s1`, in IPA space) and stage 2
    /// (`s2`) both translate.
    ///
    /// [`Errno::EINVAL`] if an address is misaligned or too wide, or a value
    /// does not fit its field.
    pub fn nested(s1: &S1Cfg, s2: &S2Cfg, opts: &StreamOpts) -> Result<Ste, Errno> {
        Self::header(CONFIG_NESTED)
            .and_then(|s| s.put_s1(s1))
            .and_then(|s| s.put_s2(s2))
            .and_then(|s| s.put_opts(opts, true))
            .ok_or(Errno::EINVAL)
    }

    /// Whether the STE is valid.
    pub const fn is_valid(&self) -> bool {
        self.v() != 0
    }

    /// The CD table address (`S1ContextPtr`).
    pub const fn cd_table(&self) -> u64 {
        self.s1ctxptr() << S1CTXPTR_SHIFT
    }

    /// The stage 2 table address (`S2TTB`).
    pub const fn s2_ttb(&self) -> u64 {
        self.s2ttb() << S2TTB_SHIFT
    }

    /// A copy with `S1ContextPtr` set to the 64-byte aligned `addr`.
    pub const fn with_cd_table(self, addr: u64) -> Option<Ste> {
        if addr & ((1 << S1CTXPTR_SHIFT) - 1) != 0 {
            return None;
        }
        self.with_s1ctxptr(addr >> S1CTXPTR_SHIFT)
    }

    /// A copy with `S2TTB` set to the 16-byte aligned `addr`.
    pub const fn with_s2_ttb(self, addr: u64) -> Option<Ste> {
        if addr & ((1 << S2TTB_SHIFT) - 1) != 0 {
            return None;
        }
        self.with_s2ttb(addr >> S2TTB_SHIFT)
    }

    /// A valid entry of configuration `config`, all else zero.
    fn header(config: u64) -> Option<Ste> {
        Ste::ZERO.with_v(1)?.with_config(config)
    }

    /// Sets the stage 1 fields.
    fn put_s1(self, s1: &S1Cfg) -> Option<Ste> {
        if s1.cdmax > MAX_S1CDMAX {
            return None;
        }
        self.with_s1fmt(s1.fmt.bits())?
            .with_cd_table(s1.cd_table)?
            .with_s1cdmax(u64::from(s1.cdmax))?
            .with_s1dss(s1.dss.bits())?
            .with_s1cir(s1.cir)?
            .with_s1cor(s1.cor)?
            .with_s1csh(s1.csh)?
            .with_s1stalld(u64::from(s1.stalld))?
            .with_strw(s1.strw.bits())
    }

    /// Sets the stage 2 fields (AArch64, little endian tables).
    fn put_s2(self, s2: &S2Cfg) -> Option<Ste> {
        self.with_s2vmid(u64::from(s2.vmid))?
            .with_s2t0sz(s2.vtcr.t0sz)?
            .with_s2sl0(s2.vtcr.sl0)?
            .with_s2ir0(s2.vtcr.ir0)?
            .with_s2or0(s2.vtcr.or0)?
            .with_s2sh0(s2.vtcr.sh0)?
            .with_s2tg(s2.vtcr.tg)?
            .with_s2ps(s2.vtcr.ps)?
            .with_s2aa64(1)?
            .with_s2affd(u64::from(s2.affd))?
            .with_s2ptw(u64::from(s2.ptw))?
            .with_s2hd(u64::from(s2.hd))?
            .with_s2ha(u64::from(s2.ha))?
            .with_s2s(u64::from(s2.stall))?
            .with_s2r(u64::from(s2.record))?
            .with_s2fwb(u64::from(s2.fwb))?
            .with_s2_ttb(s2.ttb)
    }

    /// Sets EATS, MEV and, if the configuration uses it, SHCFG.
    fn put_opts(self, opts: &StreamOpts, shcfg_used: bool) -> Option<Ste> {
        let ste = self
            .with_eats(opts.eats.bits())?
            .with_mev(u64::from(opts.mev))?;
        if shcfg_used {
            ste.with_shcfg(opts.shcfg.bits())
        } else {
            Some(ste)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation_controls() {
        // QEMU: OAS 44, so a 44-bit IPA space, walk from level 0.
        let vtcr = S2Vtcr::for_lpae(44, 44).unwrap();
        assert_eq!(
            vtcr,
            S2Vtcr {
                t0sz: 20,
                sl0: 2,
                ir0: 1,
                or0: 1,
                sh0: 3,
                tg: 0,
                ps: 4
            }
        );
        assert_eq!(S2Vtcr::for_lpae(48, 44), Err(Errno::EINVAL));
        assert_eq!(S2Vtcr::for_lpae(48, 48).unwrap().t0sz, 16);
        assert_eq!(S2Vtcr::for_lpae(36, 44), Err(Errno::EINVAL));
    }

    /// The stage 2 part Linux's KUnit test uses (arm-smmu-v3-test.c) with
    /// plausible translation controls.
    fn s2cfg(vmid: u16, ttb: u64) -> S2Cfg {
        S2Cfg {
            vmid,
            vtcr: S2Vtcr {
                t0sz: 20,
                sl0: S2SL0_LEVEL0_4K,
                ir0: CACHE_WBRA,
                or0: CACHE_WBRA,
                sh0: SH_ISH,
                tg: S2TG_4K,
                ps: 4,
            },
            ttb,
            affd: false,
            ptw: true,
            stall: false,
            record: true,
            fwb: false,
            ha: false,
            hd: false,
        }
    }

    #[test]
    fn abort_and_bypass_match_linux() {
        assert_eq!(Ste::abort().0, [1, 0, 0, 0, 0, 0, 0, 0]);
        // V | CFG_BYPASS << 1, SHCFG_INCOMING << 44.
        assert_eq!(Ste::bypass(Shcfg::Incoming).0[..2], [0x9, 1 << 44]);
        assert_eq!(
            Ste::bypass(Shcfg::NonShareable).0,
            [0x9, 0, 0, 0, 0, 0, 0, 0]
        );
        assert!(!Ste::INVALID.is_valid());
    }

    #[test]
    fn s1_matches_linux_cdtable_ste() {
        // arm_smmu_make_cdtable_ste() with S1DSS_SSID0, ATS, 64K L2 format,
        // s1cdmax 8, S1STALLD (stall capable SMMU, master not stalling).
        let s1 = S1Cfg {
            cd_table: 0xf0f0_f0f0_f0c0,
            fmt: S1Fmt::TwoLevel64K,
            cdmax: 8,
            stalld: true,
            ..S1Cfg::single(0)
        };
        let opts = StreamOpts {
            eats: Eats::Trans,
            shcfg: Shcfg::Incoming,
            mev: false,
        };
        let ste = Ste::s1(&s1, &opts).unwrap();
        let q0 = 1 | 5 << 1 | 2 << 4 | 0xf0f0_f0f0_f0c0 | 8 << 59;
        let q1 = 2 | 1 << 2 | 1 << 4 | 3 << 6 | 1 << 27 | 1 << 28;
        assert_eq!(ste.0, [q0, q1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(ste.cd_table(), 0xf0f0_f0f0_f0c0);
        // SHCFG is written only when S1DSS bypasses stage 1.
        let bypass = Ste::s1(
            &S1Cfg {
                dss: S1Dss::Bypass,
                ..s1
            },
            &opts,
        )
        .unwrap();
        assert_eq!(bypass.0[1], (q1 & !3) | 1 | 1 << 44);
        assert_eq!(
            Ste::s1(&S1Cfg::single(0x40), &StreamOpts::DEFAULT)
                .unwrap()
                .0[..2],
            [0xb | 0x40, 2 | 1 << 2 | 1 << 4 | 3 << 6]
        );
    }

    #[test]
    fn s2_and_nested_layout() {
        let s2 = s2cfg(0x1234, 0x8000_1000);
        let opts = StreamOpts {
            eats: Eats::Abort,
            shcfg: Shcfg::Incoming,
            mev: true,
        };
        let ste = Ste::s2(&s2, &opts).unwrap();
        let vtcr: u64 = 20 | 2 << 6 | 1 << 8 | 1 << 10 | 3 << 12 | 4 << 16;
        assert_eq!(ste.0[0], 0xd);
        assert_eq!(ste.0[1], 1 << 19 | 1 << 44);
        assert_eq!(ste.0[2], 0x1234 | vtcr << 32 | 1 << 51 | 1 << 54 | 1 << 58);
        assert_eq!(ste.0[3], 0x8000_1000);
        assert_eq!(ste.s2_ttb(), 0x8000_1000);
        assert_eq!(ste.s2t0sz(), 20);
        assert_eq!(ste.s2ps(), 4);

        let nested = Ste::nested(&S1Cfg::single(0x4000_0000), &s2, &opts).unwrap();
        assert_eq!(nested.config(), CONFIG_NESTED);
        assert_eq!(nested.cd_table(), 0x4000_0000);
        assert_eq!(nested.0[2..4], ste.0[2..4]);
        assert_eq!(nested.s1dss(), S1Dss::Ssid0.bits());
        assert_eq!(nested.shcfg(), Shcfg::Incoming.bits());
    }

    #[test]
    fn stage2_4k_defaults() {
        assert_eq!(
            S2Cfg::stage2_4k(0x1234, 0x8000_1000, 44, 44),
            Ok(s2cfg(0x1234, 0x8000_1000))
        );
        assert_eq!(S2Cfg::stage2_4k(1, 0, 48, 44), Err(Errno::EINVAL));
    }

    #[test]
    fn bad_values_are_refused() {
        let opts = StreamOpts::DEFAULT;
        assert_eq!(Ste::s1(&S1Cfg::single(0x20), &opts), Err(Errno::EINVAL));
        assert_eq!(Ste::s1(&S1Cfg::single(1 << 52), &opts), Err(Errno::EINVAL));
        let mut s1 = S1Cfg::single(0);
        s1.cdmax = MAX_S1CDMAX + 1;
        assert_eq!(Ste::s1(&s1, &opts), Err(Errno::EINVAL));
        s1.cdmax = MAX_S1CDMAX;
        assert!(Ste::s1(&s1, &opts).is_ok());
        s1.cir = 4;
        assert_eq!(Ste::s1(&s1, &opts), Err(Errno::EINVAL));
        assert_eq!(Ste::s2(&s2cfg(1, 0x8), &opts), Err(Errno::EINVAL));
        let mut s2 = s2cfg(1, 0x1000);
        s2.vtcr.t0sz = 64;
        assert_eq!(Ste::s2(&s2, &opts), Err(Errno::EINVAL));
        assert!(Ste::ZERO.with_cd_table(0x41).is_none());
        assert!(Ste::ZERO.with_s2_ttb(0x18).is_none());
    }
}
