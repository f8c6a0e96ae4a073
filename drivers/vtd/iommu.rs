// SPDX-License-Identifier: GPL-2.0

//! The `iommu_ops` of riommu_vtd and its domains.
//!
//! - The default domain is the identity domain: RID_PASID is pass-through
//!   (PGTT 100), so devices not under test keep doing DMA to physical
//!   addresses with translation enabled.
//! - The blocking domain makes RID_PASID not present.
//! - Paging domains are first-stage (PGTT 001, 4-level, 47-bit canonical
//!   aperture) when the flags allow it and the unit has a first stage, else
//!   second-stage (PGTT 010, 4-level, 48-bit), Linux 7.3's choice
//!   (`riommu_core::vtd::stage`).  QEMU 10's `intel-iommu` offers one of
//!   the two: the first stage with `x-flts=on`, the second without.  Both
//!   use this crate's own page tables (`riommu_core::vtd::pte`), not the
//!   kernel's generic_pt: see Documentation/vtd.rst.
//! - `IOMMU_HWPT_ALLOC_NEST_PARENT` makes a second-stage domain and needs
//!   nesting (ECAP.NEST, or the `force_nesting` module parameter on a unit
//!   with a second stage: QEMU reports no NEST and cannot translate nested
//!   entries, so the parameter exists to check the entries this driver
//!   writes; DMA through them faults).  `IOMMU_HWPT_ALLOC_DIRTY_TRACKING`
//!   is refused with `EOPNOTSUPP`: this driver does not implement
//!   second-stage dirty tracking, and QEMU has no ECAP.SLADS.
//! - Nested domains (`IOMMU_HWPT_DATA_VTD_S1`) need nesting and a nesting
//!   parent (7.3's errnos: `EOPNOTSUPP`, `EINVAL`).  They get their own
//!   domain id; attach writes a PGTT 011 entry with the user's first-stage
//!   pointer and the parent's second-stage table.  Their stage-1 cache
//!   invalidation (`IOMMU_HWPT_INVALIDATE_DATA_VTD_S1`) queues PASID-based
//!   IOTLB invalidations.  When the parent's mappings change, the IOTLB
//!   of every nested child's domain id is invalidated too (the combined
//!   translations are cached under the child's id).

#![forbid(unsafe_code)]

use crate::riommu::{
    device::{
        Cap, DefaultDomain, DeviceGroup, HwInfo, IommuDevice, Probe, ProbingDevice, ResvRegions,
        ResvType,
    },
    domain::{
        Domain, DomainBox, NestedBox, NestedDomain, NewDomain, OldDomain, PagingConfig,
        PagingDomain, Parent,
    },
    driver::{Driver, DriverStatics},
    flags::AllocFlags,
    hw::HwPageTable,
    iotlb::IotlbGather,
    pgtable::MapTarget,
    pure::{
        pt::{MemType, PageTable, Prot},
        vtd::{
            inval::s1_invalidation,
            nested::{
                check_invalidate_type, check_nested_alloc_for, check_vtd_s1,
                check_vtd_s1_invalidate, IommuHwptVtdS1, IommuHwptVtdS1Invalidate, UAPI_SIZE,
            },
            pasid::FirstStage,
            pte::{VtdFs4, VtdSs4},
            scope::rmrr_is_relaxable,
            stage::Stage,
            RID_PASID_DEFAULT,
        },
    },
    sva::NoSva,
    uapi_check::assert_same_layout,
    userdata::{UserData, UserDataArray, UserStruct},
    viommu::NoViommu,
};
use crate::unit::{Target, Unit, VtdDev};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{
    bindings, new_mutex, pci,
    prelude::*,
    sync::{Arc, Mutex},
};
use zerocopy_derive::{Immutable, KnownLayout};

/// 1 GiB, the page size only CAP.FL1GP allows.
const SZ_1G: u64 = kernel::sizes::SZ_1G as u64;
/// `IOMMU_HWPT_DATA_NONE`: no driver data.
const HWPT_DATA_NONE: u32 = bindings::iommu_hwpt_data_type_IOMMU_HWPT_DATA_NONE;

