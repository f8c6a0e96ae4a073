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
//! - [`is_pci`]: whether a device is a PCI device.
//!
//! How the core finds a DT-described IOMMU's devices: `iommu_device_register`
//! records the instance's `fwnode` (the IOMMU's DT node), then probes every
//! device of the IOMMU-capable buses; for a device without a fwspec and no
//! driver yet, the core replays its bus's `dma_configure`, which parses the
//! DT and calls the driver's `of_xlate` ([`super::driver::Driver::of_xlate`])
//! for each specifier naming our node.  Devices whose fwspec names our node
//! then reach `probe_device`.

use super::hw::Mmio;
use kernel::{bindings, device::Device, platform, prelude::*};

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
/// instance, which it drops before the platform device is unbound (the
/// instance lives in the driver's bound-device data).
pub fn mmio_of<Ctx: kernel::device::DeviceContext>(pdev: &platform::Device<Ctx>) -> Result<Mmio> {
    let res = pdev.resource_by_index(0).ok_or(ENODEV)?;
    let size = usize::try_from(res.size()).map_err(|_| EINVAL)?;
    Mmio::map(res.start(), size)
}

/// The ids of `dev`'s firmware IOMMU binding (`iommu_fwspec.ids`), in
/// order; empty if it has none.
///
/// The fwspec is set up before `probe_device` and only changes under the
/// core's probe lock, which is held while `probe_device` runs: call it from
/// `probe_device` (or on a device that the driver has probed, whose fwspec no
/// longer changes).
pub fn fwspec_ids(dev: &Device) -> Result<KVec<u32>> {
    let mut out = KVec::new();
    // SAFETY: `dev` is a live device; `dev->iommu` and its fwspec are set
    // before probe and stable while it is probed (see above); `ids` holds
    // `num_ids` initialised entries.
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

/// Appends `ids` to `dev`'s fwspec (`iommu_fwspec_add_ids`): the body of an
/// `of_xlate` for IOMMUs whose specifier is the id itself (SMMUv3's
/// `#iommu-cells = <1>`).
pub fn fwspec_add_ids(dev: &Device, ids: &[u32]) -> Result {
    let n = i32::try_from(ids.len()).map_err(|_| EINVAL)?;
    // SAFETY: `dev` is live (the core holds it during `of_xlate`); the core
    // copies `n` ids from `ids`.
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
