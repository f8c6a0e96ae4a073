// SPDX-License-Identifier: GPL-2.0

//! The core's IOTLB gather (`struct iommu_iotlb_gather`): the IOVA range an
//! unmap leaves to invalidate, and the page-table pages that a map or an
//! unmap unlinked and that must outlive the invalidation.
//!
//! An IOMMU may keep translations, and on real hardware the non-leaf
//! entries of its walks too (VT-d's paging-structure caches, SMMUv3's walk
//! caches), until the driver invalidates them.  A table page unlinked from
//! the tree is therefore not free memory yet: the hardware can still walk
//! it.  The API encodes the rule in types:
//!
//! - the page tables of [`super::pgtable`] and [`super::hw`] never free a
//!   table page that a map or an unmap unlinks; they hand it to the
//!   [`IotlbGather`] of the call ([`IotlbGather::defer_free`] is internal
//!   to the API);
//! - only the glue releases those pages, after the driver's
//!   [`super::domain::PagingDomain::iotlb_sync`] has returned: for an unmap
//!   in the core's `iotlb_sync` (which follows every `iommu_unmap()`), for a
//!   map (which has no gather in the core's API) right after the map, as
//!   Linux's generic page table does (`map_range()` in
//!   `drivers/iommu/generic_pt/iommu_pt.h` syncs when its free list is not
//!   empty);
//! - the release goes through RCU, so a lock-free walk of the CPU
//!   ([`super::pgtable::LockedPageTable::iova_to_phys`]) that started before
//!   the unlink finishes on live memory.
//!
//! A driver cannot free a table page early: it never holds one.

use super::bindings as rb;
use core::{
    marker::PhantomData,
    sync::atomic::{AtomicUsize, Ordering},
};
use kernel::bindings;

/// Table pages released after the flush that followed their unlink.  Not
/// public: it also decides whether the module must wait for RCU callbacks
/// before it goes ([`tables_released`] reads it).
static TABLES_RELEASED_FLUSHED: AtomicUsize = AtomicUsize::new(0);

/// How many table pages this module has released (through RCU) after the
/// flush that followed their unlink (for tests: `RIOMMU_MOCK_STATS`).
pub fn tables_released() -> usize {
    TABLES_RELEASED_FLUSHED.load(Ordering::Acquire)
}

/// The IOTLB gather of one map or unmap.
///
/// # Invariants
///
/// `raw` points to a gather initialised with `iommu_iotlb_gather_init()`,
/// exclusively ours for `'a`.  Pages on its free list are table pages of
/// ours (`riommu_shim_alloc_table()`), unlinked from their table and not
/// yet released.
pub struct IotlbGather<'a> {
    raw: *mut bindings::iommu_iotlb_gather,
    _p: PhantomData<&'a mut bindings::iommu_iotlb_gather>,
}

impl<'a> IotlbGather<'a> {
    /// # Safety
    ///
    /// `raw` must be an initialised gather, exclusively ours for `'a`, whose
    /// free list is empty or holds only pages put there by this API.
    pub(in crate::riommu) unsafe fn from_raw(raw: *mut bindings::iommu_iotlb_gather) -> Self {
        // INVARIANT: per the safety requirements.
        Self {
            raw,
            _p: PhantomData,
        }
    }

    /// Adds `[iova, iova + size)` to the range to invalidate
    /// (`iommu_iotlb_gather_add_range()`).
    pub fn add_range(&mut self, iova: u64, size: u64) {
        if size == 0 {
            return;
        }
        let end = iova.saturating_add(size - 1) as usize;
        // SAFETY: exclusively ours (type invariant).
        let g = unsafe { &mut *self.raw };
        g.start = g.start.min(iova as usize);
        g.end = g.end.max(end);
    }

    /// The range to invalidate, `[start, end]` (inclusive), if any.
    pub fn range(&self) -> Option<(u64, u64)> {
        // SAFETY: exclusively ours (type invariant).
        let g = unsafe { &*self.raw };
        (g.start < g.end).then_some((g.start as u64, g.end as u64))
    }

    /// The levels of the leaves the unmaps into this gather removed: bit `L`
    /// for level `L` (0: the smallest leaves), as generic_pt fills Linux's
    /// `pt.leaf_levels_bitmap`; 0 if none.  A driver may name the level in
    /// its invalidation when only one bit is set (an SMMU's `TTL`).
    pub fn leaf_levels(&self) -> u8 {
        // SAFETY: exclusively ours (type invariant).  `iommu_iotlb_gather_init()`
        // (include/linux/iommu.h) assigns a compound literal that names only
        // `start` and `freelist`, so the union is zero-initialised through
        // its first member, `pgsize`, whose bytes cover `pt`'s two bytes.
        // Nothing in the 7.3 core writes `pgsize` or `pt` (only drivers do,
        // through `iommu_iotlb_gather_add_page()`), and in riommu's gathers
        // only `add_leaf_level` does; any byte is a valid `u8`.
        unsafe { (*self.raw).__bindgen_anon_1.pt.leaf_levels_bitmap }
    }

    /// Records that an unmap removed a leaf at `level`.
    pub(in crate::riommu) fn add_leaf_level(&mut self, level: usize) {
        // SAFETY: as in `leaf_levels`.
        let pt = unsafe { &mut (*self.raw).__bindgen_anon_1.pt };
        debug_assert!(level < 8, "leaf level {level}");
        // A level the byte cannot hold: all bits, so that no single level
        // (no TTL) is ever read from it.
        pt.leaf_levels_bitmap |= 1u8.checked_shl(level as u32).unwrap_or(u8::MAX);
    }

    /// Whether table pages were unlinked: the invalidation must then drop
    /// the paging-structure (walk) caches too, not only leaf translations.
    pub fn frees_tables(&self) -> bool {
        // SAFETY: the list head is initialised (type invariant).
        unsafe { !rb::riommu_shim_gather_list_empty(self.raw) }
    }

    /// Puts the unlinked table page `phys` on the free list, to be released
    /// after the flush.
    pub(in crate::riommu) fn defer_free(&mut self, phys: u64) {
        // SAFETY: `phys` is a table page of ours that the walker just
        // unlinked (its contract with `TableMem::free_table`), on no list.
        unsafe { rb::riommu_shim_gather_add_table(self.raw, phys) };
    }

    /// Releases the pages of the free list (through RCU).
    ///
    /// # Safety
    ///
    /// The IOMMU must have been made to forget the unlinked tables: the
    /// driver's `iotlb_sync` has returned for this gather.
    pub(in crate::riommu) unsafe fn release(&mut self) {
        // SAFETY: the list holds only our unlinked table pages (type
        // invariant), which the caller says the hardware no longer walks.
        let n = unsafe { rb::riommu_shim_gather_release(self.raw) };
        // Release: pairs with the acquire before `rcu_barrier()` at
        // registration drop, which is only needed once this is non-zero.
        TABLES_RELEASED_FLUSHED.fetch_add(n, Ordering::Release);
        super::pgtable::TABLE_PAGES.fetch_sub(n, Ordering::Relaxed);
    }
}
