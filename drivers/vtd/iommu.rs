// SPDX-License-Identifier: GPL-2.0

//! The `iommu_ops` of riommu_vtd and its domains.
//!
//! - The default domain is the identity domain: RID_PASID is pass-through
//!   (PGTT 100), so devices not under test keep doing DMA to physical
//!   addresses with translation enabled.
//! - The blocking domain makes RID_PASID not present.
//! - Paging domains are first-stage (PGTT 001, 4-level, 47-bit canonical
//!   aperture).  QEMU's `intel-iommu` with `x-flts=on` advertises
//!   first-stage translation (ECAP.FSTS) but not second-stage (ECAP.SLTS),
//!   so there is nothing else to offer there; Linux 7.3 prefers first stage
//!   too.
//! - `IOMMU_HWPT_ALLOC_NEST_PARENT` and `IOMMU_HWPT_ALLOC_DIRTY_TRACKING`
//!   need a second-stage domain (a nesting parent is the second stage
//!   under a guest's first stage; dirty tracking is second-stage A/D,
//!   ECAP.SSADS).  Like Linux 7.3, which only tries the second stage for
//!   them, this driver refuses both with `EOPNOTSUPP` when the unit has no
//!   second stage, as on QEMU; it implements no second-stage domains.
//! - Nested domains (`IOMMU_HWPT_DATA_VTD_S1`) need ECAP.NEST and a
//!   nesting parent: on QEMU (NEST = 0) every nested allocation fails with
//!   `EOPNOTSUPP`, the 7.3 errno.  The stage-1 cache invalidation of a
//!   nested domain (`IOMMU_HWPT_INVALIDATE_DATA_VTD_S1`) is implemented
//!   (validation and descriptors, host-tested in `riommu_core`) but cannot
//!   be reached on QEMU.

#![forbid(unsafe_code)]

use crate::riommu::{
    domain::{
        Domain, DomainBox, NestedDomain, NewDomain, OldDomain, PagingConfig, PagingDomain, Parent,
    },
    driver::{
        Cap, DefaultDomain, DeviceGroup, Driver, DriverStatics, HwInfo, IommuDevice, Probe,
        ResvRegions, ResvType,
    },
    flags::AllocFlags,
    hw::HwPageTable,
    pure::{
        pt::{PageTable, Prot},
        vtd::{
            inval::s1_invalidation,
            nested::{
                check_invalidate_type, check_nested_alloc, check_vtd_s1, check_vtd_s1_invalidate,
                IommuHwptVtdS1, IommuHwptVtdS1Invalidate, IOMMU_HWPT_DATA_VTD_S1,
                IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, UAPI_SIZE,
            },
            pasid::FirstStage,
            pte::VtdFs4,
            RID_PASID_DEFAULT,
        },
    },
    sva::NoSva,
    userdata::{UserData, UserDataArray, UserStruct},
    viommu::NoViommu,
};
use crate::unit::{Target, Unit, VtdDev};
use kernel::{
    bindings,
    device::Device,
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};
use zerocopy_derive::{Immutable, KnownLayout};

/// 1 GiB, the page size only CAP.FL1GP allows.
const SZ_1G: u64 = 1 << 30;
/// `IOMMU_HWPT_DATA_NONE`: no driver data.
const HWPT_DATA_NONE: u32 = bindings::iommu_hwpt_data_type_IOMMU_HWPT_DATA_NONE;

/// The riommu VT-d driver.
pub struct VtdDriver;

crate::riommu::driver::declare_iommu_driver!(VtdDriver);

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
    const TYPE: u32 = IOMMU_HWPT_DATA_VTD_S1;
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
    const TYPE: u32 = IOMMU_HWPT_INVALIDATE_DATA_VTD_S1;
    const MIN_LEN: usize = UAPI_SIZE;
}

