// SPDX-License-Identifier: GPL-2.0

//! Hardware-facing abstractions for drivers of real IOMMUs.
//!
//! - [`Mmio`]: a register window at a physical address (`ioremap`), seen
//!   as a `kernel::io::Mmio` region for registers typed with
//!   `kernel::io::register!` ([`DynReg`]: those at offsets the hardware
//!   reports);
//! - [`DmaPages`]: zeroed, physically contiguous pages that the IOMMU reads
//!   (root, context and PASID tables, the invalidation queue) or writes
//!   (completion status words), accessed word by word with atomic
//!   operations, flushed from the CPU caches when the IOMMU's walks do not
//!   snoop them;
//! - [`HwPageTable`]: an I/O page table of a [`Format`] in kernel pages,
//!   whose root the hardware walks, flushed likewise;
//! - [`AcpiTable`]: a firmware table found by signature (`acpi_get_table`);
//! - [`pci_ids`]: the PCI segment and requester ids of a device;
//! - [`PeriodicWork`]: a handler run every few milliseconds from the system
//!   workqueue (for polling, e.g. fault recording registers), stopped and
//!   waited for on drop.
//!
//! Polling a register and ordering DMA-visible writes use the kernel's own
//! `kernel::io::poll::read_poll_timeout_atomic` and
//! `kernel::sync::barrier::dma_mb`.

use super::bindings as rb;
use super::iotlb::IotlbGather;
use super::pgtable::{KernelTableMem, MapTarget, TrustedFormat};
#[cfg(CONFIG_ACPI)]
use super::pure::vtd::{
    dmar::Dmar,
    regs::{required_mmio_size, Cap, Ecap, CAP_REG, ECAP_REG},
};
use super::pure::{
    errno::Errno,
    pt::{PageTable, Prot, TableMem},
    vtd::alias::{self, Aliases, BridgeKind, Upstream},
};
use core::{
    ffi::c_void,
    marker::{PhantomData, PhantomPinned},
    ptr::NonNull,
    sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
};
use kernel::{
    bindings,
    device::Device,
    io::{
        register::{Register, RelativeRegister, RelativeRegisterArray},
        IoLoc, MmioRaw, Region,
    },
    page::PAGE_SIZE,
    pci,
    prelude::*,
    sync::barrier::{dma_mb, Write},
    types::Opaque,
};

/// Width in bytes of a 32-bit word.
const REG32: usize = 4;
/// Width in bytes of a 64-bit word.
const REG64: usize = 8;

/// A mapped window of device registers, at least `MIN` bytes long.
///
/// Registers are accessed through [`Mmio::io`], a `kernel::io::Mmio` view
/// of the window as a `Region<MIN>`: registers defined with
/// `kernel::io::register!` are read and written with the typed
/// `kernel::io::Io` methods (`read`, `write_reg`, `update`, checked at
/// compile time against `MIN`, or `try_read`, `try_write_reg`,
/// `try_update`, checked at run time against the window's size).
///
/// # Invariants
///
/// `base` is the `ioremap` mapping of `size` bytes at physical address
/// `phys`, owned by `self` and unmapped on drop.  `raw` is that window
/// (address `base`, `size` bytes), so `size >= MIN`, `size` is a multiple
/// of 4 and `base` is 4-byte aligned (`MmioRaw::new_region` checked them).
pub struct Mmio<const MIN: usize = 0> {
    base: NonNull<c_void>,
    raw: MmioRaw<Region<MIN>>,
    phys: u64,
    size: usize,
}

// SAFETY: MMIO registers may be accessed from any thread; `Mmio` holds no
// thread-bound state.
unsafe impl<const MIN: usize> Send for Mmio<MIN> {}
// SAFETY: every accessor is a single MMIO access; concurrent accesses are
// the hardware's business (the driver serialises what must be).
unsafe impl<const MIN: usize> Sync for Mmio<MIN> {}

impl<const MIN: usize> Mmio<MIN> {
    /// Maps `size` bytes of registers at `phys` (uncached).  `EINVAL` if
    /// `size` is zero, below `MIN` or not a multiple of 4, or `phys` is not
    /// page aligned, `ENOMEM` if the mapping fails.
    ///
    /// The region is not requested (`request_mem_region`): a firmware-
    /// described IOMMU has no resource owner to ask, and the kernel's own
    /// driver, when built in and disabled, has released it.
    ///
    /// Drivers get their windows from [`Mmio::map_drhd`] or
    /// [`super::platform::mmio_of`], which know where the registers are.
    ///
    /// # Safety
    ///
    /// `[phys, phys + size)` is the register window of a device that the
    /// caller's driver owns (a bound platform device's resource, or a
    /// remapping unit that the firmware describes): register writes
    /// through it reprogram that device, and so can redirect its DMA, which
    /// safe code may only do to a device it was given.
    pub(in crate::riommu) unsafe fn map(phys: u64, size: usize) -> Result<Self> {
        if size == 0 || size < MIN || size % REG32 != 0 || phys % PAGE_SIZE as u64 != 0 {
            return Err(EINVAL);
        }
        // SAFETY: `ioremap` has no preconditions; it returns NULL on failure.
        let base = unsafe { bindings::ioremap(phys, size) };
        let base = NonNull::new(base).ok_or(ENOMEM)?;
        match MmioRaw::new_region(base.as_ptr().addr(), size) {
            // INVARIANT: just mapped; `new_region` checked size and
            // alignment.
            Ok(raw) => Ok(Self {
                base,
                raw,
                phys,
                size,
            }),
            Err(e) => {
                // SAFETY: just mapped above, and not kept.
                unsafe { bindings::iounmap(base.as_ptr()) };
                Err(e)
            }
        }
    }

