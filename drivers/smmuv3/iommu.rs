// SPDX-License-Identifier: GPL-2.0

//! The `iommu_ops` of riommu_smmuv3: devices (masters) and their STEs, the
//! identity and blocked domains, and the paging domains.
//!
//! - Identity: a bypass STE.  Blocked: an abort STE.  Devices start in the
//!   identity domain, so that a device nobody hands to iommufd keeps doing
//!   DMA as without the driver.
//! - Paging, stage 1 (the default when the SMMU has stage 1): an
//!   [`IoPageTable`] of [`Stage1Lpae`] (48-bit VA) tagged with an ASID,
//!   reached through the master's CD table (one CD: QEMU has no
//!   substreams, `S1CDMax` must be 0).  TLB entries carry VMID 0.
//! - Paging, stage 2 (`IOMMU_HWPT_ALLOC_NEST_PARENT`, or an SMMU without
//!   stage 1): an [`IoPageTable`] of [`Stage2Lpae`] with a VMID, an IPA
//!   space of at most 44 bits (QEMU refuses a smaller `S2T0SZ`).
//! - Page tables are zeroed pages in the kernel's linear map, addressed
//!   physically; the SMMU is coherent (`IDR0.COHACC`, checked at probe), so
//!   no cache maintenance is needed.  Unmapping invalidates the domain's
//!   ASID (`TLBI_NH_ASID`) or VMID (`TLBI_S12_VMALL`) before returning.

#![forbid(unsafe_code)]

use crate::{
    riommu::{
        domain::{DomainBox, NewDomain, OldDomain, PagingConfig, PagingDomain, Parent},
        driver::{
            Cap, DefaultDomain, DeviceGroup, Driver, HwInfo, Instance, IommuDevice, Probe,
            ProbingDevice,
        },
        flags::AllocFlags,
        hw::DmaPages,
        iotlb::IotlbGather,
        pgtable::IoPageTable,
        platform,
        pure::pt::level_size,
        pure::smmuv3::{
            cd::{Cd, CdCfg},
            cmdq::Command,
            lpae::{Stage1Lpae, Stage2Lpae},
            ste::{Eats, S1Cfg, S2Cfg, Shcfg, Ste, StreamOpts},
            uapi,
        },
        sva::NoSva,
        userdata::UserData,
    },
    smmu::{IdKind, Smmu, MAX_IAS_BITS, S1_VA_BITS},
    vsmmu::{SmmuNested, Vsmmu},
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// The driver.
pub struct SmmuDriver;

// `DriverStatics` is implemented in the crate root (`declare_iommu_driver!`).

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
    state: Pin<KBox<Mutex<MasterState>>>,
}

impl Master {
    /// Points the master's STEs to `ste`.
    pub fn set_ste(&self, smmu: &Smmu, ste: &Ste) -> Result {
        smmu.write_ste(&self.sids, ste)
    }

    /// Points the master's STEs to `ste` of a domain that is not nested:
    /// its events no longer go to a vIOMMU.
    pub fn set_host_ste(&self, smmu: &Smmu, ste: &Ste) -> Result {
        smmu.write_ste(&self.sids, ste)?;
        smmu.set_vmaster(&self.sids, None)
    }
}

#[vtable]
impl Driver for SmmuDriver {
    type Paging = SmmuPaging;
    type Nested = SmmuNested;
    type DevData = Master;
    type Data = Smmu;
    type Viommu = Vsmmu;
    type Sva = NoSva<Self>;

    const DEVICE_GROUP: DeviceGroup = DeviceGroup::Pci;
    const DEFAULT_DOMAIN: DefaultDomain = DefaultDomain::Identity;

    fn of_xlate(dev: &ProbingDevice<'_>, args: &[u32]) -> Result {
        // `#iommu-cells = <1>`: the cell is the StreamID.
        platform::fwspec_add_ids(dev, args.get(..1).ok_or(EINVAL)?)
    }

    fn probe_device(dev: &ProbingDevice<'_>) -> Result<Probe<Self>> {
        // The groups are PCI groups, and only PCI devices sit behind QEMU
        // virt's SMMU.
        if !platform::is_pci(dev) {
            return Err(ENODEV);
        }
        // The SMMU the device's `iommu-map` names (`arm_smmu_get_by_fwnode()`).
        let reg = platform::fwspec_instance::<Self>(dev).ok_or(ENODEV)?;
        let sids = platform::fwspec_ids(dev)?;
        if sids.is_empty() {
            return Err(ENODEV);
        }
        for &sid in sids.iter() {
            reg.data().prepare_sid(sid)?;
        }
        let state = KBox::pin_init(new_mutex!(MasterState { cd_table: None }), GFP_KERNEL)?;
        Ok(Probe {
            iommu: reg,
            data: Master { sids, state },
        })
    }

    fn release_device(dev: &IommuDevice<'_, Self>) {
        // The core detached the device already; make sure it cannot reach
        // a domain that may now be freed.
        let _ = dev.data().set_host_ste(dev.iommu().data(), &Ste::abort());
    }

