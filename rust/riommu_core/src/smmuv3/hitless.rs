// SPDX-License-Identifier: GPL-2.0

//! Changing a live STE or CD without the SMMU ever using a mixture of the old
//! and the new entry.
//!
//! The SMMU reads an STE or CD as eight 64-bit words; each word is read
//! single-copy atomically, but not the entry as a whole, and it may read (and
//! cache) the entry at any time until software invalidates it (`CMD_CFGI_STE`
//! / `CMD_CFGI_CD` followed by a `CMD_SYNC`, a *sync* here). Between two
//! syncs it may therefore observe any mix of each word's value before and
//! after the writes in between. What makes an update safe is that the SMMU
//! ignores the fields the entry's configuration does not use (the
//! specification's IGNORED fields): [`ste_used_bits`] and [`cd_used_bits`]
//! say which bits those are for a given entry.
//!
//! [`plan`] turns the current and the target entry into a [`Plan`]: a few
//! phases, each a set of 64-bit stores ([`Step::Write`]) then a
//! [`Step::Sync`]:
//!
//! - nothing differs: no step ([`PlanKind::Identical`]);
//! - only bits the current configuration ignores (or that are safe to
//!   change, [`ste_update_safe_bits`]) differ: one phase that writes the
//!   target ([`PlanKind::UnusedOnly`]);
//! - once the bits the current entry ignores hold their target values, the
//!   bits used by the target differ in exactly one word, the *critical* word:
//!   write those ignored bits, sync; write the critical word, one store, which
//!   switches the SMMU from the current to the target configuration, sync;
//!   clear the bits the target ignores, sync ([`PlanKind::Hitless`]);
//! - otherwise the entry must be broken: write word 0 (which holds `V`) as 0,
//!   sync; write words 1 to 7, sync; write word 0, sync
//!   ([`PlanKind::Breaking`]). While broken the SMMU sees a non-valid entry:
//!   transactions of the stream (STE) or substream (CD) are terminated with a
//!   C_BAD_STE / C_BAD_CD event.
//!
//! Phases that would write nothing are left out with their sync. The design
//! is the one of Linux's `arm_smmu_write_entry()`; the code is riommu's own.
//!
//! The driver replays a plan with `WRITE_ONCE()`-style stores of each word of
//! a [`Step::Write`] (in any order: the SMMU may see them in any order
//! anyway), and for each [`Step::Sync`] issues `CMD_CFGI_STE` (leaf) or
//! `CMD_CFGI_CD` (leaf) for every StreamID using the entry, then `CMD_SYNC`,
//! and waits for it. The structures the target points to (CD tables, page
//! tables) must be visible to the SMMU before the first store (`dma_wmb()`).

use super::cd::Cd;
use super::ste::{Ste, CONFIG_BYPASS, CONFIG_ENABLE_BIT, CONFIG_S1_BIT, CONFIG_S2_BIT};
use super::ste::{EATS_S1CHK, EATS_TRANS, S1DSS_BYPASS};

/// Number of 64-bit words of an STE or a CD.
pub const ENTRY_QWORDS: usize = 8;
/// The most steps a [`Plan`] has: three phases of a write and a sync.
pub const MAX_STEPS: usize = 6;
/// The most words an entry can have ([`Step::Write`] masks are `u32`).
const MAX_QWORDS: usize = 32;

/// An entry the SMMU reads as `N` 64-bit words.
pub trait EntryKind<const N: usize> {
    /// The word that holds the valid bit; a breaking update writes it as 0.
    const VALID_QWORD: usize;

    /// Whether `entry` is valid.
    fn is_valid(entry: &[u64; N]) -> bool;

    /// The bits of `entry` that the SMMU uses in the configuration that
    /// `entry` selects (always including the bits that select it).
    fn used_bits(entry: &[u64; N]) -> [u64; N];

