// SPDX-License-Identifier: GPL-2.0

//! The `iommu_ops` side of a Rust IOMMU driver.
//!
//! A driver implements [`Driver`] and invokes [`declare_iommu_driver!`] once
//! for its type; that builds the C `iommu_ops`, the domain operation tables
//! and the driver's static blocking domain.  Each [`IommuRegistration`] then
//! registers one IOMMU instance ([`Instance`], reference counted) with the
//! core.

use super::{
    bindings as rb,
    domain::{
        DirtyBitmap, Domain, DomainBox, NestedDomain, NewDomain, OldDomain, PagingDomain, Parent,
        ParentDomain,
    },
    flags::AllocFlags,
    iotlb::IotlbGather,
    sva::SvaDomain,
    userdata::{UserData, UserDataArray},
    viommu::{self, ViommuImpl},
};
use core::{
    cell::UnsafeCell,
    marker::{PhantomData, PhantomPinned},
    ptr,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, Ordering},
};
use kernel::{
    bindings,
    device::Device,
    error::from_result,
    ffi, new_condvar, new_mutex,
    prelude::*,
    str::CStr,
    sync::{Arc, ArcBorrow, CondVar, Mutex},
    types::Opaque,
    ThisModule,
};

/// How the core groups the driver's devices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceGroup {
    /// One group per device (`generic_device_group`).
    Generic,
    /// PCI rules: aliases and ACS (`pci_device_group`).
    Pci,
}

/// The domain devices start in (and return to on release).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultDomain {
    /// The driver's blocking domain: no DMA until someone attaches a domain
    /// (mock devices, which have no DMA API users).
    Blocked,
    /// The driver's identity domain (needs [`Driver::attach_identity`]):
    /// devices not under test keep working.
    Identity,
}

/// An `enum iommu_cap` query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cap {
    /// `IOMMU_CAP_CACHE_COHERENCY`
    CacheCoherency,
    /// `IOMMU_CAP_ENFORCE_CACHE_COHERENCY`
    EnforceCacheCoherency,
    /// `IOMMU_CAP_DEFERRED_FLUSH`
    DeferredFlush,
    /// `IOMMU_CAP_DIRTY_TRACKING`
    DirtyTracking,
    /// Any other capability.
    Other(u32),
}

impl Cap {
    fn from_raw(cap: bindings::iommu_cap) -> Self {
        match cap {
            bindings::iommu_cap_IOMMU_CAP_CACHE_COHERENCY => Cap::CacheCoherency,
            bindings::iommu_cap_IOMMU_CAP_ENFORCE_CACHE_COHERENCY => Cap::EnforceCacheCoherency,
            bindings::iommu_cap_IOMMU_CAP_DEFERRED_FLUSH => Cap::DeferredFlush,
            bindings::iommu_cap_IOMMU_CAP_DIRTY_TRACKING => Cap::DirtyTracking,
            other => Cap::Other(other),
        }
    }
}

/// The kind of a reserved region (`enum iommu_resv_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResvType {
    /// Must be mapped 1:1 at all times (`IOMMU_RESV_DIRECT`).
    Direct,
    /// Advertised 1:1 but relaxable (`IOMMU_RESV_DIRECT_RELAXABLE`).
    DirectRelaxable,
    /// Never map this range (`IOMMU_RESV_RESERVED`).
    Reserved,
    /// Hardware MSI window, untranslated (`IOMMU_RESV_MSI`).
    Msi,
    /// Software-managed MSI window (`IOMMU_RESV_SW_MSI`).
    SwMsi,
}

impl ResvType {
    fn raw(self) -> bindings::iommu_resv_type {
        match self {
            ResvType::Direct => bindings::iommu_resv_type_IOMMU_RESV_DIRECT,
            ResvType::DirectRelaxable => bindings::iommu_resv_type_IOMMU_RESV_DIRECT_RELAXABLE,
            ResvType::Reserved => bindings::iommu_resv_type_IOMMU_RESV_RESERVED,
            ResvType::Msi => bindings::iommu_resv_type_IOMMU_RESV_MSI,
            ResvType::SwMsi => bindings::iommu_resv_type_IOMMU_RESV_SW_MSI,
        }
    }
}

/// The list `get_resv_regions` fills (the core frees its entries).
pub struct ResvRegions<'a> {
    head: *mut bindings::list_head,
    _p: PhantomData<&'a mut bindings::list_head>,
}

impl ResvRegions<'_> {
    /// Adds `[start, start + len)` of kind `ty`, mapped with IOMMU `prot`
    /// where that applies (`IOMMU_READ | IOMMU_WRITE`...).
    pub fn add(&mut self, start: u64, len: usize, prot: u32, ty: ResvType) -> Result {
        // SAFETY: plain allocation; the core frees the region with the list.
        let r = unsafe {
            bindings::iommu_alloc_resv_region(
                start,
                len,
                prot as ffi::c_int,
                ty.raw(),
                bindings::GFP_KERNEL,
            )
        };
        if r.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `r` is a new region whose `list` is not on any list;
        // `head` is the core's list for this call (constructor).
        unsafe { bindings::list_add_tail(&raw mut (*r).list, self.head) };
        Ok(())
    }
}

/// Hardware information for `IOMMU_GET_HW_INFO`: a type and its bytes.
pub struct HwInfo {
    ty: u32,
    data: KVec<u8>,
}

impl HwInfo {
    /// Reports `value` as data of type `ty`.
    pub fn new<T: IntoBytes + zerocopy::Immutable>(ty: u32, value: &T) -> Result<Self> {
        let bytes = value.as_bytes();
        if bytes.is_empty() {
            return Err(EINVAL);
        }
        let mut data = KVec::with_capacity(bytes.len(), GFP_KERNEL)?;
        data.extend_from_slice(bytes, GFP_KERNEL)?;
        Ok(Self { ty, data })
    }
}

/// A device in a callback that the iommu core runs under its probe lock
/// (`iommu_probe_device_lock`): [`Driver::probe_device`] (from
/// `iommu_probe_device()`, drivers/iommu/iommu.c) and [`Driver::of_xlate`]
/// (from `of_iommu_configure()`, drivers/iommu/of_iommu.c).  The device's
/// firmware binding (`iommu_fwspec`) only changes under that lock, so it
/// may be read and extended through this type
/// ([`super::platform::fwspec_ids`], [`super::platform::fwspec_add_ids`]).
///
/// # Invariants
///
/// The core holds `iommu_probe_device_lock` for `'a`.
pub struct ProbingDevice<'a> {
    dev: &'a Device,
}

impl<'a> ProbingDevice<'a> {
    /// The device.
    pub fn device(&self) -> &'a Device {
        self.dev
    }
}

impl core::ops::Deref for ProbingDevice<'_> {
    type Target = Device;

    fn deref(&self) -> &Device {
        self.dev
    }
}

/// What the probe glue keeps in a probed device's `dev_iommu` private data
/// until `release_device`.
struct DevPriv<D: DriverStatics> {
    data: D::DevData,
    /// The instance whose `iommu_device` the core recorded for the device
    /// (`dev->iommu->iommu_dev`): the device keeps it alive.
    inst: Arc<Instance<D>>,
}

/// What [`Driver::probe_device`] returns for a device the driver handles.
pub struct Probe<D: DriverStatics> {
    /// The IOMMU instance the device sits behind: a registered one (the
    /// glue refuses the device with `ENODEV` otherwise).
    pub iommu: Arc<Instance<D>>,
    /// Per-device private data, dropped in `release_device`.
    pub data: D::DevData,
}

/// A device as seen by a driver's callbacks: probed by this driver.
///
/// # Invariants
///
/// `dev` was probed by driver `D` and not yet released: its `dev_iommu`
/// private data is a `KBox<DevPriv<D>>` (set by the probe glue, freed by the
/// release glue) whose instance's `iommu_device` is the device's
/// `iommu_dev`.
pub struct IommuDevice<'a, D: Driver> {
    dev: &'a Device,
    _p: PhantomData<D>,
}

