// SPDX-License-Identifier: GPL-2.0

//! Command queue entries (SMMUv3 chapter 4 "Commands").
//!
//! A command is 16 bytes, two 64-bit little-endian words. [`Command`] is the
//! typed form of the commands riommu issues or checks; [`Command::encode`]
//! builds the words and [`Command::decode`] parses them, refusing anything
//! that is not a well-formed Non-secure command: an unknown opcode, a field
//! that the opcode does not have (RES0), or `SSec` set. A command that
//! decodes re-encodes to the same words.

use super::super::bitfield::bitfield;
use super::super::errno::Errno;

/// Size of a command in bytes.
pub const CMD_SIZE: u64 = 16;
/// Number of 64-bit words in a command.
pub const CMD_QWORDS: usize = 2;

/// `CMD_PREFETCH_CONFIG` (§4.2).
pub const OP_PREFETCH_CONFIG: u8 = 0x01;
/// `CMD_CFGI_STE` (§4.3).
pub const OP_CFGI_STE: u8 = 0x03;
/// `CMD_CFGI_STE_RANGE`, also `CMD_CFGI_ALL` with `Range == 31` (§4.3).
pub const OP_CFGI_STE_RANGE: u8 = 0x04;
/// `CMD_CFGI_CD` (§4.3).
pub const OP_CFGI_CD: u8 = 0x05;
/// `CMD_CFGI_CD_ALL` (§4.3).
pub const OP_CFGI_CD_ALL: u8 = 0x06;
/// `CMD_TLBI_NH_ALL` (§4.4): all stage 1 entries of a VMID.
pub const OP_TLBI_NH_ALL: u8 = 0x10;
/// `CMD_TLBI_NH_ASID` (§4.4).
pub const OP_TLBI_NH_ASID: u8 = 0x11;
/// `CMD_TLBI_NH_VA` (§4.4).
pub const OP_TLBI_NH_VA: u8 = 0x12;
/// `CMD_TLBI_NH_VAA` (§4.4): a VA in all ASIDs.
pub const OP_TLBI_NH_VAA: u8 = 0x13;
/// `CMD_TLBI_EL2_ALL` (§4.4).
pub const OP_TLBI_EL2_ALL: u8 = 0x20;
/// `CMD_TLBI_EL2_ASID` (§4.4).
pub const OP_TLBI_EL2_ASID: u8 = 0x21;
/// `CMD_TLBI_EL2_VA` (§4.4).
pub const OP_TLBI_EL2_VA: u8 = 0x22;
/// `CMD_TLBI_EL2_VAA` (§4.4).
pub const OP_TLBI_EL2_VAA: u8 = 0x23;
/// `CMD_TLBI_S12_VMALL` (§4.4): all entries of a VMID.
pub const OP_TLBI_S12_VMALL: u8 = 0x28;
/// `CMD_TLBI_S2_IPA` (§4.4).
pub const OP_TLBI_S2_IPA: u8 = 0x2a;
/// `CMD_TLBI_NSNH_ALL` (§4.4): all Non-secure non-hypervisor entries.
pub const OP_TLBI_NSNH_ALL: u8 = 0x30;
/// `CMD_ATC_INV` (§4.5).
pub const OP_ATC_INV: u8 = 0x40;
/// `CMD_PRI_RESP` (§4.5).
pub const OP_PRI_RESP: u8 = 0x41;
/// `CMD_RESUME` (§4.6).
pub const OP_RESUME: u8 = 0x44;
/// `CMD_STALL_TERM` (§4.6).
pub const OP_STALL_TERM: u8 = 0x45;
/// `CMD_SYNC` (§4.7).
pub const OP_CMD_SYNC: u8 = 0x46;

/// `CMD_CFGI_STE_RANGE.Range` that invalidates every STE (`CMD_CFGI_ALL`).
pub const CFGI_RANGE_ALL: u8 = 31;
/// `CMD_ATC_INV.Size` that invalidates the whole ATC (Linux's
/// `ATC_INV_SIZE_ALL`); larger sizes may be illegal.
pub const ATC_INV_SIZE_ALL: u8 = 52;
/// Low bit of TLBI/ATC/prefetch addresses (4 KiB aligned).
const ADDR_SHIFT: u32 = 12;
/// Low bit of the CMD_SYNC MSI address (4-byte aligned).
const MSIADDR_SHIFT: u32 = 2;
/// IPAs (`CMD_TLBI_S2_IPA`) and MSI addresses are at most 52 bits.
const MAX_PA_BITS: u32 = 52;

