// SPDX-License-Identifier: GPL-2.0

//! Update planners for the multi-word VT-d entries that hardware fetches
//! from memory: the 512-bit scalable-mode PASID table entry (spec 9.6) and
//! the 256-bit scalable-mode context entry (spec 9.4).
//!
//! A driver applies a plan's [`Step`]s in order: each
//! [`Step::Write`] is one 64-bit store (after a DMA write barrier, and a
//! cache-line flush on a non-coherent unit), each [`Step::Sync`] queues the
//! plan's invalidations with an invalidation wait and waits for it.
//!
//! # The hardware model
//!
//! The spec does not promise that the remapping hardware fetches an entry
//! wider than 64 bits in one access; Linux 7.3 assumes it may not (its
//! `pasid_clear_present()` comment and `intel_pasid_tear_down_entry()`,
//! which clear the Present bit, complete the invalidations of spec 6.5.3.3
//! "Guidance to Software for Invalidations", and only then clear the rest
//! of the entry). The model here assumes less than that:
//!
//! - each naturally aligned 64-bit word is read single-copy atomically, but
//!   the words of one fetch may be read in any order and at any time;
//! - the only bound on a fetch is a completed invalidation wait: a fetch
//!   (and anything cached from it) that could see a word value before the
//!   wait is gone after it, provided the wait followed invalidations of
//!   the caches that hold the entry and the translations made through it;
//! - an entry read with P=0 is not used; with caching mode (CAP.CM) it may
//!   still be cached, so a setup needs a PASID- or context-cache
//!   invalidation too.
//!
//! So between two waits hardware may combine, word by word, any values the
//! entry held in that interval. [`check`] enumerates every such combination
//! and requires that each one with P=1 is exactly the old or the new entry,
//! that a teardown sync follows the last moment the old entry could be
//! seen, and a setup sync the store that set P.  It treats every sync as a
//! completed wait; which invalidations each one carries is the caller's
//! (`inval::pasid_entry_changed` for PASID entries), checked by its tests.
//! It also accepts a one-word change of a present entry, which only
//! [`plan_in_place`] emits, for the fields 7.3 changes so.
//!
//! [`plan`] follows 7.3, plus one wait: a present entry is never rewritten
//! in place. Its Present bit is cleared, the teardown invalidations
//! complete, the other words are written, and then (a step Linux leaves to
//! its `dma_wmb()`) a wait separates those writes from the store that sets
//! P, so that no fetch can pair the new word 0 with a word read before the
//! new words were written.  Only under caching mode do the setup
//! invalidations and a last wait follow that store (7.3
//! `pasid_flush_caches()` and `context_present_cache_flush()`: without
//! CAP.CM they only flush the write buffer, a unit with CAP.RWBF's, which
//! is the driver's).

use super::super::errno::Errno;
use super::inval::Plan;

/// Bit 0 of word 0: Present, in both the PASID and the context entry.
const PRESENT: u64 = 1;

/// The most steps a plan for an `N`-word entry holds: a write per word,
/// twice (the Present bit, then the rest), and three waits.
pub const MAX_STEPS: usize = 2 * 8 + 3;

/// One step of an entry update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Store `value` into word `word` of the entry.
    Write {
        /// Index of the 64-bit word.
        word: u8,
        /// Its new value.
        value: u64,
    },
    /// Queue the invalidations of [`Sync::plan`] and an invalidation wait,
    /// and wait for them to complete.
    Sync(Sync),
}

/// Which invalidations a [`Step::Sync`] issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sync {
    /// Those that make hardware forget the old entry (the `teardown` plan).
    Teardown,
    /// Those that make hardware forget a cached not-present entry (the
    /// `setup` plan): before the Present bit is set, and after.
    Setup,
}

/// The steps that change an entry from one value to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryUpdate {
    steps: [Step; MAX_STEPS],
    len: usize,
    teardown: Plan,
    setup: Plan,
}

