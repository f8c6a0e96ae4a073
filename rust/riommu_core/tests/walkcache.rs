// SPDX-License-Identifier: GPL-2.0

//! A walk-cache model of the page tables (issue #17).
//!
//! QEMU's IOMMUs cache leaves only; real VT-d units also cache non-leaf
//! entries (the paging-structure caches: PML4E/PDPE/PDE caches) and real
//! SMMUs have walk caches.  A table page that the software unlinks can then
//! still be walked by the hardware until the right invalidation completes.
//! This test drives [`PageTable`] in the four formats the drivers use over a
//! model [`TableMem`] that is also a model IOMMU:
//!
//! - tables live in a map from address to `[u64; 512]`; addresses are never
//!   reused, and a released table goes to a `freed` set;
//! - `free_table` puts the table on the call's gather (as `HwGatherMem` /
//!   `GatherMem::free_table` -> `IotlbGather::defer_free` in
//!   `rust/riommu/hw.rs` and `pgtable.rs`); the gather is released only
//!   after the driver's `iotlb_sync` (`rust/riommu/vtable/domain_ops.rs`:
//!   after a map that unlinked tables, with the mapped range added; after
//!   the `iotlb_sync` that follows an unmap);
//! - the IOMMU has an IOTLB (leaves, and with VT-d's CAP.CM=1 not-present
//!   entries too) and a walk cache of table pointers keyed by
//!   `(level, iova >> level_shift(level))`; a DMA translation uses the
//!   deepest cached walk entry whenever there is one (the worst case) and
//!   reads the rest from memory, caching what it reads;
//! - DMA happens at any time: before and after every entry the software
//!   writes (in the region of that entry), when it frees a table, between
//!   operations;
//! - the flushes are those of `drivers/vtd/iommu.rs` + `unit.rs` (IOTLB /
//!   PASID-IOTLB invalidation, page-selective with IH=0 when CAP.PSI allows
//!   and the AM fits CAP.MAMV, else domain/PASID-selective; maps with
//!   CAP.CM=1 invalidate their range, with CM=0 nothing) and
//!   `drivers/smmuv3/paging.rs` (from `iotlb_sync`: the TLBIs by address of
//!   `riommu_core::smmuv3::tlbi::plan` over the gather's range, range or
//!   per-page as `IDR3.RIL` says, `Leaf` 1 unless the gather unlinked
//!   tables, with the `TTL` of `tlbi::Scope::of_gather` (the levels of the
//!   leaves the walker removed, `TableMem::leaf_removed`), or
//!   `TLBI_NH_ASID` / `TLBI_S12_VMALL` when no range is planned or the
//!   gather has tables but no range; + `CMD_SYNC`; nothing on map).  The
//!   model SMMU takes a `TTL` at its word: a range with `TTL` drops only
//!   the leaves of that level.
//!
//! Checked: a walk never reads a released table; after every operation
//! (map with its glue sync, unmap with its `iotlb_sync`) every cached leaf,
//! not-present entry and table pointer agrees with memory, and DMA
//! translates exactly as [`PageTable::lookup_at`]; for the Arm formats, no
//! valid entry is written (the "make") while the SMMU may still hold a
//! walk-cache entry or a leaf for that entry's region (break-before-make,
//! Arm ARM "TLB maintenance requirements and the TLB conflict", which the
//! SMMU follows: `F_TLB_CONFLICT`).
//!
//! Findings at this commit:
//!
//! - VT-d (both stages, CAP.CM 0 or 1, with or without CAP.PSI, any MAMV):
//!   no violation.  The driver's `map_pages` issues nothing with CM=0, but
//!   the glue (`domain_ops::map_pages`) calls `iotlb_sync` with the mapped
//!   range whenever the map unlinked tables, and that is a page-selective
//!   invalidation with IH=0 (or a domain/PASID-selective one), which drops
//!   the paging-structure caches for the range before the release.
//! - SMMUv3 (stage 1 and 2, with and without `IDR3.RIL`): no released
//!   table is ever walked (the glue's map sync is a TLBI by address with
//!   `Leaf` 0 over the mapped range, or `TLBI_NH_ASID` / `TLBI_S12_VMALL`,
//!   then a `CMD_SYNC`; since 2026-12-03 unmaps invalidate by address with
//!   `Leaf` 1, as `PageTable::unmap_pages` unlinks no table), and a
//!   block that replaces a table follows break-before-make: the LPAE
//!   formats set `Format::BREAK_BEFORE_MAKE`, so `PageTable::map_pages`
//!   clears the table entry, calls `TableMem::break_flush` (the driver's
//!   TLBI + `CMD_SYNC`; [`Hw`] models it as `inv_all`), and only then
//!   writes the block, as io-pgtable-arm's `arm_lpae_init_pte()` does
//!   through `__arm_lpae_unmap()`.  Before that, the walker wrote the
//!   block straight over the table descriptor that the walk cache held;
//!   `Variant::BreakWithoutFlush` (a `break_flush` that invalidates
//!   nothing) shows the check that caught it still fires.
//!
//! Counterfactual broken policies (no map sync, leaf-only invalidation in
//! the map sync, no invalidation after unmap, `TTL` from the unmap calls'
//! page size) show that the checks fire.

// Test code: std is fine, and the helpers need not be reachable.
#![allow(unreachable_pub, clippy::std_instead_of_core)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use common::Rng;
use riommu_core::errno::Errno;
use riommu_core::pt::{
    level_shift, level_size, Format, PageTable, Prot, TableMem, ENTRIES_PER_TABLE, TABLE_SIZE,
};
use riommu_core::smmuv3::lpae::{Stage1Lpae, Stage2Lpae, PTE_NG};
use riommu_core::smmuv3::tlbi;
use riommu_core::vtd::pte::{VtdFs4, VtdSs4};
use riommu_core::vtd::qi::page_selective_am_within;

const K4: u64 = 1 << 12;
const M2: u64 = 1 << 21;
const G1: u64 = 1 << 30;

/// IOTLB capacity of the model (random eviction beyond it).
const IOTLB_CAP: usize = 256;
/// Walk-cache capacity of the model (random eviction beyond it).
const WALK_CAP: usize = 64;
/// Violations kept in full (the rest are only counted).
const MAX_KEPT: usize = 64;