    /// Maps the register set of the VT-d remapping unit (DRHD) at `base` in
    /// the ACPI DMAR table `dmar`, as the C driver's `map_iommu()` does: the
    /// size the DRHD declares (at least a page), or more if the unit's CAP
    /// and ECAP place registers beyond it ([`required_mmio_size`]).
    ///
    /// `EINVAL` if `dmar` is not a valid DMAR table or has no DRHD at
    /// `base`, or if that DRHD's window is smaller than `MIN`; `ENOMEM` if
    /// the mapping fails.
    #[cfg(CONFIG_ACPI)]
    pub fn map_drhd(dmar: &AcpiTable, base: u64) -> Result<Self> {
        use kernel::io::Io;

        let table = Dmar::parse(dmar.bytes())?;
        let mut declared = None;
        for d in table.drhds() {
            let d = d?;
            if d.register_base == base {
                declared = d.register_size().and_then(|s| usize::try_from(s).ok());
                break;
            }
        }
        let declared = declared.ok_or(EINVAL)?.max(PAGE_SIZE);
        // SAFETY: the firmware's DMAR table (checked above: signature,
        // length, checksum) describes `declared` bytes at `base` as a
        // remapping unit's register set, which the VT-d driver programs.
        let regs = unsafe { Self::map(base, declared) }?;
        // The register types are the driver's (`drivers/vtd/regs.rs`);
        // these two reads only size the window, by the spec's offsets.
        let cap = Cap([regs.io().try_read64(CAP_REG)?]);
        let ecap = Ecap([regs.io().try_read64(ECAP_REG)?]);
        let need = required_mmio_size(cap, ecap);
        if need <= declared {
            return Ok(regs);
        }
        drop(regs);
        // SAFETY: as above; the unit's own CAP and ECAP place its fault
        // recording and IOTLB registers within `need` bytes of `base`.
        unsafe { Self::map(base, need) }
    }

    /// The physical address of the window.
    pub fn phys(&self) -> u64 {
        self.phys
    }

    /// The size of the window in bytes (at least `MIN`).
    pub fn size(&self) -> usize {
        self.size
    }

    /// The window as a `kernel::io::Mmio` view of a `Region<MIN>`, for
    /// typed register access with `kernel::io::Io`: registers below `MIN`
    /// are checked at compile time (`read`, `write_reg`, `update`), others,
    /// and those at offsets the hardware reports, at run time (`try_read`,
    /// `try_write`, `try_update`; see [`DynReg`]).
    pub fn io(&self) -> kernel::io::Mmio<'_, Region<MIN>> {
        // SAFETY: `raw` is `base`, the live `ioremap` mapping of `size`
        // bytes (type invariant), so a valid, 4-byte aligned MMIO region of
        // at least `MIN` bytes; it is unmapped only in `drop`, and the view
        // borrows `self`, so it cannot outlive the mapping.
        unsafe { kernel::io::Mmio::from_raw(self.raw) }
    }
}

impl<const MIN: usize> Drop for Mmio<MIN> {
    fn drop(&mut self) {
        // SAFETY: our mapping (type invariant), unmapped once; no view of
        // it is left (each borrows `self`).
        unsafe { bindings::iounmap(self.base.as_ptr()) };
    }
}

/// The location of a register of a `kernel::io::register!` relative
/// register (or relative register array) whose base the hardware reports
/// at run time: VT-d's IOTLB registers at `ECAP.IRO * 16` and its fault
/// recording registers at `CAP.FRO * 16`.
///
/// 7.3's relative registers take their base from a `RegisterBase` constant
/// only; this carries a run-time base.  Only the run-time checked accessors
/// (`Io::try_read`, `try_write`, `try_update`) can use it: the compile-time
/// checked ones cannot prove its offset in bounds and fail to build.
pub struct DynReg<T> {
    offset: usize,
    _reg: PhantomData<T>,
}

impl<T: RelativeRegister> DynReg<T> {
    /// Register `T` of the block at byte offset `base` of the window;
    /// `None` if the offset overflows.
    pub fn of(base: usize) -> Option<Self> {
        Some(Self {
            offset: base.checked_add(T::OFFSET)?,
            _reg: PhantomData,
        })
    }
}

