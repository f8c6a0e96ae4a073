// SPDX-License-Identifier: GPL-2.0

//! Kernel memory for the pure page-table walker of `riommu_core/src/pt.rs`:
//! tables are zeroed 4 KiB pages named by their physical address.
//!
//! [`LockedPageTable`] serialises map, unmap and the dirty operations with a
//! mutex, but [`LockedPageTable::iova_to_phys`] walks without it: iommufd calls
//! it once per page when it unmaps (to unpin the pages), so a lock
//! there would cost more than the walk.  That is sound because a table page
//! that a map or an unmap unlinks is not freed there: it goes to the call's
//! [`IotlbGather`], which releases it after the flush and through RCU (see
//! [`super::iotlb`]), while the lock-free walk runs under `rcu_read_lock()`;
//! and [`KernelTableMem`] reads and writes entries atomically, so a
//! concurrent lookup sees an old or a new entry and only ever walks live
//! tables.

use super::bindings as rb;
use super::domain::DirtyBitmap;
use super::iotlb::IotlbGather;
use super::pure::{
    errno::Errno,
    pt::{Format, PageTable, Prot, TableMem},
};
use core::{
    marker::PhantomData,
    sync::atomic::{AtomicU64, AtomicUsize, Ordering},
};
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

/// What one `map_pages` call of the iommu core asks a paging domain to map:
/// `pgcount` pages of `pgsize` bytes at `iova`, from the physical address
/// `paddr`.
///
/// Only the `map_pages` glue makes one, from the core's arguments, and the
/// API's page tables ([`LockedPageTable`], `hw::HwPageTable`) map nothing
/// else: a driver cannot put into their leaves a physical address (or an
/// IOVA) that the core did not give it for the call.  Neither `Clone` nor
/// `Copy`, and bound to the call by `'a`: a map consumes it, and a driver
/// cannot keep it to map after the core has unmapped the range.
///
/// # Invariants
///
/// The fields are the arguments of one `map_pages` call of the iommu core,
/// alive for `'a`: a physical range that the caller of `iommu_map()` chose
/// to expose to the domain (iommufd's pinned pages or dma-buf MMIO, an MSI
/// doorbell) and keeps valid until it unmaps `[iova, iova + pgsize *
/// pgcount)`; `iova` and `paddr` are aligned to `pgsize`, a page size of
/// the domain.
pub struct MapTarget<'a> {
    iova: u64,
    paddr: u64,
    pgsize: u64,
    pgcount: u64,
    _call: PhantomData<&'a ()>,
}

impl MapTarget<'_> {
    /// # Safety
    ///
    /// The arguments of a `map_pages` callback of the iommu core, as its
    /// contract gives them (see the type's invariants), for no longer than
    /// the callback.
    pub(in crate::riommu) unsafe fn new(iova: u64, paddr: u64, pgsize: u64, pgcount: u64) -> Self {
        // INVARIANT: the caller's promise.
        Self {
            iova,
            paddr,
            pgsize,
            pgcount,
            _call: PhantomData,
        }
    }

    /// The first IOVA to map.
    pub fn iova(&self) -> u64 {
        self.iova
    }

    /// The first physical address to map.
    pub fn paddr(&self) -> u64 {
        self.paddr
    }

    /// The page size of the call.
    pub fn pgsize(&self) -> u64 {
        self.pgsize
    }

    /// The pages of the call.
    pub fn pgcount(&self) -> u64 {
        self.pgcount
    }
}

/// A page-table [`Format`] whose table pointers the kernel's table memory
/// may follow.
///
/// # Safety
///
/// [`Format::table_addr`] of an entry built by [`Format::make_table`]`(t)`
/// returns `t`, and [`Format::is_present`]/[`Format::is_leaf`] tell table
/// pointers from leaves exactly as `make_table` and `make_leaf` build them:
/// the walker then only follows addresses of tables it allocated.  A safe
/// `Format` whose `table_addr` returned anything else would let the walker
/// read and write arbitrary physical memory through [`KernelTableMem`].
/// Implemented here for `riommu_core`'s formats, which its host tests check
/// (`make_table`/`table_addr` round trips); a driver module, which forbids
/// `unsafe`, cannot add one.
pub unsafe trait TrustedFormat: Format {}

// SAFETY: `make_table`/`table_addr` round trip; host-tested in
// `riommu_core` (tests/pt.rs, mockpt.rs).
unsafe impl TrustedFormat for super::pure::mockpt::MockFormat {}
// SAFETY: as above (smmuv3/lpae.rs tests).
unsafe impl<const HD: bool> TrustedFormat for super::pure::smmuv3::lpae::Stage1Lpae<HD> {}
// SAFETY: as above (smmuv3/lpae.rs tests).
unsafe impl<const HD: bool> TrustedFormat for super::pure::smmuv3::lpae::Stage2Lpae<HD> {}
// SAFETY: as above (vtd/pte.rs tests).
unsafe impl<const L: usize, const LL: u32> TrustedFormat
    for super::pure::vtd::pte::VtdSecondStage<L, LL>
{
}
// SAFETY: as above (vtd/pte.rs tests).
unsafe impl<const L: usize, const LL: u32> TrustedFormat
    for super::pure::vtd::pte::VtdFirstStage<L, LL>
{
}

