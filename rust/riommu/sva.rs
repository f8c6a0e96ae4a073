// SPDX-License-Identifier: GPL-2.0

//! Shared virtual addressing: SVA domains and MMU notifiers.
//!
//! The iommu core binds an `mm_struct` (not a task) to a device PASID
//! (`iommu_sva_bind_device`) and asks the driver for an SVA domain
//! ([`super::driver::Driver::domain_alloc_sva`]).  The binding lives as long
//! as the mm and the bond do, whichever thread made it.  A driver learns of
//! changes to the address space through an [`MmNotifier`] registered on the
//! mm: every range whose translations must go from the device's TLBs, and
//! the mm's teardown.  The notifier holds its own reference on the
//! `mm_struct` (the core drops its reference before the driver's `free`).

use super::{bindings as rb, iommufd::RegisteredDevice};
use core::{
    marker::PhantomPinned,
    ptr,
    sync::atomic::{AtomicPtr, Ordering},
};
use kernel::{
    bindings, ffi,
    mm::{Mm, MmWithUser},
    prelude::*,
    sync::aref::ARef,
    types::Opaque,
};

/// What a driver does on MMU notifications.
pub trait MmNotifierHandler: Send + Sync + 'static {
    /// `[start, end)` of the mm must leave the device's TLBs.  May be called
    /// in atomic context: must not sleep.
    fn invalidate(&self, start: u64, end: u64);

    /// The mm is being torn down; the device must stop using it.
    fn release(&self) {}
}

/// A `struct mmu_notifier` with its handler.
///
/// # Invariants
///
/// While `mm` is non-null it is `ARef::into_raw` of our reference
/// (`mmgrab`) on that mm, and
/// `raw` is registered on it, or being registered by the one
/// [`MmNotifier::register`] call that set `mm` (which clears `mm` again if
/// the registration fails).  Drop, which needs the notifier unshared,
/// therefore only sees a registered notifier.
#[pin_data(PinnedDrop)]
pub struct MmNotifier<H: MmNotifierHandler> {
    #[pin]
    raw: Opaque<bindings::mmu_notifier>,
    mm: AtomicPtr<Mm>,
    #[pin]
    handler: H,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: the C part is used by the mm core under its own locking; the
// handler is `Send + Sync`.
unsafe impl<H: MmNotifierHandler> Send for MmNotifier<H> {}
// SAFETY: as above.
unsafe impl<H: MmNotifierHandler> Sync for MmNotifier<H> {}

/// Errors of [`MmNotifier::access`] once the mm has no users left.
pub const MM_GONE: Error = ESRCH;

impl<H: MmNotifierHandler> MmNotifier<H> {
    const OPS: bindings::mmu_notifier_ops = {
        let mut ops: bindings::mmu_notifier_ops = pin_init::zeroed();
        ops.arch_invalidate_secondary_tlbs = Some(Self::invalidate_cb);
        ops.release = Some(Self::release_cb);
        ops
    };