impl<T: RelativeRegisterArray> DynReg<T> {
    /// Register `idx` of the array `T` of the block at byte offset `base`;
    /// `None` if `idx` is not below the array's size or the offset
    /// overflows.
    pub fn at(base: usize, idx: usize) -> Option<Self> {
        if idx >= T::SIZE {
            return None;
        }
        let offset = base
            .checked_add(T::OFFSET)?
            .checked_add(idx.checked_mul(T::STRIDE)?)?;
        Some(Self {
            offset,
            _reg: PhantomData,
        })
    }
}

impl<const SIZE: usize, T: Register> IoLoc<Region<SIZE>, T> for DynReg<T> {
    type IoType = T::Storage;

    fn offset(self) -> usize {
        self.offset
    }
}

/// Flushes `len` bytes at virtual address `va` from the CPU caches, for an
/// IOMMU whose table walks do not snoop them.  `len` is passed on as a
/// `u32` (the callers' ranges are at most a few MiB: `DmaPages` of a
/// successful `__get_free_pages()`, single entries).
///
/// # Safety
///
/// `[va, va + len)` must be live kernel memory that stays mapped for the
/// call: `clflush_cache_range()` (arch/x86/mm/pat/set_memory.c) executes
/// `clflushopt` on every cache line of the range, which faults on an
/// unmapped address (with `CONFIG_DEBUG_PAGEALLOC` a freed page is
/// unmapped).
#[cfg(CONFIG_X86)]
unsafe fn flush_cache(va: *mut c_void, len: usize) {
    // SAFETY: the range is mapped (the caller's guarantee); the flush
    // writes no data, only moves dirty lines to memory.
    unsafe { bindings::clflush_cache_range(va, len as u32) };
}

/// Non-coherent IOMMUs are only supported on x86 (`clflush`); elsewhere
/// [`DmaPages::alloc`] and [`HwPageTable::new`] refuse them, so this is
/// never reached.
///
/// # Safety
///
/// As the x86 version's.
#[cfg(not(CONFIG_X86))]
unsafe fn flush_cache(_va: *mut c_void, _len: usize) {}

/// `EINVAL` for a non-coherent IOMMU where [`flush_cache`] cannot flush.
fn check_coherent(coherent: bool) -> Result {
    if !coherent && !cfg!(CONFIG_X86) {
        return Err(EINVAL);
    }
    Ok(())
}

/// Zeroed, physically contiguous pages shared with an IOMMU: tables it
/// walks, a queue it reads, status words it writes.
///
/// Not `kernel::dma::CoherentAllocation` (issue #16): a VT-d unit has no
/// `struct device` to allocate for, and the pages are named to the IOMMU by
/// their physical address, which is what the C VT-d driver programs
/// (`virt_to_phys()` of `iommu_alloc_pages_node_sz()` pages).  The C SMMUv3
/// driver does allocate its queues and stream table with
/// `dmam_alloc_coherent()` and programs the DMA address: on a platform whose
/// `dma-ranges` offset the SMMU's view of memory, physical addresses would
/// be wrong.  QEMU virt has no offset; moving the SMMU's queues and tables
/// to `CoherentAllocation` (whose lifetime is then the binding's, see
/// [`super::platform::mmio_of`]) is open.
///
/// Every access is one atomic load or store of a naturally aligned word,
/// so the driver and the hardware (and several CPUs) may access the pages
/// concurrently without undefined behaviour; the driver orders multi-word
/// updates with [`wmb`], and writes queue entries, which the IOMMU fetches
/// only after a doorbell register write, with
/// [`DmaPages::write_queue_entry`].  If the IOMMU is not coherent with the
/// CPU caches (`coherent == false`), every store (or queue entry) is
/// flushed from the caches.
///
/// # Invariants
///
/// `phys` is the physical address of `2^order` pages allocated by
/// `riommu_shim_alloc_pages_phys(order)`, owned by `self` and mapped in the
/// kernel's linear map.
pub struct DmaPages {
    phys: u64,
    order: u32,
    coherent: bool,
}

impl DmaPages {
    /// Allocates `2^order` zeroed pages; `coherent` says whether the IOMMU
    /// snoops the CPU caches when it reads them.
    pub fn alloc(order: u32, coherent: bool) -> Result<Self> {
        check_coherent(coherent)?;
        // SAFETY: plain page allocation.
        let phys = unsafe { rb::riommu_shim_alloc_pages_phys(order) };
        if phys == 0 {
            return Err(ENOMEM);
        }
        let pages = Self {
            phys,
            order,
            coherent,
        };
        if !coherent {
            // The zeroes must be in memory before the IOMMU may look.
            // SAFETY: our pages, just allocated, in the linear map.
            unsafe { flush_cache(pages.va(), pages.len()) };
        }
        // INVARIANT: just allocated.
        Ok(pages)
    }

    /// The physical address of the first page.
    pub fn phys(&self) -> u64 {
        self.phys
    }

    /// The size in bytes.
    pub fn len(&self) -> usize {
        PAGE_SIZE << self.order
    }

