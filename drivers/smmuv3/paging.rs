// SPDX-License-Identifier: GPL-2.0

//! The devices behind an SMMU (masters) and the paging domains of
//! riommu_smmuv3.
//!
//! - Stage 1 (the default when the SMMU has stage 1): an
//!   [`LockedPageTable`] of [`Stage1Lpae`] (48-bit VA) tagged with an ASID,
//!   reached through the master's CD table (one CD: QEMU has no
//!   substreams, `S1CDMax` must be 0).  TLB entries carry VMID 0.
//! - Stage 2 (`IOMMU_HWPT_ALLOC_NEST_PARENT`, or an SMMU without
//!   stage 1): an [`LockedPageTable`] of [`Stage2Lpae`] with a VMID, an IPA
//!   space of at most 44 bits (QEMU refuses a smaller `S2T0SZ`); the
//!   nesting parent of the vSMMU (`vsmmu.rs`).
//! - Page tables are zeroed pages in the kernel's linear map, addressed
//!   physically; the SMMU is coherent (`IDR0.COHACC`, checked at probe), so
//!   no cache maintenance is needed.  Unmapping invalidates what it
//!   unmapped before returning, by address as Linux's driver does
//!   ([`iotlb_sync`](SmmuPaging::iotlb_sync)): range TLBIs
//!   (`TLBI_NH_VA` / `TLBI_S2_IPA` with `TG`/`NUM`/`SCALE`) when the SMMU has
//!   `IDR3.RIL`, per-page ones otherwise, leaf-only when no table was
//!   unlinked; the whole ASID (`TLBI_NH_ASID`) or VMID (`TLBI_S12_VMALL`)
//!   when that is cheaper or a range cannot be planned.
//!
//! The identity and blocked domains are STEs of their own, in `iommu.rs`.

#![forbid(unsafe_code)]

