// SPDX-License-Identifier: GPL-2.0

//! vIOMMU, driver-defined vDEVICE and hardware queue objects
//! (`include/linux/iommufd.h`).
//!
//! iommufd allocates these objects with the size the driver asks for and
//! keeps its core structure at offset 0; the driver's data follows it.  A
//! driver implements [`ViommuImpl`]; the glue in [`super::driver`] builds
//! `get_viommu_size`, `viommu_init` and the `iommufd_viommu_ops` table from
//! it and initialises the driver's data in place.
//!
//! Lifetimes follow the core: a vDEVICE and a nested domain allocated on a
//! vIOMMU each hold a reference on it, so both may keep a `&Viommu<T>`.
//! A vDEVICE's `destroy` is set only once `vdevice_init` succeeded, so an
//! abort between allocation and initialisation never runs driver code on
//! uninitialised memory.  The same holds for a hardware queue, which holds
//! a reference on its vIOMMU; the queues a driver makes depend on each
//! other only through [`NewHwQueue::depend_on`], which the glue undoes when
//! the dependent queue is destroyed.

use super::{
    bindings as rb,
    device::IommuDevice,
    domain::Domain,
    driver::{Driver, DriverStatics},
    objset::{ObjSet, Tracked},
    pages::PhysPages,
    registration::Instance,
};
use core::{
    cell::UnsafeCell,
    mem::{offset_of, ManuallyDrop},
    ops::Deref,
    ptr,
    sync::atomic::AtomicPtr,
};
use kernel::{
    bindings,
    device::Device,
    ffi, new_mutex,
    prelude::*,
    sync::{Arc, ArcBorrow, Mutex},
    types::Opaque,
};

/// A vIOMMU of a driver: the core `struct iommufd_viommu` at offset 0,
/// followed by the driver's data.
///
/// # Invariants
///
/// Allocated by iommufd with `size_of::<Viommu<T>>()` bytes; `inner` is
/// initialised from a successful `viommu_init` until `destroy`.  `mmap` is
/// written only during `viommu_init` (by [`ViommuCore::alloc_mmap`], before
/// the object is published) and read-only afterwards.  `instance` is
/// `Arc::into_raw` of a reference to the `Instance<T::Driver>` whose
/// `iommu_device` is the core's `iommu_dev`, from `viommu_init` until
/// `destroy` (or `viommu_init`'s failure) drops it.  `parent` is, from
/// `viommu_init` on, the address of the driver's `Domain<Paging>` that the
/// core passed as the nesting parent.  `hw_queues` is initialised from
/// `viommu_init` until `destroy`.
#[repr(C)]
pub struct Viommu<T> {
    core: Opaque<rb::iommufd_viommu>,
    set: AtomicPtr<ObjSet<Viommu<T>>>,
    mmap: UnsafeCell<Option<MmapRegion>>,
    /// The IOMMU instance the vIOMMU is on, kept alive for it: the core
    /// reads `viommu->iommu_dev->ops` for every nested HWPT it allocates
    /// (`iommufd_viommu_alloc_hwpt_nested()`), and leaves the counting to
    /// the driver (`iommufd_viommu_alloc_ioctl()`).
    instance: *const ffi::c_void,
    /// The nesting parent domain (see [`Viommu::parent`]).
    parent: *const ffi::c_void,
    /// The initialised hardware queues, by index.
    hw_queues: Mutex<QueueTable>,
    inner: T,
}

/// The hardware queues of a vIOMMU whose `hw_queue_init` succeeded.
///
/// # Invariants
///
/// Each `queue` is an initialised `HwQueue<T::HwQueue>` of the vIOMMU that
/// owns the table (`T` its `ViommuImpl`), at the given `index`; indexes are
/// unique.  An entry is added by the `hw_queue_init` glue once the queue is
/// initialised, and removed by the `hw_queue_destroy` glue, under the
/// table's lock, before anything of the queue is dropped; iommufd frees a
/// queue's memory only after its `destroy` returned
/// (`iommufd_object_remove()`, `iommufd_object_abort_and_destroy()`).  So
/// every entry points to live, initialised memory while the lock is held.
struct QueueTable(KVec<QueueEntry>);

struct QueueEntry {
    index: u32,
    queue: *mut rb::iommufd_hw_queue,
}

// SAFETY: the pointers name iommufd objects, which any thread may use; they
// are dereferenced only under the table's lock (type invariant).
unsafe impl Send for QueueTable {}

impl QueueTable {
    fn find(&self, index: u32) -> Option<*mut rb::iommufd_hw_queue> {
        self.0.iter().find(|e| e.index == index).map(|e| e.queue)
    }
}