/// The IOMMU behind a page-table format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HwKind {
    /// VT-d (first or second stage).
    Vtd,
    /// SMMUv3 stage 1: leaves are tagged with the ASID only if `nG`, and
    /// `TLBI_NH_ASID` leaves global ones in place.
    SmmuS1,
    /// SMMUv3 stage 2 (`TLBI_S12_VMALL`).
    SmmuS2,
}

/// A format with the IOMMU that walks it.
trait Model: Format {
    const KIND: HwKind;
}

impl Model for VtdFs4 {
    const KIND: HwKind = HwKind::Vtd;
}

impl Model for VtdSs4 {
    const KIND: HwKind = HwKind::Vtd;
}

impl Model for Stage1Lpae {
    const KIND: HwKind = HwKind::SmmuS1;
}

impl Model for Stage2Lpae {
    const KIND: HwKind = HwKind::SmmuS2;
}

/// Which driver's flush policy the model applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Driver {
    /// riommu_vtd: `CAP.CM`, `CAP.PSI` and `CAP.MAMV` of the unit.
    Vtd { cm: bool, psi: bool, mamv: u32 },
    /// riommu_smmuv3, on an SMMU with or without `IDR3.RIL`.
    Smmu { ril: bool },
}

/// The driver's policy as it is, fixed, or deliberately broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    /// What the drivers and the glue do at this commit.
    Current,
    /// Counterfactual: `break_flush` invalidates nothing, so the SMMU may
    /// still hold the old table when the block is written (the walker's
    /// behaviour before break-before-make).
    BreakWithoutFlush,
    /// Counterfactual: a map that unlinks tables issues no invalidation and
    /// releases them at once (what CAP.CM=0 VT-d would do without the
    /// glue's map sync).
    MapNoSync,
    /// Counterfactual: the map sync invalidates leaves only (VT-d PSI with
    /// IH=1; SMMU TLBI by VA with Leaf=1) before the release.
    MapSyncLeafOnly,
    /// Counterfactual: `iotlb_sync` after an unmap invalidates nothing.
    UnmapNoSync,
    /// Counterfactual: the SMMU's range TLBIs take their `TTL` from the
    /// page size of the unmap calls (the core's `pgsize`), not from the
    /// levels of the leaves the walker removed.
    TtlFromPgsize,
}

/// The policy of one simulated domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Policy {
    driver: Driver,
    variant: Variant,
}

/// What a check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// A hardware walk read a released table.
    UseAfterFree,
    /// After an operation, a cached table pointer disagrees with memory.
    StaleWalk,
    /// After an operation, a cached leaf disagrees with memory.
    StaleLeaf,
    /// After an operation, a cached not-present entry hides a mapping.
    StaleNegative,
    /// After an operation, DMA translated differently from the software.
    StaleTranslation,
    /// An Arm table descriptor was replaced by a block while the SMMU may
    /// hold walk-cache entries for it (no break-before-make).
    BreakBeforeMake,
}

/// One violation found by the model.
#[derive(Clone, Debug)]
struct Violation {
    kind: Kind,
    /// Index of the operation during (or after) which it was found.
    op: usize,
    /// Details.
    what: String,
}

/// Counters, to show that the interesting paths were exercised.
#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    dmas: u64,
    walk_hits: u64,
    /// Tables released after a flush.
    released: u64,
    /// Tables a map unlinked (replaced by a leaf).
    map_unlinked: u64,
    /// Range (page-selective) invalidations that dropped walk caches.
    range_walk_flushes: u64,
    /// Domain-wide invalidations.
    all_flushes: u64,
    /// Breaks of the fixed SMMU policy.
    bbm_breaks: u64,
    /// SMMU TLBIs by address (range or per page).
    tlbis: u64,
    /// Of those, range TLBIs with a level hint (`TTL` != 0).
    ttl_tlbis: u64,
    maps: u64,
    unmaps: u64,
}

/// The model memory and IOMMU of one domain.
struct Hw<F: Model> {
    policy: Policy,
    /// Arm LPAE format: break-before-make applies.
    arm: bool,
    /// Domain invalidation is `TLBI_NH_ASID`, which keeps global leaves.
    asid_tlbi: bool,
    /// The IOMMU caches not-present entries (VT-d CAP.CM=1).
    neg_caching: bool,
    tables: BTreeMap<u64, Box<[u64; ENTRIES_PER_TABLE]>>,
    /// Level and base IOVA of every live table.
    info: BTreeMap<u64, (usize, u64)>,
    next: u64,
    root: u64,
    /// Tables unlinked by the current operation, not yet released.
    gather: Vec<u64>,
    /// Levels of the leaves the current unmap removed (the gather's
    /// `pt.leaf_levels_bitmap`, filled through `TableMem::leaf_removed`).
    leaf_levels: u8,
    /// Levels of the page sizes of the current unmap's calls (for
    /// `Variant::TtlFromPgsize`).
    pgsize_levels: u8,
    /// Released tables.
    freed: BTreeSet<u64>,
    /// Free tables at once (the domain's destruction, `HwTableMem`).
    direct_free: bool,
    /// Leaves: `(level, iova >> level_shift(level))` -> PTE.
    iotlb: BTreeMap<(usize, u64), u64>,
    /// Not-present entries: `(level, iova >> level_shift(level))`.
    neg: BTreeSet<(usize, u64)>,
    /// Table pointers: `(level, iova >> level_shift(level))` -> the table at
    /// `level - 1`.
    walk: BTreeMap<(usize, u64), u64>,
    /// DMA during table writes and frees.
    hooks: bool,
    rng: Rng,
    /// IOVAs recently mapped, for DMA.
    hot: Vec<u64>,
    op: usize,
    violations: Vec<Violation>,
    counts: BTreeMap<Kind, u64>,
    stats: Stats,
    _f: core::marker::PhantomData<F>,
}

fn overlaps(base: u64, size: u64, start: u64, end: u64) -> bool {
    base < end && start < base + size
}

impl<F: Model> Hw<F> {
    fn new(policy: Policy, seed: u64) -> Self {
        let arm = F::KIND != HwKind::Vtd;
        let neg_caching = matches!(policy.driver, Driver::Vtd { cm: true, .. });
        Hw {
            policy,
            arm,
            asid_tlbi: F::KIND == HwKind::SmmuS1,
            neg_caching,
            tables: BTreeMap::new(),
            info: BTreeMap::new(),
            next: 0x1000_0000,
            root: 0,
            gather: Vec::new(),
            leaf_levels: 0,
            pgsize_levels: 0,
            freed: BTreeSet::new(),
            direct_free: false,
            iotlb: BTreeMap::new(),
            neg: BTreeSet::new(),
            walk: BTreeMap::new(),
            hooks: true,
            rng: Rng::new(seed),
            hot: Vec::new(),
            op: 0,
            violations: Vec::new(),
            counts: BTreeMap::new(),
            stats: Stats::default(),
            _f: core::marker::PhantomData,
        }
    }

