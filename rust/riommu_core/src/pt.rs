// SPDX-License-Identifier: GPL-2.0

//! A generic radix I/O page table over abstract table memory.
//!
//! Tables are 4 KiB and hold 512 64-bit entries; each level resolves 9 bits of
//! the IOVA above the format's granule ([`Format::GRANULE_SHIFT`], 12 bits
//! unless the format says otherwise). With a 4 KiB granule level 0 holds
//! 4 KiB leaves, level 1 2 MiB, level 2 1 GiB and so on; the top level is
//! `F::LEVELS - 1`. A format may also have contiguous leaves
//! ([`Format::CONTIG_MAX_LG2`]): a leaf of `2^n` consecutive entries of one
//! table, as AMD's IOMMU (and Linux generic_pt's `amdv1` format) has them.
//! The PTE encoding is a [`Format`], the memory that holds the tables a
//! [`TableMem`].
//!
//! [`PageTable`] does no locking: the kernel side serializes the `&mut self`
//! operations of one table (and any reader against them).
//!
//! Stack use is small and bounded: no arrays on the stack; the only recursion
//! (freeing, emptiness checks and dirty reads) is at most `F::LEVELS <= 5`
//! frames of a few words each.

use core::marker::PhantomData;

use super::errno::Errno;

/// Number of entries in a table.
pub const ENTRIES_PER_TABLE: usize = 512;
/// Size of a table in bytes.
pub const TABLE_SIZE: u64 = 4096;
/// log2 of the default granule, the size a level-0 entry maps
/// ([`Format::GRANULE_SHIFT`]).
pub const PAGE_SHIFT: u32 = 12;
/// IOVA bits resolved by one level.
pub const BITS_PER_LEVEL: u32 = 9;
/// The largest supported [`Format::LEVELS`] (a 57-bit IOVA).
pub const MAX_LEVELS: usize = 5;

/// Mask of the table index bits once shifted down.
const INDEX_MASK: u64 = (1 << BITS_PER_LEVEL) - 1;

/// log2 of the size that one entry of a table at `level` maps, for a
/// granule of `1 << granule_shift` bytes.
pub const fn granule_level_shift(granule_shift: u32, level: usize) -> u32 {
    // `level` is at most `MAX_LEVELS` wherever this is used with a valid
    // format; clamp so that a bogus value cannot overflow.
    let level = if level > MAX_LEVELS {
        MAX_LEVELS
    } else {
        level
    };
    granule_shift + BITS_PER_LEVEL * level as u32
}

/// log2 of the size that one entry of a table at `level` maps, with the
/// default 4 KiB granule ([`PAGE_SHIFT`]).
pub const fn level_shift(level: usize) -> u32 {
    granule_level_shift(PAGE_SHIFT, level)
}

/// Size in bytes that one entry of a table at `level` maps with the default
/// 4 KiB granule: `4 KiB << 9 * level` ([`PageTable::level_size`] is the
/// format's own).
///
/// `level` must be at most [`MAX_LEVELS`]; larger values are clamped.
pub const fn level_size(level: usize) -> u64 {
    1 << level_shift(level)
}

/// The memory that holds page tables.
///
/// A table is 4 KiB of 512 `u64` entries, whatever the format's granule
/// (as generic_pt's `PT_TABLEMEM_LG2SZ`), identified by a non-zero, 4 KiB
/// aligned address (a physical address in the kernel). The all-zero entry
/// must be non-present in every [`Format`], as new tables come zeroed.
pub trait TableMem {
    /// Allocates a zeroed table; [`Errno::ENOMEM`] if there is no memory.
    fn alloc_table(&mut self) -> Result<u64, Errno>;

    /// Frees a table that [`TableMem::alloc_table`] returned.
    ///
    /// [`PageTable::map_pages`] may free empty tables that it replaces with a
    /// leaf *after* the leaf is written; an implementation behind real
    /// hardware must defer the reuse of such a table until the IOMMU's
    /// paging-structure caches are flushed.
    fn free_table(&mut self, table: u64);

    /// Reads entry `index` (below 512) of `table`.
    fn read(&self, table: u64, index: usize) -> u64;

    /// Writes entry `index` (below 512) of `table`.
    fn write(&mut self, table: u64, index: usize, value: u64);