    /// Bits used by both `cur` and `target` that may nevertheless change in
    /// the same phase as the bits `cur` ignores, because the SMMU seeing the
    /// old or the new value of each of them independently is harmless.
    fn update_safe_bits(cur: &[u64; N], target: &[u64; N]) -> [u64; N] {
        let _ = (cur, target);
        [0; N]
    }
}

/// Stream table entries.
#[derive(Clone, Copy, Debug)]
pub struct SteKind;

/// Context descriptors.
#[derive(Clone, Copy, Debug)]
pub struct CdKind;

/// `a | b`, word by word.
const fn or8(a: [u64; ENTRY_QWORDS], b: [u64; ENTRY_QWORDS]) -> [u64; ENTRY_QWORDS] {
    let mut r = a;
    let mut i = 0;
    while i < ENTRY_QWORDS {
        r[i] |= b[i];
        i += 1;
    }
    r
}

/// `a & !b`, word by word.
const fn andnot8(a: [u64; ENTRY_QWORDS], b: [u64; ENTRY_QWORDS]) -> [u64; ENTRY_QWORDS] {
    let mut r = a;
    let mut i = 0;
    while i < ENTRY_QWORDS {
        r[i] &= !b[i];
        i += 1;
    }
    r
}

/// STE field groups, by which configurations use them (§5.2).
mod ste_fields {
    use super::super::ste::Ste;
    use super::ENTRY_QWORDS;

    /// V: always used.
    pub(super) const V: [u64; ENTRY_QWORDS] = field_mask!(Ste: with_v);
    /// Config: used by valid entries.
    pub(super) const CONFIG: [u64; ENTRY_QWORDS] = field_mask!(Ste: with_config);
    /// The stage 1 fields: the CD table, its fetch attributes, S1DSS,
    /// S1STALLD and the StreamWorld.
    pub(super) const S1: [u64; ENTRY_QWORDS] = field_mask!(Ste:
        with_s1fmt, with_s1ctxptr, with_s1cdmax, with_s1dss, with_s1cir,
        with_s1cor, with_s1csh, with_s1stalld, with_strw);
    /// The stage 2 fields: translation controls and table.
    pub(super) const S2: [u64; ENTRY_QWORDS] = field_mask!(Ste:
        with_s2t0sz, with_s2sl0, with_s2ir0, with_s2or0, with_s2sh0, with_s2tg,
        with_s2ps, with_s2aa64, with_s2endi, with_s2affd, with_s2ptw, with_s2hd,
        with_s2ha, with_s2s, with_s2r, with_s2ttb, with_s2fwb);
    /// S2VMID: tags the TLB entries of stage 1 (NS-EL1) and stage 2.
    pub(super) const VMID: [u64; ENTRY_QWORDS] = field_mask!(Ste: with_s2vmid);
    /// EATS and MEV: used by every translating configuration.
    pub(super) const TRANSLATING: [u64; ENTRY_QWORDS] = field_mask!(Ste: with_eats, with_mev);
    /// The attribute overrides (§13.5): used where stage 1 is bypassed.
    pub(super) const OVERRIDES: [u64; ENTRY_QWORDS] = field_mask!(Ste:
        with_memattr, with_mtcfg, with_alloccfg, with_shcfg, with_nscfg,
        with_privcfg, with_instcfg);
    /// MEV alone.
    pub(super) const MEV: [u64; ENTRY_QWORDS] = field_mask!(Ste: with_mev);
    /// The EATS bit that flips between abort and full ATS (bit 0 of the
    /// field).
    pub(super) const EATS_TRANS_BIT: [u64; ENTRY_QWORDS] = {
        let mut m = [0; ENTRY_QWORDS];
        if let Some(s) = Ste::ZERO.with_eats(super::EATS_TRANS) {
            m = s.0;
        }
        m
    };
}