impl<'a, D: DriverStatics> IommuDevice<'a, D> {
    /// Checks that `dev` was probed by `D`: its IOMMU instance uses `D`'s
    /// `iommu_ops`.  The 7.3 core can hand a domain's `attach_dev` a device
    /// of another driver (a replace across drivers is not refused), so the
    /// domain glue checks before trusting the device's private data.
    ///
    /// # Safety
    ///
    /// `dev` must be a live device, not released during `'a`.
    pub(in crate::riommu) unsafe fn from_raw_checked(dev: *mut bindings::device) -> Result<Self> {
        // SAFETY: a live device (caller); `iommu` and its `iommu_dev` are set
        // for any device an IOMMU probed, and read-only meanwhile.
        let ours = unsafe {
            let param = (*dev).iommu;
            !param.is_null()
                && !(*param).iommu_dev.is_null()
                && core::ptr::eq((*(*param).iommu_dev).ops, D::statics().iommu_ops())
        };
        if !ours {
            return Err(EINVAL);
        }
        // SAFETY: probed by `D` (checked) and live (caller).
        Ok(unsafe { Self::from_raw(dev) })
    }

    /// # Safety
    ///
    /// `dev` must be a device probed by `D`, not released during `'a`.
    pub(in crate::riommu) unsafe fn from_raw(dev: *mut bindings::device) -> Self {
        Self {
            // SAFETY: the core holds a reference for the duration of the callback.
            dev: unsafe { Device::from_raw(dev) },
            _p: PhantomData,
        }
    }

    /// The generic device.
    pub fn device(&self) -> &'a Device {
        self.dev
    }

    pub(in crate::riommu) fn as_raw(&self) -> *mut bindings::device {
        ptr::from_ref(self.dev)
            .cast::<bindings::device>()
            .cast_mut()
    }

    fn private(&self) -> &'a DevPriv<D> {
        // SAFETY: set to a `KBox<DevPriv<D>>` by the probe glue and freed
        // only by the release glue, after the last callback (type
        // invariant).
        unsafe { &*rb::riommu_shim_dev_iommu_priv_get(self.as_raw()).cast::<DevPriv<D>>() }
    }

    /// The driver's private data of the device.
    pub fn data(&self) -> &'a D::DevData {
        &self.private().data
    }

    /// The IOMMU instance the device sits behind (the device holds a
    /// reference to it until it is released).
    pub fn iommu(&self) -> &'a Instance<D> {
        &self.private().inst
    }

    /// The IOMMU instance the device sits behind, as a counted reference
    /// (for a domain or vIOMMU that keeps it).
    pub fn instance(&self) -> Arc<Instance<D>> {
        self.private().inst.clone()
    }
}

