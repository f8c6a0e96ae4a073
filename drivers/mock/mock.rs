// SPDX-License-Identifier: GPL-2.0

//! The mock IOMMU: `iommu_ops`, paging and nested domains.
//!
//! Behaviour and errnos follow the C mock of `drivers/iommu/iommufd/selftest.c`
//! in Linux 7.3, page geometry included (`riommu_core/src/mockpt.rs`).

#![forbid(unsafe_code)]

use crate::riommu::{
    device::{Cap, HwInfo, IommuDevice, Probe, ProbingDevice},
    domain::{
        DirtyBitmap, Domain, DomainBox, DomainSet, NestedBox, NestedDomain, NewDomain, OldDomain,
        PagingConfig, PagingDomain, Parent,
    },
    driver::{Driver, DriverStatics},
    flags::AllocFlags,
    iopf::{PageRequest, PageResponse},
    iotlb::IotlbGather,
    mockbus::{MockBusDriver, MockDevice},
    objset::ObjSet,
    pages::PhysPages,
    pgtable::{LockedPageTable, MapTarget},
    pure::{mockpt::MockFormat, pt::PageTable},
    registration::{Instance, IommuRegistration},
    sva::{MmNotifier, MmNotifierHandler, SvaDomain},
    userdata::{UserData, UserDataArray},
    viommu::{HwQueue, NewHwQueue, Vdevice, VdeviceCore, Viommu, ViommuCore, ViommuImpl},
};
use crate::uapi;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::{
    mm::MmWithUser,
    new_mutex, new_spinlock,
    prelude::*,
    sync::{Arc, Mutex, SpinLock},
};

/// The mock driver.
pub struct MockDriver;

// `DriverStatics` is implemented in the crate root (`declare_iommu_driver!`).

/// State of the one mock IOMMU instance.
///
/// The control device finds paging and nested domains by their HWPT id in
/// iommufd's object table, as the C mock does
/// ([`crate::riommu::iommufd::IommufdCtx::with_hwpt`]); only their number is
/// kept ([`live_domains`]).
pub struct MockInstance {
    /// Live vIOMMUs, keyed by the iommufd context of their device.
    pub viommus: Arc<ObjSet<Viommu<MockViommu>>>,
    /// Live SVA domains.
    pub sva: Arc<DomainSet<MockSva>>,
    /// Live mock devices.
    pub devices: AtomicU64,
}

/// `(pasid, domain token)` pairs, see [`MockDevData::pasids`].
pub type PasidTable = Pin<KBox<Mutex<KVec<(u32, usize)>>>>;

/// A device's cache slots (the C mock's `mock_dev::cache`): set to
/// [`uapi::DEV_CACHE_DEFAULT`] when the device is created, cleared by vIOMMU
/// invalidations through the device's vDEVICE.  Shared (counted) by the
/// device's data and its vDEVICE.
pub struct DevCache {
    slots: [AtomicU32; uapi::DEV_CACHE_NUM],
}

impl DevCache {
    /// Slots holding [`uapi::DEV_CACHE_DEFAULT`].
    pub fn new() -> Result<Arc<Self>> {
        Ok(Arc::new(
            Self {
                slots: [const { AtomicU32::new(uapi::DEV_CACHE_DEFAULT) }; uapi::DEV_CACHE_NUM],
            },
            GFP_KERNEL,
        )?)
    }

    /// The value of slot `id`.
    pub fn get(&self, id: usize) -> Option<u32> {
        self.slots.get(id).map(|c| c.load(Ordering::Relaxed))
    }

    /// Clears slot `id` (an invalidation), or every slot for `None`.
    fn clear(&self, id: Option<usize>) {
        match id {
            Some(id) => {
                if let Some(c) = self.slots.get(id) {
                    c.store(0, Ordering::Relaxed);
                }
            }
            None => {
                for c in &self.slots {
                    c.store(0, Ordering::Relaxed);
                }
            }
        }
    }
}

