// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error\[E0200\]: the trait .(.*::)?RegisteredDevice. requires an .unsafe impl. declaration
// why: a device reference alone does not keep the device on its bus: binding it to iommufd needs a RegisteredDevice, an unsafe trait a driver module cannot implement
// root: riommu::driver::declare_iommu_driver!(case::Mine);

#![forbid(unsafe_code)]

use crate::riommu::{
    iommufd::{BoundDevice, IommufdCtx, RegisteredDevice},
    iopf::AttachLock,
};
use kernel::{device::Device, prelude::*, sync::aref::ARef};

minimal_driver! { driver: Mine, paging: MyDomain }

/// A counted reference to the device, which does not stop `device_del()`,
/// with an attach lock of its own (not the one of the device's other
/// holders).
pub struct JustARef(ARef<Device>, AttachLock);

impl RegisteredDevice for JustARef {
    fn device(&self) -> &Device {
        &self.0
    }

    fn attach_lock(&self) -> &AttachLock {
        &self.1
    }
}

/// Binds `dev` to `ctx` for as long as the binding lives.
pub fn bind(ctx: &IommufdCtx, dev: &Device) -> Result<BoundDevice<JustARef>> {
    BoundDevice::bind(ctx, JustARef(dev.into(), AttachLock::new()?))
}
