// SPDX-License-Identifier: GPL-2.0

//! The context descriptor (SMMUv3 §5.4 "Context Descriptor") and CD tables
//! (§5.3 "Level 1 Context Descriptor").
//!
//! A CD is 64 bytes, eight 64-bit little-endian words, holding the stage 1
//! translation controls of one substream: its `TCR`-like fields, ASID, table
//! base and `MAIR`. [`Cd::stage1`] sets only the fields the SMMU uses in the
//! entry it builds (see [`super::hitless::cd_used_bits`]).

use super::super::bitfield::bitfield;
use super::super::errno::Errno;
use super::lpae::{size_fields, MAIR};
use super::ste::{CACHE_WBRA, SH_ISH};

/// Number of 64-bit words in a CD.
pub const CD_QWORDS: usize = 8;
/// Size of a CD in bytes.
pub const CD_SIZE: u64 = 64;

bitfield! {
    /// A context descriptor (§5.4).
    pub struct Cd([u64; 8]) {
        /// T0SZ: the `TTB0` region is `64 - T0SZ` bits.
        t0sz, with_t0sz: 5, 0;
        /// TG0: `TTB0` granule ([`TG0_4K`], ...).
        tg0, with_tg0: 7, 6;
        /// IR0: `TTB0` walk inner cacheability.
        ir0, with_ir0: 9, 8;
        /// OR0: `TTB0` walk outer cacheability.
        or0, with_or0: 11, 10;
        /// SH0: `TTB0` walk shareability.
        sh0, with_sh0: 13, 12;
        /// EPD0: `TTB0` walks disabled (T0SZ..SH0 and TTB0 are ignored).
        epd0, with_epd0: 14, 14;
        /// ENDI: big endian tables.
        endi, with_endi: 15, 15;
        /// T1SZ: the `TTB1` region size.
        t1sz, with_t1sz: 21, 16;
        /// TG1: `TTB1` granule (different encoding from TG0).
        tg1, with_tg1: 23, 22;
        /// IR1: `TTB1` walk inner cacheability.
        ir1, with_ir1: 25, 24;
        /// OR1: `TTB1` walk outer cacheability.
        or1, with_or1: 27, 26;
        /// SH1: `TTB1` walk shareability.
        sh1, with_sh1: 29, 28;
        /// EPD1: `TTB1` walks disabled (T1SZ..SH1 and TTB1 are ignored).
        epd1, with_epd1: 30, 30;
        /// V: the CD is valid (else C_BAD_CD for its traffic).
        v, with_v: 31, 31;
        /// IPS: intermediate (output) address size (`IDR5.OAS` encoding).
        ips, with_ips: 34, 32;
        /// AFFD: access flag fault disable.
        affd, with_affd: 35, 35;
        /// WXN: writable implies execute-never.
        wxn, with_wxn: 36, 36;
        /// UWXN: unprivileged writable implies privileged execute-never.
        uwxn, with_uwxn: 37, 37;
        /// TBI0: top byte ignore for `TTB0` addresses.
        tbi0, with_tbi0: 38, 38;
        /// TBI1: top byte ignore for `TTB1` addresses.
        tbi1, with_tbi1: 39, 39;
        /// PAN: privileged access never.
        pan, with_pan: 40, 40;
        /// AA64: AArch64 tables (QEMU reports C_BAD_CD without it).
        aa64, with_aa64: 41, 41;
        /// HD: hardware dirty state update (needs `IDR0.HTTU == 2`; QEMU
        /// reports C_BAD_CD).
        hd, with_hd: 42, 42;
        /// HA: hardware access flag update (needs `IDR0.HTTU != 0`; QEMU
        /// reports C_BAD_CD).
        ha, with_ha: 43, 43;
        /// S: stage 1 faults stall (QEMU has no stalls: C_BAD_CD).
        s, with_s: 44, 44;
        /// R: stage 1 faults are recorded.
        r, with_r: 45, 45;
        /// A: terminated transactions abort (else RAZ/WI; QEMU needs 1).
        a, with_a: 46, 46;
        /// ASET: the ASID is not shared with PEs (no broadcast TLBI match).
        aset, with_aset: 47, 47;
        /// ASID.
        asid, with_asid: 63, 48;
        /// NSCFG0: security of `TTB0` walks (secure only).
        nscfg0, with_nscfg0: 64, 64;
        /// HAD0: hierarchical attribute disable for `TTB0` (`IDR3.HAD`).
        had0, with_had0: 65, 65;
        /// HAFT: hardware access flag for table descriptors.
        haft, with_haft: 67, 67;
        /// TTB0: table base bits 51:4.
        ttb0, with_ttb0: 115, 68;
        /// NSCFG1: security of `TTB1` walks.
        nscfg1, with_nscfg1: 128, 128;
        /// HAD1: hierarchical attribute disable for `TTB1`.
        had1, with_had1: 129, 129;
        /// TTB1: table base bits 51:4.
        ttb1, with_ttb1: 179, 132;
        /// MAIR0 (low half) and MAIR1 (high half): the `MAIR_EL1` value.
        mair, with_mair: 255, 192;
        /// AMAIR0 and AMAIR1.
        amair, with_amair: 319, 256;
    }
}