/// What the C mock records in `mock_dev::viommu` and `vdev_id` when a
/// device's RID is attached: the vIOMMU of the nested domain attached (its
/// token, [`domain_token`] of the [`Viommu`]) and the device's virtual id on
/// it; `None` on any other domain.  See [`MockDevData::viommu`].
pub type ViommuRecord = Pin<KBox<Mutex<Option<(usize, u64)>>>>;

/// Data of a device on the mock bus, set by the control device.
pub struct MockDevData {
    /// `RIOMMU_MOCK_DEV_*` flags.
    pub flags: u32,
    /// Identity of the iommufd context the device is bound to.
    pub ctx_key: usize,
    /// Armed by a first attach to [`uapi::PASID_FAKE_ERROR`]: the next one
    /// fails, to exercise the core's rollback (as the C mock).
    pub pasid_fake_error: AtomicBool,
    /// The domain each PASID is attached to, as the `set_dev_pasid`
    /// callbacks set it: `(pasid, token)`, the token being the address of
    /// the domain's driver data ([`domain_token`]).  Read by the control
    /// device's PASID checks, instead of the core's private attach handles.
    pub pasids: PasidTable,
    /// The device's cache slots.
    pub cache: Arc<DevCache>,
    /// The vIOMMU and virtual id `RIOMMU_MOCK_DEV_TRIGGER_VEVENT` reports
    /// for, as the RID attach callbacks record them (C:
    /// `mock_domain_nop_attach()`).  A token, not a reference: it names a
    /// vIOMMU only while the device is attached to one of its nested
    /// domains (which hold the vIOMMU), and every RID attach updates it;
    /// users look the vIOMMU up in [`MockInstance::viommus`].
    pub viommu: ViommuRecord,
}

impl MockDevData {
    /// Data for a new device.
    pub fn new(flags: u32, ctx_key: usize) -> Result<Self> {
        Ok(Self {
            flags,
            ctx_key,
            pasid_fake_error: AtomicBool::new(false),
            pasids: KBox::pin_init(new_mutex!(KVec::new()), GFP_KERNEL)?,
            cache: DevCache::new()?,
            viommu: KBox::pin_init(new_mutex!(None), GFP_KERNEL)?,
        })
    }

    /// The token of the domain attached to `pasid`, if any.
    pub fn pasid_token(&self, pasid: u32) -> Option<usize> {
        self.pasids
            .lock()
            .iter()
            .find(|&&(p, _)| p == pasid)
            .map(|&(_, t)| t)
    }
}

/// The token of a domain for [`MockDevData::pasids`]: the address of its
/// driver data (unique among live domains of every type).
pub fn domain_token<T>(d: &T) -> usize {
    core::ptr::from_ref(d) as usize
}

/// The C mock's PASID fault injection, run by every `set_dev_pasid`, and
/// the record of the attachment (`token`, `None` for blocked) on success.
fn pasid_set(dev: &IommuDevice<'_, MockDriver>, pasid: u32, token: Option<usize>) -> Result {
    let Some(data) = MockDevice::<MockDriver>::data_of(dev.iommu(), dev.device()) else {
        return Ok(());
    };
    if pasid == uapi::PASID_FAKE_ERROR {
        if token.is_none() {
            data.pasid_fake_error.store(false, Ordering::Relaxed);
        } else if data.pasid_fake_error.swap(false, Ordering::Relaxed) {
            return Err(ENOMEM);
        } else {
            data.pasid_fake_error.store(true, Ordering::Relaxed);
        }
    }
    let mut pasids = data.pasids.lock();
    let i = pasids.iter().position(|&(p, _)| p == pasid);
    match (i, token) {
        (Some(i), Some(t)) => pasids[i].1 = t,
        (Some(i), None) => {
            pasids.remove(i).map_err(|_| EINVAL)?;
        }
        (None, Some(t)) => pasids.push((pasid, t), GFP_KERNEL)?,
        (None, None) => {}
    }
    Ok(())
}