/// Table memory backed by kernel pages.  Entries are read and written
/// atomically (as a hardware walker or a lock-free lookup needs).
///
/// Its safe methods take physical addresses, so it is internal to the API:
/// only the walker, driven by a [`TrustedFormat`], gives it addresses, all
/// of tables it allocated.
#[derive(Default)]
pub(in crate::riommu) struct KernelTableMem;

const ENTRIES: usize = 512;

impl KernelTableMem {
    /// `__va()` of entry `index` of `table`: plain arithmetic.
    pub(in crate::riommu) fn slot(table: u64, index: usize) -> *mut u64 {
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
        // Acquire pairs with `write`'s release: a table pointer read here
        // comes with the zeroes (and entries) written to the table before.
        unsafe { AtomicU64::from_ptr(Self::slot(table, index)) }.load(Ordering::Acquire)
    }

    fn write(&mut self, table: u64, index: usize, value: u64) {
        // SAFETY: as for `read`.
        // Release: a new table pointer is published after the table's
        // zeroing (`get_zeroed_page()`) and its entries, as generic_pt
        // publishes with a release cmpxchg (`pt_defs.h`).
        unsafe { AtomicU64::from_ptr(Self::slot(table, index)) }.store(value, Ordering::Release)
    }
}

/// The driver's break-before-make flush ([`LockedPageTable::map_pages_bbm`]).
type BreakFlush<'f> = &'f mut dyn FnMut(u64, u64) -> Result;

/// [`KernelTableMem`] during a map or an unmap: a table the walker unlinks
/// goes to the call's gather, to be released after the flush.
pub(in crate::riommu) struct GatherMem<'g, 'a, 'f> {
    pub(in crate::riommu) gather: &'g mut IotlbGather<'a>,
    /// The driver's break-before-make flush, for formats that need it.
    pub(in crate::riommu) break_flush: Option<BreakFlush<'f>>,
}

impl TableMem for GatherMem<'_, '_, '_> {
    fn alloc_table(&mut self) -> Result<u64, Errno> {
        KernelTableMem.alloc_table()
    }

    fn free_table(&mut self, table: u64) {
        self.gather.defer_free(table);
    }

    fn read(&self, table: u64, index: usize) -> u64 {
        KernelTableMem.read(table, index)
    }

    fn write(&mut self, table: u64, index: usize, value: u64) {
        KernelTableMem.write(table, index, value)
    }

    fn leaf_removed(&mut self, level: usize) {
        self.gather.add_leaf_level(level);
    }

    fn break_flush(&mut self, iova: u64, size: u64) -> Result<(), Errno> {
        match self.break_flush.as_mut() {
            // The walker only needs to know that the map stops.
            Some(f) => f(iova, size).map_err(|_| Errno::EIO),
            None => Err(Errno::EOPNOTSUPP),
        }
    }
}

/// An I/O page table of format `F` in kernel pages, behind a mutex, with
/// the operations of a paging domain in the iommu API's terms (IOMMU_READ /
/// IOMMU_WRITE protections, kernel errors).  Freed on drop.
///
/// Not 7.3's `kernel::iommu::pgtable::IoPageTable`, which wraps the C
/// io-pgtable library: this one walks riommu_core's formats.
///
/// `iova_to_phys` takes no lock (see the module documentation).
///
/// # Invariants
///
/// `table` has its root (is usable) from construction until drop; `root`
/// is that root.  Before drop a table page is freed only through a gather:
/// after its flush and an RCU grace period.
#[pin_data(PinnedDrop)]
pub struct LockedPageTable<F: TrustedFormat> {
    root: u64,
    #[pin]
    table: Mutex<PageTable<F>>,
}

impl<F: TrustedFormat> LockedPageTable<F> {
    /// Allocates the root table.
    pub fn new() -> impl PinInit<Self, Error> {
        // INVARIANT: a fresh table has its root.
        let table = PageTable::new(&mut KernelTableMem);
        let root = table.as_ref().map_or(0, |t| t.root());
        try_pin_init!(Self {
            root,
            table <- new_mutex!(table?),
        }? Error)
    }

    /// `map_pages` of a paging domain: maps what `target` names with IOMMU
    /// `prot`; returns the bytes mapped and the error that stopped it.
    /// Tables that a large leaf replaces go to `gather`.  Not for a format
    /// that needs break-before-make (a build error): it maps with
    /// [`Self::map_pages_bbm`].
    pub fn map_pages(
        &self,
        target: MapTarget<'_>,
        prot: u32,
        gather: &mut IotlbGather<'_>,
    ) -> (u64, Result) {
        const {
            assert!(
                !F::BREAK_BEFORE_MAKE,
                "a break-before-make format maps with map_pages_bbm"
            )
        };
        self.map(target, prot, gather, None)
    }