/// The riommu VT-d driver.
pub struct VtdDriver;

// `DriverStatics` is implemented in the crate root (`declare_iommu_driver!`).

/// `struct iommu_hw_info_vtd`, reported by `IOMMU_GET_HW_INFO`.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct HwInfoVtd {
    /// `IOMMU_HW_INFO_VTD_*` flags.
    pub flags: u32,
    /// Zero.
    pub reserved: u32,
    /// The capability register.
    pub cap_reg: u64,
    /// The extended capability register.
    pub ecap_reg: u64,
}

/// `struct iommu_hwpt_vtd_s1` as user data.
#[repr(C)]
#[derive(Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct HwptVtdS1User {
    /// `IOMMU_VTD_S1_*`.
    pub flags: u64,
    /// Stage-1 table base.
    pub pgtbl_addr: u64,
    /// 48 or 57.
    pub addr_width: u32,
    /// Must be 0.
    pub reserved: u32,
}

impl UserStruct for HwptVtdS1User {
    const TYPE: u32 = bindings::iommu_hwpt_data_type_IOMMU_HWPT_DATA_VTD_S1;
    const MIN_LEN: usize = UAPI_SIZE;
}

impl HwptVtdS1User {
    fn to_core(self) -> IommuHwptVtdS1 {
        let mut b = [0u8; UAPI_SIZE];
        b.copy_from_slice(self.as_bytes());
        IommuHwptVtdS1::from_ne_bytes(&b)
    }
}

/// `struct iommu_hwpt_vtd_s1_invalidate` as user data.
#[repr(C)]
#[derive(Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct HwptVtdS1InvalidateUser {
    /// Start, 4 KiB aligned.
    pub addr: u64,
    /// Pages; `u64::MAX` for all.
    pub npages: u64,
    /// `IOMMU_VTD_INV_FLAGS_*`.
    pub flags: u32,
    /// Must be 0.
    pub reserved: u32,
}

impl UserStruct for HwptVtdS1InvalidateUser {
    const TYPE: u32 = bindings::iommu_hwpt_invalidate_data_type_IOMMU_HWPT_INVALIDATE_DATA_VTD_S1;
    const MIN_LEN: usize = UAPI_SIZE;
}

impl HwptVtdS1InvalidateUser {
    fn to_core(self) -> IommuHwptVtdS1Invalidate {
        let mut b = [0u8; UAPI_SIZE];
        b.copy_from_slice(self.as_bytes());
        IommuHwptVtdS1Invalidate::from_ne_bytes(&b)
    }
}

// The uAPI structs of this file are the kernel's, field for field
// (`rust/riommu/uapi_check.rs`).
assert_same_layout!(HwInfoVtd, bindings::iommu_hw_info_vtd;
    flags, reserved: __reserved, cap_reg, ecap_reg
);
assert_same_layout!(HwptVtdS1User, bindings::iommu_hwpt_vtd_s1;
    flags, pgtbl_addr, addr_width, reserved: __reserved
);
assert_same_layout!(HwptVtdS1InvalidateUser, bindings::iommu_hwpt_vtd_s1_invalidate;
    addr, npages, flags, reserved: __reserved
);

/// The unit a probed device sits behind.
fn unit_of(dev: &IommuDevice<'_, VtdDriver>) -> Arc<Unit> {
    dev.iommu().data().clone()
}

/// Start of the x86 interrupt address window (`0xfeexxxxx`, the local APIC
/// MSI range).
const X86_MSI_WINDOW_START: u64 = 0xfee0_0000;
/// Length of that window.
const X86_MSI_WINDOW_LEN: usize = 0x10_0000;

#[vtable]
impl Driver for VtdDriver {
    type Paging = VtdPaging;
    type Nested = VtdNested;
    type DevData = VtdDev;
    type Data = Arc<Unit>;
    type Viommu = NoViommu<Self>;
    type Sva = NoSva<Self>;

