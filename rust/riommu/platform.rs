// SPDX-License-Identifier: GPL-2.0

//! IOMMUs that are platform devices described by the device tree (an Arm
//! SMMUv3 node, `compatible = "arm,smmu-v3"`).
//!
//! The platform driver itself is the kernel's own [`kernel::platform`]
//! binding (an `of_device_table!`, a [`kernel::platform::Driver`], a
//! [`kernel::driver::Registration`]): it is safe to use from driver code as
//! it is.  What it lacks for an IOMMU is here:
//!
//! - [`mmio_of`]: the register window of the device's first memory resource
//!   as a [`super::hw::Mmio`] (which the driver keeps in its IOMMU instance,
//!   beyond the probe's borrow);
//! - [`fwspec_ids`]: the ids the firmware gives a device behind the IOMMU
//!   (its `iommu_fwspec`, filled from the DT `iommus`/`iommu-map` through
//!   the driver's `of_xlate`): for SMMUv3 the StreamIDs;
//! - [`fwspec_add_ids`]: what an `of_xlate` does with the specifier's cells;
//! - [`fwspec_instance`]: which of the driver's instances a device's
//!   firmware binding names;
//! - [`is_pci`]: whether a device is a PCI device.
//!
//! How the core finds a DT-described IOMMU's devices: `iommu_device_register`
//! records the instance's `fwnode` (the IOMMU's DT node), then probes every
//! device of the IOMMU-capable buses; for a device without a fwspec and no
//! driver yet, the core replays its bus's `dma_configure`, which parses the
//! DT and calls the driver's `of_xlate` ([`super::driver::Driver::of_xlate`])
//! for each specifier naming our node.  Devices whose fwspec names our node
//! then reach `probe_device`.

use super::{
    driver::{DriverStatics, Instance, ProbingDevice},
    hw::Mmio,
};
use core::marker::PhantomData;
use kernel::{
    bindings,
    device::Device,
    driver::{DriverLayout, RegistrationOps},
    platform,
    prelude::*,
    sync::Arc,
    types::Opaque,
    ThisModule,
};

/// [`platform::Adapter`] with the driver's sysfs `bind` and `unbind` files
/// suppressed (`suppress_bind_attrs`), as the C arm-smmu-v3 driver has
/// (`arm_smmu_driver`, drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c).  An
/// IOMMU's instance is referred to by every domain, vIOMMU and device
/// behind it, so it must not go while the module is in use: with no
/// `unbind` file it is unbound only when the driver is unregistered, at
/// module unload, which the module references of those objects (and the
/// core's per-device reference, `iommu_init_device()`) hold off.  Register
/// it with [`kernel::driver::Registration`] as the plain adapter.
pub struct NoUnbindAdapter<T: platform::Driver>(PhantomData<T>);

// SAFETY: the layout of `platform::Adapter<T>`, whose `DriverLayout` this
// copies: `bindings::platform_driver` is `repr(C)`, embeds its `struct
// device_driver` at `driver`, and `T::Data` is the device private data
// `platform::Adapter<T>`'s probe sets.
unsafe impl<T: platform::Driver + 'static> DriverLayout for NoUnbindAdapter<T> {
    type DriverType = bindings::platform_driver;
    type DriverData<'bound> = T::Data<'bound>;
    const DEVICE_DRIVER_OFFSET: usize = core::mem::offset_of!(Self::DriverType, driver);
}

// SAFETY: registration and unregistration are `platform::Adapter<T>`'s, on
// the same `DriverType`, so an `unregister` follows its successful
// `register` exactly when it does for the adapter.
unsafe impl<T: platform::Driver + 'static> RegistrationOps for NoUnbindAdapter<T> {
    unsafe fn register(
        pdrv: &Opaque<Self::DriverType>,
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> Result {
        // SAFETY: fields of a driver being initialised, not yet registered
        // (the driver core creates the bind files at registration,
        // `bus_add_driver()` → `add_bind_files()`); the adapter's
        // `register` sets only other fields.
        unsafe {
            (*pdrv.get()).driver.suppress_bind_attrs = true;
            <platform::Adapter<T> as RegistrationOps>::register(pdrv, name, module)
        }
    }

    unsafe fn unregister(pdrv: &Opaque<Self::DriverType>) {
        // SAFETY: registered by `register` above (caller).
        unsafe { <platform::Adapter<T> as RegistrationOps>::unregister(pdrv) }
    }
}