/// Records the vIOMMU (`new`: its token and the device's virtual id on it)
/// of the domain `dev`'s RID is being attached to, as the C mock's
/// `mock_domain_nop_attach()`: only when the vIOMMU changes.
fn viommu_set(dev: &IommuDevice<'_, MockDriver>, new: Option<(usize, u64)>) {
    let Some(data) = MockDevice::<MockDriver>::data_of(dev.iommu(), dev.device()) else {
        return;
    };
    let mut rec = data.viommu.lock();
    if rec.map(|r| r.0) != new.map(|n| n.0) {
        *rec = new;
    }
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
pub fn register() -> Result<IommuRegistration<MockDriver>> {
    IommuRegistration::new_mock_bus(
        c"riommu_mock",
        1 << uapi::PASID_WIDTH,
        Ok::<_, Error>(MockInstance {
            viommus: Arc::pin_init(ObjSet::new(), GFP_KERNEL)?,
            sva: Arc::pin_init(DomainSet::new(), GFP_KERNEL)?,
            devices: AtomicU64::new(0),
        }),
    )
}

/// Live paging and nested domains of riommu_mock, by [`Live`] kind
/// (module-wide, as the table page count: the mock registers one instance).
static LIVE: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
/// The [`Live`] kind of paging domains.
const PAGING: usize = 0;
/// The [`Live`] kind of nested domains.
const NESTED: usize = 1;

/// The numbers of live paging and nested domains, for `RIOMMU_MOCK_STATS`.
pub fn live_domains() -> (u64, u64) {
    (
        LIVE[PAGING].load(Ordering::Relaxed),
        LIVE[NESTED].load(Ordering::Relaxed),
    )
}

/// One live domain of kind `K`, counted while the domain's data lives.  A
/// zero-sized field: the domain's size, so its slab class, is unchanged.
struct Live<const K: usize>;

impl<const K: usize> Live<K> {
    fn new() -> Self {
        LIVE[K].fetch_add(1, Ordering::Relaxed);
        Self
    }
}

impl<const K: usize> Drop for Live<K> {
    fn drop(&mut self) {
        LIVE[K].fetch_sub(1, Ordering::Relaxed);
    }
}

/// The registered instance (the control device's way in).
pub fn instance() -> Result<Arc<Instance<MockDriver>>> {
    MockDriver::instance().ok_or(ENODEV)
}

#[vtable]
impl Driver for MockDriver {
    type Paging = MockPaging;
    type Nested = MockNested;
    type DevData = MockDevPriv;
    type Data = MockInstance;
    type Viommu = MockViommu;
    type Sva = MockSva;

    // As the C mock (`mock_ops.user_pasid_table`): page requests for a PASID
    // without its own domain go to the RID's nested domain.
    const USER_PASID_TABLE: bool = true;

    fn probe_device(dev: &ProbingDevice<'_>) -> Result<Probe<Self>> {
        let inst = MockDevice::<MockDriver>::instance_of(dev).ok_or(ENODEV)?;
        let data = MockDevice::<MockDriver>::data_of(&inst, dev).ok_or(ENODEV)?;
        let data = MockDevPriv {
            flags: data.flags,
            ctx_key: data.ctx_key,
        };
        Ok(Probe { iommu: inst, data })
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

    fn attach_blocked(dev: &IommuDevice<'_, Self>, _old: OldDomain<'_, Self>) -> Result {
        viommu_set(dev, None);
        Ok(())
    }

    fn blocked_set_dev_pasid(
        dev: &IommuDevice<'_, Self>,
        pasid: u32,
        _old: OldDomain<'_, Self>,
    ) -> Result {
        pasid_set(dev, pasid, None)
    }

    fn domain_alloc_sva(
        dev: &IommuDevice<'_, Self>,
        mm: &MmWithUser,
    ) -> Result<DomainBox<MockSva>> {
        let b = DomainBox::new_sva(try_pin_init!(MockSva {
            notifier <- MmNotifier::new(try_pin_init!(InvalRecorder {
                log <- new_spinlock!(InvalLog {
                    ranges: [(0, 0); INVAL_LOG_LEN],
                    count: 0,
                }),
                released: AtomicBool::new(false),
            }? Error)),
        }? Error))?;
        b.domain().notifier.register(mm)?;
        b.insert_into(&instance()?.data().sva, dev.data().ctx_key)?;
        Ok(b)
    }

    /// As the C mock's `mock_domain_page_response()`: nothing to tell a
    /// device that does not exist.  (Implementing it enables IOPF: a device
    /// joins the instance's fault queue while a fault-capable domain is
    /// attached, as `mock_dev_enable_iopf()`.)
    fn page_response(_dev: &IommuDevice<'_, Self>, _req: &PageRequest, _resp: &PageResponse) {}

    fn capable(dev: &IommuDevice<'_, Self>, cap: Cap) -> bool {
        match cap {
            Cap::CacheCoherency => true,
            Cap::DirtyTracking => dev.data().flags & uapi::DEV_NO_DIRTY == 0,
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
            (None, Some(dev)) => alloc_paging(dev, flags, data).map(NewDomain::Paging),
            (Some(p @ Parent::Domain(_)), Some(_)) | (Some(p @ Parent::Viommu(_)), None) => {
                alloc_nested(&p, flags, data).map(NewDomain::Nested)
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
    // As `mock_domain_alloc_pgtable()`: every page size of the table (2 KiB
    // to 64 GiB) and the mock aperture, or for the huge variant 1 MiB
    // leaves (one level-1 entry, `MOCK_HUGE_PAGE_SIZE`) and PAGE_SIZE,
    // which iommufd needs, over the whole table.
    let config = match pagetable_type {
        uapi::PAGETABLE_DEFAULT => PagingConfig {
            pgsize_bitmap: PageTable::<MockFormat>::pgsize_bitmap(),
            aperture_start: uapi::APERTURE_START,
            aperture_end: uapi::APERTURE_LAST,
            force_aperture: true,
        },
        uapi::PAGETABLE_HUGE => PagingConfig {
            pgsize_bitmap: PageTable::<MockFormat>::level_size(1) | kernel::page::PAGE_SIZE as u64,
            aperture_start: 0,
            aperture_end: (1u64 << PageTable::<MockFormat>::va_bits()) - 1,
            force_aperture: true,
        },
        _ => return Err(EOPNOTSUPP),
    };
    DomainBox::new_paging_dirty(
        config,
        dirty,
        try_pin_init!(MockPaging {
            table <- LockedPageTable::new(),
            dirty_tracking: AtomicBool::new(false),
            dirty_ops: dirty,
            min_page: 1 << config.pgsize_bitmap.trailing_zeros(),
            _live: Live::new(),
        }? Error),
    )
}

fn alloc_nested<'a>(
    parent: &Parent<'a, MockDriver>,
    flags: AllocFlags,
    data: UserData<'_>,
) -> Result<NestedBox<'a, MockNested>> {
    if !flags.without(AllocFlags::PASID).is_empty() {
        return Err(EOPNOTSUPP);
    }
    if data.data_type() != Some(uapi::HWPT_DATA_SELFTEST) {
        return Err(EOPNOTSUPP);
    }
    let cfg = data.read::<uapi::HwptSelftest>()?;
    DomainBox::new_nested(
        parent,
        try_pin_init!(MockNested {
        iotlb: [
            AtomicU32::new(cfg.iotlb),
            AtomicU32::new(cfg.iotlb),
            AtomicU32::new(cfg.iotlb),
            AtomicU32::new(cfg.iotlb),
        ],
        _live: Live::new(),
    }? Error),
    )
}

/// A mock paging domain: a Rust radix page table.
#[pin_data]
pub struct MockPaging {
    #[pin]
    table: LockedPageTable<MockFormat>,
    dirty_tracking: AtomicBool,
    dirty_ops: bool,
    /// The smallest page size of the domain.
    min_page: u64,
    _live: Live<PAGING>,
}

impl MockPaging {
    /// Whether dirty tracking is on.
    pub fn dirty_tracking(&self) -> bool {
        self.dirty_tracking.load(Ordering::Relaxed)
    }

    /// Marks the entry mapping `iova` dirty, as a device write would (the
    /// whole leaf then reads dirty).
    pub fn mark_dirty(&self, iova: u64) -> bool {
        self.table.set_dirty(iova)
    }

    /// The smallest page size, what `IOMMU_TEST_OP_MD_CHECK_MAP` steps by
    /// (`1 << __ffs(domain->pgsize_bitmap)`).
    pub fn min_page_size(&self) -> u64 {
        self.min_page
    }

    /// Number of page-table pages of this domain.
    pub fn table_count(&self) -> usize {
        self.table.table_count()
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
        check_attach(self.dirty_ops, dev)?;
        viommu_set(dev, None);
        Ok(())
    }

    fn set_dev_pasid(
        &self,
        dev: &IommuDevice<'_, MockDriver>,
        pasid: u32,
        _old: OldDomain<'_, MockDriver>,
    ) -> Result {
        pasid_set(dev, pasid, Some(domain_token(self)))
    }

    fn map_pages(
        &self,
        target: MapTarget<'_>,
        prot: u32,
        gather: &mut IotlbGather<'_>,
    ) -> (u64, Result) {
        self.table.map_pages(target, prot, gather)
    }

    fn unmap_pages(
        &self,
        iova: u64,
        pgsize: u64,
        pgcount: u64,
        gather: &mut IotlbGather<'_>,
    ) -> u64 {
        self.table.unmap_pages(iova, pgsize, pgcount, gather)
    }

    fn iova_to_phys(&self, iova: u64) -> u64 {
        self.table.iova_to_phys(iova)
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
        self.table.read_and_clear_dirty(iova, size, no_clear, dirty);
        Ok(())
    }
}

/// A mock nested domain: four IOTLB slots.
#[pin_data]
pub struct MockNested {
    iotlb: [AtomicU32; uapi::IOTLB_NUM],
    _live: Live<NESTED>,
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
        this: &Domain<Self>,
        dev: &IommuDevice<'_, MockDriver>,
        _old: OldDomain<'_, MockDriver>,
    ) -> Result {
        // As the C mock: a nested domain of a vIOMMU needs the device to have
        // a vDEVICE on it (ENOENT otherwise).
        let new = match this.viommu() {
            Some(v) => Some((domain_token(v), v.vdev_id_of(dev.device())?)),
            None => None,
        };
        viommu_set(dev, new);
        Ok(())
    }

    fn set_dev_pasid(
        this: &Domain<Self>,
        dev: &IommuDevice<'_, MockDriver>,
        pasid: u32,
        _old: OldDomain<'_, MockDriver>,
    ) -> Result {
        pasid_set(dev, pasid, Some(domain_token::<Self>(this)))
    }

    fn cache_invalidate_user(this: &Domain<Self>, array: &mut UserDataArray<'_>) -> Result {
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
                for slot in &this.iotlb {
                    slot.store(0, Ordering::Relaxed);
                }
            } else {
                this.iotlb[inv.iotlb_id as usize].store(0, Ordering::Relaxed);
            }
            Ok(())
        })
    }
}