impl EntryUpdate {
    fn new(teardown: Plan, setup: Plan) -> Self {
        EntryUpdate {
            steps: [Step::Sync(Sync::Setup); MAX_STEPS],
            len: 0,
            teardown,
            setup,
        }
    }

    fn push(&mut self, s: Step) -> Result<(), Errno> {
        let slot = self.steps.get_mut(self.len).ok_or(Errno::EOVERFLOW)?;
        *slot = s;
        self.len += 1;
        Ok(())
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps[..self.len]
    }

    /// The invalidations of a [`Step::Sync`].
    pub fn plan(&self, s: Sync) -> &Plan {
        match s {
            Sync::Teardown => &self.teardown,
            Sync::Setup => &self.setup,
        }
    }
}

/// Whether word 0 of an entry has P set.
const fn present(w0: u64) -> bool {
    w0 & PRESENT != 0
}

/// Plans the update of an `N`-word entry (`N` is 4 for a context entry, 8
/// for a PASID entry) from `old` to `new`.
///
/// `teardown` must invalidate every cache that may hold `old` or a
/// translation made through it (used only when `old` is present); it may
/// be empty where the entry cannot be cached, the wait is still needed.
/// `setup` is `Some` under caching mode: the invalidations of the cache
/// that may hold the not-present entry, issued before and after the store
/// that sets P (used only when `new` is present).  `None` (no caching mode:
/// a not-present entry is never cached) keeps only the wait before that
/// store, with no invalidation.
///
/// [`Errno::EINVAL`] if `N` is 0 or larger than 8.
pub fn plan<const N: usize>(
    old: &[u64; N],
    new: &[u64; N],
    teardown: Plan,
    setup: Option<Plan>,
) -> Result<EntryUpdate, Errno> {
    if N == 0 || N > 8 {
        return Err(Errno::EINVAL);
    }
    let caching_mode = setup.is_some();
    let mut u = EntryUpdate::new(teardown, setup.unwrap_or_else(Plan::new));
    if old == new {
        return Ok(u);
    }
    let mut cur = *old;
    if present(old[0]) {
        // Teardown: clear P only, then complete the invalidations; the
        // other words are hardware's until then (7.3
        // `intel_pasid_tear_down_entry()`, `device_pasid_table_teardown()`).
        cur[0] = old[0] & !PRESENT;
        u.push(write(0, cur[0]))?;
        u.push(Step::Sync(Sync::Teardown))?;
    }
    // The other words, while P=0.
    let mut wrote = false;
    for i in 1..N {
        if cur[i] != new[i] {
            cur[i] = new[i];
            u.push(write(i, new[i]))?;
            wrote = true;
        }
    }
    if present(new[0]) {
        if wrote {
            // No fetch may pair the new word 0 with a word read before the
            // words above were written.
            u.push(Step::Sync(Sync::Setup))?;
        }
        u.push(write(0, new[0]))?;
        if caching_mode {
            u.push(Step::Sync(Sync::Setup))?;
        }
    } else if cur[0] != new[0] {
        u.push(write(0, new[0]))?;
    }
    Ok(u)
}

/// Plans a change of one word of a present entry in place, as 7.3 changes
/// PGSNP (`intel_pasid_setup_page_snoop_control()`) and SSADE
/// (`intel_pasid_setup_dirty_tracking()`): the word, then the `teardown`
/// invalidations of the old entry (`intel_pasid_flush_present()`).
/// Hardware uses the old or the new entry until they complete.
///
/// Only for the fields the spec lets software change in a present entry
/// (6.5.3.3); the caller decides which. [`Errno::EINVAL`] unless both
/// entries are present, have the same word 0, and differ in exactly one
/// word.
pub fn plan_in_place<const N: usize>(
    old: &[u64; N],
    new: &[u64; N],
    teardown: Plan,
) -> Result<EntryUpdate, Errno> {
    if N == 0 || N > 8 || !present(old[0]) || old[0] != new[0] {
        return Err(Errno::EINVAL);
    }
    let mut differ = (1..N).filter(|&i| old[i] != new[i]);
    let (Some(i), None) = (differ.next(), differ.next()) else {
        return Err(Errno::EINVAL);
    };
    let mut u = EntryUpdate::new(teardown, Plan::new());
    u.push(write(i, new[i]))?;
    u.push(Step::Sync(Sync::Teardown))?;
    Ok(u)
}