/// The raw pointer of a device, for the C calls below.
fn raw(dev: &Device) -> *mut bindings::device {
    core::ptr::from_ref(dev)
        .cast::<bindings::device>()
        .cast_mut()
}

/// Maps the first memory resource (`reg`) of `pdev`: the register window
/// of a DT-described IOMMU.  `ENODEV` if it has none.
///
/// The mapping is not device managed: the caller keeps it in its IOMMU
/// instance, which domains may hold past the registration.  Register the
/// platform driver with [`NoUnbindAdapter`], as the SMMUv3 driver does, so
/// that the device stays bound while the module is loaded (and the module
/// stays while any domain holds the instance).
pub fn mmio_of(pdev: &platform::Device<kernel::device::Bound>) -> Result<Mmio> {
    let res = pdev.resource_by_index(0).ok_or(ENODEV)?;
    let size = usize::try_from(res.size()).map_err(|_| EINVAL)?;
    // SAFETY: the first memory resource of `pdev`, the IOMMU's own register
    // window (its DT `reg`), and `pdev` is bound to the caller's driver.
    unsafe { Mmio::map(res.start(), size) }
}

/// The ids of `dev`'s firmware IOMMU binding (`iommu_fwspec.ids`), in
/// order; empty if it has none.
///
/// The fwspec only changes under the core's probe lock, which a
/// [`ProbingDevice`] proves is held.
pub fn fwspec_ids(dev: &ProbingDevice<'_>) -> Result<KVec<u32>> {
    let mut out = KVec::new();
    // SAFETY: `dev` is a live device; `dev->iommu` and its fwspec only
    // change under the probe lock, which is held (`ProbingDevice`); `ids`
    // holds `num_ids` initialised entries.
    unsafe {
        let param = (*raw(dev)).iommu;
        if param.is_null() || (*param).fwspec.is_null() {
            return Ok(out);
        }
        let fw = (*param).fwspec;
        let n = (*fw).num_ids as usize;
        let ids = (*fw).ids.as_ptr();
        for i in 0..n {
            out.push(*ids.add(i), GFP_KERNEL)?;
        }
    }
    Ok(out)
}

/// The instance of driver `D` that `dev`'s firmware binding names: the one
/// registered ([`super::driver::IommuRegistration::new_hw`]) with the
/// fwnode of the device's `iommus`/`iommu-map` target, as the C drivers'
/// `probe_device` finds theirs (`arm_smmu_get_by_fwnode()`).  `None` if the
/// device has no fwspec or names another IOMMU.
pub fn fwspec_instance<D: DriverStatics>(dev: &ProbingDevice<'_>) -> Option<Arc<Instance<D>>> {
    // SAFETY: `dev` is a live device; `dev->iommu` and its fwspec only
    // change under the probe lock, which is held (`ProbingDevice`).
    let fwnode = unsafe {
        let param = (*raw(dev)).iommu;
        if param.is_null() || (*param).fwspec.is_null() {
            return None;
        }
        (*(*param).fwspec).iommu_fwnode
    };
    if fwnode.is_null() {
        return None;
    }
    D::find_instance(|i| core::ptr::eq(i.fwnode(), fwnode))
}

/// Appends `ids` to `dev`'s fwspec (`iommu_fwspec_add_ids`): the body of an
/// `of_xlate` for IOMMUs whose specifier is the id itself (SMMUv3's
/// `#iommu-cells = <1>`).
pub fn fwspec_add_ids(dev: &ProbingDevice<'_>, ids: &[u32]) -> Result {
    let n = i32::try_from(ids.len()).map_err(|_| EINVAL)?;
    // SAFETY: `dev` is live (the core holds it during `of_xlate`) and the
    // probe lock is held (`ProbingDevice`); the core copies `n` ids.
    let ret = unsafe { bindings::iommu_fwspec_add_ids(raw(dev), ids.as_ptr(), n) };
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(())
    }
}

/// Whether `dev` is a PCI device (`dev_is_pci`).
pub fn is_pci(dev: &Device) -> bool {
    // SAFETY: `dev` is live; `bus` is set when it is added and read-only
    // afterwards; `pci_bus_type` is a static of the kernel.
    unsafe { core::ptr::eq((*raw(dev)).bus, &raw const bindings::pci_bus_type) }
}