    /// Break-before-make, for formats with [`Format::BREAK_BEFORE_MAKE`]:
    /// called by [`PageTable::map_pages`] after it cleared the entry of a
    /// table that a leaf of `size` bytes at `iova` replaces, and before it
    /// writes the leaf.  Must make the IOMMU forget every translation and
    /// walk-cache entry of `[iova, iova + size)` and wait for that (an
    /// SMMU's TLBI and CMD_SYNC, as io-pgtable-arm's
    /// `io_pgtable_tlb_flush_walk()` in `arm_lpae_init_pte()`).  An error
    /// stops the map and the table entry is restored.  The default refuses
    /// ([`Errno::EOPNOTSUPP`]): memory behind an IOMMU that needs the
    /// sequence must implement it.
    fn break_flush(&mut self, _iova: u64, _size: u64) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    /// Told by [`PageTable::unmap_pages`] that it removed leaves at `level`
    /// (once per run of leaves in one table, after clearing the first), so
    /// that the invalidation can name the level: Linux's
    /// `iommu_iotlb_gather` `pt.leaf_levels_bitmap`, which generic_pt fills
    /// the same way.  The default ignores it.
    #[inline]
    fn leaf_removed(&mut self, _level: usize) {}
}

/// A page table entry format.
pub trait Format {
    /// log2 of the granule, the size that one level-0 entry maps: 12 (4 KiB)
    /// unless the format says otherwise, 10 to 12.  A table is 4 KiB of 512
    /// entries whatever the granule, so one entry at `level` maps
    /// `1 << (GRANULE_SHIFT + 9 * level)` bytes.
    const GRANULE_SHIFT: u32 = PAGE_SHIFT;

    /// Number of levels, 1 to [`MAX_LEVELS`]; level 0 holds granule-sized
    /// leaves and the top level is `LEVELS - 1`.
    const LEVELS: usize;

    /// Levels that can hold leaves: bit `L` set allows leaves at level `L`
    /// (with a 4 KiB granule: 4 KiB at 0, 2 MiB at 1, 1 GiB at 2, ...). No
    /// bit at or above `LEVELS` may be set.
    const LEAF_LEVELS: u32;

    /// log2 of the largest number of consecutive entries one leaf may span
    /// (a contiguous leaf of `2^n` entries, `n` up to this, at every leaf
    /// level), below [`BITS_PER_LEVEL`]; 0 (the default): every leaf is one
    /// entry.  Every entry of a contiguous leaf holds the same value,
    /// [`Format::make_contig_leaf`], but for the dirty bit, which is each
    /// entry's own: the leaf is dirty if any of its entries is (AMD's
    /// IOMMU, generic_pt's `amdv1pt_entry_is_write_dirty()`).
    const CONTIG_MAX_LG2: u32 = 0;

    /// Whether a table entry may be replaced by a leaf only with the entry
    /// cleared and the walk caches flushed in between (Arm's
    /// break-before-make rule for a change of block size, which the SMMU
    /// follows: [`TableMem::break_flush`]).  Without it the leaf is written
    /// over the table entry, as VT-d allows: hardware uses the old table or
    /// the new leaf until the paging-structure caches are invalidated.
    const BREAK_BEFORE_MAKE: bool = false;

    /// Whether `pte` is present (a table pointer or a leaf). `0` must not be.
    fn is_present(pte: u64) -> bool;

    /// Whether `pte`, found at `level`, is a present leaf. At level 0 every
    /// present entry is a leaf.
    fn is_leaf(pte: u64, level: usize) -> bool;

    /// An entry pointing to the next-level table at address `table`.
    fn make_table(table: u64) -> u64;

    /// The address of the next-level table that the table entry `pte` points to.
    fn table_addr(pte: u64) -> u64;

    /// A leaf at `level` mapping `phys` (aligned to [`level_size`]`(level)`)
    /// with permissions `prot`, not dirty.
    fn make_leaf(phys: u64, level: usize, prot: Prot) -> u64;

    /// A leaf at `level` spanning `2^contig_lg2` entries (`contig_lg2` at
    /// most [`Format::CONTIG_MAX_LG2`]) that maps `phys` (aligned to the
    /// leaf's size) with permissions `prot`, not dirty: the value of each of
    /// its entries.  The default, for formats without contiguous leaves, is
    /// [`Format::make_leaf`].
    fn make_contig_leaf(phys: u64, level: usize, contig_lg2: u32, prot: Prot) -> u64 {
        debug_assert_eq!(contig_lg2, 0);
        Self::make_leaf(phys, level, prot)
    }

    /// log2 of the number of entries that the leaf `pte`, found at `level`,
    /// spans; 0 (the default) for a one-entry leaf.
    fn leaf_contig_lg2(_pte: u64, _level: usize) -> u32 {
        0
    }

    /// The base physical address of the leaf `pte` found at `level` (of the
    /// whole leaf, for a contiguous one).
    fn leaf_phys(pte: u64, level: usize) -> u64;