fn write(word: usize, value: u64) -> Step {
    // `word` < N <= 8.
    Step::Write {
        word: word as u8,
        value,
    }
}

/// What [`check`] found wrong with a sequence of steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Between two waits, hardware could combine these words into an entry
    /// with P=1 that is neither the old nor the new one.
    Torn {
        /// Index of the step whose interval allows it.
        step: usize,
    },
    /// The old entry (P=1) could be observed or cached and no teardown
    /// invalidation followed.
    OldNotFlushed,
    /// Under caching mode, the new entry is present but no setup
    /// invalidation followed the store that set P.
    NewNotFlushed,
    /// After the steps, memory does not hold the new entry.
    WrongResult,
    /// A write names a word outside the entry.
    BadWord,
}

/// Checks `steps` against the model of the module documentation: replays
/// them on `old` and enumerates, for every interval between two waits,
/// every word-by-word combination of the values the entry held in it.
/// `caching_mode`: the unit may cache a not-present entry (CAP.CM), so a
/// setup sync must follow the store that sets P.
pub fn check<const N: usize>(
    old: &[u64; N],
    new: &[u64; N],
    steps: &[Step],
    caching_mode: bool,
) -> Result<(), Violation> {
    let mut cur = *old;
    // Values each word held since the last wait.
    let mut seen: [[u64; MAX_STEPS + 1]; N] = [[0; MAX_STEPS + 1]; N];
    let mut nseen = [1usize; N];
    for (w, s) in seen.iter_mut().zip(old.iter()) {
        w[0] = *s;
    }
    // Whether the old entry may be cached and still needs its teardown
    // invalidation; whether the new one was made present without a setup
    // invalidation after it.
    let mut old_live = present(old[0]);
    let mut new_unflushed = false;
    for (at, s) in steps.iter().enumerate() {
        match *s {
            Step::Write { word, value } => {
                let i = usize::from(word);
                if i >= N {
                    return Err(Violation::BadWord);
                }
                cur[i] = value;
                if nseen[i] >= seen[i].len() {
                    return Err(Violation::BadWord);
                }
                seen[i][nseen[i]] = value;
                nseen[i] += 1;
                if i == 0 && present(value) {
                    new_unflushed = true;
                }
                combinations(old, new, &seen, &nseen).map_err(|()| Violation::Torn { step: at })?;
            }
            Step::Sync(kind) => {
                match kind {
                    Sync::Teardown => old_live = false,
                    Sync::Setup => {
                        if !present(cur[0]) {
                            // Only a setup that follows the Present store
                            // flushes the new entry.
                        } else {
                            new_unflushed = false;
                        }
                    }
                }
                // The old entry stays live if it is still in memory.
                if cur == *old && present(old[0]) {
                    old_live = true;
                }
                for i in 0..N {
                    seen[i][0] = cur[i];
                    nseen[i] = 1;
                }
            }
        }
    }
    if cur != *new {
        return Err(Violation::WrongResult);
    }
    if old_live && old != new {
        return Err(Violation::OldNotFlushed);
    }
    if caching_mode && new_unflushed && old != new {
        return Err(Violation::NewNotFlushed);
    }
    Ok(())
}