bitfield! {
    /// The fields of all commands (several share bits; [`Command`] knows
    /// which one an opcode has).
    pub struct RawCmd([u64; 2]) {
        /// Opcode.
        op, with_op: 7, 0;
        /// ATC_INV Global: invalidate all SubstreamIDs' global entries.
        global, with_global: 9, 9;
        /// SSec: Secure StreamID (must be 0 on the Non-secure queue).
        ssec, with_ssec: 10, 10;
        /// SSV: the SubstreamID is valid.
        ssv, with_ssv: 11, 11;
        /// SubstreamID (PREFETCH, CFGI_CD, ATC_INV, PRI_RESP).
        ssid, with_ssid: 31, 12;
        /// StreamID (PREFETCH, CFGI, ATC_INV, PRI_RESP, RESUME, STALL_TERM).
        sid, with_sid: 63, 32;
        /// TLBI NUM: range invalidation, `NUM + 1` units.
        num, with_num: 16, 12;
        /// TLBI SCALE: a unit is `2^SCALE` granules (bit 25 needs IDR5.DS).
        scale, with_scale: 25, 20;
        /// TLBI VMID.
        vmid, with_vmid: 47, 32;
        /// TLBI ASID.
        asid, with_asid: 63, 48;
        /// CMD_SYNC CS: completion signal ([`SyncCs`]).
        sync_cs, with_sync_cs: 13, 12;
        /// CMD_SYNC MSH: MSI shareability.
        sync_msh, with_sync_msh: 23, 22;
        /// CMD_SYNC MSIAttr: MSI memory attributes.
        sync_msiattr, with_sync_msiattr: 27, 24;
        /// CMD_SYNC MSIData.
        sync_msidata, with_sync_msidata: 63, 32;
        /// CMD_RESUME Action (terminate, retry, abort).
        resume_action, with_resume_action: 13, 12;
        /// Leaf (CFGI_STE, CFGI_CD: only the STE/CD, not the tables; TLBI:
        /// only last-level entries).
        leaf, with_leaf: 64, 64;
        /// CFGI_STE_RANGE Range: `2^(Range + 1)` StreamIDs.
        range, with_range: 68, 64;
        /// TLBI TTL: level hint of the leaves.
        ttl, with_ttl: 73, 72;
        /// TLBI TG: granule of a range invalidation (0: not a range).
        tg, with_tg: 75, 74;
        /// TLBI / ATC_INV / PREFETCH address bits 63:12.
        addr, with_addr: 127, 76;
        /// ATC_INV Size: `2^Size` pages.
        atc_size, with_atc_size: 69, 64;
        /// PRI_RESP PRGIndex.
        pri_grpid, with_pri_grpid: 72, 64;
        /// PRI_RESP Resp ([`PriResp`]).
        pri_resp, with_pri_resp: 77, 76;
        /// CMD_SYNC MSIAddress bits 51:2.
        sync_msiaddr, with_sync_msiaddr: 115, 66;
        /// CMD_RESUME STAG.
        stag, with_stag: 79, 64;
    }
}

/// The address and range of a TLBI by address (§4.4.1 range invalidation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TlbiRange {
    /// The (4 KiB aligned) VA, or IPA for `CMD_TLBI_S2_IPA`.
    pub addr: u64,
    /// Only leaf entries.
    pub leaf: bool,
    /// Range: `NUM + 1` units of `2^SCALE` granules (with `tg != 0`).
    pub num: u8,
    /// Range scale.
    pub scale: u8,
    /// Granule of the range (0: a single address; 1: 4 KiB; 2: 16 KiB;
    /// 3: 64 KiB).
    pub tg: u8,
    /// Level hint of the entries to invalidate (0: any).
    pub ttl: u8,
}

impl TlbiRange {
    /// One address, not a range, no level hint.
    pub const fn addr(addr: u64, leaf: bool) -> TlbiRange {
        TlbiRange {
            addr,
            leaf,
            num: 0,
            scale: 0,
            tg: 0,
            ttl: 0,
        }
    }
}

/// `CMD_SYNC` completion signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncCs {
    /// None: software polls `CMDQ_CONS` past the CMD_SYNC.
    None,
    /// Write `MSIData` to `MSIAddress` (with `IDR0.MSI`); QEMU instead
    /// pulses its wired "cmd-sync" interrupt and writes nothing.
    Irq,
    /// Send a WFE wake-up event (with `IDR0.SEV`) then poll.
    Sev,
}

impl SyncCs {
    /// The field encoding.
    pub const fn bits(self) -> u64 {
        match self {
            SyncCs::None => 0,
            SyncCs::Irq => 1,
            SyncCs::Sev => 2,
        }
    }

    /// The value of an encoding (3 is reserved).
    const fn from_bits(v: u64) -> Option<SyncCs> {
        match v {
            0 => Some(SyncCs::None),
            1 => Some(SyncCs::Irq),
            2 => Some(SyncCs::Sev),
            _ => None,
        }
    }
}