/// A hardware queue of a vIOMMU (`IOMMU_HW_QUEUE_ALLOC`): the core
/// `struct iommufd_hw_queue` at offset 0, the glue's bookkeeping, then the
/// driver's data (`HW_QUEUE_STRUCT_SIZE()` in C).
///
/// # Invariants
///
/// Allocated by iommufd with `size_of::<HwQueue<T>>()` bytes; `index`,
/// `dep` and `inner` are initialised from a successful `hw_queue_init_phys`
/// until `destroy`.  `dep` is null, or a queue of the same vIOMMU on which
/// this one holds a `users` reference (taken by [`NewHwQueue::depend_on`]),
/// dropped by `destroy` after `inner`.
#[repr(C)]
pub struct HwQueue<T> {
    core: Opaque<rb::iommufd_hw_queue>,
    index: u32,
    dep: *mut rb::iommufd_hw_queue,
    inner: T,
}

/// Pages registered for userspace `mmap` of the iommufd file, owned by the
/// vIOMMU that registered them.
///
/// # Invariants
///
/// `offset` is a region of `ictx` owned by `owner` (`_iommufd_alloc_mmap`)
/// that maps exactly `pages`; `pages` are freed only after the region is
/// destroyed, and never while a VMA maps them.
struct MmapRegion {
    ictx: *mut bindings::iommufd_ctx,
    owner: *mut rb::iommufd_object,
    offset: usize,
    pages: ManuallyDrop<PhysPages>,
}

impl Drop for MmapRegion {
    fn drop(&mut self) {
        // Regions are dropped with their vIOMMU, in `viommu_init`'s error
        // path or in `destroy`, both before iommufd frees the object.  Each
        // VMA of the region holds a `users` reference on the owner
        // (`iommufd_fops_mmap()`/`iommufd_fops_vma_open()`,
        // drivers/iommu/iommufd/main.c), which a normal destroy has dropped
        // to 0 (`iommufd_object_remove()`) and an abort of a new object
        // finds at 1.  Above that, a VMA still maps the pages (userspace can
        // mmap a new object's region before the ioctl fails): the core then
        // WARNs and leaks the object (`iommufd_object_abort()`), and the
        // region and its pages must be leaked with it.
        // SAFETY: `owner` is live (above); reading its count is atomic.
        if unsafe { rb::riommu_shim_object_users(self.owner) } > 1 {
            return;
        }
        // SAFETY: our region of a live context and object (type invariant
        // and above), mapped by no VMA.
        unsafe { rb::_iommufd_destroy_mmap(self.ictx, self.owner, self.offset) };
        // SAFETY: dropped once, after the region is gone (type invariant).
        unsafe { ManuallyDrop::drop(&mut self.pages) };
    }
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
const _: () = assert!(offset_of!(HwQueue<u64>, core) == 0);

/// The alignment iommufd's object memory has: `_iommufd_object_alloc()`
/// uses `kzalloc()`, which aligns to at least `ARCH_KMALLOC_MINALIGN`.
const KMALLOC_MINALIGN: usize = bindings::ARCH_KMALLOC_MINALIGN;

/// Whether a `Viommu<T>`/`Vdevice<V>` fits the alignment of the memory
/// iommufd gives it; checked at compile time for each driver in the glue.
const fn fits_kmalloc<X>() -> bool {
    core::mem::align_of::<X>() <= KMALLOC_MINALIGN
}

// SAFETY: the core part is owned by iommufd, which serialises its updates;
// the driver part is `T`; the mmap region is written only during
// `viommu_init`, before the object is published, and read-only afterwards
// (type invariant), and its raw pointers name iommufd objects that any
// thread may use.  `parent` is likewise written only in `viommu_init` and
// names a `Domain<_>` of a `PagingDomain`, which is `Send + Sync`; the queue
// table is a `Mutex` of a `Send` table.
unsafe impl<T: Send> Send for Viommu<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for Viommu<T> {}

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

impl<T> Deref for HwQueue<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

/// The core part of a vIOMMU (being initialised, or initialised).
///
/// # Invariants
///
/// `raw` is a live `struct iommufd_viommu` for `'a`, whose `ictx`, `obj`,
/// `iommu_dev` and `type` iommufd set before `viommu_init` and never
/// changes; `mmap`
/// is `Some` only during `viommu_init`, pointing at the vIOMMU's region
/// slot, which nobody else touches meanwhile.
pub struct ViommuCore<'a> {
    raw: &'a Opaque<rb::iommufd_viommu>,
    mmap: Option<&'a UnsafeCell<Option<MmapRegion>>>,
}