    const DEVICE_GROUP: DeviceGroup = DeviceGroup::Pci;
    const DEFAULT_DOMAIN: DefaultDomain = DefaultDomain::Identity;

    fn probe_device(dev: &ProbingDevice<'_>) -> Result<Probe<Self>> {
        // The unit whose DMAR scope covers the device (the C driver's
        // `device_lookup_iommu()`).
        let pdev: &pci::Device = dev.device().try_into().map_err(|_| ENODEV)?;
        let ids = crate::riommu::hw::pci_ids(pdev)?;
        let iommu = VtdDriver::find_instance(|i| i.data().covers(&ids)).ok_or(ENODEV)?;
        let data = iommu.data().probe_device(pdev)?;
        Ok(Probe { iommu, data })
    }

    fn release_device(dev: &IommuDevice<'_, Self>) {
        dev.iommu().data().release_device(dev.data());
    }

    fn get_resv_regions(dev: &IommuDevice<'_, Self>, regions: &mut ResvRegions<'_>) {
        // The RMRRs naming the device, read and writable, direct-mapped
        // (relaxable for USB and display controllers), as 7.3's
        // `intel_iommu_get_resv_regions()`; like it, stop at the first
        // allocation failure.
        let unit = dev.iommu().data();
        let relaxable = <&pci::Device>::try_from(dev.device())
            .is_ok_and(|p| rmrr_is_relaxable(p.pci_class().as_raw()));
        let ty = if relaxable {
            ResvType::DirectRelaxable
        } else {
            ResvType::Direct
        };
        for r in unit.rmrrs_of(&dev.data().ids) {
            // A checked region is at least a page and ends below 2^64, so
            // its length fits usize on 64-bit x86.
            let Ok(len) = usize::try_from(r.len()) else {
                continue;
            };
            if regions
                .add(
                    r.base,
                    len,
                    bindings::IOMMU_READ | bindings::IOMMU_WRITE,
                    ty,
                )
                .is_err()
            {
                break;
            }
        }
        // DMA writes to the x86 interrupt window are interrupt requests,
        // never translated: no IOVA there may be mapped (as the C driver).
        // On allocation failure the window is simply not reported.
        let _ = regions.add(
            X86_MSI_WINDOW_START,
            X86_MSI_WINDOW_LEN,
            bindings::IOMMU_WRITE,
            ResvType::Msi,
        );
    }

    fn capable(dev: &IommuDevice<'_, Self>, cap: Cap) -> bool {
        match cap {
            // DMA on x86 snoops the CPU caches.
            Cap::CacheCoherency => true,
            Cap::EnforceCacheCoherency => dev.iommu().data().ecap.sc() != 0,
            _ => false,
        }
    }

    fn hw_info(dev: &IommuDevice<'_, Self>, requested: u32) -> Result<HwInfo> {
        let vtd = bindings::iommu_hw_info_type_IOMMU_HW_INFO_TYPE_INTEL_VTD;
        if requested != bindings::iommu_hw_info_type_IOMMU_HW_INFO_TYPE_DEFAULT && requested != vtd
        {
            return Err(EOPNOTSUPP);
        }
        let unit = dev.iommu().data();
        HwInfo::new(
            vtd,
            &HwInfoVtd {
                // As Linux 7.3 reports it for every unit.
                flags: bindings::iommu_hw_info_vtd_flags_IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17,
                reserved: 0,
                cap_reg: unit.cap.0[0],
                ecap_reg: unit.ecap.0[0],
            },
        )
    }

    fn attach_identity(dev: &IommuDevice<'_, Self>, _old: OldDomain<'_, Self>) -> Result {
        dev.iommu().data().attach(dev.data(), Target::Identity)
    }

    fn attach_blocked(dev: &IommuDevice<'_, Self>, _old: OldDomain<'_, Self>) -> Result {
        dev.iommu().data().attach(dev.data(), Target::Blocked)
    }

