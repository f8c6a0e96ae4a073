// SPDX-License-Identifier: GPL-2.0

//! The TLB invalidations by address that cover an unmapped IOVA range
//! (§4.4.1, "range invalidation"), as Linux 7.3's
//! `arm_smmu_cmdq_batch_add_range()` and `arm_smmu_inv_size_too_big()`
//! (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c) plan them:
//!
//! - with `SMMU_IDR3.RIL`, a few range commands: each covers the lowest
//!   five set bits left of the range's page count, `(NUM + 1) * 2^SCALE`
//!   4 KiB pages (`TG` = 4 KiB);
//! - without, one command per 4 KiB page, unless that would take
//!   [`MAX_TLBI_OPS`] commands or more: then nothing (the caller
//!   invalidates the whole ASID or VMID).
//!
//! riommu's tables have one granule, 4 KiB.  What an invalidation must
//! drop is its [`Scope`], from the unmap's gather:
//!
//! - [`Scope::Leaf`] (`Leaf` 1, only last-level entries) for unmaps that
//!   unlinked no table.  When every leaf they removed was at one level
//!   (the gather's `pt.leaf_levels_bitmap` has one bit, as generic_pt
//!   fills it), the range commands carry that level as the hint `TTL`
//!   (`3 - level`: 3 for 4 KiB leaves, 2 for 2 MiB, 1 for 1 GiB, as the C
//!   driver's `4 - ((ilog2(granule) - 3) / (tg - 3))` for a leaf of size
//!   `granule`), and without `RIL` one command per leaf (the C driver's
//!   `inv_range = granule`).  Otherwise `TTL` is 0 (any level).
//! - [`Scope::Walk`] (`Leaf` 0, every level, walk caches included) when
//!   tables were unlinked: the walk caches must drop them too.
//!
//! With `TTL` 0 a range of `NUM` 0 and `SCALE` 0 is avoided, as the C driver
//! does for its non-leaf ranges ("for various errata reasons"): a count
//! whose low five bits are 1 is rounded up by one page.  Invalidating more
//! than was unmapped is always correct; a `TTL` names the level of every
//! leaf the range must drop (§4.4.1: entries of other levels need not be
//! invalidated), which is why it comes from the levels the walker actually
//! removed and not from the unmap call's page size (unmapping 4 KiB pages
//! over a 2 MiB leaf removes the 2 MiB leaf).

use super::super::pt::BITS_PER_LEVEL;
use super::cmdq::TlbiRange;

/// log2 of the invalidation granule: riommu's SMMUv3 tables are 4 KiB.
pub const GRANULE_LG2: u32 = 12;

/// Without range invalidation, the number of per-page commands from which
/// one invalidation of the whole ASID or VMID is used instead
/// (`arm_smmu_inv_size_too_big()`: `1 << (ilog2(granule) - 3)`, borrowed
/// from arm64's `MAX_TLBI_OPS`).
pub const MAX_TLBI_OPS: u64 = 1 << (GRANULE_LG2 - 3);

/// `CMDQ_TLBI_RANGE_NUM_MAX`: the largest `NUM + 1`.
const RANGE_NUM_MAX: u64 = 31;

/// The largest `SCALE` without `SMMU_IDR5.DS` (a 5-bit field).
const SCALE_MAX: u32 = 31;

/// `TG` of a 4 KiB granule.
const TG_4K: u8 = 1;

/// The largest leaf level a 4 KiB-granule `TTL` can name (1 GiB leaves):
/// `TTL` 1 is level 1 of the walk, the 1 GiB level.
pub const MAX_TTL_LEVEL: u32 = 2;

/// What the invalidation of an unmapped range must drop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Entries of every level of the addresses, walk caches included
    /// (`Leaf` 0): tables were unlinked.
    Walk,
    /// Leaf entries only (`Leaf` 1); `Some(level)` when every leaf removed
    /// was at that level (0: 4 KiB, 1: 2 MiB, 2: 1 GiB), the `TTL` hint.
    Leaf(Option<u32>),
}

