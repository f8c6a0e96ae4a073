// SPDX-License-Identifier: GPL-2.0

//! The iommufd vSMMU rules of Linux 7.3 (`arm-smmu-v3-iommufd.c` and
//! `include/uapi/linux/iommufd.h`), for a VMM that emulates an SMMUv3 for its
//! guest on top of a nesting parent (stage 2) domain:
//!
//! - [`NestedSte::validate`]: the `struct iommu_hwpt_arm_smmuv3` a nested
//!   domain is allocated with (`arm_smmu_validate_vste()`), and
//!   [`NestedSte::make_ste`] the physical STE it installs, merged with the
//!   parent's stage 2 (`arm_smmu_make_nested_domain_ste()`);
//! - [`validate_user_cmd`] and [`convert_user_cmd`]: the
//!   `struct iommu_viommu_arm_smmuv3_invalidate` commands the guest's command
//!   queue forwards (`arm_vsmmu_validate_user_cmd()`,
//!   `arm_vsmmu_convert_user_cmd()`);
//! - [`HwInfo`] (`struct iommu_hw_info_arm_smmuv3`) and [`vevent`]
//!   (`struct iommu_vevent_arm_smmuv3`).
//!
//! User words are little-endian in memory; the functions here take them
//! already converted to CPU order (`le64_to_cpu()`, a no-op on arm64).
//! Like Linux, every refusal of user data is [`EIO`].

use super::super::errno::Errno;
use super::cmdq::{
    RawCmd, ATC_INV_SIZE_ALL, OP_ATC_INV, OP_CFGI_CD, OP_CFGI_CD_ALL, OP_TLBI_NH_ALL,
    OP_TLBI_NH_ASID, OP_TLBI_NH_VA, OP_TLBI_NH_VAA, OP_TLBI_NSNH_ALL,
};
use super::event::RawEvent;
use super::regs::{Idr0, Idr1, Idr3, Idr5};
use super::ste::{Ste, CONFIG_ABORT, CONFIG_BYPASS, CONFIG_NESTED, CONFIG_S1_TRANS};
use super::ste::{CONFIG_S2_TRANS, EATS_TRANS};

/// `EIO`: the errno Linux 7.3 returns for every illegal user STE or
/// invalidation command ("EIO is reserved for invalid STE data").
pub const EIO: Errno = Errno::EIO;

// Copies of `include/uapi/linux/iommufd.h`, since riommu_core cannot use
// `kernel::bindings`; every module build asserts them equal to bindgen's
// (`rust/riommu/uapi_check.rs`).
/// `IOMMU_HWPT_DATA_ARM_SMMUV3`: the `data_type` of a nested HWPT.
pub const IOMMU_HWPT_DATA_ARM_SMMUV3: u32 = 2;
/// `IOMMU_VIOMMU_TYPE_ARM_SMMUV3`.
pub const IOMMU_VIOMMU_TYPE_ARM_SMMUV3: u32 = 1;
/// `IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3`: the invalidation `data_type`.
pub const IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3: u32 = 1;
/// `IOMMU_HW_INFO_TYPE_ARM_SMMUV3`.
pub const IOMMU_HW_INFO_TYPE_ARM_SMMUV3: u32 = 2;
/// `IOMMU_VEVENTQ_TYPE_ARM_SMMUV3`.
pub const IOMMU_VEVENTQ_TYPE_ARM_SMMUV3: u32 = 1;
/// `IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI`.
pub const IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI: u32 = 1 << 0;
/// `sizeof(struct iommu_hwpt_arm_smmuv3)`.
pub const HWPT_ARM_SMMUV3_SIZE: usize = 16;
/// `sizeof(struct iommu_viommu_arm_smmuv3_invalidate)`.
pub const VIOMMU_INVALIDATE_ARM_SMMUV3_SIZE: usize = 16;
/// `sizeof(struct iommu_hw_info_arm_smmuv3)`.
pub const HW_INFO_ARM_SMMUV3_SIZE: usize = 40;
/// `sizeof(struct iommu_vevent_arm_smmuv3)`.
pub const VEVENT_ARM_SMMUV3_SIZE: usize = 32;

/// Bytes of a little-endian 64-bit word.
const WORD_BYTES: usize = 8;

/// Reads `N` little-endian 64-bit words.
fn le_words<const N: usize>(bytes: &[u8]) -> [u64; N] {
    let mut words = [0; N];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(WORD_BYTES)) {
        let mut b = [0; WORD_BYTES];
        b.copy_from_slice(chunk);
        *word = u64::from_le_bytes(b);
    }
    words
}

/// The two words of a `struct iommu_hwpt_arm_smmuv3` or
/// `struct iommu_viommu_arm_smmuv3_invalidate` in user memory (16 bytes).
pub fn user_words(bytes: &[u8; HWPT_ARM_SMMUV3_SIZE]) -> [u64; 2] {
    le_words(bytes)
}

/// Field masks of the user STE (words 0 and 1) and the commands.
mod masks {
    use super::super::cmdq::RawCmd;
    use super::super::ste::Ste;

