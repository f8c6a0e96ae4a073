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

use super::bindings as rb;
use core::{
    marker::PhantomPinned,
    ptr,
    sync::atomic::{AtomicPtr, Ordering},
};
use kernel::{bindings, ffi, prelude::*, types::Opaque};

/// An `mm_struct` handed to a driver for the duration of a call.
#[derive(Clone, Copy)]
pub struct MmRef<'a> {
    mm: &'a Opaque<bindings::mm_struct>,
}

impl<'a> MmRef<'a> {
    /// # Safety
    ///
    /// `mm` must be live (and have users) for `'a`.
    pub(crate) unsafe fn from_raw(mm: *mut bindings::mm_struct) -> Self {
        // SAFETY: per the safety requirements.
        let mm = unsafe { &*mm.cast() };
        Self { mm }
    }

    fn as_raw(&self) -> *mut bindings::mm_struct {
        self.mm.get()
    }
}

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
/// While `mm` is non-null, `raw` is registered on that mm and we hold a
/// reference (`mmgrab`) on it.
#[pin_data(PinnedDrop)]
pub struct MmNotifier<H: MmNotifierHandler> {
    #[pin]
    raw: Opaque<bindings::mmu_notifier>,
    mm: AtomicPtr<bindings::mm_struct>,
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

    /// Registers on `mm` (once; `EBUSY` after that).
    pub fn register(&self, mm: MmRef<'_>) -> Result {
        if !self.mm.load(Ordering::Acquire).is_null() {
            return Err(EBUSY);
        }
        let raw = self.raw.get();
        // SAFETY: `raw` is pinned memory of ours; `mm` is live with users
        // (the binding process).  We grab a reference for as long as we are
        // registered.
        unsafe {
            (*raw).ops = &Self::OPS;
            rb::riommu_shim_mmgrab(mm.as_raw());
            let ret = bindings::mmu_notifier_register(raw, mm.as_raw());
            if ret != 0 {
                rb::riommu_shim_mmdrop(mm.as_raw());
                return Err(Error::from_errno(ret));
            }
        }
        // INVARIANT: registered, reference held.
        self.mm.store(mm.as_raw(), Ordering::Release);
        Ok(())
    }

    /// Reads (`write == false`) or writes `buf` at `addr` of the registered
    /// mm, as the device would through its PASID.  [`MM_GONE`] once the mm
    /// has no users (its process exited), `EFAULT` for an unmapped address,
    /// `ENODEV` if not registered.
    pub fn access(&self, addr: u64, buf: &mut [u8], write: bool) -> Result {
        let mm = self.mm.load(Ordering::Acquire);
        if mm.is_null() {
            return Err(ENODEV);
        }
        // SAFETY: we hold a reference on `mm` (invariant); the shim takes a
        // user reference (or fails) before touching the address space, and
        // `buf` is valid for `buf.len()` bytes.
        kernel::error::to_result(unsafe {
            rb::riommu_shim_mm_access(mm, addr as usize, buf.as_mut_ptr().cast(), buf.len(), write)
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
        let mm = self.mm.swap(ptr::null_mut(), Ordering::AcqRel);
        if !mm.is_null() {
            // SAFETY: registered on `mm`, whose reference we hold (invariant);
            // unregistering waits for running callbacks.
            unsafe {
                bindings::mmu_notifier_unregister(self.raw.get(), mm);
                rb::riommu_shim_mmdrop(mm);
            }
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
        dev: &super::driver::IommuDevice<'_, Self::Driver>,
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
        _dev: &super::driver::IommuDevice<'_, D>,
        _pasid: u32,
        _old: super::domain::OldDomain<'_, D>,
    ) -> Result {
        Err(EOPNOTSUPP)
    }
}

/// An SVA bond made by [`bind`]: unbound on drop.
///
/// # Invariants
///
/// `handle` is a live `iommu_sva` from `iommu_sva_bind_device`.
pub struct SvaBond {
    handle: ptr::NonNull<bindings::iommu_sva>,
}

// SAFETY: the core refcounts and locks bonds.
unsafe impl Send for SvaBond {}
// SAFETY: as above.
unsafe impl Sync for SvaBond {}

/// Binds the calling process's mm to `dev` (`iommu_sva_bind_device`).
pub fn bind(dev: &kernel::device::Device) -> Result<SvaBond> {
    let raw = ptr::from_ref(dev).cast::<bindings::device>().cast_mut();
    // SAFETY: a live device; `current->mm` is the caller's live mm.
    let h = unsafe { bindings::iommu_sva_bind_device(raw, rb::riommu_shim_current_mm()) };
    let h = kernel::error::from_err_ptr(h)?;
    ptr::NonNull::new(h)
        .map(|handle| SvaBond { handle })
        .ok_or(ENODEV)
}

impl SvaBond {
    /// The PASID of the bond.
    pub fn pasid(&self) -> u32 {
        // SAFETY: live bond (invariant).
        unsafe { bindings::iommu_sva_get_pasid(self.handle.as_ptr()) }
    }
}

impl Drop for SvaBond {
    fn drop(&mut self) {
        // SAFETY: live bond, unbound once.
        unsafe { bindings::iommu_sva_unbind_device(self.handle.as_ptr()) };
    }
}