    fn domain_alloc_user<'a>(
        dev: Option<&IommuDevice<'_, Self>>,
        flags: AllocFlags,
        parent: Option<Parent<'a, Self>>,
        data: UserData<'_>,
    ) -> Result<NewDomain<'a, Self>> {
        match (parent, dev) {
            (None, Some(dev)) => {
                // Linux 7.3: driver data for a paging domain is refused.
                if !data.is_empty() {
                    return Err(EOPNOTSUPP);
                }
                // No second-stage dirty tracking here (nor in QEMU).
                if flags.contains(AllocFlags::DIRTY_TRACKING) {
                    return Err(EOPNOTSUPP);
                }
                let unit = unit_of(dev);
                let stage = unit.stages.for_flags(flags.bits())?;
                let nest_parent = flags.contains(AllocFlags::NEST_PARENT);
                VtdPaging::alloc(&unit, stage, nest_parent).map(NewDomain::Paging)
            }
            (Some(parent), Some(dev)) => {
                let Parent::Domain(p) = &parent else {
                    return Err(EOPNOTSUPP);
                };
                let unit = unit_of(dev);
                check_nested_alloc_for(
                    unit.stages.nesting,
                    flags.bits(),
                    data.data_type().unwrap_or(HWPT_DATA_NONE),
                )?;
                // The parent must be a second-stage nesting parent of this
                // unit.
                let Some(children) = p.children.as_ref().filter(|_| p.unit.base() == unit.base())
                else {
                    return Err(EINVAL);
                };
                let s1 = data.read::<HwptVtdS1User>()?.to_core();
                let s1 = check_vtd_s1(&s1, unit.cap, unit.ecap)?;
                let (ss_root, children, snoop) = (p.root, children.clone(), p.force_snoop.clone());
                VtdNested::alloc(&parent, &unit, s1, ss_root, children, snoop)
                    .map(NewDomain::Nested)
            }
            _ => Err(EOPNOTSUPP),
        }
    }
}

/// A domain id, freed on drop.
pub struct Did {
    unit: Arc<Unit>,
    id: u16,
}

impl Did {
    fn new(unit: &Arc<Unit>) -> Result<Self> {
        Ok(Self {
            id: unit.alloc_did()?,
            unit: unit.clone(),
        })
    }
}

impl Drop for Did {
    fn drop(&mut self) {
        // No device uses the id any more (each one leaving it flushed it);
        // flush once more so that nothing cached under it can be hit by the
        // next domain that gets the id.
        // Both kinds of tags: the id may have been a first-stage, nested or
        // second-stage domain's.
        let descs = self
            .unit
            .domain_flush(Stage::First, self.id)
            .and_then(|a| Ok([a, self.unit.domain_flush(Stage::Second, self.id)?]));
        if let Err(e) = descs.and_then(|d| self.unit.submit(&d)) {
            pr_err!("flushing DID {} failed: {:?}\n", self.id, e);
        }
        self.unit.free_did(self.id);
    }
}

/// A paging domain's table: first- or second-stage.
enum Table {
    /// First stage (PGTT 001).
    First(HwPageTable<VtdFs4>),
    /// Second stage (PGTT 010), 4 levels.
    Second(HwPageTable<VtdSs4>),
}

impl Table {
    fn new(stage: Stage, coherent: bool) -> Result<Self> {
        Ok(match stage {
            Stage::First => Table::First(HwPageTable::new(coherent)?),
            Stage::Second => Table::Second(HwPageTable::new(coherent)?),
        })
    }

    fn root(&mut self) -> u64 {
        match self {
            Table::First(t) => t.root(),
            Table::Second(t) => t.root(),
        }
    }

    fn map_pages(
        &mut self,
        target: MapTarget<'_>,
        prot: Prot,
        gather: &mut IotlbGather<'_>,
    ) -> (u64, Result) {
        let (done, r) = match self {
            Table::First(t) => t.map_pages(target, prot, gather),
            Table::Second(t) => t.map_pages(target, prot, gather),
        };
        (done, r.map_err(Into::into))
    }

