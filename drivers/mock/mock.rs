// SPDX-License-Identifier: GPL-2.0

//! The mock IOMMU: `iommu_ops`, paging and nested domains.
//!
//! Behaviour and errnos follow the C mock of `drivers/iommu/iommufd/selftest.c`
//! in Linux 7.3; where they differ on purpose (page sizes) it is said below.

#![forbid(unsafe_code)]

use crate::riommu::{
    domain::{
        DirtyBitmap, DomainBox, DomainSet, NestedDomain, NewDomain, OldDomain, PagingConfig,
        PagingDomain, Parent,
    },
    driver::{Cap, Driver, DriverStatics, HwInfo, IommuDevice, IommuRegistration, Probe},
    flags::AllocFlags,
    mockbus::{MockBusDriver, MockDevice},
    pgtable::IoPageTable,
    pure::{
        mockpt::MockFormat,
        pt::{PageTable, Prot},
    },
    userdata::{UserData, UserDataArray},
    viommu::NoViommu,
};
use crate::uapi;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::{device::Device, new_mutex, prelude::*, sync::Mutex};

/// The mock driver.
pub struct MockDriver;

crate::riommu::driver::declare_iommu_driver!(MockDriver);

/// State of the one mock IOMMU instance.
#[pin_data]
pub struct MockInstance {
    /// Live paging domains, keyed by the iommufd context of their device.
    #[pin]
    pub paging: DomainSet<MockPaging>,
    /// Live nested domains, keyed likewise.
    #[pin]
    pub nested: DomainSet<MockNested>,
    /// Live mock devices.
    pub devices: AtomicU64,
}

/// Data of a device on the mock bus, set by the control device.
pub struct MockDevData {
    /// `RIOMMU_MOCK_DEV_*` flags.
    pub flags: u32,
    /// Identity of the iommufd context the device is bound to.
    pub ctx_key: usize,
}

/// Per-device IOMMU private data.
pub struct MockDevPriv {
    flags: u32,
    ctx_key: usize,
}

impl MockBusDriver for MockDriver {
    type BusDevData = MockDevData;
}

/// Registers the mock IOMMU and its bus.
pub fn register(module: &'static ThisModule) -> impl PinInit<IommuRegistration<MockDriver>, Error> {
    IommuRegistration::new_mock_bus(
        module,
        c"riommu_mock",
        1 << uapi::PASID_WIDTH,
        try_pin_init!(MockInstance {
            paging <- DomainSet::new(),
            nested <- DomainSet::new(),
            devices: AtomicU64::new(0),
        }? Error),
    )
}

/// The registered instance (the control device's way in).
pub fn instance() -> Result<&'static IommuRegistration<MockDriver>> {
    MockDriver::registration().ok_or(ENODEV)
}

#[vtable]
impl Driver for MockDriver {
    type Paging = MockPaging;
    type Nested = MockNested;
    type DevData = MockDevPriv;
    type Data = MockInstance;
    type Viommu = NoViommu<MockDriver>;

    fn probe_device(dev: &Device) -> Result<Probe<Self>> {
        let reg = instance()?;
        let data = MockDevice::<MockDriver>::data_of(reg, dev).ok_or(ENODEV)?;
        Ok(Probe {
            iommu: reg,
            data: MockDevPriv {
                flags: data.flags,
                ctx_key: data.ctx_key,
            },
        })
    }

    fn hw_info(_dev: &IommuDevice<'_, Self>, requested: u32) -> Result<HwInfo> {
        if requested != uapi::HW_INFO_TYPE_DEFAULT && requested != uapi::HW_INFO_TYPE_RIOMMU_MOCK {
            return Err(EOPNOTSUPP);
        }
        HwInfo::new(
            uapi::HW_INFO_TYPE_RIOMMU_MOCK,
            &uapi::HwInfo {
                flags: 0,
                test_reg: uapi::HW_INFO_REGVAL,
            },
        )
    }