    /// [`Self::map_pages`] for a format that needs break-before-make
    /// (`Format::BREAK_BEFORE_MAKE`: the SMMU's LPAE stages).  When a large
    /// leaf replaces a table, the table entry is cleared, then
    /// `break_flush(iova, size)` runs, with the table's lock held, and must
    /// make the IOMMU forget every translation and walk-cache entry of
    /// `[iova, iova + size)` and wait for that (TLBI + CMD_SYNC); then the
    /// leaf is written.  Its error stops the map with the table entry
    /// restored.
    pub fn map_pages_bbm(
        &self,
        target: MapTarget<'_>,
        prot: u32,
        gather: &mut IotlbGather<'_>,
        break_flush: &mut dyn FnMut(u64, u64) -> Result,
    ) -> (u64, Result) {
        self.map(target, prot, gather, Some(break_flush))
    }

    fn map(
        &self,
        target: MapTarget<'_>,
        prot: u32,
        gather: &mut IotlbGather<'_>,
        break_flush: Option<BreakFlush<'_>>,
    ) -> (u64, Result) {
        let prot = Prot::from_iommu_prot(prot as i32);
        let mut mem = GatherMem {
            gather,
            break_flush,
        };
        let (done, r) = self.table.lock().map_pages(
            &mut mem,
            target.iova,
            target.paddr,
            target.pgsize,
            target.pgcount,
            prot,
        );
        (done, r.map_err(Into::into))
    }

    /// `unmap_pages` of a paging domain; returns the bytes unmapped, which
    /// it adds to `gather`'s range.
    pub fn unmap_pages(
        &self,
        iova: u64,
        pgsize: u64,
        pgcount: u64,
        gather: &mut IotlbGather<'_>,
    ) -> u64 {
        let mut mem = GatherMem {
            gather,
            break_flush: None,
        };
        let n = self
            .table
            .lock()
            .unmap_pages(&mut mem, iova, pgsize, pgcount);
        mem.gather.add_range(iova, n);
        n
    }

    /// `iova_to_phys`: 0 when unmapped.  Takes no lock: concurrent with a
    /// map or an unmap of the same IOVA it returns the old or the new
    /// translation.
    pub fn iova_to_phys(&self, iova: u64) -> u64 {
        // Tables unlinked meanwhile are released only after a grace period.
        let _rcu = kernel::sync::rcu::read_lock();
        PageTable::<F>::iova_to_phys_at(&KernelTableMem, self.root, iova)
    }

    /// Marks the entry mapping `iova` dirty (its leaf reads dirty); false
    /// if unmapped.
    pub fn set_dirty(&self, iova: u64) -> bool {
        self.table.lock().set_dirty(&mut KernelTableMem, iova)
    }

    /// `read_and_clear_dirty` into the core's bitmap: each dirty leaf that
    /// meets the range is recorded whole (`PageTable::read_and_clear_dirty`,
    /// as generic_pt's `record_dirty()`).
    pub fn read_and_clear_dirty(
        &self,
        iova: u64,
        size: u64,
        no_clear: bool,
        dirty: &mut DirtyBitmap<'_>,
    ) {
        // Record with the table's lock dropped.  Recording can pin the next
        // pages of the user's bitmap (`iova_bitmap_set()` ->
        // `iova_bitmap_advance_to()` -> `pin_user_pages_fast()`, which may
        // take `mmap_lock`), and iommufd maps into the domain with the
        // source mm's `mmap_lock` held (`pfn_reader_user_pin()` keeps it
        // across `batch_to_domain()`, drivers/iommu/iommufd/pages.c): the
        // lock order would be circular (lockdep saw it in the upstream
        // `iommufd` selftest on riommu_mock).  So the range is walked in
        // windows of `CHUNK - 1` granules, which at most `CHUNK` leaves can
        // meet, collected under the lock and recorded after it.
        const CHUNK: usize = 64;
        let window: u64 = ((CHUNK - 1) as u64) << F::GRANULE_SHIFT;
        let end = iova.saturating_add(size);
        let mut cur = iova;
        while cur < end {
            let len = core::cmp::min(window, end - cur);
            let mut found = [(0u64, 0u64); CHUNK];
            let mut n = 0;
            self.table.lock().read_and_clear_dirty(
                &mut KernelTableMem,
                cur,
                len,
                no_clear,
                |i, l| match found.get_mut(n) {
                    Some(slot) => {
                        *slot = (i, l);
                        n += 1;
                    }
                    // Cannot happen (see above); a lost bit would be a bug.
                    None => {
                        kernel::warn_on!(true);
                    }
                },
            );
            for &(i, l) in &found[..n] {
                dirty.record(i, l);
            }
            cur += len;
        }
    }

    /// Number of table pages.
    pub fn table_count(&self) -> usize {
        self.table.lock().table_count()
    }

    /// Physical address of the root table (for hardware table pointers).
    pub fn root(&self) -> u64 {
        self.root
    }
}

#[pinned_drop]
impl<F: TrustedFormat> PinnedDrop for LockedPageTable<F> {
    fn drop(self: Pin<&mut Self>) {
        // The domain is being freed: no device uses it, its IOTLB entries
        // are gone (the driver flushes before), and the core runs no lookup
        // on a domain it frees.
        self.table.lock().free_all(&mut KernelTableMem);
    }
}
