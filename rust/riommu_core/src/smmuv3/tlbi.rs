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
//! riommu's tables have one granule, 4 KiB, and the IOTLB gather does not
//! record the leaf size of what was unmapped, so the level hint `TTL` is
//! always 0 (any level).  With `TTL` 0 a range of `NUM` 0 and `SCALE` 0 is
//! avoided, as the C driver does for its non-leaf ranges ("for various
//! errata reasons"): a count whose low five bits are 1 is rounded up by one
//! page.  Invalidating more than was unmapped is always correct.
//!
//! `leaf` (only last-level entries) is for unmaps that unlinked no table;
//! when tables were unlinked the walk caches must drop them too, and the
//! same ranges go with `Leaf` 0, which covers every level of those
//! addresses.

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

/// The commands' address and range fields, in order.
#[derive(Clone, Debug)]
pub struct TlbiRanges {
    addr: u64,
    end: u64,
    pages: u64,
    ril: bool,
    leaf: bool,
}

/// Plans the invalidation of `[iova, iova + size)`: `None` when one
/// invalidation of the whole ASID or VMID is due instead (nothing to
/// plan, an unaligned or empty range, too many per-page commands, or a
/// range too large to encode).
pub fn plan(iova: u64, size: u64, leaf: bool, ril: bool) -> Option<TlbiRanges> {
    let granule = 1u64 << GRANULE_LG2;
    if size == 0 || iova % granule != 0 || size % granule != 0 {
        return None;
    }
    let end = iova.checked_add(size)?;
    let mut pages = size >> GRANULE_LG2;
    if ril {
        if pages >> SCALE_MAX != 0 {
            return None;
        }
        if pages & RANGE_NUM_MAX == 1 {
            pages += 1;
        }
    } else if pages >= MAX_TLBI_OPS {
        return None;
    }
    Some(TlbiRanges {
        addr: iova,
        end,
        pages,
        ril,
        leaf,
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
            self.addr = self.addr.saturating_add(1 << GRANULE_LG2);
            self.pages -= 1;
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
            ttl: 0,
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

    /// The commands of a plan, checked: contiguous from `iova`, covering
    /// `[iova, iova + size)` and at most one page more, every one
    /// encodable, none with NUM 0, SCALE 0 and TTL 0 when ranged.
    fn check(iova: u64, size: u64, ril: bool) -> Vec<TlbiRange> {
        let rs: Vec<_> = plan(iova, size, true, ril).expect("a plan").collect();
        let mut at = iova;
        for r in &rs {
            assert_eq!(r.addr, at, "{iova:#x}+{size:#x}: {rs:?}");
            assert!(r.leaf);
            if ril {
                assert_eq!(r.tg, TG_4K);
                assert!(!(r.num == 0 && r.scale == 0 && r.ttl == 0), "{r:?}");
                assert!(u32::from(r.scale) <= SCALE_MAX);
            } else {
                assert_eq!((r.tg, r.num, r.scale), (0, 0, 0));
            }
            Command::TlbiNhVa {
                vmid: 0,
                asid: 1,
                range: *r,
            }
            .encode()
            .expect("encodable");
            at += covered(r);
        }
        assert!(
            at >= iova + size && at <= iova + size + PG,
            "{iova:#x}+{size:#x}: {rs:?}"
        );
        rs
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
        assert!(plan(0, MAX_TLBI_OPS * PG, true, false).is_none());
    }

    #[test]
    fn degenerate_ranges_invalidate_all() {
        assert!(plan(0, 0, true, true).is_none());
        assert!(plan(0x800, PG, true, true).is_none());
        assert!(plan(0, PG + 1, true, true).is_none());
        assert!(plan(!(PG - 1), PG, true, true).is_none());
        assert!(plan(0, 1 << (SCALE_MAX + GRANULE_LG2), true, true).is_none());
    }

    #[test]
    fn non_leaf_ranges() {
        let rs: Vec<_> = plan(0x20_0000, 512 * PG, false, true).unwrap().collect();
        assert_eq!(rs.len(), 1);
        assert!(!rs[0].leaf);
    }
}