    fn capable(dev: &IommuDevice<'_, Self>, cap: Cap) -> bool {
        match cap {
            Cap::CacheCoherency => true,
            Cap::DirtyTracking => dev.data().flags & uapi::DEV_NO_DIRTY == 0,
            _ => false,
        }
    }

    fn domain_alloc_user(
        dev: Option<&IommuDevice<'_, Self>>,
        flags: AllocFlags,
        parent: Option<Parent<'_, Self>>,
        data: UserData<'_>,
    ) -> Result<NewDomain<Self>> {
        match (parent, dev) {
            (None, Some(dev)) => alloc_paging(dev, flags, data).map(NewDomain::Paging),
            (Some(Parent::Domain(_)), Some(dev)) => {
                alloc_nested(dev.data().ctx_key, flags, data).map(NewDomain::Nested)
            }
            _ => Err(EOPNOTSUPP),
        }
    }
}

fn alloc_paging(
    dev: &IommuDevice<'_, MockDriver>,
    flags: AllocFlags,
    data: UserData<'_>,
) -> Result<DomainBox<MockPaging>> {
    let priv_ = dev.data();
    let dirty = flags.contains(AllocFlags::DIRTY_TRACKING);
    if dirty && priv_.flags & uapi::DEV_NO_DIRTY != 0 {
        return Err(EOPNOTSUPP);
    }
    let mut pagetable_type = uapi::PAGETABLE_DEFAULT;
    if let Some(ty) = data.data_type() {
        if ty != uapi::HWPT_DATA_SELFTEST && ty != uapi::HWPT_DATA_NONE {
            return Err(EOPNOTSUPP);
        }
        pagetable_type = data.read::<uapi::HwptSelftest>()?.pagetable_type;
    }
    let full = PageTable::<MockFormat>::pgsize_bitmap();
    let config = match pagetable_type {
        uapi::PAGETABLE_DEFAULT => PagingConfig {
            pgsize_bitmap: full,
            aperture_start: uapi::APERTURE_START,
            aperture_end: uapi::APERTURE_LAST,
            force_aperture: true,
            dirty_tracking: dirty,
        },
        uapi::PAGETABLE_HUGE => PagingConfig {
            // Userspace maps only huge pages; the core insists on PAGE_SIZE.
            pgsize_bitmap: (full & !(PageTable::<MockFormat>::level_size(1) - 1))
                | kernel::page::PAGE_SIZE as u64,
            aperture_start: 0,
            aperture_end: (1u64 << PageTable::<MockFormat>::va_bits()) - 1,
            force_aperture: true,
            dirty_tracking: dirty,
        },
        _ => return Err(EOPNOTSUPP),
    };
    let table = IoPageTable::<MockFormat>::new()?;
    let b = DomainBox::new_paging(
        config,
        try_pin_init!(MockPaging {
            table <- new_mutex!(table),
            dirty_tracking: AtomicBool::new(false),
            dirty_ops: dirty,
        }? Error),
    )?;
    let inst = instance()?;
    inst.data().paging.insert(priv_.ctx_key, &b)?;
    Ok(b)
}

fn alloc_nested(
    ctx_key: usize,
    flags: AllocFlags,
    data: UserData<'_>,
) -> Result<DomainBox<MockNested>> {
    if !flags.without(AllocFlags::PASID).is_empty() {
        return Err(EOPNOTSUPP);
    }
    if data.data_type() != Some(uapi::HWPT_DATA_SELFTEST) {
        return Err(EOPNOTSUPP);
    }
    let cfg = data.read::<uapi::HwptSelftest>()?;
    let b = DomainBox::new_nested(try_pin_init!(MockNested {
        iotlb: [
            AtomicU32::new(cfg.iotlb),
            AtomicU32::new(cfg.iotlb),
            AtomicU32::new(cfg.iotlb),
            AtomicU32::new(cfg.iotlb),
        ],
    }? Error))?;
    instance()?.data().nested.insert(ctx_key, &b)?;
    Ok(b)
}