    /// Whether the entry `pte` of a leaf is dirty (written by DMA).
    fn is_dirty(pte: u64) -> bool;

    /// The leaf entry `pte` with its dirty bit set.
    fn set_dirty(pte: u64) -> u64;

    /// The leaf `pte` with its dirty bit cleared.
    fn clear_dirty(pte: u64) -> u64;
}

/// Access permissions of a mapping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Prot {
    /// DMA may read the memory (device reads, `IOMMU_READ`).
    pub read: bool,
    /// DMA may write the memory (device writes, `IOMMU_WRITE`).
    pub write: bool,
    /// The memory type of the device's accesses.
    pub mem: MemType,
}

/// The memory type a mapping gives the device's accesses: Linux's
/// `IOMMU_CACHE` and `IOMMU_MMIO` flags of `iommu_map()`.  Formats that
/// have memory attributes (the SMMU's LPAE stages) encode it, as
/// io-pgtable-arm's `arm_lpae_prot_to_pte()` does; the others (the mock's,
/// VT-d's) have none and read back [`MemType::Cached`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MemType {
    /// Normal memory, cacheable and coherent with the CPU caches
    /// (`IOMMU_CACHE`; iommufd maps everything so, `conv_iommu_prot()`).
    #[default]
    Cached,
    /// Normal memory, non-cacheable (neither flag: a non-coherent
    /// device's DMA API mappings).
    NonCached,
    /// Device memory, a peer device's MMIO (`IOMMU_MMIO`,
    /// `dma_map_resource()`); takes precedence over `IOMMU_CACHE`.
    Mmio,
    /// Normal memory, cacheable, and the IOMMU makes every access snoop
    /// the CPU caches whatever the device asks (VT-d's second-stage SNP
    /// bit, set on every leaf of a domain that `enforce_cache_coherency`
    /// made coherent: Linux `PT_FEAT_VTDSS_FORCE_COHERENCE`).  Never made
    /// from `iommu_map()` flags; formats without such a bit encode it as
    /// [`MemType::Cached`].
    Snooped,
}

impl Prot {
    // Copies of `include/linux/iommu.h`, asserted equal to bindgen's in
    // the kernel build (`rust/riommu/uapi_check.rs`).
    /// Linux `IOMMU_READ`.
    pub const IOMMU_READ: i32 = 1 << 0;
    /// Linux `IOMMU_WRITE`.
    pub const IOMMU_WRITE: i32 = 1 << 1;
    /// Linux `IOMMU_CACHE`.
    pub const IOMMU_CACHE: i32 = 1 << 2;
    /// Linux `IOMMU_MMIO`.
    pub const IOMMU_MMIO: i32 = 1 << 4;

    /// No access.
    pub const NONE: Prot = Prot {
        read: false,
        write: false,
        mem: MemType::Cached,
    };
    /// Read only.
    pub const READ: Prot = Prot {
        read: true,
        write: false,
        mem: MemType::Cached,
    };
    /// Write only.
    pub const WRITE: Prot = Prot {
        read: false,
        write: true,
        mem: MemType::Cached,
    };
    /// Read and write.
    pub const READ_WRITE: Prot = Prot {
        read: true,
        write: true,
        mem: MemType::Cached,
    };

    /// Converts the `prot` of Linux `iommu_map()` (`IOMMU_READ`,
    /// `IOMMU_WRITE`, `IOMMU_CACHE`, `IOMMU_MMIO`; other flags, such as
    /// `IOMMU_NOEXEC`, are ignored).
    pub const fn from_iommu_prot(prot: i32) -> Self {
        let mem = if prot & Self::IOMMU_MMIO != 0 {
            MemType::Mmio
        } else if prot & Self::IOMMU_CACHE != 0 {
            MemType::Cached
        } else {
            MemType::NonCached
        };
        Prot {
            read: prot & Self::IOMMU_READ != 0,
            write: prot & Self::IOMMU_WRITE != 0,
            mem,
        }
    }

    /// The same permissions with memory type `mem`.
    pub const fn with_mem(self, mem: MemType) -> Self {
        Prot { mem, ..self }
    }

    /// The Linux `IOMMU_READ` / `IOMMU_WRITE` / `IOMMU_CACHE` /
    /// `IOMMU_MMIO` flags of this permission.
    pub const fn to_iommu_prot(self) -> i32 {
        let mut prot = 0;
        if self.read {
            prot |= Self::IOMMU_READ;
        }
        if self.write {
            prot |= Self::IOMMU_WRITE;
        }
        prot |= match self.mem {
            MemType::Cached | MemType::Snooped => Self::IOMMU_CACHE,
            MemType::NonCached => 0,
            MemType::Mmio => Self::IOMMU_MMIO,
        };
        prot
    }
}