    const TOP: usize = F::LEVELS - 1;

    fn violation(&mut self, kind: Kind, what: String) {
        *self.counts.entry(kind).or_insert(0) += 1;
        if self.violations.len() < MAX_KEPT {
            self.violations.push(Violation {
                kind,
                op: self.op,
                what,
            });
        }
    }

    fn index(iova: u64, level: usize) -> usize {
        ((iova >> level_shift(level)) & 511) as usize
    }

    fn key(iova: u64, level: usize) -> (usize, u64) {
        (level, iova >> level_shift(level))
    }

    /// Inserts into a bounded cache, evicting a random entry when full.
    fn insert_bounded<V>(
        rng: &mut Rng,
        map: &mut BTreeMap<(usize, u64), V>,
        cap: usize,
        k: (usize, u64),
        v: V,
    ) {
        if map.len() >= cap && !map.contains_key(&k) {
            let victim = *map
                .keys()
                .nth(rng.below(map.len() as u64) as usize)
                .unwrap();
            map.remove(&victim);
        }
        map.insert(k, v);
    }

    /// One DMA translation of `iova` by the model IOMMU.
    fn dma(&mut self, iova: u64) -> Option<u64> {
        self.stats.dmas += 1;
        if iova >= level_size(F::LEVELS) {
            return None;
        }
        for level in 0..F::LEVELS {
            if let Some(&pte) = self.iotlb.get(&Self::key(iova, level)) {
                return Some(F::leaf_phys(pte, level) | (iova & (level_size(level) - 1)));
            }
            if self.neg.contains(&Self::key(iova, level)) {
                return None;
            }
        }
        // The deepest cached walk entry, if any (worst case: always used).
        let (mut table, mut level) = (self.root, Self::TOP);
        for l in 1..F::LEVELS {
            if let Some(&t) = self.walk.get(&Self::key(iova, l)) {
                self.stats.walk_hits += 1;
                (table, level) = (t, l - 1);
                break;
            }
        }
        loop {
            if self.freed.contains(&table) {
                self.violation(
                    Kind::UseAfterFree,
                    format!("DMA to {iova:#x} read released level-{level} table {table:#x}"),
                );
                return None;
            }
            let pte = self.tables.get(&table).expect("walk of an unknown table")
                [Self::index(iova, level)];
            if !F::is_present(pte) {
                if self.neg_caching && self.neg.len() < IOTLB_CAP {
                    self.neg.insert(Self::key(iova, level));
                }
                return None;
            }
            if level == 0 || F::is_leaf(pte, level) {
                Self::insert_bounded(
                    &mut self.rng,
                    &mut self.iotlb,
                    IOTLB_CAP,
                    Self::key(iova, level),
                    pte,
                );
                return Some(F::leaf_phys(pte, level) | (iova & (level_size(level) - 1)));
            }
            let next = F::table_addr(pte);
            Self::insert_bounded(
                &mut self.rng,
                &mut self.walk,
                WALK_CAP,
                Self::key(iova, level),
                next,
            );
            table = next;
            level -= 1;
        }
    }

    /// A DMA somewhere in `[base, base + size)`, or at a recently mapped IOVA.
    fn dma_in(&mut self, base: u64, size: u64) {
        let pages = size / K4;
        let off = if self.rng.chance(1, 2) {
            0
        } else {
            self.rng.below(pages) * K4
        };
        self.dma(base + off);
    }

    fn dma_hot(&mut self) {
        if !self.hot.is_empty() {
            let i = self.rng.below(self.hot.len() as u64) as usize;
            let iova = self.hot[i] + self.rng.below(4) * K4;
            self.dma(iova);
        }
    }

    /// Invalidates leaves (and not-present entries) overlapping
    /// `[start, end)`, and the walk caches too if `walk`.
    fn inv_range(&mut self, start: u64, end: u64, walk: bool) {
        self.inv_range_ttl(start, end, walk, None);
    }

    /// [`Self::inv_range`], with a level hint: `Some(l)` drops only the
    /// leaves at level `l` (an SMMU's `TTL`, taken at its word: entries of
    /// other levels may stay, the worst case).
    fn inv_range_ttl(&mut self, start: u64, end: u64, walk: bool, ttl_level: Option<usize>) {
        let hit =
            |&(l, idx): &(usize, u64)| overlaps(idx << level_shift(l), level_size(l), start, end);
        self.iotlb
            .retain(|k, _| !(hit(k) && ttl_level.is_none_or(|t| t == k.0)));
        self.neg.retain(|k| !hit(k));
        if walk {
            self.stats.range_walk_flushes += 1;
            self.walk.retain(|k, _| !hit(k));
        }
    }

    /// Invalidates everything of the domain (VT-d domain/PASID-selective,
    /// SMMU TLBI_NH_ASID / TLBI_S12_VMALL), and waits.
    fn inv_all(&mut self) {
        self.stats.all_flushes += 1;
        if self.asid_tlbi {
            self.iotlb.retain(|_, pte| *pte & PTE_NG == 0);
        } else {
            self.iotlb.clear();
        }
        self.neg.clear();
        self.walk.clear();
    }

    /// Releases the gather's tables (the glue, after `iotlb_sync`).
    fn release(&mut self) {
        for t in core::mem::take(&mut self.gather) {
            self.really_free(t);
            self.stats.released += 1;
        }
    }

    fn really_free(&mut self, t: u64) {
        self.tables.remove(&t).expect("release of an unknown table");
        self.info.remove(&t);
        assert!(self.freed.insert(t), "table {t:#x} released twice");
    }

    /// `unit.range_flush()` (or `domain_flush()` for `None`) + wait; `ih`
    /// is the invalidation hint (the driver always uses IH=0).
    fn vtd_flush(&mut self, range: Option<(u64, u64)>, ih: bool) {
        let Driver::Vtd { psi, mamv, .. } = self.policy.driver else {
            unreachable!()
        };
        match range {
            Some((start, end)) if psi => {
                let npages = (end - start).div_ceil(K4);
                match page_selective_am_within(start, npages, mamv) {
                    Some((addr, am)) => self.inv_range(addr, addr + (K4 << am), !ih),
                    None => self.inv_all(),
                }
            }
            _ => self.inv_all(),
        }
    }

