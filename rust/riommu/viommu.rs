// SPDX-License-Identifier: GPL-2.0

//! vIOMMU and driver-defined vDEVICE objects (`include/linux/iommufd.h`).
//!
//! iommufd allocates both objects with the size the driver asks for and
//! keeps its core structure at offset 0; the driver's data follows it.  A
//! driver implements [`ViommuImpl`]; the glue in [`super::driver`] builds
//! `get_viommu_size`, `viommu_init` and the `iommufd_viommu_ops` table from
//! it and initialises the driver's data in place.
//!
//! Lifetimes follow the core: a vDEVICE and a nested domain allocated on a
//! vIOMMU each hold a reference on it, so both may keep a `&Viommu<T>`.
//! A vDEVICE's `destroy` is set only once `vdevice_init` succeeded, so an
//! abort between allocation and initialisation never runs driver code on
//! uninitialised memory.

use super::{
    bindings as rb,
    driver::{Driver, DriverStatics},
    objset::{ObjSet, Sealed, Tracked},
};
use core::{mem::offset_of, ops::Deref, ptr, sync::atomic::AtomicPtr};
use kernel::{bindings, device::Device, ffi, prelude::*, types::Opaque};

/// A vIOMMU of a driver: the core `struct iommufd_viommu` at offset 0,
/// followed by the driver's data.
///
/// # Invariants
///
/// Allocated by iommufd with `size_of::<Viommu<T>>()` bytes; `inner` is
/// initialised from a successful `viommu_init` until `destroy`.
#[repr(C)]
pub struct Viommu<T> {
    core: Opaque<rb::iommufd_viommu>,
    set: AtomicPtr<ObjSet<Viommu<T>>>,
    inner: T,
}

/// A driver-defined vDEVICE: the core `struct iommufd_vdevice` at offset 0,
/// followed by the driver's data.
///
/// # Invariants
///
/// Allocated by iommufd with `size_of::<Vdevice<T>>()` bytes; `inner` is
/// initialised from a successful `vdevice_init` until `destroy`.
#[repr(C)]
pub struct Vdevice<T> {
    core: Opaque<rb::iommufd_vdevice>,
    inner: T,
}

// The core structs must sit at offset 0 (the C side converts pointers).
const _: () = assert!(offset_of!(Viommu<u64>, core) == 0);
const _: () = assert!(offset_of!(Vdevice<u64>, core) == 0);

// SAFETY: the core part is owned by iommufd, which serialises its updates;
// the driver part is `T`.
unsafe impl<T: Send> Send for Viommu<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for Viommu<T> {}

impl<T> Sealed for Viommu<T> {}

impl<T: Sync + 'static> Tracked for Viommu<T> {
    fn set_slot(&self) -> &AtomicPtr<ObjSet<Self>> {
        &self.set
    }

    fn object_id(&self) -> Option<u32> {
        Some(self.id())
    }
}

impl<T> Deref for Viommu<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> Deref for Vdevice<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

/// The core part of a vIOMMU being initialised.
pub struct ViommuCore<'a> {
    raw: &'a rb::iommufd_viommu,
}

impl ViommuCore<'_> {
    /// The `IOMMU_VIOMMU_TYPE_*` requested.
    pub fn viommu_type(&self) -> u32 {
        self.raw.type_
    }

    /// Identity of the owning iommufd context (see
    /// [`super::iommufd::IommufdCtx::key`]).
    pub fn ctx_key(&self) -> usize {
        self.raw.ictx as usize
    }

    /// Registers `length` bytes at physical `phys` for userspace `mmap` of
    /// the iommufd file; returns the mmap offset.  Undone with
    /// [`Viommu::destroy_mmap`].
    pub fn alloc_mmap(&self, phys: u64, length: usize) -> Result<usize> {
        let mut offset = 0usize;
        // SAFETY: `raw` is a live vIOMMU under initialisation; the core
        // validates `phys`/`length`; `offset` is a valid out-parameter.
        kernel::error::to_result(unsafe {
            rb::_iommufd_alloc_mmap(
                self.raw.ictx,
                core::ptr::from_ref(&self.raw.obj).cast_mut(),
                phys,
                length,
                &mut offset,
            )
        })?;
        Ok(offset)
    }

    /// Undoes [`ViommuCore::alloc_mmap`] (for an `init` that fails later).
    pub fn destroy_mmap(&self, offset: usize) {
        // SAFETY: `offset` came from `alloc_mmap` on this object.
        unsafe {
            rb::_iommufd_destroy_mmap(
                self.raw.ictx,
                core::ptr::from_ref(&self.raw.obj).cast_mut(),
                offset,
            )
        };
    }
}

