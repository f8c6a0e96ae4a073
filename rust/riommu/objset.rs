// SPDX-License-Identifier: GPL-2.0

//! Sets of live iommufd-backed objects (domains, vIOMMUs) that a driver can
//! find again by iommufd context and object id, for example from a control
//! device.  The objects leave their set automatically when freed.

use core::{marker::PhantomData, ptr, sync::atomic::Ordering};
use kernel::{prelude::*, sync::Mutex};

mod private {
    use super::ObjSet;
    use core::sync::atomic::AtomicPtr;

    /// An object an [`ObjSet`] can hold: the API's object types
    /// ([`crate::riommu::domain::Domain`], [`crate::riommu::viommu::Viommu`]),
    /// whose free paths call [`ObjSet::remove_freed`].
    ///
    /// It lives in a private module and is re-exported only inside
    /// `crate::riommu`: the API is compiled into each driver crate, so
    /// `pub(in crate::riommu)` would let a driver implement it (and then free a tracked
    /// object behind the set's back) or store into an object's slot.
    pub trait Tracked: Sync + Sized + 'static {
        /// The object's pointer to the set it is in.
        fn set_slot(&self) -> &AtomicPtr<ObjSet<Self>>;
        /// The iommufd object id, if the object is published.
        fn object_id(&self) -> Option<u32>;
    }
}
pub(in crate::riommu) use private::Tracked;

/// A set of live objects, keyed by an iommufd context identity.
///
/// # Invariants
///
/// Every entry points to a live `O` whose `set_slot` points to `self`:
/// entries are added by [`ObjSet::insert`] and removed under the lock by the
/// object's free path before its memory goes.
#[pin_data]
pub struct ObjSet<O> {
    #[pin]
    entries: Mutex<KVec<(usize, usize)>>,
    _p: PhantomData<O>,
}

// SAFETY: entries are addresses guarded by the mutex; the objects are `Sync`.
unsafe impl<O: Sync> Send for ObjSet<O> {}
// SAFETY: as above.
unsafe impl<O: Sync> Sync for ObjSet<O> {}

impl<O: Tracked> ObjSet<O> {
    /// An empty set.
    pub fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            entries <- kernel::new_mutex!(KVec::new()),
            _p: PhantomData,
        })
    }

    /// Adds `obj` under `key`; an object can be in one set only (`EBUSY`).
    ///
    /// The object's slot is claimed first with one `compare_exchange`, so
    /// two racing inserts of one object cannot both succeed.
    pub(in crate::riommu) fn insert(&'static self, key: usize, obj: &O) -> Result {
        let slot = obj.set_slot();
        let me = ptr::from_ref(self).cast_mut();
        slot.compare_exchange(ptr::null_mut(), me, Ordering::AcqRel, Ordering::Acquire)
            .map_err(|_| EBUSY)?;
        let pushed = self
            .entries
            .lock()
            .push((key, ptr::from_ref(obj) as usize), GFP_KERNEL);
        if pushed.is_err() {
            // Not in the set: release the claim.
            slot.store(ptr::null_mut(), Ordering::Release);
        }
        Ok(pushed?)
    }

    /// Removes `obj` from whatever set it is in; the free path calls this.
    ///
    /// # Safety
    ///
    /// `obj` must point to a live `O`, about to be freed.
    pub(in crate::riommu) unsafe fn remove_freed(obj: *const O) {
        // SAFETY: live (caller).
        let set = unsafe { (*obj).set_slot().load(Ordering::Acquire) };
        // SAFETY: a non-null slot points to a `'static` set (`insert`).
        if let Some(set) = unsafe { set.as_ref() } {
            let mut e = set.entries.lock();
            // `remove` (not `swap_remove`) keeps insertion order, which
            // `with` relies on.
            if let Some(i) = e.iter().position(|&(_, p)| p == obj as usize) {
                let _ = e.remove(i);
            }
        }
    }

    /// Runs `f` on the object of this set with `key` and iommufd id `id`,
    /// with the set locked, so the object cannot be freed meanwhile.
    ///
    /// iommufd releases an object's id before the driver frees the object,
    /// so a dying object and a new one may briefly share an id.  The newest
    /// entry is the live one (the id can only be reused once the older object
    /// left iommufd's table), so the search runs newest first.
    pub fn with<R>(&self, key: usize, id: u32, f: impl FnOnce(&O) -> R) -> Option<R> {
        let e = self.entries.lock();
        for &(k, p) in e.iter().rev() {
            if k != key {
                continue;
            }
            // SAFETY: entries point to live objects while the lock is held
            // (type invariant).
            let o = unsafe { &*(p as *const O) };
            if o.object_id() == Some(id) {
                return Some(f(o));
            }
        }
        None
    }

    /// Runs `f` on the newest object of this set for which `pred` holds,
    /// with the set locked.
    pub fn find<R>(&self, mut pred: impl FnMut(&O) -> bool, f: impl FnOnce(&O) -> R) -> Option<R> {
        let e = self.entries.lock();
        for &(_, p) in e.iter().rev() {
            // SAFETY: entries point to live objects while the lock is held
            // (type invariant).
            let o = unsafe { &*(p as *const O) };
            if pred(o) {
                return Some(f(o));
            }
        }
        None
    }

    /// Number of objects in the set.
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