impl Scope {
    /// The scope of a gather that unlinked tables (`frees_tables`) or not,
    /// whose unmaps removed leaves at the levels of `leaf_levels` (bit `L`
    /// for level `L`, Linux's `pt.leaf_levels_bitmap`).
    pub fn of_gather(frees_tables: bool, leaf_levels: u8) -> Scope {
        if frees_tables {
            return Scope::Walk;
        }
        let one = leaf_levels.count_ones() == 1;
        Scope::Leaf(Some(leaf_levels.trailing_zeros()).filter(|&l| one && l <= MAX_TTL_LEVEL))
    }

    /// `Leaf` 1.
    pub fn leaf(self) -> bool {
        matches!(self, Scope::Leaf(_))
    }

    /// The level every invalidated leaf is at, if one is known.
    fn level(self) -> Option<u32> {
        match self {
            Scope::Leaf(l) => l,
            Scope::Walk => None,
        }
    }
}

/// The commands' address and range fields, in order.
#[derive(Clone, Debug)]
pub struct TlbiRanges {
    addr: u64,
    end: u64,
    pages: u64,
    ril: bool,
    leaf: bool,
    /// `TTL` of the range commands.
    ttl: u8,
    /// log2 of the step between single-address commands (without `RIL`).
    step_lg2: u32,
}

/// Plans the invalidation of `[iova, iova + size)`: `None` when one
/// invalidation of the whole ASID or VMID is due instead (nothing to
/// plan, an unaligned or empty range, too many per-address commands, or a
/// range too large to encode).
pub fn plan(iova: u64, size: u64, scope: Scope, ril: bool) -> Option<TlbiRanges> {
    let granule = 1u64 << GRANULE_LG2;
    if size == 0 || iova % granule != 0 || size % granule != 0 {
        return None;
    }
    let end = iova.checked_add(size)?;
    let mut pages = size >> GRANULE_LG2;
    let level = scope.level();
    let mut ttl = 0;
    let mut step_lg2 = GRANULE_LG2;
    if ril {
        if pages >> SCALE_MAX != 0 {
            return None;
        }
        match level {
            // TTL 3 - level (a 4 KiB granule); `level` <= MAX_TTL_LEVEL.
            Some(l) => ttl = (3 - l) as u8,
            None if pages & RANGE_NUM_MAX == 1 => pages += 1,
            None => {}
        }
    } else {
        if let Some(l) = level {
            // One command per leaf: every leaf of the range is at `l`, so
            // the range's ends are aligned to its size.
            let lg2 = GRANULE_LG2 + BITS_PER_LEVEL * l;
            if (iova | size) & ((1 << lg2) - 1) == 0 {
                step_lg2 = lg2;
            }
        }
        if size >> step_lg2 >= MAX_TLBI_OPS {
            return None;
        }
    }
    Some(TlbiRanges {
        addr: iova,
        end,
        pages,
        ril,
        leaf: scope.leaf(),
        ttl,
        step_lg2,
    })
}

impl Iterator for TlbiRanges {
    type Item = TlbiRange;

    fn next(&mut self) -> Option<TlbiRange> {
        if self.addr >= self.end || self.pages == 0 {
            return None;
        }
        if !self.ril {
            let r = TlbiRange::addr(self.addr, self.leaf);
            self.addr = self.addr.saturating_add(1 << self.step_lg2);
            self.pages = self
                .pages
                .saturating_sub(1 << (self.step_lg2 - GRANULE_LG2));
            return Some(r);
        }
        let scale = self.pages.trailing_zeros();
        let num = (self.pages >> scale) & RANGE_NUM_MAX;
        let r = TlbiRange {
            addr: self.addr,
            leaf: self.leaf,
            // num >= 1: bit `scale` of `pages` is set.
            num: (num - 1) as u8,
            scale: scale as u8,
            tg: TG_4K,
            ttl: self.ttl,
        };
        self.pages -= num << scale;
        self.addr = self.addr.saturating_add(num << (scale + GRANULE_LG2));
        Some(r)
    }
}