/// The bits of `ste` the SMMU uses.
///
/// - Non-valid: `V` only. Valid: also `Config`; abort (and the reserved
///   configurations, which also abort or report C_BAD_STE): nothing more.
/// - Bypass: the attribute overrides (`SHCFG`...).
/// - Stage 1 translates: the stage 1 fields (CD table pointer, format,
///   S1CDMax, S1DSS, fetch attributes, S1STALLD, STRW), `S2VMID` (NS-EL1
///   stage 1 TLB entries are VMID tagged), `EATS`, `MEV`; and the overrides
///   when `S1DSS` bypasses stage 1.
/// - Stage 2 translates: the stage 2 fields (`S2T0SZ`..`S2R`, `S2TTB`,
///   `S2FWB`), `S2VMID`, `EATS`, `MEV` and the overrides.
///
/// This is a superset of what Linux 7.3's `arm_smmu_get_ste_used()` reports:
/// the overrides beyond `SHCFG` and `S2AFFD`/`S2HD`/`S2HA` are added.
pub fn ste_used_bits(ste: &[u64; ENTRY_QWORDS]) -> [u64; ENTRY_QWORDS] {
    let s = Ste(*ste);
    let mut used = ste_fields::V;
    if s.v() == 0 {
        return used;
    }
    used = or8(used, ste_fields::CONFIG);
    let config = s.config();
    if config & CONFIG_ENABLE_BIT == 0 {
        return used;
    }
    if config == CONFIG_BYPASS {
        return or8(used, ste_fields::OVERRIDES);
    }
    if config & CONFIG_S1_BIT != 0 {
        used = or8(used, ste_fields::S1);
        used = or8(used, ste_fields::VMID);
        used = or8(used, ste_fields::TRANSLATING);
        if s.s1dss() == S1DSS_BYPASS {
            used = or8(used, ste_fields::OVERRIDES);
        }
    }
    if config & CONFIG_S2_BIT != 0 {
        used = or8(used, ste_fields::S2);
        used = or8(used, ste_fields::VMID);
        used = or8(used, ste_fields::TRANSLATING);
        used = or8(used, ste_fields::OVERRIDES);
    }
    used
}

/// The STE bits that may change early (before the critical word), as Linux
/// 7.3 `arm_smmu_get_ste_update_safe()` argues:
///
/// - `MEV` only changes how many similar faults are merged into one record,
///   and the SMMU may merge them anyway;
/// - the `EATS` bit that switches between abort and full ATS: the driver
///   turns ATS off in the PCI function before such a change (and on only
///   after it), so no ATS request can observe the transient state. Not when
///   either entry uses split-stage ATS (`EATS` bit 1), where a half-written
///   `EATS` could read as a third value, nor when either has `S2S`, as
///   `S2S == 1` with `EATS != 0` is an illegal STE.
pub fn ste_update_safe_bits(
    cur: &[u64; ENTRY_QWORDS],
    target: &[u64; ENTRY_QWORDS],
) -> [u64; ENTRY_QWORDS] {
    let (c, t) = (Ste(*cur), Ste(*target));
    let s1chk = (c.eats() | t.eats()) & EATS_S1CHK != 0;
    let stall = c.s2s() != 0 || t.s2s() != 0;
    if s1chk || stall {
        ste_fields::MEV
    } else {
        or8(ste_fields::MEV, ste_fields::EATS_TRANS_BIT)
    }
}

impl EntryKind<ENTRY_QWORDS> for SteKind {
    const VALID_QWORD: usize = 0;

    fn is_valid(entry: &[u64; ENTRY_QWORDS]) -> bool {
        Ste(*entry).is_valid()
    }

    fn used_bits(entry: &[u64; ENTRY_QWORDS]) -> [u64; ENTRY_QWORDS] {
        ste_used_bits(entry)
    }

    fn update_safe_bits(
        cur: &[u64; ENTRY_QWORDS],
        target: &[u64; ENTRY_QWORDS],
    ) -> [u64; ENTRY_QWORDS] {
        ste_update_safe_bits(cur, target)
    }
}

