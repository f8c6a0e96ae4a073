// SPDX-License-Identifier: GPL-2.0

//! The driver-facing iommufd calls a device owner makes: look up a context
//! from a file descriptor and bind, attach, replace and detach a device.

use super::{bindings as rb, iopf::AttachLock};
#[cfg(riommu_test)]
use super::{
    domain::{Domain, OldDomain},
    driver::DriverStatics,
};
use core::ptr::NonNull;
use kernel::{bindings, device::Device, prelude::*};

/// A counted reference to an iommufd context (`struct iommufd_ctx`).
///
/// # Invariants
///
/// `ptr` holds one reference, dropped with `iommufd_ctx_put`.
pub struct IommufdCtx {
    ptr: NonNull<bindings::iommufd_ctx>,
}

// SAFETY: the context is reference counted and internally locked.
unsafe impl Send for IommufdCtx {}
// SAFETY: as above.
unsafe impl Sync for IommufdCtx {}

impl IommufdCtx {
    /// The context of an open `/dev/iommu` file descriptor; `EBADF` if `fd`
    /// is not open, `EBADFD` if it is not an iommufd.
    pub fn from_fd(fd: i32) -> Result<Self> {
        // SAFETY: any value is acceptable; returns a counted reference or an
        // error pointer.
        let p = unsafe { rb::iommufd_ctx_from_fd(fd) };
        let p = kernel::error::from_err_ptr(p)?;
        // INVARIANT: `iommufd_ctx_from_fd` took a reference.
        NonNull::new(p).map(|ptr| Self { ptr }).ok_or(EBADF)
    }

    /// Whether `self` and `other` are the same context.
    pub fn same(&self, other: &IommufdCtx) -> bool {
        self.ptr == other.ptr
    }

    /// An identity token for the context, for comparisons only.
    pub fn key(&self) -> usize {
        self.ptr.as_ptr() as usize
    }
}

/// The kind of HWPT a test driver looks up with [`IommufdCtx::with_hwpt`].
#[cfg(riommu_test)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HwptKind {
    /// A paging HWPT (`IOMMUFD_OBJ_HWPT_PAGING`).
    Paging,
    /// A nested HWPT (`IOMMUFD_OBJ_HWPT_NESTED`).
    Nested,
    /// Either kind.
    Any,
}