/// A leaf found by [`PageTable::lookup`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leaf {
    /// First IOVA the leaf maps (aligned to `size`).
    pub iova: u64,
    /// Physical address that `iova` maps to.
    pub phys: u64,
    /// Size of the leaf in bytes ([`PageTable::level_size`] of `level`,
    /// times its number of entries for a contiguous leaf).
    pub size: u64,
    /// Level that holds the leaf.
    pub level: usize,
    /// Whether the leaf is dirty (any of its entries, for a contiguous leaf).
    pub dirty: bool,
}

/// A radix I/O page table of format `F`.
///
/// The table does not own its memory: every operation takes the
/// [`TableMem`] that holds it, which must be the same for the table's whole
/// life. There is no `Drop`: [`PageTable::destroy`] must be called to free the
/// tables, otherwise they leak.
pub struct PageTable<F: Format> {
    root: u64,
    tables: usize,
    _format: PhantomData<fn() -> F>,
}

impl<F: Format> PageTable<F> {
    /// The top level (the level of the root table).
    const TOP: usize = F::LEVELS - 1;

    /// Allocates the root table of a new, empty page table.
    ///
    /// Returns the error of [`TableMem::alloc_table`] ([`Errno::ENOMEM`]).
    pub fn new<M: TableMem + ?Sized>(mem: &mut M) -> Result<Self, Errno> {
        const {
            assert!(F::LEVELS >= 1 && F::LEVELS <= MAX_LEVELS);
            assert!(F::LEAF_LEVELS != 0 && F::LEAF_LEVELS >> F::LEVELS == 0);
            assert!(F::GRANULE_SHIFT >= 10 && F::GRANULE_SHIFT <= PAGE_SHIFT);
            assert!(F::CONTIG_MAX_LG2 < BITS_PER_LEVEL);
            // Break-before-make is done entry by entry: one-entry leaves only.
            assert!(!F::BREAK_BEFORE_MAKE || F::CONTIG_MAX_LG2 == 0);
        }
        let root = mem.alloc_table()?;
        Ok(PageTable {
            root,
            tables: 1,
            _format: PhantomData,
        })
    }

    /// Address of the root table.
    pub fn root(&self) -> u64 {
        self.root
    }

    /// Number of tables currently allocated, the root included.
    pub fn table_count(&self) -> usize {
        self.tables
    }

    /// log2 of the size that one entry of a table at `level` maps:
    /// `F::GRANULE_SHIFT + 9 * level`.
    pub const fn level_shift(level: usize) -> u32 {
        granule_level_shift(F::GRANULE_SHIFT, level)
    }

    /// Size in bytes that one entry of a table at `level` maps (the granule
    /// `<< 9 * level`).
    pub const fn level_size(level: usize) -> u64 {
        1 << Self::level_shift(level)
    }

    /// Index within its table of the entry at `level` that translates `iova`.
    const fn index(iova: u64, level: usize) -> usize {
        ((iova >> Self::level_shift(level)) & INDEX_MASK) as usize
    }

    /// Number of IOVA bits the table translates: `F::GRANULE_SHIFT + 9 * LEVELS`.
    pub const fn va_bits() -> u32 {
        Self::level_shift(F::LEVELS)
    }

    /// The page sizes that leaves can have (bit `n` set: `1 << n` bytes):
    /// the entry size of every leaf level times `2^0` to
    /// `2^F::CONTIG_MAX_LG2`, below half the IOVA space (as generic_pt's
    /// `get_info()`, which hides a page size as large as the table's).
    pub const fn pgsize_bitmap() -> u64 {
        let mut bitmap = 0;
        let mut level = 0;
        while level < F::LEVELS {
            if F::LEAF_LEVELS & (1 << level) != 0 {
                let mut n = 0;
                while n <= F::CONTIG_MAX_LG2 {
                    bitmap |= Self::level_size(level) << n;
                    n += 1;
                }
            }
            level += 1;
        }
        bitmap & ((1 << (Self::va_bits() - 1)) - 1)
    }

    /// One past the highest IOVA the table translates.
    const fn va_end() -> u64 {
        Self::level_size(F::LEVELS)
    }