impl<T> Viommu<T> {
    fn raw(&self) -> *mut rb::iommufd_viommu {
        self.core.get()
    }

    /// The core part.
    pub fn core(&self) -> ViommuCore<'_> {
        // SAFETY: `core` is initialised by iommufd before the driver runs.
        let raw = unsafe { &*self.raw() };
        ViommuCore { raw }
    }

    /// The iommufd object id.
    pub fn id(&self) -> u32 {
        self.core().raw.obj.id
    }

    /// See [`ViommuCore::ctx_key`].
    pub fn ctx_key(&self) -> usize {
        self.core().ctx_key()
    }

    /// See [`ViommuCore::destroy_mmap`].
    pub fn destroy_mmap(&self, offset: usize) {
        self.core().destroy_mmap(offset)
    }

    /// The virtual id of `dev` on this vIOMMU (`ENOENT` if it has no vDEVICE).
    pub fn vdev_id_of(&self, dev: &Device) -> Result<u64> {
        let mut id: ffi::c_ulong = 0;
        let raw_dev = core::ptr::from_ref(dev)
            .cast::<bindings::device>()
            .cast_mut();
        // SAFETY: a live vIOMMU and device; valid out-parameter.
        kernel::error::to_result(unsafe {
            rb::iommufd_viommu_get_vdev_id(self.raw(), raw_dev, &mut id)
        })?;
        Ok(id as u64)
    }

    /// Queues an event of `ty` with `data` on the vIOMMU's vEVENTQ of that
    /// type (`iommufd_viommu_report_event`); `EOPNOTSUPP` without one.
    pub fn report_event(&self, ty: u32, data: &[u8]) -> Result {
        // SAFETY: a live vIOMMU; the core copies `data` before returning.
        kernel::error::to_result(unsafe {
            rb::iommufd_viommu_report_event(
                self.raw(),
                ty,
                data.as_ptr().cast_mut().cast(),
                data.len(),
            )
        })
    }

    /// Runs `f` on the vDEVICE with virtual id `virt_id`, if one is
    /// initialised, with the vIOMMU's vDEVICE table locked (a spinlock: `f`
    /// must not sleep).
    pub fn with_vdevice<V, R>(&self, virt_id: u64, f: impl FnOnce(&Vdevice<V>) -> R) -> Option<R>
    where
        T: ViommuImpl<Vdev = V>,
    {
        // SAFETY: a live vIOMMU; lock and unlock are paired below.
        unsafe { rb::riommu_shim_viommu_lock(self.raw()) };
        // SAFETY: `vdevs` entries are published only after `vdevice_init`
        // succeeded and are removed (under this lock) before `destroy`; all
        // vDEVICEs of a `Viommu<T>` are `Vdevice<T::Vdev>` (we set
        // `vdevice_size` for `T`).
        let r = unsafe {
            let v = rb::riommu_shim_viommu_find_vdev(self.raw(), virt_id as ffi::c_ulong);
            v.cast::<Vdevice<V>>().as_ref().map(f)
        };
        // SAFETY: locked above.
        unsafe { rb::riommu_shim_viommu_unlock(self.raw()) };
        r
    }
}

/// The core part of a vDEVICE being initialised.
pub struct VdeviceCore<'a> {
    raw: &'a rb::iommufd_vdevice,
}