    /// The driver's `iotlb_sync` for a gather with range `[start, last]`
    /// (`IotlbGather::range`) and `frees` (`IotlbGather::frees_tables`).
    fn iotlb_sync(&mut self, range: Option<(u64, u64)>, frees: bool) {
        match self.policy.driver {
            // VtdPaging::iotlb_sync.
            Driver::Vtd { .. } => match range {
                Some((start, last)) => self.vtd_flush(Some((start, last.saturating_add(1))), false),
                None if frees => self.vtd_flush(None, false),
                None => {}
            },
            // SmmuPaging::iotlb_sync and flush_range: a TLBI by address
            // with Leaf 1 drops the leaves of its range, with Leaf 0 every
            // cached entry that translates an address in it.
            Driver::Smmu { ril } => match range {
                Some((start, last)) => {
                    // Unmaps unlink no table (`PageTable::unmap_pages`);
                    // a map that replaced tables by a leaf syncs with its
                    // range and `frees`, after its break-before-make flush.
                    // Leaf 1 unless tables were unlinked, TTL from the
                    // levels the unmap removed (`Scope::of_gather`).
                    let levels = if self.policy.variant == Variant::TtlFromPgsize {
                        self.pgsize_levels
                    } else {
                        self.leaf_levels
                    };
                    let scope = tlbi::Scope::of_gather(frees, levels);
                    match tlbi::plan(start, last - start + 1, scope, ril) {
                        Some(plan) => {
                            for r in plan {
                                self.stats.tlbis += 1;
                                if r.ttl != 0 {
                                    self.stats.ttl_tlbis += 1;
                                }
                                // TTL 3 - level (4 KiB granule).
                                let ttl_level = (r.ttl != 0).then(|| 3 - usize::from(r.ttl));
                                self.inv_range_ttl(
                                    r.addr,
                                    r.addr + tlbi::covered(&r),
                                    !r.leaf,
                                    ttl_level,
                                );
                            }
                        }
                        None => self.inv_all(),
                    }
                }
                None if frees => self.inv_all(),
                None => {}
            },
        }
    }

    /// The map sync of a counterfactual leaf-only policy.
    fn leaf_only_sync(&mut self, start: u64, end: u64) {
        match self.policy.driver {
            Driver::Vtd { .. } => self.vtd_flush(Some((start, end)), true),
            Driver::Smmu { .. } => self.inv_range(start, end, false),
        }
    }

    /// The entry at `level` on the software's path to `iova` (`None` if
    /// the path ends above `level`).
    fn sw_entry(&self, iova: u64, level: usize) -> Option<u64> {
        let mut table = self.root;
        let mut cur = Self::TOP;
        loop {
            let pte = self.tables[&table][Self::index(iova, cur)];
            if cur == level {
                return Some(pte);
            }
            if !F::is_present(pte) || F::is_leaf(pte, cur) {
                return None;
            }
            table = F::table_addr(pte);
            cur -= 1;
        }
    }

    /// Whether any leaf is reachable from `table` at `level`.
    fn has_leaf(&self, table: u64, level: usize) -> bool {
        self.tables[&table].iter().any(|&pte| {
            F::is_present(pte)
                && (level == 0
                    || F::is_leaf(pte, level)
                    || self.has_leaf(F::table_addr(pte), level - 1))
        })
    }

    /// Checks every cached entry against memory (between operations).
    fn check_caches(&mut self) {
        let mut found = Vec::new();
        for (&(l, idx), &t) in &self.walk {
            let iova = idx << level_shift(l);
            let ok = self.sw_entry(iova, l).is_some_and(|pte| {
                F::is_present(pte) && !F::is_leaf(pte, l) && F::table_addr(pte) == t
            });
            if !ok {
                found.push((
                    Kind::StaleWalk,
                    format!(
                        "walk cache: level {l} of {iova:#x} -> {t:#x}, memory {:?}",
                        self.sw_entry(iova, l).map(|p| format!("{p:#x}"))
                    ),
                ));
            }
        }
        for (&(l, idx), &pte) in &self.iotlb {
            let iova = idx << level_shift(l);
            if self.sw_entry(iova, l) != Some(pte) {
                found.push((
                    Kind::StaleLeaf,
                    format!("IOTLB: level {l} leaf {pte:#x} at {iova:#x} no longer in memory"),
                ));
            }
        }
        for &(l, idx) in &self.neg {
            let iova = idx << level_shift(l);
            let hides = match self.sw_entry(iova, l) {
                Some(pte) if F::is_present(pte) => {
                    l == 0 || F::is_leaf(pte, l) || self.has_leaf(F::table_addr(pte), l - 1)
                }
                _ => false,
            };
            if hides {
                found.push((
                    Kind::StaleNegative,
                    format!("not-present entry cached at level {l} of {iova:#x} hides a mapping"),
                ));
            }
        }
        for (kind, what) in found {
            self.violation(kind, what);
        }
    }
}

impl<F: Model> TableMem for Hw<F> {
    /// The driver's TLBI + CMD_SYNC between break and make (VT-d formats
    /// never ask for it).
    fn break_flush(&mut self, _iova: u64, _size: u64) -> Result<(), Errno> {
        assert!(F::BREAK_BEFORE_MAKE);
        self.stats.bbm_breaks += 1;
        if self.policy.variant != Variant::BreakWithoutFlush {
            self.inv_all();
        }
        Ok(())
    }

    fn alloc_table(&mut self) -> Result<u64, Errno> {
        let t = self.next;
        self.next += TABLE_SIZE;
        self.tables.insert(t, Box::new([0; ENTRIES_PER_TABLE]));
        Ok(t)
    }

    fn free_table(&mut self, table: u64) {
        assert!(
            self.tables.contains_key(&table),
            "free of an unknown table {table:#x}"
        );
        assert!(
            !self.gather.contains(&table),
            "table {table:#x} freed twice"
        );
        if self.direct_free {
            self.really_free(table);
            return;
        }
        self.stats.map_unlinked += 1;
        self.gather.push(table);
        if self.hooks {
            self.dma_hot();
        }
    }

    fn leaf_removed(&mut self, level: usize) {
        self.leaf_levels |= 1 << level;
    }