/// `TG0`: 4 KiB granule.
pub const TG0_4K: u64 = 0;
/// `TG0`: 64 KiB granule.
pub const TG0_64K: u64 = 1;
/// `TG0`: 16 KiB granule.
pub const TG0_16K: u64 = 2;
/// Low bit of the TTB0/TTB1 fields (a 16-byte aligned address).
const TTB_SHIFT: u32 = 4;

/// The `TCR`-like `TTB0` controls of a CD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct S1Tcr {
    /// Input size is `64 - t0sz` bits.
    pub t0sz: u64,
    /// Granule ([`TG0_4K`], ...).
    pub tg0: u64,
    /// Walk inner cacheability ([`super::ste::CACHE_WBRA`], ...).
    pub ir0: u64,
    /// Walk outer cacheability.
    pub or0: u64,
    /// Walk shareability ([`super::ste::SH_ISH`], ...).
    pub sh0: u64,
    /// Output size (`IDR5.OAS` encoding).
    pub ips: u64,
}

impl S1Tcr {
    /// `TTB0` controls of a [`super::lpae::Stage1Lpae`] table for a
    /// `va_bits` input (40 to 48, the four-level walk) and an output of
    /// `oas_bits` (an `IDR5.OAS` size, e.g. 44 on QEMU).
    ///
    /// [`Errno::EINVAL`] if either size is out of range.
    pub const fn for_lpae(va_bits: u32, oas_bits: u32) -> Result<S1Tcr, Errno> {
        let Some((t0sz, ips)) = size_fields(va_bits, oas_bits) else {
            return Err(Errno::EINVAL);
        };
        Ok(S1Tcr {
            t0sz,
            tg0: TG0_4K,
            ir0: CACHE_WBRA,
            or0: CACHE_WBRA,
            sh0: SH_ISH,
            ips,
        })
    }
}

/// A stage 1 context: what [`Cd::stage1`] needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CdCfg {
    /// ASID (8 bits unless `IDR0.ASID16`).
    pub asid: u16,
    /// Stage 1 table address (16-byte aligned, below 2^52); ignored if
    /// `epd0`.
    pub ttb0: u64,
    /// `TTB0` controls; ignored if `epd0`.
    pub tcr: S1Tcr,
    /// The `MAIR` the leaves' AttrIndx select from.
    pub mair: u64,
    /// Disable `TTB0` walks: every access faults (an SVA CD whose mm is gone).
    pub epd0: bool,
    /// Record faults (`R`).
    pub record: bool,
    /// Stall faults (`S`).
    pub stall: bool,
    /// Hardware access flag update (`HA`).
    pub ha: bool,
    /// Hardware dirty state update (`HD`; Linux sets HA with it).
    pub hd: bool,
}

impl CdCfg {
    /// The context of a [`super::lpae::Stage1Lpae`] table at `ttb0`: 4 KiB
    /// granule, a `va_bits` input (40 to 48), an `oas_bits` output (an
    /// `IDR5.OAS` size: 44 on QEMU), [`super::lpae::MAIR`], faults recorded,
    /// no stall, no hardware access/dirty updates.
    ///
    /// [`Errno::EINVAL`] if a size is out of range.
    pub const fn stage1_4k(
        asid: u16,
        ttb0: u64,
        va_bits: u32,
        oas_bits: u32,
    ) -> Result<CdCfg, Errno> {
        let tcr = match S1Tcr::for_lpae(va_bits, oas_bits) {
            Ok(tcr) => tcr,
            Err(e) => return Err(e),
        };
        Ok(CdCfg {
            asid,
            ttb0,
            tcr,
            mair: MAIR,
            epd0: false,
            record: true,
            stall: false,
            ha: false,
            hd: false,
        })
    }
}

impl Cd {
    /// The all-zero, non-valid CD.
    pub const INVALID: Cd = Cd::ZERO;