    /// Never empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    fn va(&self) -> *mut c_void {
        // SAFETY: `phys` is in the linear map (type invariant).
        unsafe { rb::riommu_shim_phys_to_virt(self.phys) }
    }

    /// The address of the `width`-byte word `index`, if in bounds.
    fn word(&self, index: usize, width: usize) -> Result<*mut u8> {
        match index.checked_add(1).and_then(|n| n.checked_mul(width)) {
            Some(end) if end <= self.len() => {
                // SAFETY: in bounds of our pages (checked above).
                Ok(unsafe { self.va().cast::<u8>().add(index * width) })
            }
            _ => Err(EINVAL),
        }
    }

    /// Flushes `[p, p + len)` from the CPU caches if the IOMMU does not
    /// snoop them.
    ///
    /// # Safety
    ///
    /// `[p, p + len)` must lie within these pages.
    unsafe fn flush(&self, p: *mut u8, len: usize) {
        if !self.coherent {
            // SAFETY: within our live pages, in the linear map (the
            // caller's guarantee and the type invariant).
            unsafe { flush_cache(p.cast(), len) };
        }
    }

    /// Reads the 64-bit word `index`; `EINVAL` if out of bounds.
    pub fn read_u64(&self, index: usize) -> Result<u64> {
        let p = self.word(index, REG64)?;
        // SAFETY: an aligned word of our live pages; all accesses to them
        // are atomic, so this never races non-atomically.
        Ok(unsafe { AtomicU64::from_ptr(p.cast()) }.load(Ordering::Acquire))
    }

    /// Writes the 64-bit word `index`; `EINVAL` if out of bounds.
    pub fn write_u64(&self, index: usize, value: u64) -> Result {
        let p = self.word(index, REG64)?;
        // SAFETY: as for `read_u64`.
        unsafe { AtomicU64::from_ptr(p.cast()) }.store(value, Ordering::Release);
        // SAFETY: the word checked by `word()`.
        unsafe { self.flush(p, REG64) };
        Ok(())
    }

    /// Reads the 32-bit word `index`; `EINVAL` if out of bounds.
    pub fn read_u32(&self, index: usize) -> Result<u32> {
        let p = self.word(index, REG32)?;
        // SAFETY: as for `read_u64`.
        Ok(unsafe { AtomicU32::from_ptr(p.cast()) }.load(Ordering::Acquire))
    }

    /// Writes the 32-bit word `index`; `EINVAL` if out of bounds.
    pub fn write_u32(&self, index: usize, value: u32) -> Result {
        let p = self.word(index, REG32)?;
        // SAFETY: as for `read_u64`.
        unsafe { AtomicU32::from_ptr(p.cast()) }.store(value, Ordering::Release);
        // SAFETY: the word checked by `word()`.
        unsafe { self.flush(p, REG32) };
        Ok(())
    }

    /// Writes a queue entry (a command or descriptor) of several words at
    /// 64-bit word `first`, which the IOMMU fetches only after a later
    /// write of the queue's tail register: the words in order, then, for a
    /// unit that does not snoop, one cache flush of the whole entry rather
    /// than one per word.  `EINVAL` if the entry does not fit.
    pub fn write_queue_entry(&self, first: usize, words: &[u64]) -> Result {
        if words.is_empty() {
            return Err(EINVAL);
        }
        let p = self.word(first, REG64)?;
        // Bounds of the whole entry before touching anything.
        self.word(first.checked_add(words.len() - 1).ok_or(EINVAL)?, REG64)?;
        for (i, w) in words.iter().enumerate() {
            // SAFETY: word `first + i` of our pages: the whole entry's
            // bounds are checked above.  Then as for `read_u64`.
            unsafe { AtomicU64::from_ptr(p.add(i * REG64).cast()) }.store(*w, Ordering::Release);
        }
        // SAFETY: the entry, whose bounds are checked above.
        unsafe { self.flush(p, words.len() * REG64) };
        Ok(())
    }
}

impl Drop for DmaPages {
    fn drop(&mut self) {
        // SAFETY: ours (type invariant), freed once.
        unsafe { rb::riommu_shim_free_pages_phys(self.phys, self.order) };
    }
}

/// Table memory for [`HwPageTable`]: [`KernelTableMem`] pages, each store
/// flushed from the CPU caches when the walker does not snoop them.
///
/// # Invariants
///
/// Its safe [`TableMem`] methods take physical addresses: it is private to
/// this module and only ever driven by the [`PageTable`] of a
/// [`HwPageTable`], whose format is a [`TrustedFormat`], which passes only
/// tables it allocated here and has not freed (as for [`KernelTableMem`]).
struct HwTableMem {
    coherent: bool,
}

impl TableMem for HwTableMem {
    fn alloc_table(&mut self) -> Result<u64, Errno> {
        let t = KernelTableMem.alloc_table()?;
        if !self.coherent {
            // SAFETY: a table page just allocated, whole, at its linear-map
            // address (`__va()` is pure arithmetic).
            unsafe { flush_cache(rb::riommu_shim_phys_to_virt(t), PAGE_SIZE) };
        }
        // The table's zeroes before any store that can publish it (the
        // walker links a new table only after allocating it): the IOMMU
        // must not walk a linked table and read its old contents.
        // `KernelTableMem::write` stores with release, which orders this for
        // CPUs; `dma_wmb()` orders it for the IOMMU as well, as
        // io-pgtable-arm's `arm_lpae_install_table()` does before its
        // relaxed cmpxchg ("Ensure the table itself is visible before its
        // PTE can be").
        dma_mb(Write);
        Ok(t)
    }