    fn read(&self, table: u64, index: usize) -> u64 {
        assert!(
            !self.freed.contains(&table),
            "software read released table {table:#x}"
        );
        self.tables[&table][index]
    }

    fn write(&mut self, table: u64, index: usize, value: u64) {
        let (level, base) = self.info[&table];
        let region = base + ((index as u64) << level_shift(level));
        let size = level_size(level);
        let old = self.tables[&table][index];
        if self.hooks && F::is_present(old) {
            // The hardware walked here just before (worst case).
            self.dma(region);
            self.dma_in(region, size);
        }
        if self.arm && F::is_present(value) && value != old {
            // Make: nothing the SMMU may still hold for this entry or
            // below it (a walk-cache entry or a leaf inside its region).
            let inside = |&(l, idx): &(usize, u64)| {
                let b = idx << level_shift(l);
                l <= level && b >= region && b < region + size
            };
            let walk = self.walk.keys().filter(|k| inside(k)).count();
            let leaves = self.iotlb.keys().filter(|k| inside(k)).count();
            if walk + leaves > 0 {
                self.violation(
                    Kind::BreakBeforeMake,
                    format!(
                        "level-{level} entry for {region:#x}: {old:#x} -> {value:#x} while the SMMU \
                         holds {walk} walk-cache and {leaves} leaf entries for it"
                    ),
                );
            }
        }
        self.tables.get_mut(&table).unwrap()[index] = value;
        if level > 0 && F::is_present(value) && !F::is_leaf(value, level) {
            self.info.insert(F::table_addr(value), (level - 1, region));
        }
        if self.hooks {
            self.dma_in(region, size);
        }
    }
}

/// A domain: its page table and the model hardware.
struct Sim<F: Model> {
    pt: PageTable<F>,
    hw: Hw<F>,
    /// The operations so far, for reports.
    log: Vec<String>,
}

impl<F: Model> Sim<F> {
    fn new(policy: Policy, seed: u64) -> Self {
        let mut hw = Hw::<F>::new(policy, seed);
        let pt = PageTable::new(&mut hw).unwrap();
        hw.root = pt.root();
        hw.info.insert(pt.root(), (F::LEVELS - 1, 0));
        Sim {
            pt,
            hw,
            log: Vec::new(),
        }
    }

    /// `iommu_map()` of one `map_pages` call: the driver's map, then the
    /// glue's sync and release if tables were unlinked.
    fn map(
        &mut self,
        iova: u64,
        paddr: u64,
        pgsize: u64,
        pgcount: u64,
    ) -> (u64, Result<(), Errno>) {
        self.hw.op += 1;
        self.hw.stats.maps += 1;
        self.log.push(format!(
            "map({iova:#x}, {paddr:#x}, {pgsize:#x} x {pgcount})"
        ));
        let (done, r) =
            self.pt
                .map_pages(&mut self.hw, iova, paddr, pgsize, pgcount, Prot::READ_WRITE);
        let hw = &mut self.hw;
        // VtdPaging::map_pages: CAP.CM=1 flushes the mapped range; CAP.RWBF
        // (write-buffer flush) does not touch the caches.  SmmuPaging: none.
        if let Driver::Vtd { cm: true, .. } = hw.policy.driver {
            if done > 0 {
                hw.vtd_flush(Some((iova, iova + done)), false);
            }
        }
        // domain_ops::map_pages.
        if !hw.gather.is_empty() {
            let (start, end) = (iova, iova + done.max(pgsize));
            match hw.policy.variant {
                Variant::MapNoSync => {}
                Variant::MapSyncLeafOnly => hw.leaf_only_sync(start, end),
                _ => hw.iotlb_sync(Some((start, end - 1)), true),
            }
            hw.release();
        }
        if done > 0 {
            hw.hot.push(iova);
            if hw.hot.len() > 64 {
                hw.hot.remove(0);
            }
        }
        self.after_op();
        (done, r)
    }

    /// `iommu_unmap()`: `unmap_pages` calls into one gather, then
    /// `iotlb_sync`.
    fn unmap(&mut self, calls: &[(u64, u64, u64)]) -> u64 {
        self.hw.op += 1;
        self.hw.stats.unmaps += 1;
        self.log.push(format!("unmap({calls:x?})"));
        let mut range: Option<(u64, u64)> = None;
        let mut total = 0;
        // A new gather (`iommu_iotlb_gather_init()` zeroes the bitmaps).
        self.hw.leaf_levels = 0;
        self.hw.pgsize_levels = 0;
        for &(iova, pgsize, pgcount) in calls {
            self.hw.pgsize_levels |= 1 << ((pgsize.trailing_zeros() - 12) / 9);
            let n = self.pt.unmap_pages(&mut self.hw, iova, pgsize, pgcount);
            total += n;
            // HwPageTable / LockedPageTable::unmap_pages: add_range(iova, n).
            if n > 0 {
                let last = iova + n - 1;
                range = Some(range.map_or((iova, last), |(s, e)| (s.min(iova), e.max(last))));
            }
        }
        let hw = &mut self.hw;
        let frees = !hw.gather.is_empty();
        if hw.policy.variant != Variant::UnmapNoSync {
            hw.iotlb_sync(range, frees);
        }
        if frees {
            hw.release();
        }
        self.after_op();
        total
    }

    /// `flush_iotlb_all`.
    fn flush_all(&mut self) {
        self.hw.op += 1;
        self.log.push("flush_iotlb_all".into());
        self.hw.inv_all();
        self.after_op();
    }

    /// A DMA (with hooks on, it may cache anything it walks).
    fn dma(&mut self, iova: u64) -> Option<u64> {
        self.hw.dma(iova)
    }

    /// Checks after an operation: caches against memory, and DMA against
    /// the software's lookup.
    fn after_op(&mut self) {
        assert!(self.hw.gather.is_empty(), "tables left on the gather");
        self.hw.check_caches();
        let n = self.hw.hot.len().min(4);
        for _ in 0..n {
            let i = self.hw.rng.below(self.hw.hot.len() as u64) as usize;
            let iova = self.hw.hot[i] + self.hw.rng.below(8) * K4;
            self.check_dma(iova);
        }
    }

    /// DMA to `iova` translates as the software's page table.
    fn check_dma(&mut self, iova: u64) {
        let want = PageTable::<F>::lookup_at(&self.hw, self.hw.root, iova).map(|l| l.phys);
        let got = self.hw.dma(iova);
        if got != want {
            self.hw.violation(
                Kind::StaleTranslation,
                format!("DMA to {iova:#x} gave {got:x?}, the page table says {want:x?}"),
            );
        }
    }