/// Every combination of `seen` values with P=1 is `old` or `new`.
fn combinations<const N: usize>(
    old: &[u64; N],
    new: &[u64; N],
    seen: &[[u64; MAX_STEPS + 1]; N],
    nseen: &[usize; N],
) -> Result<(), ()> {
    let mut idx = [0usize; N];
    loop {
        let mut e = [0u64; N];
        for i in 0..N {
            e[i] = seen[i][idx[i]];
        }
        if present(e[0]) && e != *old && e != *new {
            return Err(());
        }
        // Next combination.
        let mut i = 0;
        loop {
            if i == N {
                return Ok(());
            }
            idx[i] += 1;
            if idx[i] < nseen[i] {
                break;
            }
            idx[i] = 0;
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::inval::{pasid_entry_changed, PasidOwner, PasidState};
    use super::super::pasid::{
        Common, FirstStage, PasidEntry, SecondStage, AW_48, PGTT_FIRST_STAGE, PGTT_PASS_THROUGH,
        PGTT_SECOND_STAGE,
    };
    use super::super::qi::Drain;
    use super::*;

    const OWNER: PasidOwner = PasidOwner {
        sid: 0x0010,
        pasid: 0,
        dev_tlb: None,
    };

    fn common(did: u16) -> Common {
        Common {
            did,
            pwsnp: true,
            pgsnp: false,
            fault_disable: false,
        }
    }

    /// A set of PASID entries of every kind, each with its state.
    fn entries() -> Vec<([u64; 8], Option<PasidState>)> {
        let fs = |root, did| {
            let f = FirstStage {
                table: root,
                ..Default::default()
            };
            (
                PasidEntry::first_stage(&f, AW_48, common(did)).unwrap().0,
                Some(PasidState {
                    did,
                    pgtt: PGTT_FIRST_STAGE,
                }),
            )
        };
        let ss = |root, did| {
            let s = SecondStage {
                table: root,
                aw: AW_48,
                ssade: false,
                ssee: false,
            };
            (
                PasidEntry::second_stage(&s, common(did)).unwrap().0,
                Some(PasidState {
                    did,
                    pgtt: PGTT_SECOND_STAGE,
                }),
            )
        };
        let mut fpd = PasidEntry::ZERO;
        fpd.0[0] = 1 << 1;
        vec![
            (PasidEntry::ZERO.0, None),
            (fpd.0, None),
            (
                PasidEntry::pass_through(AW_48, common(1)).unwrap().0,
                Some(PasidState {
                    did: 1,
                    pgtt: PGTT_PASS_THROUGH,
                }),
            ),
            fs(0x1000, 5),
            fs(0x2000, 5),
            fs(0x2000, 6),
            ss(0x3000, 7),
            ss(0x4000, 7),
        ]
    }

    fn plan_pasid(
        old: &([u64; 8], Option<PasidState>),
        new: &([u64; 8], Option<PasidState>),
        caching_mode: bool,
    ) -> EntryUpdate {
        let d = Drain::default();
        let td = pasid_entry_changed(OWNER, old.1, None, d).unwrap();
        let su = pasid_entry_changed(OWNER, None, new.1, d).unwrap();
        plan(&old.0, &new.0, td, caching_mode.then_some(su)).unwrap()
    }

    /// Every pair of PASID entries, with and without caching mode: the
    /// plan passes the model, and its invalidations are those of the
    /// entries' states.
    #[test]
    fn pasid_entry_plans_pass_the_model() {
        let es = entries();
        let mut checked = 0;
        for cm in [true, false] {
            for old in &es {
                for new in &es {
                    pasid_entry_plan_checks(old, new, cm);
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 128);
    }

    fn pasid_entry_plan_checks(
        old: &([u64; 8], Option<PasidState>),
        new: &([u64; 8], Option<PasidState>),
        cm: bool,
    ) {
        let u = plan_pasid(old, new, cm);
        assert_eq!(
            check(&old.0, &new.0, u.steps(), cm),
            Ok(()),
            "{old:x?} -> {new:x?}"
        );
        // A present old entry is torn down first: P cleared, and
        // nothing else written before the teardown wait.
        if old.1.is_some() && old.0 != new.0 {
            assert_eq!(u.steps()[0], write(0, old.0[0] & !PRESENT));
            assert_eq!(u.steps()[1], Step::Sync(Sync::Teardown));
            assert!(!u.plan(Sync::Teardown).is_empty());
        }
        // A present new entry ends with its P store, and under
        // caching mode a setup; without, the model would want that
        // setup under caching mode (the plan depends on CAP.CM).
        if new.1.is_some() && old.0 != new.0 {
            let s = u.steps();
            if cm {
                assert_eq!(s[s.len() - 2], write(0, new.0[0]));
                assert_eq!(s[s.len() - 1], Step::Sync(Sync::Setup));
            } else {
                assert_eq!(s[s.len() - 1], write(0, new.0[0]));
                assert_eq!(
                    check(&old.0, &new.0, s, true),
                    Err(Violation::NewNotFlushed)
                );
            }
        }
        // Without caching mode no setup sync invalidates anything,
        // and at most one wait (before the P store) is not the
        // teardown's.
        if !cm {
            assert!(u.plan(Sync::Setup).is_empty());
            let setups = u
                .steps()
                .iter()
                .filter(|s| **s == Step::Sync(Sync::Setup))
                .count();
            assert!(setups <= 1, "{old:x?} -> {new:x?}");
        }
    }

    /// What the driver did before: rewrite a present entry in place, words
    /// 1 to 7 first (as `intel_pasid_replace_*()` once did), then word 0.
    #[test]
    fn in_place_rewrite_is_torn() {
        let es = entries();
        let (old, new) = (&es[3], &es[6]);
        let mut steps = Vec::new();
        for i in 1..8 {
            if old.0[i] != new.0[i] {
                steps.push(write(i, new.0[i]));
            }
        }
        steps.push(write(0, new.0[0]));
        steps.push(Step::Sync(Sync::Teardown));
        steps.push(Step::Sync(Sync::Setup));
        assert!(matches!(
            check(&old.0, &new.0, &steps, true),
            Err(Violation::Torn { .. })
        ));
    }

    /// What the driver did before on teardown: zero the whole entry, word
    /// 0 first, before the invalidation wait.
    #[test]
    fn zeroing_before_the_wait_is_torn() {
        let es = entries();
        let old = &es[3];
        let mut steps: Vec<Step> = (0..8).map(|i| write(i, 0)).collect();
        steps.push(Step::Sync(Sync::Teardown));
        assert!(matches!(
            check(&old.0, &[0; 8], &steps, true),
            Err(Violation::Torn { .. })
        ));
    }

    /// Setting P right after the other words, with no wait between, lets
    /// a fetch pair the new word 0 with a stale word.
    #[test]
    fn present_store_needs_its_own_interval() {
        let es = entries();
        let (old, new) = (&es[3], &es[6]);
        let mut steps = vec![write(0, old.0[0] & !PRESENT), Step::Sync(Sync::Teardown)];
        for i in 1..8 {
            if old.0[i] != new.0[i] {
                steps.push(write(i, new.0[i]));
            }
        }
        steps.push(write(0, new.0[0]));
        steps.push(Step::Sync(Sync::Setup));
        assert!(matches!(
            check(&old.0, &new.0, &steps, true),
            Err(Violation::Torn { .. })
        ));
        // Without caching mode too: that wait is not an invalidation's.
        assert!(matches!(
            check(&old.0, &new.0, &steps, false),
            Err(Violation::Torn { .. })
        ));
    }

    #[test]
    fn flushes_are_required() {
        let es = entries();
        let (old, new) = (&es[3], &es[0]);
        // Torn down without a teardown invalidation.
        let mut steps = vec![
            write(0, old.0[0] & !PRESENT),
            Step::Sync(Sync::Setup),
            write(0, 0),
        ];
        for i in 1..8 {
            if old.0[i] != 0 {
                steps.push(write(i, 0));
            }
        }
        assert_eq!(
            check(&old.0, &new.0, &steps, true),
            Err(Violation::OldNotFlushed)
        );
        // Set up without a setup invalidation after P.
        let (old, new) = (&es[0], &es[3]);
        let mut steps = Vec::new();
        for i in 1..8 {
            if new.0[i] != 0 {
                steps.push(write(i, new.0[i]));
            }
        }
        steps.push(Step::Sync(Sync::Setup));
        steps.push(write(0, new.0[0]));
        assert_eq!(
            check(&old.0, &new.0, &steps, true),
            Err(Violation::NewNotFlushed)
        );
        // Wrong result.
        assert_eq!(
            check(&old.0, &new.0, &[Step::Sync(Sync::Setup)], true),
            Err(Violation::WrongResult)
        );
    }

    /// Every pair of `entries`, with and without caching mode: the plan
    /// (with no invalidations) passes the model.
    fn every_pair_passes<const N: usize>(entries: &[[u64; N]]) {
        for old in entries {
            for new in entries {
                for cm in [true, false] {
                    let u = plan(old, new, Plan::new(), cm.then(Plan::new)).unwrap();
                    assert_eq!(
                        check(old, new, u.steps(), cm),
                        Ok(()),
                        "{old:x?} -> {new:x?}"
                    );
                }
            }
        }
    }

    /// Context entries (4 words): set up, torn down, and every pair of a
    /// few random-looking values, present or not.
    #[test]
    fn context_entry_plans_pass_the_model() {
        let vals: [[u64; 4]; 5] = [
            [0; 4],
            [0x1234_5000 | (3 << 9) | 1, 0, 0, 0],
            [0x1234_5000 | (3 << 9) | 1 | 4, 7, 0, 0],
            [0x5555_5000 | 1, 1, 2, 3],
            [0x5555_5000, 1, 2, 3],
        ];
        every_pair_passes(&vals);
    }

    /// Exhaustive over small entries: every 2-word entry whose words take
    /// values from a small set.
    #[test]
    fn exhaustive_small_entries() {
        let w0s = [0u64, 1, 2, 3];
        let w1s = [0u64, 0x10, 0x20];
        let mut all = Vec::new();
        for a in w0s {
            for b in w1s {
                all.push([a, b]);
            }
        }
        every_pair_passes(&all);
    }

    /// PGSNP set in a present first-stage entry: one word, then the
    /// teardown invalidations; refused when more than that changes.
    #[test]
    fn in_place_single_word() {
        let es = entries();
        let old = &es[3];
        let mut new = PasidEntry(old.0);
        new = new.with_pgsnp(1).unwrap();
        let td = pasid_entry_changed(OWNER, old.1, None, Drain::default()).unwrap();
        let u = plan_in_place(&old.0, &new.0, td).unwrap();
        assert_eq!(u.steps(), &[write(1, new.0[1]), Step::Sync(Sync::Teardown)]);
        assert_eq!(check(&old.0, &new.0, u.steps(), true), Ok(()));
        // Without the invalidations the old entry stays cached.
        assert_eq!(
            check(&old.0, &new.0, &u.steps()[..1], true),
            Err(Violation::OldNotFlushed)
        );
        // Two words, word 0, or a not-present entry: refused.
        assert_eq!(plan_in_place(&old.0, &es[6].0, td), Err(Errno::EINVAL));
        let mut w0 = old.0;
        w0[0] |= 1 << 1;
        assert_eq!(plan_in_place(&old.0, &w0, td), Err(Errno::EINVAL));
        assert_eq!(plan_in_place(&es[0].0, &es[0].0, td), Err(Errno::EINVAL));
    }

    #[test]
    fn bad_sizes() {
        assert_eq!(
            plan(&[0u64; 9], &[1u64; 9], Plan::new(), Some(Plan::new())),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            check(&[0u64; 2], &[0u64; 2], &[write(5, 1)], true),
            Err(Violation::BadWord)
        );
    }
}
