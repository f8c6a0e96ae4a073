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
//! - [`request_threaded_irq`]: a threaded handler of one of the device's
//!   interrupts, device managed (the kernel's
//!   [`irq::ThreadedRegistration`], whose constructor is `unsafe`).
//!
//! How the core finds a DT-described IOMMU's devices: `iommu_device_register`
//! records the instance's `fwnode` (the IOMMU's DT node), then probes every
//! device of the IOMMU-capable buses; for a device without a fwspec and no
//! driver yet, the core replays its bus's `dma_configure`, which parses the
//! DT and calls the driver's `of_xlate` ([`super::driver::Driver::of_xlate`])
//! for each specifier naming our node.  Devices whose fwspec names our node
//! then reach `probe_device`.

use super::{device::ProbingDevice, driver::DriverStatics, hw::Mmio, registration::Instance};
use core::marker::PhantomData;
use kernel::{
    bindings,
    device::{Bound, Device},
    devres,
    driver::{DriverLayout, RegistrationOps},
    irq, platform,
    prelude::*,
    str::CStr,
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
/// of a DT-described IOMMU.  `ENODEV` if it has none, `EINVAL` if it is
/// smaller than `MIN` (the end of the driver's fixed registers, checked at
/// compile time against `MIN`: see [`Mmio::io`]).
///
/// The mapping is not device managed: the caller keeps it in its IOMMU
/// instance, which domains may hold past the registration.  Register the
/// platform driver with [`NoUnbindAdapter`], as the SMMUv3 driver does, so
/// that the device stays bound while the module is loaded (and the module
/// stays while any domain holds the instance).
///
/// Not 7.3's `io_request_by_index()` and `IoRequest::iomap_exclusive_sized()`
/// (issue #16): that mapping is a `Devres`, revoked when the binding ends,
/// and every access goes through a revocable guard.  The instance's
/// registers must outlive the binding for as long as the instance does:
/// dropping the last reference disables the SMMU (`CR0 = 0`) before its
/// tables and queues are freed, which a revoked mapping could no longer
/// do.  A candidate upstream change: an `IoMem` whose lifetime a driver can
/// tie to a reference count of its own rather than to the binding.
pub fn mmio_of<const MIN: usize>(
    pdev: &platform::Device<kernel::device::Bound>,
) -> Result<Mmio<MIN>> {
    let res = pdev.resource_by_index(0).ok_or(ENODEV)?;
    let size = usize::try_from(res.size()).map_err(|_| EINVAL)?;
    // SAFETY: the first memory resource of `pdev`, the IOMMU's own register
    // window (its DT `reg`), and `pdev` is bound to the caller's driver.
    unsafe { Mmio::map(res.start(), size) }
}

/// Requests the interrupt of `pdev` that its firmware names `irq_name`
/// (`interrupt-names` in the device tree), with `flags`, named `name` in
/// `/proc/interrupts` and handled by `handler`: its hard-IRQ half
/// ([`irq::ThreadedHandler::handle`]) in interrupt context, its threaded
/// half in the interrupt's kernel thread.  `Ok(false)` if the device has no
/// such interrupt; `EPROBE_DEFER` if it cannot be had yet.
///
/// The registration belongs to the binding, not to the caller: it is
/// device managed (devres), and `free_irq()` runs when `pdev` is unbound
/// (or its probe fails), after the driver's own data is dropped
/// (`device_unbind_cleanup()` runs `post_unbind_rust` and then
/// `devres_release_all()`, drivers/base/dd.c).  So a driver cannot leak it
/// past the binding, which is what the kernel's `unsafe`
/// [`irq::ThreadedRegistration::new`] asks of its caller: a registration
/// that outlived the binding could run on an interrupt descriptor that is
/// gone, or call a handler whose data is.
pub fn request_threaded_irq<T: irq::ThreadedHandler + Send + 'static>(
    pdev: &platform::Device<Bound>,
    irq_name: &CStr,
    flags: irq::Flags,
    name: &'static CStr,
    handler: T,
) -> Result<bool> {
    let req = match pdev.optional_irq_by_name(irq_name) {
        Ok(req) => req,
        // `__platform_get_irq_byname()` found no such interrupt.
        Err(e) if e == ENXIO => return Ok(false),
        // EPROBE_DEFER, or EINVAL for an interrupt resource numbered 0.
        Err(e) => return Err(e),
    };
    // SAFETY: only the lifetime changes (`IrqRequest<'a>` holds the IRQ
    // number and a `PhantomData<&'a Device<Bound>>`, so the layout is the
    // same).  `'a` is the borrow of the bound `pdev`, which is what
    // rust/kernel/irq/request.rs uses to keep a registration from
    // outliving the binding.  The registration made from it below never
    // reaches safe code: `devres::register` boxes it and hands the box to
    // `pdev`'s devres (`register_foreign` → `devm_add_action_or_reset()`,
    // which runs the release at once if it cannot add it,
    // include/linux/device/devres.h), and `devres_release_all()` drops it
    // when the binding ends (drivers/base/dd.c, `device_unbind_cleanup()`
    // and a failed `really_probe()`), so it does not outlive the binding.
    let req: irq::IrqRequest<'static> = unsafe { core::mem::transmute(req) };
    // SAFETY: `ThreadedRegistration::new` asks that the registration is
    // not leaked (its `PinnedDrop` runs `free_irq()`).  It is pinned in a
    // box that `devres::register` hands to `pdev`'s devres, whose release
    // (at unbind, or a failed probe) drops it; nothing else owns it, so
    // nothing can leak it.  The handler is `'static` and borrows nothing.
    let reg = unsafe { irq::ThreadedRegistration::new(req, flags, name, Ok::<_, Error>(handler)) };
    devres::register(pdev.as_ref(), reg, GFP_KERNEL)?;
    Ok(true)
}

/// Whether `dev`'s firmware binding says its PCI root complex makes every
/// DMA write-back cacheable (`IOMMU_FWSPEC_PCI_RC_CANWBS`, from the ACPI
/// IORT's memory access flags; a device tree has no such flag): the C
/// SMMUv3 driver's `arm_smmu_master_canwbs()`.
pub fn fwspec_canwbs(dev: &ProbingDevice<'_>) -> bool {
    // SAFETY: `dev` is a live device; `dev->iommu` and its fwspec only
    // change under the probe lock, which is held (`ProbingDevice`): the
    // flag is set by `iort_iommu_configure_id()` (drivers/acpi/arm64/
    // iort.c), which `acpi_iommu_configure_id()` (drivers/acpi/scan.c) calls
    // with `iommu_probe_device_lock` held.
    unsafe {
        let param = (*raw(dev)).iommu;
        !param.is_null()
            && !(*param).fwspec.is_null()
            && (*(*param).fwspec).flags & bindings::IOMMU_FWSPEC_PCI_RC_CANWBS != 0
    }
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
/// registered ([`super::registration::IommuRegistration::new_hw`]) with the
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