impl HwptVtdS1InvalidateUser {
    fn to_core(self) -> IommuHwptVtdS1Invalidate {
        let mut b = [0u8; UAPI_SIZE];
        b.copy_from_slice(self.as_bytes());
        IommuHwptVtdS1Invalidate::from_ne_bytes(&b)
    }
}

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

    fn probe_device(dev: &Device) -> Result<Probe<Self>> {
        let iommu = VtdDriver::registration().ok_or(ENODEV)?;
        let data = iommu.data().probe_device(dev)?;
        Ok(Probe { iommu, data })
    }

    fn release_device(dev: &IommuDevice<'_, Self>) {
        dev.iommu().data().release_device(dev.data());
    }

    fn get_resv_regions(_dev: &IommuDevice<'_, Self>, regions: &mut ResvRegions<'_>) {
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

    fn domain_alloc_user(
        dev: Option<&IommuDevice<'_, Self>>,
        flags: AllocFlags,
        parent: Option<Parent<'_, Self>>,
        data: UserData<'_>,
    ) -> Result<NewDomain<Self>> {
        match (parent, dev) {
            (None, Some(dev)) => {
                // Linux 7.3: driver data for a paging domain is refused.
                if !data.is_empty() {
                    return Err(EOPNOTSUPP);
                }
                // First stage takes PASID only; NEST_PARENT and
                // DIRTY_TRACKING need a second stage, which QEMU lacks.
                if !flags.without(AllocFlags::PASID).is_empty() {
                    return Err(EOPNOTSUPP);
                }
                VtdPaging::alloc(&unit_of(dev)).map(NewDomain::Paging)
            }
            (Some(parent), Some(dev)) => {
                let Parent::Domain(p) = &parent else {
                    return Err(EOPNOTSUPP);
                };
                let unit = unit_of(dev);
                check_nested_alloc(
                    unit.ecap,
                    flags.bits(),
                    data.data_type().unwrap_or(HWPT_DATA_NONE),
                )?;
                // The parent must be a second-stage nesting parent: this
                // driver makes none (see the module documentation).
                if !p.nest_parent {
                    return Err(EINVAL);
                }
                let s1 = data.read::<HwptVtdS1User>()?.to_core();
                let s1 = check_vtd_s1(&s1, unit.cap, unit.ecap)?;
                VtdNested::alloc(&parent, &unit, s1).map(NewDomain::Nested)
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
        if let Err(e) = self.unit.flush_all(self.id) {
            pr_err!("flushing DID {} failed: {:?}\n", self.id, e);
        }
        self.unit.free_did(self.id);
    }
}

/// The page table and the IOVA range unmapped since the last flush.
struct PagingInner {
    table: HwPageTable<VtdFs4>,
    /// `[start, end)` unmapped and not yet invalidated.
    pending: Option<(u64, u64)>,
}

/// A first-stage paging domain.
#[pin_data]
pub struct VtdPaging {
    unit: Arc<Unit>,
    did: Did,
    root: u64,
    /// Always false: a nesting parent would be a second-stage domain.
    nest_parent: bool,
    #[pin]
    inner: Mutex<PagingInner>,
}

impl VtdPaging {
    fn alloc(unit: &Arc<Unit>) -> Result<DomainBox<Self>> {
        let mut table = HwPageTable::<VtdFs4>::new(unit.pt_coherent())?;
        let root = table.root();
        let did = Did::new(unit)?;
        let mut pgsize_bitmap = PageTable::<VtdFs4>::pgsize_bitmap();
        if unit.cap.fl1gp() == 0 {
            pgsize_bitmap &= !SZ_1G;
        }
        let config = PagingConfig {
            pgsize_bitmap,
            aperture_start: 0,
            aperture_end: (1u64 << unit.va_bits()) - 1,
            force_aperture: true,
            dirty_tracking: false,
        };
        DomainBox::new_paging(
            config,
            try_pin_init!(VtdPaging {
                unit: unit.clone(),
                did,
                root,
                nest_parent: false,
                inner <- new_mutex!(PagingInner {
                    table,
                    pending: None,
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
        self.unit.attach(
            dev.data(),
            Target::FirstStage {
                root: self.root,
                did: self.did.id,
            },
        )
    }

    fn map_pages(
        &self,
        iova: u64,
        paddr: u64,
        pgsize: u64,
        pgcount: u64,
        prot: u32,
    ) -> (u64, Result) {
        let prot = Prot::from_iommu_prot(prot as i32);
        let (done, r) = self
            .inner
            .lock()
            .table
            .map_pages(iova, paddr, pgsize, pgcount, prot);
        // With caching mode the unit may cache not-present entries too.
        if self.unit.cap.cm() != 0 && done > 0 {
            if let Err(e) = self.unit.flush_range(self.did.id, iova, done) {
                return (done, Err(e));
            }
        }
        (done, r.map_err(Into::into))
    }

    fn unmap_pages(&self, iova: u64, pgsize: u64, pgcount: u64) -> u64 {
        let mut g = self.inner.lock();
        let n = g.table.unmap_pages(iova, pgsize, pgcount);
        if n > 0 {
            let end = iova.saturating_add(n);
            g.pending = Some(match g.pending {
                None => (iova, end),
                Some((s, e)) => (s.min(iova), e.max(end)),
            });
        }
        n
    }

    fn iova_to_phys(&self, iova: u64) -> u64 {
        self.inner.lock().table.iova_to_phys(iova)
    }

    fn iotlb_sync(&self) {
        let pending = self.inner.lock().pending.take();
        if let Some((start, end)) = pending {
            if let Err(e) = self.unit.flush_range(self.did.id, start, end - start) {
                pr_err!(
                    "IOTLB invalidation of DID {} failed: {:?}\n",
                    self.did.id,
                    e
                );
            }
        }
    }

    fn flush_iotlb_all(&self) {
        self.inner.lock().pending = None;
        if let Err(e) = self.unit.flush_all(self.did.id) {
            pr_err!(
                "IOTLB invalidation of DID {} failed: {:?}\n",
                self.did.id,
                e
            );
        }
    }
}

/// A nested domain: a user stage-1 table over a second-stage parent.
/// Allocation needs ECAP.NEST and a nesting parent, so this is unreachable
/// on QEMU (see the module documentation).
#[pin_data]
pub struct VtdNested {
    unit: Arc<Unit>,
    did: Did,
    /// The validated stage-1 configuration.
    _s1: FirstStage,
}

impl VtdNested {
    fn alloc(
        parent: &Parent<'_, VtdDriver>,
        unit: &Arc<Unit>,
        s1: FirstStage,
    ) -> Result<DomainBox<Self>> {
        let did = Did::new(unit)?;
        DomainBox::new_nested(
            parent,
            try_pin_init!(VtdNested {
                unit: unit.clone(),
                did,
                _s1: s1,
            }? Error),
        )
    }
}

#[vtable]
impl NestedDomain for VtdNested {
    type Driver = VtdDriver;

    fn attach_dev(
        _this: &Domain<Self>,
        _dev: &IommuDevice<'_, VtdDriver>,
        _old: OldDomain<'_, VtdDriver>,
    ) -> Result {
        // A nested PASID entry needs the parent's second-stage table, and
        // this driver has no second-stage domains.
        Err(EOPNOTSUPP)
    }

    fn cache_invalidate_user(this: &Domain<Self>, array: &mut UserDataArray<'_>) -> Result {
        if let Err(e) = check_invalidate_type(array.data_type()) {
            array.set_processed(0);
            return Err(e.into());
        }
        let unit = this.unit.clone();
        let did = this.did.id;
        let mamv = unit.cap.mamv() as u32;
        array.for_each_entry::<HwptVtdS1InvalidateUser>(|e| {
            let inv = check_vtd_s1_invalidate(&e.to_core())?;
            let plan = s1_invalidation(&inv, did, RID_PASID_DEFAULT, mamv, None)?;
            unit.submit(plan.as_slice())
        })
    }
}