#[cfg(riommu_test)]
impl IommufdCtx {
    /// Runs `f` on the domain of this context's HWPT `id`, as driver `D`
    /// sees it, with the HWPT held for the call.  Errors as the C mock's
    /// lookups (`__get_md_pagetable()`, `iommufd_get_hwpt()`): `ENOENT` if
    /// the context has no object `id`, or for [`HwptKind::Paging`] and
    /// [`HwptKind::Nested`] none of that kind; `EINVAL` if, for
    /// [`HwptKind::Any`], the object is no HWPT.  A HWPT of another driver
    /// reaches `f` as [`OldDomain::Other`].
    ///
    /// Process context only (it takes the table's spinlock, as
    /// `iommufd_get_object()` does).  Test drivers only: iommufd keeps its
    /// object table private (see `rust/shim/riommu_test_shim.c`).
    pub fn with_hwpt<D: DriverStatics, R>(
        &self,
        id: u32,
        kind: HwptKind,
        f: impl FnOnce(OldDomain<'_, D>) -> R,
    ) -> Result<R> {
        let ty = match kind {
            HwptKind::Paging => rb::iommufd_object_type_IOMMUFD_OBJ_HWPT_PAGING,
            HwptKind::Nested => rb::iommufd_object_type_IOMMUFD_OBJ_HWPT_NESTED,
            HwptKind::Any => rb::iommufd_object_type_IOMMUFD_OBJ_ANY,
        };
        let mut obj = core::ptr::null_mut();
        // SAFETY: `self.ptr` is a live context: we hold a reference, which
        // is a reference on its file (`iommufd_ctx_from_fd()` takes the
        // file's, `iommufd_ctx_put()` drops it), so `iommufd_fops_release()`
        // cannot be destroying its objects.  On success the shim took a
        // `users` and a `wait_cnt` reference on the HWPT
        // (`iommufd_lock_obj()`) and wrote it to `obj`.
        let domain = unsafe { rb::test::riommu_test_hwpt_get(self.ptr.as_ptr(), id, ty, &mut obj) };
        let domain = kernel::error::from_err_ptr(domain)?;
        // SAFETY: `domain` is the held HWPT's `hwpt->domain`, set before
        // iommufd_object_finalize() published the HWPT (NULL is classified
        // as `OldDomain::None`).  While `users` is raised,
        // iommufd_object_remove() fails with EBUSY
        // (`refcount_dec_if_one(&obj->users)`; no HWPT is removed with
        // `REMOVE_WAIT`, which would wait instead), and the file reference
        // keeps iommufd_fops_release() away, so the HWPT's destroy, whose
        // `__iommufd_hwpt_destroy()` frees the domain with
        // `iommu_domain_free()`, cannot run before the put below: the
        // domain is live for `f`, whose argument's lifetime ends with the
        // call.
        let r = f(unsafe { OldDomain::<D>::from_raw(domain) });
        // SAFETY: releases the reference `riommu_test_hwpt_get` took.
        unsafe { rb::test::riommu_test_hwpt_put(self.ptr.as_ptr(), obj) };
        Ok(r)
    }

    /// Runs `f` on this context's paging HWPT `id` if it is a paging domain
    /// of driver `D` (`EINVAL` otherwise), as the C mock's
    /// `get_md_pagetable()`; see [`IommufdCtx::with_hwpt`].
    pub fn with_paging<D: DriverStatics, R>(
        &self,
        id: u32,
        f: impl FnOnce(&Domain<D::Paging>) -> R,
    ) -> Result<R> {
        self.with_hwpt::<D, _>(id, HwptKind::Paging, |d| match d {
            OldDomain::Paging(d) => Ok(f(d)),
            _ => Err(EINVAL),
        })?
    }

    /// Runs `f` on this context's nested HWPT `id` if it is a nested domain
    /// of driver `D` (`EINVAL` otherwise), as the C mock's
    /// `get_md_pagetable_nested()`; see [`IommufdCtx::with_hwpt`].
    pub fn with_nested<D: DriverStatics, R>(
        &self,
        id: u32,
        f: impl FnOnce(&Domain<D::Nested>) -> R,
    ) -> Result<R> {
        self.with_hwpt::<D, _>(id, HwptKind::Nested, |d| match d {
            OldDomain::Nested(d) => Ok(f(d)),
            _ => Err(EINVAL),
        })?
    }
}

impl Drop for IommufdCtx {
    fn drop(&mut self) {
        // SAFETY: we own one reference (type invariant).
        unsafe { rb::iommufd_ctx_put(self.ptr.as_ptr()) };
    }
}

/// A handle that keeps a device registered on its bus for as long as it
/// lives.  An iommufd binding ([`BoundDevice`]) or an SVA bond
/// ([`super::sva::SvaBond`]) holds one: both keep a plain pointer to the
/// device that their teardown follows (`idev->dev`, `handle->dev`), and the
/// iommu core releases a device when it leaves its bus
/// (`iommu_release_device()` clears `dev->iommu_group` and frees
/// `dev->iommu`), so tearing them down afterwards would touch freed memory
/// or a NULL group.  A counted reference on the `struct device` alone is
/// not enough for that reason.
///
/// # Safety
///
/// While a value of the type lives, [`RegisteredDevice::device`] returns
/// the same device, and that device stays registered on its bus:
/// `device_del()` has not run for it.
///
/// [`RegisteredDevice::attach_lock`] returns the same lock for every value
/// naming the same device, and while a value lives nothing changes the
/// device's domain attachments (RID or PASID) but the core's probe and
/// release of the device, the core's changes of its RID's default domain
/// while no one owns its DMA (sysfs `iommu_group/type`,
/// `iommu_group_store_type()`: never a fault-capable domain, never an
/// attach handle), and the [`BoundDevice`]s and [`super::sva::SvaBond`]s
/// made on such values, which hold that lock around each change (so
/// [`super::iopf::report`] may rely on it).
pub unsafe trait RegisteredDevice: Send + Sync + 'static {
    /// The device kept registered.
    fn device(&self) -> &Device;

    /// The lock of the device's attachment changes (see the trait's
    /// safety section).
    fn attach_lock(&self) -> &AttachLock;
}

/// A device bound to an iommufd context (`iommufd_device_bind`); unbound on
/// drop, which first detaches it.  It holds `K`, which keeps the device
/// registered until the binding is gone.
///
/// # Invariants
///
/// `idev` is a live binding returned by `iommufd_device_bind` for
/// `keep.device()`; `attached` tells whether the RID (`IOMMU_NO_PASID`) is
/// attached.
pub struct BoundDevice<K: RegisteredDevice> {
    idev: NonNull<rb::iommufd_device>,
    id: u32,
    attached: bool,
    /// PASIDs attached through [`BoundDevice::attach_pasid`]: detached
    /// before unbinding, which iommufd requires (it warns otherwise).
    pasids: KVec<u32>,
    /// Dropped after `Drop::drop` has unbound.
    keep: K,
}

// SAFETY: iommufd serialises operations on a bound device internally; the
// `&mut self` methods serialise ours.
unsafe impl<K: RegisteredDevice> Send for BoundDevice<K> {}
// SAFETY: the `&self` methods only read `id` and call iommufd, which locks.
unsafe impl<K: RegisteredDevice> Sync for BoundDevice<K> {}

/// `IOMMU_NO_PASID`: the device's RID.
pub const NO_PASID: u32 = bindings::IOMMU_NO_PASID;