    fn hw_info(dev: &IommuDevice<'_, Self>, requested: u32) -> Result<HwInfo> {
        if requested != bindings_hw_info_default()
            && requested != uapi::IOMMU_HW_INFO_TYPE_ARM_SMMUV3
        {
            return Err(EOPNOTSUPP);
        }
        let f = dev.iommu().data().feat;
        let info = uapi::HwInfo {
            flags: 0,
            idr: f.idr_raw,
            iidr: f.iidr,
            aidr: f.aidr,
        };
        HwInfo::new(uapi::IOMMU_HW_INFO_TYPE_ARM_SMMUV3, &info.to_bytes())
    }

    fn capable(dev: &IommuDevice<'_, Self>, cap: Cap) -> bool {
        match cap {
            // Table walks and DMA through the SMMU are coherent.
            Cap::CacheCoherency => dev.iommu().data().feat.idr0.cohacc() != 0,
            _ => false,
        }
    }

    fn domain_alloc_user<'a>(
        dev: Option<&IommuDevice<'_, Self>>,
        flags: AllocFlags,
        parent: Option<Parent<'a, Self>>,
        data: UserData<'_>,
    ) -> Result<NewDomain<'a, Self>> {
        match (parent, dev) {
            (None, Some(dev)) => alloc_paging(dev.instance(), flags, data).map(NewDomain::Paging),
            (Some(Parent::Viommu(v)), None) => {
                SmmuNested::alloc(v, flags, data).map(NewDomain::Nested)
            }
            // Nesting goes through a vIOMMU (as Linux's arm-smmu-v3).
            _ => Err(EOPNOTSUPP),
        }
    }

    fn attach_blocked(dev: &IommuDevice<'_, Self>, _old: OldDomain<'_, Self>) -> Result {
        dev.data().set_host_ste(dev.iommu().data(), &Ste::abort())
    }

    fn attach_identity(dev: &IommuDevice<'_, Self>, _old: OldDomain<'_, Self>) -> Result {
        dev.data()
            .set_host_ste(dev.iommu().data(), &Ste::bypass(Shcfg::Incoming))
    }
}

/// `IOMMU_HW_INFO_TYPE_DEFAULT`.
const fn bindings_hw_info_default() -> u32 {
    kernel::bindings::iommu_hw_info_type_IOMMU_HW_INFO_TYPE_DEFAULT
}

fn alloc_paging(
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
    let smmu = inst.data();
    let f = &smmu.feat;
    let nest_parent = flags.contains(AllocFlags::NEST_PARENT);
    if nest_parent && !(f.s1() && f.s2()) {
        return Err(EOPNOTSUPP);
    }
    let stage2 = nest_parent || !f.s1();
    let (bits, table) = if stage2 {
        let t = KBox::pin_init(IoPageTable::<Stage2Lpae>::new(), GFP_KERNEL)?;
        (f.ias_bits.min(MAX_IAS_BITS), Table::S2(t))
    } else {
        let t = KBox::pin_init(IoPageTable::<Stage1Lpae>::new(), GFP_KERNEL)?;
        (S1_VA_BITS, Table::S1(t))
    };
    let kind = if stage2 { IdKind::Vmid } else { IdKind::Asid };
    let id = smmu.alloc_id(kind)?;
    let paging = SmmuPaging {
        table,
        id,
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
    S1(Pin<KBox<IoPageTable<Stage1Lpae>>>),
    /// Stage 2, in the STE.
    S2(Pin<KBox<IoPageTable<Stage2Lpae>>>),
}

/// A paging domain.
pub struct SmmuPaging {
    table: Table,
    /// The ASID (stage 1) or VMID (stage 2).
    id: u16,
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
        let _ = self.smmu.data().issue(&[self.tlbi()]);
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
        let smmu = self.smmu.data();
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
        let smmu = self.smmu.data();
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
                m.set_host_ste(smmu, &ste)
            }
            Table::S2(_) => {
                let ste = Ste::s2(&self.s2_cfg(smmu)?, &STREAM_OPTS)?;
                m.set_host_ste(smmu, &ste)
            }
        }
    }

    fn map_pages(
        &self,
        iova: u64,
        paddr: u64,
        pgsize: u64,
        pgcount: u64,
        prot: u32,
        gather: &mut IotlbGather<'_>,
    ) -> (u64, Result) {
        match &self.table {
            Table::S1(t) => t.map_pages(iova, paddr, pgsize, pgcount, prot, gather),
            Table::S2(t) => t.map_pages(iova, paddr, pgsize, pgcount, prot, gather),
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

    /// Invalidates the domain's ASID or VMID (leaves and walk caches) and
    /// waits for it (CMD_SYNC): what the gather's unmaps removed, and the
    /// tables they or a map unlinked, which the glue releases after this.
    fn iotlb_sync(&self, gather: &IotlbGather<'_>) {
        if gather.range().is_some() || gather.frees_tables() {
            self.flush();
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
