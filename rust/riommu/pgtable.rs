// SPDX-License-Identifier: GPL-2.0

//! Kernel memory for the pure page-table walker of `riommu_core/src/pt.rs`:
//! tables are zeroed 4 KiB pages named by their physical address.
//!
//! [`IoPageTable`] serialises map, unmap and the dirty operations with a
//! mutex, but [`IoPageTable::iova_to_phys`] walks without it: iommufd calls
//! it once per 4 KiB page when it unmaps (to unpin the pages), so a lock
//! there would cost more than the walk.  That is sound because no table page
//! is freed while the `IoPageTable` lives (the tables that a map replaces by
//! a leaf are only freed with the whole table) and [`KernelTableMem`] reads
//! and writes entries atomically: a concurrent lookup sees an old or a new
//! entry and only ever walks live tables.

use super::bindings as rb;
use super::domain::DirtyBitmap;
use super::pure::{
    errno::Errno,
    pt::{Format, PageTable, Prot, TableMem},
};
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use kernel::{new_mutex, prelude::*, sync::Mutex};

/// Number of table pages allocated by all [`KernelTableMem`] users.
pub static TABLE_PAGES: AtomicUsize = AtomicUsize::new(0);

/// `__va(p) - p` for the pages of the linear map, an offset on the 64-bit
/// architectures riommu supports (x86_64, arm64); 0 until first needed.
/// With it `__va()` is an addition instead of a call into C (the shim) per
/// table access.
static LINEAR_DELTA: AtomicUsize = AtomicUsize::new(0);

/// The linear map's offset, learnt from the page `p` if it is not known yet.
fn linear_delta(p: u64) -> usize {
    let d = LINEAR_DELTA.load(Ordering::Relaxed);
    if d != 0 {
        return d;
    }
    // SAFETY: pure address arithmetic (`__va()`) on a page of the linear map.
    let va = unsafe { rb::riommu_shim_phys_to_virt(p) } as usize;
    let d = va.wrapping_sub(p as usize);
    LINEAR_DELTA.store(d, Ordering::Relaxed);
    d
}

/// Table memory backed by kernel pages.  Entries are read and written
/// atomically (as a hardware walker or a lock-free lookup needs).
#[derive(Default)]
pub struct KernelTableMem;

const ENTRIES: usize = 512;

impl KernelTableMem {
    /// `__va()` of entry `index` of `table`: plain arithmetic.
    fn slot(table: u64, index: usize) -> *mut u64 {
        debug_assert!(index < ENTRIES);
        let base = (table as usize).wrapping_add(linear_delta(table)) as *mut u64;
        base.wrapping_add(index % ENTRIES)
    }
}

impl TableMem for KernelTableMem {
    fn alloc_table(&mut self) -> Result<u64, Errno> {
        // SAFETY: plain page allocation.
        let p = unsafe { rb::riommu_shim_alloc_table() };
        if p == 0 {
            return Err(Errno::ENOMEM);
        }
        TABLE_PAGES.fetch_add(1, Ordering::Relaxed);
        Ok(p)
    }

    fn free_table(&mut self, table: u64) {
        // SAFETY: a page from `alloc_table`, freed once (walker contract).
        unsafe { rb::riommu_shim_free_table(table) };
        TABLE_PAGES.fetch_sub(1, Ordering::Relaxed);
    }

    fn read(&self, table: u64, index: usize) -> u64 {
        // SAFETY: an in-bounds, 8-byte aligned entry of a table page from
        // `alloc_table` (the walker only passes addresses it got from us),
        // which its owner keeps alive while it or a lookup can reach it.
        // Entries are only ever accessed atomically, so a lock-free lookup
        // may read while the owner writes.
        unsafe { AtomicU64::from_ptr(Self::slot(table, index)) }.load(Ordering::Relaxed)
    }

    fn write(&mut self, table: u64, index: usize, value: u64) {
        // SAFETY: as for `read`.
        unsafe { AtomicU64::from_ptr(Self::slot(table, index)) }.store(value, Ordering::Relaxed)
    }
}

/// [`KernelTableMem`] whose `free_table` only puts the table on a list
/// (linked through entry 0; the pages stay allocated), for an
/// [`IoPageTable`] to free when it goes: a lock-free lookup may still be
/// walking a table that a map has just replaced by a leaf.
struct DeferFree<'a> {
    head: &'a mut u64,
}