impl ViommuCore<'_> {
    /// The `IOMMU_VIOMMU_TYPE_*` requested.
    pub fn viommu_type(&self) -> u32 {
        // SAFETY: set before `viommu_init`, never changed (invariant).
        unsafe { (*self.raw.get()).type_ }
    }

    fn ictx(&self) -> *mut bindings::iommufd_ctx {
        // SAFETY: as above.
        unsafe { (*self.raw.get()).ictx }.cast()
    }

    /// Identity of the owning iommufd context (see
    /// [`super::iommufd::IommufdCtx::key`]).
    pub fn ctx_key(&self) -> usize {
        self.ictx() as usize
    }

    /// Whether the vIOMMU is being made on `inst`: the IOMMU of the device
    /// userspace named, which may be another instance than the nesting
    /// parent's (the core checks only that both are the driver's).
    pub fn is_on<D: DriverStatics>(&self, inst: &Instance<D>) -> bool {
        // SAFETY: `iommufd_viommu_alloc_ioctl()` sets `iommu_dev` before
        // `viommu_init` and never changes it (invariant).
        ptr::eq(unsafe { (*self.raw.get()).iommu_dev }, inst.iommu_device())
    }

    /// Registers `pages` for userspace `mmap` of the iommufd file and
    /// returns the mmap offset.  The vIOMMU keeps the pages: the region is
    /// destroyed and the pages freed with the vIOMMU (or when `init` fails).
    /// Only during `init`, and once (`EBUSY` for a second region, `EINVAL`
    /// outside `init`); see [`Viommu::mmap_pages`].
    pub fn alloc_mmap(&self, pages: PhysPages) -> Result<usize> {
        let slot = self.mmap.ok_or(EINVAL)?;
        // SAFETY: only this `ViommuCore` touches the slot during `init`
        // (type invariant), and it is not `Sync`.
        let slot = unsafe { &mut *slot.get() };
        if slot.is_some() {
            return Err(EBUSY);
        }
        let mut offset = 0usize;
        // SAFETY: a field of the live vIOMMU (type invariant).
        let owner = unsafe { &raw mut (*self.raw.get()).obj }.cast::<rb::iommufd_object>();
        // SAFETY: `raw` is a live vIOMMU under initialisation; its `obj` is
        // the owner; `pages` are ours and stay allocated as long as the
        // region (`MmapRegion`); the core checks alignment and length.
        kernel::error::to_result(unsafe {
            rb::_iommufd_alloc_mmap(
                self.ictx().cast(),
                owner.cast(),
                pages.phys(),
                pages.len(),
                &mut offset,
            )
        })?;
        // INVARIANT: the region maps `pages`, which it owns.
        *slot = Some(MmapRegion {
            ictx: self.ictx(),
            owner,
            offset,
            pages: ManuallyDrop::new(pages),
        });
        Ok(offset)
    }
}

impl<T> Viommu<T> {
    fn raw(&self) -> *mut rb::iommufd_viommu {
        self.core.get()
    }

    /// The core part.
    pub fn core(&self) -> ViommuCore<'_> {
        // INVARIANT: `core` is initialised by iommufd before the driver runs;
        // no region can be added after `init`.
        ViommuCore {
            raw: &self.core,
            mmap: None,
        }
    }

    /// The iommufd object id.
    pub fn id(&self) -> u32 {
        // SAFETY: assigned when the object is allocated, before
        // `viommu_init`, and never changed.
        unsafe { (*self.raw()).obj.id }
    }

    /// See [`ViommuCore::ctx_key`].
    pub fn ctx_key(&self) -> usize {
        self.core().ctx_key()
    }

    /// The pages registered with [`ViommuCore::alloc_mmap`] and their mmap
    /// offset, if any.
    pub fn mmap_pages(&self) -> Option<(&PhysPages, usize)> {
        // SAFETY: read-only after `init` (type invariant).
        unsafe { &*self.mmap.get() }
            .as_ref()
            .map(|r| (&*r.pages, r.offset))
    }

    /// The nesting parent domain the vIOMMU was allocated on.
    pub fn parent(&self) -> &Domain<<T::Driver as Driver>::Paging>
    where
        T: ViommuImpl,
    {
        // SAFETY: `viommu_init` stored the parent it was given, checked to be
        // this driver's paging domain (`ParentDomain::from_raw`), before the
        // driver saw the vIOMMU (type invariant).  The vIOMMU holds a `users`
        // reference on the parent HWPT from before `viommu_init` until after
        // `destroy` (`iommufd_viommu_alloc_ioctl()`,
        // `iommufd_viommu_destroy()`, drivers/iommu/iommufd/viommu.c), and
        // the HWPT frees its domain only when it is destroyed.
        unsafe { &*self.parent.cast::<Domain<<T::Driver as Driver>::Paging>>() }
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
        // iommufd WARNs on an empty event (`iommufd_viommu_report_event()`).
        if data.is_empty() {
            return Err(EINVAL);
        }
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
        // succeeded (`xa_store()` after the op in
        // `iommufd_vdevice_alloc_ioctl()`, drivers/iommu/iommufd/viommu.c),
        // and our `vdevice_destroy` glue removes the entry under this lock
        // before it drops anything (iommufd itself removes it only after
        // `destroy`, in `iommufd_vdevice_abort()`); all vDEVICEs of a
        // `Viommu<T>` are `Vdevice<T::Vdev>` (we set `vdevice_size` for `T`).
        let r = unsafe {
            let v = rb::riommu_shim_viommu_find_vdev(self.raw(), virt_id as ffi::c_ulong);
            v.cast::<Vdevice<V>>().as_ref().map(f)
        };
        // SAFETY: locked above.
        unsafe { rb::riommu_shim_viommu_unlock(self.raw()) };
        r
    }
}