    /// STE word 0 fields a user may set (`STRTAB_STE_0_NESTING_ALLOWED`):
    /// V, Config, S1Fmt, S1ContextPtr, S1CDMax.
    pub(super) const STE0_ALLOWED: u64 =
        field_mask!(Ste: with_v, with_config, with_s1fmt, with_s1ctxptr, with_s1cdmax)[0];
    /// STE word 1 fields a user may set (`STRTAB_STE_1_NESTING_ALLOWED`):
    /// S1DSS, S1CIR, S1COR, S1CSH, S1STALLD, EATS.
    pub(super) const STE1_ALLOWED: u64 = field_mask!(Ste:
        with_s1dss, with_s1cir, with_s1cor, with_s1csh, with_s1stalld, with_eats)[1];
    /// STE word 0 Config.
    pub(super) const STE0_CONFIG: u64 = field_mask!(Ste: with_config)[0];
    /// STE word 1 EATS.
    pub(super) const STE1_EATS: u64 = field_mask!(Ste: with_eats)[1];
    /// STE word 1 MEV.
    pub(super) const STE1_MEV: u64 = field_mask!(Ste: with_mev)[1];

    /// Command opcode.
    pub(super) const OP: u64 = field_mask!(RawCmd: with_op)[0];
    /// TLBI VMID.
    pub(super) const VMID: u64 = field_mask!(RawCmd: with_vmid)[0];
    /// TLBI NUM and SCALE.
    pub(super) const NUM_SCALE: u64 = field_mask!(RawCmd: with_num, with_scale)[0];
    /// SCALE bit 5 (values above 31), RES0 without `IDR5.DS`.
    pub(super) const SCALE_BIT5: u64 = {
        let mut m = 0;
        if let Some(c) = RawCmd::ZERO.with_scale(1 << 5) {
            m = c.0[0];
        }
        m
    };
    /// TLBI TG and TTL.
    pub(super) const TG_TTL: u64 = field_mask!(RawCmd: with_tg, with_ttl)[1];
    /// TLBI Leaf and address.
    pub(super) const LEAF_ADDR: u64 = field_mask!(RawCmd: with_leaf, with_addr)[1];
    /// ATC_INV SSV, SSID and Global.
    pub(super) const ATC_SUBSTREAM: u64 = field_mask!(RawCmd: with_ssv, with_ssid, with_global)[0];
    /// StreamID.
    pub(super) const SID: u64 = field_mask!(RawCmd: with_sid)[0];
    /// ATC_INV Size and address.
    pub(super) const ATC_SIZE_ADDR: u64 = field_mask!(RawCmd: with_atc_size, with_addr)[1];
    /// CFGI_CD SSID.
    pub(super) const SSID: u64 = field_mask!(RawCmd: with_ssid)[0];
    /// CFGI Leaf.
    pub(super) const LEAF: u64 = field_mask!(RawCmd: with_leaf)[1];
}

/// What a nested domain's user STE asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NestedConfig {
    /// Abort all traffic (also a non-valid user STE, so that the guest's
    /// C_BAD_STE can be reported).
    Abort,
    /// Translate with the parent's stage 2 only.
    Bypass,
    /// Translate with the guest's CD table (stage 1) nested in stage 2.
    S1Translate,
}

/// A validated `struct iommu_hwpt_arm_smmuv3` (words 0 and 1 of the guest's
/// STE), as Linux 7.3 keeps it in `struct arm_smmu_nested_domain`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NestedSte {
    /// The user words, EATS cleared (all zero for a non-valid STE).
    ste: [u64; 2],
    /// The guest enabled ATS (`EATS == TRANS` in an S1 translate STE).
    enable_ats: bool,
}

impl NestedSte {
    /// `arm_smmu_validate_vste()`: a non-valid user STE (V clear) is
    /// accepted as all-zero, whatever else it holds; a valid one may only
    /// set V, Config, S1Fmt, S1ContextPtr, S1CDMax (word 0) and S1DSS,
    /// S1CIR, S1COR, S1CSH, S1STALLD, EATS (word 1); its Config must be abort,
    /// bypass or stage 1 translate and its EATS abort or full ATS.
    /// Anything else is [`EIO`].
    pub fn validate(user: [u64; 2]) -> Result<NestedSte, Errno> {
        let ste = Ste([user[0], user[1], 0, 0, 0, 0, 0, 0]);
        if !ste.is_valid() {
            return Ok(NestedSte {
                ste: [0; 2],
                enable_ats: false,
            });
        }
        if user[0] & !masks::STE0_ALLOWED != 0 || user[1] & !masks::STE1_ALLOWED != 0 {
            return Err(EIO);
        }
        let config = ste.config();
        if !matches!(config, CONFIG_ABORT | CONFIG_BYPASS | CONFIG_S1_TRANS) {
            return Err(EIO);
        }
        let eats = ste.eats();
        if eats != 0 && eats != EATS_TRANS {
            return Err(EIO);
        }
        Ok(NestedSte {
            ste: [user[0], user[1] & !masks::STE1_EATS],
            enable_ats: config == CONFIG_S1_TRANS && eats == EATS_TRANS,
        })
    }

    /// The stored words (EATS cleared).
    pub fn words(&self) -> [u64; 2] {
        self.ste
    }

    /// Whether the guest enabled ATS in a stage 1 translate STE.
    pub fn enable_ats(&self) -> bool {
        self.enable_ats
    }

    /// The configuration asked for.
    pub fn config(&self) -> NestedConfig {
        let ste = Ste([self.ste[0], self.ste[1], 0, 0, 0, 0, 0, 0]);
        if !ste.is_valid() {
            return NestedConfig::Abort;
        }
        match ste.config() {
            CONFIG_S1_TRANS => NestedConfig::S1Translate,
            CONFIG_BYPASS => NestedConfig::Bypass,
            _ => NestedConfig::Abort,
        }
    }