    fn free_table(&mut self, table: u64) {
        KernelTableMem.free_table(table)
    }

    fn read(&self, table: u64, index: usize) -> u64 {
        KernelTableMem.read(table, index)
    }

    fn write(&mut self, table: u64, index: usize, value: u64) {
        KernelTableMem.write(table, index, value);
        if !self.coherent {
            // SAFETY: entry `index` (taken modulo 512 by `slot`) of a live
            // table page of ours: only `PageTable<F: TrustedFormat>` drives
            // this memory (type invariant), and it passes only tables it
            // allocated and has not freed.  The address is the linear-map
            // one `KernelTableMem` computes for the store just made (an
            // addition, not a call into C per entry).
            unsafe { flush_cache(KernelTableMem::slot(table, index).cast(), REG64) };
        }
    }
}

/// [`HwTableMem`] during a map or an unmap: a table the walker unlinks goes
/// to the call's gather, released only after the flush (see
/// [`super::iotlb`]).
struct HwGatherMem<'m, 'g, 'a> {
    mem: &'m mut HwTableMem,
    gather: &'g mut IotlbGather<'a>,
}

impl TableMem for HwGatherMem<'_, '_, '_> {
    fn alloc_table(&mut self) -> Result<u64, Errno> {
        self.mem.alloc_table()
    }

    fn free_table(&mut self, table: u64) {
        self.gather.defer_free(table);
    }

    fn read(&self, table: u64, index: usize) -> u64 {
        self.mem.read(table, index)
    }

    fn write(&mut self, table: u64, index: usize, value: u64) {
        self.mem.write(table, index, value)
    }

    fn leaf_removed(&mut self, level: usize) {
        self.gather.add_leaf_level(level);
    }
}

/// An I/O page table of format `F` that an IOMMU walks from
/// [`HwPageTable::root`]; freed on drop.
///
/// The caller serialises access (the methods take `&mut self`).  Unmaps
/// add their range to the call's [`IotlbGather`], and table pages that a
/// map or an unmap unlinks go to it: the glue releases them only after the
/// driver's `iotlb_sync` has made the IOMMU forget them (its paging-
/// structure or walk caches included).  The caller invalidates the IOTLB
/// before the domain, and so the table, is freed.
pub struct HwPageTable<F: TrustedFormat> {
    table: Option<PageTable<F>>,
    mem: HwTableMem,
}

impl<F: TrustedFormat> HwPageTable<F> {
    /// Allocates the root table; `coherent` says whether the IOMMU's walks
    /// snoop the CPU caches.
    pub fn new(coherent: bool) -> Result<Self> {
        check_coherent(coherent)?;
        let mut mem = HwTableMem { coherent };
        let table = PageTable::new(&mut mem)?;
        Ok(Self {
            table: Some(table),
            mem,
        })
    }

    fn parts(&mut self) -> (&mut PageTable<F>, &mut HwTableMem) {
        // INVARIANT: `table` is `Some` until drop.
        (
            self.table
                .as_mut()
                .expect("riommu: page table used after drop"),
            &mut self.mem,
        )
    }

    /// The physical address of the root table.
    pub fn root(&mut self) -> u64 {
        self.parts().0.root()
    }

    /// See [`PageTable::map_pages`], of what `target` names (only the
    /// core's `map_pages` arguments can be mapped); tables that a large
    /// leaf replaces go to `gather`.  Not for a format that needs
    /// break-before-make (a build error; see
    /// `LockedPageTable::map_pages_bbm`).
    pub fn map_pages(
        &mut self,
        target: MapTarget<'_>,
        prot: Prot,
        gather: &mut IotlbGather<'_>,
    ) -> (u64, Result<(), Errno>) {
        const {
            assert!(
                !F::BREAK_BEFORE_MAKE,
                "HwPageTable has no break-before-make flush"
            )
        };
        let (t, mem) = self.parts();
        t.map_pages(
            &mut HwGatherMem { mem, gather },
            target.iova(),
            target.paddr(),
            target.pgsize(),
            target.pgcount(),
            prot,
        )
    }

    /// See [`PageTable::unmap_pages`]; adds the range unmapped to `gather`.
    pub fn unmap_pages(
        &mut self,
        iova: u64,
        pgsize: u64,
        pgcount: u64,
        gather: &mut IotlbGather<'_>,
    ) -> u64 {
        let (t, mem) = self.parts();
        let mut m = HwGatherMem { mem, gather };
        let n = t.unmap_pages(&mut m, iova, pgsize, pgcount);
        m.gather.add_range(iova, n);
        n
    }

    /// See [`PageTable::iova_to_phys`].
    pub fn iova_to_phys(&mut self, iova: u64) -> u64 {
        let (t, m) = self.parts();
        t.iova_to_phys(m, iova)
    }
}