/// A mock vIOMMU (`IOMMU_VIOMMU_TYPE_SELFTEST`).
/// (The two pages of the optional loopback data belong to the vIOMMU:
/// [`Viommu::mmap_pages`].)
pub struct MockViommu;

/// A mock vDEVICE: the way to its device's cache slots.
pub struct MockVdev {
    /// The device's slots, by a counted reference (the vDEVICE's data
    /// cannot borrow from its device).
    cache: Arc<DevCache>,
    /// Set by `vdevice_release`: an invalidation that still reaches the
    /// vDEVICE afterwards WARNs (the API must unpublish it first).
    released: AtomicBool,
}

impl MockVdev {
    /// The value of the device's cache slot `id`.
    pub fn cache(&self, id: usize) -> Option<u32> {
        self.cache.get(id)
    }
}

/// Pages behind the vIOMMU's mmap region (as the C mock: 2).
const VIOMMU_MMAP_ORDER: u32 = 1;

impl ViommuImpl for MockViommu {
    type Driver = MockDriver;
    type Vdev = MockVdev;
    type HwQueue = MockHwQueue;

    fn supports(_dev: &IommuDevice<'_, MockDriver>, ty: u32) -> bool {
        ty == uapi::VIOMMU_TYPE_SELFTEST
    }