    fn unmap_pages(
        &mut self,
        iova: u64,
        pgsize: u64,
        pgcount: u64,
        gather: &mut IotlbGather<'_>,
    ) -> u64 {
        match self {
            Table::First(t) => t.unmap_pages(iova, pgsize, pgcount, gather),
            Table::Second(t) => t.unmap_pages(iova, pgsize, pgcount, gather),
        }
    }

    fn iova_to_phys(&mut self, iova: u64) -> u64 {
        match self {
            Table::First(t) => t.iova_to_phys(iova),
            Table::Second(t) => t.iova_to_phys(iova),
        }
    }
}

/// The page table.  (What unmaps leave to invalidate is in the core's
/// gather of each unmap, not here: iommufd does not serialise unmaps of one
/// domain, and each `iotlb_sync` must flush its own unmap's range.)
struct PagingInner {
    table: Table,
}

/// The domain ids of the nested domains on a nesting parent.
type Children = Arc<Mutex<KVec<u16>>>;

/// A paging domain, first- or second-stage.
#[pin_data]
pub struct VtdPaging {
    unit: Arc<Unit>,
    did: Did,
    stage: Stage,
    root: u64,
    /// The nested domains on this one; `Some` exactly for a nesting parent
    /// (allocated with `IOMMU_HWPT_ALLOC_NEST_PARENT`, second stage).
    children: Option<Children>,
    /// Set by `enforce_cache_coherency`, never cleared (as 7.3's
    /// `force_snooping`): PGSNP in first-stage PASID entries, SNP in
    /// second-stage leaves mapped from then on; shared with nested
    /// children, whose entries take PGSNP from it.
    force_snoop: Arc<AtomicBool>,
    #[pin]
    inner: Mutex<PagingInner>,
}

/// 2 MiB, the page size SLLPS bit 0 allows.
const SZ_2M: u64 = kernel::sizes::SZ_2M as u64;

impl VtdPaging {
    fn alloc(unit: &Arc<Unit>, stage: Stage, nest_parent: bool) -> Result<DomainBox<Self>> {
        let mut table = Table::new(stage, unit.pt_coherent())?;
        let root = table.root();
        let did = Did::new(unit)?;
        let (mut pgsize_bitmap, va_bits) = match stage {
            Stage::First => {
                let mut b = PageTable::<VtdFs4>::pgsize_bitmap();
                if unit.cap.fl1gp() == 0 {
                    b &= !SZ_1G;
                }
                (b, unit.va_bits())
            }
            Stage::Second => {
                let ss = unit.ss.ok_or(EOPNOTSUPP)?;
                (PageTable::<VtdSs4>::pgsize_bitmap(), ss.va_bits)
            }
        };
        if stage == Stage::Second {
            let leaves = unit.cap.ss_leaf_levels();
            if leaves & (1 << 1) == 0 {
                pgsize_bitmap &= !SZ_2M;
            }
            if leaves & (1 << 2) == 0 {
                pgsize_bitmap &= !SZ_1G;
            }
        }
        let config = PagingConfig {
            pgsize_bitmap,
            aperture_start: 0,
            aperture_end: (1u64 << va_bits) - 1,
            force_aperture: true,
        };
        let children = if nest_parent {
            Some(Arc::pin_init(new_mutex!(KVec::new()), GFP_KERNEL)?)
        } else {
            None
        };
        DomainBox::new_paging(
            config,
            try_pin_init!(VtdPaging {
                unit: unit.clone(),
                did,
                stage,
                root,
                children,
                force_snoop: Arc::new(AtomicBool::new(false), GFP_KERNEL)?,
                inner <- new_mutex!(PagingInner {
                    table,
                }),
            }? Error),
        )
    }

    fn same_unit(&self, dev: &IommuDevice<'_, VtdDriver>) -> Result {
        if dev.iommu().data().base() == self.unit.base() {
            Ok(())
        } else {
            Err(EINVAL)
        }
    }

