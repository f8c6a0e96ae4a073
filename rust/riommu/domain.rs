// SPDX-License-Identifier: GPL-2.0

//! IOMMU domains owned by a Rust driver.
//!
//! A driver type `T` lives in a [`Domain<T>`], which embeds the C
//! `struct iommu_domain` at offset 0.  The glue of [`super::driver`] hands
//! `&T` to the driver's operations and turns a C domain pointer back into a
//! `Domain<T>` only after checking that its `ops` are the driver's own table
//! for that kind of domain.

use super::{
    bindings as rb,
    device::IommuDevice,
    driver::{Driver, DriverStatics},
    iotlb::IotlbGather,
    kmem::KmemBox,
    objset::{ObjSet, Tracked},
    pgtable::MapTarget,
    userdata::UserDataArray,
    viommu::Viommu,
};
use core::{
    marker::PhantomData, mem::offset_of, ops::Deref, ptr, ptr::NonNull, sync::atomic::AtomicPtr,
};
use kernel::{bindings, ffi::c_void, prelude::*, sync::Arc, types::Opaque};

/// A domain of a Rust driver: the C `struct iommu_domain` followed by the
/// driver's data.
///
/// # Invariants
///
/// `raw` is at offset 0 and is initialised (type, ops, geometry) before the
/// domain is handed to the C core; `raw.ops` is the driver's operation table
/// for `T`'s kind of domain.
#[repr(C)]
#[pin_data]
pub struct Domain<T> {
    raw: Opaque<bindings::iommu_domain>,
    set: AtomicPtr<ObjSet<Domain<T>>>,
    /// For nested domains allocated on a vIOMMU: that `Viommu<_>` (which the
    /// nested HWPT holds a reference on for the domain's whole life).
    viommu: *const c_void,
    #[pin]
    inner: T,
}

// The C core converts between `struct iommu_domain *` and `Domain<T> *`.
const _: () = assert!(offset_of!(Domain<()>, raw) == 0);

impl<T> Deref for Domain<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

// SAFETY: after publication the C part is owned by the iommu core, which
// serialises its own updates; the Rust part is `T`.
unsafe impl<T: Send> Send for Domain<T> {}
// SAFETY: as above; shared access to `T` needs `T: Sync`.
unsafe impl<T: Sync> Sync for Domain<T> {}

/// A set of a driver's domains of one type.
pub type DomainSet<T> = ObjSet<Domain<T>>;

impl<T: Sync + 'static> Tracked for Domain<T> {
    fn set_slot(&self) -> &AtomicPtr<ObjSet<Self>> {
        &self.set
    }

    fn object_id(&self) -> Option<u32> {
        // Only test drivers can read a HWPT's id (see `hwpt_id`), and only
        // they look their domains up by it.
        #[cfg(riommu_test)]
        return self.hwpt_id();
        #[cfg(not(riommu_test))]
        None
    }
}

impl<T: Send + Sync + 'static> DomainBox<T> {
    /// Adds the new domain to `set` under `key` (for example the iommufd
    /// context); it leaves the set when freed.
    pub fn insert_into(&self, set: &Arc<DomainSet<T>>, key: usize) -> Result {
        ObjSet::insert(set, key, self.domain())
    }
}

impl<T> Domain<T> {
    /// The raw `struct iommu_domain`.
    pub fn as_raw(&self) -> *mut bindings::iommu_domain {
        self.raw.get()
    }

    /// Whether iommufd has made this domain a HWPT's (published it).
    pub fn is_published(&self) -> bool {
        // SAFETY: `raw` is a valid, initialised domain (type invariant); the
        // shim only reads its public cookie fields.
        unsafe { rb::riommu_shim_domain_published(self.as_raw()) }
    }

    /// The iommufd HWPT object id that owns this domain, if iommufd
    /// allocated it (test drivers only: iommufd keeps the HWPT's layout
    /// private, see `rust/shim/riommu_test_shim.c`).
    #[cfg(riommu_test)]
    pub fn hwpt_id(&self) -> Option<u32> {
        // SAFETY: `raw` is a valid, initialised domain (type invariant); the
        // test shim only reads its cookie fields and the HWPT it names.
        let id = unsafe { super::bindings::test::riommu_test_domain_hwpt_id(self.as_raw()) };
        (id != 0).then_some(id)
    }