    /// A valid AArch64 stage 1 CD for `cfg`: `TTB1` disabled (`EPD1`),
    /// aborting terminations (`A`), private ASID (`ASET`), little endian.
    ///
    /// [`Errno::EINVAL`] if the table address is misaligned or too wide or a
    /// value does not fit its field.
    pub fn stage1(cfg: &CdCfg) -> Result<Cd, Errno> {
        Self::build(cfg).ok_or(Errno::EINVAL)
    }

    /// Whether the CD is valid.
    pub const fn is_valid(&self) -> bool {
        self.v() != 0
    }

    /// The `TTB0` address.
    pub const fn ttb0_addr(&self) -> u64 {
        self.ttb0() << TTB_SHIFT
    }

    /// A copy with `TTB0` set to the 16-byte aligned `addr`.
    pub const fn with_ttb0_addr(self, addr: u64) -> Option<Cd> {
        if addr & ((1 << TTB_SHIFT) - 1) != 0 {
            return None;
        }
        self.with_ttb0(addr >> TTB_SHIFT)
    }

    /// [`Cd::stage1`] as an `Option`.
    fn build(cfg: &CdCfg) -> Option<Cd> {
        let cd = Cd::ZERO
            .with_v(1)?
            .with_epd1(1)?
            .with_ips(cfg.tcr.ips)?
            .with_aa64(1)?
            .with_hd(u64::from(cfg.hd))?
            .with_ha(u64::from(cfg.ha))?
            .with_s(u64::from(cfg.stall))?
            .with_r(u64::from(cfg.record))?
            .with_a(1)?
            .with_aset(1)?
            .with_asid(u64::from(cfg.asid))?
            .with_mair(cfg.mair)?;
        if cfg.epd0 {
            return cd.with_epd0(1);
        }
        cd.with_t0sz(cfg.tcr.t0sz)?
            .with_tg0(cfg.tcr.tg0)?
            .with_ir0(cfg.tcr.ir0)?
            .with_or0(cfg.tcr.or0)?
            .with_sh0(cfg.tcr.sh0)?
            .with_ttb0_addr(cfg.ttb0)
    }
}

/// CDs per level 2 table of a [`super::ste::S1Fmt::TwoLevel64K`] CD table.
pub const CD_L2_ENTRIES: u32 = 1024;
/// Size of a level 1 CD descriptor in bytes.
pub const CD_L1_DESC_SIZE: u64 = 8;
/// Linux's limit for a linear CD table: 64 KiB, so `S1CDMax <= 10`.
pub const CD_LINEAR_MAX_CDMAX: u32 = 10;
/// Low bit of the level 1 descriptor's L2Ptr (a 4 KiB aligned address).
const L1_L2PTR_SHIFT: u32 = 12;

bitfield! {
    /// A level 1 CD table descriptor (§5.3).
    pub struct CdL1Desc([u64; 1]) {
        /// V: the level 2 table is valid.
        v, with_v: 0, 0;
        /// L2Ptr: level 2 table address bits 51:12.
        l2ptr, with_l2ptr: 51, 12;
    }
}

impl CdL1Desc {
    /// A valid descriptor of the 4 KiB aligned level 2 table at `l2_addr`.
    pub const fn new(l2_addr: u64) -> Option<CdL1Desc> {
        if l2_addr & ((1 << L1_L2PTR_SHIFT) - 1) != 0 {
            return None;
        }
        match CdL1Desc::ZERO.with_v(1) {
            Some(d) => d.with_l2ptr(l2_addr >> L1_L2PTR_SHIFT),
            None => None,
        }
    }

    /// The level 2 table address.
    pub const fn l2_addr(self) -> u64 {
        self.l2ptr() << L1_L2PTR_SHIFT
    }
}

/// Byte offset of the CD of `ssid` in a linear CD table.
pub const fn cd_linear_offset(ssid: u32) -> u64 {
    ssid as u64 * CD_SIZE
}

/// Index of the level 1 descriptor of `ssid` in a 64 KiB two-level table.
pub const fn cd_l1_index(ssid: u32) -> u32 {
    ssid / CD_L2_ENTRIES
}