impl VdeviceCore<'_> {
    /// The virtual id (vSID, vRID, ...) userspace gave.
    pub fn virt_id(&self) -> u64 {
        self.raw.virt_id
    }

    /// The physical device.
    pub fn device(&self) -> &Device {
        // SAFETY: the vDEVICE holds its iommufd device, whose device is live.
        unsafe {
            Device::from_raw(rb::iommufd_vdevice_to_device(
                core::ptr::from_ref(self.raw).cast_mut(),
            ))
        }
    }
}

impl<T> Vdevice<T> {
    /// The core part.
    pub fn core(&self) -> VdeviceCore<'_> {
        // SAFETY: initialised by iommufd before the driver runs.
        let raw = unsafe { &*self.core.get() };
        VdeviceCore { raw }
    }

    /// The iommufd object id.
    pub fn id(&self) -> u32 {
        self.core().raw.obj.id
    }
}

/// A driver's vIOMMU type.
pub trait ViommuImpl: Send + Sync + Sized + 'static {
    /// The driver.
    type Driver: DriverStatics<Viommu = Self>;
    /// The driver-defined part of each vDEVICE.
    type Vdev: Send + Sync + Sized + 'static;

    /// Whether `dev`'s IOMMU offers vIOMMUs of `IOMMU_VIOMMU_TYPE` `ty`
    /// (`get_viommu_size` answers 0 otherwise, which gives `EOPNOTSUPP`).
    fn supports(dev: &Device, ty: u32) -> bool;

    /// `viommu_init`: returns the initialiser of the driver's data.  `parent`
    /// is the nesting parent, already checked to be this driver's paging
    /// domain.
    fn init<'a>(
        core: &ViommuCore<'a>,
        parent: &'a super::domain::Domain<<Self::Driver as Driver>::Paging>,
        data: super::userdata::UserData<'_>,
    ) -> Result<impl PinInit<Self, Error> + 'a>;

    /// Called before the driver's data is dropped in `destroy`.
    fn release(_viommu: &Viommu<Self>) {}

    /// A set to add every initialised vIOMMU to (keyed by its iommufd
    /// context), so the driver can find it by id; it leaves on destroy.
    fn set() -> Option<&'static ObjSet<Viommu<Self>>> {
        None
    }

    /// `cache_invalidate` on the vIOMMU id.
    fn cache_invalidate(
        viommu: &Viommu<Self>,
        array: &mut super::userdata::UserDataArray<'_>,
    ) -> Result;

    /// `vdevice_init`: returns the initialiser of the vDEVICE's driver data.
    fn vdevice_init(
        viommu: &Viommu<Self>,
        vdev: &VdeviceCore<'_>,
    ) -> Result<impl PinInit<Self::Vdev, Error>>;

    /// Called before a vDEVICE's driver data is dropped.
    fn vdevice_release(_viommu: &Viommu<Self>, _vdev: &Vdevice<Self::Vdev>) {}
}

/// A placeholder vIOMMU type for drivers that offer none.
pub enum NoViommu<D> {
    #[doc(hidden)]
    _Never(core::convert::Infallible, core::marker::PhantomData<D>),
}

impl<D: DriverStatics<Viommu = NoViommu<D>>> ViommuImpl for NoViommu<D> {
    type Driver = D;
    type Vdev = ();

    fn supports(_dev: &Device, _ty: u32) -> bool {
        false
    }

    fn init<'a>(
        _core: &ViommuCore<'a>,
        _parent: &'a super::domain::Domain<D::Paging>,
        _data: super::userdata::UserData<'_>,
    ) -> Result<impl PinInit<Self, Error> + 'a> {
        Err::<Result<Self>, _>(EOPNOTSUPP)
    }

    fn cache_invalidate(
        _viommu: &Viommu<Self>,
        _array: &mut super::userdata::UserDataArray<'_>,
    ) -> Result {
        Err(EOPNOTSUPP)
    }

    fn vdevice_init(
        _viommu: &Viommu<Self>,
        _vdev: &VdeviceCore<'_>,
    ) -> Result<impl PinInit<(), Error>> {
        Err::<Result<()>, _>(EOPNOTSUPP)
    }
}

// SAFETY: `NoViommu` is uninhabited.
unsafe impl<D> Send for NoViommu<D> {}
// SAFETY: as above.
unsafe impl<D> Sync for NoViommu<D> {}