    /// Whether attaching needs the device's vDEVICE (vSID) first: a stage 1
    /// translate STE does (CD/ATC invalidations and events need the vSID);
    /// abort and bypass may attach without one (the guest's GBPA).
    pub fn needs_vdevice(&self) -> bool {
        Ste([self.ste[0], 0, 0, 0, 0, 0, 0, 0]).config() == CONFIG_S1_TRANS
    }

    /// Whether the attach must keep ATS disabled at the device: for a stage
    /// 1 translate STE, exactly when the guest did not enable it (Linux's
    /// `state.disable_ats`). For the others the attach decides as for any
    /// domain.
    pub fn disable_ats(&self) -> bool {
        self.needs_vdevice() && !self.enable_ats
    }

    /// `arm_smmu_make_nested_domain_ste()`: the physical STE of a device
    /// attached to this nested domain, from `s2`, the STE that attaching the
    /// nesting parent would install (built with the `EATS` the attach chose).
    ///
    /// Stage 1 translate: `s2` with `Config = nested`, the user's word 0
    /// fields, the user's word 1 fields added and `MEV` set (merged events
    /// against event queue floods). Bypass: `s2` itself. Abort or non-valid:
    /// [`Ste::abort`].
    ///
    /// [`Errno::EINVAL`] if `s2` is not a valid stage 2 STE.
    pub fn make_ste(&self, s2: &Ste) -> Result<Ste, Errno> {
        if !s2.is_valid() || s2.config() != CONFIG_S2_TRANS {
            return Err(Errno::EINVAL);
        }
        match self.config() {
            NestedConfig::Abort => Ok(Ste::abort()),
            NestedConfig::Bypass => Ok(*s2),
            NestedConfig::S1Translate => {
                let mut ste = *s2;
                ste = ste.with_config(CONFIG_NESTED).ok_or(Errno::EINVAL)?;
                ste.0[0] |= self.ste[0] & !masks::STE0_CONFIG;
                ste.0[1] |= self.ste[1] | masks::STE1_MEV;
                Ok(ste)
            }
        }
    }
}

/// The SMMU features the command checks depend on (Linux's
/// `smmu->asid_bits`, `ssid_bits` and `ARM_SMMU_FEAT_RANGE_INV`, `_DS`,
/// `_ATS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VsmmuCaps {
    /// ASID bits: 8 or 16.
    pub asid_bits: u32,
    /// SubstreamID bits (0: no substreams).
    pub ssid_bits: u32,
    /// Range invalidation (`IDR3.RIL`).
    pub range_inv: bool,
    /// 52-bit addresses with small granules (`IDR5.DS`).
    pub ds: bool,
    /// ATS (`IDR0.ATS`, and the kernel has `CONFIG_PCI_ATS`).
    pub ats: bool,
}

impl VsmmuCaps {
    /// The capabilities of the ID registers (`pci_ats`: whether the kernel
    /// supports PCI ATS at all).
    pub const fn from_idr(idr0: Idr0, idr1: Idr1, idr3: Idr3, idr5: Idr5, pci_ats: bool) -> Self {
        VsmmuCaps {
            asid_bits: idr0.asid_bits(),
            ssid_bits: idr1.ssidsize() as u32,
            range_inv: idr3.ril() != 0,
            ds: idr5.ds() != 0,
            ats: pci_ats && idr0.ats() != 0,
        }
    }

    /// The ASID bits a command may set.
    fn asid_mask(&self) -> u64 {
        let ones = if self.asid_bits >= u16::BITS {
            u64::from(u16::MAX)
        } else {
            (1 << self.asid_bits) - 1
        };
        RawCmd::ZERO.with_asid(ones).map_or(0, |c| c.0[0])
    }
}

/// TG of a 16 KiB range granule.
const TG_16K: u64 = 2;
/// TTL hint of level 1, which needs `IDR5.DS` with a 16 KiB granule.
const TTL_LEVEL1: u64 = 1;

/// `arm_vsmmu_validate_range()`: the range fields of a TLBI by address,
/// refusing the values the specification reserves.
fn validate_range(caps: &VsmmuCaps, c: &RawCmd) -> Result<(), Errno> {
    let range = c.0[0] & masks::NUM_SCALE != 0;
    let (ttl, tg) = (c.ttl(), c.tg());
    // NUM, SCALE and TTL are RES0 when TG is 0.
    if tg == 0 {
        return if range || ttl != 0 { Err(EIO) } else { Ok(()) };
    }
    if tg == TG_16K && ttl == TTL_LEVEL1 && !caps.ds {
        return Err(EIO);
    }
    // NUM == SCALE == TTL == 0 with a TG is reserved.
    if !range && ttl == 0 {
        return Err(EIO);
    }
    Ok(())
}