use crate::{
    instance::SmmuDriver,
    riommu::{
        device::IommuDevice,
        domain::{DomainBox, OldDomain, PagingConfig, PagingDomain},
        flags::AllocFlags,
        hw::DmaPages,
        iotlb::IotlbGather,
        pgtable::{LockedPageTable, MapTarget},
        pure::pt::level_size,
        pure::smmuv3::{
            cd::{Cd, CdCfg},
            cmdq::Command,
            lpae::{Stage1Lpae, Stage2Lpae},
            ste::{Eats, S1Cfg, S2Cfg, Shcfg, Ste, StreamOpts},
            tlbi,
        },
        registration::Instance,
        userdata::UserData,
    },
    smmu::{IdKind, Smmu, MAX_IAS_BITS, S1_VA_BITS},
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// 4 KiB, 2 MiB and 1 GiB: the leaves of both LPAE formats (page-table
/// levels 0, 1 and 2).
const PGSIZE_BITMAP: u64 = level_size(0) | level_size(1) | level_size(2);

/// The stream options of every translating STE: no ATS (QEMU has none),
/// incoming shareability.
pub const STREAM_OPTS: StreamOpts = StreamOpts {
    eats: Eats::Abort,
    shcfg: Shcfg::Incoming,
    mev: false,
};

/// What a device's STE points to besides the domain's tables.
struct MasterState {
    /// The CD table (substream 0 only) of stage 1 domains, allocated at the
    /// first stage 1 attach.
    cd_table: Option<DmaPages>,
}

/// A device behind the SMMU (`dev_iommu_priv`).
pub struct Master {
    /// Its StreamIDs (from the device tree's `iommu-map`).
    pub sids: KVec<u32>,
    /// Whether its root complex makes its DMA write-back cacheable
    /// (`IOMMU_FWSPEC_PCI_RC_CANWBS`, `arm_smmu_master_canwbs()`).
    pub canwbs: bool,
    state: Pin<KBox<Mutex<MasterState>>>,
}

impl Master {
    /// A master with the StreamIDs `sids` (whose STEs it does not touch).
    pub fn new(sids: KVec<u32>, canwbs: bool) -> Result<Self> {
        let state = KBox::pin_init(new_mutex!(MasterState { cd_table: None }), GFP_KERNEL)?;
        Ok(Self {
            sids,
            canwbs,
            state,
        })
    }
}

/// `domain_alloc_user` of a paging domain on `inst` (`flags` may ask for a
/// nesting parent).
pub fn alloc_paging(
    inst: Arc<Instance<SmmuDriver>>,
    flags: AllocFlags,
    data: UserData<'_>,
) -> Result<DomainBox<SmmuPaging>> {
    if data.data_type().is_some() {
        return Err(EOPNOTSUPP);
    }
    if !flags.without(AllocFlags::NEST_PARENT).is_empty() {
        // No HTTU (dirty tracking), no substreams (PASID).
        return Err(EOPNOTSUPP);
    }
    let smmu = inst.data().hw();
    let f = &smmu.feat;
    let nest_parent = flags.contains(AllocFlags::NEST_PARENT);
    if nest_parent && !(f.s1() && f.s2()) {
        return Err(EOPNOTSUPP);
    }
    let stage2 = nest_parent || !f.s1();
    let (bits, table) = if stage2 {
        let t = KBox::pin_init(LockedPageTable::<Stage2Lpae>::new(), GFP_KERNEL)?;
        (f.ias_bits.min(MAX_IAS_BITS), Table::S2(t))
    } else {
        let t = KBox::pin_init(LockedPageTable::<Stage1Lpae>::new(), GFP_KERNEL)?;
        (S1_VA_BITS, Table::S1(t))
    };
    let kind = if stage2 { IdKind::Vmid } else { IdKind::Asid };
    let id = smmu.alloc_id(kind)?;
    let paging = SmmuPaging {
        table,
        id,
        nest_parent,
        smmu: inst,
    };
    DomainBox::new_paging(
        PagingConfig {
            pgsize_bitmap: PGSIZE_BITMAP,
            aperture_start: 0,
            aperture_end: (1u64 << bits) - 1,
            force_aperture: true,
        },
        Ok::<_, Error>(paging),
    )
}

/// A paging domain's table.
enum Table {
    /// Stage 1, reached through a CD.
    S1(Pin<KBox<LockedPageTable<Stage1Lpae>>>),
    /// Stage 2, in the STE.
    S2(Pin<KBox<LockedPageTable<Stage2Lpae>>>),
}

/// A paging domain.
pub struct SmmuPaging {
    table: Table,
    /// The ASID (stage 1) or VMID (stage 2).
    id: u16,
    /// A nesting parent: TLB entries of the VMID also combine its stage 2
    /// with guests' stage 1.
    nest_parent: bool,
    /// The SMMU whose ASID or VMID `id` is, and whose TLBs cache the table.
    smmu: Arc<Instance<SmmuDriver>>,
}

impl SmmuPaging {
    /// The stage 2 configuration of a stage 2 domain (`EINVAL` for stage 1).
    pub fn s2_cfg(&self, smmu: &Smmu) -> Result<S2Cfg> {
        match &self.table {
            Table::S2(t) => Ok(S2Cfg::stage2_4k(
                self.id,
                t.root(),
                smmu.feat.ias_bits.min(MAX_IAS_BITS),
                smmu.feat.oas_bits,
            )?),
            Table::S1(_) => Err(EINVAL),
        }
    }

    /// The VMID of a stage 2 domain.
    pub fn vmid(&self) -> Option<u16> {
        matches!(self.table, Table::S2(_)).then_some(self.id)
    }

    /// The command that drops the domain's TLB entries.
    fn tlbi(&self) -> Command {
        match self.table {
            Table::S1(_) => Command::TlbiNhAsid {
                vmid: 0,
                asid: self.id,
            },
            Table::S2(_) => Command::TlbiS12Vmall { vmid: self.id },
        }
    }

    fn flush(&self) {
        let _ = self.smmu.data().hw().issue(&[self.tlbi()]);
    }

    /// Invalidates `[iova, iova + size)` by address (all levels, or the
    /// leaves of `scope`, with its level hint), and waits for it, as
    /// `arm_smmu_domain_inv_range()` does;
    /// the whole ASID or VMID when no range can be planned
    /// ([`tlbi::plan`]) or the commands cannot be built.
    fn flush_range(&self, iova: u64, size: u64, scope: tlbi::Scope) {
        let smmu = self.smmu.data().hw();
        let Some(plan) = tlbi::plan(iova, size, scope, smmu.feat.idr3.ril() != 0) else {
            return self.flush();
        };
        // Encoded here and issued as they are (`Smmu::issue_raw`): one
        // allocation for the unmap, as `Smmu::issue` makes for its batch.
        let Ok(mut words) = KVec::with_capacity(plan.clone().count(), GFP_ATOMIC) else {
            return self.flush();
        };
        for range in plan {
            let cmd = match self.table {
                Table::S1(_) => Command::TlbiNhVa {
                    vmid: 0,
                    asid: self.id,
                    range,
                },
                Table::S2(_) => Command::TlbiS2Ipa {
                    vmid: self.id,
                    range,
                },
            };
            match cmd.encode() {
                Ok(w) if words.push(w, GFP_ATOMIC).is_ok() => {}
                _ => return self.flush(),
            }
        }
        if smmu.issue_raw(&words).is_err() {
            return self.flush();
        }
        if self.nest_parent {
            // A TLBI by IPA leaves the entries that combine a guest's stage
            // 1 with this stage 2: drop the VMID's stage 1 entries too, after
            // the stage 2 invalidation has completed (its own CMD_SYNC), so
            // that no walk combines them again from stale stage 2 entries
            // (`arm_smmu_invs_end_batch()`: "The batch for S2 TLBI must be
            // done before nested S1 ASIDs").
            if smmu.issue(&[Command::TlbiNhAll { vmid: self.id }]).is_err() {
                self.flush();
            }
        }
    }

    /// The SMMU the domain belongs to.
    pub fn smmu(&self) -> &Arc<Instance<SmmuDriver>> {
        &self.smmu
    }
}

impl Drop for SmmuPaging {
    fn drop(&mut self) {
        // No device uses the domain any more; forget its TLB entries before
        // the ASID/VMID can be reused.
        let smmu = self.smmu.data().hw();
        let _ = smmu.issue(&[self.tlbi()]);
        let kind = match self.table {
            Table::S1(_) => IdKind::Asid,
            Table::S2(_) => IdKind::Vmid,
        };
        smmu.free_id(kind, self.id);
    }
}

#[vtable]
impl PagingDomain for SmmuPaging {
    type Driver = SmmuDriver;

    fn attach_dev(
        &self,
        dev: &IommuDevice<'_, SmmuDriver>,
        _old: OldDomain<'_, SmmuDriver>,
    ) -> Result {
        // The ASID/VMID and the TLBs are this domain's SMMU's: a device
        // behind another one cannot use it (`arm_smmu_attach_dev()`).
        if !self.smmu.has_device(dev) {
            return Err(EINVAL);
        }
        let data = self.smmu.data();
        let smmu = data.hw();
        let m = dev.data();
        match &self.table {
            Table::S1(t) => {
                let mut st = m.state.lock();
                if st.cd_table.is_none() {
                    st.cd_table = Some(DmaPages::alloc(0, true)?);
                }
                let cdt = st.cd_table.as_ref().ok_or(ENOMEM)?;
                let cd = Cd::stage1(&CdCfg::stage1_4k(
                    self.id,
                    t.root(),
                    S1_VA_BITS,
                    smmu.feat.oas_bits,
                )?)?;
                smmu.write_cd(cdt, 0, &m.sids, &cd)?;
                let ste = Ste::s1(&S1Cfg::single(cdt.phys()), &STREAM_OPTS)?;
                data.set_host_ste(&m.sids, &ste)
            }
            Table::S2(_) => {
                let ste = Ste::s2(&self.s2_cfg(smmu)?, &STREAM_OPTS)?;
                data.set_host_ste(&m.sids, &ste)
            }
        }
    }

    fn map_pages(
        &self,
        target: MapTarget<'_>,
        prot: u32,
        gather: &mut IotlbGather<'_>,
    ) -> (u64, Result) {
        // Break-before-make when a block replaces a table: the domain's
        // TLBI and CMD_SYNC between clearing the table entry and writing
        // the block (io-pgtable-arm's `arm_lpae_init_pte()`).
        let mut flush = |_iova, _size| self.smmu.data().hw().issue(&[self.tlbi()]);
        match &self.table {
            Table::S1(t) => t.map_pages_bbm(target, prot, gather, &mut flush),
            Table::S2(t) => t.map_pages_bbm(target, prot, gather, &mut flush),
        }
    }

    fn unmap_pages(
        &self,
        iova: u64,
        pgsize: u64,
        pgcount: u64,
        gather: &mut IotlbGather<'_>,
    ) -> u64 {
        match &self.table {
            Table::S1(t) => t.unmap_pages(iova, pgsize, pgcount, gather),
            Table::S2(t) => t.unmap_pages(iova, pgsize, pgcount, gather),
        }
    }

    /// Invalidates what the gather's unmaps removed and waits for it
    /// (CMD_SYNC): by address over the gather's range, leaf entries only
    /// when no table was unlinked, with the level hint `TTL` when all the
    /// leaves removed were at one level (`tlbi::Scope::of_gather`); with
    /// the walk caches (`Leaf` 0) when tables were, which the glue releases
    /// after this returns (an unmap unlinks only tables wholly inside the
    /// range it unmapped).  Tables a map unlinked, with no range: the whole
    /// ASID or VMID.
    fn iotlb_sync(&self, gather: &IotlbGather<'_>) {
        match gather.range() {
            // `range()` is inclusive; `last - start + 1` overflows only for
            // the whole 64-bit space.
            Some((start, last)) => match (last - start).checked_add(1) {
                Some(size) => self.flush_range(
                    start,
                    size,
                    tlbi::Scope::of_gather(gather.frees_tables(), gather.leaf_levels()),
                ),
                None => self.flush(),
            },
            None if gather.frees_tables() => self.flush(),
            None => {}
        }
    }

    fn iova_to_phys(&self, iova: u64) -> u64 {
        match &self.table {
            Table::S1(t) => t.iova_to_phys(iova),
            Table::S2(t) => t.iova_to_phys(iova),
        }
    }

    fn flush_iotlb_all(&self) {
        self.flush();
    }
}
