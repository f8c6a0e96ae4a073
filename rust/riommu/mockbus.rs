// SPDX-License-Identifier: GPL-2.0

//! Software devices on the bus of a mock IOMMU instance
//! ([`super::registration::IommuRegistration::new_mock_bus`]).

use super::{
    driver::DriverStatics, iommufd::RegisteredDevice, iopf::AttachLock, registration::Instance,
};
use core::{
    ptr::NonNull,
    sync::atomic::{AtomicU32, Ordering},
};
use kernel::{bindings, device::Device, prelude::*, sync::Arc, types::Opaque};

/// A driver whose IOMMU instance owns a mock bus.
pub trait MockBusDriver: DriverStatics {
    /// Data carried by each device on the bus.
    type BusDevData: Send + Sync;
}

#[repr(C)]
struct BusDev<T> {
    dev: Opaque<bindings::device>,
    data: T,
}

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// The registration of a device on a mock bus; unregistered when dropped.
///
/// # Invariants
///
/// `ptr` is a `KBox`-allocated `BusDev` whose `dev` was added with
/// `iommu_mock_device_add` on `inst`'s bus; we own its initial reference.
struct Registered<D: MockBusDriver> {
    ptr: NonNull<BusDev<D::BusDevData>>,
    /// Counts the device on its instance's bus, which stays registered
    /// while it does; dropped after the device is unregistered.
    _count: BusDevCount<D>,
    /// The device's [`RegisteredDevice::attach_lock`].
    attach_lock: AttachLock,
}

/// One device counted on an instance's mock bus (`Instance::bus_dev_get`),
/// uncounted on drop; it holds the instance, whose memory the bus is in.
struct BusDevCount<D: MockBusDriver>(Arc<Instance<D>>);

impl<D: MockBusDriver> BusDevCount<D> {
    fn new(inst: &Arc<Instance<D>>) -> Result<Self> {
        inst.bus_dev_get()?;
        Ok(Self(inst.clone()))
    }
}

impl<D: MockBusDriver> Drop for BusDevCount<D> {
    fn drop(&mut self) {
        self.0.bus_dev_put();
    }
}

// SAFETY: the device is reference counted; the data is `Send + Sync`.
unsafe impl<D: MockBusDriver> Send for Registered<D> {}
// SAFETY: as above.
unsafe impl<D: MockBusDriver> Sync for Registered<D> {}

impl<D: MockBusDriver> Drop for Registered<D> {
    fn drop(&mut self) {
        // SAFETY: added device; drops our initial reference.
        unsafe { bindings::device_unregister(self.ptr.as_ref().dev.get()) };
    }
}

/// A registered device on a mock bus, unregistered when the last clone is
/// dropped.  Clones are what keep the device on its bus: an iommufd binding
/// or an SVA bond made through one ([`RegisteredDevice`]) holds one, so the
/// device cannot leave its bus (and the iommu core release it) before them.
pub struct MockDevice<D: MockBusDriver> {
    reg: Arc<Registered<D>>,
}

impl<D: MockBusDriver> Clone for MockDevice<D> {
    fn clone(&self) -> Self {
        Self {
            reg: self.reg.clone(),
        }
    }
}

// SAFETY: while a `MockDevice` lives, its `Registered` lives, and the device
// is only unregistered when that drops (`device_unregister()` in
// `Registered::drop`, the only place that removes a mock-bus device).
//
// Every clone names the same `Registered`, so the same `attach_lock`.  No
// one else changes the device's attachments (but root's default-domain
// type changes, which the contract allows): no device driver binds on a
// mock bus (nothing registers one for it), so neither a kernel driver
// (`iommu_attach_device()`, `iommu_sva_bind_device()`) nor VFIO attaches
// domains to the device; iommufd changes them only through the
// `iommufd_device` that `BoundDevice` owns; SVA bonds are made by
// `sva::bind`.  And the device is alone in its IOMMU group (the core's
// `generic_device_group()` gives each device a new group, and
// `pci_device_group()` refuses a device that is not PCI), so no attach
// through another device changes its domains either.
unsafe impl<D: MockBusDriver> RegisteredDevice for MockDevice<D> {
    fn device(&self) -> &Device {
        MockDevice::device(self)
    }

    fn attach_lock(&self) -> &AttachLock {
        &self.reg.attach_lock
    }
}