/// `arm_vsmmu_validate_user_cmd()`: whether `cmd` is a command a guest may
/// have the host issue, with only the fields its opcode allows on this SMMU:
///
/// - `TLBI_NSNH_ALL`: nothing else;
/// - `TLBI_NH_VA`: ASID (`asid_bits`), and as `TLBI_NH_VAA`;
/// - `TLBI_NH_VAA`: VMID, Leaf, address; with range invalidation also NUM,
///   SCALE (bit 5 only with DS), TG, TTL, whose values are checked;
/// - `TLBI_NH_ASID`: ASID, and as `TLBI_NH_ALL`; `TLBI_NH_ALL`: VMID;
/// - `ATC_INV` (only with ATS, Size at most 52): SID, Size, address, and
///   with substreams SSV, SSID, Global;
/// - `CFGI_CD`: SID, Leaf, and with substreams SSID; `CFGI_CD_ALL`: SID.
///
/// Every other opcode (`CFGI_STE` included) and every other bit is [`EIO`].
pub fn validate_user_cmd(caps: &VsmmuCaps, cmd: &[u64; 2]) -> Result<(), Errno> {
    let c = RawCmd(*cmd);
    let mut allowed = [masks::OP, 0];
    match c.op() as u8 {
        OP_TLBI_NSNH_ALL => {}
        op @ (OP_TLBI_NH_VA | OP_TLBI_NH_VAA) => {
            if op == OP_TLBI_NH_VA {
                allowed[0] |= caps.asid_mask();
            }
            if caps.range_inv {
                validate_range(caps, &c)?;
                allowed[0] |= masks::NUM_SCALE;
                allowed[1] |= masks::TG_TTL;
                if !caps.ds {
                    allowed[0] &= !masks::SCALE_BIT5;
                }
            }
            allowed[0] |= masks::VMID;
            allowed[1] |= masks::LEAF_ADDR;
        }
        op @ (OP_TLBI_NH_ASID | OP_TLBI_NH_ALL) => {
            if op == OP_TLBI_NH_ASID {
                allowed[0] |= caps.asid_mask();
            }
            allowed[0] |= masks::VMID;
        }
        OP_ATC_INV => {
            if !caps.ats || c.atc_size() > u64::from(ATC_INV_SIZE_ALL) {
                return Err(EIO);
            }
            if caps.ssid_bits != 0 {
                allowed[0] |= masks::ATC_SUBSTREAM;
            }
            allowed[0] |= masks::SID;
            allowed[1] |= masks::ATC_SIZE_ADDR;
        }
        op @ (OP_CFGI_CD | OP_CFGI_CD_ALL) => {
            if op == OP_CFGI_CD {
                if caps.ssid_bits != 0 {
                    allowed[0] |= masks::SSID;
                }
                allowed[1] |= masks::LEAF;
            }
            allowed[0] |= masks::SID;
        }
        _ => return Err(EIO),
    }
    if cmd[0] & !allowed[0] != 0 || cmd[1] & !allowed[1] != 0 {
        return Err(EIO);
    }
    Ok(())
}

/// `arm_vsmmu_convert_user_cmd()`: validates `cmd` ([`validate_user_cmd`])
/// and rewrites it for the host's queue: the TLBIs get the vSMMU's `vmid`
/// (`TLBI_NSNH_ALL` becomes `TLBI_NH_ALL` of that VMID); `ATC_INV`,
/// `CFGI_CD` and `CFGI_CD_ALL` get the physical StreamID that
/// `vsid_to_sid` maps the guest's (virtual) StreamID to, [`EIO`] if it maps
/// it to none.
///
/// Linux 7.3 converts an array of commands and issues them in batches of
/// `CMDQ_BATCH_ENTRIES - 1`; on a refused command it stops and reports the
/// index of that command as the number handled (`entry_num`), although the
/// converted commands of the unfinished batch before it were not issued.
pub fn convert_user_cmd<F: FnMut(u32) -> Option<u32>>(
    caps: &VsmmuCaps,
    vmid: u16,
    cmd: &[u64; 2],
    mut vsid_to_sid: F,
) -> Result<[u64; 2], Errno> {
    validate_user_cmd(caps, cmd)?;
    let c = RawCmd(*cmd);
    let vmid = u64::from(vmid);
    let out = match c.op() as u8 {
        OP_TLBI_NSNH_ALL => RawCmd::ZERO
            .with_op(u64::from(OP_TLBI_NH_ALL))
            .and_then(|c| c.with_vmid(vmid)),
        OP_TLBI_NH_VA | OP_TLBI_NH_VAA | OP_TLBI_NH_ALL | OP_TLBI_NH_ASID => c.with_vmid(vmid),
        _ => {
            let sid = vsid_to_sid(c.sid() as u32).ok_or(EIO)?;
            c.with_sid(u64::from(sid))
        }
    };
    // The fields are from the command itself and fit.
    out.map(|c| c.0).ok_or(EIO)
}

/// `struct iommu_hw_info_arm_smmuv3`: the SMMU's ID registers for the VMM
/// (it should only read the fields the uapi header lists).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HwInfo {
    /// `IOMMU_HW_INFO_ARM_SMMUV3_*` flags.
    pub flags: u32,
    /// `SMMU_IDR0` to `SMMU_IDR5`.
    pub idr: [u32; HW_INFO_IDRS],
    /// `SMMU_IIDR`.
    pub iidr: u32,
    /// `SMMU_AIDR`.
    pub aidr: u32,
}

/// Bytes of a `__u32`.
const U32_BYTES: usize = 4;
/// `__u32` index of `flags` in `struct iommu_hw_info_arm_smmuv3`.
pub const HW_INFO_FLAGS: usize = 0;
/// `__u32` index of `idr[0]` (after `flags` and `__reserved`).
pub const HW_INFO_IDR: usize = 2;
/// Number of ID registers in the struct (`IDR0` to `IDR5`).
pub const HW_INFO_IDRS: usize = 6;
/// `__u32` index of `iidr`.
pub const HW_INFO_IIDR: usize = HW_INFO_IDR + HW_INFO_IDRS;
/// `__u32` index of `aidr`.
pub const HW_INFO_AIDR: usize = HW_INFO_IIDR + 1;