    /// A notifier, not yet registered.
    pub fn new(handler: impl PinInit<H, Error>) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            raw: Opaque::new(pin_init::zeroed()),
            mm: AtomicPtr::new(ptr::null_mut()),
            handler <- handler,
            _pin: PhantomPinned,
        }? Error)
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// Registers on `mm` (once; `EBUSY` after that, and for a second
    /// caller racing the first).
    pub fn register(&self, mm: &MmWithUser) -> Result {
        let raw = self.raw.get();
        // Our reference (`mmgrab`), for as long as `self.mm` holds it.
        let grabbed: ARef<Mm> = ARef::from(&**mm);
        let p = ARef::into_raw(grabbed).as_ptr();
        // Claim the notifier with one atomic step, so two racing callers
        // cannot both register the same `mmu_notifier`.
        if self
            .mm
            .compare_exchange(ptr::null_mut(), p, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // SAFETY: from `into_raw` above, not published.
            drop(unsafe { ARef::from_raw(ptr::NonNull::new_unchecked(p)) });
            return Err(EBUSY);
        }
        // SAFETY: `raw` is pinned memory of ours, claimed above; `mm` is live.
        let ret = unsafe {
            (*raw).ops = &Self::OPS;
            bindings::mmu_notifier_register(raw, mm.as_raw())
        };
        if ret != 0 {
            self.mm.store(ptr::null_mut(), Ordering::Release);
            // SAFETY: from `into_raw` above, no longer published.
            drop(unsafe { ARef::from_raw(ptr::NonNull::new_unchecked(p)) });
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: registered, reference held.
        Ok(())
    }

    /// Reads (`write == false`) or writes `buf` at `addr` of the registered
    /// mm, as the device would through its PASID.  [`MM_GONE`] once the mm
    /// has no users (its process exited), `EFAULT` for an unmapped address,
    /// `ENODEV` if not registered.
    ///
    /// `addr` is a user virtual address of that mm, not a kernel or
    /// physical one: it is resolved through the mm's VMAs
    /// (`get_user_pages_remote()` under its mmap lock), so any value is
    /// sound; one no VMA maps gives `EFAULT`.
    pub fn access(&self, addr: u64, buf: &mut [u8], write: bool) -> Result {
        // SAFETY: a non-null `mm` is our counted reference (invariant),
        // released only by drop.
        let Some(mm) = (unsafe { self.mm.load(Ordering::Acquire).as_ref() }) else {
            return Err(ENODEV);
        };
        // SAFETY: the shim takes a user reference (or fails) before touching
        // the address space, and `buf` is valid for `buf.len()` bytes.
        // (`access_remote_vm()`, which would do this, is not exported.)
        kernel::error::to_result(unsafe {
            rb::riommu_shim_mm_access(
                mm.as_raw(),
                addr as usize,
                buf.as_mut_ptr().cast(),
                buf.len(),
                write,
            )
        })
    }

    /// # Safety
    ///
    /// Called by the mm core with a registered notifier of this type.
    unsafe extern "C" fn invalidate_cb(
        mn: *mut bindings::mmu_notifier,
        _mm: *mut bindings::mm_struct,
        start: ffi::c_ulong,
        end: ffi::c_ulong,
    ) {
        // SAFETY: `raw` is the first field of `Self` only by declaration; use
        // the field offset to get back.
        let this = unsafe { &*mn.byte_sub(core::mem::offset_of!(Self, raw)).cast::<Self>() };
        this.handler.invalidate(start as u64, end as u64);
    }

    /// # Safety
    ///
    /// As for [`Self::invalidate_cb`].
    unsafe extern "C" fn release_cb(
        mn: *mut bindings::mmu_notifier,
        _mm: *mut bindings::mm_struct,
    ) {
        // SAFETY: as above.
        let this = unsafe { &*mn.byte_sub(core::mem::offset_of!(Self, raw)).cast::<Self>() };
        this.handler.release();
    }
}

#[pinned_drop]
impl<H: MmNotifierHandler> PinnedDrop for MmNotifier<H> {
    fn drop(self: Pin<&mut Self>) {
        if let Some(mm) = ptr::NonNull::new(self.mm.swap(ptr::null_mut(), Ordering::AcqRel)) {
            // SAFETY: our counted reference (invariant), taken out above.
            let mm: ARef<Mm> = unsafe { ARef::from_raw(mm) };
            // SAFETY: registered on `mm` (invariant); unregistering waits
            // for running callbacks.  The reference drops after it.
            unsafe { bindings::mmu_notifier_unregister(self.raw.get(), mm.as_raw()) };
        }
    }
}

/// Operations of a driver's SVA domain type (`IOMMU_DOMAIN_SVA`).
pub trait SvaDomain: Send + Sync + Sized + 'static {
    /// The driver.
    type Driver: super::driver::Driver<Sva = Self>;

    /// Attaches the domain to `pasid` of `dev` (the bind).
    fn set_dev_pasid(
        this: &super::domain::Domain<Self>,
        dev: &super::device::IommuDevice<'_, Self::Driver>,
        pasid: u32,
        old: super::domain::OldDomain<'_, Self::Driver>,
    ) -> Result;
}