    /// Builds a reference from a C pointer known to be a `Domain<T>`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live `Domain<T>` for `'a`.
    pub(in crate::riommu) unsafe fn from_raw<'a>(ptr: *mut bindings::iommu_domain) -> &'a Self {
        // SAFETY: `raw` is at offset 0, so the pointers are interchangeable;
        // liveness is the caller's promise.
        unsafe { &*ptr.cast::<Self>() }
    }
}

/// Geometry and capabilities of a new paging domain.
#[derive(Clone, Copy, Debug)]
pub struct PagingConfig {
    /// Page sizes the domain can map (`pgsize_bitmap`).
    pub pgsize_bitmap: u64,
    /// First mappable IOVA.
    pub aperture_start: u64,
    /// Last mappable IOVA.
    pub aperture_end: u64,
    /// Whether DMA outside the aperture is blocked.
    pub force_aperture: bool,
}

/// Operations of a driver's paging domain type (`IOMMU_DOMAIN_UNMANAGED`).
#[vtable]
pub trait PagingDomain: Send + Sync + Sized + 'static {
    /// The driver owning the domain.
    type Driver: Driver<Paging = Self>;

    /// Attaches `dev` (`attach_dev`); `old` is the domain it leaves.
    fn attach_dev(
        &self,
        dev: &IommuDevice<'_, Self::Driver>,
        old: OldDomain<'_, Self::Driver>,
    ) -> Result;

    /// Attaches the domain to `pasid` of `dev` (`set_dev_pasid`).
    fn set_dev_pasid(
        &self,
        _dev: &IommuDevice<'_, Self::Driver>,
        _pasid: u32,
        _old: OldDomain<'_, Self::Driver>,
    ) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Maps what `target` names (`pgcount` pages of `pgsize` bytes at an
    /// IOVA, from a physical address: the core's arguments, which only the
    /// glue can wrap, and which the API's page tables map); returns the
    /// bytes mapped and the error that stopped it, if any.  Table pages
    /// the map unlinks (a large leaf replacing an empty table) go to
    /// `gather`; if there are any, the glue calls [`Self::iotlb_sync`] with
    /// it right after (with the mapped range added) and only then releases
    /// them.  Called only where the caller may sleep (the glue refuses
    /// atomic maps).
    fn map_pages(
        &self,
        target: MapTarget<'_>,
        prot: u32,
        gather: &mut IotlbGather<'_>,
    ) -> (u64, Result);

    /// Unmaps up to `pgcount` pages of `pgsize` bytes at `iova`; returns the
    /// bytes unmapped.  The range to invalidate, and any table page the
    /// unmap unlinks, go to the core's `gather`, which [`Self::iotlb_sync`]
    /// receives later.
    fn unmap_pages(
        &self,
        iova: u64,
        pgsize: u64,
        pgcount: u64,
        gather: &mut IotlbGather<'_>,
    ) -> u64;

    /// Translates `iova`; 0 when unmapped.
    fn iova_to_phys(&self, iova: u64) -> u64;

    /// Flushes the whole IOTLB of the domain.
    fn flush_iotlb_all(&self) {}

    /// `enforce_cache_coherency`: makes every DMA of the domain snoop the
    /// CPU caches from now on (for example VT-d's SNP/PGSNP bits), or fails
    /// if that is impossible for the domain as it is.  The glue answers
    /// `IOMMU_CAP_ENFORCE_CACHE_COHERENCY` with `false` for a driver that
    /// does not implement this, whatever [`Driver::capable`] says: iommufd
    /// calls the op without checking for it when the capability is set.
    fn enforce_cache_coherency(&self) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Invalidates what `gather` collected: its [`IotlbGather::range`], and
    /// the paging-structure (walk) caches too when
    /// [`IotlbGather::frees_tables`].  The glue releases the gather's table
    /// pages when this returns, so it must not return before the IOMMU has
    /// forgotten them.
    fn iotlb_sync(&self, _gather: &IotlbGather<'_>) {}

    /// Starts or stops dirty tracking.
    fn set_dirty_tracking(&self, _enable: bool) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Reports the dirty pages of `[iova, iova + size)` into `dirty`, clearing
    /// their dirty state unless `no_clear`.
    fn read_and_clear_dirty(
        &self,
        _iova: u64,
        _size: u64,
        _no_clear: bool,
        _dirty: &mut DirtyBitmap<'_>,
    ) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// Operations of a driver's nested domain type (`IOMMU_DOMAIN_NESTED`).
#[vtable]
pub trait NestedDomain: Send + Sync + Sized + 'static {
    /// The driver owning the domain.
    type Driver: Driver<Nested = Self>;

    /// Attaches `dev` to `this`; `old` is the domain it leaves.  (Nested
    /// operations receive the whole [`Domain`], which also knows the vIOMMU
    /// the domain was allocated on, see [`Domain::viommu`].)
    fn attach_dev(
        this: &Domain<Self>,
        dev: &IommuDevice<'_, Self::Driver>,
        old: OldDomain<'_, Self::Driver>,
    ) -> Result;

    /// Attaches `this` to `pasid` of `dev` (`set_dev_pasid`).
    fn set_dev_pasid(
        _this: &Domain<Self>,
        _dev: &IommuDevice<'_, Self::Driver>,
        _pasid: u32,
        _old: OldDomain<'_, Self::Driver>,
    ) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Invalidates the caches named by the user's entries
    /// (`cache_invalidate_user`).  Must report the number of entries handled
    /// with [`UserDataArray::set_processed`] (or use
    /// [`UserDataArray::for_each_entry`]).
    fn cache_invalidate_user(this: &Domain<Self>, array: &mut UserDataArray<'_>) -> Result;
}

/// The domain a device (or PASID) leaves in an attach.
pub enum OldDomain<'a, D: Driver> {
    /// The device had no domain.
    None,
    /// The driver's blocking domain.
    Blocked,
    /// The driver's identity domain.
    Identity,
    /// A paging domain of this driver.
    Paging(&'a Domain<D::Paging>),
    /// A nested domain of this driver.
    Nested(&'a Domain<D::Nested>),
    /// Any other domain (for example an SVA or identity domain).
    Other,
}

impl<'a, D: DriverStatics> OldDomain<'a, D> {
    /// Classifies a C domain pointer by its ops table.
    ///
    /// # Safety
    ///
    /// `ptr` must be NULL or point to a live domain for `'a`.
    pub(in crate::riommu) unsafe fn from_raw(ptr: *mut bindings::iommu_domain) -> Self {
        if ptr.is_null() {
            return OldDomain::None;
        }
        let s = D::statics();
        // SAFETY: `ptr` is a live domain (caller); reading `ops` is fine.
        let ops = unsafe { (*ptr).ops };
        if core::ptr::eq(ptr, s.blocked_domain()) {
            OldDomain::Blocked
        } else if core::ptr::eq(ptr, s.identity_domain()) {
            OldDomain::Identity
        } else if core::ptr::eq(ops, s.paging_ops()) {
            // SAFETY: only `Domain<D::Paging>` carry the paging ops (invariant
            // of `Domain`), and it is live for `'a` (caller).
            OldDomain::Paging(unsafe { Domain::from_raw(ptr) })
        } else if core::ptr::eq(ops, s.nested_ops()) {
            // SAFETY: as above, for nested domains.
            OldDomain::Nested(unsafe { Domain::from_raw(ptr) })
        } else {
            OldDomain::Other
        }
    }
}

/// The parent of a nested domain allocation: a paging domain of the same
/// driver allocated with `NEST_PARENT`.
pub struct ParentDomain<'a, D: Driver> {
    domain: &'a Domain<D::Paging>,
}

impl<'a, D: Driver> ParentDomain<'a, D> {
    /// The parent domain.
    pub fn domain(&self) -> &'a Domain<D::Paging> {
        self.domain
    }
}

impl<'a, D: Driver> Deref for ParentDomain<'a, D> {
    type Target = Domain<D::Paging>;

    fn deref(&self) -> &Self::Target {
        self.domain
    }
}

impl<'a, D: DriverStatics> ParentDomain<'a, D> {
    /// Checks that `ptr` is a paging domain of driver `D`; anything else
    /// (another driver's domain, a nested, blocked or identity domain) is
    /// refused with `EINVAL`.
    ///
    /// # Safety
    ///
    /// `ptr` must be NULL or point to a live domain for `'a`.
    pub(in crate::riommu) unsafe fn from_raw(ptr: *mut bindings::iommu_domain) -> Result<Self> {
        if ptr.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: live domain (caller).
        let (ty, ops) = unsafe { ((*ptr).type_, (*ptr).ops) };
        if ty != bindings::IOMMU_DOMAIN_UNMANAGED || !core::ptr::eq(ops, D::statics().paging_ops())
        {
            return Err(EINVAL);
        }
        // SAFETY: the ops identify a `Domain<D::Paging>` (invariant of
        // `Domain`), live for `'a` (caller).
        let domain = unsafe { Domain::from_raw(ptr) };
        Ok(Self { domain })
    }
}

/// The parent of a nested domain: a nesting-parent paging domain given
/// directly (`IOMMU_HWPT_ALLOC` with a HWPT `pt_id`), or a vIOMMU (whose own
/// parent the driver recorded in `viommu_init`).
pub enum Parent<'a, D: Driver> {
    /// `domain_alloc_nested`.
    Domain(ParentDomain<'a, D>),
    /// The vIOMMU's `alloc_domain_nested`.
    Viommu(&'a super::viommu::Viommu<D::Viommu>),
}

/// A new domain returned by a driver's `domain_alloc_user`.  `'a` is the
/// lifetime of the allocation's [`Parent`]: a nested domain may refer to
/// it, so it cannot be kept past the call.
pub enum NewDomain<'a, D: Driver> {
    /// A paging domain.
    Paging(DomainBox<D::Paging>),
    /// A nested domain.
    Nested(NestedBox<'a, D::Nested>),
}

/// A new nested domain, not yet published, that may refer to the vIOMMU it
/// is allocated on: it lives no longer than the allocation's [`Parent`]
/// borrow (`'a`), so a driver cannot keep it (and its vIOMMU pointer) past
/// the vIOMMU's life.
pub struct NestedBox<'a, T: NestedDomain> {
    b: DomainBox<T>,
    _parent: PhantomData<&'a ()>,
}

impl<'a, T: NestedDomain> NestedBox<'a, T> {
    /// The domain, for driver bookkeeping before it is published.
    pub fn domain(&self) -> &Domain<T> {
        self.b.domain()
    }

    /// See [`DomainBox::insert_into`].
    pub fn insert_into(&self, set: &Arc<DomainSet<T>>, key: usize) -> Result {
        self.b.insert_into(set, key)
    }

    /// The vIOMMU recorded by [`DomainBox::new_nested`], as an address (the
    /// glue checks it against the allocation's parent before publishing).
    pub(in crate::riommu) fn viommu_addr(&self) -> *const c_void {
        self.b.domain().viommu
    }

    /// The box, for publication by the glue.
    pub(in crate::riommu) fn into_box(self) -> DomainBox<T> {
        self.b
    }
}

/// An allocated, not yet published domain.
///
/// # Invariants
///
/// `ptr` is the only owner of a `KmemBox`-allocated, pinned, initialised
/// `Domain<T>`.
pub struct DomainBox<T: Send + Sync + 'static> {
    ptr: NonNull<Domain<T>>,
}

