// SPDX-License-Identifier: GPL-2.0

//! Kernel memory for the pure page-table walker of `riommu_core/src/pt.rs`:
//! tables are zeroed 4 KiB pages named by their physical address.

use super::bindings as rb;
use super::pure::{
    errno::Errno,
    pt::{Format, PageTable, Prot, TableMem},
};
use core::sync::atomic::{AtomicUsize, Ordering};

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

/// An I/O page table of format `F` in kernel pages, freed on drop.
pub struct IoPageTable<F: Format> {
    table: Option<PageTable<F>>,
}

impl<F: Format> IoPageTable<F> {
    /// Allocates the root table.
    pub fn new() -> Result<Self, Errno> {
        Ok(Self {
            table: Some(PageTable::new(&mut KernelTableMem)?),
        })
    }

    fn t(&mut self) -> &mut PageTable<F> {
        // INVARIANT: `table` is `Some` until drop.
        self.table
            .as_mut()
            .expect("riommu: page table used after drop")
    }

    /// See [`PageTable::map_pages`].
    pub fn map_pages(
        &mut self,
        iova: u64,
        paddr: u64,
        pgsize: u64,
        pgcount: u64,
        prot: Prot,
    ) -> (u64, Result<(), Errno>) {
        self.t()
            .map_pages(&mut KernelTableMem, iova, paddr, pgsize, pgcount, prot)
    }

    /// See [`PageTable::unmap_pages`].
    pub fn unmap_pages(&mut self, iova: u64, pgsize: u64, pgcount: u64) -> u64 {
        self.t()
            .unmap_pages(&mut KernelTableMem, iova, pgsize, pgcount)
    }

    /// See [`PageTable::iova_to_phys`].
    pub fn iova_to_phys(&mut self, iova: u64) -> u64 {
        self.t().iova_to_phys(&KernelTableMem, iova)
    }

    /// See [`PageTable::set_dirty`].
    pub fn set_dirty(&mut self, iova: u64) -> bool {
        self.t().set_dirty(&mut KernelTableMem, iova)
    }

    /// See [`PageTable::read_and_clear_dirty`].
    pub fn read_and_clear_dirty(
        &mut self,
        iova: u64,
        size: u64,
        no_clear: bool,
        record: impl FnMut(u64, u64),
    ) {
        self.t()
            .read_and_clear_dirty(&mut KernelTableMem, iova, size, no_clear, record)
    }

    /// Number of table pages.
    pub fn table_count(&mut self) -> usize {
        self.t().table_count()
    }
}

impl<F: Format> Drop for IoPageTable<F> {
    fn drop(&mut self) {
        if let Some(t) = self.table.take() {
            t.destroy(&mut KernelTableMem);
        }
    }
}