/// `struct device::release` of mock-bus devices.
///
/// # Safety
///
/// Called by the driver core once, when the last reference to `dev` goes.
unsafe extern "C" fn release<T>(dev: *mut bindings::device) {
    // SAFETY: `dev` is the first field of a `KBox<BusDev<T>>` (repr(C)), and
    // this is its last reference.
    drop(unsafe { KBox::from_raw(dev.cast::<BusDev<T>>()) });
}

impl<D: MockBusDriver> MockDevice<D> {
    /// Creates a device named `<prefix><n>` on `inst`'s bus and adds it, which
    /// probes it with driver `D`.  `pasid_bits` is its PASID width (the
    /// `pasid-num-bits` property, always set, as the C mock does: 0 gives
    /// `max_pasids` 1, so PASID attaches are validated and refused).
    ///
    /// `ENODEV` once the instance's registration is being dropped; the
    /// registration waits, before it unregisters the bus, until every
    /// device made here has left it (so a registration dropped while the
    /// same thread holds one of its devices never returns).
    pub fn new(
        inst: &Arc<Instance<D>>,
        prefix: &'static CStr,
        pasid_bits: u32,
        data: D::BusDevData,
    ) -> Result<Self> {
        // `ENODEV` if the instance's registration is going; otherwise the
        // registration waits for the device to leave the bus.
        let count = BusDevCount::new(inst)?;
        let attach_lock = AttachLock::new()?;
        let b = KBox::new(
            BusDev {
                dev: Opaque::zeroed(),
                data,
            },
            GFP_KERNEL,
        )?;
        let p = KBox::into_raw(b);
        // SAFETY: `p` is a valid, zeroed, never-moved `struct device`.
        let dev = unsafe { (*p).dev.get() };
        // SAFETY: as above; after `device_initialize` the box belongs to the
        // refcount and `release` frees it.
        unsafe {
            bindings::device_initialize(dev);
            (*dev).release = Some(release::<D::BusDevData>);
            (*dev).bus = inst.bus();
        }
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        // SAFETY: a valid device and a valid format string with one `%u`.
        let mut ret =
            unsafe { bindings::dev_set_name(dev, c"%s%u".as_char_ptr(), prefix.as_char_ptr(), id) };
        if ret == 0 {
            // SAFETY: an initialised, not yet added device.
            ret = unsafe { super::bindings::riommu_shim_device_set_pasid_bits(dev, pasid_bits) };
        }
        if ret == 0 {
            // SAFETY: an initialised device on our bus and our iommu_device.
            ret = unsafe {
                super::bindings::test::riommu_test_mock_device_add(dev, inst.iommu_device())
            };
        }
        if ret != 0 {
            // SAFETY: drops the initial reference; `release` frees the box.
            unsafe { bindings::put_device(dev) };
            return Err(Error::from_errno(ret));
        }
        // SAFETY: `p` is non-null (from `KBox::into_raw`).
        let ptr = unsafe { NonNull::new_unchecked(p) };
        // INVARIANT: added; we keep the initial reference.  If the `Arc`
        // cannot be allocated, dropping `Registered` unregisters it again.
        let reg = Arc::new(
            Registered {
                ptr,
                _count: count,
                attach_lock,
            },
            GFP_KERNEL,
        )?;
        Ok(Self { reg })
    }

    /// The device's data.
    pub fn data(&self) -> &D::BusDevData {
        // SAFETY: valid while we hold our reference (type invariant).
        unsafe { &self.reg.ptr.as_ref().data }
    }

    /// The generic device.
    pub fn device(&self) -> &Device {
        // SAFETY: valid while we hold our reference.
        unsafe { Device::from_raw(self.reg.ptr.as_ref().dev.get()) }
    }

    /// The registered instance of `D` whose bus `dev` sits on, if any: what
    /// a mock driver's `probe_device` returns.
    pub fn instance_of(dev: &Device) -> Option<Arc<Instance<D>>> {
        D::find_instance(|i| Self::data_of(i, dev).is_some())
    }

    /// The data of `dev` if it sits on `inst`'s bus.
    pub fn data_of<'a>(inst: &Instance<D>, dev: &'a Device) -> Option<&'a D::BusDevData> {
        let raw = core::ptr::from_ref(dev).cast::<bindings::device>();
        // SAFETY: `dev` is a live device; reading its bus pointer is fine.
        let bus = unsafe { (*raw).bus };
        if !core::ptr::eq(bus, inst.bus()) {
            return None;
        }
        // SAFETY: only `MockDevice::new` puts devices on this bus, always as
        // the first field of a `BusDev<D::BusDevData>`.
        Some(unsafe { &(*raw.cast::<BusDev<D::BusDevData>>()).data })
    }
}