    fn init<'a>(
        core: &ViommuCore<'a>,
        _parent: &'a Domain<MockPaging>,
        data: UserData<'_>,
    ) -> Result<impl PinInit<Self, Error> + 'a> {
        if !data.is_empty() {
            let mut d = data.read::<uapi::ViommuSelftest>()?;
            let pages = PhysPages::alloc(VIOMMU_MMAP_ORDER)?;
            pages.write_u32(0, d.in_data)?;
            d.out_mmap_length = pages.len() as u64;
            // The vIOMMU owns the pages from here: a failure below drops
            // the region with the failed vIOMMU.
            let offset = core.alloc_mmap(pages)?;
            d.out_data = d.in_data;
            d.out_mmap_offset = offset as u64;
            data.write(&d)?;
        }
        Ok(Ok::<_, Error>(MockViommu))
    }

    fn set(_viommu: &Viommu<Self>) -> Option<Arc<ObjSet<Viommu<Self>>>> {
        instance().ok().map(|i| i.data().viommus.clone())
    }

    fn cache_invalidate(viommu: &Viommu<Self>, array: &mut UserDataArray<'_>) -> Result {
        // A zero-length array of the right type validates the type.
        if array.entry_num() == 0 && array.data_type() == uapi::VIOMMU_INVALIDATE_DATA_SELFTEST {
            array.set_processed(0);
            return Ok(());
        }
        let cmds = match array.read_all::<uapi::ViommuInvalidateSelftest>() {
            Ok(c) => c,
            Err(e) => {
                array.set_processed(0);
                return Err(e);
            }
        };
        let mut done = 0;
        let mut ret = Ok(());
        for cmd in cmds.iter() {
            if cmd.flags & !uapi::INVALIDATE_FLAG_ALL != 0 {
                ret = Err(EOPNOTSUPP);
                break;
            }
            if cmd.cache_id > uapi::DEV_CACHE_ID_MAX {
                ret = Err(EINVAL);
                break;
            }
            let found = viommu.with_vdevice(cmd.vdev_id.into(), |vd: &Vdevice<MockVdev>| {
                kernel::warn_on!(vd.released.load(Ordering::Relaxed));
                if cmd.flags & uapi::INVALIDATE_FLAG_ALL != 0 {
                    vd.cache.clear(None);
                } else {
                    vd.cache.clear(Some(cmd.cache_id as usize));
                }
            });
            if found.is_none() {
                ret = Err(EINVAL);
                break;
            }
            done += 1;
        }
        array.set_processed(done);
        ret
    }

    fn vdevice_init(
        _viommu: &Viommu<Self>,
        vdev: &VdeviceCore<'_>,
    ) -> Result<impl PinInit<MockVdev, Error>> {
        // The vDEVICE's device sits behind the vIOMMU's IOMMU instance
        // (`iommufd_vdevice_alloc_ioctl()` checks it), so on our mock bus.
        let inst = instance()?;
        let data = MockDevice::<MockDriver>::data_of(&inst, vdev.device()).ok_or(EINVAL)?;
        Ok(Ok::<_, Error>(MockVdev {
            cache: data.cache.clone(),
            released: AtomicBool::new(false),
        }))
    }

    fn vdevice_release(_viommu: &Viommu<Self>, vdev: &Vdevice<MockVdev>) {
        vdev.released.store(true, Ordering::Relaxed);
    }

    fn hw_queue_supports(_viommu: &Viommu<Self>, ty: u32) -> bool {
        ty == uapi::HW_QUEUE_TYPE_SELFTEST
    }

    /// As `mock_hw_queue_init_phys()`: queues `0..HW_QUEUE_MAX`, each but
    /// the first depending on the one below it.
    fn hw_queue_init<'a>(
        new: &mut NewHwQueue<'a, Self>,
    ) -> Result<impl PinInit<MockHwQueue, Error> + 'a> {
        let index = new.index();
        if index >= uapi::HW_QUEUE_MAX {
            return Err(EINVAL);
        }
        // A duplicate index (`EEXIST`) is refused by the API before this.
        let prev = index.checked_sub(1);
        if let Some(p) = prev {
            if new.sibling(p).is_none() {
                return Err(EIO);
            }
        }
        // As the C mock: catch a core that converted the address wrongly.
        let parent = new.viommu().parent();
        if new.base_addr_pa() != parent.iova_to_phys(new.core().base_addr()) {
            return Err(EFAULT);
        }
        if let Some(p) = prev {
            // ENOENT: the queue below is being destroyed meanwhile.
            new.depend_on(p)
                .map_err(|e| if e == ENOENT { EIO } else { e })?;
        }
        Ok(Ok::<_, Error>(MockHwQueue {
            released: AtomicBool::new(false),
        }))
    }

    fn hw_queue_release(_viommu: &Viommu<Self>, queue: &HwQueue<MockHwQueue>) {
        kernel::warn_on!(queue.released.swap(true, Ordering::Relaxed));
    }
}