/// The core part of a vDEVICE.
///
/// # Invariants
///
/// `raw` is a live `struct iommufd_vdevice` for `'a` whose `virt_id`,
/// `idev` and `obj.id` iommufd set before `vdevice_init` and never change.
pub struct VdeviceCore<'a> {
    raw: &'a Opaque<rb::iommufd_vdevice>,
}

impl VdeviceCore<'_> {
    /// The virtual id (vSID, vRID, ...) userspace gave.
    pub fn virt_id(&self) -> u64 {
        // SAFETY: set before `vdevice_init`, never changed (invariant).
        unsafe { (*self.raw.get()).virt_id }
    }

    /// The physical device.
    pub fn device(&self) -> &Device {
        // SAFETY: the vDEVICE holds a `wait_cnt` reference on its iommufd
        // device for its whole life (`iommufd_vdevice_alloc_ioctl()`), and a
        // bound iommufd device's `dev` stays registered until it is unbound:
        // whoever bound it (VFIO, or a `BoundDevice`, whose `RegisteredDevice`
        // keeps the device on its bus) unbinds it before the device goes.
        unsafe { Device::from_raw(rb::iommufd_vdevice_to_device(self.raw.get())) }
    }

    /// The physical device as probed by driver `D` (with its private data);
    /// `EINVAL` if another driver probed it.
    pub fn probed<D: DriverStatics>(&self) -> Result<super::device::IommuDevice<'_, D>> {
        let dev = ptr::from_ref(self.device())
            .cast::<bindings::device>()
            .cast_mut();
        // SAFETY: the device stays registered, and so probed, while the
        // vDEVICE lives (see `device`), which outlives `&self`.
        unsafe { super::device::IommuDevice::from_raw_checked(dev) }
    }
}

impl<T> Vdevice<T> {
    /// The core part.
    pub fn core(&self) -> VdeviceCore<'_> {
        // INVARIANT: initialised by iommufd before the driver runs.
        VdeviceCore { raw: &self.core }
    }

    /// The iommufd object id.
    pub fn id(&self) -> u32 {
        // SAFETY: set when the object is allocated and never changed.
        unsafe { (*self.core.get()).obj.id }
    }
}

/// The core part of a hardware queue.
///
/// # Invariants
///
/// `raw` is a live `struct iommufd_hw_queue` for `'a` whose `viommu`,
/// `type`, `length`, `base_addr` and `obj.id` iommufd set before
/// `hw_queue_init_phys` and never change (`iommufd_hw_queue_alloc_ioctl()`).
pub struct HwQueueCore<'a> {
    raw: &'a Opaque<rb::iommufd_hw_queue>,
}

impl HwQueueCore<'_> {
    /// The `IOMMU_HW_QUEUE_TYPE_*` requested (one the driver supports).
    pub fn queue_type(&self) -> u32 {
        // SAFETY: set before `hw_queue_init_phys`, never changed (invariant).
        unsafe { (*self.raw.get()).type_ }
    }

    /// Where the guest queue is: an IOVA of the vIOMMU's nesting parent
    /// (`nesting_parent_iova`), a guest physical address, which the core
    /// pinned and checked to be backed by physically contiguous pages.
    pub fn base_addr(&self) -> u64 {
        // SAFETY: as above.
        unsafe { (*self.raw.get()).base_addr }
    }

    /// The length of the guest queue in bytes (never 0).
    pub fn length(&self) -> usize {
        // SAFETY: as above.
        unsafe { (*self.raw.get()).length }
    }

    /// The iommufd object id.
    pub fn id(&self) -> u32 {
        // SAFETY: as above.
        unsafe { (*self.raw.get()).obj.id }
    }
}

impl<T> HwQueue<T> {
    /// The core part.
    pub fn core(&self) -> HwQueueCore<'_> {
        // INVARIANT: initialised by iommufd before the driver runs.
        HwQueueCore { raw: &self.core }
    }

    /// The index the queue was allocated at (unique per vIOMMU).
    pub fn index(&self) -> u32 {
        self.index
    }
}

/// A hardware queue being initialised (`hw_queue_init_phys`), with the
/// vIOMMU's table of initialised queues locked.
///
/// # Invariants
///
/// `core` is the new queue's, allocated for `HwQueue<V::HwQueue>` on
/// `viommu`; `table` is `viommu`'s queue table, locked for `'a`; `dep` is
/// null or a queue of `table` on which the new queue holds a `users`
/// reference, which whoever consumes `dep` drops.
pub struct NewHwQueue<'a, V: ViommuImpl> {
    viommu: &'a Viommu<V>,
    core: HwQueueCore<'a>,
    index: u32,
    base_addr_pa: u64,
    table: &'a QueueTable,
    dep: *mut rb::iommufd_hw_queue,
}