// SAFETY: the box owns a `Domain<T>`; `T: Send` makes moving it fine.
unsafe impl<T: Send + Sync + 'static> Send for DomainBox<T> {}

impl<T: Send + Sync + 'static> Drop for DomainBox<T> {
    fn drop(&mut self) {
        // SAFETY: we own the allocation (type invariant) and it was never
        // published; once out of the set nobody else refers to it.
        unsafe { Self::free_raw(self.ptr.as_ptr().cast()) };
    }
}

impl<T: Send + Sync + 'static> DomainBox<T> {
    fn alloc(
        init: impl PinInit<T, Error>,
        setup: impl FnOnce(&mut bindings::iommu_domain),
    ) -> Result<Self> {
        let b: Pin<KmemBox<Domain<T>>> = KmemBox::try_pin_init(
            try_pin_init!(Domain {
                raw: Opaque::new(pin_init::zeroed()),
                set: AtomicPtr::new(ptr::null_mut()),
                viommu: ptr::null(),
                inner <- init,
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: the domain is never moved out of its box; we only keep the
        // raw pointer and rebuild the box when freeing it.
        let ptr = KmemBox::into_raw(unsafe { Pin::into_inner_unchecked(b) });
        // SAFETY: `ptr` is valid and exclusively ours; `raw` is plain C data.
        setup(unsafe { &mut *(*ptr).raw.get() });
        // INVARIANT: allocated by `KmemBox`, pinned from here on, initialised.
        Ok(Self {
            // SAFETY: `Box::into_raw` never returns NULL.
            ptr: unsafe { NonNull::new_unchecked(ptr) },
        })
    }

    /// The domain, for driver bookkeeping before it is published.
    pub fn domain(&self) -> &Domain<T> {
        // SAFETY: valid and owned (type invariant).
        unsafe { self.ptr.as_ref() }
    }

    /// Gives up ownership to the C core; `free` rebuilds the box.
    pub(in crate::riommu) fn into_raw(self) -> *mut bindings::iommu_domain {
        let p = self.ptr.as_ptr().cast();
        core::mem::forget(self);
        p
    }

    /// Frees a domain given back by the C core.
    ///
    /// # Safety
    ///
    /// `ptr` must come from [`DomainBox::into_raw`] for the same `T` and not
    /// be used afterwards.
    pub(in crate::riommu) unsafe fn free_raw(ptr: *mut bindings::iommu_domain) {
        let ptr = ptr.cast::<Domain<T>>();
        // SAFETY: `ptr` is a live `Domain<T>` about to be freed (caller).
        unsafe { ObjSet::remove_freed(ptr) };
        // SAFETY: per the safety requirements, this is the box we leaked, now
        // unreachable from the set.
        drop(unsafe { KmemBox::from_raw(ptr) });
    }
}

impl<T: PagingDomain> DomainBox<T> {
    /// Allocates a paging domain with the given geometry, without dirty
    /// tracking.
    pub fn new_paging(config: PagingConfig, init: impl PinInit<T, Error>) -> Result<Self>
    where
        T::Driver: DriverStatics,
    {
        Self::paging(config, false, init)
    }

    /// Allocates a paging domain with the given geometry that tracks dirty
    /// pages if `dirty` (the core then calls the domain's
    /// [`PagingDomain::set_dirty_tracking`] and
    /// [`PagingDomain::read_and_clear_dirty`]).  A domain type that lacks
    /// either operation does not compile with this constructor.
    pub fn new_paging_dirty(
        config: PagingConfig,
        dirty: bool,
        init: impl PinInit<T, Error>,
    ) -> Result<Self>
    where
        T::Driver: DriverStatics,
    {
        const {
            assert!(
                T::HAS_SET_DIRTY_TRACKING && T::HAS_READ_AND_CLEAR_DIRTY,
                "riommu: a dirty-tracking paging domain needs set_dirty_tracking and read_and_clear_dirty"
            )
        };
        Self::paging(config, dirty, init)
    }

    fn paging(config: PagingConfig, dirty: bool, init: impl PinInit<T, Error>) -> Result<Self>
    where
        T::Driver: DriverStatics,
    {
        let s = <T::Driver as DriverStatics>::statics();
        Self::alloc(init, |raw| {
            raw.type_ = bindings::IOMMU_DOMAIN_UNMANAGED;
            raw.ops = s.paging_ops();
            // The ops exist: `new_paging_dirty` checked at compile time.
            if dirty {
                raw.dirty_ops = s.dirty_ops();
            }
            raw.pgsize_bitmap = config.pgsize_bitmap as usize;
            raw.geometry.aperture_start = config.aperture_start;
            raw.geometry.aperture_end = config.aperture_end;
            raw.geometry.force_aperture = config.force_aperture;
        })
    }
}

impl<T: super::sva::SvaDomain> DomainBox<T> {
    /// Allocates an SVA domain (the core sets its type and mm).
    pub fn new_sva(init: impl PinInit<T, Error>) -> Result<Self>
    where
        T::Driver: DriverStatics,
    {
        let s = <T::Driver as DriverStatics>::statics();
        Self::alloc(init, |raw| {
            raw.type_ = bindings::IOMMU_DOMAIN_SVA;
            raw.ops = s.sva_ops();
        })
    }
}

impl<T: NestedDomain> DomainBox<T> {
    /// Allocates a nested domain for `parent`.  On a vIOMMU parent the
    /// domain remembers the vIOMMU ([`Domain::viommu`]); the result cannot
    /// outlive the parent's borrow.
    pub fn new_nested<'a>(
        parent: &Parent<'a, T::Driver>,
        init: impl PinInit<T, Error>,
    ) -> Result<NestedBox<'a, T>>
    where
        T::Driver: DriverStatics,
    {
        let s = <T::Driver as DriverStatics>::statics();
        let b = Self::alloc(init, |raw| {
            raw.type_ = bindings::IOMMU_DOMAIN_NESTED;
            raw.ops = s.nested_ops();
        })?;
        if let Parent::Viommu(v) = parent {
            // SAFETY: not yet published: we are the only user.
            unsafe { (*b.ptr.as_ptr()).viommu = ptr::from_ref(*v).cast() };
        }
        Ok(NestedBox {
            b,
            _parent: PhantomData,
        })
    }
}

impl<T: NestedDomain> Domain<T> {
    /// The vIOMMU this nested domain was allocated on, if any, once the
    /// domain is published (owned by its iommufd HWPT).
    pub fn viommu(&self) -> Option<&Viommu<<T::Driver as Driver>::Viommu>> {
        // An unpublished domain may have been leaked (`mem::forget` of its
        // `NestedBox` after `insert_into`) and outlive its vIOMMU.
        if !self.is_published() {
            return None;
        }
        // SAFETY: set only from the allocation's vIOMMU parent (checked by
        // the glue before publication).  The domain is published (checked
        // above): the nested HWPT holds a `users` reference on the vIOMMU
        // from its allocation (`refcount_inc(&viommu->obj.users)` in
        // `iommufd_viommu_alloc_hwpt_nested()`) to its destruction
        // (`iommufd_hwpt_nested_destroy()`, drivers/iommu/iommufd/
        // hw_pagetable.c), which frees the domain first.
        unsafe {
            self.viommu
                .cast::<Viommu<<T::Driver as Driver>::Viommu>>()
                .as_ref()
        }
    }
}

/// The dirty bitmap a `read_and_clear_dirty` fills.
pub struct DirtyBitmap<'a> {
    raw: *mut bindings::iommu_dirty_bitmap,
    _p: PhantomData<&'a mut bindings::iommu_dirty_bitmap>,
}