/// `CMD_PRI_RESP` response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriResp {
    /// Invalid request.
    Deny,
    /// Response failure.
    Fail,
    /// Success.
    Success,
}

impl PriResp {
    /// The field encoding.
    pub const fn bits(self) -> u64 {
        match self {
            PriResp::Deny => 0,
            PriResp::Fail => 1,
            PriResp::Success => 2,
        }
    }

    /// The value of an encoding (3 is reserved).
    const fn from_bits(v: u64) -> Option<PriResp> {
        match v {
            0 => Some(PriResp::Deny),
            1 => Some(PriResp::Fail),
            2 => Some(PriResp::Success),
            _ => None,
        }
    }
}

/// A command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Prefetch the configuration of a stream (and substream).
    PrefetchConfig {
        /// StreamID.
        sid: u32,
        /// Whether `ssid` is valid.
        ssv: bool,
        /// SubstreamID.
        ssid: u32,
    },
    /// Invalidate the cached STE of a stream.
    CfgiSte {
        /// StreamID.
        sid: u32,
        /// Only the STE, not level 1 descriptors.
        leaf: bool,
    },
    /// Invalidate the STEs of `2^(range + 1)` aligned StreamIDs
    /// ([`Command::CFGI_ALL`]: all of them).
    CfgiSteRange {
        /// A StreamID in the range.
        sid: u32,
        /// log2 of the number of StreamIDs, minus 1.
        range: u8,
    },
    /// Invalidate a cached CD.
    CfgiCd {
        /// StreamID.
        sid: u32,
        /// SubstreamID.
        ssid: u32,
        /// Only the CD, not level 1 descriptors.
        leaf: bool,
    },
    /// Invalidate all cached CDs of a stream.
    CfgiCdAll {
        /// StreamID.
        sid: u32,
    },
    /// Invalidate the stage 1 TLB entries of a VMID.
    TlbiNhAll {
        /// VMID.
        vmid: u16,
    },
    /// Invalidate the stage 1 TLB entries of an ASID.
    TlbiNhAsid {
        /// VMID.
        vmid: u16,
        /// ASID.
        asid: u16,
    },
    /// Invalidate stage 1 TLB entries of a VA in an ASID.
    TlbiNhVa {
        /// VMID.
        vmid: u16,
        /// ASID.
        asid: u16,
        /// Address and range.
        range: TlbiRange,
    },
    /// Invalidate stage 1 TLB entries of a VA in all ASIDs.
    TlbiNhVaa {
        /// VMID.
        vmid: u16,
        /// Address and range.
        range: TlbiRange,
    },
    /// Invalidate all EL2 TLB entries.
    TlbiEl2All,
    /// Invalidate the EL2 TLB entries of an ASID.
    TlbiEl2Asid {
        /// ASID.
        asid: u16,
    },
    /// Invalidate EL2 TLB entries of a VA in an ASID.
    TlbiEl2Va {
        /// ASID.
        asid: u16,
        /// Address and range.
        range: TlbiRange,
    },
    /// Invalidate EL2 TLB entries of a VA in all ASIDs.
    TlbiEl2Vaa {
        /// Address and range.
        range: TlbiRange,
    },
    /// Invalidate all (stage 1 and 2) TLB entries of a VMID.
    TlbiS12Vmall {
        /// VMID.
        vmid: u16,
    },
    /// Invalidate stage 2 TLB entries of an IPA.
    TlbiS2Ipa {
        /// VMID.
        vmid: u16,
        /// IPA and range.
        range: TlbiRange,
    },
    /// Invalidate all Non-secure non-hypervisor TLB entries.
    TlbiNsnhAll,
    /// Invalidate a device's ATC.
    AtcInv {
        /// StreamID.
        sid: u32,
        /// Whether `ssid` is valid.
        ssv: bool,
        /// SubstreamID.
        ssid: u32,
        /// Also global entries of all substreams.
        global: bool,
        /// 4 KiB aligned address.
        addr: u64,
        /// `2^size` pages ([`ATC_INV_SIZE_ALL`]: all).
        size: u8,
    },
    /// Respond to a PRI page request group.
    PriResp {
        /// StreamID.
        sid: u32,
        /// Whether `ssid` is valid.
        ssv: bool,
        /// SubstreamID.
        ssid: u32,
        /// Page request group index.
        grpid: u16,
        /// Response.
        resp: PriResp,
    },
    /// Resume or terminate a stalled transaction.
    Resume {
        /// StreamID.
        sid: u32,
        /// Action: 0 terminate, 1 retry, 2 abort.
        action: u8,
        /// Stall tag from the event.
        stag: u16,
    },
    /// Terminate all stalled transactions of a stream.
    StallTerm {
        /// StreamID.
        sid: u32,
    },
    /// Complete when all earlier commands have.
    Sync {
        /// Completion signal.
        cs: SyncCs,
        /// MSI shareability.
        msh: u8,
        /// MSI memory attributes.
        msiattr: u8,
        /// MSI data.
        msidata: u32,
        /// 4-byte aligned MSI address.
        msiaddr: u64,
    },
}