impl<'a, V: ViommuImpl> NewHwQueue<'a, V> {
    /// The vIOMMU.
    pub fn viommu(&self) -> &'a Viommu<V> {
        self.viommu
    }

    /// The core part: type, guest address and length.
    pub fn core(&self) -> &HwQueueCore<'a> {
        &self.core
    }

    /// The index userspace asked for: the logical queue id of the vIOMMU.
    /// The glue has already refused (`EEXIST`) an index at which the
    /// vIOMMU has a queue; any range check is the driver's.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The host physical address of the guest queue (`base_addr_pa`): its
    /// `length` bytes are physically contiguous and pinned by iommufd until
    /// the queue is destroyed.  A value to program into hardware that reads
    /// the queue, or to compare; nothing in this API dereferences it.
    pub fn base_addr_pa(&self) -> u64 {
        self.base_addr_pa
    }

    /// The vIOMMU's initialised queue at `index`, if any.
    pub fn sibling(&self, index: u32) -> Option<&HwQueue<V::HwQueue>> {
        // SAFETY: entries of the locked table are initialised
        // `HwQueue<V::HwQueue>`s that stay alive while it is locked (type
        // invariants of `QueueTable` and `Self`), for at least `&self`.
        self.table
            .find(index)
            .map(|q| unsafe { &*q.cast::<HwQueue<V::HwQueue>>() })
    }

    /// Makes the new queue depend on the vIOMMU's queue at `index`
    /// (`iommufd_hw_queue_depend()`): that queue cannot be destroyed
    /// (`IOMMU_DESTROY` gives `EBUSY`) until the new one is.  The glue drops
    /// the dependency when the new queue is destroyed, after its driver
    /// data, or at once if its initialisation fails.  `ENOENT` if there is
    /// no queue at `index` (or it is being destroyed), `EBUSY` if the new
    /// queue already has its one dependency.
    pub fn depend_on(&mut self, index: u32) -> Result {
        if !self.dep.is_null() {
            return Err(EBUSY);
        }
        let depended = self.table.find(index).ok_or(ENOENT)?;
        let dependent = self.core.raw.get();
        // SAFETY: both are live queues of this vIOMMU: the new one for 'a,
        // the other while the table is locked (invariants).  The shim takes
        // the `users` reference only if `iommufd_object_remove()` has not
        // dropped the queue's users to 0, see `riommu_shim_object_depend()`.
        // A queue whose `IOMMU_HW_QUEUE_ALLOC` has not returned yet may be
        // aborted after this (`iommufd_object_abort_and_destroy()` when
        // `iommufd_ucmd_respond()` fails): its `destroy` runs with our
        // reference held, and `iommufd_object_abort()` frees it only if
        // `refcount_dec_and_test()` succeeds, i.e. once our reference is
        // gone; while we hold it, it WARNs and leaks the memory, so `dep`
        // stays valid memory (our `undepend` then WARNs: decrement hit 0).
        // No use-after-free, but see the known gap in
        // Documentation/rust-iommu-api.rst.
        kernel::error::to_result(unsafe {
            rb::riommu_shim_object_depend(&raw mut (*dependent).obj, &raw mut (*depended).obj)
        })?;
        // INVARIANT: the new queue holds a reference on `depended`.
        self.dep = depended;
        Ok(())
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
    fn supports(dev: &IommuDevice<'_, Self::Driver>, ty: u32) -> bool;

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

    /// A set to add `viommu` to once initialised (keyed by its iommufd
    /// context), so the driver can find it by id; it leaves on destroy and
    /// keeps the set alive until then.
    fn set(_viommu: &Viommu<Self>) -> Option<Arc<ObjSet<Viommu<Self>>>> {
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

    /// The driver-defined part of each hardware queue (`()` for a driver
    /// that offers none).
    type HwQueue: Send + Sync + Sized + 'static;

    /// `get_hw_queue_size`: whether the vIOMMU offers hardware queues of
    /// `IOMMU_HW_QUEUE_TYPE` `ty` (the core answers `EOPNOTSUPP` otherwise).
    fn hw_queue_supports(_viommu: &Viommu<Self>, _ty: u32) -> bool {
        false
    }

    /// `hw_queue_init_phys`: returns the initialiser of the queue's driver
    /// data.  Called with the vIOMMU's queue table locked (queue
    /// allocations and destructions of one vIOMMU are serialised), only
    /// for a supported type and an index at which the vIOMMU has no queue.
    /// If it fails, the dependency it took (if any) is dropped.
    fn hw_queue_init<'a>(
        _new: &mut NewHwQueue<'a, Self>,
    ) -> Result<impl PinInit<Self::HwQueue, Error> + 'a> {
        Err::<Result<Self::HwQueue>, _>(EOPNOTSUPP)
    }

    /// Called, with the queue table locked, before a queue's driver data is
    /// dropped (the queue is no longer in the table).
    fn hw_queue_release(_viommu: &Viommu<Self>, _queue: &HwQueue<Self::HwQueue>) {}
}

/// A placeholder vIOMMU type for drivers that offer none.
pub enum NoViommu<D> {
    #[doc(hidden)]
    _Never(core::convert::Infallible, core::marker::PhantomData<D>),
}

impl<D: DriverStatics<Viommu = NoViommu<D>>> ViommuImpl for NoViommu<D> {
    type Driver = D;
    type Vdev = ();
    type HwQueue = ();