impl<F: TrustedFormat> Drop for HwPageTable<F> {
    fn drop(&mut self) {
        if let Some(t) = self.table.take() {
            t.destroy(&mut self.mem);
        }
    }
}

/// `AE_OK`, the success status of ACPICA calls.
const AE_OK: u32 = 0;
/// Offset of the `length` field (u32) in an ACPI table header.
const ACPI_LENGTH_OFFSET: usize = 4;

/// An ACPI table mapped by `acpi_get_table`, released on drop (kernels
/// with ACPI only).
///
/// # Invariants
///
/// `hdr` is a table returned by a successful `acpi_get_table` and not yet
/// put; its `len` bytes (the header's length) are mapped and read-only.
#[cfg(CONFIG_ACPI)]
pub struct AcpiTable {
    hdr: NonNull<bindings::acpi_table_header>,
    len: usize,
}

// SAFETY: the mapping is global, read-only, and may be put from any thread.
#[cfg(CONFIG_ACPI)]
unsafe impl Send for AcpiTable {}
// SAFETY: only read.
#[cfg(CONFIG_ACPI)]
unsafe impl Sync for AcpiTable {}

#[cfg(CONFIG_ACPI)]
impl AcpiTable {
    /// The first table with signature `sig` (e.g. `*b"DMAR"`); `ENODEV` if
    /// there is none (or no ACPI).
    pub fn get(sig: &[u8; 4]) -> Result<Self> {
        let mut name = [0u8; 5];
        name[..4].copy_from_slice(sig);
        let mut hdr: *mut bindings::acpi_table_header = core::ptr::null_mut();
        // SAFETY: `name` is a NUL-terminated signature ACPICA only reads;
        // `hdr` is a valid out-parameter.
        let status = unsafe { bindings::acpi_get_table(name.as_mut_ptr().cast(), 1, &mut hdr) };
        if status != AE_OK {
            return Err(ENODEV);
        }
        let hdr = NonNull::new(hdr).ok_or(ENODEV)?;
        // SAFETY: a table from a successful `acpi_get_table` starts with a
        // mapped header, whose `length` ACPICA checked to cover the table.
        let len = unsafe {
            hdr.as_ptr()
                .cast::<u8>()
                .add(ACPI_LENGTH_OFFSET)
                .cast::<u32>()
                .read_unaligned()
        } as usize;
        // INVARIANT: from a successful `acpi_get_table`.
        Ok(Self { hdr, len })
    }

    /// The whole table, header included.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `len` mapped, read-only bytes for as long as we hold the
        // table (type invariant).
        unsafe { core::slice::from_raw_parts(self.hdr.as_ptr().cast::<u8>(), self.len) }
    }
}

#[cfg(CONFIG_ACPI)]
impl Drop for AcpiTable {
    fn drop(&mut self) {
        // SAFETY: from `acpi_get_table`, put once (type invariant).
        unsafe { bindings::acpi_put_table(self.hdr.as_ptr()) };
    }
}

/// The PCI identity of a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciIds {
    /// The PCI segment (domain).
    pub segment: u16,
    /// The bus number.
    pub bus: u8,
    /// Device and function.
    pub devfn: u8,
    /// Bus of the device's ancestor on the root bus (its own when it sits on
    /// the root bus): what a firmware device scope naming a bridge covers.
    pub root_bus: u8,
    /// Devfn of that ancestor.
    pub root_devfn: u8,
}

impl PciIds {
    /// The requester id (source id): bus in bits 15:8, devfn in 7:0.
    pub fn rid(&self) -> u16 {
        (u16::from(self.bus) << 8) | u16::from(self.devfn)
    }
}

/// The PCI ids of `pdev` (a device is found to be PCI by converting it,
/// `<&pci::Device>::try_from(dev)`).  `ENODEV` for a segment above 16 bits:
/// a device behind VMD (its domains are numbered from 0x10000), which the
/// C driver looks up by the VMD endpoint (`pci_real_dma_dev()` in
/// `device_lookup_iommu()`), a function 7.3 does not export to modules, and
/// which no DMAR unit covers otherwise (`dmar_alloc_pci_notify_info()`
/// refuses such segments too).  The requester id is
/// [`pci::Device::dev_id`]; 7.3's `kernel::pci` has no accessor for the
/// segment (`pci_domain_nr()`) or the bus hierarchy, so those come from the
/// shim.
pub fn pci_ids(pdev: &pci::Device) -> Result<PciIds> {
    let (mut segment, mut root) = (0i32, 0u16);
    let dev: &Device = pdev.as_ref();
    let raw = core::ptr::from_ref(dev)
        .cast::<bindings::device>()
        .cast_mut();
    // SAFETY: `raw` is the `struct device` embedded in the live `struct
    // pci_dev` of `pdev` (`pci::Device`'s invariant), which the shim's
    // `to_pci_dev()` needs; the out-parameters are valid.
    unsafe { rb::riommu_shim_pci_segment_root(raw, &mut segment, &mut root) };
    let segment = u16::try_from(segment).map_err(|_| ENODEV)?;
    let [bus, devfn] = pdev.dev_id().to_be_bytes();
    let [root_bus, root_devfn] = root.to_be_bytes();
    Ok(PciIds {
        segment,
        bus,
        devfn,
        root_bus,
        root_devfn,
    })
}