impl HwInfo {
    /// The struct as the user reads it (`__reserved` zero).
    pub fn to_bytes(&self) -> [u8; HW_INFO_ARM_SMMUV3_SIZE] {
        let mut words = [0u32; HW_INFO_ARM_SMMUV3_SIZE / U32_BYTES];
        words[HW_INFO_FLAGS] = self.flags;
        words[HW_INFO_IDR..HW_INFO_IIDR].copy_from_slice(&self.idr);
        words[HW_INFO_IIDR] = self.iidr;
        words[HW_INFO_AIDR] = self.aidr;
        let mut out = [0; HW_INFO_ARM_SMMUV3_SIZE];
        for (chunk, w) in out.chunks_exact_mut(U32_BYTES).zip(words.iter()) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        out
    }
}

/// `arm_vmaster_report_event()`: the `struct iommu_vevent_arm_smmuv3` of the
/// event record `evt` of a device whose virtual StreamID is `vsid`: the
/// record with its StreamID replaced, as little-endian bytes.
pub fn vevent(evt: &[u64; 4], vsid: u32) -> [u8; VEVENT_ARM_SMMUV3_SIZE] {
    let mut words = RawEvent(*evt);
    if let Some(w) = words.with_sid(u64::from(vsid)) {
        words = w;
    }
    let mut out = [0; VEVENT_ARM_SMMUV3_SIZE];
    for (chunk, w) in out.chunks_exact_mut(WORD_BYTES).zip(words.0.iter()) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::cmdq::{Command, TlbiRange};
    use super::super::hitless::{plan_ste, PlanKind};
    use super::super::ste::{
        Eats, S1Cfg, S1Dss, S2Cfg, S2Vtcr, Shcfg, StreamOpts, S2SL0_LEVEL0_4K, S2TG_4K,
    };
    use super::*;

    /// V and Config of a user STE word 0.
    fn word0(config: u64) -> u64 {
        Ste::ZERO
            .with_v(1)
            .and_then(|s| s.with_config(config))
            .unwrap()
            .0[0]
    }

    #[test]
    fn user_ste_fields() {
        // Every single bit of words 0 and 1 on top of a valid S1 STE.
        let base = [word0(CONFIG_S1_TRANS), 0];
        for word in 0..2 {
            for bit in 0..64 {
                let mut user = base;
                user[word] |= 1 << bit;
                let allowed = if word == 0 {
                    masks::STE0_ALLOWED
                } else {
                    masks::STE1_ALLOWED
                };
                let r = NestedSte::validate(user);
                if allowed & (1 << bit) == 0 {
                    assert_eq!(r, Err(EIO), "word {word} bit {bit}");
                } else if word == 0 && (1..=3).contains(&bit) {
                    // Config bits: 0b101 | bit.
                    let config = CONFIG_S1_TRANS | 1 << (bit - 1);
                    assert_eq!(r.is_ok(), config == CONFIG_S1_TRANS, "bit {bit}");
                } else if word == 1 && bit == 29 {
                    // EATS = 0b10 (split-stage) is refused.
                    assert_eq!(r, Err(EIO));
                } else {
                    let v = r.unwrap();
                    assert_eq!(v.words(), [user[0], user[1] & !(1 << 28)], "bit {bit}");
                    assert_eq!(v.enable_ats(), word == 1 && bit == 28);
                }
            }
        }
        // The allowed fields, by name.
        assert_eq!(masks::STE0_ALLOWED, 0xf80f_ffff_ffff_ffff);
        assert_eq!(masks::STE1_ALLOWED, 0x3800_00ff);
    }

    #[test]
    fn user_ste_configs_and_eats() {
        for config in 0..8 {
            let r = NestedSte::validate([word0(config), 0]);
            let ok = matches!(config, CONFIG_ABORT | CONFIG_BYPASS | CONFIG_S1_TRANS);
            assert_eq!(r.is_ok(), ok, "config {config}");
        }
        for eats in 0..4u64 {
            for config in [CONFIG_ABORT, CONFIG_BYPASS, CONFIG_S1_TRANS] {
                let r = NestedSte::validate([word0(config), eats << 28]);
                if eats > 1 {
                    assert_eq!(r, Err(EIO));
                } else {
                    let v = r.unwrap();
                    assert_eq!(v.enable_ats(), eats == 1 && config == CONFIG_S1_TRANS);
                    assert_eq!(v.words()[1], 0);
                    assert_eq!(v.disable_ats(), config == CONFIG_S1_TRANS && eats == 0);
                }
            }
        }
        // A non-valid STE is accepted whatever it holds, as all zero.
        let v = NestedSte::validate([!1, u64::MAX]).unwrap();
        assert_eq!(v.words(), [0, 0]);
        assert_eq!(v.config(), NestedConfig::Abort);
        assert!(!v.needs_vdevice() && !v.enable_ats());
        assert_eq!(
            NestedSte::validate([word0(CONFIG_BYPASS), 0])
                .unwrap()
                .config(),
            NestedConfig::Bypass
        );
        assert!(NestedSte::validate([word0(CONFIG_S1_TRANS), 0])
            .unwrap()
            .needs_vdevice());
    }

    fn parent_s2(eats: Eats) -> Ste {
        let s2 = S2Cfg {
            vmid: 9,
            vtcr: S2Vtcr {
                t0sz: 20,
                sl0: S2SL0_LEVEL0_4K,
                ir0: 1,
                or0: 1,
                sh0: 3,
                tg: S2TG_4K,
                ps: 4,
            },
            ttb: 0x8000_0000,
            affd: false,
            ptw: true,
            stall: false,
            record: true,
            fwb: false,
            ha: false,
            hd: false,
        };
        Ste::s2(
            &s2,
            &StreamOpts {
                eats,
                shcfg: Shcfg::Incoming,
                mev: false,
            },
        )
        .unwrap()
    }

    #[test]
    fn physical_nested_ste() {
        // The guest's S1 STE as the guest driver builds it.
        let guest = Ste::s1(
            &S1Cfg {
                dss: S1Dss::Bypass,
                ..S1Cfg::single(0x4_0000_0000)
            },
            &StreamOpts {
                eats: Eats::Trans,
                ..StreamOpts::DEFAULT
            },
        )
        .unwrap();
        let v = NestedSte::validate([guest.0[0], guest.0[1]]).unwrap();
        assert!(v.enable_ats());
        let s2 = parent_s2(Eats::Trans);
        let ste = v.make_ste(&s2).unwrap();
        assert_eq!(ste.config(), CONFIG_NESTED);
        assert_eq!(ste.cd_table(), 0x4_0000_0000);
        assert_eq!(ste.s1dss(), S1Dss::Bypass.bits());
        assert_eq!(ste.eats(), EATS_TRANS);
        assert_eq!(ste.mev(), 1);
        assert_eq!(ste.shcfg(), Shcfg::Incoming.bits());
        assert_eq!(ste.0[2..], s2.0[2..]);
        // It is what Ste::nested builds.
        let same = Ste::nested(
            &S1Cfg {
                dss: S1Dss::Bypass,
                ..S1Cfg::single(0x4_0000_0000)
            },
            &S2Cfg {
                vmid: 9,
                vtcr: S2Vtcr {
                    t0sz: 20,
                    sl0: S2SL0_LEVEL0_4K,
                    ir0: 1,
                    or0: 1,
                    sh0: 3,
                    tg: S2TG_4K,
                    ps: 4,
                },
                ttb: 0x8000_0000,
                affd: false,
                ptw: true,
                stall: false,
                record: true,
                fwb: false,
                ha: false,
                hd: false,
            },
            &StreamOpts {
                eats: Eats::Trans,
                shcfg: Shcfg::Incoming,
                mev: true,
            },
        )
        .unwrap();
        assert_eq!(ste, same);

        let bypass = NestedSte::validate([word0(CONFIG_BYPASS), 0]).unwrap();
        assert_eq!(bypass.make_ste(&s2), Ok(s2));
        let abort = NestedSte::validate([word0(CONFIG_ABORT), 0]).unwrap();
        assert_eq!(abort.make_ste(&s2), Ok(Ste::abort()));
        let invalid = NestedSte::validate([0, 0]).unwrap();
        assert_eq!(invalid.make_ste(&s2), Ok(Ste::abort()));
        assert_eq!(v.make_ste(&Ste::abort()), Err(Errno::EINVAL));

        // The guest switching between them: bypass <-> S1 is hitless, as
        // is abort <-> either.
        let s2_no_ats = parent_s2(Eats::Abort);
        let bypass_ste = bypass.make_ste(&s2_no_ats).unwrap();
        for (a, b) in [(bypass_ste, ste), (ste, bypass_ste), (Ste::abort(), ste)] {
            assert!(matches!(plan_ste(&a, &b).kind(), PlanKind::Hitless { .. }));
        }
    }

    /// All features.
    const FULL: VsmmuCaps = VsmmuCaps {
        asid_bits: 16,
        ssid_bits: 20,
        range_inv: true,
        ds: true,
        ats: true,
    };

    /// QEMU's SMMUv3: 16-bit ASIDs, no substreams, RIL, no DS, no ATS.
    const QEMU: VsmmuCaps = VsmmuCaps {
        asid_bits: 16,
        ssid_bits: 0,
        range_inv: true,
        ds: false,
        ats: false,
    };

    #[test]
    fn caps_from_idr() {
        let idr0 = Idr0::from_raw(0x0d44_101b);
        let caps = VsmmuCaps::from_idr(
            idr0,
            Idr1::from_raw(19 << 21 | 19 << 16 | 16),
            Idr3::from_raw(1 << 10 | 2 << 11 | 1 << 2),
            Idr5::from_raw(0x74),
            true,
        );
        assert_eq!(caps, QEMU);
        let ats = Idr0::from_raw(0x0d44_101b | 1 << 10);
        let ssid = Idr1::from_raw(20 << 6);
        let ds = Idr5::from_raw(1 << 7);
        let caps = VsmmuCaps::from_idr(ats, ssid, Idr3::ZERO, ds, true);
        assert!(caps.ats && caps.ds && !caps.range_inv && caps.ssid_bits == 20);
        assert!(!VsmmuCaps::from_idr(ats, ssid, Idr3::ZERO, ds, false).ats);
        assert_eq!(
            VsmmuCaps::from_idr(Idr0::ZERO, ssid, Idr3::ZERO, ds, true).asid_bits,
            8
        );
    }

    /// The opcodes a guest may forward.
    const ALLOWED_OPS: [u8; 8] = [
        OP_TLBI_NSNH_ALL,
        OP_TLBI_NH_VA,
        OP_TLBI_NH_VAA,
        OP_TLBI_NH_ALL,
        OP_TLBI_NH_ASID,
        OP_ATC_INV,
        OP_CFGI_CD,
        OP_CFGI_CD_ALL,
    ];

    #[test]
    fn only_the_listed_opcodes_are_forwarded() {
        for op in 0..=u8::MAX {
            let r = validate_user_cmd(&FULL, &[u64::from(op), 0]);
            if ALLOWED_OPS.contains(&op) {
                // TLBI by address with TG == 0 and no range: fine.
                assert_eq!(r, Ok(()), "{op:#x}");
            } else {
                assert_eq!(r, Err(EIO), "{op:#x}");
            }
        }
        // CFGI_STE, CFGI_ALL, TLBI_S12_VMALL, CMD_SYNC... are refused.
        for cmd in [
            Command::CfgiSte { sid: 1, leaf: true },
            Command::CFGI_ALL,
            Command::TlbiS12Vmall { vmid: 1 },
            Command::TlbiS2Ipa {
                vmid: 1,
                range: TlbiRange::addr(0, false),
            },
            Command::sync_poll(),
            Command::TlbiEl2All,
        ] {
            assert_eq!(validate_user_cmd(&FULL, &cmd.encode().unwrap()), Err(EIO));
        }
    }

    /// The fields each opcode allows under `caps` (by Linux 7.3's rules,
    /// spelled out bit by bit).
    fn allowed_bits(caps: &VsmmuCaps, op: u8) -> [u64; 2] {
        let asid = if caps.asid_bits == 16 {
            0xffff << 48
        } else {
            0xff << 48
        };
        let vmid = 0xffff << 32;
        let range0 = if caps.range_inv {
            0x1f << 12 | if caps.ds { 0x3f << 20 } else { 0x1f << 20 }
        } else {
            0
        };
        let range1 = if caps.range_inv { 0xf << 8 } else { 0 };
        let sid = 0xffff_ffff << 32;
        let sub = if caps.ssid_bits != 0 {
            0xf_ffff << 12
        } else {
            0
        };
        let op0 = 0xff;
        match op {
            OP_TLBI_NSNH_ALL => [op0, 0],
            OP_TLBI_NH_VA => [op0 | asid | vmid | range0, !0xfff | 1 | range1],
            OP_TLBI_NH_VAA => [op0 | vmid | range0, !0xfff | 1 | range1],
            OP_TLBI_NH_ASID => [op0 | asid | vmid, 0],
            OP_TLBI_NH_ALL => [op0 | vmid, 0],
            OP_ATC_INV => [
                op0 | sid
                    | if caps.ssid_bits != 0 {
                        sub | 1 << 11 | 1 << 9
                    } else {
                        0
                    },
                !0xfff | 0x3f,
            ],
            OP_CFGI_CD => [op0 | sid | sub, 1],
            _ => [op0 | sid, 0],
        }
    }

    /// Makes a TLBI's range fields valid so that only the bit under test
    /// decides (TG = 4K with TTL = 3 is a legal single-range hint).
    fn with_valid_range(caps: &VsmmuCaps, op: u8, mut cmd: [u64; 2]) -> [u64; 2] {
        if caps.range_inv && matches!(op, OP_TLBI_NH_VA | OP_TLBI_NH_VAA) {
            cmd[1] |= 1 << 10 | 3 << 8;
        }
        cmd
    }

    #[test]
    fn every_field_bit_of_every_opcode() {
        let caps_list = [
            FULL,
            QEMU,
            VsmmuCaps {
                asid_bits: 8,
                range_inv: false,
                ..FULL
            },
            VsmmuCaps {
                ds: false,
                ssid_bits: 0,
                ..FULL
            },
        ];
        for caps in caps_list {
            for op in ALLOWED_OPS {
                if op == OP_ATC_INV && !caps.ats {
                    assert_eq!(validate_user_cmd(&caps, &[u64::from(op), 0]), Err(EIO));
                    continue;
                }
                let allowed = allowed_bits(&caps, op);
                for word in 0..2 {
                    for bit in 0..64 {
                        if word == 0 && bit < 8 {
                            continue;
                        }
                        let mut cmd = with_valid_range(&caps, op, [u64::from(op), 0]);
                        // Leave the TG/TTL bits under test alone.
                        if word == 1 && (8..12).contains(&bit) {
                            cmd[1] &= !(0xf << 8);
                            cmd[1] |= 1 << 10 | 3 << 8;
                        }
                        cmd[word] |= 1 << bit;
                        let r = validate_user_cmd(&caps, &cmd);
                        let is_allowed = allowed[word] & (1 << bit) != 0;
                        if !is_allowed {
                            assert_eq!(r, Err(EIO), "{caps:?} {op:#x} word {word} bit {bit}");
                        } else if op == OP_ATC_INV && word == 1 && bit < 6 {
                            // Size above 52 is refused.
                            assert_eq!(r.is_ok(), (1u64 << bit) <= 52, "size bit {bit}");
                        } else if word == 1 && (8..12).contains(&bit) {
                            // Range hints are checked separately below.
                        } else {
                            assert_eq!(r, Ok(()), "{caps:?} {op:#x} word {word} bit {bit}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn range_fields_are_checked() {
        let va = |num: u64, scale: u64, tg: u64, ttl: u64| -> [u64; 2] {
            [
                u64::from(OP_TLBI_NH_VA) | num << 12 | scale << 20,
                0x1000 | tg << 10 | ttl << 8,
            ]
        };
        // TG == 0: NUM, SCALE, TTL must be 0.
        assert_eq!(validate_user_cmd(&FULL, &va(0, 0, 0, 0)), Ok(()));
        assert_eq!(validate_user_cmd(&FULL, &va(1, 0, 0, 0)), Err(EIO));
        assert_eq!(validate_user_cmd(&FULL, &va(0, 1, 0, 0)), Err(EIO));
        assert_eq!(validate_user_cmd(&FULL, &va(0, 0, 0, 2)), Err(EIO));
        // TG != 0 needs a range or a TTL.
        assert_eq!(validate_user_cmd(&FULL, &va(0, 0, 1, 0)), Err(EIO));
        assert_eq!(validate_user_cmd(&FULL, &va(3, 0, 1, 0)), Ok(()));
        assert_eq!(validate_user_cmd(&FULL, &va(0, 0, 3, 3)), Ok(()));
        // 16 KiB with a level 1 hint needs DS.
        assert_eq!(validate_user_cmd(&FULL, &va(0, 0, 2, 1)), Ok(()));
        assert_eq!(validate_user_cmd(&QEMU, &va(0, 0, 2, 1)), Err(EIO));
        assert_eq!(validate_user_cmd(&QEMU, &va(0, 0, 2, 2)), Ok(()));
        // SCALE above 31 needs DS.
        assert_eq!(validate_user_cmd(&FULL, &va(1, 32, 1, 0)), Ok(()));
        assert_eq!(validate_user_cmd(&QEMU, &va(1, 32, 1, 0)), Err(EIO));
        assert_eq!(validate_user_cmd(&QEMU, &va(1, 31, 1, 0)), Ok(()));
        // Without range invalidation the fields are not allowed at all.
        let no_ril = VsmmuCaps {
            range_inv: false,
            ..FULL
        };
        assert_eq!(validate_user_cmd(&no_ril, &va(0, 0, 0, 0)), Ok(()));
        assert_eq!(validate_user_cmd(&no_ril, &va(1, 0, 1, 0)), Err(EIO));
        assert_eq!(validate_user_cmd(&no_ril, &va(0, 0, 0, 1)), Err(EIO));
    }

    #[test]
    fn conversion_inserts_vmid_and_sid() {
        let map = |vsid: u32| if vsid == 0x10 { Some(0x2_0008) } else { None };
        let tlbi = Command::TlbiNhVa {
            vmid: 0x77,
            asid: 5,
            range: TlbiRange::addr(0x7000, true),
        };
        let out = convert_user_cmd(&FULL, 3, &tlbi.encode().unwrap(), map).unwrap();
        assert_eq!(
            Command::decode(out),
            Ok(Command::TlbiNhVa {
                vmid: 3,
                asid: 5,
                range: TlbiRange::addr(0x7000, true)
            })
        );
        for (cmd, want) in [
            (Command::TlbiNsnhAll, Command::TlbiNhAll { vmid: 3 }),
            (
                Command::TlbiNhAll { vmid: 1 },
                Command::TlbiNhAll { vmid: 3 },
            ),
            (
                Command::TlbiNhAsid { vmid: 0, asid: 9 },
                Command::TlbiNhAsid { vmid: 3, asid: 9 },
            ),
            (
                Command::TlbiNhVaa {
                    vmid: 0,
                    range: TlbiRange::addr(0x1000, false),
                },
                Command::TlbiNhVaa {
                    vmid: 3,
                    range: TlbiRange::addr(0x1000, false),
                },
            ),
            (
                Command::CfgiCd {
                    sid: 0x10,
                    ssid: 4,
                    leaf: true,
                },
                Command::CfgiCd {
                    sid: 0x2_0008,
                    ssid: 4,
                    leaf: true,
                },
            ),
            (
                Command::CfgiCdAll { sid: 0x10 },
                Command::CfgiCdAll { sid: 0x2_0008 },
            ),
            (
                Command::AtcInv {
                    sid: 0x10,
                    ssv: true,
                    ssid: 1,
                    global: false,
                    addr: 0x5000,
                    size: 3,
                },
                Command::AtcInv {
                    sid: 0x2_0008,
                    ssv: true,
                    ssid: 1,
                    global: false,
                    addr: 0x5000,
                    size: 3,
                },
            ),
        ] {
            let out = convert_user_cmd(&FULL, 3, &cmd.encode().unwrap(), map).unwrap();
            assert_eq!(Command::decode(out), Ok(want));
        }
        // An unknown vSID.
        let cmd = Command::CfgiCdAll { sid: 0x11 }.encode().unwrap();
        assert_eq!(convert_user_cmd(&FULL, 3, &cmd, map), Err(EIO));
        // A refused command never reaches the map.
        let cmd = Command::CfgiSte {
            sid: 0x10,
            leaf: true,
        }
        .encode()
        .unwrap();
        let mut called = false;
        let r = convert_user_cmd(&FULL, 3, &cmd, |_| {
            called = true;
            None
        });
        assert_eq!(r, Err(EIO));
        assert!(!called);
    }

    #[test]
    fn hw_info_and_vevent_layout() {
        let info = HwInfo {
            flags: IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI,
            idr: [0x0d44_101b, 0x0273_0010, 0, 0x1404, 0, 0x74],
            iidr: 0x43b,
            aidr: 1,
        };
        let b = info.to_bytes();
        assert_eq!(b[0..4], [1, 0, 0, 0]);
        assert_eq!(b[4..8], [0; 4]);
        assert_eq!(b[8..12], 0x0d44_101bu32.to_le_bytes());
        assert_eq!(b[28..32], 0x74u32.to_le_bytes());
        assert_eq!(b[32..36], 0x43bu32.to_le_bytes());
        assert_eq!(b[36..40], [1, 0, 0, 0]);

        let evt = [0x10 | 0x0002_0008 << 32 | 1 << 11, 1 << 35, 0xdead_0000, 0];
        let v = vevent(&evt, 0x10);
        let words: [u64; 4] = le_words(&v);
        assert_eq!(
            words,
            [0x10 | 0x10 << 32 | 1 << 11, 1 << 35, 0xdead_0000, 0]
        );
        let bytes: [u8; 16] = core::array::from_fn(|i| (i as u8) * 17);
        assert_eq!(
            user_words(&bytes),
            [0x7766_5544_3322_1100, 0xffee_ddcc_bbaa_9988]
        );
    }
}