/// CD field groups.
mod cd_fields {
    use super::super::cd::Cd;
    use super::ENTRY_QWORDS;

    /// V: always used.
    pub(super) const V: [u64; ENTRY_QWORDS] = field_mask!(Cd: with_v);
    /// The `TTB0` walk controls and base, IGNORED with `EPD0`.
    pub(super) const TT0: [u64; ENTRY_QWORDS] = field_mask!(Cd:
        with_t0sz, with_tg0, with_ir0, with_or0, with_sh0, with_ttb0);
    /// The `TTB1` walk controls and base, IGNORED with `EPD1`.
    pub(super) const TT1: [u64; ENTRY_QWORDS] = field_mask!(Cd:
        with_t1sz, with_tg1, with_ir1, with_or1, with_sh1, with_ttb1);
}

/// The bits of `cd` the SMMU uses: `V` alone if it is not valid; otherwise
/// every bit (reserved and IMPLEMENTATION DEFINED words included, to stay on
/// the safe side) except the `TTB0` controls and base when `EPD0` disables
/// `TTB0` walks, and likewise for `TTB1` with `EPD1`.
///
/// Linux 7.3's `arm_smmu_get_cd_used()` is the same without the `EPD1`
/// clause (its CDs always have `EPD1` and a zero `TTB1`).
pub fn cd_used_bits(cd: &[u64; ENTRY_QWORDS]) -> [u64; ENTRY_QWORDS] {
    let c = Cd(*cd);
    if c.v() == 0 {
        return cd_fields::V;
    }
    let mut used = [u64::MAX; ENTRY_QWORDS];
    if c.epd0() != 0 {
        used = andnot8(used, cd_fields::TT0);
    }
    if c.epd1() != 0 {
        used = andnot8(used, cd_fields::TT1);
    }
    used
}

impl EntryKind<ENTRY_QWORDS> for CdKind {
    const VALID_QWORD: usize = 0;

    fn is_valid(entry: &[u64; ENTRY_QWORDS]) -> bool {
        Cd(*entry).is_valid()
    }

    fn used_bits(entry: &[u64; ENTRY_QWORDS]) -> [u64; ENTRY_QWORDS] {
        cd_used_bits(entry)
    }
}

/// One step of a [`Plan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step<const N: usize> {
    /// Store `values[i]` into word `i` of the entry for each bit `i` of
    /// `mask`, each with one 64-bit single-copy atomic store, in any order.
    /// `values` is the whole entry once the step is done.
    Write {
        /// The words to store.
        mask: u32,
        /// The entry after the step.
        values: [u64; N],
    },
    /// Make the writes visible and invalidate the SMMU's copy of the entry:
    /// `CMD_CFGI_STE`/`CMD_CFGI_CD` (leaf) then `CMD_SYNC`, and wait.
    Sync,
}

impl<const N: usize> Step<N> {
    /// Applies the step to `entry` (a [`Step::Sync`] changes nothing).
    pub fn apply(&self, entry: &mut [u64; N]) {
        if let Step::Write { mask, values } = self {
            for (i, word) in entry.iter_mut().enumerate() {
                if mask & (1 << i) != 0 {
                    *word = values[i];
                }
            }
        }
    }
}

/// What kind of update a [`Plan`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanKind {
    /// The entry already is the target: nothing to do.
    Identical,
    /// Only bits the SMMU ignores (or safe bits) change: one phase.
    UnusedOnly,
    /// A single store of the critical word switches the configuration.
    Hitless {
        /// The critical word.
        critical: usize,
    },
    /// The entry is made non-valid for the update.
    Breaking,
}

/// The steps that update an entry; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan<const N: usize> {
    kind: PlanKind,
    steps: [Step<N>; MAX_STEPS],
    len: usize,
    state: [u64; N],
}

