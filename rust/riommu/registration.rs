// SPDX-License-Identifier: GPL-2.0

//! IOMMU instances: [`Instance`] (the C `iommu_device` and the driver's
//! data, reference counted) and [`IommuRegistration`], which registers one
//! with the iommu core and unregisters it on drop.

use crate::riommu::{bindings as rb, domain::DomainBox};
use crate::riommu::{device::IommuDevice, driver::DriverStatics, iopf::IopfQueue};
use core::{
    marker::{PhantomData, PhantomPinned},
    ptr,
    sync::atomic::{AtomicBool, Ordering},
};
use kernel::{
    bindings,
    device::Device,
    ffi, new_condvar, new_mutex,
    prelude::*,
    str::CStr,
    sync::{Arc, CondVar, Mutex},
    types::Opaque,
};

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
    /// two racing registrations never share one).  `ENOSPC` if `D` already
    /// has [`MAX_INSTANCES`] instances.
    fn new() -> Result<Self> {
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
        Ok(Self {
            slot,
            _p: PhantomData,
        })
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
    /// The fault queue of a driver with `page_response` ([`super::iopf`]).
    /// Devices are on it only while they hold the instance.
    iopf: Option<IopfQueue>,
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
        name: &CStr,
        data: impl PinInit<D::Data, Error>,
        fwnode: *mut bindings::fwnode_handle,
    ) -> Result<Arc<Self>> {
        let iopf = if D::HAS_PAGE_RESPONSE {
            Some(IopfQueue::new(name)?)
        } else {
            None
        };
        Arc::pin_init(
            try_pin_init!(Self {
                // INVARIANT: all-zero, a valid initial state of every field.
                raw: Opaque::zeroed(),
                data <- data,
                fwnode,
                registered: AtomicBool::new(false),
                bus_devs <- new_mutex!(0),
                bus_devs_gone <- new_condvar!(),
                iopf,
                _pin: PhantomPinned,
            }? Error),
            GFP_KERNEL,
        )
    }

    /// The driver's instance data.
    pub fn data(&self) -> &D::Data {
        &self.data
    }

    /// The instance's fault queue (a driver with `page_response` only).
    pub(in crate::riommu) fn iopf_queue(&self) -> Option<&IopfQueue> {
        self.iopf.as_ref()
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
        bus_name: &'static CStr,
        max_pasids: u32,
        data: impl PinInit<D::Data, Error>,
    ) -> Result<Self> {
        let claim = Claim::<D>::new()?;
        let inst = Instance::<D>::new(bus_name, data, ptr::null_mut())?;
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
        hwdev: &Device,
        name: &CStr,
        max_pasids: u32,
        data: impl PinInit<D::Data, Error>,
    ) -> Result<Self> {
        // Our sysfs node is a child of `hwdev` (so holds a reference to it),
        // and `iommu_device_register` only copies its fwnode.
        let hw = ptr::from_ref(hwdev).cast::<bindings::device>().cast_mut();
        Self::new_hw_raw(hw, name, max_pasids, data)
    }

    /// [`IommuRegistration::new_hw`] for an IOMMU with no `struct device`
    /// of its own (a firmware-described unit such as a VT-d DRHD, which the
    /// C intel driver registers the same way): the sysfs node has no parent
    /// and the instance no fwnode, so the core offers it every device
    /// without a firmware IOMMU binding (`iommu_fwspec_ops(NULL)`).
    pub fn new_hw_unparented(
        name: &CStr,
        max_pasids: u32,
        data: impl PinInit<D::Data, Error>,
    ) -> Result<Self> {
        Self::new_hw_raw(ptr::null_mut(), name, max_pasids, data)
    }

    /// `hw` is NULL or a live device.
    fn new_hw_raw(
        hw: *mut bindings::device,
        name: &CStr,
        max_pasids: u32,
        data: impl PinInit<D::Data, Error>,
    ) -> Result<Self> {
        let claim = Claim::<D>::new()?;
        let fwnode = if hw.is_null() {
            ptr::null_mut()
        } else {
            // SAFETY: a live device (caller); what `iommu_device_register()`
            // records as the instance's fwnode (`dev_fwnode(hwdev)`).
            unsafe { bindings::__dev_fwnode(hw) }
        };
        let inst = Instance::<D>::new(name, data, fwnode)?;
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
