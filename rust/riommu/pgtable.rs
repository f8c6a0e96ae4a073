// SPDX-License-Identifier: GPL-2.0

//! Kernel memory for the pure page-table walker of `riommu_core/src/pt.rs`:
//! tables are zeroed 4 KiB pages named by their physical address.

use super::bindings as rb;
use super::domain::DirtyBitmap;
use super::pure::{
    errno::Errno,
    pt::{Format, PageTable, Prot, TableMem},
};
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::{new_mutex, prelude::*, sync::Mutex};

/// Number of table pages allocated by all [`KernelTableMem`] users.
pub static TABLE_PAGES: AtomicUsize = AtomicUsize::new(0);

/// Table memory backed by kernel pages.
#[derive(Default)]
pub struct KernelTableMem;

const ENTRIES: usize = 512;

impl KernelTableMem {
    fn slot(table: u64, index: usize) -> *mut u64 {
        debug_assert!(index < ENTRIES);
        // SAFETY: `table` is a page from `alloc_table` (the walker only passes
        // addresses it got from us); the linear map covers it.
        unsafe {
            rb::riommu_shim_phys_to_virt(table)
                .cast::<u64>()
                .add(index % ENTRIES)
        }
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
        // SAFETY: an in-bounds, aligned entry of a live table page; the owner
        // serialises access.
        unsafe { Self::slot(table, index).read() }
    }

    fn write(&mut self, table: u64, index: usize, value: u64) {
        // SAFETY: as for `read`.
        unsafe { Self::slot(table, index).write(value) }
    }
}

/// An I/O page table of format `F` in kernel pages, behind a mutex, with
/// the operations of a paging domain in the iommu API's terms (IOMMU_READ /
/// IOMMU_WRITE protections, kernel errors).  Freed on drop.
///
/// # Invariants
///
/// `table` has its root (is usable) from construction until drop.
#[pin_data(PinnedDrop)]
pub struct IoPageTable<F: Format> {
    #[pin]
    table: Mutex<PageTable<F>>,
}

impl<F: Format> IoPageTable<F> {
    /// Allocates the root table.
    pub fn new() -> impl PinInit<Self, Error> {
        // INVARIANT: a fresh table has its root.
        try_pin_init!(Self {
            table <- new_mutex!(PageTable::new(&mut KernelTableMem)?),
        }? Error)
    }

    fn with<R>(&self, f: impl FnOnce(&mut PageTable<F>, &mut KernelTableMem) -> R) -> R {
        f(&mut self.table.lock(), &mut KernelTableMem)
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

    /// `iova_to_phys`: 0 when unmapped.
    pub fn iova_to_phys(&self, iova: u64) -> u64 {
        self.with(|t, m| t.iova_to_phys(m, iova))
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
        self.with(|t, _| t.root())
    }
}

#[pinned_drop]
impl<F: Format> PinnedDrop for IoPageTable<F> {
    fn drop(self: Pin<&mut Self>) {
        self.table.lock().free_all(&mut KernelTableMem);
    }
}