    /// Destroys the domain as the drivers do: invalidate the domain id
    /// (VT-d `Did::drop`, SMMU `SmmuPaging::drop`), then free every table
    /// at once.
    fn destroy(mut self) -> Hw<F> {
        self.hw.hooks = false;
        self.hw.inv_all();
        self.hw.direct_free = true;
        self.pt.free_all(&mut self.hw);
        assert!(self.hw.tables.is_empty(), "tables leaked");
        assert!(self.hw.walk.is_empty() && self.hw.iotlb.is_empty());
        self.hw
    }

    fn count(&self, kind: Kind) -> u64 {
        self.hw.counts.get(&kind).copied().unwrap_or(0)
    }

    fn total(&self) -> u64 {
        self.hw.counts.values().sum()
    }

    fn report(&self) -> String {
        let mut s = format!(
            "{:?}: counts {:?}, stats {:?}\n",
            self.hw.policy, self.hw.counts, self.hw.stats
        );
        if let Some(v) = self.hw.violations.first() {
            let _ = writeln!(s, "first: {:?} at op {}: {}", v.kind, v.op, v.what);
            let from = v.op.saturating_sub(6);
            for (i, op) in self.log.iter().enumerate().take(v.op).skip(from) {
                let _ = writeln!(s, "  op {}: {op}", i + 1);
            }
        }
        s
    }
}

// ---- policies ---------------------------------------------------------

const VTD_CURRENT: [Driver; 5] = [
    Driver::Vtd {
        cm: false,
        psi: true,
        mamv: 18,
    },
    Driver::Vtd {
        cm: true,
        psi: true,
        mamv: 18,
    },
    Driver::Vtd {
        cm: false,
        psi: true,
        mamv: 9,
    },
    Driver::Vtd {
        cm: true,
        psi: true,
        mamv: 0,
    },
    Driver::Vtd {
        cm: false,
        psi: false,
        mamv: 0,
    },
];

fn vtd(cm: bool) -> Policy {
    Policy {
        driver: Driver::Vtd {
            cm,
            psi: true,
            mamv: 18,
        },
        variant: Variant::Current,
    }
}

fn smmu(variant: Variant) -> Policy {
    Policy {
        driver: Driver::Smmu { ril: true },
        variant,
    }
}

// ---- targeted sequences -------------------------------------------------

/// Map a 4 KiB page at `x`, DMA to it, unmap it, DMA again (the walk
/// caches the now empty tables), then map a `big` leaf over the empty
/// tables: `map_pages` replaces the table by the leaf and unlinks it.
fn replace_empty_table<F: Model>(policy: Policy, big: u64) -> Sim<F> {
    let mut sim = Sim::<F>::new(policy, 7);
    let x = X;
    assert_eq!(sim.map(x, 0x4000_0000, K4, 1), (K4, Ok(())));
    assert_eq!(sim.dma(x), Some(0x4000_0000));
    assert_eq!(sim.unmap(&[(x, K4, 1)]), K4);
    assert_eq!(sim.dma(x), None);
    // The walk cache now holds the pointers down to the empty tables.
    assert!(sim.hw.walk.contains_key(&(1, x >> 21)), "{:?}", sim.hw.walk);
    let base = x & !(big - 1);
    assert_eq!(sim.map(base, BIG_PHYS, big, 1), (big, Ok(())));
    let _ = sim.dma(x);
    sim.after_op();
    sim
}

/// Where [`replace_empty_table`] maps its large leaf.
const BIG_PHYS: u64 = 0x80_0000_0000;
/// The IOVA [`replace_empty_table`] maps with 4 KiB first.
const X: u64 = 3 * G1 + 5 * M2 + 7 * K4;

/// DMA to [`X`] after [`replace_empty_table`] reaches the large leaf.
fn assert_big_translation<F: Model>(sim: &mut Sim<F>, big: u64) {
    assert_eq!(sim.dma(X), Some(BIG_PHYS + (X & (big - 1))));
}

fn replace_checks<F: Model>(big: u64, unlinked: u64) {
    for cm in [false, true] {
        let mut sim = replace_empty_table::<F>(vtd(cm), big);
        assert_big_translation(&mut sim, big);
        assert_eq!(sim.total(), 0, "{}", sim.report());
        assert_eq!(sim.hw.stats.released, unlinked);
        assert_eq!(sim.hw.freed.len() as u64, unlinked);
        // Nothing cached points to a released table.
        assert!(sim.hw.walk.values().all(|t| !sim.hw.freed.contains(t)));
        sim.destroy();
    }
}

#[test]
fn vtd_fs_map_2m_over_empty_table_flushes_pde_cache() {
    replace_checks::<VtdFs4>(M2, 1);
}

#[test]
fn vtd_ss_map_2m_over_empty_table_flushes_pde_cache() {
    replace_checks::<VtdSs4>(M2, 1);
}

#[test]
fn vtd_fs_map_1g_over_empty_tables_flushes_pdpe_cache() {
    replace_checks::<VtdFs4>(G1, 2);
}

#[test]
fn vtd_ss_map_1g_over_empty_tables_flushes_pdpe_cache() {
    replace_checks::<VtdSs4>(G1, 2);
}

/// Without the glue's map sync (or with IH=1), the PDE cache keeps the
/// pointer to the released table and the next DMA walks it.
#[test]
fn vtd_counterfactual_map_without_walk_flush_reads_freed_table() {
    for variant in [Variant::MapNoSync, Variant::MapSyncLeafOnly] {
        for big in [M2, G1] {
            let policy = Policy {
                driver: Driver::Vtd {
                    cm: false,
                    psi: true,
                    mamv: 18,
                },
                variant,
            };
            let sim = replace_empty_table::<VtdFs4>(policy, big);
            assert!(sim.count(Kind::UseAfterFree) > 0, "{}", sim.report());
            let sim = replace_empty_table::<VtdSs4>(policy, big);
            assert!(sim.count(Kind::UseAfterFree) > 0, "{}", sim.report());
        }
    }
}