/// The bytes a range command of `r` covers (one granule for a single
/// address).
pub fn covered(r: &TlbiRange) -> u64 {
    if r.tg == 0 {
        1 << GRANULE_LG2
    } else {
        (u64::from(r.num) + 1) << (u32::from(r.scale) + GRANULE_LG2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smmuv3::cmdq::Command;

    const PG: u64 = 1 << GRANULE_LG2;
    const LEAF: Scope = Scope::Leaf(None);

    /// The commands of a plan, checked: contiguous from `iova`, covering
    /// `[iova, iova + size)` and at most one page more, every one
    /// encodable, none with NUM 0, SCALE 0 and TTL 0 when ranged, each
    /// with the `TTL` of the scope's level.
    fn check_scope(iova: u64, size: u64, scope: Scope, ril: bool) -> Vec<TlbiRange> {
        let rs: Vec<_> = plan(iova, size, scope, ril).expect("a plan").collect();
        let mut at = iova;
        for r in &rs {
            assert_eq!(r.addr, at, "{iova:#x}+{size:#x}: {rs:?}");
            assert_eq!(r.leaf, scope.leaf());
            if ril {
                assert_eq!(r.tg, TG_4K);
                assert!(!(r.num == 0 && r.scale == 0 && r.ttl == 0), "{r:?}");
                assert!(u32::from(r.scale) <= SCALE_MAX);
                let ttl = scope.level().map_or(0, |l| 3 - l as u8);
                assert_eq!(r.ttl, ttl, "{r:?}");
            } else {
                assert_eq!((r.tg, r.num, r.scale, r.ttl), (0, 0, 0, 0));
            }
            Command::TlbiNhVa {
                vmid: 0,
                asid: 1,
                range: *r,
            }
            .encode()
            .expect("encodable");
            at += if ril {
                covered(r)
            } else {
                // A single address drops the entry that holds it, a leaf of
                // the scope's level.
                1 << (GRANULE_LG2 + BITS_PER_LEVEL * scope.level().unwrap_or(0))
            };
        }
        let slack = if scope.level().is_some() { 0 } else { PG };
        assert!(
            at >= iova + size && at <= iova + size + slack,
            "{iova:#x}+{size:#x}: {rs:?}"
        );
        rs
    }

    fn check(iova: u64, size: u64, ril: bool) -> Vec<TlbiRange> {
        check_scope(iova, size, LEAF, ril)
    }

    #[test]
    fn with_ril_a_few_ranges() {
        // One page: rounded up to two (NUM 0, SCALE 1).
        let rs = check(0x1000, PG, true);
        assert_eq!(rs.len(), 1);
        assert_eq!((rs[0].num, rs[0].scale), (0, 1));
        // 256 pages: one command, 1 * 2^8 pages.
        let rs = check(0x10_0000, 256 * PG, true);
        assert_eq!(rs.len(), 1);
        assert_eq!((rs[0].num, rs[0].scale), (0, 8));
        // 1 MiB + 3 pages: 3 pages, then 256.
        assert_eq!(check(0x4000, 259 * PG, true).len(), 2);
        // 64 GiB: one command.
        assert_eq!(check(0, 64 << 30, true).len(), 1);
        // Any count: at most ceil(31 / 5) + 1 commands.
        for pages in 1..5000u64 {
            assert!(check(0x8000_0000, pages * PG, true).len() <= 8);
        }
    }

    #[test]
    fn without_ril_per_page_or_all() {
        assert_eq!(check(0x2000, 3 * PG, false).len(), 3);
        assert_eq!(check(0, (MAX_TLBI_OPS - 1) * PG, false).len(), 511);
        assert!(plan(0, MAX_TLBI_OPS * PG, LEAF, false).is_none());
    }

    #[test]
    fn degenerate_ranges_invalidate_all() {
        assert!(plan(0, 0, LEAF, true).is_none());
        assert!(plan(0x800, PG, LEAF, true).is_none());
        assert!(plan(0, PG + 1, LEAF, true).is_none());
        assert!(plan(!(PG - 1), PG, LEAF, true).is_none());
        assert!(plan(0, 1 << (SCALE_MAX + GRANULE_LG2), LEAF, true).is_none());
    }

    #[test]
    fn non_leaf_ranges() {
        let rs: Vec<_> = plan(0x20_0000, 512 * PG, Scope::Walk, true)
            .unwrap()
            .collect();
        assert_eq!(rs.len(), 1);
        assert!(!rs[0].leaf);
        assert_eq!(rs[0].ttl, 0);
        // A single page is rounded up, as the C driver's non-leaf path.
        let rs = check_scope(0x1000, PG, Scope::Walk, true);
        assert_eq!((rs[0].num, rs[0].scale, rs[0].ttl), (0, 1, 0));
    }

    #[test]
    fn scope_of_gather() {
        assert_eq!(Scope::of_gather(true, 0b1), Scope::Walk);
        assert_eq!(Scope::of_gather(false, 0), Scope::Leaf(None));
        assert_eq!(Scope::of_gather(false, 0b1), Scope::Leaf(Some(0)));
        assert_eq!(Scope::of_gather(false, 0b10), Scope::Leaf(Some(1)));
        assert_eq!(Scope::of_gather(false, 0b100), Scope::Leaf(Some(2)));
        // Two levels, or one a 4 KiB-granule TTL cannot name: any level.
        assert_eq!(Scope::of_gather(false, 0b11), Scope::Leaf(None));
        assert_eq!(Scope::of_gather(false, 0b1000), Scope::Leaf(None));
    }

    #[test]
    fn ttl_names_the_leaf_level() {
        // One 4 KiB leaf: exactly one page, TTL 3 (as the C driver's leaf
        // ranges: no rounding).
        let rs = check_scope(0x1000, PG, Scope::Leaf(Some(0)), true);
        assert_eq!(rs.len(), 1);
        assert_eq!((rs[0].num, rs[0].scale, rs[0].ttl), (0, 0, 3));
        // 2M x 8: 4096 pages in one command, TTL 2.
        let rs = check_scope(0x4000_0000, 8 << 21, Scope::Leaf(Some(1)), true);
        assert_eq!(rs.len(), 1);
        assert_eq!((rs[0].num, rs[0].scale, rs[0].ttl), (0, 12, 2));
        // 1 GiB leaves: TTL 1.
        let rs = check_scope(1 << 30, 3 << 30, Scope::Leaf(Some(2)), true);
        assert!(rs.iter().all(|r| r.ttl == 1));
        // Any page count at 4 KiB: exact cover.
        for pages in 1..3000u64 {
            check_scope(0x8000_0000, pages * PG, Scope::Leaf(Some(0)), true);
        }
    }

    #[test]
    fn without_ril_one_command_per_leaf() {
        // 2M x 8: eight addresses 2 MiB apart (not 4096 pages: no ASID-wide
        // fallback).
        let rs = check_scope(0x4000_0000, 8 << 21, Scope::Leaf(Some(1)), false);
        assert_eq!(rs.len(), 8);
        assert_eq!(rs[1].addr - rs[0].addr, 1 << 21);
        // 1 GiB leaves.
        assert_eq!(
            check_scope(1 << 30, 2 << 30, Scope::Leaf(Some(2)), false).len(),
            2
        );
        // A range not aligned to the level (cannot come from leaves of that
        // level alone): per page.
        let rs: Vec<_> = plan(0x1000, 2 * PG, Scope::Leaf(Some(1)), false)
            .unwrap()
            .collect();
        assert_eq!(
            rs.iter().map(|r| r.addr).collect::<Vec<_>>(),
            [0x1000, 0x2000]
        );
        // MAX_TLBI_OPS leaves or more: the whole ASID.
        assert!(plan(0, MAX_TLBI_OPS << 21, Scope::Leaf(Some(1)), false).is_none());
    }
}