/// Field masks of each command kind.
mod masks {
    use super::RawCmd;

    /// Opcode alone.
    pub(super) const OP: [u64; 2] = field_mask!(RawCmd: with_op);
    /// PREFETCH_CONFIG.
    pub(super) const PREFETCH: [u64; 2] =
        field_mask!(RawCmd: with_op, with_ssv, with_ssid, with_sid);
    /// CFGI_STE.
    pub(super) const CFGI_STE: [u64; 2] = field_mask!(RawCmd: with_op, with_sid, with_leaf);
    /// CFGI_STE_RANGE.
    pub(super) const CFGI_STE_RANGE: [u64; 2] = field_mask!(RawCmd: with_op, with_sid, with_range);
    /// CFGI_CD.
    pub(super) const CFGI_CD: [u64; 2] =
        field_mask!(RawCmd: with_op, with_ssid, with_sid, with_leaf);
    /// CFGI_CD_ALL, STALL_TERM.
    pub(super) const SID_ONLY: [u64; 2] = field_mask!(RawCmd: with_op, with_sid);
    /// TLBI_NH_ALL, TLBI_S12_VMALL.
    pub(super) const VMID: [u64; 2] = field_mask!(RawCmd: with_op, with_vmid);
    /// TLBI_NH_ASID.
    pub(super) const VMID_ASID: [u64; 2] = field_mask!(RawCmd: with_op, with_vmid, with_asid);
    /// TLBI_EL2_ASID.
    pub(super) const ASID: [u64; 2] = field_mask!(RawCmd: with_op, with_asid);
    /// The range and address fields of a TLBI by address.
    pub(super) const RANGE: [u64; 2] =
        field_mask!(RawCmd: with_num, with_scale, with_leaf, with_ttl, with_tg, with_addr);
    /// ATC_INV.
    pub(super) const ATC_INV: [u64; 2] = field_mask!(RawCmd:
        with_op, with_global, with_ssv, with_ssid, with_sid, with_atc_size, with_addr);
    /// PRI_RESP.
    pub(super) const PRI_RESP: [u64; 2] = field_mask!(RawCmd:
        with_op, with_ssv, with_ssid, with_sid, with_pri_grpid, with_pri_resp);
    /// RESUME.
    pub(super) const RESUME: [u64; 2] =
        field_mask!(RawCmd: with_op, with_resume_action, with_sid, with_stag);
    /// CMD_SYNC.
    pub(super) const SYNC: [u64; 2] = field_mask!(RawCmd:
        with_op, with_sync_cs, with_sync_msh, with_sync_msiattr, with_sync_msidata,
        with_sync_msiaddr);
}

/// `a | b`, word by word.
const fn or(a: [u64; 2], b: [u64; 2]) -> [u64; 2] {
    [a[0] | b[0], a[1] | b[1]]
}

/// Whether `v` has bits at or above `bits`.
const fn too_wide(v: u64, bits: u32) -> bool {
    v >> bits != 0
}

impl Command {
    /// `CMD_CFGI_ALL`: invalidate every cached STE (and what hangs off them).
    pub const CFGI_ALL: Command = Command::CfgiSteRange {
        sid: 0,
        range: CFGI_RANGE_ALL,
    };

    /// A `CMD_SYNC` completed by polling `CMDQ_CONS` (`CS = NONE`), as Linux
    /// issues it on an SMMU without MSIs (QEMU).
    pub const fn sync_poll() -> Command {
        Command::Sync {
            cs: SyncCs::None,
            msh: 0,
            msiattr: 0,
            msidata: 0,
            msiaddr: 0,
        }
    }

    /// A `CMD_SYNC` that writes `data` to `addr` on completion (inner
    /// shareable, write-back), as Linux's MSI polling does.
    pub const fn sync_msi(addr: u64, data: u32) -> Command {
        Command::Sync {
            cs: SyncCs::Irq,
            msh: super::regs::SH_ISH as u8,
            msiattr: super::regs::MEMATTR_OIWB as u8,
            msidata: data,
            msiaddr: addr,
        }
    }