impl<const N: usize> Plan<N> {
    /// An empty plan of `kind` starting from `cur`.
    fn new(kind: PlanKind, cur: &[u64; N]) -> Self {
        Plan {
            kind,
            steps: [Step::Sync; MAX_STEPS],
            len: 0,
            state: *cur,
        }
    }

    /// Adds a phase that brings the entry to `next` (nothing if it already
    /// is).
    fn phase(&mut self, next: &[u64; N]) {
        let mut mask = 0;
        for (i, (now, new)) in self.state.iter().zip(next.iter()).enumerate() {
            if now != new {
                mask |= 1 << i;
            }
        }
        if mask != 0 {
            self.steps[self.len] = Step::Write {
                mask,
                values: *next,
            };
            self.steps[self.len + 1] = Step::Sync;
            self.len += 2;
            self.state = *next;
        }
    }

    /// The kind of update.
    pub fn kind(&self) -> PlanKind {
        self.kind
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[Step<N>] {
        &self.steps[..self.len]
    }

    /// Number of syncs.
    pub fn syncs(&self) -> usize {
        self.len / 2
    }

    /// Number of 64-bit stores.
    pub fn stores(&self) -> usize {
        self.steps()
            .iter()
            .map(|s| match s {
                Step::Write { mask, .. } => mask.count_ones() as usize,
                Step::Sync => 0,
            })
            .sum()
    }

    /// Applies every step to `entry` (which must be the plan's current
    /// entry); it then is the target.
    pub fn apply(&self, entry: &mut [u64; N]) {
        for step in self.steps() {
            step.apply(entry);
        }
    }
}

/// The plan that updates `cur` to `target`, for an entry of kind `K`.
pub fn plan<K: EntryKind<N>, const N: usize>(cur: &[u64; N], target: &[u64; N]) -> Plan<N> {
    const { assert!(N >= 1 && N <= MAX_QWORDS) };
    if cur == target {
        return Plan::new(PlanKind::Identical, cur);
    }
    let cur_used = K::used_bits(cur);
    let target_used = K::used_bits(target);
    let safe = K::update_safe_bits(cur, target);

    // `early`: the entry with every bit the SMMU may see change now set to
    // its target value: those `cur` ignores, and the safe bits both use.
    let mut early = *cur;
    let mut diff: u32 = 0;
    for i in 0..N {
        let keep = cur_used[i] & !(safe[i] & target_used[i]);
        early[i] = (cur[i] & keep) | (target[i] & !keep);
        if (early[i] ^ target[i]) & target_used[i] != 0 {
            diff |= 1 << i;
        }
    }

    match diff.count_ones() {
        0 => {
            let mut p = Plan::new(PlanKind::UnusedOnly, cur);
            p.phase(target);
            p
        }
        1 => {
            let critical = diff.trailing_zeros() as usize;
            let mut p = Plan::new(PlanKind::Hitless { critical }, cur);
            // The critical word is written once, whole, in the second phase.
            early[critical] = cur[critical];
            p.phase(&early);
            early[critical] = target[critical];
            p.phase(&early);
            p.phase(target);
            p
        }
        _ => {
            let mut p = Plan::new(PlanKind::Breaking, cur);
            let mut broken = *cur;
            broken[K::VALID_QWORD] = 0;
            p.phase(&broken);
            let mut filled = *target;
            filled[K::VALID_QWORD] = 0;
            p.phase(&filled);
            p.phase(target);
            p
        }
    }
}

/// [`plan`] for STEs.
pub fn plan_ste(cur: &Ste, target: &Ste) -> Plan<ENTRY_QWORDS> {
    plan::<SteKind, ENTRY_QWORDS>(&cur.0, &target.0)
}

/// [`plan`] for CDs.
pub fn plan_cd(cur: &Cd, target: &Cd) -> Plan<ENTRY_QWORDS> {
    plan::<CdKind, ENTRY_QWORDS>(&cur.0, &target.0)
}

#[cfg(test)]
#[path = "hitless_tests.rs"]
mod tests;