impl<K: RegisteredDevice> BoundDevice<K> {
    /// Binds `keep`'s device to `ctx`; [`BoundDevice::id`] is the iommufd
    /// device id.
    pub fn bind(ctx: &IommufdCtx, keep: K) -> Result<Self> {
        let mut id = 0u32;
        let raw_dev = core::ptr::from_ref(keep.device())
            .cast::<bindings::device>()
            .cast_mut();
        // Binding claims DMA ownership, which attaches the blocking domain.
        let guard = keep.attach_lock().lock();
        // SAFETY: `ctx` is a live context and `raw_dev` a registered device
        // (`keep`) whose IOMMU driver has probed it; `id` is a valid
        // out-parameter.
        let p = unsafe { rb::iommufd_device_bind(ctx.ptr.as_ptr(), raw_dev, &mut id) };
        drop(guard);
        let p = kernel::error::from_err_ptr(p)?;
        // INVARIANT: bound just now; `keep` keeps the device registered.
        NonNull::new(p)
            .map(|idev| Self {
                idev,
                id,
                attached: false,
                pasids: KVec::new(),
                keep,
            })
            .ok_or(ENODEV)
    }

    /// The device.
    pub fn device(&self) -> &Device {
        self.keep.device()
    }

    /// The iommufd object id of the binding.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Whether the RID is attached.
    pub fn is_attached(&self) -> bool {
        self.attached
    }

    /// `iommufd_device_attach` of the RID to `pt_id` (an IOAS or HWPT); on
    /// success `pt_id` becomes the HWPT attached.
    pub fn attach(&mut self, pt_id: &mut u32) -> Result {
        if self.attached {
            return Err(EBUSY);
        }
        let _guard = self.keep.attach_lock().lock();
        // SAFETY: live binding (type invariant); valid out-parameter.
        kernel::error::to_result(unsafe {
            rb::iommufd_device_attach(self.idev.as_ptr(), NO_PASID, pt_id)
        })?;
        self.attached = true;
        Ok(())
    }

    /// `iommufd_device_replace` of the RID's domain with `pt_id`.
    pub fn replace(&mut self, pt_id: &mut u32) -> Result {
        if !self.attached {
            return Err(EINVAL);
        }
        let _guard = self.keep.attach_lock().lock();
        // SAFETY: live, attached binding; valid out-parameter.
        kernel::error::to_result(unsafe {
            rb::iommufd_device_replace(self.idev.as_ptr(), NO_PASID, pt_id)
        })
    }

    /// `iommufd_device_attach` of `pasid` (not the RID) to `pt_id`.
    pub fn attach_pasid(&mut self, pasid: u32, pt_id: &mut u32) -> Result {
        if pasid == NO_PASID {
            return Err(EINVAL);
        }
        self.pasids.reserve(1, GFP_KERNEL)?;
        let _guard = self.keep.attach_lock().lock();
        // SAFETY: live binding (type invariant); valid out-parameter.
        kernel::error::to_result(unsafe {
            rb::iommufd_device_attach(self.idev.as_ptr(), pasid, pt_id)
        })?;
        // Cannot fail: reserved above.
        self.pasids.push(pasid, GFP_KERNEL)?;
        Ok(())
    }

    /// `iommufd_device_replace` of `pasid`'s domain with `pt_id`.
    pub fn replace_pasid(&self, pasid: u32, pt_id: &mut u32) -> Result {
        if pasid == NO_PASID {
            return Err(EINVAL);
        }
        let _guard = self.keep.attach_lock().lock();
        // SAFETY: live binding; valid out-parameter.
        kernel::error::to_result(unsafe {
            rb::iommufd_device_replace(self.idev.as_ptr(), pasid, pt_id)
        })
    }

    /// `iommufd_device_detach` of `pasid` (nothing happens if it is not
    /// attached).
    pub fn detach_pasid(&mut self, pasid: u32) -> Result {
        if pasid == NO_PASID {
            return Err(EINVAL);
        }
        let guard = self.keep.attach_lock().lock();
        // SAFETY: live binding; detaching an unattached PASID is a no-op.
        unsafe { rb::iommufd_device_detach(self.idev.as_ptr(), pasid) };
        drop(guard);
        if let Some(i) = self.pasids.iter().position(|&p| p == pasid) {
            let _ = self.pasids.remove(i);
        }
        Ok(())
    }

    /// `iommufd_device_detach` of the RID; `ENOENT` when not attached.
    pub fn detach(&mut self) -> Result {
        if !self.attached {
            return Err(ENOENT);
        }
        let _guard = self.keep.attach_lock().lock();
        // SAFETY: live, attached binding.
        unsafe { rb::iommufd_device_detach(self.idev.as_ptr(), NO_PASID) };
        self.attached = false;
        Ok(())
    }
}

impl<K: RegisteredDevice> Drop for BoundDevice<K> {
    fn drop(&mut self) {
        let _guard = self.keep.attach_lock().lock();
        for &pasid in self.pasids.iter() {
            // SAFETY: live binding; `pasid` was attached by us.
            unsafe { rb::iommufd_device_detach(self.idev.as_ptr(), pasid) };
        }
        if self.attached {
            // SAFETY: live, attached binding.
            unsafe { rb::iommufd_device_detach(self.idev.as_ptr(), NO_PASID) };
        }
        // SAFETY: live binding, not used afterwards.
        unsafe { rb::iommufd_device_unbind(self.idev.as_ptr()) };
    }
}