/// Index of the CD of `ssid` in its level 2 table.
pub const fn cd_l2_index(ssid: u32) -> u32 {
    ssid % CD_L2_ENTRIES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation_controls() {
        let tcr = S1Tcr::for_lpae(48, 44).unwrap();
        assert_eq!(
            tcr,
            S1Tcr {
                t0sz: 16,
                tg0: 0,
                ir0: 1,
                or0: 1,
                sh0: 3,
                ips: 4
            }
        );
        assert_eq!(S1Tcr::for_lpae(40, 48).unwrap().t0sz, 24);
        assert_eq!(S1Tcr::for_lpae(39, 48), Err(Errno::EINVAL));
        assert_eq!(S1Tcr::for_lpae(49, 48), Err(Errno::EINVAL));
        assert_eq!(S1Tcr::for_lpae(48, 45), Err(Errno::EINVAL));
    }

    fn cfg(asid: u16) -> CdCfg {
        // arm-smmu-v3-test.c arm_smmu_test_make_s1_cd().
        CdCfg {
            asid,
            ttb0: 0xdaed_beef_dead_beef & 0x000f_ffff_ffff_fff0,
            tcr: S1Tcr {
                t0sz: 4,
                tg0: 2,
                ir0: 2,
                or0: 1,
                sh0: 3,
                ips: 1,
            },
            mair: 0xabc_def0_1234_5678,
            epd0: false,
            record: true,
            stall: false,
            ha: false,
            hd: false,
        }
    }

    #[test]
    fn stage1_matches_linux_make_s1_cd() {
        let cd = Cd::stage1(&cfg(1997)).unwrap();
        let q0 = 4
            | 2 << 6
            | 2 << 8
            | 1 << 10
            | 3 << 12
            | 1 << 30
            | 1 << 31
            | 1 << 32
            | 1 << 41
            | 1 << 45
            | 1 << 46
            | 1 << 47
            | 1997 << 48;
        assert_eq!(
            cd.0,
            [
                q0,
                0x000d_beef_dead_bee0,
                0,
                0xabc_def0_1234_5678,
                0,
                0,
                0,
                0
            ]
        );
        assert_eq!(cd.ttb0_addr(), 0x000d_beef_dead_bee0);
        assert!(cd.is_valid() && !Cd::INVALID.is_valid());

        let hd = Cd::stage1(&CdCfg {
            ha: true,
            hd: true,
            ..cfg(1)
        })
        .unwrap();
        assert_eq!(hd.0[0] & (3 << 42), 3 << 42);
    }

    #[test]
    fn stage1_4k_48() {
        let cd = Cd::stage1(&CdCfg::stage1_4k(3, 0x8000_0000, 48, 44).unwrap()).unwrap();
        // T0SZ 16, TG0 4K, WBWA walks inner shareable, EPD1, V, IPS 44,
        // AA64, R, A, ASET, ASID 3; TTB0; MAIR.
        let q0 = 16
            | 1 << 8
            | 1 << 10
            | 3 << 12
            | 1 << 30
            | 1 << 31
            | 4 << 32
            | 1 << 41
            | 1 << 45
            | 1 << 46
            | 1 << 47
            | 3 << 48;
        assert_eq!(cd.0, [q0, 0x8000_0000, 0, 0xf404_ff44, 0, 0, 0, 0]);
        assert_eq!(CdCfg::stage1_4k(3, 0, 39, 44), Err(Errno::EINVAL));
        assert_eq!(CdCfg::stage1_4k(3, 0, 48, 50), Err(Errno::EINVAL));
    }

    #[test]
    fn epd0_leaves_ttb0_fields_clear() {
        let cd = Cd::stage1(&CdCfg {
            epd0: true,
            record: false,
            ..cfg(7)
        })
        .unwrap();
        assert_eq!(cd.epd0(), 1);
        assert_eq!(cd.0[0] & 0x3fff, 0);
        assert_eq!(cd.0[1], 0);
        assert_eq!(cd.r(), 0);
        assert_eq!(cd.asid(), 7);
    }

    #[test]
    fn bad_values_are_refused() {
        let mut c = cfg(1);
        c.ttb0 = 0x1008;
        assert_eq!(Cd::stage1(&c), Err(Errno::EINVAL));
        c.ttb0 = 1 << 52;
        assert_eq!(Cd::stage1(&c), Err(Errno::EINVAL));
        c = cfg(1);
        c.tcr.ips = 8;
        assert_eq!(Cd::stage1(&c), Err(Errno::EINVAL));
        c = cfg(1);
        c.tcr.t0sz = 64;
        assert_eq!(Cd::stage1(&c), Err(Errno::EINVAL));
    }

    #[test]
    fn cd_tables() {
        assert_eq!(cd_linear_offset(5), 320);
        assert_eq!(cd_l1_index(2049), 2);
        assert_eq!(cd_l2_index(2049), 1);
        let d = CdL1Desc::new(0x8765_4000).unwrap();
        assert_eq!(d.0, [0x8765_4001]);
        assert_eq!(d.l2_addr(), 0x8765_4000);
        assert!(CdL1Desc::new(0x8765_4800).is_none());
        assert!(CdL1Desc::new(1 << 52).is_none());
    }
}