    /// The level and log2 of the number of entries of a leaf of `pgsize`
    /// bytes, if [`Self::pgsize_bitmap`] has that size.
    fn leaf_geometry(pgsize: u64) -> Option<(usize, u32)> {
        if !pgsize.is_power_of_two() || pgsize & Self::pgsize_bitmap() == 0 {
            return None;
        }
        let lg2 = pgsize.trailing_zeros();
        (0..F::LEVELS).rev().find_map(|level| {
            let shift = Self::level_shift(level);
            (F::LEAF_LEVELS & (1 << level) != 0 && lg2 >= shift && lg2 - shift <= F::CONTIG_MAX_LG2)
                .then(|| (level, lg2 - shift))
        })
    }

    /// log2 of the number of entries of the leaf `pte` at `level` (clamped
    /// to the format's maximum, so that a run never leaves its table).
    fn contig_of(pte: u64, level: usize) -> u32 {
        let n = F::leaf_contig_lg2(pte, level);
        if n > F::CONTIG_MAX_LG2 {
            F::CONTIG_MAX_LG2
        } else {
            n
        }
    }

    /// Checks the arguments of a map; returns the level of the leaves and
    /// log2 of their number of entries.
    fn check_map(
        iova: u64,
        paddr: u64,
        pgsize: u64,
        pgcount: u64,
        prot: Prot,
    ) -> Result<(usize, u32), Errno> {
        if !prot.read && !prot.write {
            return Err(Errno::EINVAL);
        }
        let (level, contig) = Self::leaf_geometry(pgsize).ok_or(Errno::EINVAL)?;
        if (iova | paddr) & (pgsize - 1) != 0 || pgcount == 0 {
            return Err(Errno::EINVAL);
        }
        let len = pgsize.checked_mul(pgcount).ok_or(Errno::EINVAL)?;
        let end = iova.checked_add(len).ok_or(Errno::EINVAL)?;
        if end > Self::va_end() {
            return Err(Errno::EINVAL);
        }
        // The output addresses must be representable in a leaf.
        let last_pa = paddr.checked_add(len - pgsize).ok_or(Errno::ERANGE)?;
        for pa in [paddr, last_pa] {
            if F::leaf_phys(F::make_contig_leaf(pa, level, contig, prot), level) != pa {
                return Err(Errno::ERANGE);
            }
        }
        Ok((level, contig))
    }

    /// Maps `pgcount` pages of `pgsize` bytes from `iova` to `paddr`.
    ///
    /// Returns the number of bytes mapped and the error that stopped the map,
    /// if any; what was mapped stays mapped (the caller unmaps it).
    ///
    /// Errors, with nothing mapped:
    /// - [`Errno::EINVAL`]: `pgsize` is not in [`Self::pgsize_bitmap`],
    ///   `iova` or `paddr` is not aligned to it, `pgcount` is 0, the range
    ///   wraps or goes past the IOVA space (`1 << va_bits()`), or `prot` grants
    ///   neither read nor write (as Linux generic_pt);
    /// - [`Errno::ERANGE`]: `paddr` (or the end of the range) does not fit a
    ///   leaf of the format.
    ///
    /// Errors that stop the map part way:
    /// - [`Errno::EADDRINUSE`]: a page is already mapped: a leaf where a leaf
    ///   must go, a larger leaf covering it, or a table below which something
    ///   is mapped where a large leaf must go. A table with nothing mapped
    ///   below it is replaced by the leaf and freed (as Linux generic_pt).
    ///   Every entry of a contiguous leaf is checked before any is written:
    ///   a leaf is mapped whole or not at all;
    /// - the error of [`TableMem::alloc_table`] ([`Errno::ENOMEM`]) when an
    ///   intermediate table cannot be allocated.
    ///
    /// The walk from the root is done once per leaf table, not per page.
    pub fn map_pages<M: TableMem + ?Sized>(
        &mut self,
        mem: &mut M,
        iova: u64,
        paddr: u64,
        pgsize: u64,
        pgcount: u64,
        prot: Prot,
    ) -> (u64, Result<(), Errno>) {
        let (level, contig) = match Self::check_map(iova, paddr, pgsize, pgcount, prot) {
            Ok(geometry) => geometry,
            Err(e) => return (0, Err(e)),
        };
        // Entries per leaf; a leaf is aligned to its size, which is at most
        // half a table's span, so its entries never leave their table.
        let step = 1usize << contig;
        // All offsets below stay within `pgsize * pgcount`, checked above.
        let mut done: u64 = 0;
        while done < pgcount {
            let offset = done * pgsize;
            let table = match self.walk_alloc(mem, iova + offset, level) {
                Ok(table) => table,
                Err(e) => return (offset, Err(e)),
            };
            let mut index = Self::index(iova + offset, level);
            while index < ENTRIES_PER_TABLE && done < pgcount {
                let offset = done * pgsize;
                let leaf = F::make_contig_leaf(paddr + offset, level, contig, prot);
                // Every entry of the leaf must be free or an empty table.
                let mut tables_below = false;
                for i in index..index + step {
                    let old = mem.read(table, i);
                    if !F::is_present(old) {
                        continue;
                    }
                    if level == 0
                        || F::is_leaf(old, level)
                        || Self::has_leaf(mem, F::table_addr(old), level - 1)
                    {
                        return (offset, Err(Errno::EADDRINUSE));
                    }
                    tables_below = true;
                }
                if !tables_below {
                    for i in index..index + step {
                        mem.write(table, i, leaf);
                    }
                    index += step;
                    done += 1;
                    continue;
                }
                for i in index..index + step {
                    let old = mem.read(table, i);
                    if !F::is_present(old) {
                        mem.write(table, i, leaf);
                        continue;
                    }
                    // An empty table, which the leaf replaces.
                    let lower = F::table_addr(old);
                    if F::BREAK_BEFORE_MAKE {
                        // Break, flush, make: no moment where the IOMMU
                        // may hold the old table and see the new leaf.
                        // (One-entry leaves: `new()` asserts it.)
                        mem.write(table, i, 0);
                        if let Err(e) = mem.break_flush(iova + offset, pgsize) {
                            mem.write(table, i, old);
                            return (offset, Err(e));
                        }
                    }
                    mem.write(table, i, leaf);
                    self.free_tree(mem, lower, level - 1);
                }
                index += step;
                done += 1;
            }
        }
        (done * pgsize, Ok(()))
    }