    /// The opcode.
    pub const fn opcode(&self) -> u8 {
        match self {
            Command::PrefetchConfig { .. } => OP_PREFETCH_CONFIG,
            Command::CfgiSte { .. } => OP_CFGI_STE,
            Command::CfgiSteRange { .. } => OP_CFGI_STE_RANGE,
            Command::CfgiCd { .. } => OP_CFGI_CD,
            Command::CfgiCdAll { .. } => OP_CFGI_CD_ALL,
            Command::TlbiNhAll { .. } => OP_TLBI_NH_ALL,
            Command::TlbiNhAsid { .. } => OP_TLBI_NH_ASID,
            Command::TlbiNhVa { .. } => OP_TLBI_NH_VA,
            Command::TlbiNhVaa { .. } => OP_TLBI_NH_VAA,
            Command::TlbiEl2All => OP_TLBI_EL2_ALL,
            Command::TlbiEl2Asid { .. } => OP_TLBI_EL2_ASID,
            Command::TlbiEl2Va { .. } => OP_TLBI_EL2_VA,
            Command::TlbiEl2Vaa { .. } => OP_TLBI_EL2_VAA,
            Command::TlbiS12Vmall { .. } => OP_TLBI_S12_VMALL,
            Command::TlbiS2Ipa { .. } => OP_TLBI_S2_IPA,
            Command::TlbiNsnhAll => OP_TLBI_NSNH_ALL,
            Command::AtcInv { .. } => OP_ATC_INV,
            Command::PriResp { .. } => OP_PRI_RESP,
            Command::Resume { .. } => OP_RESUME,
            Command::StallTerm { .. } => OP_STALL_TERM,
            Command::Sync { .. } => OP_CMD_SYNC,
        }
    }

    /// The two command words.
    ///
    /// [`Errno::EINVAL`] if a value does not fit its field, an address is not
    /// aligned (4 KiB for TLBI/ATC, 4 bytes for the MSI) or an IPA or MSI
    /// address has bits above 51.
    pub fn encode(&self) -> Result<[u64; 2], Errno> {
        self.build().map(|c| c.0).ok_or(Errno::EINVAL)
    }

    /// [`Command::encode`] as an `Option`.
    fn build(&self) -> Option<RawCmd> {
        let c = RawCmd::ZERO.with_op(u64::from(self.opcode()))?;
        match *self {
            Command::PrefetchConfig { sid, ssv, ssid } => c
                .with_sid(u64::from(sid))?
                .with_ssv(u64::from(ssv))?
                .with_ssid(u64::from(ssid)),
            Command::CfgiSte { sid, leaf } => {
                c.with_sid(u64::from(sid))?.with_leaf(u64::from(leaf))
            }
            Command::CfgiSteRange { sid, range } => {
                c.with_sid(u64::from(sid))?.with_range(u64::from(range))
            }
            Command::CfgiCd { sid, ssid, leaf } => c
                .with_sid(u64::from(sid))?
                .with_ssid(u64::from(ssid))?
                .with_leaf(u64::from(leaf)),
            Command::CfgiCdAll { sid } | Command::StallTerm { sid } => c.with_sid(u64::from(sid)),
            Command::TlbiNhAll { vmid } | Command::TlbiS12Vmall { vmid } => {
                c.with_vmid(u64::from(vmid))
            }
            Command::TlbiNhAsid { vmid, asid } => {
                c.with_vmid(u64::from(vmid))?.with_asid(u64::from(asid))
            }
            Command::TlbiNhVa { vmid, asid, range } => Self::put_range(
                c.with_vmid(u64::from(vmid))?.with_asid(u64::from(asid))?,
                &range,
                false,
            ),
            Command::TlbiNhVaa { vmid, range } => {
                Self::put_range(c.with_vmid(u64::from(vmid))?, &range, false)
            }
            Command::TlbiEl2All | Command::TlbiNsnhAll => Some(c),
            Command::TlbiEl2Asid { asid } => c.with_asid(u64::from(asid)),
            Command::TlbiEl2Va { asid, range } => {
                Self::put_range(c.with_asid(u64::from(asid))?, &range, false)
            }
            Command::TlbiEl2Vaa { range } => Self::put_range(c, &range, false),
            Command::TlbiS2Ipa { vmid, range } => {
                Self::put_range(c.with_vmid(u64::from(vmid))?, &range, true)
            }
            Command::AtcInv {
                sid,
                ssv,
                ssid,
                global,
                addr,
                size,
            } => c
                .with_sid(u64::from(sid))?
                .with_ssv(u64::from(ssv))?
                .with_ssid(u64::from(ssid))?
                .with_global(u64::from(global))?
                .with_atc_size(u64::from(size))?
                .with_addr(Self::page(addr)?),
            Command::PriResp {
                sid,
                ssv,
                ssid,
                grpid,
                resp,
            } => c
                .with_sid(u64::from(sid))?
                .with_ssv(u64::from(ssv))?
                .with_ssid(u64::from(ssid))?
                .with_pri_grpid(u64::from(grpid))?
                .with_pri_resp(resp.bits()),
            Command::Resume { sid, action, stag } => c
                .with_sid(u64::from(sid))?
                .with_resume_action(u64::from(action))?
                .with_stag(u64::from(stag)),
            Command::Sync {
                cs,
                msh,
                msiattr,
                msidata,
                msiaddr,
            } => {
                if msiaddr & ((1 << MSIADDR_SHIFT) - 1) != 0 {
                    return None;
                }
                c.with_sync_cs(cs.bits())?
                    .with_sync_msh(u64::from(msh))?
                    .with_sync_msiattr(u64::from(msiattr))?
                    .with_sync_msidata(u64::from(msidata))?
                    .with_sync_msiaddr(msiaddr >> MSIADDR_SHIFT)
            }
        }
    }

