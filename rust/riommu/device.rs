// SPDX-License-Identifier: GPL-2.0

//! Devices as a driver's callbacks see them: [`ProbingDevice`] during
//! probe, [`IommuDevice`] once probed (with the driver's per-device data
//! and its IOMMU instance), and the values `probe_device`, `hw_info` and
//! `get_resv_regions` give the core.

use crate::riommu::{
    driver::{Driver, DriverStatics},
    iopf::IopfDev,
    registration::Instance,
};
use core::{marker::PhantomData, ptr};
use kernel::{bindings, device::Device, ffi, prelude::*, sync::Arc};

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
    pub(in crate::riommu) fn from_raw(cap: bindings::iommu_cap) -> Self {
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
    pub(in crate::riommu) head: *mut bindings::list_head,
    pub(in crate::riommu) _p: PhantomData<&'a mut bindings::list_head>,
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
    pub(in crate::riommu) ty: u32,
    pub(in crate::riommu) data: KVec<u8>,
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
    pub(in crate::riommu) dev: &'a Device,
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
pub(in crate::riommu) struct DevPriv<D: DriverStatics> {
    pub(in crate::riommu) data: D::DevData,
    /// The instance whose `iommu_device` the core recorded for the device
    /// (`dev->iommu->iommu_dev`): the device keeps it alive.
    pub(in crate::riommu) inst: Arc<Instance<D>>,
    /// Its I/O page fault state (on its instance's queue or not).
    pub(in crate::riommu) iopf: IopfDev,
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
        unsafe { &*dev_iommu_priv(self.as_raw()).cast::<DevPriv<D>>() }
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

    /// The device's I/O page fault state.
    pub(in crate::riommu) fn iopf(&self) -> &'a IopfDev {
        &self.private().iopf
    }

    /// The IOMMU instance the device sits behind, as a counted reference
    /// (for a domain or vIOMMU that keeps it).
    pub fn instance(&self) -> Arc<Instance<D>> {
        self.private().inst.clone()
    }
}

/// `dev_iommu_priv_get()` (a static inline of include/linux/iommu.h, read
/// here as it reads it: `dev->iommu ? dev->iommu->priv : NULL`), inline
/// rather than through a C shim call on every callback that names a device.
///
/// # Safety
///
/// `dev` must point to a live `struct device` whose `iommu` field, if set,
/// is not freed during the call: the iommu core frees `dev->iommu` only in
/// `dev_iommu_free()` (drivers/iommu/iommu.c), after the driver's
/// `release_device`, the last callback that names the device.
pub(in crate::riommu) unsafe fn dev_iommu_priv(dev: *mut bindings::device) -> *mut ffi::c_void {
    // SAFETY: `dev` is live (caller).
    let iommu = unsafe { (*dev).iommu };
    if iommu.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: a non-null `dev->iommu` is live for the call (caller).
    unsafe { (*iommu).priv_ }
}
