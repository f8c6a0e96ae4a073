// SPDX-License-Identifier: GPL-2.0

//! Randomized differential test of the page table against a reference model
//! that maps every smallest page separately: with a 4 KiB-granule format of
//! one-entry leaves, and with riommu_mock's own (2 KiB granule, contiguous
//! leaves).

// Test code: std is fine, and the helpers need not be reachable.
#![allow(unreachable_pub, clippy::std_instead_of_core)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{walk_leaves_of, FoundLeaf, Mock4k, Rng, VecMem};
use riommu_core::errno::Errno;
use riommu_core::mockpt::MockFormat;
use riommu_core::pt::{Format, PageTable, Prot};

/// The geometry a run exercises.
struct Geo {
    /// The smallest page, the model's unit.
    page: u64,
    /// What one level-1 entry maps.
    mid: u64,
    /// What one level-2 entry maps.
    big: u64,
    /// One past the last IOVA.
    va_end: u64,
    /// The page sizes, with the percentage of operations using each.
    sizes: &'static [(u64, u64)],
}

const K2: u64 = 1 << 11;
const K4: u64 = 1 << 12;
const M1: u64 = 1 << 20;
const M2: u64 = 1 << 21;
const G1: u64 = 1 << 30;

/// [`Mock4k`]: 4 KiB, 2 MiB and 1 GiB leaves.
const GEO_4K: Geo = Geo {
    page: K4,
    mid: M2,
    big: G1,
    va_end: 1 << 39,
    sizes: &[(K4, 71), (M2, 27), (G1, 2)],
};

/// [`MockFormat`]: 2 KiB entries, 1 MiB and 512 MiB ones above, and
/// contiguous leaves of each.
const GEO_MOCK: Geo = Geo {
    page: K2,
    mid: M1,
    big: 512 * M1,
    va_end: 1 << 38,
    sizes: &[
        (K2, 45),
        (K4, 15),
        (64 * 1024, 10),
        (M1, 15),
        (M2, 8),
        (256 * M1, 4),
        (512 * M1, 3),
    ],
};

/// One smallest page of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Page {
    /// Physical address of this page.
    phys: u64,
    /// The leaf the page belongs to.
    leaf_iova: u64,
    leaf_size: u64,
    prot: Prot,
}

/// The reference model: every mapped page, and the dirty leaves.
struct Model {
    geo: &'static Geo,
    pages: BTreeMap<u64, Page>,
    dirty: BTreeSet<u64>,
}

impl Model {
    fn new(geo: &'static Geo) -> Self {
        Model {
            geo,
            pages: BTreeMap::new(),
            dirty: BTreeSet::new(),
        }
    }

    fn page(&self, iova: u64) -> Option<&Page> {
        self.pages.get(&(iova & !(self.geo.page - 1)))
    }

    fn any_mapped(&self, from: u64, to: u64) -> bool {
        self.pages.range(from..to).next().is_some()
    }

    fn valid(&self, iova: u64, paddr: u64, pgsize: u64, pgcount: u64) -> bool {
        self.geo.sizes.iter().any(|&(s, _)| s == pgsize)
            && (iova | paddr) % pgsize == 0
            && pgcount != 0
            && pgsize
                .checked_mul(pgcount)
                .and_then(|len| iova.checked_add(len))
                .is_some_and(|end| end <= self.geo.va_end)
    }

    /// Index of the first page that cannot be mapped, if any.
    fn first_conflict(&self, iova: u64, pgsize: u64, pgcount: u64) -> Option<u64> {
        (0..pgcount).find(|&i| {
            let start = iova + i * pgsize;
            self.any_mapped(start, start + pgsize)
        })
    }

    fn map(&mut self, iova: u64, paddr: u64, pgsize: u64, count: u64, prot: Prot) {
        for i in 0..count {
            let leaf_iova = iova + i * pgsize;
            for off in (0..pgsize).step_by(self.geo.page as usize) {
                let old = self.pages.insert(
                    leaf_iova + off,
                    Page {
                        phys: paddr + i * pgsize + off,
                        leaf_iova,
                        leaf_size: pgsize,
                        prot,
                    },
                );
                assert!(old.is_none());
            }
        }
    }

    fn remove_leaf(&mut self, leaf_iova: u64, size: u64) {
        for off in (0..size).step_by(self.geo.page as usize) {
            self.pages.remove(&(leaf_iova + off)).unwrap();
        }
        self.dirty.remove(&leaf_iova);
    }

    fn unmap(&mut self, iova: u64, pgsize: u64, pgcount: u64) -> u64 {
        if !self.valid(iova, 0, pgsize, pgcount) {
            return 0;
        }
        let len = pgsize * pgcount;
        let mut done = 0;
        while done < len {
            let cur = iova + done;
            let Some(&page) = self.page(cur) else { break };
            if page.leaf_iova != cur || page.leaf_size > len - done {
                break;
            }
            self.remove_leaf(cur, page.leaf_size);
            done += page.leaf_size;
        }
        done
    }