    /// The address field value of the 4 KiB aligned `addr`.
    const fn page(addr: u64) -> Option<u64> {
        if addr & ((1 << ADDR_SHIFT) - 1) != 0 {
            None
        } else {
            Some(addr >> ADDR_SHIFT)
        }
    }

    /// Sets the fields of a TLBI by address; `ipa` limits it to 52 bits.
    fn put_range(c: RawCmd, r: &TlbiRange, ipa: bool) -> Option<RawCmd> {
        if ipa && too_wide(r.addr, MAX_PA_BITS) {
            return None;
        }
        c.with_num(u64::from(r.num))?
            .with_scale(u64::from(r.scale))?
            .with_leaf(u64::from(r.leaf))?
            .with_ttl(u64::from(r.ttl))?
            .with_tg(u64::from(r.tg))?
            .with_addr(Self::page(r.addr)?)
    }

    /// The range fields of `c`.
    const fn get_range(c: &RawCmd) -> TlbiRange {
        TlbiRange {
            addr: c.addr() << ADDR_SHIFT,
            leaf: c.leaf() != 0,
            num: c.num() as u8,
            scale: c.scale() as u8,
            tg: c.tg() as u8,
            ttl: c.ttl() as u8,
        }
    }

    /// The fields an opcode has; `None` for an opcode this module does not
    /// know.
    pub const fn fields_of(op: u8) -> Option<[u64; 2]> {
        Some(match op {
            OP_PREFETCH_CONFIG => masks::PREFETCH,
            OP_CFGI_STE => masks::CFGI_STE,
            OP_CFGI_STE_RANGE => masks::CFGI_STE_RANGE,
            OP_CFGI_CD => masks::CFGI_CD,
            OP_CFGI_CD_ALL | OP_STALL_TERM => masks::SID_ONLY,
            OP_TLBI_NH_ALL | OP_TLBI_S12_VMALL => masks::VMID,
            OP_TLBI_NH_ASID => masks::VMID_ASID,
            OP_TLBI_NH_VA => or(masks::VMID_ASID, masks::RANGE),
            OP_TLBI_NH_VAA | OP_TLBI_S2_IPA => or(masks::VMID, masks::RANGE),
            OP_TLBI_EL2_ALL | OP_TLBI_NSNH_ALL => masks::OP,
            OP_TLBI_EL2_ASID => masks::ASID,
            OP_TLBI_EL2_VA => or(masks::ASID, masks::RANGE),
            OP_TLBI_EL2_VAA => or(masks::OP, masks::RANGE),
            OP_ATC_INV => masks::ATC_INV,
            OP_PRI_RESP => masks::PRI_RESP,
            OP_RESUME => masks::RESUME,
            OP_CMD_SYNC => masks::SYNC,
            _ => return None,
        })
    }

