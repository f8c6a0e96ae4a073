// SPDX-License-Identifier: GPL-2.0

//! Randomized differential test of the page table against a reference model
//! that maps every 4 KiB page separately.

// Test code: std is fine, and the helpers need not be reachable.
#![allow(unreachable_pub, clippy::std_instead_of_core)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{walk_leaves, FoundLeaf, Rng, VecMem};
use riommu_core::errno::Errno;
use riommu_core::mockpt::MockFormat;
use riommu_core::pt::{PageTable, Prot};

type Pt = PageTable<MockFormat>;

const K4: u64 = 1 << 12;
const M2: u64 = 1 << 21;
const G1: u64 = 1 << 30;
const VA_END: u64 = 1 << 39;
const SIZES: [u64; 3] = [K4, M2, G1];

/// One 4 KiB page of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Page {
    /// Physical address of this 4 KiB page.
    phys: u64,
    /// The leaf the page belongs to.
    leaf_iova: u64,
    leaf_size: u64,
    prot: Prot,
}

/// The reference model: every mapped 4 KiB page, and the dirty leaves.
#[derive(Default)]
struct Model {
    pages: BTreeMap<u64, Page>,
    dirty: BTreeSet<u64>,
}

impl Model {
    fn page(&self, iova: u64) -> Option<&Page> {
        self.pages.get(&(iova & !(K4 - 1)))
    }

    fn any_mapped(&self, from: u64, to: u64) -> bool {
        self.pages.range(from..to).next().is_some()
    }

    fn valid(iova: u64, paddr: u64, pgsize: u64, pgcount: u64) -> bool {
        SIZES.contains(&pgsize)
            && (iova | paddr) % pgsize == 0
            && pgcount != 0
            && pgsize
                .checked_mul(pgcount)
                .and_then(|len| iova.checked_add(len))
                .is_some_and(|end| end <= VA_END)
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
            for off in (0..pgsize).step_by(K4 as usize) {
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
        for off in (0..size).step_by(K4 as usize) {
            self.pages.remove(&(leaf_iova + off)).unwrap();
        }
        self.dirty.remove(&leaf_iova);
    }

    fn unmap(&mut self, iova: u64, pgsize: u64, pgcount: u64) -> u64 {
        if !Self::valid(iova, 0, pgsize, pgcount) {
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
        let end = iova.saturating_add(size).min(VA_END);
        let mut out = Vec::new();
        let mut cur = iova & !(K4 - 1);
        while cur < end {
            let Some((_, &page)) = self.pages.range(cur..end).next() else {
                break;
            };
            let leaf_end = page.leaf_iova + page.leaf_size;
            if self.dirty.contains(&page.leaf_iova) {
                let from = page.leaf_iova.max(iova);
                out.push((from, leaf_end.min(end) - from));
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
const AREAS: [u64; 8] = [
    0,
    M2,
    4 * M2,
    G1 - 2 * M2,
    G1,
    G1 + 3 * M2,
    3 * G1,
    VA_END - 4 * M2,
];

fn random_pgsize(rng: &mut Rng) -> u64 {
    match rng.below(100) {
        0..=70 => K4,
        71..=97 => M2,
        _ => G1,
    }
}

fn random_iova(rng: &mut Rng, pgsize: u64) -> u64 {
    let iova = if pgsize != G1 && rng.chance(1, 12) {
        // Anywhere: needs new tables.
        rng.below(VA_END) & !(pgsize - 1)
    } else if pgsize == G1 {
        [0, G1, 2 * G1, 3 * G1, VA_END - G1][rng.below(5) as usize]
    } else {
        let base = AREAS[rng.below(AREAS.len() as u64) as usize];
        let span = if pgsize == K4 { 2 * M2 } else { 4 * M2 };
        (base + rng.below(span)) & !(pgsize - 1)
    };
    // Now and then misaligned or out of range.
    match rng.below(200) {
        0 => iova | K4,
        1 => iova + VA_END,
        _ => iova,
    }
}

fn random_count(rng: &mut Rng, pgsize: u64) -> u64 {
    match pgsize {
        K4 if rng.chance(1, 4) => 1 + rng.below(1100),
        K4 => 1 + rng.below(8),
        M2 => 1 + rng.below(4),
        _ => 1 + rng.below(2),
    }
}

fn check_all(mem: &VecMem, pt: &Pt, model: &Model) {
    let (leaves, tables) = walk_leaves(mem, pt.root());
    assert_eq!(tables, mem.live(), "unreachable tables");
    assert_eq!(pt.table_count(), mem.live());
    assert_eq!(leaves, model.leaves());
}

fn run(seed: u64, ops: usize) {
    let mut rng = Rng::new(seed);
    let mut mem = VecMem::new();
    let mut pt = Pt::new(&mut mem).unwrap();
    let mut model = Model::default();
    let mut stats = [0usize; 8];

    for op in 0..ops {
        match rng.below(100) {
            // map
            0..=39 => {
                let pgsize = random_pgsize(&mut rng);
                let iova = random_iova(&mut rng, pgsize);
                let count = random_count(&mut rng, pgsize);
                let paddr = rng.below(1 << 40) & !(pgsize - 1);
                let prot = [Prot::READ, Prot::WRITE, Prot::READ_WRITE][rng.below(3) as usize];
                let fail = rng.chance(1, 5);
                if fail {
                    mem.fail_after = Some(rng.below(3) as usize);
                }
                let (mapped, res) = pt.map_pages(&mut mem, iova, paddr, pgsize, count, prot);
                mem.fail_after = None;
                let ctx = (op, iova, paddr, pgsize, count, mapped, res);
                if !Model::valid(iova, paddr, pgsize, count) {
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
                let pgsize = random_pgsize(&mut rng);
                let iova = random_iova(&mut rng, pgsize);
                let count = random_count(&mut rng, pgsize);
                let got = pt.unmap_pages(&mut mem, iova, pgsize, count);
                let want = model.unmap(iova, pgsize, count);
                assert_eq!(got, want, "{:?}", (op, iova, pgsize, count));
                stats[4 + usize::from(got != 0)] += 1;
            }
            // set_dirty
            75..=84 => {
                let iova = random_iova(&mut rng, K4) + rng.below(K4);
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
                let iova = random_iova(&mut rng, K4) + rng.below(K4);
                let size = match rng.below(4) {
                    0 => rng.below(K4 * 4),
                    1 => rng.below(8 * M2),
                    2 => rng.below(4 * G1),
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
                    let pgsize = SIZES[rng.below(2) as usize];
                    let iova = random_iova(&mut rng, pgsize) + rng.below(pgsize);
                    let want = model.page(iova).map_or(0, |p| p.phys + iova % K4);
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
    run(0x0123_4567_89ab_cdef, 3000);
}

#[test]
fn random_ops_seed_2() {
    run(0xdead_beef_0bad_f00d, 3000);
}

#[test]
fn random_ops_seed_3() {
    run(42, 3000);
}