    /// The dirty leaves of `[iova, iova + size)` clipped to it, clearing them
    /// unless `no_clear`.
    fn read_dirty(&mut self, iova: u64, size: u64, no_clear: bool) -> Vec<(u64, u64)> {
        let end = iova.saturating_add(size).min(self.geo.va_end);
        let mut out = Vec::new();
        let mut cur = iova & !(self.geo.page - 1);
        while cur < end {
            let Some((_, &page)) = self.pages.range(cur..end).next() else {
                break;
            };
            let leaf_end = page.leaf_iova + page.leaf_size;
            if self.dirty.contains(&page.leaf_iova) {
                // The whole leaf, as generic_pt's record_dirty().
                out.push((page.leaf_iova, page.leaf_size));
                if !no_clear {
                    self.dirty.remove(&page.leaf_iova);
                }
            }
            cur = leaf_end;
        }
        out
    }

    fn leaves(&self) -> Vec<FoundLeaf> {
        let mut out = Vec::new();
        let mut next = 0;
        // Jump from leaf to leaf rather than over every page.
        while let Some((&iova, page)) = self.pages.range(next..).next() {
            assert_eq!(iova, page.leaf_iova);
            out.push(FoundLeaf {
                iova,
                size: page.leaf_size,
                phys: page.phys,
                dirty: self.dirty.contains(&iova),
                prot: page.prot,
            });
            next = iova + page.leaf_size;
        }
        out
    }
}

/// Places where the random operations land: a few areas around table
/// boundaries, so that operations collide often.
fn areas(geo: &Geo) -> [u64; 8] {
    let (mid, big) = (geo.mid, geo.big);
    [
        0,
        mid,
        4 * mid,
        big - 2 * mid,
        big,
        big + 3 * mid,
        3 * big,
        geo.va_end - 4 * mid,
    ]
}

fn random_pgsize(rng: &mut Rng, geo: &Geo) -> u64 {
    let mut n = rng.below(100);
    for &(size, weight) in geo.sizes {
        if n < weight {
            return size;
        }
        n -= weight;
    }
    geo.page
}

fn random_iova(rng: &mut Rng, geo: &Geo, pgsize: u64) -> u64 {
    let iova = if pgsize < geo.big && rng.chance(1, 12) {
        // Anywhere: needs new tables.
        rng.below(geo.va_end) & !(pgsize - 1)
    } else if pgsize >= geo.big {
        let big = geo.big;
        [0, big, 2 * big, 3 * big, geo.va_end - pgsize][rng.below(5) as usize] & !(pgsize - 1)
    } else {
        let areas = areas(geo);
        let base = areas[rng.below(areas.len() as u64) as usize];
        let span = if pgsize < geo.mid {
            2 * geo.mid
        } else {
            4 * pgsize
        };
        (base + rng.below(span)) & !(pgsize - 1)
    };
    // Now and then misaligned or out of range.
    match rng.below(200) {
        0 => iova | geo.page,
        1 => iova + geo.va_end,
        _ => iova,
    }
}

fn random_count(rng: &mut Rng, geo: &Geo, pgsize: u64) -> u64 {
    if pgsize == geo.page {
        if rng.chance(1, 4) {
            1 + rng.below(1100)
        } else {
            1 + rng.below(8)
        }
    } else if pgsize < geo.big {
        1 + rng.below(4)
    } else {
        1 + rng.below(2)
    }
}

fn check_all<F: Format>(mem: &VecMem, pt: &PageTable<F>, model: &Model) {
    let (leaves, tables) = walk_leaves_of::<F>(mem, pt.root());
    assert_eq!(tables, mem.live(), "unreachable tables");
    assert_eq!(pt.table_count(), mem.live());
    assert_eq!(leaves, model.leaves());
}

