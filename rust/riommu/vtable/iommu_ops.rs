// SPDX-License-Identifier: GPL-2.0

//! The `struct iommu_ops` callbacks of a driver (see [`super`]).

use crate::riommu::{
    device::{dev_iommu_priv, Cap, DevPriv, IommuDevice, ProbingDevice, ResvRegions},
    driver::DriverStatics,
    iopf::IopfDev,
    registration::publish,
};
use crate::riommu::{
    domain::{NewDomain, PagingDomain, Parent, ParentDomain},
    flags::AllocFlags,
    userdata::UserData,
};
use core::marker::PhantomData;
use kernel::{bindings, device::Device, error::from_result, ffi, prelude::*};

/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn get_resv_regions<D: DriverStatics>(
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
pub(in crate::riommu) unsafe extern "C" fn capable<D: DriverStatics>(
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
        Cap::EnforceCacheCoherency if !<D::Paging as PagingDomain>::HAS_ENFORCE_CACHE_COHERENCY => {
            false
        }
        _ => D::capable(&dev, cap),
    }
}

/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn of_xlate<D: DriverStatics>(
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
pub(in crate::riommu) unsafe extern "C" fn hw_info<D: DriverStatics>(
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
pub(in crate::riommu) unsafe extern "C" fn alloc_paging_flags<D: DriverStatics>(
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
pub(in crate::riommu) unsafe extern "C" fn alloc_nested<D: DriverStatics>(
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
pub(in crate::riommu) unsafe extern "C" fn alloc_sva<D: DriverStatics>(
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
pub(in crate::riommu) unsafe extern "C" fn probe_device<D: DriverStatics>(
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
                iopf: IopfDev::new(),
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
pub(in crate::riommu) unsafe extern "C" fn release_device<D: DriverStatics>(
    dev: *mut bindings::device,
) {
    // SAFETY: a device we probed, being released.
    let idev = unsafe { IommuDevice::<D>::from_raw(dev) };
    crate::riommu::iopf::release(&idev);
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
        let p = dev_iommu_priv(dev).cast::<DevPriv<D>>();
        drop(KBox::from_raw(p));
    }
}

/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn def_domain_identity(
    _dev: *mut bindings::device,
) -> ffi::c_int {
    bindings::IOMMU_DOMAIN_IDENTITY as ffi::c_int
}