/// The glue of the vIOMMU callbacks; referenced from [`super::driver::Statics`].
pub(crate) mod glue {
    use super::*;
    use crate::riommu::{
        domain::{NewDomain, Parent, ParentDomain},
        driver::publish,
        flags::AllocFlags,
        userdata::{UserData, UserDataArray},
    };

    /// The typed vIOMMU of a raw pointer.
    ///
    /// # Safety
    ///
    /// `v` must be an initialised `Viommu<D::Viommu>`.
    unsafe fn viommu<'a, D: DriverStatics>(v: *mut rb::iommufd_viommu) -> &'a Viommu<D::Viommu> {
        // SAFETY: per the safety requirements; the core struct is at offset 0.
        unsafe { &*v.cast::<Viommu<D::Viommu>>() }
    }

    /// # Safety
    ///
    /// Called by the iommu core (`get_viommu_size`).
    pub(crate) unsafe extern "C" fn get_viommu_size<D: DriverStatics>(
        dev: *mut bindings::device,
        ty: bindings::iommu_viommu_type,
    ) -> usize {
        // SAFETY: a device bound to iommufd, live for the call.
        let dev = unsafe { Device::from_raw(dev) };
        if D::Viommu::supports(dev, ty) {
            size_of::<Viommu<D::Viommu>>()
        } else {
            0
        }
    }