    /// Invalidates `[start, end)` of this domain, or all of it (`None`),
    /// and everything cached under its nested children's domain ids.
    fn flush(&self, range: Option<(u64, u64)>) {
        let own = match range {
            Some((start, end)) => {
                self.unit
                    .range_flush(self.stage, self.did.id, start, end - start)
            }
            None => self.unit.domain_flush(self.stage, self.did.id),
        };
        let r = own.and_then(|d| match self.children.as_ref().map(|c| c.lock()) {
            // The children's combined (nested) translations are cached
            // under their own domain ids and depend on this table where it
            // changed: IOTLB invalidations with each child's id, as 7.3's
            // cache tags of type CACHE_TAG_NESTING_IOTLB issue them
            // (`cache_tag_flush_range()`), page-selective where the range
            // allows.  Not PASID-based ones: those leave second-stage
            // derived entries (spec 6.5.2.4 and 6.5.3.3).
            Some(children) if !children.is_empty() => {
                let mut descs = KVec::with_capacity(children.len() + 1, GFP_KERNEL)?;
                descs.push(d, GFP_KERNEL)?;
                for &did in children.iter() {
                    let child = match range {
                        Some((start, end)) => {
                            self.unit
                                .range_flush(Stage::Second, did, start, end - start)?
                        }
                        None => self.unit.domain_flush(Stage::Second, did)?,
                    };
                    descs.push(child, GFP_KERNEL)?;
                }
                self.unit.submit(&descs)
            }
            _ => self.unit.submit(&[d]),
        });
        if let Err(e) = r {
            pr_err!(
                "IOTLB invalidation of DID {} failed: {:?}\n",
                self.did.id,
                e
            );
        }
    }
}

#[vtable]
impl PagingDomain for VtdPaging {
    type Driver = VtdDriver;

    fn attach_dev(
        &self,
        dev: &IommuDevice<'_, VtdDriver>,
        _old: OldDomain<'_, VtdDriver>,
    ) -> Result {
        self.same_unit(dev)?;
        let (root, did) = (self.root, self.did.id);
        let target = match self.stage {
            Stage::First => Target::FirstStage {
                root,
                did,
                snoop: &self.force_snoop,
            },
            Stage::Second => Target::SecondStage { root, did },
        };
        self.unit.attach(dev.data(), target)
    }

    fn map_pages(
        &self,
        target: MapTarget<'_>,
        prot: u32,
        gather: &mut IotlbGather<'_>,
    ) -> (u64, Result) {
        let mut prot = Prot::from_iommu_prot(prot as i32);
        if self.stage == Stage::Second
            && prot.mem != MemType::Mmio
            && self.force_snoop.load(Ordering::Relaxed)
        {
            // SNP on the leaf (7.3 `PT_FEAT_VTDSS_FORCE_COHERENCE`; SNP is
            // meaningless for MMIO, which 7.3 marks too).
            prot = prot.with_mem(MemType::Snooped);
        }
        let iova = target.iova();
        let (done, r) = self.inner.lock().table.map_pages(target, prot, gather);
        if done > 0 {
            // With caching mode the unit may cache not-present entries too;
            // without, a unit with CAP.RWBF may still hold the new entries
            // in its write buffers (`intel_iommu_iotlb_sync_map()`).
            let flushed = if self.unit.cap.cm() != 0 {
                self.unit.flush_range(self.stage, self.did.id, iova, done)
            } else if self.unit.cap.rwbf() != 0 {
                self.unit.flush_write_buffer()
            } else {
                Ok(())
            };
            if let Err(e) = flushed {
                return (done, Err(e));
            }
        }
        (done, r)
    }

    fn unmap_pages(
        &self,
        iova: u64,
        pgsize: u64,
        pgcount: u64,
        gather: &mut IotlbGather<'_>,
    ) -> u64 {
        self.inner
            .lock()
            .table
            .unmap_pages(iova, pgsize, pgcount, gather)
    }

    fn iova_to_phys(&self, iova: u64) -> u64 {
        self.inner.lock().table.iova_to_phys(iova)
    }