/// A placeholder SVA domain type for drivers without SVA.
pub enum NoSva<D> {
    #[doc(hidden)]
    _Never(core::convert::Infallible, core::marker::PhantomData<D>),
}

// SAFETY: uninhabited.
unsafe impl<D> Send for NoSva<D> {}
// SAFETY: uninhabited.
unsafe impl<D> Sync for NoSva<D> {}

impl<D: super::driver::DriverStatics<Sva = NoSva<D>>> SvaDomain for NoSva<D> {
    type Driver = D;

    fn set_dev_pasid(
        _this: &super::domain::Domain<Self>,
        _dev: &super::device::IommuDevice<'_, D>,
        _pasid: u32,
        _old: super::domain::OldDomain<'_, D>,
    ) -> Result {
        Err(EOPNOTSUPP)
    }
}

/// An SVA bond made by [`bind`]: unbound on drop.  It holds `K`, which
/// keeps the device registered until the bond is gone.
///
/// # Invariants
///
/// `handle` is a live `iommu_sva` from `iommu_sva_bind_device` whose
/// `dev` is `keep.device()`.
pub struct SvaBond<K: RegisteredDevice> {
    handle: ptr::NonNull<bindings::iommu_sva>,
    /// Dropped after `Drop::drop` has unbound.
    keep: K,
}

// SAFETY: the core refcounts bonds and serialises bind and unbind
// (`iommu_sva_lock`).
unsafe impl<K: RegisteredDevice> Send for SvaBond<K> {}
// SAFETY: `&self` only reads the PASID, which never changes.
unsafe impl<K: RegisteredDevice> Sync for SvaBond<K> {}

/// Binds the calling process's mm to `keep`'s device
/// (`iommu_sva_bind_device`).  `EINVAL` from a kernel thread (no mm);
/// `EBUSY` if the device's group already has a bond of this mm made through
/// another device (the core shares one bond per group and PASID, and its
/// unbind would act on that other device).
pub fn bind<K: RegisteredDevice>(keep: K) -> Result<SvaBond<K>> {
    let raw = ptr::from_ref(keep.device())
        .cast::<bindings::device>()
        .cast_mut();
    let current = kernel::current!();
    let mm = current.mm().ok_or(EINVAL)?;
    let guard = keep.attach_lock().lock();
    // SAFETY: a registered device (`keep`), so `iommu_sva_bind_device()`
    // finds its group; `mm` is the caller's live mm.
    let h = unsafe { bindings::iommu_sva_bind_device(raw, mm.as_raw()) };
    let h = kernel::error::from_err_ptr(h)?;
    let handle = ptr::NonNull::new(h).ok_or(ENODEV)?;
    // SAFETY: a live handle; `dev` is set when the bond is made and never
    // changed (`iommu_sva_bind_device()`, drivers/iommu/iommu-sva.c).
    if unsafe { (*h).dev } != raw {
        // SAFETY: the reference we just took, dropped once.
        unsafe { bindings::iommu_sva_unbind_device(h) };
        return Err(EBUSY);
    }
    drop(guard);
    // INVARIANT: bound for `keep.device()`.
    Ok(SvaBond { handle, keep })
}

impl<K: RegisteredDevice> SvaBond<K> {
    /// The PASID of the bond.
    pub fn pasid(&self) -> u32 {
        // SAFETY: live bond (invariant).
        unsafe { bindings::iommu_sva_get_pasid(self.handle.as_ptr()) }
    }

    /// The device kept registered.
    pub fn keeper(&self) -> &K {
        &self.keep
    }
}

impl<K: RegisteredDevice> Drop for SvaBond<K> {
    fn drop(&mut self) {
        let _guard = self.keep.attach_lock().lock();
        // SAFETY: live bond, unbound once, while its device is still
        // registered (`keep` drops after this).
        unsafe { bindings::iommu_sva_unbind_device(self.handle.as_ptr()) };
    }
}