    fn supports(_dev: &IommuDevice<'_, D>, _ty: u32) -> bool {
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

/// The glue of the vIOMMU callbacks; referenced from [`super::vtable::Statics`].
pub(in crate::riommu) mod glue {
    use super::*;
    use crate::riommu::{
        domain::{NewDomain, Parent, ParentDomain},
        flags::AllocFlags,
        registration::publish,
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
    pub(in crate::riommu) unsafe extern "C" fn get_viommu_size<D: DriverStatics>(
        dev: *mut bindings::device,
        ty: bindings::iommu_viommu_type,
    ) -> usize {
        const {
            assert!(
                fits_kmalloc::<Viommu<D::Viommu>>(),
                "riommu: the vIOMMU type needs more alignment than kmalloc gives"
            )
        };
        // SAFETY: a device bound to iommufd, live for the call; the core
        // calls the ops of the driver that probed it (`dev_iommu_ops()`),
        // which `from_raw_checked` checks again.
        let Ok(dev) = (unsafe { IommuDevice::<D>::from_raw_checked(dev) }) else {
            return 0;
        };
        if D::Viommu::supports(&dev, ty) {
            size_of::<Viommu<D::Viommu>>()
        } else {
            0
        }
    }

    /// # Safety
    ///
    /// Called by iommufd (`viommu_init`) with a zeroed object of the size
    /// `get_viommu_size` gave and a live parent domain.
    pub(in crate::riommu) unsafe extern "C" fn viommu_init<D: DriverStatics>(
        v: *mut bindings::iommufd_viommu,
        parent: *mut bindings::iommu_domain,
        user_data: *const bindings::iommu_user_data,
    ) -> ffi::c_int {
        let v = v.cast::<rb::iommufd_viommu>();
        let vp = v.cast::<Viommu<D::Viommu>>();
        // SAFETY: `iommufd_viommu_alloc_ioctl()` set `iommu_dev` to the
        // device's IOMMU instance and called us through its ops, so it is
        // the `iommu_device` at offset 0 of an `Instance<D>` (the only
        // `iommu_device`s registered with `D`'s ops), in an `Arc` that the
        // bound device holds (its probe data) for the call.
        let inst: Arc<Instance<D>> =
            unsafe { ArcBorrow::from_raw((*v).iommu_dev.cast::<Instance<D>>()) }.into();
        // SAFETY: the memory after the core part is ours, zeroed, and never
        // moves (iommufd object memory); nothing reads `set`, `mmap`,
        // `instance`, `parent` or `hw_queues` before this.  The mutex is
        // initialised in place (pinned: the memory never moves).
        unsafe {
            (&raw mut (*vp).set).write(AtomicPtr::new(ptr::null_mut()));
            (&raw mut (*vp).mmap).write(UnsafeCell::new(None));
            (&raw mut (*vp).instance).write(Arc::into_raw(inst).cast());
            (&raw mut (*vp).parent).write(ptr::null());
            let table = new_mutex!(QueueTable(KVec::new()));
            match <_ as PinInit<_, core::convert::Infallible>>::__init(
                table,
                &raw mut (*vp).hw_queues,
            ) {
                Ok(()) => {}
                Err(e) => match e {},
            }
        }
        let r = (|| -> Result {
            // SAFETY: the parent is live for the call (the core holds it).
            let parent = unsafe { ParentDomain::<D>::from_raw(parent) }?;
            // SAFETY: ours, see above; the core holds the parent HWPT for
            // the vIOMMU's life (see `Viommu::parent`).
            unsafe { (&raw mut (*vp).parent).write(ptr::from_ref(parent.domain()).cast()) };
            // SAFETY: the core part is initialised by iommufd; `mmap` was
            // initialised above and only this `ViommuCore` touches it until
            // `init` returns.
            let core = unsafe {
                ViommuCore {
                    raw: &*v.cast::<Opaque<rb::iommufd_viommu>>(),
                    mmap: Some(&(*vp).mmap),
                }
            };
            // SAFETY: NULL or valid for the call.
            let data = unsafe { UserData::from_raw(user_data) };
            let init = D::Viommu::init(&core, parent.domain(), data)?;
            // SAFETY: the driver part is ours, uninitialised and never moves.
            unsafe { <_ as PinInit<_, Error>>::__init(init, &raw mut (*vp).inner)? };
            // SAFETY: initialised just above.
            let vi = unsafe { &*vp };
            if let Some(set) = D::Viommu::set(vi) {
                if let Err(e) = ObjSet::insert(&set, vi.ctx_key(), vi) {
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
            Err(e) => {
                // SAFETY: initialised above; the failed vIOMMU is freed by
                // the core without `destroy` (no ops), so its region, its
                // (empty: no queue without ops) queue table and its instance
                // reference go now.
                unsafe {
                    core::ptr::drop_in_place(&raw mut (*vp).mmap);
                    core::ptr::drop_in_place(&raw mut (*vp).hw_queues);
                    drop(Arc::from_raw((*vp).instance.cast::<Instance<D>>()));
                }
                e.to_errno()
            }
        }
    }

    /// # Safety
    ///
    /// Called by iommufd for an initialised vIOMMU, once.
    pub(in crate::riommu) unsafe extern "C" fn destroy<D: DriverStatics>(
        v: *mut rb::iommufd_viommu,
    ) {
        // SAFETY: initialised (ops are only set then).
        let vi = unsafe { viommu::<D>(v) };
        D::Viommu::release(vi);
        // SAFETY: live, about to be freed.
        unsafe { ObjSet::remove_freed(ptr::from_ref(vi)) };
        let owner = D::statics().owner();
        let vp = v.cast::<Viommu<D::Viommu>>();
        // Every queue holds a `users` reference on its vIOMMU until after
        // its `destroy` (`iommufd_hw_queue_destroy()`), so none is left.
        kernel::warn_on!(!vi.hw_queues.lock().0.is_empty());
        // SAFETY: dropped once, the driver's data before the region its
        // data may describe; iommufd frees the memory afterwards.
        unsafe {
            core::ptr::drop_in_place(&raw mut (*vp).inner);
            core::ptr::drop_in_place(&raw mut (*vp).mmap);
            core::ptr::drop_in_place(&raw mut (*vp).hw_queues);
        }
        // SAFETY: the instance reference `viommu_init` stored (type
        // invariant); iommufd reads nothing through `iommu_dev` after
        // `destroy`.
        drop(unsafe { Arc::from_raw((*vp).instance.cast::<Instance<D>>()) });
        // SAFETY: drops the reference taken in `viommu_init`.
        unsafe { bindings::module_put(owner) };
    }

    /// # Safety
    ///
    /// Called by iommufd on an initialised vIOMMU.
    pub(in crate::riommu) unsafe extern "C" fn alloc_domain_nested<D: DriverStatics>(
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
                publish::<D, _>(b.into_box())
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
    pub(in crate::riommu) unsafe extern "C" fn cache_invalidate<D: DriverStatics>(
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
    pub(in crate::riommu) unsafe extern "C" fn vdevice_init<D: DriverStatics>(
        vd: *mut rb::iommufd_vdevice,
    ) -> ffi::c_int {
        const {
            assert!(
                fits_kmalloc::<Vdevice<<D::Viommu as ViommuImpl>::Vdev>>(),
                "riommu: the vDEVICE type needs more alignment than kmalloc gives"
            )
        };
        let r = (|| -> Result {
            // SAFETY: the core part is initialised; its viommu is ours and
            // initialised (it has our ops).
            let (core, vi) = unsafe {
                (
                    VdeviceCore {
                        raw: &*vd.cast::<Opaque<rb::iommufd_vdevice>>(),
                    },
                    viommu::<D>((*vd).viommu),
                )
            };
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
        // (the vDEVICE holds a `users` reference on it).
        let (vi, this) = unsafe { (viommu::<D>((*vd).viommu), &*vd.cast::<Vdevice<V<D>>>()) };
        // iommufd calls `destroy` before it removes the vDEVICE from the
        // vIOMMU's table (`iommufd_vdevice_abort()`): remove it first, under
        // the table's lock, so that no `with_vdevice` can reach it while its
        // data is dropped.  iommufd's own removal then finds nothing, which
        // its `xa_cmpxchg()` tolerates.
        // SAFETY: a live vIOMMU and this vDEVICE of it.
        unsafe { rb::riommu_shim_viommu_unpublish_vdev((*vd).viommu, vd) };
        D::Viommu::vdevice_release(vi, this);
        let owner = D::statics().owner();
        // SAFETY: dropped once; iommufd frees the memory.
        unsafe { core::ptr::drop_in_place(&raw mut (*vd.cast::<Vdevice<V<D>>>()).inner) };
        // SAFETY: drops the reference taken in `vdevice_init`.
        unsafe { bindings::module_put(owner) };
    }
    /// # Safety
    ///
    /// Called by iommufd (`get_hw_queue_size`) on an initialised vIOMMU.
    pub(in crate::riommu) unsafe extern "C" fn get_hw_queue_size<D: DriverStatics>(
        v: *mut rb::iommufd_viommu,
        ty: bindings::iommu_hw_queue_type,
    ) -> usize {
        type Q<D> = <<D as Driver>::Viommu as ViommuImpl>::HwQueue;
        const {
            assert!(
                fits_kmalloc::<HwQueue<Q<D>>>(),
                "riommu: the hardware queue type needs more alignment than kmalloc gives"
            )
        };
        // SAFETY: initialised vIOMMU (it has our ops:
        // `iommufd_hw_queue_alloc_ioctl()` calls `viommu->ops`).
        let vi = unsafe { viommu::<D>(v) };
        if D::Viommu::hw_queue_supports(vi, ty) {
            size_of::<HwQueue<Q<D>>>()
        } else {
            0
        }
    }

    /// # Safety
    ///
    /// Called by iommufd (`hw_queue_init_phys`) with a zeroed queue of the
    /// size `get_hw_queue_size` gave, whose core part is initialised and
    /// whose vIOMMU is ours.
    pub(in crate::riommu) unsafe extern "C" fn hw_queue_init_phys<D: DriverStatics>(
        hq: *mut rb::iommufd_hw_queue,
        index: u32,
        base_addr_pa: bindings::phys_addr_t,
    ) -> ffi::c_int {
        type Q<D> = <<D as Driver>::Viommu as ViommuImpl>::HwQueue;
        let qp = hq.cast::<HwQueue<Q<D>>>();
        // SAFETY: `iommufd_hw_queue_alloc_ioctl()` sets `viommu` (holding a
        // `users` reference on it until after `destroy`), `type`, `length`
        // and `base_addr` before calling us, and the vIOMMU is initialised
        // (it has our ops).
        let (vi, core) = unsafe {
            (
                viommu::<D>((*hq).viommu),
                HwQueueCore {
                    raw: &*hq.cast::<Opaque<rb::iommufd_hw_queue>>(),
                },
            )
        };
        let mut table = vi.hw_queues.lock();
        if table.find(index).is_some() {
            return EEXIST.to_errno();
        }
        if let Err(e) = table.0.reserve(1, GFP_KERNEL) {
            return Error::from(e).to_errno();
        }
        // INVARIANT: the table is `vi`'s, locked; no dependency yet.
        let mut new = NewHwQueue {
            viommu: vi,
            core,
            index,
            base_addr_pa,
            table: &table,
            dep: ptr::null_mut(),
        };
        let r = match D::Viommu::hw_queue_init(&mut new) {
            // SAFETY: the driver part is ours, zeroed and never moves.
            Ok(init) => unsafe { <_ as PinInit<_, Error>>::__init(init, &raw mut (*qp).inner) },
            Err(e) => Err(e),
        };
        let dep = new.dep;
        if let Err(e) = r {
            if !dep.is_null() {
                // SAFETY: the reference `depend_on` took; `dep` is live (the
                // reference keeps it from being destroyed).
                unsafe { rb::_iommufd_object_undepend(&raw mut (*hq).obj, &raw mut (*dep).obj) };
            }
            return e.to_errno();
        }
        // SAFETY: ours (see above); read only by `destroy` and lookups,
        // which need the table entry added below.
        unsafe {
            (&raw mut (*qp).index).write(index);
            (&raw mut (*qp).dep).write(dep);
        }
        // INVARIANT: initialised; removed by `hw_queue_destroy` before any
        // of it is dropped.  Capacity was reserved above.
        if table
            .0
            .push_within_capacity(QueueEntry { index, queue: hq })
            .is_err()
        {
            // Not reached: one entry was reserved and the lock is held.
            kernel::warn_on!(true);
        }
        // SAFETY: only now is there something to destroy; iommufd calls
        // `destroy` also when it aborts the new queue afterwards
        // (`iommufd_object_abort_and_destroy()` after a failed response).
        unsafe {
            (*hq).destroy = Some(hw_queue_destroy::<D>);
            bindings::__module_get(D::statics().owner());
        }
        drop(table);
        0
    }

    /// # Safety
    ///
    /// Called by iommufd once for a queue whose `hw_queue_init_phys`
    /// succeeded.
    unsafe extern "C" fn hw_queue_destroy<D: DriverStatics>(hq: *mut rb::iommufd_hw_queue) {
        type Q<D> = <<D as Driver>::Viommu as ViommuImpl>::HwQueue;
        // SAFETY: initialised (destroy is set only then); the vIOMMU is
        // live (the queue holds a `users` reference on it until after
        // `destroy`, `iommufd_hw_queue_destroy()`).
        let (vi, this) = unsafe { (viommu::<D>((*hq).viommu), &*hq.cast::<HwQueue<Q<D>>>()) };
        let mut table = vi.hw_queues.lock();
        // No lookup can reach the queue once it has left the table.
        table.0.retain(|e| !ptr::eq(e.queue, hq));
        D::Viommu::hw_queue_release(vi, this);
        let dep = this.dep;
        let owner = D::statics().owner();
        // SAFETY: dropped once; iommufd frees the memory.
        unsafe { core::ptr::drop_in_place(&raw mut (*hq.cast::<HwQueue<Q<D>>>()).inner) };
        if !dep.is_null() {
            // SAFETY: the reference `depend_on` took (type invariant), which
            // kept `dep` alive; dropped once, after the driver data.
            unsafe { rb::_iommufd_object_undepend(&raw mut (*hq).obj, &raw mut (*dep).obj) };
        }
        drop(table);
        // SAFETY: drops the reference taken in `hw_queue_init_phys`.  The
        // module text we return through stays: the vIOMMU holds its own
        // module reference until its `destroy`, which cannot run before
        // `iommufd_hw_queue_destroy()` drops the queue's `users` reference
        // on it after we return.
        unsafe { bindings::module_put(owner) };
    }
}