impl TableMem for DeferFree<'_> {
    fn alloc_table(&mut self) -> Result<u64, Errno> {
        KernelTableMem.alloc_table()
    }

    fn free_table(&mut self, table: u64) {
        KernelTableMem.write(table, 0, *self.head);
        *self.head = table;
    }

    fn read(&self, table: u64, index: usize) -> u64 {
        KernelTableMem.read(table, index)
    }

    fn write(&mut self, table: u64, index: usize, value: u64) {
        KernelTableMem.write(table, index, value)
    }
}

/// What the mutex of an [`IoPageTable`] protects.
struct Locked<F: Format> {
    table: PageTable<F>,
    /// Tables that maps replaced by leaves (see [`DeferFree`]).
    deferred: u64,
}

/// An I/O page table of format `F` in kernel pages, behind a mutex, with
/// the operations of a paging domain in the iommu API's terms (IOMMU_READ /
/// IOMMU_WRITE protections, kernel errors).  Freed on drop.
///
/// `iova_to_phys` takes no lock (see the module documentation).
///
/// # Invariants
///
/// `table` has its root (is usable) from construction until drop; `root`
/// is that root.  No table page is freed before drop.
#[pin_data(PinnedDrop)]
pub struct IoPageTable<F: Format> {
    root: u64,
    #[pin]
    table: Mutex<Locked<F>>,
}

impl<F: Format> IoPageTable<F> {
    /// Allocates the root table.
    pub fn new() -> impl PinInit<Self, Error> {
        // INVARIANT: a fresh table has its root.
        let table = PageTable::new(&mut KernelTableMem);
        let root = table.as_ref().map_or(0, |t| t.root());
        try_pin_init!(Self {
            root,
            table <- new_mutex!(Locked {
                table: table?,
                deferred: 0,
            }),
        }? Error)
    }

    fn with<R>(&self, f: impl FnOnce(&mut PageTable<F>, &mut DeferFree<'_>) -> R) -> R {
        let mut l = self.table.lock();
        let Locked { table, deferred } = &mut *l;
        f(table, &mut DeferFree { head: deferred })
    }

    /// `map_pages` of a paging domain: maps `pgcount` pages of `pgsize` at
    /// `iova` to `paddr` with IOMMU `prot`; returns the bytes mapped and the
    /// error that stopped it.
    pub fn map_pages(
        &self,
        iova: u64,
        paddr: u64,
        pgsize: u64,
        pgcount: u64,
        prot: u32,
    ) -> (u64, Result) {
        let prot = Prot::from_iommu_prot(prot as i32);
        let (done, r) = self.with(|t, m| t.map_pages(m, iova, paddr, pgsize, pgcount, prot));
        (done, r.map_err(Into::into))
    }

    /// `unmap_pages` of a paging domain; returns the bytes unmapped.
    pub fn unmap_pages(&self, iova: u64, pgsize: u64, pgcount: u64) -> u64 {
        self.with(|t, m| t.unmap_pages(m, iova, pgsize, pgcount))
    }

    /// `iova_to_phys`: 0 when unmapped.  Takes no lock: concurrent with a
    /// map or an unmap of the same IOVA it returns the old or the new
    /// translation.
    pub fn iova_to_phys(&self, iova: u64) -> u64 {
        PageTable::<F>::lookup_at(&KernelTableMem, self.root, iova).map_or(0, |leaf| leaf.phys)
    }

    /// Marks the leaf mapping `iova` dirty; false if unmapped.
    pub fn set_dirty(&self, iova: u64) -> bool {
        self.with(|t, m| t.set_dirty(m, iova))
    }

    /// `read_and_clear_dirty` into the core's bitmap.
    pub fn read_and_clear_dirty(
        &self,
        iova: u64,
        size: u64,
        no_clear: bool,
        dirty: &mut DirtyBitmap<'_>,
    ) {
        self.with(|t, m| t.read_and_clear_dirty(m, iova, size, no_clear, |i, l| dirty.record(i, l)))
    }

    /// Number of table pages.
    pub fn table_count(&self) -> usize {
        self.with(|t, _| t.table_count())
    }

    /// Physical address of the root table (for hardware table pointers).
    pub fn root(&self) -> u64 {
        self.root
    }
}

#[pinned_drop]
impl<F: Format> PinnedDrop for IoPageTable<F> {
    fn drop(self: Pin<&mut Self>) {
        let mut l = self.table.lock();
        l.table.free_all(&mut KernelTableMem);
        while l.deferred != 0 {
            let t = l.deferred;
            l.deferred = KernelTableMem.read(t, 0);
            KernelTableMem.free_table(t);
        }
    }
}