    /// # Safety
    ///
    /// Called by iommufd (`viommu_init`) with a zeroed object of the size
    /// `get_viommu_size` gave and a live parent domain.
    pub(crate) unsafe extern "C" fn viommu_init<D: DriverStatics>(
        v: *mut bindings::iommufd_viommu,
        parent: *mut bindings::iommu_domain,
        user_data: *const bindings::iommu_user_data,
    ) -> ffi::c_int {
        let v = v.cast::<rb::iommufd_viommu>();
        let r = (|| -> Result {
            // SAFETY: the parent is live for the call (the core holds it).
            let parent = unsafe { ParentDomain::<D>::from_raw(parent) }?;
            // SAFETY: the core part is initialised by iommufd.
            let raw = unsafe { &*v };
            let core = ViommuCore { raw };
            // SAFETY: NULL or valid for the call.
            let data = unsafe { UserData::from_raw(user_data) };
            let init = D::Viommu::init(&core, parent.domain(), data)?;
            let vp = v.cast::<Viommu<D::Viommu>>();
            // SAFETY: the memory after the core part is ours, uninitialised
            // (zeroed) and never moves (iommufd object memory).
            unsafe {
                (&raw mut (*vp).set).write(AtomicPtr::new(ptr::null_mut()));
                <_ as PinInit<_, Error>>::__init(init, &raw mut (*vp).inner)?;
            }
            if let Some(set) = D::Viommu::set() {
                // SAFETY: initialised just above.
                let vi = unsafe { &*vp };
                if let Err(e) = set.insert(vi.ctx_key(), vi) {
                    // Undo the initialisation as `destroy` would (the
                    // driver's release, then the drop); the core frees the
                    // memory.
                    D::Viommu::release(vi);
                    // SAFETY: initialised above, dropped once.
                    unsafe { core::ptr::drop_in_place(&raw mut (*vp).inner) };
                    return Err(e);
                }
            }
            // SAFETY: initialised; ops are set only on success, so the core
            // calls `destroy` only for an initialised vIOMMU.
            unsafe {
                (*v).ops = D::statics().viommu_ops();
                bindings::__module_get(D::statics().owner());
            }
            Ok(())
        })();
        match r {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by iommufd for an initialised vIOMMU, once.
    pub(crate) unsafe extern "C" fn destroy<D: DriverStatics>(v: *mut rb::iommufd_viommu) {
        // SAFETY: initialised (ops are only set then).
        let vi = unsafe { viommu::<D>(v) };
        D::Viommu::release(vi);
        // SAFETY: live, about to be freed.
        unsafe { ObjSet::remove_freed(ptr::from_ref(vi)) };
        let owner = D::statics().owner();
        // SAFETY: dropped once; iommufd frees the memory afterwards.
        unsafe { core::ptr::drop_in_place(&raw mut (*v.cast::<Viommu<D::Viommu>>()).inner) };
        // SAFETY: drops the reference taken in `viommu_init`.
        unsafe { bindings::module_put(owner) };
    }

    /// # Safety
    ///
    /// Called by iommufd on an initialised vIOMMU.
    pub(crate) unsafe extern "C" fn alloc_domain_nested<D: DriverStatics>(
        v: *mut rb::iommufd_viommu,
        flags: u32,
        user_data: *const bindings::iommu_user_data,
    ) -> *mut bindings::iommu_domain {
        // SAFETY: initialised vIOMMU; user data valid for the call.
        let (vi, data) = unsafe { (viommu::<D>(v), UserData::from_raw(user_data)) };
        let r = AllocFlags::from_raw(flags)
            .and_then(|flags| D::domain_alloc_user(None, flags, Some(Parent::Viommu(vi)), data));
        match r {
            // It must be recorded on this very vIOMMU.
            Ok(NewDomain::Nested(b))
                if core::ptr::eq(b.viommu_addr(), ptr::from_ref(vi).cast()) =>
            {
                publish::<D, _>(b)
            }
            Ok(_) => {
                pr_warn!(
                    "riommu: alloc_domain_nested returned a domain not recorded on its vIOMMU\n"
                );
                EINVAL.to_ptr()
            }
            Err(e) => e.to_ptr(),
        }
    }

    /// # Safety
    ///
    /// Called by iommufd on an initialised vIOMMU with an array valid for
    /// the call.
    pub(crate) unsafe extern "C" fn cache_invalidate<D: DriverStatics>(
        v: *mut rb::iommufd_viommu,
        array: *mut bindings::iommu_user_data_array,
    ) -> ffi::c_int {
        // SAFETY: as documented.
        let (vi, mut array) = unsafe { (viommu::<D>(v), UserDataArray::from_raw(array)) };
        match D::Viommu::cache_invalidate(vi, &mut array) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by iommufd with a vDEVICE of `vdevice_size` bytes whose core
    /// part is initialised and whose viommu is ours.
    pub(crate) unsafe extern "C" fn vdevice_init<D: DriverStatics>(
        vd: *mut rb::iommufd_vdevice,
    ) -> ffi::c_int {
        let r = (|| -> Result {
            // SAFETY: the core part is initialised; its viommu is ours and
            // initialised (it has our ops).
            let (core, vi) = unsafe { (VdeviceCore { raw: &*vd }, viommu::<D>((*vd).viommu)) };
            let init = D::Viommu::vdevice_init(vi, &core)?;
            // SAFETY: the driver part is ours, zeroed and never moves.
            unsafe {
                <_ as PinInit<_, Error>>::__init(
                    init,
                    &raw mut (*vd.cast::<Vdevice<<D::Viommu as ViommuImpl>::Vdev>>()).inner,
                )
            }?;
            // SAFETY: only now is there something to destroy.
            unsafe {
                (*vd).destroy = Some(vdevice_destroy::<D>);
                bindings::__module_get(D::statics().owner());
            }
            Ok(())
        })();
        match r {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by iommufd once for a vDEVICE whose `vdevice_init` succeeded.
    unsafe extern "C" fn vdevice_destroy<D: DriverStatics>(vd: *mut rb::iommufd_vdevice) {
        type V<D> = <<D as Driver>::Viommu as ViommuImpl>::Vdev;
        // SAFETY: initialised (destroy is set only then); the viommu is live
        // (the vDEVICE holds a reference).
        let (vi, this) = unsafe { (viommu::<D>((*vd).viommu), &*vd.cast::<Vdevice<V<D>>>()) };
        D::Viommu::vdevice_release(vi, this);
        let owner = D::statics().owner();
        // SAFETY: dropped once; iommufd frees the memory.
        unsafe { core::ptr::drop_in_place(&raw mut (*vd.cast::<Vdevice<V<D>>>()).inner) };
        // SAFETY: drops the reference taken in `vdevice_init`.
        unsafe { bindings::module_put(owner) };
    }
}