/// The most buses above a device that [`dma_aliases`] walks.
const MAX_UPSTREAM: usize = 32;

/// The requester ids `pdev`'s DMA may carry when it reaches the IOMMU,
/// its own first: what Linux's `pci_for_each_dma_alias()` visits, which
/// 7.3 does not export.  The shim reads the facts (quirk aliases, each
/// bridge above the device up to the root bus: its kind and flags) and
/// `riommu_core::vtd::alias` decides, host-tested.  `E2BIG` for a device
/// more than [`MAX_UPSTREAM`] buses below the root bus.
pub fn dma_aliases(pdev: &pci::Device) -> Result<Aliases> {
    let dev: &Device = pdev.as_ref();
    let raw = core::ptr::from_ref(dev)
        .cast::<bindings::device>()
        .cast_mut();
    let mut quirk = [0u64; 4];
    // SAFETY: all-zero is a valid `riommu_pci_upstream` (integers and
    // bools).
    let mut up: [rb::riommu_pci_upstream; MAX_UPSTREAM] = unsafe { core::mem::zeroed() };
    // SAFETY: `raw` is the `struct device` embedded in the live `struct
    // pci_dev` of `pdev` (`pci::Device`'s invariant), as the shim's
    // `to_pci_dev()` needs; `quirk` has the 4 words and `up` the
    // `MAX_UPSTREAM` entries the shim may write (it checks `max`).  The
    // buses and bridges it reads are ancestors of `pdev`, which hold while
    // it does: a `pci_dev` holds its bus (`pci_alloc_dev()`'s
    // `pci_bus_get()`, dropped in `pci_release_dev()`), a bus its bridge
    // (`pci_alloc_child_bus()`: `child->bridge = get_device(&bridge->dev)`,
    // dropped in `release_pcibus_dev()`), and that bridge its own bus, the
    // parent; a virtual bus (no bridge) is an SR-IOV one, whose VF holds
    // its PF (`pci_iov_add_virtfn()`), which holds the PF's bus.
    // `dma_alias_mask` is 256 bits (`pci_add_dma_alias()`'s
    // `bitmap_zalloc(MAX_NR_DEVFNS)`), freed only with the device.
    let n = unsafe {
        rb::riommu_shim_pci_dma_upstream(
            raw,
            quirk.as_mut_ptr(),
            up.as_mut_ptr(),
            MAX_UPSTREAM as i32,
        )
    };
    let n = usize::try_from(kernel::error::to_result(n).map(|()| n)?).map_err(|_| EINVAL)?;
    let upstream = up.iter().take(n).map(|u| {
        (!u.is_virtual).then(|| Upstream {
            id: u.id,
            secondary: u.secondary,
            kind: match u32::from(u.kind) {
                rb::riommu_pci_bridge_kind_RIOMMU_PCI_BRIDGE_PCIE_PORT => BridgeKind::PciePort,
                rb::riommu_pci_bridge_kind_RIOMMU_PCI_BRIDGE_PCIE_TO_PCI => BridgeKind::PcieToPci,
                rb::riommu_pci_bridge_kind_RIOMMU_PCI_BRIDGE_PCI_TO_PCIE => BridgeKind::PciToPcie,
                rb::riommu_pci_bridge_kind_RIOMMU_PCI_BRIDGE_CONVENTIONAL => {
                    BridgeKind::Conventional
                }
                _ => BridgeKind::PcieOther,
            },
            xlate_root: u.xlate_root,
            no_alias: u.no_alias,
            pcie_bridge_alias: u.pcie_bridge_alias,
        })
    });
    let quirk = (0..=255u8).filter(|&d| quirk[usize::from(d / 64)] & (1 << (d % 64)) != 0);
    Ok(alias::dma_aliases(pdev.dev_id(), quirk, upstream)?)
}

/// Taints the kernel with `TAINT_USER` ('U'): the user asked for an unsafe
/// configuration (a module parameter that turns a protection off), so that
/// reports from this kernel say so.
pub fn taint_user() {
    // SAFETY: `add_taint()` (kernel/panic.c) takes any flag below
    // `TAINT_FLAGS_COUNT`; `TAINT_USER` is one, and setting it does not
    // make lockdep's state unreliable (`LOCKDEP_STILL_OK`).
    unsafe { bindings::add_taint(bindings::TAINT_USER, bindings::lockdep_ok_LOCKDEP_STILL_OK) };
}

/// The work a [`PeriodicWork`] runs.
pub trait PeriodicHandler: Send + Sync {
    /// Called from the system workqueue (process context) every period.
    fn run(&self);
}