/// A mock hardware queue (`IOMMU_HW_QUEUE_TYPE_SELFTEST`): the API keeps its
/// index and its dependency on the queue below it.
pub struct MockHwQueue {
    /// Set by `hw_queue_release`, which must run once.
    released: AtomicBool,
}

/// How many invalidations an SVA domain remembers.
const INVAL_LOG_LEN: usize = 64;

/// The last invalidations of an SVA domain: the mock's "IOTLB" record.
pub struct InvalLog {
    ranges: [(u64, u64); INVAL_LOG_LEN],
    count: u64,
}

/// Records the MMU notifier's invalidations of the bound mm.
#[pin_data]
pub struct InvalRecorder {
    #[pin]
    log: SpinLock<InvalLog>,
    released: AtomicBool,
}

impl MmNotifierHandler for InvalRecorder {
    fn invalidate(&self, start: u64, end: u64) {
        let mut log = self.log.lock();
        let i = (log.count % INVAL_LOG_LEN as u64) as usize;
        log.ranges[i] = (start, end);
        log.count += 1;
    }

    fn release(&self) {
        self.released.store(true, Ordering::Relaxed);
    }
}

impl InvalRecorder {
    /// Whether a remembered invalidation covers `[start, end)`, and how many
    /// were recorded in all.
    pub fn covers(&self, start: u64, end: u64) -> (bool, u64) {
        let log = self.log.lock();
        let n = log.count.min(INVAL_LOG_LEN as u64) as usize;
        let hit = log.ranges[..n].iter().any(|&(s, e)| s <= start && end <= e);
        (hit, log.count)
    }
}

/// A mock SVA domain: the bound mm, followed through an MMU notifier.
#[pin_data]
pub struct MockSva {
    #[pin]
    notifier: MmNotifier<InvalRecorder>,
}

impl MockSva {
    /// A device access to the bound mm (see `RIOMMU_MOCK_SVA_ACCESS`).
    pub fn access(&self, addr: u64, buf: &mut [u8], write: bool) -> Result {
        self.notifier.access(addr, buf, write)
    }

    /// See [`InvalRecorder::covers`].
    pub fn covers(&self, start: u64, end: u64) -> (bool, u64) {
        self.notifier.handler().covers(start, end)
    }
}

impl SvaDomain for MockSva {
    type Driver = MockDriver;

    fn set_dev_pasid(
        this: &Domain<Self>,
        dev: &IommuDevice<'_, MockDriver>,
        pasid: u32,
        _old: OldDomain<'_, MockDriver>,
    ) -> Result {
        pasid_set(dev, pasid, Some(domain_token::<Self>(this)))
    }
}