impl<'a> DirtyBitmap<'a> {
    /// # Safety
    ///
    /// `raw` must be valid for `'a`.
    pub(in crate::riommu) unsafe fn from_raw(raw: *mut bindings::iommu_dirty_bitmap) -> Self {
        Self {
            raw,
            _p: PhantomData,
        }
    }

    /// Records `[iova, iova + length)` as dirty.
    pub fn record(&mut self, iova: u64, length: u64) {
        // SAFETY: `raw` is valid for `'a` (constructor).
        unsafe { rb::riommu_shim_dirty_record(self.raw.cast(), iova as usize, length as usize) };
    }
}

/// A placeholder nested domain type for drivers without nesting.
pub enum NoNested<D> {
    #[doc(hidden)]
    _Never(core::convert::Infallible, PhantomData<D>),
}

// SAFETY: `NoNested` is uninhabited.
unsafe impl<D> Send for NoNested<D> {}
// SAFETY: as above.
unsafe impl<D> Sync for NoNested<D> {}

#[vtable]
impl<D: DriverStatics<Nested = NoNested<D>>> NestedDomain for NoNested<D> {
    type Driver = D;

    fn attach_dev(
        _this: &Domain<Self>,
        _dev: &IommuDevice<'_, D>,
        _old: OldDomain<'_, D>,
    ) -> Result {
        Err(EOPNOTSUPP)
    }

    fn cache_invalidate_user(_this: &Domain<Self>, _array: &mut UserDataArray<'_>) -> Result {
        Err(EOPNOTSUPP)
    }
}