    /// Walks from the root to the table at `level` that translates `iova`,
    /// allocating missing tables. [`Errno::EADDRINUSE`] if a leaf is in the way.
    fn walk_alloc<M: TableMem + ?Sized>(
        &mut self,
        mem: &mut M,
        iova: u64,
        level: usize,
    ) -> Result<u64, Errno> {
        let mut table = self.root;
        let mut cur = Self::TOP;
        while cur > level {
            let index = Self::index(iova, cur);
            let pte = mem.read(table, index);
            table = if !F::is_present(pte) {
                let lower = mem.alloc_table()?;
                self.tables += 1;
                mem.write(table, index, F::make_table(lower));
                lower
            } else if F::is_leaf(pte, cur) {
                return Err(Errno::EADDRINUSE);
            } else {
                F::table_addr(pte)
            };
            cur -= 1;
        }
        Ok(table)
    }

    /// Whether any leaf is present in `table` (at `level`) or below it.
    fn has_leaf<M: TableMem + ?Sized>(mem: &M, table: u64, level: usize) -> bool {
        (0..ENTRIES_PER_TABLE).any(|index| {
            let pte = mem.read(table, index);
            F::is_present(pte)
                && (level == 0
                    || F::is_leaf(pte, level)
                    || Self::has_leaf(mem, F::table_addr(pte), level - 1))
        })
    }

    /// Frees `table` (at `level`) and every table below it.
    fn free_tree<M: TableMem + ?Sized>(&mut self, mem: &mut M, table: u64, level: usize) {
        if level > 0 {
            for index in 0..ENTRIES_PER_TABLE {
                let pte = mem.read(table, index);
                if F::is_present(pte) && !F::is_leaf(pte, level) {
                    self.free_tree(mem, F::table_addr(pte), level - 1);
                }
            }
        }
        mem.free_table(table);
        self.tables -= 1;
    }