/// A handler run from the system workqueue every `period_ms`
/// milliseconds, from initialisation until drop; drop stops it and waits
/// for a running call to return (`cancel_delayed_work_sync`).
///
/// Not `kernel::workqueue::DelayedWork`: 7.3's Rust workqueue can queue
/// delayed work but neither cancel it nor wait for it, and a work function
/// is module text, so the owner must be able to stop it before it goes (a
/// candidate upstream change, see `Documentation/rust-iommu-api.rst`).
///
/// # Invariants
///
/// `dwork` is initialised with [`PeriodicWork::<T>::run_raw`] as its
/// function before it is first queued, and is only queued while `self` is
/// pinned and not yet dropped.
#[pin_data(PinnedDrop)]
pub struct PeriodicWork<T: PeriodicHandler> {
    #[pin]
    dwork: Opaque<bindings::delayed_work>,
    period: kernel::time::Jiffies,
    stopping: AtomicBool,
    data: T,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: the C work item is only touched through the workqueue API, which
// is thread safe; `T` is `Send + Sync`.
unsafe impl<T: PeriodicHandler> Send for PeriodicWork<T> {}
// SAFETY: as above.
unsafe impl<T: PeriodicHandler> Sync for PeriodicWork<T> {}

impl<T: PeriodicHandler> PeriodicWork<T> {
    /// Runs `data.run()` every `period_ms` milliseconds (at least one
    /// jiffy), starting one period after initialisation.
    pub fn new(period_ms: u32, data: T) -> impl PinInit<Self, Error> {
        let period = kernel::time::msecs_to_jiffies(period_ms).max(1);
        try_pin_init!(Self {
            dwork <- Opaque::ffi_init(|slot: *mut bindings::delayed_work| {
                // SAFETY: `slot` is valid, pinned memory for the work item.
                unsafe { rb::riommu_shim_init_delayed_work(slot, Some(Self::run_raw)) }
            }),
            period,
            stopping: AtomicBool::new(false),
            data,
            _pin: PhantomPinned,
        }? Error)
        .pin_chain(|this| {
            // INVARIANT: initialised with `run_raw` above; `this` is pinned.
            this.as_ref().get_ref().schedule();
            Ok(())
        })
    }

    /// The handler's data.
    pub fn data(&self) -> &T {
        &self.data
    }

    fn schedule(&self) {
        // SAFETY: an initialised work item in pinned memory (type
        // invariant); dropping `self` cancels it.
        unsafe { rb::riommu_shim_schedule_delayed_work(self.dwork.get(), self.period) };
    }

    /// The C work function.
    ///
    /// # Safety
    ///
    /// `work` must be the `work` member of the `dwork` of a live, pinned
    /// `PeriodicWork<T>` (the workqueue passes the item queued by
    /// `schedule`).
    unsafe extern "C" fn run_raw(work: *mut bindings::work_struct) {
        // SAFETY: `work` is embedded in a `delayed_work` (caller), which is
        // the `dwork` field (an `Opaque` has the layout of its contents) of
        // a live `PeriodicWork<T>`, which `cancel_delayed_work_sync` in drop
        // keeps alive until we return.
        let this = unsafe {
            let dwork = kernel::container_of!(work, bindings::delayed_work, work);
            &*kernel::container_of!(dwork.cast::<Opaque<bindings::delayed_work>>(), Self, dwork)
        };
        this.data.run();
        if !this.stopping.load(Ordering::Acquire) {
            this.schedule();
        }
    }
}

#[pinned_drop]
impl<T: PeriodicHandler> PinnedDrop for PeriodicWork<T> {
    fn drop(self: Pin<&mut Self>) {
        self.stopping.store(true, Ordering::Release);
        // SAFETY: an initialised work item (type invariant); this waits for
        // a running instance and keeps it from re-queueing itself.
        unsafe { bindings::cancel_delayed_work_sync(self.dwork.get()) };
    }
}

/// Conversions between a `kernel::io::register!` field spanning a whole
/// register (`31:0 name => Type` or `63:0 name => Type`) and the
/// host-tested type of `rust/riommu_core` that decodes and encodes it
/// (`Type([u64; 1])`, a 32-bit one with `from_raw(u32)` and `raw()`):
///
/// ```ignore
/// whole_register!(u32: Gsts, Gcmd; u64: Cap, Ecap);
/// ```
// Used by the hardware drivers only: `allow`, as for `dead_code` (see
// `mod.rs`), not `expect`.
#[allow(unused_macros)]
macro_rules! whole_register {
    (u32: $($t32:ident),* ; u64: $($t64:ident),* $(,)?) => {
        $(
            impl From<kernel::num::Bounded<u32, 32>> for $t32 {
                fn from(v: kernel::num::Bounded<u32, 32>) -> Self {
                    $t32::from_raw(v.get())
                }
            }

            impl From<$t32> for kernel::num::Bounded<u32, 32> {
                fn from(v: $t32) -> Self {
                    v.raw().into()
                }
            }
        )*
        $(
            impl From<kernel::num::Bounded<u64, 64>> for $t64 {
                fn from(v: kernel::num::Bounded<u64, 64>) -> Self {
                    $t64([v.get()])
                }
            }

            impl From<$t64> for kernel::num::Bounded<u64, 64> {
                fn from(v: $t64) -> Self {
                    v.0[0].into()
                }
            }
        )*
    };
}
#[allow(unused_imports)]
pub(crate) use whole_register;