/// A mock paging domain: a Rust radix page table.
#[pin_data]
pub struct MockPaging {
    #[pin]
    table: Mutex<IoPageTable<MockFormat>>,
    dirty_tracking: AtomicBool,
    dirty_ops: bool,
}

impl MockPaging {
    /// Whether dirty tracking is on.
    pub fn dirty_tracking(&self) -> bool {
        self.dirty_tracking.load(Ordering::Relaxed)
    }

    /// Marks the leaf mapping `iova` dirty, as a device write would.
    pub fn mark_dirty(&self, iova: u64) -> bool {
        self.table.lock().set_dirty(iova)
    }

    /// Number of page-table pages of this domain.
    pub fn table_count(&self) -> usize {
        self.table.lock().table_count()
    }
}

fn check_attach(domain_dirty: bool, dev: &IommuDevice<'_, MockDriver>) -> Result {
    if domain_dirty && dev.data().flags & uapi::DEV_NO_DIRTY != 0 {
        return Err(EINVAL);
    }
    Ok(())
}

#[vtable]
impl PagingDomain for MockPaging {
    type Driver = MockDriver;

    fn attach_dev(
        &self,
        dev: &IommuDevice<'_, MockDriver>,
        _old: OldDomain<'_, MockDriver>,
    ) -> Result {
        check_attach(self.dirty_ops, dev)
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
            .table
            .lock()
            .map_pages(iova, paddr, pgsize, pgcount, prot);
        (done, r.map_err(Into::into))
    }

    fn unmap_pages(&self, iova: u64, pgsize: u64, pgcount: u64) -> u64 {
        self.table.lock().unmap_pages(iova, pgsize, pgcount)
    }

    fn iova_to_phys(&self, iova: u64) -> u64 {
        self.table.lock().iova_to_phys(iova)
    }

    fn set_dirty_tracking(&self, enable: bool) -> Result {
        self.dirty_tracking.store(enable, Ordering::Relaxed);
        Ok(())
    }

    fn read_and_clear_dirty(
        &self,
        iova: u64,
        size: u64,
        no_clear: bool,
        dirty: &mut DirtyBitmap<'_>,
    ) -> Result {
        self.table
            .lock()
            .read_and_clear_dirty(iova, size, no_clear, |i, l| dirty.record(i, l));
        Ok(())
    }
}

/// A mock nested domain: four IOTLB slots.
#[pin_data]
pub struct MockNested {
    iotlb: [AtomicU32; uapi::IOTLB_NUM],
}

impl MockNested {
    /// The value of IOTLB slot `id`.
    pub fn iotlb(&self, id: usize) -> Option<u32> {
        self.iotlb.get(id).map(|v| v.load(Ordering::Relaxed))
    }
}

#[vtable]
impl NestedDomain for MockNested {
    type Driver = MockDriver;

    fn attach_dev(
        &self,
        _dev: &IommuDevice<'_, MockDriver>,
        _old: OldDomain<'_, MockDriver>,
    ) -> Result {
        Ok(())
    }

    fn cache_invalidate_user(&self, array: &mut UserDataArray<'_>) -> Result {
        if array.data_type() != uapi::HWPT_INVALIDATE_DATA_SELFTEST {
            array.set_processed(0);
            return Err(EINVAL);
        }
        array.for_each_entry(|inv: uapi::InvalidateSelftest| {
            if inv.flags & !uapi::INVALIDATE_FLAG_ALL != 0 {
                return Err(EOPNOTSUPP);
            }
            if inv.iotlb_id > uapi::IOTLB_ID_MAX {
                return Err(EINVAL);
            }
            if inv.flags & uapi::INVALIDATE_FLAG_ALL != 0 {
                for slot in &self.iotlb {
                    slot.store(0, Ordering::Relaxed);
                }
            } else {
                self.iotlb[inv.iotlb_id as usize].store(0, Ordering::Relaxed);
            }
            Ok(())
        })
    }
}