    /// Flushes the gather's range (IH=0: the paging-structure caches too,
    /// so unlinked tables, which the glue releases after this, are
    /// forgotten), or the whole domain if tables were unlinked outside any
    /// range.  `flush` waits for the queued invalidation to complete.
    fn iotlb_sync(&self, gather: &IotlbGather<'_>) {
        match gather.range() {
            Some((start, last)) => self.flush(Some((start, last.saturating_add(1)))),
            None if gather.frees_tables() => self.flush(None),
            None => {}
        }
    }

    fn flush_iotlb_all(&self) {
        self.flush(None);
    }

    /// As 7.3's `intel_iommu_enforce_cache_coherency_{fs,ss}()`: with
    /// ECAP.SC, a first-stage domain gets PGSNP in its PASID entries (those
    /// attached now and later), a second-stage one SNP in the leaves it
    /// maps from now on.  `EOPNOTSUPP` without ECAP.SC.
    fn enforce_cache_coherency(&self) -> Result {
        match self.stage {
            Stage::First => self.unit.enforce_snoop(self.did.id, &self.force_snoop),
            Stage::Second if self.unit.ecap.sc() != 0 => {
                self.force_snoop.store(true, Ordering::Relaxed);
                Ok(())
            }
            Stage::Second => Err(EOPNOTSUPP),
        }
    }
}

/// Takes a nested domain's id off its parent's list when the nested
/// domain goes.
struct ChildDid {
    children: Children,
    did: u16,
}

impl ChildDid {
    fn new(children: Children, did: u16) -> Result<Self> {
        children.lock().push(did, GFP_KERNEL)?;
        Ok(Self { children, did })
    }
}

impl Drop for ChildDid {
    fn drop(&mut self) {
        self.children.lock().retain(|d| *d != self.did);
    }
}

/// A nested domain: a user stage-1 table over a second-stage nesting
/// parent, with its own domain id.
#[pin_data]
pub struct VtdNested {
    unit: Arc<Unit>,
    /// Off the parent's list before the id is flushed and freed.
    _child: ChildDid,
    did: Did,
    /// The validated stage-1 configuration.
    s1: FirstStage,
    /// The parent's second-stage table root.
    ss_root: u64,
    /// The parent's `force_snoop`.
    parent_snoop: Arc<AtomicBool>,
}

impl VtdNested {
    fn alloc<'a>(
        parent: &Parent<'a, VtdDriver>,
        unit: &Arc<Unit>,
        s1: FirstStage,
        ss_root: u64,
        children: Children,
        parent_snoop: Arc<AtomicBool>,
    ) -> Result<NestedBox<'a, Self>> {
        let did = Did::new(unit)?;
        let child = ChildDid::new(children, did.id)?;
        DomainBox::new_nested(
            parent,
            try_pin_init!(VtdNested {
                unit: unit.clone(),
                _child: child,
                did,
                s1,
                ss_root,
                parent_snoop,
            }? Error),
        )
    }
}

#[vtable]
impl NestedDomain for VtdNested {
    type Driver = VtdDriver;

    fn attach_dev(
        this: &Domain<Self>,
        dev: &IommuDevice<'_, VtdDriver>,
        _old: OldDomain<'_, VtdDriver>,
    ) -> Result {
        if dev.iommu().data().base() != this.unit.base() {
            return Err(EINVAL);
        }
        this.unit.attach(
            dev.data(),
            Target::Nested {
                fs: this.s1,
                ss_root: this.ss_root,
                did: this.did.id,
                snoop: &this.parent_snoop,
            },
        )
    }

    fn cache_invalidate_user(this: &Domain<Self>, array: &mut UserDataArray<'_>) -> Result {
        if let Err(e) = check_invalidate_type(array.data_type()) {
            array.set_processed(0);
            return Err(e.into());
        }
        let unit = &this.unit;
        let did = this.did.id;
        let mamv = unit.cap.mamv() as u32;
        array.for_each_entry::<HwptVtdS1InvalidateUser>(|e| {
            let inv = check_vtd_s1_invalidate(&e.to_core())?;
            let plan = s1_invalidation(&inv, did, RID_PASID_DEFAULT, mamv, None)?;
            unit.submit(plan.as_slice())
        })
    }
}