fn run<F: Format>(geo: &'static Geo, seed: u64, ops: usize) {
    let page = geo.page;
    let mut rng = Rng::new(seed);
    let mut mem = VecMem::new();
    let mut pt = PageTable::<F>::new(&mut mem).unwrap();
    let mut model = Model::new(geo);
    let mut stats = [0usize; 8];

    for op in 0..ops {
        match rng.below(100) {
            // map
            0..=39 => {
                let pgsize = random_pgsize(&mut rng, geo);
                let iova = random_iova(&mut rng, geo, pgsize);
                let count = random_count(&mut rng, geo, pgsize);
                let paddr = rng.below(1 << 40) & !(pgsize - 1);
                let prot = [Prot::READ, Prot::WRITE, Prot::READ_WRITE][rng.below(3) as usize];
                let fail = rng.chance(1, 5);
                if fail {
                    mem.fail_after = Some(rng.below(3) as usize);
                }
                let (mapped, res) = pt.map_pages(&mut mem, iova, paddr, pgsize, count, prot);
                mem.fail_after = None;
                let ctx = (op, iova, paddr, pgsize, count, mapped, res);
                if !model.valid(iova, paddr, pgsize, count) {
                    assert_eq!((mapped, res), (0, Err(Errno::EINVAL)), "{ctx:?}");
                    stats[0] += 1;
                    continue;
                }
                assert_eq!(mapped % pgsize, 0, "{ctx:?}");
                let done = mapped / pgsize;
                let conflict = model.first_conflict(iova, pgsize, count);
                match res {
                    Ok(()) => {
                        assert_eq!(conflict, None, "{ctx:?}");
                        assert_eq!(done, count, "{ctx:?}");
                        stats[1] += 1;
                    }
                    Err(Errno::EADDRINUSE) => {
                        assert_eq!(conflict, Some(done), "{ctx:?}");
                        stats[2] += 1;
                    }
                    Err(Errno::ENOMEM) => {
                        assert!(fail, "{ctx:?}");
                        assert!(conflict.is_none_or(|c| c >= done), "{ctx:?}");
                        stats[3] += 1;
                    }
                    Err(e) => panic!("unexpected {e:?}: {ctx:?}"),
                }
                model.map(iova, paddr, pgsize, done, prot);
            }
            // unmap
            40..=74 => {
                let pgsize = random_pgsize(&mut rng, geo);
                let iova = random_iova(&mut rng, geo, pgsize);
                let count = random_count(&mut rng, geo, pgsize);
                let got = pt.unmap_pages(&mut mem, iova, pgsize, count);
                let want = model.unmap(iova, pgsize, count);
                assert_eq!(got, want, "{:?}", (op, iova, pgsize, count));
                stats[4 + usize::from(got != 0)] += 1;
            }
            // set_dirty
            75..=84 => {
                let iova = random_iova(&mut rng, geo, page) + rng.below(page);
                let want = model.page(iova).map(|p| p.leaf_iova);
                assert_eq!(
                    pt.set_dirty(&mut mem, iova),
                    want.is_some(),
                    "{op} {iova:#x}"
                );
                if let Some(leaf) = want {
                    model.dirty.insert(leaf);
                }
            }
            // read_and_clear_dirty
            85..=92 => {
                let iova = random_iova(&mut rng, geo, page) + rng.below(page);
                let size = match rng.below(4) {
                    0 => rng.below(page * 4),
                    1 => rng.below(8 * geo.mid),
                    2 => rng.below(4 * geo.big),
                    _ => u64::MAX,
                };
                let no_clear = rng.chance(1, 3);
                let mut got = Vec::new();
                pt.read_and_clear_dirty(&mut mem, iova, size, no_clear, |a, l| got.push((a, l)));
                let want = model.read_dirty(iova, size, no_clear);
                assert_eq!(got, want, "{:?}", (op, iova, size, no_clear));
                stats[6] += usize::from(!got.is_empty());
            }
            // lookups
            _ => {
                for _ in 0..16 {
                    let pgsize = [page, geo.mid][rng.below(2) as usize];
                    let iova = random_iova(&mut rng, geo, pgsize) + rng.below(pgsize);
                    let want = model.page(iova).map_or(0, |p| p.phys + iova % page);
                    assert_eq!(pt.iova_to_phys(&mem, iova), want, "{op} {iova:#x}");
                    let leaf = pt.lookup(&mem, iova);
                    assert_eq!(
                        leaf.map(|l| (l.iova, l.size, l.dirty)),
                        model.page(iova).map(|p| (
                            p.leaf_iova,
                            p.leaf_size,
                            model.dirty.contains(&p.leaf_iova)
                        )),
                    );
                }
                stats[7] += 1;
            }
        }
        assert_eq!(pt.table_count(), mem.live());
        if op % 64 == 0 {
            check_all(&mem, &pt, &model);
        }
    }
    check_all(&mem, &pt, &model);
    eprintln!(
        "seed {seed:#x}: {stats:?}, {} pages, {} tables",
        model.pages.len(),
        mem.live()
    );
    // Every kind of outcome happened.
    assert!(stats.iter().all(|&n| n > 0), "{stats:?}");
    pt.destroy(&mut mem);
    assert_eq!(mem.live(), 0);
}

#[test]
fn random_ops_seed_1() {
    run::<Mock4k>(&GEO_4K, 0x0123_4567_89ab_cdef, 3000);
}

#[test]
fn random_ops_seed_2() {
    run::<Mock4k>(&GEO_4K, 0xdead_beef_0bad_f00d, 3000);
}

#[test]
fn random_ops_seed_3() {
    run::<Mock4k>(&GEO_4K, 42, 3000);
}

#[test]
fn random_ops_mock_geometry_seed_1() {
    run::<MockFormat>(&GEO_MOCK, 0x0123_4567_89ab_cdef, 3000);
}

#[test]
fn random_ops_mock_geometry_seed_2() {
    run::<MockFormat>(&GEO_MOCK, 7, 3000);
}

#[test]
fn random_ops_mock_geometry_seed_3() {
    run::<MockFormat>(&GEO_MOCK, 0xfeed_f00d, 3000);
}