    /// Unmaps `pgcount` pages of `pgsize` bytes from `iova`; returns the
    /// number of bytes unmapped.
    ///
    /// Leaves are removed in IOVA order; the walk stops, returning what was
    /// unmapped so far, at a hole (nothing mapped at the current IOVA) or at a
    /// leaf that does not start at the current IOVA or is larger than the rest
    /// of the range. A leaf that starts at the current IOVA and fits is removed
    /// whole (every entry of a contiguous leaf), whatever `pgsize` is:
    /// unmapping 512 pages of 4 KiB over a 2 MiB leaf removes the leaf and
    /// returns 2 MiB.
    ///
    /// Nothing is unmapped (0 returned) if `pgsize` is not in
    /// [`Self::pgsize_bitmap`], `iova` is not aligned to it, `pgcount` is 0, or
    /// the range wraps or goes past the IOVA space.
    ///
    /// Tables are never freed here, only by [`Self::destroy`] (or reused by a
    /// later map).
    pub fn unmap_pages<M: TableMem + ?Sized>(
        &mut self,
        mem: &mut M,
        iova: u64,
        pgsize: u64,
        pgcount: u64,
    ) -> u64 {
        if Self::leaf_geometry(pgsize).is_none() || iova & (pgsize - 1) != 0 {
            return 0;
        }
        let Some(len) = pgsize.checked_mul(pgcount) else {
            return 0;
        };
        match iova.checked_add(len) {
            Some(end) if end <= Self::va_end() => {}
            _ => return 0,
        }
        let mut unmapped: u64 = 0;
        'walk: while unmapped < len {
            let mut cur = iova + unmapped;
            // Find the table and level that hold the leaf at `cur`.
            let mut table = self.root;
            let mut level = Self::TOP;
            loop {
                let pte = mem.read(table, Self::index(cur, level));
                if !F::is_present(pte) {
                    break 'walk;
                }
                if level == 0 || F::is_leaf(pte, level) {
                    break;
                }
                table = F::table_addr(pte);
                level -= 1;
            }
            // Remove the consecutive leaves of that table.
            let entry_size = Self::level_size(level);
            let mut index = Self::index(cur, level);
            let first = index;
            while index < ENTRIES_PER_TABLE && unmapped < len {
                let pte = mem.read(table, index);
                if !F::is_present(pte) {
                    break 'walk;
                }
                if level != 0 && !F::is_leaf(pte, level) {
                    // A table: walk down from the root again.
                    continue 'walk;
                }
                let contig = Self::contig_of(pte, level);
                let size = entry_size << contig;
                if cur & (size - 1) != 0 || size > len - unmapped {
                    break 'walk;
                }
                // `cur` is aligned to the leaf: `index` is its first entry.
                for i in index..index + (1 << contig) {
                    mem.write(table, i, 0);
                }
                if index == first {
                    // Once per run of leaves of this table (one level).
                    mem.leaf_removed(level);
                }
                unmapped += size;
                cur += size;
                index += 1 << contig;
            }
        }
        unmapped
    }

    /// Finds the leaf that translates `iova`: its table, index and level, and
    /// the entry itself.
    fn find_leaf<M: TableMem + ?Sized>(
        &self,
        mem: &M,
        iova: u64,
    ) -> Option<(u64, usize, usize, u64)> {
        Self::find_leaf_at(mem, self.root, iova)
    }

    /// [`Self::find_leaf`] in the page table whose root table is `root`.
    fn find_leaf_at<M: TableMem + ?Sized>(
        mem: &M,
        root: u64,
        iova: u64,
    ) -> Option<(u64, usize, usize, u64)> {
        if iova >= Self::va_end() {
            return None;
        }
        let mut table = root;
        let mut level = Self::TOP;
        loop {
            let index = Self::index(iova, level);
            let pte = mem.read(table, index);
            if !F::is_present(pte) {
                return None;
            }
            if level == 0 || F::is_leaf(pte, level) {
                return Some((table, index, level, pte));
            }
            table = F::table_addr(pte);
            level -= 1;
        }
    }

    /// The leaf that translates `iova`, if any.
    pub fn lookup<M: TableMem + ?Sized>(&self, mem: &M, iova: u64) -> Option<Leaf> {
        Self::lookup_at(mem, self.root, iova)
    }

    /// [`Self::lookup`] in the page table whose root table is `root` (see
    /// [`Self::root`]), for lookups that do not hold the [`PageTable`]: a
    /// reader that walks while the owner maps or unmaps elsewhere (the
    /// `TableMem` then decides what a concurrent read may see).
    pub fn lookup_at<M: TableMem + ?Sized>(mem: &M, root: u64, iova: u64) -> Option<Leaf> {
        let (table, index, level, pte) = Self::find_leaf_at(mem, root, iova)?;
        let contig = Self::contig_of(pte, level);
        let size = Self::level_size(level) << contig;
        let offset = iova & (size - 1);
        let first = index & !((1 << contig) - 1);
        Some(Leaf {
            iova: iova - offset,
            phys: F::leaf_phys(pte, level) | offset,
            size,
            level,
            dirty: (first..first + (1 << contig)).any(|i| F::is_dirty(mem.read(table, i))),
        })
    }

    /// The physical address that `iova` translates to, 0 if it is not mapped
    /// (as Linux `iova_to_phys`).
    pub fn iova_to_phys<M: TableMem + ?Sized>(&self, mem: &M, iova: u64) -> u64 {
        Self::iova_to_phys_at(mem, self.root, iova)
    }

    /// [`Self::iova_to_phys`] in the page table whose root table is `root`,
    /// as [`Self::lookup_at`] but without reading a contiguous leaf's other
    /// entries.
    pub fn iova_to_phys_at<M: TableMem + ?Sized>(mem: &M, root: u64, iova: u64) -> u64 {
        match Self::find_leaf_at(mem, root, iova) {
            Some((_, _, level, pte)) => {
                let size = Self::level_size(level) << Self::contig_of(pte, level);
                F::leaf_phys(pte, level) | (iova & (size - 1))
            }
            None => 0,
        }
    }

    /// Sets the dirty bit of the entry that translates `iova` (of that one
    /// entry of a contiguous leaf, as generic_pt's
    /// `amdv1pt_entry_make_write_dirty()`; the leaf reads dirty as a
    /// whole); `false` if `iova` is not mapped.
    pub fn set_dirty<M: TableMem + ?Sized>(&mut self, mem: &mut M, iova: u64) -> bool {
        match self.find_leaf(mem, iova) {
            Some((table, index, _, pte)) => {
                mem.write(table, index, F::set_dirty(pte));
                true
            }
            None => false,
        }
    }

    /// Reports the dirty leaves of `[iova, iova + size)` in IOVA order.
    ///
    /// For each dirty leaf that intersects the range, calls
    /// `record(start, len)` with the whole leaf, even where it extends
    /// outside the range (as generic_pt's `record_dirty()`: the core's
    /// `iova_bitmap_set()` then records what it can of it), then clears the
    /// leaf's dirty bits unless `no_clear` (Linux `IOMMU_DIRTY_NO_CLEAR`).
    /// A contiguous leaf is dirty if any of its entries is, and is cleared
    /// whole. A range past the IOVA space (or that wraps) is clipped to it.
    pub fn read_and_clear_dirty<M: TableMem + ?Sized, R: FnMut(u64, u64)>(
        &mut self,
        mem: &mut M,
        iova: u64,
        size: u64,
        no_clear: bool,
        mut record: R,
    ) {
        let end = match iova.checked_add(size) {
            Some(end) if end < Self::va_end() => end,
            _ => Self::va_end(),
        };
        if iova >= end {
            return;
        }
        Self::dirty_walk(
            mem,
            self.root,
            Self::TOP,
            0,
            iova,
            end,
            no_clear,
            &mut record,
        );
    }

    /// [`Self::read_and_clear_dirty`] for `table` at `level` that maps from
    /// `base`, over `[start, end)` (non-empty and within the table).
    #[allow(clippy::too_many_arguments)]
    fn dirty_walk<M: TableMem + ?Sized, R: FnMut(u64, u64)>(
        mem: &mut M,
        table: u64,
        level: usize,
        base: u64,
        start: u64,
        end: u64,
        no_clear: bool,
        record: &mut R,
    ) {
        let shift = Self::level_shift(level);
        let size = Self::level_size(level);
        let first = Self::index(start, level);
        let last = Self::index(end - 1, level);
        let mut index = first;
        while index <= last {
            let entry_start = base + ((index as u64) << shift);
            let entry_end = entry_start + size;
            let pte = mem.read(table, index);
            if !F::is_present(pte) {
                index += 1;
                continue;
            }
            if level == 0 || F::is_leaf(pte, level) {
                let contig = Self::contig_of(pte, level);
                let run = index & !((1 << contig) - 1);
                let next = run + (1 << contig);
                if (run..next).any(|i| F::is_dirty(mem.read(table, i))) {
                    record(base + ((run as u64) << shift), size << contig);
                    if !no_clear {
                        for i in run..next {
                            let pte = mem.read(table, i);
                            if F::is_dirty(pte) {
                                mem.write(table, i, F::clear_dirty(pte));
                            }
                        }
                    }
                }
                index = next;
            } else {
                let from = if start > entry_start {
                    start
                } else {
                    entry_start
                };
                let to = if end < entry_end { end } else { entry_end };
                let lower = F::table_addr(pte);
                Self::dirty_walk(
                    mem,
                    lower,
                    level - 1,
                    entry_start,
                    from,
                    to,
                    no_clear,
                    record,
                );
                index += 1;
            }
        }
    }

    /// Frees every table, the root included.
    pub fn destroy<M: TableMem + ?Sized>(mut self, mem: &mut M) {
        self.free_all(mem);
    }

    /// Frees every table, the root included, in place: for owners that can
    /// only reach the table through `&mut` when they go away (a drop
    /// handler).  The table is unusable afterwards (it has no root); any
    /// further call other than a repeated `free_all` is a caller bug.
    pub fn free_all<M: TableMem + ?Sized>(&mut self, mem: &mut M) {
        if self.root == 0 {
            return;
        }
        let root = self.root;
        self.free_tree(mem, root, Self::TOP);
        self.root = 0;
        debug_assert_eq!(self.tables, 0);
    }
}