/// Without a flush between break and make, the block is written while the
/// walk cache holds the table descriptor it replaces.
fn smmu_break_without_flush_violates_bbm<F: Model>() {
    for big in [M2, G1] {
        let mut sim = replace_empty_table::<F>(smmu(Variant::BreakWithoutFlush), big);
        assert_big_translation(&mut sim, big);
        assert_eq!(sim.count(Kind::BreakBeforeMake), 1, "{}", sim.report());
        assert_eq!(sim.total(), 1, "only BBM expected: {}", sim.report());
        assert_eq!(sim.hw.stats.released, if big == M2 { 1 } else { 2 });
        sim.destroy();
    }
}

#[test]
fn smmu_s1_break_without_flush_violates_bbm() {
    smmu_break_without_flush_violates_bbm::<Stage1Lpae>();
}

#[test]
fn smmu_s2_break_without_flush_violates_bbm() {
    smmu_break_without_flush_violates_bbm::<Stage2Lpae>();
}

/// The walker and driver as they are: break, TLBI + CMD_SYNC, make.
fn smmu_current_passes<F: Model>() {
    for big in [M2, G1] {
        let mut sim = replace_empty_table::<F>(smmu(Variant::Current), big);
        assert_big_translation(&mut sim, big);
        assert_eq!(sim.total(), 0, "{}", sim.report());
        assert_eq!(sim.hw.stats.bbm_breaks, 1);
        assert_eq!(sim.hw.stats.released, if big == M2 { 1 } else { 2 });
        sim.destroy();
    }
}

#[test]
fn smmu_s1_block_over_table_breaks_before_make() {
    smmu_current_passes::<Stage1Lpae>();
}

#[test]
fn smmu_s2_block_over_table_breaks_before_make() {
    smmu_current_passes::<Stage2Lpae>();
}

/// On the SMMU the break-before-make flush already drops the walk cache
/// before the table is unlinked: even a leaf-only TLBI in the map sync (or
/// none) cannot let a walk reach the released table.  (On VT-d, which
/// has no such flush, the same counterfactuals do:
/// `vtd_counterfactual_map_without_walk_flush_reads_freed_table`.)
#[test]
fn smmu_break_flush_covers_a_weak_map_sync() {
    for variant in [Variant::MapSyncLeafOnly, Variant::MapNoSync] {
        for big in [M2, G1] {
            let sim = replace_empty_table::<Stage1Lpae>(smmu(variant), big);
            assert_eq!(sim.count(Kind::UseAfterFree), 0, "{}", sim.report());
            assert_eq!(sim.hw.stats.bbm_breaks, 1, "{}", sim.report());
        }
    }
}

/// Without invalidation after an unmap, the IOTLB keeps the leaf.
fn unmap_without_sync_is_stale<F: Model>(driver: Driver) {
    let mut sim = Sim::<F>::new(
        Policy {
            driver,
            variant: Variant::UnmapNoSync,
        },
        3,
    );
    assert_eq!(sim.map(M2, 0x1234_5000, K4, 1), (K4, Ok(())));
    assert_eq!(sim.dma(M2), Some(0x1234_5000));
    assert_eq!(sim.unmap(&[(M2, K4, 1)]), K4);
    assert!(sim.count(Kind::StaleLeaf) > 0, "{}", sim.report());
    sim.check_dma(M2);
    assert!(sim.count(Kind::StaleTranslation) > 0, "{}", sim.report());
}

#[test]
fn counterfactual_unmap_without_sync_is_stale() {
    unmap_without_sync_is_stale::<VtdFs4>(VTD_CURRENT[0]);
    unmap_without_sync_is_stale::<VtdSs4>(VTD_CURRENT[1]);
    for ril in [true, false] {
        unmap_without_sync_is_stale::<Stage1Lpae>(Driver::Smmu { ril });
        unmap_without_sync_is_stale::<Stage2Lpae>(Driver::Smmu { ril });
    }
}

// ---- random sequences -----------------------------------------------------

/// A random IOVA aligned to `pgsize`, concentrated on a few 1 GiB slots
/// of two top-level entries so that maps and unmaps collide.
fn random_iova(rng: &mut Rng, pgsize: u64) -> u64 {
    let zone = if rng.chance(1, 8) { 1u64 << 39 } else { 0 };
    let g = zone + rng.below(4) * G1;
    match pgsize {
        G1 => g,
        M2 => g + rng.below(8) * M2,
        _ => {
            let m = g + rng.below(8) * M2;
            if rng.chance(1, 10) {
                m + (500 + rng.below(12)) * K4
            } else {
                m + rng.below(32) * K4
            }
        }
    }
}

fn random_pgsize(rng: &mut Rng) -> u64 {
    match rng.below(20) {
        0..=9 => K4,
        10..=16 => M2,
        _ => G1,
    }
}