    /// Parses two command words.
    ///
    /// [`Errno::EINVAL`] for an unknown opcode, a bit set outside the
    /// opcode's fields (this includes `SSec`, which Non-secure software must
    /// leave 0), a reserved `CS` or `Resp` value, or an IPA above 52 bits.
    pub fn decode(raw: [u64; 2]) -> Result<Command, Errno> {
        let c = RawCmd(raw);
        let op = c.op() as u8;
        let fields = Self::fields_of(op).ok_or(Errno::EINVAL)?;
        if raw[0] & !fields[0] != 0 || raw[1] & !fields[1] != 0 {
            return Err(Errno::EINVAL);
        }
        let sid = c.sid() as u32;
        let ssid = c.ssid() as u32;
        let vmid = c.vmid() as u16;
        let asid = c.asid() as u16;
        let range = Self::get_range(&c);
        Ok(match op {
            OP_PREFETCH_CONFIG => Command::PrefetchConfig {
                sid,
                ssv: c.ssv() != 0,
                ssid,
            },
            OP_CFGI_STE => Command::CfgiSte {
                sid,
                leaf: c.leaf() != 0,
            },
            OP_CFGI_STE_RANGE => Command::CfgiSteRange {
                sid,
                range: c.range() as u8,
            },
            OP_CFGI_CD => Command::CfgiCd {
                sid,
                ssid,
                leaf: c.leaf() != 0,
            },
            OP_CFGI_CD_ALL => Command::CfgiCdAll { sid },
            OP_TLBI_NH_ALL => Command::TlbiNhAll { vmid },
            OP_TLBI_NH_ASID => Command::TlbiNhAsid { vmid, asid },
            OP_TLBI_NH_VA => Command::TlbiNhVa { vmid, asid, range },
            OP_TLBI_NH_VAA => Command::TlbiNhVaa { vmid, range },
            OP_TLBI_EL2_ALL => Command::TlbiEl2All,
            OP_TLBI_EL2_ASID => Command::TlbiEl2Asid { asid },
            OP_TLBI_EL2_VA => Command::TlbiEl2Va { asid, range },
            OP_TLBI_EL2_VAA => Command::TlbiEl2Vaa { range },
            OP_TLBI_S12_VMALL => Command::TlbiS12Vmall { vmid },
            OP_TLBI_S2_IPA => {
                if too_wide(range.addr, MAX_PA_BITS) {
                    return Err(Errno::EINVAL);
                }
                Command::TlbiS2Ipa { vmid, range }
            }
            OP_TLBI_NSNH_ALL => Command::TlbiNsnhAll,
            OP_ATC_INV => Command::AtcInv {
                sid,
                ssv: c.ssv() != 0,
                ssid,
                global: c.global() != 0,
                addr: c.addr() << ADDR_SHIFT,
                size: c.atc_size() as u8,
            },
            OP_PRI_RESP => Command::PriResp {
                sid,
                ssv: c.ssv() != 0,
                ssid,
                grpid: c.pri_grpid() as u16,
                resp: match PriResp::from_bits(c.pri_resp()) {
                    Some(r) => r,
                    None => return Err(Errno::EINVAL),
                },
            },
            OP_RESUME => Command::Resume {
                sid,
                action: c.resume_action() as u8,
                stag: c.stag() as u16,
            },
            OP_STALL_TERM => Command::StallTerm { sid },
            _ => Command::Sync {
                cs: match SyncCs::from_bits(c.sync_cs()) {
                    Some(cs) => cs,
                    None => return Err(Errno::EINVAL),
                },
                msh: c.sync_msh() as u8,
                msiattr: c.sync_msiattr() as u8,
                msidata: c.sync_msidata() as u32,
                msiaddr: c.sync_msiaddr() << MSIADDR_SHIFT,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic PRNG (xorshift64*).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    #[test]
    fn encodings_match_linux() {
        // Linux 7.3 arm_smmu_make_cmd_*() values.
        assert_eq!(
            Command::CfgiSte {
                sid: 0x12,
                leaf: true
            }
            .encode(),
            Ok([0x3 | 0x12 << 32, 1])
        );
        assert_eq!(Command::CFGI_ALL.encode(), Ok([0x4, 31]));
        assert_eq!(
            Command::CfgiCd {
                sid: 7,
                ssid: 0xabcde,
                leaf: true
            }
            .encode(),
            Ok([0x5 | 0xabcde << 12 | 7 << 32, 1])
        );
        assert_eq!(
            Command::TlbiNhAsid {
                vmid: 3,
                asid: 0xbeef
            }
            .encode(),
            Ok([0x11 | 3 << 32 | 0xbeef << 48, 0])
        );
        assert_eq!(
            Command::sync_msi(0x1234_5678, 0xcafe).encode(),
            Ok([
                0x46 | 1 << 12 | 3 << 22 | 0xf << 24 | 0xcafe << 32,
                0x1234_5678
            ])
        );
        assert_eq!(Command::sync_poll().encode(), Ok([0x46, 0]));
        assert_eq!(
            Command::AtcInv {
                sid: 9,
                ssv: true,
                ssid: 5,
                global: false,
                addr: 0,
                size: ATC_INV_SIZE_ALL,
            }
            .encode(),
            Ok([0x40 | 1 << 11 | 5 << 12 | 9 << 32, 52])
        );
        let va = Command::TlbiNhVa {
            vmid: 1,
            asid: 2,
            range: TlbiRange {
                addr: 0xffff_8000_0000_1000,
                leaf: true,
                num: 31,
                scale: 63,
                tg: 1,
                ttl: 3,
            },
        };
        assert_eq!(
            va.encode(),
            Ok([
                0x12 | 31 << 12 | 63 << 20 | 1 << 32 | 2 << 48,
                0xffff_8000_0000_1000 | 1 | 3 << 8 | 1 << 10
            ])
        );
        assert_eq!(
            Command::PriResp {
                sid: 1,
                ssv: false,
                ssid: 0,
                grpid: 0x1ff,
                resp: PriResp::Success
            }
            .encode(),
            Ok([0x41 | 1 << 32, 0x1ff | 2 << 12])
        );
        assert_eq!(
            Command::Resume {
                sid: 4,
                action: 1,
                stag: 0x77
            }
            .encode(),
            Ok([0x44 | 1 << 12 | 4 << 32, 0x77])
        );
    }

    #[test]
    fn bad_values_do_not_encode() {
        let bad = [
            Command::CfgiSteRange { sid: 0, range: 32 },
            Command::CfgiCd {
                sid: 0,
                ssid: 1 << 20,
                leaf: false,
            },
            Command::TlbiNhVa {
                vmid: 0,
                asid: 0,
                range: TlbiRange::addr(0x1001, false),
            },
            Command::TlbiS2Ipa {
                vmid: 0,
                range: TlbiRange::addr(1 << 52, false),
            },
            Command::TlbiNhVaa {
                vmid: 0,
                range: TlbiRange {
                    num: 32,
                    ..TlbiRange::addr(0, false)
                },
            },
            Command::Sync {
                cs: SyncCs::Irq,
                msh: 0,
                msiattr: 0,
                msidata: 0,
                msiaddr: 2,
            },
            Command::Sync {
                cs: SyncCs::Irq,
                msh: 4,
                msiattr: 0,
                msidata: 0,
                msiaddr: 0,
            },
            Command::AtcInv {
                sid: 0,
                ssv: false,
                ssid: 0,
                global: false,
                addr: 0,
                size: 64,
            },
            Command::Resume {
                sid: 0,
                action: 4,
                stag: 0,
            },
        ];
        for cmd in bad {
            assert_eq!(cmd.encode(), Err(Errno::EINVAL), "{cmd:?}");
        }
    }

    #[test]
    fn decode_refuses_what_is_not_a_command() {
        // Unknown opcodes (PREFETCH_ADDR is not modelled).
        for op in [
            0x00u64, 0x02, 0x07, 0x14, 0x18, 0x29, 0x2b, 0x31, 0x42, 0x47, 0xff,
        ] {
            assert_eq!(Command::decode([op, 0]), Err(Errno::EINVAL), "{op:#x}");
        }
        // SSec from the Non-secure queue.
        assert_eq!(Command::decode([0x3 | 1 << 10, 0]), Err(Errno::EINVAL));
        // A field of another opcode: CFGI_STE has no SSID.
        assert_eq!(Command::decode([0x3 | 1 << 12, 0]), Err(Errno::EINVAL));
        // TLBI_NH_ALL has no ASID, TLBI_NSNH_ALL nothing.
        assert_eq!(Command::decode([0x10 | 1 << 48, 0]), Err(Errno::EINVAL));
        assert_eq!(Command::decode([0x30, 1]), Err(Errno::EINVAL));
        // Reserved CS and Resp values; an IPA above 52 bits.
        assert_eq!(Command::decode([0x46 | 3 << 12, 0]), Err(Errno::EINVAL));
        assert_eq!(Command::decode([0x41, 3 << 12]), Err(Errno::EINVAL));
        assert_eq!(Command::decode([0x2a, 1 << 60]), Err(Errno::EINVAL));
        // The TLBI address is 4 KiB aligned: bits 7:0 of word 1 are RES0
        // except Leaf.
        assert_eq!(Command::decode([0x12, 1 << 4]), Err(Errno::EINVAL));
    }

    #[test]
    fn decode_inverts_encode() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let ops: Vec<u8> = (0..=u8::MAX)
            .filter(|&op| Command::fields_of(op).is_some())
            .collect();
        assert_eq!(ops.len(), 21);
        let mut decoded = 0;
        for _ in 0..200_000 {
            let op = ops[(rng.next() % ops.len() as u64) as usize];
            let fields = Command::fields_of(op).unwrap();
            // Random values in the opcode's fields only.
            let op_mask = RawCmd::ZERO.with_op(0xff).unwrap().0[0];
            let raw = [
                rng.next() & fields[0] & !op_mask | u64::from(op),
                rng.next() & fields[1],
            ];
            match Command::decode(raw) {
                Ok(cmd) => {
                    decoded += 1;
                    assert_eq!(cmd.opcode(), op);
                    assert_eq!(cmd.encode(), Ok(raw), "{cmd:?}");
                }
                Err(e) => {
                    assert_eq!(e, Errno::EINVAL);
                    // Only reserved enumeration values or wide IPAs fail.
                    assert!(matches!(op, OP_CMD_SYNC | OP_PRI_RESP | OP_TLBI_S2_IPA));
                }
            }
            // One stray bit outside the fields is always refused.
            let stray = rng.next() % 128;
            let mut bad = raw;
            bad[(stray / 64) as usize] |= 1 << (stray % 64);
            if bad[0] & !fields[0] != 0 || bad[1] & !fields[1] != 0 {
                assert_eq!(Command::decode(bad), Err(Errno::EINVAL));
            }
        }
        assert!(decoded > 170_000, "{decoded}");
    }
}