/// A Rust IOMMU driver: the typed form of `struct iommu_ops`.
#[vtable]
pub trait Driver: Send + Sync + Sized + 'static {
    /// The driver's paging domain.
    type Paging: PagingDomain<Driver = Self>;
    /// The driver's nested domain.
    type Nested: NestedDomain<Driver = Self>;
    /// Per-device private data (`dev_iommu_priv`).
    type DevData: Send + Sync;
    /// Per-IOMMU-instance data, kept in the [`Instance`].  It is dropped
    /// with the instance's last reference, which may be a domain's or
    /// vIOMMU's free, or a device's release (under the core's group lock):
    /// its `Drop` must not sleep on locks those paths hold.
    type Data: Send + Sync;
    /// The driver's vIOMMU ([`super::viommu::NoViommu`] for none).
    type Viommu: ViommuImpl<Driver = Self>;
    /// The driver's SVA domain ([`super::sva::NoSva`] for none).
    type Sva: SvaDomain<Driver = Self>;

    /// How the core groups devices.
    const DEVICE_GROUP: DeviceGroup = DeviceGroup::Generic;

    /// The default domain of every device.
    const DEFAULT_DOMAIN: DefaultDomain = DefaultDomain::Blocked;

    /// Decides whether the driver handles `dev`.  `ENODEV` means "not mine".
    fn probe_device(dev: &ProbingDevice<'_>) -> Result<Probe<Self>>
    where
        Self: DriverStatics;

    /// Called before the device's private data is dropped.
    fn release_device(_dev: &IommuDevice<'_, Self>)
    where
        Self: DriverStatics,
    {
    }

    /// `IOMMU_GET_HW_INFO`: `requested` is the type userspace asked for
    /// (`IOMMU_HW_INFO_TYPE_DEFAULT` for any).
    fn hw_info(_dev: &IommuDevice<'_, Self>, _requested: u32) -> Result<HwInfo>
    where
        Self: DriverStatics,
    {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `get_resv_regions`: ranges of the device's IOVA space that must not
    /// (or must only 1:1) be mapped, e.g. an MSI window.
    fn get_resv_regions(_dev: &IommuDevice<'_, Self>, _regions: &mut ResvRegions<'_>)
    where
        Self: DriverStatics,
    {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `capable`.
    fn capable(_dev: &IommuDevice<'_, Self>, _cap: Cap) -> bool
    where
        Self: DriverStatics,
    {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `of_xlate`: one device-tree IOMMU specifier of `dev` naming this
    /// driver's instance (`args`: its cells), before `probe_device`;
    /// typically records them with [`super::platform::fwspec_add_ids`].
    /// Implement it for IOMMUs described by the device tree.
    fn of_xlate(_dev: &ProbingDevice<'_>, _args: &[u32]) -> Result
    where
        Self: DriverStatics,
    {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The one allocation entry point for user domains.
    ///
    /// - `domain_alloc_paging_flags`: `parent == None`, `dev` is `Some`; the
    ///   driver must return [`NewDomain::Paging`].
    /// - `domain_alloc_nested`: `parent == Some(Parent::Domain(_))`, already
    ///   checked to be this driver's paging domain; `dev` is `Some`.
    /// - the vIOMMU's `alloc_domain_nested`: `parent ==
    ///   Some(Parent::Viommu(_))` and `dev` is `None` (the core passes no
    ///   device).
    ///
    /// Nested allocations must return [`NewDomain::Nested`].  `flags` holds
    /// only known flags: unknown ones were refused with `EOPNOTSUPP` before
    /// this call.
    fn domain_alloc_user<'a>(
        dev: Option<&IommuDevice<'_, Self>>,
        flags: AllocFlags,
        parent: Option<Parent<'a, Self>>,
        data: UserData<'_>,
    ) -> Result<NewDomain<'a, Self>>
    where
        Self: DriverStatics;

    /// `domain_alloc_sva`: a domain sharing `mm` with `dev` through a PASID.
    /// Register an [`super::sva::MmNotifier`] on `mm` to follow it.
    fn domain_alloc_sva(
        _dev: &IommuDevice<'_, Self>,
        _mm: &kernel::mm::MmWithUser,
    ) -> Result<DomainBox<Self::Sva>>
    where
        Self: DriverStatics,
    {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Attaches `dev` to the driver's blocking domain (also its default domain).
    fn attach_blocked(_dev: &IommuDevice<'_, Self>, _old: OldDomain<'_, Self>) -> Result
    where
        Self: DriverStatics,
    {
        Ok(())
    }

    /// Attaches `dev` to the driver's identity domain (DMA addresses are
    /// physical addresses).  Implementing it gives the driver an
    /// `identity_domain`.
    fn attach_identity(_dev: &IommuDevice<'_, Self>, _old: OldDomain<'_, Self>) -> Result
    where
        Self: DriverStatics,
    {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Blocks `pasid` of `dev` (the core's PASID detach); `old` is the domain
    /// it leaves.
    fn blocked_set_dev_pasid(
        _dev: &IommuDevice<'_, Self>,
        _pasid: u32,
        _old: OldDomain<'_, Self>,
    ) -> Result
    where
        Self: DriverStatics,
    {
        Ok(())
    }
}

/// The C tables of a driver, built by [`declare_iommu_driver!`].
///
/// # Invariants
///
/// `iommu_ops` is written only by [`IommuRegistration`] before the first
/// registration publishes it; afterwards all fields are read-only.
pub struct Statics {
    iommu_ops: UnsafeCell<bindings::iommu_ops>,
    paging_ops: bindings::iommu_domain_ops,
    nested_ops: bindings::iommu_domain_ops,
    blocked_ops: bindings::iommu_domain_ops,
    dirty_ops: bindings::iommu_dirty_ops,
    blocked: UnsafeCell<bindings::iommu_domain>,
    identity_ops: bindings::iommu_domain_ops,
    identity: UnsafeCell<bindings::iommu_domain>,
    viommu_ops: rb::iommufd_viommu_ops,
    sva_ops: bindings::iommu_domain_ops,
    /// The registered instances: a non-null entry is `Arc::as_ptr` of an
    /// `Instance<D>` whose registration holds a reference and clears the
    /// entry, then waits for a grace period, before letting it go.
    instances: [AtomicPtr<ffi::c_void>; MAX_INSTANCES],
    /// Which entries of `instances` belong to a registration that exists or
    /// is being made (each claimed with one `compare_exchange`, see
    /// `Claim::new`).
    claimed: [AtomicBool; MAX_INSTANCES],
    /// `UNPREPARED`, `PREPARING` (one registration fills in the tables), or
    /// `PREPARED` (before any instance published them; never written again).
    prepared: AtomicU8,
}

const UNPREPARED: u8 = 0;
const PREPARING: u8 = 1;
const PREPARED: u8 = 2;

// SAFETY: the C tables are immutable once published (type invariant); the
// instance slots are atomic.
unsafe impl Sync for Statics {}

/// Gives the glue access to a driver's [`Statics`].  Implemented by
/// [`declare_iommu_driver!`] only.
///
/// # Safety
///
/// `statics()` must return the tables built by `Statics::new::<Self>()`
/// for this very type: the glue identifies `Self`'s devices and domains by
/// the addresses of these tables and casts their private data to `Self`'s
/// types on that basis.  Driver modules are `#![forbid(unsafe_code)]` and so
/// cannot implement it by hand; the macro is invoked from the crate root.
pub unsafe trait DriverStatics: Driver {
    /// The driver's tables.
    fn statics() -> &'static Statics;

    /// The driver's first registered IOMMU instance, if any, as a counted
    /// reference.  Lets code outside the iommu callbacks (a control device,
    /// `probe_device`) reach an instance.
    fn instance() -> Option<Arc<Instance<Self>>> {
        Self::find_instance(|_| true)
    }

    /// The first registered instance for which `pred` holds, as a counted
    /// reference.  `pred` runs under `rcu_read_lock()`, so it must not
    /// sleep.
    fn find_instance(mut pred: impl FnMut(&Instance<Self>) -> bool) -> Option<Arc<Instance<Self>>> {
        let _rcu = kernel::sync::rcu::read_lock();
        for slot in &Self::statics().instances {
            let p = slot.load(Ordering::Acquire).cast::<Instance<Self>>();
            if p.is_null() {
                continue;
            }
            // SAFETY: a non-null entry is `Arc::as_ptr` of an instance whose
            // registration holds a reference until a grace period after it
            // cleared the entry (`Claim::unpublish`), and we are inside a
            // read-side critical section that began before we loaded it.
            let inst = unsafe { ArcBorrow::from_raw(p) };
            if pred(&inst) {
                return Some(inst.into());
            }
        }
        None
    }
}

/// Implements [`DriverStatics`] for a driver type:
/// `declare_iommu_driver!(MyDriver);`.  It emits an `unsafe impl`, so it
/// is invoked from the crate root (next to `module!`), not from a driver
/// module that forbids `unsafe`.
#[macro_export]
macro_rules! declare_iommu_driver {
    ($t:ty) => {
        // SAFETY: the tables are `Statics::new::<$t>()`, for `$t` itself.
        unsafe impl $crate::riommu::driver::DriverStatics for $t {
            fn statics() -> &'static $crate::riommu::driver::Statics {
                static STATICS: $crate::riommu::driver::Statics =
                    // SAFETY: built for `$t` and only returned by `$t`'s
                    // `DriverStatics::statics`.
                    unsafe { $crate::riommu::driver::Statics::new::<$t>() };
                &STATICS
            }
        }
    };
}
pub use declare_iommu_driver;

impl Statics {
    /// Builds the tables for `D`.  Use [`declare_iommu_driver!`].
    ///
    /// # Safety
    ///
    /// Only for `D`'s own [`DriverStatics::statics`] (the macro's use).
    pub const unsafe fn new<D: DriverStatics>() -> Self {
        // What the capabilities promise, the ops must deliver.
        assert!(
            <D::Paging as PagingDomain>::HAS_SET_DIRTY_TRACKING
                == <D::Paging as PagingDomain>::HAS_READ_AND_CLEAR_DIRTY,
            "riommu: a paging domain implements both dirty-tracking operations or neither"
        );
        let mut ops: bindings::iommu_ops = pin_init::zeroed();
        if D::HAS_GET_RESV_REGIONS {
            ops.get_resv_regions = Some(glue::get_resv_regions::<D>);
        }
        if D::HAS_CAPABLE {
            ops.capable = Some(glue::capable::<D>);
        }
        if D::HAS_HW_INFO {
            ops.hw_info = Some(glue::hw_info::<D>);
        }
        if D::HAS_OF_XLATE {
            ops.of_xlate = Some(glue::of_xlate::<D>);
        }
        ops.domain_alloc_paging_flags = Some(glue::alloc_paging_flags::<D>);
        ops.domain_alloc_nested = Some(glue::alloc_nested::<D>);
        ops.probe_device = Some(glue::probe_device::<D>);
        if D::HAS_DOMAIN_ALLOC_SVA {
            ops.domain_alloc_sva = Some(glue::alloc_sva::<D>);
        }
        ops.get_viommu_size = Some(viommu::glue::get_viommu_size::<D>);
        ops.viommu_init = Some(viommu::glue::viommu_init::<D>);
        ops.release_device = Some(glue::release_device::<D>);
        ops.device_group = match D::DEVICE_GROUP {
            DeviceGroup::Generic => Some(bindings::generic_device_group),
            DeviceGroup::Pci => Some(bindings::pci_device_group),
        };

        let mut paging: bindings::iommu_domain_ops = pin_init::zeroed();
        paging.attach_dev = Some(glue::paging_attach::<D>);
        if <D::Paging as PagingDomain>::HAS_SET_DEV_PASID {
            paging.set_dev_pasid = Some(glue::paging_set_dev_pasid::<D>);
        }
        paging.map_pages = Some(glue::map_pages::<D>);
        paging.unmap_pages = Some(glue::unmap_pages::<D>);
        paging.iova_to_phys = Some(glue::iova_to_phys::<D>);
        paging.flush_iotlb_all = Some(glue::flush_iotlb_all::<D>);
        if <D::Paging as PagingDomain>::HAS_ENFORCE_CACHE_COHERENCY {
            paging.enforce_cache_coherency = Some(glue::enforce_cache_coherency::<D>);
        }
        paging.iotlb_sync = Some(glue::iotlb_sync::<D>);
        paging.free = Some(glue::free::<D, D::Paging>);

        let mut dirty: bindings::iommu_dirty_ops = pin_init::zeroed();
        if <D::Paging as PagingDomain>::HAS_SET_DIRTY_TRACKING {
            dirty.set_dirty_tracking = Some(glue::set_dirty_tracking::<D>);
            dirty.read_and_clear_dirty = Some(glue::read_and_clear_dirty::<D>);
        }

        let mut nested: bindings::iommu_domain_ops = pin_init::zeroed();
        nested.attach_dev = Some(glue::nested_attach::<D>);
        if <D::Nested as NestedDomain>::HAS_SET_DEV_PASID {
            nested.set_dev_pasid = Some(glue::nested_set_dev_pasid::<D>);
        }
        nested.cache_invalidate_user = Some(glue::cache_invalidate_user::<D>);
        nested.free = Some(glue::free::<D, D::Nested>);

        let mut blocked_ops: bindings::iommu_domain_ops = pin_init::zeroed();
        blocked_ops.attach_dev = Some(glue::blocked_attach::<D>);
        blocked_ops.set_dev_pasid = Some(glue::blocked_set_dev_pasid::<D>);
        let mut blocked: bindings::iommu_domain = pin_init::zeroed();
        blocked.type_ = bindings::IOMMU_DOMAIN_BLOCKED;

        let mut identity_ops: bindings::iommu_domain_ops = pin_init::zeroed();
        if D::HAS_ATTACH_IDENTITY {
            identity_ops.attach_dev = Some(glue::identity_attach::<D>);
        }
        let mut identity: bindings::iommu_domain = pin_init::zeroed();
        identity.type_ = bindings::IOMMU_DOMAIN_IDENTITY;
        if matches!(D::DEFAULT_DOMAIN, DefaultDomain::Identity) {
            ops.def_domain_type = Some(glue::def_domain_identity);
        }

        let mut vops: rb::iommufd_viommu_ops = pin_init::zeroed();
        vops.destroy = Some(viommu::glue::destroy::<D>);
        vops.alloc_domain_nested = Some(viommu::glue::alloc_domain_nested::<D>);
        vops.cache_invalidate = Some(viommu::glue::cache_invalidate::<D>);
        vops.vdevice_size = size_of::<viommu::Vdevice<<D::Viommu as ViommuImpl>::Vdev>>();
        vops.vdevice_init = Some(viommu::glue::vdevice_init::<D>);

        let mut sva: bindings::iommu_domain_ops = pin_init::zeroed();
        sva.set_dev_pasid = Some(glue::sva_set_dev_pasid::<D>);
        sva.free = Some(glue::free::<D, D::Sva>);

        Self {
            viommu_ops: vops,
            sva_ops: sva,
            iommu_ops: UnsafeCell::new(ops),
            paging_ops: paging,
            nested_ops: nested,
            blocked_ops,
            dirty_ops: dirty,
            blocked: UnsafeCell::new(blocked),
            identity_ops,
            identity: UnsafeCell::new(identity),
            instances: [const { AtomicPtr::new(ptr::null_mut()) }; MAX_INSTANCES],
            claimed: [const { AtomicBool::new(false) }; MAX_INSTANCES],
            prepared: AtomicU8::new(UNPREPARED),
        }
    }

    pub(in crate::riommu) fn paging_ops(&self) -> *const bindings::iommu_domain_ops {
        &self.paging_ops
    }

    pub(in crate::riommu) fn nested_ops(&self) -> *const bindings::iommu_domain_ops {
        &self.nested_ops
    }

    pub(in crate::riommu) fn sva_ops(&self) -> *const bindings::iommu_domain_ops {
        &self.sva_ops
    }

    pub(in crate::riommu) fn dirty_ops(&self) -> *const bindings::iommu_dirty_ops {
        &self.dirty_ops
    }

    pub(in crate::riommu) fn blocked_domain(&self) -> *mut bindings::iommu_domain {
        self.blocked.get()
    }

    pub(in crate::riommu) fn identity_domain(&self) -> *mut bindings::iommu_domain {
        self.identity.get()
    }

    pub(in crate::riommu) fn iommu_ops(&self) -> *const bindings::iommu_ops {
        self.iommu_ops.get()
    }

    pub(in crate::riommu) fn viommu_ops(&self) -> *const rb::iommufd_viommu_ops {
        &self.viommu_ops
    }

    pub(in crate::riommu) fn owner(&self) -> *mut bindings::module {
        // SAFETY: read-only after publication (type invariant).
        unsafe { (*self.iommu_ops.get()).owner }
    }

    /// Fills in what cannot be built at compile time, before the first
    /// publication.  The first caller does it; a caller racing with it waits
    /// until it is done, and later calls do nothing (readers of an earlier
    /// registration's tables may still run).  Only `Claim::new` calls it,
    /// before its registration publishes anything.
    fn prepare<D: Driver>(&self, module: &'static ThisModule) {
        if self
            .prepared
            .compare_exchange(UNPREPARED, PREPARING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // A few stores by another registration at most.
            while self.prepared.load(Ordering::Acquire) != PREPARED {
                core::hint::spin_loop();
            }
            return;
        }
        // SAFETY: the only caller that moved `prepared` out of `UNPREPARED`:
        // no other writer, and nothing was published before (every
        // publication follows its registration's `prepare`), so no reader;
        // the cells are ours.
        unsafe {
            let blocked = &mut *self.blocked.get();
            blocked.ops = &self.blocked_ops;
            let identity = &mut *self.identity.get();
            identity.ops = &self.identity_ops;
            let ops = &mut *self.iommu_ops.get();
            ops.owner = module.as_ptr();
            ops.blocked_domain = self.blocked.get();
            if D::HAS_ATTACH_IDENTITY {
                ops.identity_domain = self.identity.get();
            }
            if matches!(D::DEFAULT_DOMAIN, DefaultDomain::Blocked) {
                // No DMA API users: devices start blocked, like the C mock.
                ops.default_domain = self.blocked.get();
            }
        }
        self.prepared.store(PREPARED, Ordering::Release);
    }
}

/// How an [`IommuRegistration`] was registered.
enum Kind {
    /// `iommu_device_register_bus` on a bus of our own.
    #[cfg(riommu_test)]
    MockBus,
    /// `iommu_device_sysfs_add` + `iommu_device_register` for a hardware
    /// IOMMU.
    Hw,
}

/// The C side of an instance.
#[repr(C)]
struct RawRegistration {
    iommu: bindings::iommu_device,
    bus: bindings::bus_type,
    nb: bindings::notifier_block,
}

/// The most IOMMU instances one driver can have registered at a time (the
/// C drivers register one per VT-d DRHD or per SMMU).
pub const MAX_INSTANCES: usize = 16;

/// A driver's claim on one of its instance slots (`Statics::instances`);
/// released on drop.
struct Claim<D: DriverStatics> {
    slot: usize,
    _p: PhantomData<D>,
}

impl<D: DriverStatics> Claim<D> {
    /// Claims a free slot of driver `D` (one `compare_exchange` per slot, so
    /// two racing registrations never share one) and fills in the driver's
    /// tables if this is its first registration.  `ENOSPC` if `D` already
    /// has [`MAX_INSTANCES`] instances.
    fn new(module: &'static ThisModule) -> Result<Self> {
        let s = D::statics();
        let slot = s
            .claimed
            .iter()
            .position(|c| {
                c.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            })
            .ok_or(ENOSPC)?;
        // INVARIANT: the slot is ours until we drop.
        let claim = Self {
            slot,
            _p: PhantomData,
        };
        s.prepare::<D>(module);
        Ok(claim)
    }

    /// Makes `inst` visible to [`DriverStatics::instance`].
    fn publish(&self, inst: &Arc<Instance<D>>) {
        inst.registered.store(true, Ordering::Release);
        D::statics().instances[self.slot]
            .store(Arc::as_ptr(inst).cast_mut().cast(), Ordering::Release);
    }

    /// Hides the instance again, and waits until no lookup can still be
    /// taking a reference to it: lookups run under `rcu_read_lock()`, so
    /// after a grace period each one either has its own reference or never
    /// saw the instance.
    fn unpublish(&self, inst: &Instance<D>) {
        D::statics().instances[self.slot].store(ptr::null_mut(), Ordering::Release);
        inst.registered.store(false, Ordering::Release);
        kernel::sync::rcu::synchronize_rcu();
    }
}

impl<D: DriverStatics> Drop for Claim<D> {
    fn drop(&mut self) {
        D::statics().claimed[self.slot].store(false, Ordering::Release);
    }
}

/// An IOMMU instance of driver `D`: the C `iommu_device` and the driver's
/// data.  It lives in an [`Arc`]: the [`IommuRegistration`] holds one
/// reference, and every domain, vIOMMU or control object that keeps the
/// instance past a callback holds its own, so the instance's memory (and
/// the driver's data in it) outlives them all, even after the registration
/// is gone.
///
/// # Invariants
///
/// `raw` (at offset 0, so its `iommu` is at offset 0 of `Self`) was
/// zero-filled before use; while its registration lives it is registered
/// with the iommu core, and `Self` is inside an `Arc` that the registration
/// holds.
#[repr(C)]
#[pin_data]
pub struct Instance<D: DriverStatics> {
    #[pin]
    raw: Opaque<RawRegistration>,
    #[pin]
    data: D::Data,
    /// The firmware node of the IOMMU's device (NULL if none): what
    /// `iommu_device_register()` records in `raw`, kept here too so that
    /// lookups never read `raw` while the core writes it.  Only compared.
    fwnode: *mut bindings::fwnode_handle,
    /// Whether the instance is published by a live registration.
    registered: AtomicBool,
    /// The devices on a mock-bus instance's bus ([`super::mockbus`]); its
    /// registration waits on `bus_devs_gone` until none is left before it
    /// unregisters the bus.  (`iommu_device_unregister_bus()` does not
    /// release them, and their IOMMU groups keep uncounted pointers to
    /// them.)
    #[pin]
    bus_devs: Mutex<usize>,
    #[pin]
    bus_devs_gone: CondVar,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: the C state is protected by the core; `D::Data` is `Send + Sync`;
// `fwnode` is never dereferenced.
unsafe impl<D: DriverStatics> Send for Instance<D> {}
// SAFETY: as above.
unsafe impl<D: DriverStatics> Sync for Instance<D> {}

impl<D: DriverStatics> Instance<D> {
    fn new(
        data: impl PinInit<D::Data, Error>,
        fwnode: *mut bindings::fwnode_handle,
    ) -> Result<Arc<Self>> {
        Arc::pin_init(
            try_pin_init!(Self {
                // INVARIANT: all-zero, a valid initial state of every field.
                raw: Opaque::zeroed(),
                data <- data,
                fwnode,
                registered: AtomicBool::new(false),
                bus_devs <- new_mutex!(0),
                bus_devs_gone <- new_condvar!(),
                _pin: PhantomPinned,
            }? Error),
            GFP_KERNEL,
        )
    }

    /// The driver's instance data.
    pub fn data(&self) -> &D::Data {
        &self.data
    }

    /// Whether `dev` sits behind this instance.
    pub fn has_device(&self, dev: &IommuDevice<'_, D>) -> bool {
        // SAFETY: `dev->iommu` of a probed device is set (type invariant of
        // `IommuDevice`).
        ptr::eq(
            unsafe { (*(*dev.as_raw()).iommu).iommu_dev },
            self.iommu_device(),
        )
    }

    /// The bus of a [`IommuRegistration::new_mock_bus`] instance.
    pub(in crate::riommu) fn bus(&self) -> *const bindings::bus_type {
        // SAFETY: field projection inside our own pinned allocation.
        unsafe { &raw const (*self.raw.get()).bus }
    }

    pub(in crate::riommu) fn iommu_device(&self) -> *mut bindings::iommu_device {
        // SAFETY: as above.
        unsafe { &raw mut (*self.raw.get()).iommu }
    }

    /// The firmware node of the IOMMU's device (NULL for an unparented or
    /// mock instance).
    pub(in crate::riommu) fn fwnode(&self) -> *mut bindings::fwnode_handle {
        self.fwnode
    }

    /// Whether a registration has the instance registered and published.
    pub fn is_registered(&self) -> bool {
        self.registered.load(Ordering::Acquire)
    }

    /// Counts a new device on the instance's mock bus; `ENODEV` once the
    /// registration is going (it then waits for the counted ones).
    pub(in crate::riommu) fn bus_dev_get(&self) -> Result {
        let mut n = self.bus_devs.lock();
        if !self.is_registered() {
            return Err(ENODEV);
        }
        *n += 1;
        Ok(())
    }

    /// A device counted by `bus_dev_get` left the bus.
    pub(in crate::riommu) fn bus_dev_put(&self) {
        let mut n = self.bus_devs.lock();
        *n -= 1;
        if *n == 0 {
            self.bus_devs_gone.notify_all();
        }
    }

    /// Waits until no device is on the instance's mock bus.  The instance
    /// is unpublished first, so `bus_dev_get` refuses new ones.
    fn wait_bus_devs_gone(&self) {
        let mut n = self.bus_devs.lock();
        while *n != 0 {
            self.bus_devs_gone.wait(&mut n);
        }
    }
}

/// A registered IOMMU instance of driver `D`: registered with the iommu
/// core when made, unregistered when dropped.  The instance itself
/// ([`Instance`]) is reference counted and may outlive the registration.
///
/// # Invariants
///
/// `inst` is registered with the iommu core (as `kind` says) and published
/// in `D`'s instance slot `claim.slot` for as long as `self` exists.
pub struct IommuRegistration<D: DriverStatics> {
    inst: Arc<Instance<D>>,
    kind: Kind,
    claim: Claim<D>,
}

impl<D: DriverStatics> IommuRegistration<D> {
    #[cfg(riommu_test)]
    /// Registers a bus named `bus_name` and an IOMMU instance for it
    /// (`iommu_device_register_bus`), for mock drivers whose devices are
    /// software devices on that bus (see [`super::mockbus`]).  The bus name
    /// is also the instance's sysfs name, so it must differ per instance.
    pub fn new_mock_bus(
        module: &'static ThisModule,
        bus_name: &'static CStr,
        max_pasids: u32,
        data: impl PinInit<D::Data, Error>,
    ) -> Result<Self> {
        let claim = Claim::<D>::new(module)?;
        let inst = Instance::<D>::new(data, ptr::null_mut())?;
        let s = D::statics();
        let raw = inst.raw.get();
        // SAFETY: `raw` is zeroed, pinned memory of the instance, which
        // nobody else has seen yet.
        unsafe {
            (*raw).bus.name = bus_name.as_char_ptr();
            (*raw).iommu.max_pasids = max_pasids;
            to_result(bindings::bus_register(&raw mut (*raw).bus))?;
            // The core links each probed device in the IOMMU's sysfs node,
            // so the instance needs one (a class device under
            // /sys/class/iommu, named after the bus).
            let ret = bindings::iommu_device_sysfs_add(
                &raw mut (*raw).iommu,
                ptr::null_mut(),
                ptr::null_mut(),
                c"%s".as_char_ptr(),
                bus_name.as_char_ptr(),
            );
            if ret != 0 {
                bindings::bus_unregister(&raw const (*raw).bus);
                return Err(Error::from_errno(ret));
            }
            let ret = super::bindings::test::riommu_test_register_bus(
                &raw mut (*raw).iommu,
                s.iommu_ops(),
                &raw const (*raw).bus,
                &raw mut (*raw).nb,
            );
            if ret != 0 {
                bindings::iommu_device_sysfs_remove(&raw mut (*raw).iommu);
                bindings::bus_unregister(&raw const (*raw).bus);
                return Err(Error::from_errno(ret));
            }
        }
        claim.publish(&inst);
        // INVARIANT: registered and published above.
        Ok(Self {
            inst,
            kind: Kind::MockBus,
            claim,
        })
    }

    /// Registers a hardware IOMMU instance: a sysfs node named `name` under
    /// `hwdev` (`iommu_device_sysfs_add`), then `iommu_device_register`,
    /// which probes every device the driver's `probe_device` accepts.  The
    /// instance is visible through [`DriverStatics::instance`] before that
    /// probe.  `name` is copied; it must differ per instance.
    pub fn new_hw(
        module: &'static ThisModule,
        hwdev: &Device,
        name: &CStr,
        max_pasids: u32,
        data: impl PinInit<D::Data, Error>,
    ) -> Result<Self> {
        // Our sysfs node is a child of `hwdev` (so holds a reference to it),
        // and `iommu_device_register` only copies its fwnode.
        let hw = ptr::from_ref(hwdev).cast::<bindings::device>().cast_mut();
        Self::new_hw_raw(module, hw, name, max_pasids, data)
    }

    /// [`IommuRegistration::new_hw`] for an IOMMU with no `struct device`
    /// of its own (a firmware-described unit such as a VT-d DRHD, which the
    /// C intel driver registers the same way): the sysfs node has no parent
    /// and the instance no fwnode, so the core offers it every device
    /// without a firmware IOMMU binding (`iommu_fwspec_ops(NULL)`).
    pub fn new_hw_unparented(
        module: &'static ThisModule,
        name: &CStr,
        max_pasids: u32,
        data: impl PinInit<D::Data, Error>,
    ) -> Result<Self> {
        Self::new_hw_raw(module, ptr::null_mut(), name, max_pasids, data)
    }

    /// `hw` is NULL or a live device.
    fn new_hw_raw(
        module: &'static ThisModule,
        hw: *mut bindings::device,
        name: &CStr,
        max_pasids: u32,
        data: impl PinInit<D::Data, Error>,
    ) -> Result<Self> {
        let claim = Claim::<D>::new(module)?;
        let fwnode = if hw.is_null() {
            ptr::null_mut()
        } else {
            // SAFETY: a live device (caller); what `iommu_device_register()`
            // records as the instance's fwnode (`dev_fwnode(hwdev)`).
            unsafe { bindings::__dev_fwnode(hw) }
        };
        let inst = Instance::<D>::new(data, fwnode)?;
        let s = D::statics();
        let raw = inst.raw.get();
        // SAFETY: `raw` is zeroed, pinned memory of the instance, which
        // nobody else has seen yet; `hw` is NULL or live (caller), and
        // `iommu_device_sysfs_add` formats `name` into the new device's name
        // (`kobject_set_name_vargs` copies it).
        unsafe {
            (*raw).iommu.max_pasids = max_pasids;
            to_result(bindings::iommu_device_sysfs_add(
                &raw mut (*raw).iommu,
                hw,
                ptr::null_mut(),
                c"%s".as_char_ptr(),
                name.as_char_ptr(),
            ))?;
        }
        // Visible to probe_device during the bus probe below.
        claim.publish(&inst);
        // SAFETY: as above.
        let ret =
            unsafe { bindings::iommu_device_register(&raw mut (*raw).iommu, s.iommu_ops(), hw) };
        if ret != 0 {
            claim.unpublish(&inst);
            // SAFETY: added above.
            unsafe { bindings::iommu_device_sysfs_remove(&raw mut (*raw).iommu) };
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: registered and published above.
        Ok(Self {
            inst,
            kind: Kind::Hw,
            claim,
        })
    }

    /// The instance (a counted reference: `.clone()` it to keep it).
    pub fn instance(&self) -> &Arc<Instance<D>> {
        &self.inst
    }

    /// The driver's instance data.
    pub fn data(&self) -> &D::Data {
        self.inst.data()
    }
}

fn to_result(ret: ffi::c_int) -> Result {
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(())
    }
}

impl<D: DriverStatics> Drop for IommuRegistration<D> {
    fn drop(&mut self) {
        // Not found by `DriverStatics::instance` any more; lookups that
        // found it already hold their own reference.
        self.claim.unpublish(&self.inst);
        let raw = self.inst.raw.get();
        match self.kind {
            #[cfg(riommu_test)]
            Kind::MockBus => {
                // Its devices must leave the bus while it is registered
                // (only then does the core release them); a driver that
                // drops the registration first waits here for them.
                self.inst.wait_bus_devs_gone();
                // SAFETY: registered in `new_mock_bus` (type invariant).
                unsafe {
                    super::bindings::test::riommu_test_unregister_bus(
                        &raw mut (*raw).iommu,
                        &raw const (*raw).bus,
                        &raw mut (*raw).nb,
                    );
                    bindings::iommu_device_sysfs_remove(&raw mut (*raw).iommu);
                    bindings::bus_unregister(&raw const (*raw).bus);
                }
            }
            Kind::Hw => {
                // SAFETY: registered in `new_hw` (type invariant).
                unsafe {
                    bindings::iommu_device_unregister(&raw mut (*raw).iommu);
                    bindings::iommu_device_sysfs_remove(&raw mut (*raw).iommu);
                }
            }
        }
        // Table pages released through RCU (`super::iotlb`) are freed by a
        // callback in this module's text: let them all run before the
        // module can go (the registration goes at module exit, or with the
        // device whose driver has no `unbind` file, `NoUnbindAdapter`).
        // Only if this module ever released one: a grace period is slow.
        if super::iotlb::tables_released() != 0 {
            // SAFETY: no lock held; may sleep, as drop of a registration may.
            unsafe { rb::riommu_shim_rcu_barrier() };
        }
        // The slot is free again only now: `claim` drops after this.
    }
}

/// Publishes a new domain: takes a module reference for its lifetime
/// (the core takes none for domains, and ours may outlive our devices).
pub(in crate::riommu) fn publish<D: DriverStatics, T: Send + Sync + 'static>(
    b: DomainBox<T>,
) -> *mut bindings::iommu_domain {
    // SAFETY: `owner` is this module, which is live while we run.
    unsafe { bindings::__module_get(D::statics().owner()) };
    b.into_raw()
}

/// The `extern "C"` functions of the tables.  Each turns raw pointers into
/// the typed views above, calls the driver and converts the result back.
mod glue {
    use super::*;

    /// A paging domain of `D` from a C pointer.
    ///
    /// # Safety
    ///
    /// `domain` must carry `D`'s paging ops (so it is a live `Domain<D::Paging>`).
    unsafe fn paging<'a, D: DriverStatics>(
        domain: *mut bindings::iommu_domain,
    ) -> &'a Domain<D::Paging> {
        // SAFETY: per the safety requirements.
        unsafe { Domain::from_raw(domain) }
    }

    /// # Safety
    ///
    /// `domain` must carry `D`'s nested ops.
    unsafe fn nested<'a, D: DriverStatics>(
        domain: *mut bindings::iommu_domain,
    ) -> &'a Domain<D::Nested> {
        // SAFETY: per the safety requirements.
        unsafe { Domain::from_raw(domain) }
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn get_resv_regions<D: DriverStatics>(
        dev: *mut bindings::device,
        head: *mut bindings::list_head,
    ) {
        // SAFETY: the core only asks about devices we probed; `head` is its
        // list for the duration of the call.
        let dev = unsafe { IommuDevice::<D>::from_raw(dev) };
        let mut regions = ResvRegions {
            head,
            _p: PhantomData,
        };
        D::get_resv_regions(&dev, &mut regions);
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn capable<D: DriverStatics>(
        dev: *mut bindings::device,
        cap: bindings::iommu_cap,
    ) -> bool {
        // SAFETY: the core only asks about devices we probed.
        let dev = unsafe { IommuDevice::<D>::from_raw(dev) };
        let cap = Cap::from_raw(cap);
        match cap {
            // With this capability reported and no op, iommufd's paging
            // HWPT allocation fails with a WARN
            // (`iommufd_hwpt_paging_enforce_cc()` gives EINVAL,
            // `iommufd_hwpt_paging_alloc()` WARNs on it), so it is only
            // reported with the op.
            Cap::EnforceCacheCoherency
                if !<D::Paging as PagingDomain>::HAS_ENFORCE_CACHE_COHERENCY =>
            {
                false
            }
            _ => D::capable(&dev, cap),
        }
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn enforce_cache_coherency<D: DriverStatics>(
        domain: *mut bindings::iommu_domain,
    ) -> bool {
        // SAFETY: our paging table.
        unsafe { paging::<D>(domain) }
            .enforce_cache_coherency()
            .is_ok()
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn of_xlate<D: DriverStatics>(
        dev: *mut bindings::device,
        args: *const bindings::of_phandle_args,
    ) -> ffi::c_int {
        // SAFETY: the OF code holds `dev` and `args` for the call.
        let (dev, args) = unsafe { (Device::from_raw(dev), &*args) };
        let n = usize::try_from(args.args_count)
            .unwrap_or(0)
            .min(args.args.len());
        // INVARIANT: `of_iommu_configure()` holds the probe lock around
        // `of_iommu_xlate()`, which calls us.
        let dev = ProbingDevice { dev };
        from_result(|| D::of_xlate(&dev, &args.args[..n]).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn hw_info<D: DriverStatics>(
        dev: *mut bindings::device,
        length: *mut u32,
        ty: *mut bindings::iommu_hw_info_type,
    ) -> *mut ffi::c_void {
        // SAFETY: a device we probed; `length` and `ty` are valid (core).
        let (dev, requested) = unsafe { (IommuDevice::<D>::from_raw(dev), *ty) };
        match D::hw_info(&dev, requested) {
            Ok(info) => {
                let len = info.data.len();
                let (p, _, _) = info.data.into_raw_parts();
                // SAFETY: valid out-parameters (core).  The buffer is a
                // kmalloc allocation the core frees with kfree().
                unsafe {
                    *length = len as u32;
                    *ty = info.ty;
                }
                p.cast()
            }
            Err(e) => e.to_ptr(),
        }
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn alloc_paging_flags<D: DriverStatics>(
        dev: *mut bindings::device,
        flags: u32,
        user_data: *const bindings::iommu_user_data,
    ) -> *mut bindings::iommu_domain {
        // SAFETY: a device we probed.
        let dev = unsafe { IommuDevice::<D>::from_raw(dev) };
        // SAFETY: NULL or valid for the call (core).
        let data = unsafe { UserData::from_raw(user_data) };
        let r = AllocFlags::from_raw(flags)
            .and_then(|flags| D::domain_alloc_user(Some(&dev), flags, None, data));
        match r {
            Ok(NewDomain::Paging(b)) => publish::<D, _>(b),
            Ok(NewDomain::Nested(_)) => {
                pr_warn!("domain_alloc_user returned a nested domain without parent\n");
                EINVAL.to_ptr()
            }
            Err(e) => e.to_ptr(),
        }
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn alloc_nested<D: DriverStatics>(
        dev: *mut bindings::device,
        parent: *mut bindings::iommu_domain,
        flags: u32,
        user_data: *const bindings::iommu_user_data,
    ) -> *mut bindings::iommu_domain {
        // SAFETY: a device we probed.
        let dev = unsafe { IommuDevice::<D>::from_raw(dev) };
        // SAFETY: valid for the call (core).
        let data = unsafe { UserData::from_raw(user_data) };
        let r = AllocFlags::from_raw(flags).and_then(|flags| {
            // SAFETY: `parent` is live for the call (the core holds its HWPT).
            let parent = unsafe { ParentDomain::<D>::from_raw(parent) }?;
            D::domain_alloc_user(Some(&dev), flags, Some(Parent::Domain(parent)), data)
        });
        match r {
            // A domain recorded on some vIOMMU must not be published here.
            Ok(NewDomain::Nested(b)) if b.viommu_addr().is_null() => publish::<D, _>(b.into_box()),
            Ok(_) => {
                pr_warn!("domain_alloc_user returned the wrong kind of domain\n");
                EINVAL.to_ptr()
            }
            Err(e) => e.to_ptr(),
        }
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn alloc_sva<D: DriverStatics>(
        dev: *mut bindings::device,
        mm: *mut bindings::mm_struct,
    ) -> *mut bindings::iommu_domain {
        // SAFETY: a device we probed; `mm` is the binding process's mm,
        // with users for the call (`iommu_sva_bind_device()`'s caller passes
        // its own, e.g. iommufd `current->mm`).
        let (dev, mm) = unsafe {
            (
                IommuDevice::<D>::from_raw(dev),
                kernel::mm::MmWithUser::from_raw(mm),
            )
        };
        match D::domain_alloc_sva(&dev, mm) {
            Ok(b) => publish::<D, _>(b),
            Err(e) => e.to_ptr(),
        }
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn sva_set_dev_pasid<D: DriverStatics>(
        domain: *mut bindings::iommu_domain,
        dev: *mut bindings::device,
        pasid: bindings::ioasid_t,
        old: *mut bindings::iommu_domain,
    ) -> ffi::c_int {
        // SAFETY: our SVA table; device checked below; `old` NULL or live.
        let (d, dev, old) = unsafe {
            (
                Domain::<D::Sva>::from_raw(domain),
                IommuDevice::<D>::from_raw_checked(dev),
                OldDomain::from_raw(old),
            )
        };
        from_result(|| SvaDomain::set_dev_pasid(d, &dev?, pasid, old).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn free<D: DriverStatics, T: Send + Sync + 'static>(
        domain: *mut bindings::iommu_domain,
    ) {
        let owner = D::statics().owner();
        // SAFETY: `free` is only in the tables of `Domain<T>`, which were
        // published by `publish`.
        unsafe { DomainBox::<T>::free_raw(domain) };
        // SAFETY: drops the reference `publish` took.  (As for any module
        // dropping its own reference, the last instructions of this function
        // still run from module text; rmmod waits for the refcount first.)
        unsafe { bindings::module_put(owner) };
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn probe_device<D: DriverStatics>(
        dev: *mut bindings::device,
    ) -> *mut bindings::iommu_device {
        // SAFETY: the core holds a reference on `dev` during probe.
        let d = unsafe { Device::from_raw(dev) };
        // INVARIANT: `iommu_probe_device()` holds the probe lock around
        // `__iommu_probe_device()`, which calls us.
        let d = ProbingDevice { dev: d };
        let r = D::probe_device(&d).and_then(|p| {
            // An instance the driver kept past its registration is not one
            // the core may record: no unregistration would release the
            // device from it.  (A check, not a lock: a probe racing the
            // unregistration can still pass it, as with the C drivers; the
            // device then holds the instance's memory.)
            if !p.iommu.is_registered() {
                return Err(ENODEV);
            }
            let iommu = p.iommu.iommu_device();
            let data = KBox::new(
                DevPriv {
                    data: p.data,
                    inst: p.iommu,
                },
                GFP_KERNEL,
            )?;
            Ok((iommu, data))
        });
        match r {
            Ok((iommu, data)) => {
                // SAFETY: `dev->iommu` exists during probe; ownership of the
                // box goes to the device until `release_device`.
                unsafe { bindings::dev_iommu_priv_set(dev, KBox::into_raw(data).cast()) };
                iommu
            }
            Err(e) => e.to_ptr(),
        }
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn release_device<D: DriverStatics>(dev: *mut bindings::device) {
        // SAFETY: a device we probed, being released.
        let idev = unsafe { IommuDevice::<D>::from_raw(dev) };
        D::release_device(&idev);
        // SAFETY: the box set by `probe_device`; `release_device` is the last
        // callback on the device, and after it the core
        // (`iommu_deinit_device()`, drivers/iommu/iommu.c) touches the group,
        // `ops->owner` and `dev->iommu` but never the private pointer or
        // `iommu_dev`, so the instance reference in the box may be the last.
        // (The pointer is not cleared: `dev_iommu_priv_set` may only be
        // called under the probe lock, which release does not hold — lockdep
        // warns otherwise.)
        unsafe {
            let p = rb::riommu_shim_dev_iommu_priv_get(dev).cast::<DevPriv<D>>();
            drop(KBox::from_raw(p));
        }
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn blocked_attach<D: DriverStatics>(
        _domain: *mut bindings::iommu_domain,
        dev: *mut bindings::device,
        old: *mut bindings::iommu_domain,
    ) -> ffi::c_int {
        // SAFETY: a probed device; `old` is NULL or live (core).
        let (dev, old) = unsafe {
            (
                IommuDevice::<D>::from_raw_checked(dev),
                OldDomain::from_raw(old),
            )
        };
        from_result(|| D::attach_blocked(&dev?, old).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn identity_attach<D: DriverStatics>(
        _domain: *mut bindings::iommu_domain,
        dev: *mut bindings::device,
        old: *mut bindings::iommu_domain,
    ) -> ffi::c_int {
        // SAFETY: a device (checked below); `old` is NULL or live (core).
        let (dev, old) = unsafe {
            (
                IommuDevice::<D>::from_raw_checked(dev),
                OldDomain::from_raw(old),
            )
        };
        from_result(|| D::attach_identity(&dev?, old).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn def_domain_identity(_dev: *mut bindings::device) -> ffi::c_int {
        bindings::IOMMU_DOMAIN_IDENTITY as ffi::c_int
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn blocked_set_dev_pasid<D: DriverStatics>(
        _domain: *mut bindings::iommu_domain,
        dev: *mut bindings::device,
        pasid: bindings::ioasid_t,
        old: *mut bindings::iommu_domain,
    ) -> ffi::c_int {
        // SAFETY: a probed device; `old` is NULL or live (core).
        let (dev, old) = unsafe {
            (
                IommuDevice::<D>::from_raw_checked(dev),
                OldDomain::from_raw(old),
            )
        };
        from_result(|| D::blocked_set_dev_pasid(&dev?, pasid, old).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn paging_attach<D: DriverStatics>(
        domain: *mut bindings::iommu_domain,
        dev: *mut bindings::device,
        old: *mut bindings::iommu_domain,
    ) -> ffi::c_int {
        // SAFETY: our paging table; probed device; `old` NULL or live.
        let (d, dev, old) = unsafe {
            (
                paging::<D>(domain),
                IommuDevice::<D>::from_raw_checked(dev),
                OldDomain::from_raw(old),
            )
        };
        from_result(|| d.attach_dev(&dev?, old).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn paging_set_dev_pasid<D: DriverStatics>(
        domain: *mut bindings::iommu_domain,
        dev: *mut bindings::device,
        pasid: bindings::ioasid_t,
        old: *mut bindings::iommu_domain,
    ) -> ffi::c_int {
        // SAFETY: as for `paging_attach`.
        let (d, dev, old) = unsafe {
            (
                paging::<D>(domain),
                IommuDevice::<D>::from_raw_checked(dev),
                OldDomain::from_raw(old),
            )
        };
        from_result(|| d.set_dev_pasid(&dev?, pasid, old).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn nested_attach<D: DriverStatics>(
        domain: *mut bindings::iommu_domain,
        dev: *mut bindings::device,
        old: *mut bindings::iommu_domain,
    ) -> ffi::c_int {
        // SAFETY: our nested table; probed device; `old` NULL or live.
        let (d, dev, old) = unsafe {
            (
                nested::<D>(domain),
                IommuDevice::<D>::from_raw_checked(dev),
                OldDomain::from_raw(old),
            )
        };
        from_result(|| NestedDomain::attach_dev(d, &dev?, old).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn nested_set_dev_pasid<D: DriverStatics>(
        domain: *mut bindings::iommu_domain,
        dev: *mut bindings::device,
        pasid: bindings::ioasid_t,
        old: *mut bindings::iommu_domain,
    ) -> ffi::c_int {
        // SAFETY: as for `nested_attach`.
        let (d, dev, old) = unsafe {
            (
                nested::<D>(domain),
                IommuDevice::<D>::from_raw_checked(dev),
                OldDomain::from_raw(old),
            )
        };
        from_result(|| NestedDomain::set_dev_pasid(d, &dev?, pasid, old).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn map_pages<D: DriverStatics>(
        domain: *mut bindings::iommu_domain,
        iova: usize,
        paddr: bindings::phys_addr_t,
        pgsize: usize,
        pgcount: usize,
        prot: ffi::c_int,
        gfp: bindings::gfp_t,
        mapped: *mut usize,
    ) -> ffi::c_int {
        // Our page tables take sleeping locks and allocate with
        // GFP_KERNEL_ACCOUNT: refuse a caller that may not sleep (the DMA
        // API maps with GFP_ATOMIC; our paging domains are for iommufd and
        // other sleeping users, never a device's default DMA domain).
        // SAFETY: pure flag test (`gfpflags_allow_blocking()`).
        if !unsafe { rb::riommu_shim_gfp_may_sleep(gfp) } {
            return EINVAL.to_errno();
        }
        // SAFETY: our paging table.
        let d = unsafe { paging::<D>(domain) };
        let mut raw = core::mem::MaybeUninit::<bindings::iommu_iotlb_gather>::uninit();
        // SAFETY: `raw` is a local that is not moved while the gather lives.
        unsafe { rb::riommu_shim_gather_init(raw.as_mut_ptr()) };
        // SAFETY: initialised just above, exclusively ours, free list empty.
        let mut gather = unsafe { IotlbGather::from_raw(raw.as_mut_ptr()) };
        let (done, r) = d.map_pages(
            iova as u64,
            paddr,
            pgsize as u64,
            pgcount as u64,
            prot as u32,
            &mut gather,
        );
        if gather.frees_tables() {
            // As generic_pt's `map_range()`: the unlinked tables must leave
            // the IOMMU's caches before their pages are reused.
            gather.add_range(iova as u64, done.max(pgsize as u64));
            d.iotlb_sync(&gather);
            // SAFETY: the driver's `iotlb_sync` has returned for this gather.
            unsafe { gather.release() };
        }
        // SAFETY: valid out-parameter (core).
        unsafe { *mapped = done as usize };
        from_result(|| r.map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn unmap_pages<D: DriverStatics>(
        domain: *mut bindings::iommu_domain,
        iova: usize,
        pgsize: usize,
        pgcount: usize,
        gather: *mut bindings::iommu_iotlb_gather,
    ) -> usize {
        // SAFETY: our paging table; the core's gather, initialised by
        // `iommu_iotlb_gather_init()` and ours for the call, whose free list
        // only this API fills (no DMA flush queue uses our domains).
        let (d, mut gather) = unsafe { (paging::<D>(domain), IotlbGather::from_raw(gather)) };
        let n = d.unmap_pages(iova as u64, pgsize as u64, pgcount as u64, &mut gather);
        if gather.frees_tables() && gather.range().is_none() {
            // `iommu_iotlb_sync()` skips the op for an empty range (and then
            // re-initialises the gather, losing its pages): make it run.
            gather.add_range(iova as u64, (pgsize as u64).max(1));
        }
        n as usize
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn iova_to_phys<D: DriverStatics>(
        domain: *mut bindings::iommu_domain,
        iova: bindings::dma_addr_t,
    ) -> bindings::phys_addr_t {
        // SAFETY: our paging table.
        unsafe { paging::<D>(domain) }.iova_to_phys(iova)
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn flush_iotlb_all<D: DriverStatics>(
        domain: *mut bindings::iommu_domain,
    ) {
        // SAFETY: our paging table.
        unsafe { paging::<D>(domain) }.flush_iotlb_all()
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn iotlb_sync<D: DriverStatics>(
        domain: *mut bindings::iommu_domain,
        gather: *mut bindings::iommu_iotlb_gather,
    ) {
        // SAFETY: as in `unmap_pages`: the gather the unmaps filled.
        let (d, mut gather) = unsafe { (paging::<D>(domain), IotlbGather::from_raw(gather)) };
        d.iotlb_sync(&gather);
        // Most syncs follow unmaps, which unlink no table: nothing to free.
        if gather.frees_tables() {
            // SAFETY: the driver's `iotlb_sync` has returned for this gather.
            // (The core re-initialises the gather after us.)
            unsafe { gather.release() };
        }
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn set_dirty_tracking<D: DriverStatics>(
        domain: *mut bindings::iommu_domain,
        enable: bool,
    ) -> ffi::c_int {
        // SAFETY: `dirty_ops` are only set on our paging domains.
        let d = unsafe { paging::<D>(domain) };
        from_result(|| d.set_dirty_tracking(enable).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn read_and_clear_dirty<D: DriverStatics>(
        domain: *mut bindings::iommu_domain,
        iova: usize,
        size: usize,
        flags: usize,
        dirty: *mut bindings::iommu_dirty_bitmap,
    ) -> ffi::c_int {
        // SAFETY: as above; `dirty` valid for the call (core).
        let (d, mut bitmap) = unsafe { (paging::<D>(domain), DirtyBitmap::from_raw(dirty)) };
        let no_clear = flags & bindings::IOMMU_DIRTY_NO_CLEAR as usize != 0;
        from_result(|| {
            d.read_and_clear_dirty(iova as u64, size as u64, no_clear, &mut bitmap)
                .map(|()| 0)
        })
    }

    /// # Safety
    ///
    /// Called by the iommu core, with the arguments its `iommu_ops` contract
    /// guarantees for this callback.
    pub(super) unsafe extern "C" fn cache_invalidate_user<D: DriverStatics>(
        domain: *mut bindings::iommu_domain,
        array: *mut bindings::iommu_user_data_array,
    ) -> ffi::c_int {
        // SAFETY: our nested table; `array` is exclusively ours for the call.
        let (d, mut array) = unsafe { (nested::<D>(domain), UserDataArray::from_raw(array)) };
        from_result(|| NestedDomain::cache_invalidate_user(d, &mut array).map(|()| 0))
    }
}
