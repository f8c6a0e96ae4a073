// SPDX-License-Identifier: GPL-2.0

//! Sets of live iommufd-backed objects (domains, vIOMMUs) that a driver can
//! find again by iommufd context and object id, for example from a control
//! device.  The objects leave their set automatically when freed.

use core::{marker::PhantomData, ptr, sync::atomic::Ordering};
use kernel::{
    prelude::*,
    sync::{Arc, Mutex},
};

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
        /// The object's pointer to the set it is in: null, or
        /// `Arc::into_raw` of a reference to the set that the object owns.
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
/// Every entry points to a live `O` whose `set_slot` holds a counted
/// reference to `self`: entries are added by [`ObjSet::insert`] and removed
/// under the lock by the object's free path before its memory goes (and
/// before it drops that reference).  Sets live in an [`Arc`] (a driver keeps
/// them in its instance data), so a set outlives its objects even if the
/// instance goes first.
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
    /// The object keeps a reference to the set until it is freed.
    ///
    /// The object's slot is claimed first with one `compare_exchange`, so
    /// two racing inserts of one object cannot both succeed.
    pub(in crate::riommu) fn insert(this: &Arc<Self>, key: usize, obj: &O) -> Result {
        let slot = obj.set_slot();
        let me = Arc::into_raw(this.clone()).cast_mut();
        if slot
            .compare_exchange(ptr::null_mut(), me, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // SAFETY: from `into_raw` just above, not stored anywhere.
            drop(unsafe { Arc::from_raw(me) });
            return Err(EBUSY);
        }
        let pushed = this
            .entries
            .lock()
            .push((key, ptr::from_ref(obj) as usize), GFP_KERNEL);
        if pushed.is_err()
            && slot
                .compare_exchange(me, ptr::null_mut(), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            // Not in the set: the claim and its reference are released.
            // SAFETY: the reference stored above, taken out of the slot.
            drop(unsafe { Arc::from_raw(me) });
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
        let set = unsafe { (*obj).set_slot().swap(ptr::null_mut(), Ordering::AcqRel) };
        if !set.is_null() {
            // SAFETY: a non-null slot is the object's counted reference
            // (`insert`), taken out of the slot above.
            let set = unsafe { Arc::from_raw(set) };
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