fn random_run<F: Model>(policy: Policy, seed: u64, ops: usize) -> Sim<F> {
    let mut sim = Sim::<F>::new(policy, seed);
    let mut rng = Rng::new(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut maps: Vec<(u64, u64, u64)> = Vec::new();
    for _ in 0..ops {
        match rng.below(100) {
            0..=44 => {
                let pgsize = random_pgsize(&mut rng);
                let iova = random_iova(&mut rng, pgsize);
                let pgcount = match pgsize {
                    K4 if rng.chance(1, 30) => 1 + rng.below(600),
                    K4 => 1 + rng.below(4),
                    M2 => 1 + rng.below(3),
                    _ => 1 + rng.below(2),
                };
                let paddr = (rng.below(1 << 16) * G1 + rng.below(1 << 18) * K4) & !(pgsize - 1);
                let (done, _) = sim.map(iova, paddr, pgsize, pgcount);
                if done > 0 {
                    maps.push((iova, pgsize, done / pgsize));
                }
            }
            45..=84 => {
                let call = if !maps.is_empty() && rng.chance(7, 10) {
                    let (iova, pgsize, count) =
                        maps.swap_remove(rng.below(maps.len() as u64) as usize);
                    if pgsize > K4 && rng.chance(1, 4) {
                        // Unmapping a large leaf with small pages removes it whole.
                        (iova, K4, count * pgsize / K4)
                    } else {
                        (iova, pgsize, count)
                    }
                } else {
                    let pgsize = random_pgsize(&mut rng);
                    (random_iova(&mut rng, pgsize), pgsize, 1 + rng.below(3))
                };
                if rng.chance(1, 5) {
                    // iommu_unmap() splitting a range: two calls, one gather.
                    let pgsize = random_pgsize(&mut rng);
                    let other = (random_iova(&mut rng, pgsize), pgsize, 1);
                    sim.unmap(&[call, other]);
                } else {
                    sim.unmap(&[call]);
                }
            }
            85..=98 => {
                for _ in 0..8 {
                    sim.hw.dma_hot();
                }
            }
            _ => sim.flush_all(),
        }
    }
    sim
}

const RANDOM_OPS: usize = 4000;

fn random_current_vtd<F: Model>(seed: u64) {
    for (i, driver) in VTD_CURRENT.into_iter().enumerate() {
        let policy = Policy {
            driver,
            variant: Variant::Current,
        };
        let sim = random_run::<F>(policy, seed + i as u64, RANDOM_OPS);
        assert_eq!(sim.total(), 0, "{}", sim.report());
        let s = sim.hw.stats;
        eprintln!("{}", sim.report());
        assert!(s.released > 0 && s.walk_hits > 0 && s.dmas > 0, "{s:?}");
        sim.destroy();
    }
}

#[test]
fn random_vtd_fs_current_policy() {
    random_current_vtd::<VtdFs4>(100);
}

#[test]
fn random_vtd_ss_current_policy() {
    random_current_vtd::<VtdSs4>(200);
}

fn random_smmu<F: Model>(seed: u64) {
    let sim = random_run::<F>(smmu(Variant::BreakWithoutFlush), seed, RANDOM_OPS);
    eprintln!("{}", sim.report());
    assert!(sim.count(Kind::BreakBeforeMake) > 0, "{}", sim.report());
    assert_eq!(
        sim.total(),
        sim.count(Kind::BreakBeforeMake),
        "{}",
        sim.report()
    );
    sim.destroy();
    for ril in [true, false] {
        let policy = Policy {
            driver: Driver::Smmu { ril },
            variant: Variant::Current,
        };
        let sim = random_run::<F>(policy, seed, RANDOM_OPS);
        assert_eq!(sim.total(), 0, "{}", sim.report());
        let s = sim.hw.stats;
        eprintln!("{}", sim.report());
        assert!(
            s.released > 0 && s.bbm_breaks > 0 && s.walk_hits > 0 && s.tlbis > 0,
            "{s:?}"
        );
        // With RIL, most unmaps' ranges carry a level hint.
        assert_eq!(s.ttl_tlbis > 0, ril, "{s:?}");
        sim.destroy();
    }
    // TTL from the calls' page size is caught: unmapping a large leaf with
    // small pages names the wrong level.
    let sim = random_run::<F>(smmu(Variant::TtlFromPgsize), seed, RANDOM_OPS);
    eprintln!("{}", sim.report());
    assert!(sim.count(Kind::StaleLeaf) > 0, "{}", sim.report());
    sim.destroy();
}

/// The `TTL` of an unmap's range TLBI names the level of the leaves the
/// walker removed: unmapping a 2 MiB leaf with 4 KiB pages (the walker
/// removes it whole) gives `TTL` 2, and the SMMU drops the 2 MiB entry.
/// With `TTL` from the calls' page size (3, 4 KiB) it keeps it.
fn smmu_ttl_names_removed_level<F: Model>() {
    for (variant, stale) in [(Variant::Current, false), (Variant::TtlFromPgsize, true)] {
        let mut sim = Sim::<F>::new(smmu(variant), 11);
        let x = 5 * M2;
        assert_eq!(sim.map(x, 0x4000_0000, M2, 1), (M2, Ok(())));
        assert_eq!(sim.dma(x + K4), Some(0x4000_0000 + K4));
        assert!(sim.hw.iotlb.contains_key(&(1, x >> 21)));
        assert_eq!(sim.unmap(&[(x, K4, 512)]), M2);
        assert_eq!(sim.hw.leaf_levels, 0b10);
        assert_eq!(sim.hw.stats.ttl_tlbis, 1);
        assert_eq!(sim.hw.iotlb.contains_key(&(1, x >> 21)), stale);
        assert_eq!(sim.count(Kind::StaleLeaf) > 0, stale, "{}", sim.report());
        sim.destroy();
    }
    // Two levels in one gather: no hint, both dropped.
    let mut sim = Sim::<F>::new(smmu(Variant::Current), 12);
    let (a, b) = (7 * M2, 9 * M2);
    assert_eq!(sim.map(a, 0x4000_0000, M2, 1), (M2, Ok(())));
    assert_eq!(sim.map(b, 0x5000_0000, K4, 1), (K4, Ok(())));
    assert!(sim.dma(a).is_some() && sim.dma(b).is_some());
    sim.unmap(&[(a, M2, 1), (b, K4, 1)]);
    assert_eq!(sim.hw.leaf_levels, 0b11);
    assert_eq!(sim.hw.stats.ttl_tlbis, 0);
    assert_eq!(sim.total(), 0, "{}", sim.report());
    sim.destroy();
}

#[test]
fn smmu_s1_ttl_names_removed_level() {
    smmu_ttl_names_removed_level::<Stage1Lpae>();
}

#[test]
fn smmu_s2_ttl_names_removed_level() {
    smmu_ttl_names_removed_level::<Stage2Lpae>();
}

#[test]
fn random_smmu_s1_current_passes_break_without_flush_violates() {
    random_smmu::<Stage1Lpae>(300);
}

#[test]
fn random_smmu_s2_current_passes_break_without_flush_violates() {
    random_smmu::<Stage2Lpae>(400);
}

/// The counterfactual policies are caught by random sequences too.
#[test]
fn random_counterfactuals_detected() {
    for (variant, kind) in [
        (Variant::MapNoSync, Kind::UseAfterFree),
        (Variant::MapSyncLeafOnly, Kind::UseAfterFree),
        (Variant::UnmapNoSync, Kind::StaleLeaf),
        (Variant::UnmapNoSync, Kind::StaleTranslation),
    ] {
        let policy = Policy {
            driver: VTD_CURRENT[0],
            variant,
        };
        let sim = random_run::<VtdSs4>(policy, 500, 1500);
        eprintln!("{}", sim.report());
        assert!(sim.count(kind) > 0, "{kind:?} not found: {}", sim.report());
        // The SMMU's break-before-make flush covers a weak map sync
        // (`smmu_break_flush_covers_a_weak_map_sync`); not a missing
        // unmap sync.
        let sim = random_run::<Stage2Lpae>(smmu(variant), 600, 1500);
        if variant == Variant::UnmapNoSync {
            assert!(sim.count(kind) > 0, "{kind:?} not found: {}", sim.report());
        } else {
            assert_eq!(sim.count(kind), 0, "{}", sim.report());
        }
    }
}
